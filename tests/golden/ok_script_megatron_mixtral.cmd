from-script tests/inputs/scripts/megatron-mixtral-8x7b.sh --hw h100-sxm --allow-unmodelled
