/* tp-kernel arithmetic: see kmath.h for the contracts. */
#include "kmath.h"

#include <math.h>
#include <string.h>

/* With GCC on x86-64 each public function is also compiled for x86-64-v3
 * (AVX2) and picked at load time (GNU ifunc): 8-wide loops, 2-4x faster
 * activations on CPUs that have it, while the binary still runs on any
 * x86-64. With -ffp-contract=off (CMakeLists.txt) and fixed KM_LANES partial
 * sums, both versions give bit-identical results. The attribute is on the
 * definitions only (on a declaration GCC would emit a resolver in every
 * caller). Not with clang: clang 14 links the clones only with the
 * attribute on every declaration, and the result computed zeros here. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && \
    !defined(TPK_NO_CLONES)
#define KM_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#ifndef KM_CLONES
#define KM_CLONES
#endif

/* exp(x) without libm: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite, ln2 split
 * in a 9-bit-exact high part and a low part, as in Cephes expf), e^r by a
 * degree-6 polynomial, 2^n built in the exponent bits. n is rounded to the
 * nearest integer by adding 1.5 * 2^23, whose low mantissa bits then hold n
 * (valid for |n| < 2^22, far beyond the clamp). Only float and int32
 * arithmetic, so loops calling it vectorise. */
static inline float k_expf(float x) {
  const float magic = 12582912.0f; /* 1.5 * 2^23 */
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  float t = x * 1.44269504088896341f + magic;
  float n = t - magic;
  int32_t bits;
  memcpy(&bits, &t, sizeof bits);
  int32_t ni = bits - 0x4B400000; /* the integer n */
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t sbits = (ni + 127) << 23; /* 2^n, n in [-126, 127] after the clamp */
  float scale;
  memcpy(&scale, &sbits, sizeof scale);
  return p * scale;
}

KM_CLONES void km_exp(float *out, const float *in, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = k_expf(in[i]);
}

/* ---- row reductions with KM_LANES partial sums ---- */

static float sum_lanes(const float *acc) {
  float s = 0.0f;
  for (int j = 0; j < KM_LANES; j++) s += acc[j];
  return s;
}

/* sum_j (x_j - c)^2 */
static float sum_sq_shift(const float *x, int64_t n, float c) {
  float acc[KM_LANES] = {0};
  int64_t i = 0;
  for (; i + KM_LANES <= n; i += KM_LANES)
    for (int j = 0; j < KM_LANES; j++) {
      float d = x[i + j] - c;
      acc[j] += d * d;
    }
  for (; i < n; i++) acc[0] += (x[i] - c) * (x[i] - c);
  return sum_lanes(acc);
}

static float sum_plain(const float *x, int64_t n) {
  float acc[KM_LANES] = {0};
  int64_t i = 0;
  for (; i + KM_LANES <= n; i += KM_LANES)
    for (int j = 0; j < KM_LANES; j++) acc[j] += x[i + j];
  for (; i < n; i++) acc[0] += x[i];
  return sum_lanes(acc);
}

/* sum_j a_j b_j and sum_j a_j b_j (x_j - c) in one pass. */
static void dot2(const float *a, const float *b, const float *x, float c, int64_t n,
                 float *s1, float *s2) {
  float acc1[KM_LANES] = {0}, acc2[KM_LANES] = {0};
  int64_t i = 0;
  for (; i + KM_LANES <= n; i += KM_LANES)
    for (int j = 0; j < KM_LANES; j++) {
      float ab = a[i + j] * b[i + j];
      acc1[j] += ab;
      acc2[j] += ab * (x[i + j] - c);
    }
  for (; i < n; i++) {
    float ab = a[i] * b[i];
    acc1[0] += ab;
    acc2[0] += ab * (x[i] - c);
  }
  *s1 = sum_lanes(acc1);
  *s2 = sum_lanes(acc2);
}

static float max_plain(const float *x, int64_t n) {
  float acc[KM_LANES];
  for (int j = 0; j < KM_LANES; j++) acc[j] = x[0];
  int64_t i = 0;
  for (; i + KM_LANES <= n; i += KM_LANES)
    for (int j = 0; j < KM_LANES; j++) acc[j] = acc[j] > x[i + j] ? acc[j] : x[i + j];
  for (; i < n; i++) acc[0] = acc[0] > x[i] ? acc[0] : x[i];
  float m = acc[0];
  for (int j = 1; j < KM_LANES; j++) m = m > acc[j] ? m : acc[j];
  return m;
}

/* ---- norms ---- */

KM_CLONES void km_norm_fwd(tps_norm_kind kind, int64_t rows, int64_t h, const float *x,
                 const float *gamma, const float *beta, float *y, float *stats) {
  const float inv_h = 1.0f / (float)h;
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * h;
    float *yr = y + r * h;
    float mean = kind == TPS_NORM_LAYERNORM ? sum_plain(xr, h) * inv_h : 0.0f;
    float var = sum_sq_shift(xr, h, mean) * inv_h;
    float rstd = 1.0f / sqrtf(var + KM_NORM_EPS);
    stats[2 * r] = mean;
    stats[2 * r + 1] = rstd;
    if (kind == TPS_NORM_LAYERNORM) {
      for (int64_t j = 0; j < h; j++) yr[j] = (xr[j] - mean) * rstd * gamma[j] + beta[j];
    } else {
      for (int64_t j = 0; j < h; j++) yr[j] = xr[j] * rstd * gamma[j];
    }
  }
}

KM_CLONES void km_norm_bwd(tps_norm_kind kind, int64_t rows, int64_t h, const float *x,
                 const float *gamma, const float *stats, const float *dy,
                 float *dx, float *dgamma, float *dbeta) {
  const float inv_h = 1.0f / (float)h;
  const bool ln = kind == TPS_NORM_LAYERNORM;
  memset(dgamma, 0, (size_t)h * sizeof *dgamma);
  if (ln) memset(dbeta, 0, (size_t)h * sizeof *dbeta);
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * h, *dyr = dy + r * h;
    float *dxr = dx + r * h;
    const float mean = stats[2 * r], rstd = stats[2 * r + 1];
    /* dxhat = dy * gamma; s1 = sum dxhat, s2 = sum dxhat * xhat. */
    float s1, s2;
    dot2(dyr, gamma, xr, mean, h, &s1, &s2);
    const float c1 = ln ? s1 * inv_h : 0.0f;
    const float c2 = s2 * rstd * inv_h;
    for (int64_t j = 0; j < h; j++) {
      float xhat = (xr[j] - mean) * rstd;
      dxr[j] += rstd * (dyr[j] * gamma[j] - c1 - xhat * c2);
      dgamma[j] += dyr[j] * xhat;
    }
    if (ln)
      for (int64_t j = 0; j < h; j++) dbeta[j] += dyr[j];
  }
}

/* ---- activations ---- */

#define GELU_C 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_A 0.044715f

KM_CLONES void km_act_fwd(tps_mlp_kind kind, int64_t rows, int64_t f, const float *u, float *a) {
  if (kind == TPS_MLP_GELU) {
    const int64_t n = rows * f;
    for (int64_t i = 0; i < n; i++) {
      float x = u[i];
      float z = GELU_C * (x + GELU_A * x * x * x);
      float t = 1.0f - 2.0f / (k_expf(2.0f * z) + 1.0f); /* tanh(z) */
      a[i] = 0.5f * x * (1.0f + t);
    }
    return;
  }
  for (int64_t r = 0; r < rows; r++) {
    const float *g = u + r * 2 * f, *up = g + f;
    float *ar = a + r * f;
    for (int64_t j = 0; j < f; j++) {
      float s = 1.0f / (1.0f + k_expf(-g[j])); /* sigmoid(gate) */
      ar[j] = g[j] * s * up[j];
    }
  }
}

KM_CLONES void km_act_bwd(tps_mlp_kind kind, int64_t rows, int64_t f, const float *u,
                const float *da, float *du) {
  if (kind == TPS_MLP_GELU) {
    const int64_t n = rows * f;
    for (int64_t i = 0; i < n; i++) {
      float x = u[i];
      float z = GELU_C * (x + GELU_A * x * x * x);
      float t = 1.0f - 2.0f / (k_expf(2.0f * z) + 1.0f);
      float dz = GELU_C * (1.0f + 3.0f * GELU_A * x * x);
      du[i] = da[i] * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dz);
    }
    return;
  }
  for (int64_t r = 0; r < rows; r++) {
    const float *g = u + r * 2 * f, *up = g + f, *dar = da + r * f;
    float *dg = du + r * 2 * f, *dup = dg + f;
    for (int64_t j = 0; j < f; j++) {
      float s = 1.0f / (1.0f + k_expf(-g[j]));
      float silu = g[j] * s;
      dg[j] = dar[j] * up[j] * s * (1.0f + g[j] * (1.0f - s));
      dup[j] = dar[j] * silu;
    }
  }
}

/* ---- softmax ---- */

KM_CLONES void km_softmax_causal(int64_t s, float *p) {
  for (int64_t i = 0; i < s; i++) {
    float *row = p + i * s;
    const int64_t n = i + 1; /* columns 0..i are visible */
    const float mx = max_plain(row, n);
    for (int64_t j = 0; j < n; j++) row[j] = k_expf(row[j] - mx);
    const float inv = 1.0f / sum_plain(row, n);
    for (int64_t j = 0; j < n; j++) row[j] *= inv;
    for (int64_t j = n; j < s; j++) row[j] = 0.0f;
  }
}

KM_CLONES void km_softmax_bwd(int64_t s, const float *p, float *dp, float scale) {
  for (int64_t i = 0; i < s; i++) {
    const float *pr = p + i * s;
    float *dr = dp + i * s;
    const int64_t n = i + 1;
    float acc[KM_LANES] = {0};
    int64_t j = 0;
    for (; j + KM_LANES <= n; j += KM_LANES)
      for (int l = 0; l < KM_LANES; l++) acc[l] += pr[j + l] * dr[j + l];
    for (; j < n; j++) acc[0] += pr[j] * dr[j];
    const float dot = sum_lanes(acc);
    for (j = 0; j < n; j++) dr[j] = pr[j] * (dr[j] - dot) * scale;
    for (j = n; j < s; j++) dr[j] = 0.0f;
  }
}

KM_CLONES void km_add(int64_t n, const float *a, const float *b, float *y) {
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}
