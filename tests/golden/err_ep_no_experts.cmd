estimate --model llama3-8b --tp 1 --ep 2
