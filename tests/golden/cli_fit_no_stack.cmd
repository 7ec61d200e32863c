fit --cases validation/mindspeed-mm-910b.yaml --param host_dispatch
