/* The engine: a model lowered for one run into per-layer op lists placed on
 * pipeline stages (a plan), then costed on a hardware profile. Pure
 * arithmetic: no I/O, no exit. */
#ifndef TPSIM_ENGINE_H
#define TPSIM_ENGINE_H

#include "tpsim/model.h"
#include "tpsim/ops.h"
#include "tpsim/status.h"

/* Bytes per card by component. */
typedef struct tps_memory {
  double weights, grads, optimizer, activations;
  double allocator;       /* held by the caching allocator beyond live tensors:
                             activations x (stack allocator_overhead - 1) */
  double runtime_reserve; /* framework + runtime (CANN/CUDA context, HCCL/NCCL buffers) */
  double fp8;             /* FP8 training (Transformer Engine): the cached FP8 copies of
                             the FP8 GEMMs' weights and their transposes, and the amax
                             histories; 0 without FP8 */
  double total;           /* the device's view (npu-smi / nvidia-smi "used") */
} tps_memory;

/* What a memory figure counts (a measurement says which it reports):
 * allocated = live tensors (torch max_memory_allocated), reserved = the
 * caching allocator's pool (max_memory_reserved), device = reserved + the
 * runtime (npu-smi / nvidia-smi "used"). */
typedef enum { TPS_MEMORY_DEVICE, TPS_MEMORY_RESERVED, TPS_MEMORY_ALLOCATED } tps_memory_reading;
double tps_memory_read(const tps_memory *m, tps_memory_reading reading);

/* Seconds per training step by cause; they add up to the step time. */
typedef struct tps_time_split {
  double compute;   /* kernels on the busiest stage, all micro-batches */
  double tp_comm;   /* tensor-parallel collectives on the critical path */
  double expert_a2a; /* of tp_comm: the MoE token dispatcher's all-to-all (dispatch and
                        combine, forward, backward and recompute) */
  double pp_bubble; /* (pp - 1) x per-micro-batch stage time, plus p2p */
  double dp_comm;   /* gradient reduction not hidden behind backward */
  double optimizer; /* optimizer step */
  double overhead;  /* host time the device does not hide: exposed op issue
                       (stack host_dispatch) and fixed costs per micro-batch and
                       per step (stack; model training.micro_batch_overhead) */
} tps_time_split;

/* One distinct layer shape, lowered once; layers point at their template. */
typedef struct tps_template {
  tps_lower_opts opts;
  int module;
  tps_op_list ops;
} tps_template;

/* One layer instance of the model, in execution order. */
typedef struct tps_layer {
  char name[TPS_NAME_MAX + 32]; /* "language_model.3", "vision_encoder.patch_embed" */
  int module;
  int64_t index;     /* block index within the module; -1 for other kinds */
  int template_id;
  int stage;
  double extra_params; /* held besides its ops' parameters, per rank (a tied
                          lm_head's copy of the embedding on a later stage) */
} tps_layer;

typedef struct tps_plan {
  tps_module modules[TPS_MAX_MODULES]; /* as lowered (projector tokens filled in) */
  int n_modules;
  tps_template *templates;
  int n_templates;
  tps_layer *layers;
  int n_layers;
  int n_stages;
} tps_plan;

/* Time and memory of one layer instance, per micro-batch, per rank. */
typedef struct tps_layer_cost {
  double fwd_s, bwd_s;          /* compute kernels only */
  double tp_comm_fwd_s, tp_comm_bwd_s;
  double recompute_s;           /* extra forward kernels re-run in backward */
  double recompute_comm_s;      /* extra TP collectives re-run in backward */
  double params;                /* per rank */
  double trainable_params;      /* per rank, those with gradients */
  double static_bytes;          /* weights + grads + optimizer */
  double activation_bytes;      /* saved for backward, one micro-batch */
  double workspace_bytes;       /* largest transient of one op, beyond saved */
  double stream_bytes;          /* one full-sequence layer-input-sized buffer
                                   (tokens x hidden, blocks that run backward; 0
                                   otherwise): hw->backward_buffers of them stay
                                   alive through backward */
  double flops_fwd, flops_bwd;  /* per rank */
  double flops_recompute;       /* per rank, forward work re-run in backward */
} tps_layer_cost;

typedef struct tps_stage_result {
  int stage;
  char layers[256];             /* "vision_encoder[0..31], language_model[0..11]" */
  tps_memory memory;
  double fwd_s, bwd_s;          /* per micro-batch: compute + TP comm (+ recompute in bwd)
                                   + exposed host issue */
  double tp_comm_s;             /* per micro-batch */
  double stream_bytes;          /* the largest full-sequence layer input of the
                                   stage: hw->backward_buffers of them are held
                                   through backward */
  int64_t in_flight;            /* micro-batches whose activations are held */
} tps_stage_result;

typedef struct tps_estimate {
  tps_run run;
  bool fits;                     /* peak <= device memory */
  bool fits_with_margin;         /* peak <= device memory x (1 - margin) */
  tps_memory memory;             /* the most loaded stage */
  double step_time_s;
  tps_time_split time;
  double tokens_per_step;
  double tokens_per_s;           /* whole job */
  double tokens_per_s_per_card;
  double model_flops_per_step;   /* no recompute, whole job */
  double hardware_flops_per_step; /* as executed: recompute included, whole job */
  double mfu;
  int n_stages;
  tps_stage_result stages[TPS_MAX_STAGES];
} tps_estimate;

/* Resolves a run from the model's training defaults overridden by `over`
 * (fields left 0 / unset in `over` take the defaults; tps_run_overrides is
 * in model.h: the input layer fills it too). */
void tps_run_overrides_init(tps_run_overrides *over);
tps_status tps_run_resolve(const tps_model *model, const tps_run_overrides *over,
                           tps_run *run, tps_error *err);

tps_status tps_plan_build(const tps_model *model, const tps_run *run,
                          tps_plan *plan, tps_error *err);
void tps_plan_free(tps_plan *plan);

/* Cost of one op on hw: seconds forward and backward (kernels), including
 * the per-kernel overhead; collectives over the TP group. */
void tps_op_time(const tps_op *op, const tps_hw *hw, const tps_run *run,
                 double *fwd_s, double *bwd_s);
/* Seconds for one collective of `bytes` (full tensor) over `group` ranks
 * whose ranks are `stride` apart in the global rank order. */
double tps_collective_time(tps_coll kind, double bytes, int64_t group,
                           int64_t stride, const tps_hw *hw);

/* One layer of the plan under the run's recompute choice: the same
 * template sums and recompute rule the step's evaluator uses. */
void tps_layer_cost_compute(const tps_plan *plan, int layer, const tps_run *run,
                            const tps_hw *hw, tps_layer_cost *out);

tps_status tps_estimate_run(const tps_model *model, const tps_run *run,
                            const tps_hw *hw, tps_estimate *out,
                            tps_error *err);

/* Index of the recommended estimate among n: the highest tokens/s per card
 * among those that fit with margin, ties to the smaller TP; -1 if none. */
int tps_recommend_tp(const tps_estimate *est, int n);

/* Interpolates t at x (log10 in x, clamped). */
double tps_table_eval(const tps_table *t, double x);

/* Efficiency of one GEMM of shape (m, n, k) on grid g: trilinear in
 * (log m, log n, log k), each coordinate clamped to its axis; 1.0 when g has
 * no points (docs/model.md, "GEMM efficiency by shape"). */
double tps_gemm_shape_eval(const tps_gemm_shapes *g, double m, double n, double k);

#endif
