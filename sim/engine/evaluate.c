/* The one evaluator: template sums -> layer figures -> stage memory and time
 * -> the step (see evaluate.h).
 *
 * Pipeline schedule: 1F1B (Narayanan et al. 2021). Stage s keeps
 * min(pp - s, micro_batches) micro-batches of activations in flight; the
 * step takes (m - 1) x t_max + sum over stages of t_s, where t_s is stage s's
 * forward + backward time for one micro-batch (equal stages give the familiar
 * (m + pp - 1) t); interleaving scales the bubble, p2p and activations
 * (lower_internal.h). */
#include "engine/evaluate.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lower_internal.h"

/* TP communication overlap (Megatron-LM --tp-comm-overlap, Transformer
 * Engine userbuffers): with sequence parallelism each all-gather feeds the
 * column-parallel GEMM after it and each reduce-scatter drains the
 * row-parallel GEMM before it; the GEMM is split in chunks that run while
 * the next chunk is exchanged, so a collective and its GEMM take about the
 * longer of the two (the bound: a first or last chunk and the SMs the
 * exchange takes are not counted). Backward pairs the same way (the
 * all-gather's gradient is a reduce-scatter overlapped with that GEMM's
 * backward, and the other way round). *f and *b become the exposed parts. */
static void overlap_tp_comm(const tps_op_list *ops, int k, const tps_hw *hw, const tps_run *run,
                            double *f, double *b) {
  const tps_op *op = &ops->ops[k];
  int partner = -1;
  if (op->fwd_coll == TPS_COLL_ALL_GATHER) partner = k + 1;
  else if (op->fwd_coll == TPS_COLL_REDUCE_SCATTER) partner = k - 1;
  if (partner < 0 || partner >= ops->n || ops->ops[partner].kind != TPS_OP_GEMM) return;
  double gf, gb;
  tps_op_time(&ops->ops[partner], hw, run, &gf, &gb);
  /* One of the tp chunks cannot overlap: the first all-gathered chunk is
   * waited for, the last reduce-scatter follows the last GEMM chunk. */
  const double chunk = 1.0 / (double)run->tp;
  *f = fmax(*f - gf, *f * chunk);
  *b = fmax(*b - gb, *b * chunk);
}

void eng_tmpl_sums_compute(const tps_template *t, const tps_module *mod, const tps_run *run,
                           const tps_hw *hw, eng_tmpl_sums *c) {
  const double w_bytes = tps_precision_bytes(run->precision);
  /* Ops that follow the experts' token load run at the most loaded rank's. */
  const double load = eng_moe_load_factor(run, hw);
  memset(c, 0, sizeof *c);
  for (int k = 0; k < t->ops.n; k++) {
    const tps_op *op = &t->ops.ops[k];
    double f, b;
    tps_op_time(op, hw, run, &f, &b);
    const double lf = op->moe_load ? load : 1.0;
    f *= lf;
    b *= lf;
    const double *host_ops = hw->stack.host_ops[op->kind];
    bool has_bwd = op->kind == TPS_OP_COLLECTIVE ? op->bwd_coll != TPS_COLL_NONE
                                                 : op->bwd_flops > 0 || op->bwd_bytes > 0;
    c->host_fwd_s += host_ops[0] * hw->stack.host_dispatch_s;
    if (has_bwd) c->host_bwd_s += host_ops[1] * hw->stack.host_dispatch_s;
    if (op->kind == TPS_OP_COLLECTIVE) {
      if (run->tp_comm_overlap) overlap_tp_comm(&t->ops, k, hw, run, &f, &b);
      c->comm_fwd_s += f;
      c->comm_bwd_s += b;
      if (op->moe_load) {
        c->a2a_fwd_s += f;
        c->a2a_bwd_s += b;
      }
    } else {
      c->fwd_s += f;
      c->bwd_s += b;
      if (op->rerun_in_bwd) {
        c->rerun_s += f;
        c->host_rerun_s += host_ops[0] * hw->stack.host_dispatch_s;
      }
      if (op->kind == TPS_OP_ATTENTION && op->saved_bytes_selective < op->saved_bytes) {
        c->sel_s += f;
        c->sel_flops += op->fwd_flops;
        c->host_sel_s += host_ops[0] * hw->stack.host_dispatch_s;
      }
    }
    c->params += op->params;
    if (op->trainable) c->trainable += op->params;
    if (op->fp8) {
      c->fp8_params += op->params;
      c->fp8_gemms += 1.0;
    }
    if (op->trainable && op->routed) c->expert_trainable += op->params;
    c->saved += lf * op->saved_bytes;
    c->saved_sel += lf * op->saved_bytes_selective;
    if (lf * op->workspace_bytes > c->workspace) c->workspace = lf * op->workspace_bytes;
    c->fwd_flops += op->fwd_flops;
    c->bwd_flops += op->bwd_flops;
    /* Ops split over TP run 1/tp of the work on each rank; a replicated GEMM
     * runs whole on every rank but counts once per replica. */
    bool replicated = op->kind == TPS_OP_GEMM && op->split == TPS_SPLIT_REPLICATED;
    if (replicated) c->replicated_flops += op->fwd_flops + op->bwd_flops;
    else c->split_flops += op->fwd_flops + op->bwd_flops;
    /* A replica spans TP x CP ranks: each CP rank runs its share of the
     * tokens (decoders only; CP refuses other modules). */
    c->model_flops_replica +=
        op->model_flops * (replicated ? 1.0 : (double)run->tp) * (double)eng_cp_ranks(run);
  }
  int64_t tokens0 = t->ops.n > 0 && t->ops.ops[0].m > 0 ? t->ops.ops[0].m : 0;
  c->boundary_bytes = (double)tokens0 * (double)mod->hidden * w_bytes;
  c->full_applies = t->opts.kind == TPS_LAYER_BLOCK && c->saved > 0;
  if (c->full_applies) {
    /* Under full recompute only the layer input stays (attn_norm, the first
     * op, runs on it); backward first re-runs the whole forward. */
    c->full_saved = (double)t->ops.ops[0].m * (double)mod->hidden * w_bytes;
    c->stream = (double)tps_ops_full_tokens(&t->ops) * (double)mod->hidden * w_bytes;
  }
  assert(c->params >= 0 && c->trainable <= c->params && c->saved >= 0 && c->workspace >= 0);
}

/* Host issue time a stretch of ops adds to its device run time: the ops
 * cannot run before they are issued, so the stretch takes max(host, device). */
static double exposed(double host_s, double device_s) {
  return host_s > device_s ? host_s - device_s : 0.0;
}

/* Bytes one layer keeps for backward under a recompute choice. */
static double saved_bytes(const eng_tmpl_sums *c, tps_recompute recompute) {
  if (recompute == TPS_RECOMPUTE_SELECTIVE) return c->saved_sel;
  if (recompute == TPS_RECOMPUTE_FULL && c->full_applies) return c->full_saved;
  return c->saved;
}

void eng_layer_fig_compute(const eng_tmpl_sums *c, tps_recompute recompute, eng_layer_fig *out) {
  double rec = 0.0, rec_comm = 0.0, rec_flops = 0.0, rec_host = 0.0;
  const double act = saved_bytes(c, recompute);
  if (recompute == TPS_RECOMPUTE_SELECTIVE) {
    rec = c->sel_s;
    rec_flops = c->sel_flops;
    rec_host = c->host_sel_s;
  } else if (recompute == TPS_RECOMPUTE_FULL && c->full_applies) {
    rec = c->fwd_s;
    rec_comm = c->comm_fwd_s;
    rec_flops = c->fwd_flops;
    rec_host = c->host_fwd_s;
  }
  if (!(recompute == TPS_RECOMPUTE_FULL && c->full_applies)) {
    rec += c->rerun_s; /* full recompute re-runs these with the rest */
    rec_host += c->host_rerun_s;
  }
  double host_fwd = exposed(c->host_fwd_s, c->fwd_s + c->comm_fwd_s);
  double host_bwd = exposed(c->host_bwd_s + rec_host, c->bwd_s + c->comm_bwd_s + rec + rec_comm);
  out->compute_s = c->fwd_s + c->bwd_s + rec;
  out->comm_s = c->comm_fwd_s + c->comm_bwd_s + rec_comm;
  out->a2a_s = c->a2a_fwd_s + c->a2a_bwd_s +
               (recompute == TPS_RECOMPUTE_FULL && c->full_applies ? c->a2a_fwd_s : 0.0);
  out->host_s = host_fwd + host_bwd;
  out->bwd_s = c->bwd_s + c->comm_bwd_s + rec + rec_comm + host_bwd;
  out->recompute_s = rec;
  out->recompute_comm_s = rec_comm;
  out->recompute_flops = rec_flops;
  out->activation_bytes = act;
}

double eng_fp8_memory(const tps_run *run, double fp8_params, double fp8_gemms,
                      double *weights_delta) {
  *weights_delta = 0.0;
  if (run->fp8 == TPS_FP8_NONE) return 0.0;
  /* Transformer Engine keeps each FP8 GEMM's weight quantized between the
   * micro-batches of a step, row-wise and transposed (Hopper's FP8 GEMMs
   * take only the TN layout), 1 byte each; FP8 primary weights
   * (--fp8-param-gather) are that FP8 copy, with no bf16 one beside it, plus
   * the transpose. Delayed scaling keeps an fp32 amax history of
   * fp8_amax_history entries for 3 forward tensors (input, weight, output)
   * and 2 backward ones (output and input gradients) per GEMM (TE's
   * fp8_meta "scaling_fwd" / "scaling_bwd"). */
  double copies = 2.0 * fp8_params;
  if (run->fp8_param_gather) {
    *weights_delta = -fp8_params * (tps_precision_bytes(run->precision) - 1.0);
    copies = fp8_params;
  }
  return copies + fp8_gemms * 5.0 * 4.0 * (double)run->fp8_amax_history;
}

double eng_tied_copy_params(const tps_module *mod, const tps_run *run) {
  if (mod->type != TPS_MODULE_DECODER || !mod->tied_embeddings || mod->vocab <= 0) return 0.0;
  int64_t vpad = tps_padded_vocab(mod->vocab, run->vocab_divisor, run->tp);
  return (double)vpad / (double)run->tp * (double)mod->hidden;
}

void eng_model_sums_from_plan(const tps_plan *plan, const tps_run *run, const tps_hw *hw,
                              eng_tmpl_sums *sums, eng_model_sums *ms) {
  memset(ms, 0, sizeof *ms);
  ms->n_templates = plan->n_templates;
  ms->t = sums;
  for (int i = 0; i < plan->n_templates; i++) {
    const tps_template *t = &plan->templates[i];
    eng_tmpl_sums_compute(t, &plan->modules[t->module], run, hw, &sums[i]);
  }
  for (int m = 0; m < plan->n_modules; m++) {
    ms->extra_params[m] = eng_tied_copy_params(&plan->modules[m], run);
    ms->frozen[m] = plan->modules[m].frozen;
  }
}

tps_status eng_placement_from_plan(const tps_plan *plan, eng_placement *p, tps_error *err) {
  memset(p, 0, sizeof *p);
  p->n_stages = plan->n_stages;
  p->n_templates = plan->n_templates;
  p->count = calloc((size_t)plan->n_stages * (size_t)plan->n_templates + 1, sizeof *p->count);
  p->extra = calloc((size_t)plan->n_stages * TPS_MAX_MODULES, sizeof *p->extra);
  p->last = malloc((size_t)plan->n_stages * sizeof *p->last);
  if (!p->count || !p->extra || !p->last) {
    eng_placement_free(p);
    return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while planning");
  }
  for (int s = 0; s < plan->n_stages; s++) p->last[s] = -1;
  for (int i = 0; i < plan->n_layers; i++) {
    const tps_layer *l = &plan->layers[i];
    assert(l->stage >= 0 && l->stage < plan->n_stages);
    p->count[l->stage * plan->n_templates + l->template_id]++;
    p->last[l->stage] = l->template_id;
    if (l->extra_params > 0) p->extra[l->stage * TPS_MAX_MODULES + l->module]++;
  }
  return TPS_OK;
}

void eng_placement_free(eng_placement *p) {
  free(p->count);
  free(p->extra);
  free(p->last);
  memset(p, 0, sizeof *p);
}

#define MAX_FIGS 64 /* templates evaluated on the stack; more take the heap */

void eng_evaluate(const eng_model_sums *ms, const eng_model_sums *ms_mem, const eng_placement *pl,
                  const tps_run *run, const tps_hw *hw, eng_step *out, eng_stage *stages) {
  const int nt = ms->n_templates;
  if (!ms_mem) ms_mem = ms;
  assert(pl->n_templates == nt && ms_mem->n_templates == nt && pl->n_stages >= 1);
  const double w_bytes = tps_precision_bytes(run->precision);
  const double grad_bytes = eng_grad_bytes_per_param(run);
  const double opt_bytes = eng_optimizer_bytes_per_param(run);
  const double alloc_extra = hw->stack.allocator_overhead > 1.0 ? hw->stack.allocator_overhead - 1.0 : 0.0;
  const int64_t m = run->micro_batches;
  /* Communicators a rank holds: one per parallel group of more than one
   * rank; the experts' groups count where they are not the TP or DP x CP
   * group already (EP; ETP != TP; expert DP != DP x CP). */
  const double edp = eng_expert_dp(run), dense_dp = (double)run->dp * (double)eng_cp_ranks(run);
  const int n_groups = (run->tp > 1) + (run->pp > 1) + (run->dp > 1) + (eng_cp_ranks(run) > 1) +
                       (eng_ep_ranks(run) > 1) +
                       (eng_etp_ranks(run) > 1 && eng_etp_ranks(run) != run->tp) +
                       (edp > 1.0 && edp != dense_dp);
  const double opt_bytes_expert = eng_optimizer_bytes_per_param_expert(run);

  eng_layer_fig stack_figs[MAX_FIGS];
  eng_layer_fig *lf = nt <= MAX_FIGS ? stack_figs : malloc((size_t)nt * sizeof *lf);
  if (!lf) { /* no memory for the figures: a step that cannot be a result */
    memset(out, 0, sizeof *out);
    out->step_time_s = out->tokens_per_s = out->tokens_per_s_per_card = out->mfu = NAN;
    return;
  }
  double replica_model_flops = 0.0, replica_hw_flops = 0.0; /* one micro-batch, one replica */
  for (int i = 0; i < nt; i++) eng_layer_fig_compute(&ms->t[i], run->recompute, &lf[i]);

  int fullest = 0;
  double t_max = 0.0, t_sum = 0.0, p2p = 0.0, dp_exposed = 0.0, opt_s = 0.0;
  double busy_compute = 0.0, busy_comm = 0.0, busy_a2a = 0.0, busy_host = 0.0, peak_total = 0.0;
  /* Host time per micro-batch outside the layers: the model's recipe
   * (data pipeline) and the stack's (schedule, loss). */
  const double per_mb = run->micro_batch_overhead_s + hw->stack.per_micro_batch_s;
  tps_memory peak = {0};
  /* Equal neighbouring stages ask the same questions: remember the last answer. */
  double memo_boundary = -1.0, memo_p2p = 0.0, memo_trainable = -1.0, memo_dp = 0.0,
         memo_expert = -1.0, memo_gather = 0.0;
  for (int st = 0; st < pl->n_stages; st++) {
    const int32_t *cnt = &pl->count[st * nt];
    double compute = 0.0, comm = 0.0, a2a = 0.0, host = 0.0, bwd = 0.0, params = 0.0, trainable = 0.0,
           act = 0.0, workspace = 0.0, stream = 0.0, fp8_params = 0.0, fp8_gemms = 0.0,
           expert = 0.0;
    for (int i = 0; i < nt; i++) {
      if (!cnt[i]) continue;
      const eng_tmpl_sums *c = &ms->t[i], *cm = &ms_mem->t[i];
      double k = (double)cnt[i];
      compute += k * lf[i].compute_s;
      comm += k * lf[i].comm_s;
      a2a += k * lf[i].a2a_s;
      host += k * lf[i].host_s;
      bwd += k * lf[i].bwd_s;
      act += k * (cm == c ? lf[i].activation_bytes : saved_bytes(cm, run->recompute));
      params += k * c->params;
      trainable += k * c->trainable;
      fp8_params += k * c->fp8_params;
      fp8_gemms += k * c->fp8_gemms;
      expert += k * c->expert_trainable;
      if (cm->workspace > workspace) workspace = cm->workspace;
      if (cm->stream > stream) stream = cm->stream;
      replica_model_flops += k * c->model_flops_replica;
      replica_hw_flops += k * (c->replicated_flops + (c->split_flops + lf[i].recompute_flops) *
                                                         (double)run->tp) *
                          (double)eng_cp_ranks(run);
    }
    const int32_t *extra = &pl->extra[st * TPS_MAX_MODULES];
    for (int mo = 0; mo < TPS_MAX_MODULES; mo++) {
      if (!extra[mo]) continue;
      params += extra[mo] * ms->extra_params[mo];
      if (!ms->frozen[mo]) trainable += extra[mo] * ms->extra_params[mo];
    }
    int64_t in_flight = (run->pp - st) < m ? (run->pp - st) : m;
    tps_memory mem;
    mem.weights = params * w_bytes;
    double fp8_weights_delta;
    mem.fp8 = eng_fp8_memory(run, fp8_params, fp8_gemms, &fp8_weights_delta);
    mem.weights += fp8_weights_delta;
    mem.grads = trainable * grad_bytes;
    mem.optimizer = (trainable - expert) * opt_bytes + expert * opt_bytes_expert;
    /* Saved tensors of the micro-batches in flight, plus the working set of
     * the op running at the peak and the gradient buffers held through
     * backward; the caching allocator holds more than these live tensors
     * (blocks of the sizes earlier micro-batches asked for). */
    mem.activations = act * (double)in_flight * eng_vpp_activation_scale(run) + workspace +
                      hw->backward_buffers * stream;
    mem.allocator = mem.activations * alloc_extra;
    mem.runtime_reserve = hw->runtime_reserve_bytes + hw->communicator_bytes * (double)n_groups;
    mem.total = mem.weights + mem.grads + mem.optimizer + mem.activations + mem.allocator +
                mem.runtime_reserve + mem.fp8;
    assert(mem.weights >= 0 && mem.grads >= 0 && mem.optimizer >= 0 && !(mem.activations < 0));
    if (stages) {
      eng_stage *r = &stages[st];
      r->memory = mem;
      r->compute_s = compute;
      r->comm_s = comm;
      r->host_s = host;
      r->bwd_s = bwd;
      r->stream_bytes = stream;
      r->in_flight = in_flight;
    }
    double t_s = compute + comm + host + per_mb;
    t_sum += t_s;
    if (st == 0 || t_s > t_max) {
      if (t_s > t_max) t_max = t_s;
      busy_compute = compute;
      busy_comm = comm;
      busy_a2a = a2a;
      busy_host = host;
    }
    if (st == 0 || mem.total > peak_total) {
      peak_total = mem.total;
      peak = mem;
      fullest = st;
    }
    if (st + 1 < pl->n_stages) {
      /* Each micro-batch crosses every boundary forward and backward; the
       * boundaries work in parallel, the slowest one sets the pace. */
      double bytes = pl->last[st] >= 0 ? ms->t[pl->last[st]].boundary_bytes : 0.0;
      if (bytes != memo_boundary) {
        memo_boundary = bytes;
        memo_p2p = eng_p2p_time(hw, run, bytes);
      }
      double t = 2.0 * (double)m * eng_vpp_p2p_scale(run) * memo_p2p;
      if (t > p2p) p2p = t;
    }
    if (trainable != memo_trainable || expert != memo_expert) {
      memo_trainable = trainable;
      memo_expert = expert;
      double rs, ag, ers, eag;
      eng_dp_reduce_time(hw, run, trainable - expert, &rs, &ag);
      eng_expert_dp_reduce_time(hw, run, expert, &ers, &eag);
      memo_dp = rs + ers;
      memo_gather = ag + eag;
    }
    /* docs/model.md, "Data parallelism": --overlap-grad-reduce hides the
     * reduction behind the last micro-batch's backward (and, without
     * --overlap-param-gather, the weight all-gather with it, as fitted);
     * --overlap-param-gather hides the all-gather behind the first
     * micro-batch's forward of the next step. */
    double d = memo_dp, g = memo_gather;
    if (!run->overlap_param_gather) {
      d += g;
      g = 0.0;
    }
    if (run->overlap_grad_reduce) d = d > bwd ? d - bwd : 0.0;
    if (g > 0.0) {
      const double fwd = compute + comm + host - bwd;
      g = g > fwd ? g - fwd : 0.0;
    }
    d += g;
    if (d > dp_exposed) dp_exposed = d;
    double o = eng_optimizer_time(hw, run, trainable - expert) +
               eng_expert_optimizer_time(hw, run, expert);
    if (o > opt_s) opt_s = o;
  }
  if (lf != stack_figs) free(lf);

  memset(out, 0, sizeof *out);
  out->memory = peak;
  out->peak_stage = fullest;
  out->fits = peak.total <= hw->memory_bytes;
  out->fits_with_margin = peak.total <= hw->memory_bytes * (1.0 - run->memory_margin);
  out->time.compute = (double)m * busy_compute;
  out->time.tp_comm = (double)m * busy_comm;
  out->time.expert_a2a = (double)m * busy_a2a;
  out->time.overhead = (double)m * (busy_host + per_mb) + hw->stack.per_step_s;
  out->time.pp_bubble = (t_sum - t_max) * eng_vpp_bubble_scale(run) + p2p;
  out->time.dp_comm = dp_exposed;
  out->time.optimizer = opt_s;
  out->step_time_s = out->time.compute + out->time.tp_comm + out->time.overhead +
                     out->time.pp_bubble + out->time.dp_comm + out->time.optimizer;
  /* Tokens actually processed: the mean sample length when lengths vary. */
  const int64_t tokens_per_sample = run->mean_seq_len > 0 ? run->mean_seq_len : run->seq_len;
  out->tokens_per_step = (double)run->global_batch * (double)tokens_per_sample;
  out->tokens_per_s = out->tokens_per_step / out->step_time_s;
  out->tokens_per_s_per_card = out->tokens_per_s / (double)run->cards;
  out->model_flops_per_step = replica_model_flops * (double)run->dp * (double)m;
  out->hardware_flops_per_step = replica_hw_flops * (double)run->dp * (double)m;
  out->mfu = out->model_flops_per_step /
             (out->step_time_s * (double)run->cards * hw->peak_flops[run->precision]);
}
