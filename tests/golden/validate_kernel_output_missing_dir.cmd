validate --kernel --quick -o /tmp/tpsim-no-such-dir/out.json
