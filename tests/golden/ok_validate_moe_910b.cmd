validate --published validation/moe-910b.yaml
