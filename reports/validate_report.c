/* Rendering `tp-sim validate --published`: rows by group in file order,
 * skipped cases with their reasons, then n and MAPE per group and overall. */
#include "reports/validate_report.h"

#include <math.h>
#include <string.h>

#include "reports/json_writer.h"
#include "tpsim/tpsim.h"

/* A value in the metric's unit: whole numbers from 10^5 to 10^12, else 5
 * significant digits. */
static const char *fmt_value(double v, char *buf, size_t size) {
  if (fabs(v) >= 1e5 && fabs(v) < 1e12)
    snprintf(buf, size, "%.0f", v);
  else
    snprintf(buf, size, "%.5g", v);
  return buf;
}

/* "1021 (903-1154) in" or "" when the row has no interval. */
static void fmt_interval(const validate_row *row, char *buf, size_t size) {
  char lo[32], hi[32];
  if (!isfinite(row->lo) || !isfinite(row->hi)) {
    buf[0] = '\0';
    return;
  }
  snprintf(buf, size, "  %s-%s %s", fmt_value(row->lo, lo, sizeof lo),
           fmt_value(row->hi, hi, sizeof hi), row->inside ? "in" : "OUT");
}

static void print_row(FILE *out, const validate_row *row, bool *any_uncertain, bool *any_oom) {
  if (row->skipped[0]) {
    fprintf(out, "  %-32s skipped: %s\n", row->id, row->skipped);
    return;
  }
  char p[32], m[32], e[32], iv[80];
  const char *note = row->uncertain ? (row->fits ? " ?" : " ? oom") : (row->fits ? "" : " oom");
  if (row->uncertain) *any_uncertain = true;
  if (!row->fits) *any_oom = true;
  double pct = row->error * 100.0;
  snprintf(e, sizeof e, fabs(pct) < 1e5 ? "%+.1f%%" : "%+.3g%%", pct);
  fmt_interval(row, iv, sizeof iv);
  fprintf(out, "  %-32s %-24s %-14s %12s %12s %9s%s%s\n", row->id, row->metric, row->hw,
          fmt_value(row->predicted, p, sizeof p), fmt_value(row->measured, m, sizeof m), e, iv,
          note);
}

/* " 14/16 87.5%" right-aligned in a coverage column; "" without intervals. */
static void fmt_coverage(double level, int inside, int n, char *buf, size_t size) {
  char t[48];
  if (!(level > 0)) {
    buf[0] = '\0';
    return;
  }
  if (n == 0)
    snprintf(t, sizeof t, "-");
  else
    snprintf(t, sizeof t, "%d/%d %.1f%%", inside, n, 100.0 * inside / n);
  snprintf(buf, size, " %16.47s", t);
}

/* A verdict as the table prints it ("too wide") and as JSON names it
 * ("too_wide"); "" for COVERAGE_NONE. */
static const char *const verdict_names[][2] = {
    [COVERAGE_NONE] = {"", ""},
    [COVERAGE_CONSISTENT] = {"consistent", "consistent"},
    [COVERAGE_TOO_WIDE] = {"too wide", "too_wide"},
    [COVERAGE_TOO_NARROW] = {"too narrow", "too_narrow"},
};

/* "  too wide (p 0.006)" after the coverage column; "" without a check. */
static void fmt_check(coverage_check c, char *buf, size_t size) {
  if (c.verdict == COVERAGE_NONE) {
    buf[0] = '\0';
    return;
  }
  snprintf(buf, size, "  %s (p %.2g)", verdict_names[c.verdict][0], c.p_value);
}

static void json_check(json_writer *w, coverage_check c) {
  json_key(w, "coverage_check");
  if (c.verdict == COVERAGE_NONE) {
    json_null(w);
    return;
  }
  json_object_begin(w);
  json_key(w, "verdict");
  json_string(w, verdict_names[c.verdict][1]);
  json_key(w, "p_value");
  json_number(w, c.p_value);
  json_object_end(w);
}

/* A MAPE (fraction) as "5.0%"; 3 significant digits when huge. */
static const char *fmt_pct(double f, char *buf, size_t size) {
  snprintf(buf, size, fabs(f) < 1e3 ? "%.1f%%" : "%.3g%%", f * 100.0);
  return buf;
}

void report_validate_table(FILE *out, const validate_report *r) {
  char e[32];
  fprintf(out, "Published cases: %s%s%s\n", r->file ? r->file : "",
          r->hw_override ? ", every case on --hw " : "", r->hw_override ? r->hw_override : "");
  fprintf(out, "%d case%s: %d predicted (%d comparison%s), %d skipped. error = predicted / "
               "measured - 1.\n\n",
          r->n_cases, r->n_cases == 1 ? "" : "s", r->n_cases - r->n_skipped, r->n,
          r->n == 1 ? "" : "s", r->n_skipped);
  if (r->n_rows == 0) return;
  char head[64] = "";
  if (r->level > 0) snprintf(head, sizeof head, "  interval (%g%%)", 100.0 * r->level);
  fprintf(out, "  %-32s %-24s %-14s %12s %12s %9s%s\n", "case", "metric", "hw", "predicted",
          "measured", "error", head);
  bool any_uncertain = false, any_oom = false;
  for (int g = 0; g < r->n_groups; g++) {
    fprintf(out, "%s\n", r->groups[g].name);
    for (int i = 0; i < r->n_rows; i++)
      if (strcmp(r->rows[i].group, r->groups[g].name) == 0)
        print_row(out, &r->rows[i], &any_uncertain, &any_oom);
  }
  if (any_uncertain) fprintf(out, "? the case lists this measured value as uncertain\n");
  if (any_oom) fprintf(out, "oom: the prediction does not fit in device memory\n");
  if (r->level > 0)
    fprintf(out, "interval: the predicted %g%% interval (profile spreads and the model error of the "
                 "profile's family; memory metrics: the memory interval, others: the step time's); "
                 "OUT: the measured value is outside it\n",
            100.0 * r->level);

  fprintf(out, "\nMAPE = mean |error| over the comparisons of a group.%s\n",
          r->level > 0 ? " coverage = measured values inside their predicted interval." : "");
  if (r->level > 0)
    fprintf(out, "check: is the coverage consistent with %g%% intervals? Exact binomial test, "
                 "two-sided p; below 0.05 the intervals are too wide or too narrow for the group, "
                 "otherwise its values cannot tell.\n",
            100.0 * r->level);
  char cov_head[48] = "", cov[64], chk[48];
  if (r->level > 0) snprintf(cov_head, sizeof cov_head, " %16s  %s", "coverage", "check");
  fprintf(out, "  %-60s %5s %8s %8s%s\n", "group", "n", "skipped", "MAPE", cov_head);
  for (int g = 0; g < r->n_groups; g++) {
    const validate_group *gr = &r->groups[g];
    fmt_coverage(r->level, gr->n_inside, gr->n, cov, sizeof cov);
    fmt_check(gr->check, chk, sizeof chk);
    fprintf(out, "  %-60s %5d %8d %8s%s%s\n", gr->name, gr->n, gr->n_skipped,
            gr->n > 0 ? fmt_pct(gr->mape, e, sizeof e) : "-", cov, chk);
  }
  fmt_coverage(r->level, r->n_inside, r->n, cov, sizeof cov);
  fmt_check(r->check, chk, sizeof chk);
  fprintf(out, "  %-60s %5d %8d %8s%s%s\n", "all", r->n, r->n_skipped,
          r->n > 0 ? fmt_pct(r->mape, e, sizeof e) : "-", cov, chk);
  if (r->level > 0 && r->n_no_model_error > 0)
    fprintf(out, "%d comparison%s on a profile without a model-error term "
                 "(validation/model-error.yaml): profile spreads only.\n",
            r->n_no_model_error, r->n_no_model_error == 1 ? " is" : "s are");
}

void report_validate_json(FILE *out, const validate_report *r) {
  json_writer w;
  json_init(&w, out);
  json_object_begin(&w);
  json_key(&w, "tool");
  json_string(&w, "tp-sim");
  json_key(&w, "version");
  json_string(&w, TPSIM_VERSION);
  json_key(&w, "file");
  json_string(&w, r->file ? r->file : "");
  json_key(&w, "hw_override");
  if (r->hw_override)
    json_string(&w, r->hw_override);
  else
    json_null(&w);
  json_key(&w, "error_definition");
  json_string(&w, "predicted / measured - 1; mape = mean |error|, fractions");
  json_key(&w, "cases");
  json_array_begin(&w);
  for (int i = 0; i < r->n_rows; i++) {
    const validate_row *row = &r->rows[i];
    json_object_begin(&w);
    json_key(&w, "id");
    json_string(&w, row->id);
    json_key(&w, "group");
    json_string(&w, row->group);
    if (row->skipped[0]) {
      json_key(&w, "skipped");
      json_string(&w, row->skipped);
    } else {
      json_key(&w, "metric");
      json_string(&w, row->metric);
      json_key(&w, "predicted");
      json_number(&w, row->predicted);
      json_key(&w, "measured");
      json_number(&w, row->measured);
      json_key(&w, "error");
      json_number(&w, row->error);
      json_key(&w, "hw");
      json_string(&w, row->hw);
      json_key(&w, "uncertain");
      json_bool(&w, row->uncertain);
      json_key(&w, "fits");
      json_bool(&w, row->fits);
      if (r->level > 0 && isfinite(row->lo)) {
        json_key(&w, "predicted_interval");
        json_array_begin(&w);
        json_number(&w, row->lo);
        json_number(&w, row->hi);
        json_array_end(&w);
        json_key(&w, "inside");
        json_bool(&w, row->inside);
        json_key(&w, "model_error");
        json_bool(&w, !row->no_model_error);
      }
    }
    json_object_end(&w);
  }
  json_array_end(&w);
  json_key(&w, "groups");
  json_array_begin(&w);
  for (int g = 0; g < r->n_groups; g++) {
    const validate_group *gr = &r->groups[g];
    json_object_begin(&w);
    json_key(&w, "name");
    json_string(&w, gr->name);
    json_key(&w, "n");
    json_int(&w, gr->n);
    json_key(&w, "skipped");
    json_int(&w, gr->n_skipped);
    json_key(&w, "mape");
    if (gr->n > 0)
      json_number(&w, gr->mape);
    else
      json_null(&w);
    if (r->level > 0) {
      json_key(&w, "n_inside");
      json_int(&w, gr->n_inside);
      json_key(&w, "coverage");
      if (isfinite(gr->coverage))
        json_number(&w, gr->coverage);
      else
        json_null(&w);
      json_check(&w, gr->check);
    }
    json_object_end(&w);
  }
  json_array_end(&w);
  json_key(&w, "n");
  json_int(&w, r->n);
  json_key(&w, "skipped");
  json_int(&w, r->n_skipped);
  json_key(&w, "mape");
  if (r->n > 0)
    json_number(&w, r->mape);
  else
    json_null(&w);
  json_key(&w, "interval_level");
  if (r->level > 0)
    json_number(&w, r->level);
  else
    json_null(&w);
  if (r->level > 0) {
    json_key(&w, "n_inside");
    json_int(&w, r->n_inside);
    json_key(&w, "coverage");
    if (isfinite(r->coverage))
      json_number(&w, r->coverage);
    else
      json_null(&w);
    json_check(&w, r->check);
    json_key(&w, "n_no_model_error");
    json_int(&w, r->n_no_model_error);
  }
  json_object_end(&w);
  json_finish(&w);
}
