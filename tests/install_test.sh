#!/bin/sh
# Installs a build into a temporary prefix and uses it the way a user would:
#
#   tests/install_test.sh BUILD_DIR
#
# - `cmake --install BUILD_DIR --prefix P` lays out bin/, lib/, include/,
#   share/tp-sim/{models,hw_profiles}, the man page and the bash completion;
# - P/bin/tp-sim runs from another directory with TPSIM_DATA_DIR unset and
#   finds its bundled data in P/share/tp-sim (a model added there only is
#   listed, so the source tree is not what answered);
# - pkg-config --cflags --libs tpsim works with PKG_CONFIG_PATH=P/.../pkgconfig
#   and a program built with those flags links and runs.
# Exit 0 on success, 1 on a failed check, 77 (skipped) without cmake.
set -u
build=${1:?usage: install_test.sh BUILD_DIR}
command -v cmake >/dev/null 2>&1 || { echo "install_test: no cmake: skipped"; exit 77; }
build=$(cd "$build" && pwd) || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tpsim-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install"; }

for f in bin/tp-sim share/tp-sim/models/qwen25vl-7b.yaml share/tp-sim/hw_profiles/910b2.yaml \
         include/tpsim/tpsim.h include/tpsim/ecosystem.h include/tpsim/uncertainty.h \
         share/tp-sim/validation/model-error.yaml share/man/man1/tp-sim.1 \
         share/bash-completion/completions/tp-sim; do
  [ -e "$prefix/$f" ] || fail "missing $f"
done
lib=$(find "$prefix" -name libtpsim.a | head -n 1)
[ -n "$lib" ] || fail "missing libtpsim.a"
pc=$(find "$prefix" -name tpsim.pc | head -n 1)
[ -n "$pc" ] || fail "missing tpsim.pc"
if [ -x "$build/tp-kernel" ]; then
  [ -x "$prefix/bin/tp-kernel" ] && [ -x "$prefix/bin/tp-kernel-run" ] ||
    fail "tp-kernel was built but not installed with its launcher"
fi

# Run from elsewhere, without TPSIM_DATA_DIR.
mkdir "$tmp/elsewhere" && cd "$tmp/elsewhere" || exit 1
unset TPSIM_DATA_DIR
"$prefix/bin/tp-sim" --version | grep -q '^tp-sim ' || fail "--version"
out=$("$prefix/bin/tp-sim" --model qwen25vl-7b --tp 1,2 2>&1) ||
  { echo "$out" >&2; fail "installed tp-sim --model qwen25vl-7b --tp 1,2"; }
echo "$out" | grep -q 'Recommended default TP: 1' ||
  { echo "$out" >&2; fail "no 'Recommended default TP: 1'"; }
sed 's/^name: qwen25vl-7b/name: install-check/' "$prefix/share/tp-sim/models/qwen25vl-7b.yaml" \
  >"$prefix/share/tp-sim/models/install-check.yaml"
"$prefix/bin/tp-sim" list models | grep -q '^install-check' ||
  fail "the installed tp-sim does not read P/share/tp-sim/models"

# The man page renders without warnings.
if command -v groff >/dev/null 2>&1; then
  warn=$(groff -man -Tutf8 -ww -z "$prefix/share/man/man1/tp-sim.1" 2>&1)
  [ -z "$warn" ] || { echo "$warn" >&2; fail "tp-sim.1 has troff warnings"; }
fi
# The completion script parses.
bash -n "$prefix/share/bash-completion/completions/tp-sim" 2>/dev/null || fail "completion syntax"

# pkg-config and a program linked against the installed library.
if command -v pkg-config >/dev/null 2>&1 && command -v cc >/dev/null 2>&1; then
  PKG_CONFIG_PATH=$(dirname "$pc")
  export PKG_CONFIG_PATH
  flags=$(pkg-config --cflags --libs tpsim) || fail "pkg-config --cflags --libs tpsim"
  cat >"$tmp/use.c" <<'EOF'
#include <stdio.h>
#include <tpsim/tpsim.h>
int main(void) {
  tps_model m;
  tps_error err;
  char path[4096];
  if (tps_data_find("models", "qwen25vl-7b", path, sizeof path, &err) != TPS_OK) return 1;
  if (tps_model_load(path, &m, &err) != TPS_OK) return 1;
  printf("%s %.0f\n", TPSIM_VERSION, tps_model_params(&m));
  return 0;
}
EOF
  # a sanitizer build (TPSIM_SANITIZE) needs the sanitizer runtimes at link
  if nm "$lib" 2>/dev/null | grep -q '__asan_'; then
    flags="-fsanitize=address,undefined $flags"
  fi
  # shellcheck disable=SC2086  # flags are words on purpose
  cc -std=c11 -o "$tmp/use" "$tmp/use.c" $flags || fail "linking with pkg-config flags: $flags"
  TPSIM_DATA_DIR=$prefix/share/tp-sim "$tmp/use" | grep -q ' 8292166656$' ||
    fail "program linked against libtpsim"
fi
echo "install_test: ok ($prefix)"
