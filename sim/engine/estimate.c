/* One run on one hardware profile: memory per card by stage and component,
 * step time split by cause, throughput and MFU. The plan is reduced to
 * template sums and a placement, and evaluate.c's one evaluator does the
 * rest; this file only labels the stages and copies the figures out. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/evaluate.h"
#include "engine/lower_internal.h"
#include "tpsim/engine.h"

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

tps_status eng_prepare(const tps_model *model, const tps_run *run, eng_prepared *p,
                       tps_error *err) {
  memset(p, 0, sizeof *p);
  p->run = *run;
  tps_status st = tps_plan_build(model, run, &p->plan, err);
  if (st != TPS_OK) return st;
  p->have_plan = true;
  if (!(p->sums = malloc((size_t)p->plan.n_templates * sizeof *p->sums + 1))) {
    eng_prepared_free(p);
    return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while estimating");
  }
  if ((st = eng_placement_from_plan(&p->plan, &p->pl, err)) != TPS_OK) {
    eng_prepared_free(p);
    return st;
  }
  p->have_placement = true;
  /* Samples of varying length: the time at the mean length. */
  if (eng_varlen(run)) {
    p->at_mean = *run;
    p->at_mean.seq_len = run->mean_seq_len;
    st = tps_plan_build(model, &p->at_mean, &p->plan_mean, err);
    if (st == TPS_OK) p->have_mean = true;
    if (st == TPS_OK && p->plan_mean.n_templates != p->plan.n_templates)
      st = tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "layer templates differ at the mean length");
    if (st == TPS_OK &&
        !(p->sums_mean = malloc((size_t)p->plan.n_templates * sizeof *p->sums_mean + 1)))
      st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while estimating");
    if (st != TPS_OK) {
      eng_prepared_free(p);
      return st;
    }
  }
  return TPS_OK;
}

void eng_prepared_eval(eng_prepared *p, const tps_hw *hw, eng_step *step, eng_stage *stages) {
  eng_model_sums ms;
  eng_model_sums_from_plan(&p->plan, &p->run, hw, p->sums, &ms);
  eng_model_sums ms_mean = ms;
  if (p->have_mean) eng_model_sums_from_plan(&p->plan_mean, &p->at_mean, hw, p->sums_mean, &ms_mean);
  eng_evaluate(&ms_mean, &ms, &p->pl, &p->run, hw, step, stages);
}

void eng_prepared_free(eng_prepared *p) {
  if (p->have_placement) eng_placement_free(&p->pl);
  if (p->have_mean) tps_plan_free(&p->plan_mean);
  if (p->have_plan) tps_plan_free(&p->plan);
  free(p->sums);
  free(p->sums_mean);
  memset(p, 0, sizeof *p);
}

tps_status eng_check_hw_run(const tps_hw *hw, const tps_run *run, tps_error *err) {
  if (hw->peak_flops[run->precision] <= 0)
    return tps_error_set(err, TPS_EINVAL, hw->path, 0, 0,
                         "hardware profile '%s' gives no peak_flops for %s", hw->name,
                         tps_precision_name(run->precision));
  if (run->fp8 != TPS_FP8_NONE && hw->peak_fp8_flops <= 0) {
    tps_error_set(err, TPS_EINVAL, hw->path, 0, 0,
                  "hardware profile '%s' (%s) has no FP8 tensor peak: FP8 training (fp8 format "
                  "%s) needs one",
                  hw->name, hw->device_name, tps_fp8_format_name(run->fp8));
    tps_error_hint(err, "drop the FP8 format (train in %s), or use a profile whose peak_flops "
                        "gives fp8 (the bundled Hopper profiles do)",
                   tps_precision_name(run->precision));
    return TPS_EINVAL;
  }
  return TPS_OK;
}

tps_status tps_estimate_run(const tps_model *model, const tps_run *run, const tps_hw *hw,
                            tps_estimate *out, tps_error *err) {
  memset(out, 0, sizeof *out);
  out->run = *run;
  tps_status hst = eng_check_hw_run(hw, run, err);
  if (hst != TPS_OK) return hst;
  eng_prepared prep;
  tps_status st = eng_prepare(model, run, &prep, err);
  if (st != TPS_OK) return st;
  const tps_plan plan = prep.plan;
  eng_stage stages[TPS_MAX_STAGES];
  eng_step step;
  eng_prepared_eval(&prep, hw, &step, stages);
#ifndef NDEBUG
  {
    /* Invariant: the stages hold the whole model. Each rank holds 1/TP of
     * what TP splits and all of what it replicates (norms, KV heads beyond
     * the group, biases), padding only adds: x TP covers every parameter.
     * Routed experts are split over EP x ETP ranks instead: x the larger of
     * TP and EP x ETP still covers them. */
    double held = 0.0;
    for (int s = 0; s < plan.n_stages; s++)
      held += stages[s].memory.weights / tps_precision_bytes(run->precision);
    double split = (double)run->tp, expert_split = (double)eng_ep_ranks(run) * eng_etp_ranks(run);
    if (expert_split > split) split = expert_split;
    /* FP8 primary weights hold the FP8 GEMMs' weights in 1 byte. */
    assert(run->fp8_param_gather || held * split >= tps_model_params(model) * (1.0 - 1e-9));
    assert(step.step_time_s >= 0 && step.memory.total >= 0);
  }
#endif

  out->n_stages = plan.n_stages;
  for (int s = 0; s < plan.n_stages; s++) {
    tps_stage_result *r = &out->stages[s];
    const eng_stage *e = &stages[s];
    r->stage = s;
    stage_label(&plan, s, r->layers, sizeof r->layers);
    r->memory = e->memory;
    r->tp_comm_s = e->comm_s;
    r->bwd_s = e->bwd_s;
    r->fwd_s = e->compute_s + e->comm_s + e->host_s - e->bwd_s; /* bwd_s holds its own host time */
    r->stream_bytes = e->stream_bytes;
    r->in_flight = e->in_flight;
  }
  out->memory = step.memory;
  out->fits = step.fits;
  out->fits_with_margin = step.fits_with_margin;
  out->time = step.time;
  out->step_time_s = step.step_time_s;
  out->tokens_per_step = step.tokens_per_step;
  out->tokens_per_s = step.tokens_per_s;
  out->tokens_per_s_per_card = step.tokens_per_s_per_card;
  out->model_flops_per_step = step.model_flops_per_step;
  out->hardware_flops_per_step = step.hardware_flops_per_step;
  out->mfu = step.mfu;
  eng_prepared_free(&prep);
  return TPS_OK;
}

double tps_memory_read(const tps_memory *m, tps_memory_reading reading) {
  switch (reading) {
    case TPS_MEMORY_ALLOCATED:
      return m->weights + m->grads + m->optimizer + m->activations + m->fp8;
    case TPS_MEMORY_RESERVED:
      return m->weights + m->grads + m->optimizer + m->activations + m->fp8 + m->allocator;
    case TPS_MEMORY_DEVICE: break;
  }
  return m->total;
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
