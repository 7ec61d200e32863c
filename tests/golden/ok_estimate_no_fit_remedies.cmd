estimate --model gpt3-175b --hw a100-80g-sxm --tp 8 --cards 8 --pp 1 --recompute full --no-distributed-optimizer --interval none
