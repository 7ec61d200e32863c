/* `tp-sim validate --kernel`: the grid of configurations, and the
 * comparison of each op, the step time and per-rank memory of a tp-kernel
 * run with what the engine predicts on the calibrated profile
 * (docs/validation.md, "Kernel validation", defines every compared
 * quantity). Running the grid is kv_validate in kernel_drive.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "validate/kernel_validate.h"

/* tp, sp, swiglu, hidden, heads, kv_heads, seq, micro_batch, cp, ulysses, ep,
 * experts, topk (MoE: tp-kernel --experts, TP 1 over ep ranks). Step times on
 * this machine (2 cores, ~100 GFLOP/s per core) are 0.05..1 s at 2 layers. */
static const kv_config grid_full[] = {
    {1, false, false, 512, 8, 8, 512, 1, 1, false, 0, 0, 0}, {1, false, true, 1024, 16, 4, 256, 2, 1, false, 0, 0, 0},
    {1, false, false, 1024, 16, 16, 1024, 1, 1, false, 0, 0, 0}, {1, false, true, 2048, 16, 8, 128, 1, 1, false, 0, 0, 0},
    {2, false, false, 512, 8, 8, 512, 2, 1, false, 0, 0, 0}, {2, true, false, 512, 8, 8, 512, 2, 1, false, 0, 0, 0},
    {2, false, true, 1024, 16, 16, 256, 2, 1, false, 0, 0, 0}, {2, true, true, 1024, 16, 4, 512, 1, 1, false, 0, 0, 0},
    {2, false, false, 2048, 16, 16, 128, 1, 1, false, 0, 0, 0}, {2, true, true, 2048, 16, 8, 256, 1, 1, false, 0, 0, 0},
    {2, true, false, 1024, 16, 16, 1024, 1, 1, false, 0, 0, 0}, {4, true, false, 1024, 16, 16, 512, 1, 1, false, 0, 0, 0},
    {4, false, true, 1024, 16, 4, 256, 2, 1, false, 0, 0, 0}, {4, false, false, 2048, 16, 16, 256, 1, 1, false, 0, 0, 0},
    /* context parallelism (reported apart from the TP 1-2 MAPE): ring and Ulysses, 2 ranks */
    {1, false, false, 512, 8, 8, 512, 1, 2, false, 0, 0, 0}, {1, false, true, 512, 8, 8, 512, 1, 2, true, 0, 0, 0},
    /* MoE: TP 1, EP 2 (2 data-parallel ranks), 8 experts of ffn 4 h, top-2 */
    {1, false, true, 512, 8, 8, 256, 1, 1, false, 2, 8, 2},
    /* CP with MoE (reported apart, as CP): ring CP 2 on the 2 ranks, EP 2 over them */
    {1, false, true, 512, 8, 8, 512, 1, 2, false, 2, 8, 2},
};
static const kv_config grid_quick[] = {
    {1, false, false, 512, 8, 8, 256, 1, 1, false, 0, 0, 0},
    {2, true, true, 512, 8, 4, 256, 1, 1, false, 0, 0, 0},
};

int kv_grid(bool quick, const kv_config **out) {
  *out = quick ? grid_quick : grid_full;
  return quick ? (int)(sizeof grid_quick / sizeof grid_quick[0]) : (int)(sizeof grid_full / sizeof grid_full[0]);
}

void kv_config_id(const kv_config *c, char *out, size_t size) {
  char attn[32];
  if (c->kv_heads == c->heads)
    snprintf(attn, sizeof attn, "mha");
  else
    snprintf(attn, sizeof attn, "gqa%lld", (long long)c->kv_heads);
  char cp[32] = "", moe[64] = "";
  if (c->cp > 1) snprintf(cp, sizeof cp, "-cp%d-%s", c->cp, c->ulysses ? "ulysses" : "ring");
  if (c->experts > 0)
    snprintf(moe, sizeof moe, "-ep%d-e%lldk%lld", c->ep, (long long)c->experts, (long long)c->topk);
  snprintf(out, size, "tp%d-h%lld-s%lld-b%lld-%s-%s%s%s%s", c->tp, (long long)c->hidden, (long long)c->seq,
           (long long)c->micro_batch, c->swiglu ? "swiglu" : "gelu", attn, c->sp ? "-sp" : "", cp, moe);
}

static double rel_err(double pred, double meas) { return meas > 0 ? pred / meas - 1.0 : 0.0; }

tps_status kv_compare(const kv_kernel_run *run, const tps_hw *hw, kv_case *c, tps_error *err) {
  const int cp = run->cp > 1 ? run->cp : 1;
  kv_config cfg = {run->tp,   run->sp,  run->swiglu, run->hidden, run->heads,  run->kv_heads, run->seq,
                   run->micro_batch, cp, run->ulysses, run->ep, run->experts, run->topk};
  kv_config_id(&cfg, c->id, sizeof c->id);
  c->tp = run->tp;
  c->cp = cp;
  c->sp = run->sp;
  c->swiglu = run->swiglu;
  c->gqa = run->kv_heads != run->heads;
  c->oversubscribed = run->oversubscribed;
  c->hidden = run->hidden;
  c->heads = run->heads;
  c->kv_heads = run->kv_heads;
  c->seq = run->seq;
  c->micro_batch = run->micro_batch;
  c->layers = run->layers;
  c->n_ops = 0;
  /* The module and run tp-kernel builds (sim/kernel/model.c, k_inst_init):
   * a bare stack of `layers` blocks (no vocabulary, so no embedding or head),
   * fp32, one micro-batch, forward + backward without an optimizer. */
  tps_model *model = calloc(1, sizeof *model);
  tps_estimate *est = calloc(1, sizeof *est);
  if (!model || !est) {
    free(model);
    free(est);
    return tps_error_set(err, TPS_ENOMEM, "", 0, 0, "out of memory");
  }
  snprintf(model->name, sizeof model->name, "tp-kernel");
  model->n_modules = 1;
  tps_module *mod = &model->modules[0];
  snprintf(mod->name, sizeof mod->name, "tp-kernel");
  mod->type = TPS_MODULE_DECODER;
  mod->layers = run->layers;
  mod->hidden = run->hidden;
  mod->heads = run->heads;
  mod->kv_heads = run->kv_heads;
  mod->head_dim = run->head_dim > 0 ? run->head_dim : run->hidden / run->heads;
  mod->ffn = run->ffn > 0 ? run->ffn : 4 * run->hidden;
  mod->mlp = run->swiglu ? TPS_MLP_SWIGLU : TPS_MLP_GELU;
  mod->norm = run->rmsnorm ? TPS_NORM_RMSNORM : TPS_NORM_LAYERNORM;
  mod->position = TPS_POSITION_NONE;
  tps_run r;
  memset(&r, 0, sizeof r);
  r.tp = run->tp;
  r.pp = r.dp = r.vpp = 1;
  /* Context parallelism as the engine resolves it (sim/engine/cp.c). */
  r.cp = cp;
  r.cp_algo = run->ulysses ? TPS_CP_ULYSSES : TPS_CP_RING;
  r.ulysses_degree = run->ulysses ? cp : 1;
  r.cards = (int64_t)run->tp * cp;
  r.seq_len = run->seq;
  r.micro_batch = r.global_batch = run->micro_batch;
  r.micro_batches = 1;
  r.precision = TPS_PRECISION_FP32;
  r.sp = run->sp;
  r.flash_attention = false;
  r.recompute = TPS_RECOMPUTE_NONE;
  r.vocab_divisor = 1;
  r.no_optimizer = true;
  tps_lower_opts lo = {.kind = TPS_LAYER_BLOCK, .needs_input_grad = true};
  if (run->experts > 0) {
    /* tp-kernel --experts (sim/kernel/moe.c): every block's MLP is routed
     * experts; TP 1, the ranks CP x DP ones, EP over them, ETP 1. */
    mod->experts = run->experts;
    mod->experts_per_token = run->topk;
    mod->expert_ffn = run->moe_ffn;
    mod->router_score = TPS_ROUTER_SOFTMAX;
    mod->moe_layer_freq = 1;
    r.dp = run->dp;
    r.cards = (int64_t)run->tp * cp * run->dp;
    r.global_batch = run->micro_batch * run->dp;
    r.ep = run->ep;
    r.etp = 1;
    lo.moe = true;
  }
  /* The step and memory: the engine's own evaluator, as for any estimate. */
  tps_status st = tps_estimate_run(model, &r, hw, est, err);
  /* The ops, to pair with the kernel's per-op timings by name. */
  tps_op_list ops;
  tps_op_list_init(&ops);
  if (st == TPS_OK) st = tps_lower_layer(mod, &r, lo, &ops, err);
  free(model);
  if (st) {
    free(est);
    tps_op_list_free(&ops);
    return st;
  }
  /* Every measured op must be a lowered op (pairing by name, any order). */
  for (int j = 0; j < run->n_ops; j++) {
    bool found = false;
    for (int i = 0; i < ops.n && !found; i++) found = strcmp(ops.ops[i].name, run->ops[j].name) == 0;
    if (!found) {
      tps_op_list_free(&ops);
      free(est);
      return tps_error_set(err, TPS_EINVAL, "", 0, 0,
                           "%s: tp-kernel measured op '%s', which the engine's lowering does not have", c->id,
                           run->ops[j].name);
    }
  }
  for (int i = 0; i < ops.n; i++) {
    const tps_op *op = &ops.ops[i];
    const kv_meas_op *m = NULL;
    for (int j = 0; j < run->n_ops && !m; j++)
      if (strcmp(run->ops[j].name, op->name) == 0) m = &run->ops[j];
    if (!m) {
      tps_op_list_free(&ops);
      free(est);
      return tps_error_set(err, TPS_EINVAL, "", 0, 0, "%s: the lowering's op '%s' was not measured by tp-kernel",
                           c->id, op->name);
    }
    double f = 0.0, b = 0.0;
    tps_op_time(op, hw, &r, &f, &b);
    /* tp-kernel times the SP re-gather apart from f's backward. */
    double regather = op->bwd_regather ? tps_collective_time(TPS_COLL_ALL_GATHER, op->coll_bytes,
                                                             op->group, 1, hw)
                                       : 0.0;
    b -= regather;
    if (c->n_ops < KV_OPS_MAX) {
      kv_op_row *row = &c->ops[c->n_ops++];
      snprintf(row->name, sizeof row->name, "%s", op->name);
      snprintf(row->kind, sizeof row->kind, "%s", tps_op_kind_name(op->kind));
      row->pred_fwd_s = f;
      row->pred_bwd_s = b;
      row->meas_fwd_s = m->fwd.median;
      row->meas_bwd_s = m->bwd.median;
      row->error = rel_err(f + b, m->fwd.median + m->bwd.median);
      row->modelled = true;
    }
    if (m->has_regather && m->regather.median > 0 && c->n_ops < KV_OPS_MAX) {
      /* SP: the column GEMM's input is all-gathered again before its weight
       * gradient (Megatron does this too): the engine's op->bwd_regather. */
      kv_op_row *row = &c->ops[c->n_ops++];
      snprintf(row->name, sizeof row->name, "%.20s:regather", op->name);
      snprintf(row->kind, sizeof row->kind, "collective");
      row->pred_bwd_s = regather;
      row->meas_bwd_s = m->regather.median;
      row->modelled = op->bwd_regather;
      row->error = row->modelled ? rel_err(regather, m->regather.median) : -1.0;
    }
  }
  tps_op_list_free(&ops);
  /* tp-kernel reduces no gradients over data-parallel ranks (MoE runs have
   * them; docs/kernel.md): the engine's exposed DP time is left out. */
  c->predicted_s = est->step_time_s - est->time.dp_comm;
  c->measured_s = run->step.median;
  c->measured_min_s = run->step.min;
  c->error = rel_err(c->predicted_s, c->measured_s);
  double lo_s = INFINITY, hi_s = 0.0;
  for (int i = 0; i < run->n_samples; i++) {
    if (run->samples[i] < lo_s) lo_s = run->samples[i];
    if (run->samples[i] > hi_s) hi_s = run->samples[i];
  }
  c->spread = run->n_samples >= 2 && lo_s > 0 ? hi_s / lo_s - 1.0 : 0.0;
  c->noisy = c->spread > KV_SPREAD_MAX;
  /* Memory per rank (bytes): the estimate's weights + gradients + saved
   * activations of all layers + the largest op workspace + the profile's
   * backward_buffers layer-input-sized gradient buffers (everything but the
   * runtime reserve) vs the kernel's analytic buffers (weights, grads, saved,
   * scratch); and the estimate's total (with the profile's runtime_reserve)
   * vs the kernel's peak resident set (VmHWM). */
  c->stream_bytes = est->stages[0].stream_bytes;
  c->buf_predicted = est->memory.total - est->memory.runtime_reserve;
  c->buf_measured = run->buf_total;
  c->buf_error = rel_err(c->buf_predicted, c->buf_measured);
  c->mem_predicted = est->memory.total;
  c->mem_measured = run->vmhwm;
  c->mem_error = rel_err(c->mem_predicted, c->mem_measured);
  snprintf(c->hw, sizeof c->hw, "%s", hw->path[0] ? hw->path : hw->name);
  free(est);
  return TPS_OK;
}

bool kv_is_noisy(double load_before, double load_after, int cpus, double max_spread, char *why,
                 size_t why_size) {
  double limit = KV_LOAD_FRACTION * (cpus > 0 ? cpus : 1);
  /* Only the load before the first run says what else the machine does:
   * the load after includes this run's own ranks (reported, not judged);
   * interference during the run shows as spread between repeats. */
  bool load = load_before > limit;
  bool spread = max_spread > KV_SPREAD_MAX;
  if (why && why_size) {
    why[0] = '\0';
    if (load && spread)
      snprintf(why, why_size, "1-minute load %.2f before the runs (%.2f after, with their own ranks) above %.1f, and repeats %.0f%% apart (> %.0f%%)",
               load_before, load_after, limit, 100.0 * max_spread, 100.0 * KV_SPREAD_MAX);
    else if (load)
      snprintf(why, why_size, "1-minute load %.2f before the runs (%.2f after, with their own ranks) above %.1f (0.5 x %d CPUs)",
               load_before, load_after, limit, cpus);
    else if (spread)
      snprintf(why, why_size, "repeats of one configuration %.0f%% apart (max/min - 1 > %.0f%%)",
               100.0 * max_spread, 100.0 * KV_SPREAD_MAX);
  }
  return load || spread;
}

void kv_summarize(kv_report *r) {
  double s_step = 0, s_mem = 0, s_buf = 0, s_op = 0, t_step = 0, t_mem = 0;
  int n_op = 0;
  r->n_main = r->n_tp4 = 0;
  r->max_spread = 0.0;
  for (int i = 0; i < r->n_cases; i++) {
    const kv_case *c = &r->cases[i];
    if (c->skipped[0]) continue;
    if (c->tp <= 2 && c->cp <= 1 && !c->oversubscribed) {
      r->n_main++;
      s_step += fabs(c->error);
      s_mem += fabs(c->mem_error);
      s_buf += fabs(c->buf_error);
      for (int j = 0; j < c->n_ops; j++)
        if (c->ops[j].modelled && c->ops[j].meas_fwd_s + c->ops[j].meas_bwd_s > 0 &&
            c->ops[j].pred_fwd_s + c->ops[j].pred_bwd_s > 0) { /* not group-1 no-ops */
          s_op += fabs(c->ops[j].error);
          n_op++;
        }
      if (c->spread > r->max_spread) r->max_spread = c->spread;
    } else {
      r->n_tp4++;
      t_step += fabs(c->error);
      t_mem += fabs(c->mem_error);
    }
  }
  r->step_time_mape = r->n_main ? s_step / r->n_main : 0.0;
  r->memory_mape = r->n_main ? s_mem / r->n_main : 0.0;
  r->buffers_mape = r->n_main ? s_buf / r->n_main : 0.0;
  r->op_mape = n_op ? s_op / n_op : 0.0;
  r->tp4_step_time_mape = r->n_tp4 ? t_step / r->n_tp4 : 0.0;
  r->tp4_memory_mape = r->n_tp4 ? t_mem / r->n_tp4 : 0.0;
  /* TP 4 on 2 cores is oversubscribed by design: its spread does not make
   * the TP 1-2 figures untrustworthy, so only TP 1-2 spreads count. */
  r->noisy = kv_is_noisy(r->load_before, r->load_after, r->cpus, r->max_spread, r->noisy_why,
                         sizeof r->noisy_why);
}

int kv_count_beyond(const kv_report *rep, double max_error) {
  int n = 0;
  for (int i = 0; i < rep->n_cases; i++) {
    const kv_case *c = &rep->cases[i];
    if (!c->skipped[0] && c->tp <= 2 && c->cp <= 1 && !c->oversubscribed && fabs(c->error) > max_error)
      n++;
  }
  return n;
}

void kv_report_free(kv_report *rep) {
  free(rep->cases);
  rep->cases = NULL;
  rep->n_cases = 0;
}
