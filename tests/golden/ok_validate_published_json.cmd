validate --published validation/published-dev.yaml --format json
