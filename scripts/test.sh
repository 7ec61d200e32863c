#!/usr/bin/env bash
# Second command of the README (and what CI runs): build with warnings as
# errors and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTPSIM_WERROR=ON -DBUILD_TESTING=ON
cmake --build build-test -j"$(nproc)"
ctest --test-dir build-test --output-on-failure -j"$(nproc)"
