validate --published tests/inputs
