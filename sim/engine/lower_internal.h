/* Engine-internal helpers shared between lowering, planning and costing
 * (prefix eng_: not part of the public tps_ API in sim/include/tpsim/). */
#ifndef TPSIM_ENGINE_LOWER_INTERNAL_H
#define TPSIM_ENGINE_LOWER_INTERNAL_H

#include "tpsim/ops.h"

/* Tokens entering one layer of `mod` per micro-batch: micro_batch x seq_len
 * for a decoder, micro_batch x tokens for a ViT or projector (a projector's
 * `tokens` is set by the planner from the encoder before it). */
int64_t eng_module_tokens(const tps_module *mod, const tps_run *run);

/* Checks that run->tp splits module `m`: heads, KV heads (or a multiple of
 * them), ffn, and the tokens under sequence parallelism. */
tps_status eng_check_module_split(const tps_module *m, const tps_run *run, tps_error *err);

/* Bytes of gradient per trainable parameter, kept and reduced over DP.
 * Megatron-LM keeps main gradients in fp32 for bf16 (arguments.py turns on
 * accumulate_allreduce_grads_in_fp32 with --bf16) and for fp32 training;
 * with --fp16 that switch is off by default, so gradients stay fp16 (2020's
 * --fp32-allreduce was off by default too). */
static inline double eng_grad_bytes_per_param(const tps_run *run) {
  return run->precision == TPS_PRECISION_FP16 ? 2.0 : 4.0;
}

/* Bytes of Adam state per trainable parameter on one rank: fp32 master copy
 * (mixed precision only) + fp32 m + fp32 v, sharded over DP under the
 * distributed optimizer (same source: 18 B/param total, 6 + 12/DP sharded). */
static inline double eng_optimizer_bytes_per_param(const tps_run *run) {
  if (run->no_optimizer) return 0.0;
  double bytes = run->precision == TPS_PRECISION_FP32 ? 8.0 : 12.0;
  return run->distributed_optimizer ? bytes / (double)run->dp : bytes;
}

/* Bytes an Adam step touches per parameter it updates: reads master, grad,
 * m, v (4 B each), writes master, m, v, and the low-precision weight copy. */
static inline double eng_adam_traffic_bytes_per_param(const tps_run *run) {
  return 16.0 + 12.0 + (run->precision == TPS_PRECISION_FP32 ? 0.0 : tps_precision_bytes(run->precision));
}

/* Step-level costs shared by tps_estimate_run and the search's fast path
 * (cost.c). Seconds to send `bytes` to the neighbouring pipeline stage. */
double eng_p2p_time(const tps_hw *hw, const tps_run *run, double bytes);
/* Gradient reduction over DP (reduce-scatter + parameter all-gather with the
 * distributed optimizer, else all-reduce) for `trainable` parameters per
 * rank, before any overlap with backward; DP ranks are TP apart. */
double eng_dp_reduce_time(const tps_hw *hw, const tps_run *run, double trainable);
/* Adam step over the `trainable` parameters of one rank (sharded over DP
 * with the distributed optimizer), at achieved memory bandwidth. */
double eng_optimizer_time(const tps_hw *hw, const tps_run *run, double trainable);

/* Interleaved 1F1B (Narayanan et al. 2021, Sec. 2.2.2): with v model
 * chunks per stage the pipeline bubble shrinks v-fold and every micro-batch
 * crosses v times as many stage boundaries; the first stage holds
 * (1 + (p - 1)/(p v)) times the activations of plain 1F1B (Korthikanti et
 * al. 2022, Sec. 5.1; applied to every stage here). */
static inline double eng_vpp_bubble_scale(const tps_run *run) {
  return run->vpp > 1 ? 1.0 / (double)run->vpp : 1.0;
}
static inline double eng_vpp_p2p_scale(const tps_run *run) {
  return run->vpp > 1 ? (double)run->vpp : 1.0;
}
static inline double eng_vpp_activation_scale(const tps_run *run) {
  return run->vpp > 1 ? 1.0 + (double)(run->pp - 1) / ((double)run->pp * (double)run->vpp) : 1.0;
}

#endif
