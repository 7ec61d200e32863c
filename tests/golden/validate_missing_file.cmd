validate --published tests/inputs/published/no-such-file.yaml
