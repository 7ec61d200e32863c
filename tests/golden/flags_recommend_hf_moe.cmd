recommend --model tests/inputs/hf/moe-mistral/config.json --hw h100-sxm --cards 8
