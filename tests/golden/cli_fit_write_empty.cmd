fit --cases validation/published-dev.yaml --stack megatron-cuda --param per_step --write ''
