/* Planning on the engine: several TP sizes estimated at once; the largest
 * sequence length or micro-batch that fits in device memory; the
 * data-parallel size (cards) that trains a token budget within a deadline.
 * Pure computation on tps_run_resolve + tps_estimate_run (GSL's Brent root
 * finder for the largest fit): no I/O, no exit. The renderers in reports/
 * print what these fill in. */
#ifndef TPSIM_CAPACITY_H
#define TPSIM_CAPACITY_H

#include <stdbool.h>
#include <stdint.h>

#include "tpsim/engine.h"
#include "tpsim/model.h"
#include "tpsim/status.h"

/* ---- several TP sizes ---- */

/* A TP size that could not be evaluated, and why. */
typedef struct tps_tp_skip {
  int64_t tp;
  char why[512];
} tps_tp_skip;

/* Evaluates each TP of tp_list (0 = the model's default) with `over`: the
 * valid ones go to est[*n], the others to skipped[*n_skipped] with their
 * reason (arrays of n_tp entries). Returns ENOMEM; or, when no TP could be
 * evaluated, the first reason's status with err holding it; else OK. */
tps_status tps_estimate_tp_list(const tps_model *m, const tps_hw *hw, const tps_run_overrides *over,
                                const int64_t *tp_list, int n_tp, tps_estimate *est, int *n,
                                tps_tp_skip *skipped, int *n_skipped, tps_error *err);

/* ---- capacity of one configuration ---- */

#define TPS_CAPACITY_MAX_SEQ_LEN ((int64_t)1 << 24)   /* tokens; searches stop here */
#define TPS_CAPACITY_MAX_MICRO_BATCH ((int64_t)1 << 16) /* samples */
#define TPS_CAPACITY_MAX_DP ((int64_t)1 << 20)         /* data-parallel replicas */

typedef enum { TPS_CAPACITY_SEQ_LEN, TPS_CAPACITY_MICRO_BATCH } tps_capacity_var;

/* Overrides that pin `run` exactly (tp, pp, dp, cards, seq_len,
 * micro_batch, global_batch) and keep the options of `user` (sp,
 * recompute, precision, margin ...). */
void tps_capacity_pin(const tps_run *run, const tps_run_overrides *user, tps_run_overrides *out);

/* Device memory usable under the margin: memory_bytes x (1 - margin), bytes. */
double tps_capacity_limit_bytes(const tps_hw *hw, const tps_run_overrides *pinned);

/* Peak bytes per card (most loaded stage) of `pinned` with `var` set to x.
 * For the micro-batch the number of micro-batches per step is kept, so the
 * global batch becomes x x dp x micro-batches. Returns +INFINITY and sets
 * *st (and err) when the engine rejects the configuration. */
double tps_capacity_memory(const tps_model *m, const tps_hw *hw, const tps_run_overrides *pinned,
                           tps_capacity_var var, int64_t x, tps_status *st, tps_error *err);

/* Largest x in [1, cap] with tps_capacity_memory(x) <= limit, assuming memory
 * grows with x. Brackets by doubling from the pinned value, then runs GSL's
 * Brent solver on the continuous relaxation (memory interpolated linearly
 * between integers) minus the limit, and checks the integer below the root
 * (stepping if needed). *best = 0 when even x = 1 does not fit; *capped when
 * cap itself fits. *evals counts engine evaluations. */
tps_status tps_capacity_max_fit(const tps_model *m, const tps_hw *hw, const tps_run_overrides *pinned,
                                tps_capacity_var var, int64_t cap, int64_t *best, double *best_bytes,
                                bool *capped, int *evals, tps_error *err);

/* Job tokens/s of `pinned` re-run with `dp` replicas: cards = tp x pp x dp,
 * micro-batch and micro-batches per step kept, so global batch =
 * micro_batch x micro_batches x dp. est (optional) receives the estimate.
 * Returns -1 and sets *st on an engine error. */
double tps_capacity_tokens_per_s(const tps_model *m, const tps_hw *hw, const tps_run_overrides *pinned,
                                 int64_t dp, tps_estimate *est, tps_status *st, tps_error *err);

typedef struct tps_capacity_budget {
  bool reachable;          /* some dp <= TPS_CAPACITY_MAX_DP reaches the budget */
  int64_t dp, cards, global_batch;
  int64_t dp_needed;       /* the smallest dp that reaches it; dp rounds it up so
                              that the cards fill whole nodes (dp >= dp_needed) */
  double card_hours;       /* cards x days x 24: the accelerator time the plan books */
  double tokens_per_s;     /* job, at that dp */
  double days;             /* token budget / tokens_per_s / 86400 */
  double memory_bytes;     /* peak per card at that dp */
  bool fits_with_margin;
} tps_capacity_budget;

/* Smallest dp whose tokens/s x seconds >= tokens (rule of
 * tps_capacity_tokens_per_s), by doubling then bisection, assuming tokens/s
 * grows with dp; then rounded up so that the cards are a whole number of
 * nodes (hw->devices_per_node) when the job spans more than one. */
tps_status tps_capacity_cards_for_budget(const tps_model *m, const tps_hw *hw,
                                         const tps_run_overrides *pinned, double tokens,
                                         double seconds, tps_capacity_budget *out, tps_error *err);

/* The capacity plan's figures with an interval (docs/uncertainty.md,
 * "Capacity plan"): from the evaluated run's tokens/s interval as ratios to
 * its central value, lo_ratio = lo / central <= 1 <= hi_ratio = hi /
 * central, taken to hold for the runs scaled in DP as well (the model
 * error and the constants' spreads are relative). */
typedef struct tps_capacity_interval {
  bool has;                /* computed (tps_capacity_plan_interval) */
  double level;            /* of the tokens/s interval, in (0, 1) */
  double lo_ratio, hi_ratio;
  /* cards for the budget when the throughput is at the interval's high end
   * (fewest cards) and at its low end (most cards); cards_hi_reachable is
   * false when at the low end no dp <= TPS_CAPACITY_MAX_DP reaches it */
  int64_t cards_lo, cards_hi;
  bool cards_hi_reachable;
  /* the planned cards (budget.cards) kept: the days they take and the
   * card-hours they book, at the high and the low throughput */
  double days_lo, days_hi;
  double card_hours_lo, card_hours_hi;
  double days_at_run_lo, days_at_run_hi;      /* the evaluated run's days */
  double tokens_in_days_lo, tokens_in_days_hi; /* the evaluated run's tokens */
} tps_capacity_interval;

/* Capacity planning of one evaluated TP size. */
typedef struct tps_capacity_row {
  int64_t tp;
  double limit_bytes;      /* device memory x (1 - margin) */
  double headroom_bytes;   /* limit - peak per card at the evaluated run; < 0: over */
  double free_bytes;       /* device memory - peak per card */
  int64_t max_seq_len;     /* largest fitting seq_len, tokens; 0: none; -1: search failed */
  double max_seq_len_bytes;
  bool max_seq_len_capped; /* TPS_CAPACITY_MAX_SEQ_LEN fits: at least that */
  int64_t max_micro_batch; /* largest fitting micro-batch, samples (same meaning of 0, -1) */
  double max_micro_batch_bytes;
  bool max_micro_batch_capped;
  int evals;               /* engine evaluations spent in both searches */
  bool has_budget;         /* token budget and days were given, and the run fits with
                              the margin (a budget is not sized for a run that does
                              not fit) */
  tps_capacity_budget budget; /* cards needed for the budget within the days */
  double days_at_run;      /* budget / tokens/s of the evaluated run / 86400; 0: no budget */
  double tokens_in_days;   /* tokens/s of the evaluated run x days x 86400; 0: no days */
  tps_capacity_interval interval; /* has = false: no intervals */
} tps_capacity_row;

/* Fills `row` for the evaluated run est->run under the options of `over`
 * (tps_capacity_pin): headroom, the largest seq_len and micro-batch that fit
 * (tps_capacity_max_fit), and, when token_budget (tokens) and days are both
 * > 0, the cards for the budget (tps_capacity_cards_for_budget; has_budget
 * is cleared when the engine rejects a scaled run). Returns ENOMEM (err
 * set), else OK. */
tps_status tps_capacity_plan(const tps_model *m, const tps_hw *hw, const tps_run_overrides *over,
                             const tps_estimate *est, double token_budget, double days,
                             tps_capacity_row *row, tps_error *err);
/* Fills row->interval for a row tps_capacity_plan filled with the same
 * arguments: the cards for the budget searched again with the budget
 * divided by hi_ratio and by lo_ratio (tps_capacity_cards_for_budget: the
 * same search, the same rounding to whole nodes), and the days, card-hours
 * and tokens divided or multiplied by the ratios. Returns EINVAL for ratios
 * that are not 0 < lo_ratio <= 1 <= hi_ratio (finite) or a level outside
 * (0, 1), ENOMEM, or an engine error of a scaled run. */
tps_status tps_capacity_plan_interval(const tps_model *m, const tps_hw *hw,
                                      const tps_run_overrides *over, const tps_estimate *est,
                                      double token_budget, double days, double level,
                                      double lo_ratio, double hi_ratio, tps_capacity_row *row,
                                      tps_error *err);

#endif
