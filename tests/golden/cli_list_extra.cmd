list models extra
