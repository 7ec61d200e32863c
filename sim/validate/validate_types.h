/* The results sim/validate computes and reports/ renders: plain data, no
 * functions. `tp-sim validate --kernel` (kernel_validate.c) fills a
 * kv_report, `tp-sim validate --published` (published.c) a validate_report;
 * reports/kernel_report.h and reports/validate_report.h print them. */
#ifndef TPSIM_VALIDATE_VALIDATE_TYPES_H
#define TPSIM_VALIDATE_VALIDATE_TYPES_H

#include <stdbool.h>
#include <stdint.h>

/* ---- validate --kernel: predicted vs measured tp-kernel runs ---- */

#define KV_ID_MAX 96
#define KV_OPS_MAX 40
#define KV_WHY_MAX 512

/* One op of one configuration: per layer, per micro-batch step, slowest rank. */
typedef struct kv_op_row {
  char name[32];          /* lowering op name; "attn_f:regather" for the SP re-gather */
  char kind[16];          /* gemm, attention, norm, activation, residual, collective */
  double pred_fwd_s, pred_bwd_s; /* engine (tps_op_time) */
  double meas_fwd_s, meas_bwd_s; /* tp-kernel, median over timed steps */
  double error;           /* (pred fwd + bwd) / (meas fwd + bwd) - 1; 0 if measured 0 */
  bool modelled;          /* false: the engine has no op for it (predicted 0) */
} kv_op_row;

/* One configuration of the grid. */
typedef struct kv_case {
  char id[KV_ID_MAX];     /* "tp2-h1024-s512-b1-swiglu-gqa4-sp[-cp2-ring]" */
  int tp;
  int cp;                 /* context-parallel ranks (1: none); reported apart from the TP 1-2 MAPE */
  bool sp, swiglu, gqa, oversubscribed;
  int64_t hidden, heads, kv_heads, seq, micro_batch, layers;
  char hw[512];           /* profile used */
  char skipped[KV_WHY_MAX]; /* non-empty: not compared, and why */
  double predicted_s, measured_s, error;      /* step time: forward + backward of all layers */
  double measured_min_s, spread;              /* min over steps; max/min - 1 over steps */
  double mem_predicted, mem_measured, mem_error; /* bytes per rank (see docs/validation.md) */
  double buf_predicted, buf_measured, buf_error; /* analytic buffers vs engine, bytes */
  double stream_bytes; /* one layer-input-sized fp32 buffer per rank (hw->backward_buffers of them) */
  bool noisy;             /* spread > KV_SPREAD_MAX */
  kv_op_row ops[KV_OPS_MAX];
  int n_ops;
} kv_case;

typedef struct kv_report {
  kv_case *cases;
  int n_cases;
  char profile[512];      /* prefix of the profiles, or the one profile */
  char date[64];          /* UTC, ISO 8601 */
  char host[128];
  int cpus;
  double load_before, load_after; /* 1-minute load average */
  /* summary; MAPE over TP 1 and TP 2 cases that were compared */
  int n_main, n_tp4;
  double step_time_mape, memory_mape, buffers_mape, op_mape;
  double tp4_step_time_mape, tp4_memory_mape;
  double max_spread;
  bool noisy;             /* load > 0.5 x cpus before or after, or any case's spread > 10% */
  char noisy_why[256];
} kv_report;

/* ---- validate --published: predicted vs measured published runs ---- */

#define VALIDATE_ID_MAX 128
#define VALIDATE_GROUP_MAX 256
#define VALIDATE_WHY_MAX 512

/* One comparison (a case and one measured key), or one skipped case. */
typedef struct validate_row {
  char id[VALIDATE_ID_MAX];
  char group[VALIDATE_GROUP_MAX];
  char skipped[VALIDATE_WHY_MAX]; /* non-empty: the case was not predicted, and why */
  char metric[48];                /* the measured key, e.g. "iteration_time_ms" */
  char hw[64];                    /* hardware profile used */
  double predicted;               /* in the unit the metric key names */
  double measured;                /* same unit, > 0 */
  double error;                   /* predicted / measured - 1 (signed fraction) */
  bool uncertain;                 /* the case lists this measured value as uncertain */
  bool fits;                      /* the prediction fits in device memory */
  double lo, hi;                  /* the predicted interval at the report's level, in the
                                     metric's unit; NaN when none (level 0) */
  bool inside;                    /* lo <= measured <= hi */
  bool no_model_error;            /* the profile has no model-error term */
} validate_row;

/* Is a coverage of k inside of n consistent with the intervals' level P?
 * Exact binomial test: k ~ Binomial(n, P) if the intervals are right; the
 * two-sided p-value doubles the smaller tail. Below 0.05 the coverage is
 * too wide (k/n > P) or too narrow (k/n < P); otherwise the n values cannot
 * tell (a group of 6 all inside has p = 2 x 0.9^6 = 1.06 -> 1 at 90%). */
typedef enum coverage_verdict {
  COVERAGE_NONE = 0,   /* no intervals, or n == 0 */
  COVERAGE_CONSISTENT, /* p >= 0.05 */
  COVERAGE_TOO_WIDE,   /* p < 0.05, k/n > P */
  COVERAGE_TOO_NARROW  /* p < 0.05, k/n < P */
} coverage_verdict;

typedef struct coverage_check {
  double p_value; /* two-sided; NaN with COVERAGE_NONE */
  coverage_verdict verdict;
} coverage_check;

/* Rows of one group (in order of first appearance in the file). */
typedef struct validate_group {
  char name[VALIDATE_GROUP_MAX];
  int n;          /* comparisons */
  int n_skipped;  /* skipped cases */
  double mape;    /* mean |error| over the n comparisons (fraction); 0 when n == 0 */
  int n_inside;   /* comparisons whose measured value lies in the predicted interval */
  double coverage; /* n_inside / n; NaN when n == 0 or no intervals */
  coverage_check check; /* n_inside of n against the interval's level */
} validate_group;

typedef struct validate_report {
  const char *file;         /* the published-cases file, as given */
  const char *hw_override;  /* --hw, or NULL */
  validate_row *rows;       /* file order */
  int n_rows;
  validate_group *groups;
  int n_groups;
  int n_cases, n_skipped;   /* cases read, cases skipped */
  int n;                    /* comparisons over all groups */
  double mape;              /* mean |error| over all n comparisons (fraction); 0 when n == 0 */
  double level;             /* of the predicted intervals (0.9); 0: none */
  int n_inside;             /* over all groups */
  double coverage;          /* n_inside / n; NaN when n == 0 or no intervals */
  coverage_check check;     /* n_inside of n against level */
  int n_no_model_error;     /* comparisons on a profile without a model-error term */
} validate_report;

#endif
