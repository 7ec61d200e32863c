/* fit_nls: bounded nonlinear least squares recovers known constants from
 * noisy synthetic data within their standard errors, and refuses problems
 * that are not well posed. The synthetic law has the shape tp-sim fits:
 * time = work / rate + count x fixed + constant, measured with 3% noise. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#include "validate/fit_nls.h"

#define N 60

typedef struct data {
  double work[N], count[N], t[N];
} data;

static double law(const double *p, double work, double count) {
  return work / p[0] + count * p[1] + p[2];
}

static int resid(const double *p, void *user, double *r) {
  const data *d = user;
  for (int i = 0; i < N; i++) r[i] = log(law(p, d->work[i], d->count[i]) / d->t[i]);
  return 0;
}

static void make(data *d, const double *truth, double noise, unsigned long seed) {
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, seed);
  for (int i = 0; i < N; i++) {
    d->work[i] = 1e12 * pow(10.0, 2.0 * gsl_rng_uniform(rng)); /* 1e12..1e14 FLOPs */
    d->count[i] = 1000.0 + 20000.0 * gsl_rng_uniform(rng);     /* ops issued */
    d->t[i] = law(truth, d->work[i], d->count[i]) * exp(gsl_ran_gaussian(rng, noise));
  }
  gsl_rng_free(rng);
}

Test(fit_nls, recovers_known_constants_within_their_standard_errors) {
  /* 200 TFLOP/s, 20 us per op, 50 ms fixed. */
  const double truth[3] = {2e14, 20e-6, 0.05};
  static data d;
  make(&d, truth, 0.03, 42);
  fit_nls_problem pb = {.n_params = 3,
                        .lo = {1e12, 1e-7, 1e-4},
                        .hi = {1e16, 1e-3, 10.0},
                        .init = {1e14, 5e-6, 0.2},
                        .n_resid = N,
                        .fn = resid,
                        .user = &d};
  fit_nls_result res;
  cr_assert_eq(fit_nls_solve(&pb, &res), 0, "%s", res.why);
  cr_assert(res.converged);
  for (int j = 0; j < 3; j++) {
    cr_log_info("p%d = %.4g +- %.2g (truth %.4g)", j, res.value[j], res.se[j], truth[j]);
    cr_assert(res.se[j] > 0 && res.se[j] < 0.2 * truth[j], "p%d se %.3g", j, res.se[j]);
    /* within 3 standard errors (99.7% for a well-behaved fit) */
    cr_assert(fabs(res.value[j] - truth[j]) <= 3.0 * res.se[j], "p%d = %.4g +- %.2g, truth %.4g", j,
              res.value[j], res.se[j], truth[j]);
  }
  /* residual scatter is the noise put in: sqrt(SSR / (n - k)) ~ 0.03 */
  double s = sqrt(res.ssr / (N - 3));
  cr_assert(s > 0.02 && s < 0.04, "residual sd %.4f", s);
}

Test(fit_nls, a_subset_is_fitted_alone) {
  const double truth[3] = {2e14, 20e-6, 0.05};
  static data d;
  make(&d, truth, 0.0, 7);
  d.t[0] *= 100.0; /* one wild row, left out by the mask */
  bool use[N];
  for (int i = 0; i < N; i++) use[i] = i != 0;
  fit_nls_problem pb = {.n_params = 3, .lo = {1e12, 1e-7, 1e-4}, .hi = {1e16, 1e-3, 10.0},
                        .init = {1e14, 5e-6, 0.2}, .n_resid = N, .use = use, .fn = resid, .user = &d};
  fit_nls_result res;
  cr_assert_eq(fit_nls_solve(&pb, &res), 0, "%s", res.why);
  cr_assert_eq(res.n_used, N - 1);
  for (int j = 0; j < 3; j++)
    cr_assert(fabs(res.value[j] / truth[j] - 1.0) < 1e-4, "p%d = %.6g", j, res.value[j]);
}

Test(fit_nls, refuses_ill_posed_problems) {
  static data d;
  const double truth[3] = {2e14, 20e-6, 0.05};
  make(&d, truth, 0.0, 1);
  bool use[N] = {true, true};
  fit_nls_problem pb = {.n_params = 3, .lo = {1e12, 1e-7, 1e-4}, .hi = {1e16, 1e-3, 10.0},
                        .init = {1e14, 5e-6, 0.2}, .n_resid = N, .use = use, .fn = resid, .user = &d};
  fit_nls_result res;
  cr_assert_eq(fit_nls_solve(&pb, &res), 2);
  cr_assert(strstr(res.why, "2 measured values for 3 parameters") != NULL, "%s", res.why);
  pb.use = NULL;
  pb.lo[1] = 1e-3; /* lo == hi */
  cr_assert_eq(fit_nls_solve(&pb, &res), 2);
  cr_assert(strstr(res.why, "bounds") != NULL, "%s", res.why);
}

static int fails(const double *p, void *user, double *r) {
  (void)p, (void)user, (void)r;
  return 1;
}

Test(fit_nls, a_prediction_that_fails_stops_with_a_reason) {
  fit_nls_problem pb = {.n_params = 1, .lo = {1.0}, .hi = {10.0}, .init = {2.0}, .n_resid = 4,
                        .fn = fails};
  fit_nls_result res;
  cr_assert_eq(fit_nls_solve(&pb, &res), 3);
  cr_assert(strstr(res.why, "could not be predicted") != NULL, "%s", res.why);
}
