/* Mixture of experts, MLA and MTP: parameter counts of the bundled MoE
 * models and of their Hugging Face config.json against the published totals
 * (to the digits published) and against closed-form counts written here from
 * the config values (exact), the MoE layer pattern, and the keys' errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tpsim/tpsim.h"

#define HF TPSIM_SOURCE_DIR "/tests/inputs/hf/"
#define BAD TPSIM_SOURCE_DIR "/tests/inputs/moe/"

static void load_named(const char *name, tps_model *m) {
  char path[4096];
  tps_error err;
  cr_assert_eq(tps_data_find("models", name, path, sizeof path, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_model_load(path, m, &err), TPS_OK, "%s: %s", path, err.msg);
}

static void load_path(const char *path, tps_model *m) {
  tps_error err;
  cr_assert_eq(tps_model_load(path, m, &err), TPS_OK, "%s: %s", path, err.msg);
}

/* x agrees with a published figure to its last digit (`unit`): publishers
 * round (Mixtral's 12.88B -> "12.9B") or truncate (Qwen3's 3.35B -> "3.3B",
 * DeepSeek-V3's 37.55B -> "37B"), so x is in [published - unit/2,
 * published + unit). */
static void assert_published(double x, double published, double unit, const char *what) {
  cr_assert(x >= published - unit / 2.0 && x < published + unit,
            "%s: %.0f does not give the published %.2f (unit %g)", what, x, published, unit);
}

/* Closed forms (SwiGLU experts: 3 h f weights each; RMSNorm: h weights).
 * Mixtral-8x7B (HF mistralai/Mixtral-8x7B-v0.1 config.json): per layer
 * attention h(q) + 2 x 1024 (k, v) + h (o) rows of h, router 8 h, 8 experts,
 * 2 norms; embedding and head 32000 h each; final norm. */
static double mixtral_total(void) {
  const double h = 4096, f = 14336, L = 32, V = 32000;
  double layer = h * h + 2 * h * 1024 + h * h + 8 * h + 8 * 3 * h * f + 2 * h;
  return L * layer + 2 * V * h + h;
}
static double mixtral_active(void) { return mixtral_total() - 32 * 6 * 3 * 4096.0 * 14336; }

/* Qwen3-30B-A3B (HF Qwen/Qwen3-30B-A3B config.json): 32 q heads and 4 kv
 * heads of 128, 128 experts of 768, top-8; q/k norms not modelled. */
static double qwen3_total(void) {
  const double h = 2048, L = 48, V = 151936;
  double attn = h * 32 * 128 + 2 * h * 4 * 128 + 32 * 128 * h;
  double layer = attn + 128 * h + 128 * 3 * h * 768 + 2 * h;
  return L * layer + 2 * V * h + h;
}
static double qwen3_active(void) { return qwen3_total() - 48 * 120 * 3 * 2048.0 * 768; }

/* DeepSeek-V3 (HF deepseek-ai/DeepSeek-V3 config.json; MLA as DeepSeek-V2,
 * arXiv 2405.04434 Sec. 2.1): q down 1536, its norm, q up 128 x (128 + 64);
 * kv down 512 + 64, its norm, kv up 128 x (128 + 128); out 128 x 128 rows. */
static double ds_mla(void) {
  const double h = 7168, H = 128;
  return h * 1536 + 1536 + 1536 * H * 192 + h * (512 + 64) + 512 + 512 * H * 256 + H * 128 * h;
}
static double ds_moe(void) {
  const double h = 7168;
  return h * 256 + 256 /* router + score bias */ + 256 * 3 * h * 2048 + 3 * h * 2048 /* shared */;
}
static double ds_main(void) {
  const double h = 7168, V = 129280;
  return 61 * (ds_mla() + 2 * h) + 3 * 3 * h * 18432 + 58 * ds_moe() + 2 * V * h + h;
}
/* One MTP module (arXiv 2412.19437 Sec. 2.2): 2 norms, projection 2h -> h,
 * one MoE block, the head's norm. */
static double ds_mtp(void) {
  const double h = 7168;
  return 2 * h + 2 * h * h + ds_mla() + 2 * h + ds_moe() + h;
}

static void check_mixtral(const tps_model *m) {
  cr_assert_eq(tps_model_params(m), mixtral_total(), "%.0f", tps_model_params(m));
  cr_assert_eq(tps_model_active_params(m), mixtral_active(), "%.0f", tps_model_active_params(m));
  /* Jiang et al. 2024 (arXiv 2401.04088) / Mistral AI: 46.7B total, 12.9B active */
  assert_published(tps_model_params(m), 46.70e9, 0.01e9, "Mixtral total");
  assert_published(tps_model_active_params(m), 12.9e9, 0.1e9, "Mixtral active");
}

static void check_qwen3(const tps_model *m) {
  cr_assert_eq(tps_model_params(m), qwen3_total(), "%.0f", tps_model_params(m));
  cr_assert_eq(tps_model_active_params(m), qwen3_active(), "%.0f", tps_model_active_params(m));
  /* Qwen3 Technical Report (arXiv 2505.09388) Table 2: 30.5B total, 3.3B activated */
  assert_published(tps_model_params(m), 30.5e9, 0.1e9, "Qwen3 total");
  assert_published(tps_model_active_params(m), 3.3e9, 0.1e9, "Qwen3 active");
}

static void check_deepseek(const tps_model *m) {
  double total = tps_model_params(m), mtp = tps_model_mtp_params(m);
  cr_assert_eq(mtp, ds_mtp(), "MTP %.0f", mtp);
  cr_assert_eq(total - mtp, ds_main(), "main %.0f", total - mtp);
  /* arXiv 2412.19437 Sec. 1: 671B total, 37B activated per token */
  assert_published(total - mtp, 671e9, 1e9, "DeepSeek-V3 main");
  assert_published(tps_model_active_params(m), 37e9, 1e9, "DeepSeek-V3 active");
  /* README: 685B on Hugging Face = 671B main + 14B MTP, whose stored
   * weights repeat the embedding and the output head (2 x 129280 x 7168).
   * tp-sim's 684.49B (13.46B for the MTP module with those copies) counts
   * the weights only, not the checkpoint's FP8 scale tensors; the published
   * split does not add up to one rounding (671.03 + 13.46), so the check is
   * to within 1B. */
  double stored = total + 2 * 129280.0 * 7168;
  cr_assert(fabs(stored - 685e9) < 1e9, "checkpoint %.0f", stored);
}

Test(moe, mixtral_from_model_yaml) {
  static tps_model m;
  load_named("mixtral-8x7b", &m);
  check_mixtral(&m);
}

Test(moe, qwen3_from_model_yaml) {
  static tps_model m;
  load_named("qwen3-30b-a3b", &m);
  check_qwen3(&m);
}

Test(moe, deepseek_v3_from_model_yaml) {
  static tps_model m;
  load_named("deepseek-v3", &m);
  check_deepseek(&m);
}

/* DeepSeek's rule (modeling_deepseek.py): layer i is MoE when i >=
 * first_k_dense_replace and i % moe_layer_freq == 0. */
Test(moe, layer_pattern) {
  tps_module mod;
  memset(&mod, 0, sizeof mod);
  mod.type = TPS_MODULE_DECODER;
  mod.layers = 10;
  mod.experts = 4;
  mod.first_dense_layers = 3;
  mod.moe_layer_freq = 2;
  int expect[10] = {0, 0, 0, 0, 1, 0, 1, 0, 1, 0};
  for (int i = 0; i < 10; i++)
    cr_assert_eq(tps_module_layer_is_moe(&mod, i), expect[i] != 0, "layer %d", i);
  mod.experts = 0;
  cr_assert(!tps_module_layer_is_moe(&mod, 4), "a dense model has no MoE layer");
}

/* The lowering of an MoE block at TP 2: the routed experts are one grouped
 * GEMM over tokens x top-k rows holding experts x h x 2 f / tp weights. */
Test(moe, lowering_of_an_moe_block) {
  static tps_model m;
  load_named("mixtral-8x7b", &m);
  tps_run run;
  memset(&run, 0, sizeof run);
  run.tp = 2;
  run.pp = run.dp = run.micro_batch = 1;
  run.seq_len = 4096;
  run.vocab_divisor = 128;
  run.precision = TPS_PRECISION_BF16;
  tps_op_list ops;
  tps_op_list_init(&ops);
  tps_error err;
  tps_lower_opts o = {.kind = TPS_LAYER_BLOCK, .moe = true};
  cr_assert_eq(tps_lower_layer(&m.modules[0], &run, o, &ops, &err), TPS_OK, "%s", err.msg);
  const tps_op *up = NULL, *router = NULL;
  for (int i = 0; i < ops.n; i++) {
    if (strcmp(ops.ops[i].name, "experts_up") == 0) up = &ops.ops[i];
    if (strcmp(ops.ops[i].name, "router") == 0) router = &ops.ops[i];
  }
  cr_assert(up && router);
  cr_assert_eq(up->m, 4096 * 2);
  cr_assert_eq(up->n, 2 * 14336 / 2);
  cr_assert_eq(up->groups, 8);
  cr_assert(up->routed);
  cr_assert_eq(up->params, 8.0 * 4096 * 14336);
  cr_assert_eq(up->fwd_flops, 2.0 * 8192 * 4096 * 14336);
  cr_assert_eq(router->params, 4096.0 * 8);
  tps_op_list_free(&ops);
}

static void assert_bad(const char *file, tps_status status, int line, const char *text) {
  static tps_model m;
  tps_error err;
  char path[4096];
  snprintf(path, sizeof path, BAD "%s", file);
  cr_assert_eq(tps_model_load(path, &m, &err), status, "%s: %s", file, err.msg);
  cr_assert_eq(err.line, line, "%s: line %d: %s", file, err.line, err.msg);
  cr_assert(strstr(err.msg, text), "%s: '%s' lacks '%s'", file, err.msg, text);
}

Test(moe, keys_refused_by_name) {
  assert_bad("topk-without-experts.yaml", TPS_EINVAL, 14, "'experts_per_token' needs 'experts'");
  assert_bad("experts-without-topk.yaml", TPS_EMISSINGKEY, 14, "missing key 'experts_per_token'");
  assert_bad("topk-above-experts.yaml", TPS_ERANGE, 15, "is above 'experts'");
  assert_bad("mla-without-kv-lora.yaml", TPS_EINVAL, 14, "'q_lora_rank' needs 'kv_lora_rank'");
  assert_bad("mla-missing-rope.yaml", TPS_EMISSINGKEY, 14, "missing key 'qk_rope_head_dim'");
}

/* The same models from their Hugging Face config.json (the published files'
 * values; DeepSeek-V3's quantization_config (FP8 weights) and rope_scaling
 * are left out of the test file). */
Test(moe, mixtral_from_hf_config) {
  static tps_model m;
  load_path(HF "mixtral-8x7b/config.json", &m);
  check_mixtral(&m);
  cr_assert_eq(m.modules[0].router_score, TPS_ROUTER_SOFTMAX);
}

Test(moe, mixtral_from_hf_defaults) {
  static tps_model m; /* MixtralConfig defaults for what the file leaves out */
  load_path(HF "mixtral/config.json", &m);
  check_mixtral(&m);
}

Test(moe, qwen3_from_hf_config) {
  static tps_model m;
  load_path(HF "qwen3-30b-a3b/config.json", &m);
  check_qwen3(&m);
}

Test(moe, deepseek_v3_from_hf_config) {
  static tps_model m;
  load_path(HF "deepseek-v3/config.json", &m);
  check_deepseek(&m);
  cr_assert_eq(m.modules[0].router_score, TPS_ROUTER_SIGMOID);
  cr_assert(m.modules[0].router_bias, "topk_method noaux_tc: a score bias");
}

/* Qwen1.5-MoE-A2.7B (HF Qwen/Qwen1.5-MoE-A2.7B config.json, Qwen2MoeForCausalLM):
 * q/k/v biases, 60 experts of 1408, top-4, a shared expert of 5632 behind a
 * sigmoid gate Linear(h, 1). Published (Qwen blog "Qwen1.5-MoE: Matching 7B
 * Model Performance with 1/3 Activated Parameters", 2024): 14.3B total, 2.7B
 * activated. */
Test(moe, qwen2_moe_from_hf_config) {
  static tps_model m;
  load_path(HF "qwen1.5-moe-a2.7b/config.json", &m);
  const double h = 2048, L = 24, V = 151936;
  double attn = 4 * h * h + 3 * h;
  double moe = 60 * h + 60 * 3 * h * 1408 + 3 * h * 5632 + h;
  double total = L * (attn + moe + 2 * h) + 2 * V * h + h;
  cr_assert_eq(tps_model_params(&m), total, "%.0f", tps_model_params(&m));
  cr_assert_eq(tps_model_active_params(&m), total - L * 56 * 3 * h * 1408);
  assert_published(tps_model_params(&m), 14.3e9, 0.1e9, "Qwen1.5-MoE total");
  assert_published(tps_model_active_params(&m), 2.7e9, 0.1e9, "Qwen1.5-MoE active");
}
