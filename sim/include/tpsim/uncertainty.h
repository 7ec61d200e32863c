/* Prediction intervals (docs/uncertainty.md): each estimate's memory per
 * card, step time, tokens/s and MFU with a central value and an interval,
 * from the spreads of the profile constants (`value +- sd` in hardware and
 * software-stack YAML) and the model-error term of the hardware family.
 *
 *   first order: each uncertain constant is moved by one standard deviation
 *   either way (in log space when it is positive) through the one
 *   evaluator; the log of memory and of step time get a variance
 *   sum_i (d log y / d u_i x sd_i)^2 + model_sd^2, and the interval
 *   y exp(+-z sd) with z the standard normal quantile of (1 + level) / 2.
 *   sampled: a few hundred joint draws (GSL mt19937, fixed seed) through the
 *   same evaluator, for what is not smooth: whether the memory peak (a max
 *   over stages) fits the device, and paired comparisons of two runs.
 *
 * Pure computation: no I/O. */
#ifndef TPSIM_UNCERTAINTY_H
#define TPSIM_UNCERTAINTY_H

#include <stdbool.h>
#include <stddef.h>

#include "tpsim/engine.h"

#define TPS_UNC_DEFAULT_LEVEL 0.9
#define TPS_UNC_DEFAULT_SAMPLES 200
#define TPS_UNC_MAX_SAMPLES 1000
#define TPS_UNC_TOP 3

typedef struct tps_unc_opts {
  double level;          /* two-sided coverage in (0, 1); 0: no intervals */
  double time_sd;        /* model error: sd of log step time (0: none) */
  double memory_sd;      /* model error: sd of log memory (0: none) */
  int samples;           /* draws of the sampled check, 1..TPS_UNC_MAX_SAMPLES */
  unsigned long seed;    /* of the draws of the constants (the same for every
                            run compared: paired samples) */
} tps_unc_opts;

/* level TPS_UNC_DEFAULT_LEVEL, no model error, TPS_UNC_DEFAULT_SAMPLES, seed 1. */
void tps_unc_opts_init(tps_unc_opts *o);

typedef struct tps_interval {
  double lo, hi;
} tps_interval;

typedef enum { TPS_FITS_NO, TPS_FITS_MAYBE, TPS_FITS_YES } tps_fits_at_interval;
const char *tps_fits_at_interval_name(tps_fits_at_interval f); /* "no", "maybe", "yes" */

/* How much one constant moves tokens/s. */
typedef struct tps_sensitivity {
  char constant[64];  /* the YAML key: "per_micro_batch", "intra_link.latency" */
  double elasticity;  /* d log(tokens/s) / d log(constant); for a constant
                         whose value is 0: the change of log(tokens/s) over
                         one sd */
  double share;       /* its part of the variance of log(tokens/s), model
                         error included, in [0, 1] */
} tps_sensitivity;

typedef struct tps_uncertainty {
  double level;                 /* 0: not computed */
  double z;                     /* standard normal quantile of (1 + level) / 2 */
  double sd_log_memory;         /* total: constants and model error */
  double sd_log_time;
  tps_interval memory_bytes;    /* of tps_estimate.memory.total */
  tps_interval step_time_s;
  tps_interval tokens_per_s;
  tps_interval tokens_per_s_per_card;
  tps_interval mfu;
  tps_fits_at_interval fits_at_interval; /* from the samples' memory at the level */
  double p_fits;                /* share of samples whose memory fits */
  double model_error_share;     /* the model error's part of var(log tokens/s) */
  int n_constants;              /* uncertain constants (sd > 0) found */
  tps_sensitivity top[TPS_UNC_TOP];
  int n_top;
  int n_samples;
  double samples_tokens_per_s_per_card[TPS_UNC_MAX_SAMPLES]; /* paired draws */
} tps_uncertainty;

/* Intervals of est (tps_estimate_run's result for model, run, hw). Returns
 * TPS_EINVAL for bad options and the engine's status when the run cannot
 * be evaluated. */
tps_status tps_uncertainty_run(const tps_model *model, const tps_hw *hw, const tps_estimate *est,
                               const tps_unc_opts *opts, tps_uncertainty *out, tps_error *err);

/* How many constants of hw (its profile and software stack) carry a spread
 * (sd > 0): the inputs an interval propagates besides the model error. */
int tps_uncertain_constants(const tps_hw *hw);

/* The model-error entry for hw: the one naming the profile, else the one
 * naming its stack; NULL when none applies. */
const tps_model_error *tps_model_error_find(const tps_model_errors *me, const tps_hw *hw);

/* Share of paired samples in which a's tokens/s per card beats b's. */
double tps_uncertainty_p_better(const tps_uncertainty *a, const tps_uncertainty *b);

/* Whether either central value lies inside the other's tokens/s per card
 * interval. */
bool tps_uncertainty_overlap(const tps_estimate *ea, const tps_uncertainty *a,
                             const tps_estimate *eb, const tps_uncertainty *b);
/* The same on central tokens/s per card values xa and xb. */
bool tps_uncertainty_overlap_x(double xa, const tps_uncertainty *a, double xb,
                               const tps_uncertainty *b);

/* The one verdict of `estimate`, `recommend` and `report` (docs/uncertainty.md,
 * "Decisions"): a (central tokens/s per card xa) beats b at the level when
 * both measures say so: neither central value lies inside the other's
 * interval, and a is better in at least `level` of the paired samples.
 * Otherwise the two are indistinguishable at the level. */
typedef struct tps_unc_verdict {
  bool beats;         /* a beats b at the level */
  bool overlap;       /* tps_uncertainty_overlap_x */
  double p_better;    /* tps_uncertainty_p_better(a, b) */
  double level;       /* a's level */
  int n_samples;
} tps_unc_verdict;
tps_unc_verdict tps_uncertainty_verdict(double xa, const tps_uncertainty *a, double xb,
                                        const tps_uncertainty *b);
/* "TP 1 beats TP 2 at 90% (...)" / "TP 1 and TP 2 are indistinguishable at
 * 90% (...)": the sentence of a verdict, into buf. Returns snprintf's count. */
int tps_uncertainty_verdict_text(const tps_unc_verdict *v, const char *name_a,
                                 const char *name_b, char *buf, size_t size);

#endif
