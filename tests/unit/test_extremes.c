/* Extreme but valid inputs (issue 8, item 4): a million cards, a
 * million-token sequence, a thousand layers, a ~10 TB model, and every count
 * at the loader's maximum. Each must give finite, non-negative numbers and a
 * `fits` flag that agrees with the memory it reports (a clear "does not
 * fit"), never NaN, inf or a wrapped (negative) integer. Under the sanitizer
 * build (scripts/test.sh) UBSan also catches any signed overflow on the way.
 * Fixtures: tests/inputs/extreme/ and the bundled models and profiles. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpsim/tpsim.h"

#define EXTREME TPSIM_SOURCE_DIR "/tests/inputs/extreme/"

static tps_model model;
static tps_hw hw;

static void load(const char *model_path, const char *hw_name) {
  tps_error err;
  tps_error_clear(&err);
  char path[4096];
  cr_assert_eq(tps_model_load(model_path, &model, &err), TPS_OK, "%s: %s", model_path, err.msg);
  setenv("TPSIM_DATA_DIR", TPSIM_SOURCE_DIR, 1);
  cr_assert_eq(tps_data_find("hw_profiles", hw_name, path, sizeof path, &err), TPS_OK, "%s",
               err.msg);
  cr_assert_eq(tps_hw_load(path, &hw, &err), TPS_OK, "%s: %s", path, err.msg);
}

static void load_bundled(const char *name, const char *hw_name) {
  tps_error err;
  tps_error_clear(&err);
  char path[4096];
  setenv("TPSIM_DATA_DIR", TPSIM_SOURCE_DIR, 1);
  cr_assert_eq(tps_data_find("models", name, path, sizeof path, &err), TPS_OK, "%s", err.msg);
  load(path, hw_name);
}

#define assert_sane(x, what)                                                            \
  cr_assert(isfinite((double)(x)) && (double)(x) >= 0.0, "%s = %g: not finite or negative", \
            what, (double)(x))

static void assert_memory(const tps_memory *m, const char *where) {
  char what[96];
#define M(field)                                                      \
  snprintf(what, sizeof what, "%s memory." #field, where);            \
  assert_sane(m->field, what);
  M(weights) M(grads) M(optimizer) M(activations) M(runtime_reserve) M(total)
#undef M
  /* the total is at least each of its parts (never a wrapped sum) */
  cr_assert(m->total >= m->weights && m->total >= m->activations, "%s: total %g < a part",
            where, m->total);
}

/* Every output field of an estimate: finite, non-negative, and consistent. */
static void assert_estimate(const tps_estimate *e) {
  assert_memory(&e->memory, "peak");
  for (int s = 0; s < e->n_stages; s++) {
    char where[32];
    snprintf(where, sizeof where, "stage %d", s);
    assert_memory(&e->stages[s].memory, where);
    assert_sane(e->stages[s].fwd_s, "stage fwd_s");
    assert_sane(e->stages[s].bwd_s, "stage bwd_s");
    assert_sane(e->stages[s].tp_comm_s, "stage tp_comm_s");
    cr_assert(e->stages[s].in_flight >= 0, "stage in_flight %lld",
              (long long)e->stages[s].in_flight);
  }
  assert_sane(e->step_time_s, "step_time_s");
  cr_assert(e->step_time_s > 0, "step_time_s must be > 0");
  assert_sane(e->time.compute, "time.compute");
  assert_sane(e->time.tp_comm, "time.tp_comm");
  assert_sane(e->time.pp_bubble, "time.pp_bubble");
  assert_sane(e->time.dp_comm, "time.dp_comm");
  assert_sane(e->time.optimizer, "time.optimizer");
  assert_sane(e->time.overhead, "time.overhead");
  assert_sane(e->tokens_per_step, "tokens_per_step");
  assert_sane(e->tokens_per_s, "tokens_per_s");
  assert_sane(e->tokens_per_s_per_card, "tokens_per_s_per_card");
  assert_sane(e->model_flops_per_step, "model_flops_per_step");
  assert_sane(e->hardware_flops_per_step, "hardware_flops_per_step");
  assert_sane(e->mfu, "mfu");
  cr_assert(e->mfu <= 1.0, "mfu %g > 1", e->mfu);
  /* the run's integers stayed positive (no wrap) */
  const tps_run *r = &e->run;
  cr_assert(r->tp >= 1 && r->pp >= 1 && r->dp >= 1 && r->cards >= 1, "run sizes");
  cr_assert(r->seq_len >= 1 && r->micro_batch >= 1 && r->global_batch >= 1, "run batch");
  cr_assert_eq(r->tp * r->pp * r->dp, r->cards, "TP x PP x DP = cards");
  /* fits means the peak is within device memory: a clear yes or no */
  cr_assert_eq(e->fits, e->memory.total <= hw.memory_bytes,
               "fits = %d but peak %g vs device %g", e->fits, e->memory.total, hw.memory_bytes);
  if (e->fits_with_margin) cr_assert(e->fits, "fits with margin but not without");
}

static tps_estimate est;

static void estimate(const tps_run_overrides *over) {
  tps_run run;
  tps_error err;
  tps_error_clear(&err);
  cr_assert_eq(tps_run_resolve(&model, over, &run, &err), TPS_OK, "resolve: %s", err.msg);
  cr_assert_eq(tps_estimate_run(&model, &run, &hw, &est, &err), TPS_OK, "estimate: %s",
               err.msg);
  assert_estimate(&est);
}

/* Per-layer costs (what `tp-sim layers` prints) are finite too. */
static void assert_layers(const tps_run_overrides *over) {
  tps_run run;
  tps_plan plan;
  tps_error err;
  tps_error_clear(&err);
  cr_assert_eq(tps_run_resolve(&model, over, &run, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_plan_build(&model, &run, &plan, &err), TPS_OK, "%s", err.msg);
  for (int i = 0; i < plan.n_layers; i++) {
    tps_layer_cost c;
    tps_layer_cost_compute(&plan, i, &run, &hw, &c);
    assert_sane(c.fwd_s, "layer fwd_s");
    assert_sane(c.bwd_s, "layer bwd_s");
    assert_sane(c.params, "layer params");
    assert_sane(c.static_bytes, "layer static_bytes");
    assert_sane(c.activation_bytes, "layer activation_bytes");
    assert_sane(c.workspace_bytes, "layer workspace_bytes");
    assert_sane(c.flops_fwd, "layer flops_fwd");
    assert_sane(c.flops_bwd, "layer flops_bwd");
  }
  tps_plan_free(&plan);
}

Test(extremes, million_cards) {
  load_bundled("llama3-8b", "h100-sxm");
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = 8;
  o.pp = 1;
  o.cards = 1000000;         /* DP = 125,000 */
  o.global_batch = 1000000;  /* 8 micro-batches of 1 per DP rank */
  estimate(&o);
  cr_expect_eq(est.run.dp, 125000);
  cr_expect(est.fits, "an 8B model at TP 8 fits an 80 GB card whatever the DP");
  cr_expect(est.time.dp_comm > 0, "a million-card DP all-reduce costs time");
}

Test(extremes, million_token_sequence) {
  load_bundled("llama3-8b", "h100-sxm");
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = 8;
  o.cards = 8;
  o.seq_len = 1000000;
  o.global_batch = 1;
  estimate(&o);
  cr_expect(!est.fits, "a 1M-token sequence does not fit 8 cards without context parallelism");
  cr_expect(est.memory.activations > hw.memory_bytes, "activations dominate");
}

Test(extremes, thousand_layers) {
  load(EXTREME "m_1000_layers.yaml", "h100-sxm");
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = 8;
  o.pp = 8;
  o.cards = 512;
  o.recompute = TPS_RECOMPUTE_FULL;
  o.distributed_optimizer = 1;
  estimate(&o);
  cr_expect_eq(est.n_stages, 8);
  assert_layers(&o);
}

Test(extremes, ten_terabyte_model) {
  load(EXTREME "m_10tb.yaml", "h100-sxm");
  /* ~4.9e12 parameters: ~10 TB of bf16 weights */
  double params = tps_model_params(&model);
  cr_expect(params > 4.5e12 && params < 5.5e12, "params %g", params);
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = 1;
  o.cards = 8;
  estimate(&o);
  cr_expect(!est.fits, "10 TB of weights cannot fit one card");
  cr_expect(est.memory.weights > 9e12, "weights %g", est.memory.weights);
  /* Spread over 4096 cards (TP 8, PP 16 of 5 layers, DP 32, ZeRO-1, full
   * recompute) it is finite either way. */
  tps_run_overrides_init(&o);
  o.tp = 8;
  o.pp = 16;
  o.cards = 4096;
  o.global_batch = 512;
  o.recompute = TPS_RECOMPUTE_FULL;
  o.distributed_optimizer = 1;
  estimate(&o);
}

Test(extremes, every_count_at_its_maximum) {
  /* layers 100000 x hidden 10^9: layers x hidden^2 = 10^23, beyond int64;
   * seq_len and micro_batch 10^9: 10^18 tokens per micro-batch. */
  load(EXTREME "m_limits.yaml", "h100-sxm");
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  estimate(&o);
  cr_expect(!est.fits, "nothing of this size fits");
  cr_expect(est.memory.weights > 1e23, "weights %g", est.memory.weights);
  /* and with a billion cards of data parallelism */
  o.cards = 1000000000;
  estimate(&o);
  cr_expect_eq(est.run.dp, 1000000000);
}

/* ---- counts beyond int64: refused by the lowering, never wrapped -------- */

/* Lowers one layer of `mod` at TP 1, micro-batch 1, vocabulary padded to a
 * multiple of 128; returns the status and
 * leaves the message in *err. */
static tps_status lower_one(const tps_module *mod, tps_layer_kind kind, tps_error *err) {
  tps_run run;
  memset(&run, 0, sizeof run);
  run.tp = run.pp = run.dp = run.cards = 1;
  run.micro_batch = 1;
  run.seq_len = 1;
  run.vocab_divisor = TPS_DEFAULT_VOCAB_DIVISOR;
  run.precision = TPS_PRECISION_BF16;
  tps_lower_opts opts = {.kind = kind};
  tps_op_list ops;
  tps_op_list_init(&ops);
  tps_error_clear(err);
  tps_status st = tps_lower_layer(mod, &run, opts, &ops, err);
  tps_op_list_free(&ops);
  return st;
}

static void expect_too_large(const tps_module *mod, tps_layer_kind kind, const char *msg) {
  tps_error err;
  cr_expect_eq(lower_one(mod, kind, &err), TPS_ERANGE, "%s: %s", mod->name, err.msg);
  cr_expect_str_eq(err.msg, msg);
}

Test(extremes, lowering_refuses_counts_beyond_int64) {
  /* A library caller can build modules the loaders would refuse; the
   * lowering checks the products it stores itself (UBSan: no overflow). */
  load_bundled("qwen25vl-7b", "h100-sxm");
  tps_module vit = model.modules[0], proj = model.modules[1], dec = model.modules[2];
  cr_assert_eq(vit.type, TPS_MODULE_VIT);
  cr_assert_eq(proj.type, TPS_MODULE_PROJECTOR);
  tps_error err;
  cr_assert_eq(lower_one(&vit, TPS_LAYER_PATCH_EMBED, &err), TPS_OK, "%s", err.msg);

  vit.patch = 1000000000;
  vit.temporal_patch = 1000000000;
  expect_too_large(&vit, TPS_LAYER_PATCH_EMBED,
                   "module 'vision_encoder': in_channels x temporal_patch x patch^2 = 3 x "
                   "1000000000 x 1000000000^2 does not fit a 64-bit count");

  proj.spatial_merge = 1000000000;
  proj.tokens = 1;
  expect_too_large(&proj, TPS_LAYER_MERGER,
                   "module 'projector': hidden x spatial_merge^2 = 1280 x 1000000000^2 does not "
                   "fit a 64-bit count");

  tps_module wide = dec;
  wide.heads = wide.kv_heads = 4000000000LL;
  wide.head_dim = 4000000000LL;
  expect_too_large(&wide, TPS_LAYER_BLOCK,
                   "module 'language_model': (heads + 2 x kv_heads) / tp x head_dim = "
                   "(4000000000 + 2 x 4000000000) x 4000000000 does not fit a 64-bit count");

  wide = dec;
  wide.vocab = INT64_MAX - 10;
  expect_too_large(&wide, TPS_LAYER_HEAD,
                   "module 'language_model': vocab 9223372036854775797 padded to a multiple of "
                   "vocab_divisor x tp = 128 x 1 does not fit a 64-bit count");

  /* And through the CLI's path: the estimate is refused, nothing printed. */
  model.modules[0].patch = 1000000000;
  model.modules[0].temporal_patch = 1000000000;
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  tps_run run;
  tps_error_clear(&err);
  cr_assert_eq(tps_run_resolve(&model, &o, &run, &err), TPS_OK, "%s", err.msg);
  cr_expect_eq(tps_estimate_run(&model, &run, &hw, &est, &err), TPS_ERANGE);
  cr_expect(strstr(err.msg, "module 'vision_encoder'") && strstr(err.msg, "patch"), "%s",
            err.msg);
}
