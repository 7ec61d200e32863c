estimate --model gpt3-175b --tp 8
