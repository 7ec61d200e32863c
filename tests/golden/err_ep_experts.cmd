estimate --model mixtral-8x7b --tp 1 --cards 24 --dp 6 --pp 4 --ep 3 --global-batch 24
