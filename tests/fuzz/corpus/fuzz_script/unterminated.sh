TP=2
GPT_ARGS="
  --tensor-model-parallel-size ${TP} \
  --bf16
