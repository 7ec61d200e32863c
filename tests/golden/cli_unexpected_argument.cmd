estimate extra --model qwen25vl-7b
