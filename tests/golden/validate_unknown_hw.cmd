validate --published tests/inputs/published/tolerance.yaml --hw 910b9
