/* The cost model: seconds per op on a hardware profile.
 *
 * GEMM and attention: roofline, max(FLOPs / (peak x efficiency(FLOPs)),
 * bytes / (bandwidth x memory_efficiency)), a GEMM's efficiency read by its
 * shape (m, n, k) when the profile has a shape grid; other kernels: bytes over
 * achieved memory bandwidth. Every kernel pays the profile's launch overhead.
 * Collectives: latency per step + bytes over the achieved link bandwidth,
 * with the volume of ring/mesh algorithms (all-reduce moves 2 (p-1)/p of the
 * tensor per rank; reduce-scatter and all-gather (p-1)/p). */
#include <math.h>
#include <stddef.h>

#include "engine/evaluate.h"
#include "engine/lower_internal.h"
#include "tpsim/engine.h"

/* Linear interpolation in log10(x) between the two points around x: the
 * same interval and formula as GSL's gsl_interp_linear over the log10 of the
 * table (tested equal in tests/unit/test_search.c), without allocating an
 * interpolator or taking the log of every point on each call (the search
 * calls this a few times per configuration). A table whose x do not strictly
 * increase gives y[0], as gsl_interp_init's refusal did. */
double tps_table_eval(const tps_table *t, double x) {
  if (t->n <= 0) return 1.0;
  if (t->n == 1 || x <= t->x[0]) return t->y[0];
  if (x >= t->x[t->n - 1]) return t->y[t->n - 1];
  int lo = 0;
  for (int i = 1; i < t->n; i++) {
    if (!(t->x[i] > t->x[i - 1])) return t->y[0];
    if (t->x[i] <= x) lo = i;
  }
  double lx0 = log10(t->x[lo]), lx1 = log10(t->x[lo + 1]);
  double dx = lx1 - lx0;
  if (!(dx > 0.0)) return t->y[0];
  return t->y[lo] + (log10(x) - lx0) / dx * (t->y[lo + 1] - t->y[lo]);
}

/* Where x falls on a strictly increasing axis: the cell's lower index and
 * the fraction of the way to the next point in log(x), clamped to [0, 1]
 * at the ends; a one-point axis is cell 0 at fraction 0. */
static void axis_locate(const double *ax, int n, double x, int *lo, double *frac) {
  *lo = 0;
  *frac = 0.0;
  if (n <= 1 || !(x > ax[0])) return;
  if (x >= ax[n - 1]) {
    *lo = n - 2;
    *frac = 1.0;
    return;
  }
  int i = 0;
  while (i + 2 < n && ax[i + 1] <= x) i++;
  *lo = i;
  *frac = (log(x) - log(ax[i])) / (log(ax[i + 1]) - log(ax[i]));
}

double tps_gemm_shape_eval(const tps_gemm_shapes *g, double m, double n, double k) {
  if (g->nm <= 0 || g->nn <= 0 || g->nk <= 0) return 1.0;
  int lo[3];
  double fr[3];
  axis_locate(g->m, g->nm, m, &lo[0], &fr[0]);
  axis_locate(g->n, g->nn, n, &lo[1], &fr[1]);
  axis_locate(g->k, g->nk, k, &lo[2], &fr[2]);
  int len[3] = {g->nm, g->nn, g->nk};
  double eff = 0.0;
  for (int c = 0; c < 8; c++) { /* the cell's 8 corners */
    double w = 1.0;
    int at[3];
    for (int a = 0; a < 3; a++) {
      int up = (c >> a) & 1;
      w *= up ? fr[a] : 1.0 - fr[a];
      at[a] = up && len[a] > 1 ? lo[a] + 1 : lo[a];
    }
    if (w > 0.0) eff += w * g->eff[(at[0] * g->nn + at[1]) * g->nk + at[2]];
  }
  return eff;
}

static double peak_flops(const tps_hw *hw, tps_precision p) {
  double peak = hw->peak_flops[p];
  return peak > 0 ? peak : hw->peak_flops[TPS_PRECISION_BF16];
}

static double mem_time(const tps_hw *hw, double bytes) {
  return bytes / (hw->memory_bandwidth_Bps * hw->memory_efficiency);
}

/* Roofline time of `flops` FLOPs touching `bytes`, efficiency read at the
 * size of one call (`call_flops`). */
static double compute_time(const tps_hw *hw, const tps_table *eff, tps_precision p,
                           double flops, double call_flops, double bytes) {
  double t_flops = flops / (peak_flops(hw, p) * tps_table_eval(eff, call_flops));
  double t_mem = mem_time(hw, bytes);
  return t_flops > t_mem ? t_flops : t_mem;
}

/* An FP8 GEMM (Transformer Engine): the device's FP8 tensor peak at the
 * profile's FP8 GEMM efficiency, read at the size of one call. */
static double fp8_gemm_time(const tps_hw *hw, double flops, double call_flops, double bytes) {
  double t_flops = flops / (hw->peak_fp8_flops * tps_table_eval(&hw->fp8_gemm_efficiency, call_flops));
  double t_mem = mem_time(hw, bytes);
  return t_flops > t_mem ? t_flops : t_mem;
}

/* Casting one GEMM operand of `elements` to FP8 for an FP8 GEMM (TE's
 * cast-transpose kernel): it reads the bf16/fp16 tensor and writes the FP8
 * copy and its transpose (Hopper's FP8 GEMMs take only the TN layout, so the
 * weight gradient needs the transposed copy), 1 byte each. Forward casts
 * the input, backward the output gradient; the weights' casts are cached
 * across the micro-batches of a step and left out. */
static double fp8_cast_time(const tps_hw *hw, double elements, const tps_run *run) {
  return mem_time(hw, elements * ((double)tps_precision_bytes(run->precision) + 2.0));
}

/* A GEMM's backward: the data gradient, and the weight gradient when the
 * weight trains (the lowering gives it twice the forward's FLOPs then, once
 * when only the data gradient is needed). */
static bool gemm_has_wgrad(const tps_op *op) { return op->trainable && op->bwd_flops > 0; }

/* Roofline times of a GEMM op on a profile with efficiency by shape, launch
 * overhead left out. y(m, n) = x(m, k) W(k, n) runs at eff(m, n, k); its
 * backward is the data gradient dx(m, k) = dy(m, n) W^T, shape (m, k, n),
 * and, when the weight trains, the weight gradient dW(k, n) = x^T dy, shape
 * (k, n, m), each FLOPs of the forward. A grouped GEMM (routed experts)
 * runs `groups` GEMMs of m / groups rows. */
static void gemm_shape_times(const tps_op *op, const tps_hw *hw, tps_precision p, double *fwd_s,
                             double *bwd_s) {
  const tps_gemm_shapes *g = &hw->gemm_shapes;
  double m = (double)op->m / (op->groups > 1 ? (double)op->groups : 1.0);
  double n = (double)op->n, k = (double)op->k, peak = peak_flops(hw, p);
  double t = op->fwd_flops / (peak * tps_gemm_shape_eval(g, m, n, k));
  double t_mem = mem_time(hw, op->fwd_bytes);
  *fwd_s = t > t_mem ? t : t_mem;
  *bwd_s = 0.0;
  if (!(op->bwd_flops > 0)) return;
  double dgrad = gemm_has_wgrad(op) ? op->fwd_flops : op->bwd_flops;
  t = dgrad / (peak * tps_gemm_shape_eval(g, m, k, n));
  if (op->bwd_flops > dgrad)
    t += (op->bwd_flops - dgrad) / (peak * tps_gemm_shape_eval(g, k, n, m));
  t_mem = mem_time(hw, op->bwd_bytes);
  *bwd_s = t > t_mem ? t : t_mem;
}

/* Achieved bus bandwidth per rank for a group of p ranks `stride` apart.
 * Within a node: the intra link (a full mesh gives p - 1 links). Across
 * nodes, NCCL runs one ring per NIC, so the k ranks of the group on a node
 * share the node's k NICs and the bus bandwidth is k x the per-device
 * inter-node bandwidth, capped by the intra-node link (nccl-tests#119 and
 * NVIDIA/nccl#1048: 8 A100 with 4 HDR NICs reach 85-96 GB/s bus bandwidth
 * across nodes, against 4 x 25 GB/s of NICs). */
static double group_bandwidth(const tps_hw *hw, int64_t p, int64_t stride, double bytes,
                              const tps_link **link_out) {
  bool intra = p * stride <= hw->devices_per_node;
  const tps_link *link = intra ? &hw->intra : &hw->inter;
  double bw = link->bandwidth_Bps * tps_table_eval(&link->efficiency, bytes);
  if (intra && link->topology == TPS_TOPOLOGY_FULL_MESH) bw *= (double)(p - 1);
  if (!intra) {
    int64_t per_node = stride < hw->devices_per_node ? hw->devices_per_node / stride : 1;
    if (per_node > p) per_node = p;
    double cap = hw->intra.bandwidth_Bps * tps_table_eval(&hw->intra.efficiency, bytes);
    bw *= (double)per_node;
    if (bw > cap) bw = cap;
  }
  *link_out = link;
  return bw;
}

double tps_collective_time(tps_coll kind, double bytes, int64_t group, int64_t stride,
                           const tps_hw *hw) {
  if (kind == TPS_COLL_NONE || group <= 1 || bytes <= 0) return 0.0;
  const tps_link *link = NULL;
  double bw = group_bandwidth(hw, group, stride, bytes, &link);
  double p = (double)group;
  double share = (p - 1.0) / p; /* fraction of the tensor each rank sends */
  /* A ring takes p - 1 steps per phase; a full mesh sends to all peers at once. */
  double steps = link->topology == TPS_TOPOLOGY_FULL_MESH && group * stride <= hw->devices_per_node
                     ? 1.0
                     : p - 1.0;
  double phases = kind == TPS_COLL_ALL_REDUCE ? 2.0 : 1.0;
  if (kind == TPS_COLL_RING_P2P) return eng_ring_p2p_time(hw, group, stride, bytes);
  /* An all-to-all sends (p - 1)/p of the rank's own buffer (`bytes`), to
   * every peer: the all-gather's volume and steps on that buffer. */
  return phases * (steps * link->latency_s + share * bytes / bw);
}

double eng_ring_p2p_time(const tps_hw *hw, int64_t group, int64_t stride, double bytes) {
  if (group <= 1 || bytes <= 0) return 0.0;
  /* Each step sends one block to the next rank and receives one from the
   * previous: one link per direction. The ring closes across nodes when the
   * group spans more than one, and its slowest hop sets the pace. */
  bool intra = group * stride <= hw->devices_per_node;
  const tps_link *link = intra ? &hw->intra : &hw->inter;
  double bw = link->bandwidth_Bps * tps_table_eval(&link->efficiency, bytes);
  return (double)(group - 1) * (link->latency_s + bytes / bw);
}

/* Seconds of a CP ring's sends (p - 1 steps) that the attention blocks
 * beside them do not hide: step i sends the next K/V block while block i
 * computes (Transformer Engine AttnFuncWithCPAndKVP2P), so each step
 * exposes max(0, send - block), block = the core's time / p. */
static double ring_exposed(const tps_op *op, const tps_hw *hw, const tps_run *run, tps_coll kind,
                           double bytes, double flops, double core_bytes) {
  if (kind == TPS_COLL_NONE || op->group <= 1) return 0.0;
  double steps = (double)(op->group - 1);
  double send = eng_ring_p2p_time(hw, op->group, op->stride > 1 ? op->stride : 1, bytes) / steps;
  double core = flops > 0 ? compute_time(hw, &hw->attention_efficiency, run->precision, flops,
                                         op->overlap_fwd_flops, core_bytes)
                          : 0.0;
  double block = core / (double)op->group;
  return send > block ? steps * (send - block) : 0.0;
}

void tps_op_time(const tps_op *op, const tps_hw *hw, const tps_run *run, double *fwd_s,
                 double *bwd_s) {
  double f = 0.0, b = 0.0;
  double launch = hw->kernel_overhead_s;
  /* Kernels the framework launches besides the op's own (bias adds, casts,
   * copies): each costs a launch (their traffic is small beside the op's). */
  const double *extra = hw->stack.extra_kernels[op->kind];
  switch (op->kind) {
    case TPS_OP_GEMM: {
      int kernels = gemm_has_wgrad(op) ? 2 : 1; /* dgrad (+ wgrad) */
      /* A grouped GEMM (routed experts) runs at the efficiency of one
       * expert's GEMM: its rows are the expected tokens per expert. */
      double call = op->groups > 1 ? op->fwd_flops / (double)op->groups : op->fwd_flops;
      if (op->fp8 && hw->peak_fp8_flops > 0) {
        f = fp8_gemm_time(hw, op->fwd_flops, call, op->fwd_bytes) + launch +
            fp8_cast_time(hw, (double)op->m * (double)op->k, run) + launch;
        if (op->bwd_flops > 0) {
          b = fp8_gemm_time(hw, op->bwd_flops, call, op->bwd_bytes) + kernels * launch +
              fp8_cast_time(hw, (double)op->m * (double)op->n, run) + launch;
        }
        break;
      }
      /* bf16/fp16 GEMMs on a profile with efficiency by shape (FP8 GEMMs
       * above keep the FP8 table over FLOPs: no shape data for FP8). */
      if (hw->gemm_shapes.nm > 0) {
        gemm_shape_times(op, hw, run->precision, &f, &b);
        f += launch;
        if (op->bwd_flops > 0) b += kernels * launch;
        break;
      }
      f = compute_time(hw, &hw->gemm_efficiency, run->precision, op->fwd_flops, call,
                       op->fwd_bytes) + launch;
      if (op->bwd_flops > 0)
        b = compute_time(hw, &hw->gemm_efficiency, run->precision, op->bwd_flops, call,
                         op->bwd_bytes) + kernels * launch;
      break;
    }
    case TPS_OP_ATTENTION:
      f = compute_time(hw, &hw->attention_efficiency, run->precision, op->fwd_flops,
                       op->fwd_flops, op->fwd_bytes) + launch;
      if (op->bwd_flops > 0)
        b = compute_time(hw, &hw->attention_efficiency, run->precision, op->bwd_flops,
                         op->fwd_flops, op->bwd_bytes) + launch;
      break;
    case TPS_OP_COLLECTIVE:
      if (op->fwd_coll == TPS_COLL_RING_P2P) {
        f = ring_exposed(op, hw, run, op->fwd_coll, op->coll_bytes, op->overlap_fwd_flops,
                         op->overlap_fwd_bytes);
        b = ring_exposed(op, hw, run, op->bwd_coll, op->bwd_coll_bytes, op->overlap_bwd_flops,
                         op->overlap_bwd_bytes);
        break;
      }
      f = tps_collective_time(op->fwd_coll, op->coll_bytes, op->group,
                              op->stride > 1 ? op->stride : 1, hw);
      b = tps_collective_time(op->bwd_coll, op->coll_bytes, op->group,
                              op->stride > 1 ? op->stride : 1, hw);
      if (op->bwd_regather)
        b += tps_collective_time(TPS_COLL_ALL_GATHER, op->coll_bytes, op->group, 1, hw);
      break;
    default:
      f = mem_time(hw, op->fwd_bytes) + launch;
      if (op->bwd_bytes > 0) b = mem_time(hw, op->bwd_bytes) + launch;
      break;
  }
  if (op->kind != TPS_OP_COLLECTIVE) {
    f += extra[0] * launch;
    if (op->bwd_flops > 0 || op->bwd_bytes > 0) b += extra[1] * launch;
  }
  *fwd_s = f;
  *bwd_s = b;
}

void tps_layer_cost_compute(const tps_plan *plan, int layer, const tps_run *run,
                            const tps_hw *hw, tps_layer_cost *out) {
  const tps_layer *l = &plan->layers[layer];
  const tps_template *t = &plan->templates[l->template_id];
  const tps_module *mod = &plan->modules[l->module];
  eng_tmpl_sums c;
  eng_layer_fig f;
  eng_tmpl_sums_compute(t, mod, run, hw, &c);
  eng_layer_fig_compute(&c, run->recompute, &f);
  *out = (tps_layer_cost){0};
  out->fwd_s = c.fwd_s;
  out->bwd_s = c.bwd_s;
  out->tp_comm_fwd_s = c.comm_fwd_s;
  out->tp_comm_bwd_s = c.comm_bwd_s;
  out->recompute_s = f.recompute_s;
  out->recompute_comm_s = f.recompute_comm_s;
  out->params = c.params + l->extra_params;
  out->trainable_params = c.trainable + (mod->frozen ? 0.0 : l->extra_params);
  out->static_bytes = out->params * tps_precision_bytes(run->precision) +
                      out->trainable_params * eng_grad_bytes_per_param(run) +
                      (out->trainable_params - c.expert_trainable) *
                          eng_optimizer_bytes_per_param(run) +
                      c.expert_trainable * eng_optimizer_bytes_per_param_expert(run);
  double fp8_weights_delta;
  out->static_bytes += eng_fp8_memory(run, c.fp8_params, c.fp8_gemms, &fp8_weights_delta);
  out->static_bytes += fp8_weights_delta;
  out->activation_bytes = f.activation_bytes;
  out->workspace_bytes = c.workspace;
  out->stream_bytes = c.stream;
  out->flops_fwd = c.fwd_flops;
  out->flops_bwd = c.bwd_flops;
  out->flops_recompute = f.recompute_flops;
}

double eng_p2p_time(const tps_hw *hw, const tps_run *run, double bytes) {
  bool intra = run->tp * eng_cp_ranks(run) * run->dp * 2 <= hw->devices_per_node;
  const tps_link *link = intra ? &hw->intra : &hw->inter;
  return link->latency_s + bytes / (link->bandwidth_Bps * tps_table_eval(&link->efficiency, bytes));
}

/* Gradient reduction over a data-parallel `group` of ranks `stride` apart:
 * the reduce-scatter (distributed optimizer) or all-reduce of the
 * gradients in `reduce_s`, the distributed optimizer's all-gather of the
 * updated weights in `gather_s` (0 without it). */
static void dp_sync_time(const tps_hw *hw, const tps_run *run, double trainable, int64_t group,
                         int64_t stride, double *reduce_s, double *gather_s) {
  *reduce_s = *gather_s = 0.0;
  if (group <= 1 || trainable <= 0) return;
  double grads = trainable * eng_grad_bytes_per_param(run);
  if (!run->distributed_optimizer) {
    *reduce_s = tps_collective_time(TPS_COLL_ALL_REDUCE, grads, group, stride, hw);
    return;
  }
  double params = trainable * tps_precision_bytes(run->precision);
  *reduce_s = tps_collective_time(TPS_COLL_REDUCE_SCATTER, grads, group, stride, hw);
  *gather_s = tps_collective_time(TPS_COLL_ALL_GATHER, params, group, stride, hw);
}

void eng_dp_reduce_time(const tps_hw *hw, const tps_run *run, double trainable, double *reduce_s,
                        double *gather_s) {
  /* With CP the gradients are reduced over DP x CP ranks, TP apart
   * (Megatron's data-parallel group with context parallelism). */
  dp_sync_time(hw, run, trainable, run->dp * eng_cp_ranks(run), run->tp, reduce_s, gather_s);
}

void eng_expert_dp_reduce_time(const tps_hw *hw, const tps_run *run, double trainable,
                               double *reduce_s, double *gather_s) {
  const double edp = eng_expert_dp(run);
  const int64_t group = edp >= 1.0 ? (int64_t)edp : 1;
  dp_sync_time(hw, run, trainable, group, eng_ep_ranks(run) * eng_etp_ranks(run), reduce_s,
               gather_s);
}

double eng_expert_optimizer_time(const tps_hw *hw, const tps_run *run, double trainable) {
  if (run->no_optimizer || trainable <= 0) return 0.0;
  double updated = trainable / (run->distributed_optimizer ? eng_expert_dp(run) : 1.0);
  return updated * eng_adam_traffic_bytes_per_param(run) /
         (hw->memory_bandwidth_Bps * hw->memory_efficiency);
}

double eng_optimizer_time(const tps_hw *hw, const tps_run *run, double trainable) {
  if (run->no_optimizer) return 0.0;
  double updated = trainable / (run->distributed_optimizer ? eng_grad_group(run) : 1.0);
  return updated * eng_adam_traffic_bytes_per_param(run) / (hw->memory_bandwidth_Bps * hw->memory_efficiency);
}
