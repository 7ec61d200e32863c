/* Rendering `tp-sim estimate`: the recommendation sentence, and the table,
 * JSON, CSV and Markdown forms of the same rows. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reports/csv.h"
#include "reports/json_writer.h"
#include "reports/report.h"

#define GB 1e9

static double comm_share(const tps_estimate *e) {
  return e->step_time_s > 0 ? e->time.tp_comm / e->step_time_s : 0.0;
}

/* Card-seconds per token of each part of a step. */
static void per_token(const tps_estimate *e, double out[6]) {
  double k = (double)e->run.cards / e->tokens_per_step;
  const tps_time_split *t = &e->time;
  double parts[6] = {t->compute, t->tp_comm, t->overhead, t->pp_bubble, t->dp_comm, t->optimizer};
  for (int i = 0; i < 6; i++) out[i] = parts[i] * k;
}

/* " (mostly X: 60% of the extra time; Y: 30%)": what makes e slower per
 * token than best, largest first; "" when e is not slower. */
static const char *cause(const tps_estimate *e, const tps_estimate *best, const tps_hw *hw,
                         char *text, size_t text_size) {
  static const char *const names[6] = {"compute", "TP collectives", "host overhead per micro-batch",
                                       "pipeline bubble", "DP communication", "optimizer"};
  double a[6], b[6], d[6], extra = 0.0;
  per_token(e, a);
  per_token(best, b);
  for (int i = 0; i < 6; i++) {
    d[i] = a[i] - b[i];
    if (d[i] > 0) extra += d[i];
  }
  text[0] = '\0';
  if (extra <= 0) return text;
  int first = 0, second = -1;
  for (int i = 1; i < 6; i++)
    if (d[i] > d[first]) first = i;
  for (int i = 0; i < 6; i++)
    if (i != first && d[i] > 0 && (second < 0 || d[i] > d[second])) second = i;
  size_t n = (size_t)snprintf(text, text_size, " (mostly %s: %.0f%% of the extra time per token",
                              names[first], d[first] / extra * 100.0);
  if (first == 1 && e->run.tp > 1 && e->run.tp <= hw->devices_per_node &&
      hw->intra.topology == TPS_TOPOLOGY_FULL_MESH && n < text_size)
    n += (size_t)snprintf(text + n, text_size - n, ", %lld ranks on %lld full-mesh link%s each",
                          (long long)e->run.tp, (long long)e->run.tp - 1, e->run.tp > 2 ? "s" : "");
  if (second >= 0 && n < text_size)
    n += (size_t)snprintf(text + n, text_size - n, "; %s: %.0f%%", names[second],
                          d[second] / extra * 100.0);
  if (n < text_size) snprintf(text + n, text_size - n, ")");
  return text;
}

/* The recommended TP against every other that fits with margin, at the
 * intervals' level: the one verdict of tps_uncertainty_verdict (both the
 * intervals and the paired samples must say "better"; docs/uncertainty.md). */
static void compare_text(estimate_report *r) {
  const int b = r->recommended;
  const tps_estimate *best = &r->est[b];
  char *p = r->compare;
  size_t left = sizeof r->compare;
  p[0] = '\0';
  for (int i = 0; i < r->n && left > 1; i++) {
    const tps_estimate *e = &r->est[i];
    if (i == b || !e->fits_with_margin) continue;
    tps_unc_verdict v = tps_uncertainty_verdict(best->tokens_per_s_per_card, &r->unc[b],
                                                e->tokens_per_s_per_card, &r->unc[i]);
    char na[32], nb[32], what[320];
    snprintf(na, sizeof na, "TP %lld", (long long)best->run.tp);
    snprintf(nb, sizeof nb, "TP %lld", (long long)e->run.tp);
    tps_uncertainty_verdict_text(&v, na, nb, what, sizeof what);
    int w = snprintf(p, left, "%s%s", p == r->compare ? "" : "; ", what);
    if (w < 0 || (size_t)w >= left) break;
    p += w;
    left -= (size_t)w;
  }
}

void report_add_notes(estimate_report *r, const char *const *notes, int n) {
  const int max = (int)(sizeof r->assumptions / sizeof r->assumptions[0]);
  for (int i = 0; i < n && r->n_assumptions < max; i++) {
    r->assumptions[r->n_assumptions++] = notes[i];
    r->n_notes++;
  }
}

/* What would lower the memory of the row that needs least, given what it
 * already runs: "try A, B or C". A larger TP only if twice the largest
 * tried (evaluated or skipped) still sits in a node and divides every
 * module's heads; sequence parallelism only at TP > 1 (it splits
 * activations over the TP ranks); context parallelism only when each of 2
 * CP ranks keeps the search's minimum of tokens; more cards only
 * with the distributed optimizer, which shards its state over DP (without
 * it: the distributed optimizer). */
static void remedies_text(char *p, size_t left, const estimate_report *r, const tps_estimate *e) {
  const tps_run *run = &e->run;
  const char *items[8];
  int n = 0;
  int64_t max_tp = 0;
  for (int i = 0; i < r->n; i++)
    if (r->est[i].run.tp > max_tp) max_tp = r->est[i].run.tp;
  for (int i = 0; i < r->n_skipped; i++) /* tried, and not possible here */
    if (r->skipped[i].tp > max_tp) max_tp = r->skipped[i].tp;
  bool larger_tp = 2 * max_tp <= r->hw->devices_per_node;
  for (int m = 0; m < r->model->n_modules && larger_tp; m++)
    if (r->model->modules[m].heads > 0 && r->model->modules[m].heads % (2 * max_tp) != 0)
      larger_tp = false;
  if (larger_tp) items[n++] = "a larger TP";
  items[n++] = "pipeline stages";
  if (run->recompute == TPS_RECOMPUTE_NONE) items[n++] = "recompute";
  else if (run->recompute == TPS_RECOMPUTE_SELECTIVE) items[n++] = "full recompute";
  if (run->tp > 1 && !run->sp) items[n++] = "sequence parallelism";
  if (run->cp <= 1 && run->seq_len >= 2 * TPS_SEARCH_MIN_TOKENS_PER_CP_RANK)
    items[n++] = "context parallelism";
  if (!run->distributed_optimizer) items[n++] = "the distributed optimizer";
  else items[n++] = "more cards";
  int w = snprintf(p, left, "try ");
  for (int i = 0; i < n && w > 0 && (size_t)w < left; i++)
    w += snprintf(p + w, left - (size_t)w, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ",
                  items[i]);
}

void report_recommend(estimate_report *r) {
  r->n_assumptions = 0;
  r->n_notes = 0;
  r->assumptions[r->n_assumptions++] =
      "tokens/s counted per card = job tokens / step time / cards";
  r->assumptions[r->n_assumptions++] =
      "tokens per step = global batch x seq_len (decoder tokens, padding included)";
  r->assumptions[r->n_assumptions++] =
      "a published 'tokens/s' may be the whole job's rate (MindSpeed-MM prints global batch x "
      "tokens / step time): compare it with tokens_per_s; a per-card figure with tokens_per_s_per_card";
  r->assumptions[r->n_assumptions++] =
      "memory_bytes is the most loaded pipeline stage; GB = 10^9 bytes";
  /* The run switches are the same on every row. */
  const tps_run *run = r->n > 0 ? &r->est[0].run : NULL;
  snprintf(r->schedule, sizeof r->schedule, "%s pipeline schedule; %s; Adam with %s main gradients",
           run && run->vpp > 1 ? "interleaved 1F1B" : "1F1B",
           run && run->tp_comm_overlap ? "SP's TP collectives overlapped with their GEMMs"
                                       : "TP collectives on the critical path",
           run && (run->grad_reduce_bf16 || run->precision == TPS_PRECISION_FP16)
               ? tps_precision_name(run->grad_reduce_bf16 ? TPS_PRECISION_BF16 : run->precision)
               : "fp32");
  r->assumptions[r->n_assumptions++] = r->schedule;
  r->assumptions[r->n_assumptions++] =
      "recommended TP: highest tokens/s per card among sizes that fit with the memory margin; ties "
      "go to the smaller TP";
  r->compare[0] = '\0';
  if (r->unc)
    r->assumptions[r->n_assumptions++] =
        "*_interval: central value and interval at the level given, from the spreads of the "
        "profile constants (first order, through the evaluator) and the model error of the hardware "
        "family (validation/model-error.yaml); fits_at_interval from 200 sampled draws; "
        "docs/uncertainty.md";

  r->recommended = tps_recommend_tp(r->est, r->n);
  char *p = r->reason;
  size_t left = sizeof r->reason;
  int w;
  if (r->recommended < 0) {
    int smallest = 0;
    for (int i = 1; i < r->n; i++)
      if (r->est[i].memory.total < r->est[smallest].memory.total) smallest = i;
    if (r->n == 0) {
      snprintf(p, left, "no TP size could be evaluated");
      return;
    }
    w = snprintf(p, left,
                 "no TP size fits in %.1f GB per card with a %.0f%% margin; the smallest need is "
                 "TP=%lld at %.1f GB: ",
                 r->hw->memory_bytes / GB, r->est[0].run.memory_margin * 100.0,
                 (long long)r->est[smallest].run.tp, r->est[smallest].memory.total / GB);
    if (w > 0 && (size_t)w < left) remedies_text(p + w, left - (size_t)w, r, &r->est[smallest]);
    return;
  }
  const tps_estimate *best = &r->est[r->recommended];
  if (r->unc) compare_text(r);
  w = snprintf(p, left,
               "TP=%lld fits (%.1f GB free of %.1f GB per card) and has the highest tokens/s per "
               "card (%.0f)",
               (long long)best->run.tp, (r->hw->memory_bytes - best->memory.total) / GB,
               r->hw->memory_bytes / GB, best->tokens_per_s_per_card);
  for (int i = 0; i < r->n && w > 0 && (size_t)w < left; i++) {
    if (i == r->recommended) continue;
    const tps_estimate *e = &r->est[i];
    p += w;
    left -= (size_t)w;
    double change = (e->tokens_per_s_per_card / best->tokens_per_s_per_card - 1.0) * 100.0;
    double saved = (best->memory.total - e->memory.total) / GB;
    char why[256];
    if (!e->fits_with_margin)
      w = snprintf(p, left, "; TP=%lld does not fit (%.1f GB)", (long long)e->run.tp,
                   e->memory.total / GB);
    else
      w = snprintf(p, left, "; TP=%lld: %.1f%% %s throughput%s, %.1f GB per card %s",
                   (long long)e->run.tp, change < 0 ? -change : change,
                   change < 0 ? "less" : "more", cause(e, best, r->hw, why, sizeof why),
                   saved < 0 ? -saved : saved, saved >= 0 ? "saved" : "more");
  }
}

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

/* Does the row fit once the caching allocator's excess over allocated
 * memory (activations x (allocator_overhead - 1)) is left out? */
static bool fits_allocated(const estimate_report *r, const tps_estimate *e) {
  return e->memory.total - e->memory.allocator <= r->hw->memory_bytes;
}

/* Rows that do not fit only because of the allocator's excess: PyTorch's
 * caching allocator (and torch_npu's port) releases its cached blocks and
 * retries an allocation that fails before it reports out of memory, so
 * such a run can fit, slower, unless fragmentation inside the segments in
 * use prevents it. */
static void allocator_excess_line(FILE *out, const estimate_report *r) {
  int shown = 0;
  for (int i = 0; i < r->n; i++) {
    const tps_estimate *e = &r->est[i];
    if (e->fits || !(e->memory.allocator > 0) || !fits_allocated(r, e)) continue;
    fprintf(out, "%s TP %lld: %.2f GB", shown++ ? ";" : "Allocator:", (long long)e->run.tp,
            (e->memory.total - e->memory.allocator) / GB);
  }
  if (shown)
    fprintf(out, " without the caching allocator's excess over allocated memory would fit in %.1f GB: "
                 "the allocator releases its cached blocks and retries before it reports out of "
                 "memory, so %s can fit, slower, unless fragmentation prevents it.\n",
            r->hw->memory_bytes / GB, shown == 1 ? "that run" : "those runs");
}

/* With experts, the part of "TP comm" that is the MoE token dispatcher's
 * (all-to-all over EP, gather / scatter over expert TP). */
static void dispatch_line(FILE *out, const estimate_report *r) {
  int shown = 0;
  for (int i = 0; i < r->n; i++) {
    const tps_estimate *e = &r->est[i];
    if (!(e->time.expert_a2a > 0) || !(e->step_time_s > 0)) continue;
    fprintf(out, "%s %.1f%% at TP %lld", shown++ ? "," : "TP comm includes the MoE dispatcher's collectives:",
            e->time.expert_a2a / e->step_time_s * 100.0, (long long)e->run.tp);
  }
  if (shown) fprintf(out, " (of the step).\n");
}

static void recommendation_lines(FILE *out, const estimate_report *r) {
  if (r->recommended >= 0)
    fprintf(out, "Recommended default TP: %lld. %s.\n", (long long)r->est[r->recommended].run.tp,
            r->reason);
  else
    fprintf(out, "No recommendation: %s.\n", r->reason);
}

/* The rows with memory and tokens/s per card as `central (lo-hi)`, then
 * what the intervals rest on and the comparison of TPs. */
/* The input notes (flags or keys let through by --allow-unmodelled), the
 * last n_notes of the assumptions. */
static void notes_lines(FILE *out, const estimate_report *r) {
  if (r->n_notes <= 0) return;
  fprintf(out, "\nAssumptions:\n");
  for (int i = r->n_assumptions - r->n_notes; i < r->n_assumptions; i++)
    fprintf(out, "- %s\n", r->assumptions[i]);
}

void report_unc_heads(report_unc_cols *c, double level) {
  double pct = level * 100.0;
  snprintf(c->h_mem, sizeof c->h_mem, "GB/card (%g%%)", pct);
  snprintf(c->h_tpc, sizeof c->h_tpc, "tokens/s/card (%g%%)", pct);
  snprintf(c->h_fit, sizeof c->h_fit, "at %g%%", pct);
}

void report_unc_cells(report_unc_cols *c, const tps_uncertainty *u, double memory_bytes,
                      double tokens_per_s_per_card) {
  snprintf(c->mem, sizeof c->mem, "%.2f (%.1f-%.1f)", memory_bytes / GB, u->memory_bytes.lo / GB,
           u->memory_bytes.hi / GB);
  snprintf(c->tpc, sizeof c->tpc, "%.0f (%.0f-%.0f)", tokens_per_s_per_card,
           u->tokens_per_s_per_card.lo, u->tokens_per_s_per_card.hi);
}

/* What each row's memory is made of (the central values; the terms add up
 * to GB/card up to rounding); the FP8 copies only when a row has them. */
static void memory_terms_lines(FILE *out, const estimate_report *r) {
  if (r->n > 0) fprintf(out, "Memory per card, the most loaded pipeline stage, GB = 10^9 bytes:\n");
  bool any_fp8 = false;
  for (int i = 0; i < r->n; i++) any_fp8 = any_fp8 || r->est[i].memory.fp8 > 0.0;
  for (int i = 0; i < r->n; i++) {
    const tps_memory *m = &r->est[i].memory;
    fprintf(out, "  TP %lld: weights %.2f + gradients %.2f + optimizer %.2f + activations %.2f",
            (long long)r->est[i].run.tp, m->weights / GB, m->grads / GB, m->optimizer / GB,
            m->activations / GB);
    if (any_fp8) fprintf(out, " + FP8 copies %.2f", m->fp8 / GB);
    fprintf(out, " + allocator %.2f + runtime %.2f\n", m->allocator / GB,
            m->runtime_reserve / GB);
  }
  fprintf(out, "tokens/s/card = job tokens/s / cards.\n");
}

static void table_with_intervals(FILE *out, const estimate_report *r) {
  double pct = r->unc[0].level * 100.0;
  report_unc_cols c;
  report_unc_heads(&c, r->unc[0].level);
  fprintf(out, "  TP  PP  DP  %-21s fits  %-6s   step s  %-20s tokens/s job    MFU  TP comm\n",
          c.h_mem, c.h_fit, c.h_tpc);
  for (int i = 0; i < r->n; i++) {
    const tps_estimate *e = &r->est[i];
    const tps_uncertainty *u = &r->unc[i];
    report_unc_cells(&c, u, e->memory.total, e->tokens_per_s_per_card);
    fprintf(out, "%4lld %3lld %3lld  %-21s %-4s  %-6s %8.3f  %-20s %12.1f %5.1f%% %7.1f%%\n",
            (long long)e->run.tp, (long long)e->run.pp, (long long)e->run.dp, c.mem,
            yes_no(e->fits), tps_fits_at_interval_name(u->fits_at_interval), e->step_time_s, c.tpc,
            e->tokens_per_s, e->mfu * 100.0, comm_share(e) * 100.0);
  }
  for (int i = 0; i < r->n_skipped; i++)
    fprintf(out, "%4lld   -   -  %-21s -     -             -  %-20s            -      -        -  (%s)\n",
            (long long)r->skipped[i].tp, "-", "-", r->skipped[i].why);
  fprintf(out, "\n");
  recommendation_lines(out, r);
  if (r->compare[0]) fprintf(out, "Uncertainty: %s.\n", r->compare);
  /* What the intervals rest on, and what moves tokens/s most (at the
   * recommended TP, else the first row). */
  const int k = r->recommended >= 0 ? r->recommended : 0;
  const tps_uncertainty *u = &r->unc[k];
  fprintf(out, "Intervals: %g%%, from %d profile constant%s with a spread", pct, u->n_constants,
          u->n_constants == 1 ? "" : "s");
  if (r->model_error)
    fprintf(out, " and the model error of %s (time %.1f%%, memory %.1f%%; validation/model-error.yaml)",
            r->model_error->hw[0] ? r->model_error->hw : r->model_error->stack,
            r->model_error->time_sd * 100.0, r->model_error->memory_sd * 100.0);
  else
    fprintf(out, "; no model error is known for %s", r->hw->name);
  fprintf(out, ".");
  /* Constants below 1% of the variance of log(tokens/s) are not named
   * here (JSON lists the top three whatever their share). */
  int named = 0;
  for (int j = 0; j < u->n_top; j++) {
    if (u->top[j].share < 0.01) break;
    if (!named++) fprintf(out, " At TP %lld tokens/s moves most with", (long long)r->est[k].run.tp);
    fprintf(out, "%s %s (1%% more %s it %.2f%%; %.0f%% of the variance)", named > 1 ? "," : "",
            u->top[j].constant, u->top[j].elasticity < 0 ? "lowers" : "raises",
            fabs(u->top[j].elasticity), u->top[j].share * 100.0);
  }
  if (named)
    fprintf(out, "; the model error: %.0f%%.", u->model_error_share * 100.0);
  else if (u->n_constants > 0)
    fprintf(out, " At TP %lld no constant carries 1%% of the variance of tokens/s; the model error: "
            "%.0f%%.", (long long)r->est[k].run.tp, u->model_error_share * 100.0);
  fprintf(out, "\n");
  allocator_excess_line(out, r);
  dispatch_line(out, r);
  memory_terms_lines(out, r);
  notes_lines(out, r);
}

void report_estimate_table(FILE *out, const estimate_report *r) {
  const tps_run *run0 = r->n > 0 ? &r->est[0].run : NULL;
  fprintf(out, "%s on %s (%s, %.1f GB per card)", r->model->name, r->hw->name, r->hw->device_name,
          r->hw->memory_bytes / GB);
  if (run0)
    fprintf(out, ": %lld cards, seq %lld, micro-batch %lld, global batch %lld, %s, recompute %s%s%s",
            (long long)run0->cards, (long long)run0->seq_len, (long long)run0->micro_batch,
            (long long)run0->global_batch, tps_precision_name(run0->precision),
            tps_recompute_name(run0->recompute), run0->sp ? ", SP" : "",
            run0->distributed_optimizer ? ", distributed optimizer" : "");
  if (run0 && run0->tp_comm_overlap) fprintf(out, ", TP comm overlap");
  if (run0) report_state_words(out, run0);
  if (run0 && run0->vpp > 1)
    fprintf(out, ", interleaved pipeline (VPP %lld)", (long long)run0->vpp);
  if (run0 && run0->cp > 1) report_cp_words(out, run0);
  if (run0) report_fp8_words(out, run0);
  if (run0) report_ep_words(out, run0);
  if (run0 && run0->mean_seq_len > 0 && run0->mean_seq_len < run0->seq_len)
    fprintf(out, ", samples of mean length %lld (time at the mean, memory at seq %lld)",
            (long long)run0->mean_seq_len, (long long)run0->seq_len);
  if (r->hw->stack.name[0])
    fprintf(out, "; stack %s", r->hw->stack.name);
  if (r->params_total > 0) {
    fprintf(out, "\n%.2fB parameters", r->params_total / 1e9);
    if (r->params_mtp > 0)
      fprintf(out, " (%.2fB main model + %.2fB MTP)", (r->params_total - r->params_mtp) / 1e9,
              r->params_mtp / 1e9);
    if (r->params_active > 0 && r->params_active < r->params_total)
      fprintf(out, ", %.2fB active per token", r->params_active / 1e9);
    fprintf(out, ", %.2fB trainable", r->params_trainable / 1e9);
  }
  fprintf(out, "\n\n");
  if (r->unc) {
    table_with_intervals(out, r);
    return;
  }
  fprintf(out, "  TP  PP  DP  GB/card  fits   step s  tokens/s/card  tokens/s job    MFU  TP comm\n");
  for (int i = 0; i < r->n; i++) {
    const tps_estimate *e = &r->est[i];
    fprintf(out, "%4lld %3lld %3lld %8.2f  %-4s %8.3f %14.1f %13.1f %5.1f%% %7.1f%%\n",
            (long long)e->run.tp, (long long)e->run.pp, (long long)e->run.dp, e->memory.total / GB,
            yes_no(e->fits), e->step_time_s, e->tokens_per_s_per_card, e->tokens_per_s,
            e->mfu * 100.0, comm_share(e) * 100.0);
  }
  for (int i = 0; i < r->n_skipped; i++)
    fprintf(out, "%4lld   -   -        -  -           -              -             -      -        -  (%s)\n",
            (long long)r->skipped[i].tp, r->skipped[i].why);
  fprintf(out, "\n");
  recommendation_lines(out, r);
  allocator_excess_line(out, r);
  dispatch_line(out, r);
  memory_terms_lines(out, r);
  notes_lines(out, r);
}

void report_state_words(FILE *out, const tps_run *run) {
  if (run->grad_reduce_bf16) fprintf(out, ", bf16 gradients");
  if (run->reuse_fp32_param) fprintf(out, ", fp32 master weights reused (MindSpeed)");
  if (run->recompute_activation) fprintf(out, ", MLP activation recomputed");
  if (run->cross_entropy == TPS_CE_TE) fprintf(out, ", TE cross entropy");
}

void report_json_time(json_writer *w, const tps_time_split *t) {
  json_object_begin(w);
  json_key(w, "compute"); json_number(w, t->compute);
  json_key(w, "tp_comm"); json_number(w, t->tp_comm);
  /* only with experts: the part of tp_comm that is the MoE dispatcher's */
  if (t->expert_a2a > 0) { json_key(w, "moe_dispatch"); json_number(w, t->expert_a2a); }
  json_key(w, "pp_bubble"); json_number(w, t->pp_bubble);
  json_key(w, "dp_comm"); json_number(w, t->dp_comm);
  json_key(w, "optimizer"); json_number(w, t->optimizer);
  json_key(w, "overhead"); json_number(w, t->overhead);
  json_object_end(w);
}

void report_json_memory(json_writer *w, const tps_memory *m) {
  json_object_begin(w);
  json_key(w, "weights"); json_number(w, m->weights);
  json_key(w, "grads"); json_number(w, m->grads);
  json_key(w, "optimizer"); json_number(w, m->optimizer);
  json_key(w, "activations"); json_number(w, m->activations);
  json_key(w, "allocator"); json_number(w, m->allocator);
  json_key(w, "runtime_reserve"); json_number(w, m->runtime_reserve);
  /* only with FP8: its weight copies, transposes and amax histories */
  if (m->fp8 > 0) { json_key(w, "fp8"); json_number(w, m->fp8); }
  json_key(w, "total"); json_number(w, m->total);
  json_object_end(w);
}

void report_json_begin(json_writer *w, FILE *out, const tps_model *m, const tps_hw *hw,
                       bool with_memory) {
  json_init(w, out);
  json_object_begin(w);
  json_key(w, "tool"); json_string(w, "tp-sim");
  json_key(w, "version"); json_string(w, TPSIM_VERSION);
  json_key(w, "model"); json_string(w, m->name);
  json_key(w, "hw"); json_string(w, hw->name);
  json_key(w, "stack"); json_string(w, hw->stack.name);
  if (with_memory) {
    json_key(w, "device_memory_bytes"); json_number(w, hw->memory_bytes);
  }
}

static void json_pair(json_writer *w, const char *key, tps_interval iv) {
  json_key(w, key);
  json_array_begin(w);
  json_number(w, iv.lo);
  json_number(w, iv.hi);
  json_array_end(w);
}

/* One row's intervals, fits_at_interval and sensitivities. */
void report_json_interval_basis(json_writer *w, const tps_uncertainty *u,
                                const tps_model_error *me) {
  json_key(w, "interval");
  json_object_begin(w);
  json_key(w, "level"); json_number(w, u->level);
  json_key(w, "samples"); json_int(w, u->n_samples);
  json_key(w, "model_error");
  if (me) {
    json_object_begin(w);
    json_key(w, "family");
    json_string(w, me->hw[0] ? me->hw : me->stack);
    json_key(w, "time_sd"); json_number(w, me->time_sd);
    json_key(w, "memory_sd"); json_number(w, me->memory_sd);
    json_object_end(w);
  } else {
    json_null(w);
  }
  json_object_end(w);
}

void report_json_intervals(json_writer *w, const tps_uncertainty *u) {
  json_pair(w, "memory_bytes_interval", u->memory_bytes);
  json_pair(w, "step_time_s_interval", u->step_time_s);
  json_pair(w, "tokens_per_s_interval", u->tokens_per_s);
  json_pair(w, "tokens_per_s_per_card_interval", u->tokens_per_s_per_card);
  json_pair(w, "mfu_interval", u->mfu);
  json_key(w, "fits_at_interval"); json_string(w, tps_fits_at_interval_name(u->fits_at_interval));
  json_key(w, "p_fits"); json_number(w, u->p_fits);
  json_key(w, "sensitivities");
  json_array_begin(w);
  for (int j = 0; j < u->n_top; j++) {
    json_object_begin(w);
    json_key(w, "constant"); json_string(w, u->top[j].constant);
    json_key(w, "elasticity"); json_number(w, u->top[j].elasticity);
    json_key(w, "share"); json_number(w, u->top[j].share);
    json_object_end(w);
  }
  json_array_end(w);
  json_key(w, "model_error_share"); json_number(w, u->model_error_share);
}

void report_estimate_json(FILE *out, const estimate_report *r) {
  json_writer w;
  report_json_begin(&w, out, r->model, r->hw, true);
  json_key(&w, "params");
  json_object_begin(&w);
  json_key(&w, "total"); json_number(&w, r->params_total);
  json_key(&w, "active");
  json_number(&w, r->params_active > 0 ? r->params_active : r->params_total);
  if (r->params_mtp > 0) { json_key(&w, "mtp"); json_number(&w, r->params_mtp); }
  json_key(&w, "trainable"); json_number(&w, r->params_trainable);
  json_object_end(&w);
  json_key(&w, "assumptions");
  json_array_begin(&w);
  for (int i = 0; i < r->n_assumptions; i++) json_string(&w, r->assumptions[i]);
  json_array_end(&w);
  json_key(&w, "results");
  json_array_begin(&w);
  for (int i = 0; i < r->n; i++) {
    const tps_estimate *e = &r->est[i];
    json_object_begin(&w);
    json_key(&w, "tp"); json_int(&w, e->run.tp);
    json_key(&w, "pp"); json_int(&w, e->run.pp);
    json_key(&w, "vpp"); json_int(&w, e->run.vpp > 1 ? e->run.vpp : 1);
    json_key(&w, "dp"); json_int(&w, e->run.dp);
    if (e->run.cp > 1) report_cp_json(&w, &e->run);
    report_fp8_json(&w, &e->run);
    report_ep_json(&w, &e->run);
    json_key(&w, "cards"); json_int(&w, e->run.cards);
    json_key(&w, "sp"); json_bool(&w, e->run.sp);
    if (e->run.tp_comm_overlap) { json_key(&w, "tp_comm_overlap"); json_bool(&w, true); }
    if (e->run.grad_reduce_bf16) { json_key(&w, "grad_reduce_bf16"); json_bool(&w, true); }
    if (e->run.reuse_fp32_param) { json_key(&w, "reuse_fp32_param"); json_bool(&w, true); }
    if (e->run.recompute_activation) { json_key(&w, "recompute_activation"); json_bool(&w, true); }
    if (e->run.cross_entropy != TPS_CE_MEGATRON) {
      json_key(&w, "cross_entropy");
      json_string(&w, tps_cross_entropy_name(e->run.cross_entropy));
    }
    json_key(&w, "recompute"); json_string(&w, tps_recompute_name(e->run.recompute));
    json_key(&w, "micro_batch"); json_int(&w, e->run.micro_batch);
    json_key(&w, "global_batch"); json_int(&w, e->run.global_batch);
    json_key(&w, "seq_len"); json_int(&w, e->run.seq_len);
    json_key(&w, "mean_seq_len"); json_int(&w, e->run.mean_seq_len);
    json_key(&w, "precision"); json_string(&w, tps_precision_name(e->run.precision));
    json_key(&w, "distributed_optimizer"); json_bool(&w, e->run.distributed_optimizer);
    json_key(&w, "fits"); json_bool(&w, e->fits);
    json_key(&w, "fits_with_margin"); json_bool(&w, e->fits_with_margin);
    json_key(&w, "fits_allocated"); json_bool(&w, fits_allocated(r, e));
    json_key(&w, "memory_bytes"); report_json_memory(&w, &e->memory);
    json_key(&w, "step_time_s"); json_number(&w, e->step_time_s);
    json_key(&w, "time_s"); report_json_time(&w, &e->time);
    json_key(&w, "tokens_per_s"); json_number(&w, e->tokens_per_s);
    json_key(&w, "tokens_per_s_per_card"); json_number(&w, e->tokens_per_s_per_card);
    json_key(&w, "mfu"); json_number(&w, e->mfu);
    if (r->unc) report_json_intervals(&w, &r->unc[i]);
    json_key(&w, "stages");
    json_array_begin(&w);
    for (int s = 0; s < e->n_stages; s++) {
      json_object_begin(&w);
      json_key(&w, "stage"); json_int(&w, e->stages[s].stage);
      json_key(&w, "layers"); json_string(&w, e->stages[s].layers);
      json_key(&w, "in_flight_micro_batches"); json_int(&w, e->stages[s].in_flight);
      json_key(&w, "memory_bytes"); report_json_memory(&w, &e->stages[s].memory);
      json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
  }
  json_array_end(&w);
  json_key(&w, "skipped");
  json_array_begin(&w);
  for (int i = 0; i < r->n_skipped; i++) {
    json_object_begin(&w);
    json_key(&w, "tp"); json_int(&w, r->skipped[i].tp);
    json_key(&w, "reason"); json_string(&w, r->skipped[i].why);
    json_object_end(&w);
  }
  json_array_end(&w);
  json_key(&w, "recommended_tp");
  if (r->recommended >= 0)
    json_int(&w, r->est[r->recommended].run.tp);
  else
    json_null(&w); /* nothing fits */
  json_key(&w, "reason"); json_string(&w, r->reason);
  if (r->unc) {
    report_json_interval_basis(&w, &r->unc[0], r->model_error);
    json_key(&w, "comparisons");
    json_array_begin(&w);
    for (int i = 0; r->recommended >= 0 && i < r->n; i++) {
      const int b = r->recommended;
      if (i == b || !r->est[i].fits_with_margin) continue;
      json_object_begin(&w);
      json_key(&w, "tp"); json_int(&w, r->est[b].run.tp);
      json_key(&w, "other_tp"); json_int(&w, r->est[i].run.tp);
      tps_unc_verdict v = tps_uncertainty_verdict(r->est[b].tokens_per_s_per_card, &r->unc[b],
                                                  r->est[i].tokens_per_s_per_card, &r->unc[i]);
      json_key(&w, "indistinguishable"); json_bool(&w, !v.beats);
      json_key(&w, "intervals_overlap"); json_bool(&w, v.overlap);
      json_key(&w, "p_better"); json_number(&w, v.p_better);
      json_object_end(&w);
    }
    json_array_end(&w);
    json_key(&w, "comparison"); json_string(&w, r->compare);
  }
  json_object_end(&w);
  json_finish(&w);
}

void report_estimate_csv(FILE *out, const estimate_report *r) {
  fprintf(out, "tp,pp,dp,cards,sp,recompute,micro_batch,global_batch,seq_len,fits,"
               "weights_bytes,grads_bytes,optimizer_bytes,activations_bytes,allocator_bytes,"
               "runtime_reserve_bytes,total_bytes,step_time_s,compute_s,tp_comm_s,pp_bubble_s,dp_comm_s,optimizer_s,overhead_s,"
               "tokens_per_s,tokens_per_s_per_card,mfu");
  /* Intervals (docs/uncertainty.md): added after every former column. */
  if (r->unc)
    fprintf(out, ",interval_level,total_bytes_lo,total_bytes_hi,step_time_s_lo,step_time_s_hi,"
                 "tokens_per_s_per_card_lo,tokens_per_s_per_card_hi,mfu_lo,mfu_hi,"
                 "fits_at_interval,p_fits");
  fputc('\n', out);
  for (int i = 0; i < r->n; i++) {
    const tps_estimate *e = &r->est[i];
    const tps_memory *m = &e->memory;
    fprintf(out, "%lld,%lld,%lld,%lld,%s,", (long long)e->run.tp, (long long)e->run.pp,
            (long long)e->run.dp, (long long)e->run.cards, e->run.sp ? "true" : "false");
    csv_field(out, tps_recompute_name(e->run.recompute));
    fprintf(out, ",%lld,%lld,%lld,%s,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,"
                 "%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g",
            (long long)e->run.micro_batch,
            (long long)e->run.global_batch, (long long)e->run.seq_len, e->fits ? "true" : "false",
            m->weights, m->grads, m->optimizer, m->activations, m->allocator, m->runtime_reserve,
            m->total, e->step_time_s, e->time.compute, e->time.tp_comm, e->time.pp_bubble, e->time.dp_comm,
            e->time.optimizer, e->time.overhead, e->tokens_per_s, e->tokens_per_s_per_card, e->mfu);
    if (r->unc) {
      const tps_uncertainty *u = &r->unc[i];
      fprintf(out, ",%g,%.0f,%.0f,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%s,%.9g", u->level,
              u->memory_bytes.lo, u->memory_bytes.hi, u->step_time_s.lo, u->step_time_s.hi,
              u->tokens_per_s_per_card.lo, u->tokens_per_s_per_card.hi, u->mfu.lo, u->mfu.hi,
              tps_fits_at_interval_name(u->fits_at_interval), u->p_fits);
    }
    fputc('\n', out);
  }
}

void report_estimate_md(FILE *out, const estimate_report *r) {
  fprintf(out, "# %s on %s\n\n", r->model->name, r->hw->name);
  if (r->unc) {
    /* With intervals: "47.91 (43.7-52.5)" cells and fits at the level. */
    double pct = r->unc[0].level * 100.0;
    fprintf(out, "| TP | PP | DP | GB per card (%g%%) | fits | fits at %g%% | step (s) | tokens/s per "
                 "card (%g%%) | tokens/s job | MFU | TP comm |\n",
            pct, pct, pct);
    fprintf(out, "|---:|---:|---:|---:|:---:|:---:|---:|---:|---:|---:|---:|\n");
  } else {
    fprintf(out, "| TP | PP | DP | GB per card | fits | step (s) | tokens/s per card | tokens/s job | MFU | TP comm |\n");
    fprintf(out, "|---:|---:|---:|---:|:---:|---:|---:|---:|---:|---:|\n");
  }
  for (int i = 0; i < r->n; i++) {
    const tps_estimate *e = &r->est[i];
    if (r->unc) {
      const tps_uncertainty *u = &r->unc[i];
      fprintf(out, "| %lld | %lld | %lld | %.2f (%.1f-%.1f) | %s | %s | %.3f | %.0f (%.0f-%.0f) | "
                   "%.1f | %.1f%% | %.1f%% |\n",
              (long long)e->run.tp, (long long)e->run.pp, (long long)e->run.dp,
              e->memory.total / GB, u->memory_bytes.lo / GB, u->memory_bytes.hi / GB,
              yes_no(e->fits), tps_fits_at_interval_name(u->fits_at_interval), e->step_time_s,
              e->tokens_per_s_per_card, u->tokens_per_s_per_card.lo, u->tokens_per_s_per_card.hi,
              e->tokens_per_s, e->mfu * 100.0, comm_share(e) * 100.0);
      continue;
    }
    fprintf(out, "| %lld | %lld | %lld | %.2f | %s | %.3f | %.1f | %.1f | %.1f%% | %.1f%% |\n",
            (long long)e->run.tp, (long long)e->run.pp, (long long)e->run.dp, e->memory.total / GB,
            yes_no(e->fits), e->step_time_s, e->tokens_per_s_per_card, e->tokens_per_s,
            e->mfu * 100.0, comm_share(e) * 100.0);
  }
  for (int i = 0; i < r->n_skipped; i++)
    fprintf(out, "| %lld | | | | | | | | | %s%s |\n", (long long)r->skipped[i].tp, r->unc ? "| " : "",
            r->skipped[i].why);
  if (r->recommended >= 0) {
    fprintf(out, "\n**Recommended default TP: %lld.** %s.\n\n",
            (long long)r->est[r->recommended].run.tp, r->reason);
    if (r->compare[0]) fprintf(out, "Uncertainty: %s.\n\n", r->compare);
    fprintf(out, "Assumptions:\n\n");
  } else
    fprintf(out, "\n**No recommendation:** %s.\n\nAssumptions:\n\n", r->reason);
  for (int i = 0; i < r->n_assumptions; i++) fprintf(out, "- %s\n", r->assumptions[i]);
}
