/* `tp-sim fit` end to end on synthetic data: published-format cases over
 * bundled models are predicted with KNOWN stack constants (host_dispatch
 * 60 us, per_micro_batch 15 ms), perturbed by 3% log-normal noise (GSL
 * random numbers, fixed seed), written to a file, and fitted from other
 * starting values (20 us, 1 ms). The fit must recover the constants within
 * three standard errors, and bad input must be refused naming what is wrong
 * (exit 2 in the CLI). */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "validate/fit.h"
#include "validate/pub_case.h"
#include "validate/published.h"

#define N_CASES 24

/* Bundled models whose heads and KV heads TP 1, 2 and 4 divide. */
static const char *models[] = {"megatron-gpt2-4b", "megatron-gpt2-8b", "llama3-8b", "qwen2.5-7b"};

/* Writes N_CASES cases; measured[i] is the iteration time in ms. */
static void write_cases(const char *path, const double *measured) {
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fprintf(f, "cases:\n");
  for (int i = 0; i < N_CASES; i++) {
    int tp = 1 << (i % 3), mb = 1 << (i / 3 % 3);
    fprintf(f,
            "- id: synth%02d\n  group: synthetic group %d\n  model_profile: %s\n"
            "  model: {seq_len: %d}\n"
            "  parallel: {tp: %d, pp: 1, dp: %d, micro_batch: %d, global_batch: %d, sp: false,\n"
            "             recompute: none, distributed_optimizer: true}\n"
            "  hardware: {profile: a100-80g-sxm, count: 8}\n  precision: bf16\n"
            "  measured: {iteration_time_ms: %.9g}\n",
            i, i % 4, models[i % 4], i % 2 ? 1024 : 2048, tp, 8 / tp, mb, 8 / tp * mb * 8,
            measured ? measured[i] : 1.0);
  }
  fclose(f);
}

static void write_stack(const char *path, double dispatch_us, double per_mb_ms) {
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fprintf(f,
          "name: megatron-cuda\nsource: synthetic starting values\nhost_dispatch: %g us\n"
          "per_micro_batch: %g ms\nper_step: 0 ms\nallocator_overhead: 1\nops:\n"
          "  gemm: {host_ops: [3, 5], extra_kernels: [0, 0]}\n"
          "  attention: {host_ops: [6, 6], extra_kernels: [0, 0]}\n"
          "  norm: {host_ops: [2, 2], extra_kernels: [0, 0]}\n"
          "  activation: {host_ops: [3, 4], extra_kernels: [0, 0]}\n"
          "  residual: {host_ops: [2, 2], extra_kernels: [0, 0]}\n"
          "  rope: {host_ops: [6, 8], extra_kernels: [0, 0]}\n"
          "  embedding: {host_ops: [3, 3], extra_kernels: [0, 0]}\n"
          "  loss: {host_ops: [12, 6], extra_kernels: [0, 0]}\n"
          "  collective: {host_ops: [2, 2], extra_kernels: [0, 0]}\n",
          dispatch_us, per_mb_ms);
  fclose(f);
}

static char dir[64], cases_path[128], stack_path[128];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/tpsim-fit-XXXXXX");
  cr_assert(mkdtemp(dir));
  snprintf(cases_path, sizeof cases_path, "%s/cases.yaml", dir);
  snprintf(stack_path, sizeof stack_path, "%s/start.yaml", dir);
}

static void teardown(void) {
  unlink(cases_path);
  unlink(stack_path);
  rmdir(dir);
}

Test(fit, recovers_known_stack_constants_within_standard_errors, .init = setup, .fini = teardown) {
  const double truth[2] = {60e-6, 15e-3};
  /* 1. the true iteration times, through the same case reader the fit uses */
  write_cases(cases_path, NULL);
  pub_set set;
  memset(&set, 0, sizeof set);
  tps_error err;
  tps_error_clear(&err);
  cr_assert_eq(pub_set_load(cases_path, NULL, &set, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(set.n_cases, N_CASES, "%d cases ready, %d skipped", set.n_cases, set.skipped.n_skipped);
  for (int h = 0; h < set.n_hws; h++) {
    set.hws[h].stack.host_dispatch_s = truth[0];
    set.hws[h].stack.per_micro_batch_s = truth[1];
  }
  static tps_estimate est;
  double measured[N_CASES];
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 2026);
  for (int i = 0; i < N_CASES; i++) {
    double pred[PUB_MAX_MEASURED];
    cr_assert_eq(pub_set_predict(&set, i, &est, pred, &err), TPS_OK, "%s", err.msg);
    measured[i] = pred[0] * exp(gsl_ran_gaussian(rng, 0.03));
  }
  gsl_rng_free(rng);
  pub_set_free(&set);
  /* 2. fit from other starting values */
  write_cases(cases_path, measured);
  write_stack(stack_path, 20.0, 1.0);
  fit_opts o = {.n_files = 1, .stack = stack_path, .n_params = 2};
  o.files[0] = cases_path;
  o.params[0] = "host_dispatch";
  o.params[1] = "per_micro_batch";
  fit_result res;
  int rc = fit_run(&o, &res, &err);
  cr_assert_eq(rc, 0, "%s", err.msg);
  cr_assert_eq(res.n_rows, N_CASES);
  for (int j = 0; j < 2; j++) {
    cr_log_info("%s = %.4g +- %.2g (truth %.4g)", res.param[j]->name, res.nls.value[j], res.nls.se[j],
                truth[j]);
    cr_assert(isfinite(res.nls.se[j]) && res.nls.se[j] > 0);
    cr_assert(fabs(res.nls.value[j] - truth[j]) <= 3.0 * res.nls.se[j],
              "%s = %.4g +- %.2g, truth %.4g", res.param[j]->name, res.nls.value[j], res.nls.se[j],
              truth[j]);
  }
  /* in-sample error is the noise put in (mean |3% gaussian| = 2.4%) */
  cr_assert(res.mape > 0.01 && res.mape < 0.05, "MAPE %.3f", res.mape);
  /* leave-one-group-out: every group predicted from the other three */
  for (int g = 0; g < res.n_groups; g++)
    cr_assert(isfinite(res.groups[g].cv_mape) && res.groups[g].cv_mape < 0.08, "%s: CV %.3f",
              res.groups[g].name, res.groups[g].cv_mape);
  fit_result_free(&res);
}

Test(fit, refuses_bad_input_by_name, .init = setup, .fini = teardown) {
  write_cases(cases_path, NULL);
  write_stack(stack_path, 20.0, 1.0);
  fit_opts o = {.n_files = 1, .stack = stack_path, .n_params = 1};
  o.files[0] = cases_path;
  o.params[0] = "host_dispach";
  fit_result res;
  tps_error err;
  cr_assert_eq(fit_run(&o, &res, &err), 2);
  cr_assert(strstr(err.msg, "'host_dispach' is not a constant tp-sim fits") != NULL, "%s", err.msg);
  cr_assert_str_eq(err.hint, "did you mean 'host_dispatch'?");
  fit_result_free(&res);
  o.params[0] = "per_step";
  o.files[0] = "/nonexistent/cases.yaml";
  cr_assert_eq(fit_run(&o, &res, &err), 2);
  cr_assert(strstr(err.file, "/nonexistent/cases.yaml") != NULL, "%s: %s", err.file, err.msg);
  fit_result_free(&res);
  o.files[0] = cases_path;
  o.stack = "no-such-stack";
  cr_assert_eq(fit_run(&o, &res, &err), 2);
  cr_assert(strstr(err.msg, "no software stack named 'no-such-stack'") != NULL, "%s", err.msg);
  fit_result_free(&res);
}

/* The model-error terms (fit_model_error_compute; docs/uncertainty.md,
 * "Model error") on rows whose CV errors are chosen by hand:
 *   profile gpu-a, 5 time rows with log(1 + cv_error) = +-0.1 (three +, two -)
 *     -> time sd = 0.1 exactly; 1 memory row at +0.05 -> fewer than 5: pool;
 *   profile gpu-b, 5 time rows at 0.2 and 5 memory rows at -0.03, one more
 *     time row without a CV prediction (NaN, not counted);
 *   pool: time sqrt((5 x 0.01 + 5 x 0.04) / 10) = sqrt(0.025) = 0.158114,
 *     memory sqrt((0.0025 + 5 x 0.0009) / 6) = sqrt(0.0070 / 6) = 0.034157. */
static void add_row(fit_result *r, const char *hw, const char *metric, double log_err) {
  fit_row *row = &r->rows[r->n_rows++];
  snprintf(row->hw, sizeof row->hw, "%s", hw);
  snprintf(row->metric, sizeof row->metric, "%s", metric);
  row->cv_error = isfinite(log_err) ? expm1(log_err) : NAN;
}

Test(fit, model_error_terms_per_profile_and_pool) {
  fit_result r;
  memset(&r, 0, sizeof r);
  r.rows = calloc(32, sizeof *r.rows);
  cr_assert(r.rows);
  snprintf(r.stack.name, sizeof r.stack.name, "test-stack");
  for (int i = 0; i < 5; i++) add_row(&r, "gpu-b", "tokens_per_s_per_gpu", 0.2);
  add_row(&r, "gpu-b", "iteration_time_ms", NAN);
  for (int i = 0; i < 5; i++) add_row(&r, "gpu-b", "memory_mb_per_card", -0.03);
  for (int i = 0; i < 5; i++) add_row(&r, "gpu-a", "mfu_pct", i < 3 ? 0.1 : -0.1);
  add_row(&r, "gpu-a", "memory_gb_per_card", 0.05);
  cr_assert_eq(fit_model_error_compute(&r), 0);
  cr_assert_eq(r.n_me, 3);
  const fit_me_entry *a = &r.me[0], *b = &r.me[1], *pool = &r.me[2];
  /* Profiles in name order, then the pool. */
  cr_assert_str_eq(a->name, "gpu-a");
  cr_assert_str_eq(b->name, "gpu-b");
  cr_assert_str_eq(pool->name, "test-stack");
  cr_assert(pool->is_stack && !a->is_stack);
  const double tol = 1e-12;
  cr_assert_eq(a->time.n, 5);
  cr_assert_float_eq(a->time.sd, 0.1, tol, "gpu-a time sd %.15g", a->time.sd);
  cr_assert(!a->time.pooled);
  cr_assert_float_eq(a->time.cv_mape, (3 * expm1(0.1) - 2 * expm1(-0.1)) / 5, tol);
  cr_assert_eq(a->memory.n, 1);
  cr_assert_float_eq(a->memory.rms, 0.05, tol);
  cr_assert(a->memory.pooled, "1 memory row < FIT_ME_MIN_ROWS: the pool's figure");
  cr_assert_float_eq(a->memory.sd, sqrt(0.0070 / 6), tol, "%.15g", a->memory.sd);
  cr_assert_eq(b->time.n, 5, "the row without a CV prediction is not counted");
  cr_assert_float_eq(b->time.sd, 0.2, tol);
  cr_assert_float_eq(b->memory.sd, 0.03, tol);
  cr_assert(!b->memory.pooled);
  cr_assert_eq(pool->time.n, 10);
  cr_assert_float_eq(pool->time.sd, sqrt(0.025), tol, "%.15g", pool->time.sd);
  cr_assert_eq(pool->memory.n, 6);
  cr_assert_float_eq(pool->memory.sd, sqrt(0.0070 / 6), tol);
  fit_result_free(&r);
}
