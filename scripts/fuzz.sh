#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, clang) and runs each for SECONDS
# (default 20, CI's smoke run) on a copy of its seed corpus. Exits non-zero
# when a harness finds a crash, leak, timeout or undefined behaviour; the
# reproducer is left in build-fuzz/artifacts/. Prints one line per harness:
# executions, seconds, corpus size.
#   scripts/fuzz.sh 600                    ten minutes each
#   FUZZ_JOBS=2 scripts/fuzz.sh 600        two harnesses at a time
#   FUZZ_HARNESSES="fuzz_model" scripts/fuzz.sh 60
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-20}
jobs=${FUZZ_JOBS:-1}
harnesses=${FUZZ_HARNESSES:-"fuzz_model fuzz_hw fuzz_cli fuzz_published fuzz_hf fuzz_stack fuzz_script"}
build=${FUZZ_BUILD_DIR:-build-fuzz}
cc=${CC:-clang}
if ! command -v "$cc" >/dev/null; then
  echo "fuzz.sh: $cc not found (apt-get install clang)" >&2
  exit 2
fi
cmake -S tests/fuzz -B "$build" -DCMAKE_C_COMPILER="$cc" >/dev/null || exit 2
cmake --build "$build" -j"$(nproc)" >/dev/null || { cmake --build "$build"; exit 2; }
mkdir -p "$build/artifacts" "$build/logs"

run_one() {
  local h=$1 work="$build/corpus/$1" dict=()
  mkdir -p "$work"
  [ -x "$build/$h" ] || { printf '%-16s not built (skipped)\n' "$h"; return 0; }
  case $h in
    fuzz_model|fuzz_hw|fuzz_published|fuzz_stack) dict=(-dict=tests/fuzz/yaml.dict) ;;
    fuzz_hf) dict=(-dict=tests/fuzz/json.dict) ;;
    fuzz_script) dict=(-dict=tests/fuzz/shell.dict) ;;
  esac
  # First corpus directory is scratch (new inputs land there); the seed corpus is read-only.
  TPSIM_DATA_DIR="$root" ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/$h" "$work" "tests/fuzz/corpus/$h" "${dict[@]}" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$h-" \
    >"$build/logs/$h.log" 2>&1
  local rc=$?
  local runs
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/logs/$h.log" | tail -1)
  printf '%-16s rc=%d executions=%s seconds=%s corpus=%s\n' "$h" "$rc" "${runs:-?}" "$secs" \
    "$(ls "$work" | wc -l)"
  return $rc
}

status=0
pids=()
for h in $harnesses; do
  if [ "$jobs" -gt 1 ]; then
    run_one "$h" & pids+=($!)
    if [ "${#pids[@]}" -ge "$jobs" ]; then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
  else
    run_one "$h" || status=1
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
if [ $status -ne 0 ]; then
  echo "fuzz.sh: a harness failed; see $build/logs/ and $build/artifacts/" >&2
  ls "$build/artifacts" >&2
fi
exit $status
