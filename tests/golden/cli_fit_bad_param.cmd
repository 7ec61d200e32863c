fit --cases validation/mindspeed-mm-910b.yaml --stack mindspeed-npu --param host_dispach
