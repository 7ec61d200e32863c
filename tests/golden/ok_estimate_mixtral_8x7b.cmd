estimate --model mixtral-8x7b --tp 4,8
