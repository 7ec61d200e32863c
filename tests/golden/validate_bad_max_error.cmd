validate --published tests/inputs/published/tolerance.yaml --max-error ten
