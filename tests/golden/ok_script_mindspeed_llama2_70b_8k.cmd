from-script tests/inputs/scripts/mindspeed-llama2-70b-8k.sh --hw 910b3
