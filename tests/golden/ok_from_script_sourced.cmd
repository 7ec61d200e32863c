from-script tests/inputs/scripts/sourced/train.sh --hw a100-80g-sxm
