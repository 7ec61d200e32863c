layers --model tests/golden/ok_layers_csv_quoted.yaml --tp 1 --format csv
