report --model qwen25vl-7b --tp 1,2 -o /tmp/tpsim-never --tokens lots --days 3
