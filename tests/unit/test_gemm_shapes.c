/* GEMM efficiency by shape (docs/model.md, "GEMM efficiency by shape"):
 * the trilinear interpolation in (log m, log n, log k) against points
 * computed by hand, the loader of `gemm_efficiency_shapes`, and the cost of
 * a skinny GEMM against a square one of the same FLOPs on the bundled H100
 * profile (XLA's sm_90 matmul table). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tpsim/tpsim.h"

#define INPUTS TPSIM_SOURCE_DIR "/tests/inputs"

/* tests/inputs/hw_profiles/test-gpu-shapes.yaml: axes {256, 1024} each,
 * eff(m, n, k) = 0.1 .. 0.8 in the order m, n, k = (lo lo lo), (lo lo hi),
 * (lo hi lo), (lo hi hi), (hi lo lo), ... */
static tps_hw hw;

static void load(const char *path) {
  tps_error err;
  tps_error_clear(&err);
  cr_assert_eq(tps_hw_load(path, &hw, &err), TPS_OK, "%s", err.msg);
}

Test(gemm_shapes, loads_a_grid_given_out_of_order) {
  load(INPUTS "/hw_profiles/test-gpu-shapes.yaml");
  const tps_gemm_shapes *g = &hw.gemm_shapes;
  cr_assert_eq(g->nm, 2);
  cr_assert_eq(g->nn, 2);
  cr_assert_eq(g->nk, 2);
  cr_expect_eq(g->m[0], 256.0);
  cr_expect_eq(g->m[1], 1024.0);
  cr_expect_eq(g->k[1], 1024.0);
  /* eff[(i nn + j) nk + l]: the file's first entry is the (hi, hi, hi) corner */
  cr_expect_eq(g->eff[7], 0.8);
  cr_expect_eq(g->eff[0], 0.1);
  cr_expect_eq(g->eff[6], 0.7); /* given as 70% */
}

Test(gemm_shapes, interpolation_by_hand) {
  load(INPUTS "/hw_profiles/test-gpu-shapes.yaml");
  const tps_gemm_shapes *g = &hw.gemm_shapes;
  /* Grid points are returned exactly. */
  cr_expect_float_eq(tps_gemm_shape_eval(g, 256, 1024, 256), 0.3, 1e-12);
  cr_expect_float_eq(tps_gemm_shape_eval(g, 1024, 256, 1024), 0.6, 1e-12);
  /* 512 = sqrt(256 x 1024) is half-way in log on every axis: the mean of
   * the 8 corners, (0.1 + ... + 0.8) / 8 = 0.45. */
  cr_expect_float_eq(tps_gemm_shape_eval(g, 512, 512, 512), 0.45, 1e-12);
  /* m = 512 (half-way), n = 256, k = 256: (0.1 + 0.5) / 2 = 0.3. */
  cr_expect_float_eq(tps_gemm_shape_eval(g, 512, 256, 256), 0.3, 1e-12);
  /* k a quarter of the way in log (256 x 4^0.25 = 362.04), m = n = 256:
   * 0.1 + 0.25 x (0.2 - 0.1) = 0.125. */
  cr_expect_float_eq(tps_gemm_shape_eval(g, 256, 256, 256.0 * pow(4.0, 0.25)), 0.125, 1e-12);
  /* Outside the grid each coordinate is clamped to its axis: m = 8192 reads
   * m = 1024, n = 64 reads n = 256, k = 512 is half-way: (0.5 + 0.6) / 2. */
  cr_expect_float_eq(tps_gemm_shape_eval(g, 8192, 64, 512), 0.55, 1e-12);
  /* No grid: 1 (the caller then uses the FLOPs table). */
  tps_gemm_shapes none;
  memset(&none, 0, sizeof none);
  cr_expect_eq(tps_gemm_shape_eval(&none, 512, 512, 512), 1.0);
}

/* One GEMM op y(m, n) = x(m, k) W(k, n) as the lowering builds it (bf16). */
static tps_op gemm(int64_t m, int64_t n, int64_t k) {
  tps_op op;
  memset(&op, 0, sizeof op);
  op.kind = TPS_OP_GEMM;
  op.m = m;
  op.n = n;
  op.k = k;
  op.fwd_flops = 2.0 * (double)m * (double)n * (double)k;
  op.bwd_flops = 2.0 * op.fwd_flops;
  op.fwd_bytes = ((double)m * k + (double)k * n + (double)m * n) * 2.0;
  op.bwd_bytes = 2.0 * op.fwd_bytes;
  op.trainable = true; /* dgrad and wgrad */
  return op;
}

Test(gemm_shapes, skinny_gemm_slower_than_square_of_same_flops_on_h100) {
  char path[1024];
  tps_error err;
  cr_assert_eq(tps_data_find("hw_profiles", "h100-sxm", path, sizeof path, &err), TPS_OK);
  load(path);
  cr_assert_gt(hw.gemm_shapes.nm, 0, "h100-sxm has no shape grid");
  /* Same FLOPs, 2 x 2^33: the cube 2048^3 and the row-parallel-like shape
   * with a short inner dimension, (4096, 4096, 512). XLA sm_90 bf16 (b = 1):
   * 641.0 and 551.8 TFLOPS of 989, efficiencies 0.648 and 0.558. */
  cr_expect_float_eq(tps_gemm_shape_eval(&hw.gemm_shapes, 2048, 2048, 2048), 0.648, 1e-12);
  cr_expect_float_eq(tps_gemm_shape_eval(&hw.gemm_shapes, 4096, 4096, 512), 0.558, 1e-12);
  tps_run run;
  memset(&run, 0, sizeof run);
  run.precision = TPS_PRECISION_BF16;
  hw.kernel_overhead_s = 0.0; /* compare the kernels' own time */
  memset(hw.stack.extra_kernels, 0, sizeof hw.stack.extra_kernels);
  tps_op sq = gemm(2048, 2048, 2048), sk = gemm(4096, 4096, 512);
  double sq_f, sq_b, sk_f, sk_b;
  tps_op_time(&sq, &hw, &run, &sq_f, &sq_b);
  tps_op_time(&sk, &hw, &run, &sk_f, &sk_b);
  /* Both compute-bound: forward time = FLOPs / (989 TFLOPS x eff). */
  cr_expect_float_eq(sq_f, sq.fwd_flops / (989e12 * 0.648), 1e-15);
  cr_expect_float_eq(sk_f, sk.fwd_flops / (989e12 * 0.558), 1e-15);
  cr_expect_gt(sk_f, sq_f * 1.15, "skinny %.4g s, square %.4g s", sk_f, sq_f);
  /* Backward: data gradient (4096, 512, 4096) at 0.669 and weight gradient
   * (512, 4096, 4096) at 0.669 on this table: the short dimension moves
   * out of k, so it is faster than the forward, and the FLOPs table (one
   * efficiency for all three) could not say so. */
  cr_expect_float_eq(sk_b, sk.fwd_flops / (989e12 * 0.669) * 2.0, 1e-15);
}
