/* `tp-sim fit`: fits named constants of a software-stack profile to
 * measured runs (files in the published-case format) by bounded nonlinear
 * least squares on log(predicted / measured), with each value's standard
 * error, every comparison's residual, and the leave-one-group-out
 * cross-validated error (each group predicted by constants fitted without
 * it). No printing: reports/fit_report.c renders the result. */
#ifndef TPSIM_VALIDATE_FIT_H
#define TPSIM_VALIDATE_FIT_H

#include <stdbool.h>

#include "tpsim/tpsim.h"
#include "validate/fit_nls.h"
#include "validate/published.h"

#define FIT_MAX_FILES 16

/* A constant `fit` can fit: a double of tps_stack, its unit and bounds. */
typedef struct fit_param_def {
  const char *name;     /* "host_dispatch" */
  const char *unit;     /* "us", "ms" or NULL (a plain number) */
  double unit_scale;    /* SI value x unit_scale = value in unit */
  double lo, hi;        /* bounds, SI */
  size_t offset;        /* in tps_stack */
  const char *help;
  size_t sd_offset;     /* its spread in tps_stack: the fit's standard error goes there */
} fit_param_def;

/* The fittable constants, NULL-name terminated. */
extern const fit_param_def fit_params[];
const fit_param_def *fit_param_find(const char *name);

typedef struct fit_opts {
  const char *files[FIT_MAX_FILES];
  int n_files;
  const char *stack;      /* name in hw_profiles/stacks or a path: the starting values */
  const char *params[FIT_MAX_PARAMS];
  int n_params;
  const char *hw_override; /* --hw for every case, or NULL */
} fit_opts;

typedef struct fit_row {
  char id[VALIDATE_ID_MAX];
  char group[VALIDATE_GROUP_MAX];
  char file[VALIDATE_GROUP_MAX];
  char metric[32];
  char hw[TPS_NAME_MAX];
  double measured, predicted, error;  /* error = predicted / measured - 1, in sample */
  double cv_predicted, cv_error;      /* with constants fitted without this row's group;
                                         NaN when that fit was not possible */
} fit_row;

typedef struct fit_group {
  char name[VALIDATE_GROUP_MAX];
  int n;
  double mape, cv_mape; /* fractions; cv_mape NaN when no row has a CV prediction */
} fit_group;

typedef struct fit_result {
  tps_stack stack;                 /* the fitted stack (starting stack + fitted values) */
  char stack_path[512];            /* where the starting stack was read */
  int n_params;
  const fit_param_def *param[FIT_MAX_PARAMS];
  double start[FIT_MAX_PARAMS];    /* SI */
  fit_nls_result nls;              /* values and standard errors, SI */
  fit_row *rows;
  int n_rows;
  fit_group *groups;
  int n_groups;
  double mape, cv_mape;            /* over all rows */
  int n_cases, n_skipped_cases;    /* read; not predictable or of another stack */
  validate_report skipped;         /* rows of skipped cases, with reasons */
  const char *files[FIT_MAX_FILES];
  int n_files;
} fit_result;

/* Runs the fit. Returns 0; 2 for bad input (err names the file, key or
 * parameter at fault); 3 when the solver does not converge (err says why;
 * the result holds the last point). Free the result with fit_result_free
 * whatever the return. */
int fit_run(const fit_opts *opts, fit_result *res, tps_error *err);
void fit_result_free(fit_result *res);

#endif
