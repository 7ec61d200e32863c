/* tp-kernel: the MoE MLP with expert-parallel ranks (design: kernel.h,
 * "moe.c"). Executes the ops of lower_moe_mlp between mlp_norm and
 * mlp_residual; those two run on the dense executors. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernel.h"
#include "kmath.h"

/* One layer's routing and the activations its backward needs. */
typedef struct kmoe_layer {
  int *idx;          /* (m, topk) experts of each token, best first */
  float *q;          /* (m, topk) their weights */
  int *pos;          /* (m, topk) row of (token, slot) in the permuted order */
  int *scnt;         /* [experts] rows this rank sends to each expert */
  int *rcnt;         /* [ep][el] rows received from EP rank j for local expert e */
  int64_t rows;      /* rows received, R */
  int64_t cap;       /* rows xe, u, a hold */
  float *xe, *u, *a; /* (R, h), (R, nupe), (R, fe): in local-expert order */
  float *yp;         /* (m topk, h) the experts' outputs, permuted order */
} kmoe_layer;

struct kmoe {
  MPI_Comm ep;         /* this rank's EP group */
  bool frozen;         /* keep the selected experts (finite differences) */
  kmoe_layer *layers;
  float *z;            /* (m, experts) router logits; in backward their gradient */
  float *dq;           /* (m, topk) gradient of the weights q */
  float *perm;         /* (m topk, h) permuted rows; in backward their gradient */
  int64_t cap;         /* rows src, eh, da, du hold */
  float *src, *eh;     /* (R, h): rows in source-rank order / in local-expert order */
  float *da, *du;      /* (R, fe), (R, nupe) */
  int *sc, *sd, *rc, *rd; /* [ep] MPI_Alltoallv counts and displacements (floats) */
  int *off;            /* [experts] permutation cursor */
  int64_t *next;       /* [el] reorder cursor */
};

/* ---- dimensions, module, lowering ---- */

bool k_moe_dims(const kcfg *c, int ranks, int rank, kdims *d, char *msg, size_t len) {
  d->dp = 1;
  d->ep = 1;
  d->batch = c->batch;
  if (c->experts <= 0) {
    if (c->topk > 0 || c->moe_ffn > 0 || c->ep > 0) {
      snprintf(msg, len, "--topk, --moe-ffn and --ep need --experts (a mixture-of-experts MLP)");
      return false;
    }
    return true;
  }
  if (c->topk < 1 || c->moe_ffn < 1) {
    snprintf(msg, len, "--topk and --moe-ffn must be >= 1");
    return false;
  }
  if (c->topk > c->experts) {
    snprintf(msg, len, "--topk %lld exceeds --experts %lld (a token goes to topk distinct experts)",
             (long long)c->topk, (long long)c->experts);
    return false;
  }
  const int ep = c->ep > 0 ? (int)c->ep : ranks;
  if (c->ep > ranks || ranks % ep != 0) {
    snprintf(msg, len,
             "EP size %lld (--ep) does not divide the %d MPI ranks (they form expert-data-parallel "
             "groups of EP ranks)",
             (long long)c->ep, ranks);
    return false;
  }
  if (c->experts % ep != 0) {
    snprintf(msg, len, "EP size %d (%s) does not divide %lld experts (--experts)", ep,
             c->ep > 0 ? "--ep" : "MPI ranks", (long long)c->experts);
    return false;
  }
  /* ranks = CP x DP at TP 1 (k_dims has checked that CP divides them); the
   * EP groups are runs of EP consecutive ranks, across CP ranks first, as
   * Megatron-Core's expert grid folds CP into the experts' data parallelism
   * (a token's experts do not depend on which rank holds it). */
  const int cp = c->cp > 1 ? (int)c->cp : 1;
  d->dp = ranks / cp;
  d->dp_rank = rank / cp;
  d->ep = ep;
  d->ep_rank = rank % ep;
  d->el = c->experts / ep;
  d->fe = c->moe_ffn;
  d->nupe = (c->mlp == TPS_MLP_SWIGLU ? 2 : 1) * c->moe_ffn;
  /* MPI counts are ints: a rank may receive every routed row of its group. */
  const int64_t wide = d->nupe > c->hidden ? d->nupe : c->hidden;
  const double worst = (double)ep * (double)(c->seq * c->batch) * (double)c->topk * (double)wide;
  if (worst > (double)INT_MAX || (double)c->experts * (double)c->seq * c->batch > (double)INT_MAX) {
    snprintf(msg, len, "sizes too large: an expert-parallel rank's rows would exceed %d elements",
             INT_MAX);
    return false;
  }
  return true;
}

void k_moe_module(const kinst *k, tps_module *mod, tps_run *run, tps_lower_opts *lo) {
  const kdims *d = &k->d;
  mod->experts = k->cfg.experts;
  mod->experts_per_token = k->cfg.topk;
  mod->expert_ffn = k->cfg.moe_ffn;
  mod->router_score = TPS_ROUTER_SOFTMAX;
  mod->moe_layer_freq = 1;
  run->dp = d->dp;
  run->global_batch = k->cfg.batch * d->dp;
  run->ep = d->ep;
  run->etp = 1;
  lo->moe = true;
}

static bool expect(bool ok, char *msg, size_t len, const tps_op *op, const char *what,
                   long long got, long long want) {
  if (!ok)
    snprintf(msg, len, "the lowering disagrees with tp-kernel: op %s has %s %lld, the kernel %lld",
             op->name, what, got, want);
  return ok;
}

bool k_moe_check_lowering(const kinst *k, char *msg, size_t len) {
  const kdims *d = &k->d;
  const tps_op *o = k->ops.ops;
  const tps_op *r = &o[k->op_of[K_ROUTER]], *up = &o[k->op_of[K_EXPERTS_UP]];
  const tps_op *down = &o[k->op_of[K_EXPERTS_DOWN]];
  const long long sent = (long long)(d->m * k->cfg.topk);
  if (!expect(r->m == d->m && r->k == d->h, msg, len, r, "rows x width", r->m * r->k, d->m * d->h) ||
      !expect(r->n == k->cfg.experts, msg, len, r, "columns", r->n, k->cfg.experts) ||
      !expect(up->k == d->h && up->n == d->nupe, msg, len, up, "k x n", up->k * up->n,
              d->h * d->nupe) ||
      !expect(down->k == d->fe && down->n == d->h, msg, len, down, "k x n", down->k * down->n,
              d->fe * d->h))
    return false;
  for (int role = K_MOE_PERMUTE; role <= K_MOE_UNPERMUTE; role++) {
    const tps_op *op = &o[k->op_of[role]];
    /* the expected (uniform) rows: tokens x topk at ETP 1 */
    if (!expect(op->m == sent, msg, len, op, "rows", op->m, sent)) return false;
    if (op->kind == TPS_OP_GEMM && !expect(op->groups == d->el, msg, len, op, "groups", op->groups, d->el))
      return false;
    if (op->kind != TPS_OP_COLLECTIVE) continue;
    const bool a2a = role == K_MOE_DISPATCH || role == K_MOE_COMBINE;
    const long long group = a2a ? d->ep : 1;
    if (!expect(op->group == group, msg, len, op, "group", op->group, group)) return false;
    if (a2a && (op->fwd_coll != TPS_COLL_ALL_TO_ALL || op->bwd_coll != TPS_COLL_ALL_TO_ALL)) {
      snprintf(msg, len, "the lowering disagrees with tp-kernel: op %s is %s / %s, the kernel runs "
               "all-to-all both ways", op->name, tps_coll_name(op->fwd_coll), tps_coll_name(op->bwd_coll));
      return false;
    }
  }
  return true;
}

/* ---- state ---- */

static void *zalloc(int64_t n, size_t size, double *cat) {
  void *p = calloc((size_t)(n > 0 ? n : 1), size);
  if (!p) k_fail("out of memory for the MoE buffers");
  *cat += (double)(n > 0 ? n : 1) * (double)size;
  return p;
}

void k_moe_init(kinst *k, MPI_Comm world) {
  const kdims *d = &k->d;
  const int64_t m = d->m, kk = k->cfg.topk, E = k->cfg.experts, h = d->h, L = k->cfg.layers;
  kbytes *b = &k->bytes;
  struct kmoe *mo = calloc(1, sizeof *mo);
  if (!mo) k_fail("out of memory");
  k->moe = mo;
  mo->ep = MPI_COMM_NULL;
  /* from every rank of the instance: under CP k->comm is the TP group */
  int rank = 0;
  KMPI(MPI_Comm_rank(world, &rank));
  KMPI(MPI_Comm_split(world, rank / d->ep, rank, &mo->ep));
  mo->layers = calloc((size_t)L, sizeof *mo->layers);
  if (!mo->layers) k_fail("out of memory");
  for (int64_t l = 0; l < L; l++) {
    kmoe_layer *y = &mo->layers[l];
    y->idx = zalloc(m * kk, sizeof(int), &b->saved);
    y->q = zalloc(m * kk, sizeof(float), &b->saved);
    y->pos = zalloc(m * kk, sizeof(int), &b->saved);
    y->scnt = zalloc(E, sizeof(int), &b->saved);
    y->rcnt = zalloc(E, sizeof(int), &b->saved);
    y->yp = zalloc(m * kk * h, sizeof(float), &b->saved);
  }
  mo->z = zalloc(m * E, sizeof(float), &b->scratch);
  mo->dq = zalloc(m * kk, sizeof(float), &b->scratch);
  mo->perm = zalloc(m * kk * h, sizeof(float), &b->scratch);
  mo->sc = zalloc(d->ep, sizeof(int), &b->scratch);
  mo->sd = zalloc(d->ep, sizeof(int), &b->scratch);
  mo->rc = zalloc(d->ep, sizeof(int), &b->scratch);
  mo->rd = zalloc(d->ep, sizeof(int), &b->scratch);
  mo->off = zalloc(E, sizeof(int), &b->scratch);
  mo->next = zalloc(d->el, sizeof(int64_t), &b->scratch);
  b->total = b->weights + b->grads + b->saved + b->scratch;
}

void k_moe_free(kinst *k) {
  struct kmoe *mo = k->moe;
  if (!mo) return;
  for (int64_t l = 0; mo->layers && l < k->cfg.layers; l++) {
    kmoe_layer *y = &mo->layers[l];
    free(y->idx);
    free(y->q);
    free(y->pos);
    free(y->scnt);
    free(y->rcnt);
    free(y->yp);
    free(y->xe);
    free(y->u);
    free(y->a);
  }
  free(mo->layers);
  free(mo->z);
  free(mo->dq);
  free(mo->perm);
  free(mo->src);
  free(mo->eh);
  free(mo->da);
  free(mo->du);
  free(mo->sc);
  free(mo->sd);
  free(mo->rc);
  free(mo->rd);
  free(mo->off);
  free(mo->next);
  if (mo->ep != MPI_COMM_NULL) MPI_Comm_free(&mo->ep);
  free(mo);
  k->moe = NULL;
}

void k_moe_freeze_routing(kinst *k, bool on) {
  if (k->moe) k->moe->frozen = on;
}

/* Grows *p to rows x width floats (dropless: R is known only after the
 * counts are exchanged; the routing, and so R, is the same every step). */
static void grow(float **p, int64_t rows, int64_t width, int64_t cap, double *cat) {
  float *q = realloc(*p, (size_t)(rows * width) * sizeof(float));
  if (!q) k_fail("out of memory for %lld MoE rows", (long long)rows);
  *p = q;
  *cat += (double)((rows - cap) * width) * sizeof(float);
}

static void reserve(kinst *k, kmoe_layer *y, int64_t rows) {
  struct kmoe *mo = k->moe;
  const kdims *d = &k->d;
  kbytes *b = &k->bytes;
  if (rows < 1) rows = 1;
  if (rows > y->cap) {
    grow(&y->xe, rows, d->h, y->cap, &b->saved);
    grow(&y->u, rows, d->nupe, y->cap, &b->saved);
    grow(&y->a, rows, d->fe, y->cap, &b->saved);
    y->cap = rows;
  }
  if (rows > mo->cap) {
    grow(&mo->src, rows, d->h, mo->cap, &b->scratch);
    grow(&mo->eh, rows, d->h, mo->cap, &b->scratch);
    grow(&mo->da, rows, d->fe, mo->cap, &b->scratch);
    grow(&mo->du, rows, d->nupe, mo->cap, &b->scratch);
    mo->cap = rows;
  }
  b->total = b->weights + b->grads + b->saved + b->scratch;
}

/* ---- binding ---- */

void k_moe_bind(kinst *k, int64_t l, float *dcur) {
  klayer *y = &k->layers[l];
  ksite *s = &k->sites[l * k->ops.n];
  ksite *r = &s[k->op_of[K_ROUTER]], *p = &s[k->op_of[K_MOE_PERMUTE]];
  r->x = y->h2;
  r->w = y->w_router;
  r->y = k->moe->z;
  r->dw = y->dw_router;
  r->dx = k->dh;
  p->x = y->h2;
  p->dx = k->dh;
  s[k->op_of[K_EXPERTS_UP]].w = y->w_eup;
  s[k->op_of[K_EXPERTS_UP]].dw = y->dw_eup;
  s[k->op_of[K_EXPERTS_DOWN]].w = y->w_edown;
  s[k->op_of[K_EXPERTS_DOWN]].dw = y->dw_edown;
  s[k->op_of[K_MOE_UNPERMUTE]].y = k->yfull;
  s[k->op_of[K_MOE_UNPERMUTE]].dy = dcur;
}

/* ---- routing ---- */

/* The k largest of z[0..n) (ties: the lower index), best first. */
static void top_k(const float *z, int64_t n, int64_t k, int *idx) {
  for (int64_t j = 0; j < k; j++) {
    int best = -1;
    for (int e = 0; e < n; e++) {
      bool taken = false;
      for (int64_t i = 0; i < j; i++) taken |= idx[i] == e;
      if (!taken && (best < 0 || z[e] > z[best])) best = e;
    }
    idx[j] = best;
  }
}

static void router_fwd(kinst *k, kmoe_layer *y, const ksite *s) {
  const int m = (int)k->d.m, h = (int)k->d.h, E = (int)k->cfg.experts;
  const int64_t kk = k->cfg.topk;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, E, h, 1.0f, s->x, h, s->w, E, 0.0f,
              s->y, E);
  for (int64_t t = 0; t < m; t++) {
    const float *z = s->y + t * E;
    int *idx = y->idx + t * kk;
    float *q = y->q + t * kk;
    if (!k->moe->frozen) top_k(z, E, kk, idx);
    /* softmax over the selected logits; idx[0] holds the largest unless
     * frozen, so take the maximum explicitly */
    float zmax = z[idx[0]], sum = 0.0f;
    for (int64_t j = 1; j < kk; j++) zmax = fmaxf(zmax, z[idx[j]]);
    for (int64_t j = 0; j < kk; j++) sum += q[j] = expf(z[idx[j]] - zmax);
    for (int64_t j = 0; j < kk; j++) q[j] /= sum;
  }
}

/* dlogits: softmax backward over the selected logits, zero elsewhere;
 * dW_r = x^T dlogits, dx += dlogits W_r^T (moe_permute wrote dx). */
static void router_bwd(kinst *k, const kmoe_layer *y, const ksite *s) {
  const int m = (int)k->d.m, h = (int)k->d.h, E = (int)k->cfg.experts;
  const int64_t kk = k->cfg.topk;
  float *dz = k->moe->z;
  const float *dq = k->moe->dq;
  memset(dz, 0, (size_t)m * (size_t)E * sizeof *dz);
  for (int64_t t = 0; t < m; t++) {
    const float *q = y->q + t * kk, *g = dq + t * kk;
    double dot = 0.0;
    for (int64_t j = 0; j < kk; j++) dot += (double)q[j] * g[j];
    for (int64_t j = 0; j < kk; j++) dz[t * E + y->idx[t * kk + j]] = q[j] * (float)(g[j] - dot);
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, h, E, m, 1.0f, s->x, h, dz, E, 0.0f, s->dw, E);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, h, E, 1.0f, dz, E, s->w, E, 1.0f, s->dx, h);
}

/* Permutation: token rows copied to their experts' rows, expert by expert
 * (global expert order = destination EP rank order), tokens in order. */
static void permute_fwd(kinst *k, kmoe_layer *y, const ksite *s) {
  const int64_t m = k->d.m, kk = k->cfg.topk, E = k->cfg.experts, h = k->d.h;
  int *off = k->moe->off;
  memset(y->scnt, 0, (size_t)E * sizeof *y->scnt);
  for (int64_t i = 0; i < m * kk; i++) y->scnt[y->idx[i]]++;
  for (int64_t e = 0, row = 0; e < E; e++) {
    off[e] = (int)row;
    row += y->scnt[e];
  }
  for (int64_t t = 0; t < m; t++)
    for (int64_t j = 0; j < kk; j++) {
      const int row = off[y->idx[t * kk + j]]++;
      y->pos[t * kk + j] = row;
      memcpy(k->moe->perm + (int64_t)row * h, s->x + t * h, (size_t)h * sizeof(float));
    }
}

/* Backward: a token's gradient is the sum of its rows' (overwrites dx). */
static void permute_bwd(kinst *k, const kmoe_layer *y, const ksite *s) {
  const int64_t m = k->d.m, kk = k->cfg.topk, h = k->d.h;
  for (int64_t t = 0; t < m; t++) {
    float *dx = s->dx + t * h;
    memset(dx, 0, (size_t)h * sizeof *dx);
    for (int64_t j = 0; j < kk; j++) km_add(h, dx, k->moe->perm + (int64_t)y->pos[t * kk + j] * h, dx);
  }
}

/* Unpermutation: y_t = sum_j q_tj out_tj; backward: d out_tj = q_tj dy_t,
 * dq_tj = <dy_t, out_tj>. */
static void unpermute_fwd(kinst *k, const kmoe_layer *y, const ksite *s) {
  const int64_t m = k->d.m, kk = k->cfg.topk, h = k->d.h;
  for (int64_t t = 0; t < m; t++) {
    float *out = s->y + t * h;
    memset(out, 0, (size_t)h * sizeof *out);
    for (int64_t j = 0; j < kk; j++) {
      const float q = y->q[t * kk + j], *v = y->yp + (int64_t)y->pos[t * kk + j] * h;
      for (int64_t c = 0; c < h; c++) out[c] += q * v[c];
    }
  }
}

static void unpermute_bwd(kinst *k, const kmoe_layer *y, const ksite *s) {
  const int64_t m = k->d.m, kk = k->cfg.topk, h = k->d.h;
  for (int64_t t = 0; t < m; t++) {
    const float *dy = s->dy + t * h;
    for (int64_t j = 0; j < kk; j++) {
      const int64_t row = y->pos[t * kk + j];
      const float q = y->q[t * kk + j], *v = y->yp + row * h;
      float *g = k->moe->perm + row * h;
      double dot = 0.0;
      for (int64_t c = 0; c < h; c++) {
        g[c] = q * dy[c];
        dot += (double)dy[c] * v[c];
      }
      k->moe->dq[t * kk + j] = (float)dot;
    }
  }
}

/* ---- the all-to-alls ---- */

/* MPI counts and displacements (floats) of this layer's rows: sc/sd to
 * each EP rank (the permuted order is by destination), rc/rd from each. */
static void set_counts(kinst *k, const kmoe_layer *y) {
  struct kmoe *mo = k->moe;
  const int ep = k->d.ep, el = (int)k->d.el, h = (int)k->d.h;
  int soff = 0, roff = 0;
  for (int j = 0; j < ep; j++) {
    int s = 0, r = 0;
    for (int e = 0; e < el; e++) {
      s += y->scnt[j * el + e];
      r += y->rcnt[j * el + e];
    }
    mo->sc[j] = s * h;
    mo->rc[j] = r * h;
    mo->sd[j] = soff;
    mo->rd[j] = roff;
    soff += s * h;
    roff += r * h;
  }
}

/* Received rows are by source rank, then local expert; the experts want
 * them by local expert, then source rank. to_expert false: the inverse. */
static void reorder(kinst *k, const kmoe_layer *y, const float *in, float *out, bool to_expert) {
  const int ep = k->d.ep, el = (int)k->d.el;
  const int64_t h = k->d.h;
  int64_t *next = k->moe->next, row = 0;
  for (int e = 0; e < el; e++) {
    next[e] = row;
    for (int j = 0; j < ep; j++) row += y->rcnt[j * el + e];
  }
  int64_t src = 0;
  for (int j = 0; j < ep; j++)
    for (int e = 0; e < el; e++) {
      const int64_t n = y->rcnt[j * el + e];
      const int64_t from = to_expert ? src : next[e], to = to_expert ? next[e] : src;
      memcpy(out + to * h, in + from * h, (size_t)(n * h) * sizeof(float));
      next[e] += n;
      src += n;
    }
}

static void dispatch_fwd(kinst *k, kmoe_layer *y) {
  struct kmoe *mo = k->moe;
  const int el = (int)k->d.el;
  KMPI(MPI_Alltoall(y->scnt, el, MPI_INT, y->rcnt, el, MPI_INT, mo->ep));
  int64_t rows = 0;
  for (int64_t i = 0; i < k->cfg.experts; i++) rows += y->rcnt[i];
  y->rows = rows;
  reserve(k, y, rows);
  set_counts(k, y);
  KMPI(MPI_Alltoallv(mo->perm, mo->sc, mo->sd, MPI_FLOAT, mo->src, mo->rc, mo->rd, MPI_FLOAT, mo->ep));
  reorder(k, y, mo->src, y->xe, true);
}

/* perm -> (all-to-all) -> src -> expert order in `out` (combine's backward) */
static void to_experts(kinst *k, const kmoe_layer *y, float *out) {
  struct kmoe *mo = k->moe;
  set_counts(k, y);
  KMPI(MPI_Alltoallv(mo->perm, mo->sc, mo->sd, MPI_FLOAT, mo->src, mo->rc, mo->rd, MPI_FLOAT, mo->ep));
  reorder(k, y, mo->src, out, true);
}

/* expert order in `in` -> src -> (all-to-all) -> `out` in permuted order
 * (combine's forward, dispatch's backward) */
static void from_experts(kinst *k, const kmoe_layer *y, const float *in, float *out) {
  struct kmoe *mo = k->moe;
  set_counts(k, y);
  reorder(k, y, in, mo->src, false);
  KMPI(MPI_Alltoallv(mo->src, mo->rc, mo->rd, MPI_FLOAT, out, mo->sc, mo->sd, MPI_FLOAT, mo->ep));
}

/* ---- the grouped GEMMs: one CBLAS call per local expert ---- */

/* Rows of local expert e (all sources). */
static int64_t expert_rows(const kinst *k, const kmoe_layer *y, int e) {
  int64_t n = 0;
  for (int j = 0; j < k->d.ep; j++) n += y->rcnt[j * k->d.el + e];
  return n;
}

/* fwd: out_e (n, nout) = in_e (n, nin) w_e (nin, nout) for each expert. */
static void grouped_fwd(const kinst *k, const kmoe_layer *y, const float *in, const float *w,
                        float *out, int64_t nin, int64_t nout) {
  int64_t row = 0;
  for (int e = 0; e < (int)k->d.el; e++) {
    const int64_t n = expert_rows(k, y, e);
    if (n > 0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)nout, (int)nin, 1.0f,
                  in + row * nin, (int)nin, w + e * nin * nout, (int)nout, 0.0f, out + row * nout,
                  (int)nout);
    row += n;
  }
}

/* bwd: dw_e = in_e^T dout_e (zero for an expert without rows), din_e =
 * dout_e w_e^T. */
static void grouped_bwd(const kinst *k, const kmoe_layer *y, const float *in, const float *w,
                        const float *dout, float *dw, float *din, int64_t nin, int64_t nout) {
  int64_t row = 0;
  for (int e = 0; e < (int)k->d.el; e++) {
    const int64_t n = expert_rows(k, y, e);
    float *dwe = dw + e * nin * nout;
    if (n == 0) {
      memset(dwe, 0, (size_t)(nin * nout) * sizeof *dwe);
      continue;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nin, (int)nout, (int)n, 1.0f,
                in + row * nin, (int)nin, dout + row * nout, (int)nout, 0.0f, dwe, (int)nout);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)nin, (int)nout, 1.0f,
                dout + row * nout, (int)nout, w + e * nin * nout, (int)nout, 0.0f, din + row * nin,
                (int)nin);
    row += n;
  }
}

/* ---- dispatch on the op's role ---- */

static kmoe_layer *layer_of(const kinst *k, const ksite *s) {
  return &k->moe->layers[(s - k->sites) / k->ops.n];
}

bool k_moe_fwd(kinst *k, ksite *s) {
  if (!k_role_is_moe(s->role)) return false;
  kmoe_layer *y = layer_of(k, s);
  struct kmoe *mo = k->moe;
  const kdims *d = &k->d;
  switch (s->role) {
    case K_ROUTER: router_fwd(k, y, s); break;
    case K_MOE_PERMUTE: permute_fwd(k, y, s); break;
    case K_MOE_DISPATCH: dispatch_fwd(k, y); break;
    case K_EXPERTS_UP: grouped_fwd(k, y, y->xe, s->w, y->u, d->h, d->nupe); break;
    case K_EXPERTS_ACT: km_act_fwd(k->cfg.mlp, y->rows, d->fe, y->u, y->a); break;
    case K_EXPERTS_DOWN: grouped_fwd(k, y, y->a, s->w, mo->eh, d->fe, d->h); break;
    case K_MOE_COMBINE: from_experts(k, y, mo->eh, y->yp); break;
    case K_MOE_UNPERMUTE: unpermute_fwd(k, y, s); break;
    default: break; /* moe_gather, moe_scatter: over ETP = 1, nothing */
  }
  return true;
}

bool k_moe_bwd(kinst *k, ksite *s) {
  if (!k_role_is_moe(s->role)) return false;
  kmoe_layer *y = layer_of(k, s);
  struct kmoe *mo = k->moe;
  const kdims *d = &k->d;
  switch (s->role) {
    case K_MOE_UNPERMUTE: unpermute_bwd(k, y, s); break;
    case K_MOE_COMBINE: to_experts(k, y, mo->eh); break;
    case K_EXPERTS_DOWN: grouped_bwd(k, y, y->a, s->w, mo->eh, s->dw, mo->da, d->fe, d->h); break;
    case K_EXPERTS_ACT: km_act_bwd(k->cfg.mlp, y->rows, d->fe, y->u, mo->da, mo->du); break;
    case K_EXPERTS_UP: grouped_bwd(k, y, y->xe, s->w, mo->du, s->dw, mo->eh, d->h, d->nupe); break;
    case K_MOE_DISPATCH: from_experts(k, y, mo->eh, mo->perm); break;
    case K_MOE_PERMUTE: permute_bwd(k, y, s); break;
    case K_ROUTER: router_bwd(k, y, s); break;
    default: break;
  }
  return true;
}
