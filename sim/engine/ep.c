/* Expert parallelism: resolving and checking EP, ETP and the capacity
 * factor of a run (docs/model.md, "Mixture of experts").
 *
 * Megatron-Core lays the ranks of one pipeline stage out twice
 * (parallel_state.py, initialize_model_parallel): attention and dense
 * layers as TP x CP x DP (order tp-cp-dp), the experts as ETP x EP x EDP
 * (order tp-ep-dp, CP folded in), over the same TP x CP x DP ranks. So EP
 * does not multiply the card count: ETP x EP must divide TP x CP x DP, and
 * the experts' gradients reduce over the remaining EDP ranks. */
#include <stdio.h>

#include "engine/lower_internal.h"

static bool has_experts(const tps_model *model) {
  for (int i = 0; i < model->n_modules; i++)
    if (model->modules[i].type == TPS_MODULE_DECODER && model->modules[i].experts > 0) return true;
  return false;
}

tps_status eng_resolve_ep(const tps_model *model, const tps_run_overrides *over, tps_run *run,
                          tps_error *err) {
  const tps_training *tr = &model->training;
  run->ep = over->ep > 0 ? over->ep : (tr->ep > 0 ? tr->ep : 1);
  int64_t etp = over->etp > 0 ? over->etp : tr->etp;
  run->etp = etp > 0 ? etp : run->tp;
  run->moe_capacity_factor = over->moe_capacity_factor >= 0 ? over->moe_capacity_factor
                                                            : tr->moe_capacity_factor;
  if (!(run->moe_capacity_factor >= 0.0) || run->moe_capacity_factor > 1e6)
    return tps_error_set(err, TPS_ERANGE, NULL, 0, 0,
                         "the MoE capacity factor must be 0 (dropless) or positive, got %g",
                         run->moe_capacity_factor);
  if (!has_experts(model)) {
    if (run->ep > 1 || (etp > 0 && etp != run->tp)) {
      tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "--%s %lld: model '%s' has no experts",
                    run->ep > 1 ? "ep" : "etp", (long long)(run->ep > 1 ? run->ep : etp),
                    model->name);
      tps_error_hint(err, "expert parallelism splits the routed experts of an MoE model; drop "
                          "--ep / --etp");
      return TPS_EINVAL;
    }
    run->etp = run->tp;
    return TPS_OK;
  }
  /* The stage's ranks, TP x CP x DP, as ETP x EP x EDP. */
  double ranks = (double)run->tp * (double)eng_cp_ranks(run) * (double)run->dp;
  double grid = (double)run->ep * (double)run->etp;
  if (grid > ranks || (int64_t)ranks % (run->ep * run->etp) != 0) {
    tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                  "--ep %lld x --etp %lld = %.0f does not divide the %.0f ranks of a pipeline "
                  "stage (TP %lld x CP %lld x DP %lld)",
                  (long long)run->ep, (long long)run->etp, grid, ranks, (long long)run->tp,
                  (long long)eng_cp_ranks(run), (long long)run->dp);
    tps_error_hint(err, "the experts are laid out as ETP x EP x expert-DP over the same ranks "
                        "as TP x CP x DP (Megatron-Core); choose EP x ETP dividing %.0f",
                   ranks);
    return TPS_EDIVIDE;
  }
  return TPS_OK;
}

tps_status eng_ep_check_module(const tps_module *m, const tps_run *run, tps_error *err) {
  const int64_t ep = eng_ep_ranks(run), etp = eng_etp_ranks(run);
  if (m->experts > 0 && m->experts % ep != 0) {
    tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0, "--ep: %lld does not divide %lld experts of module '%s'",
                  (long long)ep, (long long)m->experts, m->name);
    tps_error_hint(err, "choose an EP size that divides %lld", (long long)m->experts);
    return TPS_EDIVIDE;
  }
  if (m->experts > 0 && m->expert_ffn % etp != 0) {
    tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                  "--etp: %lld does not divide %lld expert MLP columns (expert_ffn) of module '%s'",
                  (long long)etp, (long long)m->expert_ffn, m->name);
    tps_error_hint(err, "expert TP defaults to the TP size; choose one that divides %lld "
                        "(--etp)",
                   (long long)m->expert_ffn);
    return TPS_EDIVIDE;
  }
  return TPS_OK;
}

double eng_moe_load_factor(const tps_run *run, const tps_hw *hw) {
  double f = 1.0;
  if (eng_ep_ranks(run) > 1 && hw->stack.moe_imbalance > 1.0) f = hw->stack.moe_imbalance;
  double cf = run->moe_capacity_factor;
  if (cf > 0.0 && cf < f) f = cf;
  return f;
}
