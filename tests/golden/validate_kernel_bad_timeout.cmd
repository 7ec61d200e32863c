validate --kernel --quick --timeout 0
