calibrate --quick -o /tmp/
