/* Renderers for estimates: terminal table, JSON (CONTRACT in
 * shared/design/tp-sim.md section 4), CSV and Markdown. They write to a
 * caller-given stream and never exit. */
#ifndef TPSIM_REPORTS_REPORT_H
#define TPSIM_REPORTS_REPORT_H

#include <stdio.h>

#include "reports/json_writer.h"
#include "tpsim/tpsim.h"

#define REPORT_MAX_ROWS 32

typedef struct estimate_report {
  const tps_model *model;
  const tps_hw *hw;
  const tps_estimate *est;   /* evaluated configurations, in the order asked
                                (tps_estimate_tp_list, tpsim/capacity.h) */
  int n;
  const tps_tp_skip *skipped;
  int n_skipped;
  int recommended;           /* index into est, or -1 */
  char reason[1024];         /* why that TP, in checkable sentences */
  const char *assumptions[40];
  int n_assumptions;
  int n_notes;               /* the last n_notes assumptions are inputs tp-sim ignored
                                (--allow-unmodelled); the table shows them */
  double params_total, params_trainable; /* whole model */
  double params_active;      /* those one token passes through (MoE: top-k of the
                                routed experts); = params_total for a dense model */
  double params_mtp;         /* of params_total, the MTP modules' own; 0: none */
  /* Prediction intervals (docs/uncertainty.md): one per est, or NULL when
   * off (--interval none; `report` has none yet). */
  const tps_uncertainty *unc;
  const tps_model_error *model_error; /* the term applied, or NULL */
  char compare[1024]; /* the recommended TP against each other that fits, at the level */
  char schedule[192];  /* the schedule, TP overlap and gradient precision assumed */
} estimate_report;

/* Opens a tp-sim JSON document on out: `{` and the keys every one starts
 * with ("tool", "version", "model", "hw"; "device_memory_bytes" when
 * with_memory). The caller adds its keys and closes it. */
void report_json_begin(json_writer *w, FILE *out, const tps_model *m, const tps_hw *hw,
                       bool with_memory);

/* Writes the contract's memory_bytes object (weights, grads, optimizer,
 * activations, runtime_reserve, total) of m. */
void report_json_memory(json_writer *w, const tps_memory *m);
/* ", bf16 gradients" and the other switches that change what a rank keeps
 * (--grad-reduce-in-bf16, --reuse-fp32-param, --recompute-activation-function),
 * for header lines; nothing when none is on. */
void report_state_words(FILE *out, const tps_run *run);
/* The step time by cause (docs/reports.md); `moe_dispatch` only with experts. */
void report_json_time(json_writer *w, const tps_time_split *t);
/* A row's `*_interval` pairs, fits_at_interval, p_fits, sensitivities and
 * model_error_share (docs/uncertainty.md), as keys of the open object. */
void report_json_intervals(json_writer *w, const tps_uncertainty *u);

/* The interval table columns (estimate and recommend): headers such as
 * "GB/card (90%)", "tokens/s/card (90%)", "at 90%" for the level, and a
 * row's cells "47.91 (43.7-52.5)" (memory, 10^9 B) and "1669 (1193-2334)". */
typedef struct report_unc_cols {
  char h_mem[48], h_tpc[48], h_fit[48], mem[96], tpc[96];
} report_unc_cols;
void report_unc_heads(report_unc_cols *c, double level);
void report_unc_cells(report_unc_cols *c, const tps_uncertainty *u, double memory_bytes,
                      double tokens_per_s_per_card);
/* The "interval" object: the level, the samples and the model-error family
 * (null when the profile has none) the intervals rest on. */
void report_json_interval_basis(json_writer *w, const tps_uncertainty *u,
                                const tps_model_error *me);
/* Context parallelism of a run with CP > 1 (report_cp.c): ", CP 4 (ring)"
 * in a header line, and the JSON keys cp, cp_algo, ulysses_degree (absent
 * at CP 1, which keeps every output without CP as it was). */
void report_cp_words(FILE *out, const tps_run *run);
void report_cp_json(json_writer *w, const tps_run *run);
/* FP8 training of a run that uses it (report_cp.c): ", FP8 hybrid GEMMs
 * (amax history 1024, FP8 weights)" and the keys fp8, fp8_amax_history,
 * fp8_param_gather; nothing without FP8. */
void report_fp8_words(FILE *out, const tps_run *run);
void report_fp8_json(json_writer *w, const tps_run *run);
/* Expert parallelism: ", EP 8 x ETP 1 (expert DP 8)" and the keys ep, etp,
 * only when EP > 1 or expert TP differs from TP. */
void report_ep_words(FILE *out, const tps_run *run);
void report_ep_json(json_writer *w, const tps_run *run);

/* Fills recommended, reason and assumptions from est. */
void report_recommend(estimate_report *r);
/* Appends notes (strings that outlive r) to the assumptions, as n_notes. */
void report_add_notes(estimate_report *r, const char *const *notes, int n);

void report_estimate_table(FILE *out, const estimate_report *r);
void report_estimate_json(FILE *out, const estimate_report *r);
void report_estimate_csv(FILE *out, const estimate_report *r);
void report_estimate_md(FILE *out, const estimate_report *r);

/* Seconds of one op of a layer template, per micro-batch (tps_op_time). */
typedef struct layers_op_time {
  double fwd_s, bwd_s;
} layers_op_time;

/* Per-layer breakdown of one configuration (`tp-sim layers`). */
typedef struct layers_report {
  const tps_model *model;
  const tps_hw *hw;
  const tps_run *run;
  const tps_plan *plan;
  const tps_layer_cost *costs;  /* one per plan layer */
  bool show_ops;
  const layers_op_time *const *op_times; /* show_ops: [template id][op index] */
} layers_report;

void report_layers_table(FILE *out, const layers_report *r);
void report_layers_json(FILE *out, const layers_report *r);
void report_layers_csv(FILE *out, const layers_report *r);

#endif
