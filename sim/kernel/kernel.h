/* tp-kernel internals: one tensor-parallel transformer stack on MPI ranks.
 *
 * A `kinst` is one instance of the stack on one TP group (an MPI
 * communicator of `tp` ranks; MPI_COMM_SELF gives the TP = 1 reference used
 * by --check), or on TP x CP ranks with context parallelism (cp.c). It is built from the SAME lowering the cost model uses
 * (tps_lower_layer): the op list fixes the order of execution and the op
 * names under which times are recorded; every op is bound to its buffers in
 * a `ksite`, and executed by the executor of its kind (exec.c).
 *
 * Layouts (all row-major fp32). Tokens are ordered sequence-major as in
 * Megatron's [s, b, h]: global token row t = s * micro_batch + b, so a
 * sequence-parallel shard of m / tp contiguous rows is a contiguous range of
 * sequence positions over the whole micro-batch. Notation per rank:
 *   h   hidden             m   tokens per micro-batch (seq * micro_batch)
 *   ml  rows of the residual stream on this rank: m / tp with SP, else m
 *   hq  query heads here   kvl KV heads here (1 when replicated)
 *   hd  head dim           fl  ffn / tp        nup = 2 fl (SwiGLU) or fl */
#ifndef TPSIM_KERNEL_KERNEL_H
#define TPSIM_KERNEL_KERNEL_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "tpsim/ops.h"

/* What the user asked for: one stack (whole-model numbers, not per rank). */
typedef struct kcfg {
  int64_t hidden, heads, kv_heads, ffn, seq, batch, layers;
  tps_mlp_kind mlp;
  tps_norm_kind norm;
  bool sp;
  int64_t cp;            /* context-parallel ranks (1: none); MPI ranks = TP x CP */
  tps_cp_algo cp_algo;   /* ring or Ulysses (cp.c) */
  uint64_t seed; /* weights and inputs are hashes of (seed, tensor, indices) */
} kcfg;

/* Per-rank dimensions derived from a kcfg and the TP group. With context
 * parallelism (cp > 1) the MPI ranks are TP x CP in Megatron's order (TP
 * fastest: world rank = cp_rank * tp + rank) and every count below is of this
 * rank's seq_l = seq / cp positions of each sequence (m = seq_l * batch). */
typedef struct kdims {
  int tp, rank;
  int cp, cp_rank;           /* CP ranks and this rank's place in its CP group */
  bool ring;                 /* CP by ring attention (else Ulysses when cp > 1) */
  int64_t seq_l, batch;      /* positions per sequence on this rank; sequences */
  int64_t h, hd, m, ml;
  int64_t hq, kvl;          /* heads on this rank */
  int64_t q_first, kv_first; /* global index of this rank's first q / kv head */
  int64_t nqkv;              /* (hq + 2 kvl) * hd: width of the QKV shard */
  int64_t fl, nup;           /* ffn / tp; width of the mlp_up shard */
  int64_t row0;              /* first global token row of the residual shard */
  bool gathered;             /* SP with tp > 1: f/g move data along the sequence */
} kdims;

/* The ops of a block, by the names of tpsim/ops.h (CONTRACT order). */
typedef enum {
  K_ATTN_NORM, K_ATTN_F, K_QKV, K_ATTN_CORE, K_ATTN_OUT, K_ATTN_G, K_ATTN_RESIDUAL,
  K_MLP_NORM, K_MLP_F, K_MLP_UP, K_MLP_ACT, K_MLP_DOWN, K_MLP_G, K_MLP_RESIDUAL,
  K_NOPS
} krole;

extern const char *const k_role_names[K_NOPS];

/* One op of one layer bound to its buffers. Which fields an executor reads:
 *   GEMM        fwd y(m, n) = x(m, k) w(k, n); bwd dw = x^T dy, dx = dy w^T
 *               (both overwritten); regather >= 0: before the backward, the
 *               SP all-gather of op `regather` refills x from its shard.
 *   NORM        fwd y = norm(x) over `rows` rows (w = gamma, w2 = beta,
 *               st = {mean, rstd} per row); bwd dx += ..., dw, dw2 overwritten
 *   ACTIVATION  fwd y = act(x); bwd dx = act'(x) dy
 *   ATTENTION   fwd x = qkv, y = context, st = softmax probabilities;
 *               bwd dy = d context -> dx = d qkv
 *   RESIDUAL    fwd y = x + x2 (`rows` rows); bwd dx = dy (a copy; the branch
 *               gradient is dy itself, no work)
 *   COLLECTIVE  fwd x -> y by op->fwd_coll; bwd dy -> dx by op->bwd_coll; an
 *               all-reduce runs in place (x == y), identity means x == y. */
typedef struct ksite {
  const tps_op *op;
  krole role;
  float *x, *x2, *y, *w, *w2, *st;
  float *dx, *dy, *dw, *dw2;
  int64_t rows;
  int regather; /* op index of the all-gather to redo before bwd, or -1 */
} ksite;

/* One layer's parameters, gradients and saved activations. */
typedef struct klayer {
  float *w_qkv, *dw_qkv;   /* (h, nqkv): [Q hq*hd | K kvl*hd | V kvl*hd], column shard */
  float *w_o, *dw_o;       /* (hq*hd, h), row shard */
  float *w_up, *dw_up;     /* (h, nup): SwiGLU [gate fl | up fl], column shard */
  float *w_down, *dw_down; /* (fl, h), row shard */
  float *g1, *b1, *dg1, *db1; /* (h) attn_norm gamma, beta (LayerNorm only), replicated */
  float *g2, *b2, *dg2, *db2; /* (h) mlp_norm */
  /* saved for the backward */
  float *st1, *st2;        /* (ml, 2) norm statistics */
  float *h1, *h2;          /* (ml, h) norm outputs (the column GEMMs' input shards) */
  float *qkv;              /* (m, nqkv) */
  float *p;                /* (batch * hq, seq, seq) softmax probabilities */
  float *ctx;              /* (m, hq*hd) attention context */
  float *x2;               /* (ml, h) residual stream between the halves */
  float *u;                /* (m, nup) mlp_up output */
  float *a;                /* (m, fl) activation output */
} klayer;

/* Bytes of the instance's buffers by what they hold. */
typedef struct kbytes {
  double weights, grads, saved, scratch, total;
} kbytes;

typedef struct kinst {
  kcfg cfg;
  kdims d;
  MPI_Comm comm;
  tps_module mod;
  tps_run run;
  tps_op_list ops;      /* the lowering of one block at this TP size */
  int op_of[K_NOPS];    /* role -> index in ops */
  klayer *layers;       /* [layers] */
  ksite *sites;         /* [layers][ops.n] */
  /* residual stream: xs[l] (ml, h) is the input of layer l, xs[layers] the
   * output. xs[0] is the model input. */
  float **xs;
  /* scratch shared by all layers */
  float *gath;          /* (m, h) all-gathered norm output (SP) */
  float *yfull;         /* (m, h) row-parallel GEMM output before g */
  float *yl;            /* (ml, h) its reduce-scattered shard (SP) */
  float *dres[2];       /* (ml, h) gradients of the residual stream */
  float *dx2;           /* (ml, h) gradient between the halves */
  float *dfull;         /* (m, h) all-gathered residual gradient (SP) */
  float *dh;            /* (m, h) column GEMMs' input gradient, partial */
  float *dhl;           /* (ml, h) its reduce-scattered shard (SP) */
  float *dqkv;          /* (m, nqkv) */
  float *dctx;          /* (m, hq*hd) */
  float *du;            /* (m, nup) */
  float *da;            /* (m, fl) */
  float *ds;            /* (seq, seq) attention score gradient */
  float *dout;          /* (ml, h) gradient fed into the last layer (constant) */
  void *arena;          /* one allocation holding every buffer above */
  kbytes bytes;
  /* timing of the current step: seconds per op, summed over layers */
  double *t_fwd, *t_bwd, *t_regather; /* [ops.n] */
  struct kcp *cp;       /* context parallelism's groups and buffers (cp.c); NULL without */
} kinst;

/* ---- comm.c: checked MPI ---- */

/* Prints "tp-kernel: rank R: <message>" to stderr and aborts the whole job
 * (MPI_Abort on MPI_COMM_WORLD, exit status 1): used when one rank fails so
 * that the others do not wait forever in a collective. */
_Noreturn void k_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Turns an MPI return code into a message and k_fail()s unless MPI_SUCCESS. */
void k_mpi_check(int rc, const char *call, const char *file, int line);
#define KMPI(call) k_mpi_check((call), #call, __FILE__, __LINE__)
/* Rank in MPI_COMM_WORLD (0 before MPI_Init). */
int k_world_rank(void);
/* Wall clock, seconds (CLOCK_MONOTONIC). */
double k_now(void);
/* Peak and current resident set of this process, bytes (VmHWM / VmRSS of
 * /proc/self/status); -1 when unreadable. */
double k_vmhwm(void);
double k_vmrss(void);
/* File of the shared library that provides cblas_sgemm (or "unknown"). */
const char *k_blas_library(void);

/* ---- model.c: instance lifecycle and one step ---- */

/* Derives the per-rank dimensions of rank `rank` of `nranks` MPI ranks (TP =
 * nranks / cfg->cp); on a TP or CP size that does not divide what it must,
 * writes a one-sentence message naming the numbers into msg and returns
 * false. */
bool k_dims(const kcfg *cfg, int nranks, int rank, kdims *d, char *msg, size_t msg_len);
/* Builds an instance on `comm` (its size is TP x CP): lowers the block,
 * checks the lowering against the kernel's own shapes, allocates every
 * buffer once and fills weights and input from their global indices.
 * Returns false with a message (same on every rank) on a usage error. */
bool k_inst_init(kinst *k, const kcfg *cfg, MPI_Comm comm, char *msg, size_t msg_len);
void k_inst_free(kinst *k);
/* Forward then backward of all layers, gradient of the output = dout.
 * Adds each op's time to t_fwd / t_bwd / t_regather (zeroed first). */
void k_step(kinst *k);
void k_forward(kinst *k);
void k_backward(kinst *k);

/* Deterministic value in [-1, 1) of element (row, col) of tensor `tensor` of
 * layer `layer`: a hash of the GLOBAL indices, so any TP size sees the same
 * numbers. */
float k_hash_uniform(uint64_t seed, int tensor, int64_t layer, int64_t row, int64_t col);

/* Tensors that exist per layer, and the global index maps of their shards. */
typedef enum {
  KT_W_QKV, KT_W_O, KT_W_UP, KT_W_DOWN, KT_G1, KT_B1, KT_G2, KT_B2,
  KT_INPUT, KT_DOUT, KT_COUNT
} ktensor;
/* Global column of local column c of a tensor's shard on rank d->rank. */
int64_t k_global_col(const kdims *d, const kcfg *cfg, ktensor t, int64_t c);
/* Global row of local row r. */
int64_t k_global_row(const kdims *d, ktensor t, int64_t r);

/* ---- exec.c: executors by op kind ---- */
void k_exec_fwd(kinst *k, ksite *s);
void k_exec_bwd(kinst *k, ksite *s);
/* The SP re-gather of a column GEMM's input before its backward. */
void k_exec_regather(kinst *k, ksite *f);

/* ---- cp.c: context parallelism (ring attention, Ulysses all-to-all) ---- */

/* CP's own refusals, given the TP size: the sequence split (ring: 2 x cp
 * chunks, Ulysses: cp) and Ulysses' whole heads per rank. */
bool k_cp_check(const kcfg *cfg, int tp, char *msg, size_t msg_len);
/* Global sequence position of local position sl of this CP rank. */
int64_t k_cp_position(const kdims *d, int64_t sl);
/* Splits comm into the TP group (k->comm) and the CP group; sets the run's
 * CP fields as the engine resolves them. No-op without CP. */
void k_cp_begin(kinst *k, MPI_Comm comm);
/* Accepts op i of the lowering when it is a CP op (cp_*) this layout
 * expects; false with a message otherwise. i = -1 (after the last op):
 * checks that every CP op the layout needs was there. */
bool k_cp_check_op(kinst *k, int i, char *msg, size_t msg_len);
/* The attention core's shape this rank runs: query and key positions per
 * sequence, query and KV heads. */
void k_cp_core_shape(const kdims *d, int64_t seq, int64_t *q_seq, int64_t *kv_seq,
                     int64_t *heads, int64_t *kv_heads);
/* After bind(): allocates the CP buffers and binds the CP ops' sites. */
void k_cp_init(kinst *k);
void k_cp_free(kinst *k);
/* Executes a CP op (a cp_* collective, or the ring's attention core);
 * false when the site is not one. */
bool k_cp_exec(kinst *k, ksite *s, bool fwd);
/* Sums every weight gradient over the CP group (what Megatron's gradient
 * all-reduce over DP x CP does), so each CP rank holds the whole gradient. */
void k_cp_reduce_grads(kinst *k);

/* ---- check.c ---- */
/* --check: runs one step at this TP size, compares the output and every
 * gradient with the TP = 1 reference computed on rank 0 (relative error of
 * a tensor = max |a - b| / max |b|), then checks the TP = 1 backward against
 * central finite differences at a tiny size. Prints max_rel_err and
 * fd_max_rel_err on rank 0. Returns the exit status, the same on every rank:
 * 0 both within tolerance, 1 not, 2 usage error. */
int k_check(const kcfg *cfg, MPI_Comm comm, double tol, double fd_tol);

/* ---- bench.c: the measured run ---- */
typedef struct kbench_opts {
  int64_t steps, warmup;   /* timed steps, untimed steps before them */
  const char *json;        /* write the results here (rank 0), or NULL */
  int fail_rank;           /* test hook: this rank makes an invalid MPI call at the first
                              timed step; -1 none */
  bool quiet;              /* no table on stdout */
  double rss_start;        /* VmRSS before allocating, bytes (this rank) */
  int node_ranks, cpus;    /* ranks on this node, CPUs online */
  bool oversubscribed;     /* more ranks than CPUs: timings are not per-core speed */
  char mpi_library[256];   /* first line of MPI_Get_library_version */
} kbench_opts;
/* Warm-up and timed steps, the sgemm reference at the GEMM ops' shapes,
 * reduction over ranks, the table on stdout and the JSON file. Returns the
 * exit status (same on every rank). */
int k_bench(const kcfg *cfg, MPI_Comm comm, const kbench_opts *o);

/* ---- micro.c: --bench gemm|collectives (for tp-sim calibrate) ---- */
typedef struct kmicro_opts {
  int reps;              /* timed repeats per point (fewer for calls over ~1 s in all) */
  const char *json;      /* write the table here (rank 0), else to stdout */
  bool quiet;            /* no progress lines on stdout */
  bool quick;            /* --bench-quick: GEMMs up to 1.1e9 FLOPs, messages up to 4 MiB */
  int node_ranks, cpus;  /* ranks on this node, CPUs online */
  bool oversubscribed;
} kmicro_opts;
/* Runs micro-benchmark `mode` ("gemm" or "collectives") on every rank of
 * comm and writes its JSON table. Returns the exit status (same on every
 * rank): 0 success, 1 cannot write, 2 unknown mode or too few ranks. */
int k_micro(const char *mode, MPI_Comm comm, const kmicro_opts *o);

#define K_CHECK_TOL 1e-4
#define K_FD_TOL 1e-3

#endif
