/* The model-error terms of a fit (fit.h, fit_model_error_compute): per
 * hardware profile and for the stack's pool, the root mean square of
 * log(1 + cv_error) over the leave-one-group-out predictions, per metric
 * class. validation/model-error.yaml is written from them
 * (reports/fit_report.c, scripts/fit-stacks.sh; docs/uncertainty.md,
 * "Model error"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate/fit.h"
#include "validate/pub_metrics.h"

/* Memory rows are those of a memory metric; every other row is a time row. */
static bool is_memory(const fit_row *row) {
  const pub_metric *m = pub_metric_find(row->metric);
  return m && m->quantity == PUB_Q_MEMORY;
}

/* The class statistics of the rows of profile hw (every row when hw is NULL). */
static void class_stats(const fit_result *r, const char *hw, bool memory, fit_me_class *c) {
  double ss = 0.0, sa = 0.0;
  int n = 0;
  for (int i = 0; i < r->n_rows; i++) {
    const fit_row *row = &r->rows[i];
    if ((hw && strcmp(row->hw, hw) != 0) || is_memory(row) != memory) continue;
    if (!isfinite(row->cv_error) || row->cv_error <= -1.0) continue;
    double l = log1p(row->cv_error);
    ss += l * l;
    sa += fabs(row->cv_error);
    n++;
  }
  c->n = n;
  c->rms = n ? sqrt(ss / n) : NAN;
  c->cv_mape = n ? sa / n : NAN;
  c->sd = c->rms;
  c->pooled = false;
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const fit_me_entry *)a)->name, ((const fit_me_entry *)b)->name);
}

/* A profile's class: its own figure with enough rows, else the pool's. */
static void pool_if_few(fit_me_class *c, const fit_me_class *pool) {
  if (c->n >= FIT_ME_MIN_ROWS || !(pool->n > c->n)) return;
  c->sd = pool->sd;
  c->pooled = true;
}

int fit_model_error_compute(fit_result *res) {
  free(res->me);
  res->me = NULL;
  res->n_me = 0;
  res->me = calloc((size_t)res->n_rows + 1, sizeof *res->me);
  if (!res->me) return 3;
  int n = 0;
  for (int i = 0; i < res->n_rows; i++) {
    bool seen = false;
    for (int j = 0; j < n && !seen; j++) seen = strcmp(res->me[j].name, res->rows[i].hw) == 0;
    if (!seen) snprintf(res->me[n++].name, sizeof res->me[0].name, "%s", res->rows[i].hw);
  }
  qsort(res->me, (size_t)n, sizeof *res->me, by_name);
  fit_me_entry *pool = &res->me[n];
  snprintf(pool->name, sizeof pool->name, "%s", res->stack.name);
  pool->is_stack = true;
  class_stats(res, NULL, false, &pool->time);
  class_stats(res, NULL, true, &pool->memory);
  for (int j = 0; j < n; j++) {
    class_stats(res, res->me[j].name, false, &res->me[j].time);
    class_stats(res, res->me[j].name, true, &res->me[j].memory);
    pool_if_few(&res->me[j].time, &pool->time);
    pool_if_few(&res->me[j].memory, &pool->memory);
  }
  res->n_me = n + 1;
  return 0;
}
