from-script tests/inputs/scripts/unterminated.sh --hw 910b2
