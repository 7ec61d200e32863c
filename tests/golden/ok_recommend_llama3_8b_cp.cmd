recommend --model llama3-8b --hw h100-sxm --cards 64 --seq-len 32k
