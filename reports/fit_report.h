/* Rendering `tp-sim fit`: the table, the JSON document, and the fitted
 * software-stack profile as YAML (loadable by tps_stack_load). */
#ifndef TPSIM_REPORTS_FIT_REPORT_H
#define TPSIM_REPORTS_FIT_REPORT_H

#include <stdio.h>

#include "validate/fit.h"

void report_fit_table(FILE *out, const fit_result *r);
void report_fit_json(FILE *out, const fit_result *r);
/* The fitted stack, its `source:` naming the files, the date (UTC, ISO
 * 8601, given) and the cross-validated error; each fitted value with its
 * standard error in a comment. */
void report_fit_stack_yaml(FILE *out, const fit_result *r, const char *date);

/* The fit's entries of validation/model-error.yaml's `families:` list (each
 * profile of the rows, then the stack's pool), indented for that list, each
 * after a comment with its rows and CV MAPE; scripts/fit-stacks.sh puts the
 * entries of its fits under one header. */
void report_fit_model_error_yaml(FILE *out, const fit_result *r);

#endif
