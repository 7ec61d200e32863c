/* Rendering `tp-sim validate --kernel`: predicted (engine on a calibrated
 * profile) vs measured (tp-kernel) time per op, step time and per-rank
 * memory, as a terminal table or JSON. The renderers only print what
 * sim/validate/kernel_validate.c filled in; they never exit.
 *
 * JSON keys (CONTRACT, issue 5; keys may be added, never renamed): tool,
 * kind ("kernel"), cases[] (id, tp, sp, ..., predicted_s, measured_s,
 * error, memory {predicted_bytes, measured_bytes, error}, noisy, ops[]),
 * summary {step_time_mape, memory_mape, noisy, tp4_step_time_mape, ...}.
 * Times in seconds, memory in bytes, errors as signed fractions
 * predicted / measured - 1, MAPE as a fraction. */
#ifndef TPSIM_REPORTS_KERNEL_REPORT_H
#define TPSIM_REPORTS_KERNEL_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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
  char id[KV_ID_MAX];     /* "tp2-h1024-s512-b1-swiglu-gqa4-sp" */
  int tp;
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

void report_kernel_table(FILE *out, const kv_report *r, bool per_op);
void report_kernel_json(FILE *out, const kv_report *r);

#endif
