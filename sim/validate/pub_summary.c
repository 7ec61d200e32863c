/* Groups and mean absolute percentage errors of a validation report. */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "validate/published.h"

/* Significance of the coverage check (two-sided). */
#define COVERAGE_ALPHA 0.05

coverage_check pub_coverage_check(int k, int n, double level) {
  coverage_check c = {NAN, COVERAGE_NONE};
  if (n <= 0 || k < 0 || k > n || !(level > 0.0 && level < 1.0)) return c;
  unsigned kk = (unsigned)k, nn = (unsigned)n;
  double below = gsl_cdf_binomial_P(kk, level, nn);                      /* P(X <= k) */
  double above = k == 0 ? 1.0 : gsl_cdf_binomial_Q(kk - 1, level, nn); /* P(X >= k) */
  double p = 2.0 * fmin(below, above);
  c.p_value = p < 1.0 ? p : 1.0;
  if (c.p_value >= COVERAGE_ALPHA)
    c.verdict = COVERAGE_CONSISTENT;
  else
    c.verdict = (double)k / n > level ? COVERAGE_TOO_WIDE : COVERAGE_TOO_NARROW;
  return c;
}

tps_status pub_summarize(validate_report *rep) {
  free(rep->groups);
  rep->groups = NULL;
  rep->n_groups = 0;
  rep->n = 0;
  rep->mape = 0.0;
  rep->n_inside = rep->n_no_model_error = 0;
  rep->coverage = NAN;
  rep->check = pub_coverage_check(0, 0, 0.0);
  if (rep->n_rows == 0) return TPS_OK;
  /* At most one group per row. */
  rep->groups = calloc((size_t)rep->n_rows, sizeof *rep->groups);
  if (!rep->groups) return TPS_ENOMEM;
  double total = 0.0;
  for (int i = 0; i < rep->n_rows; i++) {
    const validate_row *row = &rep->rows[i];
    validate_group *g = NULL;
    for (int k = 0; k < rep->n_groups && !g; k++)
      if (strcmp(rep->groups[k].name, row->group) == 0) g = &rep->groups[k];
    if (!g) {
      g = &rep->groups[rep->n_groups++];
      memcpy(g->name, row->group, sizeof g->name);
    }
    if (row->skipped[0]) {
      g->n_skipped++;
      continue;
    }
    g->n++;
    g->mape += fabs(row->error); /* sum until divided below */
    rep->n++;
    total += fabs(row->error);
    if (row->inside) {
      g->n_inside++;
      rep->n_inside++;
    }
    if (row->no_model_error) rep->n_no_model_error++;
  }
  bool intervals = rep->level > 0;
  for (int k = 0; k < rep->n_groups; k++) {
    validate_group *g = &rep->groups[k];
    if (g->n > 0) g->mape /= g->n;
    g->coverage = intervals && g->n > 0 ? (double)g->n_inside / g->n : NAN;
    g->check = pub_coverage_check(g->n_inside, intervals ? g->n : 0, rep->level);
  }
  if (rep->n > 0) rep->mape = total / rep->n;
  rep->coverage = intervals && rep->n > 0 ? (double)rep->n_inside / rep->n : NAN;
  rep->check = pub_coverage_check(rep->n_inside, intervals ? rep->n : 0, rep->level);
  return TPS_OK;
}

int pub_count_beyond(const validate_report *rep, double max_error) {
  int n = 0;
  for (int i = 0; i < rep->n_rows; i++)
    if (!rep->rows[i].skipped[0] && fabs(rep->rows[i].error) > max_error) n++;
  return n;
}
