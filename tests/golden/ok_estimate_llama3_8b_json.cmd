estimate --model llama3-8b --tp 1,2,4,8 --cards 8 --format json
