recommend --model qwen25vl-7b --cards 8 --tp 1,2 --pp 2 --micro-batch 1 --top 3
