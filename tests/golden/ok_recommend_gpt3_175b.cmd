recommend --model gpt3-175b --cards 64
