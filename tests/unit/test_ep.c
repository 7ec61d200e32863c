/* Expert parallelism: the token dispatcher's all-to-all volume per rank and
 * the experts' memory per rank against closed forms, and the refusals.
 *
 * Closed forms (docs/model.md, "Mixture of experts"; Megatron-Core MoE
 * all-to-all dispatcher, megatron/core/transformer/moe/token_dispatcher.py,
 * and facts.md Sec. 7): per MoE layer and micro-batch a rank routes its
 * b s / tp tokens (its sequence shard) to k experts each; the dispatch
 * all-to-all's buffer is b s k h / tp elements, of which (ep - 1) / ep leave
 * the rank (uniform routing); the combine returns as much, and backward
 * repeats both. A rank holds experts / ep experts of 3 h f / etp weights
 * (SwiGLU) each; the distributed optimizer shards their 12 bytes per
 * parameter over tp cp dp / (ep etp) ranks (Megatron-Core's expert data
 * parallel group). Mixtral-8x7B: h 4096, f 14336, 8 experts, top-2, 32
 * layers (HF mistralai/Mixtral-8x7B-v0.1 config.json). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpsim/tpsim.h"

static tps_model M;
static tps_hw HW;

static void load(const char *model, const char *hw) {
  char path[1024];
  tps_error err;
  const char *dir = getenv("TPSIM_DATA_DIR");
  cr_assert(dir, "TPSIM_DATA_DIR is not set");
  snprintf(path, sizeof path, "%s/models/%s.yaml", dir, model);
  cr_assert_eq(tps_model_load(path, &M, &err), TPS_OK, "%s", err.msg);
  snprintf(path, sizeof path, "%s/hw_profiles/%s.yaml", dir, hw);
  cr_assert_eq(tps_hw_load(path, &HW, &err), TPS_OK, "%s", err.msg);
}

static tps_status resolve(int64_t tp, int64_t dp, int64_t ep, int64_t etp, int64_t gb,
                          tps_run *run, tps_error *err) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = tp;
  o.pp = 1;
  o.dp = dp;
  o.cards = tp * dp;
  o.ep = ep;
  o.etp = etp;
  o.sp = 1;
  o.seq_len = 4096;
  o.micro_batch = 1;
  o.global_batch = gb;
  o.distributed_optimizer = 1;
  o.precision = TPS_PRECISION_BF16;
  return tps_run_resolve(&M, &o, run, err);
}

static const tps_op *find(const tps_op_list *l, const char *name) {
  for (int i = 0; i < l->n; i++)
    if (strcmp(l->ops[i].name, name) == 0) return &l->ops[i];
  cr_assert_fail("no op %s", name);
  return NULL;
}

#define H 4096.0
#define F 14336.0

/* Mixtral on TP 2, DP 4 (8 ranks as ETP 2 x EP 4 x expert-DP 1), 32
 * micro-batches: one MoE block lowered into ops (free with
 * tps_op_list_free). */
static void lower_mixtral_tp2_ep4(tps_run *run, tps_op_list *ops) {
  tps_error err;
  cr_assert_eq(resolve(2, 4, 4, 2, 32, run, &err), TPS_OK, "%s", err.msg);
  tps_op_list_init(ops);
  tps_lower_opts lo = {.kind = TPS_LAYER_BLOCK, .moe = true};
  cr_assert_eq(tps_lower_layer(&M.modules[0], run, lo, ops, &err), TPS_OK, "%s", err.msg);
}

Test(ep, dispatch_volume_and_expert_weights_per_rank) {
  load("mixtral-8x7b", "h100-sxm");
  tps_run run;
  tps_op_list ops;
  lower_mixtral_tp2_ep4(&run, &ops);
  const tps_op *d = find(&ops, "moe_dispatch"), *c = find(&ops, "moe_combine");
  /* buffer b s k h / tp x 2 bytes = 4096 x 2 x 4096 / 2 x 2 = 33,554,432 */
  const double buffer = 4096.0 * 2 * H / 2 * 2;
  cr_assert_eq(d->coll_bytes, buffer, "dispatch buffer %.0f, expected %.0f", d->coll_bytes, buffer);
  cr_assert_eq(c->coll_bytes, buffer);
  cr_assert_eq(d->group, 4);
  cr_assert_eq(d->stride, 2, "EP ranks are ETP apart in the expert grid");
  cr_assert_eq(d->fwd_coll, TPS_COLL_ALL_TO_ALL);
  cr_assert_eq(d->bwd_coll, TPS_COLL_ALL_TO_ALL);
  /* Sent off the rank: (ep - 1)/ep of it, 25,165,824 bytes per all-to-all. */
  cr_assert_eq(d->coll_bytes * (d->group - 1) / d->group, 25165824.0);
  /* Experts on this rank: 8 / 4 of 3 h f / 2 weights. */
  double w = find(&ops, "experts_up")->params + find(&ops, "experts_down")->params;
  cr_assert_eq(w, 8.0 / 4 * 3 * H * F / 2, "expert weights per rank %.0f", w);
  /* Rows entering the experts: b s k / tp x etp = 8192 at the expected load. */
  cr_assert_eq(find(&ops, "experts_up")->m, 8192);
  cr_assert_eq(find(&ops, "experts_up")->groups, 2);
  tps_op_list_free(&ops);
}

/* The step's MoE dispatcher share (reports' `moe_dispatch`) is the time of
 * the dispatcher's collectives of every MoE layer, forward and backward, at
 * the load factor, times the micro-batches: Mixtral on one stage (TP 2, EP 4,
 * ETP 2), 32 layers, 32 / 4 = 8 micro-batches per rank. */
Test(ep, dispatch_share_of_the_step) {
  load("mixtral-8x7b", "h100-sxm");
  tps_run run;
  tps_error err;
  tps_op_list ops;
  lower_mixtral_tp2_ep4(&run, &ops);
  double per_layer = 0.0;
  static const char *const names[] = {"moe_dispatch", "moe_gather", "moe_scatter", "moe_combine"};
  for (int i = 0; i < 4; i++) {
    double f, b;
    tps_op_time(find(&ops, names[i]), &HW, &run, &f, &b);
    per_layer += f + b;
  }
  tps_op_list_free(&ops);
  static tps_estimate est;
  cr_assert_eq(tps_estimate_run(&M, &run, &HW, &est, &err), TPS_OK, "%s", err.msg);
  const double want = 8.0 * 32.0 * per_layer * HW.stack.moe_imbalance;
  cr_assert(fabs(est.time.expert_a2a - want) <= 1e-9 * want, "moe dispatch %.9g s, expected %.9g",
            est.time.expert_a2a, want);
  cr_assert_lt(est.time.expert_a2a, est.time.tp_comm, "a part of the layer collectives");
}

/* Static memory per rank: moving from EP 1 to EP 4 (ETP 2, DP 4) divides the
 * experts' weights and gradients by 4 and keeps their optimizer bytes (the
 * expert-DP group shrinks from 4 to 1 as the shard grows 4-fold). */
Test(ep, expert_memory_per_rank) {
  load("mixtral-8x7b", "h100-sxm");
  HW.stack.moe_imbalance = 1.0;
  tps_run r1, r4;
  tps_error err;
  cr_assert_eq(resolve(2, 4, 1, 2, 32, &r1, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(resolve(2, 4, 4, 2, 32, &r4, &err), TPS_OK, "%s", err.msg);
  static tps_estimate e1, e4;
  cr_assert_eq(tps_estimate_run(&M, &r1, &HW, &e1, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_estimate_run(&M, &r4, &HW, &e4, &err), TPS_OK, "%s", err.msg);
  const double per_layer_ep1 = 8.0 * 3 * H * F / 2; /* expert params per rank per layer */
  const double moved = 32 * per_layer_ep1 * (1.0 - 1.0 / 4);
  double dw = e1.memory.weights - e4.memory.weights, dg = e1.memory.grads - e4.memory.grads;
  cr_assert(fabs(dw - 2.0 * moved) <= 1e-9 * dw, "weights %.0f, expected %.0f", dw, 2.0 * moved);
  cr_assert(fabs(dg - 4.0 * moved) <= 1e-9 * dg, "grads %.0f, expected %.0f", dg, 4.0 * moved);
  /* optimizer: 12 / 4 per param at EP 1 (expert DP 4), 12 / 1 at EP 4 */
  double o1 = 32 * per_layer_ep1 * 12.0 / 4, o4 = 32 * per_layer_ep1 / 4 * 12.0;
  cr_assert(fabs((e1.memory.optimizer - e4.memory.optimizer) - (o1 - o4)) <= 1e-6 * e1.memory.optimizer,
            "optimizer %.0f vs %.0f", e1.memory.optimizer - e4.memory.optimizer, o1 - o4);
}

Test(ep, refusals) {
  load("mixtral-8x7b", "h100-sxm");
  tps_run run;
  tps_error err;
  static tps_estimate est;
  /* EP 3 x ETP 2 divides 24 ranks, but not the 8 experts. */
  cr_assert_eq(resolve(2, 12, 3, 2, 24, &run, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_estimate_run(&M, &run, &HW, &est, &err), TPS_EDIVIDE);
  cr_assert(strstr(err.msg, "--ep: 3 does not divide 8 experts"), "%s", err.msg);
  /* EP 8 x ETP 2 = 16 does not divide 8 ranks. */
  cr_assert_eq(resolve(2, 4, 8, 2, 32, &run, &err), TPS_EDIVIDE);
  cr_assert(strstr(err.msg, "does not divide the 8 ranks"), "%s", err.msg);
  /* Expert TP 3 does not divide 14336 columns (and 3 x 2 divides 6 ranks). */
  cr_assert_eq(resolve(1, 6, 2, 3, 6, &run, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_estimate_run(&M, &run, &HW, &est, &err), TPS_EDIVIDE);
  cr_assert(strstr(err.msg, "--etp: 3 does not divide 14336"), "%s", err.msg);
  /* A dense model has no experts to spread. */
  load("llama3-8b", "h100-sxm");
  cr_assert_eq(resolve(1, 8, 2, 0, 8, &run, &err), TPS_EINVAL);
  cr_assert(strstr(err.msg, "has no experts"), "%s", err.msg);
}

/* The dropless imbalance of the stack scales the load-following ops at EP > 1
 * only, and a smaller capacity factor caps it. */
Test(ep, load_factor) {
  load("mixtral-8x7b", "h100-sxm");
  cr_assert_eq(HW.stack.moe_imbalance, 1.25, "megatron-cuda's moe.imbalance");
  tps_run run;
  tps_error err;
  static tps_estimate a, b;
  cr_assert_eq(resolve(1, 8, 8, 1, 32, &run, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_estimate_run(&M, &run, &HW, &a, &err), TPS_OK, "%s", err.msg);
  run.moe_capacity_factor = 1.0; /* tokens beyond the expected load dropped */
  cr_assert_eq(tps_estimate_run(&M, &run, &HW, &b, &err), TPS_OK, "%s", err.msg);
  cr_assert_gt(a.time.compute, b.time.compute);
  cr_assert_gt(a.memory.activations, b.memory.activations);
}

/* Megatron's --moe-expert-capacity-factor sets the run's capacity factor
 * (docs/ecosystem.md); a value that is not a number above 0 is not used and
 * says why. */
Test(ep, capacity_factor_flag) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  static tps_eco_unresolved u;
  tps_error err;
  cr_assert_eq(tps_megatron_args_parse("--moe-expert-capacity-factor 1.5", NULL, &o, &u, &err),
               TPS_OK, "%s", err.msg);
  cr_assert_float_eq(o.moe_capacity_factor, 1.5, 1e-12);
  cr_assert_eq(u.n, 0);
  cr_assert_eq(u.unmodelled.n, 0);
  tps_run_overrides_init(&o);
  cr_assert_eq(tps_megatron_args_parse("--moe-expert-capacity-factor -1", NULL, &o, &u, &err),
               TPS_OK, "%s", err.msg);
  cr_assert(o.moe_capacity_factor < 0, "unset");
  cr_assert_eq(u.n, 1);
  cr_assert_str_eq(u.items[0].why, "'-1' is not a number above 0");
}
