/* Bounded nonlinear least squares for `tp-sim fit`: GSL's trust-region
 * solver (gsl_multifit_nlinear, Levenberg-Marquardt, finite-difference
 * Jacobian) over parameters kept inside [lo, hi] by a smooth change of
 * variable, with standard errors from the covariance at the solution.
 * No I/O. */
#ifndef TPSIM_VALIDATE_FIT_NLS_H
#define TPSIM_VALIDATE_FIT_NLS_H

#include <stdbool.h>
#include <stddef.h>

#define FIT_MAX_PARAMS 8

/* Residuals at the parameters `p` (n_params values, physical units): fills
 * r[0..n_resid). Returns 0, or nonzero when they cannot be computed (the
 * solver then stops with that reason). */
typedef int (*fit_resid_fn)(const double *p, void *user, double *r);

typedef struct fit_nls_problem {
  int n_params;
  double lo[FIT_MAX_PARAMS], hi[FIT_MAX_PARAMS]; /* 0 <= lo < hi; lo > 0: searched in log scale */
  double init[FIT_MAX_PARAMS];                   /* strictly inside (lo, hi) after clamping */
  int n_resid;                                   /* residuals the function fills */
  const bool *use;                               /* NULL: all; else the residuals fitted */
  fit_resid_fn fn;
  void *user;
  int max_iter;                                  /* 0: 200 */
} fit_nls_problem;

typedef struct fit_nls_result {
  double value[FIT_MAX_PARAMS];
  double se[FIT_MAX_PARAMS];   /* standard error, physical units (NAN: not identifiable) */
  double ssr;                  /* sum of squared residuals at the solution */
  int n_used;                  /* residuals fitted */
  int iterations;
  bool converged;
  bool at_bound[FIT_MAX_PARAMS]; /* within 0.1% (of the log range) of a bound */
  char why[256];               /* when not converged */
} fit_nls_result;

/* Solves the problem. Returns 0 when it converged; 2 for a problem that is
 * not well posed (fewer residuals than parameters, bad bounds; why says);
 * 3 when the solver did not converge or the residuals could not be computed
 * (why says; value holds the last point). */
int fit_nls_solve(const fit_nls_problem *pb, fit_nls_result *out);

#endif
