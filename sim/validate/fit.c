/* `tp-sim fit` (fit.h): cases -> residuals log(predicted / measured) ->
 * fit_nls over the named stack constants -> in-sample and leave-one-group-
 * out errors. */
#include "validate/fit.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate/pub_case.h"

const fit_param_def fit_params[] = {
    {"host_dispatch", "us", 1e6, 1e-8, 1e-3, offsetof(tps_stack, host_dispatch_s),
     "host time to issue one framework op", offsetof(tps_stack, host_dispatch_sd_s)},
    {"per_micro_batch", "ms", 1e3, 1e-6, 10.0, offsetof(tps_stack, per_micro_batch_s),
     "host time per micro-batch outside the layers", offsetof(tps_stack, per_micro_batch_sd_s)},
    {"per_step", "ms", 1e3, 1e-6, 100.0, offsetof(tps_stack, per_step_s),
     "host time per step outside the layers", offsetof(tps_stack, per_step_sd_s)},
    {"allocator_overhead", NULL, 1.0, 1.0, 4.0, offsetof(tps_stack, allocator_overhead),
     "caching allocator: reserved / allocated activation bytes", offsetof(tps_stack, allocator_overhead_sd)},
    {NULL, NULL, 0, 0, 0, 0, NULL, 0},
};

const fit_param_def *fit_param_find(const char *name) {
  for (const fit_param_def *p = fit_params; p->name; p++)
    if (strcmp(p->name, name) == 0) return p;
  return NULL;
}

static double *stack_field(tps_stack *s, const fit_param_def *p) {
  return (double *)(void *)((char *)s + p->offset);
}

/* One comparison: case, its measured value index. */
typedef struct comparison {
  int c, m;
  int group;
} comparison;

typedef struct fit_ctx {
  pub_set set;
  const fit_result *res;
  tps_stack base;           /* the starting stack */
  bool *fitted_hw;          /* set.hws[i] runs the fitted stack */
  comparison *cmp;
  int n_cmp;
  tps_estimate *est;
  double *pred;             /* scratch: one case's predictions */
  int failed_case;
} fit_ctx;

/* Puts the constants p (SI) into every profile that runs the fitted stack. */
static void apply(fit_ctx *x, const double *p) {
  tps_stack s = x->base;
  for (int j = 0; j < x->res->n_params; j++) *stack_field(&s, x->res->param[j]) = p[j];
  for (int i = 0; i < x->set.n_hws; i++)
    if (x->fitted_hw[i]) x->set.hws[i].stack = s;
}

/* Predicts every comparison at p: out[k] = predicted value. */
static int predict_all(fit_ctx *x, const double *p, double *out) {
  apply(x, p);
  int last = -1;
  for (int k = 0; k < x->n_cmp; k++) {
    const comparison *cm = &x->cmp[k];
    if (cm->c != last) {
      tps_error e;
      tps_error_clear(&e);
      if (pub_set_predict(&x->set, cm->c, x->est, x->pred, &e) != TPS_OK) {
        x->failed_case = cm->c;
        return 1;
      }
      last = cm->c;
    }
    out[k] = x->pred[cm->m];
  }
  return 0;
}

static int resid(const double *p, void *user, double *r) {
  fit_ctx *x = user;
  if (predict_all(x, p, r)) return 1;
  for (int k = 0; k < x->n_cmp; k++) {
    const comparison *cm = &x->cmp[k];
    r[k] = log(r[k] / x->set.cases[cm->c].c->measured[cm->m].value);
  }
  return 0;
}

/* Sets a bad-input error; returns 2 (tp-sim's exit code for bad input). */
#define BAD_INPUT(err, ...) (tps_error_set((err), TPS_EINVAL, NULL, 0, 0, __VA_ARGS__) ? 2 : 2)

void fit_result_free(fit_result *res) {
  free(res->rows);
  free(res->groups);
  free(res->me);
  pub_report_free(&res->skipped);
  memset(res, 0, sizeof *res);
}

static int group_of(fit_result *res, const char *name) {
  for (int g = 0; g < res->n_groups; g++)
    if (strcmp(res->groups[g].name, name) == 0) return g;
  snprintf(res->groups[res->n_groups].name, sizeof res->groups[0].name, "%s", name);
  return res->n_groups++;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* MAPE and CV MAPE per group and over all rows. */
static void summarize_errors(fit_result *res, const comparison *cmp, int n_cmp) {
  double s_all = 0.0, s_cv = 0.0;
  int n_cv = 0;
  for (int g = 0; g < res->n_groups; g++) {
    double s = 0.0, c = 0.0;
    int n = 0, nc = 0;
    for (int k = 0; k < n_cmp; k++) {
      if (cmp[k].group != g) continue;
      n++;
      s += fabs(res->rows[k].error);
      if (isfinite(res->rows[k].cv_error)) {
        nc++;
        c += fabs(res->rows[k].cv_error);
      }
    }
    res->groups[g].n = n;
    res->groups[g].mape = n ? s / n : NAN;
    res->groups[g].cv_mape = nc ? c / nc : NAN;
    s_all += s;
    s_cv += c;
    n_cv += nc;
  }
  res->mape = s_all / n_cmp;
  res->cv_mape = n_cv ? s_cv / n_cv : NAN;
}

int fit_run(const fit_opts *opts, fit_result *res, tps_error *err) {
  memset(res, 0, sizeof *res);
  tps_error_clear(err);
  if (opts->n_files < 1) return BAD_INPUT(err, "fit: give at least one --cases FILE");
  if (opts->n_params < 1 && !opts->none)
    return BAD_INPUT(err, "fit: give at least one --param NAME (one of host_dispatch, "
                          "per_micro_batch, per_step, allocator_overhead), or --param none");
  res->none = opts->none;
  res->n_files = opts->n_files;
  for (int i = 0; i < opts->n_files; i++) res->files[i] = opts->files[i];

  fit_ctx x;
  memset(&x, 0, sizeof x);
  x.res = res;
  x.failed_case = -1;
  /* The starting stack. */
  if (!opts->stack)
    return BAD_INPUT(err, "fit: --stack is required (the stack whose constants are fitted)");
  if (tps_data_find("hw_profiles/stacks", opts->stack, res->stack_path, sizeof res->stack_path,
                    err) != TPS_OK ||
      tps_stack_load(res->stack_path, &x.base, err) != TPS_OK)
    return 2;
  /* The parameters. */
  res->n_params = opts->n_params;
  for (int j = 0; j < opts->n_params; j++) {
    const fit_param_def *p = fit_param_find(opts->params[j]);
    if (!p) {
      const char *names[8];
      int n = 0;
      for (const fit_param_def *q = fit_params; q->name && n < 8; q++) names[n++] = q->name;
      const char *close = tps_did_you_mean(opts->params[j], names, n);
      tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "--param: '%s' is not a constant tp-sim fits%s",
                    opts->params[j],
                    close ? "" : " (host_dispatch, per_micro_batch, per_step, allocator_overhead)");
      if (close) tps_error_hint(err, "did you mean '%s'?", close);
      return 2;
    }
    for (int k = 0; k < j; k++)
      if (res->param[k] == p) return BAD_INPUT(err, "--param: '%s' is given twice", p->name);
    res->param[j] = p;
    double v = *stack_field(&x.base, p);
    res->start[j] = v > p->lo && v < p->hi ? v : sqrt(p->lo * p->hi);
  }

  /* The cases. */
  int rc = 0;
  for (int f = 0; f < opts->n_files; f++) {
    tps_status st = pub_set_load(opts->files[f], opts->hw_override, &x.set, err);
    if (st != TPS_OK) {
      rc = st == TPS_ENOMEM ? 3 : 2;
      goto done;
    }
  }
  res->skipped = x.set.skipped;
  memset(&x.set.skipped, 0, sizeof x.set.skipped);
  res->n_cases = res->skipped.n_cases;
  res->n_skipped_cases = res->skipped.n_skipped;
  x.fitted_hw = calloc(PUB_SET_MAX_HW, sizeof *x.fitted_hw);
  for (int i = 0; x.fitted_hw && i < x.set.n_hws; i++)
    x.fitted_hw[i] = strcmp(x.set.hws[i].stack.name, x.base.name) == 0;

  /* Comparisons of the cases whose profile runs this stack. */
  int n_max = 0;
  for (int i = 0; i < x.set.n_cases; i++) n_max += x.set.cases[i].c->n_measured;
  x.cmp = calloc((size_t)n_max + 1, sizeof *x.cmp);
  res->rows = calloc((size_t)n_max + 1, sizeof *res->rows);
  res->groups = calloc((size_t)n_max + 1, sizeof *res->groups);
  x.est = calloc(1, sizeof *x.est);
  x.pred = calloc(PUB_MAX_MEASURED, sizeof *x.pred);
  if (!x.fitted_hw || !x.cmp || !res->rows || !res->groups || !x.est || !x.pred) {
    tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
    rc = 3;
    goto done;
  }
  for (int i = 0; i < x.set.n_cases; i++) {
    const pub_ready_case *k = &x.set.cases[i];
    const tps_hw *hw = &x.set.hws[k->hw];
    if (!x.fitted_hw[k->hw]) {
      res->n_skipped_cases++;
      continue;
    }
    int file = k->file;
    for (int m = 0; m < k->c->n_measured; m++) {
      fit_row *row = &res->rows[x.n_cmp];
      snprintf(row->id, sizeof row->id, "%s", k->c->id);
      snprintf(row->group, sizeof row->group, "%s", k->c->group);
      snprintf(row->file, sizeof row->file, "%s", file >= 0 ? base_name(opts->files[file]) : "");
      snprintf(row->metric, sizeof row->metric, "%s", k->c->measured[m].metric->key);
      snprintf(row->hw, sizeof row->hw, "%s", hw->name);
      row->measured = k->c->measured[m].value;
      x.cmp[x.n_cmp] = (comparison){.c = i, .m = m, .group = group_of(res, k->c->group)};
      x.n_cmp++;
    }
  }
  res->n_rows = x.n_cmp;
  if (x.n_cmp < res->n_params) {
    rc = BAD_INPUT(err, "fit: %d measured values of cases on stack '%s' for %d parameter%s: need "
                        "at least as many", x.n_cmp, x.base.name, res->n_params,
                   res->n_params == 1 ? "" : "s");
    goto done;
  }

  if (opts->none) {
    /* Nothing fitted: the stack's own constants predict every case, so each
     * error is already out of sample and serves as its CV error. */
    double *pred = calloc((size_t)x.n_cmp + 1, sizeof *pred);
    if (!pred || predict_all(&x, res->start, pred) != 0) {
      if (pred && x.failed_case >= 0)
        tps_error_set(err, TPS_ERANGE, NULL, 0, 0, "fit: case %s could not be predicted",
                      x.set.cases[x.failed_case].c->id);
      else
        tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
      free(pred);
      rc = 3;
      goto done;
    }
    for (int k = 0; k < x.n_cmp; k++) {
      res->rows[k].predicted = res->rows[k].cv_predicted = pred[k];
      res->rows[k].error = res->rows[k].cv_error = pred[k] / res->rows[k].measured - 1.0;
    }
    free(pred);
    goto errors;
  }

  /* The fit on every comparison. */
  fit_nls_problem pb = {.n_params = res->n_params, .n_resid = x.n_cmp, .fn = resid, .user = &x};
  for (int j = 0; j < res->n_params; j++) {
    pb.lo[j] = res->param[j]->lo;
    pb.hi[j] = res->param[j]->hi;
    pb.init[j] = res->start[j];
  }
  int nrc = fit_nls_solve(&pb, &res->nls);
  if (nrc != 0) {
    if (x.failed_case >= 0 && strstr(res->nls.why, "could not be predicted"))
      tps_error_set(err, TPS_ERANGE, NULL, 0, 0, "fit: %s (case %s)", res->nls.why,
                    x.set.cases[x.failed_case].c->id);
    else
      tps_error_set(err, nrc == 2 ? TPS_EINVAL : TPS_ERANGE, NULL, 0, 0, "fit: %s", res->nls.why);
    rc = nrc;
    goto done;
  }
  double *pred = calloc((size_t)x.n_cmp, sizeof *pred);
  bool *use = calloc((size_t)x.n_cmp, sizeof *use);
  if (!pred || !use) {
    free(pred);
    free(use);
    tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
    rc = 3;
    goto done;
  }
  predict_all(&x, res->nls.value, pred);
  for (int k = 0; k < x.n_cmp; k++) {
    res->rows[k].predicted = pred[k];
    res->rows[k].error = pred[k] / res->rows[k].measured - 1.0;
    res->rows[k].cv_predicted = res->rows[k].cv_error = NAN;
  }
  /* Leave one group out: fit on the others, predict the group. */
  for (int g = 0; g < res->n_groups; g++) {
    for (int k = 0; k < x.n_cmp; k++) use[k] = x.cmp[k].group != g;
    pb.use = use;
    fit_nls_result cv;
    if (fit_nls_solve(&pb, &cv) != 0) continue;
    if (predict_all(&x, cv.value, pred) != 0) continue;
    for (int k = 0; k < x.n_cmp; k++)
      if (x.cmp[k].group == g) {
        res->rows[k].cv_predicted = pred[k];
        res->rows[k].cv_error = pred[k] / res->rows[k].measured - 1.0;
      }
  }
  free(pred);
  free(use);
errors:
  summarize_errors(res, x.cmp, x.n_cmp);
  /* The fitted stack. */
  res->stack = x.base;
  for (int j = 0; j < res->n_params; j++) {
    *stack_field(&res->stack, res->param[j]) = res->nls.value[j];
    /* The standard error is the fitted constant's spread; none when it is
     * not identifiable. */
    double se = res->nls.se[j];
    *(double *)(void *)((char *)&res->stack + res->param[j]->sd_offset) = isfinite(se) ? se : 0.0;
  }
  /* The model-error terms of validation/model-error.yaml. */
  if (fit_model_error_compute(res) != 0) {
    tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
    rc = 3;
  }

done:
  if (!res->skipped.rows) {
    res->skipped = x.set.skipped;
    memset(&x.set.skipped, 0, sizeof x.set.skipped);
  }
  pub_set_free(&x.set);
  free(x.fitted_hw);
  free(x.cmp);
  free(x.est);
  free(x.pred);
  return rc;
}
