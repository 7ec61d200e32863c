calibrate -o ''
