/* tp-kernel internals: one tensor-parallel transformer stack on MPI ranks.
 *
 * A `kinst` is one instance of the stack on one TP group (an MPI
 * communicator of `tp` ranks; MPI_COMM_SELF gives the TP = 1 reference used
 * by --check), or on TP x CP ranks with context parallelism (cp.c), or on
 * data- and expert-parallel ranks with an MoE MLP (moe.c). It is built from
 * the SAME lowering the cost model uses (tps_lower_layer): the op list fixes
 * the order of execution and the op names under which times are recorded;
 * every op is bound to its buffers in a `ksite`, and executed by the executor
 * of its role (cp.c, moe.c) or of its kind (exec.c).
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
  /* MoE (moe.c): experts > 0 makes every block's MLP routed experts */
  int64_t experts, topk, moe_ffn, ep; /* ep 0: all ranks */
} kcfg;

/* Per-rank dimensions derived from a kcfg and the MPI ranks. With context
 * parallelism (cp > 1) the MPI ranks are TP x CP in Megatron's order (TP
 * fastest: world rank = cp_rank * tp + rank) and every count below is of this
 * rank's seq_l = seq / cp positions of each sequence (m = seq_l * batch).
 * With experts (moe.c) TP is 1 and each rank is a data-parallel rank with
 * its own micro-batch (dp = 1 without experts, cp = 1 with them). */
typedef struct kdims {
  int tp, rank;
  int cp, cp_rank;           /* CP ranks and this rank's place in its CP group */
  bool ring;                 /* CP by ring attention (else Ulysses when cp > 1) */
  int dp, dp_rank, ep, ep_rank; /* MoE: data-parallel and expert-parallel ranks */
  int64_t seq_l, batch;      /* positions per sequence on this rank; sequences of its micro-batch */
  int64_t h, hd, m, ml;
  int64_t hq, kvl;          /* heads on this rank */
  int64_t q_first, kv_first; /* global index of this rank's first q / kv head */
  int64_t nqkv;              /* (hq + 2 kvl) * hd: width of the QKV shard */
  int64_t fl, nup;           /* ffn / tp; width of the mlp_up shard (0 with experts) */
  int64_t row0;              /* first global token row of the residual shard */
  bool gathered;             /* SP with tp > 1: f/g move data along the sequence */
  int64_t el, fe, nupe;      /* MoE: local experts, one expert's width, its up width */
} kdims;

/* The roles of a block's ops, in the order the lowering emits them (CONTRACT
 * order of tpsim/ops.h). A block has the dense roles, plus the CP ops of its
 * layout (Ulysses: cp_qkv_a2a and cp_out_a2a; ring: cp_ring_kv), with the
 * MoE MLP (router .. moe_unpermute) instead of mlp_f .. mlp_g under
 * --experts (model.c, in_block). check_lowering pairs op i with its
 * role; kinst.op_of / role_of map one to the other. */
typedef enum {
  K_ATTN_NORM, K_ATTN_F, K_QKV, K_CP_QKV_A2A, K_ATTN_CORE, K_CP_RING_KV, K_CP_OUT_A2A,
  K_ATTN_OUT, K_ATTN_G, K_ATTN_RESIDUAL,
  K_MLP_NORM, K_MLP_F, K_MLP_UP, K_MLP_ACT, K_MLP_DOWN, K_MLP_G,
  K_ROUTER, K_MOE_PERMUTE, K_MOE_DISPATCH, K_MOE_GATHER, K_EXPERTS_UP, K_EXPERTS_ACT,
  K_EXPERTS_DOWN, K_MOE_SCATTER, K_MOE_COMBINE, K_MOE_UNPERMUTE,
  K_MLP_RESIDUAL,
  K_NROLES
} krole;

static inline bool k_role_is_cp(krole r) {
  return r == K_CP_QKV_A2A || r == K_CP_RING_KV || r == K_CP_OUT_A2A;
}
static inline bool k_role_is_moe(krole r) { return r >= K_ROUTER && r <= K_MOE_UNPERMUTE; }
static inline bool k_role_is_dense_mlp(krole r) { return r >= K_MLP_F && r <= K_MLP_G; }

/* The op name (tpsim/ops.h) of a role. */
const char *k_role_name(krole r);

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
  /* MoE (no w_up, w_down then): router (h, experts), replicated; this EP
   * rank's experts' up (el x (h, nupe)) and down (el x (fe, h)) stacked */
  float *w_router, *dw_router, *w_eup, *dw_eup, *w_edown, *dw_edown;
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
  int op_of[K_NROLES];  /* role -> index in ops (-1: not in this block) */
  krole role_of[K_NROLES]; /* index in ops -> role */
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
  struct kmoe *moe;     /* MoE state (moe.c), NULL without experts */
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
 * nranks / cfg->cp; with experts the ranks are data-parallel ones at TP 1);
 * on a TP, CP or EP size that does not divide what it must, or --cp with
 * --experts, writes a one-sentence message naming the numbers into msg and
 * returns false. */
bool k_dims(const kcfg *cfg, int nranks, int rank, kdims *d, char *msg, size_t msg_len);
/* MPI ranks of an instance (TP x CP x data-parallel) and the tokens one step
 * runs over all of them. */
int k_ranks(const kdims *d);
int64_t k_tokens(const kdims *d);
/* Builds an instance on `comm` (its size is TP x CP; with experts the
 * data-parallel ranks, kernel.h "moe.c"): lowers the block,
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
  KT_INPUT, KT_DOUT, KT_W_ROUTER, KT_W_EUP, KT_W_EDOWN, KT_COUNT
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
 * CP fields as the engine resolves them. No groups without CP. */
void k_cp_begin(kinst *k, MPI_Comm comm);
/* Checks the group, stride, tensor and collective of the lowering's CP op
 * `op` in role `role` (cp_ring_kv, cp_qkv_a2a, cp_out_a2a) against this
 * layout; false with a message otherwise. */
bool k_cp_check_op(const kinst *k, krole role, const tps_op *op, char *msg, size_t msg_len);
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

/* ---- moe.c: the MoE MLP with expert-parallel ranks ----
 *
 * With --experts E --topk K [--moe-ffn F] [--ep N] every block's MLP is the
 * lowering's MoE MLP (lower_moe_mlp: mlp_norm router moe_permute
 * moe_dispatch moe_gather experts_up experts_act experts_down moe_scatter
 * moe_combine moe_unpermute mlp_residual). Design:
 *   - TP is 1; each of the np MPI ranks is a data-parallel rank with its own
 *     micro-batch: rank r holds sequences [r b, (r + 1) b) of the np b in
 *     all (its rows keep the [s, b] order). The dense weights are the same
 *     on every rank.
 *   - EP groups of ep consecutive ranks (ep = --ep, default np; Megatron's
 *     tp-ep-dp order at TP 1); expert e lives on EP rank e / (E / ep) of
 *     every group, replicated over np / ep expert-data-parallel groups.
 *   - router: logits = x W_r (h, E), the K largest per token (ties: lower
 *     index), weights q = softmax over those K logits (Megatron's default
 *     top-k then softmax); the selection is not differentiated, the
 *     weights' path is. moe_permute: rows copied in expert order.
 *     moe_dispatch: the per-expert counts (MPI_Alltoall), then the rows
 *     (MPI_Alltoallv) to the rank of their expert, sorted there by local
 *     expert. experts_*: one CBLAS GEMM per local expert (the grouped GEMM),
 *     SwiGLU or GeLU as --mlp. moe_combine: back (MPI_Alltoallv).
 *     moe_unpermute: y_t = sum_k q_tk out_tk. Dropless (no capacity), no
 *     auxiliary loss. moe_gather / moe_scatter are over ETP = 1: nothing.
 *   - Not in the timed step (Megatron's gradient finalisation): the
 *     reduction of the gradients over the data-parallel ranks (dense) and
 *     the expert-data-parallel ranks (experts).
 *   - --check: the reference is one rank (MPI_COMM_SELF) with micro-batch
 *     np b (all ranks' tokens) and all E experts; the output and input
 *     gradient are placed by global sequence, the weight gradients summed
 *     over the ranks that hold them (the data-parallel reduction). */

/* MoE part of k_dims (true without experts); refuses --topk > --experts,
 * an EP size that does not divide the ranks or the experts. */
bool k_moe_dims(const kcfg *cfg, int ranks, int rank, kdims *d, char *msg, size_t msg_len);
/* The module and run fields and lowering options of the MoE block. */
void k_moe_module(const kinst *k, tps_module *mod, tps_run *run, tps_lower_opts *lo);
/* Checks the MoE ops' shapes and groups against the kernel's. */
bool k_moe_check_lowering(const kinst *k, char *msg, size_t msg_len);
/* After the arena: the EP communicator (collective over world, every rank of
 * the instance), routing state and buffers. */
void k_moe_init(kinst *k, MPI_Comm world);
void k_moe_free(kinst *k);
/* Binds layer l's MoE ops; dcur is the gradient of the layer's output. */
void k_moe_bind(kinst *k, int64_t l, float *dcur);
/* Run an MoE op (router .. moe_unpermute); false for any other op. */
bool k_moe_fwd(kinst *k, ksite *s);
bool k_moe_bwd(kinst *k, ksite *s);
/* Keep every token's experts as last selected (finite differences
 * differentiate with the selection fixed, as the backward does). */
void k_moe_freeze_routing(kinst *k, bool on);

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
