from-script tests/inputs/scripts/megatron-cp-fp8.sh --hw h100-sxm
