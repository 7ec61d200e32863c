estimat --model qwen25vl-7b
