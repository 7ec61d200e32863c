validate --published validation/moe-h100.yaml
