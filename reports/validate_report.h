/* Rendering `tp-sim validate --published`: predicted vs measured values of
 * published training runs, per case and per group, as a terminal table or
 * JSON. The renderers only print what sim/validate filled in; they never
 * exit. JSON keys (CONTRACT, issue 5): tool, version, file, cases[] (id,
 * group, metric, predicted, measured, error | id, group, skipped), groups[]
 * (name, n, mape), mape; keys may be added, never renamed. */
#ifndef TPSIM_REPORTS_VALIDATE_REPORT_H
#define TPSIM_REPORTS_VALIDATE_REPORT_H

#include <stdio.h>

#include "validate/validate_types.h"

void report_validate_table(FILE *out, const validate_report *r);
void report_validate_json(FILE *out, const validate_report *r);

#endif
