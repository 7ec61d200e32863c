from-script tests/inputs/scripts/mindspeed-qwen25-72b-32k.sh --hw 910b2 --allow-unmodelled
