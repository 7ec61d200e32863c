layers --model tests/inputs/hf/deepseek-v3/config.json --hw h100-sxm --tp 8 --pp 1 --cards 8 --ops
