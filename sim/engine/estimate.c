/* One run on one hardware profile: memory per card by stage and component,
 * step time split by cause, throughput and MFU.
 *
 * Pipeline schedule: 1F1B (Narayanan et al. 2021). Stage s keeps
 * min(pp - s, micro_batches) micro-batches of activations in flight; the
 * step takes (m - 1) x t_max + sum over stages of t_s, where t_s is stage s's
 * forward + backward time for one micro-batch (equal stages give the familiar
 * (m + pp - 1) t). */
#include <stdio.h>
#include <string.h>

#include "engine/lower_internal.h"
#include "tpsim/engine.h"

typedef struct stage_acc {
  double compute_s, comm_s, bwd_s;   /* per micro-batch */
  double weights, grads, optimizer;  /* bytes */
  double activations_per_mb;         /* bytes, one micro-batch */
  double workspace;                  /* bytes, largest transient of one op */
  double stream;                     /* bytes, largest layer input (backward buffers) */
  double trainable_params;           /* per rank */
  double boundary_bytes;             /* activation sent to the next stage */
} stage_acc;

/* "vision_encoder[0..31], language_model[0..11]" for the blocks of stage s;
 * modules without blocks there appear by name. */
static void stage_label(const tps_plan *plan, int s, char *out, size_t size) {
  out[0] = '\0';
  size_t len = 0;
  for (int m = 0; m < plan->n_modules; m++) {
    int64_t lo = -1, hi = -1;
    bool present = false;
    for (int i = 0; i < plan->n_layers; i++) {
      const tps_layer *l = &plan->layers[i];
      if (l->module != m || l->stage != s) continue;
      present = true;
      if (l->index >= 0) {
        if (lo < 0) lo = l->index;
        hi = l->index;
      }
    }
    if (!present) continue;
    int n = lo >= 0 ? snprintf(out + len, size - len, "%s%s[%lld..%lld]", len ? ", " : "",
                               plan->modules[m].name, (long long)lo, (long long)hi)
                    : snprintf(out + len, size - len, "%s%s", len ? ", " : "", plan->modules[m].name);
    if (n < 0 || (size_t)n >= size - len) return;
    len += (size_t)n;
  }
}

tps_status tps_estimate_run(const tps_model *model, const tps_run *run, const tps_hw *hw,
                            tps_estimate *out, tps_error *err) {
  memset(out, 0, sizeof *out);
  out->run = *run;
  if (hw->peak_flops[run->precision] <= 0)
    return tps_error_set(err, TPS_EINVAL, hw->path, 0, 0,
                         "hardware profile '%s' gives no peak_flops for %s", hw->name,
                         tps_precision_name(run->precision));
  tps_plan plan;
  tps_status st = tps_plan_build(model, run, &plan, err);
  if (st != TPS_OK) return st;

  stage_acc acc[TPS_MAX_STAGES];
  memset(acc, 0, sizeof acc);
  double replica_model_flops = 0.0; /* one micro-batch through one model replica */
  double replica_hw_flops = 0.0;    /* the same, as executed (recompute included) */
  for (int i = 0; i < plan.n_layers; i++) {
    const tps_layer *l = &plan.layers[i];
    const tps_template *t = &plan.templates[l->template_id];
    tps_layer_cost c;
    tps_layer_cost_compute(&plan, i, model, run, hw, &c);
    stage_acc *a = &acc[l->stage];
    a->compute_s += c.fwd_s + c.bwd_s + c.recompute_s;
    a->comm_s += c.tp_comm_fwd_s + c.tp_comm_bwd_s + c.recompute_comm_s;
    a->bwd_s += c.bwd_s + c.tp_comm_bwd_s + c.recompute_s + c.recompute_comm_s;
    a->weights += c.params * tps_precision_bytes(run->precision);
    a->grads += c.trainable_params * tps_grad_bytes_per_param(run);
    a->optimizer += c.trainable_params * tps_optimizer_bytes_per_param(run);
    a->activations_per_mb += c.activation_bytes;
    if (c.workspace_bytes > a->workspace) a->workspace = c.workspace_bytes;
    if (c.stream_bytes > a->stream) a->stream = c.stream_bytes;
    a->trainable_params += c.trainable_params;
    const tps_module *mod = &plan.modules[l->module];
    int64_t tokens = t->ops.n > 0 && t->ops.ops[0].m > 0 ? t->ops.ops[0].m : 0;
    a->boundary_bytes = (double)tokens * mod->hidden * tps_precision_bytes(run->precision);
    /* Ops split over TP run 1/tp of the work on each rank; a replicated GEMM
     * runs whole on every rank but counts once per replica. */
    double split_flops = 0.0, replicated_flops = 0.0;
    for (int k = 0; k < t->ops.n; k++) {
      const tps_op *op = &t->ops.ops[k];
      bool replicated = op->kind == TPS_OP_GEMM && op->split == TPS_SPLIT_REPLICATED;
      replica_model_flops += op->model_flops * (replicated ? 1.0 : (double)run->tp);
      if (replicated) replicated_flops += op->fwd_flops + op->bwd_flops;
      else split_flops += op->fwd_flops + op->bwd_flops;
    }
    replica_hw_flops += replicated_flops + (split_flops + c.flops_recompute) * (double)run->tp;
  }

  const int64_t m = run->micro_batches;
  out->n_stages = plan.n_stages;
  int busiest = 0, fullest = 0;
  double t_max = 0.0, t_sum = 0.0, p2p = 0.0, dp_exposed = 0.0, opt_s = 0.0;
  for (int s = 0; s < plan.n_stages; s++) {
    stage_acc *a = &acc[s];
    tps_stage_result *r = &out->stages[s];
    r->stage = s;
    stage_label(&plan, s, r->layers, sizeof r->layers);
    r->in_flight = (run->pp - s) < m ? (run->pp - s) : m;
    r->memory.weights = a->weights;
    r->memory.grads = a->grads;
    r->memory.optimizer = a->optimizer;
    /* Saved tensors of the micro-batches in flight, plus the working set of
     * the op running at the peak, scaled for allocator fragmentation. */
    double overhead = hw->activation_overhead > 0 ? hw->activation_overhead : 1.0;
    r->memory.activations =
        (a->activations_per_mb * (double)r->in_flight * tps_vpp_activation_scale(run) +
         a->workspace + hw->backward_buffers * a->stream) * overhead;
    r->memory.runtime_reserve = hw->runtime_reserve_bytes;
    r->memory.total = r->memory.weights + r->memory.grads + r->memory.optimizer +
                      r->memory.activations + r->memory.runtime_reserve;
    r->tp_comm_s = a->comm_s;
    r->bwd_s = a->bwd_s;
    r->fwd_s = a->compute_s + a->comm_s - a->bwd_s;
    double t_s = a->compute_s + a->comm_s + run->micro_batch_overhead_s;
    t_sum += t_s;
    if (t_s > t_max) {
      t_max = t_s;
      busiest = s;
    }
    if (r->memory.total > out->stages[fullest].memory.total) fullest = s;
    if (s + 1 < plan.n_stages) {
      /* Each micro-batch crosses every boundary forward and backward; the
       * boundaries work in parallel, the slowest one sets the pace. */
      double t = 2.0 * (double)m * tps_vpp_p2p_scale(run) * tps_p2p_time(hw, run, a->boundary_bytes);
      if (t > p2p) p2p = t;
    }
    double d = tps_dp_reduce_time(hw, run, a->trainable_params);
    if (run->overlap_grad_reduce) d = d > a->bwd_s ? d - a->bwd_s : 0.0;
    if (d > dp_exposed) dp_exposed = d;
    double o = tps_optimizer_time(hw, run, a->trainable_params);
    if (o > opt_s) opt_s = o;
  }

  out->memory = out->stages[fullest].memory;
  out->fits = out->memory.total <= hw->memory_bytes;
  out->fits_with_margin = out->memory.total <= hw->memory_bytes * (1.0 - run->memory_margin);
  out->time.compute = (double)m * acc[busiest].compute_s;
  out->time.tp_comm = (double)m * acc[busiest].comm_s;
  out->time.overhead = (double)m * run->micro_batch_overhead_s;
  out->time.pp_bubble = (t_sum - t_max) * tps_vpp_bubble_scale(run) + p2p;
  out->time.dp_comm = dp_exposed;
  out->time.optimizer = opt_s;
  out->step_time_s = out->time.compute + out->time.tp_comm + out->time.overhead +
                     out->time.pp_bubble + out->time.dp_comm + out->time.optimizer;
  out->tokens_per_step = (double)run->global_batch * (double)run->seq_len;
  out->tokens_per_s = out->tokens_per_step / out->step_time_s;
  out->tokens_per_s_per_card = out->tokens_per_s / (double)run->cards;
  out->model_flops_per_step = replica_model_flops * (double)run->dp * (double)m;
  out->hardware_flops_per_step = replica_hw_flops * (double)run->dp * (double)m;
  out->mfu = out->model_flops_per_step /
             (out->step_time_s * (double)run->cards * hw->peak_flops[run->precision]);
  tps_plan_free(&plan);
  return TPS_OK;
}

int tps_recommend_tp(const tps_estimate *est, int n) {
  int best = -1;
  for (int i = 0; i < n; i++) {
    if (!est[i].fits_with_margin) continue;
    if (best < 0 || est[i].tokens_per_s_per_card > est[best].tokens_per_s_per_card ||
        (est[i].tokens_per_s_per_card == est[best].tokens_per_s_per_card &&
         est[i].run.tp < est[best].run.tp))
      best = i;
  }
  return best;
}
