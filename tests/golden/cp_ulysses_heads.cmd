estimate --model llama3-8b --tp 8 --cp 8 --cp-algo ulysses --cards 64
