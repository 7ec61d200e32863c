layers --model llama3-8b --tp 2 --cp 4 --cards 8 --ops --seq-len 32768
