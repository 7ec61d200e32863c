from-script tests/inputs/scripts/megatron-llama3-8b-fp8.sh --hw h100-sxm
