/* Capacity planning on the engine: the largest sequence length or
 * micro-batch that fits in device memory, and the data-parallel size (cards)
 * that trains a token budget within a deadline. Pure computation on
 * tps_estimate_run: no printing. */
#ifndef TPSIM_CAPACITY_H
#define TPSIM_CAPACITY_H

#include <stdbool.h>
#include <stdint.h>

#include "tpsim/engine.h"
#include "tpsim/model.h"
#include "tpsim/status.h"

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
  double tokens_per_s;     /* job, at that dp */
  double days;             /* token budget / tokens_per_s / 86400 */
  double memory_bytes;     /* peak per card at that dp */
  bool fits_with_margin;
} tps_capacity_budget;

/* Smallest dp whose tokens/s x seconds >= tokens (rule of
 * tps_capacity_tokens_per_s), by doubling then bisection; assumes tokens/s
 * grows with dp. */
tps_status tps_capacity_cards_for_budget(const tps_model *m, const tps_hw *hw,
                                         const tps_run_overrides *pinned, double tokens,
                                         double seconds, tps_capacity_budget *out, tps_error *err);

/* Parses a token count: "1T", "500B", "20M", "2.5e12", "1.5t" (T = 1e12,
 * B = 1e9, M = 1e6, K = 1e3). Must be finite and > 0. */
tps_status tps_token_count_parse(const char *text, double *out);

#endif
