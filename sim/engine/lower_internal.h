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

/* ---- context parallelism (cp.c) ---- */

/* CP ranks of a run (1 for runs built without it: cp 0 means none). */
static inline int64_t eng_cp_ranks(const tps_run *run) { return run->cp > 1 ? run->cp : 1; }
/* Ulysses ranks inside CP (cp for Ulysses, 1 for the ring, u for the hybrid). */
static inline int64_t eng_ulysses_ranks(const tps_run *run) {
  return run->cp > 1 && run->ulysses_degree > 1 ? run->ulysses_degree : 1;
}
/* Ranks that hold the same weights and reduce their gradients together:
 * DP x CP (Megatron's data-parallel-with-CP group). */
static inline double eng_grad_group(const tps_run *run) {
  return (double)run->dp * (double)eng_cp_ranks(run);
}

/* ---- expert parallelism (ep.c) ---- */

/* Expert-parallel ranks (1 for runs built without them). */
static inline int64_t eng_ep_ranks(const tps_run *run) { return run->ep > 1 ? run->ep : 1; }
/* Expert tensor-parallel ranks: Megatron's default is the TP size. */
static inline int64_t eng_etp_ranks(const tps_run *run) { return run->etp > 0 ? run->etp : run->tp; }
/* Ranks of the experts' own data-parallel group: TP x CP x DP / (EP x ETP)
 * (Megatron-Core parallel_state.py, expert_data_parallel_size). */
static inline double eng_expert_dp(const tps_run *run) {
  return (double)run->tp * (double)eng_cp_ranks(run) * (double)run->dp /
         ((double)eng_ep_ranks(run) * (double)eng_etp_ranks(run));
}
/* Fills run->ep, etp and moe_capacity_factor from the overrides and the
 * model's training defaults and checks them against the model and the
 * ranks (tps_run_resolve calls it once DP is known). */
tps_status eng_resolve_ep(const tps_model *model, const tps_run_overrides *over, tps_run *run,
                          tps_error *err);
/* Checks that the run's EP divides module m's experts and its ETP the
 * expert columns. */
tps_status eng_ep_check_module(const tps_module *m, const tps_run *run, tps_error *err);
/* Tokens the most loaded expert-parallel rank takes over the expected load:
 * 1 at EP 1 (a rank with every expert takes all routed rows), else the
 * stack's dropless imbalance, capped by the capacity factor when tokens
 * beyond it are dropped. */
double eng_moe_load_factor(const tps_run *run, const tps_hw *hw);

/* Fills run->cp, cp_algo and ulysses_degree from the overrides and the
 * model's training defaults, and checks them (tps_run_resolve calls it
 * after seq_len is known). */
tps_status eng_resolve_cp(const tps_model *model, const tps_run_overrides *over, tps_run *run,
                          tps_error *err);
/* Checks that module `m` can be split over the run's CP ranks: a decoder;
 * under Ulysses whole heads per rank (heads / (tp x u)). */
tps_status eng_cp_check_module(const tps_module *m, const tps_run *run, tps_error *err);

/* The attention core of one CP rank: queries (q_seq per sequence) against
 * kv_seq keys, with heads and kv_heads after Ulysses' head split. */
typedef struct eng_cp_shape {
  int64_t q_seq, kv_seq, heads, kv_heads;
  int64_t ulysses, ring; /* ranks of each: ulysses x ring = cp */
} eng_cp_shape;
/* span_local: tokens per sequence this rank holds (seq_len / cp). */
void eng_cp_attention_shape(const tps_run *run, int64_t span_local, int64_t heads_r, int64_t kv_r,
                            eng_cp_shape *out);
/* Appends a Ulysses all-to-all of a tokens_local x width tensor (per rank). */
tps_status eng_cp_add_ulysses(tps_op_list *out, const char *name, const tps_run *run,
                              int64_t tokens_local, int64_t width, double act_bytes, bool runs_bwd);
/* Appends the ring's K/V passing beside the attention core at core_index. */
tps_status eng_cp_add_ring(tps_op_list *out, const tps_run *run, int core_index, double act_bytes,
                           bool runs_bwd);
/* Appends a zeroed op (lower.c); NULL when out of memory. */
tps_op *eng_op_push(tps_op_list *list, const char *name, tps_op_kind kind);

/* Bytes of gradient per trainable parameter, kept and reduced over DP.
 * Megatron-LM keeps main gradients in fp32 for bf16 (arguments.py turns on
 * accumulate_allreduce_grads_in_fp32 with --bf16, unless
 * --grad-reduce-in-bf16) and for fp32 training; with --fp16 that switch is
 * off by default, so gradients stay fp16 (2020's --fp32-allreduce was off by
 * default too). */
static inline double eng_grad_bytes_per_param(const tps_run *run) {
  return run->precision == TPS_PRECISION_FP16 || run->grad_reduce_bf16 ? 2.0 : 4.0;
}

/* Adam's state per parameter before any sharding: fp32 m and v, and an fp32
 * master copy of the weight in mixed precision (none in fp32 training).
 * MindSpeed's --reuse-fp32-param keeps the master copy as the bf16 weight
 * plus a 16-bit residual, so it costs 2 bytes instead of 4
 * (docs/zh/features/reuse-fp32-param.md: sizeof(bf16) x parameters saved,
 * / DP with the distributed optimizer). */
static inline double eng_adam_state_bytes(const tps_run *run) {
  if (run->precision == TPS_PRECISION_FP32) return 8.0;
  return run->reuse_fp32_param ? 10.0 : 12.0;
}

/* Bytes of Adam state per trainable parameter on one rank: fp32 master copy
 * (mixed precision only) + fp32 m + fp32 v, sharded over DP under the
 * distributed optimizer (same source: 18 B/param total, 6 + 12/DP sharded). With CP the
 * distributed optimizer shards over DP x CP (Megatron's
 * data_parallel_group with_context_parallel=True). */
static inline double eng_optimizer_bytes_per_param(const tps_run *run) {
  if (run->no_optimizer) return 0.0;
  return run->distributed_optimizer ? eng_adam_state_bytes(run) / eng_grad_group(run)
                                    : eng_adam_state_bytes(run);
}

/* The same for routed experts' parameters: the distributed optimizer
 * shards them over the expert data-parallel group (Megatron-Core's
 * expert_data_parallel_group), TP x CP x DP / (EP x ETP) ranks. */
static inline double eng_optimizer_bytes_per_param_expert(const tps_run *run) {
  if (run->no_optimizer) return 0.0;
  const double bytes = eng_adam_state_bytes(run);
  return run->distributed_optimizer ? bytes / eng_expert_dp(run) : bytes;
}

/* Bytes an Adam step touches per parameter it updates: reads master, grad,
 * m, v (4 B each), writes master, m, v, and the low-precision weight copy. */
static inline double eng_adam_traffic_bytes_per_param(const tps_run *run) {
  return 16.0 + 12.0 + (run->precision == TPS_PRECISION_FP32 ? 0.0 : tps_precision_bytes(run->precision));
}

/* Step-level costs shared by tps_estimate_run and the search's fast path
 * (cost.c). Seconds to send `bytes` to the neighbouring pipeline stage. */
double eng_p2p_time(const tps_hw *hw, const tps_run *run, double bytes);
/* Gradient reduction over DP for `trainable` parameters per rank, before
 * any overlap: the reduce-scatter (distributed optimizer) or all-reduce in
 * `reduce_s`, the distributed optimizer's weight all-gather in `gather_s`
 * (else 0); DP ranks are TP apart. */
void eng_dp_reduce_time(const tps_hw *hw, const tps_run *run, double trainable, double *reduce_s,
                        double *gather_s);
/* The same for the routed experts over the expert data-parallel group
 * (ranks ETP x EP apart in the expert grid), `trainable` expert parameters
 * per rank. */
void eng_expert_dp_reduce_time(const tps_hw *hw, const tps_run *run, double trainable,
                               double *reduce_s, double *gather_s);
/* The Adam step over `trainable` expert parameters of one rank (sharded
 * over the expert data-parallel group with the distributed optimizer). */
double eng_expert_optimizer_time(const tps_hw *hw, const tps_run *run, double trainable);
/* Seconds of the p - 1 steps of a ring of `group` ranks `stride` apart,
 * each sending `bytes` to the next rank (no overlap). */
double eng_ring_p2p_time(const tps_hw *hw, int64_t group, int64_t stride, double bytes);
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

/* FP8 training's memory (docs/model.md section 9): each FP8 GEMM's weight
 * kept quantized and transposed between micro-batches (1 byte each), or,
 * with FP8 primary weights, the weight itself in FP8 (*weights_delta takes
 * the bf16 bytes it saves) plus the transpose; and 5 fp32 amax histories per
 * FP8 GEMM (3 forward, 2 backward tensors). 0 without FP8. */
double eng_fp8_memory(const tps_run *run, double fp8_params, double fp8_gemms,
                      double *weights_delta);

#endif
