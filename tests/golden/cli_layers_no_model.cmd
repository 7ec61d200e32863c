layers --tp 1
