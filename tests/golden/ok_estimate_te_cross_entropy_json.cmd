estimate --model llama3-8b --hw h100-sxm --tp 1 --cards 8 --seq-len 8192 --cross-entropy te --format json
