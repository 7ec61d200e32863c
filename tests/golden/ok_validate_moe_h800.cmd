validate --published validation/moe-h800.yaml
