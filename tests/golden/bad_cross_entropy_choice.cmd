estimate --model llama3-8b --hw h100-sxm --tp 1 --cross-entropy fp32
