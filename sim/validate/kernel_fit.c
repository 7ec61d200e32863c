/* `tp-sim calibrate`: tp-kernel micro-benchmarks and calibration layer runs
 * turned into hardware profiles (docs/schema.md) that make the engine's cost
 * formulas (sim/engine/cost.c) reproduce what was measured:
 *
 *   GEMM op        3 F / (peak x eff(F)) + 3 x overhead   (fwd, dgrad, wgrad)
 *   attention      (F_fwd + F_bwd) / (peak x eff(F_fwd)) + 2 x overhead
 *   elementwise    bytes / (memory_bandwidth x 1.0) + overhead
 *   collective     phases x ((p - 1) latency + (p - 1)/p x B / (bw x eff(B)))
 *
 * Each table is evaluated the way the engine reads it (log10 in x, clamped);
 * points are written at the measured x, so the engine reproduces the
 * measured medians there and interpolates between them. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/outfile.h"
#include "validate/kernel_validate.h"

#define KV_EFF_MIN 1e-4 /* smallest efficiency written (the schema wants > 0) */

static double clamp_eff(double e) {
  if (!(e > KV_EFF_MIN)) return KV_EFF_MIN;
  return e > 1.0 ? 1.0 : e;
}

/* Appends (x, y) to t keeping x strictly increasing: a point at an x not
 * above the last one is averaged into it. */
static void table_add(tps_table *t, double x, double y) {
  if (t->n > 0 && x <= t->x[t->n - 1] * (1.0 + 1e-9)) {
    t->y[t->n - 1] = 0.5 * (t->y[t->n - 1] + y);
    return;
  }
  if (t->n >= TPS_MAX_TABLE) return;
  t->x[t->n] = x;
  t->y[t->n] = y;
  t->n++;
}

static int cmp_xy(const void *a, const void *b) {
  double x = ((const double *)a)[0], y = ((const double *)b)[0];
  return (x > y) - (x < y);
}

static double median_of(double *v, int n) {
  if (n <= 0) return 0.0;
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
      double t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A figure the profile needs that the benchmarks did not yield: calibration
 * fails with EMEASURE, naming the benchmark, rather than writing an
 * invented value. */
__attribute__((format(printf, 3, 4)))
static tps_status nothing_to_fit(tps_error *err, int tp, const char *fmt, ...) {
  char what[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return tps_error_set(err, TPS_EMEASURE, "", 0, 0, "calibration for TP %d: %s", tp, what);
}

static tps_status fit_gemm(const kv_gemm_bench *g, int tp, tps_hw *hw, tps_error *err) {
  double ovh = g->overhead.median > 0 ? g->overhead.median : 0.0;
  double rate[KV_GEMM_MAX], peak = 0.0;
  for (int i = 0; i < g->n; i++) {
    double t = g->fwd[i].median + g->dgrad[i].median + g->wgrad[i].median - 3.0 * ovh; /* s */
    rate[i] = t > 0 ? 3.0 * g->flops[i] / t : 0.0; /* FLOP/s */
    if (rate[i] > peak) peak = rate[i];
  }
  if (!(peak > 0))
    return nothing_to_fit(err, tp,
                          "the GEMM benchmark (tp-kernel --bench gemm) yielded no time above the "
                          "1x1x1 sgemm overhead at any of its %d shapes: no peak_flops to fit",
                          g->n);
  hw->peak_flops[TPS_PRECISION_FP32] = peak;
  hw->kernel_overhead_s = ovh;
  hw->gemm_efficiency.n = 0;
  for (int i = 0; i < g->n; i++) table_add(&hw->gemm_efficiency, g->flops[i], clamp_eff(rate[i] / peak));
  return TPS_OK;
}

/* Attention efficiency and elementwise bandwidth from calibration layer runs. */
static tps_status fit_layers(const kv_kernel_run *runs, int n, int tp, tps_hw *hw, tps_error *err) {
  double launch = hw->kernel_overhead_s, peak = hw->peak_flops[TPS_PRECISION_FP32];
  double bytes = 0.0, secs = 0.0;
  double pts[2 * 64];
  int np = 0;
  double rss[64];
  int nrss = 0;
  for (int r = 0; r < n; r++) {
    const kv_kernel_run *k = &runs[r];
    if (nrss < 64 && k->vmrss_start > 0) rss[nrss++] = k->vmrss_start;
    for (int i = 0; i < k->n_ops; i++) {
      const kv_meas_op *o = &k->ops[i];
      bool elementwise = !strcmp(o->kind, "norm") || !strcmp(o->kind, "activation") ||
                         !strcmp(o->kind, "residual");
      if (elementwise) {
        double t = o->fwd.median + o->bwd.median - (o->bwd_bytes > 0 ? 2.0 : 1.0) * launch;
        if (t > 0) {
          bytes += o->fwd_bytes + o->bwd_bytes;
          secs += t;
        }
      } else if (!strcmp(o->kind, "attention") && np < 64) {
        double t = o->fwd.median + o->bwd.median - 2.0 * launch;
        if (t > 0 && o->fwd_flops > 0) {
          pts[2 * np] = o->fwd_flops;
          pts[2 * np + 1] = clamp_eff((o->fwd_flops + o->bwd_flops) / (peak * t));
          np++;
        }
      }
    }
  }
  if (!(secs > 0 && bytes > 0))
    return nothing_to_fit(err, tp,
                          "the %d calibration layer run(s) (tp-kernel --json) yielded no norm, "
                          "activation or residual time above the launch overhead: no "
                          "memory_bandwidth to fit", n);
  if (np == 0)
    return nothing_to_fit(err, tp,
                          "the %d calibration layer run(s) (tp-kernel --json) yielded no "
                          "attention-core time above the launch overhead: no "
                          "attention_efficiency to fit", n);
  if (nrss == 0)
    return nothing_to_fit(err, tp,
                          "the %d calibration layer run(s) (tp-kernel --json) reported no "
                          "resident set before their buffers: no runtime_reserve to fit", n);
  hw->memory_bandwidth_Bps = bytes / secs;
  hw->memory_efficiency = 1.0;
  qsort(pts, (size_t)np, 2 * sizeof(double), cmp_xy);
  hw->attention_efficiency.n = 0;
  for (int i = 0; i < np; i++) table_add(&hw->attention_efficiency, pts[2 * i], pts[2 * i + 1]);
  hw->runtime_reserve_bytes = median_of(rss, nrss);
  return TPS_OK;
}

/* backward_buffers: how many layer-input-sized buffers tp-kernel keeps
 * beyond what the engine already counts (weights, grads, saved activations,
 * one op's working set), from its analytic buffer report on the calibration
 * runs: the median of (buffers - predicted) / one layer input. */
static tps_status fit_backward_buffers(const kv_kernel_run *runs, int n, tps_hw *hw,
                                       tps_error *err) {
  kv_case *c = calloc(1, sizeof *c); /* large: its per-op rows */
  if (!c) return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while calibrating");
  double k[64];
  int nk = 0;
  hw->backward_buffers = 0.0;
  for (int r = 0; r < n && nk < 64; r++) {
    tps_error e;
    tps_error_clear(&e);
    if (kv_compare(&runs[r], hw, c, &e) != TPS_OK || c->stream_bytes <= 0 || c->buf_measured <= 0)
      continue;
    k[nk++] = (c->buf_measured - c->buf_predicted) / c->stream_bytes;
  }
  free(c);
  double b = median_of(k, nk);
  hw->backward_buffers = b < 0 ? 0.0 : b > 64 ? 64.0 : b;
  return TPS_OK;
}

/* Link fitted to one collective family: all-reduce (2 phases) or the SP pair
 * reduce-scatter + all-gather (1 phase each; their mean per call). */
static tps_status fit_link(const kv_coll_bench *c, bool sp, int tp, tps_link *l, tps_error *err) {
  double p = (double)c->ranks, steps = p - 1.0, share = (p - 1.0) / p;
  double phases = sp ? 1.0 : 2.0;
  double t[KV_COLL_MAX], lat = INFINITY;
  for (int i = 0; i < c->n; i++) {
    t[i] = sp ? 0.5 * (c->reduce_scatter[i].median + c->all_gather[i].median) : c->all_reduce[i].median;
    double per_step = t[i] / (phases * steps);
    if (per_step > 0 && per_step < lat) lat = per_step;
  }
  lat = isfinite(lat) ? 0.5 * lat : 0.0; /* half of the smallest per-step time */
  double bw[KV_COLL_MAX], best = 0.0;
  for (int i = 0; i < c->n; i++) {
    double rest = t[i] / phases - steps * lat; /* s spent on bytes */
    bw[i] = rest > 0 ? share * c->bytes[i] / rest : 0.0;
    if (bw[i] > best) best = bw[i];
  }
  if (!(best > 0))
    return nothing_to_fit(err, tp,
                          "the collectives benchmark (tp-kernel --bench collectives, %s) yielded "
                          "no time above the latency at any of its %d sizes: no intra_link "
                          "bandwidth to fit",
                          sp ? "MPI_Reduce_scatter_block + MPI_Allgather" : "MPI_Allreduce", c->n);
  l->bandwidth_Bps = best;
  l->latency_s = lat;
  l->topology = TPS_TOPOLOGY_SWITCH;
  l->efficiency.n = 0;
  for (int i = 0; i < c->n; i++) table_add(&l->efficiency, c->bytes[i], clamp_eff(bw[i] / best));
  return TPS_OK;
}

tps_status kv_fit_profile(const kv_fit_input *in, tps_hw *hw, tps_error *err) {
  memset(hw, 0, sizeof *hw);
  tps_status st;
  int tp = in->tp;
  if (!in->gemm || in->gemm->n < 1)
    return nothing_to_fit(err, tp,
                          "the GEMM benchmark (tp-kernel --bench gemm) yielded no shape: no "
                          "peak_flops, gemm_efficiency or kernel_overhead to fit");
  if (tp > 1 && (!in->coll || in->coll->n < 1))
    return nothing_to_fit(err, tp,
                          "the collectives benchmark (tp-kernel --bench collectives) yielded no "
                          "size: no intra_link to fit");
  if (!in->layers || in->n_layers < 1)
    return nothing_to_fit(err, tp,
                          "no calibration layer run (tp-kernel --json): no memory_bandwidth, "
                          "attention_efficiency or runtime_reserve to fit");
  if (!(in->host_memory_bytes > 0))
    return nothing_to_fit(err, tp, "/proc/meminfo yielded no MemTotal: no device memory to write");
  snprintf(hw->name, sizeof hw->name, "%s", in->name ? in->name : "local");
  snprintf(hw->source, sizeof hw->source, "%s", in->source ? in->source : "tp-sim calibrate");
  snprintf(hw->device_name, sizeof hw->device_name, "CPU rank (%d per node, single-threaded OpenBLAS)", tp);
  hw->memory_bytes = in->host_memory_bytes;
  if ((st = fit_gemm(in->gemm, tp, hw, err))) return st;
  if ((st = fit_layers(in->layers, in->n_layers, tp, hw, err))) return st;
  /* The tp ranks of this calibration ran on one node: its TP group is
   * intra-node, as every group of the validation grid using the profile. */
  hw->devices_per_node = tp;
  if (tp > 1) {
    if ((st = fit_link(in->coll, in->sp, tp, &hw->intra, err))) return st;
  } else { /* TP 1 runs no collective: a neutral link the engine never uses at TP 1 */
    hw->intra.bandwidth_Bps = 1e10;
    hw->intra.latency_s = 0.0;
    hw->intra.topology = TPS_TOPOLOGY_SWITCH;
    hw->intra.efficiency.n = 1;
    hw->intra.efficiency.x[0] = 1.0;
    hw->intra.efficiency.y[0] = 1.0;
  }
  hw->inter = hw->intra; /* never used: one node */
  return fit_backward_buffers(in->layers, in->n_layers, hw, err);
}

/* YAML double-quoted string. */
static void yq(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f);
    if ((unsigned char)*s >= 0x20) fputc(*s, f);
  }
  fputc('"', f);
}

static void ytable(FILE *f, const tps_table *t, const char *x_unit) {
  fputc('[', f);
  for (int i = 0; i < t->n; i++) {
    if (x_unit)
      fprintf(f, "%s[%.0f %s, %.6g]", i ? ", " : "", t->x[i], x_unit, t->y[i]);
    else
      fprintf(f, "%s[%.6e, %.6g]", i ? ", " : "", t->x[i], t->y[i]);
  }
  fputc(']', f);
}

static void ylink(FILE *f, const char *indent, const tps_link *l, bool topology) {
  fprintf(f, "%sbandwidth: %.6f GB/s\n", indent, l->bandwidth_Bps * 1e-9);
  fprintf(f, "%slatency: %.6f us\n", indent, l->latency_s * 1e6);
  if (topology) fprintf(f, "%stopology: switch\n", indent);
  fprintf(f, "%sefficiency: ", indent);
  if (l->efficiency.n == 1 && l->efficiency.x[0] == 1.0)
    fprintf(f, "%.6g", l->efficiency.y[0]);
  else
    ytable(f, &l->efficiency, "B");
  fputc('\n', f);
}

void kv_profile_render(FILE *f, const tps_hw *hw) {
  fprintf(f, "# Written by tp-sim calibrate (sim/validate/kernel_fit.c); see docs/validation.md,\n"
             "# \"Kernel validation\". Regenerate, do not edit: the tables reproduce measured medians.\n");
  fputs("name: ", f);
  yq(f, hw->name);
  fputs("\nsource: ", f);
  yq(f, hw->source);
  fputs("\ndevice:\n  name: ", f);
  yq(f, hw->device_name);
  fprintf(f, "\n  memory: %.0f B\n", hw->memory_bytes);
  fprintf(f, "  # elementwise ops (norm, activation, residual): lowering bytes / measured time\n");
  fprintf(f, "  memory_bandwidth: %.6f GB/s\n", hw->memory_bandwidth_Bps * 1e-9);
  fprintf(f, "  peak_flops:\n    fp32: %.6f GFLOPS\n", hw->peak_flops[TPS_PRECISION_FP32] * 1e-9);
  fprintf(f, "  # VmRSS of a tp-kernel rank before its buffers (MPI, BLAS, C runtime)\n");
  fprintf(f, "  runtime_reserve: %.0f B\n", hw->runtime_reserve_bytes);
  fprintf(f, "  # tp-kernel's gradient and scratch buffers beyond one op's working set, in\n"
             "  # layer inputs (median over the calibration runs' buffer reports)\n");
  fprintf(f, "  backward_buffers: %.4f\n", hw->backward_buffers);
  fprintf(f, "  # x = FLOPs of one sgemm call (2 m n k); y = rate / peak\n  gemm_efficiency: ");
  ytable(f, &hw->gemm_efficiency, NULL);
  fprintf(f, "\n  # x = forward FLOPs of one attention core (per rank); y from (fwd + bwd) time\n"
             "  attention_efficiency: ");
  if (hw->attention_efficiency.n == 1 && hw->attention_efficiency.x[0] == 1.0)
    fprintf(f, "%.6g", hw->attention_efficiency.y[0]);
  else
    ytable(f, &hw->attention_efficiency, NULL);
  fprintf(f, "\n  memory_efficiency: %.6g\n", hw->memory_efficiency);
  fprintf(f, "  # the time of a 1x1x1 sgemm\n  kernel_overhead: %.6f us\n", hw->kernel_overhead_s * 1e6);
  fprintf(f, "node:\n  devices: %lld\n  intra_link:\n", (long long)hw->devices_per_node);
  ylink(f, "    ", &hw->intra, true);
  fputs("inter_link:\n  source: \"unused: every calibrated group is on one node; a copy of intra_link\"\n", f);
  ylink(f, "  ", &hw->inter, false);
}

tps_status kv_profile_write(const tps_hw *hw, const char *path, tps_error *err) {
  tps_outfile o;
  tps_status st = tps_outfile_open(&o, path, err);
  if (st) return st;
  kv_profile_render(o.f, hw);
  return tps_outfile_close(&o, err);
}
