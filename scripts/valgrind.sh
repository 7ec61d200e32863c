#!/usr/bin/env bash
# valgrind memcheck on the main tp-sim commands and a few error paths, with a
# normal (unsanitized) build. Every run must end with no memcheck error and
# no leak (definite, indirect or possible); the command's own exit status
# must be the expected one. Prints one line per command; exits 1 if any fails.
#   scripts/valgrind.sh            configures and builds build-valgrind
#   BUILD_DIR=build-test scripts/valgrind.sh   reuses a build
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind not installed" >&2; exit 2; }
build=${BUILD_DIR:-build-valgrind}
if [ -z "${BUILD_DIR:-}" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTPSIM_KERNEL=OFF -DBUILD_TESTING=OFF \
    >/dev/null || exit 2
  cmake --build "$build" -j"$(nproc)" --target tp-sim >/dev/null || exit 2
fi
tpsim=$root/$build/tp-sim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TPSIM_DATA_DIR=$root
VG_ERR=99 # valgrind's own status, distinct from tp-sim's 0-3

status=0
n=0
# check EXPECTED_STATUS tp-sim arguments...
check() {
  local want=$1
  shift
  n=$((n + 1))
  local log="$tmp/vg.$n.log"
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=$VG_ERR \
    --log-file="$log" "$tpsim" "$@" >/dev/null 2>"$tmp/stderr.$n"
  local rc=$?
  local summary
  summary=$(grep -E "ERROR SUMMARY" "$log" | sed 's/^==[0-9]*== //')
  if [ "$rc" = "$VG_ERR" ] || [ "$rc" != "$want" ]; then
    printf 'FAIL  exit %s (expected %s)  tp-sim %s\n' "$rc" "$want" "$*"
    sed 's/^==[0-9]*== //' "$log" | grep -v '^$' | tail -40
    status=1
  else
    printf 'ok    exit %s  %s  tp-sim %s\n' "$rc" "$summary" "$*"
  fi
}

check 0 --model qwen25vl-7b --tp 1,2,4 --format json
check 0 estimate --model llama3-8b --hw h100-sxm --tp 1,2,4,8 --cards 8 --sp --recompute selective
check 0 estimate --model gpt3-175b --tp 8 --pp 8 --cards 512 --format csv -o "$tmp/est.csv"
check 0 layers --model qwen25vl-7b --tp 2 --ops
check 0 layers --model qwen2.5-7b --tp 4 --format json
check 0 list models
check 0 list hw
check 0 report --model qwen25vl-7b --tp 1,2,4 -o "$tmp/report" --tokens 1T --days 30
check 0 validate --published tests/inputs/published/gpt_a100.yaml
check 0 validate --published tests/inputs/published/skips.yaml --format json
check 3 validate --published tests/inputs/published/tolerance.yaml --max-error 50
check 0 fit --cases validation/mindspeed-mm-910b.yaml --cases validation/public-runs-910b.yaml --stack mindspeed-npu --param host_dispatch,per_micro_batch --write "$tmp/fitted.yaml"
check 0 --model qwen25vl-7b --tp 1,2 --freeze vision_encoder,projector --stack none
check 0 --help
check 0 estimate --help
# error paths
check 2 --model qwen25vl-7b --tpp 2
check 2 --model qwen25vl-7b --tp 1,,2
check 2 --model qwen25vl-7 --tp 1
check 2 --model tests/inputs/bad/m_syntax.yaml --hw 910b2 --tp 1
check 2 --model tests/inputs/bad/m_unknown_key.yaml --hw 910b2 --tp 1
check 2 --model tests/inputs/robust/m_alias_bomb.yaml --hw 910b2 --tp 1
check 2 --model tests/inputs/robust/m_deep_flow.yaml --hw 910b2 --tp 1
check 2 --model tests/inputs/robust/m_garbage.yaml --hw 910b2 --tp 1
check 2 --model qwen25vl-7b --hw tests/inputs/bad/h_table_order.yaml --tp 1
check 2 --model qwen2.5-7b --tp 3 --cards 3
check 1 --model qwen25vl-7b --tp 1 -o /tmp/tpsim-no-such-dir/out.json
check 1 report --model qwen25vl-7b --tp 1 -o /tmp/tpsim-no-such-dir/sub
check 2 validate --published tests/inputs/published/bad_yaml.yaml
check 2 fit --cases validation/mindspeed-mm-910b.yaml --stack mindspeed-npu --param host_dispach
check 2 --model qwen25vl-7b --tp 1 --stack no-such-stack

echo "valgrind.sh: $n commands, $([ $status = 0 ] && echo 'no errors, no leaks' || echo 'FAILURES above')"
exit $status
