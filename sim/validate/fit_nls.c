/* Bounded nonlinear least squares (fit_nls.h).
 *
 * Change of variable: a parameter in [lo, hi] is p = g^-1(g(lo) + (g(hi) -
 * g(lo)) s(u)), s the logistic function and g = log when lo > 0 (a rate or a
 * time spanning decades is searched in its logarithm), g = identity when
 * lo = 0. The solver works on the unbounded u. Standard errors: the
 * covariance of u at the solution, (J^T J)^-1 x SSR / (n - k) (GSL
 * gsl_multifit_nlinear_covar), carried to p by dp/du (the delta method). */
#include "validate/fit_nls.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctx {
  const fit_nls_problem *pb;
  double *r; /* all residuals */
  int failed;
} ctx;

static double g_of(const fit_nls_problem *pb, int j, double p) {
  return pb->lo[j] > 0 ? log(p) : p;
}
static double g_inv(const fit_nls_problem *pb, int j, double y) {
  return pb->lo[j] > 0 ? exp(y) : y;
}
static double logistic(double u) { return 1.0 / (1.0 + exp(-u)); }

static double to_p(const fit_nls_problem *pb, int j, double u) {
  double a = g_of(pb, j, pb->lo[j]), b = g_of(pb, j, pb->hi[j]);
  return g_inv(pb, j, a + (b - a) * logistic(u));
}

/* dp/du at u. */
static double dp_du(const fit_nls_problem *pb, int j, double u) {
  double a = g_of(pb, j, pb->lo[j]), b = g_of(pb, j, pb->hi[j]);
  double s = logistic(u), dy = (b - a) * s * (1.0 - s);
  return pb->lo[j] > 0 ? to_p(pb, j, u) * dy : dy;
}

static double to_u(const fit_nls_problem *pb, int j, double p) {
  double a = g_of(pb, j, pb->lo[j]), b = g_of(pb, j, pb->hi[j]);
  double s = (g_of(pb, j, p) - a) / (b - a);
  if (!(s > 1e-6)) s = 1e-6; /* NaN too */
  if (s > 1.0 - 1e-6) s = 1.0 - 1e-6;
  return log(s / (1.0 - s));
}

static int resid_u(const gsl_vector *u, void *user, gsl_vector *f) {
  ctx *c = user;
  const fit_nls_problem *pb = c->pb;
  double p[FIT_MAX_PARAMS];
  for (int j = 0; j < pb->n_params; j++) p[j] = to_p(pb, j, gsl_vector_get(u, (size_t)j));
  if (pb->fn(p, pb->user, c->r) != 0) {
    c->failed = 1;
    return GSL_EDOM;
  }
  size_t k = 0;
  for (int i = 0; i < pb->n_resid; i++) {
    if (pb->use && !pb->use[i]) continue;
    if (!isfinite(c->r[i])) {
      c->failed = 2;
      return GSL_EDOM;
    }
    gsl_vector_set(f, k++, c->r[i]);
  }
  return GSL_SUCCESS;
}

int fit_nls_solve(const fit_nls_problem *pb, fit_nls_result *out) {
  memset(out, 0, sizeof *out);
  const int k = pb->n_params;
  int n = 0;
  for (int i = 0; i < pb->n_resid; i++) n += !pb->use || pb->use[i];
  out->n_used = n;
  if (k < 1 || k > FIT_MAX_PARAMS) {
    snprintf(out->why, sizeof out->why, "%d parameters (1 to %d can be fitted)", k, FIT_MAX_PARAMS);
    return 2;
  }
  for (int j = 0; j < k; j++)
    if (!(pb->lo[j] >= 0 && pb->hi[j] > pb->lo[j]) || !isfinite(pb->hi[j])) {
      snprintf(out->why, sizeof out->why, "parameter %d: bounds [%g, %g] are not 0 <= lo < hi", j + 1,
               pb->lo[j], pb->hi[j]);
      return 2;
    }
  if (n < k) {
    snprintf(out->why, sizeof out->why, "%d measured values for %d parameters: need at least as many",
             n, k);
    return 2;
  }
  ctx c = {.pb = pb, .r = malloc((size_t)pb->n_resid * sizeof(double))};
  gsl_vector *u0 = gsl_vector_alloc((size_t)k);
  gsl_matrix *covar = gsl_matrix_alloc((size_t)k, (size_t)k);
  gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
  gsl_multifit_nlinear_workspace *w =
      gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, (size_t)n, (size_t)k);
  if (!c.r || !u0 || !covar || !w) {
    snprintf(out->why, sizeof out->why, "out of memory");
    free(c.r);
    if (u0) gsl_vector_free(u0);
    if (covar) gsl_matrix_free(covar);
    if (w) gsl_multifit_nlinear_free(w);
    return 3;
  }
  /* GSL's finite-difference step is proportional to |u| (an absolute step
   * only at exactly 0, where it is too small to move the residuals): start
   * at least 0.1 away from the middle of the range. */
  for (int j = 0; j < k; j++) {
    double u = to_u(pb, j, pb->init[j]);
    if (fabs(u) < 0.1) u = u < 0 ? -0.1 : 0.1;
    gsl_vector_set(u0, (size_t)j, u);
  }
  gsl_multifit_nlinear_fdf fdf = {.f = resid_u, .df = NULL, .fvv = NULL, .n = (size_t)n,
                                  .p = (size_t)k, .params = &c};
  int info = 0, rc = 0;
  int st = gsl_multifit_nlinear_init(u0, &fdf, w);
  if (st == GSL_SUCCESS)
    st = gsl_multifit_nlinear_driver((size_t)(pb->max_iter > 0 ? pb->max_iter : 200), 1e-8, 1e-8,
                                     1e-10, NULL, NULL, &info, w);
  const gsl_vector *u = gsl_multifit_nlinear_position(w);
  for (int j = 0; j < k; j++) out->value[j] = to_p(pb, j, gsl_vector_get(u, (size_t)j));
  out->iterations = (int)gsl_multifit_nlinear_niter(w);
  if (c.failed) {
    snprintf(out->why, sizeof out->why, "%s",
             c.failed == 1 ? "a case could not be predicted at the parameters tried"
                           : "a prediction was not a finite number at the parameters tried");
    rc = 3;
  } else if (st != GSL_SUCCESS) {
    snprintf(out->why, sizeof out->why, "the solver stopped after %d iterations: %s",
             out->iterations, gsl_strerror(st));
    rc = 3;
  } else {
    out->converged = true;
    const gsl_vector *f = gsl_multifit_nlinear_residual(w);
    double ssr;
    gsl_blas_ddot(f, f, &ssr);
    out->ssr = ssr;
    gsl_matrix *J = gsl_multifit_nlinear_jac(w);
    gsl_multifit_nlinear_covar(J, 0.0, covar);
    double s2 = n > k ? ssr / (double)(n - k) : NAN;
    for (int j = 0; j < k; j++) {
      double uj = gsl_vector_get(u, (size_t)j), var = gsl_matrix_get(covar, (size_t)j, (size_t)j);
      out->se[j] = var > 0 && isfinite(s2) ? fabs(dp_du(pb, j, uj)) * sqrt(var * s2) : NAN;
      double s = logistic(uj);
      out->at_bound[j] = s < 1e-3 || s > 1.0 - 1e-3;
    }
  }
  free(c.r);
  gsl_vector_free(u0);
  gsl_matrix_free(covar);
  gsl_multifit_nlinear_free(w);
  return rc;
}
