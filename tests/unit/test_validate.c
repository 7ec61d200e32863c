/* Unit tests of `tp-sim validate --published` (sim/validate): the text rules,
 * the pairing of measured keys with engine quantities, error = predicted /
 * measured - 1, skipped cases with their exact reasons, file-level errors
 * with line and column, MAPE per group and the renderers.
 *
 * The validator is the tpsim_validate library. Fixtures:
 * tests/inputs/published/. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/validate_report.h"
#include "validate/pub_case.h"
#include "validate/pub_metrics.h"
#include "validate/pub_rules.h"
#include "validate/published.h"

#define FIXTURES TPSIM_SOURCE_DIR "/tests/inputs/published"

/* ---- helpers ---------------------------------------------------------- */

static validate_report rep;

static void validate_ok(const char *file, const char *hw) {
  tps_error err;
  tps_status st = pub_validate(file, hw, &rep, &err);
  cr_assert_eq(st, TPS_OK, "%s: %s", file, err.msg);
}

static void report_fini(void) { pub_report_free(&rep); }

/* The row of case `id` with metric `metric` ("" for a skipped case). */
static const validate_row *row_of(const char *id, const char *metric) {
  for (int i = 0; i < rep.n_rows; i++)
    if (strcmp(rep.rows[i].id, id) == 0 && strcmp(rep.rows[i].metric, metric) == 0)
      return &rep.rows[i];
  cr_assert_fail("no row %s/%s", id, metric);
  return NULL;
}

static void load_profile(const char *name, tps_hw *hw) {
  char path[4096];
  tps_error err;
  cr_assert_eq(tps_data_find("hw_profiles", name, path, sizeof path, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_hw_load(path, hw, &err), TPS_OK, "%s", err.msg);
}

/* The model the documented arch rule must build for a Megatron GPT text
 * ("GPT ... LayerNorm, GeLU ... learned pos-emb, tied embeddings"), written
 * out by hand, with the run defaults of docs/validation.md. */
static tps_model gpt_by_hand(int64_t layers, int64_t hidden, int64_t heads, int64_t seq) {
  tps_model m;
  memset(&m, 0, sizeof m);
  snprintf(m.name, sizeof m.name, "by-hand");
  tps_module *d = &m.modules[0];
  snprintf(d->name, sizeof d->name, "decoder");
  d->type = TPS_MODULE_DECODER;
  d->layers = layers;
  d->hidden = hidden;
  d->heads = d->kv_heads = heads;
  d->head_dim = hidden / heads;
  d->ffn = 4 * hidden;
  d->mlp = TPS_MLP_GELU;
  d->norm = TPS_NORM_LAYERNORM;
  d->bias = d->qkv_bias = d->dropout = true;
  d->vocab = 51200;
  d->tied_embeddings = true;
  d->position = TPS_POSITION_LEARNED;
  d->max_position = seq;
  m.n_modules = 1;
  m.training.seq_len = seq;
  m.training.vocab_divisor = 128;
  return m;
}

static void estimate_by_hand(const tps_model *m, const tps_run_overrides *o, const tps_hw *hw,
                             tps_run *run, tps_estimate *est) {
  tps_error err;
  cr_assert_eq(tps_run_resolve(m, o, run, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_estimate_run(m, run, hw, est, &err), TPS_OK, "%s", err.msg);
}

/* Relative difference, for values computed by the same arithmetic in a
 * different order. */
static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

/* ---- rules ------------------------------------------------------------ */

Test(rules, device_table) {
  cr_expect_str_eq(pub_device_profile("NVIDIA A100 SXM4 (DGX-A100; 40GB in 2020 - not stated)"),
                   "a100-40g-sxm");
  cr_expect_str_eq(pub_device_profile("NVIDIA A100 SXM4 (DGX-A100 cluster)"), "a100-40g-sxm");
  cr_expect_str_eq(pub_device_profile("NVIDIA A100 80GB SXM"), "a100-80g-sxm");
  cr_expect_str_eq(pub_device_profile("a100 80 GB"), "a100-80g-sxm");
  cr_expect_str_eq(pub_device_profile("NVIDIA H100 SXM5 80GB"), "h100-sxm");
  cr_expect_null(pub_device_profile("NVIDIA H100 PCIe"));
  cr_expect_str_eq(pub_device_profile("NVIDIA H200 141GB"), "h200");
  cr_expect_str_eq(pub_device_profile("2048 NVIDIA H800 GPUs"), "h800");
  cr_expect_str_eq(pub_device_profile("Ascend 910B2 (Atlas A2, 64GB HBM)"), "910b2");
  cr_expect_str_eq(pub_device_profile("Ascend 910b3"), "910b3");
  cr_expect_null(pub_device_profile("NVIDIA V100 SXM3 32GB (DGX-2H)"));
  cr_expect_null(pub_device_profile("Ascend 910B"));
  cr_expect_null(pub_device_profile(NULL));
}

Test(rules, arch_gpt) {
  tps_module m;
  memset(&m, 0, sizeof m);
  char why[128];
  cr_assert(pub_arch_apply("GPT (Megatron GPT-2/3 style: LayerNorm, GeLU MLP ffn=4h, MHA, "
                           "learned pos-emb, tied embeddings)",
                           1024, &m, why, sizeof why));
  cr_expect_eq(m.norm, TPS_NORM_LAYERNORM);
  cr_expect_eq(m.mlp, TPS_MLP_GELU);
  cr_expect_eq(m.position, TPS_POSITION_LEARNED);
  cr_expect_eq(m.max_position, 1024);
  cr_expect(m.tied_embeddings);
  cr_expect(m.bias && m.qkv_bias && m.dropout);
}

Test(rules, arch_llama_like) {
  tps_module m;
  memset(&m, 0, sizeof m);
  char why[128];
  cr_assert(pub_arch_apply("Qwen2.5 LM (RMSNorm, SwiGLU, GQA, mRoPE, untied), QKV bias", 4096, &m,
                           why, sizeof why));
  cr_expect_eq(m.norm, TPS_NORM_RMSNORM);
  cr_expect_eq(m.mlp, TPS_MLP_SWIGLU);
  cr_expect_eq(m.position, TPS_POSITION_ROPE);
  cr_expect_not(m.tied_embeddings);
  cr_expect_not(m.bias);
  cr_expect(m.qkv_bias);
  cr_expect_not(m.dropout);
  cr_expect_not(pub_arch_apply("Mixtral MoE, RMSNorm", 4096, &m, why, sizeof why));
  cr_expect_str_eq(why, "mixture-of-experts models are not modelled (model.arch)");
}

Test(rules, precision_year_recompute_flash) {
  bool expl;
  cr_expect_eq(pub_precision("fp16/bf16 mixed precision (not stated)", 2020, &expl),
               TPS_PRECISION_FP16);
  cr_expect_not(expl);
  cr_expect_eq(pub_precision("mixed precision (not stated)", 2023, &expl), TPS_PRECISION_BF16);
  cr_expect_not(expl);
  cr_expect_eq(pub_precision(NULL, 0, &expl), TPS_PRECISION_BF16);
  cr_expect_eq(pub_precision("bf16", 2019, &expl), TPS_PRECISION_BF16);
  cr_expect(expl);
  cr_expect_eq(pub_precision("fp16 mixed precision", 2023, &expl), TPS_PRECISION_FP16);
  cr_expect(expl);

  cr_expect_eq(pub_year_in("NVIDIA/Megatron-LM README, Sep-2020 scaling tables"), 2020);
  cr_expect_eq(pub_year_in("commit 5281919420 (2020-09-11)"), 2020);
  cr_expect_eq(pub_year_in("companion of Shoeybi et al. arXiv:1909.08053"), 2019);
  cr_expect_eq(pub_year_in("blog (2021-01-01), arXiv 1909.08053"), 2019);
  cr_expect_eq(pub_year_in("DGX-A100 batch size 2048"), 0);
  cr_expect_eq(pub_year_in(NULL), 0);

  tps_recompute r;
  cr_expect(pub_recompute("full (activation checkpointing per layer) - assumed", &r));
  cr_expect_eq(r, TPS_RECOMPUTE_FULL);
  cr_expect(pub_recompute("none (default script)", &r));
  cr_expect_eq(r, TPS_RECOMPUTE_NONE);
  cr_expect(pub_recompute("Selective, with SP", &r));
  cr_expect_eq(r, TPS_RECOMPUTE_SELECTIVE);
  cr_expect_not(pub_recompute("uniform", &r));
  cr_expect_not(pub_recompute("fullest", &r));
  cr_expect_not(pub_recompute(NULL, &r));

  cr_expect_eq(pub_flash_stated("flash-attn, fused rmsnorm/swiglu"), 1);
  cr_expect_eq(pub_flash_stated("no flash attention"), 0);
  cr_expect_eq(pub_flash_stated("GPT LayerNorm"), -1);
}

Test(rules, metric_table) {
  cr_expect_null(pub_metric_find("weak_scaling_efficiency"));
  cr_expect_null(pub_metric_find(NULL));
  const char *keys[] = {"iteration_time_s", "iteration_time_ms", "step_time_ms", "tflops_per_gpu",
                        "model_tflops_per_gpu", "mfu_pct", "hfu_pct", "tokens_per_s_per_gpu",
                        "tokens_per_s_per_card", "tokens_per_s_per_npu", "memory_gb_per_card",
                        "memory_gib_per_card", "memory_mb_per_card", "memory_gib_used_of_total",
                        "layer_fwd_ms", "layer_bwd_ms", "layer_total_ms"};
  int n = (int)(sizeof keys / sizeof keys[0]);
  cr_expect_eq(pub_metric_count(), n);
  for (int i = 0; i < n; i++) cr_expect_not_null(pub_metric_find(keys[i]), "%s", keys[i]);
}

/* ---- a GPT case predicted --------------------------------------------- */

/* Case gpt_tp1 of gpt_a100.yaml built and estimated by hand: the Megatron GPT
 * block (24 layers, h 1920, 15 heads, seq 1024), TP = PP = DP = 1, micro and
 * global batch 16, full recompute, fp16, no flash attention, on a100-40g-sxm. */
static void gpt_tp1_by_hand(tps_hw *hw, tps_model *m, tps_estimate *est) {
  load_profile("a100-40g-sxm", hw);
  *m = gpt_by_hand(24, 1920, 15, 1024);
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = o.pp = o.dp = 1;
  o.micro_batch = o.global_batch = 16;
  o.recompute = TPS_RECOMPUTE_FULL;
  o.precision = TPS_PRECISION_FP16;
  o.flash_attention = 0;
  o.sp = o.distributed_optimizer = 0;
  tps_run run;
  estimate_by_hand(m, &o, hw, &run, est);
}

/* Case gpt_tp1 is meg2020_dgxa100_tp1 of published-dev.yaml: the rule must
 * give the Megatron GPT block, fp16 (2020, precision not stated), no flash
 * attention (2020), full recompute, on a100-40g-sxm. */
Test(predict, gpt_pairing_and_exact_error, .fini = report_fini) {
  validate_ok(FIXTURES "/gpt_a100.yaml", NULL);
  cr_assert_eq(rep.n_cases, 2);
  cr_assert_eq(rep.n_skipped, 0);

  static tps_hw hw;
  static tps_model m;
  static tps_estimate est;
  gpt_tp1_by_hand(&hw, &m, &est);

  const validate_row *t = row_of("gpt_tp1", "iteration_time_ms");
  cr_expect_str_eq(t->group, "GPT on A100");
  cr_expect_str_eq(t->hw, "a100-40g-sxm");
  cr_expect_eq(t->measured, 1076.0);
  cr_expect(rel(t->predicted, est.step_time_s * 1e3) < 1e-12, "%.9g vs %.9g ms", t->predicted,
            est.step_time_s * 1e3);
  cr_expect_eq(t->error, t->predicted / t->measured - 1.0);
  cr_expect_not(t->uncertain);
  cr_expect(t->fits);

  const validate_row *f = row_of("gpt_tp1", "tflops_per_gpu");
  cr_expect_eq(f->measured, 149.8);
  double tflops = est.hardware_flops_per_step / est.step_time_s / 1.0 / 1e12;
  cr_expect(rel(f->predicted, tflops) < 1e-12, "%.9g vs %.9g", f->predicted, tflops);
  cr_expect_eq(f->error, f->predicted / f->measured - 1.0);

  /* weak_scaling_efficiency is not compared: two rows for this case. */
  int rows = 0;
  for (int i = 0; i < rep.n_rows; i++) rows += strcmp(rep.rows[i].id, "gpt_tp1") == 0;
  cr_expect_eq(rows, 2);
}

/* Case gpt_tp2_more_metrics: every other kind of measured key, against the
 * engine run by hand (A100 80GB by the device rule, bf16 stated, flash off
 * from the year 2020 in `source`, selective recompute). */
Test(predict, other_metric_pairings, .fini = report_fini) {
  validate_ok(FIXTURES "/gpt_a100.yaml", NULL);
  static tps_hw hw;
  load_profile("a100-80g-sxm", &hw);
  tps_model m = gpt_by_hand(24, 1920, 16, 1024);
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = 2;
  o.pp = 1;
  o.dp = 2;
  o.micro_batch = 4;
  o.global_batch = 16;
  o.recompute = TPS_RECOMPUTE_SELECTIVE;
  o.precision = TPS_PRECISION_BF16;
  o.flash_attention = 0;
  tps_run run;
  static tps_estimate est;
  estimate_by_hand(&m, &o, &hw, &run, &est);
  const char *id = "gpt_tp2_more_metrics";
  double card_s = est.step_time_s * 4;
  double peak = hw.peak_flops[TPS_PRECISION_BF16];
  struct {
    const char *metric;
    double expected;
    bool uncertain;
  } want[] = {
      {"memory_gb_per_card", est.memory.total / 1e9, true},
      {"memory_gib_used_of_total", est.memory.total / 1073741824.0, true},
      {"mfu_pct", est.mfu * 100.0, false},
      {"hfu_pct", est.hardware_flops_per_step / card_s / peak * 100.0, false},
      {"model_tflops_per_gpu", est.model_flops_per_step / card_s / 1e12, false},
      {"tokens_per_s_per_gpu", est.tokens_per_s_per_card, false},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const validate_row *r = row_of(id, want[i].metric);
    cr_expect(rel(r->predicted, want[i].expected) < 1e-12, "%s: %.9g vs %.9g", want[i].metric,
              r->predicted, want[i].expected);
    cr_expect_eq(r->uncertain, want[i].uncertain, "%s", want[i].metric);
    cr_expect_eq(r->error, r->predicted / r->measured - 1.0);
  }
  cr_expect_eq(row_of(id, "memory_gib_used_of_total")->measured, 18.5);

  /* Layer metrics: the first decoder block, one micro-batch. */
  tps_plan plan;
  tps_error err;
  cr_assert_eq(tps_plan_build(&m, &run, &plan, &err), TPS_OK, "%s", err.msg);
  int block = -1;
  for (int i = 0; i < plan.n_layers && block < 0; i++)
    if (plan.layers[i].index == 0) block = i;
  cr_assert(block >= 0);
  tps_layer_cost c;
  tps_layer_cost_compute(&plan, block, &run, &hw, &c);
  tps_plan_free(&plan);
  double fwd = (c.fwd_s + c.tp_comm_fwd_s) * 1e3;
  double bwd = (c.bwd_s + c.tp_comm_bwd_s + c.recompute_s + c.recompute_comm_s) * 1e3;
  cr_expect(rel(row_of(id, "layer_fwd_ms")->predicted, fwd) < 1e-12);
  cr_expect(rel(row_of(id, "layer_bwd_ms")->predicted, bwd) < 1e-12);
  cr_expect(rel(row_of(id, "layer_total_ms")->predicted, fwd + bwd) < 1e-12);
}

Test(predict, hw_override_applies_to_every_case, .fini = report_fini) {
  validate_ok(FIXTURES "/gpt_a100.yaml", "h100-sxm");
  cr_assert(rep.n_rows > 0);
  for (int i = 0; i < rep.n_rows; i++) cr_expect_str_eq(rep.rows[i].hw, "h100-sxm");
}

Test(predict, bundled_model_and_profile_key, .fini = report_fini) {
  validate_ok(FIXTURES "/profiles.yaml", NULL);
  const validate_row *r = row_of("bundled_model", "iteration_time_ms");
  cr_expect_str_eq(r->hw, "a100-80g-sxm");
  cr_expect(r->predicted > 0);
  const validate_row *s = row_of("missing_model", "");
  cr_expect_str_eq(s->skipped, "model_profile 'no-such-model': no model named 'no-such-model'");
}

/* ---- skipped cases ---------------------------------------------------- */

Test(skip, reasons, .fini = report_fini) {
  validate_ok(FIXTURES "/skips.yaml", NULL);
  struct {
    const char *id, *why;
  } want[] = {
      {"v100_case", "no hardware profile for 'NVIDIA V100 SXM3 32GB (DGX-2H)'"},
      {"cp_case", "parallel.cp_algo must name ring, ulysses or hybrid, got 'adaptive' (line 12)"},
      {"no_pp", "parallel.pp not given"},
      /* parallel.ep is read; a dense model has no experts to spread */
      {"ep_case", "the engine cannot evaluate it: --ep 2: model 'ep_case' has no experts"},
      {"vision_case",
       "model has a vision_encoder, which an inline case cannot describe; name a bundled model "
       "with model_profile: (line 37)"},
      {"nothing_compared",
       "no measured value tp-sim compares (given: weak_scaling_efficiency, aggregate_pflops)"},
      {"bad_recompute",
       "parallel.recompute must start with none, selective or full, got 'uniform blocks' (line 50)"},
      {"bad_layers", "'model.layers' must be an integer between 1 and 10000, got 'forty' (line 55)"},
      {"count_mismatch", "hardware.count 8 is not tp x pp x dp = 2 x 1 x 2 = 4 (line 63)"},
      {"bad_measured",
       "'measured.iteration_time_s' must be a number from 1e-09 to 1e+15, got 'about one' (line 76)"},
      {"case 12", "case 12 is not a mapping (line 77)"},
      /* a key of model: written beside it would change nothing: refused */
      {"stray_seq_len", "unknown case key 'seq_len' (model keys go under model:, run keys under "
                        "parallel:) (line 80)"},
      {"bad_cross_entropy", "parallel.cross_entropy must be megatron or te, got 'fused' (line 88)"},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    cr_expect_str_eq(row_of(want[i].id, "")->skipped, want[i].why, "%s", want[i].id);
  const validate_row *e = row_of("tp_not_dividing", "");
  cr_expect(strstr(e->skipped, "the engine cannot evaluate it: ") == e->skipped, "%s", e->skipped);
  cr_expect_eq(rep.n_cases, 14);
  cr_expect_eq(rep.n_skipped, 14);
  cr_expect_eq(rep.n, 0);
}

/* ---- file-level errors ------------------------------------------------ */

static void expect_file_error(const char *file, tps_status status, int line, int col,
                              const char *msg) {
  tps_error err;
  tps_status st = pub_validate(file, NULL, &rep, &err);
  pub_report_free(&rep);
  cr_expect_eq(st, status, "%s: got %s (%s)", file, tps_status_name(st), err.msg);
  cr_expect_str_eq(err.file, file);
  cr_expect_eq(err.line, line, "%s: line %d", file, err.line);
  cr_expect_eq(err.col, col, "%s: col %d", file, err.col);
  cr_expect_str_eq(err.msg, msg);
}

Test(file, errors_with_line_and_column) {
  expect_file_error(FIXTURES "/bad_yaml.yaml", TPS_ESYNTAX, 4, 11,
                    "invalid YAML: did not find expected ',' or '}'");
  expect_file_error(FIXTURES "/cases_not_list.yaml", TPS_ETYPE, 3, 3,
                    "'cases' must be a list of cases, got a mapping");
  expect_file_error(FIXTURES "/no_cases.yaml", TPS_EMISSINGKEY, 2, 1, "missing key 'cases'");
  expect_file_error(FIXTURES "/no-such-file.yaml", TPS_EIO, 0, 0,
                    "cannot open file: no such file or directory");
}

Test(file, bad_hw_override) {
  tps_error err;
  tps_status st = pub_validate(FIXTURES "/gpt_a100.yaml", "no-such-hw", &rep, &err);
  pub_report_free(&rep);
  cr_expect_eq(st, TPS_ENOTFOUND);
  cr_expect_str_eq(err.msg, "no hardware profile named 'no-such-hw'");
}

/* ---- summary and renderers -------------------------------------------- */

Test(summary, mape_per_group_and_overall, .fini = report_fini) {
  validate_ok(FIXTURES "/gpt_a100.yaml", NULL);
  cr_assert_eq(rep.n_groups, 1);
  double sum = 0.0;
  int n = 0;
  for (int i = 0; i < rep.n_rows; i++) {
    sum += fabs(rep.rows[i].error);
    n++;
  }
  cr_expect_eq(rep.groups[0].n, n);
  cr_expect_eq(rep.n, n);
  cr_expect(rel(rep.groups[0].mape, sum / n) < 1e-12);
  cr_expect(rel(rep.mape, sum / n) < 1e-12);
  cr_expect_eq(pub_count_beyond(&rep, 1e9), 0);
  cr_expect_eq(pub_count_beyond(&rep, 0.0), n);
}

Test(summary, renderers, .fini = report_fini) {
  validate_ok(FIXTURES "/skips.yaml", NULL);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_not_null(f);
  report_validate_json(f, &rep);
  report_validate_table(f, &rep);
  fclose(f);
  cr_expect(strstr(buf, "\"skipped\": \"no hardware profile for 'NVIDIA V100 SXM3 32GB (DGX-2H)'\""),
            "%s", buf);
  cr_expect(strstr(buf, "\"mape\": null"));
  cr_expect(strstr(buf, "  v100_case                        skipped: no hardware profile"));
  free(buf);
}

/* ---- coverage of the predicted intervals (docs/uncertainty.md) --------- */

static tps_model_errors errors_of(double time_sd, double memory_sd) {
  tps_model_errors me;
  memset(&me, 0, sizeof me);
  snprintf(me.e[0].stack, sizeof me.e[0].stack, "megatron-cuda");
  me.e[0].time_sd = time_sd;
  me.e[0].memory_sd = memory_sd;
  me.n = 1;
  return me;
}

/* A case's `stack:` (case key or hardware.stack) runs its profile with that
 * software stack: the model-error entry is the stack's, so with 10% for
 * megatron-cuda and 30% for megatron-deepspeed (whose constants are
 * megatron-cuda's, transferred) the same run's interval is wider by the
 * ratio of the log-widths; a stack that does not exist skips the case. */
Test(predict, case_stack_key, .fini = report_fini) {
  tps_model_errors me = errors_of(0.10, 0.05);
  snprintf(me.e[1].stack, sizeof me.e[1].stack, "megatron-deepspeed");
  me.e[1].time_sd = 0.30;
  me.e[1].memory_sd = 0.05;
  me.n = 2;
  tps_error err;
  cr_assert_eq(pub_validate_at(FIXTURES "/profiles.yaml", NULL, 0.9, &me, &rep, &err), TPS_OK,
               "%s", err.msg);
  const validate_row *a = row_of("bundled_model", "iteration_time_ms");
  const validate_row *b = row_of("stacked", "iteration_time_ms");
  cr_assert_float_eq(a->predicted, b->predicted, 1e-9 * a->predicted,
                     "transferred constants: the same prediction");
  const double wa = log(a->hi / a->lo), wb = log(b->hi / b->lo);
  cr_assert(wb > 2.5 * wa && wb < 3.0 * wa, "log-widths %g (10%%) and %g (30%%)", wa, wb);
  const validate_row *s = row_of("missing_stack", "");
  cr_expect(strstr(s->skipped, "stack 'no-such-stack'") != NULL, "%s", s->skipped);
}

/* Each row's interval is tps_uncertainty_run's for its case (the step time's
 * for a time or throughput metric), `inside` says whether the measured value
 * lies in it, and the coverage is the share inside, per group and overall. */
Test(coverage, rows_intervals_and_shares, .fini = report_fini) {
  tps_model_errors me = errors_of(0.10, 0.05);
  tps_error err;
  cr_assert_eq(pub_validate_at(FIXTURES "/gpt_a100.yaml", NULL, 0.9, &me, &rep, &err), TPS_OK,
               "%s", err.msg);
  cr_assert_eq(rep.level, 0.9);
  /* gpt_tp1 by hand, as in predict.gpt_pairing_and_exact_error. */
  static tps_hw hw;
  static tps_model m;
  static tps_estimate est;
  gpt_tp1_by_hand(&hw, &m, &est);
  tps_unc_opts uo;
  tps_unc_opts_init(&uo);
  uo.time_sd = 0.10;
  uo.memory_sd = 0.05;
  static tps_uncertainty u;
  cr_assert_eq(tps_uncertainty_run(&m, &hw, &est, &uo, &u, &err), TPS_OK, "%s", err.msg);
  cr_assert(u.sd_log_time > 0.10, "the model error and the stack's spreads: %g", u.sd_log_time);
  const validate_row *t = row_of("gpt_tp1", "iteration_time_ms");
  cr_expect(rel(t->lo, t->predicted * exp(-u.z * u.sd_log_time)) < 1e-9, "lo %.9g", t->lo);
  cr_expect(rel(t->hi, t->predicted * exp(u.z * u.sd_log_time)) < 1e-9, "hi %.9g", t->hi);
  /* -5.1% error, inside +-(1.645 x > 10%). */
  cr_expect(t->inside);
  const validate_row *f = row_of("gpt_tp1", "tflops_per_gpu");
  cr_expect(rel(f->hi / f->predicted, t->hi / t->predicted) < 1e-9,
            "a throughput metric takes the step time's relative interval");
  int n = 0, in = 0;
  for (int i = 0; i < rep.n_rows; i++) {
    const validate_row *r = &rep.rows[i];
    if (r->skipped[0]) continue;
    n++;
    in += r->inside;
    cr_expect_eq(r->inside, r->measured >= r->lo && r->measured <= r->hi, "%s %s", r->id,
                 r->metric);
    cr_expect_not(r->no_model_error, "the stack entry applies to %s", r->hw);
  }
  cr_assert_eq(rep.n, n);
  cr_expect_eq(rep.n_inside, in);
  cr_expect(fabs(rep.coverage - (double)in / n) < 1e-15);
  cr_expect_eq(rep.groups[0].n_inside, in, "one group in the fixture");
  coverage_check c = pub_coverage_check(in, n, 0.9);
  cr_expect_eq(rep.groups[0].check.verdict, c.verdict);
  cr_expect_eq(rep.groups[0].check.p_value, c.p_value);
  cr_expect_eq(rep.check.p_value, c.p_value, "the whole file: the same rows");
}

/* A model error far beyond every error covers every value (coverage 1); a
 * 1% interval without model error covers none of them (coverage 0); level 0
 * gives no interval (coverage NaN); no matching entry is reported. */
Test(coverage, extremes_and_off, .fini = report_fini) {
  tps_error err;
  tps_model_errors wide = errors_of(3.0, 3.0), none = errors_of(0.0, 0.0);
  cr_assert_eq(pub_validate_at(FIXTURES "/gpt_a100.yaml", NULL, 0.9, &wide, &rep, &err), TPS_OK);
  cr_assert(rep.n > 0);
  cr_expect_eq(rep.n_inside, rep.n);
  cr_expect_eq(rep.coverage, 1.0);
  pub_report_free(&rep);
  cr_assert_eq(pub_validate_at(FIXTURES "/gpt_a100.yaml", NULL, 0.01, &none, &rep, &err), TPS_OK);
  cr_expect_eq(rep.n_inside, 0, "1%% intervals of the stack's spreads alone");
  cr_expect_eq(rep.coverage, 0.0);
  pub_report_free(&rep);
  cr_assert_eq(pub_validate_at(FIXTURES "/gpt_a100.yaml", NULL, 0.0, &wide, &rep, &err), TPS_OK);
  cr_expect(isnan(rep.coverage));
  cr_expect(isnan(rep.rows[0].lo));
  pub_report_free(&rep);
  cr_assert_eq(pub_validate_at(FIXTURES "/gpt_a100.yaml", NULL, 0.9, NULL, &rep, &err), TPS_OK);
  cr_expect_eq(rep.n_no_model_error, rep.n);
  pub_report_free(&rep);
  cr_expect_eq(pub_validate_at(FIXTURES "/gpt_a100.yaml", NULL, 1.5, &wide, &rep, &err),
               TPS_EINVAL);
}

/* The coverage check is the exact two-sided binomial test: p = 2 x min(P(X <= k),
 * P(X >= k)) for X ~ Binomial(n, level), capped at 1. Expected p-values from
 * the binomial sums written out (Python math.comb): 34 of 34 at 90% is
 * 2 x 0.9^34 = 0.05563 (consistent, just); 40 of 40 is 2 x 0.9^40 = 0.02956
 * (too wide); 3 of 9 is 2 x P(X <= 3) = 1.2847e-4 (too narrow); 16 of 20 is
 * 0.26591 (consistent). */
Test(coverage, binomial_check) {
  struct {
    int k, n;
    double p;
    coverage_verdict v;
  } cases[] = {{34, 34, 0.0556256779, COVERAGE_CONSISTENT},
               {40, 40, 0.0295617659, COVERAGE_TOO_WIDE},
               {3, 9, 1.28468e-4, COVERAGE_TOO_NARROW},
               {16, 20, 0.2659066469, COVERAGE_CONSISTENT},
               {6, 6, 1.0, COVERAGE_CONSISTENT}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    coverage_check c = pub_coverage_check(cases[i].k, cases[i].n, 0.9);
    cr_expect(rel(c.p_value, cases[i].p) < 1e-6, "%d/%d: p %.10g, expected %.10g", cases[i].k,
              cases[i].n, c.p_value, cases[i].p);
    cr_expect_eq(c.verdict, cases[i].v, "%d/%d", cases[i].k, cases[i].n);
  }
  coverage_check none = pub_coverage_check(0, 0, 0.9);
  cr_expect_eq(none.verdict, COVERAGE_NONE);
  cr_expect(isnan(none.p_value));
  cr_expect_eq(pub_coverage_check(3, 2, 0.9).verdict, COVERAGE_NONE, "k > n is no check");
  cr_expect_eq(pub_coverage_check(1, 2, 0.0).verdict, COVERAGE_NONE, "no intervals");
}
