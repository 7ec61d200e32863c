/* Rendering `tp-sim recommend`: the ranked configurations of a search, its
 * Pareto front of peak memory against throughput, the skip counts and the
 * recommended default TP, as a terminal table or JSON. */
#include "reports/search_report.h"

#include <math.h>
#include <string.h>

#include "reports/json_writer.h"
#include "reports/report.h"

#define GB 1e9 /* bytes */

static void table_header(FILE *out, bool cp) {
  fprintf(out, "  #   TP  PP VPP   DP%s  SP  recompute  mb  dopt  GB/card  tokens/s/card    MFU  "
               "step s  compute  TP comm  bubble  DP comm  optim    host  same figures with\n",
          cp ? "   CP cp-algo" : "");
}

/* Whether any row of the search runs CP > 1: then the tables show CP. */
static bool rows_have_cp(const tps_search_result *s) {
  for (int i = 0; i < s->n_top; i++)
    if (s->top[i].cfg.cp > 1) return true;
  for (int i = 0; i < s->n_pareto; i++)
    if (s->pareto[i].cfg.cp > 1) return true;
  return false;
}

/* " <cp> <algorithm>" ("-" at CP 1), when the table shows CP. */
static void table_cp_cells(FILE *out, const tps_search_config *c, bool cp) {
  if (!cp) return;
  fprintf(out, " %4lld %7s", (long long)(c->cp > 1 ? c->cp : 1),
          c->cp > 1 ? tps_cp_algo_name((tps_cp_algo)c->cp_algo) : "-");
}

static void table_row(FILE *out, int rank, const tps_search_row *row, bool cp) {
  const tps_search_config *c = &row->cfg;
  const tps_time_split *t = &row->time;
  fprintf(out, "%3d %4lld %3lld %3lld %4lld", rank, (long long)c->tp, (long long)c->pp,
          (long long)(c->vpp > 1 ? c->vpp : 1), (long long)c->dp);
  table_cp_cells(out, c, cp);
  fprintf(out, " %3s %10s %3lld %5s %8.2f %14.1f %5.1f%% %7.3f %8.3f %8.3f %7.3f %8.3f %6.3f %7.3f%s%s\n",
          c->sp ? "on" : "off",
          tps_recompute_name(c->recompute), (long long)c->micro_batch,
          c->distributed_optimizer ? "on" : "off", row->memory.total / GB, row->tokens_per_s_per_card,
          row->mfu * 100.0, row->step_time_s, t->compute, t->tp_comm, t->pp_bubble, t->dp_comm,
          t->optimizer, t->overhead, row->n_equivalent ? "  " : "",
          row->n_equivalent ? row->equivalent : "");
}

/* A model with experts: the row's expert layout, after the row. */
static void table_row_ep(FILE *out, const tps_search_row *row) {
  const tps_search_config *c = &row->cfg;
  if (c->ep > 0)
    fprintf(out, "        experts: EP %lld, ETP %lld\n", (long long)c->ep,
            (long long)(c->etp > 0 ? c->etp : c->tp));
}

double report_search_p_best(const tps_uncertainty *top, int n) {
  if (n < 1 || top[0].n_samples < 1) return NAN;
  int ns = top[0].n_samples, wins = 0;
  for (int i = 1; i < n; i++)
    if (top[i].n_samples < ns) ns = top[i].n_samples;
  for (int j = 0; j < ns; j++) {
    bool best = true;
    for (int i = 1; i < n && best; i++)
      best = top[0].samples_tokens_per_s_per_card[j] >= top[i].samples_tokens_per_s_per_card[j];
    wins += best;
  }
  return (double)wins / ns;
}

/* The by_tp entry of the recommended configuration's TP, or -1. */
static int recommended_tp_index(const tps_search_result *s) {
  for (int i = 0; i < s->n_tp; i++)
    if (s->by_tp[i].found && s->by_tp[i].tp == s->recommended_tp) return i;
  return -1;
}

/* The verdict (tps_uncertainty_verdict) of the recommended configuration
 * against the best of each other TP that fits, as sentences; "" without
 * intervals. */
static void tp_compare_text(const search_report *r, char *buf, size_t size) {
  const tps_search_result *s = r->res;
  buf[0] = '\0';
  int b = recommended_tp_index(s);
  if (!r->tp_unc || b < 0 || s->n_top < 1) return;
  const tps_uncertainty *ub = &r->top_unc[0];
  const tps_search_row *best = &s->top[0];
  char *p = buf;
  size_t left = size;
  for (int i = 0; i < s->n_tp && left > 1; i++) {
    if (i == b || !s->by_tp[i].found) continue;
    const tps_search_row *o = &s->by_tp[i].best;
    tps_unc_verdict v = tps_uncertainty_verdict(best->tokens_per_s_per_card, ub,
                                                o->tokens_per_s_per_card, &r->tp_unc[i]);
    char na[32], nb[32], what[320];
    snprintf(na, sizeof na, "TP %lld", (long long)s->recommended_tp);
    snprintf(nb, sizeof nb, "TP %lld", (long long)s->by_tp[i].tp);
    tps_uncertainty_verdict_text(&v, na, nb, what, sizeof what);
    int w = snprintf(p, left, "%s%s", p == buf ? "" : "; ", what);
    if (w < 0 || (size_t)w >= left) break;
    p += w;
    left -= (size_t)w;
  }
}

/* The intervals of the top rows and the statements they support. */
static void table_intervals(FILE *out, const search_report *r) {
  const tps_search_result *s = r->res;
  if (!r->top_unc || s->n_top < 1) return;
  const tps_uncertainty *u0 = &r->top_unc[0];
  double pct = u0->level * 100.0;
  report_unc_cols c;
  report_unc_heads(&c, u0->level);
  fprintf(out, "\nThe top %d with their %g%% intervals (docs/uncertainty.md); vs #1: worse when "
               "neither central value lies in the other's interval and #1 is better in at least "
               "%g%% of the paired samples, else indistinguishable; and that share:\n",
          s->n_top, pct, pct);
  const bool cp = rows_have_cp(s);
  fprintf(out, "  #   TP  PP VPP   DP%s  SP  recompute  mb  dopt  %-21s %-6s  %-20s  vs #1\n",
          cp ? "   CP cp-algo" : "", c.h_mem, c.h_fit, c.h_tpc);
  for (int i = 0; i < s->n_top; i++) {
    const tps_search_row *row = &s->top[i];
    const tps_uncertainty *u = &r->top_unc[i];
    report_unc_cells(&c, u, row->memory.total, row->tokens_per_s_per_card);
    char vs[64] = "-";
    if (i > 0) {
      const tps_search_row *b = &s->top[0];
      tps_unc_verdict v =
          tps_uncertainty_verdict(b->tokens_per_s_per_card, u0, row->tokens_per_s_per_card, u);
      snprintf(vs, sizeof vs, "%s, #1 better in %.0f%%", v.beats ? "worse" : "indistinguishable",
               v.p_better * 100.0);
    }
    fprintf(out, "%3d %4lld %3lld %3lld %4lld", i + 1, (long long)row->cfg.tp,
            (long long)row->cfg.pp, (long long)(row->cfg.vpp > 1 ? row->cfg.vpp : 1),
            (long long)row->cfg.dp);
    table_cp_cells(out, &row->cfg, cp);
    fprintf(out, " %3s %10s %3lld %5s  %-21s %-6s  %-20s  %s\n",
            row->cfg.sp ? "on" : "off", tps_recompute_name(row->cfg.recompute),
            (long long)row->cfg.micro_batch, row->cfg.distributed_optimizer ? "on" : "off", c.mem,
            tps_fits_at_interval_name(u->fits_at_interval), c.tpc, vs);
  }
  fprintf(out, "Probability that #1 is truly the best of these %d: %.0f%% of %d paired samples.\n",
          s->n_top, report_search_p_best(r->top_unc, s->n_top) * 100.0, u0->n_samples);
  fprintf(out, "Intervals: from %d profile constant%s with a spread", u0->n_constants,
          u0->n_constants == 1 ? "" : "s");
  if (r->model_error)
    fprintf(out, " and the model error of %s (time %.1f%%, memory %.1f%%; "
                 "validation/model-error.yaml); ",
            r->model_error->hw[0] ? r->model_error->hw : r->model_error->stack,
            r->model_error->time_sd * 100.0, r->model_error->memory_sd * 100.0);
  else
    fprintf(out, "; no model error is known for %s; ", r->hw->name);
  fprintf(out, "the model error is drawn apart for each configuration, the constants' draws are "
               "shared (paired).\n");
}

void report_search_table(FILE *out, const search_report *r) {
  const tps_search_result *s = r->res;
  const tps_run *b = &s->base;
  fprintf(out, "%s on %s (%s, %.1f GB per card): %lld cards, seq %lld, global batch %lld, %s, "
               "memory margin %.0f%%",
          r->model->name, r->hw->name, r->hw->device_name, r->hw->memory_bytes / GB,
          (long long)b->cards, (long long)b->seq_len, (long long)b->global_batch,
          tps_precision_name(b->precision), s->memory_margin * 100.0);
  report_state_words(out, b);
  report_fp8_words(out, b);
  /* CP held fixed by --cp: every row runs it (DP is per CP group). */
  if (b->cp > 1) {
    report_cp_words(out, b);
    fprintf(out, " in every row (TP x PP x DP share %lld / %lld cards)", (long long)b->cards,
            (long long)b->cp);
  }
  fprintf(out, "\n");
  if (s->global_batch_scaled)
    fprintf(out, "Global batch: the model's %lld for %lld cards, scaled to %lld cards (samples per "
                 "replica kept); --global-batch sets another.\n",
            (long long)s->model_global_batch, (long long)s->model_cards, (long long)b->cards);
  fprintf(out, "\n");
  fprintf(out, "Top %d of %lld configurations that fit (ranked by tokens/s per card; seconds per step):\n",
          s->n_top, (long long)s->valid);
  const bool cp = rows_have_cp(s);
  table_header(out, cp);
  for (int i = 0; i < s->n_top; i++) {
    table_row(out, i + 1, &s->top[i], cp);
    table_row_ep(out, &s->top[i]);
  }
  fprintf(out, "\nPareto front, peak memory against tokens/s per card (%d points, least memory first):\n",
          s->n_pareto);
  table_header(out, cp);
  for (int i = 0; i < s->n_pareto; i++) {
    table_row(out, i + 1, &s->pareto[i], cp);
    table_row_ep(out, &s->pareto[i]);
  }
  fprintf(out, "\nSearched %lld configurations in %.3f s: %lld costed, %lld fit", (long long)s->grid,
          s->elapsed_s, (long long)s->evaluated, (long long)s->valid);
  for (int k = 0; k < TPS_SKIP_COUNT; k++)
    if (s->skipped[k]) fprintf(out, ", %lld skipped (%s)", (long long)s->skipped[k], tps_skip_key((tps_skip_reason)k));
  fprintf(out, ".\n");
  if (s->recommended_tp > 0)
    fprintf(out, "Recommended default TP: %lld. %s.\n", (long long)s->recommended_tp, s->reason);
  else
    fprintf(out, "No recommendation: %s.\n", s->reason);
  char cmp[1024];
  tp_compare_text(r, cmp, sizeof cmp);
  if (cmp[0]) fprintf(out, "Uncertainty, best configuration of each TP: %s.\n", cmp);
  fprintf(out, "Time columns add up to the step (host: op issue the device does not hide, and fixed host "
               "costs). \"Same figures with\": other settings that give this row's figures exactly, "
               "listed once.\n");
  fprintf(out, "Memory: the most loaded pipeline stage, GB = 10^9 bytes. tokens/s/card = job tokens/s / cards. "
               "Ties: smaller TP, smaller PP, smaller VPP, %sSP off, recompute none < selective < full, larger micro-batch, "
               "distributed optimizer off.\n", cp ? "smaller CP (ring before Ulysses), " : "");
  table_intervals(out, r);
}

static void json_row(json_writer *w, const tps_search_row *row, const tps_run *b,
                     const tps_uncertainty *u) {
  const tps_search_config *c = &row->cfg;
  json_object_begin(w);
  json_key(w, "tp"); json_int(w, c->tp);
  json_key(w, "pp"); json_int(w, c->pp);
  json_key(w, "vpp"); json_int(w, c->vpp > 1 ? c->vpp : 1);
  json_key(w, "dp"); json_int(w, c->dp);
  if (c->cp > 1) { /* the row's CP layout (a searched or fixed CP) */
    json_key(w, "cp"); json_int(w, c->cp);
    json_key(w, "cp_algo"); json_string(w, tps_cp_algo_name((tps_cp_algo)c->cp_algo));
    json_key(w, "ulysses_degree"); json_int(w, c->ulysses_degree);
  }
  report_fp8_json(w, b);
  if (c->ep > 0) { /* a model with experts */
    json_key(w, "ep"); json_int(w, c->ep);
    json_key(w, "etp"); json_int(w, c->etp > 0 ? c->etp : c->tp);
  }
  json_key(w, "cards"); json_int(w, b->cards);
  json_key(w, "sp"); json_bool(w, c->sp);
  json_key(w, "recompute"); json_string(w, tps_recompute_name(c->recompute));
  json_key(w, "micro_batch"); json_int(w, c->micro_batch);
  json_key(w, "micro_batches"); json_int(w, row->micro_batches);
  json_key(w, "global_batch"); json_int(w, b->global_batch);
  json_key(w, "seq_len"); json_int(w, b->seq_len);
  json_key(w, "distributed_optimizer"); json_bool(w, c->distributed_optimizer);
  json_key(w, "fits"); json_bool(w, row->fits);
  json_key(w, "fits_with_margin"); json_bool(w, row->fits_with_margin);
  json_key(w, "memory_bytes"); report_json_memory(w, &row->memory);
  json_key(w, "peak_stage"); json_int(w, row->peak_stage);
  json_key(w, "step_time_s"); json_number(w, row->step_time_s);
  json_key(w, "time_s"); report_json_time(w, &row->time);
  json_key(w, "tokens_per_s"); json_number(w, row->tokens_per_s);
  json_key(w, "tokens_per_s_per_card"); json_number(w, row->tokens_per_s_per_card);
  json_key(w, "mfu"); json_number(w, row->mfu);
  json_key(w, "n_equivalent"); json_int(w, row->n_equivalent);
  json_key(w, "equivalent"); json_string(w, row->equivalent);
  if (u) report_json_intervals(w, u);
  json_object_end(w);
}

/* One comparison's verdict keys (docs/uncertainty.md, "Decisions"). */
static void json_verdict(json_writer *w, const tps_unc_verdict *v) {
  json_key(w, "indistinguishable"); json_bool(w, !v->beats);
  json_key(w, "intervals_overlap"); json_bool(w, v->overlap);
  json_key(w, "p_better"); json_number(w, v->p_better);
}

void report_search_json(FILE *out, const search_report *r) {
  const tps_search_result *s = r->res;
  const tps_run *b = &s->base;
  json_writer w;
  report_json_begin(&w, out, r->model, r->hw, true);
  json_key(&w, "cards"); json_int(&w, b->cards);
  json_key(&w, "seq_len"); json_int(&w, b->seq_len);
  json_key(&w, "global_batch"); json_int(&w, b->global_batch);
  json_key(&w, "global_batch_scaled"); json_bool(&w, s->global_batch_scaled);
  json_key(&w, "model_global_batch"); json_int(&w, s->model_global_batch);
  json_key(&w, "model_cards"); json_int(&w, s->model_cards);
  json_key(&w, "precision"); json_string(&w, tps_precision_name(b->precision));
  json_key(&w, "memory_margin"); json_number(&w, s->memory_margin);
  json_key(&w, "ranking");
  json_string(&w, rows_have_cp(s)
                      ? "tokens_per_s_per_card descending; ties: smaller tp, smaller pp, smaller vpp, "
                        "smaller cp (ring before ulysses), sp off, recompute none < selective < full, "
                        "larger micro_batch, distributed_optimizer off"
                      : "tokens_per_s_per_card descending; ties: smaller tp, smaller pp, smaller vpp, sp off, recompute "
                        "none < selective < full, larger micro_batch, distributed_optimizer off");
  json_key(&w, "counts");
  json_object_begin(&w);
  json_key(&w, "grid"); json_int(&w, s->grid);
  json_key(&w, "evaluated"); json_int(&w, s->evaluated);
  json_key(&w, "valid"); json_int(&w, s->valid);
  json_key(&w, "skipped");
  json_object_begin(&w);
  for (int k = 0; k < TPS_SKIP_COUNT; k++) {
    json_key(&w, tps_skip_key((tps_skip_reason)k));
    json_int(&w, s->skipped[k]);
  }
  json_object_end(&w);
  json_object_end(&w);
  json_key(&w, "elapsed_s"); json_number(&w, s->elapsed_s);
  json_key(&w, "results");
  json_array_begin(&w);
  for (int i = 0; i < s->n_top; i++) json_row(&w, &s->top[i], b, r->top_unc ? &r->top_unc[i] : NULL);
  json_array_end(&w);
  json_key(&w, "pareto");
  json_array_begin(&w);
  for (int i = 0; i < s->n_pareto; i++) json_row(&w, &s->pareto[i], b, NULL);
  json_array_end(&w);
  json_key(&w, "by_tp");
  json_array_begin(&w);
  for (int i = 0; i < s->n_tp; i++) {
    const tps_search_tp_best *t = &s->by_tp[i];
    json_object_begin(&w);
    json_key(&w, "tp"); json_int(&w, t->tp);
    json_key(&w, "splits_model"); json_bool(&w, t->splits);
    json_key(&w, "evaluated"); json_int(&w, t->evaluated);
    json_key(&w, "valid"); json_int(&w, t->valid);
    json_key(&w, "best");
    if (t->found) json_row(&w, &t->best, b, r->tp_unc ? &r->tp_unc[i] : NULL);
    else json_null(&w);
    json_object_end(&w);
  }
  json_array_end(&w);
  json_key(&w, "recommended_tp");
  if (s->recommended_tp > 0) json_int(&w, s->recommended_tp);
  else json_null(&w);
  json_key(&w, "reason"); json_string(&w, s->reason);
  if (r->top_unc && s->n_top > 0) {
    const tps_uncertainty *u0 = &r->top_unc[0];
    report_json_interval_basis(&w, u0, r->model_error);
    json_key(&w, "p_best"); json_number(&w, report_search_p_best(r->top_unc, s->n_top));
    json_key(&w, "top_comparisons");
    json_array_begin(&w);
    for (int i = 1; i < s->n_top; i++) {
      const tps_uncertainty *u = &r->top_unc[i];
      double x0 = s->top[0].tokens_per_s_per_card, xi = s->top[i].tokens_per_s_per_card;
      json_object_begin(&w);
      json_key(&w, "rank"); json_int(&w, i + 1);
      tps_unc_verdict v = tps_uncertainty_verdict(x0, u0, xi, u);
      json_verdict(&w, &v);
      json_object_end(&w);
    }
    json_array_end(&w);
    int rb = recommended_tp_index(s);
    json_key(&w, "comparisons");
    json_array_begin(&w);
    for (int i = 0; r->tp_unc && rb >= 0 && i < s->n_tp; i++) {
      if (i == rb || !s->by_tp[i].found) continue;
      const tps_uncertainty *u = &r->tp_unc[i];
      double x0 = s->top[0].tokens_per_s_per_card, xi = s->by_tp[i].best.tokens_per_s_per_card;
      json_object_begin(&w);
      json_key(&w, "tp"); json_int(&w, s->recommended_tp);
      json_key(&w, "other_tp"); json_int(&w, s->by_tp[i].tp);
      tps_unc_verdict v = tps_uncertainty_verdict(x0, u0, xi, u);
      json_verdict(&w, &v);
      json_object_end(&w);
    }
    json_array_end(&w);
    char cmp[1024];
    tp_compare_text(r, cmp, sizeof cmp);
    json_key(&w, "comparison"); json_string(&w, cmp);
  }
  json_object_end(&w);
  json_finish(&w);
}
