layers --model llama3-8b --hw h100-sxm --tp 2 --megatron-args "--cpu-offloading"
