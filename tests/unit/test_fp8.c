/* FP8 training (docs/model.md section 9): the FP8 memory component against
 * its formula from the Llama 3 8B shapes, FP8 primary weights, the FP8 GEMM
 * time against the profile's fp8 peak and efficiency, the FP8 saved inputs,
 * and the refusal on a profile without an FP8 peak. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "tpsim/tpsim.h"

static tps_model model;
static tps_hw h100, a100;

static void load(const char *kind, const char *name, void *out) {
  char path[4096];
  tps_error err;
  cr_assert_eq(tps_data_find(kind, name, path, sizeof path, &err), TPS_OK, "%s", err.msg);
  tps_status st = strcmp(kind, "models") == 0 ? tps_model_load(path, out, &err)
                                              : tps_hw_load(path, out, &err);
  cr_assert_eq(st, TPS_OK, "%s: %s", path, err.msg);
}

static void setup(void) {
  load("models", "llama3-8b", &model);
  load("hw_profiles", "h100-sxm", &h100);
  load("hw_profiles", "a100-80g-sxm", &a100);
}

static void estimate(int fp8, int param_gather, int64_t history, const tps_hw *hw,
                     tps_estimate *est) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = 2;
  o.fp8 = fp8;
  o.fp8_param_gather = param_gather;
  o.fp8_amax_history = history;
  tps_run run;
  tps_error err;
  cr_assert_eq(tps_run_resolve(&model, &o, &run, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_estimate_run(&model, &run, hw, est, &err), TPS_OK, "%s", err.msg);
}

/* Llama 3 8B (HF meta-llama/Meta-Llama-3-8B config.json: hidden 4096, 32
 * layers, 8 KV heads of 128, SwiGLU 14336) at TP 2: FP8 GEMM weights per
 * rank per layer = 4096 x (4096 + 2 x 8 x 128) (qkv) + 4096 x 4096 (out) +
 * 4096 x 2 x 14336 (gate+up) + 14336 x 4096 (down), halved; 4 FP8 GEMMs
 * per layer, each with 5 fp32 amax histories. */
static const double fp8_weights_per_rank = 32.0 * 4096.0 * (6144 + 4096 + 28672 + 14336) / 2.0;
static const double fp8_gemms = 32.0 * 4.0;

Test(fp8, memory_component_formula, .init = setup) {
  static tps_estimate bf16, fp8;
  estimate(TPS_FP8_NONE, -1, 0, &h100, &bf16);
  estimate(TPS_FP8_HYBRID, -1, 1024, &h100, &fp8);
  cr_assert_eq(bf16.memory.fp8, 0.0);
  double expect = 2.0 * fp8_weights_per_rank + fp8_gemms * 5.0 * 4.0 * 1024.0;
  cr_assert(fabs(fp8.memory.fp8 - expect) <= 1e-12 * expect, "fp8 %.0f, formula %.0f",
            fp8.memory.fp8, expect);
  /* weights, gradients and optimizer state do not change */
  cr_assert_eq(fp8.memory.weights, bf16.memory.weights);
  cr_assert_eq(fp8.memory.grads, bf16.memory.grads);
  cr_assert_eq(fp8.memory.optimizer, bf16.memory.optimizer);
  /* the total holds every component */
  const tps_memory *m = &fp8.memory;
  double sum = m->weights + m->grads + m->optimizer + m->activations + m->allocator +
               m->runtime_reserve + m->fp8;
  cr_assert(fabs(m->total - sum) <= 1e-9 * sum);
}

/* FP8 primary weights: the FP8 GEMMs' weights are held in 1 byte (2 less 1
 * per weight in `weights`), the FP8 component is their transpose. */
Test(fp8, primary_weights, .init = setup) {
  static tps_estimate bf16, fp8;
  estimate(TPS_FP8_NONE, -1, 0, &h100, &bf16);
  estimate(TPS_FP8_E4M3, 1, 1, &h100, &fp8);
  double d = bf16.memory.weights - fp8.memory.weights;
  cr_assert(fabs(d - fp8_weights_per_rank) <= 1e-12 * fp8_weights_per_rank, "%.0f", d);
  double expect = fp8_weights_per_rank + fp8_gemms * 5.0 * 4.0 * 1.0;
  cr_assert(fabs(fp8.memory.fp8 - expect) <= 1e-12 * expect, "%.0f vs %.0f", fp8.memory.fp8,
            expect);
}

/* Efficiency at x between two table points, linear in log10(x). */
static double interp(double x, double x0, double y0, double x1, double y1) {
  return y0 + (log10(x) - log10(x0)) / (log10(x1) - log10(x0)) * (y1 - y0);
}

/* One FP8 GEMM of 8192 x 4096 x 4096 (2.7488e11 FLOPs, just below the
 * h100-sxm fp8_gemm_efficiency points 1.374e11: 0.7762 and 2.749e11: 0.8007)
 * takes FLOPs / (1979 TFLOPS x efficiency) + a launch, plus the input's
 * cast-transpose: 8192 x 4096 elements x (2 + 2) bytes at 3.35 TB/s x 0.85,
 * and its launch (profile values). */
Test(fp8, gemm_time_at_the_fp8_peak, .init = setup) {
  tps_op op;
  memset(&op, 0, sizeof op);
  op.kind = TPS_OP_GEMM;
  op.m = 8192;
  op.n = op.k = 4096;
  op.fwd_flops = 2.0 * 8192 * 4096 * 4096;
  op.fwd_bytes = (8192.0 * 4096 * 2 + 4096.0 * 4096) * 2;
  op.fp8 = true;
  tps_run run;
  memset(&run, 0, sizeof run);
  run.precision = TPS_PRECISION_BF16;
  run.fp8 = TPS_FP8_HYBRID;
  double f, b;
  tps_op_time(&op, &h100, &run, &f, &b);
  double eff = interp(op.fwd_flops, 1.374e11, 0.7762, 2.749e11, 0.8007);
  double expect = op.fwd_flops / (1979e12 * eff) + 5e-6 +
                  8192.0 * 4096 * 4.0 / (3.35e12 * 0.85) + 5e-6;
  cr_assert(fabs(f - expect) <= 1e-9 * expect, "%.9g s, expected %.9g s", f, expect);
  /* the same op in bf16: the 989 TFLOPS peak at the profile's efficiency by
   * shape (gemm_efficiency_shapes; 8192 rows clamp to the grid's 4096) */
  op.fp8 = false;
  tps_op_time(&op, &h100, &run, &f, &b);
  expect = op.fwd_flops / (989e12 * tps_gemm_shape_eval(&h100.gemm_shapes, 8192, 4096, 4096)) +
           5e-6;
  cr_assert(fabs(f - expect) <= 1e-9 * expect, "%.9g s, expected %.9g s", f, expect);
}

/* The block GEMMs run in FP8 and save their input in 1 byte; the output
 * layer (lm_head) stays in bf16. */
Test(fp8, which_gemms_and_saved_inputs, .init = setup) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.fp8 = TPS_FP8_HYBRID;
  tps_run run;
  tps_error err;
  cr_assert_eq(tps_run_resolve(&model, &o, &run, &err), TPS_OK, "%s", err.msg);
  tps_op_list bf16_ops, fp8_ops, head;
  tps_op_list_init(&bf16_ops);
  tps_op_list_init(&fp8_ops);
  tps_op_list_init(&head);
  tps_lower_opts block = {.kind = TPS_LAYER_BLOCK}, hd = {.kind = TPS_LAYER_HEAD};
  cr_assert_eq(tps_lower_layer(&model.modules[0], &run, block, &fp8_ops, &err), TPS_OK);
  cr_assert_eq(tps_lower_layer(&model.modules[0], &run, hd, &head, &err), TPS_OK);
  run.fp8 = TPS_FP8_NONE;
  cr_assert_eq(tps_lower_layer(&model.modules[0], &run, block, &bf16_ops, &err), TPS_OK);
  int n_fp8 = 0;
  for (int i = 0; i < fp8_ops.n; i++) {
    const tps_op *a = &fp8_ops.ops[i], *b = &bf16_ops.ops[i];
    cr_assert_eq(a->fp8, a->kind == TPS_OP_GEMM, "%s", a->name);
    if (a->fp8) {
      n_fp8++;
      cr_assert_eq(a->saved_bytes * 2.0, b->saved_bytes, "%s", a->name);
    } else {
      cr_assert_eq(a->saved_bytes, b->saved_bytes, "%s", a->name);
    }
  }
  cr_assert_eq(n_fp8, 4, "qkv, attn_out, mlp_up, mlp_down");
  for (int i = 0; i < head.n; i++) cr_assert_not(head.ops[i].fp8, "%s", head.ops[i].name);
  tps_op_list_free(&bf16_ops);
  tps_op_list_free(&fp8_ops);
  tps_op_list_free(&head);
}

/* A100 has no FP8 tensor unit: the estimate refuses, naming the profile. */
Test(fp8, refused_without_an_fp8_peak, .init = setup) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.fp8 = TPS_FP8_E4M3;
  tps_run run;
  tps_error err;
  cr_assert_eq(tps_run_resolve(&model, &o, &run, &err), TPS_OK, "%s", err.msg);
  static tps_estimate est;
  cr_assert_eq(tps_estimate_run(&model, &run, &a100, &est, &err), TPS_EINVAL);
  cr_assert(strstr(err.msg, "'a100-80g-sxm'") && strstr(err.msg, "no FP8 tensor peak"), "%s",
            err.msg);
}
