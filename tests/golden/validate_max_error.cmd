validate --published tests/inputs/published/tolerance.yaml --max-error 50
