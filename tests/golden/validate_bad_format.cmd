validate --published tests/inputs/published/tolerance.yaml --format csv
