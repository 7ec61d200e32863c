/* Extreme but valid inputs (issue 8, item 4): a million cards, a
 * million-token sequence, a thousand layers, a ~10 TB model, and every count
 * at the loader's maximum. Each must give finite, non-negative numbers and a
 * `fits` flag that agrees with the memory it reports (a clear "does not
 * fit"), never NaN, inf or a wrapped (negative) integer. Under the sanitizer
 * build (scripts/test.sh) UBSan also catches any signed overflow on the way.
 * Fixtures: tests/inputs/extreme/ and the bundled models and profiles.
 *
 * The sweep (hostile-input issue) goes further: every count of a model at 1
 * and at its maximum, on hardware profiles and software stacks with every
 * rate at its minimum and maximum and every time at 0 and at its maximum,
 * through the library (tps_estimate_run, tps_search) and through the CLI
 * commands (estimate, recommend, report), whose printed text must hold no
 * NaN, inf, JSON null or negative number. An input may be refused instead,
 * with a message, never answered with a meaningless number. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
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

/* What is being checked, for messages ("" outside the sweep). */
static char checking[512];
/* Largest MFU accepted. MFU counts attention unmasked (the Megatron
 * convention, docs/model.md: 3 x the forward) while causal flash attention
 * executes 1.75 x, so when attention dominates (a sequence of 10^9 tokens)
 * MFU tends to attention_efficiency x 3 / 1.75, above 1 for an efficiency
 * above 0.583 (1.71 on h_fastest); the hardware FLOPs utilization never
 * exceeds 1. The named cases stay below 1. */
static double mfu_max = 1.0;

#define assert_sane(x, what)                                                         \
  cr_assert(isfinite((double)(x)) && (double)(x) >= 0.0, "%s%s = %g: not finite or negative", \
            checking, what, (double)(x))

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
  cr_assert(e->mfu <= mfu_max, "%smfu %g > %g", checking, e->mfu, mfu_max);
  /* the FLOPs actually executed never exceed the peak */
  double hfu = e->hardware_flops_per_step /
               (e->step_time_s * (double)e->run.cards * hw.peak_flops[e->run.precision]);
  cr_assert(hfu <= 1.0 + 1e-9, "%shardware FLOPs utilization %g > 1", checking, hfu);
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

/* ---- the sweep ---------------------------------------------------------- */

enum { SEC_VIT, SEC_PROJ, SEC_LM, SEC_TRAIN };
#define BIG 1000000000LL

/* One count of the sweep's model: its base value and the loader's range. */
typedef struct sweep_key {
  int sec;
  const char *key;
  long long base, lo, hi;
} sweep_key;

static const sweep_key sweep_keys[] = {
    {SEC_VIT, "layers", 2, 1, 100000},   {SEC_VIT, "hidden", 64, 1, BIG},
    {SEC_VIT, "heads", 4, 1, BIG},       {SEC_VIT, "head_dim", 16, 1, BIG},
    {SEC_VIT, "ffn", 128, 1, BIG},       {SEC_VIT, "patch", 14, 1, BIG},
    {SEC_VIT, "temporal_patch", 2, 1, BIG}, {SEC_VIT, "in_channels", 3, 1, BIG},
    {SEC_VIT, "tokens", 256, 1, BIG},    {SEC_VIT, "window", 16, 0, BIG},
    {SEC_PROJ, "hidden", 64, 1, BIG},    {SEC_PROJ, "ffn", 256, 1, BIG},
    {SEC_PROJ, "spatial_merge", 2, 1, BIG}, {SEC_PROJ, "output", 128, 1, BIG},
    {SEC_LM, "layers", 4, 1, 100000},    {SEC_LM, "hidden", 128, 1, BIG},
    {SEC_LM, "heads", 4, 1, BIG},        {SEC_LM, "kv_heads", 2, 1, BIG},
    {SEC_LM, "head_dim", 32, 1, BIG},    {SEC_LM, "ffn", 256, 1, BIG},
    {SEC_LM, "vocab", 1000, 1, BIG},     {SEC_TRAIN, "seq_len", 512, 1, BIG},
    {SEC_TRAIN, "micro_batch", 1, 1, BIG}, {SEC_TRAIN, "global_batch", 16, 1, BIG},
    {SEC_TRAIN, "cards", 8, 1, BIG},     {SEC_TRAIN, "tp", 1, 1, BIG},
    {SEC_TRAIN, "pp", 1, 1, TPS_MAX_STAGES}, {SEC_TRAIN, "vpp", 1, 1, TPS_MAX_STAGES},
    {SEC_TRAIN, "vocab_divisor", 128, 1, BIG},
};
#define N_KEYS ((int)(sizeof sweep_keys / sizeof sweep_keys[0]))

static int kidx(int sec, const char *key) {
  for (int i = 0; i < N_KEYS; i++)
    if (sweep_keys[i].sec == sec && strcmp(sweep_keys[i].key, key) == 0) return i;
  cr_assert_fail("no sweep key %s", key);
  return -1;
}
#define V(sec, key) v[kidx(sec, key)]

/* Adjusts the other counts so that the varied one (index `varied`, -1: none)
 * keeps its value and the model stays acceptable where that is possible:
 * kv_heads divides heads, TP splits every module, PP (x VPP) splits the
 * decoder, TP x PP divides the cards, the global batch is a multiple of
 * micro-batch x DP (x PP under VPP), the ViT tokens of spatial_merge^2. A
 * combination that cannot be made acceptable is left to be refused. */
static void sweep_fix(long long v[], int varied) {
  if (V(SEC_LM, "heads") % V(SEC_LM, "kv_heads") != 0) {
    if (varied == kidx(SEC_LM, "kv_heads")) V(SEC_LM, "heads") = V(SEC_LM, "kv_heads");
    else V(SEC_LM, "kv_heads") = V(SEC_LM, "heads");
  }
  long long tp = V(SEC_TRAIN, "tp");
  if (tp > 1) {
    static const struct { int sec; const char *key; } split[] = {
        {SEC_VIT, "heads"}, {SEC_VIT, "ffn"}, {SEC_PROJ, "ffn"},
        {SEC_LM, "heads"},  {SEC_LM, "kv_heads"}, {SEC_LM, "ffn"}};
    for (size_t i = 0; i < sizeof split / sizeof split[0]; i++) {
      long long *x = &v[kidx(split[i].sec, split[i].key)];
      if (*x % tp != 0 && kidx(split[i].sec, split[i].key) != varied) *x = tp;
    }
  }
  long long vpp = V(SEC_TRAIN, "vpp");
  if (vpp > 1 && V(SEC_TRAIN, "pp") < 2 && varied != kidx(SEC_TRAIN, "pp")) V(SEC_TRAIN, "pp") = 2;
  long long pp = V(SEC_TRAIN, "pp");
  if (V(SEC_LM, "layers") % (pp * vpp) != 0 && varied != kidx(SEC_LM, "layers"))
    V(SEC_LM, "layers") = pp * vpp;
  if (V(SEC_TRAIN, "cards") % (tp * pp) != 0 && varied != kidx(SEC_TRAIN, "cards"))
    V(SEC_TRAIN, "cards") = tp * pp;
  long long per_step = V(SEC_TRAIN, "micro_batch") * (V(SEC_TRAIN, "cards") / (tp * pp));
  long long gb = V(SEC_TRAIN, "global_batch"), need = per_step * (vpp > 1 ? pp : 1);
  if (gb % need != 0) {
    if (varied == kidx(SEC_TRAIN, "global_batch") && varied != kidx(SEC_TRAIN, "cards")) {
      V(SEC_TRAIN, "cards") = tp * pp; /* DP 1 */
    } else {
      V(SEC_TRAIN, "global_batch") = need <= BIG ? need : 0; /* 0: left out, micro_batch x DP */
    }
  }
  long long m2 = V(SEC_PROJ, "spatial_merge") * V(SEC_PROJ, "spatial_merge");
  if (V(SEC_VIT, "tokens") % m2 != 0) {
    if (varied == kidx(SEC_VIT, "tokens")) V(SEC_PROJ, "spatial_merge") = 1;
    else if (varied != kidx(SEC_PROJ, "spatial_merge")) V(SEC_VIT, "tokens") = m2;
  }
}

static void sweep_write(const char *path, const long long v[]) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "%s", path);
  fprintf(f, "name: sweep\nsource: \"tests/unit/test_extremes.c\"\nmodules:\n");
  static const char *const heads[] = {
      "  - name: vit\n    type: vit\n    mlp: swiglu\n    norm: rmsnorm\n",
      "  - name: projector\n    type: projector\n    mlp: gelu\n    norm: rmsnorm\n",
      "  - name: lm\n    type: decoder\n    mlp: swiglu\n    norm: rmsnorm\n    position: rope\n",
      "training:\n"};
  for (int sec = SEC_VIT; sec <= SEC_TRAIN; sec++) {
    fputs(heads[sec], f);
    for (int i = 0; i < N_KEYS; i++) {
      if (sweep_keys[i].sec != sec) continue;
      if (sec == SEC_TRAIN && strcmp(sweep_keys[i].key, "global_batch") == 0 && v[i] == 0) continue;
      fprintf(f, "%s%s: %lld\n", sec == SEC_TRAIN ? "  " : "    ", sweep_keys[i].key, v[i]);
    }
  }
  cr_assert_eq(fclose(f), 0);
}

/* The hardware side of the sweep: a profile and a stack (NULL: the
 * profile's own; "none" for the extreme profiles, which name none). */
static const char *const sweep_hws[] = {"h100-sxm", EXTREME "h_slowest.yaml", EXTREME "h_fastest.yaml"};
static const char *const sweep_stacks[] = {NULL, EXTREME "s_slowest.yaml", EXTREME "s_fastest.yaml"};
#define N_HW 3
#define N_STACK 3

typedef struct sweep_stats {
  int models, accepted, refused_load, refused_run, estimates, searches, cli_runs;
} sweep_stats;

static char sweep_dir[] = "/tmp/tpsim-sweep-XXXXXX";

/* Reads a whole file (the CLI's output). */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s", path);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  cr_assert_not_null(buf);
  for (size_t got; (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += got;
    if (n + 1 == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      cr_assert_not_null(buf);
    }
  }
  fclose(f);
  buf[n] = '\0';
  return buf;
}

/* JSON keys whose null means "not given" or "none found", not a number
 * that could not be printed. */
static bool null_allowed(const char *text, const char *at) {
  static const char *const keys[] = {
      "\"best\": ",   "\"recommended_tp\": ", "\"token_budget\": ", "\"days\": ",
      "\"budget\": ", "\"days_at_evaluated_cards\": ", "\"value\": ", "\"layers\": ",
      "\"model_error\": " /* none known for the hardware family */};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    size_t n = strlen(keys[i]);
    if ((size_t)(at - text) >= n && strncmp(at - n, keys[i], n) == 0) return true;
  }
  return false;
}

/* JSON keys whose value is signed by nature: an elasticity (d log tokens/s
 * / d log constant) is negative for a cost (docs/uncertainty.md). */
static bool signed_allowed(const char *text, const char *at) {
  static const char key[] = "\"elasticity\": ";
  size_t n = strlen(key);
  return (size_t)(at - text) >= n && strncmp(at - n, key, n) == 0;
}

/* No NaN or inf anywhere (any case, as a word), no JSON null but for the
 * keys above, and, unless `allow_minus`, no negative number:
 * a '-' before a digit that does not continue a word or a number (model
 * names like qwen25vl-7b, dates and exponents such as 1e-05 are fine). */
static void scan_text(const char *text, const char *what, bool allow_minus) {
  for (const char *p = text; *p; p++) {
    bool word_start = p == text || !isalnum((unsigned char)p[-1]);
    if (word_start && (strncasecmp(p, "nan", 3) == 0 || strncasecmp(p, "inf", 3) == 0) &&
        !isalpha((unsigned char)p[3]))
      cr_assert_fail("%s: non-finite number at '%.40s'", what, p > text + 20 ? p - 20 : text);
    if (word_start && strncmp(p, "null", 4) == 0 && !isalpha((unsigned char)p[4]) &&
        !null_allowed(text, p))
      cr_assert_fail("%s: JSON null at '%.40s'", what, p > text + 20 ? p - 20 : text);
    if (!allow_minus && *p == '-' && isdigit((unsigned char)p[1]) &&
        (p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '.' || p[-1] == '_')) &&
        !signed_allowed(text, p))
      cr_assert_fail("%s: negative number at '%.40s'", what, p > text + 20 ? p - 20 : text);
  }
}

/* Runs one tp-sim command (as main.c does: options from argv[2]) and, when
 * it succeeded, scans what it wrote to `out` (a file, or a directory of
 * report files). Returns the command's exit code. */
static int sweep_cli(int (*cmd)(const cli_args *), unsigned groups, char **argv, int argc,
                     const char *out, bool is_dir, sweep_stats *stats) {
  cli_args args;
  cli_args_init(&args);
  tps_error err;
  tps_error_clear(&err);
  cr_assert_eq(cli_parse(argc, argv, 2, groups, &args, &err), TPS_OK, "%s", err.msg);
  int rc = cmd(&args);
  stats->cli_runs++;
  cr_assert(rc == EXIT_OK || rc == EXIT_USAGE, "%s %s: exit %d", argv[1], argv[3], rc);
  if (rc != EXIT_OK) return rc;
  char what[1024];
  if (!is_dir) {
    char *text = slurp(out);
    snprintf(what, sizeof what, "%s %s --hw %s", argv[1], argv[3], argv[5]);
    scan_text(text, what, false);
    free(text);
    unlink(out);
    return rc;
  }
  DIR *dir = opendir(out);
  cr_assert_not_null(dir, "%s", out);
  for (struct dirent *e; (e = readdir(dir)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out, e->d_name);
    char *text = slurp(path);
    snprintf(what, sizeof what, "report %s: %s", argv[3], e->d_name);
    /* HTML/SVG carries coordinates and CSS: NaN and inf only */
    scan_text(text, what, true);
    free(text);
    unlink(path);
  }
  closedir(dir);
  rmdir(out);
  return rc;
}

static void assert_row(const tps_search_row *r, const char *what) {
  char where[160];
  snprintf(where, sizeof where, "%s row", what);
  assert_memory(&r->memory, where);
  assert_sane(r->step_time_s, "row step_time_s");
  cr_assert(r->step_time_s > 0, "%s: step time %g", what, r->step_time_s);
  assert_sane(r->time.compute, "row time.compute");
  assert_sane(r->time.tp_comm, "row time.tp_comm");
  assert_sane(r->time.pp_bubble, "row time.pp_bubble");
  assert_sane(r->time.dp_comm, "row time.dp_comm");
  assert_sane(r->time.optimizer, "row time.optimizer");
  assert_sane(r->time.overhead, "row time.overhead");
  assert_sane(r->tokens_per_s, "row tokens_per_s");
  assert_sane(r->tokens_per_s_per_card, "row tokens_per_s_per_card");
  assert_sane(r->mfu, "row mfu");
  cr_assert(r->mfu <= mfu_max, "%s: mfu %g > %g", what, r->mfu, mfu_max);
}

/* One model file on every profile and stack of the sweep: the estimate
 * (library and CLI, every format) on all nine pairs; the search (library
 * and `recommend`) and `report` on the three matching pairs (bundled profile
 * and its stack, slowest with slowest, fastest with fastest) when `search`. */
static void sweep_model(const char *path, const char *label, bool search, sweep_stats *stats) {
  tps_error err;
  tps_error_clear(&err);
  stats->models++;
  tps_status st = tps_model_load(path, &model, &err);
  if (st != TPS_OK) {
    cr_assert(err.msg[0], "%s: refused without a message", label);
    cr_log_info("sweep %s: refused: %s", label, err.msg);
    stats->refused_load++;
    return;
  }
  bool any_estimate = false;
  for (int h = 0; h < N_HW; h++) {
    char hpath[4096];
    setenv("TPSIM_DATA_DIR", TPSIM_SOURCE_DIR, 1);
    cr_assert_eq(tps_data_find("hw_profiles", sweep_hws[h], hpath, sizeof hpath, &err), TPS_OK);
    for (int s = 0; s < N_STACK; s++) {
      cr_assert_eq(tps_hw_load(hpath, &hw, &err), TPS_OK, "%s: %s", hpath, err.msg);
      if (sweep_stacks[s])
        cr_assert_eq(tps_stack_load(sweep_stacks[s], &hw.stack, &err), TPS_OK, "%s", err.msg);
      char what[256];
      snprintf(what, sizeof what, "%s on %s, stack %s", label, hw.name,
               sweep_stacks[s] ? hw.stack.name : "own");
      /* the library, as `estimate` calls it */
      tps_run_overrides o;
      tps_run_overrides_init(&o);
      tps_run run;
      tps_error_clear(&err);
      if (tps_run_resolve(&model, &o, &run, &err) != TPS_OK ||
          tps_estimate_run(&model, &run, &hw, &est, &err) != TPS_OK) {
        cr_assert(err.msg[0], "%s: refused without a message", what);
        if (h == 0 && s == 0) cr_log_info("sweep %s: run refused: %s", label, err.msg);
        continue;
      }
      any_estimate = true;
      stats->estimates++;
      snprintf(checking, sizeof checking, "%s: ", what);
      assert_estimate(&est);
      char out[512], cards[32];
      snprintf(out, sizeof out, "%s/out", sweep_dir);
      snprintf(cards, sizeof cards, "%lld", (long long)run.cards);
      char *stack = (char *)(sweep_stacks[s] ? sweep_stacks[s] : h ? "none" : NULL);
      static const char *const formats[] = {"table", "csv", "json", "md"};
      for (int f = 0; f < 4; f++) {
        char *argv[] = {"tp-sim", "estimate", "--model", (char *)path, "--hw", hpath,
                        "--format", (char *)formats[f], "-o", out, "--stack", stack, NULL};
        sweep_cli(cmd_estimate, OPTS_MODEL | OPTS_TP_LIST | OPTS_RUN | OPTS_OUTPUT, argv,
                  stack ? 12 : 10, out, false, stats);
      }
      if (!search || s != h) continue;

      /* the search, as `recommend` calls it */
      tps_search_opts so;
      tps_search_opts_init(&so);
      so.cards = run.cards;
      static tps_search_result res;
      tps_search_result_init(&res);
      if (tps_search(&model, &hw, &so, &res, &err) == TPS_OK) {
        stats->searches++;
        for (int i = 0; i < res.n_top; i++) assert_row(&res.top[i], what);
        for (int i = 0; i < res.n_pareto; i++) assert_row(&res.pareto[i], what);
        for (int i = 0; i < res.n_tp; i++) {
          assert_sane(res.by_tp[i].min_peak_bytes, "by_tp min_peak_bytes");
          if (res.by_tp[i].found) assert_row(&res.by_tp[i].best, what);
        }
        scan_text(res.reason, what, false);
      } else {
        cr_assert(err.msg[0], "%s: search refused without a message", what);
      }
      tps_search_result_free(&res);

      for (int f = 0; f < 3; f += 2) {
        char *argv[] = {"tp-sim", "recommend", "--model", (char *)path, "--hw", hpath,
                        "--cards", cards, "--format", (char *)formats[f], "-o", out,
                        "--stack", stack, NULL};
        sweep_cli(cmd_recommend, OPTS_MODEL | OPTS_SEARCH | OPTS_OUTPUT, argv, stack ? 14 : 12,
                  out, false, stats);
      }
      snprintf(out, sizeof out, "%s/report", sweep_dir);
      char *argv[] = {"tp-sim", "report", "--model", (char *)path, "--hw", hpath,
                      "-o", out, "--stack", stack, NULL};
      sweep_cli(cmd_report, OPTS_MODEL | OPTS_TP_LIST | OPTS_RUN | OPTS_REPORT, argv,
                stack ? 10 : 8, out, true, stats);
    }
  }
  if (any_estimate) stats->accepted++;
  else stats->refused_run++;
}

Test(extremes, sweep_counts_and_rates, .timeout = 600) {
  cr_assert_not_null(mkdtemp(sweep_dir));
  mfu_max = 2.0;
  sweep_stats stats = {0};
  char path[512];
  snprintf(path, sizeof path, "%s/model.yaml", sweep_dir);
  long long v[N_KEYS];

  /* every count at 1 (window at 0 and at 1) */
  for (int w = 0; w <= 1; w++) {
    for (int i = 0; i < N_KEYS; i++) v[i] = sweep_keys[i].lo;
    V(SEC_VIT, "window") = w;
    sweep_fix(v, -1);
    sweep_write(path, v);
    sweep_model(path, w ? "all counts 1, window 1" : "all counts 1", true, &stats);
  }
  /* each count at 1 and at its maximum, the others at the base */
  for (int k = 0; k < N_KEYS; k++) {
    for (int end = 0; end < 2; end++) {
      for (int i = 0; i < N_KEYS; i++) v[i] = sweep_keys[i].base;
      v[k] = end ? sweep_keys[k].hi : sweep_keys[k].lo;
      sweep_fix(v, k);
      sweep_write(path, v);
      char label[96];
      snprintf(label, sizeof label, "%s %s = %lld",
               (const char *[]){"vit", "projector", "lm", "training"}[sweep_keys[k].sec],
               sweep_keys[k].key, v[k]);
      sweep_model(path, label, true, &stats);
    }
  }
  /* every count at its maximum at once, but for the three whose products
   * the loader refuses (patch pixels, merged width) and a single stage */
  for (int i = 0; i < N_KEYS; i++) v[i] = sweep_keys[i].hi;
  V(SEC_VIT, "patch") = 14;
  V(SEC_VIT, "temporal_patch") = 2;
  V(SEC_PROJ, "spatial_merge") = 2;
  V(SEC_TRAIN, "pp") = V(SEC_TRAIN, "vpp") = 1;
  sweep_fix(v, -1);
  sweep_write(path, v);
  /* Not searched: with 2 x 100,000 layers and 10^9-wide modules that many
   * TP sizes divide, the search builds hundreds of 200,000-layer plans and
   * takes minutes (docs/robustness.md). */
  sweep_model(path, "all counts at their maximum", false, &stats);
  unlink(path);
  rmdir(sweep_dir);

  cr_log_info("sweep: %d models, %d accepted (%d estimates, %d searches, %d CLI runs), %d refused "
              "by the loader, %d by every run",
              stats.models, stats.accepted, stats.estimates, stats.searches, stats.cli_runs,
              stats.refused_load, stats.refused_run);
  /* The sweep must mostly exercise accepted inputs: only the products that
   * do not fit int64 are refused by the loader. */
  cr_expect_geq(stats.accepted, stats.models - 6, "%d of %d accepted", stats.accepted,
                stats.models);
}
