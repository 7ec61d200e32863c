recommend --model qwen25vl-7b --format csv
