#!/usr/bin/env bash
# First command of the README: install the packages, build, and run the
# example estimate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF
cmake --build build -j"$(nproc)"
./build/tp-sim --model qwen25vl-7b --tp 1,2,4
