/* Search over the parallel space: every combination of TP, PP, (DP =
 * cards / (TP x PP)), virtual pipeline stages, sequence parallelism,
 * recompute, micro-batch size and the distributed optimizer for one model,
 * hardware profile and card count, ranked by tokens/s per card, with the
 * Pareto front of peak memory against throughput and the recommended
 * default TP. Pure arithmetic: no I/O, no exit. See docs/search.md.
 *
 * Speed: the search never re-lowers the model per configuration. A
 * "prepared" object per (TP, SP, micro-batch) holds each layer template's
 * op costs summed once; a placement per PP holds how many layers of each
 * template sit on each stage. A configuration is then pure arithmetic over
 * these (tps_searcher_eval), and gives the same numbers as tps_estimate_run
 * to rounding (tested to 1e-9 relative).
 *
 * Virtual pipeline stages (interleaved 1F1B) are enumerated for PP > 1:
 * VPP 1, 2 and 4 model chunks per stage (TPS_SEARCH_VPP), where PP x VPP
 * divides every decoder's layers (else skipped as pp_split), the
 * micro-batches per step are a multiple of PP (else batch) and the model
 * gives no explicit pipeline placement at that PP; the engine costs the
 * interleaved schedule (bubble / VPP, sends x VPP, more activations in
 * flight; docs/model.md, Sec. 4). */
#ifndef TPSIM_SEARCH_H
#define TPSIM_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "tpsim/engine.h"

/* Dimensions the search enumerates (bit mask). A dimension left out takes
 * the model's training default (its `training:` value, or the engine's). */
enum {
  TPS_SEARCH_TP = 1u << 0,
  TPS_SEARCH_PP = 1u << 1,
  TPS_SEARCH_SP = 1u << 2,
  TPS_SEARCH_RECOMPUTE = 1u << 3,
  TPS_SEARCH_MICRO_BATCH = 1u << 4,
  TPS_SEARCH_DISTOPT = 1u << 5,
  TPS_SEARCH_VPP = 1u << 6, /* interleaved pipeline: 1, 2, 4 model chunks per stage when PP > 1 */
  TPS_SEARCH_EP = 1u << 7,  /* MoE models: expert parallelism (EP dividing the experts and
                               TP x CP x DP / ETP) and expert TP (TP or 1) */
  TPS_SEARCH_CP = 1u << 8,  /* context parallelism: CP over the divisors of the cards leaving
                               each CP rank at least min_tokens_per_cp_rank tokens, ring and
                               Ulysses (where seq_len and the heads split) */
  TPS_SEARCH_ALL = (1u << 9) - 1
};

/* Why a configuration of the grid was not ranked. X(NAME, key, sentence) */
#define TPS_SKIP_MAP(X)                                                                  \
  X(CARDS, "cards", "TP x PP does not divide the card count")                           \
  X(TP_SPLIT, "tp_split", "TP does not split the heads, KV heads or MLP columns")       \
  X(PP_SPLIT, "pp_split", "PP does not split the layers (or exceeds the stage limit)")  \
  X(BATCH, "batch", "global batch is not a multiple of micro-batch x DP")               \
  X(SP_SPLIT, "sp_split", "sequence parallelism: TP does not divide the tokens")        \
  X(MEMORY, "memory", "peak memory above device memory less the margin")                \
  X(OTHER, "other", "the engine refused the configuration")

typedef enum {
#define TPS_SKIP_ENUM(name, key, text) TPS_SKIP_##name,
  TPS_SKIP_MAP(TPS_SKIP_ENUM)
#undef TPS_SKIP_ENUM
  TPS_SKIP_COUNT
} tps_skip_reason;

/* "tp_split", ...; "unknown" out of range. */
const char *tps_skip_key(tps_skip_reason r);
/* One sentence saying what the reason means. */
const char *tps_skip_text(tps_skip_reason r);

/* One point of the parallel space (cards, seq_len, global batch, precision
 * and the rest are the search's, shared by all points). */
typedef struct tps_search_config {
  int64_t tp, pp, dp, micro_batch;
  int64_t vpp;                  /* model chunks per stage (interleaved 1F1B); 0 or 1: none */
  int64_t ep;                   /* expert-parallel ranks; 0: a model without experts (1) */
  int64_t etp;                  /* expert tensor-parallel ranks; 0: = tp */
  int64_t cp;                   /* context-parallel ranks; 0: the search's base run's */
  int cp_algo;                  /* tps_cp_algo when cp > 1 */
  int64_t ulysses_degree;       /* Ulysses ranks inside CP (the hybrid's u) when cp > 1 */
  bool sp, distributed_optimizer;
  tps_recompute recompute;
} tps_search_config;

/* One evaluated configuration. */
typedef struct tps_search_row {
  tps_search_config cfg;
  int64_t micro_batches;        /* per step: global batch / (micro-batch x DP) */
  bool fits;                    /* peak <= device memory */
  bool fits_with_margin;        /* peak <= device memory x (1 - margin) */
  tps_memory memory;            /* bytes per card, the most loaded stage */
  int peak_stage;               /* that stage */
  tps_time_split time;          /* seconds per step by cause */
  double step_time_s;
  double tokens_per_s;          /* whole job */
  double tokens_per_s_per_card;
  double mfu;                   /* model FLOPs / (step x cards x peak) */
  /* Other settings with exactly the same figures at the same TP, PP, VPP,
   * DP and micro-batch (selective recompute under flash attention, optimizer
   * sharding at DP 1, ...): the top list keeps one row, first in the tie
   * order, and names the others here ("recompute selective; ..."). */
  int n_equivalent;
  char equivalent[160];
} tps_search_row;

/* Called during tps_search about every `progress_every` configurations and
 * once at the end: `done` of `total` grid points, seconds since the start.
 * Return nonzero to stop the search (tps_search then returns TPS_EINVAL
 * with "search cancelled"). */
typedef int (*tps_search_progress_fn)(void *user, int64_t done, int64_t total, double elapsed_s);

/* The fewest tokens of a sequence a CP rank keeps in the searched CP sizes
 * unless min_tokens_per_cp_rank says otherwise: a search rule, not a
 * measurement (Megatron's Llama-3 8B recipe runs CP 2 at seq 8,192;
 * docs/search.md). */
#define TPS_SEARCH_MIN_TOKENS_PER_CP_RANK 4096

typedef struct tps_search_opts {
  int64_t cards;                /* required, >= 1 */
  int64_t seq_len;              /* 0: the model's */
  int64_t global_batch;         /* sequences per step; 0: the model's */
  int precision;                /* -1: the model's, else tps_precision */
  double memory_margin;         /* fraction of device memory kept free; < 0: 0.05 */
  int top_n;                    /* rows kept in result.top; 0: 10 */
  int64_t max_micro_batch;      /* largest micro-batch tried; 0: 64 */
  int64_t max_tp;               /* largest TP tried; 0: cards */
  unsigned dims;                /* TPS_SEARCH_* mask; 0: TPS_SEARCH_ALL */
  /* Constraints: only these values of a searched dimension (n = 0: all).
   * A value that cannot be (TP not dividing the cards, a micro-batch not
   * dividing the batch) is counted under its skip reason. */
  const int64_t *tp_list, *pp_list, *mb_list;
  int n_tp_list, n_pp_list, n_mb_list;
  tps_search_progress_fn progress;
  void *progress_user;
  int64_t progress_every;       /* grid points between callbacks; 0: 4096 */
  /* Context parallelism: cp > 0 holds CP at cp ranks (TP x PP x DP share
   * cards / cp); cp 0 searches it (TPS_SEARCH_CP; the model's training CP
   * when that dimension is masked out). cp_algo -1: ring and Ulysses both
   * searched (the model's algorithm when CP is held), else only that one;
   * ulysses_degree 0: the model's (hybrid only). */
  int64_t cp;
  int cp_algo;
  int64_t ulysses_degree;
  int64_t min_tokens_per_cp_rank; /* smallest seq_len / CP searched; 0:
                                     TPS_SEARCH_MIN_TOKENS_PER_CP_RANK */
  /* FP8 training, held fixed: -1 / 0 / -1: the model's (tps_run_overrides). */
  int fp8;
  int64_t fp8_amax_history;
  int fp8_param_gather;
  /* Expert parallelism of an MoE model: searched (EP over the divisors of
   * the experts that divide TP x CP x DP / ETP; ETP = TP or 1) unless
   * given; 0: searched. */
  int64_t ep, etp;
} tps_search_opts;

void tps_search_opts_init(tps_search_opts *opts);

/* The best configuration found at one TP size. */
typedef struct tps_search_tp_best {
  int64_t tp;
  bool splits;                  /* TP divides the heads, KV heads and MLP columns */
  int64_t evaluated;            /* configurations at this TP that were costed */
  int64_t valid;                /* of those, fit with the margin */
  double min_peak_bytes;        /* smallest peak memory of those costed (0 if none) */
  bool found;                   /* valid > 0; then `best` is set */
  tps_search_row best;
} tps_search_tp_best;

#define TPS_SEARCH_MAX_TP 64

typedef struct tps_search_result {
  tps_run base;                 /* the resolved run shared by all points (its tp,
                                   pp, dp, sp, recompute, micro-batch and
                                   distributed optimizer are the model's) */
  double memory_margin;         /* as applied */
  int64_t grid;                 /* configurations enumerated */
  int64_t evaluated;            /* of those, costed (passed the divisibility checks) */
  int64_t valid;                /* of those, fit with the margin: ranked */
  int64_t skipped[TPS_SKIP_COUNT]; /* grid = valid + sum(skipped) */
  tps_search_row *top;          /* best first, up to opts.top_n (heap) */
  int n_top;
  tps_search_row *pareto;       /* peak memory ascending, tokens/s per card
                                   ascending; no point dominates another (heap) */
  int n_pareto;
  tps_search_tp_best by_tp[TPS_SEARCH_MAX_TP]; /* one per TP tried, ascending */
  int n_tp;
  int64_t recommended_tp;       /* the best configuration's TP; 0 if none fits */
  char reason[2048];            /* why, in checkable sentences */
  /* Where the global batch came from: opts.global_batch; else the model's
   * `training: global_batch`, scaled by cards / `training: cards` when the
   * search has another card count (samples per model replica kept; a batch
   * that does not scale to a whole number is kept as the model's); else one
   * sample per card. */
  int64_t model_global_batch, model_cards; /* the model's (0: not given) */
  bool global_batch_scaled;
  double elapsed_s;             /* wall time of the search */
} tps_search_result;

void tps_search_result_init(tps_search_result *res);
void tps_search_result_free(tps_search_result *res);

/* Enumerates, evaluates and ranks. Ranking: tokens/s per card descending;
 * ties go to the smaller TP, then smaller PP, then smaller VPP, then the
 * smaller CP (ring before Ulysses), then SP off, then recompute
 * none < selective < full, then the larger micro-batch, then the
 * distributed optimizer off, then the smaller EP, ETP = TP first
 * (tps_search_row_cmp). Same inputs, same output. */
tps_status tps_search(const tps_model *model, const tps_hw *hw, const tps_search_opts *opts,
                      tps_search_result *out, tps_error *err);

/* Negative when a ranks before b (see tps_search). Total order over distinct
 * configurations. */
int tps_search_row_cmp(const tps_search_row *a, const tps_search_row *b);

/* ---- the fast evaluator, for tests and benchmarks ---- */

typedef struct tps_searcher tps_searcher; /* opaque; caches prepared objects */

/* `base` gives everything but the configuration: cards, seq_len, global
 * batch, precision, flash attention, overlap, vocab divisor, host overhead,
 * memory margin (tps_run_resolve output). */
tps_status tps_searcher_alloc(const tps_model *model, const tps_hw *hw, const tps_run *base,
                              tps_searcher **out, tps_error *err);
void tps_searcher_free(tps_searcher *s);

/* Evaluates one configuration; the first call at a (TP, SP, micro-batch)
 * lowers the model's templates for it, later ones only do arithmetic.
 * Errors: EDIVIDE (TP/SP split, PP split or batch), EINVAL, ENOMEM, with
 * *skip set to the reason when non-NULL. */
tps_status tps_searcher_eval(tps_searcher *s, const tps_search_config *cfg, tps_search_row *out,
                             tps_skip_reason *skip, tps_error *err);

/* The tps_run that tps_estimate_run would take for `cfg` under `base`. */
tps_status tps_search_config_run(const tps_model *model, const tps_run *base,
                                 const tps_search_config *cfg, tps_run *run, tps_error *err);

#endif
