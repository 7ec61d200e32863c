validate --published validation/published-dev.yaml
