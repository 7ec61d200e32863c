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
  /* Prediction intervals (docs/uncertainty.md), computed for the rows
   * printed only: top_unc has res->n_top entries, tp_unc res->n_tp (those of
   * by_tp[i].found); both NULL: no intervals. */
  const tps_uncertainty *top_unc;
  const tps_uncertainty *tp_unc;
  const tps_model_error *model_error; /* the term used, or NULL */
} search_report;

/* Share of the paired samples in which top row 0 has the highest tokens/s
 * per card of the n top rows (ties to row 0); NaN without samples. */
double report_search_p_best(const tps_uncertainty *top, int n);

/* Top rows with memory and time split, the Pareto front, the counts and the
 * recommended TP with its reason. */
void report_search_table(FILE *out, const search_report *r);
void report_search_json(FILE *out, const search_report *r);

#endif
