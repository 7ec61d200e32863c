recommend --model qwen25vl-7b --top 0
