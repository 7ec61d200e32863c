/* tp-kernel --bench gemm|collectives: micro-benchmarks for `tp-sim
 * calibrate`, run with the same rank layout as the layer runs they help
 * predict (every rank works at once, so two ranks on two cores share the
 * machine as they do in a TP = 2 step).
 *
 *   gemm         cblas_sgemm at a fixed list of shapes, in the three forms a
 *                GEMM op runs (forward NN, dgrad NT, wgrad TN), plus a 1x1x1
 *                call whose time is the per-call overhead;
 *   collectives  MPI_Allreduce (in place), MPI_Reduce_scatter_block and
 *                MPI_Allgather of fp32 tensors of 1 KiB .. 64 MiB (the size
 *                of the FULL tensor, as the lowering's coll_bytes counts it),
 *                the same calls tp-kernel's collective executor makes.
 *
 * Every timed call starts at a barrier; per repeat the slowest rank's time
 * is kept (MPI_Reduce MAX), then the median and minimum over the repeats
 * are written as JSON (schema in docs/validation.md, "Kernel validation").
 * Times in seconds, sizes in bytes. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "kernel.h"

typedef struct mstat {
  double median, min;
} mstat;

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static mstat mstats(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  mstat s = {n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]), v[0]};
  return s;
}

static void jstat(FILE *f, const char *key, mstat s) {
  fprintf(f, "\"%s\": {\"median\": %.9g, \"min\": %.9g}", key, s.median, s.min);
}

/* GEMM shapes (m, n, k): FLOPs of one call 2 m n k from 5e5 to 1.7e10,
 * about a factor 2 apart, with the token-major shapes of transformer GEMMs
 * (m = tokens, n and k = widths). */
static const int gemm_shapes[][3] = {
    {64, 64, 64},       {128, 128, 128},    {256, 128, 256},    {256, 256, 256},
    {512, 256, 256},    {512, 512, 256},    {512, 512, 512},    {1024, 512, 512},
    {1024, 1024, 512},  {1024, 1024, 1024}, {2048, 1024, 1024}, {2048, 2048, 1024},
    {2048, 2048, 2048}, {4096, 2048, 2048},
};
#define N_GEMM_SHAPES ((int)(sizeof gemm_shapes / sizeof gemm_shapes[0]))

/* One sgemm in form `form` (0 NN forward, 1 NT dgrad, 2 TN wgrad) of the op
 * y(m, n) = x(m, k) w(k, n); buffers hold at least max(mk, kn, mn) floats. */
static void sgemm_form(int form, int m, int n, int k, const float *a, const float *b, float *c) {
  if (form == 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
  else if (form == 1) /* dx(m, k) = dy(m, n) w^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, k, n, 1.0f, a, n, b, n, 0.0f, c, k);
  else /* dw(k, n) = x^T dy */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, n, m, 1.0f, a, k, b, n, 0.0f, c, n);
}

/* Times fn(arg) `reps` times after `warm` untimed calls, each call after a
 * barrier; returns median and min of the per-call maximum over ranks. */
typedef void (*mcall)(void *arg);
static mstat timed(MPI_Comm comm, int reps, int warm, mcall fn, void *arg) {
  double *t = calloc((size_t)reps, sizeof *t), *tmax = calloc((size_t)reps, sizeof *t);
  if (!t || !tmax) k_fail("out of memory");
  for (int i = 0; i < warm; i++) fn(arg);
  for (int r = 0; r < reps; r++) {
    KMPI(MPI_Barrier(comm));
    double t0 = k_now();
    fn(arg);
    t[r] = k_now() - t0;
  }
  KMPI(MPI_Allreduce(t, tmax, reps, MPI_DOUBLE, MPI_MAX, comm));
  mstat s = mstats(tmax, reps);
  free(t);
  free(tmax);
  return s;
}

typedef struct gemm_arg {
  int form, m, n, k;
  float *a, *b, *c;
} gemm_arg;

static void gemm_fn(void *p) {
  gemm_arg *g = p;
  sgemm_form(g->form, g->m, g->n, g->k, g->a, g->b, g->c);
}

/* Repeats for a call of about `est_s` seconds: `steps`, fewer for long
 * calls (about 1 s per shape and form), at least 3. */
static int reps_for(int steps, double est_s) {
  int r = steps;
  if (est_s > 0 && (double)r * est_s > 1.0) r = (int)(1.0 / est_s);
  return r < 3 ? 3 : r;
}

static int bench_gemm(MPI_Comm comm, const kmicro_opts *o, FILE *f) {
  size_t maxel = 1;
  for (int i = 0; i < N_GEMM_SHAPES; i++) {
    size_t m = (size_t)gemm_shapes[i][0], n = (size_t)gemm_shapes[i][1], k = (size_t)gemm_shapes[i][2];
    size_t e = m * k > k * n ? m * k : k * n;
    if (m * n > e) e = m * n;
    if (e > maxel) maxel = e;
  }
  float *a = malloc(maxel * sizeof *a), *b = malloc(maxel * sizeof *b), *c = malloc(maxel * sizeof *c);
  if (!a || !b || !c) k_fail("out of memory for the GEMM benchmark");
  for (size_t i = 0; i < maxel; i++) {
    a[i] = 0.01f * k_hash_uniform(11, 0, 0, 0, (int64_t)i);
    b[i] = 0.01f * k_hash_uniform(11, 1, 0, 0, (int64_t)i);
    c[i] = 0.0f;
  }
  gemm_arg g0 = {0, 1, 1, 1, a, b, c};
  mstat over = timed(comm, 200, 20, gemm_fn, &g0);
  if (f) {
    fputs(",\n  ", f);
    jstat(f, "overhead_s", over);
    fputs(",\n  \"rows\": [\n", f);
  }
  static const char *const forms[3] = {"fwd_s", "dgrad_s", "wgrad_s"};
  int nshapes = N_GEMM_SHAPES;
  while (o->quick && nshapes > 1 &&
         2.0 * gemm_shapes[nshapes - 1][0] * (double)gemm_shapes[nshapes - 1][1] *
                 gemm_shapes[nshapes - 1][2] > 1.1e9)
    nshapes--;
  for (int i = 0; i < nshapes; i++) {
    int m = gemm_shapes[i][0], n = gemm_shapes[i][1], k = gemm_shapes[i][2];
    double flops = 2.0 * m * (double)n * k;
    if (f) fprintf(f, "    {\"m\": %d, \"n\": %d, \"k\": %d, \"flops\": %.9g", m, n, k, flops);
    for (int form = 0; form < 3; form++) {
      gemm_arg g = {form, m, n, k, a, b, c};
      mstat s = timed(comm, reps_for(o->reps, flops / 5e10), 1, gemm_fn, &g);
      if (f) {
        fputs(", ", f);
        jstat(f, forms[form], s);
      }
      if (f && f != stdout && !o->quiet && form == 0)
        printf("gemm %5d x %5d x %5d  %10.3g FLOP  fwd median %.4f ms  %.1f GFLOP/s\n", m, n, k,
               flops, s.median * 1e3, flops / s.median * 1e-9);
    }
    if (f) fprintf(f, "}%s\n", i + 1 < nshapes ? "," : "");
  }
  free(a);
  free(b);
  free(c);
  return 0;
}

typedef struct coll_arg {
  int kind; /* 0 all-reduce, 1 reduce-scatter, 2 all-gather */
  int full, shard;
  float *x, *y;
  MPI_Comm comm;
} coll_arg;

static void coll_fn(void *p) {
  coll_arg *c = p;
  if (c->kind == 0)
    KMPI(MPI_Allreduce(MPI_IN_PLACE, c->x, c->full, MPI_FLOAT, MPI_SUM, c->comm));
  else if (c->kind == 1)
    KMPI(MPI_Reduce_scatter_block(c->x, c->y, c->shard, MPI_FLOAT, MPI_SUM, c->comm));
  else
    KMPI(MPI_Allgather(c->y, c->shard, MPI_FLOAT, c->x, c->shard, MPI_FLOAT, c->comm));
}

static int bench_collectives(MPI_Comm comm, int ranks, const kmicro_opts *o, FILE *f) {
  const int64_t lo = 1024, hi = (int64_t)(o->quick ? 4 : 64) << 20; /* bytes of the full tensor */
  float *x = malloc((size_t)hi), *y = malloc((size_t)hi);
  if (!x || !y) k_fail("out of memory for the collectives benchmark");
  for (int64_t i = 0; i < hi / 4; i++) x[i] = y[i] = 1e-3f;
  if (f) fputs(",\n  \"rows\": [\n", f);
  static const char *const names[3] = {"all_reduce_s", "reduce_scatter_s", "all_gather_s"};
  for (int64_t bytes = lo; bytes <= hi; bytes *= 2) {
    int full = (int)(bytes / 4);
    full -= full % ranks; /* whole shards */
    if (f) fprintf(f, "    {\"bytes\": %lld", (long long)full * 4);
    for (int kind = 0; kind < 3; kind++) {
      coll_arg c = {kind, full, full / ranks, x, y, comm};
      /* about 2 GB/s on this machine past the caches: bound the time per size */
      mstat s = timed(comm, reps_for(o->reps, (double)bytes / 2e9), 2, coll_fn, &c);
      if (f) {
        fputs(", ", f);
        jstat(f, names[kind], s);
      }
      if (f && f != stdout && !o->quiet && kind == 0)
        printf("collectives %d ranks %10lld B  all-reduce median %.4f ms\n", ranks,
               (long long)full * 4, s.median * 1e3);
    }
    if (f) fprintf(f, "}%s\n", bytes * 2 <= hi ? "," : "");
  }
  free(x);
  free(y);
  return 0;
}

int k_micro(const char *mode, MPI_Comm comm, const kmicro_opts *o) {
  int rank = 0, ranks = 1;
  KMPI(MPI_Comm_rank(comm, &rank));
  KMPI(MPI_Comm_size(comm, &ranks));
  bool gemm = strcmp(mode, "gemm") == 0, coll = strcmp(mode, "collectives") == 0;
  if (!gemm && !coll) {
    if (rank == 0) fprintf(stderr, "tp-kernel: --bench: '%s' is not one of gemm, collectives\n", mode);
    return 2;
  }
  if (coll && ranks < 2) {
    if (rank == 0) fprintf(stderr, "tp-kernel: --bench collectives needs at least 2 ranks (-n 2)\n");
    return 2;
  }
  FILE *f = NULL;
  char tmp[4096];
  if (rank == 0) {
    if (o->json) {
      snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o->json, (long)getpid());
      f = fopen(tmp, "w");
      if (!f) fprintf(stderr, "tp-kernel: cannot write %s\n", tmp);
    } else {
      f = stdout;
    }
  }
  int ok = rank != 0 || f != NULL;
  KMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  if (!ok) return 1;
  if (f) {
    fprintf(f,
            "{\n  \"tool\": \"tp-kernel\", \"bench\": \"%s\", \"ranks\": %d, \"ranks_per_node\": %d, "
            "\"cpus_online\": %d, \"oversubscribed\": %s, \"reps\": %d,\n  \"blas_library\": \"%s\", "
            "\"units\": \"seconds per call, slowest rank per repeat, median and min over repeats; "
            "bytes of the full tensor\"",
            mode, ranks, o->node_ranks, o->cpus, o->oversubscribed ? "true" : "false", o->reps,
            k_blas_library());
  }
  int st = gemm ? bench_gemm(comm, o, f) : bench_collectives(comm, ranks, o, f);
  int status = st;
  if (f) {
    fputs("  ]\n}\n", f);
    if (f != stdout) {
      bool wok = !ferror(f);
      if (fclose(f) != 0) wok = false;
      if (wok && rename(tmp, o->json) != 0) wok = false;
      if (!wok) {
        remove(tmp);
        fprintf(stderr, "tp-kernel: cannot write %s\n", o->json);
        status = 1;
      }
    }
  }
  KMPI(MPI_Bcast(&status, 1, MPI_INT, 0, comm));
  return status;
}
