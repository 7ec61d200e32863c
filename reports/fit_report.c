/* Rendering `tp-sim fit` (fit_report.h). */
#include "reports/fit_report.h"

#include <math.h>
#include <string.h>

#include "reports/json_writer.h"

/* "12.3 us" / "1.5" for a parameter value (SI) in its unit. */
static void fmt_value(const fit_param_def *p, double v, char *buf, size_t size) {
  if (p->unit)
    snprintf(buf, size, "%.4g %s", v * p->unit_scale, p->unit);
  else
    snprintf(buf, size, "%.4g", v);
}

static void fmt_pct(double f, char *buf, size_t size) {
  if (isfinite(f))
    snprintf(buf, size, "%+.1f%%", 100.0 * f);
  else
    snprintf(buf, size, "-");
}

static void fmt_abs_pct(double f, char *buf, size_t size) {
  if (isfinite(f))
    snprintf(buf, size, "%.1f%%", 100.0 * f);
  else
    snprintf(buf, size, "-");
}

/* Mean |cv error| and |error| of the rows whose `field` (file or hw) is key. */
static void mean_by(const fit_result *r, bool by_hw, const char *key, int *n, double *mape,
                    double *cv) {
  double s = 0, c = 0;
  int k = 0, kc = 0;
  for (int i = 0; i < r->n_rows; i++) {
    const fit_row *row = &r->rows[i];
    if (strcmp(by_hw ? row->hw : row->file, key) != 0) continue;
    k++;
    s += fabs(row->error);
    if (isfinite(row->cv_error)) {
      kc++;
      c += fabs(row->cv_error);
    }
  }
  *n = k;
  *mape = k ? s / k : NAN;
  *cv = kc ? c / kc : NAN;
}

/* Prints one line per distinct file or hardware profile. */
static void print_by(FILE *out, const fit_result *r, bool by_hw) {
  for (int i = 0; i < r->n_rows; i++) {
    const char *key = by_hw ? r->rows[i].hw : r->rows[i].file;
    bool seen = false;
    for (int j = 0; j < i && !seen; j++) seen = strcmp(by_hw ? r->rows[j].hw : r->rows[j].file, key) == 0;
    if (seen) continue;
    int n;
    double m, c;
    char a[32], b[32];
    mean_by(r, by_hw, key, &n, &m, &c);
    fmt_abs_pct(m, a, sizeof a);
    fmt_abs_pct(c, b, sizeof b);
    fprintf(out, "  %-60s %5d %9s %9s\n", key, n, a, b);
  }
}

/* "6.3%", or "6.3% (pool)" for a figure taken from the stack's pool. */
static void fmt_me_sd(const fit_me_class *c, char *buf, size_t size) {
  if (!isfinite(c->sd))
    snprintf(buf, size, "-");
  else
    snprintf(buf, size, "%.1f%%%s", 100.0 * c->sd, c->pooled ? " (pool)" : "");
}

/* The model-error figures (validation/model-error.yaml) of the fit. */
static void print_model_error(FILE *out, const fit_result *r) {
  char a[48], b[48], c[48], d[48];
  fprintf(out, "\nModel error (validation/model-error.yaml): sd = sqrt(mean log(1 + CV err)^2) per "
               "hardware profile and metric class;\nmemory = memory per card, time = every other "
               "metric; a profile with fewer than %d rows of a class takes its stack's pool.\n",
          FIT_ME_MIN_ROWS);
  fprintf(out, "  %-28s %13s %5s %8s %13s %5s %8s\n", "entry", "time sd", "rows", "CV MAPE",
          "memory sd", "rows", "CV MAPE");
  for (int i = 0; i < r->n_me; i++) {
    const fit_me_entry *e = &r->me[i];
    char name[TPS_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s%s", e->is_stack ? "stack " : "", e->name);
    fmt_me_sd(&e->time, a, sizeof a);
    fmt_abs_pct(e->time.cv_mape, b, sizeof b);
    fmt_me_sd(&e->memory, c, sizeof c);
    fmt_abs_pct(e->memory.cv_mape, d, sizeof d);
    fprintf(out, "  %-28.28s %13s %5d %8s %13s %5d %8s\n", name, a, e->time.n, b, c,
            e->memory.n, d);
  }
}

void report_fit_table(FILE *out, const fit_result *r) {
  char a[48], b[48], c[48];
  fprintf(out, "Fit of stack '%s' (%s) on %d comparison%s from %d case%s (%d skipped)\n",
          r->stack.name, r->stack_path, r->n_rows, r->n_rows == 1 ? "" : "s", r->n_cases,
          r->n_cases == 1 ? "" : "s", r->n_skipped_cases);
  if (r->none)
    fprintf(out, "nothing fitted (--param none): the stack's constants as given, so every error "
                 "is out of sample and is its own CV error\n\n");
  else
    fprintf(out, "residual = log(predicted / measured); %d iterations\n\n", r->nls.iterations);
  if (r->n_params > 0)
    fprintf(out, "  %-20s %14s %14s %14s\n", "constant", "start", "fitted", "std. error");
  for (int j = 0; j < r->n_params; j++) {
    const fit_param_def *p = r->param[j];
    fmt_value(p, r->start[j], a, sizeof a);
    fmt_value(p, r->nls.value[j], b, sizeof b);
    if (isfinite(r->nls.se[j]))
      fmt_value(p, r->nls.se[j], c, sizeof c);
    else
      snprintf(c, sizeof c, "-");
    fprintf(out, "  %-20s %14s %14s %14s%s\n", p->name, a, b, c,
            r->nls.at_bound[j] ? "  (at a bound)" : "");
  }
  fprintf(out, "\n  %-32s %-22s %-12s %11s %11s %8s %8s\n", "case", "metric", "hw", "measured",
          "predicted", "error", "CV err");
  for (int g = 0; g < r->n_groups; g++) {
    fprintf(out, "%s\n", r->groups[g].name);
    for (int i = 0; i < r->n_rows; i++) {
      const fit_row *row = &r->rows[i];
      if (strcmp(row->group, r->groups[g].name) != 0) continue;
      fmt_pct(row->error, a, sizeof a);
      fmt_pct(row->cv_error, b, sizeof b);
      fprintf(out, "  %-32.32s %-22.22s %-12.12s %11.5g %11.5g %8s %8s\n", row->id, row->metric,
              row->hw, row->measured, row->predicted, a, b);
    }
  }
  fprintf(out, "\nCV err: predicted by constants fitted without the case's group (leave one group "
               "out)%s.\n", r->none ? "; nothing fitted here, so it is the error itself" : "");
  fprintf(out, "  %-60s %5s %9s %9s\n", "group", "n", "MAPE", "CV MAPE");
  for (int g = 0; g < r->n_groups; g++) {
    fmt_abs_pct(r->groups[g].mape, a, sizeof a);
    fmt_abs_pct(r->groups[g].cv_mape, b, sizeof b);
    fprintf(out, "  %-60.60s %5d %9s %9s\n", r->groups[g].name, r->groups[g].n, a, b);
  }
  fprintf(out, "  %-60s %5s %9s %9s\n", "file", "n", "MAPE", "CV MAPE");
  print_by(out, r, false);
  fprintf(out, "  %-60s %5s %9s %9s\n", "hardware profile", "n", "MAPE", "CV MAPE");
  print_by(out, r, true);
  fmt_abs_pct(r->mape, a, sizeof a);
  fmt_abs_pct(r->cv_mape, b, sizeof b);
  fprintf(out, "  %-60s %5d %9s %9s\n", "all", r->n_rows, a, b);
  print_model_error(out, r);
}

static void json_num_or_null(json_writer *w, double v) {
  if (isfinite(v))
    json_number(w, v);
  else
    json_null(w);
}

static void json_me_class(json_writer *w, const char *key, const fit_me_class *c) {
  json_key(w, key);
  json_object_begin(w);
  json_key(w, "n");
  json_int(w, c->n);
  json_key(w, "rms");
  json_num_or_null(w, c->rms);
  json_key(w, "cv_mape");
  json_num_or_null(w, c->cv_mape);
  json_key(w, "sd");
  json_num_or_null(w, c->sd);
  json_key(w, "pooled");
  json_bool(w, c->pooled);
  json_object_end(w);
}

void report_fit_json(FILE *out, const fit_result *r) {
  json_writer w;
  json_init(&w, out);
  json_object_begin(&w);
  json_key(&w, "tool");
  json_string(&w, "tp-sim");
  json_key(&w, "stack");
  json_string(&w, r->stack.name);
  json_key(&w, "stack_file");
  json_string(&w, r->stack_path);
  json_key(&w, "files");
  json_array_begin(&w);
  for (int i = 0; i < r->n_files; i++) json_string(&w, r->files[i]);
  json_array_end(&w);
  json_key(&w, "residual");
  json_string(&w, "log(predicted / measured)");
  json_key(&w, "iterations");
  json_int(&w, r->nls.iterations);
  json_key(&w, "nothing_fitted");
  json_bool(&w, r->none);
  json_key(&w, "params");
  json_array_begin(&w);
  for (int j = 0; j < r->n_params; j++) {
    json_object_begin(&w);
    json_key(&w, "name");
    json_string(&w, r->param[j]->name);
    json_key(&w, "unit");
    json_string(&w, "SI");
    json_key(&w, "start");
    json_number(&w, r->start[j]);
    json_key(&w, "value");
    json_number(&w, r->nls.value[j]);
    json_key(&w, "std_error");
    json_num_or_null(&w, r->nls.se[j]);
    json_key(&w, "at_bound");
    json_bool(&w, r->nls.at_bound[j]);
    json_object_end(&w);
  }
  json_array_end(&w);
  json_key(&w, "rows");
  json_array_begin(&w);
  for (int i = 0; i < r->n_rows; i++) {
    const fit_row *row = &r->rows[i];
    json_object_begin(&w);
    json_key(&w, "id");
    json_string(&w, row->id);
    json_key(&w, "group");
    json_string(&w, row->group);
    json_key(&w, "file");
    json_string(&w, row->file);
    json_key(&w, "metric");
    json_string(&w, row->metric);
    json_key(&w, "hw");
    json_string(&w, row->hw);
    json_key(&w, "measured");
    json_number(&w, row->measured);
    json_key(&w, "predicted");
    json_number(&w, row->predicted);
    json_key(&w, "error");
    json_number(&w, row->error);
    json_key(&w, "cv_error");
    json_num_or_null(&w, row->cv_error);
    json_object_end(&w);
  }
  json_array_end(&w);
  json_key(&w, "groups");
  json_array_begin(&w);
  for (int g = 0; g < r->n_groups; g++) {
    json_object_begin(&w);
    json_key(&w, "name");
    json_string(&w, r->groups[g].name);
    json_key(&w, "n");
    json_int(&w, r->groups[g].n);
    json_key(&w, "mape");
    json_num_or_null(&w, r->groups[g].mape);
    json_key(&w, "cv_mape");
    json_num_or_null(&w, r->groups[g].cv_mape);
    json_object_end(&w);
  }
  json_array_end(&w);
  json_key(&w, "mape");
  json_num_or_null(&w, r->mape);
  json_key(&w, "cv_mape");
  json_num_or_null(&w, r->cv_mape);
  json_key(&w, "model_error_min_rows");
  json_int(&w, FIT_ME_MIN_ROWS);
  json_key(&w, "model_error");
  json_array_begin(&w);
  for (int i = 0; i < r->n_me; i++) {
    const fit_me_entry *e = &r->me[i];
    json_object_begin(&w);
    json_key(&w, e->is_stack ? "stack" : "hw");
    json_string(&w, e->name);
    json_me_class(&w, "time", &e->time);
    json_me_class(&w, "memory", &e->memory);
    json_object_end(&w);
  }
  json_array_end(&w);
  json_key(&w, "skipped");
  json_array_begin(&w);
  for (int i = 0; i < r->skipped.n_rows; i++) {
    json_object_begin(&w);
    json_key(&w, "id");
    json_string(&w, r->skipped.rows[i].id);
    json_key(&w, "why");
    json_string(&w, r->skipped.rows[i].skipped);
    json_object_end(&w);
  }
  json_array_end(&w);
  json_object_end(&w);
  json_finish(&w);
}

/* A YAML double-quoted scalar body: backslash and quote escaped, control
 * characters dropped. */
static void yaml_quoted(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', out);
    if ((unsigned char)*s >= 0x20) fputc(*s, out);
  }
  fputc('"', out);
}

void report_fit_stack_yaml(FILE *out, const fit_result *r, const char *date) {
  const tps_stack *s = &r->stack;
  char a[48], b[48], src[TPS_SOURCE_MAX];
  fprintf(out, "# Software stack '%s', constants FITTED by `tp-sim fit` on %s (see source:).\n", s->name,
          date);
  fprintf(out, "# Written by scripts/fit-stacks.sh; see docs/validation.md, \"Fitted constants\".\n");
  for (int j = 0; j < r->n_params; j++) {
    fmt_value(r->param[j], r->nls.value[j], a, sizeof a);
    if (isfinite(r->nls.se[j]))
      fmt_value(r->param[j], r->nls.se[j], b, sizeof b);
    else
      snprintf(b, sizeof b, "not identifiable");
    fprintf(out, "# %s = %s +- %s (standard error)%s\n", r->param[j]->name, a, b,
            r->nls.at_bound[j] ? ", at a bound of its range" : "");
  }
  fprintf(out, "name: %s\n", s->name);
  int w = snprintf(src, sizeof src, "FITTED by tp-sim fit on %s: ", date);
  for (int j = 0; j < r->n_params && w > 0 && (size_t)w < sizeof src; j++)
    w += snprintf(src + w, sizeof src - (size_t)w, "%s%s", j ? ", " : "", r->param[j]->name);
  for (int i = 0; i < r->n_files && w > 0 && (size_t)w < sizeof src; i++)
    w += snprintf(src + w, sizeof src - (size_t)w, "%s%s", i ? ", " : " on the measured runs of ",
                  r->files[i]);
  char m[32], c[32];
  fmt_abs_pct(r->mape, m, sizeof m);
  fmt_abs_pct(r->cv_mape, c, sizeof c);
  /* The starting profile's own source, without an earlier fit's sentence. */
  const char *others = s->source, *prev = strstr(s->source, "Other constants: ");
  if (strncmp(s->source, "FITTED by tp-sim fit", 20) == 0 && prev) others = prev + 17;
  if (w > 0 && (size_t)w < sizeof src)
    snprintf(src + w, sizeof src - (size_t)w,
             " (%d comparisons, %d groups; MAPE %s in sample, %s leave-one-group-out). Other "
             "constants: %.600s",
             r->n_rows, r->n_groups, m, c, others);
  fputs("source: ", out);
  yaml_quoted(out, src);
  fputc('\n', out);
  /* value, then `± sd` where the constant has a spread (a fitted one: its
   * standard error; docs/uncertainty.md). */
  fprintf(out, "host_dispatch: %.6g us", s->host_dispatch_s * 1e6);
  if (s->host_dispatch_sd_s > 0) fprintf(out, " \xc2\xb1 %.4g us", s->host_dispatch_sd_s * 1e6);
  fprintf(out, "\nper_micro_batch: %.6g ms", s->per_micro_batch_s * 1e3);
  if (s->per_micro_batch_sd_s > 0) fprintf(out, " \xc2\xb1 %.4g ms", s->per_micro_batch_sd_s * 1e3);
  fprintf(out, "\nper_step: %.6g ms", s->per_step_s * 1e3);
  if (s->per_step_sd_s > 0) fprintf(out, " \xc2\xb1 %.4g ms", s->per_step_sd_s * 1e3);
  fprintf(out, "\nallocator_overhead: %.6g", s->allocator_overhead >= 1 ? s->allocator_overhead : 1.0);
  if (s->allocator_overhead_sd > 0) fprintf(out, " \xc2\xb1 %.4g", s->allocator_overhead_sd);
  fputc('\n', out);
  if (s->moe_imbalance > 0) { /* not fitted: carried over with its source */
    fprintf(out, "moe:\n  imbalance: %.6g\n  source: ", s->moe_imbalance);
    yaml_quoted(out, s->moe_source);
    fputc('\n', out);
  }
  fprintf(out, "ops:\n");
  for (int k = 0; k < TPS_OP_KIND_COUNT; k++)
    fprintf(out, "  %s: {host_ops: [%g, %g], extra_kernels: [%g, %g]}\n", tps_op_kind_name((tps_op_kind)k),
            s->host_ops[k][0], s->host_ops[k][1], s->extra_kernels[k][0], s->extra_kernels[k][1]);
}

/* "time: 16 rows, CV MAPE 5.8%" or what stands in for a class's own rows. */
static void me_comment(FILE *out, const char *what, const fit_me_class *c, const fit_me_class *pool,
                       const char *stack) {
  char m[32];
  fmt_abs_pct(c->cv_mape, m, sizeof m);
  if (c->pooled && c->n == 0)
    fprintf(out, "%s: no row on this profile; the %s pool (%d rows)", what, stack, pool->n);
  else if (c->pooled)
    fprintf(out, "%s: %d row%s only; the %s pool (%d rows)", what, c->n, c->n == 1 ? "" : "s",
            stack, pool->n);
  else if (c->n < FIT_ME_MIN_ROWS)
    fprintf(out, "%s: %d row%s, CV MAPE %s (under %d, none to pool: a gap)", what, c->n,
            c->n == 1 ? "" : "s", m, FIT_ME_MIN_ROWS);
  else
    fprintf(out, "%s: %d rows, CV MAPE %s", what, c->n, m);
}

void report_fit_model_error_yaml(FILE *out, const fit_result *r) {
  if (r->n_me < 1) return;
  const fit_me_entry *pool = &r->me[r->n_me - 1];
  for (int i = 0; i < r->n_me; i++) {
    const fit_me_entry *e = &r->me[i];
    fputs("  # ", out);
    if (e->is_stack) fprintf(out, "%s pool, for its profiles without an entry: ", e->name);
    me_comment(out, "time", &e->time, &pool->time, pool->name);
    fputs("; ", out);
    me_comment(out, "memory", &e->memory, &pool->memory, pool->name);
    fputs(".\n", out);
    if (!isfinite(e->time.sd) || !isfinite(e->memory.sd)) {
      /* No figure for a class: no entry (the output then says the profile has
       * no model-error term) rather than a zero that reads as exact. */
      fputs("  # (no entry: a class without any row)\n", out);
      continue;
    }
    /* A profile's entry names the stack it was measured with: the same
     * profile running another stack takes that stack's entries. */
    if (e->is_stack)
      fprintf(out, "  - {stack: %s, time: %.1f%%, memory: %.1f%%}\n", e->name,
              100.0 * e->time.sd, 100.0 * e->memory.sd);
    else
      fprintf(out, "  - {hw: %s, stack: %s, time: %.1f%%, memory: %.1f%%}\n", e->name, pool->name,
              100.0 * e->time.sd, 100.0 * e->memory.sd);
  }
}
