/* Rendering `tp-sim recommend`: the ranked configurations of a search, its
 * Pareto front of peak memory against throughput, the skip counts and the
 * recommended default TP, as a terminal table or JSON. */
#include "reports/search_report.h"

#include "reports/json_writer.h"
#include "reports/report.h"

#define GB 1e9 /* bytes */

static void table_header(FILE *out) {
  fprintf(out, "  #   TP  PP VPP   DP  SP  recompute  mb  dopt  GB/card  tokens/s/card    MFU  "
               "step s  compute  TP comm  bubble  DP comm  optim    host  same figures with\n");
}

static void table_row(FILE *out, int rank, const tps_search_row *row) {
  const tps_search_config *c = &row->cfg;
  const tps_time_split *t = &row->time;
  fprintf(out, "%3d %4lld %3lld %3lld %4lld %3s %10s %3lld %5s %8.2f %14.1f %5.1f%% %7.3f %8.3f %8.3f %7.3f %8.3f %6.3f %7.3f%s%s\n",
          rank, (long long)c->tp, (long long)c->pp, (long long)(c->vpp > 1 ? c->vpp : 1),
          (long long)c->dp, c->sp ? "on" : "off",
          tps_recompute_name(c->recompute), (long long)c->micro_batch,
          c->distributed_optimizer ? "on" : "off", row->memory.total / GB, row->tokens_per_s_per_card,
          row->mfu * 100.0, row->step_time_s, t->compute, t->tp_comm, t->pp_bubble, t->dp_comm,
          t->optimizer, t->overhead, row->n_equivalent ? "  " : "",
          row->n_equivalent ? row->equivalent : "");
}

void report_search_table(FILE *out, const search_report *r) {
  const tps_search_result *s = r->res;
  const tps_run *b = &s->base;
  fprintf(out, "%s on %s (%s, %.1f GB per card): %lld cards, seq %lld, global batch %lld, %s, "
               "memory margin %.0f%%",
          r->model->name, r->hw->name, r->hw->device_name, r->hw->memory_bytes / GB,
          (long long)b->cards, (long long)b->seq_len, (long long)b->global_batch,
          tps_precision_name(b->precision), s->memory_margin * 100.0);
  /* CP is held fixed by the search: every row runs it (DP is per CP group). */
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
  table_header(out);
  for (int i = 0; i < s->n_top; i++) table_row(out, i + 1, &s->top[i]);
  fprintf(out, "\nPareto front, peak memory against tokens/s per card (%d points, least memory first):\n",
          s->n_pareto);
  table_header(out);
  for (int i = 0; i < s->n_pareto; i++) table_row(out, i + 1, &s->pareto[i]);
  fprintf(out, "\nSearched %lld configurations in %.3f s: %lld costed, %lld fit", (long long)s->grid,
          s->elapsed_s, (long long)s->evaluated, (long long)s->valid);
  for (int k = 0; k < TPS_SKIP_COUNT; k++)
    if (s->skipped[k]) fprintf(out, ", %lld skipped (%s)", (long long)s->skipped[k], tps_skip_key((tps_skip_reason)k));
  fprintf(out, ".\n");
  if (s->recommended_tp > 0)
    fprintf(out, "Recommended default TP: %lld. %s.\n", (long long)s->recommended_tp, s->reason);
  else
    fprintf(out, "No recommendation: %s.\n", s->reason);
  fprintf(out, "Time columns add up to the step (host: op issue the device does not hide, and fixed host "
               "costs). \"Same figures with\": other settings that give this row's figures exactly, "
               "listed once.\n");
  fprintf(out, "Memory: the most loaded pipeline stage, GB = 10^9 bytes. tokens/s/card = job tokens/s / cards. "
               "Ties: smaller TP, smaller PP, smaller VPP, SP off, recompute none < selective < full, larger micro-batch, "
               "distributed optimizer off.\n");
}

static void json_row(json_writer *w, const tps_search_row *row, const tps_run *b) {
  const tps_search_config *c = &row->cfg;
  json_object_begin(w);
  json_key(w, "tp"); json_int(w, c->tp);
  json_key(w, "pp"); json_int(w, c->pp);
  json_key(w, "vpp"); json_int(w, c->vpp > 1 ? c->vpp : 1);
  json_key(w, "dp"); json_int(w, c->dp);
  report_cp_json(w, b);
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
  json_key(w, "time_s");
  json_object_begin(w);
  json_key(w, "compute"); json_number(w, row->time.compute);
  json_key(w, "tp_comm"); json_number(w, row->time.tp_comm);
  json_key(w, "pp_bubble"); json_number(w, row->time.pp_bubble);
  json_key(w, "dp_comm"); json_number(w, row->time.dp_comm);
  json_key(w, "optimizer"); json_number(w, row->time.optimizer);
  json_key(w, "overhead"); json_number(w, row->time.overhead);
  json_object_end(w);
  json_key(w, "tokens_per_s"); json_number(w, row->tokens_per_s);
  json_key(w, "tokens_per_s_per_card"); json_number(w, row->tokens_per_s_per_card);
  json_key(w, "mfu"); json_number(w, row->mfu);
  json_key(w, "n_equivalent"); json_int(w, row->n_equivalent);
  json_key(w, "equivalent"); json_string(w, row->equivalent);
  json_object_end(w);
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
  json_string(&w, "tokens_per_s_per_card descending; ties: smaller tp, smaller pp, smaller vpp, sp off, recompute "
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
  for (int i = 0; i < s->n_top; i++) json_row(&w, &s->top[i], b);
  json_array_end(&w);
  json_key(&w, "pareto");
  json_array_begin(&w);
  for (int i = 0; i < s->n_pareto; i++) json_row(&w, &s->pareto[i], b);
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
    if (t->found) json_row(&w, &t->best, b);
    else json_null(&w);
    json_object_end(&w);
  }
  json_array_end(&w);
  json_key(&w, "recommended_tp");
  if (s->recommended_tp > 0) json_int(&w, s->recommended_tp);
  else json_null(&w);
  json_key(&w, "reason"); json_string(&w, s->reason);
  json_object_end(&w);
  json_finish(&w);
}
