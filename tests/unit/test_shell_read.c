/* Hostile launch scripts and argument strings (sim/io/shell_read.c) through
 * the public entry points of ecosystem.h: tps_megatron_args_parse and
 * tps_megatron_script_load. Every case here once crashed, leaked, hung or
 * read a flag that bash would not pass; each must now end in an error that
 * names the line, or in the flags bash would see. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tpsim/tpsim.h"

#if defined(__SANITIZE_ADDRESS__)
#define TPSIM_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TPSIM_LSAN 1
#endif
#endif
#ifdef TPSIM_LSAN
#include <sanitizer/lsan_interface.h>
#endif

static tps_run_overrides fresh_over(void) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  return o;
}

/* Parses text as --megatron-args. */
static tps_status args(const char *text, tps_run_overrides *o, tps_eco_unresolved *u,
                       tps_error *err) {
  *o = fresh_over();
  return tps_megatron_args_parse(text, NULL, o, u, err);
}

/* Writes text to a temporary .sh file and loads it as a launch script. */
static tps_status script(const char *text, tps_run_overrides *o, tps_eco_unresolved *u,
                         tps_error *err) {
  char path[] = "/tmp/tpsim-shell-XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  size_t n = strlen(text);
  cr_assert_eq(write(fd, text, n), (ssize_t)n);
  close(fd);
  *o = fresh_over();
  tps_status st = tps_megatron_script_load(path, NULL, o, u, err);
  unlink(path);
  return st;
}

/* A string of n copies of piece, then tail (malloc'ed). */
static char *repeat(const char *head, const char *piece, int n, const char *tail) {
  size_t hl = strlen(head), pl = strlen(piece), tl = strlen(tail);
  char *s = malloc(hl + pl * (size_t)n + tl + 1);
  cr_assert_not_null(s);
  memcpy(s, head, hl);
  for (int i = 0; i < n; i++) memcpy(s + hl + pl * (size_t)i, piece, pl);
  memcpy(s + hl + pl * (size_t)n, tail, tl + 1);
  return s;
}

/* ---- 1. $((...)) arithmetic leaving 64 bits: an error at its line ---- */

static void expect_overflow(const char *expr) {
  char text[512];
  snprintf(text, sizeof text, "TP=2\nX=%s\n--tensor-model-parallel-size $TP\n", expr);
  tps_run_overrides o;
  tps_eco_unresolved u;
  tps_error err;
  cr_assert_eq(script(text, &o, &u, &err), TPS_ERANGE, "%s: %s", expr, err.msg);
  cr_assert_eq(err.line, 2, "%s: line %d", expr, err.line);
  cr_assert_eq(err.col, 3, "%s: col %d", expr, err.col);
  cr_assert(strstr(err.msg, "overflows 64-bit integers") != NULL, "%s: %s", expr, err.msg);
  cr_assert_eq(o.tp, 0, "overrides untouched");
  /* the same in an argument string */
  snprintf(text, sizeof text, "--tensor-model-parallel-size %s", expr);
  cr_assert_eq(args(text, &o, &u, &err), TPS_ERANGE, "%s: %s", expr, err.msg);
  cr_assert_str_eq(err.file, "--megatron-args");
  cr_assert_eq(err.line, 1);
}

Test(shell_read, arithmetic_overflow_is_an_error) {
  expect_overflow("$(( (-9223372036854775807 - 1) / -1 ))"); /* SIGFPE before */
  expect_overflow("$(( (-9223372036854775807 - 1) % -1 ))"); /* SIGFPE before */
  expect_overflow("$(( -(-9223372036854775807 - 1) ))");     /* negating INT64_MIN */
  expect_overflow("$(( 9223372036854775807 + 1 ))");
  expect_overflow("$(( -9223372036854775807 - 2 ))");
  expect_overflow("$(( 4294967296 * 4294967296 ))");
  expect_overflow("$(( 99999999999999999999 ))");
  expect_overflow("$(( -9223372036854775808 ))"); /* bash wraps; tp-sim refuses */
}

Test(shell_read, arithmetic_overflow_through_a_variable) {
  tps_run_overrides o;
  tps_eco_unresolved u;
  tps_error err;
  cr_assert_eq(script("M=-9223372036854775808\n\nX=$(( -M ))\n", &o, &u, &err), TPS_ERANGE,
               "%s", err.msg);
  cr_assert_eq(err.line, 3);
  cr_assert_eq(script("M=-9223372036854775808\nX=$(( M / -1 ))\n", &o, &u, &err), TPS_ERANGE);
  cr_assert_eq(err.line, 2);
}

Test(shell_read, arithmetic_in_range_still_works) {
  tps_run_overrides o;
  tps_eco_unresolved u;
  tps_error err;
  cr_assert_eq(args("M=-9223372036854775808; --tensor-model-parallel-size $(( M / M + 1 ))"
                    " --pipeline-model-parallel-size $(( -(-3) % 4 - -1 ))"
                    " --micro-batch-size $(( (-9223372036854775807 - 1) / -9223372036854775807 ))"
                    " --global-batch-size $(( -(7 % -4) * -(2) ))",
                    &o, &u, &err),
               TPS_OK, "%s", err.msg);
  cr_assert_eq(o.tp, 2);
  cr_assert_eq(o.pp, 4);
  cr_assert_eq(o.micro_batch, 1);
  cr_assert_eq(o.global_batch, 6);
  /* division by zero stays what it was: an unresolved value, listed */
  cr_assert_eq(args("--tensor-model-parallel-size $(( 1 / 0 ))", &o, &u, &err), TPS_OK);
  cr_assert_eq(u.n, 1);
  cr_assert_str_eq(u.items[0].why, "division by zero in $((...))");
}

/* ---- 3. $((...)) nested without end: a depth limit, not a stack overflow ---- */

Test(shell_read, arithmetic_depth_is_limited) {
  tps_run_overrides o;
  tps_eco_unresolved u;
  tps_error err;
  char *t = repeat("A=1\nX=$((", "-", 60000, "1))\n");
  cr_assert_eq(script(t, &o, &u, &err), TPS_ESYNTAX, "%s", err.msg);
  cr_assert_eq(err.line, 2);
  cr_assert(strstr(err.msg, "nested deeper than 256") != NULL, "%s", err.msg);
  free(t);
  t = repeat("X=$((", "(", 60000, "1");
  char *u2 = repeat(t, ")", 60000, "))");
  cr_assert_eq(args(u2, &o, &u, &err), TPS_ESYNTAX, "%s", err.msg);
  cr_assert(strstr(err.msg, "nested deeper than 256") != NULL, "%s", err.msg);
  free(t);
  free(u2);
  t = repeat("X=$((", "- ( ", 30000, "1");
  u2 = repeat(t, ")", 30000, "))");
  cr_assert_eq(args(u2, &o, &u, &err), TPS_ESYNTAX, "%s", err.msg);
  free(t);
  free(u2);
  /* 200 levels are fine */
  t = repeat("--tensor-model-parallel-size $((", "(", 200, "2");
  u2 = repeat(t, ")", 200, "))");
  cr_assert_eq(args(u2, &o, &u, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(o.tp, 2);
  free(t);
  free(u2);
  t = repeat("--tensor-model-parallel-size $((", "-", 200, "2))");
  cr_assert_eq(args(t, &o, &u, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(o.tp, 2);
  free(t);
}

/* ---- 2. Variable names are bounded: a long one is an error at its line ---- */

Test(shell_read, long_variable_name_is_an_error) {
  tps_run_overrides o;
  tps_eco_unresolved u;
  tps_error err;
  char *name = repeat("", "A", 200, "");
  char *t = repeat("TP=2\n--tensor-model-parallel-size ${", name, 1, "=1}\n");
  cr_assert_eq(script(t, &o, &u, &err), TPS_ERANGE, "%s", err.msg); /* heap overflow before */
  cr_assert_eq(err.line, 2);
  cr_assert(strstr(err.msg, "longer than 63 characters") != NULL, "%s", err.msg);
  free(t);
  t = repeat("TP=2\n\n", name, 1, "=1 --tensor-model-parallel-size 2");
  cr_assert_eq(args(t, &o, &u, &err), TPS_ERANGE, "%s", err.msg);
  cr_assert_eq(err.line, 3);
  cr_assert_eq(err.col, 1);
  free(t);
  t = repeat("export ", name, 1, "=1");
  cr_assert_eq(args(t, &o, &u, &err), TPS_ERANGE, "%s", err.msg);
  free(t);
  t = repeat("", "B", 5000, "");
  char *t2 = repeat("echo ${", t, 1, ":=1}");
  cr_assert_eq(args(t2, &o, &u, &err), TPS_ERANGE, "%s", err.msg);
  free(t2);
  free(t);
  free(name);
  /* 63 characters are fine, and reading a long name that is not set is too */
  name = repeat("", "N", 63, "");
  t = repeat("--tensor-model-parallel-size ${", name, 1, "=4} --pipeline-model-parallel-size ${");
  t2 = repeat(t, "P", 300, ":-3}");
  cr_assert_eq(args(t2, &o, &u, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(o.tp, 4);
  cr_assert_eq(o.pp, 3);
  free(t2);
  free(t);
  free(name);
}

/* ---- 4. The "expansion too long" error frees what it built ---- */

/* Leaked 20 MiB before (the appended value of a += that goes over the
 * limit). In the sanitizer build (TPSIM_SANITIZE) the test asks
 * LeakSanitizer itself: a leak reported when a Criterion worker exits does
 * not fail the test. */
Test(shell_read, too_long_expansion_frees_everything) {
  tps_run_overrides o;
  tps_eco_unresolved u;
  tps_error err;
  static const char *tails[] = {"A+=$A$A\n", "A+=( $A $A )\n", "B=x; B+=$A$A\n",
                                "B=$A$A$A\n", "echo ${B:=$A$A$A}\n", "echo --seq-length=$A$A$A\n",
                                "C=( $A $A $A )\n"};
  for (size_t k = 0; k < sizeof tails / sizeof tails[0]; k++) {
    char *t = repeat("A=xxxxxxxxxxxxxxxx\n", "A=$A$A\n", 15, tails[k]); /* A: 2^19 */
    cr_assert_eq(args(t, &o, &u, &err), TPS_ERANGE, "%s: %s", tails[k], err.msg);
    cr_assert(strstr(err.msg, "longer than 1048576 characters") != NULL, "%s", err.msg);
    cr_assert_eq(err.line, 17, "%s: line %d", tails[k], err.line);
    free(t);
  }
#ifdef TPSIM_LSAN
  cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found a leak (above)");
#endif
}

/* ---- 5. Big scripts read in linear time ---- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds to parse text (the fastest of `runs`), asserting st. */
static double parse_time(const char *text, int runs, tps_status want) {
  double best = 1e30;
  for (int r = 0; r < runs; r++) {
    tps_run_overrides o;
    tps_eco_unresolved u;
    tps_error err;
    double t0 = now_s();
    tps_status st = args(text, &o, &u, &err);
    double dt = now_s() - t0;
    cr_assert_eq(st, want, "%s", err.msg);
    if (want == TPS_OK) cr_assert_eq(o.tp, 2);
    if (dt < best) best = dt;
    if (dt > 5.0) break;
  }
  return best;
}

/* n assignments to distinct 3-letter names (of 52 letters: up to 140,608),
 * then a command that reads the first and the last. */
static char *assignments(int n) {
  static const char L[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  char *s = malloc((size_t)n * 8 + 128);
  cr_assert_not_null(s);
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    s[k++] = L[i / (52 * 52)];
    s[k++] = L[i / 52 % 52];
    s[k++] = L[i % 52];
    memcpy(s + k, "=1\n", 3);
    k += 3;
  }
  char last[4] = {L[(n - 1) / (52 * 52)], L[(n - 1) / 52 % 52], L[(n - 1) % 52], '\0'};
  k += (size_t)sprintf(s + k, "--tensor-model-parallel-size $(( aaa + %s ))\n", last);
  return s;
}

/* 140,608 assignments (843 KB) took 53 s: every lookup walked every
 * variable. Linear now: within 5 s on a loaded 2-core machine, and about 8
 * times the time of 1/8 of the assignments (a quadratic reader: 64). */
Test(shell_read, many_assignments_read_in_linear_time, .timeout = 120) {
  char *big = assignments(52 * 52 * 52), *small = assignments(52 * 52 * 52 / 8);
  double tb = parse_time(big, 2, TPS_OK);
  cr_assert(tb < 5.0, "140,608 assignments took %.2f s", tb);
  double ts = parse_time(small, 5, TPS_OK);
  if (ts < 2e-3) {
    cr_log_warn("too noisy for the ratio: 17,576 assignments took %.4f s (140,608: %.3f s)", ts,
                tb);
  } else {
    double ratio = tb / ts;
    for (int retry = 0; ratio > 32 && retry < 3; retry++) /* noise, or quadratic? */
      ratio = parse_time(big, 2, TPS_OK) / parse_time(small, 5, TPS_OK);
    cr_assert(ratio < 32, "8x the assignments took %.1fx the time (linear: 8, quadratic: 64)",
              ratio);
  }
  free(big);
  free(small);
}

/* Positions were recomputed from the start of the word for every quote or
 * expansion in it: a 800 KB word took minutes. */
Test(shell_read, long_words_read_in_linear_time, .timeout = 120) {
  char *t = repeat("X=", "''", 400000, "\n--tensor-model-parallel-size 2");
  double dt = parse_time(t, 1, TPS_OK);
  cr_assert(dt < 5.0, "a word of 400,000 quotes took %.2f s", dt);
  free(t);
  t = repeat("A=a; X=\"", "${A}", 200000, "\"\n--tensor-model-parallel-size 2");
  dt = parse_time(t, 1, TPS_OK);
  cr_assert(dt < 5.0, "a word of 200,000 expansions took %.2f s", dt);
  free(t);
  t = repeat("GPT_ARGS=( ", "\"$(echo x)\" ", 80000, ")\n--tensor-model-parallel-size 2");
  dt = parse_time(t, 1, TPS_OK);
  cr_assert(dt < 5.0, "an array of 80,000 command substitutions took %.2f s", dt);
  free(t);
}

/* Every line copying a 512 K variable: 1 MB of script asked for 10^11
 * characters. The whole read is capped (16 Mi characters expanded). */
Test(shell_read, expansion_bomb_is_refused, .timeout = 120) {
  char *t = repeat("A=xxxxxxxxxxxxxxxx\nA=$A$A\nA=$A$A\nA=$A$A\nA=$A$A\nA=$A$A\nA=$A$A\n"
                   "A=$A$A\nA=$A$A\nA=$A$A\nA=$A$A\nA=$A$A\nA=$A$A\nA=$A$A\nA=$A$A\nA=$A$A\n",
                   "B=$A\n", 190000, "--tensor-model-parallel-size 2");
  tps_run_overrides o;
  tps_eco_unresolved u;
  tps_error err;
  double t0 = now_s();
  cr_assert_eq(args(t, &o, &u, &err), TPS_ERANGE, "%s", err.msg);
  double dt = now_s() - t0;
  cr_assert(strstr(err.msg, "more than 16777216 characters") != NULL, "%s", err.msg);
  cr_assert(err.line > 16 && err.line < 60, "line %d", err.line);
  cr_assert(dt < 20.0, "%.2f s", dt); /* 0.1 s; 3 s in the sanitizer build; minutes before */
  free(t);
  /* a big but ordinary script: 4 KB of arguments used 500 times */
  t = repeat("GPT_ARGS=\"", "--lr 1e-4 ", 400, "\"\n");
  char *t2 = repeat(t, "echo $GPT_ARGS\n", 500, "--tensor-model-parallel-size 2");
  parse_time(t2, 1, TPS_OK);
  free(t2);
  free(t);
}

/* ---- 6. Here-documents are data, not flags ---- */

Test(shell_read, heredoc_bodies_are_skipped) {
  tps_run_overrides o;
  tps_eco_unresolved u;
  tps_error err;
  cr_assert_eq(script("#!/bin/bash\n"
                      "cat <<EOF > /tmp/ds_config.json\n"
                      "--tensor-model-parallel-size 8\n"
                      "it's not shell: \"unbalanced\n"
                      "EOF\n"
                      "cat <<-'END'\n"
                      "\t--pipeline-model-parallel-size 8\n"
                      "\tEND\n"
                      "cat << \"X\" ; cat<<Y\n"
                      "--micro-batch-size 7\n"
                      "X\n"
                      "--seq-length 99\n"
                      "Y\n"
                      "python - <<PY\n"
                      "EOF\n"
                      "--global-batch-size 99\n"
                      "PY\n"
                      "echo $((1 << 2)) <<<\"--micro-batch-size 5\"\n"
                      "torchrun pretrain_gpt.py --tensor-model-parallel-size 2 \\\n"
                      "  --pipeline-model-parallel-size 3 --micro-batch-size 1\n",
                      &o, &u, &err),
               TPS_OK, "%s:%d: %s", err.file, err.line, err.msg);
  cr_assert_eq(o.tp, 2);
  cr_assert_eq(o.pp, 3);
  cr_assert_eq(o.micro_batch, 1);
  cr_assert_eq(o.seq_len, 0);
  cr_assert_eq(o.global_batch, 0);
  cr_assert_eq(u.n, 0, "%s: %s", u.items[0].arg, u.items[0].why);
  /* lines after a body keep their numbers */
  cr_assert_eq(script("cat <<EOF\n1\n2\nEOF\n--micro-batch-size 'x\n", &o, &u, &err),
               TPS_ESYNTAX);
  cr_assert_eq(err.line, 5);
  cr_assert_eq(err.col, 20);
  /* a body without its delimiter runs to the end, as in bash */
  cr_assert_eq(args("--tensor-model-parallel-size 2; cat <<EOF\n--pipeline-model-parallel-size 4",
                    &o, &u, &err),
               TPS_OK, "%s", err.msg);
  cr_assert_eq(o.tp, 2);
  cr_assert_eq(o.pp, 0);
  /* `<<` with no word is an error, as in bash */
  cr_assert_eq(args("cat <<\n--tensor-model-parallel-size 2", &o, &u, &err), TPS_ESYNTAX);
  cr_assert_eq(err.line, 1);
  cr_assert_eq(err.col, 5);
}

/* ---- 7. Comments inside arrays are comments ---- */

Test(shell_read, comments_in_arrays_are_ignored) {
  tps_run_overrides o;
  tps_eco_unresolved u;
  tps_error err;
  cr_assert_eq(script("ARGS=( --tensor-model-parallel-size 2 # --pipeline-model-parallel-size 8\n"
                      "  --micro-batch-size 1   # don't: an apostrophe (and a paren)\n"
                      "  # --seq-length 4096 )\n"
                      "  --data-path a#b\n"
                      "  --global-batch-size 16 #)\n"
                      ")\n"
                      "EXTRA=(#\n--recompute-granularity full)\n"
                      "torchrun pretrain_gpt.py \"${ARGS[@]}\" ${EXTRA[@]} #--sequence-parallel\n",
                      &o, &u, &err),
               TPS_OK, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  cr_assert_eq(o.tp, 2);
  cr_assert_eq(o.pp, 0);
  cr_assert_eq(o.micro_batch, 1);
  cr_assert_eq(o.seq_len, 0);
  cr_assert_eq(o.global_batch, 16);
  cr_assert_eq(o.recompute, TPS_RECOMPUTE_FULL);
  cr_assert_eq(o.sp, -1, "not given");
  cr_assert_eq(u.n, 0, "%s %s: %s", u.items[0].arg, u.items[0].text, u.items[0].why);
  /* the same with +=, and where the words land */
  cr_assert_eq(args("A=( --tensor-model-parallel-size 2 )\nA+=( # --micro-batch-size 8\n"
                    "  --pipeline-model-parallel-size x --seq-length ${G:-#2} )\n"
                    "--seq-length 1 ${A[@]}",
                    &o, &u, &err),
               TPS_OK, "%s", err.msg);
  cr_assert_eq(o.tp, 2);
  cr_assert_eq(o.micro_batch, 0);
  cr_assert_eq(u.n, 2);
  cr_assert_str_eq(u.items[0].arg, "--pipeline-model-parallel-size");
  cr_assert_eq(u.items[0].line, 3);
  cr_assert_str_eq(u.items[1].text, "#2", "a '#' from an expansion is no comment");
  /* and inside $(command), which is never run */
  cr_assert_eq(args("X=$(echo a#b # it's a comment (with a paren\n  cat f)\n"
                    "--tensor-model-parallel-size 2",
                    &o, &u, &err),
               TPS_OK, "%s", err.msg);
  cr_assert_eq(o.tp, 2);
  /* after an escaped blank the '#' is inside a word */
  cr_assert_eq(args("X=( x\\ #y)\n--tensor-model-parallel-size 2 # )", &o, &u, &err), TPS_OK,
               "%s", err.msg);
  cr_assert_eq(o.tp, 2);
}
