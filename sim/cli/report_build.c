/* Building the capacity-planning report: see report_build.h. */
#include <stdlib.h>
#include <string.h>

#include "cli/report_build.h"

void report_bundle_free(report_bundle *b) {
  if (!b) return;
  free(b->est);
  free(b->skipped);
  free(b->capacity);
  free(b->unc);
  free(b->costs);
  if (b->has_plan) tps_plan_free(&b->plan);
  memset(b, 0, sizeof *b);
  b->layers_tp_index = -1;
}

static void add_rules(report_bundle *b) {
  b->n_rules = 0;
  b->rules[b->n_rules++] =
      "memory limit per card = device memory x (1 - memory margin); headroom = limit - peak of the "
      "most loaded pipeline stage";
  b->rules[b->n_rules++] =
      "largest seq_len: other settings as evaluated; largest micro-batch: micro-batches per step "
      "kept, so global batch = micro-batch x DP x micro-batches; both found with GSL's Brent root "
      "finder on memory - limit (memory interpolated between integers), the integer below the root "
      "checked to fit and the next one checked not to";
  b->rules[b->n_rules++] =
      "cards for a token budget: TP, PP, micro-batch and micro-batches per step kept, DP scaled "
      "(cards = TP x PP x DP, global batch = micro-batch x micro-batches x DP); the smallest DP whose "
      "job tokens/s x days x 86400 s reaches the budget, rounded up so that the cards fill whole "
      "nodes; card-hours = cards x days x 24 (x --price per card-hour = cost); no budget is sized "
      "for a configuration that does not fit with the margin";
  b->rules[b->n_rules++] = "a token budget counts decoder tokens (global batch x seq_len per step)";
}

tps_status report_bundle_build_ex(const tps_model *m, const tps_hw *hw,
                                  const tps_run_overrides *over, const int64_t *tp_list, int n_tp,
                                  double token_budget, double days, report_progress_fn progress,
                                  void *progress_ctx, report_bundle *out, tps_error *err) {
  memset(out, 0, sizeof *out);
  out->layers_tp_index = -1;
  out->model = m;
  out->hw = hw;
  out->token_budget = token_budget > 0 ? token_budget : 0;
  out->days = days > 0 ? days : 0;
  add_rules(out);
  int64_t default_tp = 0;
  if (n_tp <= 0 || !tp_list) {
    tp_list = &default_tp;
    n_tp = 1;
  }
  tps_run_overrides base;
  if (over)
    base = *over;
  else
    tps_run_overrides_init(&base);

  out->est = calloc((size_t)n_tp, sizeof *out->est);
  out->skipped = calloc((size_t)n_tp, sizeof *out->skipped);
  out->capacity = calloc((size_t)n_tp, sizeof *out->capacity);
  if (!out->est || !out->skipped || !out->capacity) {
    report_bundle_free(out);
    return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
  }
  int n = 0, n_skipped = 0;
  tps_status st = tps_estimate_tp_list(m, hw, &base, tp_list, n_tp, out->est, &n, out->skipped,
                                       &n_skipped, err);
  if (st != TPS_OK) {
    report_bundle_free(out);
    return st;
  }
  for (int i = 0; i < n; i++) {
    /* capacity planning of this TP */
    st = tps_capacity_plan(m, hw, &base, &out->est[i], out->token_budget, out->days,
                           &out->capacity[i], err);
    if (st != TPS_OK) { /* out of memory */
      report_bundle_free(out);
      return st;
    }
    if (progress) progress(i + 1, n, progress_ctx);
  }
  out->report.model = m;
  out->report.hw = hw;
  out->report.est = out->est;
  out->report.n = n;
  out->report.skipped = out->skipped;
  out->report.n_skipped = n_skipped;
  report_recommend(&out->report);

  /* per-layer breakdown */
  int li = out->report.recommended >= 0 ? out->report.recommended : 0;
  out->layers_tp_index = li;
  tps_error pe;
  tps_error_clear(&pe);
  if (tps_plan_build(m, &out->est[li].run, &out->plan, &pe) == TPS_OK) {
    out->has_plan = true;
    out->costs = calloc(out->plan.n_layers > 0 ? (size_t)out->plan.n_layers : 1, sizeof *out->costs);
    if (!out->costs) {
      report_bundle_free(out);
      return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
    }
    for (int i = 0; i < out->plan.n_layers; i++)
      tps_layer_cost_compute(&out->plan, i, &out->est[li].run, hw, &out->costs[i]);
  }
  return TPS_OK;
}

tps_status report_bundle_build(const tps_model *m, const tps_hw *hw, const tps_run_overrides *over,
                               const int64_t *tp_list, int n_tp, double token_budget, double days,
                               report_bundle *out, tps_error *err) {
  return report_bundle_build_ex(m, hw, over, tp_list, n_tp, token_budget, days, NULL, NULL, out,
                                err);
}


tps_status report_bundle_add_intervals(report_bundle *b, const tps_run_overrides *over,
                                       double level, const tps_model_errors *errors,
                                       tps_error *err) {
  const int n = b->report.n;
  if (n <= 0) return TPS_OK;
  tps_run_overrides base;
  if (over)
    base = *over;
  else
    tps_run_overrides_init(&base);
  const tps_model_error *me = errors ? tps_model_error_find(errors, b->hw) : NULL;
  tps_uncertainty *unc = calloc((size_t)n, sizeof *unc);
  if (!unc) return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
  tps_unc_opts uo;
  tps_unc_opts_init(&uo);
  uo.level = level;
  uo.time_sd = me ? me->time_sd : 0.0;
  uo.memory_sd = me ? me->memory_sd : 0.0;
  tps_status st = TPS_OK;
  for (int i = 0; i < n && st == TPS_OK; i++)
    st = tps_uncertainty_run(b->model, b->hw, &b->est[i], &uo, &unc[i], err);
  for (int i = 0; i < n && st == TPS_OK; i++) {
    const tps_estimate *e = &b->est[i];
    if (!(e->tokens_per_s > 0)) continue;
    double lo = unc[i].tokens_per_s.lo / e->tokens_per_s, hi = unc[i].tokens_per_s.hi / e->tokens_per_s;
    /* rounding can put a zero-width interval a hair off 1 */
    if (lo > 1.0) lo = 1.0;
    if (hi < 1.0) hi = 1.0;
    st = tps_capacity_plan_interval(b->model, b->hw, &base, e, b->token_budget, b->days, level, lo,
                                    hi, &b->capacity[i], err);
  }
  if (st != TPS_OK) {
    for (int i = 0; i < n; i++) memset(&b->capacity[i].interval, 0, sizeof b->capacity[i].interval);
    free(unc);
    return st;
  }
  free(b->unc);
  b->unc = unc;
  b->report.unc = unc;
  b->report.model_error = me;
  report_recommend(&b->report);
  return TPS_OK;
}
