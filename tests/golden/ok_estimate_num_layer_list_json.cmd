estimate --model qwen25vl-7b --tp 1 --megatron-args "--num-layer-list 14,14" --format json
