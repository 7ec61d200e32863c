report --model qwen25vl-7b --tp 1 -o /tmp/tpsim-never --tokens 1T --days 0
