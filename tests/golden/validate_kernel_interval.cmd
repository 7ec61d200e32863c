validate --kernel --interval 90
