from-script tests/inputs/scripts/empty-value.sh --hw h100-sxm --tp 1 --interval none
