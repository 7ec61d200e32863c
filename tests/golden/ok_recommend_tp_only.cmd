recommend --model qwen25vl-7b --tp 2
