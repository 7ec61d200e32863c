/* Planning on the engine: several TP sizes, the largest fit (GSL Brent),
 * cards for a token budget. See tpsim/capacity.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_roots.h>

#include "tpsim/capacity.h"

/* ---- several TP sizes ---- */

tps_status tps_estimate_tp_list(const tps_model *m, const tps_hw *hw, const tps_run_overrides *over,
                                const int64_t *tp_list, int n_tp, tps_estimate *est, int *n,
                                tps_tp_skip *skipped, int *n_skipped, tps_error *err) {
  tps_error first;
  tps_error_clear(&first);
  *n = *n_skipped = 0;
  for (int i = 0; i < n_tp; i++) {
    tps_run_overrides o = *over;
    o.tp = tp_list[i];
    tps_run run;
    tps_error e;
    tps_error_clear(&e);
    tps_status st = tps_run_resolve(m, &o, &run, &e);
    if (st == TPS_OK) st = tps_estimate_run(m, &run, hw, &est[*n], &e);
    if (st == TPS_OK) {
      (*n)++;
      continue;
    }
    if (st == TPS_ENOMEM) {
      if (err) *err = e;
      return st;
    }
    if (!first.status) first = e;
    skipped[*n_skipped].tp = o.tp ? o.tp : run.tp;
    snprintf(skipped[*n_skipped].why, sizeof skipped[*n_skipped].why, "%s", e.msg);
    (*n_skipped)++;
  }
  if (*n > 0) return TPS_OK;
  if (err) *err = first;
  return first.status ? first.status : TPS_EINVAL;
}

/* ---- one configuration ---- */

void tps_capacity_pin(const tps_run *run, const tps_run_overrides *user, tps_run_overrides *out) {
  if (user)
    *out = *user;
  else
    tps_run_overrides_init(out);
  out->tp = run->tp;
  out->pp = run->pp;
  out->dp = run->dp;
  out->cards = run->cards;
  out->seq_len = run->seq_len;
  out->micro_batch = run->micro_batch;
  out->global_batch = run->global_batch;
}

double tps_capacity_limit_bytes(const tps_hw *hw, const tps_run_overrides *pinned) {
  double margin = pinned->memory_margin >= 0 ? pinned->memory_margin : 0.0;
  return hw->memory_bytes * (1.0 - margin);
}

/* Resolves and estimates `over`; est is caller-allocated. */
static tps_status evaluate(const tps_model *m, const tps_hw *hw, const tps_run_overrides *over,
                           tps_estimate *est, tps_error *err) {
  tps_run run;
  tps_status st = tps_run_resolve(m, over, &run, err);
  if (st == TPS_OK) st = tps_estimate_run(m, &run, hw, est, err);
  return st;
}

double tps_capacity_memory(const tps_model *m, const tps_hw *hw, const tps_run_overrides *pinned,
                           tps_capacity_var var, int64_t x, tps_status *st, tps_error *err) {
  tps_run_overrides o = *pinned;
  if (var == TPS_CAPACITY_SEQ_LEN) {
    o.seq_len = x;
  } else {
    int64_t per_replica_steps = pinned->global_batch / (pinned->micro_batch * pinned->dp);
    o.micro_batch = x;
    o.global_batch = x * pinned->dp * per_replica_steps;
  }
  tps_estimate *est = malloc(sizeof *est);
  if (!est) {
    *st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
    return INFINITY;
  }
  *st = evaluate(m, hw, &o, est, err);
  double bytes = *st == TPS_OK ? est->memory.total : INFINITY;
  free(est);
  return bytes;
}

/* ---- largest x that fits ---- */

#define MEMO_SIZE 128

typedef struct fit_ctx {
  const tps_model *m;
  const tps_hw *hw;
  const tps_run_overrides *pinned;
  tps_capacity_var var;
  double limit;              /* bytes */
  int64_t memo_x[MEMO_SIZE]; /* evaluated points, round-robin */
  double memo_bytes[MEMO_SIZE];
  int n_memo, next_memo;
  int evals;
  tps_status st;             /* first hard error (out of memory) */
  tps_error *err;
} fit_ctx;

/* Memory at integer x, bytes; +INFINITY where the engine rejects x (such x
 * are treated as not fitting). */
static double mem_at(fit_ctx *c, int64_t x) {
  for (int i = 0; i < c->n_memo; i++)
    if (c->memo_x[i] == x) return c->memo_bytes[i];
  tps_status st;
  tps_error scratch;
  tps_error_clear(&scratch);
  double b = tps_capacity_memory(c->m, c->hw, c->pinned, c->var, x, &st, &scratch);
  c->evals++;
  if (st == TPS_ENOMEM && c->st == TPS_OK) {
    c->st = st;
    if (c->err) *c->err = scratch;
  }
  c->memo_x[c->next_memo] = x;
  c->memo_bytes[c->next_memo] = b;
  c->next_memo = (c->next_memo + 1) % MEMO_SIZE;
  if (c->n_memo < MEMO_SIZE) c->n_memo++;
  return b;
}

static bool fits(fit_ctx *c, int64_t x) { return mem_at(c, x) <= c->limit; }

/* Continuous relaxation: memory interpolated linearly between the integers
 * around x, minus the limit (bytes). A rejected integer counts as twice the
 * limit, which keeps the function finite and above zero there. */
static double relaxed(double x, void *params) {
  fit_ctx *c = params;
  int64_t lo = (int64_t)floor(x);
  double t = x - (double)lo;
  double a = mem_at(c, lo);
  if (!isfinite(a)) a = 2.0 * c->limit;
  if (t <= 0) return a - c->limit;
  double b = mem_at(c, lo + 1);
  if (!isfinite(b)) b = 2.0 * c->limit;
  return a + t * (b - a) - c->limit;
}

tps_status tps_capacity_max_fit(const tps_model *m, const tps_hw *hw, const tps_run_overrides *pinned,
                                tps_capacity_var var, int64_t cap, int64_t *best, double *best_bytes,
                                bool *capped, int *evals, tps_error *err) {
  fit_ctx *c = calloc(1, sizeof *c);
  if (!c) return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
  c->m = m;
  c->hw = hw;
  c->pinned = pinned;
  c->var = var;
  c->limit = tps_capacity_limit_bytes(hw, pinned);
  c->err = err;
  *best = 0;
  *best_bytes = 0;
  *capped = false;
  tps_status st = TPS_OK;

  int64_t start = var == TPS_CAPACITY_SEQ_LEN ? pinned->seq_len : pinned->micro_batch;
  if (start < 1) start = 1;
  if (start > cap) start = cap;
  int64_t lo, hi; /* fits(lo), !fits(hi) */
  if (fits(c, start)) {
    lo = start;
    hi = start;
    while (fits(c, hi)) {
      lo = hi;
      if (hi >= cap) break;
      hi = hi > cap / 2 ? cap : hi * 2;
    }
    if (lo == hi) { /* cap fits */
      *best = cap;
      *best_bytes = mem_at(c, cap);
      *capped = true;
      goto done;
    }
  } else {
    hi = start;
    lo = start;
    while (lo > 1 && !fits(c, lo)) {
      hi = lo;
      lo /= 2;
    }
    if (!fits(c, lo)) { /* even 1 does not fit */
      *best = 0;
      goto done;
    }
  }
  if (c->st != TPS_OK) goto done;

  /* Brent on [lo, hi]: relaxed(lo) <= 0 < relaxed(hi). */
  int64_t guess = lo;
  if (hi - lo > 1) {
    gsl_function fn = {.function = relaxed, .params = c};
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (!s) {
      st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
      goto done;
    }
    double a = (double)lo, b = (double)hi;
    if (relaxed(a, c) == 0.0) {
      guess = lo;
    } else if (gsl_root_fsolver_set(s, &fn, a, b) == GSL_SUCCESS) {
      for (int it = 0; it < 200; it++) {
        if (gsl_root_fsolver_iterate(s) != GSL_SUCCESS) break;
        a = gsl_root_fsolver_x_lower(s);
        b = gsl_root_fsolver_x_upper(s);
        if (gsl_root_test_interval(a, b, 0.25, 0.0) == GSL_SUCCESS) break; /* 0.25 of one unit */
      }
      double r = gsl_root_fsolver_root(s);
      guess = (int64_t)floor(r);
      if (guess < lo) guess = lo;
      if (guess > hi - 1) guess = hi - 1;
    }
    gsl_root_fsolver_free(s);
  }
  /* The integer below the root, checked: step until x fits and x + 1 does not. */
  while (guess > lo && !fits(c, guess)) guess--;
  while (guess + 1 < hi && fits(c, guess + 1)) guess++;
  *best = guess;
  *best_bytes = mem_at(c, guess);

done:
  if (st == TPS_OK) st = c->st;
  if (evals) *evals = c->evals;
  free(c);
  return st;
}

/* ---- cards for a token budget ---- */

double tps_capacity_tokens_per_s(const tps_model *m, const tps_hw *hw, const tps_run_overrides *pinned,
                                 int64_t dp, tps_estimate *est, tps_status *st, tps_error *err) {
  tps_run_overrides o = *pinned;
  int64_t per_replica_steps = pinned->global_batch / (pinned->micro_batch * pinned->dp);
  o.dp = dp;
  o.cards = pinned->tp * pinned->pp * dp;
  o.global_batch = pinned->micro_batch * per_replica_steps * dp;
  tps_estimate *e = est ? est : malloc(sizeof *e);
  if (!e) {
    *st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
    return -1.0;
  }
  *st = evaluate(m, hw, &o, e, err);
  double r = *st == TPS_OK ? e->tokens_per_s : -1.0;
  if (!est) free(e);
  return r;
}

tps_status tps_capacity_cards_for_budget(const tps_model *m, const tps_hw *hw,
                                         const tps_run_overrides *pinned, double tokens,
                                         double seconds, tps_capacity_budget *out, tps_error *err) {
  memset(out, 0, sizeof *out);
  if (!(tokens > 0) || !(seconds > 0))
    return tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "token budget and time must be > 0");
  double need = tokens / seconds; /* job tokens/s */
  tps_status st = TPS_OK;
  int64_t lo = 0, hi = 1;         /* lo fails (0: none tried), hi is the candidate */
  double r;
  for (;;) {
    r = tps_capacity_tokens_per_s(m, hw, pinned, hi, NULL, &st, err);
    if (st != TPS_OK) return st;
    if (r >= need) break;
    lo = hi;
    if (hi >= TPS_CAPACITY_MAX_DP) return TPS_OK; /* unreachable */
    hi *= 2;
  }
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    r = tps_capacity_tokens_per_s(m, hw, pinned, mid, NULL, &st, err);
    if (st != TPS_OK) return st;
    if (r >= need)
      hi = mid;
    else
      lo = mid;
  }
  /* Book whole nodes: the smallest dp >= hi whose cards fill them. */
  out->dp_needed = hi;
  int64_t per_replica = pinned->tp * pinned->pp, node = hw->devices_per_node;
  if (node > 1 && per_replica * hi > node) {
    int64_t a = per_replica % node, b = node; /* gcd(per_replica, node) */
    while (b) {
      int64_t t = a % b;
      a = b;
      b = t;
    }
    int64_t step = node / (a > 0 ? a : node); /* dp multiple that fills nodes */
    if (hi <= INT64_MAX - step) hi = (hi + step - 1) / step * step;
  }
  tps_estimate *e = malloc(sizeof *e);
  if (!e) return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
  r = tps_capacity_tokens_per_s(m, hw, pinned, hi, e, &st, err);
  if (st == TPS_OK) {
    out->reachable = true;
    out->dp = hi;
    out->cards = e->run.cards;
    out->global_batch = e->run.global_batch;
    out->tokens_per_s = r;
    out->days = tokens / r / 86400.0;
    out->card_hours = (double)out->cards * out->days * 24.0;
    out->memory_bytes = e->memory.total;
    out->fits_with_margin = e->fits_with_margin;
  }
  free(e);
  return st;
}

/* ---- all of it for one evaluated TP size ---- */

tps_status tps_capacity_plan(const tps_model *m, const tps_hw *hw, const tps_run_overrides *over,
                             const tps_estimate *est, double token_budget, double days,
                             tps_capacity_row *c, tps_error *err) {
  memset(c, 0, sizeof *c);
  tps_run_overrides pinned;
  tps_capacity_pin(&est->run, over, &pinned);
  c->tp = est->run.tp;
  c->limit_bytes = tps_capacity_limit_bytes(hw, &pinned);
  c->headroom_bytes = c->limit_bytes - est->memory.total;
  c->free_bytes = hw->memory_bytes - est->memory.total;
  int ev = 0;
  tps_error ce;
  tps_error_clear(&ce);
  tps_status st = tps_capacity_max_fit(m, hw, &pinned, TPS_CAPACITY_SEQ_LEN,
                                       TPS_CAPACITY_MAX_SEQ_LEN, &c->max_seq_len,
                                       &c->max_seq_len_bytes, &c->max_seq_len_capped, &ev, &ce);
  c->evals += ev;
  if (st == TPS_OK)
    st = tps_capacity_max_fit(m, hw, &pinned, TPS_CAPACITY_MICRO_BATCH,
                              TPS_CAPACITY_MAX_MICRO_BATCH, &c->max_micro_batch,
                              &c->max_micro_batch_bytes, &c->max_micro_batch_capped, &ev, &ce);
  c->evals += ev;
  if (st == TPS_OK && token_budget > 0 && days > 0 && est->fits_with_margin) {
    c->has_budget = true;
    st = tps_capacity_cards_for_budget(m, hw, &pinned, token_budget, days * 86400.0, &c->budget,
                                       &ce);
  }
  if (st == TPS_ENOMEM) {
    if (err) *err = ce;
    return st;
  }
  if (st != TPS_OK) c->has_budget = false; /* engine rejected a scaled run */
  if (token_budget > 0 && est->tokens_per_s > 0)
    c->days_at_run = token_budget / est->tokens_per_s / 86400.0;
  if (days > 0) c->tokens_in_days = est->tokens_per_s * days * 86400.0;
  return TPS_OK;
}

tps_status tps_capacity_plan_interval(const tps_model *m, const tps_hw *hw,
                                      const tps_run_overrides *over, const tps_estimate *est,
                                      double token_budget, double days, double level,
                                      double lo_ratio, double hi_ratio, tps_capacity_row *c,
                                      tps_error *err) {
  tps_capacity_interval *iv = &c->interval;
  memset(iv, 0, sizeof *iv);
  if (!(lo_ratio > 0) || !(lo_ratio <= 1.0) || !(hi_ratio >= 1.0) || !isfinite(hi_ratio) ||
      !(level > 0) || !(level < 1))
    return tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                         "capacity interval: need 0 < lo_ratio <= 1 <= hi_ratio and a level in "
                         "(0, 1), got %g, %g, %g",
                         lo_ratio, hi_ratio, level);
  iv->level = level;
  iv->lo_ratio = lo_ratio;
  iv->hi_ratio = hi_ratio;
  /* days = budget / tokens/s: a higher throughput takes fewer days */
  iv->days_at_run_lo = c->days_at_run / hi_ratio;
  iv->days_at_run_hi = c->days_at_run / lo_ratio;
  iv->tokens_in_days_lo = c->tokens_in_days * lo_ratio;
  iv->tokens_in_days_hi = c->tokens_in_days * hi_ratio;
  if (c->has_budget && c->budget.reachable) {
    iv->days_lo = c->budget.days / hi_ratio;
    iv->days_hi = c->budget.days / lo_ratio;
    iv->card_hours_lo = c->budget.card_hours / hi_ratio;
    iv->card_hours_hi = c->budget.card_hours / lo_ratio;
    /* tokens/s x ratio >= need  <=>  tokens/s >= (budget / ratio) / seconds */
    tps_run_overrides pinned;
    tps_capacity_pin(&est->run, over, &pinned);
    tps_capacity_budget at;
    tps_status st = tps_capacity_cards_for_budget(m, hw, &pinned, token_budget / hi_ratio,
                                                  days * 86400.0, &at, err);
    if (st != TPS_OK) return st;
    iv->cards_lo = at.reachable ? at.cards : c->budget.cards;
    st = tps_capacity_cards_for_budget(m, hw, &pinned, token_budget / lo_ratio, days * 86400.0,
                                       &at, err);
    if (st != TPS_OK) return st;
    iv->cards_hi_reachable = at.reachable;
    iv->cards_hi = at.reachable ? at.cards : 0;
  }
  iv->has = true;
  return TPS_OK;
}
