/* The capacity-planning report: capacity searches (largest seq_len and
 * micro-batch that fit, cards for a token budget), token parsing, and the
 * four files written atomically, with a self-contained HTML whose charts are
 * well-formed SVG (checked with xmllint when it is installed). Uses the
 * bundled qwen25vl-7b on 910b2 through $TPSIM_DATA_DIR. */
#include <criterion/criterion.h>
#include <math.h>
#include <dirent.h>
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/report_build.h"
#include "reports/csv.h"
#include "reports/report_bundle.h"
#include "reports/svg.h"
#include "tpsim/capacity.h"
#include "tpsim/tpsim.h"

static tps_model model;
static tps_hw hw;

static void load(void) {
  gsl_set_error_handler_off();
  char path[4096];
  tps_error err;
  tps_error_clear(&err);
  cr_assert_eq(tps_data_find("models", "qwen25vl-7b", path, sizeof path, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_model_load(path, &model, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_data_find("hw_profiles", "910b2", path, sizeof path, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_hw_load(path, &hw, &err), TPS_OK, "%s", err.msg);
}

/* The model's default run at `tp`, pinned for the capacity searches. */
static tps_run_overrides pinned_at(int64_t tp, double margin) {
  tps_run_overrides over, pinned;
  tps_run_overrides_init(&over);
  over.tp = tp;
  over.memory_margin = margin;
  tps_run run;
  tps_error err;
  tps_error_clear(&err);
  cr_assert_eq(tps_run_resolve(&model, &over, &run, &err), TPS_OK, "%s", err.msg);
  tps_capacity_pin(&run, &over, &pinned);
  return pinned;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  cr_assert_not_null(s);
  cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

static int count_entries(const char *dir, const char *containing) {
  DIR *d = opendir(dir);
  cr_assert_not_null(d, "cannot open %s", dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
        (!containing || strstr(e->d_name, containing)))
      n++;
  closedir(d);
  return n;
}

Test(report_tokens, parses_suffixes_and_rejects_junk) {
  double v = 0;
  cr_assert_eq(tps_token_count_parse("1T", &v), TPS_OK);
  cr_assert_float_eq(v, 1e12, 1);
  cr_assert_eq(tps_token_count_parse("500B", &v), TPS_OK);
  cr_assert_float_eq(v, 5e11, 1);
  cr_assert_eq(tps_token_count_parse("2.5e12", &v), TPS_OK);
  cr_assert_float_eq(v, 2.5e12, 1);
  cr_assert_eq(tps_token_count_parse("20M", &v), TPS_OK);
  cr_assert_float_eq(v, 2e7, 1e-3);
  cr_assert_neq(tps_token_count_parse("", &v), TPS_OK);
  cr_assert_neq(tps_token_count_parse("1X", &v), TPS_OK);
  cr_assert_neq(tps_token_count_parse("1TT", &v), TPS_OK);
  cr_assert_neq(tps_token_count_parse("-1T", &v), TPS_OK);
  cr_assert_neq(tps_token_count_parse("T", &v), TPS_OK);
}

/* Largest seq_len and micro-batch: x fits under the limit, x + 1 does not. */
Test(report_capacity, largest_seq_len_and_micro_batch_are_tight, .init = load) {
  int64_t tps_[2] = {1, 2};
  for (int k = 0; k < 2; k++) {
    tps_run_overrides p = pinned_at(tps_[k], 0.1);
    double limit = tps_capacity_limit_bytes(&hw, &p);
    cr_assert_float_eq(limit, hw.memory_bytes * 0.9, 1.0);
    tps_capacity_var vars[2] = {TPS_CAPACITY_SEQ_LEN, TPS_CAPACITY_MICRO_BATCH};
    int64_t caps[2] = {TPS_CAPACITY_MAX_SEQ_LEN, TPS_CAPACITY_MAX_MICRO_BATCH};
    for (int v = 0; v < 2; v++) {
      int64_t best = -1;
      double bytes = 0;
      bool capped = true;
      int evals = 0;
      tps_error err;
      tps_error_clear(&err);
      cr_assert_eq(tps_capacity_max_fit(&model, &hw, &p, vars[v], caps[v], &best, &bytes, &capped,
                                        &evals, &err), TPS_OK, "%s", err.msg);
      cr_assert(best >= 1 && !capped, "TP=%lld var %d: best %lld", (long long)tps_[k], v, (long long)best);
      tps_status st;
      double at = tps_capacity_memory(&model, &hw, &p, vars[v], best, &st, &err);
      double above = tps_capacity_memory(&model, &hw, &p, vars[v], best + 1, &st, &err);
      cr_assert(at <= limit, "x=%lld: %.6g bytes > limit %.6g", (long long)best, at, limit);
      cr_assert(above > limit, "x+1=%lld: %.6g bytes <= limit %.6g", (long long)best + 1, above, limit);
      cr_assert_float_eq(bytes, at, 1.0);
      cr_assert(evals < 80, "too many evaluations: %d", evals);
    }
  }
}

/* Cards for 1T tokens in 30 days: the smallest DP that reaches the budget
 * (one replica fewer does not), then rounded up to whole nodes of the
 * profile's devices per node. */
Test(report_capacity, cards_for_budget_is_the_smallest, .init = load) {
  tps_run_overrides p = pinned_at(2, 0.0);
  double tokens = 1e12, seconds = 30 * 86400.0;
  tps_capacity_budget b;
  tps_error err;
  tps_error_clear(&err);
  cr_assert_eq(tps_capacity_cards_for_budget(&model, &hw, &p, tokens, seconds, &b, &err), TPS_OK, "%s", err.msg);
  cr_assert(b.reachable);
  cr_assert_eq(b.cards, 2 * p.pp * b.dp);
  cr_assert(b.tokens_per_s * seconds >= tokens);
  cr_assert(b.days <= 30.0 + 1e-9);
  cr_assert(b.dp > 1);
  tps_status st;
  double fewer = tps_capacity_tokens_per_s(&model, &hw, &p, b.dp_needed - 1, NULL, &st, &err);
  cr_assert_eq(st, TPS_OK, "%s", err.msg);
  cr_assert(fewer * seconds < tokens, "DP %lld already reaches the budget",
            (long long)b.dp_needed - 1);
  cr_assert(b.dp >= b.dp_needed);
  cr_assert_eq(b.cards % hw.devices_per_node, 0, "%lld cards are not whole nodes of %lld",
               (long long)b.cards, (long long)hw.devices_per_node);
  cr_assert(b.cards - 2 * p.pp * b.dp_needed < hw.devices_per_node, "more than one node added");
  cr_assert_float_eq(b.card_hours, (double)b.cards * b.days * 24.0, 1e-6 * b.card_hours);
  /* global batch scales with DP, micro-batches per replica kept */
  int64_t per_replica = p.global_batch / p.dp;
  cr_assert_eq(b.global_batch, per_replica * b.dp);
}

static void make_tmpdir(char *out, size_t size) {
  snprintf(out, size, "/tmp/tpsim-report-XXXXXX");
  cr_assert_not_null(mkdtemp(out));
}

static int have(const char *path) { return access(path, X_OK) == 0; }

Test(report_bundle, writes_four_files_self_contained_html, .init = load) {
  int64_t list[4] = {1, 2, 4, 8};
  tps_run_overrides over;
  tps_run_overrides_init(&over);
  report_bundle b;
  tps_error err;
  tps_error_clear(&err);
  cr_assert_eq(report_bundle_build(&model, &hw, &over, list, 4, 1e12, 30, &b, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(b.report.n, 3);        /* TP=8 x PP=2 does not divide 8 cards */
  cr_assert_eq(b.report.n_skipped, 1);
  cr_assert_eq(b.report.recommended, 0);
  cr_assert(b.has_plan && b.plan.n_layers > 30);
  for (int i = 0; i < b.report.n; i++) {
    cr_assert(b.capacity[i].max_seq_len > 0);
    cr_assert(b.capacity[i].has_budget && b.capacity[i].budget.reachable);
  }

  char dir[64], sub[128], path[256];
  make_tmpdir(dir, sizeof dir);
  snprintf(sub, sizeof sub, "%s/out", dir); /* created by the write */
  cr_assert_eq(report_bundle_write(&b, sub, &err), TPS_OK, "%s", err.msg);
  const char *names[4] = {"report.md", "report.html", "report.csv", "report.json"};
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/%s", sub, names[i]);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s missing", path);
    cr_assert(st.st_size > 100, "%s is small", path);
  }
  cr_assert_eq(count_entries(sub, NULL), 4, "temporary files left in %s", sub);

  snprintf(path, sizeof path, "%s/report.html", sub);
  char *html = slurp(path);
  cr_assert(strstr(html, "<svg"));
  cr_assert_null(strstr(html, "<script"));
  cr_assert_null(strstr(html, "http"), "the HTML names a URL");
  cr_assert(strstr(html, "Default TP: 1"));
  cr_assert(strstr(html, "tokens/s counted per card"));
  free(html);
  snprintf(path, sizeof path, "%s/report.md", sub);
  char *md = slurp(path);
  cr_assert(strstr(md, "## Capacity planning"));
  free(md);
  snprintf(path, sizeof path, "%s/report.csv", sub);
  char *csv = slurp(path);
  int lines = 0;
  for (char *p = csv; *p; p++) lines += *p == '\n';
  cr_assert_eq(lines, 1 + 3);
  free(csv);

  /* every chart on its own, and the whole HTML, are well-formed XML */
  if (!have("/usr/bin/xmllint")) {
    fprintf(stderr, "xmllint not installed: skipped\n");
  } else {
    char cmd[512];
    for (int i = 0; i < REPORT_N_CHARTS; i++) {
      snprintf(path, sizeof path, "%s/chart%d.svg", dir, i);
      FILE *f = fopen(path, "w");
      cr_assert_not_null(f);
      report_bundle_chart(f, &b, i, true);
      fclose(f);
      snprintf(cmd, sizeof cmd, "/usr/bin/xmllint --noout '%s'", path);
      cr_assert_eq(system(cmd), 0, "chart %d is not well-formed: %s", i, path);
      unlink(path);
    }
    snprintf(cmd, sizeof cmd, "/usr/bin/xmllint --noout '%s/report.html'", sub);
    cr_assert_eq(system(cmd), 0, "report.html is not well-formed XML");
    snprintf(cmd, sizeof cmd, "/usr/bin/xmllint --noout '%s/report.json' 2>/dev/null; true", sub);
    (void)cmd;
  }
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/%s", sub, names[i]);
    unlink(path);
  }
  rmdir(sub);
  rmdir(dir);
  report_bundle_free(&b);
}

/* A directory that cannot be created (its parent is a regular file): the
 * write fails with EIO and leaves nothing behind. */
Test(report_bundle, uncreatable_directory_fails_cleanly, .init = load) {
  int64_t list[1] = {1};
  report_bundle b;
  tps_error err;
  tps_error_clear(&err);
  cr_assert_eq(report_bundle_build(&model, &hw, NULL, list, 1, 0, 0, &b, &err), TPS_OK, "%s", err.msg);
  char dir[64], file[128], sub[192];
  make_tmpdir(dir, sizeof dir);
  snprintf(file, sizeof file, "%s/plain-file", dir);
  FILE *f = fopen(file, "w");
  cr_assert_not_null(f);
  fclose(f);
  snprintf(sub, sizeof sub, "%s/out", file);
  cr_assert_eq(report_bundle_write(&b, sub, &err), TPS_EIO);
  cr_assert(strlen(err.msg) > 0);
  cr_assert_eq(count_entries(dir, NULL), 1, "something was written");
  /* the output path is itself a regular file */
  cr_assert_eq(report_bundle_write(&b, file, &err), TPS_EIO);
  cr_assert_eq(count_entries(dir, NULL), 1);
  unlink(file);
  rmdir(dir);
  report_bundle_free(&b);
}

/* No TP size valid: build fails with the first reason and owns nothing. */
Test(report_bundle, nothing_valid_fails_with_reason, .init = load) {
  int64_t list[1] = {3};
  report_bundle b;
  tps_error err;
  tps_error_clear(&err);
  cr_assert_neq(report_bundle_build(&model, &hw, NULL, list, 1, 0, 0, &b, &err), TPS_OK);
  cr_assert(strlen(err.msg) > 0);
  cr_assert_null(b.est);
}

/* ---- the four files as one unit (issue "Hostile input, broken MPI and
 * concurrent outputs", item 3) ---- */

/* The `days` a written report was rendered with, read back from each of the
 * four files (md and html: "within D days"; csv: the days column; json: the
 * first "days" key, the top-level one); -1 where it is not found. */
static void days_of(const char *dir, double out[4], int n) {
  char path[512];
  const char *names[4] = {"report.md", "report.html", "report.csv", "report.json"};
  for (int i = 0; i < n; i++) {
    out[i] = -1;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    char *s = slurp(path);
    const char *p = NULL;
    if (i == 0 || i == 1) {
      p = strstr(s, "within ");
      if (p) out[i] = strtod(p + 7, NULL);
    } else if (i == 3) {
      p = strstr(s, "\"days\": ");
      if (p) out[i] = strtod(p + 8, NULL);
    } else {
      /* column index of "days" in the header, then that field of row 1 */
      int col = -1, k = 0;
      char *nl = strchr(s, '\n');
      cr_assert_not_null(nl);
      *nl = '\0';
      for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save), k++)
        if (strcmp(t, "days") == 0) col = k;
      cr_assert(col >= 0, "report.csv has no days column");
      const char *f = nl + 1;
      for (k = 0; k < col && f; k++) {
        f = strchr(f, ',');
        if (f) f++;
      }
      if (f) out[i] = strtod(f, NULL);
    }
    free(s);
  }
}

/* 10 processes write reports that differ (days 11..20) into one directory
 * at the same moment, 6 rounds: every round leaves the four files of one
 * run, no temporaries, and every writer succeeds. */
Test(report_bundle, concurrent_writes_leave_one_run, .init = load, .timeout = 120) {
  int64_t list[1] = {1};
  report_bundle b;
  tps_error err;
  tps_error_clear(&err);
  cr_assert_eq(report_bundle_build(&model, &hw, NULL, list, 1, 1e12, 30, &b, &err), TPS_OK, "%s", err.msg);
  char dir[64], sub[128];
  make_tmpdir(dir, sizeof dir);
  snprintf(sub, sizeof sub, "%s/out", dir);
  enum { WRITERS = 10, ROUNDS = 6 };
  for (int round = 0; round < ROUNDS; round++) {
    int gate[2];
    cr_assert_eq(pipe(gate), 0);
    pid_t pids[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
      pids[i] = fork();
      cr_assert(pids[i] >= 0);
      if (pids[i] == 0) {
        close(gate[1]);
        char c;
        while (read(gate[0], &c, 1) > 0) {
        } /* all start together when the gate closes */
        b.days = 11 + i;
        tps_error e;
        tps_error_clear(&e);
        _exit(report_bundle_write(&b, sub, &e) == TPS_OK ? 0 : 1);
      }
    }
    close(gate[0]);
    close(gate[1]);
    for (int i = 0; i < WRITERS; i++) {
      int status = 0;
      cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
      cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", i);
    }
    double d[4];
    days_of(sub, d, 4);
    cr_assert(d[0] >= 11 && d[0] <= 20, "round %d: report.md has days %g", round, d[0]);
    for (int i = 1; i < 4; i++)
      cr_assert_eq(d[i], d[0], "round %d: mixed runs: report.md from the run with days %g, file %d from %g",
                   round, d[0], i, d[i]);
    cr_assert_eq(count_entries(sub, NULL), 4, "round %d: temporary files left in %s", round, sub);
  }
  const char *names[4] = {"report.md", "report.html", "report.csv", "report.json"};
  for (int i = 0; i < 4; i++) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", sub, names[i]);
    unlink(path);
  }
  rmdir(sub);
  rmdir(dir);
  report_bundle_free(&b);
}

/* A report that cannot be completed (report.json is a directory) changes
 * none of the other files; an overwritten report keeps the files' modes. */
Test(report_bundle, failed_write_changes_nothing_and_modes_stay, .init = load) {
  int64_t list[1] = {1};
  report_bundle b;
  tps_error err;
  tps_error_clear(&err);
  cr_assert_eq(report_bundle_build(&model, &hw, NULL, list, 1, 1e12, 30, &b, &err), TPS_OK, "%s", err.msg);
  char dir[64], sub[128], path[256], inner[300];
  make_tmpdir(dir, sizeof dir);
  snprintf(sub, sizeof sub, "%s/out", dir);
  b.days = 11;
  cr_assert_eq(report_bundle_write(&b, sub, &err), TPS_OK, "%s", err.msg);
  /* modes: 0640 stays 0640 */
  snprintf(path, sizeof path, "%s/report.csv", sub);
  cr_assert_eq(chmod(path, 0640), 0);
  b.days = 12;
  cr_assert_eq(report_bundle_write(&b, sub, &err), TPS_OK, "%s", err.msg);
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0640, "report.csv is now %o", (unsigned)(st.st_mode & 0777));
  /* report.json a (non-empty) directory: the write fails, nothing changes */
  snprintf(path, sizeof path, "%s/report.json", sub);
  cr_assert_eq(unlink(path), 0);
  cr_assert_eq(mkdir(path, 0777), 0);
  snprintf(inner, sizeof inner, "%s/keep", path);
  FILE *f = fopen(inner, "w");
  cr_assert_not_null(f);
  fclose(f);
  b.days = 13;
  cr_assert_eq(report_bundle_write(&b, sub, &err), TPS_EIO);
  cr_assert(strstr(err.file, "report.json") && strlen(err.msg) > 0, "%s: %s", err.file, err.msg);
  const char *kept[3] = {"report.md", "report.html", "report.csv"};
  double d[4];
  days_of(sub, d, 3);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(d[i], 12, "%s was replaced by the failed report (days %g)", kept[i], d[i]);
  cr_assert_eq(count_entries(sub, NULL), 4, "temporary files left in %s", sub);
  unlink(inner);
  snprintf(path, sizeof path, "%s/report.json", sub);
  rmdir(path);
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", sub, kept[i]);
    unlink(path);
  }
  rmdir(sub);
  rmdir(dir);
  report_bundle_free(&b);
}

/* RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled;
 * a plain field is written as is (the CSV of plain names is unchanged). */
Test(report_csv, fields_are_quoted_per_rfc4180) {
  const char *in[] = {"decoder", "a,b", "say \"hi\"", "two\nlines", "cr\r", "", NULL};
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_not_null(f);
  for (int i = 0; i < 7; i++) { /* NULL: an empty field */
    csv_field(f, in[i]);
    fputc('|', f);
  }
  fclose(f);
  cr_assert_str_eq(buf, "decoder|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|\"cr\r\"|||");
  free(buf);
}

/* ---- intervals in the charts and the plan (docs/uncertainty.md) ---------- */

static char *render(void (*draw)(FILE *, const svg_chart *), const svg_chart *c) {
  char *buf = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&buf, &size);
  cr_assert_not_null(f);
  draw(f, c);
  fclose(f);
  return buf;
}

static int count_of(const char *s, const char *what) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, what)); p += strlen(what)) n++;
  return n;
}

Test(report_svg, error_bars_at_their_pixels) {
  const char *cats[3] = {"TP=1", "TP=2", "TP=4"};
  double v[3] = {100, 50, 20}, lo[3] = {80, 40, NAN}, hi[3] = {125, 60, 30};
  svg_series s = {"tokens/s per card", v};
  svg_chart c = {.title = "t", .x_label = "x", .y_label = "y", .categories = cats,
                 .n_categories = 3, .series = &s, .n_series = 1, .interval_lo = lo,
                 .interval_hi = hi, .interval_label = "90% interval (error bar)"};
  char *svg = render(svg_lines, &c);
  /* 640 x 360: one legend row, plot top 34 + 18 + 8 = 60 px, height 360 - 60
   * - 58 = 242 px, left 72 px, width 640 - 72 - 24 = 544 px. The axis grows
   * to the highest interval end, 125: step nice(125 x 1.04 / 5) = 50, top
   * 150. TP=1 at x = 72 + 544 / 3 / 2 = 162.67; y(80) = 60 + 242 - 80 / 150
   * x 242 = 172.93, y(125) = 100.33. */
  cr_expect(strstr(svg, "<path d=\"M162.67 172.93 V100.33 M156.67 172.93 h12 M156.67 100.33 h12\""),
            "no error bar at TP=1's pixels:\n%s", svg);
  cr_expect_eq(count_of(svg, "class=\"errbar\""), 2, "TP=4's interval is not finite: no bar");
  cr_expect_eq(count_of(svg, "class=\"errbar-key\""), 1);
  cr_expect(strstr(svg, ">90% interval (error bar)</text>"));
  cr_expect(strstr(svg, "<title>TP=1: 90% interval (error bar) 80-125</title>"));
  free(svg);
  /* no intervals: nothing of them, not even the legend */
  c.interval_lo = c.interval_hi = NULL;
  svg = render(svg_lines, &c);
  cr_expect_null(strstr(svg, "errbar"));
  cr_expect_null(strstr(svg, "interval"));
  free(svg);
}

Test(report_svg, band_over_the_stack) {
  const char *cats[2] = {"TP=1", "TP=2"};
  double a[2] = {30, 20}, b2[2] = {18, 10}, lo[2] = {43.7, 35}, hi[2] = {52.5, 34};
  svg_series s[2] = {{"weights", a}, {"activations", b2}};
  svg_chart c = {.title = "t", .x_label = "x", .y_label = "y", .categories = cats,
                 .n_categories = 2, .series = s, .n_series = 2, .ref_value = 64,
                 .ref_label = "device", .interval_lo = lo, .interval_hi = hi,
                 .interval_label = "90% interval of the total (band)"};
  char *svg = render(svg_stacked_bars, &c);
  /* TP=2's pair has lo > hi: no band. TP=1: plot as above, axis top from
   * the device line 64 x 1.04 = 66.6 -> step 20, top 80; band = bar (0.6 x
   * 272 = 163.2 px, capped at 90) + 8 px, from y(52.5) = 302 - 52.5 / 80 x
   * 242 = 143.19 to y(43.7) = 169.81 */
  cr_expect_eq(count_of(svg, "class=\"band\""), 1);
  cr_expect_eq(count_of(svg, "class=\"band-key\""), 1);
  cr_expect(strstr(svg, "y=\"143.19\" width=\"98.00\" height=\"26.62\""), "%s", svg);
  cr_expect(strstr(svg, "<title>TP=1: 90% interval of the total (band) 43.7-52.5</title>"));
  free(svg);
}

Test(report_bundle, intervals_in_charts_and_plan, .init = load) {
  int64_t list[3] = {1, 2, 4};
  tps_run_overrides over;
  tps_run_overrides_init(&over);
  report_bundle b;
  tps_error err;
  tps_error_clear(&err);
  double tokens = 1e11, days = 30;
  cr_assert_eq(report_bundle_build(&model, &hw, &over, list, 3, tokens, days, &b, &err), TPS_OK,
               "%s", err.msg);
  char path[4096];
  static tps_model_errors errors;
  cr_assert_eq(tps_data_find("validation", "model-error", path, sizeof path, &err), TPS_OK);
  cr_assert_eq(tps_model_errors_load(path, &errors, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(report_bundle_add_intervals(&b, &over, 0.9, &errors, &err), TPS_OK, "%s", err.msg);
  cr_assert_not_null(b.unc);
  cr_assert_eq(b.report.unc, b.unc);
  for (int i = 0; i < b.report.n; i++) {
    const tps_capacity_row *c = &b.capacity[i];
    const tps_capacity_interval *iv = &c->interval;
    cr_assert(iv->has && c->has_budget && c->budget.reachable);
    /* the ratios are the tokens/s interval's */
    cr_expect_float_eq(iv->lo_ratio, b.unc[i].tokens_per_s.lo / b.est[i].tokens_per_s, 1e-12);
    cr_expect(iv->lo_ratio < 1.0 && iv->hi_ratio > 1.0);
    cr_expect(iv->cards_lo <= c->budget.cards && c->budget.cards <= iv->cards_hi);
    cr_expect(iv->cards_hi_reachable);
    cr_expect_float_eq(iv->days_hi, c->budget.days / iv->lo_ratio, 1e-9 * iv->days_hi);
    cr_expect_float_eq(iv->card_hours_lo, c->budget.card_hours / iv->hi_ratio, 1e-9 * iv->card_hours_lo);
    /* the most cards: the smallest whole-node DP whose tokens/s at the low
     * end reaches the budget; one node fewer does not (a node at TP x PP =
     * tp x 2 holds 8 / (2 tp) replicas) */
    tps_run_overrides p = pinned_at(list[i], over.memory_margin);
    tps_status st;
    int64_t per = list[i] * p.pp, dp_hi = iv->cards_hi / per;
    double r = tps_capacity_tokens_per_s(&model, &hw, &p, dp_hi, NULL, &st, &err);
    cr_assert_eq(st, TPS_OK, "%s", err.msg);
    cr_expect(r * iv->lo_ratio * days * 86400.0 >= tokens);
    int64_t dp_less = (iv->cards_hi - hw.devices_per_node) / per;
    r = tps_capacity_tokens_per_s(&model, &hw, &p, dp_less, NULL, &st, &err);
    cr_expect(r * iv->lo_ratio * days * 86400.0 < tokens, "TP %lld: %lld cards would do",
              (long long)list[i], (long long)(iv->cards_hi - hw.devices_per_node));
  }
  /* the charts: an error bar per TP on throughput and step time, a band per
   * TP on memory, each named in its legend */
  char *charts[3];
  for (int k = 0; k < 3; k++) {
    size_t size = 0;
    FILE *f = open_memstream(&charts[k], &size);
    report_bundle_chart(f, &b, k, false);
    fclose(f);
  }
  cr_expect_eq(count_of(charts[0], "class=\"band\""), 3);
  cr_expect(strstr(charts[0], "90% interval of the total (band)"));
  cr_expect_eq(count_of(charts[1], "class=\"errbar\""), 3);
  cr_expect_eq(count_of(charts[2], "class=\"errbar\""), 3);
  cr_expect(strstr(charts[1], "90% interval (error bar)"));
  for (int k = 0; k < 3; k++) free(charts[k]);
  report_bundle_free(&b);
}
