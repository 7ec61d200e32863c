from-script tests/inputs/mindspeed-mm/bad/mm_model_missing.sh --hw 910b2
