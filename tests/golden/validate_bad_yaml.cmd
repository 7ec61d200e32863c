validate --published tests/inputs/published/bad_yaml.yaml --format json
