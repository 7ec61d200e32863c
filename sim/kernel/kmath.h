/* tp-kernel: the elementwise and row-wise arithmetic of a transformer layer
 * (norms, activations, softmax), in fp32.
 *
 * Every loop here is written so that the compiler vectorises it at plain -O3
 * (no -ffast-math, no -march): the exponential is a Cody-Waite range
 * reduction plus a degree-6 polynomial built from float and int arithmetic
 * only (no libm call per element), and row reductions keep KM_LANES partial
 * sums so that they are not a serial dependency. Results therefore do not
 * depend on how many ranks share the work: a row is always reduced in the
 * same order. All matrices are row-major. */
#ifndef TPSIM_KERNEL_KMATH_H
#define TPSIM_KERNEL_KMATH_H

#include <stdint.h>

#include "tpsim/model.h"


/* Partial sums kept by row reductions (a multiple of every SIMD width). */
#define KM_LANES 16

/* Normalisation epsilon, added to the variance / mean square. */
#define KM_NORM_EPS 1e-5f

/* out[i] = exp(in[i]) for i < n; inputs are clamped to [-87, 88], so the
 * result is finite and >= 1.6e-38. Relative error about 2e-7. */
void km_exp(float *out, const float *in, int64_t n);

/* Forward norm over `rows` rows of width `h`: y = norm(x) * gamma (+ beta).
 * x, y: (rows, h). gamma, beta: (h); beta is ignored for RMSNorm (may be
 * NULL). stats: (rows, 2) = {mean, rstd} per row (mean = 0 for RMSNorm),
 * written for the backward. */
void km_norm_fwd(tps_norm_kind kind, int64_t rows, int64_t h, const float *x,
                 const float *gamma, const float *beta, float *y, float *stats);

/* Backward of km_norm_fwd. dx (rows, h) is ACCUMULATED into (dx += ...), so
 * that the residual branch's gradient can be in it already. dgamma, dbeta:
 * (h), OVERWRITTEN with the sums over these rows (dbeta only for LayerNorm). */
void km_norm_bwd(tps_norm_kind kind, int64_t rows, int64_t h, const float *x,
                 const float *gamma, const float *stats, const float *dy,
                 float *dx, float *dgamma, float *dbeta);

/* MLP activation over `rows` rows of `f` outputs.
 * GeLU (tanh form): u (rows, f) -> a (rows, f).
 * SwiGLU: u (rows, 2f) holds [gate (f) | up (f)] per row -> a = silu(gate) * up.
 * tanh(z) is computed as 1 - 2 / (exp(2z) + 1) with km's exponential. */
void km_act_fwd(tps_mlp_kind kind, int64_t rows, int64_t f, const float *u, float *a);
/* Backward: da (rows, f) -> du (same shape as u), OVERWRITTEN. */
void km_act_bwd(tps_mlp_kind kind, int64_t rows, int64_t f, const float *u,
                const float *da, float *du);

/* Causal softmax of one (s, s) score matrix in place: row i keeps columns
 * j <= i (normalised), columns j > i become exactly 0. */
void km_softmax_causal(int64_t s, float *p);
/* Softmax backward for one (s, s) matrix, in place on dp:
 * ds_ij = p_ij (dp_ij - sum_k dp_ik p_ik) * scale. Zero where p is zero. */
void km_softmax_bwd(int64_t s, const float *p, float *dp, float scale);

/* y = a + b over n elements (y may alias a or b). */
void km_add(int64_t n, const float *a, const float *b, float *y);

#endif
