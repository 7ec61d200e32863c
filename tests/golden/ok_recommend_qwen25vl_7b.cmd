recommend --model qwen25vl-7b --cards 8
