estimate --model qwen25vl-7b --tp 1,2 --format md
