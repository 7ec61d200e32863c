estimate --model qwen25vl-7b --tp 1 --cp 2
