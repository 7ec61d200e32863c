validate --max-error 10
