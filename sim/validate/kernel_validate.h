/* `tp-sim calibrate` and `tp-sim validate --kernel`: measure this machine
 * with tp-kernel, write hardware profiles, then predict tp-kernel runs with
 * the engine and say how far off it is. tp-kernel runs as a subprocess
 * through its launcher (tp-kernel-run); this library never links MPI. No
 * printing to stdout (progress lines go to `log` when given), no exit.
 *
 * Profiles: one per rank layout and collective family, because one link
 * table cannot fit Open MPI here (docs/validation.md, "Kernel validation"):
 *   PREFIX-tp1.yaml, PREFIX-tp2.yaml, PREFIX-tp2-sp.yaml, PREFIX-tp4.yaml,
 *   PREFIX-tp4-sp.yaml
 * (-spN: link table fitted to reduce-scatter + all-gather, the SP
 * collectives; without: to all-reduce). */
#ifndef TPSIM_VALIDATE_KERNEL_VALIDATE_H
#define TPSIM_VALIDATE_KERNEL_VALIDATE_H

#include <stdbool.h>
#include <stdio.h>

#include "tpsim/tpsim.h"
#include "validate/validate_types.h"

#define KV_SPREAD_MAX 0.10 /* repeats further apart than this (max/min - 1): noisy */
#define KV_LOAD_FRACTION 0.5 /* 1-minute load above this x CPUs: noisy */
#define KV_MAX_SAMPLES 64
#define KV_GEMM_MAX 32
#define KV_COLL_MAX 32

/* ---- tp-kernel JSON, as read back (kernel_json.c) ---- */

typedef struct kv_stat {
  double median, min; /* seconds */
} kv_stat;

typedef struct kv_meas_op {
  char name[32], kind[16];
  kv_stat fwd, bwd, regather; /* per layer */
  bool has_regather;
  double fwd_flops, bwd_flops, fwd_bytes, bwd_bytes, coll_bytes;
  int64_t group;
} kv_meas_op;

/* One layer run (`tp-kernel --json`). Memory: max over ranks. */
typedef struct kv_kernel_run {
  int tp, cpus;
  int cp;       /* config.cp (1 when absent: runs before tp-kernel had --cp) */
  bool ulysses; /* config.cp_algo "ulysses" */
  bool sp, swiglu, rmsnorm, oversubscribed;
  int64_t hidden, heads, kv_heads, head_dim, ffn, seq, micro_batch, layers;
  int64_t experts, topk, moe_ffn; /* MoE ("moe" object; experts 0: dense) */
  int ep, dp;                     /* MoE: EP size, data-parallel ranks (tp is 1) */
  kv_stat step;
  double samples[KV_MAX_SAMPLES];
  int n_samples;
  kv_meas_op ops[KV_OPS_MAX];
  int n_ops;
  double lowering_saved_per_layer;
  double vmhwm, vmrss_start, buf_weights, buf_grads, buf_saved, buf_scratch, buf_total; /* bytes */
} kv_kernel_run;

/* `tp-kernel --bench gemm`: one call's time per shape. */
typedef struct kv_gemm_bench {
  int ranks;
  bool oversubscribed;
  kv_stat overhead;
  int n;
  double flops[KV_GEMM_MAX];          /* 2 m n k */
  kv_stat fwd[KV_GEMM_MAX], dgrad[KV_GEMM_MAX], wgrad[KV_GEMM_MAX];
} kv_gemm_bench;

/* `tp-kernel --bench collectives`: one call's time per full-tensor size. */
typedef struct kv_coll_bench {
  int ranks;
  bool oversubscribed;
  int n;
  double bytes[KV_COLL_MAX];
  kv_stat all_reduce[KV_COLL_MAX], reduce_scatter[KV_COLL_MAX], all_gather[KV_COLL_MAX];
} kv_coll_bench;

tps_status kv_kernel_run_load(const char *path, kv_kernel_run *out, tps_error *err);
tps_status kv_gemm_bench_load(const char *path, kv_gemm_bench *out, tps_error *err);
tps_status kv_coll_bench_load(const char *path, kv_coll_bench *out, tps_error *err);

/* ---- fitting a profile (kernel_fit.c): pure, tested on fixtures ---- */

/* What one profile is fitted from. coll may be NULL (TP 1); layers: the
 * calibration layer runs (shapes outside the validation grid) at this TP. */
typedef struct kv_fit_input {
  int tp;
  bool sp;                        /* link table from reduce-scatter + all-gather */
  const kv_gemm_bench *gemm;
  const kv_coll_bench *coll;
  const kv_kernel_run *layers;
  int n_layers;
  const char *name;               /* profile name, "local-tp2-sp" */
  const char *source;             /* "how and when": date, host, load */
  double host_memory_bytes;       /* MemTotal */
} kv_fit_input;

/* Fills hw: peak fp32 = best GEMM rate (3 calls of a shape / their median
 * times less 3 x overhead); gemm_efficiency[x = FLOPs of one call] = rate /
 * peak; kernel_overhead = the 1x1x1 sgemm; memory_bandwidth (efficiency 1)
 * = bytes / time summed over the layer runs' norm, activation and residual
 * ops (the lowering's bytes); attention_efficiency[x = forward FLOPs] from
 * the layer runs' attn_core; runtime_reserve = median VmRSS before the
 * buffers; intra link `switch`: latency = half the smallest per-step time,
 * bandwidth = the best implied, efficiency per size = implied / best, so that
 * tps_collective_time reproduces the measured median at every size. */
tps_status kv_fit_profile(const kv_fit_input *in, tps_hw *hw, tps_error *err);

/* Writes hw as a profile YAML (docs/schema.md) that tps_hw_load reads back
 * to a stream (kv_profile_render), or to path through base/outfile.h (a
 * temporary renamed into place; an existing file keeps its mode). */
void kv_profile_render(FILE *f, const tps_hw *hw);
tps_status kv_profile_write(const tps_hw *hw, const char *path, tps_error *err);

/* ---- subprocesses (kernel_run.c) ---- */

#define KV_TIMEOUT_DEFAULT_S 600.0 /* per tp-kernel run, when no --timeout is given */

/* The launcher: $TPSIM_KERNEL_RUN, else tp-kernel-run next to the running
 * executable (/proc/self/exe). Not found: EIO. */
tps_status kv_find_launcher(char *out, size_t size, tps_error *err);
/* Runs the launcher with -n ranks and argv (NULL-terminated) in a session
 * of its own; stdin and stdout from/to /dev/null, stderr to log, or (no
 * log) kept to quote its last line on failure. Success is exit status 0.
 * A run still going after timeout_s seconds (<= 0: no limit), or when
 * tp-sim got SIGINT/SIGTERM/SIGHUP (kv_signals_begin), is stopped, with
 * every process of its session (SIGTERM, SIGCONT, SIGKILL 3 s later);
 * whatever a run leaves behind is killed when it ends. Errors (EIO) name
 * the command and how it ended. */
tps_status kv_run_kernel(const char *launcher, int ranks, const char *const *argv, FILE *log,
                         double timeout_s, tps_error *err);
/* 1-minute load average, or -1. */
double kv_loadavg(void);

/* While tp-kernel runs, SIGINT, SIGTERM and SIGHUP (those not ignored) are
 * caught: the running launcher's session is stopped and the drivers return
 * an error (kv_interrupted_error) after removing their temporary folder;
 * the caller then re-raises kv_interrupted() so that tp-sim ends by that
 * signal. Nested begin/end pairs are counted; end restores the handlers. */
void kv_signals_begin(void);
void kv_signals_end(void);
/* The signal received since the outermost kv_signals_begin, or 0. */
int kv_interrupted(void);
tps_status kv_interrupted_error(tps_error *err);

/* The work directory: given (created if missing), or a fresh
 * $TMPDIR/tpsim-kv.XXXXXX (*made = true) that kv_workdir_remove deletes
 * with all its content. */
tps_status kv_workdir_make(const char *given, char *out, size_t size, bool *made, tps_error *err);
void kv_workdir_remove(const char *dir);

/* ---- calibrate (kernel_drive.c: runs tp-kernel, fits with kernel_fit.c) ---- */

typedef struct kv_calibrate_opts {
  const char *prefix;   /* profiles go to PREFIX-tpN[-sp].yaml; NULL: "hw_profiles/local" */
  const char *launcher; /* NULL: kv_find_launcher */
  const char *workdir;  /* where tp-kernel's JSON goes; NULL: a fresh mkdtemp in $TMPDIR or /tmp */
  int reps;             /* repeats per point; 0: 7 (quick: 3) */
  bool quick;           /* CI: short sweeps, one small layer run per TP */
  int tps[4];           /* TP sizes to calibrate, 0-terminated; all 0: {1, 2, 4} */
  double timeout_s;     /* per tp-kernel run; 0: KV_TIMEOUT_DEFAULT_S */
  FILE *log;            /* progress lines, or NULL */
} kv_calibrate_opts;

/* Runs the micro-benchmarks and calibration layer runs for each TP size,
 * fits the profiles and, only when every run succeeded, writes them all
 * (each to a temporary, all renamed at the end): a failed run, a failed fit
 * or an interruption writes none. A fresh work directory is removed at the
 * end. written: the paths, newline-separated (may be NULL). */
tps_status kv_calibrate(const kv_calibrate_opts *o, char *written, size_t written_size,
                        tps_error *err);

/* ---- validate --kernel (kernel_validate.c; kv_validate, which runs the grid,
 * in kernel_drive.c) ---- */

/* One grid point. */
typedef struct kv_config {
  int tp;
  bool sp, swiglu;
  int64_t hidden, heads, kv_heads, seq, micro_batch;
  int cp;                 /* context-parallel ranks (0 or 1: none); ranks = tp x cp */
  bool ulysses;           /* CP by Ulysses' all-to-all, else the ring */
  int ep;                 /* MoE: EP ranks (= the ranks; tp is then 1); 0: dense */
  int64_t experts, topk;  /* MoE: routed experts (0: dense), experts per token */
} kv_config;

/* MPI ranks of a grid point: TP x CP, or with experts EP (data-parallel) ones. */
static inline int kv_config_ranks(const kv_config *c) {
  return c->experts > 0 ? c->ep : c->tp * (c->cp > 1 ? c->cp : 1);
}
/* The rank count of the profile a grid point is predicted with
 * (PREFIX-tpN): its TP size (CP cases too), or an MoE case's EP ranks,
 * which its collectives span. */
static inline int kv_config_profile_ranks(const kv_config *c) { return c->experts > 0 ? c->ep : c->tp; }

typedef struct kv_validate_opts {
  const char *hw;       /* one profile (name or path) for every case; NULL: use prefix */
  const char *prefix;   /* PREFIX-tpN[-sp].yaml; NULL: "hw_profiles/local"; missing
                           profiles are calibrated first into the workdir */
  const char *launcher; /* NULL: kv_find_launcher */
  const char *workdir;  /* NULL: mkdtemp */
  bool quick;           /* CI: 2 configurations, 3 steps */
  int steps, layers;    /* 0: 5 steps (quick 3), 2 layers */
  const char *only;     /* run only cases whose id contains this, or NULL */
  double timeout_s;     /* per tp-kernel run; 0: KV_TIMEOUT_DEFAULT_S */
  FILE *log;
} kv_validate_opts;

/* The grid (>= 12 configurations; quick: 2). Returns the count. */
int kv_grid(bool quick, const kv_config **out);
/* Case id of a configuration. */
void kv_config_id(const kv_config *c, char *out, size_t size);

/* Compares one measured run with the engine on hw: fills c (ops paired by
 * name; a measured op the lowering lacks or the reverse is an error). */
tps_status kv_compare(const kv_kernel_run *run, const tps_hw *hw, kv_case *c, tps_error *err);
/* Summary: MAPEs (TP 1-2 and TP 4 apart), noisy flag from the load averages
 * already in r and the cases' spreads. */
void kv_summarize(kv_report *r);
/* The noisy rule alone (exposed for tests): the 1-minute load before the
 * runs above 0.5 x cpus, or repeats more than 10% apart. load_after (which
 * counts the runs' own ranks) only goes into the message. */
bool kv_is_noisy(double load_before, double load_after, int cpus, double max_spread, char *why,
                 size_t why_size);

/* Runs the grid and fills rep (the caller frees with kv_report_free). Any
 * failed tp-kernel run (exit status, signal, timeout, output that is not a
 * well-formed run with finite, non-negative figures) fails the whole
 * validation with the case named (EIO or the reader's status), as does a
 * validation in which no case was compared (EMEASURE): never a MAPE over
 * zero cases. A fresh work directory is removed at the end. */
tps_status kv_validate(const kv_validate_opts *o, kv_report *rep, tps_error *err);
void kv_report_free(kv_report *rep);
/* Number of TP 1-2 cases whose |step-time error| exceeds max_error. */
int kv_count_beyond(const kv_report *rep, double max_error);

#endif
