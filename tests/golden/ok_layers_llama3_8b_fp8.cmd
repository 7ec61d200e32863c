layers --model llama3-8b --hw h200 --tp 1 --fp8-format e4m3 --fp8-param-gather
