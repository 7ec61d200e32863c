/* Search tests: the fast path against tps_estimate_run (identical: both call
 * the one evaluator, so no digit may differ)
 * on every configuration of small grids over bundled models, determinism and
 * the documented tie order, a tiny model whose best configuration follows by
 * hand, the Pareto front, the skip counts, the progress hook, the fast table
 * interpolation against GSL, and extreme inputs that used to overflow int64. */
#include <criterion/criterion.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_interp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/search_report.h"
#include "tpsim/search.h"
#include "tpsim/tpsim.h"

static void load(const char *model_name, const char *hw_name, tps_model *m, tps_hw *hw) {
  char path[1024];
  tps_error err;
  const char *dir = getenv("TPSIM_DATA_DIR");
  cr_assert(dir, "TPSIM_DATA_DIR is not set");
  snprintf(path, sizeof path, "%s/models/%s.yaml", dir, model_name);
  cr_assert_eq(tps_model_load(path, m, &err), TPS_OK, "%s: %s", path, err.msg);
  snprintf(path, sizeof path, "%s/hw_profiles/%s.yaml", dir, hw_name);
  cr_assert_eq(tps_hw_load(path, hw, &err), TPS_OK, "%s: %s", path, err.msg);
}

static double rel(double a, double e) { return fabs(a - e) / (fabs(e) > 0 ? fabs(e) : 1.0); }

/* The resolved base run a search would use, at CP ranks of cp_algo (-1: the
 * model's) and seq_len (0: the model's). */
static tps_run base_run_cp(const tps_model *m, int64_t cards, int64_t global_batch, double margin,
                           int64_t cp, int cp_algo, int64_t seq_len) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = o.pp = o.dp = o.micro_batch = 1;
  o.cards = o.cp = cp;
  o.cp_algo = cp_algo;
  o.seq_len = seq_len;
  o.ep = o.etp = 1;
  o.global_batch = global_batch;
  o.memory_margin = margin;
  tps_run run;
  tps_error err;
  cr_assert_eq(tps_run_resolve(m, &o, &run, &err), TPS_OK, "%s", err.msg);
  run.cards = cards;
  return run;
}

/* Every configuration of the grid (TP, PP divisors of cards; SP; recompute;
 * micro-batches; distributed optimizer; VPP 1 and 2) through both paths. */
static void compare_grid_cp(const char *model_name, const char *hw_name, int64_t cards,
                            int64_t global_batch, const int64_t *mbs, int n_mbs, int64_t cp,
                            int cp_algo, int64_t seq_len) {
  /* Expert layouts (EP, ETP; 0 = none / = TP) tried with a model with experts. */
  static const int64_t lay_ep[] = {0, 1, 2, 4, 8, 2, 8, 3}, lay_etp[] = {0, 0, 0, 0, 0, 1, 1, 0};
  static tps_model m;
  static tps_hw hw;
  load(model_name, hw_name, &m, &hw);
  hw.backward_buffers = 2.0; /* exercise every memory term in both paths */
  tps_run base = base_run_cp(&m, cards, global_batch, 0.05, cp, cp_algo, seq_len);
  const int64_t pool = cards / cp; /* TP x PP x DP */
  tps_searcher *s;
  tps_error err;
  cr_assert_eq(tps_searcher_alloc(&m, &hw, &base, &s, &err), TPS_OK, "%s", err.msg);
  int compared = 0, refused = 0;
  double worst = 0.0;
  char worst_what[256] = "";
  bool moe = false;
  for (int i = 0; i < m.n_modules; i++) moe = moe || m.modules[i].experts > 0;
  const int n_lay = moe ? (int)(sizeof lay_ep / sizeof lay_ep[0]) : 1;
  for (int li = moe ? 1 : 0; li < n_lay; li++)
  for (int64_t tp = 1; tp <= pool; tp++) {
    if (pool % tp) continue;
    for (int64_t pp = 1; pp <= pool / tp; pp++) {
      if ((pool / tp) % pp) continue;
      for (int sp = 0; sp <= (tp > 1); sp++)
        for (int rc = 0; rc < 3; rc++)
          for (int mi = 0; mi < n_mbs; mi++)
            for (int dv = 0; dv < 4; dv++) { /* distributed optimizer x VPP 1 / 2 */
              int dopt = dv & 1;
              int64_t vpp = dv & 2 ? 2 : 1;
              tps_search_config c = {.tp = tp, .pp = pp, .dp = pool / (tp * pp),
                                     .micro_batch = mbs[mi], .sp = sp, .recompute = rc,
                                     .distributed_optimizer = dopt, .vpp = vpp,
                                     .ep = lay_ep[li], .etp = lay_etp[li], .cp = cp,
                                     .cp_algo = (int)base.cp_algo};
              tps_search_row row;
              tps_skip_reason why;
              tps_status fast = tps_searcher_eval(s, &c, &row, &why, &err);
              tps_run run;
              tps_estimate est;
              tps_status slow = tps_search_config_run(&m, &base, &c, &run, &err);
              if (slow == TPS_OK) slow = tps_estimate_run(&m, &run, &hw, &est, &err);
              cr_assert_eq(fast == TPS_OK, slow == TPS_OK,
                           "%s TP=%lld PP=%lld SP=%d rc=%d mb=%lld: fast %s, estimate %s (%s)",
                           model_name, (long long)tp, (long long)pp, sp, rc, (long long)mbs[mi],
                           tps_status_name(fast), tps_status_name(slow), err.msg);
              if (fast != TPS_OK) {
                refused++;
                continue;
              }
              compared++;
              struct {
                const char *what;
                double a, e;
              } f[] = {
                  {"step_time_s", row.step_time_s, est.step_time_s},
                  {"memory.total", row.memory.total, est.memory.total},
                  {"memory.weights", row.memory.weights, est.memory.weights},
                  {"memory.grads", row.memory.grads, est.memory.grads},
                  {"memory.runtime_reserve", row.memory.runtime_reserve, est.memory.runtime_reserve},
                  {"memory.optimizer", row.memory.optimizer, est.memory.optimizer},
                  {"memory.activations", row.memory.activations, est.memory.activations},
                  {"tokens_per_s_per_card", row.tokens_per_s_per_card, est.tokens_per_s_per_card},
                  {"tokens_per_s", row.tokens_per_s, est.tokens_per_s},
                  {"time.compute", row.time.compute, est.time.compute},
                  {"time.tp_comm", row.time.tp_comm, est.time.tp_comm},
                  {"time.pp_bubble", row.time.pp_bubble, est.time.pp_bubble},
                  {"time.dp_comm", row.time.dp_comm, est.time.dp_comm},
                  {"time.optimizer", row.time.optimizer, est.time.optimizer},
                  {"time.overhead", row.time.overhead, est.time.overhead},
                  {"mfu", row.mfu, est.mfu},
              };
              for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
                double r = rel(f[k].a, f[k].e);
                if (r > worst) {
                  worst = r;
                  snprintf(worst_what, sizeof worst_what, "%s at TP=%lld PP=%lld SP=%d rc=%d mb=%lld do=%d: %.12g vs %.12g",
                           f[k].what, (long long)tp, (long long)pp, sp, rc, (long long)mbs[mi], dopt,
                           f[k].a, f[k].e);
                }
              }
              cr_assert_eq(row.fits_with_margin, est.fits_with_margin, "fits differs at TP=%lld PP=%lld",
                           (long long)tp, (long long)pp);
              cr_assert_eq(row.micro_batches, run.micro_batches);
            }
    }
  }
  cr_log_info("%s: %d configurations compared, %d refused by both; worst rel diff %.3g (%s)",
              model_name, compared, refused, worst, worst_what);
  cr_assert_gt(compared, 0);
  /* One evaluator behind both: the same operations in the same order. */
  cr_assert_eq(worst, 0.0, "worst relative difference %.3g: %s", worst, worst_what);
  tps_searcher_free(s);
}

static void compare_grid(const char *model_name, const char *hw_name, int64_t cards,
                         int64_t global_batch, const int64_t *mbs, int n_mbs) {
  compare_grid_cp(model_name, hw_name, cards, global_batch, mbs, n_mbs, 1, -1, 0);
}

Test(search, fast_path_equals_estimate_gpt3) {
  const int64_t mbs[] = {1, 2, 4};
  compare_grid("gpt3-175b", "a100-80g-sxm", 64, 128, mbs, 3);
}

Test(search, fast_path_equals_estimate_qwen25vl) {
  /* ViT + projector + decoder, frozen encoder, explicit pipeline_layers at PP = 2. */
  const int64_t mbs[] = {1, 2, 3};
  compare_grid("qwen25vl-7b", "910b2", 8, 192, mbs, 3);
}

Test(search, fast_path_equals_estimate_mixtral_ep) {
  /* MoE: EP 1..8 with expert TP = TP or 1 (EP 3 refused by both). */
  const int64_t mbs[] = {1};
  compare_grid("mixtral-8x7b", "h100-sxm", 16, 32, mbs, 1);
}

Test(search, fast_path_equals_estimate_llama_gqa) {
  const int64_t mbs[] = {1, 2};
  compare_grid("llama3-8b", "h100-sxm", 16, 64, mbs, 2);
}

/* Context parallelism (the search's CP layouts): ring and Ulysses at CP 2
 * and 4 on a 32k sequence; the row carries the searcher's CP. */
Test(search, fast_path_equals_estimate_cp_ring) {
  const int64_t mbs[] = {1, 2};
  compare_grid_cp("llama3-8b", "h100-sxm", 16, 64, mbs, 2, 2, TPS_CP_RING, 32768);
  compare_grid_cp("llama3-8b", "h100-sxm", 16, 64, mbs, 2, 4, TPS_CP_RING, 32768);
}

Test(search, fast_path_equals_estimate_cp_ulysses) {
  /* heads / (TP x CP) must be whole: TP 8 at CP 4 refused by both */
  const int64_t mbs[] = {1};
  compare_grid_cp("llama3-8b", "h100-sxm", 16, 64, mbs, 1, 2, TPS_CP_ULYSSES, 32768);
  compare_grid_cp("llama3-8b", "h100-sxm", 32, 64, mbs, 1, 4, TPS_CP_ULYSSES, 32768);
}

static bool rows_equal(const tps_search_row *a, const tps_search_row *b) {
  return tps_search_row_cmp(a, b) == 0 && a->step_time_s == b->step_time_s &&
         a->memory.total == b->memory.total && a->cfg.dp == b->cfg.dp;
}

Test(search, deterministic) {
  static tps_model m;
  static tps_hw hw;
  load("gpt3-175b", "a100-80g-sxm", &m, &hw);
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = 256;
  o.global_batch = 512;
  o.top_n = 25;
  tps_search_result a, b;
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &o, &a, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_search(&m, &hw, &o, &b, &err), TPS_OK, "%s", err.msg);
  cr_assert_gt(a.n_top, 1);
  cr_assert_eq(a.n_top, b.n_top);
  cr_assert_eq(a.n_pareto, b.n_pareto);
  for (int i = 0; i < a.n_top; i++) cr_assert(rows_equal(&a.top[i], &b.top[i]), "top row %d differs", i);
  for (int i = 0; i < a.n_pareto; i++) cr_assert(rows_equal(&a.pareto[i], &b.pareto[i]));
  for (int i = 1; i < a.n_top; i++)
    cr_assert_lt(tps_search_row_cmp(&a.top[i - 1], &a.top[i]), 0, "top not in ranking order at %d", i);
  cr_assert_str_eq(a.reason, b.reason);
  cr_assert_eq(a.recommended_tp, a.top[0].cfg.tp);
  tps_search_result_free(&a);
  tps_search_result_free(&b);
}

Test(search, tie_order) {
  tps_search_row base;
  memset(&base, 0, sizeof base);
  base.tokens_per_s_per_card = 100.0;
  base.cfg = (tps_search_config){.tp = 4, .pp = 2, .dp = 1, .micro_batch = 2, .sp = false,
                                 .recompute = TPS_RECOMPUTE_SELECTIVE, .distributed_optimizer = false};
  tps_search_row x = base;
  x.tokens_per_s_per_card = 101.0;
  x.cfg.tp = 8;
  cr_assert_lt(tps_search_row_cmp(&x, &base), 0, "higher throughput first");
  x = base;
  x.cfg.tp = 2;
  cr_assert_lt(tps_search_row_cmp(&x, &base), 0, "smaller TP first");
  x = base;
  x.cfg.pp = 1;
  cr_assert_lt(tps_search_row_cmp(&x, &base), 0, "smaller PP first");
  x = base;
  x.cfg.sp = true;
  cr_assert_gt(tps_search_row_cmp(&x, &base), 0, "SP off first");
  x = base;
  x.cfg.recompute = TPS_RECOMPUTE_NONE;
  cr_assert_lt(tps_search_row_cmp(&x, &base), 0, "recompute none before selective");
  x.cfg.recompute = TPS_RECOMPUTE_FULL;
  cr_assert_gt(tps_search_row_cmp(&x, &base), 0, "full after selective");
  x = base;
  x.cfg.micro_batch = 4;
  cr_assert_lt(tps_search_row_cmp(&x, &base), 0, "larger micro-batch first");
  x = base;
  x.cfg.distributed_optimizer = true;
  cr_assert_gt(tps_search_row_cmp(&x, &base), 0, "distributed optimizer off first");
  cr_assert_eq(tps_search_row_cmp(&base, &base), 0);
}

/* A 4-layer GPT on a made-up card with ample memory and fast links; every
 * efficiency is 1 (empty tables). */
static void tiny(tps_model *m, tps_hw *hw) {
  memset(m, 0, sizeof *m);
  strcpy(m->name, "tiny");
  m->n_modules = 1;
  tps_module *d = &m->modules[0];
  strcpy(d->name, "language_model");
  d->type = TPS_MODULE_DECODER;
  d->layers = 4;
  d->hidden = 256;
  d->heads = 4;
  d->kv_heads = 4;
  d->head_dim = 64;
  d->ffn = 1024;
  d->mlp = TPS_MLP_GELU;
  d->norm = TPS_NORM_LAYERNORM;
  d->vocab = 1000;
  d->tied_embeddings = true;
  d->position = TPS_POSITION_LEARNED;
  d->max_position = 128;
  m->training.seq_len = 128;
  m->training.micro_batch = 1;
  m->training.global_batch = 8;
  m->training.vocab_divisor = 1;
  m->training.precision = TPS_PRECISION_BF16;
  memset(hw, 0, sizeof *hw);
  strcpy(hw->name, "tiny-card");
  strcpy(hw->device_name, "made-up card");
  hw->memory_bytes = 80e9;                     /* ample: everything fits */
  hw->memory_bandwidth_Bps = 1e12;
  hw->memory_efficiency = 1.0;
  hw->peak_flops[TPS_PRECISION_BF16] = 1e14;   /* FLOP/s */
  hw->kernel_overhead_s = 5e-6;                /* s per launch */
  hw->devices_per_node = 8;
  hw->intra.bandwidth_Bps = 1e12;              /* bytes/s, fast links */
  hw->intra.latency_s = 1e-7;                  /* s per step */
  hw->inter = hw->intra;
}

Test(search, tiny_model_best_by_hand) {
  /* 2 cards, ample memory, fast links. By hand: TP = 2 halves the GEMMs like
   * DP = 2 does but adds all-reduces of every block's activations and keeps
   * the norms and residuals whole on each rank; PP = 2 leaves DP = 1, so 8
   * sequences make at most 8 micro-batches for a 2-stage pipeline and its
   * bubble costs a stage's time per step (DP's gradient all-reduce at 10^12
   * B/s is about 14 us). So DP = 2 wins; with DP = 2
   * the distributed optimizer replaces one all-reduce of 4-byte gradients by a
   * reduce-scatter of them plus an all-gather of 2-byte weights (less traffic)
   * and halves the optimizer step; recompute only adds time; the largest
   * micro-batch (4 = global 8 / DP 2) launches the fewest kernels. */
  tps_model m;
  tps_hw hw;
  tiny(&m, &hw);
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = 2;
  tps_search_result r;
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_OK, "%s", err.msg);
  cr_assert_gt(r.n_top, 0);
  const tps_search_config *c = &r.top[0].cfg;
  cr_assert_eq(c->tp, 1);
  cr_assert_eq(c->pp, 1);
  cr_assert_eq(c->dp, 2);
  cr_assert_eq(c->sp, false);
  cr_assert_eq(c->recompute, TPS_RECOMPUTE_NONE);
  cr_assert_eq(c->micro_batch, 4);
  cr_assert_eq(c->distributed_optimizer, true);
  cr_assert_eq(r.recommended_tp, 1);
  cr_assert(strstr(r.reason, "TP=1: the best configuration") != NULL, "%s", r.reason);
  cr_assert(strstr(r.reason, "TP=2 at best") != NULL, "%s", r.reason);
  tps_search_result_free(&r);
}

Test(search, ties_on_one_card_go_to_documented_order) {
  /* On one card DP = 1: the distributed optimizer changes nothing, so each
   * configuration has a twin with the same figures; the top list keeps the
   * twin with it off (first in the tie order) and names the other. */
  tps_model m;
  tps_hw hw;
  tiny(&m, &hw);
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = 1;
  o.top_n = 100;
  tps_search_result r;
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_OK, "%s", err.msg);
  int pairs = 0;
  for (int i = 0; i < r.n_top; i++) {
    cr_assert(!r.top[i].cfg.distributed_optimizer, "row %d kept the twin with sharding on", i);
    cr_assert_geq(r.top[i].n_equivalent, 1, "row %d has no twin named", i);
    cr_assert(strstr(r.top[i].equivalent, "distributed optimizer on") != NULL, "row %d: '%s'", i,
              r.top[i].equivalent);
    for (int j = 0; j < i; j++) /* no two rows with the same figures and shape */
      cr_assert(!(r.top[j].step_time_s == r.top[i].step_time_s &&
                  r.top[j].cfg.micro_batch == r.top[i].cfg.micro_batch &&
                  r.top[j].cfg.tp == r.top[i].cfg.tp && r.top[j].cfg.pp == r.top[i].cfg.pp &&
                  r.top[j].memory.total == r.top[i].memory.total),
                "rows %d and %d repeat the same figures", j, i);
    pairs++;
  }
  cr_assert_gt(pairs, 0);
  tps_search_result_free(&r);
}

Test(search, pareto_and_counts) {
  static tps_model m;
  static tps_hw hw;
  load("gpt3-175b", "a100-80g-sxm", &m, &hw);
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = 1024;
  o.global_batch = 1536;
  tps_search_result r;
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_OK, "%s", err.msg);
  /* Counts add up. */
  int64_t skipped = 0;
  for (int k = 0; k < TPS_SKIP_COUNT; k++) skipped += r.skipped[k];
  cr_assert_eq(r.grid, r.valid + skipped, "grid %lld != valid %lld + skipped %lld", (long long)r.grid,
               (long long)r.valid, (long long)skipped);
  cr_assert_eq(r.evaluated, r.valid + r.skipped[TPS_SKIP_MEMORY] + r.skipped[TPS_SKIP_OTHER]);
  /* The grid by hand: TP = 2^i in the 11 divisors of 1024, PP in the
   * divisors of 1024 / TP up to the 128-stage limit (min(11 - i, 8) of them),
   * of which every PP > 1 also tries VPP 2 and 4 (x3), SP x2 when TP > 1,
   * 3 recompute, the 12 divisors of 1536 up to 64, 2 optimizer choices. */
  int64_t grid = 0;
  for (int i = 0; i <= 10; i++) {
    int64_t n_pp = 11 - i < 8 ? 11 - i : 8;
    grid += (1 + 3 * (n_pp - 1)) * (i > 0 ? 2 : 1) * 3 * 12 * 2;
  }
  cr_assert_eq(r.grid, grid);
  cr_assert_gt(r.skipped[TPS_SKIP_TP_SPLIT], 0, "TP 64+ does not divide 96 heads");
  cr_assert_gt(r.skipped[TPS_SKIP_PP_SPLIT], 0, "PP 64+ does not divide 96 layers");
  cr_assert_gt(r.skipped[TPS_SKIP_MEMORY], 0);
  cr_assert_gt(r.valid, 0);
  int64_t by_tp = 0;
  for (int i = 0; i < r.n_tp; i++) by_tp += r.by_tp[i].valid;
  cr_assert_eq(by_tp, r.valid);
  /* Pareto front: no point dominated by another; sorted by memory, throughput rising. */
  cr_assert_gt(r.n_pareto, 0);
  for (int i = 0; i < r.n_pareto; i++) {
    const tps_search_row *a = &r.pareto[i];
    cr_assert(a->fits_with_margin);
    for (int j = 0; j < r.n_pareto; j++) {
      if (i == j) continue;
      const tps_search_row *b = &r.pareto[j];
      bool dominated = b->memory.total <= a->memory.total &&
                       b->tokens_per_s_per_card >= a->tokens_per_s_per_card;
      cr_assert(!dominated, "pareto point %d dominated by %d", i, j);
    }
    if (i > 0) {
      cr_assert_gt(a->memory.total, r.pareto[i - 1].memory.total);
      cr_assert_gt(a->tokens_per_s_per_card, r.pareto[i - 1].tokens_per_s_per_card);
    }
  }
  /* The fastest configuration is the front's last point; no top row beats the front. */
  cr_assert_eq(tps_search_row_cmp(&r.pareto[r.n_pareto - 1], &r.top[0]), 0);
  for (int i = 0; i < r.n_top; i++) {
    bool covered = false;
    for (int j = 0; j < r.n_pareto && !covered; j++)
      covered = r.pareto[j].memory.total <= r.top[i].memory.total &&
                r.pareto[j].tokens_per_s_per_card >= r.top[i].tokens_per_s_per_card;
    cr_assert(covered, "top row %d not covered by the front", i);
  }
  cr_log_info("gpt3-175b on 1024 cards: grid %lld, valid %lld, %.3f s; %s", (long long)r.grid,
              (long long)r.valid, r.elapsed_s, r.reason);
  tps_search_result_free(&r);
}

Test(search, dims_fixed_take_model_defaults) {
  static tps_model m;
  static tps_hw hw;
  load("gpt3-175b", "a100-80g-sxm", &m, &hw);
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = 64;
  o.dims = TPS_SEARCH_MICRO_BATCH; /* TP 8, PP 8, no SP, full recompute, no dist. opt. */
  tps_search_result r;
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_OK, "%s", err.msg);
  cr_assert_gt(r.n_top, 0);
  for (int i = 0; i < r.n_top; i++) {
    cr_assert_eq(r.top[i].cfg.tp, 8);
    cr_assert_eq(r.top[i].cfg.pp, 8);
    cr_assert_eq(r.top[i].cfg.recompute, TPS_RECOMPUTE_FULL);
    cr_assert_eq(r.top[i].cfg.distributed_optimizer, false);
  }
  tps_search_result_free(&r);
}

static int count_calls(void *user, int64_t done, int64_t total, double elapsed_s) {
  int *calls = user;
  cr_assert_leq(done, total);
  cr_assert_geq(elapsed_s, 0.0);
  return ++*calls >= 1000 ? 1 : 0;
}

static int cancel_at_once(void *user, int64_t done, int64_t total, double elapsed_s) {
  (void)user;
  (void)done;
  (void)total;
  (void)elapsed_s;
  return 1;
}

Test(search, progress_and_cancel) {
  tps_model m;
  tps_hw hw;
  tiny(&m, &hw);
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = 8;
  o.progress_every = 16;
  int calls = 0;
  o.progress = count_calls;
  o.progress_user = &calls;
  tps_search_result r;
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_OK, "%s", err.msg);
  cr_assert_geq(calls, 2);
  cr_assert_eq(r.grid / 16 + 1, calls, "one call per 16 points and one at the end");
  tps_search_result_free(&r);
  o.progress = cancel_at_once;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_EINVAL);
  cr_assert_str_eq(err.msg, "search cancelled");
}

Test(search, no_cards_is_an_error) {
  tps_model m;
  tps_hw hw;
  tiny(&m, &hw);
  tps_search_opts o;
  tps_search_opts_init(&o);
  tps_search_result r;
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_EINVAL);
}

Test(search, nothing_fits_says_so) {
  tps_model m;
  tps_hw hw;
  tiny(&m, &hw);
  hw.memory_bytes = 1e6; /* 1 MB */
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = 2;
  tps_search_result r;
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(r.n_top, 0);
  cr_assert_eq(r.recommended_tp, 0);
  cr_assert_eq(r.skipped[TPS_SKIP_MEMORY], r.evaluated);
  cr_assert(strstr(r.reason, "no configuration fits") != NULL, "%s", r.reason);
  tps_search_result_free(&r);
}

/* tps_table_eval against GSL's linear interpolation in log10(x). */
Test(search, table_eval_equals_gsl) {
  static tps_model m;
  static tps_hw hw;
  load("gpt3-175b", "a100-80g-sxm", &m, &hw);
  gsl_set_error_handler_off();
  const tps_table *tabs[] = {&hw.gemm_efficiency, &hw.intra.efficiency};
  for (size_t k = 0; k < 2; k++) {
    const tps_table *t = tabs[k];
    cr_assert_gt(t->n, 2);
    double lx[TPS_MAX_TABLE];
    for (int i = 0; i < t->n; i++) lx[i] = log10(t->x[i]);
    gsl_interp *g = gsl_interp_alloc(gsl_interp_linear, (size_t)t->n);
    cr_assert_eq(gsl_interp_init(g, lx, t->y, (size_t)t->n), GSL_SUCCESS);
    for (int i = 0; i <= 400; i++) {
      double x = pow(10.0, lx[0] + (lx[t->n - 1] - lx[0]) * i / 400.0);
      if (x <= t->x[0] || x >= t->x[t->n - 1]) continue;
      double want = gsl_interp_eval(g, lx, t->y, log10(x), NULL);
      cr_assert_eq(tps_table_eval(t, x), want, "x = %.17g: %.17g vs GSL %.17g", x, tps_table_eval(t, x),
                   want);
    }
    for (int i = 0; i < t->n; i++) cr_assert_eq(tps_table_eval(t, t->x[i]), t->y[i]);
    gsl_interp_free(g);
  }
}

/* seq_len, micro-batch and global batch of 10^9 each (the CLI's limits) made
 * 10^18 tokens per micro-batch, whose products with a layer width wrapped
 * int64 in the lowering. Now: finite figures, saturated element counts. */
Test(search, huge_inputs_stay_finite) {
  static tps_model m;
  static tps_hw hw;
  load("megatron-gpt2-1b", "a100-80g-sxm", &m, &hw);
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.seq_len = o.micro_batch = o.global_batch = 1000000000;
  tps_run run;
  tps_error err;
  cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_OK, "%s", err.msg);
  tps_estimate est;
  cr_assert_eq(tps_estimate_run(&m, &run, &hw, &est, &err), TPS_OK, "%s", err.msg);
  cr_assert(isfinite(est.step_time_s) && est.step_time_s > 0);
  cr_assert(isfinite(est.memory.total) && est.memory.total > 1e20);
  cr_assert(!est.fits);
  tps_op_list ops;
  tps_op_list_init(&ops);
  tps_lower_opts lo = {.kind = TPS_LAYER_BLOCK, .needs_input_grad = true};
  cr_assert_eq(tps_lower_layer(&m.modules[0], &run, lo, &ops, &err), TPS_OK, "%s", err.msg);
  for (int i = 0; i < ops.n; i++) {
    cr_assert_geq(ops.ops[i].elements, 0, "%s: negative element count", ops.ops[i].name);
    cr_assert(isfinite(ops.ops[i].fwd_bytes) && ops.ops[i].fwd_bytes >= 0, "%s", ops.ops[i].name);
  }
  tps_op_list_free(&ops);
  /* Beyond int64 tokens per micro-batch: a clear error, not a wrapped count. */
  o.seq_len = INT64_C(10000000000);
  o.micro_batch = INT64_C(10000000000);
  o.global_batch = INT64_C(10000000000);
  cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_ERANGE);
  cr_assert(strstr(err.msg, "overflows") != NULL, "%s", err.msg);
}

/* The renderers: every section present; JSON braces balance and the counts
 * are those of the result. */
Test(search, renderers) {
  tps_model m;
  tps_hw hw;
  tiny(&m, &hw);
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = 4;
  o.top_n = 3;
  tps_search_result r;
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_OK, "%s", err.msg);
  search_report rep = {.model = &m, .hw = &hw, .res = &r};
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  report_search_table(f, &rep);
  fclose(f);
  cr_assert(strstr(buf, "Top 3 of") != NULL, "%s", buf);
  cr_assert(strstr(buf, "Pareto front") != NULL);
  char want[64];
  snprintf(want, sizeof want, "Recommended default TP: %lld.", (long long)r.recommended_tp);
  cr_assert(strstr(buf, want) != NULL, "%s", buf);
  free(buf);
  f = open_memstream(&buf, &len);
  report_search_json(f, &rep);
  fclose(f);
  int depth = 0, min_depth = 0;
  for (size_t i = 0; i < len; i++) {
    if (buf[i] == '{' || buf[i] == '[') depth++;
    if (buf[i] == '}' || buf[i] == ']') depth--;
    if (depth < min_depth) min_depth = depth;
  }
  cr_assert_eq(depth, 0);
  cr_assert_eq(min_depth, 0);
  snprintf(want, sizeof want, "\"grid\": %lld", (long long)r.grid);
  cr_assert(strstr(buf, want) != NULL, "%s", buf);
  cr_assert(strstr(buf, "\"pareto\": [") != NULL);
  snprintf(want, sizeof want, "\"recommended_tp\": %lld", (long long)r.recommended_tp);
  cr_assert(strstr(buf, want) != NULL, "%s", buf);
  cr_assert(strstr(buf, "\"memory\": 0") != NULL, "every skip reason is listed");
  free(buf);
  tps_search_result_free(&r);
}

/* A prime card count leaves TP and PP in {1, p}; a card count of 2^40 (the
 * largest searched) is enumerated quickly; above it is an error. */
Test(search, card_counts) {
  tps_model m;
  tps_hw hw;
  tiny(&m, &hw);
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = 7;
  o.global_batch = 7;
  tps_search_result r;
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(r.n_tp, 2);
  cr_assert_eq(r.by_tp[1].tp, 7);
  cr_assert(!r.by_tp[1].splits, "TP 7 does not divide 4 heads");
  tps_search_result_free(&r);
  o.cards = INT64_C(1) << 40;
  o.global_batch = INT64_C(1) << 40;
  o.dims = TPS_SEARCH_TP | TPS_SEARCH_PP;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(r.n_tp, 41);
  tps_search_result_free(&r);
  o.cards = (INT64_C(1) << 40) + 1;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_ERANGE);
}

/* The model's global batch (gpt3-175b: 64 sequences for 64 cards, its
 * training: defaults) scales with the searched card count, samples per
 * replica kept, and says so; an explicit global batch is used as given. */
Test(search, global_batch_scales_with_cards_and_says_so) {
  static tps_model m;
  static tps_hw hw;
  load("gpt3-175b", "a100-80g-sxm", &m, &hw);
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = 1024;
  o.dims = TPS_SEARCH_TP; /* the rest at the model's defaults: fast */
  tps_search_result r;
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_OK, "%s", err.msg);
  cr_assert(r.global_batch_scaled);
  cr_assert_eq(r.model_global_batch, 64);
  cr_assert_eq(r.model_cards, 64);
  cr_assert_eq(r.base.global_batch, 1024); /* 64 x 1024 / 64 */
  tps_search_result_free(&r);
  o.global_batch = 512;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_OK, "%s", err.msg);
  cr_assert(!r.global_batch_scaled);
  cr_assert_eq(r.base.global_batch, 512);
  tps_search_result_free(&r);
}

/* A model whose training: gives interleaving (vpp 2) is searched like any
 * other: the base run has no pipeline, so it must not carry the model's VPP
 * (it used to fail with "--vpp 2 needs a pipeline"). */
Test(search, model_with_vpp_is_searched) {
  static tps_model m;
  static tps_hw hw;
  load("gpt3-175b", "a100-80g-sxm", &m, &hw);
  m.training.vpp = 2;
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = 64;
  o.dims = TPS_SEARCH_TP | TPS_SEARCH_PP | TPS_SEARCH_VPP;
  tps_search_result r;
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &o, &r, &err), TPS_OK, "%s", err.msg);
  cr_assert_gt(r.valid, 0);
  tps_search_result_free(&r);
}
