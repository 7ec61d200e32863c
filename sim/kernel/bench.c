/* tp-kernel: the measured run. Warm-up steps, timed steps, the sgemm
 * reference at the same shapes, reduction to the slowest rank, the table on
 * stdout and the JSON file (schema in docs/kernel.md). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "kernel.h"

#define KB_VERSION "0.1.0"

/* The three BLAS calls of a GEMM op: forward, dgrad, wgrad. */
enum { G_FWD, G_DGRAD, G_WGRAD, G_CALLS };
/* Per-op time buckets of one step. */
enum { T_FWD, T_BWD, T_REGATHER, T_BUCKETS };
/* Memory numbers gathered from each rank. */
enum { M_HWM, M_RSS_START, M_WEIGHTS, M_GRADS, M_SAVED, M_SCRATCH, M_TOTAL, M_COUNT };

typedef struct stat2 {
  double median, min;
} stat2;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median and minimum of v[i * stride] for i < n (n >= 1). */
static stat2 stats(const double *v, int64_t n, int64_t stride) {
  double *c = malloc((size_t)n * sizeof *c);
  if (!c) k_fail("out of memory");
  for (int64_t i = 0; i < n; i++) c[i] = v[i * stride];
  qsort(c, (size_t)n, sizeof *c, cmp_double);
  stat2 s = {n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]), c[0]};
  free(c);
  return s;
}

/* ---- the sgemm reference: the same (m, n, k) and transposes as each GEMM
 * op's three calls, on separate buffers, once after every timed step (so
 * that the op and its reference see the same machine load). ---- */

typedef struct sgemm_ref {
  float *a, *b, *c; /* each max over GEMM ops of max(m k, k n, m n) floats */
} sgemm_ref;

static void sgemm_call(int call, int m, int n, int k, const float *a, const float *b, float *c) {
  switch (call) {
    case G_FWD:
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
      break;
    case G_DGRAD: /* a = dy (m, n), b = w (k, n) */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, k, n, 1.0f, a, n, b, n, 0.0f, c, k);
      break;
    default: /* G_WGRAD: a = x (m, k), b = dy (m, n) */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, n, m, 1.0f, a, k, b, n, 0.0f, c, n);
      break;
  }
}

static void sgemm_ref_init(sgemm_ref *r, const kinst *k) {
  int64_t maxel = 1;
  for (int i = 0; i < k->ops.n; i++) {
    const tps_op *op = &k->ops.ops[i];
    if (op->kind != TPS_OP_GEMM) continue;
    int64_t e[3] = {op->m * op->k, op->k * op->n, op->m * op->n};
    for (int j = 0; j < 3; j++)
      if (e[j] > maxel) maxel = e[j];
  }
  r->a = malloc((size_t)maxel * sizeof *r->a);
  r->b = malloc((size_t)maxel * sizeof *r->b);
  r->c = malloc((size_t)maxel * sizeof *r->c);
  if (!r->a || !r->b || !r->c) k_fail("out of memory for the sgemm reference");
  for (int64_t i = 0; i < maxel; i++) {
    r->a[i] = 0.01f * k_hash_uniform(7, 0, 0, 0, i);
    r->b[i] = 0.01f * k_hash_uniform(7, 1, 0, 0, i);
    r->c[i] = 0.0f;
  }
}

static void sgemm_ref_free(sgemm_ref *r) {
  free(r->a);
  free(r->b);
  free(r->c);
}

/* One timed call of each GEMM op's forward, dgrad and wgrad shape:
 * out[(g * G_CALLS + call) * reps + rep] seconds. */
static void sgemm_ref_run(const sgemm_ref *r, const kinst *k, int64_t reps, int64_t rep,
                          double *out) {
  int g = 0;
  for (int i = 0; i < k->ops.n; i++) {
    const tps_op *op = &k->ops.ops[i];
    if (op->kind != TPS_OP_GEMM) continue;
    for (int call = 0; call < G_CALLS; call++) {
      double t0 = k_now();
      sgemm_call(call, (int)op->m, (int)op->n, (int)op->k, r->a, r->b, r->c);
      out[((int64_t)g * G_CALLS + call) * reps + rep] = k_now() - t0;
    }
    g++;
  }
}

/* ---- JSON helpers ---- */

static void jnum(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.9g", v);
  else
    fputs("null", f);
}

static void jstr(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void jstat(FILE *f, const char *key, stat2 s) {
  fprintf(f, "\"%s\": {\"median\": ", key);
  jnum(f, s.median);
  fputs(", \"min\": ", f);
  jnum(f, s.min);
  fputc('}', f);
}

/* Everything rank 0 reports, after the reduction over ranks. */
typedef struct kresults {
  const kinst *k;
  const kcfg *cfg;
  const kbench_opts *o;
  int64_t steps, reps;
  const double *t;     /* [steps][ops][T_BUCKETS], seconds per layer, max over ranks */
  const double *step;  /* [steps], max over ranks */
  const double *ref;   /* [gemms][G_CALLS][reps], max over ranks */
  const double *mem;   /* [tp][M_COUNT] */
} kresults;

static stat2 op_stat(const kresults *r, int i, int bucket) {
  return stats(r->t + (int64_t)i * T_BUCKETS + bucket, r->steps, (int64_t)r->k->ops.n * T_BUCKETS);
}

static stat2 ref_stat(const kresults *r, int g, int call) {
  return stats(r->ref + ((int64_t)g * G_CALLS + call) * r->reps, r->reps, 1);
}

/* GEMM op g (index among GEMM ops) of op i: rates from minima. */
typedef struct gemm_rates {
  double flops, fwd_gf, ref_fwd_gf, bwd_gf, ref_bwd_gf, eff_fwd, eff_bwd;
} gemm_rates;

static gemm_rates rates(const kresults *r, int i, int g) {
  const tps_op *op = &r->k->ops.ops[i];
  gemm_rates x;
  x.flops = 2.0 * (double)op->m * (double)op->n * (double)op->k;
  double tf = op_stat(r, i, T_FWD).min, tb = op_stat(r, i, T_BWD).min;
  double rf = ref_stat(r, g, G_FWD).min;
  double rb = ref_stat(r, g, G_DGRAD).min + ref_stat(r, g, G_WGRAD).min;
  x.fwd_gf = x.flops / tf * 1e-9;
  x.bwd_gf = 2.0 * x.flops / tb * 1e-9;
  x.ref_fwd_gf = x.flops / rf * 1e-9;
  x.ref_bwd_gf = 2.0 * x.flops / rb * 1e-9;
  x.eff_fwd = rf / tf;
  x.eff_bwd = rb / tb;
  return x;
}

/* Activations one layer keeps for its backward, per the lowering (rank 0's
 * view; every rank holds the same amount). */
static double lowering_saved(const kinst *k) {
  double s = 0.0;
  for (int i = 0; i < k->ops.n; i++) s += k->ops.ops[i].saved_bytes;
  return s;
}

static void print_table(const kresults *r) {
  const kinst *k = r->k;
  const kcfg *c = r->cfg;
  const kbench_opts *o = r->o;
  printf("tp-kernel: ");
  if (k->d.cp > 1) printf("cp %d (%s), ", k->d.cp, tps_cp_algo_name(c->cp_algo));
  printf("tp %d, sp %s, hidden %lld, heads %lld, kv heads %lld, ffn %lld, seq %lld, "
         "micro-batch %lld, layers %lld, %s, %s, fp32\n",
         k->d.tp, c->sp ? "on" : "off", (long long)c->hidden, (long long)c->heads,
         (long long)c->kv_heads, (long long)c->ffn, (long long)c->seq, (long long)c->batch,
         (long long)c->layers, c->mlp == TPS_MLP_SWIGLU ? "swiglu" : "gelu",
         c->norm == TPS_NORM_RMSNORM ? "rmsnorm" : "layernorm");
  if (c->experts > 0)
    printf("MoE MLP (no dense ffn): %lld experts, top-%lld, expert ffn %lld; EP %d, %d data-parallel "
           "ranks\n",
           (long long)c->experts, (long long)c->topk, (long long)c->moe_ffn, k->d.ep, k->d.dp);
  printf("BLAS: %s (cblas_sgemm), 1 thread per rank\n", k_blas_library());
  if (strstr(k_blas_library(), "gslcblas"))
    printf("WARNING: cblas_sgemm comes from GSL's reference CBLAS: GEMM times are not representative\n");
  if (o->oversubscribed)
    printf("NOTE: %d ranks on %d CPUs: OVERSUBSCRIBED, times are not per-core speeds\n",
           o->node_ranks, o->cpus);
  printf("per-op time per layer, slowest rank, %lld timed steps after %lld warm-up (ms):\n",
         (long long)r->steps, (long long)o->warmup);
  printf("  %-14s %-11s %9s %9s %9s %9s\n", "op", "kind", "fwd med", "fwd min", "bwd med", "bwd min");
  for (int i = 0; i < k->ops.n; i++) {
    const tps_op *op = &k->ops.ops[i];
    stat2 f = op_stat(r, i, T_FWD), b = op_stat(r, i, T_BWD);
    printf("  %-14s %-11s %9.4f %9.4f %9.4f %9.4f", op->name, tps_op_kind_name(op->kind),
           f.median * 1e3, f.min * 1e3, b.median * 1e3, b.min * 1e3);
    if (op->kind == TPS_OP_COLLECTIVE && op->group > 1 && k->d.gathered &&
        op->fwd_coll == TPS_COLL_ALL_GATHER) {
      stat2 g = op_stat(r, i, T_REGATHER);
      printf("  (+ bwd re-gather med %.4f min %.4f)", g.median * 1e3, g.min * 1e3);
    }
    putchar('\n');
  }
  printf("GEMM rate vs single-threaded OpenBLAS sgemm at the same shapes (best step, GFLOP/s):\n");
  printf("  %-10s %-18s %7s %7s %5s %7s %7s %5s\n", "op", "m x n x k", "fwd", "sgemm", "eff",
         "bwd", "sgemm", "eff");
  int g = 0;
  for (int i = 0; i < k->ops.n; i++) {
    const tps_op *op = &k->ops.ops[i];
    if (op->kind != TPS_OP_GEMM) continue;
    gemm_rates x = rates(r, i, g++);
    char shape[64];
    snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)op->m, (long long)op->n,
             (long long)op->k);
    printf("  %-10s %-18s %7.1f %7.1f %4.0f%% %7.1f %7.1f %4.0f%%\n", op->name, shape, x.fwd_gf,
           x.ref_fwd_gf, 100.0 * x.eff_fwd, x.bwd_gf, x.ref_bwd_gf, 100.0 * x.eff_bwd);
  }
  stat2 st = stats(r->step, r->steps, 1);
  printf("step time (forward + backward, %lld layers): median %.3f ms, min %.3f ms, "
         "%.0f tokens/s\n",
         (long long)c->layers, st.median * 1e3, st.min * 1e3, (double)k_tokens(&k->d) / st.median);
  printf("memory per rank (MiB): VmHWM = buffers + runtime; buffers = weights + grads + saved + "
         "scratch; the lowering saves %.1f per layer x %lld layers\n",
         lowering_saved(k) / 1048576.0, (long long)c->layers);
  for (int p = 0; p < k_ranks(&k->d); p++) {
    const double *m = r->mem + (int64_t)p * M_COUNT;
    const double mib = 1.0 / 1048576.0;
    printf("  rank %d: VmHWM %.1f = %.1f + %.1f; buffers %.1f = %.1f + %.1f + %.1f + %.1f; "
           "RSS before buffers %.1f\n",
           p, m[M_HWM] * mib, m[M_TOTAL] * mib, (m[M_HWM] - m[M_TOTAL]) * mib, m[M_TOTAL] * mib,
           m[M_WEIGHTS] * mib, m[M_GRADS] * mib, m[M_SAVED] * mib, m[M_SCRATCH] * mib,
           m[M_RSS_START] * mib);
  }
}

static void write_json_body(FILE *f, const kresults *r) {
  const kinst *k = r->k;
  const kcfg *c = r->cfg;
  const kbench_opts *o = r->o;
  fprintf(f, "{\n  \"tool\": \"tp-kernel\",\n  \"version\": \"%s\",\n", KB_VERSION);
  fprintf(f,
          "  \"config\": {\"tp\": %d, \"cp\": %d, \"cp_algo\": \"%s\", \"sp\": %s, "
          "\"hidden\": %lld, \"heads\": %lld, "
          "\"kv_heads\": %lld, \"head_dim\": %lld, \"ffn\": %lld, \"seq_len\": %lld, "
          "\"micro_batch\": %lld, \"layers\": %lld, \"mlp\": \"%s\", \"norm\": \"%s\", "
          "\"precision\": \"fp32\", \"flash_attention\": false, \"steps\": %lld, "
          "\"warmup\": %lld, \"seed\": %llu},\n",
          k->d.tp, k->d.cp, tps_cp_algo_name(c->cp_algo), c->sp ? "true" : "false",
          (long long)c->hidden, (long long)c->heads,
          (long long)c->kv_heads, (long long)k->d.hd, (long long)c->ffn, (long long)c->seq,
          (long long)c->batch, (long long)c->layers, c->mlp == TPS_MLP_SWIGLU ? "swiglu" : "gelu",
          c->norm == TPS_NORM_RMSNORM ? "rmsnorm" : "layernorm", (long long)r->steps,
          (long long)o->warmup, (unsigned long long)c->seed);
  fprintf(f,
          "  \"machine\": {\"ranks\": %d, \"ranks_per_node\": %d, \"cpus_online\": %d, "
          "\"oversubscribed\": %s, \"blas_threads_per_rank\": 1, \"mpi_library\": ",
          k_ranks(&k->d), o->node_ranks, o->cpus, o->oversubscribed ? "true" : "false");
  jstr(f, o->mpi_library);
  fputs(", \"blas_library\": ", f);
  jstr(f, k_blas_library());
  fputs("},\n", f);
  if (c->experts > 0)
    fprintf(f,
            "  \"moe\": {\"experts\": %lld, \"topk\": %lld, \"moe_ffn\": %lld, \"ep\": %d, "
            "\"dp\": %d, \"router\": \"top-k then softmax\", \"dropless\": true},\n",
            (long long)c->experts, (long long)c->topk, (long long)c->moe_ffn, k->d.ep, k->d.dp);
  fputs("  \"units\": \"seconds; op times are per layer (a step's sum over layers / layers), of "
        "the slowest rank in each step, then median and min over the timed steps\",\n",
        f);
  fputs("  ", f);
  jstat(f, "step_time_s", stats(r->step, r->steps, 1));
  fputs(",\n  \"step_time_samples_s\": [", f);
  for (int64_t s = 0; s < r->steps; s++) {
    if (s) fputs(", ", f);
    jnum(f, r->step[s]);
  }
  fputs("],\n", f);
  fprintf(f, "  \"tokens_per_step\": %lld,\n", (long long)k_tokens(&k->d));
  fputs("  \"tokens_per_s\": ", f);
  jnum(f, (double)k_tokens(&k->d) / stats(r->step, r->steps, 1).median);
  fputs(",\n  \"ops\": [\n", f);
  int g = 0;
  double eff_min = INFINITY;
  for (int i = 0; i < k->ops.n; i++) {
    const tps_op *op = &k->ops.ops[i];
    fputs("    {\"name\": ", f);
    jstr(f, op->name);
    fprintf(f, ", \"kind\": \"%s\", \"m\": %lld, \"n\": %lld, \"k\": %lld", tps_op_kind_name(op->kind),
            (long long)op->m, (long long)op->n, (long long)op->k);
    if (op->kind == TPS_OP_GEMM)
      fprintf(f, ", \"split\": \"%s\"",
              op->split == TPS_SPLIT_COLUMN ? "column" : op->split == TPS_SPLIT_ROW ? "row" : "replicated");
    if (op->kind == TPS_OP_ATTENTION)
      fprintf(f, ", \"batch\": %lld, \"seq\": %lld, \"heads\": %lld, \"kv_heads\": %lld, \"head_dim\": %lld, \"causal\": %s",
              (long long)op->batch, (long long)op->seq, (long long)op->heads, (long long)op->kv_heads,
              (long long)op->head_dim, op->causal ? "true" : "false");
    if (op->kind == TPS_OP_COLLECTIVE) {
      fprintf(f, ", \"group\": %lld, \"fwd_coll\": \"%s\", \"bwd_coll\": \"%s\", \"coll_bytes\": ",
              (long long)op->group, tps_coll_name(op->fwd_coll), tps_coll_name(op->bwd_coll));
      jnum(f, op->coll_bytes);
    }
    fputs(", \"fwd_flops\": ", f);
    jnum(f, op->fwd_flops);
    fputs(", \"bwd_flops\": ", f);
    jnum(f, op->bwd_flops);
    fputs(", \"fwd_bytes\": ", f);
    jnum(f, op->fwd_bytes);
    fputs(", \"bwd_bytes\": ", f);
    jnum(f, op->bwd_bytes);
    fputs(", \"saved_bytes\": ", f);
    jnum(f, op->saved_bytes);
    fputs(", \"params\": ", f);
    jnum(f, op->params);
    fprintf(f, ", \"elements\": %lld", (long long)op->elements);
    fputs(",\n     ", f);
    jstat(f, "fwd_s", op_stat(r, i, T_FWD));
    fputs(", ", f);
    jstat(f, "bwd_s", op_stat(r, i, T_BWD));
    if (op->kind == TPS_OP_COLLECTIVE && op->fwd_coll == TPS_COLL_ALL_GATHER) {
      fputs(", ", f);
      jstat(f, "bwd_regather_s", op_stat(r, i, T_REGATHER));
    }
    if (op->kind == TPS_OP_GEMM) {
      gemm_rates x = rates(r, i, g);
      fputs(",\n     \"sgemm\": {", f);
      jstat(f, "fwd_s", ref_stat(r, g, G_FWD));
      fputs(", ", f);
      jstat(f, "dgrad_s", ref_stat(r, g, G_DGRAD));
      fputs(", ", f);
      jstat(f, "wgrad_s", ref_stat(r, g, G_WGRAD));
      fputs("},\n     \"gflops\": {\"fwd\": ", f);
      jnum(f, x.fwd_gf);
      fputs(", \"sgemm_fwd\": ", f);
      jnum(f, x.ref_fwd_gf);
      fputs(", \"bwd\": ", f);
      jnum(f, x.bwd_gf);
      fputs(", \"sgemm_bwd\": ", f);
      jnum(f, x.ref_bwd_gf);
      fputs("}, \"efficiency\": {\"fwd\": ", f);
      jnum(f, x.eff_fwd);
      fputs(", \"bwd\": ", f);
      jnum(f, x.eff_bwd);
      fputc('}', f);
      if (x.eff_fwd < eff_min) eff_min = x.eff_fwd;
      if (x.eff_bwd < eff_min) eff_min = x.eff_bwd;
      g++;
    }
    fprintf(f, "}%s\n", i + 1 < k->ops.n ? "," : "");
  }
  fputs("  ],\n  \"gemm_efficiency_min\": ", f);
  jnum(f, eff_min);
  fputs(",\n  \"memory\": {\"lowering_saved_bytes_per_layer\": ", f);
  jnum(f, lowering_saved(k));
  fputs(", \"ranks\": [\n", f);
  for (int p = 0; p < k_ranks(&k->d); p++) {
    const double *m = r->mem + (int64_t)p * M_COUNT;
    fprintf(f, "    {\"rank\": %d, \"vmhwm_bytes\": ", p);
    jnum(f, m[M_HWM]);
    fputs(", \"vmrss_start_bytes\": ", f);
    jnum(f, m[M_RSS_START]);
    fputs(", \"buffers_bytes\": {\"weights\": ", f);
    jnum(f, m[M_WEIGHTS]);
    fputs(", \"grads\": ", f);
    jnum(f, m[M_GRADS]);
    fputs(", \"saved\": ", f);
    jnum(f, m[M_SAVED]);
    fputs(", \"scratch\": ", f);
    jnum(f, m[M_SCRATCH]);
    fputs(", \"total\": ", f);
    jnum(f, m[M_TOTAL]);
    fprintf(f, "}}%s\n", p + 1 < k_ranks(&k->d) ? "," : "");
  }
  fputs("  ]}\n}\n", f);
}

/* Writes to PATH.tmp.PID, then renames: never a partial file. */
static bool write_json(const char *path, const kresults *r) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "tp-kernel: cannot write %s\n", tmp);
    return false;
  }
  write_json_body(f, r);
  bool ok = !ferror(f);
  if (fclose(f) != 0) ok = false;
  if (ok && rename(tmp, path) != 0) ok = false;
  if (!ok) {
    remove(tmp);
    fprintf(stderr, "tp-kernel: cannot write %s\n", path);
  }
  return ok;
}

int k_bench(const kcfg *cfg, MPI_Comm comm, const kbench_opts *o) {
  int rank = 0, tp = 1;
  KMPI(MPI_Comm_rank(comm, &rank));
  KMPI(MPI_Comm_size(comm, &tp));
  kinst k;
  char msg[1024];
  if (!k_inst_init(&k, cfg, comm, msg, sizeof msg)) {
    if (rank == 0) fprintf(stderr, "tp-kernel: %s\n", msg);
    k_inst_free(&k);
    return 2;
  }
  const int n = k.ops.n;
  const int64_t steps = o->steps, reps = o->steps;
  const double inv_l = 1.0 / (double)cfg->layers;
  int ngemm = 0;
  for (int i = 0; i < n; i++) ngemm += k.ops.ops[i].kind == TPS_OP_GEMM;
  const size_t nt = (size_t)(steps * n * T_BUCKETS), nref = (size_t)(ngemm * G_CALLS * reps);
  double *t = calloc(nt, sizeof *t), *step = calloc((size_t)steps, sizeof *step);
  double *ref = calloc(nref, sizeof *ref);
  double *t_max = calloc(nt, sizeof *t), *step_max = calloc((size_t)steps, sizeof *step);
  double *ref_max = calloc(nref, sizeof *ref);
  double *mem_all = calloc((size_t)tp * M_COUNT, sizeof(double));
  if (!t || !step || !ref || !t_max || !step_max || !ref_max || !mem_all) k_fail("out of memory");

  for (int64_t s = 0; s < o->warmup; s++) k_step(&k);
  sgemm_ref sref = {NULL, NULL, NULL};
  double hwm = 0.0;
  for (int64_t s = 0; s < steps; s++) {
    if (rank == o->fail_rank && s == 0) {
      /* Test hook: an MPI call that must fail (no such rank), to exercise the
       * checked-call path: message, MPI_Abort, every rank ends. */
      fprintf(stderr, "tp-kernel: rank %d: --fail-rank: sending to rank %d of %d\n", rank, tp, tp);
      int token = 0;
      KMPI(MPI_Send(&token, 1, MPI_INT, tp, 0, comm));
      k_fail("--fail-rank: the invalid MPI_Send did not fail");
    }
    KMPI(MPI_Barrier(comm));
    double t0 = k_now();
    k_step(&k);
    step[s] = k_now() - t0;
    for (int i = 0; i < n; i++) {
      double *row = t + (s * n + i) * T_BUCKETS;
      row[T_FWD] = k.t_fwd[i] * inv_l;
      row[T_BWD] = k.t_bwd[i] * inv_l;
      row[T_REGATHER] = k.t_regather[i] * inv_l;
    }
    if (s == 0) {
      /* Peak memory of the layer once a full step has run (BLAS and MPI
       * buffers included), before the reference's own buffers exist. */
      hwm = k_vmhwm();
      sgemm_ref_init(&sref, &k);
    }
    KMPI(MPI_Barrier(comm));
    sgemm_ref_run(&sref, &k, reps, s, ref);
  }
  sgemm_ref_free(&sref);
  double mem[M_COUNT] = {hwm, o->rss_start, k.bytes.weights, k.bytes.grads,
                         k.bytes.saved, k.bytes.scratch, k.bytes.total};

  KMPI(MPI_Reduce(t, t_max, (int)nt, MPI_DOUBLE, MPI_MAX, 0, comm));
  KMPI(MPI_Reduce(step, step_max, (int)steps, MPI_DOUBLE, MPI_MAX, 0, comm));
  KMPI(MPI_Reduce(ref, ref_max, (int)nref, MPI_DOUBLE, MPI_MAX, 0, comm));
  KMPI(MPI_Gather(mem, M_COUNT, MPI_DOUBLE, mem_all, M_COUNT, MPI_DOUBLE, 0, comm));

  int status = 0;
  if (rank == 0) {
    kresults r = {&k, cfg, o, steps, reps, t_max, step_max, ref_max, mem_all};
    if (!o->quiet) print_table(&r);
    if (o->json && !write_json(o->json, &r)) status = 1;
    fflush(stdout);
  }
  KMPI(MPI_Bcast(&status, 1, MPI_INT, 0, comm));
  free(t);
  free(step);
  free(ref);
  free(t_max);
  free(step_max);
  free(ref_max);
  free(mem_all);
  k_inst_free(&k);
  return status;
}
