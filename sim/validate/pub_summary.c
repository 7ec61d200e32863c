/* Groups and mean absolute percentage errors of a validation report. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "validate/published.h"

tps_status pub_summarize(validate_report *rep) {
  free(rep->groups);
  rep->groups = NULL;
  rep->n_groups = 0;
  rep->n = 0;
  rep->mape = 0.0;
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
  }
  for (int k = 0; k < rep->n_groups; k++)
    if (rep->groups[k].n > 0) rep->groups[k].mape /= rep->groups[k].n;
  if (rep->n > 0) rep->mape = total / rep->n;
  return TPS_OK;
}

int pub_count_beyond(const validate_report *rep, double max_error) {
  int n = 0;
  for (int i = 0; i < rep->n_rows; i++)
    if (!rep->rows[i].skipped[0] && fabs(rep->rows[i].error) > max_error) n++;
  return n;
}
