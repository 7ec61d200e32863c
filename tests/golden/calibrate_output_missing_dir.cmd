calibrate --quick -o /tmp/tpsim-no-such-dir/local
