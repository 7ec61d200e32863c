validate --published validation/narayanan21-a100.yaml --interval 80
