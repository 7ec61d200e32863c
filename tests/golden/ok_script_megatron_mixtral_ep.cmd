from-script tests/inputs/scripts/megatron-mixtral-8x7b-ep.sh --hw h100-sxm
