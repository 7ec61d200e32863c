/* `tp-sim validate --published FILE`: predicts published training runs with
 * the engine and compares them with what was measured. No printing, no
 * exit: the CLI renders the report (reports/validate_report.h); its data
 * types are in validate/validate_types.h. */
#ifndef TPSIM_VALIDATE_PUBLISHED_H
#define TPSIM_VALIDATE_PUBLISHED_H

#include "tpsim/tpsim.h"
#include "validate/validate_types.h"

/* Reads the published-cases file at `path` (a mapping with a `cases:` list;
 * other top-level keys are ignored), predicts every case it can and fills
 * rep: one row per (case, measured key) compared, one row per skipped case,
 * in file order, then the groups and MAPE (pub_summarize). hw_override: a
 * bundled profile name or path used for every case, or NULL.
 *
 * Returns TPS_OK, or the status of what is wrong with the file itself
 * (cannot be read, bad YAML, not a mapping, no `cases` list: err carries
 * FILE:LINE:COL) or with hw_override; TPS_ENOMEM when out of memory. The
 * caller frees rep with pub_report_free whatever the status. */
tps_status pub_validate(const char *path, const char *hw_override, validate_report *rep,
                        tps_error *err);
/* As pub_validate, and each comparison gets its predicted interval at level
 * (in (0, 1); 0: none) from tps_uncertainty_run, with the model-error term
 * of its profile in errors (NULL or no entry: none); the report gets the
 * coverage (the share of measured values inside) per group and overall.
 * Memory metrics take the memory interval, every other metric the step
 * time's (docs/uncertainty.md, "Coverage"). */
tps_status pub_validate_at(const char *path, const char *hw_override, double level,
                           const tps_model_errors *errors, validate_report *rep, tps_error *err);
void pub_report_free(validate_report *rep);

/* Published cases ready to be predicted again and again (`tp-sim fit`):
 * model, run and profile resolved once. The set holds its own copy of
 * each hardware profile; a caller may change them (their stacks) between
 * predictions. */
#define PUB_SET_MAX_HW 16
typedef struct pub_ready_case {
  struct pub_case *c;       /* the case as read */
  tps_model *model;
  tps_run run;
  int hw;                   /* index into the set's hws */
  int file;                 /* which pub_set_load call added it, from 0 */
} pub_ready_case;

typedef struct pub_set {
  pub_ready_case *cases;
  int n_cases, cap;
  tps_hw *hws;              /* PUB_SET_MAX_HW entries */
  int n_hws;
  int n_files;              /* pub_set_load calls so far */
  validate_report skipped;  /* one row per case that cannot be predicted */
} pub_set;

/* Adds the cases of the file at `path` to set (zero-initialise it first):
 * the predictable ones to set->cases, the others to set->skipped. Errors
 * of the file itself as pub_validate. Free with pub_set_free. */
tps_status pub_set_load(const char *path, const char *hw_override, pub_set *set, tps_error *err);
void pub_set_free(pub_set *set);
/* Predicts case i's measured values (pred: c->n_measured entries, in each
 * key's unit) on its profile as the set holds it now. */
tps_status pub_set_predict(pub_set *set, int i, tps_estimate *est, double *pred, tps_error *err);

/* Fills rep->groups, rep->n and rep->mape from rep->rows. Returns TPS_ENOMEM
 * when the group table cannot be allocated. */
tps_status pub_summarize(validate_report *rep);

/* k of n measured values inside intervals of level P (0 < P < 1): the exact
 * binomial check of validate_types.h. COVERAGE_NONE when n == 0. */
coverage_check pub_coverage_check(int k, int n, double level);

/* Number of comparisons whose |error| exceeds max_error (a fraction). */
int pub_count_beyond(const validate_report *rep, double max_error);

#endif
