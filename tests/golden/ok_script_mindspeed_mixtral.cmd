from-script tests/inputs/scripts/mindspeed-mixtral-8x7b.sh --hw 910b2 --allow-unmodelled
