/* tp-kernel: dimensions, the lowering, buffers, weights, and one step. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

#define ROLE(R, NAME, KIND) [R] = {NAME, KIND}
static const struct {
  const char *name;
  tps_op_kind kind;
} role_table[K_NROLES] = {
    ROLE(K_ATTN_NORM, "attn_norm", TPS_OP_NORM),
    ROLE(K_ATTN_F, "attn_f", TPS_OP_COLLECTIVE),
    ROLE(K_QKV, "qkv", TPS_OP_GEMM),
    ROLE(K_CP_QKV_A2A, "cp_qkv_a2a", TPS_OP_COLLECTIVE),
    ROLE(K_ATTN_CORE, "attn_core", TPS_OP_ATTENTION),
    ROLE(K_CP_RING_KV, "cp_ring_kv", TPS_OP_COLLECTIVE),
    ROLE(K_CP_OUT_A2A, "cp_out_a2a", TPS_OP_COLLECTIVE),
    ROLE(K_ATTN_OUT, "attn_out", TPS_OP_GEMM),
    ROLE(K_ATTN_G, "attn_g", TPS_OP_COLLECTIVE),
    ROLE(K_ATTN_RESIDUAL, "attn_residual", TPS_OP_RESIDUAL),
    ROLE(K_MLP_NORM, "mlp_norm", TPS_OP_NORM),
    ROLE(K_MLP_F, "mlp_f", TPS_OP_COLLECTIVE),
    ROLE(K_MLP_UP, "mlp_up", TPS_OP_GEMM),
    ROLE(K_MLP_ACT, "mlp_act", TPS_OP_ACTIVATION),
    ROLE(K_MLP_DOWN, "mlp_down", TPS_OP_GEMM),
    ROLE(K_MLP_G, "mlp_g", TPS_OP_COLLECTIVE),
    ROLE(K_ROUTER, "router", TPS_OP_GEMM),
    ROLE(K_MOE_PERMUTE, "moe_permute", TPS_OP_ACTIVATION),
    ROLE(K_MOE_DISPATCH, "moe_dispatch", TPS_OP_COLLECTIVE),
    ROLE(K_MOE_GATHER, "moe_gather", TPS_OP_COLLECTIVE),
    ROLE(K_EXPERTS_UP, "experts_up", TPS_OP_GEMM),
    ROLE(K_EXPERTS_ACT, "experts_act", TPS_OP_ACTIVATION),
    ROLE(K_EXPERTS_DOWN, "experts_down", TPS_OP_GEMM),
    ROLE(K_MOE_SCATTER, "moe_scatter", TPS_OP_COLLECTIVE),
    ROLE(K_MOE_COMBINE, "moe_combine", TPS_OP_COLLECTIVE),
    ROLE(K_MOE_UNPERMUTE, "moe_unpermute", TPS_OP_ACTIVATION),
    ROLE(K_MLP_RESIDUAL, "mlp_residual", TPS_OP_RESIDUAL),
};
#undef ROLE

const char *k_role_name(krole r) { return role_table[r].name; }

/* ---- dimensions ---- */

bool k_dims(const kcfg *c, int nranks, int world_rank, kdims *d, char *msg, size_t len) {
  memset(d, 0, sizeof *d);
  if (c->hidden < 1 || c->heads < 1 || c->kv_heads < 1 || c->ffn < 1 || c->seq < 1 ||
      c->batch < 1 || c->layers < 1) {
    snprintf(msg, len, "every size must be >= 1");
    return false;
  }
  const int cp = c->cp > 1 ? (int)c->cp : 1;
  /* Megatron's rank order: TP fastest, then CP, then DP; with experts TP is
   * 1 and the ranks are CP x DP ones. */
  if (nranks % cp != 0) {
    snprintf(msg, len, "--cp %d does not divide the %d MPI ranks (ranks = %s)", cp, nranks,
             c->experts > 0 ? "CP x DP" : "TP x CP");
    return false;
  }
  if (!k_moe_dims(c, nranks, world_rank, d, msg, len)) return false;
  const int tp = c->experts > 0 ? 1 : nranks / cp, rank = world_rank % tp;
  if (!k_cp_check(c, tp, msg, len)) return false;
  const int64_t seq_l = c->seq / cp;
  if (c->hidden % c->heads != 0) {
    snprintf(msg, len, "--heads %lld does not divide --hidden %lld (head dim = hidden / heads)",
             (long long)c->heads, (long long)c->hidden);
    return false;
  }
  if (c->heads % c->kv_heads != 0) {
    snprintf(msg, len, "--kv-heads %lld does not divide --heads %lld (GQA groups)",
             (long long)c->kv_heads, (long long)c->heads);
    return false;
  }
  if (c->heads % tp != 0) {
    snprintf(msg, len, "TP size %d (MPI ranks) does not divide %lld attention heads (--heads)",
             tp, (long long)c->heads);
    return false;
  }
  if (c->kv_heads % tp != 0 && tp % c->kv_heads != 0) {
    snprintf(msg, len,
             "TP size %d (MPI ranks) does not divide %lld KV heads (--kv-heads), nor is it a "
             "multiple of them (which would replicate them)",
             tp, (long long)c->kv_heads);
    return false;
  }
  if (c->ffn % tp != 0) {
    snprintf(msg, len, "TP size %d (MPI ranks) does not divide the MLP width %lld (--ffn)", tp,
             (long long)c->ffn);
    return false;
  }
  if (c->sp && seq_l % tp != 0) {
    snprintf(msg, len,
             "TP size %d (MPI ranks) does not divide the sequence length %lld (--seq-len%s), "
             "which sequence parallelism (--sp) splits",
             tp, (long long)seq_l, cp > 1 ? " / --cp" : "");
    return false;
  }
  d->tp = tp;
  d->rank = rank;
  d->cp = cp;
  d->cp_rank = world_rank / tp % cp;
  d->ring = cp > 1 && c->cp_algo == TPS_CP_RING;
  d->seq_l = seq_l;
  d->batch = c->batch;
  d->h = c->hidden;
  d->hd = c->hidden / c->heads;
  d->m = seq_l * c->batch;
  d->ml = c->sp ? d->m / tp : d->m;
  d->hq = c->heads / tp;
  d->kvl = tps_kv_heads_per_rank(c->kv_heads, tp);
  d->q_first = (int64_t)rank * d->hq;
  if (tp > c->kv_heads) /* replicated: the KV head of this rank's query group */
    d->kv_first = d->q_first / (c->heads / c->kv_heads);
  else
    d->kv_first = (int64_t)rank * d->kvl;
  d->nqkv = (d->hq + 2 * d->kvl) * d->hd;
  d->fl = c->experts > 0 ? 0 : c->ffn / tp; /* MoE: no dense MLP */
  d->nup = (c->mlp == TPS_MLP_SWIGLU ? 2 : 1) * d->fl;
  d->row0 = c->sp ? (int64_t)rank * d->ml : 0;
  d->gathered = c->sp && tp > 1;
  /* BLAS takes int dimensions and MPI int counts: every matrix must fit. */
  int64_t widest = d->h;
  if (d->nqkv > widest) widest = d->nqkv;
  if (d->nup > widest) widest = d->nup;
  if (d->m > INT_MAX / widest || c->seq > INT_MAX / c->seq || c->hidden > INT_MAX / (2 * c->ffn)) {
    snprintf(msg, len, "sizes too large: a matrix would exceed %d elements", INT_MAX);
    return false;
  }
  return true;
}

int k_ranks(const kdims *d) { return d->tp * d->cp * d->dp; }

int64_t k_tokens(const kdims *d) { return d->m * d->cp * d->dp; }

/* ---- deterministic values from global indices ---- */

static uint64_t mix64(uint64_t z) { /* splitmix64 finaliser */
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

float k_hash_uniform(uint64_t seed, int tensor, int64_t layer, int64_t row, int64_t col) {
  uint64_t z = mix64(seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(tensor + 1));
  z = mix64(z ^ (uint64_t)layer);
  z = mix64(z ^ (uint64_t)row);
  z = mix64(z ^ (uint64_t)col);
  return (float)(z >> 40) * (1.0f / 8388608.0f) - 1.0f; /* 24 bits -> [-1, 1) */
}

int64_t k_global_col(const kdims *d, const kcfg *cfg, ktensor t, int64_t c) {
  switch (t) {
    case KT_W_QKV: {
      const int64_t hd = d->hd, q = d->hq * hd, kv = d->kvl * hd;
      if (c < q) return d->q_first * hd + c;
      if (c < q + kv) return cfg->heads * hd + d->kv_first * hd + (c - q);
      return (cfg->heads + cfg->kv_heads) * hd + d->kv_first * hd + (c - q - kv);
    }
    case KT_W_UP:
      if (cfg->mlp == TPS_MLP_SWIGLU && c >= d->fl) return cfg->ffn + d->rank * d->fl + (c - d->fl);
      return d->rank * d->fl + c;
    default:
      return c;
  }
}

int64_t k_global_row(const kdims *d, ktensor t, int64_t r) {
  switch (t) {
    case KT_W_O: return d->q_first * d->hd + r;
    case KT_W_DOWN: return d->rank * d->fl + r;
    case KT_INPUT:
    case KT_DOUT: { /* rows are [s, b]: local position -> global position, and with
                       data-parallel (MoE) ranks this rank's sequences dp_rank b .. */
      const int64_t lr = d->row0 + r, s = k_cp_position(d, lr / d->batch);
      return (s * d->dp + d->dp_rank) * d->batch + lr % d->batch;
    }
    case KT_W_EUP: return d->ep_rank * d->el * d->h + r;
    case KT_W_EDOWN: return d->ep_rank * d->el * d->fe + r;
    default: return r;
  }
}

/* Fills a (rows, cols) shard of tensor t: value = offset + scale * u(global). */
static void fill(const kinst *k, float *p, ktensor t, int64_t layer, int64_t rows, int64_t cols,
                 float offset, float scale) {
  if (!p) return;
  for (int64_t r = 0; r < rows; r++) {
    int64_t gr = k_global_row(&k->d, t, r);
    for (int64_t c = 0; c < cols; c++) {
      int64_t gc = k_global_col(&k->d, &k->cfg, t, c);
      p[r * cols + c] = offset + scale * k_hash_uniform(k->cfg.seed, (int)t, layer, gr, gc);
    }
  }
}

/* ---- buffers: one arena, carved in two passes (count, then assign) ---- */

typedef struct carver {
  char *base; /* NULL while counting */
  size_t off;
} carver;

/* n floats, 64-byte aligned; counted into *cat. NULL when n == 0. */
static float *carve(carver *cv, int64_t n, double *cat) {
  if (n <= 0) return NULL;
  size_t bytes = ((size_t)n * sizeof(float) + 63) & ~(size_t)63;
  float *p = cv->base ? (float *)(void *)(cv->base + cv->off) : NULL;
  cv->off += bytes;
  *cat += (double)bytes;
  return p;
}

static void layout(kinst *k, carver *cv) {
  const kdims *d = &k->d;
  const int64_t h = d->h, m = d->m, ml = d->ml, L = k->cfg.layers;
  const bool ln = k->cfg.norm == TPS_NORM_LAYERNORM;
  /* Softmax probabilities of the core (a ring keeps log-sum-exps instead: cp.c). */
  const tps_op *core = &k->ops.ops[k->op_of[K_ATTN_CORE]];
  const int64_t square = d->ring ? 0 : core->seq * core->seq;
  const int64_t probs = core->batch * core->heads * square;
  kbytes *b = &k->bytes;
  memset(b, 0, sizeof *b);
  for (int64_t l = 0; l < L; l++) {
    klayer *y = &k->layers[l];
    y->w_qkv = carve(cv, h * d->nqkv, &b->weights);
    y->w_o = carve(cv, d->hq * d->hd * h, &b->weights);
    y->w_up = carve(cv, h * d->nup, &b->weights);
    y->w_down = carve(cv, d->fl * h, &b->weights);
    const int64_t E = k->cfg.experts, el = d->el;
    y->w_router = carve(cv, h * E, &b->weights);
    y->w_eup = carve(cv, el * h * d->nupe, &b->weights);
    y->w_edown = carve(cv, el * d->fe * h, &b->weights);
    y->dw_router = carve(cv, h * E, &b->grads);
    y->dw_eup = carve(cv, el * h * d->nupe, &b->grads);
    y->dw_edown = carve(cv, el * d->fe * h, &b->grads);
    y->g1 = carve(cv, h, &b->weights);
    y->b1 = carve(cv, ln ? h : 0, &b->weights);
    y->g2 = carve(cv, h, &b->weights);
    y->b2 = carve(cv, ln ? h : 0, &b->weights);
    y->dw_qkv = carve(cv, h * d->nqkv, &b->grads);
    y->dw_o = carve(cv, d->hq * d->hd * h, &b->grads);
    y->dw_up = carve(cv, h * d->nup, &b->grads);
    y->dw_down = carve(cv, d->fl * h, &b->grads);
    y->dg1 = carve(cv, h, &b->grads);
    y->db1 = carve(cv, ln ? h : 0, &b->grads);
    y->dg2 = carve(cv, h, &b->grads);
    y->db2 = carve(cv, ln ? h : 0, &b->grads);
    y->st1 = carve(cv, 2 * ml, &b->saved);
    y->st2 = carve(cv, 2 * ml, &b->saved);
    y->h1 = carve(cv, ml * h, &b->saved);
    y->h2 = carve(cv, ml * h, &b->saved);
    y->qkv = carve(cv, m * d->nqkv, &b->saved);
    y->p = carve(cv, probs, &b->saved);
    y->ctx = carve(cv, m * d->hq * d->hd, &b->saved);
    y->x2 = carve(cv, ml * h, &b->saved);
    y->u = carve(cv, m * d->nup, &b->saved);
    y->a = carve(cv, m * d->fl, &b->saved);
  }
  for (int64_t l = 0; l <= L; l++) k->xs[l] = carve(cv, ml * h, &b->saved);
  const bool g = d->gathered;
  k->gath = carve(cv, g ? m * h : 0, &b->scratch);
  k->yfull = carve(cv, m * h, &b->scratch);
  k->yl = carve(cv, g ? ml * h : 0, &b->scratch);
  k->dres[0] = carve(cv, ml * h, &b->scratch);
  k->dres[1] = carve(cv, ml * h, &b->scratch);
  k->dx2 = carve(cv, ml * h, &b->scratch);
  k->dfull = carve(cv, g ? m * h : 0, &b->scratch);
  k->dh = carve(cv, m * h, &b->scratch);
  k->dhl = carve(cv, g ? ml * h : 0, &b->scratch);
  k->dqkv = carve(cv, m * d->nqkv, &b->scratch);
  k->dctx = carve(cv, m * d->hq * d->hd, &b->scratch);
  k->du = carve(cv, m * d->nup, &b->scratch);
  k->da = carve(cv, m * d->fl, &b->scratch);
  k->ds = carve(cv, square, &b->scratch);
  k->dout = carve(cv, ml * h, &b->scratch);
  b->total = b->weights + b->grads + b->saved + b->scratch;
}

/* ---- the lowering, checked against the kernel's own shapes ---- */

static tps_coll expect_coll(bool sp, bool is_g, bool fwd) {
  if (sp) {
    if (is_g) return fwd ? TPS_COLL_REDUCE_SCATTER : TPS_COLL_ALL_GATHER;
    return fwd ? TPS_COLL_ALL_GATHER : TPS_COLL_REDUCE_SCATTER;
  }
  if (is_g) return fwd ? TPS_COLL_ALL_REDUCE : TPS_COLL_NONE;
  return fwd ? TPS_COLL_NONE : TPS_COLL_ALL_REDUCE;
}

#define MISMATCH(fmt, ...)                                                              \
  do {                                                                                  \
    snprintf(msg, len, "the lowering disagrees with tp-kernel: " fmt, __VA_ARGS__);     \
    return false;                                                                       \
  } while (0)

static bool check_gemm(const tps_op *op, int64_t m, int64_t k, int64_t n, char *msg, size_t len) {
  if (op->m != m || op->k != k || op->n != n)
    MISMATCH("op %s is (m, k, n) = (%lld, %lld, %lld), the kernel computes (%lld, %lld, %lld)",
             op->name, (long long)op->m, (long long)op->k, (long long)op->n, (long long)m,
             (long long)k, (long long)n);
  return true;
}

/* Whether a role is in this instance's block: the CP ops of its layout, the
 * dense MLP or the MoE one. */
static bool in_block(const kinst *k, krole r) {
  const kdims *d = &k->d;
  if (r == K_CP_RING_KV) return d->ring;
  if (r == K_CP_QKV_A2A || r == K_CP_OUT_A2A) return d->cp > 1 && !d->ring;
  if (k_role_is_dense_mlp(r)) return k->cfg.experts <= 0;
  if (k_role_is_moe(r)) return k->cfg.experts > 0;
  return true;
}

/* Space-separated op names: of the lowering (ops), else of the roles. */
static void name_list(const tps_op_list *ops, const krole *list, int n, char *out, size_t size) {
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    size_t used = strlen(out);
    snprintf(out + used, size - used, "%s%s", i ? " " : "",
             ops ? ops->ops[i].name : k_role_name(list[i]));
  }
}

/* Pairs op i of the lowering with the i-th role of the block (op_of,
 * role_of), then checks every op's shape against the kernel's. */
static bool check_lowering(kinst *k, char *msg, size_t len) {
  const kdims *d = &k->d;
  const tps_op_list *ol = &k->ops;
  krole want[K_NROLES];
  int nwant = 0;
  for (int r = 0; r < K_NROLES; r++)
    if (in_block(k, (krole)r)) want[nwant++] = (krole)r;
  if (ol->n != nwant) {
    char got[512], exp[512];
    name_list(ol, NULL, ol->n, got, sizeof got);
    name_list(NULL, want, nwant, exp, sizeof exp);
    MISMATCH("the block lowers to %d ops (%s); the kernel executes %d (%s)", ol->n, got, nwant, exp);
  }
  for (int r = 0; r < K_NROLES; r++) k->op_of[r] = -1;
  for (int i = 0; i < nwant; i++) {
    const tps_op *op = &ol->ops[i];
    const krole role = want[i];
    if (strcmp(op->name, role_table[role].name) != 0 || op->kind != role_table[role].kind)
      MISMATCH("op %d is '%s' (%s), expected '%s' (%s)", i, op->name, tps_op_kind_name(op->kind),
               role_table[role].name, tps_op_kind_name(role_table[role].kind));
    k->op_of[role] = i;
    k->role_of[i] = role;
    if (k_role_is_cp(role) && !k_cp_check_op(k, role, op, msg, len)) return false;
    if (role == K_ATTN_F || role == K_ATTN_G || role == K_MLP_F || role == K_MLP_G) {
      bool is_g = role == K_ATTN_G || role == K_MLP_G;
      tps_coll f = expect_coll(k->cfg.sp, is_g, true), b = expect_coll(k->cfg.sp, is_g, false);
      if (op->fwd_coll != f || op->bwd_coll != b || op->group != d->tp)
        MISMATCH("op %s is %s / %s over %lld ranks, expected %s / %s over %d", op->name,
                 tps_coll_name(op->fwd_coll), tps_coll_name(op->bwd_coll), (long long)op->group,
                 tps_coll_name(f), tps_coll_name(b), d->tp);
      if (op->m * op->n != d->m * d->h)
        MISMATCH("op %s moves a (%lld, %lld) tensor, the kernel (%lld, %lld)", op->name,
                 (long long)op->m, (long long)op->n, (long long)d->m, (long long)d->h);
    }
    if (op->kind == TPS_OP_NORM && op->m != d->ml)
      MISMATCH("op %s normalises %lld rows, the kernel %lld", op->name, (long long)op->m,
               (long long)d->ml);
  }
  const tps_op *o = ol->ops;
  const int *of = k->op_of;
  if (!check_gemm(&o[of[K_QKV]], d->m, d->h, d->nqkv, msg, len)) return false;
  if (!check_gemm(&o[of[K_ATTN_OUT]], d->m, d->hq * d->hd, d->h, msg, len)) return false;
  if (k->cfg.experts > 0) {
    if (!k_moe_check_lowering(k, msg, len)) return false;
  } else if (!check_gemm(&o[of[K_MLP_UP]], d->m, d->h, d->nup, msg, len) ||
             !check_gemm(&o[of[K_MLP_DOWN]], d->m, d->fl, d->h, msg, len)) {
    return false;
  }
  const tps_op *a = &o[of[K_ATTN_CORE]];
  int64_t seq, kv_seq, heads, kv_heads;
  k_cp_core_shape(d, k->cfg.seq, &seq, &kv_seq, &heads, &kv_heads);
  const int64_t a_kv_seq = a->kv_seq > 0 ? a->kv_seq : a->seq;
  if (a->batch != k->cfg.batch || a->seq != seq || a_kv_seq != kv_seq || a->heads != heads ||
      a->kv_heads != kv_heads || a->head_dim != d->hd || !a->causal)
    MISMATCH("attn_core is batch %lld seq %lld (keys %lld) heads %lld kv %lld dim %lld%s, the "
             "kernel runs batch %lld seq %lld (keys %lld) heads %lld kv %lld dim %lld causal",
             (long long)a->batch, (long long)a->seq, (long long)a_kv_seq, (long long)a->heads,
             (long long)a->kv_heads, (long long)a->head_dim, a->causal ? " causal" : " non-causal",
             (long long)k->cfg.batch, (long long)seq, (long long)kv_seq, (long long)heads,
             (long long)kv_heads, (long long)d->hd);
  return true;
}

/* ---- binding ops to buffers ---- */

/* One half of a block (attention or MLP): norm, f, column GEMM, the middle
 * op (attention core / activation), row GEMM, g, residual, by role, and the
 * buffers around it. */
typedef struct khalf {
  krole norm, f, col, mid, row, g, res;
  float *in, *out, *din, *dout;  /* residual stream into / out of the half, their gradients */
  float *normed, *gain, *beta, *dgain, *dbeta, *stats; /* the norm's output and parameters */
  float *wc, *dwc, *c, *dc;      /* column GEMM: weight, its gradient, output, output gradient */
  float *mo, *dmo, *mst;         /* middle op: output, its gradient, what it saves */
  float *wr, *dwr;               /* row GEMM: weight, its gradient */
} khalf;

static void set_io(ksite *s, float *x, float *y, float *dy, float *dx) {
  s->x = x;
  s->y = y;
  s->dy = dy;
  s->dx = dx;
}

static void set_w(ksite *s, float *w, float *dw) {
  s->w = w;
  s->dw = dw;
}

/* Binds the half's ops in the layer's sites s; with norm_only its norm and
 * residual only (the MoE MLP between them is moe.c's). */
static void bind_half(kinst *k, ksite *s, const khalf *f, bool norm_only) {
  const int *o = k->op_of;
  const bool g = k->d.gathered;
  float *gin = g ? k->gath : f->normed; /* the column GEMM's input: all-gathered under SP */
  float *branch = g ? k->yl : k->yfull; /* g's output, added to the stream */
  float *dnorm = g ? k->dhl : k->dh;    /* f's backward output */
  ksite *norm = &s[o[f->norm]], *res = &s[o[f->res]];
  set_io(norm, f->in, f->normed, dnorm, f->din);
  set_w(norm, f->gain, f->dgain);
  norm->w2 = f->beta; /* NULL with RMSNorm */
  norm->dw2 = f->dbeta;
  norm->st = f->stats;
  set_io(res, f->in, f->out, f->dout, f->din);
  res->x2 = branch;
  if (norm_only) return;
  ksite *col = &s[o[f->col]], *mid = &s[o[f->mid]], *row = &s[o[f->row]];
  set_io(&s[o[f->f]], f->normed, gin, k->dh, dnorm);
  set_io(col, gin, f->c, f->dc, k->dh);
  set_w(col, f->wc, f->dwc);
  col->regather = g ? o[f->f] : -1;
  set_io(mid, f->c, f->mo, f->dmo, f->dc);
  mid->st = f->mst;
  set_io(row, f->mo, k->yfull, g ? k->dfull : f->dout, f->dmo);
  set_w(row, f->wr, f->dwr);
  set_io(&s[o[f->g]], k->yfull, branch, f->dout, g ? k->dfull : f->dout);
}

static void bind(kinst *k) {
  const int64_t L = k->cfg.layers, n = k->ops.n;
  for (int64_t l = 0; l < L; l++) {
    klayer *y = &k->layers[l];
    ksite *s = &k->sites[l * n];
    for (int i = 0; i < n; i++) {
      memset(&s[i], 0, sizeof s[i]);
      s[i].op = &k->ops.ops[i];
      s[i].role = k->role_of[i];
      s[i].regather = -1;
      s[i].rows = k->d.ml;
    }
    /* gradient of this layer's output and of its input */
    float *dcur = l == L - 1 ? k->dout : k->dres[(l + 1) & 1];
    float *dprev = k->dres[l & 1];
    const khalf attn = {K_ATTN_NORM, K_ATTN_F, K_QKV, K_ATTN_CORE, K_ATTN_OUT, K_ATTN_G,
                        K_ATTN_RESIDUAL, k->xs[l], y->x2, dprev, k->dx2,
                        y->h1, y->g1, y->b1, y->dg1, y->db1, y->st1,
                        y->w_qkv, y->dw_qkv, y->qkv, k->dqkv,
                        y->ctx, k->dctx, y->p,
                        y->w_o, y->dw_o};
    const khalf mlp = {K_MLP_NORM, K_MLP_F, K_MLP_UP, K_MLP_ACT, K_MLP_DOWN, K_MLP_G,
                       K_MLP_RESIDUAL, y->x2, k->xs[l + 1], k->dx2, dcur,
                       y->h2, y->g2, y->b2, y->dg2, y->db2, y->st2,
                       y->w_up, y->dw_up, y->u, k->du,
                       y->a, k->da, NULL,
                       y->w_down, y->dw_down};
    bind_half(k, s, &attn, false);
    bind_half(k, s, &mlp, k->moe != NULL);
    if (k->moe) k_moe_bind(k, l, dcur); /* the MoE MLP between mlp_norm and mlp_residual */
  }
}

/* ---- lifecycle ---- */

bool k_inst_init(kinst *k, const kcfg *cfg, MPI_Comm comm, char *msg, size_t len) {
  memset(k, 0, sizeof *k);
  k->cfg = *cfg;
  k->comm = comm;
  int nranks = 1, rank = 0;
  KMPI(MPI_Comm_size(comm, &nranks));
  KMPI(MPI_Comm_rank(comm, &rank));
  if (!k_dims(cfg, nranks, rank, &k->d, msg, len)) return false;

  /* The module and run the engine would see for this configuration. */
  tps_module *mod = &k->mod;
  snprintf(mod->name, sizeof mod->name, "tp-kernel");
  mod->type = TPS_MODULE_DECODER;
  mod->layers = cfg->layers;
  mod->hidden = cfg->hidden;
  mod->heads = cfg->heads;
  mod->kv_heads = cfg->kv_heads;
  mod->head_dim = k->d.hd;
  mod->ffn = cfg->ffn;
  mod->mlp = cfg->mlp;
  mod->norm = cfg->norm;
  mod->position = TPS_POSITION_NONE;
  tps_run *run = &k->run;
  run->tp = k->d.tp; /* MoE: 1, the ranks are data-parallel (k_moe_module) */
  run->pp = 1;
  run->dp = 1;
  run->cards = k_ranks(&k->d);
  run->seq_len = cfg->seq;
  run->micro_batch = cfg->batch;
  run->global_batch = cfg->batch;
  run->micro_batches = 1;
  run->precision = TPS_PRECISION_FP32;
  run->sp = cfg->sp;
  run->flash_attention = false;
  run->recompute = TPS_RECOMPUTE_NONE;
  run->vocab_divisor = 1;
  k_cp_begin(k, comm); /* the TP group becomes k->comm; run->cp */
  tps_op_list_init(&k->ops);
  tps_error err;
  tps_error_clear(&err);
  tps_lower_opts lo = {.kind = TPS_LAYER_BLOCK, .needs_input_grad = true};
  if (cfg->experts > 0) k_moe_module(k, mod, run, &lo);
  if (tps_lower_layer(mod, run, lo, &k->ops, &err) != TPS_OK) {
    snprintf(msg, len, "%s", err.msg[0] ? err.msg : tps_strerror(err.status));
    return false;
  }
  if (!check_lowering(k, msg, len)) return false;

  const int64_t L = cfg->layers;
  k->layers = calloc((size_t)L, sizeof *k->layers);
  k->sites = calloc((size_t)(L * k->ops.n), sizeof *k->sites);
  k->xs = calloc((size_t)(L + 1), sizeof *k->xs);
  k->t_fwd = calloc((size_t)k->ops.n, sizeof(double));
  k->t_bwd = calloc((size_t)k->ops.n, sizeof(double));
  k->t_regather = calloc((size_t)k->ops.n, sizeof(double));
  if (!k->layers || !k->sites || !k->xs || !k->t_fwd || !k->t_bwd || !k->t_regather)
    k_fail("out of memory");
  carver cv = {NULL, 0};
  layout(k, &cv);
  size_t total = cv.off;
  k->arena = aligned_alloc(64, total ? total : 64);
  if (!k->arena) k_fail("cannot allocate %.1f MiB of buffers", (double)total / 1048576.0);
  memset(k->arena, 0, total); /* touch every page now: RSS = buffers from here on */
  cv = (carver){k->arena, 0};
  layout(k, &cv);
  if (cfg->experts > 0) k_moe_init(k, comm);
  bind(k);
  k_cp_init(k);

  /* Values from global indices: weights ~ U(-1, 1) * sqrt(3 / fan_in) (unit
   * variance out for unit variance in), norm gains 1 +- 0.1, biases +- 0.1,
   * input ~ U(-sqrt 3, sqrt 3), output gradient ~ U(-1, 1). */
  const kdims *d = &k->d;
  const float h = (float)d->h;
  const bool ln = cfg->norm == TPS_NORM_LAYERNORM;
  for (int64_t l = 0; l < L; l++) {
    klayer *y = &k->layers[l];
    fill(k, y->w_qkv, KT_W_QKV, l, d->h, d->nqkv, 0.0f, sqrtf(3.0f / h));
    fill(k, y->w_o, KT_W_O, l, d->hq * d->hd, d->h, 0.0f, sqrtf(3.0f / (float)(cfg->heads * d->hd)));
    fill(k, y->w_up, KT_W_UP, l, d->h, d->nup, 0.0f, sqrtf(3.0f / h));
    fill(k, y->w_down, KT_W_DOWN, l, d->fl, d->h, 0.0f, sqrtf(3.0f / (float)cfg->ffn));
    fill(k, y->w_router, KT_W_ROUTER, l, d->h, cfg->experts, 0.0f, sqrtf(3.0f / h));
    fill(k, y->w_eup, KT_W_EUP, l, d->el * d->h, d->nupe, 0.0f, sqrtf(3.0f / h));
    fill(k, y->w_edown, KT_W_EDOWN, l, d->el * d->fe, d->h, 0.0f, sqrtf(3.0f / (float)(d->fe ? d->fe : 1)));
    fill(k, y->g1, KT_G1, l, 1, d->h, 1.0f, 0.1f);
    fill(k, y->g2, KT_G2, l, 1, d->h, 1.0f, 0.1f);
    if (ln) {
      fill(k, y->b1, KT_B1, l, 1, d->h, 0.0f, 0.1f);
      fill(k, y->b2, KT_B2, l, 1, d->h, 0.0f, 0.1f);
    }
  }
  fill(k, k->xs[0], KT_INPUT, -1, d->ml, d->h, 0.0f, sqrtf(3.0f));
  fill(k, k->dout, KT_DOUT, -1, d->ml, d->h, 0.0f, 1.0f);
  return true;
}

void k_inst_free(kinst *k) {
  k_cp_free(k);
  k_moe_free(k);
  free(k->arena);
  free(k->layers);
  free(k->sites);
  free(k->xs);
  free(k->t_fwd);
  free(k->t_bwd);
  free(k->t_regather);
  tps_op_list_free(&k->ops);
  memset(k, 0, sizeof *k);
}

/* ---- one step ---- */

void k_forward(kinst *k) {
  const int n = k->ops.n;
  for (int64_t l = 0; l < k->cfg.layers; l++) {
    ksite *s = &k->sites[l * n];
    for (int i = 0; i < n; i++) {
      double t0 = k_now();
      k_exec_fwd(k, &s[i]);
      k->t_fwd[i] += k_now() - t0;
    }
  }
}

void k_backward(kinst *k) {
  const int n = k->ops.n;
  for (int64_t l = k->cfg.layers - 1; l >= 0; l--) {
    ksite *s = &k->sites[l * n];
    for (int i = n - 1; i >= 0; i--) {
      if (s[i].regather >= 0) {
        double t0 = k_now();
        k_exec_regather(k, &s[s[i].regather]);
        k->t_regather[s[i].regather] += k_now() - t0;
      }
      double t0 = k_now();
      k_exec_bwd(k, &s[i]);
      k->t_bwd[i] += k_now() - t0;
    }
  }
}

void k_step(kinst *k) {
  const size_t n = (size_t)k->ops.n;
  memset(k->t_fwd, 0, n * sizeof(double));
  memset(k->t_bwd, 0, n * sizeof(double));
  memset(k->t_regather, 0, n * sizeof(double));
  k_forward(k);
  k_backward(k);
}
