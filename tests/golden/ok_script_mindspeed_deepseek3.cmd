from-script tests/inputs/scripts/mindspeed-deepseek3-671b.sh --hw 910b2 --allow-unmodelled
