recommend --model gpt3-175b --cards 64 --max-tp 8 --tp 2
