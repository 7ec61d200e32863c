/* tp-kernel executors: one function per op kind, forward and backward,
 * reading the buffers bound in the op's ksite (see kernel.h). Shapes come
 * from the lowered op (checked against the kernel's own at init). */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "kernel.h"
#include "kmath.h"

/* ---- GEMM: y(m, n) = x(m, k) w(k, n) ---- */

static void gemm_fwd(const ksite *s) {
  const int m = (int)s->op->m, n = (int)s->op->n, k = (int)s->op->k;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, s->x, k, s->w, n, 0.0f,
              s->y, n);
}

static void gemm_bwd(const ksite *s) {
  const int m = (int)s->op->m, n = (int)s->op->n, k = (int)s->op->k;
  /* wgrad: dw(k, n) = x^T dy */
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, n, m, 1.0f, s->x, k, s->dy, n, 0.0f,
              s->dw, n);
  /* dgrad: dx(m, k) = dy w^T */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, k, n, 1.0f, s->dy, n, s->w, n, 0.0f,
              s->dx, k);
}

/* ---- attention core: per sequence b and head h on this rank,
 * P = causal_softmax(Q K^T / sqrt(hd)), ctx = P V. qkv rows are tokens in
 * [s, b] order, so one sequence's rows are `batch` rows apart. Query head h
 * reads KV head h / (hq / kvl) of this rank. ---- */

typedef struct attn_geom {
  int s, hd, hq, kvl, group; /* group: query heads per KV head on this rank */
  int ldq, ldc;              /* row strides of qkv and ctx between positions */
  int64_t nqkv, cw, batch;
  float scale;
} attn_geom;

static attn_geom attn_geometry(const tps_op *op) {
  attn_geom g;
  g.s = (int)op->seq;
  g.hd = (int)op->head_dim;
  g.hq = (int)op->heads;
  g.kvl = (int)op->kv_heads;
  g.group = g.hq / g.kvl;
  g.batch = op->batch;
  g.nqkv = (int64_t)(g.hq + 2 * g.kvl) * g.hd; /* Ulysses: this rank's heads after the all-to-all */
  g.cw = (int64_t)g.hq * g.hd;
  g.ldq = (int)(g.batch * g.nqkv);
  g.ldc = (int)(g.batch * g.cw);
  g.scale = 1.0f / sqrtf((float)g.hd);
  return g;
}

static void attn_fwd(const ksite *s) {
  const attn_geom g = attn_geometry(s->op);
  for (int64_t b = 0; b < g.batch; b++) {
    const float *base = s->x + b * g.nqkv;
    for (int h = 0; h < g.hq; h++) {
      const int kv = h / g.group;
      const float *q = base + (int64_t)h * g.hd;
      const float *kk = base + (int64_t)(g.hq + kv) * g.hd;
      const float *v = base + (int64_t)(g.hq + g.kvl + kv) * g.hd;
      float *p = s->st + (b * g.hq + h) * (int64_t)g.s * g.s;
      float *c = s->y + b * g.cw + (int64_t)h * g.hd;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.s, g.s, g.hd, g.scale, q, g.ldq, kk,
                  g.ldq, 0.0f, p, g.s);
      km_softmax_causal(g.s, p);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.s, g.hd, g.s, 1.0f, p, g.s, v,
                  g.ldq, 0.0f, c, g.ldc);
    }
  }
}

static void attn_bwd(kinst *k, const ksite *s) {
  const attn_geom g = attn_geometry(s->op);
  float *ds = k->ds; /* (s, s) */
  for (int64_t b = 0; b < g.batch; b++) {
    const float *base = s->x + b * g.nqkv;
    float *dbase = s->dx + b * g.nqkv;
    for (int h = 0; h < g.hq; h++) {
      const int kv = h / g.group;
      /* the first query head of a KV group overwrites dK, dV; the rest add */
      const float beta = h % g.group == 0 ? 0.0f : 1.0f;
      const float *q = base + (int64_t)h * g.hd;
      const float *kk = base + (int64_t)(g.hq + kv) * g.hd;
      const float *v = base + (int64_t)(g.hq + g.kvl + kv) * g.hd;
      float *dq = dbase + (int64_t)h * g.hd;
      float *dk = dbase + (int64_t)(g.hq + kv) * g.hd;
      float *dv = dbase + (int64_t)(g.hq + g.kvl + kv) * g.hd;
      const float *p = s->st + (b * g.hq + h) * (int64_t)g.s * g.s;
      const float *dc = s->dy + b * g.cw + (int64_t)h * g.hd;
      /* dP = dC V^T; dV += P^T dC */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.s, g.s, g.hd, 1.0f, dc, g.ldc, v,
                  g.ldq, 0.0f, ds, g.s);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g.s, g.hd, g.s, 1.0f, p, g.s, dc,
                  g.ldc, beta, dv, g.ldq);
      /* dS = softmax'(dP) / sqrt(hd); dQ = dS K; dK += dS^T Q */
      km_softmax_bwd(g.s, p, ds, g.scale);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.s, g.hd, g.s, 1.0f, ds, g.s, kk,
                  g.ldq, 0.0f, dq, g.ldq);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g.s, g.hd, g.s, 1.0f, ds, g.s, q,
                  g.ldq, beta, dk, g.ldq);
    }
  }
}

/* ---- collectives over the TP group; `full` elements unsharded ---- */

static void collective(const kinst *k, tps_coll kind, const float *in, float *out, int64_t full) {
  const int shard = (int)(full / k->d.tp);
  switch (kind) {
    case TPS_COLL_NONE:
      return;
    case TPS_COLL_ALL_REDUCE:
      /* in place: the binder made in == out */
      KMPI(MPI_Allreduce(MPI_IN_PLACE, out, (int)full, MPI_FLOAT, MPI_SUM, k->comm));
      return;
    case TPS_COLL_ALL_GATHER:
      KMPI(MPI_Allgather(in, shard, MPI_FLOAT, out, shard, MPI_FLOAT, k->comm));
      return;
    case TPS_COLL_REDUCE_SCATTER:
      KMPI(MPI_Reduce_scatter_block(in, out, shard, MPI_FLOAT, MPI_SUM, k->comm));
      return;
    case TPS_COLL_ALL_TO_ALL:
    case TPS_COLL_RING_P2P:
      /* Context-parallel ops run over the CP group (cp.c, before this). */
      k_fail("collective %s is not run over the TP group", tps_coll_name(kind));
  }
}

void k_exec_regather(kinst *k, ksite *f) {
  collective(k, TPS_COLL_ALL_GATHER, f->x, f->y, f->op->m * f->op->n);
}

/* ---- dispatch ---- */

void k_exec_fwd(kinst *k, ksite *s) {
  /* ops of a role cp.c or moe.c executes, else by kind */
  if (k->moe && k_moe_fwd(k, s)) return;
  if (k->cp && k_cp_exec(k, s, true)) return;
  const tps_op *op = s->op;
  const int64_t h = k->d.h;
  switch (op->kind) {
    case TPS_OP_GEMM:
      gemm_fwd(s);
      return;
    case TPS_OP_ATTENTION:
      attn_fwd(s);
      return;
    case TPS_OP_NORM:
      km_norm_fwd(k->cfg.norm, s->rows, h, s->x, s->w, s->w2, s->y, s->st);
      return;
    case TPS_OP_ACTIVATION:
      km_act_fwd(k->cfg.mlp, k->d.m, k->d.fl, s->x, s->y);
      return;
    case TPS_OP_RESIDUAL:
      km_add(s->rows * h, s->x, s->x2, s->y);
      return;
    case TPS_OP_COLLECTIVE:
      if (op->group > 1) collective(k, op->fwd_coll, s->x, s->y, op->m * op->n);
      return;
    default:
      k_fail("op %s: kind %s is not executed by tp-kernel", op->name, tps_op_kind_name(op->kind));
  }
}

void k_exec_bwd(kinst *k, ksite *s) {
  /* ops of a role cp.c or moe.c executes, else by kind */
  if (k->moe && k_moe_bwd(k, s)) return;
  if (k->cp && k_cp_exec(k, s, false)) return;
  const tps_op *op = s->op;
  const int64_t h = k->d.h;
  switch (op->kind) {
    case TPS_OP_GEMM:
      gemm_bwd(s);
      return;
    case TPS_OP_ATTENTION:
      attn_bwd(k, s);
      return;
    case TPS_OP_NORM:
      km_norm_bwd(k->cfg.norm, s->rows, h, s->x, s->w, s->st, s->dy, s->dx, s->dw, s->dw2);
      return;
    case TPS_OP_ACTIVATION:
      km_act_bwd(k->cfg.mlp, k->d.m, k->d.fl, s->x, s->dy, s->dx);
      return;
    case TPS_OP_RESIDUAL:
      memcpy(s->dx, s->dy, (size_t)(s->rows * h) * sizeof(float));
      return;
    case TPS_OP_COLLECTIVE:
      if (op->group > 1) collective(k, op->bwd_coll, s->dy, s->dx, op->m * op->n);
      return;
    default:
      k_fail("op %s: kind %s is not executed by tp-kernel", op->name, tps_op_kind_name(op->kind));
  }
}
