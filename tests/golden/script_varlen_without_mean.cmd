from-script tests/inputs/mindspeed-mm/examples/qwen2.5vl/finetune_qwen2_5_vl_7b.sh --hw 910b2 --tp 1
