estimate --model mixtral-8x7b --tp 2 --ep 8 --etp 2 --cards 16
