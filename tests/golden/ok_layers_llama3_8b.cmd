layers --model llama3-8b --tp 2 --cards 8
