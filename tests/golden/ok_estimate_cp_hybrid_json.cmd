estimate --model llama3-8b --tp 2 --cp 4 --cp-algo hybrid --ulysses-degree-in-cp 2 --cards 8 --seq-len 32768 --format json --interval none
