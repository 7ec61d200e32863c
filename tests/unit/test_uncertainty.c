/* Uncertainty (docs/uncertainty.md): spreads in the profiles (`value +- sd`),
 * the model-error file, and the intervals of tps_uncertainty_run checked
 * against an independent Monte Carlo reference, against the closed form of
 * the model-error term alone, and at zero spread. */
#include <criterion/criterion.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tpsim/tpsim.h"

#define INPUTS TPSIM_SOURCE_DIR "/tests/inputs"

static tps_model model;
static tps_hw hw;

static void setup(void) { gsl_set_error_handler_off(); }

/* ---- inputs -------------------------------------------------------------- */

Test(spread, hw_profile_values_and_sds, .init = setup) {
  tps_error err;
  cr_assert_eq(tps_hw_load(INPUTS "/hw_profiles/test-gpu-spread.yaml", &hw, &err), TPS_OK, "%s",
               err.msg);
  /* values as without the spread; sds in the same SI unit */
  cr_expect_eq(hw.memory_bandwidth_Bps, 2039e9);
  cr_expect_eq(hw.memory_bandwidth_sd_Bps, 100e9);
  cr_expect_eq(hw.runtime_reserve_bytes, 5e9);
  cr_expect_eq(hw.runtime_reserve_sd_bytes, 5e8);
  cr_expect_eq(hw.gemm_efficiency.y[0], 0.75);
  cr_expect_eq(hw.gemm_efficiency.sd, 0.05);
  cr_expect_eq(hw.attention_efficiency.y[0], 0.5);
  cr_expect_eq(hw.attention_efficiency.sd, 0.05); /* 5% */
  cr_expect_eq(hw.memory_efficiency, 0.7);
  cr_expect_eq(hw.memory_efficiency_sd, 0.07); /* "0.7+-0.07": no blanks needed */
  cr_expect_eq(hw.kernel_overhead_s, 5e-6);
  cr_expect_eq(hw.kernel_overhead_sd_s, 1e-6);
  cr_expect_eq(hw.intra.latency_s, 8e-6);
  cr_expect_eq(hw.intra.latency_sd_s, 2e-6);
  cr_expect_eq(hw.intra.efficiency.sd, 0.0); /* "0.8 ± 0": exact */
  cr_expect_eq(hw.inter.latency_sd_s, 0.0);  /* no spread given */
  cr_expect_eq(hw.inter.efficiency.sd, 0.05);
}

/* The constants an interval propagates: the bundled 910b2 running its stack
 * mindspeed-npu has three with a spread (host_dispatch, per_micro_batch,
 * allocator_overhead; the profile's own values carry none); without a stack
 * none, and the CLI then prints no interval (golden
 * ok_estimate_qwen25vl_7b_no_stack). */
Test(spread, uncertain_constants_counted, .init = setup) {
  static tps_hw h;
  tps_error err;
  char path[1024];
  cr_assert_eq(tps_data_find("hw_profiles", "910b2", path, sizeof path, &err), TPS_OK);
  cr_assert_eq(tps_hw_load(path, &h, &err), TPS_OK, "%s", err.msg);
  cr_expect_eq(tps_uncertain_constants(&h), 3);
  memset(&h.stack, 0, sizeof h.stack);
  cr_expect_eq(tps_uncertain_constants(&h), 0);
}

Test(spread, bundled_stacks_carry_the_fit_standard_errors, .init = setup) {
  /* The stack files in hw_profiles/stacks/ as scripts/fit-stacks.sh wrote them (fit of
   * 2026-12-01; docs/validation.md, "Fitted constants"). */
  tps_stack s;
  tps_error err;
  char path[1024];
  cr_assert_eq(tps_data_find("hw_profiles/stacks", "mindspeed-npu", path, sizeof path, &err), TPS_OK);
  cr_assert_eq(tps_stack_load(path, &s, &err), TPS_OK, "%s", err.msg);
  cr_expect_float_eq(s.host_dispatch_sd_s, 11.44e-6, 1e-12);
  cr_expect_float_eq(s.per_micro_batch_sd_s, 6.689e-3, 1e-9);
  cr_expect_eq(s.per_step_sd_s, 0.0);
  /* transferred from megatron-cuda with its standard error */
  cr_expect_float_eq(s.allocator_overhead_sd, 0.06207, 1e-9);
  cr_assert_eq(tps_data_find("hw_profiles/stacks", "megatron-cuda", path, sizeof path, &err), TPS_OK);
  cr_assert_eq(tps_stack_load(path, &s, &err), TPS_OK, "%s", err.msg);
  cr_expect_float_eq(s.host_dispatch_sd_s, 3.557e-6, 1e-12);
  cr_expect_float_eq(s.allocator_overhead_sd, 0.06207, 1e-9);
}

Test(model_error, bundled_file_and_lookup, .init = setup) {
  static tps_model_errors me;
  tps_error err;
  char path[1024];
  cr_assert_eq(tps_data_find("validation", "model-error", path, sizeof path, &err), TPS_OK, "%s",
               err.msg);
  cr_assert_eq(tps_model_errors_load(path, &me, &err), TPS_OK, "%s", err.msg);
  cr_expect_eq(me.n, 8);
  tps_hw h;
  memset(&h, 0, sizeof h);
  snprintf(h.name, sizeof h.name, "910b2");
  snprintf(h.stack.name, sizeof h.stack.name, "mindspeed-npu");
  const tps_model_error *e = tps_model_error_find(&me, &h);
  cr_assert_not_null(e);
  /* validation/model-error.yaml: 910b2 time 14.5%, memory 5.5% */
  cr_expect_float_eq(e->time_sd, 0.145, 1e-12);
  cr_expect_float_eq(e->memory_sd, 0.055, 1e-12);
  /* a profile without its own row: its stack's pool */
  snprintf(h.name, sizeof h.name, "h200");
  snprintf(h.stack.name, sizeof h.stack.name, "megatron-cuda");
  e = tps_model_error_find(&me, &h);
  cr_assert_not_null(e);
  cr_expect_float_eq(e->time_sd, 0.151, 1e-12);
  /* a profile's entry is for the stack it was measured with: a100-80g-sxm
   * running megatron-cuda 11.0%, running megatron-deepspeed that stack's 30.3% */
  snprintf(h.name, sizeof h.name, "a100-80g-sxm");
  e = tps_model_error_find(&me, &h);
  cr_assert_not_null(e);
  cr_expect_float_eq(e->time_sd, 0.110, 1e-12);
  snprintf(h.stack.name, sizeof h.stack.name, "megatron-deepspeed");
  e = tps_model_error_find(&me, &h);
  cr_assert_not_null(e);
  cr_expect_float_eq(e->time_sd, 0.303, 1e-12);
  cr_expect_float_eq(e->memory_sd, 0.122, 1e-12);
  /* neither: no model error */
  snprintf(h.stack.name, sizeof h.stack.name, "other");
  cr_expect_null(tps_model_error_find(&me, &h));
}

Test(model_error, bad_file_named_with_line, .init = setup) {
  static tps_model_errors me;
  tps_error err;
  const char *path = INPUTS "/bad/me_no_key.yaml";
  cr_expect_eq(tps_model_errors_load(path, &me, &err), TPS_EMISSINGKEY);
  cr_expect_str_eq(err.file, path);
  cr_expect_eq(err.line, 4);
  cr_expect_str_eq(err.msg, "an entry of 'families' needs 'hw', 'stack' or both");
  path = INPUTS "/bad/me_negative.yaml";
  cr_expect_eq(tps_model_errors_load(path, &me, &err), TPS_ERANGE);
  cr_expect_eq(err.line, 4);
  cr_expect_str_eq(err.msg, "'time' must be a fraction in (0, 1] or a percentage, got '-5%'");
}

/* ---- propagation ------------------------------------------------------------ */

/* llama3-8b on the spread fixture with a stack whose host costs carry
 * spreads, TP 2; the estimate in *e. */
static void synthetic(tps_estimate *e, double scale_sd) {
  tps_error err;
  char path[1024];
  cr_assert_eq(tps_data_find("models", "llama3-8b", path, sizeof path, &err), TPS_OK);
  cr_assert_eq(tps_model_load(path, &model, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_hw_load(INPUTS "/hw_profiles/test-gpu-spread.yaml", &hw, &err), TPS_OK);
  snprintf(hw.stack.name, sizeof hw.stack.name, "synthetic");
  hw.stack.host_dispatch_s = 20e-6;
  hw.stack.host_dispatch_sd_s = 4e-6;
  hw.stack.per_micro_batch_s = 5e-3;
  hw.stack.per_micro_batch_sd_s = 1e-3;
  hw.stack.allocator_overhead = 1.2;
  hw.stack.allocator_overhead_sd = 0.05;
  for (int k = 0; k < TPS_OP_KIND_COUNT; k++) hw.stack.host_ops[k][0] = hw.stack.host_ops[k][1] = 3;
  /* scale every spread (0: none) */
  hw.memory_bandwidth_sd_Bps *= scale_sd;
  hw.runtime_reserve_sd_bytes *= scale_sd;
  hw.gemm_efficiency.sd *= scale_sd;
  hw.attention_efficiency.sd *= scale_sd;
  hw.memory_efficiency_sd *= scale_sd;
  hw.kernel_overhead_sd_s *= scale_sd;
  hw.intra.latency_sd_s *= scale_sd;
  hw.inter.efficiency.sd *= scale_sd;
  hw.stack.host_dispatch_sd_s *= scale_sd;
  hw.stack.per_micro_batch_sd_s *= scale_sd;
  hw.stack.allocator_overhead_sd *= scale_sd;
  tps_run_overrides over;
  tps_run_overrides_init(&over);
  over.tp = 2;
  over.cards = 8;
  over.micro_batch = 1;
  over.global_batch = 64;
  over.seq_len = 4096;
  tps_run run;
  cr_assert_eq(tps_run_resolve(&model, &over, &run, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_estimate_run(&model, &run, &hw, e, &err), TPS_OK, "%s", err.msg);
}

/* The reference: N joint draws of the same spreads (log-normal, sd_u = sd /
 * value; tables scaled as a whole) through tps_estimate_run, written apart
 * from sim/engine/uncertainty.c; the level quantiles of step time and
 * memory. */
static void monte_carlo(const tps_estimate *e, int n, double level, double q_t[2], double q_m[2]) {
  static double t[20000], m[20000];
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 12345);
  static tps_hw h;
  for (int j = 0; j < n; j++) {
    h = hw;
#define LOGN(v, sd) ((v) * exp(gsl_ran_gaussian(rng, (sd) / (v))))
    h.memory_bandwidth_Bps = LOGN(hw.memory_bandwidth_Bps, hw.memory_bandwidth_sd_Bps);
    h.runtime_reserve_bytes = LOGN(hw.runtime_reserve_bytes, hw.runtime_reserve_sd_bytes);
    h.gemm_efficiency.y[0] = LOGN(hw.gemm_efficiency.y[0], hw.gemm_efficiency.sd);
    h.attention_efficiency.y[0] = LOGN(hw.attention_efficiency.y[0], hw.attention_efficiency.sd);
    h.memory_efficiency = LOGN(hw.memory_efficiency, hw.memory_efficiency_sd);
    h.kernel_overhead_s = LOGN(hw.kernel_overhead_s, hw.kernel_overhead_sd_s);
    h.intra.latency_s = LOGN(hw.intra.latency_s, hw.intra.latency_sd_s);
    h.inter.efficiency.y[0] = LOGN(hw.inter.efficiency.y[0], hw.inter.efficiency.sd);
    h.stack.host_dispatch_s = LOGN(hw.stack.host_dispatch_s, hw.stack.host_dispatch_sd_s);
    h.stack.per_micro_batch_s = LOGN(hw.stack.per_micro_batch_s, hw.stack.per_micro_batch_sd_s);
    h.stack.allocator_overhead = LOGN(hw.stack.allocator_overhead, hw.stack.allocator_overhead_sd);
#undef LOGN
    tps_estimate s;
    tps_error err;
    cr_assert_eq(tps_estimate_run(&model, &e->run, &h, &s, &err), TPS_OK, "%s", err.msg);
    t[j] = s.step_time_s;
    m[j] = s.memory.total;
  }
  gsl_rng_free(rng);
  gsl_sort(t, 1, (size_t)n);
  gsl_sort(m, 1, (size_t)n);
  q_t[0] = gsl_stats_quantile_from_sorted_data(t, 1, (size_t)n, 0.5 - level / 2);
  q_t[1] = gsl_stats_quantile_from_sorted_data(t, 1, (size_t)n, 0.5 + level / 2);
  q_m[0] = gsl_stats_quantile_from_sorted_data(m, 1, (size_t)n, 0.5 - level / 2);
  q_m[1] = gsl_stats_quantile_from_sorted_data(m, 1, (size_t)n, 0.5 + level / 2);
}

Test(propagation, matches_monte_carlo_within_5pct_of_width, .init = setup) {
  static tps_estimate e;
  synthetic(&e, 1.0);
  tps_unc_opts o;
  tps_unc_opts_init(&o);
  static tps_uncertainty u;
  tps_error err;
  cr_assert_eq(tps_uncertainty_run(&model, &hw, &e, &o, &u, &err), TPS_OK, "%s", err.msg);
  cr_expect_eq(u.n_constants, 11, "constants with a spread: %d", u.n_constants);
  double qt[2], qm[2];
  monte_carlo(&e, 4000, 0.9, qt, qm);
  double wt = qt[1] - qt[0], wm = qm[1] - qm[0];
  cr_assert(wt > 0.02 * e.step_time_s, "the case must have a real spread: width %g s of %g s", wt,
            e.step_time_s);
  cr_assert(wm > 0.01 * e.memory.total, "memory width %g of %g", wm, e.memory.total);
  double dt = fmax(fabs(u.step_time_s.lo - qt[0]), fabs(u.step_time_s.hi - qt[1]));
  double dm = fmax(fabs(u.memory_bytes.lo - qm[0]), fabs(u.memory_bytes.hi - qm[1]));
  cr_expect(dt <= 0.05 * wt, "step time: Jacobian [%g, %g], Monte Carlo [%g, %g]: worst end %.1f%% of the width",
            u.step_time_s.lo, u.step_time_s.hi, qt[0], qt[1], 100 * dt / wt);
  cr_expect(dm <= 0.05 * wm, "memory: Jacobian [%g, %g], Monte Carlo [%g, %g]: worst end %.1f%% of the width",
            u.memory_bytes.lo, u.memory_bytes.hi, qm[0], qm[1], 100 * dm / wm);
  /* the central values lie inside their intervals */
  cr_expect(u.step_time_s.lo < e.step_time_s && e.step_time_s < u.step_time_s.hi);
  cr_expect(u.memory_bytes.lo < e.memory.total && e.memory.total < u.memory_bytes.hi);
  cr_expect(u.tokens_per_s_per_card.lo < e.tokens_per_s_per_card &&
            e.tokens_per_s_per_card < u.tokens_per_s_per_card.hi);
  cr_expect(u.mfu.lo < e.mfu && e.mfu < u.mfu.hi);
  /* tokens/s is job tokens over step time: its interval is the step time's, inverted */
  cr_expect_float_eq(u.tokens_per_s.lo * u.step_time_s.hi, e.tokens_per_s * e.step_time_s,
                     1e-9 * e.tokens_per_s * e.step_time_s);
  /* sensitivities: three, by decreasing share, each a share of the variance */
  cr_assert_eq(u.n_top, 3);
  double sum = 0;
  for (int i = 0; i < u.n_top; i++) {
    cr_expect(u.top[i].share > 0 && u.top[i].share <= 1);
    if (i) cr_expect(u.top[i].share <= u.top[i - 1].share);
    sum += u.top[i].share;
  }
  cr_expect(sum <= 1 + 1e-12);
}

Test(propagation, zero_spread_gives_zero_width, .init = setup) {
  static tps_estimate e;
  synthetic(&e, 0.0);
  tps_unc_opts o;
  tps_unc_opts_init(&o);
  static tps_uncertainty u;
  tps_error err;
  cr_assert_eq(tps_uncertainty_run(&model, &hw, &e, &o, &u, &err), TPS_OK, "%s", err.msg);
  cr_expect_eq(u.n_constants, 0);
  cr_expect_eq(u.n_top, 0);
  cr_expect_eq(u.step_time_s.lo, e.step_time_s);
  cr_expect_eq(u.step_time_s.hi, e.step_time_s);
  cr_expect_eq(u.memory_bytes.lo, e.memory.total);
  cr_expect_eq(u.memory_bytes.hi, e.memory.total);
  cr_expect_eq(u.tokens_per_s_per_card.lo, e.tokens_per_s_per_card);
  cr_expect_eq(u.fits_at_interval, e.fits ? TPS_FITS_YES : TPS_FITS_NO);
}

Test(propagation, model_error_alone_is_the_closed_form, .init = setup) {
  static tps_estimate e;
  synthetic(&e, 0.0);
  tps_unc_opts o;
  tps_unc_opts_init(&o);
  o.time_sd = 0.16;
  o.memory_sd = 0.08;
  o.level = 0.8;
  static tps_uncertainty u;
  tps_error err;
  cr_assert_eq(tps_uncertainty_run(&model, &hw, &e, &o, &u, &err), TPS_OK, "%s", err.msg);
  /* y exp(+-z sd), z = 1.2816 at 80% (standard normal table) */
  double z = 1.2815515655446004;
  cr_expect_float_eq(u.z, z, 1e-12);
  cr_expect_float_eq(u.step_time_s.hi, e.step_time_s * exp(z * 0.16), 1e-12 * e.step_time_s);
  cr_expect_float_eq(u.memory_bytes.lo, e.memory.total * exp(-z * 0.08), 1e-6);
  cr_expect_float_eq(u.model_error_share, 1.0, 1e-12);
  /* paired draws: a run against itself is better in no sample */
  cr_expect_eq(tps_uncertainty_p_better(&u, &u), 0.0);
  cr_expect(tps_uncertainty_overlap(&e, &u, &e, &u));
}

Test(propagation, bad_options_refused, .init = setup) {
  static tps_estimate e;
  synthetic(&e, 1.0);
  tps_unc_opts o;
  tps_unc_opts_init(&o);
  o.level = 1.0;
  static tps_uncertainty u;
  tps_error err;
  cr_expect_eq(tps_uncertainty_run(&model, &hw, &e, &o, &u, &err), TPS_EINVAL);
  tps_unc_opts_init(&o);
  o.time_sd = NAN;
  cr_expect_eq(tps_uncertainty_run(&model, &hw, &e, &o, &u, &err), TPS_EINVAL);
}

/* ---- decisions (docs/uncertainty.md, "Decisions") ------------------------- */

/* Two hand-made results: intervals [lo, hi] of tokens/s per card and 200
 * paired samples in which a is better in `wins` of them. */
static void verdict_pair(tps_uncertainty *a, tps_uncertainty *b, double a_lo, double a_hi,
                         double b_lo, double b_hi, int wins) {
  memset(a, 0, sizeof *a);
  memset(b, 0, sizeof *b);
  a->level = b->level = 0.9;
  a->n_samples = b->n_samples = 200;
  a->tokens_per_s_per_card = (tps_interval){a_lo, a_hi};
  b->tokens_per_s_per_card = (tps_interval){b_lo, b_hi};
  for (int j = 0; j < 200; j++) {
    a->samples_tokens_per_s_per_card[j] = j < wins ? 2.0 : 1.0;
    b->samples_tokens_per_s_per_card[j] = 1.5;
  }
}

Test(decision, beats_only_when_intervals_and_samples_agree, .init = setup) {
  static tps_uncertainty a, b;
  char text[320];
  /* the qwen25vl-7b recommend case before the rule: central values 3691 and
   * 2821 outside each other's intervals, a better in 175 of 200 (87.5%) */
  verdict_pair(&a, &b, 2901, 4696, 2221, 3582, 175);
  tps_unc_verdict v = tps_uncertainty_verdict(3691, &a, 2821, &b);
  cr_expect_not(v.overlap);
  cr_expect_float_eq(v.p_better, 0.875, 1e-12);
  cr_expect_not(v.beats, "87.5%% of the samples is under the 90%% level");
  tps_uncertainty_verdict_text(&v, "TP 1", "TP 2", text, sizeof text);
  cr_expect_str_eq(text, "TP 1 and TP 2 are indistinguishable at 90% (TP 1 better in only 87.5% "
                         "of 200 paired samples, under 90%, though outside each other's intervals)");
  /* 180 of 200 = 90%: at the level, beats */
  verdict_pair(&a, &b, 2901, 4696, 2221, 3582, 180);
  v = tps_uncertainty_verdict(3691, &a, 2821, &b);
  cr_expect(v.beats);
  tps_uncertainty_verdict_text(&v, "TP 1", "TP 2", text, sizeof text);
  cr_expect_str_eq(text, "TP 1 beats TP 2 at 90% (outside each other's intervals; TP 1 better in "
                         "90% of 200 paired samples)");
  /* every sample better, but 2821 inside a's interval [2700, 4696]: not beats */
  verdict_pair(&a, &b, 2700, 4696, 2221, 3582, 200);
  v = tps_uncertainty_verdict(3691, &a, 2821, &b);
  cr_expect(v.overlap);
  cr_expect_not(v.beats);
  tps_uncertainty_verdict_text(&v, "TP 1", "TP 2", text, sizeof text);
  cr_expect_str_eq(text, "TP 1 and TP 2 are indistinguishable at 90% (a central value inside the "
                         "other's interval; TP 1 better in 100% of 200 paired samples)");
}
