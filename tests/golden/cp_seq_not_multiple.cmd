estimate --model llama3-8b --tp 2 --cp 3 --cards 6 --seq-len 8192
