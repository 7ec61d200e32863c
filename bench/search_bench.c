/* tp-sim-bench-search: how fast the parallel-space search runs on one core.
 *
 *   tp-sim-bench-search [--model M] [--hw H] [--cards N] [--global-batch B]
 *                       [--seq-len S] [--cp N (hold CP; default searched)]
 *                       [--repeats R] [--seconds S]
 *
 * Defaults: gpt3-175b on a100-80g-sxm, 1,024 cards, global batch 1,536
 * sequences (GPT-3's 3.2M-token batch at 2,048 tokens, Brown et al. 2020
 * Table 2.1). Prints, each as min and median over R repeats:
 *
 *   1. full search: wall seconds of tps_search (cold: every prepared object
 *      built inside the timed call), and grid points per second;
 *   2. hot evaluation: tps_searcher_eval over every configuration that can
 *      be costed, caches warm (arithmetic only), configurations per second;
 *   3. for scale, tps_estimate_run (re-lowers and re-plans every call) on
 *      the same configurations, configurations per second.
 *
 * A benchmark, not a test: it never fails on a slow machine. Single-threaded,
 * so it runs on one core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tpsim/search.h"
#include "tpsim/tpsim.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts v and returns its median; v[0] is then the minimum. */
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what, const tps_error *err) {
  fprintf(stderr, "tp-sim-bench-search: %s: %s\n", what, err->msg);
  exit(1);
}

int main(int argc, char **argv) {
  const char *model_name = "gpt3-175b", *hw_name = "a100-80g-sxm";
  long long cards = 1024, global_batch = 1536, seq_len = 0, cp = 0;
  int repeats = 7;
  double seconds = 0.5; /* minimum length of one hot-evaluation run */
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--model")) model_name = argv[i + 1];
    else if (!strcmp(argv[i], "--hw")) hw_name = argv[i + 1];
    else if (!strcmp(argv[i], "--cards")) cards = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--global-batch")) global_batch = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--seq-len")) seq_len = atoll(argv[i + 1]); /* 0: the model's */
    else if (!strcmp(argv[i], "--cp")) cp = atoll(argv[i + 1]); /* hold CP (0: searched) */
    else if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
    else {
      fprintf(stderr, "usage: tp-sim-bench-search [--model M] [--hw H] [--cards N] "
                      "[--global-batch B] [--repeats R] [--seconds S]\n");
      return 2;
    }
  }
  if (repeats < 1 || repeats > 1000 || cards < 1 || global_batch < 1) {
    fprintf(stderr, "tp-sim-bench-search: bad --repeats, --cards or --global-batch\n");
    return 2;
  }

  static tps_model model;
  static tps_hw hw;
  tps_error err;
  char path[1024];
  if (tps_data_find("models", model_name, path, sizeof path, &err) != TPS_OK) die("--model", &err);
  if (tps_model_load(path, &model, &err) != TPS_OK) die(path, &err);
  if (tps_data_find("hw_profiles", hw_name, path, sizeof path, &err) != TPS_OK) die("--hw", &err);
  if (tps_hw_load(path, &hw, &err) != TPS_OK) die(path, &err);

  tps_search_opts opts;
  tps_search_opts_init(&opts);
  opts.cards = cards;
  opts.global_batch = global_batch;
  opts.seq_len = seq_len;
  opts.cp = cp;

  printf("model %s, hw %s, %lld cards, global batch %lld, %d repeats\n", model.name, hw.name, cards,
         global_batch, repeats);

  /* 1. Full search, cold. */
  double *wall = calloc((size_t)repeats, sizeof *wall);
  double *rate = calloc((size_t)repeats, sizeof *rate);
  if (!wall || !rate) return 1;
  tps_search_result res;
  int64_t grid = 0, evaluated = 0, valid = 0;
  for (int r = 0; r < repeats; r++) {
    double t0 = now_s();
    if (tps_search(&model, &hw, &opts, &res, &err) != TPS_OK) die("search", &err);
    wall[r] = now_s() - t0;
    grid = res.grid;
    evaluated = res.evaluated;
    valid = res.valid;
    rate[r] = (double)res.grid / wall[r];
    if (r + 1 < repeats) tps_search_result_free(&res);
  }
  double wall_med = median(wall, repeats), rate_med = median(rate, repeats);
  printf("full search: %lld grid points (%lld costed, %lld fit), wall min %.4f s, median %.4f s; "
         "%.0f grid points/s and %.0f costed configurations/s (median, preparation included)\n",
         (long long)grid, (long long)evaluated, (long long)valid, wall[0], wall_med, rate_med,
         (double)evaluated / wall_med);
  printf("  best: TP=%lld PP=%lld DP=%lld SP %s recompute %s micro-batch %lld dist-opt %s: %.1f "
         "tokens/s per card\n",
         res.n_top ? (long long)res.top[0].cfg.tp : 0LL, res.n_top ? (long long)res.top[0].cfg.pp : 0LL,
         res.n_top ? (long long)res.top[0].cfg.dp : 0LL, res.n_top && res.top[0].cfg.sp ? "on" : "off",
         res.n_top ? tps_recompute_name(res.top[0].cfg.recompute) : "-",
         res.n_top ? (long long)res.top[0].cfg.micro_batch : 0LL,
         res.n_top && res.top[0].cfg.distributed_optimizer ? "on" : "off",
         res.n_top ? res.top[0].tokens_per_s_per_card : 0.0);
  tps_search_result_free(&res);

  /* The configurations that can be costed, from the same grid. */
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = o.pp = o.dp = o.cards = o.micro_batch = 1;
  o.global_batch = global_batch;
  o.seq_len = seq_len;
  o.memory_margin = TPS_DEFAULT_MEMORY_MARGIN;
  tps_run base;
  if (tps_run_resolve(&model, &o, &base, &err) != TPS_OK) die("run", &err);
  base.cards = cards;
  tps_searcher *s;
  if (tps_searcher_alloc(&model, &hw, &base, &s, &err) != TPS_OK) die("searcher", &err);
  size_t cap = 1 << 16, n = 0;
  tps_search_config *cfgs = malloc(cap * sizeof *cfgs);
  if (!cfgs) return 1;
  for (long long tp = 1; tp <= cards; tp++) {
    if (cards % tp) continue;
    for (long long pp = 1; pp <= cards / tp && pp <= TPS_MAX_STAGES; pp++) {
      if ((cards / tp) % pp) continue;
      for (int sp = 0; sp <= (tp > 1); sp++)
        for (int rc = 0; rc < 3; rc++)
          for (long long mb = 1; mb <= 64; mb++) {
            if (global_batch % mb) continue;
            for (int d = 0; d < 2; d++) {
              tps_search_config c = {.tp = tp, .pp = pp, .dp = cards / (tp * pp), .micro_batch = mb,
                                     .sp = sp, .recompute = rc, .distributed_optimizer = d};
              tps_search_row row;
              if (tps_searcher_eval(s, &c, &row, NULL, NULL) != TPS_OK) continue;
              if (n == cap) break;
              cfgs[n++] = c;
            }
          }
    }
  }
  if (n == 0) {
    fprintf(stderr, "tp-sim-bench-search: no configuration can be costed\n");
    return 1;
  }

  /* 2. Hot evaluation. */
  double sink = 0.0;
  for (int r = 0; r < repeats; r++) {
    int64_t calls = 0;
    double t0 = now_s(), t;
    do {
      for (size_t i = 0; i < n; i++) {
        tps_search_row row;
        tps_searcher_eval(s, &cfgs[i], &row, NULL, NULL);
        sink += row.step_time_s;
      }
      calls += (int64_t)n;
      t = now_s() - t0;
    } while (t < seconds);
    rate[r] = (double)calls / t;
  }
  double hot_med = median(rate, repeats);
  printf("hot evaluation: %zu configurations, %.0f configurations/s (median), min %.0f, max %.0f; "
         "%.3f us each (median)\n",
         n, hot_med, rate[0], rate[repeats - 1], 1e6 / hot_med);
  tps_searcher_free(s);

  /* 3. tps_estimate_run on a sample of the same configurations. */
  size_t sample = n < 400 ? n : 400;
  for (int r = 0; r < repeats; r++) {
    double t0 = now_s();
    for (size_t i = 0; i < sample; i++) {
      const tps_search_config *c = &cfgs[i * n / sample];
      tps_run run;
      tps_estimate est;
      if (tps_search_config_run(&model, &base, c, &run, &err) != TPS_OK ||
          tps_estimate_run(&model, &run, &hw, &est, &err) != TPS_OK)
        die("estimate", &err);
      sink += est.step_time_s;
    }
    rate[r] = (double)sample / (now_s() - t0);
  }
  double slow_med = median(rate, repeats);
  printf("tps_estimate_run (re-lowers every call): %.0f configurations/s (median), min %.0f; %.1f us "
         "each; the fast path is %.0fx faster\n",
         slow_med, rate[0], 1e6 / slow_med, hot_med / slow_med);
  printf("(checksum %.6g)\n", sink);
  free(cfgs);
  free(wall);
  free(rate);
  return 0;
}
