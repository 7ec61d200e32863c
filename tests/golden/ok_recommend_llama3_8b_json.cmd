recommend --model llama3-8b --cards 8 --format json
