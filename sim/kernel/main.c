/* tp-kernel: the bundled reference tensor-parallel transformer stack.
 *
 * Each MPI rank is one TP rank (TP = number of ranks, or ranks / --cp with
 * context parallelism, TP fastest; with --experts TP is 1 and the ranks are
 * CP x data-parallel ones, expert-parallel groups over them); the matrix work goes
 * through CBLAS with one BLAS thread per rank, the communication through MPI
 * collectives. The layer is the lowering of tpsim/ops.h, executed op by op;
 * see docs/kernel.md. Exit status: 0 success, 1 a run or --check failed,
 * 2 bad usage (including a TP size that does not divide the model). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "kernel.h"

#define K_VERSION "0.1.0"

typedef enum { OT_INT, OT_FLAG, OT_STR, OT_MLP, OT_NORM } otype;

typedef struct kopt {
  const char *name; /* without the leading "--" */
  const char *meta; /* argument placeholder, NULL for flags */
  otype type;
  void *ptr;
  int64_t min; /* OT_INT: smallest accepted value */
  const char *help;
} kopt;

typedef struct kargs {
  kcfg cfg;
  int64_t steps, warmup, fail_rank, seed;
  bool check, quiet, help, version, sp;
  const char *json;
  const char *bench;
  bool bench_quick;
  const char *cp_algo;
} kargs;

/* The option table: parses the command line and prints --help. */
static kopt *options(kargs *a, int *n) {
  static kopt t[32];
  int i = 0;
#define OPT(NAME, META, TYPE, PTR, MIN, HELP) t[i++] = (kopt){NAME, META, TYPE, PTR, MIN, HELP}
  OPT("hidden", "N", OT_INT, &a->cfg.hidden, 1, "model width (default 512)");
  OPT("heads", "N", OT_INT, &a->cfg.heads, 1, "attention heads (default 8); head dim = hidden / heads");
  OPT("kv-heads", "N", OT_INT, &a->cfg.kv_heads, 1, "key/value heads, GQA (default: = heads)");
  OPT("ffn", "N", OT_INT, &a->cfg.ffn, 1, "MLP inner width (default 4 x hidden)");
  OPT("seq-len", "N", OT_INT, &a->cfg.seq, 1, "tokens per sequence (default 512)");
  OPT("micro-batch", "N", OT_INT, &a->cfg.batch, 1, "sequences per step (default 1)");
  OPT("layers", "N", OT_INT, &a->cfg.layers, 1, "identical transformer layers (default 2)");
  OPT("mlp", "gelu|swiglu", OT_MLP, &a->cfg.mlp, 0, "MLP activation (default gelu)");
  OPT("norm", "layernorm|rmsnorm", OT_NORM, &a->cfg.norm, 0, "normalisation (default layernorm)");
  OPT("sp", NULL, OT_FLAG, &a->sp, 0, "sequence parallelism (norms and residuals on a sequence shard)");
  OPT("cp", "N", OT_INT, &a->cfg.cp, 1,
      "context-parallel ranks (default 1): MPI ranks = TP x CP, TP fastest (with --experts: CP x "
      "DP at TP 1); each CP rank holds seq / CP positions");
  OPT("cp-algo", "ring|ulysses", OT_STR, &a->cp_algo, 0,
      "how attention crosses the CP ranks (default ring): K/V blocks around a ring, or "
      "all-to-all of heads");
  OPT("experts", "E", OT_INT, &a->cfg.experts, 1,
      "mixture of experts: every MLP is E routed experts; TP 1, the ranks are (context- and) "
      "data-parallel, EP groups over them (docs/kernel.md)");
  OPT("topk", "K", OT_INT, &a->cfg.topk, 1, "with --experts: experts per token (default 2)");
  OPT("moe-ffn", "N", OT_INT, &a->cfg.moe_ffn, 1, "with --experts: one expert's inner width (default: --ffn)");
  OPT("ep", "N", OT_INT, &a->cfg.ep, 1,
      "with --experts: expert-parallel ranks, dividing the ranks and E (default: all ranks)");
  OPT("steps", "N", OT_INT, &a->steps, 1, "timed steps (default 10)");
  OPT("warmup", "N", OT_INT, &a->warmup, 0, "untimed steps before them (default 2)");
  OPT("json", "FILE", OT_STR, &a->json, 0, "write the measurements to FILE (schema: docs/kernel.md)");
  OPT("check", NULL, OT_FLAG, &a->check, 0,
      "compare output and gradients with TP = 1 (max_rel_err <= 1e-4) and backward with finite "
      "differences");
  OPT("bench", "gemm|collectives", OT_STR, &a->bench, 0,
      "micro-benchmark for tp-sim calibrate instead of the layer: sgemm at fixed shapes, or "
      "all-reduce / reduce-scatter / all-gather of 1 KiB..64 MiB; --steps = repeats; JSON table");
  OPT("bench-quick", NULL, OT_FLAG, &a->bench_quick, 0,
      "with --bench: a short sweep (GEMMs up to 1.1e9 FLOPs, messages up to 4 MiB), for CI");
  OPT("seed", "N", OT_INT, &a->seed, 0, "seed of the weights and inputs (default 1234)");
  OPT("quiet", NULL, OT_FLAG, &a->quiet, 0, "no table on stdout (with --json)");
  OPT("fail-rank", "R", OT_INT, &a->fail_rank, 0,
      "testing: rank R makes an invalid MPI call at the first timed step (the job must end non-zero)");
  OPT("help", NULL, OT_FLAG, &a->help, 0, "this text");
  OPT("version", NULL, OT_FLAG, &a->version, 0, "print the version");
#undef OPT
  *n = i;
  return t;
}

static void print_help(kargs *a) {
  int n;
  kopt *t = options(a, &n);
  printf("usage: mpirun -n TP tp-kernel [options]   (or the launcher: tp-kernel-run -n TP [options])\n"
         "One tensor-parallel transformer stack, forward and backward in fp32: TP = number of MPI\n"
         "ranks (/ --cp; --experts: TP 1). Times every op of the lowering (tpsim/ops.h) and compares GEMMs with sgemm.\n\n");
  for (int i = 0; i < n; i++) {
    char lhs[64];
    snprintf(lhs, sizeof lhs, "--%s%s%s", t[i].name, t[i].meta ? " " : "", t[i].meta ? t[i].meta : "");
    printf("  %-28s %s\n", lhs, t[i].help);
  }
  printf("\nexit status: 0 success, 1 a run or --check failed, 2 bad usage\n");
}

/* Parses argv into a; on error writes a message and returns false. */
static bool parse(int argc, char **argv, kargs *a, char *msg, size_t len) {
  int n;
  kopt *t = options(a, &n);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0) {
      snprintf(msg, len, "unexpected argument '%s'", arg);
      return false;
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    kopt *o = NULL;
    for (int j = 0; j < n; j++)
      if (strlen(t[j].name) == nlen && strncmp(t[j].name, name, nlen) == 0) o = &t[j];
    if (!o) {
      snprintf(msg, len, "unknown option '%s'", arg);
      return false;
    }
    if (o->type == OT_FLAG) {
      if (eq) {
        snprintf(msg, len, "--%s takes no value", o->name);
        return false;
      }
      *(bool *)o->ptr = true;
      continue;
    }
    const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!val) {
      snprintf(msg, len, "--%s needs a value (%s)", o->name, o->meta);
      return false;
    }
    switch (o->type) {
      case OT_INT: {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end) {
          snprintf(msg, len, "--%s: '%s' is not an integer", o->name, val);
          return false;
        }
        if (v < o->min) {
          snprintf(msg, len, "--%s: %lld is below the minimum %lld", o->name, v, (long long)o->min);
          return false;
        }
        *(int64_t *)o->ptr = v;
        break;
      }
      case OT_STR:
        *(const char **)o->ptr = val;
        break;
      case OT_MLP:
      case OT_NORM: {
        const char *a0 = o->type == OT_MLP ? "gelu" : "layernorm";
        const char *a1 = o->type == OT_MLP ? "swiglu" : "rmsnorm";
        int v = strcmp(val, a0) == 0 ? 0 : strcmp(val, a1) == 0 ? 1 : -1;
        if (v < 0) {
          snprintf(msg, len, "--%s: '%s' is not one of %s, %s", o->name, val, a0, a1);
          return false;
        }
        if (o->type == OT_MLP)
          *(tps_mlp_kind *)o->ptr = v ? TPS_MLP_SWIGLU : TPS_MLP_GELU;
        else
          *(tps_norm_kind *)o->ptr = v ? TPS_NORM_RMSNORM : TPS_NORM_LAYERNORM;
        break;
      }
      default:
        break;
    }
  }
  return true;
}

int main(int argc, char **argv) {
  /* One BLAS thread per rank: the environment for any BLAS that reads it
   * lazily, and OpenBLAS's own switch (it reads the environment when the
   * library loads, before main). */
  setenv("OPENBLAS_NUM_THREADS", "1", 1);
  setenv("OMP_NUM_THREADS", "1", 1);
#ifdef TPK_HAVE_OPENBLAS
  openblas_set_num_threads(1);
#endif
  int rc = MPI_Init(&argc, &argv);
  if (rc != MPI_SUCCESS) {
    fprintf(stderr, "tp-kernel: MPI_Init failed (error %d)\n", rc);
    return 1;
  }
  KMPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  KMPI(MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN));
  int rank = 0;
  KMPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  const double rss_start = k_vmrss();

  kargs a;
  memset(&a, 0, sizeof a);
  a.cfg.hidden = 512;
  a.cfg.heads = 8;
  a.cfg.seq = 512;
  a.cfg.batch = 1;
  a.cfg.layers = 2;
  a.cfg.mlp = TPS_MLP_GELU;
  a.cfg.norm = TPS_NORM_LAYERNORM;
  a.cfg.cp = 1;
  a.steps = 10;
  a.warmup = 2;
  a.seed = 1234;
  a.fail_rank = -1;
  char msg[512];
  int status = 0;
  if (!parse(argc, argv, &a, msg, sizeof msg)) {
    if (rank == 0) fprintf(stderr, "tp-kernel: %s\nhint: tp-kernel --help\n", msg);
    status = 2;
  } else if (a.cp_algo && strcmp(a.cp_algo, "ring") != 0 && strcmp(a.cp_algo, "ulysses") != 0) {
    if (rank == 0)
      fprintf(stderr, "tp-kernel: --cp-algo: '%s' is not one of ring, ulysses\nhint: tp-kernel --help\n",
              a.cp_algo);
    status = 2;
  } else if (a.help || a.version) {
    if (rank == 0) {
      if (a.help)
        print_help(&a);
      else
        printf("tp-kernel %s\n", K_VERSION);
    }
  } else {
    kcfg cfg = a.cfg;
    if (cfg.kv_heads == 0) cfg.kv_heads = cfg.heads;
    if (cfg.ffn == 0) cfg.ffn = 4 * cfg.hidden;
    if (cfg.experts > 0 && cfg.topk == 0) cfg.topk = 2;
    if (cfg.experts > 0 && cfg.moe_ffn == 0) cfg.moe_ffn = cfg.ffn;
    cfg.sp = a.sp;
    cfg.cp_algo = a.cp_algo && strcmp(a.cp_algo, "ulysses") == 0 ? TPS_CP_ULYSSES : TPS_CP_RING;
    cfg.seed = (uint64_t)a.seed;

    MPI_Comm tpc, node;
    KMPI(MPI_Comm_dup(MPI_COMM_WORLD, &tpc));
    KMPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
    kbench_opts o;
    memset(&o, 0, sizeof o);
    KMPI(MPI_Comm_size(node, &o.node_ranks));
    KMPI(MPI_Comm_free(&node));
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o.cpus = cpus > 0 ? (int)cpus : 1;
    o.oversubscribed = o.node_ranks > o.cpus;
    int vlen = 0;
    char ver[MPI_MAX_LIBRARY_VERSION_STRING];
    KMPI(MPI_Get_library_version(ver, &vlen));
    ver[strcspn(ver, "\n")] = '\0';
    snprintf(o.mpi_library, sizeof o.mpi_library, "%s", ver);
    o.steps = a.steps;
    o.warmup = a.warmup;
    o.json = a.json;
    o.fail_rank = (int)a.fail_rank;
    o.quiet = a.quiet;
    o.rss_start = rss_start;
    if (a.bench) {
      kmicro_opts mo = {(int)(a.steps < 1000 ? a.steps : 1000), a.json, a.quiet, a.bench_quick, o.node_ranks,
                        o.cpus, o.oversubscribed};
      status = k_micro(a.bench, tpc, &mo);
    } else if (a.check)
      status = k_check(&cfg, tpc, K_CHECK_TOL, K_FD_TOL);
    else
      status = k_bench(&cfg, tpc, &o);
    KMPI(MPI_Comm_free(&tpc));
  }
  MPI_Finalize();
  return status;
}
