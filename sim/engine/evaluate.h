/* The one evaluator (engine-internal). Every prediction of a training step
 * goes through here: tps_estimate_run, the search's fast path and, through
 * tps_estimate_run, kernel validation and the capacity plan.
 *
 *   1. eng_tmpl_sums_compute: a layer template (its lowered ops) reduces
 *      once, under one run and one hardware profile, to per-rank,
 *      per-micro-batch sums: seconds, bytes, parameters and FLOPs.
 *   2. eng_layer_fig_compute: those sums under the run's recompute choice
 *      give one layer's time and saved activations.
 *   3. eng_evaluate: layers per (stage, template) (a placement) times the
 *      figures give each stage's memory and time, then the step's time
 *      split, throughput and MFU.
 *
 * No other file forms these sums or aggregates them into a step. */
#ifndef TPSIM_ENGINE_EVALUATE_H
#define TPSIM_ENGINE_EVALUATE_H

#include <stdbool.h>
#include <stdint.h>

#include "tpsim/engine.h"

/* One template's ops summed, per rank and per micro-batch, before the
 * recompute choice (which only picks among these sums). */
typedef struct eng_tmpl_sums {
  double fwd_s, bwd_s;            /* compute kernels, seconds */
  double comm_fwd_s, comm_bwd_s;  /* TP collectives, seconds */
  double a2a_fwd_s, a2a_bwd_s;    /* of them, the MoE dispatcher's all-to-all */
  double sel_s;                   /* forward of the attention cores that selective
                                     recompute drops and re-runs, seconds */
  double sel_flops;               /* their forward FLOPs */
  double host_fwd_s, host_bwd_s;  /* host seconds to issue the forward / backward
                                     framework ops (the stack's dispatch) */
  double host_sel_s;              /* host seconds to re-issue the selective re-run */
  double rerun_s, host_rerun_s;   /* forwards re-run in backward short of full
                                     recompute (op->rerun_in_bwd): device, host */
  double fwd_flops, bwd_flops;    /* all ops, per rank */
  double split_flops;             /* fwd + bwd FLOPs of ops split over TP, per rank */
  double replicated_flops;        /* fwd + bwd FLOPs of GEMMs every TP rank runs whole */
  double model_flops_replica;     /* MFU numerator, one micro-batch, one model replica */
  double params, trainable;       /* parameters held by one rank; those with gradients */
  double fp8_params;              /* of them, weights of FP8 GEMMs */
  double fp8_gemms;               /* FP8 GEMMs (each keeps its amax histories) */
  double expert_trainable;        /* of `trainable`, routed experts' (their gradients
                                     reduce and their optimizer shards over the
                                     expert data-parallel group) */
  double saved, saved_sel;        /* activation bytes kept: no / selective recompute */
  double full_saved;              /* bytes kept under full recompute (the layer input) */
  bool full_applies;              /* a block that saves anything: full recompute applies */
  double workspace;               /* bytes, largest transient of one op */
  double stream;                  /* bytes, one full-sequence layer input (blocks that
                                     run backward; 0 otherwise) */
  double boundary_bytes;          /* activation this layer hands to the next layer */
} eng_tmpl_sums;

/* One layer of a template under the run's recompute choice, per rank, per
 * micro-batch. */
typedef struct eng_layer_fig {
  double compute_s;        /* kernels: forward + backward + recompute */
  double comm_s;           /* TP collectives: forward + backward + recompute */
  double bwd_s;            /* the backward part of both (recompute included) */
  double recompute_s;      /* forward kernels re-run in backward */
  double recompute_comm_s; /* TP collectives re-run in backward */
  double a2a_s;            /* of comm_s, the MoE dispatcher's all-to-all */
  double recompute_flops;  /* FLOPs re-run in backward */
  double host_s;           /* host issue time the device does not hide: for each
                              phase (forward; recompute + backward) the part of
                              max(host issue, device run) beyond the device run */
  double activation_bytes; /* saved for backward */
} eng_layer_fig;

/* Where a model's layers sit: layers of each template on each stage,
 * Megatron's tied-embedding copies on each stage (by module), and the
 * template of each stage's last layer (it sets what is sent downstream). */
typedef struct eng_placement {
  int n_stages, n_templates;
  int32_t *count; /* [stage * n_templates + template] */
  int32_t *extra; /* [stage * TPS_MAX_MODULES + module] */
  int *last;      /* [stage]: template, or -1 for an empty stage */
} eng_placement;

/* The model's figures at one (TP, SP, micro-batch): what a placement
 * multiplies. `t` points at n_templates sums. */
typedef struct eng_model_sums {
  int n_templates;
  const eng_tmpl_sums *t;
  double extra_params[TPS_MAX_MODULES]; /* one tied copy, per rank */
  bool frozen[TPS_MAX_MODULES];
} eng_model_sums;

/* One stage's figures. */
typedef struct eng_stage {
  tps_memory memory;
  double compute_s, comm_s, bwd_s; /* per micro-batch (bwd_s: the backward part of both) */
  double host_s;                   /* per micro-batch: exposed host issue time */
  double stream_bytes;             /* largest layer-input buffer held through backward */
  int64_t in_flight;               /* micro-batches whose activations are held */
} eng_stage;

/* The step. */
typedef struct eng_step {
  tps_memory memory; /* the most loaded stage */
  int peak_stage;
  bool fits, fits_with_margin;
  tps_time_split time;
  double step_time_s, tokens_per_step, tokens_per_s, tokens_per_s_per_card;
  double model_flops_per_step, hardware_flops_per_step, mfu;
} eng_step;

void eng_tmpl_sums_compute(const tps_template *t, const tps_module *mod, const tps_run *run,
                           const tps_hw *hw, eng_tmpl_sums *out);
void eng_layer_fig_compute(const eng_tmpl_sums *c, tps_recompute recompute, eng_layer_fig *out);

/* Parameters of the copy of a tied embedding Megatron keeps on the last
 * pipeline stage, per rank (0 for a module without tied embeddings). */
double eng_tied_copy_params(const tps_module *mod, const tps_run *run);

/* Fills `sums` (n = plan->n_templates entries) and `ms` from a plan. */
void eng_model_sums_from_plan(const tps_plan *plan, const tps_run *run, const tps_hw *hw,
                              eng_tmpl_sums *sums, eng_model_sums *ms);

tps_status eng_placement_from_plan(const tps_plan *plan, eng_placement *out, tps_error *err);
void eng_placement_free(eng_placement *p);

/* The step of `run` on `hw`: time and tokens from `ms`, memory from
 * `ms_mem` (NULL: ms). With samples of varying length (run->mean_seq_len <
 * seq_len) ms holds the templates lowered at the mean length and ms_mem at
 * seq_len, the longest sample, which sets the memory peak. `stages`
 * (pl->n_stages entries) may be NULL. */
void eng_evaluate(const eng_model_sums *ms, const eng_model_sums *ms_mem, const eng_placement *pl,
                  const tps_run *run, const tps_hw *hw, eng_step *out, eng_stage *stages);

/* A run lowered once, ready to be evaluated on any number of hardware
 * profiles (tps_estimate_run does it once; the uncertainty propagation once
 * per perturbed constant and per sample). */
typedef struct eng_prepared {
  tps_run run, at_mean;        /* at_mean: the run at the mean sample length */
  tps_plan plan, plan_mean;    /* plan_mean: lowered at the mean length (varlen) */
  eng_placement pl;
  eng_tmpl_sums *sums, *sums_mean;
  bool have_plan, have_placement, have_mean;
} eng_prepared;

tps_status eng_prepare(const tps_model *model, const tps_run *run, eng_prepared *p,
                       tps_error *err);
/* The step of the prepared run on hw; stages may be NULL. */
void eng_prepared_eval(eng_prepared *p, const tps_hw *hw, eng_step *step, eng_stage *stages);
void eng_prepared_free(eng_prepared *p);

/* Whether hw can run `run`: a peak for its precision, and an FP8 peak when
 * it trains in FP8 (a profile without one, A100 or 910B, refuses). */
tps_status eng_check_hw_run(const tps_hw *hw, const tps_run *run, tps_error *err);

/* Whether a run's samples vary in length (time at the mean, memory at the longest). */
static inline bool eng_varlen(const tps_run *run) {
  return run->mean_seq_len > 0 && run->mean_seq_len < run->seq_len;
}

#endif
