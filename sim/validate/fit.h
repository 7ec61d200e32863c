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
  bool none;               /* --param none: no constant fitted; the stack's constants
                              as given, every error out of sample */
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

/* Minimum rows of a metric class for a hardware profile to get its own
 * model-error figure; below it, the stack's pool is used (a root mean square
 * of fewer rows is too noisy to carry: docs/uncertainty.md, "Model error"). */
#define FIT_ME_MIN_ROWS 5

/* One metric class (time or memory) of a model-error entry. */
typedef struct fit_me_class {
  int n;          /* rows of the class with a leave-one-group-out prediction */
  double rms;     /* sqrt(mean log(1 + cv_error)^2) over them; NaN when n = 0 */
  double cv_mape; /* mean |cv_error| over them; NaN when n = 0 */
  double sd;      /* what validation/model-error.yaml gets: rms, or the stack
                     pool's when n < FIT_ME_MIN_ROWS (NaN when neither has a row) */
  bool pooled;    /* sd is the pool's */
} fit_me_class;

/* A model-error entry of validation/model-error.yaml: one hardware profile
 * of the fit's rows, or (is_stack) the pool of every row of the stack. */
typedef struct fit_me_entry {
  char name[TPS_NAME_MAX]; /* the profile, or the stack */
  bool is_stack;
  fit_me_class time;       /* every metric but memory: step time, FLOP/s,
                              MFU, HFU, tokens/s and per-layer times */
  fit_me_class memory;     /* memory per card */
} fit_me_entry;

typedef struct fit_result {
  tps_stack stack;                 /* the fitted stack (starting stack + fitted values) */
  char stack_path[512];            /* where the starting stack was read */
  int n_params;
  bool none;                       /* --param none: nothing fitted */
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
  fit_me_entry *me;                /* the profiles in name order, then the stack's pool */
  int n_me;
} fit_result;

/* Runs the fit. Returns 0; 2 for bad input (err names the file, key or
 * parameter at fault); 3 when the solver does not converge (err says why;
 * the result holds the last point). Free the result with fit_result_free
 * whatever the return. */
int fit_run(const fit_opts *opts, fit_result *res, tps_error *err);
void fit_result_free(fit_result *res);

/* Fills res->me from res->rows (called by fit_run; exposed for tests).
 * Returns 0, or 3 when out of memory. */
int fit_model_error_compute(fit_result *res);

#endif
