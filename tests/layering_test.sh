#!/bin/bash
# The folders of tp-sim and the direction of their #include lines
# (docs/architecture.md):
#
#   base  <-  io, engine  <-  validate  <-  reports  <-  cli
#   base, engine  <-  kernel (tp-kernel)
#
# (an arrow points from a dependency to its user). Every .c and .h under
# sim/ and reports/ is mapped to its folder; every `#include "..."` in it is
# resolved to the folder of the included header; the test FAILS, printing
# file:line and the rule, when
#   (a) io or engine includes anything from cli, reports or validate (or the
#       umbrella tpsim/tpsim.h, which is cli-level);
#   (b) io includes engine, or engine includes io;
#   (c) the folder graph has a cycle (checked with tsort over the edges
#       between different folders; the loop is printed);
#   (d) base includes anything but base;
#   (e) kernel includes anything but base, engine and kernel;
#   (f) any other include against the order above (validate including
#       reports or cli, reports including cli, ...);
# and when a file or an include cannot be placed in a folder (a new public
# header must be given its layer in PUBLIC below).
#
#   layering_test.sh ROOT            check the tree at ROOT
#   layering_test.sh --self-test     check that a tree with bad includes fails
#
# The ctest `layering` runs both. How it was shown to fail on the real tree
# (issue "One evaluator", item 2), one temporary line at a time, each
# removed again afterwards (exit status 1 every time):
#   `#include "engine/lower_internal.h"` in sim/io/units.c:
#     sim/io/units.c:18: io includes engine (engine/lower_internal.h): rule (b)
#   `#include "io/io_internal.h"` in sim/base/status.c:
#     sim/base/status.c:3: base includes io (io/io_internal.h): rule (d)
#     cycle between folders: rule (c) ... loop: base io
#   `#include "reports/report.h"` in sim/validate/published.h:
#     sim/validate/published.h:10: validate includes reports (reports/report.h): rule (f)
#     cycle between folders: rule (c) ... loop: validate reports
# --self-test repeats that kind of check on a throw-away tree every run.
set -u

# Public headers (sim/include/tpsim/, installed as tpsim/X.h) and their layer.
# status.h and model.h (status codes, data types, enum names) are the base;
# io.h and ecosystem.h the loaders; engine.h, ops.h, search.h and capacity.h
# the engine; tpsim.h is the umbrella, for cli, reports, validate and tests.
PUBLIC="status.h:base model.h:base io.h:io ecosystem.h:io engine.h:engine ops.h:engine
search.h:engine capacity.h:engine uncertainty.h:engine tpsim.h:umbrella"

# What each folder may include (besides itself).
allowed() {
  case $1 in
    base) echo "base" ;;
    io) echo "base io" ;;
    engine) echo "base engine" ;;
    kernel) echo "base engine kernel" ;;
    umbrella) echo "base io engine umbrella" ;;
    validate) echo "base io engine validate umbrella" ;;
    reports) echo "base io engine validate reports umbrella" ;;
    cli) echo "base io engine validate reports cli umbrella" ;;
  esac
}

public_layer() {
  local h=$1 pair
  for pair in $PUBLIC; do
    [ "${pair%%:*}" = "$h" ] && { echo "${pair#*:}"; return; }
  done
}

# Folder of a file, path relative to the root.
folder_of() {
  case $1 in
    sim/include/tpsim/*) public_layer "${1#sim/include/tpsim/}" ;;
    sim/base/*) echo base ;;
    sim/io/*) echo io ;;
    sim/engine/*) echo engine ;;
    sim/validate/*) echo validate ;;
    sim/cli/*) echo cli ;;
    sim/kernel/*) echo kernel ;;
    reports/*) echo reports ;;
  esac
}

# Why an include from folder $1 to folder $2 is refused ("" when allowed).
rule_of() {
  local from=$1 to=$2 ok
  for ok in $(allowed "$from"); do [ "$ok" = "$to" ] && return; done
  case $from:$to in
    base:*) echo "rule (d)" ;;
    io:engine | engine:io) echo "rule (b)" ;;
    io:* | engine:*) echo "rule (a)" ;;
    kernel:*) echo "rule (e)" ;;
    *) echo "rule (f)" ;;
  esac
}

check_tree() {
  local root=$1 fail=0 f rel from line num text inc to why resolved edges
  edges=$(mktemp) || return 2
  while IFS= read -r f; do
    rel=${f#"$root"/}
    from=$(folder_of "$rel")
    if [ -z "$from" ]; then
      echo "$rel: not in a known folder (add it to folder_of / PUBLIC in $0)"
      fail=1
      continue
    fi
    while IFS= read -r line; do
      num=${line%%:*}
      text=${line#*:}
      inc=$(printf '%s\n' "$text" | sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p')
      [ -n "$inc" ] || continue
      to=""
      case $inc in
        tpsim/*)
          to=$(public_layer "${inc#tpsim/}")
          resolved=sim/include/$inc ;;
        *)
          # beside the including file (tp-kernel's "kernel.h"), else under sim/, else the root
          if [ -e "$(dirname "$f")/$inc" ]; then
            resolved=$(dirname "$rel")/$inc
          elif [ -e "$root/sim/$inc" ]; then
            resolved=sim/$inc
          else
            resolved=$inc
          fi
          [ -e "$root/$resolved" ] && to=$(folder_of "$resolved") ;;
      esac
      if [ -z "$to" ]; then
        echo "$rel:$num: cannot place #include \"$inc\" in a folder (add it to PUBLIC in $0)"
        fail=1
        continue
      fi
      [ "$to" != "$from" ] && echo "$from $to" >>"$edges"
      why=$(rule_of "$from" "$to")
      if [ -n "$why" ]; then
        echo "$rel:$num: $from includes $to ($inc): $why"
        fail=1
      fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f")
  done < <(find "$root/sim" "$root/reports" -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
  # (c) cycles between folders: tsort names the loop and exits non-zero.
  local loop
  if ! loop=$(sort -u "$edges" | tsort 2>&1 >/dev/null); then
    echo "cycle between folders: rule (c)"
    printf '%s\n' "$loop" | sed 's/^tsort: /  /'
    fail=1
  fi
  rm -f "$edges"
  return $fail
}

self_test() {
  local t out
  t=$(mktemp -d) || exit 2
  mkdir -p "$t/sim/base" "$t/sim/io" "$t/sim/engine" "$t/sim/include/tpsim" "$t/reports"
  printf '#include "io/io_x.h"\n' >"$t/sim/base/b.c"
  printf '#include "engine/e.h"\n' >"$t/sim/io/io_x.h"
  printf '#include "tpsim/status.h"\n' >"$t/sim/engine/e.h"
  printf '#include "reports/r.h"\n' >"$t/sim/engine/e.c"
  printf '#include "tpsim/model.h"\n' >"$t/reports/r.h"
  printf '\n' >"$t/sim/include/tpsim/status.h"
  printf '#include "tpsim/status.h"\n' >"$t/sim/include/tpsim/model.h"
  out=$(check_tree "$t")
  local rc=$?
  rm -rf "$t"
  local want
  for want in "sim/base/b.c:1: base includes io (io/io_x.h): rule (d)" \
              "sim/io/io_x.h:1: io includes engine (engine/e.h): rule (b)" \
              "sim/engine/e.c:1: engine includes reports (reports/r.h): rule (a)" \
              "cycle between folders: rule (c)"; do
    if ! printf '%s\n' "$out" | grep -qF "$want"; then
      echo "layering self-test: expected '$want' in:"
      printf '%s\n' "$out"
      exit 1
    fi
  done
  [ $rc -ne 0 ] || { echo "layering self-test: a bad tree passed"; exit 1; }
  echo "layering self-test: a tree with bad includes fails as it should"
}

if [ "${1:-}" = "--self-test" ]; then
  self_test
  exit 0
fi
root=${1:?usage: layering_test.sh ROOT | --self-test}
if check_tree "$root"; then
  echo "layering: every #include follows base <- {io, engine} <- validate <- reports <- cli"
  exit 0
fi
exit 1
