estimate --model llama3-8b --tp 1 --cp 2 --ulysses-degree-in-cp 2
