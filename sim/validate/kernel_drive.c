/* The two commands that run tp-kernel (through kernel_run.c): `tp-sim
 * calibrate` (micro-benchmarks and calibration layer runs, fitted into
 * profiles by kernel_fit.c) and `tp-sim validate --kernel` (the grid of
 * layer runs, compared with the engine by kernel_validate.c; missing
 * profiles are calibrated first). Kept apart from the fitting and the
 * comparison, which are pure and call each other one way only: fit ->
 * compare (backward_buffers is fitted through kv_compare). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/outfile.h"
#include "validate/kernel_validate.h"

/* ---- calibrate: run the benchmarks, fit, write ---- */

static double host_memory(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  double kb = 0.0;
  if (!f) return 0.0;
  char line[256];
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemTotal: %lf kB", &kb) == 1) break;
  fclose(f);
  return kb * 1024.0;
}

/* Calibration layer shapes: outside the validation grid (hidden 768, heads
 * 12), so that the attention and elementwise fits are not fitted to the
 * cases they then predict. */
typedef struct cal_layer {
  const char *seq, *kv, *mlp;
} cal_layer;
static const cal_layer cal_layers[] = {{"128", "12", "gelu"}, {"512", "4", "swiglu"}, {"1536", "12", "gelu"}};

/* The profiles of one calibration, written only once every run succeeded:
 * each to a temporary first, then all renamed (base/outfile.h). */
static tps_status write_profiles(const tps_hw *hw, char (*paths)[1024], int n, FILE *log, char *written,
                                 size_t written_size, tps_error *err) {
  tps_outfile *o = calloc((size_t)n + 1, sizeof *o);
  if (!o) return tps_error_set(err, TPS_ENOMEM, "", 0, 0, "out of memory");
  tps_status st = TPS_OK;
  int opened = 0;
  for (int i = 0; i < n && st == TPS_OK; i++) {
    if ((st = tps_outfile_open(&o[i], paths[i], err))) break;
    opened++;
    kv_profile_render(o[i].f, &hw[i]);
    st = tps_outfile_finish(&o[i], err);
  }
  for (int i = 0; i < n && st == TPS_OK; i++) {
    if ((st = tps_outfile_commit(&o[i], err))) break;
    if (log) fprintf(log, "calibrate: wrote %s\n", paths[i]);
    if (written && written_size) {
      size_t u = strlen(written);
      snprintf(written + u, written_size - u, "%s\n", paths[i]);
    }
  }
  for (int i = 0; i < opened; i++) tps_outfile_discard(&o[i]);
  free(o);
  return st;
}

enum { KV_MAX_PROFILES = 8 }; /* 4 TP sizes x (SP or not) */

/* A failed calibration run: its error, the TP size named. */
static tps_status run_failed(int tp, tps_status st, tps_error *err) {
  if (err && !kv_interrupted()) {
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "calibrate, TP %d: %.480s", tp, err->msg);
    snprintf(err->msg, sizeof err->msg, "%s", msg);
  }
  return st;
}

tps_status kv_calibrate(const kv_calibrate_opts *o, char *written, size_t written_size, tps_error *err) {
  char launcher[1024], dir[900], reps[16];
  tps_status st;
  if (written && written_size) written[0] = '\0';
  if (o->launcher)
    snprintf(launcher, sizeof launcher, "%s", o->launcher);
  else if ((st = kv_find_launcher(launcher, sizeof launcher, err)))
    return st;
  bool made = false;
  if ((st = kv_workdir_make(o->workdir, dir, sizeof dir, &made, err))) return st;
  kv_signals_begin();
  double timeout = o->timeout_s > 0 ? o->timeout_s : KV_TIMEOUT_DEFAULT_S;
  const char *prefix = o->prefix ? o->prefix : "hw_profiles/local";
  snprintf(reps, sizeof reps, "%d", o->reps > 0 ? o->reps : (o->quick ? 3 : 7));
  int tps[4] = {1, 2, 4, 0};
  if (o->tps[0]) memcpy(tps, o->tps, sizeof tps);
  kv_kernel_run *layers = calloc(3, sizeof *layers);
  kv_gemm_bench *gemm = calloc(1, sizeof *gemm);
  kv_coll_bench *coll = calloc(1, sizeof *coll);
  tps_hw *fitted = calloc(KV_MAX_PROFILES, sizeof *fitted);
  char (*paths)[1024] = calloc(KV_MAX_PROFILES, sizeof *paths);
  int n_fitted = 0;
  if (!layers || !gemm || !coll || !fitted || !paths) {
    st = tps_error_set(err, TPS_ENOMEM, "", 0, 0, "out of memory");
    goto done;
  }
  char host[128] = "unknown";
  gethostname(host, sizeof host - 1);
  for (int ti = 0; ti < 4 && tps[ti] > 0; ti++) {
    int tp = tps[ti];
    double load0 = kv_loadavg();
    if (o->log) fprintf(o->log, "calibrate: TP %d (%d ranks)\n", tp, tp);
    char gpath[1024], cpath[1024];
    snprintf(gpath, sizeof gpath, "%s/gemm-tp%d.json", dir, tp);
    const char *ga[] = {"--bench", "gemm", "--steps", reps, "--quiet", "--json", gpath,
                        o->quick ? "--bench-quick" : NULL, NULL};
    if ((st = kv_run_kernel(launcher, tp, ga, o->log, timeout, err)) || (st = kv_gemm_bench_load(gpath, gemm, err))) {
      st = run_failed(tp, st, err);
      goto done;
    }
    if (tp > 1) {
      snprintf(cpath, sizeof cpath, "%s/coll-tp%d.json", dir, tp);
      const char *ca[] = {"--bench", "collectives", "--steps", reps, "--quiet", "--json", cpath,
                          o->quick ? "--bench-quick" : NULL, NULL};
      if ((st = kv_run_kernel(launcher, tp, ca, o->log, timeout, err)) ||
          (st = kv_coll_bench_load(cpath, coll, err))) {
        st = run_failed(tp, st, err);
        goto done;
      }
    }
    int nl = o->quick ? 1 : 3;
    for (int li = 0; li < nl; li++) {
      char lpath[1024];
      snprintf(lpath, sizeof lpath, "%s/layer-tp%d-%d.json", dir, tp, li);
      const cal_layer *c = &cal_layers[li];
      const char *la_full[] = {"--hidden", "768", "--heads", "12", "--kv-heads", c->kv, "--seq-len", c->seq,
                               "--mlp", c->mlp, "--layers", "1", "--steps", "5", "--warmup", "1",
                               "--quiet", "--json", lpath, NULL};
      const char *la_quick[] = {"--hidden", "256", "--heads", "4", "--seq-len", "128", "--layers", "1",
                                "--steps", "3", "--warmup", "1", "--quiet", "--json", lpath, NULL};
      if ((st = kv_run_kernel(launcher, tp, o->quick ? la_quick : la_full, o->log, timeout, err)) ||
          (st = kv_kernel_run_load(lpath, &layers[li], err))) {
        st = run_failed(tp, st, err);
        goto done;
      }
    }
    double load1 = kv_loadavg();
    time_t now = time(NULL);
    struct tm tmv;
    char date[64];
    gmtime_r(&now, &tmv);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    for (int sp = 0; sp <= (tp > 1) && n_fitted < KV_MAX_PROFILES; sp++) {
      char name[TPS_NAME_MAX], src[TPS_SOURCE_MAX], coll_text[200];
      double top = tp > 1 && coll->n > 0 ? coll->bytes[coll->n - 1] / 1048576.0 : 0.0; /* MiB */
      if (tp == 1)
        snprintf(coll_text, sizeof coll_text, "no collectives (TP 1)");
      else
        snprintf(coll_text, sizeof coll_text, "intra_link fitted to %s, 1 KiB..%.0f MiB",
                 sp ? "MPI_Reduce_scatter_block + MPI_Allgather (the SP collectives)"
                    : "MPI_Allreduce (the non-SP collective)",
                 top);
      const char *base = strrchr(prefix, '/') ? strrchr(prefix, '/') + 1 : prefix;
      snprintf(name, sizeof name, "%.40s-tp%d%s", base, tp, sp ? "-sp" : "");
      snprintf(src, sizeof src,
               "measured by tp-sim calibrate%s on host %s, %s, %ld CPUs online, %d ranks%s; 1-minute load "
               "average %.2f before, %.2f after. tp-kernel --bench gemm (sgemm fwd/dgrad/wgrad at %d shapes, "
               "%s repeats, median) -> peak_flops, gemm_efficiency, kernel_overhead (1x1x1 sgemm); %s; "
               "%d calibration layer run(s) (hidden %s, not in the validation grid) -> attention_efficiency, "
               "memory_bandwidth (norm/activation/residual bytes per second), runtime_reserve (VmRSS before "
               "buffers).",
               o->quick ? " --quick" : "", host, date, cpus, tp,
               tp > cpus ? " (OVERSUBSCRIBED: per-rank speed is not per-core speed)" : "", load0, load1,
               gemm->n, reps,
               coll_text,
               nl, o->quick ? "256" : "768");
      kv_fit_input in = {tp, sp != 0, gemm, tp > 1 ? coll : NULL, layers, nl, name, src, host_memory()};
      if ((st = kv_fit_profile(&in, &fitted[n_fitted], err))) goto done;
      if ((size_t)snprintf(paths[n_fitted], sizeof paths[n_fitted], "%s-tp%d%s.yaml", prefix, tp,
                           sp ? "-sp" : "") >= sizeof paths[n_fitted]) {
        st = tps_error_set(err, TPS_EINVAL, "", 0, 0, "-o PREFIX: '%.200s...' is too long", prefix);
        goto done;
      }
      n_fitted++;
    }
  }
  /* Every run succeeded: now, and only now, the profiles. */
  st = kv_interrupted() ? kv_interrupted_error(err)
                        : write_profiles(fitted, paths, n_fitted, o->log, written, written_size, err);
done:
  free(layers);
  free(gemm);
  free(coll);
  free(fitted);
  free(paths);
  if (made) kv_workdir_remove(dir);
  kv_signals_end();
  return st;
}

/* ---- validate --kernel: run the grid, compare ---- */

/* Profile file of a TP size (kv_config_profile_ranks): PREFIX-tpN[-sp].yaml, resolved as a bundled
 * name when PREFIX has no '/', else as a path. */
static tps_status profile_for(const char *prefix, int tp, bool sp, char *out, size_t size, tps_error *err) {
  char name[1200];
  bool path = strchr(prefix, '/') != NULL;
  int w = snprintf(name, sizeof name, "%s-tp%d%s%s", prefix, tp, sp && tp > 1 ? "-sp" : "",
                   path ? ".yaml" : "");
  if (w < 0 || (size_t)w >= sizeof name)
    return tps_error_set(err, TPS_EINVAL, "", 0, 0, "--hw-prefix: '%.200s...' is too long", prefix);
  return tps_data_find("hw_profiles", name, out, size, err);
}

/* A failed case fails the validation: its error, the case named. */
static tps_status case_failed(const char *id, const tps_error *e, tps_error *err) {
  if (err) {
    *err = *e;
    snprintf(err->msg, sizeof err->msg, "validate --kernel: case %.60s: %.400s", id, e->msg);
  }
  return e->status ? e->status : TPS_EIO;
}

tps_status kv_validate(const kv_validate_opts *o, kv_report *rep, tps_error *err) {
  memset(rep, 0, sizeof *rep);
  char launcher[1024], dir[900], prefix[1024];
  tps_status st;
  if (o->launcher)
    snprintf(launcher, sizeof launcher, "%s", o->launcher);
  else if ((st = kv_find_launcher(launcher, sizeof launcher, err)))
    return st;
  double timeout = o->timeout_s > 0 ? o->timeout_s : KV_TIMEOUT_DEFAULT_S;
  const kv_config *grid = NULL;
  int n = kv_grid(o->quick, &grid);
  rep->cases = calloc((size_t)n, sizeof *rep->cases);
  if (!rep->cases) return tps_error_set(err, TPS_ENOMEM, "", 0, 0, "out of memory");
  bool made = false;
  if ((st = kv_workdir_make(o->workdir, dir, sizeof dir, &made, err))) return st;
  kv_signals_begin();
  kv_kernel_run *run = NULL;
  tps_hw *hw = NULL, *one = NULL;
  /* Profiles: one given, or PREFIX-tpN[-sp]; missing ones are calibrated
   * first into the work directory (never into the data directory). */
  snprintf(prefix, sizeof prefix, "%s", o->prefix ? o->prefix : "local");
  if (o->hw) {
    char path[1024];
    one = calloc(1, sizeof *one);
    if (!one) {
      st = tps_error_set(err, TPS_ENOMEM, "", 0, 0, "out of memory");
      goto done;
    }
    if ((st = tps_data_find("hw_profiles", o->hw, path, sizeof path, err)) || (st = tps_hw_load(path, one, err)))
      goto done;
    snprintf(rep->profile, sizeof rep->profile, "%.500s", path);
  } else {
    bool missing = false;
    int want[4] = {0};
    int nw = 0;
    for (int i = 0; i < n; i++) {
      char path[1024];
      tps_error e2;
      tps_error_clear(&e2);
      char id[KV_ID_MAX];
      kv_config_id(&grid[i], id, sizeof id);
      if (o->only && !strstr(id, o->only)) continue;
      const int ranks = kv_config_profile_ranks(&grid[i]);
      if (profile_for(prefix, ranks, grid[i].sp, path, sizeof path, &e2) != TPS_OK) {
        missing = true;
        bool have = false;
        for (int j = 0; j < nw; j++) have = have || want[j] == ranks;
        if (!have && nw < 3) want[nw++] = ranks;
      }
    }
    if (missing) {
      kv_calibrate_opts co;
      memset(&co, 0, sizeof co);
      snprintf(prefix, sizeof prefix, "%s/local", dir);
      co.prefix = prefix;
      co.launcher = launcher;
      co.workdir = dir;
      co.quick = o->quick;
      co.timeout_s = timeout;
      co.log = o->log;
      memcpy(co.tps, want, sizeof want);
      if (o->log) fprintf(o->log, "validate: no calibrated profile %s-tpN; calibrating into %s\n",
                          o->prefix ? o->prefix : "local", dir);
      if ((st = kv_calibrate(&co, NULL, 0, err))) goto done;
    }
    snprintf(rep->profile, sizeof rep->profile, "%.490s-tpN[-sp]", prefix);
  }
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  rep->cpus = cpus > 0 ? (int)cpus : 1;
  gethostname(rep->host, sizeof rep->host - 1);
  time_t now = time(NULL);
  struct tm tmv;
  gmtime_r(&now, &tmv);
  strftime(rep->date, sizeof rep->date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
  rep->load_before = kv_loadavg();
  int steps = o->steps > 0 ? o->steps : (o->quick ? 3 : 5);
  int layers = o->layers > 0 ? o->layers : 2;
  run = calloc(1, sizeof *run);
  hw = calloc(1, sizeof *hw);
  if (!run || !hw) {
    st = tps_error_set(err, TPS_ENOMEM, "", 0, 0, "out of memory");
    goto done;
  }
  st = TPS_OK;
  int compared = 0, skipped = 0;
  const char *first_skip = NULL;
  for (int i = 0; i < n; i++) {
    const kv_config *g = &grid[i];
    kv_case *c = &rep->cases[rep->n_cases];
    kv_config_id(g, c->id, sizeof c->id);
    if (o->only && !strstr(c->id, o->only)) continue;
    rep->n_cases++;
    const int ranks = kv_config_ranks(g);
    c->tp = g->tp;
    c->cp = g->cp > 1 ? g->cp : 1;
    c->sp = g->sp;
    c->swiglu = g->swiglu;
    c->gqa = g->kv_heads != g->heads;
    c->hidden = g->hidden;
    c->heads = g->heads;
    c->kv_heads = g->kv_heads;
    c->seq = g->seq;
    c->micro_batch = g->micro_batch;
    c->layers = layers;
    c->oversubscribed = ranks > rep->cpus;
    tps_error e;
    tps_error_clear(&e);
    char path[1024], hwpath[1024], a[10][24];
    if (one) {
      *hw = *one;
    } else if (profile_for(prefix, kv_config_profile_ranks(g), g->sp, hwpath, sizeof hwpath, &e) ||
               tps_hw_load(hwpath, hw, &e)) {
      /* not a run: this case cannot be predicted, the others still can */
      snprintf(c->skipped, sizeof c->skipped, "profile: %.480s", e.msg);
      skipped++;
      if (!first_skip) first_skip = c->skipped;
      continue;
    }
    snprintf(path, sizeof path, "%s/%s.json", dir, c->id);
    snprintf(a[0], sizeof a[0], "%lld", (long long)g->hidden);
    snprintf(a[1], sizeof a[1], "%lld", (long long)g->heads);
    snprintf(a[2], sizeof a[2], "%lld", (long long)g->kv_heads);
    snprintf(a[3], sizeof a[3], "%lld", (long long)g->seq);
    snprintf(a[4], sizeof a[4], "%lld", (long long)g->micro_batch);
    snprintf(a[5], sizeof a[5], "%d", layers);
    snprintf(a[6], sizeof a[6], "%d", steps);
    snprintf(a[7], sizeof a[7], "%d", c->cp);
    snprintf(a[8], sizeof a[8], "%lld", (long long)g->experts);
    snprintf(a[9], sizeof a[9], "%lld", (long long)g->topk);
    const char *args[32] = {"--hidden", a[0], "--heads", a[1], "--kv-heads", a[2], "--seq-len", a[3],
                            "--micro-batch", a[4], "--layers", a[5], "--steps", a[6], "--warmup", "1",
                            "--mlp", g->swiglu ? "swiglu" : "gelu", "--quiet", "--json", path};
    int na = 0;
    while (args[na]) na++;
    if (g->sp) args[na++] = "--sp";
    if (c->cp > 1) {
      args[na++] = "--cp";
      args[na++] = a[7];
      args[na++] = "--cp-algo";
      args[na++] = g->ulysses ? "ulysses" : "ring";
    }
    if (g->experts > 0) { /* MoE: the ranks are EP (data-parallel) ranks */
      args[na++] = "--experts";
      args[na++] = a[8];
      args[na++] = "--topk";
      args[na++] = a[9];
    }
    args[na] = NULL;
    if (o->log) fprintf(o->log, "validate: %s (%d/%d)\n", c->id, i + 1, n);
    /* A failed run (exit status, signal, timeout, unreadable or impossible
     * JSON) fails the validation: never a case quietly left out. */
    if (kv_run_kernel(launcher, ranks, args, o->log, timeout, &e) || kv_kernel_run_load(path, run, &e)) {
      st = kv_interrupted() ? kv_interrupted_error(err) : case_failed(c->id, &e, err);
      break;
    }
    if ((st = kv_compare(run, hw, c, err))) break;
    compared++;
  }
  if (st == TPS_OK && kv_interrupted()) st = kv_interrupted_error(err);
  if (st == TPS_OK && compared == 0) {
    st = tps_error_set(err, TPS_EMEASURE, "", 0, 0,
                       "validate --kernel: no case was compared (%d of %d skipped%s%.300s): no MAPE to report",
                       skipped, rep->n_cases, first_skip ? "; the first: " : "", first_skip ? first_skip : "");
  }
  rep->load_after = kv_loadavg();
  kv_summarize(rep);
done:
  free(run);
  free(hw);
  free(one);
  if (made) kv_workdir_remove(dir);
  kv_signals_end();
  return st;
}
