/* tp-kernel: context parallelism (CP), executing the cp_* ops of the lowering
 * (sim/engine/cp.c, docs/model.md "Context parallelism").
 *
 * The MPI ranks are TP x CP, TP fastest (Megatron's order "tp-cp-..."): the
 * TP group of a rank is the tp consecutive ranks around it, its CP group the
 * cp ranks tp apart. Every CP rank holds seq_l = seq / cp positions of each
 * sequence and runs the whole block on them; only attention crosses ranks:
 *
 *   ring (op cp_ring_kv beside attn_core): the sequence is cut in 2 cp
 *   chunks and rank r holds chunks r and 2 cp - 1 - r (causal load balance,
 *   Megatron get_batch_on_this_cp_rank). The K/V block of every rank goes
 *   around the ring; each rank attends its queries to each block under the
 *   causal mask of the global positions and merges the partial results by
 *   their log-sum-exp (the online softmax of flash / ring attention), so the
 *   result is exact causal attention over the whole sequence. Backward
 *   recomputes each block's probabilities from the saved log-sum-exp and
 *   sends K/V around the ring again, with the block's dK/dV travelling with
 *   it back to its owner. The sends of the next block are posted before the
 *   current block computes; the time spent waiting for them is recorded
 *   under cp_ring_kv (what the cost model charges: the sends' time that the
 *   blocks do not hide), the rest under attn_core.
 *
 *   Ulysses (cp_qkv_a2a before attn_core, cp_out_a2a after it): the sequence
 *   is cut in cp contiguous shards; an MPI_Alltoall turns Q/K/V of seq_l
 *   positions x all heads into the whole sequence x heads / cp (K/V heads
 *   replicated when fewer than cp), ordinary causal attention runs on them
 *   (exec.c), and the inverse all-to-all brings the output back. Backward
 *   runs the two all-to-alls the other way (replicated K/V heads add up). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernel.h"
#include "kmath.h"

struct kcp {
  MPI_Comm tp_comm, cp_comm; /* owned: split from the instance's communicator */
  /* ring */
  float *lse;        /* [layers][batch][hq][seq_l] log-sum-exp of each query row (saved) */
  float *kv[2];      /* (m, 2 kvl hd) K/V block here and the one arriving: [K | V] per row */
  float *dkv[2];     /* their gradients */
  float *sc, *dsc;   /* (seq_l, seq_l) one block's scores / probabilities, and gradient */
  float *pv;         /* (seq_l, hd) one block's P V */
  float *mx, *sum;   /* (seq_l) row maximum and sum of one block */
  /* Ulysses */
  float *qkv_u;      /* [layers] (seq batch, nqkv_u) Q/K/V of this rank's heads (saved) */
  float *ctx_u;      /* [layers] (seq batch, hqu hd) their attention output (saved) */
  float *dqkv_u, *dctx_u; /* their gradients */
  float *xbuf;       /* cp blocks of the all-to-all, packed by destination */
  int64_t hqu, kvu;  /* query and KV heads per rank after the all-to-all */
};

/* ---- layout: ranks, positions, refusals ---- */

static int cp_of(const kcfg *c) { return c->cp > 1 ? (int)c->cp : 1; }

bool k_cp_check(const kcfg *c, int tp, char *msg, size_t len) {
  const int cp = cp_of(c);
  if (cp == 1) return true;
  if (c->cp_algo != TPS_CP_RING && c->cp_algo != TPS_CP_ULYSSES) {
    snprintf(msg, len, "--cp-algo %s is not run by tp-kernel (ring or ulysses)",
             tps_cp_algo_name(c->cp_algo));
    return false;
  }
  const bool ring = c->cp_algo == TPS_CP_RING;
  const int64_t chunks = ring ? 2 * (int64_t)cp : cp;
  if (c->seq % chunks != 0) {
    snprintf(msg, len,
             "--cp %d (%s): the sequence length %lld (--seq-len) is not a multiple of %lld%s", cp,
             tps_cp_algo_name(c->cp_algo), (long long)c->seq, (long long)chunks,
             ring ? " (the ring cuts each sequence in 2 x CP chunks for causal balance)"
                  : " (each CP rank holds seq / CP positions)");
    return false;
  }
  if (ring) return true;
  if (c->heads % ((int64_t)tp * cp) != 0) {
    snprintf(msg, len,
             "--cp %d (ulysses): %lld attention heads (--heads) are not a multiple of TP x CP = "
             "%d x %d (the all-to-all gives each rank whole heads)",
             cp, (long long)c->heads, tp, cp);
    return false;
  }
  const int64_t kvl = tps_kv_heads_per_rank(c->kv_heads, tp);
  if (kvl % cp != 0 && cp % kvl != 0) {
    snprintf(msg, len,
             "--cp %d (ulysses): the %lld KV heads per TP rank neither divide by nor divide CP",
             cp, (long long)kvl);
    return false;
  }
  return true;
}

int64_t k_cp_position(const kdims *d, int64_t sl) {
  if (d->cp == 1) return sl;
  if (!d->ring) return (int64_t)d->cp_rank * d->seq_l + sl; /* Ulysses: contiguous shards */
  const int64_t cs = d->seq_l / 2; /* chunk length */
  const int64_t chunk = sl < cs ? d->cp_rank : 2 * (int64_t)d->cp - 1 - d->cp_rank;
  return chunk * cs + sl % cs;
}

void k_cp_core_shape(const kdims *d, int64_t seq, int64_t *q_seq, int64_t *kv_seq,
                     int64_t *heads, int64_t *kv_heads) {
  *q_seq = d->ring ? d->seq_l : seq;
  *kv_seq = seq;
  *heads = d->ring || d->cp == 1 ? d->hq : d->hq / d->cp;
  *kv_heads = d->ring || d->cp == 1 ? d->kvl : tps_kv_heads_per_rank(d->kvl, d->cp);
}

void k_cp_begin(kinst *k, MPI_Comm comm) {
  const kdims *d = &k->d;
  k->run.cp = d->cp;
  k->run.cp_algo = k->cfg.cp_algo;
  k->run.ulysses_degree = d->cp > 1 && !d->ring ? d->cp : 1;
  if (d->cp == 1) return;
  struct kcp *c = calloc(1, sizeof *c);
  if (!c) k_fail("out of memory");
  /* one TP group per (DP, CP) rank pair, one CP group per (DP, TP) pair;
   * DP ranks exist with experts only (at TP 1) */
  KMPI(MPI_Comm_split(comm, d->dp_rank * d->cp + d->cp_rank, d->rank, &c->tp_comm));
  KMPI(MPI_Comm_split(comm, d->dp_rank * d->tp + d->rank, d->cp_rank, &c->cp_comm));
  k->cp = c;
  k->comm = c->tp_comm;
}

/* ---- the lowering's CP ops ---- */

bool k_cp_check_op(const kinst *k, krole role, const tps_op *op, char *msg, size_t len) {
  const kdims *d = &k->d;
  /* expected: group, stride, tensor (m, n), collective */
  const int64_t m = d->m, group = d->cp, stride = d->tp;
  int64_t n = d->hq * d->hd; /* cp_out_a2a */
  tps_coll coll = TPS_COLL_ALL_TO_ALL;
  if (role == K_CP_RING_KV) {
    n = 2 * d->kvl * d->hd;
    coll = TPS_COLL_RING_P2P;
  } else if (role == K_CP_QKV_A2A) {
    n = (d->hq + 2 * tps_kv_heads_per_rank(d->kvl, d->cp) * d->cp) * d->hd;
  }
  if (op->fwd_coll != coll || op->bwd_coll != coll || op->group != group || op->stride != stride ||
      op->m != m || op->n != n) {
    snprintf(msg, len,
             "the lowering disagrees with tp-kernel: op %s is %s over %lld ranks %lld apart on a "
             "(%lld, %lld) tensor, the kernel runs %s over %lld ranks %lld apart on (%lld, %lld)",
             op->name, tps_coll_name(op->fwd_coll), (long long)op->group, (long long)op->stride,
             (long long)op->m, (long long)op->n, tps_coll_name(coll), (long long)group,
             (long long)stride, (long long)m, (long long)n);
    return false;
  }
  return true;
}

/* ---- buffers ---- */

static float *alloc_f(int64_t n, double *cat) {
  if (n <= 0) return NULL;
  float *p = calloc((size_t)n, sizeof *p);
  if (!p) k_fail("cannot allocate %.1f MiB of CP buffers", (double)n * 4.0 / 1048576.0);
  *cat += (double)n * sizeof *p;
  return p;
}

void k_cp_init(kinst *k) {
  struct kcp *c = k->cp;
  if (!c) return;
  const kdims *d = &k->d;
  const int64_t L = k->cfg.layers, n = k->ops.n, m = d->m, hd = d->hd;
  kbytes *b = &k->bytes;
  if (d->ring) {
    const int64_t s = d->seq_l, blk = m * 2 * d->kvl * hd;
    c->lse = alloc_f(L * d->batch * d->hq * s, &b->saved);
    for (int j = 0; j < 2; j++) {
      c->kv[j] = alloc_f(blk, &b->scratch);
      c->dkv[j] = alloc_f(blk, &b->scratch);
    }
    c->sc = alloc_f(s * s, &b->scratch);
    c->dsc = alloc_f(s * s, &b->scratch);
    c->pv = alloc_f(s * hd, &b->scratch);
    c->mx = alloc_f(s, &b->scratch);
    c->sum = alloc_f(s, &b->scratch);
    for (int64_t l = 0; l < L; l++)
      k->sites[l * n + k->op_of[K_ATTN_CORE]].st = c->lse + l * d->batch * d->hq * s;
  } else {
    c->hqu = d->hq / d->cp;
    c->kvu = tps_kv_heads_per_rank(d->kvl, d->cp);
    const int64_t mu = m * d->cp, wq = (c->hqu + 2 * c->kvu) * hd, wc = c->hqu * hd;
    c->qkv_u = alloc_f(L * mu * wq, &b->saved);
    c->ctx_u = alloc_f(L * mu * wc, &b->saved);
    c->dqkv_u = alloc_f(mu * wq, &b->scratch);
    c->dctx_u = alloc_f(mu * wc, &b->scratch);
    c->xbuf = alloc_f(mu * (wq > wc ? wq : wc), &b->scratch);
    for (int64_t l = 0; l < L; l++) {
      ksite *s = &k->sites[l * n];
      klayer *y = &k->layers[l];
      float *qu = c->qkv_u + l * mu * wq, *cu = c->ctx_u + l * mu * wc;
      ksite *a = &s[k->op_of[K_CP_QKV_A2A]], *core = &s[k->op_of[K_ATTN_CORE]];
      ksite *o = &s[k->op_of[K_CP_OUT_A2A]];
      a->x = y->qkv;
      a->y = qu;
      a->dy = c->dqkv_u;
      a->dx = k->dqkv;
      core->x = qu;
      core->y = cu;
      core->dy = c->dctx_u;
      core->dx = c->dqkv_u;
      o->x = cu;
      o->y = y->ctx;
      o->dy = k->dctx;
      o->dx = c->dctx_u;
    }
  }
  b->total = b->weights + b->grads + b->saved + b->scratch;
}

void k_cp_free(kinst *k) {
  struct kcp *c = k->cp;
  if (!c) return;
  float *bufs[] = {c->lse, c->kv[0], c->kv[1], c->dkv[0], c->dkv[1], c->sc, c->dsc, c->pv,
                   c->mx, c->sum, c->qkv_u, c->ctx_u, c->dqkv_u, c->dctx_u, c->xbuf};
  for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
  KMPI(MPI_Comm_free(&c->tp_comm));
  KMPI(MPI_Comm_free(&c->cp_comm));
  free(c);
  k->cp = NULL;
}

/* ---- Ulysses: all-to-all between (seq_l positions, all heads) and (whole
 * sequence, heads / cp) ---- */

typedef struct seg {
  int64_t off, w; /* columns of a row */
} seg;

/* The columns of a local row that CP rank j's heads occupy: Q, K, V of the
 * QKV row, or j's slice of the context row. Returns the segment count. */
static int segments(const kinst *k, bool qkv, int j, seg out[3]) {
  const kdims *d = &k->d;
  const struct kcp *c = k->cp;
  const int64_t hd = d->hd, q0 = j * c->hqu;
  if (!qkv) {
    out[0] = (seg){q0 * hd, c->hqu * hd};
    return 1;
  }
  /* K/V heads of j's queries: a slice of them, or the one their group reads. */
  const int64_t kv0 = d->kvl >= d->cp ? j * c->kvu : q0 / (d->hq / d->kvl);
  out[0] = (seg){q0 * hd, c->hqu * hd};
  out[1] = (seg){(d->hq + kv0) * hd, c->kvu * hd};
  out[2] = (seg){(d->hq + d->kvl + kv0) * hd, c->kvu * hd};
  return 3;
}

/* Local rows (m, W) -> the whole sequence (cp m, wu) of this rank's heads
 * (to_heads): rank j's rows come back as the j-th block, which is its shard
 * of positions in [s, b] order, so the blocks in rank order are the
 * sequence. Else the inverse, where columns that several ranks send
 * (replicated K/V heads) add up. */
static void a2a(const kinst *k, bool qkv, bool to_heads, const float *x, int64_t width, float *y) {
  const kdims *d = &k->d;
  const int64_t m = d->m;
  seg sg[3];
  const int ns = segments(k, qkv, 0, sg);
  int64_t wu = 0;
  for (int i = 0; i < ns; i++) wu += sg[i].w;
  float *xb = k->cp->xbuf;
  const int count = (int)(m * wu);
  if (!to_heads) {
    KMPI(MPI_Alltoall(x, count, MPI_FLOAT, xb, count, MPI_FLOAT, k->cp->cp_comm));
    memset(y, 0, (size_t)(m * width) * sizeof *y);
  }
  for (int j = 0; j < d->cp; j++) {
    segments(k, qkv, j, sg);
    for (int64_t r = 0; r < m; r++)
      for (int i = 0, o = 0; i < ns; o += (int)sg[i].w, i++) {
        float *packed = xb + ((int64_t)j * m + r) * wu + o;
        if (to_heads) {
          memcpy(packed, x + r * width + sg[i].off, (size_t)sg[i].w * sizeof *x);
        } else {
          float *yr = y + r * width + sg[i].off;
          for (int64_t e = 0; e < sg[i].w; e++) yr[e] += packed[e];
        }
      }
  }
  if (to_heads) KMPI(MPI_Alltoall(xb, count, MPI_FLOAT, y, count, MPI_FLOAT, k->cp->cp_comm));
}

/* ---- ring attention ---- */

/* Moves `dt` seconds of the core's time to the ring op (the core's timer in
 * k_forward / k_backward counts them, the ring op's does not). */
static void charge_ring(kinst *k, bool fwd, double dt) {
  double *t = fwd ? k->t_fwd : k->t_bwd;
  t[k->op_of[K_CP_RING_KV]] += dt;
  t[k->op_of[K_ATTN_CORE]] -= dt;
}

/* One (sequence b, query head h) against one K/V block: the rows of this
 * rank's queries and the block's keys that can see each other, pointers
 * already at their first row. With the load-balanced chunks (q: this rank's
 * chunks me and 2 cp - 1 - me, keys: the block's src and 2 cp - 1 - src) a
 * block from an earlier rank is seen whole by every query through its first
 * chunk and not at all through its second; a later rank's block only by the
 * second query chunk, whole; the own block under the causal mask. The
 * skipped halves are those flash / ring attention kernels skip (Transformer
 * Engine's AttnFuncWithCPAndKVP2P), so the work per block is what the
 * lowering counts (causal FLOPs / cp). */
typedef struct ring_blk {
  int64_t nq, nk, q0, hd, ldq, ldkv, ldc; /* rows, keys, first query row; strides */
  bool masked;                            /* the own block: causal mask by position */
  const float *q, *kk, *v;                /* Q here; K, V of the block */
  float *lse, *ctx;                       /* the queries' log-sum-exp and output */
  const float *dctx;                      /* backward: d output */
  float *dq, *dk, *dv;                    /* backward: dQ here, the block's dK, dV */
} ring_blk;

static ring_blk ring_geom(const kinst *k, const ksite *s, const float *kv, float *dkv, int64_t b,
                          int64_t h, int src, bool fwd) {
  const kdims *d = &k->d;
  const int64_t hd = d->hd, nkv = 2 * d->kvl * hd, kvh = h / (d->hq / d->kvl);
  const int64_t cw = d->hq * hd, cs = d->seq_l / 2;
  ring_blk g;
  g.hd = hd;
  g.ldq = d->batch * d->nqkv;
  g.ldkv = d->batch * nkv;
  g.ldc = d->batch * cw;
  g.masked = src == d->cp_rank;
  g.q0 = src > d->cp_rank ? cs : 0;
  g.nq = d->seq_l - g.q0;
  g.nk = src < d->cp_rank ? cs : d->seq_l;
  g.q = s->x + b * d->nqkv + h * hd + g.q0 * g.ldq;
  g.kk = kv + b * nkv + kvh * hd;
  g.v = g.kk + d->kvl * hd;
  g.lse = s->st + (b * d->hq + h) * d->seq_l + g.q0;
  g.ctx = s->y + b * cw + h * hd + g.q0 * g.ldc;
  g.dctx = fwd ? NULL : s->dy + b * cw + h * hd + g.q0 * g.ldc;
  g.dq = fwd ? NULL : s->dx + b * d->nqkv + h * hd + g.q0 * g.ldq;
  g.dk = fwd ? NULL : dkv + b * nkv + kvh * hd;
  g.dv = fwd ? NULL : g.dk + d->kvl * hd;
  return g;
}

/* sc (nq, nk) = Q K^T / sqrt(hd). On the own block (same rank: the same
 * positions; its chunks [0, cs) and [cs, 2 cs) hold increasing positions)
 * a key after the query is masked: visible(i) = keys j <= i. */
static void ring_scores(const ring_blk *g, float *sc) {
  const int nq = (int)g->nq, nk = (int)g->nk;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, (int)g->hd, 1.0f / sqrtf((float)g->hd),
              g->q, (int)g->ldq, g->kk, (int)g->ldkv, 0.0f, sc, nk);
}

static int64_t ring_visible(const ring_blk *g, int64_t i) { return g->masked ? i + 1 : g->nk; }

/* p = exp(sc - shift[i]) on the visible keys of each row, exactly 0 on the
 * masked ones (km_exp: vectorised, relative error about 2e-7). */
static void ring_exp(const ring_blk *g, float *p, const float *shift) {
  const int64_t nk = g->nk;
  for (int64_t i = 0; i < g->nq; i++) {
    float *row = p + i * nk;
    for (int64_t j = 0; j < nk; j++) row[j] -= shift[i];
  }
  km_exp(p, p, g->nq * nk);
  for (int64_t i = 0; i < g->nq; i++)
    for (int64_t j = ring_visible(g, i); j < nk; j++) p[i * nk + j] = 0.0f;
}

/* One block forward: its softmax part merged into ctx and lse. */
static void ring_block_fwd(const kinst *k, const ring_blk *g) {
  struct kcp *c = k->cp;
  const int64_t nq = g->nq, nk = g->nk, hd = g->hd;
  float *sc = c->sc;
  ring_scores(g, sc);
  for (int64_t i = 0; i < nq; i++) {
    const float *row = sc + i * nk;
    float mx = row[0];
    for (int64_t j = 1; j < ring_visible(g, i); j++) mx = row[j] > mx ? row[j] : mx;
    c->mx[i] = mx;
  }
  ring_exp(g, sc, c->mx);
  for (int64_t i = 0; i < nq; i++) {
    float sum = 0.0f;
    for (int64_t j = 0; j < nk; j++) sum += sc[i * nk + j];
    c->sum[i] = sum;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)hd, (int)nk, 1.0f, sc, (int)nk,
              g->v, (int)g->ldkv, 0.0f, c->pv, (int)hd);
  for (int64_t i = 0; i < nq; i++) { /* every row sees at least one key (its own position) */
    const float old = g->lse[i], blk = c->mx[i] + logf(c->sum[i]);
    const float lse = fmaxf(old, blk) + log1pf(expf(-fabsf(old - blk)));
    const float a = old == -INFINITY ? 0.0f : expf(old - lse), w = expf(c->mx[i] - lse);
    float *o = g->ctx + i * g->ldc;
    const float *pv = c->pv + i * hd;
    for (int64_t e = 0; e < hd; e++) o[e] = a * o[e] + w * pv[e];
    g->lse[i] = lse;
  }
}

/* One block backward: dQ += dS K; the block's dK += dS^T Q, dV += P^T dO. */
static void ring_block_bwd(const kinst *k, const ring_blk *g) {
  struct kcp *c = k->cp;
  const int nq = (int)g->nq, nk = (int)g->nk, hd = (int)g->hd, ldc = (int)g->ldc;
  const int ldq = (int)g->ldq, ldkv = (int)g->ldkv;
  const float scale = 1.0f / sqrtf((float)g->hd);
  float *p = c->sc, *dp = c->dsc;
  ring_scores(g, p);
  ring_exp(g, p, g->lse);
  /* dV += P^T dO; dP = dO V^T */
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hd, nq, 1.0f, p, nk, g->dctx, ldc, 1.0f,
              g->dv, ldkv);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, hd, 1.0f, g->dctx, ldc, g->v, ldkv,
              0.0f, dp, nk);
  /* dS = P (dP - rowsum(dO O)) / sqrt(hd): rowsum(P dP) = dO . O */
  for (int64_t i = 0; i < nq; i++) {
    float dot = 0.0f;
    for (int64_t e = 0; e < hd; e++) dot += g->dctx[i * ldc + e] * g->ctx[i * ldc + e];
    for (int64_t j = 0; j < nk; j++) dp[i * nk + j] = p[i * nk + j] * (dp[i * nk + j] - dot) * scale;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, hd, nk, 1.0f, dp, nk, g->kk, ldkv, 1.0f,
              g->dq, ldq);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hd, nq, 1.0f, dp, nk, g->q, ldq, 1.0f,
              g->dk, ldkv);
}

/* Copies the K/V columns of the local QKV rows into a ring block (to = true)
 * or the block's gradient back into them. */
static void kv_copy(const kinst *k, float *qkv, float *blk, bool to) {
  const kdims *d = &k->d;
  const int64_t nkv = 2 * d->kvl * d->hd, q = d->hq * d->hd;
  for (int64_t r = 0; r < d->m; r++) {
    float *a = qkv + r * d->nqkv + q, *b = blk + r * nkv;
    memcpy(to ? b : a, to ? a : b, (size_t)nkv * sizeof *a);
  }
}

enum { TAG_KV = 71, TAG_DKV = 72 };

static void ring_fwd(kinst *k, ksite *s) {
  struct kcp *c = k->cp;
  const kdims *d = &k->d;
  const int cp = d->cp, next = (d->cp_rank + 1) % cp, prev = (d->cp_rank + cp - 1) % cp;
  const int64_t blk = d->m * 2 * d->kvl * d->hd, hd = d->hd;
  kv_copy(k, s->x, c->kv[0], true);
  for (int64_t i = 0; i < d->batch * d->hq * d->seq_l; i++) s->st[i] = -INFINITY;
  memset(s->y, 0, (size_t)(d->m * d->hq * hd) * sizeof *s->y);
  int cur = 0;
  for (int step = 0; step < cp; step++) {
    const int src = (d->cp_rank - step + cp) % cp;
    MPI_Request req[2];
    const bool pass = step < cp - 1;
    if (pass) { /* the next block travels while this one computes */
      KMPI(MPI_Irecv(c->kv[1 - cur], (int)blk, MPI_FLOAT, prev, TAG_KV, c->cp_comm, &req[0]));
      KMPI(MPI_Isend(c->kv[cur], (int)blk, MPI_FLOAT, next, TAG_KV, c->cp_comm, &req[1]));
    }
    for (int64_t b = 0; b < d->batch; b++)
      for (int64_t h = 0; h < d->hq; h++) {
        ring_blk g = ring_geom(k, s, c->kv[cur], NULL, b, h, src, true);
        ring_block_fwd(k, &g);
      }
    if (pass) {
      const double t0 = k_now();
      KMPI(MPI_Waitall(2, req, MPI_STATUSES_IGNORE));
      charge_ring(k, true, k_now() - t0);
    }
    cur = 1 - cur;
  }
}

static void ring_bwd(kinst *k, ksite *s) {
  struct kcp *c = k->cp;
  const kdims *d = &k->d;
  const int cp = d->cp, next = (d->cp_rank + 1) % cp, prev = (d->cp_rank + cp - 1) % cp;
  const int64_t blk = d->m * 2 * d->kvl * d->hd;
  kv_copy(k, s->x, c->kv[0], true);
  memset(c->dkv[0], 0, (size_t)blk * sizeof(float));
  memset(s->dx, 0, (size_t)(d->m * d->nqkv) * sizeof *s->dx);
  int cur = 0;
  for (int step = 0; step < cp; step++) {
    const int src = (d->cp_rank - step + cp) % cp;
    MPI_Request req[2];
    const bool pass = step < cp - 1;
    if (pass) {
      KMPI(MPI_Irecv(c->kv[1 - cur], (int)blk, MPI_FLOAT, prev, TAG_KV, c->cp_comm, &req[0]));
      KMPI(MPI_Isend(c->kv[cur], (int)blk, MPI_FLOAT, next, TAG_KV, c->cp_comm, &req[1]));
    }
    for (int64_t b = 0; b < d->batch; b++)
      for (int64_t h = 0; h < d->hq; h++) {
        ring_blk g = ring_geom(k, s, c->kv[cur], c->dkv[cur], b, h, src, false);
        ring_block_bwd(k, &g);
      }
    const double t0 = k_now();
    if (pass) KMPI(MPI_Waitall(2, req, MPI_STATUSES_IGNORE));
    /* The block's gradient follows it; after the last step it reaches its
     * owner, so this rank then holds its own K/V's whole gradient. */
    KMPI(MPI_Sendrecv(c->dkv[cur], (int)blk, MPI_FLOAT, next, TAG_DKV, c->dkv[1 - cur], (int)blk,
                      MPI_FLOAT, prev, TAG_DKV, c->cp_comm, MPI_STATUS_IGNORE));
    charge_ring(k, false, k_now() - t0);
    cur = 1 - cur;
  }
  kv_copy(k, s->dx, c->dkv[cur], false);
}

/* ---- dispatch ---- */

bool k_cp_exec(kinst *k, ksite *s, bool fwd) {
  if (s->role == K_ATTN_CORE) {
    if (!k->d.ring) return false; /* Ulysses: ordinary attention on its heads (exec.c) */
    if (fwd)
      ring_fwd(k, s);
    else
      ring_bwd(k, s);
    return true;
  }
  if (s->role == K_CP_RING_KV) return true; /* its sends run inside the core (above) */
  if (s->role != K_CP_QKV_A2A && s->role != K_CP_OUT_A2A) return false;
  const bool qkv = s->role == K_CP_QKV_A2A;
  const int64_t width = qkv ? k->d.nqkv : k->d.hq * k->d.hd;
  /* forward: QKV scatters heads, the output gathers them; backward the inverse */
  a2a(k, qkv, qkv == fwd, fwd ? s->x : s->dy, width, fwd ? s->y : s->dx);
  return true;
}

void k_cp_reduce_grads(kinst *k) {
  if (!k->cp) return;
  const kdims *d = &k->d;
  const int64_t h = d->h;
  for (int64_t l = 0; l < k->cfg.layers; l++) {
    klayer *y = &k->layers[l];
    /* the replicated weights; each rank's experts are its own (their
     * gradients are summed over the expert-data-parallel ranks, not CP) */
    float *g[] = {y->dw_qkv, y->dw_o, y->dw_up, y->dw_down, y->dg1, y->db1, y->dg2, y->db2,
                  y->dw_router};
    const int64_t n[] = {h * d->nqkv, d->hq * d->hd * h, h * d->nup, d->fl * h, h, h, h, h,
                         h * k->cfg.experts};
    for (int j = 0; j < 9; j++)
      if (g[j]) KMPI(MPI_Allreduce(MPI_IN_PLACE, g[j], (int)n[j], MPI_FLOAT, MPI_SUM, k->cp->cp_comm));
  }
}
