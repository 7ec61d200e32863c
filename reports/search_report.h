/* Renderers for `tp-sim recommend` (a tps_search result): terminal table and
 * JSON. They write to a caller-given stream and never exit. The JSON keys
 * follow the estimate report's (shared/design/tp-sim.md section 4) where
 * they mean the same thing; keys may be added, never renamed. */
#ifndef TPSIM_REPORTS_SEARCH_REPORT_H
#define TPSIM_REPORTS_SEARCH_REPORT_H

#include <stdio.h>

#include "tpsim/search.h"
#include "tpsim/tpsim.h"

typedef struct search_report {
  const tps_model *model;
  const tps_hw *hw;
  const tps_search_result *res;
} search_report;

/* Top rows with memory and time split, the Pareto front, the counts and the
 * recommended TP with its reason. */
void report_search_table(FILE *out, const search_report *r);
void report_search_json(FILE *out, const search_report *r);

#endif
