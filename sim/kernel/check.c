/* tp-kernel --check: the TP run against the TP = 1 reference, and the
 * reference's backward against finite differences. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

/* How the shards of a tensor make up the global tensor. */
typedef enum {
  C_SUM,  /* shards are placed by their global indices and summed: disjoint
             shards, replicated KV heads (each rank holds part of the
             gradient) and SP norm gains (each rank saw part of the rows) */
  C_EACH  /* every rank holds the whole tensor: each copy is compared */
} combine;

typedef struct item {
  char name[48];
  ktensor t;
  bool cp_reduced;         /* all-reduced over CP: only CP rank 0's copy is placed */
  const float *loc, *ref;  /* this rank's shard; the reference (rank 0) */
  int64_t lrows, lcols;    /* shard shape */
  int64_t grows, gcols;    /* global shape */
  combine how;
} item;

/* Relative error of one tensor over the TP x CP ranks (meaningful on rank 0). */
static double compare(const item *it, const kcfg *cfg, MPI_Comm comm) {
  int rank = 0, tp = 1; /* tp: every rank of comm */
  KMPI(MPI_Comm_rank(comm, &rank));
  KMPI(MPI_Comm_size(comm, &tp));
  const int64_t cnt = it->lrows * it->lcols, gcnt = it->grows * it->gcols;
  float *all = rank == 0 ? malloc((size_t)(cnt * tp) * sizeof *all) : NULL;
  if (rank == 0 && !all) k_fail("out of memory");
  KMPI(MPI_Gather(it->loc, (int)cnt, MPI_FLOAT, all, (int)cnt, MPI_FLOAT, 0, comm));
  if (rank != 0) return 0.0;
  double *acc = calloc((size_t)gcnt, sizeof *acc);
  int *hits = calloc((size_t)gcnt, sizeof *hits);
  if (!acc || !hits) k_fail("out of memory");
  double scale = 0.0, diff = 0.0;
  for (int64_t i = 0; i < gcnt; i++) scale = fmax(scale, fabs((double)it->ref[i]));
  for (int r = 0; r < tp; r++) {
    kdims d;
    char msg[256];
    if (!k_dims(cfg, tp, r, &d, msg, sizeof msg)) k_fail("%s", msg);
    if (it->cp_reduced && d.cp_rank != 0) continue;
    const float *v = all + (int64_t)r * cnt;
    for (int64_t lr = 0; lr < it->lrows; lr++) {
      const int64_t gr = k_global_row(&d, it->t, lr);
      for (int64_t lc = 0; lc < it->lcols; lc++) {
        const int64_t g = gr * it->gcols + k_global_col(&d, cfg, it->t, lc);
        if (g < 0 || g >= gcnt) k_fail("check: %s: index map out of range", it->name);
        const double x = v[lr * it->lcols + lc];
        if (it->how == C_EACH) {
          diff = fmax(diff, fabs(x - (double)it->ref[g]));
          hits[g]++;
        } else {
          acc[g] += x;
          hits[g]++;
        }
      }
    }
  }
  for (int64_t g = 0; g < gcnt; g++) {
    if (hits[g] == 0) diff = INFINITY; /* an element no rank holds: a map bug */
    if (it->how == C_SUM) diff = fmax(diff, fabs(acc[g] - (double)it->ref[g]));
  }
  free(acc);
  free(hits);
  free(all);
  if (diff == 0.0) return 0.0;
  return scale > 0.0 ? diff / scale : INFINITY;
}

/* The tensors compared: the output, the input gradient and every weight
 * gradient of every layer. ref may be NULL (ranks other than 0). */
static int list_items(const kinst *k, const kinst *ref, item *out, int cap) {
  const kdims *d = &k->d;
  const kcfg *c = &k->cfg;
  const int64_t h = d->h, hd = d->hd, L = c->layers, tp = d->tp;
  const bool ln = c->norm == TPS_NORM_LAYERNORM;
  /* replicated rows / gains; data-parallel (MoE) ranks each hold part */
  const combine rep = d->gathered || d->dp > 1 ? C_SUM : C_EACH;
  int n = 0;
#define ADD(NAME, T, LOC, REF, LR, LC, GR, GC, HOW)                                    \
  do {                                                                                 \
    if (n >= cap) k_fail("check: too many tensors");                                   \
    item *it_ = &out[n++];                                                             \
    snprintf(it_->name, sizeof it_->name, "%s", NAME);                                 \
    it_->t = T;                                                                        \
    it_->loc = LOC;                                                                    \
    it_->ref = REF;                                                                    \
    it_->lrows = LR;                                                                   \
    it_->lcols = LC;                                                                   \
    it_->grows = GR;                                                                   \
    it_->gcols = GC;                                                                   \
    it_->how = HOW;                                                                    \
    it_->cp_reduced = T != KT_INPUT && T != KT_W_EUP && T != KT_W_EDOWN;               \
  } while (0)
  const int64_t rows = k_tokens(d); /* the whole micro-batch of every rank */
  ADD("output", KT_INPUT, k->xs[L], ref ? ref->xs[L] : NULL, d->ml, h, rows, h, rep);
  ADD("input.grad", KT_INPUT, k->dres[0], ref ? ref->dres[0] : NULL, d->ml, h, rows, h, rep);
  for (int64_t l = 0; l < L; l++) {
    const klayer *y = &k->layers[l], *ry = ref ? &ref->layers[l] : NULL;
    char nm[48];
#define NAME(S) (snprintf(nm, sizeof nm, "L%lld.%s", (long long)l, S), nm)
    ADD(NAME("w_qkv.grad"), KT_W_QKV, y->dw_qkv, ry ? ry->dw_qkv : NULL, h, d->nqkv, h,
        (c->heads + 2 * c->kv_heads) * hd, C_SUM);
    ADD(NAME("w_o.grad"), KT_W_O, y->dw_o, ry ? ry->dw_o : NULL, d->hq * hd, h, c->heads * hd, h,
        C_SUM);
    if (c->experts > 0) {
      const int64_t E = c->experts;
      ADD(NAME("router.grad"), KT_W_ROUTER, y->dw_router, ry ? ry->dw_router : NULL, h, E, h, E,
          C_SUM);
      ADD(NAME("experts_up.grad"), KT_W_EUP, y->dw_eup, ry ? ry->dw_eup : NULL, d->el * h, d->nupe,
          E * h, d->nupe, C_SUM);
      ADD(NAME("experts_down.grad"), KT_W_EDOWN, y->dw_edown, ry ? ry->dw_edown : NULL,
          d->el * d->fe, h, E * d->fe, h, C_SUM);
    } else {
      ADD(NAME("w_up.grad"), KT_W_UP, y->dw_up, ry ? ry->dw_up : NULL, h, d->nup, h, d->nup * tp,
          C_SUM);
      ADD(NAME("w_down.grad"), KT_W_DOWN, y->dw_down, ry ? ry->dw_down : NULL, d->fl, h, c->ffn, h,
          C_SUM);
    }
    ADD(NAME("attn_norm.gamma.grad"), KT_G1, y->dg1, ry ? ry->dg1 : NULL, 1, h, 1, h, rep);
    ADD(NAME("mlp_norm.gamma.grad"), KT_G2, y->dg2, ry ? ry->dg2 : NULL, 1, h, 1, h, rep);
    if (ln) {
      ADD(NAME("attn_norm.beta.grad"), KT_B1, y->db1, ry ? ry->db1 : NULL, 1, h, 1, h, rep);
      ADD(NAME("mlp_norm.beta.grad"), KT_B2, y->db2, ry ? ry->db2 : NULL, 1, h, 1, h, rep);
    }
#undef NAME
  }
#undef ADD
  return n;
}

/* ---- finite differences on a TP = 1 instance ---- */

/* loss = sum(output * dout), the scalar whose gradient k_backward computes. */
static double fd_loss(kinst *k) {
  k_forward(k);
  const float *y = k->xs[k->cfg.layers], *g = k->dout;
  const int64_t n = k->d.ml * k->d.h;
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += (double)y[i] * (double)g[i];
  return s;
}

/* Worst sampled |fd - analytic| / max |analytic| of one tensor. */
static double fd_tensor(kinst *k, float *p, const float *grad, int64_t n, int tag, int samples,
                        const char *name, bool verbose) {
  double scale = 0.0, worst = 0.0;
  for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)grad[i]));
  for (int j = 0; j < samples; j++) {
    const float u = 0.5f + 0.5f * k_hash_uniform(99, tag, j, 0, 0); /* [0, 1) */
    int64_t i = (int64_t)(u * (float)n);
    if (i >= n) i = n - 1;
    const float orig = p[i];
    const float eps = 1e-2f * fmaxf(1.0f, fabsf(orig));
    p[i] = orig + eps;
    const double lp = fd_loss(k);
    p[i] = orig - eps;
    const double lm = fd_loss(k);
    p[i] = orig;
    const double fd = (lp - lm) / (2.0 * (double)eps);
    worst = fmax(worst, fabs(fd - (double)grad[i]));
  }
  double rel = worst == 0.0 ? 0.0 : (scale > 0.0 ? worst / scale : INFINITY);
  if (verbose) printf("  fd %-24s rel_err %.2e\n", name, rel);
  return rel;
}

/* A tiny version of cfg (the same MLP, norm and GQA shape) unless cfg is
 * tiny already. */
static kcfg fd_config(const kcfg *cfg) {
  kcfg t = *cfg;
  t.ep = 0; /* one rank: EP 1 */
  t.cp = 1; /* the reference: one rank sees the whole sequence */
  if (cfg->hidden <= 64 && cfg->ffn <= 256 && cfg->moe_ffn <= 256 && cfg->seq * cfg->batch <= 32 &&
      cfg->layers <= 3)
    return t;
  t.hidden = 32;
  t.heads = 4;
  t.kv_heads = cfg->kv_heads == cfg->heads ? 4 : (cfg->heads / cfg->kv_heads >= 4 ? 1 : 2);
  t.ffn = 64;
  t.seq = 8;
  t.batch = 2;
  t.layers = 2;
  t.sp = false;
  if (t.experts > 0) t.moe_ffn = 32;
  return t;
}

static double finite_differences(const kcfg *cfg, bool verbose) {
  kcfg t = fd_config(cfg);
  kinst k;
  char msg[1024];
  if (!k_inst_init(&k, &t, MPI_COMM_SELF, msg, sizeof msg)) k_fail("finite differences: %s", msg);
  printf("finite differences: hidden %lld, heads %lld, kv heads %lld, ffn %lld, seq %lld, "
         "micro-batch %lld, layers %lld, TP = 1\n",
         (long long)t.hidden, (long long)t.heads, (long long)t.kv_heads, (long long)t.ffn,
         (long long)t.seq, (long long)t.batch, (long long)t.layers);
  if (t.experts > 0)
    printf("  MoE: %lld experts, top-%lld, expert ffn %lld; the selection is kept fixed\n",
           (long long)t.experts, (long long)t.topk, (long long)t.moe_ffn);
  k_step(&k);
  k_moe_freeze_routing(&k, true);
  const int samples = 6;
  const kdims *d = &k.d;
  const int64_t h = d->h;
  double worst = 0.0;
  worst = fmax(worst, fd_tensor(&k, k.xs[0], k.dres[0], d->ml * h, 1000, samples, "input", verbose));
  for (int64_t l = 0; l < t.layers; l++) {
    klayer *y = &k.layers[l];
    char nm[48];
    int tag = (int)l * 16;
#define FD(P, G, N, S)                                                         \
  (snprintf(nm, sizeof nm, "L%lld.%s", (long long)l, S),                       \
   worst = fmax(worst, fd_tensor(&k, P, G, N, tag++, samples, nm, verbose)))
    FD(y->w_qkv, y->dw_qkv, h * d->nqkv, "w_qkv");
    FD(y->w_o, y->dw_o, d->hq * d->hd * h, "w_o");
    if (t.experts > 0) {
      FD(y->w_router, y->dw_router, h * t.experts, "router");
      FD(y->w_eup, y->dw_eup, d->el * h * d->nupe, "experts_up");
      FD(y->w_edown, y->dw_edown, d->el * d->fe * h, "experts_down");
    } else {
      FD(y->w_up, y->dw_up, h * d->nup, "w_up");
      FD(y->w_down, y->dw_down, d->fl * h, "w_down");
    }
    FD(y->g1, y->dg1, h, "attn_norm.gamma");
    FD(y->g2, y->dg2, h, "mlp_norm.gamma");
    if (t.norm == TPS_NORM_LAYERNORM) {
      FD(y->b1, y->db1, h, "attn_norm.beta");
      FD(y->b2, y->db2, h, "mlp_norm.beta");
    }
#undef FD
  }
  k_inst_free(&k);
  return worst;
}

int k_check(const kcfg *cfg, MPI_Comm comm, double tol, double fd_tol) {
  int rank = 0, tp = 1;
  KMPI(MPI_Comm_rank(comm, &rank));
  KMPI(MPI_Comm_size(comm, &tp));
  kinst k, ref;
  char msg[1024];
  if (!k_inst_init(&k, cfg, comm, msg, sizeof msg)) {
    if (rank == 0) fprintf(stderr, "tp-kernel: %s\n", msg);
    k_inst_free(&k);
    return 2;
  }
  k_step(&k);
  k_cp_reduce_grads(&k);
  memset(&ref, 0, sizeof ref);
  if (rank == 0) {
    kcfg rc = *cfg;
    rc.cp = 1; /* the reference sees the whole sequence on one rank */
    if (cfg->experts > 0) { /* one rank: every DP rank's sequences, all experts */
      rc.batch = cfg->batch * k.d.dp;
      rc.ep = 0;
    }
    if (!k_inst_init(&ref, &rc, MPI_COMM_SELF, msg, sizeof msg)) k_fail("reference: %s", msg);
    k_step(&ref);
    if (cfg->experts > 0 && k.d.cp > 1)
      printf("check: EP = %d over CP = %d (%s) x DP = %d ranks (%lld experts, top-%lld) against "
             "one rank with all experts and all %lld whole sequences, one forward + backward, "
             "%lld layers; replicated weights' gradients summed over CP\n",
             k.d.ep, k.d.cp, tps_cp_algo_name(cfg->cp_algo), k.d.dp, (long long)cfg->experts,
             (long long)cfg->topk, (long long)rc.batch, (long long)cfg->layers);
    else if (cfg->experts > 0)
      printf("check: EP = %d over %d data-parallel ranks (%lld experts, top-%lld) against one rank "
             "with all experts and all %lld sequences, one forward + backward, %lld layers\n",
             k.d.ep, tp, (long long)cfg->experts, (long long)cfg->topk, (long long)rc.batch,
             (long long)cfg->layers);
    else if (k.d.cp > 1)
      printf("check: TP = %d x CP = %d (%s, sp %s) against one rank, one forward + backward, "
             "%lld layers; weight gradients summed over CP\n",
             k.d.tp, k.d.cp, tps_cp_algo_name(cfg->cp_algo), cfg->sp ? "on" : "off",
             (long long)cfg->layers);
    else
      printf("check: TP = %d (sp %s) against TP = 1, one forward + backward, %lld layers\n", tp,
             cfg->sp ? "on" : "off", (long long)cfg->layers);
  }
  const int cap = (int)(2 + 9 * cfg->layers);
  item *items = calloc((size_t)cap, sizeof *items);
  if (!items) k_fail("out of memory");
  const int n = list_items(&k, rank == 0 ? &ref : NULL, items, cap);
  double worst = 0.0;
  const char *worst_name = n > 0 ? items[0].name : "-";
  for (int i = 0; i < n; i++) {
    double e = compare(&items[i], cfg, comm);
    if (rank == 0) {
      printf("  %-28s rel_err %.2e\n", items[i].name, e);
      if (!(e <= worst)) {
        worst = e;
        worst_name = items[i].name;
      }
    }
  }
  int status = 0;
  if (rank == 0) {
    printf("max_rel_err = %.3e (worst: %s; tolerance %.0e)\n", worst, worst_name, tol);
    double fd = finite_differences(cfg, true);
    printf("fd_max_rel_err = %.3e (tolerance %.0e)\n", fd, fd_tol);
    status = (worst <= tol && fd <= fd_tol) ? 0 : 1;
    printf("check: %s\n", status == 0 ? "PASS" : "FAIL");
    fflush(stdout);
    k_inst_free(&ref);
  }
  KMPI(MPI_Bcast(&status, 1, MPI_INT, 0, comm));
  free(items);
  k_inst_free(&k);
  return status;
}
