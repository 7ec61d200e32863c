/* The capacity-planning report (`tp-sim report`): every asked TP size
 * estimated, the recommendation of report_recommend, the per-layer
 * breakdown of the recommended TP, and capacity planning per TP; written as
 * report.md, report.html (self-contained: inline CSS and SVG, no scripts,
 * no URLs), report.csv and report.json. Building and writing never print. */
#ifndef TPSIM_REPORTS_REPORT_BUNDLE_H
#define TPSIM_REPORTS_REPORT_BUNDLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "reports/report.h"
#include "tpsim/capacity.h"

/* Capacity planning of one evaluated TP size (same order as est). */
typedef struct capacity_row {
  int64_t tp;
  double limit_bytes;      /* device memory x (1 - margin) */
  double headroom_bytes;   /* limit - peak per card at the evaluated run; < 0: over */
  double free_bytes;       /* device memory - peak per card */
  int64_t max_seq_len;     /* largest fitting seq_len, tokens; 0: none; -1: search failed */
  double max_seq_len_bytes;
  bool max_seq_len_capped; /* TPS_CAPACITY_MAX_SEQ_LEN fits: at least that */
  int64_t max_micro_batch; /* largest fitting micro-batch, samples (same meaning of 0, -1) */
  double max_micro_batch_bytes;
  bool max_micro_batch_capped;
  int evals;               /* engine evaluations spent in both searches */
  bool has_budget;         /* token budget and days were given */
  tps_capacity_budget budget;  /* cards needed for the budget within the days */
  double days_at_run;      /* budget / tokens/s of the evaluated run / 86400; 0: no budget */
  double tokens_in_days;   /* tokens/s of the evaluated run x days x 86400; 0: no days */
} capacity_row;

typedef struct report_bundle {
  const tps_model *model;  /* borrowed: outlive the bundle */
  const tps_hw *hw;
  tps_estimate *est;       /* owned, n entries */
  report_skip *skipped;    /* owned, n_skipped entries */
  estimate_report report;  /* points into est / skipped; recommendation filled */
  capacity_row *capacity;  /* owned, report.n entries */
  double token_budget;     /* tokens; 0: none */
  double days;             /* 0: none */
  /* per-layer breakdown of the recommended TP (or the first evaluated one
   * when nothing fits: layers_tp_index says which) */
  int layers_tp_index;     /* index into est, -1 when n == 0 */
  tps_plan plan;
  bool has_plan;
  tps_layer_cost *costs;   /* owned, plan.n_layers entries */
  const char *rules[6];    /* capacity-planning rules, as sentences */
  int n_rules;
} report_bundle;

/* Progress callback: `done` of `total` TP sizes finished (for a CLI that
 * shows progress on a terminal). */
typedef void (*report_progress_fn)(int done, int total, void *ctx);

/* Evaluates each TP of tp_list (0 = the model's default) with `over`,
 * skipping the invalid ones with their reason (like `estimate`), fills the
 * recommendation, the per-layer costs of the recommended TP and capacity
 * planning. token_budget (tokens) and days are optional (0 = none).
 * Returns EINVAL when no TP could be evaluated (err holds the first
 * reason), ENOMEM on allocation failure; `out` is then freed. */
tps_status report_bundle_build(const tps_model *m, const tps_hw *hw, const tps_run_overrides *over,
                               const int64_t *tp_list, int n_tp, double token_budget, double days,
                               report_bundle *out, tps_error *err);
/* Same, calling progress (may be NULL) after each TP size. */
tps_status report_bundle_build_ex(const tps_model *m, const tps_hw *hw,
                                  const tps_run_overrides *over, const int64_t *tp_list, int n_tp,
                                  double token_budget, double days, report_progress_fn progress,
                                  void *progress_ctx, report_bundle *out, tps_error *err);
void report_bundle_free(report_bundle *b);

/* Creates dir (one level, mode 0777 less umask) if needed and writes
 * report.md, report.html, report.csv and report.json: all four are first
 * written completely to temporary names in dir (".report.*.tmp.XXXXXX"),
 * then renamed into place. When any write fails (EIO, err says which
 * file), every temporary file is removed and none is renamed. */
tps_status report_bundle_write(const report_bundle *b, const char *dir, tps_error *err);

/* The renderers, to a stream. */
void report_bundle_md(FILE *out, const report_bundle *b);
void report_bundle_html(FILE *out, const report_bundle *b);
void report_bundle_csv(FILE *out, const report_bundle *b);
void report_bundle_json(FILE *out, const report_bundle *b);

/* The charts of the HTML report, one at a time (standalone: with the SVG
 * namespace, for a .svg file). i in [0, REPORT_N_CHARTS). */
#define REPORT_N_CHARTS 5
void report_bundle_chart(FILE *out, const report_bundle *b, int i, bool standalone);

#endif
