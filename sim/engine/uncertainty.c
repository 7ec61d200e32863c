/* Prediction intervals: first-order propagation of the profile constants'
 * spreads through the one evaluator, plus the model-error term, and a
 * sampled check (docs/uncertainty.md; the API in tpsim/uncertainty.h). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "engine/evaluate.h"
#include "tpsim/uncertainty.h"

/* A constant that may carry a spread: where its value and its sd sit in
 * tps_hw, and the range the model accepts it in. A table is moved by
 * scaling every y (its sd is that of a one-point table's y). */
typedef struct unc_const {
  const char *name;
  size_t value;   /* offset of the double (or tps_table) in tps_hw */
  size_t sd;      /* offset of its sd; unused for tables */
  bool table;
  double lo, hi;  /* accepted range of the value (tables: of every y) */
} unc_const;

#define SC(n, v, s, l, h) {n, offsetof(tps_hw, v), offsetof(tps_hw, s), false, l, h}
#define TB(n, v) {n, offsetof(tps_hw, v), 0, true, 1e-6, 1.0}
static const unc_const constants[] = {
    SC("host_dispatch", stack.host_dispatch_s, stack.host_dispatch_sd_s, 0.0, HUGE_VAL),
    SC("per_micro_batch", stack.per_micro_batch_s, stack.per_micro_batch_sd_s, 0.0, HUGE_VAL),
    SC("per_step", stack.per_step_s, stack.per_step_sd_s, 0.0, HUGE_VAL),
    SC("allocator_overhead", stack.allocator_overhead, stack.allocator_overhead_sd, 1.0, 4.0),
    SC("memory_bandwidth", memory_bandwidth_Bps, memory_bandwidth_sd_Bps, 1.0, HUGE_VAL),
    SC("runtime_reserve", runtime_reserve_bytes, runtime_reserve_sd_bytes, 0.0, HUGE_VAL),
    TB("gemm_efficiency", gemm_efficiency),
    TB("attention_efficiency", attention_efficiency),
    SC("memory_efficiency", memory_efficiency, memory_efficiency_sd, 1e-6, 1.0),
    SC("kernel_overhead", kernel_overhead_s, kernel_overhead_sd_s, 0.0, HUGE_VAL),
    SC("intra_link.latency", intra.latency_s, intra.latency_sd_s, 0.0, HUGE_VAL),
    TB("intra_link.efficiency", intra.efficiency),
    SC("inter_link.latency", inter.latency_s, inter.latency_sd_s, 0.0, HUGE_VAL),
    TB("inter_link.efficiency", inter.efficiency),
};
#undef SC
#undef TB
#define N_CONST ((int)(sizeof constants / sizeof constants[0]))

static double *at(tps_hw *hw, size_t off) { return (double *)(void *)((char *)hw + off); }
static const double *cat(const tps_hw *hw, size_t off) {
  return (const double *)(const void *)((const char *)hw + off);
}

/* A constant with a spread, as propagated: log space (u = log value, sd_u
 * = sd / value, first order) when its value is > 0, else linear (a value of
 * 0 moved by sd, cut at 0 from below). */
typedef struct unc_var {
  int k;          /* index in constants[] */
  double value;   /* central value (tables: 1, the scale of y) */
  double sd_u;    /* log space: sd / value; linear: sd */
  bool log_space;
} unc_var;

static int find_vars(const tps_hw *hw, unc_var *v) {
  int n = 0;
  for (int k = 0; k < N_CONST; k++) {
    const unc_const *c = &constants[k];
    double value, sd;
    if (c->table) {
      const tps_table *t = (const tps_table *)(const void *)((const char *)hw + c->value);
      if (t->n != 1 || !(t->sd > 0) || !(t->y[0] > 0)) continue;
      value = 1.0;
      sd = t->sd / t->y[0];
    } else {
      value = *cat(hw, c->value);
      sd = *cat(hw, c->sd);
      if (!(sd > 0)) continue;
      if (value > 0) sd /= value;
    }
    v[n] = (unc_var){.k = k, .value = value, .sd_u = sd, .log_space = value > 0};
    n++;
  }
  return n;
}

/* Sets constant v of hw (a copy of base) to the point u: log(value) in log
 * space, the value itself in linear space; clamped to the accepted range.
 * Returns the u actually set. */
static double set_var(tps_hw *hw, const tps_hw *base, const unc_var *v, double u) {
  const unc_const *c = &constants[v->k];
  if (c->table) {
    const tps_table *t0 = (const tps_table *)(const void *)((const char *)base + c->value);
    tps_table *t = (tps_table *)(void *)((char *)hw + c->value);
    double s = exp(u);
    if (t0->y[0] * s > c->hi) s = c->hi / t0->y[0];
    if (t0->y[0] * s < c->lo) s = c->lo / t0->y[0];
    for (int i = 0; i < t0->n; i++) t->y[i] = t0->y[i] * s;
    return log(s);
  }
  double x = v->log_space ? exp(u) : u;
  if (x > c->hi) x = c->hi;
  if (x < c->lo) x = c->lo;
  *at(hw, c->value) = x;
  return v->log_space ? log(x) : x;
}

static double center_u(const unc_var *v) { return v->log_space ? log(v->value) : v->value; }

void tps_unc_opts_init(tps_unc_opts *o) {
  memset(o, 0, sizeof *o);
  o->level = TPS_UNC_DEFAULT_LEVEL;
  o->samples = TPS_UNC_DEFAULT_SAMPLES;
  o->seed = 1;
}

const char *tps_fits_at_interval_name(tps_fits_at_interval f) {
  switch (f) {
    case TPS_FITS_YES: return "yes";
    case TPS_FITS_NO: return "no";
    case TPS_FITS_MAYBE: break;
  }
  return "maybe";
}

int tps_uncertain_constants(const tps_hw *hw) {
  unc_var vars[N_CONST];
  return find_vars(hw, vars);
}

const tps_model_error *tps_model_error_find(const tps_model_errors *me, const tps_hw *hw) {
  if (!me) return NULL;
  /* A profile's own entry, for the stack it was measured with (any stack
   * when the entry names none). */
  for (int i = 0; i < me->n; i++)
    if (me->e[i].hw[0] && strcmp(me->e[i].hw, hw->name) == 0 &&
        (!me->e[i].stack[0] || strcmp(me->e[i].stack, hw->stack.name) == 0))
      return &me->e[i];
  for (int i = 0; i < me->n; i++)
    if (!me->e[i].hw[0] && hw->stack.name[0] && strcmp(me->e[i].stack, hw->stack.name) == 0)
      return &me->e[i];
  return NULL;
}

static tps_interval around(double y, double sd_log, double z) {
  return (tps_interval){y * exp(-z * sd_log), y * exp(z * sd_log)};
}

/* The memory limit `fits` uses: the device's memory. */
static bool fits_memory(double total, const tps_hw *hw) { return total <= hw->memory_bytes; }

tps_status tps_uncertainty_run(const tps_model *model, const tps_hw *hw, const tps_estimate *est,
                               const tps_unc_opts *opts, tps_uncertainty *out, tps_error *err) {
  memset(out, 0, sizeof *out);
  if (!(opts->level > 0 && opts->level < 1) || opts->samples < 1 ||
      opts->samples > TPS_UNC_MAX_SAMPLES || !(opts->time_sd >= 0) || !(opts->memory_sd >= 0) ||
      !isfinite(opts->time_sd) || !isfinite(opts->memory_sd))
    return tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                         "interval options: level in (0, 1), 1..%d samples, model error >= 0",
                         TPS_UNC_MAX_SAMPLES);
  eng_prepared prep;
  tps_status st = eng_prepare(model, &est->run, &prep, err);
  if (st != TPS_OK) return st;
  tps_hw *work = malloc(sizeof *work);
  if (!work) {
    eng_prepared_free(&prep);
    return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while propagating");
  }
  *work = *hw;
  unc_var vars[N_CONST];
  int nv = find_vars(hw, vars);
  out->level = opts->level;
  out->z = gsl_cdf_ugaussian_Pinv(0.5 + opts->level / 2.0);
  out->n_constants = nv;

  /* First order: d log y over one sd of each constant, a central
   * difference over +-1 sd (a secant, which also sees a kink within it). */
  double mem0 = est->memory.total, t0 = est->step_time_s;
  double cm[N_CONST], ct[N_CONST];
  double var_m = opts->memory_sd * opts->memory_sd, var_t = opts->time_sd * opts->time_sd;
  for (int i = 0; i < nv; i++) {
    const unc_var *v = &vars[i];
    double u0 = center_u(v), y[2][2], du[2];
    for (int side = 0; side < 2; side++) {
      *work = *hw;
      du[side] = set_var(work, hw, v, u0 + (side ? v->sd_u : -v->sd_u)) - u0;
      eng_step s;
      eng_prepared_eval(&prep, work, &s, NULL);
      y[side][0] = s.memory.total;
      y[side][1] = s.step_time_s;
    }
    double span = du[1] - du[0];
    /* per sd of the constant: (log y+ - log y-) / (u+ - u-) x sd_u */
    cm[i] = span > 0 ? (log(y[1][0]) - log(y[0][0])) / span * v->sd_u : 0.0;
    ct[i] = span > 0 ? (log(y[1][1]) - log(y[0][1])) / span * v->sd_u : 0.0;
    if (!isfinite(cm[i])) cm[i] = 0.0;
    if (!isfinite(ct[i])) ct[i] = 0.0;
    var_m += cm[i] * cm[i];
    var_t += ct[i] * ct[i];
  }
  out->sd_log_memory = sqrt(var_m);
  out->sd_log_time = sqrt(var_t);
  double z = out->z;
  out->memory_bytes = around(mem0, out->sd_log_memory, z);
  out->step_time_s = around(t0, out->sd_log_time, z);
  /* tokens/s and MFU are inversely proportional to step time. */
  out->tokens_per_s = around(est->tokens_per_s, out->sd_log_time, z);
  out->tokens_per_s_per_card = around(est->tokens_per_s_per_card, out->sd_log_time, z);
  out->mfu = around(est->mfu, out->sd_log_time, z);
  out->model_error_share = var_t > 0 ? opts->time_sd * opts->time_sd / var_t : 0.0;

  /* Top sensitivities of log(tokens/s) = -log(step time) + constant. */
  bool used[N_CONST] = {false};
  for (int r = 0; r < TPS_UNC_TOP; r++) {
    int best = -1;
    for (int i = 0; i < nv; i++)
      if (!used[i] && ct[i] != 0.0 && (best < 0 || fabs(ct[i]) > fabs(ct[best]))) best = i;
    if (best < 0) break;
    used[best] = true;
    tps_sensitivity *s = &out->top[out->n_top++];
    snprintf(s->constant, sizeof s->constant, "%s", constants[vars[best].k].name);
    s->elasticity = -ct[best] / vars[best].sd_u * (vars[best].log_space ? 1.0 : vars[best].sd_u);
    s->share = var_t > 0 ? ct[best] * ct[best] / var_t : 0.0;
  }

  /* Sampled check: joint draws of every constant (the same stream for
   * every run: paired), then the model error drawn apart per run. */
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng *rng_model = gsl_rng_alloc(gsl_rng_mt19937);
  double *mem = malloc((size_t)opts->samples * sizeof *mem);
  if (!rng || !rng_model || !mem) {
    if (rng) gsl_rng_free(rng);
    if (rng_model) gsl_rng_free(rng_model);
    free(mem);
    free(work);
    eng_prepared_free(&prep);
    return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while sampling");
  }
  gsl_rng_set(rng, opts->seed);
  /* The model error of each run is its own draw: tp-sim's error on one
   * configuration is not known to carry over to another (conservative). */
  gsl_rng_set(rng_model, opts->seed * 1000003ul + (unsigned long)est->run.tp * 7919ul +
                             (unsigned long)est->run.pp * 104729ul +
                             (unsigned long)est->run.micro_batch * 131ul +
                             (unsigned long)est->run.recompute * 17ul + (est->run.sp ? 3ul : 0ul));
  int n_fit = 0;
  for (int j = 0; j < opts->samples; j++) {
    *work = *hw;
    for (int i = 0; i < nv; i++) {
      const unc_var *v = &vars[i];
      set_var(work, hw, v, center_u(v) + gsl_ran_ugaussian(rng) * v->sd_u);
    }
    eng_step s;
    if (nv > 0)
      eng_prepared_eval(&prep, work, &s, NULL);
    else {
      s.memory.total = mem0;
      s.step_time_s = t0;
    }
    double zm = gsl_ran_ugaussian(rng_model), zt = gsl_ran_ugaussian(rng_model);
    mem[j] = s.memory.total * exp(opts->memory_sd * zm);
    double t = s.step_time_s * exp(opts->time_sd * zt);
    out->samples_tokens_per_s_per_card[j] = t > 0 ? est->tokens_per_s_per_card * t0 / t : 0.0;
    if (fits_memory(mem[j], hw)) n_fit++;
  }
  out->n_samples = opts->samples;
  out->p_fits = (double)n_fit / opts->samples;
  gsl_sort(mem, 1, (size_t)opts->samples);
  double q_lo = gsl_stats_quantile_from_sorted_data(mem, 1, (size_t)opts->samples,
                                                    0.5 - opts->level / 2.0);
  double q_hi = gsl_stats_quantile_from_sorted_data(mem, 1, (size_t)opts->samples,
                                                    0.5 + opts->level / 2.0);
  out->fits_at_interval = fits_memory(q_hi, hw)    ? TPS_FITS_YES
                          : !fits_memory(q_lo, hw) ? TPS_FITS_NO
                                                   : TPS_FITS_MAYBE;
  free(mem);
  gsl_rng_free(rng);
  gsl_rng_free(rng_model);
  free(work);
  eng_prepared_free(&prep);
  return TPS_OK;
}

double tps_uncertainty_p_better(const tps_uncertainty *a, const tps_uncertainty *b) {
  int n = a->n_samples < b->n_samples ? a->n_samples : b->n_samples;
  if (n <= 0) return NAN;
  int wins = 0;
  for (int j = 0; j < n; j++)
    if (a->samples_tokens_per_s_per_card[j] > b->samples_tokens_per_s_per_card[j]) wins++;
  return (double)wins / n;
}

bool tps_uncertainty_overlap_x(double xa, const tps_uncertainty *a, double xb,
                               const tps_uncertainty *b) {
  return (xa >= b->tokens_per_s_per_card.lo && xa <= b->tokens_per_s_per_card.hi) ||
         (xb >= a->tokens_per_s_per_card.lo && xb <= a->tokens_per_s_per_card.hi);
}

bool tps_uncertainty_overlap(const tps_estimate *ea, const tps_uncertainty *a,
                             const tps_estimate *eb, const tps_uncertainty *b) {
  return tps_uncertainty_overlap_x(ea->tokens_per_s_per_card, a, eb->tokens_per_s_per_card, b);
}

tps_unc_verdict tps_uncertainty_verdict(double xa, const tps_uncertainty *a, double xb,
                                        const tps_uncertainty *b) {
  tps_unc_verdict v;
  v.overlap = tps_uncertainty_overlap_x(xa, a, xb, b);
  v.p_better = tps_uncertainty_p_better(a, b);
  v.level = a->level;
  v.n_samples = a->n_samples < b->n_samples ? a->n_samples : b->n_samples;
  /* p_better is NaN without samples: then no claim either */
  v.beats = !v.overlap && v.p_better >= v.level;
  return v;
}

int tps_uncertainty_verdict_text(const tps_unc_verdict *v, const char *name_a,
                                 const char *name_b, char *buf, size_t size) {
  /* %.3g: a share of 200 samples is a multiple of 0.5%, and 89.5% must not
   * read as the 90% it falls short of */
  double pct = v->level * 100.0, pb = v->p_better * 100.0;
  if (v->beats)
    return snprintf(buf, size,
                    "%s beats %s at %g%% (outside each other's intervals; %s better in %.3g%% of "
                    "%d paired samples)",
                    name_a, name_b, pct, name_a, pb, v->n_samples);
  if (v->overlap)
    return snprintf(buf, size,
                    "%s and %s are indistinguishable at %g%% (a central value inside the other's "
                    "interval; %s better in %.3g%% of %d paired samples)",
                    name_a, name_b, pct, name_a, pb, v->n_samples);
  return snprintf(buf, size,
                  "%s and %s are indistinguishable at %g%% (%s better in only %.3g%% of %d paired "
                  "samples, under %g%%, though outside each other's intervals)",
                  name_a, name_b, pct, name_a, pb, v->n_samples, pct);
}
