/* Rendering `tp-sim validate --published`: predicted vs measured values of
 * published training runs, per case and per group, as a terminal table or
 * JSON. The renderers only print what sim/validate filled in; they never
 * exit. JSON keys (CONTRACT, issue 5): tool, version, file, cases[] (id,
 * group, metric, predicted, measured, error | id, group, skipped), groups[]
 * (name, n, mape), mape; keys may be added, never renamed. */
#ifndef TPSIM_REPORTS_VALIDATE_REPORT_H
#define TPSIM_REPORTS_VALIDATE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#define VALIDATE_ID_MAX 128
#define VALIDATE_GROUP_MAX 256
#define VALIDATE_WHY_MAX 512

/* One comparison (a case and one measured key), or one skipped case. */
typedef struct validate_row {
  char id[VALIDATE_ID_MAX];
  char group[VALIDATE_GROUP_MAX];
  char skipped[VALIDATE_WHY_MAX]; /* non-empty: the case was not predicted, and why */
  char metric[48];                /* the measured key, e.g. "iteration_time_ms" */
  char hw[64];                    /* hardware profile used */
  double predicted;               /* in the unit the metric key names */
  double measured;                /* same unit, > 0 */
  double error;                   /* predicted / measured - 1 (signed fraction) */
  bool uncertain;                 /* the case lists this measured value as uncertain */
  bool fits;                      /* the prediction fits in device memory */
} validate_row;

/* Rows of one group (in order of first appearance in the file). */
typedef struct validate_group {
  char name[VALIDATE_GROUP_MAX];
  int n;          /* comparisons */
  int n_skipped;  /* skipped cases */
  double mape;    /* mean |error| over the n comparisons (fraction); 0 when n == 0 */
} validate_group;

typedef struct validate_report {
  const char *file;         /* the published-cases file, as given */
  const char *hw_override;  /* --hw, or NULL */
  validate_row *rows;       /* file order */
  int n_rows;
  validate_group *groups;
  int n_groups;
  int n_cases, n_skipped;   /* cases read, cases skipped */
  int n;                    /* comparisons over all groups */
  double mape;              /* mean |error| over all n comparisons (fraction); 0 when n == 0 */
} validate_report;

void report_validate_table(FILE *out, const validate_report *r);
void report_validate_json(FILE *out, const validate_report *r);

#endif
