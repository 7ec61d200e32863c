/* The capacity-planning report: the Markdown, HTML (inline CSS + inline
 * SVG), CSV and JSON renderers of a built bundle (sim/cli/report_build.c
 * builds it). See report_bundle.h. */
#define _DEFAULT_SOURCE /* flock */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/outfile.h"
#include "reports/json_writer.h"
#include "reports/report_bundle.h"
#include "reports/svg.h"

#define GB 1e9
#define MS 1e3

/* ---- helpers ---- */

static double comm_share(const tps_estimate *e) {
  return e->step_time_s > 0 ? e->time.tp_comm / e->step_time_s : 0.0;
}

static const tps_estimate *recommended(const report_bundle *b) {
  return b->report.recommended >= 0 ? &b->est[b->report.recommended] : NULL;
}

/* "1.00T tokens" style. */
static void fmt_tokens(char *buf, size_t size, double v) {
  if (v >= 1e12)
    snprintf(buf, size, "%.3gT", v / 1e12);
  else if (v >= 1e9)
    snprintf(buf, size, "%.3gB", v / 1e9);
  else if (v >= 1e6)
    snprintf(buf, size, "%.3gM", v / 1e6);
  else
    snprintf(buf, size, "%.0f", v);
}

static void fmt_fit(char *buf, size_t size, int64_t v, bool capped) {
  if (v < 0)
    snprintf(buf, size, "n/a");
  else if (v == 0)
    snprintf(buf, size, "none");
  else
    snprintf(buf, size, "%s%lld", capped ? ">= " : "", (long long)v);
}

/* Sentence on the cards needed, for the Markdown and HTML. */
static void fmt_budget(char *buf, size_t size, const report_bundle *b, int i) {
  const tps_capacity_row *c = &b->capacity[i];
  const tps_estimate *e = &b->est[i];
  if (!c->has_budget) {
    snprintf(buf, size, b->token_budget > 0 && !e->fits_with_margin ? "not sized: does not fit" : "-");
  } else if (!c->budget.reachable) {
    snprintf(buf, size, "not within %lld replicas", (long long)TPS_CAPACITY_MAX_DP);
  } else {
    char batch[64] = "", cost[64] = "";
    if (c->budget.global_batch != e->run.global_batch)
      snprintf(batch, sizeof batch, " (from %lld)", (long long)e->run.global_batch);
    const tps_capacity_interval *iv = &c->interval;
    char cards_iv[96] = "", days_iv[64] = "", hours_iv[64] = "";
    if (iv->has) {
      /* docs/uncertainty.md, "Capacity plan" */
      if (iv->cards_hi_reachable)
        snprintf(cards_iv, sizeof cards_iv, " (%g%%: %lld-%lld)", iv->level * 100.0,
                 (long long)iv->cards_lo, (long long)iv->cards_hi);
      else
        snprintf(cards_iv, sizeof cards_iv, " (%g%%: %lld to more than %lld replicas)",
                 iv->level * 100.0, (long long)iv->cards_lo, (long long)TPS_CAPACITY_MAX_DP);
      snprintf(days_iv, sizeof days_iv, " (%.2f-%.2f)", iv->days_lo, iv->days_hi);
      snprintf(hours_iv, sizeof hours_iv, " (%.0f-%.0f)", iv->card_hours_lo, iv->card_hours_hi);
    }
    if (b->price > 0) {
      if (iv->has)
        snprintf(cost, sizeof cost, ", cost %.0f (%.0f-%.0f)", c->budget.card_hours * b->price,
                 iv->card_hours_lo * b->price, iv->card_hours_hi * b->price);
      else
        snprintf(cost, sizeof cost, ", cost %.0f", c->budget.card_hours * b->price);
    }
    snprintf(buf, size, "%lld cards%s = %lld nodes (DP %lld, global batch %lld%s, %.2f days%s, %.0f "
             "card-hours%s%s%s)",
             (long long)c->budget.cards, cards_iv,
             (long long)((c->budget.cards + b->hw->devices_per_node - 1) / b->hw->devices_per_node),
             (long long)c->budget.dp, (long long)c->budget.global_batch, batch, c->budget.days,
             days_iv, c->budget.card_hours, hours_iv, cost,
             c->budget.fits_with_margin ? "" : ", does not fit");
  }
}

/* The text cells of one capacity row, shared by the Markdown and HTML tables. */
typedef struct capacity_cells {
  char seq[32], mb[32], bud[512], days[64];
} capacity_cells;

static void capacity_cells_of(const report_bundle *b, int i, capacity_cells *out) {
  const tps_capacity_row *c = &b->capacity[i];
  fmt_fit(out->seq, sizeof out->seq, c->max_seq_len, c->max_seq_len_capped);
  fmt_fit(out->mb, sizeof out->mb, c->max_micro_batch, c->max_micro_batch_capped);
  fmt_budget(out->bud, sizeof out->bud, b, i);
  if (c->days_at_run > 0 && c->interval.has)
    snprintf(out->days, sizeof out->days, "%.1f (%.1f-%.1f)", c->days_at_run,
             c->interval.days_at_run_lo, c->interval.days_at_run_hi);
  else if (c->days_at_run > 0)
    snprintf(out->days, sizeof out->days, "%.1f", c->days_at_run);
  else
    snprintf(out->days, sizeof out->days, "-");
}

/* ---- charts ---- */

static void tp_labels(const report_bundle *b, char (*names)[24], const char **cats) {
  for (int i = 0; i < b->report.n; i++) {
    snprintf(names[i], 24, "TP=%lld", (long long)b->est[i].run.tp);
    cats[i] = names[i];
  }
}

static void chart_memory(FILE *out, const report_bundle *b, bool standalone) {
  int n = b->report.n;
  double *v = calloc((size_t)(8 * n + 1), sizeof *v); /* six components, interval lo, hi */
  char (*names)[24] = calloc((size_t)n + 1, sizeof *names);
  const char **cats = calloc((size_t)n + 1, sizeof *cats);
  if (!v || !names || !cats) goto done;
  tp_labels(b, names, cats);
  for (int i = 0; i < n; i++) {
    const tps_memory *mm = &b->est[i].memory;
    if (b->unc) {
      v[6 * n + i] = b->unc[i].memory_bytes.lo / GB;
      v[7 * n + i] = b->unc[i].memory_bytes.hi / GB;
    }
    v[i] = mm->weights / GB;
    v[n + i] = mm->grads / GB;
    v[2 * n + i] = mm->optimizer / GB;
    v[3 * n + i] = mm->activations / GB;
    v[4 * n + i] = mm->allocator / GB;
    v[5 * n + i] = mm->runtime_reserve / GB;
  }
  svg_series s[6] = {{"weights", v}, {"gradients", v + n}, {"optimizer state", v + 2 * n},
                     {"activations", v + 3 * n}, {"allocator cache", v + 4 * n},
                     {"runtime reserve", v + 5 * n}};
  char ref[96], ref2[96], band[96] = "";
  snprintf(ref, sizeof ref, "device memory %.1f GB", b->hw->memory_bytes / GB);
  if (b->unc && n > 0)
    snprintf(band, sizeof band, "%g%% interval of the total (band)", b->unc[0].level * 100.0);
  double limit = n > 0 ? b->capacity[0].limit_bytes / GB : 0.0;
  snprintf(ref2, sizeof ref2, "limit with the margin %.1f GB", limit);
  svg_chart c = {.id = "chart-memory", .title = "Memory per card by component (most loaded stage)",
                 .x_label = "tensor-parallel size", .y_label = "memory per card (GB, 10^9 bytes)",
                 .categories = cats, .n_categories = n, .series = s, .n_series = 6,
                 .ref_value = b->hw->memory_bytes / GB, .ref_label = ref,
                 .ref2_value = limit < b->hw->memory_bytes / GB ? limit : 0.0, .ref2_label = ref2,
                 .interval_lo = b->unc ? v + 6 * n : NULL, .interval_hi = b->unc ? v + 7 * n : NULL,
                 .interval_label = band,
                 .width = 1040, .height = 400, .standalone = standalone};
  svg_stacked_bars(out, &c);
done:
  free(v);
  free(names);
  free(cats);
}

static void chart_line(FILE *out, const report_bundle *b, bool standalone, bool throughput) {
  int n = b->report.n;
  double *v = calloc((size_t)(3 * n + 1), sizeof *v); /* values, interval lo, hi */
  int *flag = calloc((size_t)n + 1, sizeof *flag);
  char (*names)[24] = calloc((size_t)n + 1, sizeof *names);
  const char **cats = calloc((size_t)n + 1, sizeof *cats);
  if (!v || !flag || !names || !cats) goto done;
  tp_labels(b, names, cats);
  for (int i = 0; i < n; i++) {
    v[i] = throughput ? b->est[i].tokens_per_s_per_card : b->est[i].step_time_s;
    flag[i] = !b->est[i].fits_with_margin;
    if (b->unc) {
      const tps_interval *iv =
          throughput ? &b->unc[i].tokens_per_s_per_card : &b->unc[i].step_time_s;
      v[n + i] = iv->lo;
      v[2 * n + i] = iv->hi;
    }
  }
  char bar_label[96] = "";
  if (b->unc && n > 0)
    snprintf(bar_label, sizeof bar_label, "%g%% interval (error bar)", b->unc[0].level * 100.0);
  svg_series s = {throughput ? "tokens/s per card" : "step time", v};
  svg_chart c = {.id = throughput ? "chart-throughput" : "chart-step",
                 .title = throughput ? "Throughput per card" : "Step time",
                 .x_label = "tensor-parallel size",
                 .y_label = throughput ? "tokens/s per card (job tokens/s / cards)" : "step time (s)",
                 .categories = cats, .n_categories = n, .series = &s, .n_series = 1,
                 .flagged = flag, .flag_label = "does not fit (with the margin)",
                 .interval_lo = b->unc ? v + n : NULL, .interval_hi = b->unc ? v + 2 * n : NULL,
                 .interval_label = bar_label, .width = 515, .height = 340,
                 .standalone = standalone};
  svg_lines(out, &c);
done:
  free(v);
  free(flag);
  free(names);
  free(cats);
}

static void chart_layers(FILE *out, const report_bundle *b, bool standalone) {
  int n = b->has_plan ? b->plan.n_layers : 0;
  double *v = calloc((size_t)(2 * n + 1), sizeof *v);
  char (*names)[24] = calloc((size_t)n + 1, sizeof *names);
  const char **cats = calloc((size_t)n + 1, sizeof *cats);
  if (!v || !names || !cats) goto done;
  for (int i = 0; i < n; i++) {
    const tps_layer_cost *lc = &b->costs[i];
    v[i] = (lc->fwd_s + lc->bwd_s + lc->recompute_s) * MS;
    v[n + i] = (lc->tp_comm_fwd_s + lc->tp_comm_bwd_s + lc->recompute_comm_s) * MS;
    snprintf(names[i], 24, "%d", i);
    cats[i] = names[i];
  }
  svg_series s[2] = {{"compute (fwd + bwd + recompute)", v}, {"TP communication", v + n}};
  bool any_comm = false;
  for (int i = 0; i < n; i++) any_comm = any_comm || v[n + i] > 0;
  char title[128];
  long long ltp = b->layers_tp_index >= 0 ? (long long)b->est[b->layers_tp_index].run.tp : 0LL;
  snprintf(title, sizeof title, "Time per layer, TP=%lld%s, one micro-batch", ltp,
           any_comm ? "" : " (no tensor-parallel communication)");
  svg_chart c = {.id = "chart-layers", .title = title,
                 .x_label = "layer, in execution order (see the table of modules below)",
                 .y_label = "time per micro-batch (ms)", .categories = cats, .n_categories = n,
                 .series = s, .n_series = any_comm ? 2 : 1, .width = 1040, .height = 380, .standalone = standalone};
  svg_stacked_bars(out, &c);
done:
  free(v);
  free(names);
  free(cats);
}

static void chart_share(FILE *out, const report_bundle *b, bool standalone) {
  int n = b->report.n;
  double *v = calloc((size_t)(7 * n + 1), sizeof *v); /* seven causes */
  char (*names)[24] = calloc((size_t)n + 1, sizeof *names);
  const char **cats = calloc((size_t)n + 1, sizeof *cats);
  if (!v || !names || !cats) goto done;
  tp_labels(b, names, cats);
  bool moe = false;
  for (int i = 0; i < n; i++) {
    const tps_estimate *e = &b->est[i];
    v[i] = e->time.compute;
    v[n + i] = e->time.tp_comm - e->time.expert_a2a;
    v[2 * n + i] = e->time.dp_comm;
    v[3 * n + i] = e->time.pp_bubble;
    v[4 * n + i] = e->time.overhead;
    v[5 * n + i] = e->time.optimizer;
    v[6 * n + i] = e->time.expert_a2a;
    moe |= e->time.expert_a2a > 0;
  }
  /* The MoE dispatcher's share, with experts only. */
  svg_series s[7] = {{"compute", v}, {"TP communication", v + n}, {"DP communication", v + 2 * n},
                     {"pipeline bubble", v + 3 * n}, {"host (issue, fixed costs)", v + 4 * n},
                     {"optimizer", v + 5 * n}, {"MoE dispatch (all-to-all)", v + 6 * n}};
  svg_chart c = {.id = "chart-share", .title = "Where the step time goes (seconds per step)",
                 .x_label = "tensor-parallel size", .y_label = "time per step (s)",
                 .categories = cats, .n_categories = n, .series = s, .n_series = moe ? 7 : 6,
                 .width = 1040, .height = 380, .standalone = standalone};
  svg_stacked_bars(out, &c);
done:
  free(v);
  free(names);
  free(cats);
}

void report_bundle_chart(FILE *out, const report_bundle *b, int i, bool standalone) {
  switch (i) {
    case 0: chart_memory(out, b, standalone); break;
    case 1: chart_line(out, b, standalone, true); break;
    case 2: chart_line(out, b, standalone, false); break;
    case 3: chart_layers(out, b, standalone); break;
    case 4: chart_share(out, b, standalone); break;
    default: break;
  }
}

/* ---- Markdown ---- */

void report_bundle_md(FILE *out, const report_bundle *b) {
  report_estimate_md(out, &b->report);
  fprintf(out, "\n## Capacity planning\n\n");
  fprintf(out, "Device memory %.1f GB per card", b->hw->memory_bytes / GB);
  if (b->report.n > 0) fprintf(out, ", limit with the margin %.1f GB", b->capacity[0].limit_bytes / GB);
  char tok[32];
  if (b->token_budget > 0) {
    fmt_tokens(tok, sizeof tok, b->token_budget);
    fprintf(out, "; token budget %s tokens", tok);
  }
  if (b->days > 0) fprintf(out, " within %g days", b->days);
  fprintf(out, ".\n\n| TP | headroom GB | largest seq_len | largest micro-batch | cards for the budget | days at the evaluated cards |\n");
  fprintf(out, "|---:|---:|---:|---:|---|---:|\n");
  for (int i = 0; i < b->report.n; i++) {
    const tps_capacity_row *c = &b->capacity[i];
    capacity_cells cells;
    capacity_cells_of(b, i, &cells);
    const char *seq = cells.seq, *mb = cells.mb, *bud = cells.bud, *days = cells.days;
    fprintf(out, "| %lld | %.1f | %s | %s | %s | %s |\n", (long long)c->tp, c->headroom_bytes / GB,
            seq, mb, bud, days);
  }
  fprintf(out, "\nRules:\n\n");
  for (int i = 0; i < b->n_rules; i++) fprintf(out, "- %s\n", b->rules[i]);
  if (b->has_plan) {
    const tps_estimate *e = &b->est[b->layers_tp_index];
    fprintf(out, "\n## Per-layer time at TP=%lld (one micro-batch, ms)\n\n", (long long)e->run.tp);
    fprintf(out, "| layer | stage | compute ms | TP comm ms |\n|---|---:|---:|---:|\n");
    for (int i = 0; i < b->plan.n_layers; i++) {
      const tps_layer_cost *lc = &b->costs[i];
      fprintf(out, "| %s | %d | %.3f | %.3f |\n", b->plan.layers[i].name, b->plan.layers[i].stage,
              (lc->fwd_s + lc->bwd_s + lc->recompute_s) * MS,
              (lc->tp_comm_fwd_s + lc->tp_comm_bwd_s + lc->recompute_comm_s) * MS);
    }
  }
  fprintf(out, "\nCharts: see report.html.\n");
}

/* ---- HTML ---- */

static void h(FILE *out, const char *s) { svg_escape(out, s); }

static const char *const css =
    "body{font-family:sans-serif;color:#222;max-width:1080px;margin:24px auto;padding:0 16px;"
    "line-height:1.45;background:#fff}"
    "h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ddd;"
    "padding-bottom:4px}.sub{color:#555;margin-top:0}"
    ".rec{border-left:5px solid #0072B2;background:#f2f7fb;padding:10px 16px;margin:16px 0}"
    ".rec .tp{font-size:20px;font-weight:bold}"
    "table{border-collapse:collapse;margin:10px 0;font-size:14px}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "th{background:#f3f3f3}td.l,th.l{text-align:left}tr.best td{background:#eaf4ea;font-weight:bold}"
    ".no{color:#b00000}.charts{display:flex;flex-wrap:wrap;gap:10px}"
    "figure{margin:12px 0}figcaption{font-size:13px;color:#555;max-width:1040px}"
    "footer{margin-top:40px;font-size:12px;color:#777}";

static void html_figure(FILE *out, const report_bundle *b, int chart, const char *caption) {
  fputs("<figure>\n", out);
  report_bundle_chart(out, b, chart, false);
  fputs("<figcaption>", out);
  h(out, caption);
  fputs("</figcaption>\n</figure>\n", out);
}

void report_bundle_html(FILE *out, const report_bundle *b) {
  const estimate_report *r = &b->report;
  const tps_estimate *best = recommended(b);
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>", out);
  fputs("tp-sim report: ", out);
  h(out, b->model->name);
  fputs(" on ", out);
  h(out, b->hw->name);
  fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n", css);
  fputs("<h1>Capacity plan: ", out);
  h(out, b->model->name);
  fputs(" on ", out);
  h(out, b->hw->name);
  fputs("</h1>\n<p class=\"sub\">", out);
  h(out, b->hw->device_name);
  fprintf(out, ", %.1f GB per card", b->hw->memory_bytes / GB);
  if (r->n > 0) {
    const tps_run *run = &r->est[0].run;
    fprintf(out, "; seq_len %lld, micro-batch %lld, %s, recompute %s%s%s", (long long)run->seq_len,
            (long long)run->micro_batch, tps_precision_name(run->precision),
            tps_recompute_name(run->recompute), run->sp ? ", sequence parallel" : "",
            run->distributed_optimizer ? ", distributed optimizer" : "");
    /* the state, CP and FP8 words carry no markup (plain words, numbers,
     * algorithm and format names) */
    report_state_words(out, run);
    report_cp_words(out, run);
    report_fp8_words(out, run);
  }
  fputs(".</p>\n", out);

  /* recommendation */
  fputs("<h2>Recommendation</h2>\n<div class=\"rec\">\n", out);
  if (best)
    fprintf(out, "<p class=\"tp\">Default TP: %lld</p>\n<p>", (long long)best->run.tp);
  else
    fputs("<p class=\"tp\">No TP size fits</p>\n<p>", out);
  h(out, r->reason);
  fputs(".</p>\n", out);
  if (r->compare[0]) {
    fputs("<p class=\"unc\">Uncertainty: ", out);
    h(out, r->compare);
    fputs(".</p>\n", out);
  }
  fputs("</div>\n<p>Assumptions:</p>\n<ul>\n", out);
  for (int i = 0; i < r->n_assumptions; i++) {
    fputs("<li>", out);
    h(out, r->assumptions[i]);
    fputs("</li>\n", out);
  }
  for (int i = 0; i < b->n_rules; i++) {
    fputs("<li>", out);
    h(out, b->rules[i]);
    fputs("</li>\n", out);
  }
  fputs("</ul>\n", out);

  /* estimate table (with the intervals: central (lo-hi)) */
  char pct[32] = "";
  if (b->unc && r->n > 0) snprintf(pct, sizeof pct, " (%g%%)", b->unc[0].level * 100.0);
  fprintf(out, "<h2>Each TP size</h2>\n<table>\n<tr><th>TP</th><th>PP</th><th>DP</th><th>cards</th>"
               "<th>GB per card%s</th><th>fits</th>%s<th>step (s)%s</th><th>tokens/s per card%s</th>"
               "<th>tokens/s job</th><th>MFU</th><th>TP comm</th></tr>\n",
          pct, b->unc ? "<th>fits at the interval</th>" : "", pct, pct);
  for (int i = 0; i < r->n; i++) {
    const tps_estimate *e = &r->est[i];
    char mem[64], step[64], tpc[64], fit_iv[48] = "";
    snprintf(mem, sizeof mem, "%.2f", e->memory.total / GB);
    snprintf(step, sizeof step, "%.3f", e->step_time_s);
    snprintf(tpc, sizeof tpc, "%.1f", e->tokens_per_s_per_card);
    if (b->unc) {
      const tps_uncertainty *u = &b->unc[i];
      snprintf(mem, sizeof mem, "%.2f (%.1f-%.1f)", e->memory.total / GB, u->memory_bytes.lo / GB,
               u->memory_bytes.hi / GB);
      snprintf(step, sizeof step, "%.3f (%.3g-%.3g)", e->step_time_s, u->step_time_s.lo,
               u->step_time_s.hi);
      snprintf(tpc, sizeof tpc, "%.1f (%.0f-%.0f)", e->tokens_per_s_per_card,
               u->tokens_per_s_per_card.lo, u->tokens_per_s_per_card.hi);
      snprintf(fit_iv, sizeof fit_iv, "<td>%s</td>", tps_fits_at_interval_name(u->fits_at_interval));
    }
    fprintf(out, "<tr%s><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%s</td>"
                 "<td%s>%s</td>%s<td>%s</td><td>%s</td><td>%.1f</td><td>%.1f%%</td><td>%.1f%%</td></tr>\n",
            i == r->recommended ? " class=\"best\"" : "", (long long)e->run.tp, (long long)e->run.pp,
            (long long)e->run.dp, (long long)e->run.cards, mem,
            e->fits_with_margin ? "" : " class=\"no\"", e->fits_with_margin ? "yes" : "no", fit_iv,
            step, tpc, e->tokens_per_s, e->mfu * 100.0, comm_share(e) * 100.0);
  }
  fputs("</table>\n", out);
  if (b->unc && r->n > 0) {
    fprintf(out, "<p>Intervals (%g%%): from the spreads of the profile constants and ",
            b->unc[0].level * 100.0);
    if (r->model_error)
      fprintf(out, "the model error of %s (step time %.1f%%, memory %.1f%%, "
                   "validation/model-error.yaml)",
              r->model_error->hw[0] ? r->model_error->hw : r->model_error->stack,
              r->model_error->time_sd * 100.0, r->model_error->memory_sd * 100.0);
    else
      fputs("no model error (none is known for this hardware)", out);
    fputs("; docs/uncertainty.md. The charts draw them as bands (memory) and error bars.</p>\n", out);
  }
  if (r->n_skipped > 0) {
    fputs("<p>Not evaluated:</p>\n<ul>\n", out);
    for (int i = 0; i < r->n_skipped; i++) {
      fprintf(out, "<li>TP=%lld: ", (long long)r->skipped[i].tp);
      h(out, r->skipped[i].why);
      fputs("</li>\n", out);
    }
    fputs("</ul>\n", out);
  }

  /* charts */
  fputs("<h2>Memory</h2>\n", out);
  html_figure(out, b, 0,
              b->unc ? "Peak bytes per card on the most loaded pipeline stage, by component; the dashed "
                       "line is the device memory, the dotted one the limit with the margin, the grey "
                       "band the interval of the total. A bar above the dashed line does not fit; a "
                       "band across a line may or may not."
                     : "Peak bytes per card on the most loaded pipeline stage, by component; the dashed line "
                       "is the device memory. A bar above it does not fit.");
  fputs("<h2>Throughput and step time</h2>\n<div class=\"charts\">\n", out);
  html_figure(out, b, 1, b->unc ? "Tokens/s per card = tokens per step / step time / cards (higher "
                                  "is better); error bars: the interval."
                                : "Tokens/s per card = tokens per step / step time / cards (higher is better).");
  html_figure(out, b, 2, b->unc ? "Seconds per training step (one global batch); error bars: the "
                                  "interval."
                                : "Seconds per training step (one global batch).");
  fputs("</div>\n", out);
  fputs("<h2>Where the time goes</h2>\n", out);
  html_figure(out, b, 4,
              "Share of the step time: compute, tensor-parallel collectives on the critical path, "
              "unhidden gradient reduction, pipeline bubble, host overhead per micro-batch and "
              "optimizer step (with experts, the MoE token dispatcher's collectives apart).");
  if (b->has_plan) {
    html_figure(out, b, 3,
                b->est[b->layers_tp_index].run.tp == 1
                    ? "Per layer, one micro-batch on one rank: kernels (forward, backward, recompute). "
                      "At TP=1 there are no tensor-parallel collectives."
                    : "Per layer, one micro-batch on one rank: kernels (forward, backward, recompute) "
                      "and tensor-parallel collectives.");
    /* which layers are which */
    fputs("<table>\n<tr><th class=\"l\">module</th><th>layers (bar numbers)</th><th>stage</th></tr>\n", out);
    int start = 0;
    for (int i = 1; i <= b->plan.n_layers; i++) {
      if (i < b->plan.n_layers && b->plan.layers[i].module == b->plan.layers[start].module &&
          b->plan.layers[i].stage == b->plan.layers[start].stage)
        continue;
      int mod = b->plan.layers[start].module;
      fputs("<tr><td class=\"l\">", out);
      h(out, mod >= 0 && mod < b->plan.n_modules ? b->plan.modules[mod].name : "?");
      fprintf(out, "</td><td>%d&#8211;%d</td><td>%d</td></tr>\n", start, i - 1,
              b->plan.layers[start].stage);
      start = i;
    }
    fputs("</table>\n", out);
  }

  /* capacity */
  fputs("<h2>Capacity planning</h2>\n<p>", out);
  char tok[32];
  if (b->token_budget > 0 && b->days > 0) {
    fmt_tokens(tok, sizeof tok, b->token_budget);
    fprintf(out, "Cards to train %s tokens within %g days.", tok, b->days);
  } else {
    fputs("No token budget and deadline were given: cards for a budget are not computed.", out);
  }
  fputs("</p>\n<table>\n<tr><th>TP</th><th>headroom per card (GB)</th><th>free of device (GB)</th>"
        "<th>largest seq_len</th><th>largest micro-batch</th><th class=\"l\">cards for the budget</th>"
        "<th>days at the evaluated cards</th></tr>\n", out);
  for (int i = 0; i < r->n; i++) {
    const tps_capacity_row *c = &b->capacity[i];
    capacity_cells cells;
    capacity_cells_of(b, i, &cells);
    const char *seq = cells.seq, *mb = cells.mb, *bud = cells.bud, *days = cells.days;
    fprintf(out, "<tr><td>%lld</td><td%s>%.1f</td><td>%.1f</td><td>", (long long)c->tp,
            c->headroom_bytes < 0 ? " class=\"no\"" : "", c->headroom_bytes / GB, c->free_bytes / GB);
    h(out, seq);
    fputs("</td><td>", out);
    h(out, mb);
    fputs("</td><td class=\"l\">", out);
    h(out, bud);
    fprintf(out, "</td><td>%s</td></tr>\n", days);
  }
  fputs("</table>\n", out);
  fprintf(out, "<footer>Generated by tp-sim %s. GB = 10^9 bytes. Files: report.md, report.csv, "
               "report.json hold the same numbers.</footer>\n</body>\n</html>\n",
          TPSIM_VERSION);
}

/* ---- CSV ---- */

void report_bundle_csv(FILE *out, const report_bundle *b) {
  fprintf(out, "tp,pp,dp,cards,seq_len,micro_batch,global_batch,fits_with_margin,"
               "weights_bytes,grads_bytes,optimizer_bytes,activations_bytes,allocator_bytes,"
               "runtime_reserve_bytes,total_bytes,limit_bytes,headroom_bytes,step_time_s,compute_s,tp_comm_s,pp_bubble_s,"
               "dp_comm_s,optimizer_s,overhead_s,tokens_per_s,tokens_per_s_per_card,mfu,"
               "max_seq_len,max_micro_batch,token_budget,days,budget_dp,budget_cards,"
               "budget_global_batch,budget_tokens_per_s,budget_days,budget_card_hours,budget_cost,"
               "recommended,interval_level,total_bytes_lo,total_bytes_hi,step_time_s_lo,"
               "step_time_s_hi,tokens_per_s_per_card_lo,tokens_per_s_per_card_hi,budget_cards_lo,"
               "budget_cards_hi,budget_days_lo,budget_days_hi,days_at_run_lo,days_at_run_hi\n");
  for (int i = 0; i < b->report.n; i++) {
    const tps_estimate *e = &b->est[i];
    const tps_memory *m = &e->memory;
    const tps_capacity_row *c = &b->capacity[i];
    fprintf(out, "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%s,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,"
                 "%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%lld,%lld,",
            (long long)e->run.tp, (long long)e->run.pp, (long long)e->run.dp, (long long)e->run.cards,
            (long long)e->run.seq_len, (long long)e->run.micro_batch, (long long)e->run.global_batch,
            e->fits_with_margin ? "true" : "false", m->weights, m->grads, m->optimizer,
            m->activations, m->allocator, m->runtime_reserve, m->total, c->limit_bytes, c->headroom_bytes,
            e->step_time_s, e->time.compute, e->time.tp_comm, e->time.pp_bubble, e->time.dp_comm,
            e->time.optimizer, e->time.overhead, e->tokens_per_s, e->tokens_per_s_per_card, e->mfu,
            (long long)c->max_seq_len, (long long)c->max_micro_batch);
    if (b->token_budget > 0) fprintf(out, "%.0f", b->token_budget);
    fputc(',', out);
    if (b->days > 0) fprintf(out, "%.9g", b->days);
    fputc(',', out);
    if (c->has_budget && c->budget.reachable) {
      fprintf(out, "%lld,%lld,%lld,%.9g,%.9g,%.9g,", (long long)c->budget.dp,
              (long long)c->budget.cards, (long long)c->budget.global_batch, c->budget.tokens_per_s,
              c->budget.days, c->budget.card_hours);
      if (b->price > 0) fprintf(out, "%.9g", c->budget.card_hours * b->price);
    } else {
      fputs(",,,,,,", out);
    }
    fprintf(out, ",%s", i == b->report.recommended ? "true" : "false");
    /* intervals (docs/uncertainty.md); empty cells without them */
    if (b->unc) {
      const tps_uncertainty *u = &b->unc[i];
      fprintf(out, ",%.9g,%.0f,%.0f,%.9g,%.9g,%.9g,%.9g,", u->level, u->memory_bytes.lo,
              u->memory_bytes.hi, u->step_time_s.lo, u->step_time_s.hi,
              u->tokens_per_s_per_card.lo, u->tokens_per_s_per_card.hi);
    } else {
      fputs(",,,,,,,,", out);
    }
    const tps_capacity_interval *iv = &c->interval;
    if (iv->has && c->has_budget && c->budget.reachable) {
      fprintf(out, "%lld,", (long long)iv->cards_lo);
      if (iv->cards_hi_reachable) fprintf(out, "%lld", (long long)iv->cards_hi);
      fprintf(out, ",%.9g,%.9g,", iv->days_lo, iv->days_hi);
    } else {
      fputs(",,,,", out);
    }
    if (iv->has && c->days_at_run > 0)
      fprintf(out, "%.9g,%.9g\n", iv->days_at_run_lo, iv->days_at_run_hi);
    else
      fputs(",\n", out);
  }
}

/* ---- JSON ---- */

/* "key": [lo, hi] */
static void json_pair(json_writer *w, const char *key, double lo, double hi) {
  json_key(w, key);
  json_array_begin(w);
  json_number(w, lo);
  json_number(w, hi);
  json_array_end(w);
}

static void json_fit(json_writer *w, const char *key, int64_t v, double bytes, bool capped) {
  json_key(w, key);
  json_object_begin(w);
  json_key(w, "value");
  if (v < 0)
    json_null(w);
  else
    json_int(w, v);
  json_key(w, "memory_bytes"); json_number(w, v > 0 ? bytes : 0.0);
  json_key(w, "at_search_limit"); json_bool(w, capped);
  json_object_end(w);
}

void report_bundle_json(FILE *out, const report_bundle *b) {
  json_writer w;
  json_init(&w, out);
  json_object_begin(&w);
  json_key(&w, "tool"); json_string(&w, "tp-sim");
  json_key(&w, "version"); json_string(&w, TPSIM_VERSION);
  json_key(&w, "kind"); json_string(&w, "report");
  json_key(&w, "model"); json_string(&w, b->model->name);
  json_key(&w, "hw"); json_string(&w, b->hw->name);
  json_key(&w, "recommended_tp");
  if (b->report.recommended >= 0)
    json_int(&w, b->est[b->report.recommended].run.tp);
  else
    json_null(&w);
  json_key(&w, "reason"); json_string(&w, b->report.reason);
  json_key(&w, "capacity_rules");
  json_array_begin(&w);
  for (int i = 0; i < b->n_rules; i++) json_string(&w, b->rules[i]);
  json_array_end(&w);
  json_key(&w, "token_budget");
  if (b->token_budget > 0) json_number(&w, b->token_budget); else json_null(&w);
  json_key(&w, "days");
  if (b->days > 0) json_number(&w, b->days); else json_null(&w);
  json_key(&w, "capacity");
  json_array_begin(&w);
  for (int i = 0; i < b->report.n; i++) {
    const tps_capacity_row *c = &b->capacity[i];
    json_object_begin(&w);
    json_key(&w, "tp"); json_int(&w, c->tp);
    json_key(&w, "limit_bytes"); json_number(&w, c->limit_bytes);
    json_key(&w, "headroom_bytes"); json_number(&w, c->headroom_bytes);
    json_key(&w, "free_bytes"); json_number(&w, c->free_bytes);
    json_fit(&w, "max_seq_len", c->max_seq_len, c->max_seq_len_bytes, c->max_seq_len_capped);
    json_fit(&w, "max_micro_batch", c->max_micro_batch, c->max_micro_batch_bytes,
             c->max_micro_batch_capped);
    json_key(&w, "budget");
    if (!c->has_budget) {
      json_null(&w);
    } else {
      json_object_begin(&w);
      json_key(&w, "reachable"); json_bool(&w, c->budget.reachable);
      json_key(&w, "dp"); json_int(&w, c->budget.dp);
      json_key(&w, "cards"); json_int(&w, c->budget.cards);
      json_key(&w, "global_batch"); json_int(&w, c->budget.global_batch);
      json_key(&w, "tokens_per_s"); json_number(&w, c->budget.tokens_per_s);
      json_key(&w, "days"); json_number(&w, c->budget.days);
      json_key(&w, "dp_needed"); json_int(&w, c->budget.dp_needed);
      json_key(&w, "card_hours"); json_number(&w, c->budget.card_hours);
      json_key(&w, "cost");
      if (b->price > 0) json_number(&w, c->budget.card_hours * b->price); else json_null(&w);
      json_key(&w, "memory_bytes"); json_number(&w, c->budget.memory_bytes);
      json_key(&w, "fits_with_margin"); json_bool(&w, c->budget.fits_with_margin);
      if (c->interval.has && c->budget.reachable) {
        const tps_capacity_interval *iv = &c->interval;
        json_key(&w, "cards_interval");
        json_array_begin(&w);
        json_int(&w, iv->cards_lo);
        if (iv->cards_hi_reachable) json_int(&w, iv->cards_hi); else json_null(&w);
        json_array_end(&w);
        json_pair(&w, "days_interval", iv->days_lo, iv->days_hi);
        json_pair(&w, "card_hours_interval", iv->card_hours_lo, iv->card_hours_hi);
        if (b->price > 0)
          json_pair(&w, "cost_interval", iv->card_hours_lo * b->price, iv->card_hours_hi * b->price);
      }
      json_object_end(&w);
    }
    json_key(&w, "days_at_evaluated_cards");
    if (c->days_at_run > 0) json_number(&w, c->days_at_run); else json_null(&w);
    if (c->interval.has) {
      json_key(&w, "interval_level"); json_number(&w, c->interval.level);
      if (c->days_at_run > 0)
        json_pair(&w, "days_at_evaluated_cards_interval", c->interval.days_at_run_lo,
                  c->interval.days_at_run_hi);
      if (c->tokens_in_days > 0)
        json_pair(&w, "tokens_in_days_interval", c->interval.tokens_in_days_lo,
                  c->interval.tokens_in_days_hi);
    }
    json_object_end(&w);
  }
  json_array_end(&w);
  json_key(&w, "layers");
  if (!b->has_plan) {
    json_null(&w);
  } else {
    json_object_begin(&w);
    json_key(&w, "tp"); json_int(&w, b->est[b->layers_tp_index].run.tp);
    json_key(&w, "per_micro_batch_s");
    json_array_begin(&w);
    for (int i = 0; i < b->plan.n_layers; i++) {
      const tps_layer_cost *lc = &b->costs[i];
      json_object_begin(&w);
      json_key(&w, "name"); json_string(&w, b->plan.layers[i].name);
      json_key(&w, "stage"); json_int(&w, b->plan.layers[i].stage);
      json_key(&w, "compute"); json_number(&w, lc->fwd_s + lc->bwd_s + lc->recompute_s);
      json_key(&w, "tp_comm");
      json_number(&w, lc->tp_comm_fwd_s + lc->tp_comm_bwd_s + lc->recompute_comm_s);
      json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
  }
  /* the `estimate` document (CONTRACT of tp-sim estimate --format json), nested as is */
  json_key(&w, "estimate");
  fflush(out);
  report_estimate_json(out, &b->report);
  w.after_key = false;
  json_object_end(&w);
  json_finish(&w);
}

/* ---- writing ---- */

typedef void (*render_fn)(FILE *out, const report_bundle *b);

/* Puts the finished temporaries in place as one unit: every target is
 * first linked to a backup name, so that a rename failing half way is
 * undone (the targets renamed so far get their old files back, or are
 * removed when they had none). Called with the directory locked. */
static tps_status swap_in(tps_outfile *o, int n, tps_error *err) {
  char backup[4][TPS_OUT_PATH_MAX];
  bool had[4] = {false};
  tps_status st = TPS_OK;
  int done = 0;
  for (int i = 0; i < n; i++) {
    backup[i][0] = '\0';
    struct stat sb;
    if (lstat(o[i].path, &sb) != 0) continue; /* new: nothing to keep */
    had[i] = true;
    if ((size_t)snprintf(backup[i], sizeof backup[i], "%s.old.%ld", o[i].tmp, (long)getpid()) >=
        sizeof backup[i]) {
      backup[i][0] = '\0'; /* cannot be named: no undo for this one */
      continue;
    }
    unlink(backup[i]);
    if (link(o[i].path, backup[i]) != 0) backup[i][0] = '\0'; /* no hard links here: no undo */
  }
  for (; done < n; done++) {
    if (rename(o[done].tmp, o[done].path) != 0) {
      st = tps_error_set(err, TPS_EIO, o[done].shown, 0, 0, "cannot write: %s", strerror(errno));
      break;
    }
    o[done].tmp[0] = '\0';
  }
  for (int i = 0; i < n; i++) {
    if (st != TPS_OK && i < done) {
      if (had[i] && backup[i][0])
        (void)rename(backup[i], o[i].path); /* the old file back */
      else if (!had[i])
        (void)unlink(o[i].path);
    }
    if (backup[i][0]) unlink(backup[i]);
  }
  return st;
}

tps_status report_bundle_write(const report_bundle *b, const char *dir, tps_error *err) {
  static const char *const names[4] = {"report.md", "report.html", "report.csv", "report.json"};
  static const render_fn renders[4] = {report_bundle_md, report_bundle_html, report_bundle_csv,
                                       report_bundle_json};
  if (!dir || !dir[0]) return tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "no output directory");
  if (strlen(dir) > TPS_OUT_PATH_MAX - 128)
    return tps_error_set(err, TPS_EINVAL, "", 0, 0, "output directory path too long (%zu bytes)", strlen(dir));
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return tps_error_set(err, TPS_EIO, dir, 0, 0, "cannot create directory: %s", strerror(errno));
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return tps_error_set(err, TPS_EIO, dir, 0, 0, "not a directory");
  /* One report at a time in a directory: concurrent runs into the same DIR
   * each put their four files in place under an exclusive lock, so DIR
   * always holds the files of one run, never a mix. */
  int lock = open(dir, O_RDONLY | O_CLOEXEC);
  if (lock < 0) return tps_error_set(err, TPS_EIO, dir, 0, 0, "cannot open directory: %s", strerror(errno));
  while (flock(lock, LOCK_EX) != 0)
    if (errno != EINTR) {
      int e = errno;
      close(lock);
      return tps_error_set(err, TPS_EIO, dir, 0, 0, "cannot lock directory: %s", strerror(e));
    }
  tps_outfile *o = calloc(4, sizeof *o);
  if (!o) {
    close(lock);
    return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
  }
  tps_status st = TPS_OK;
  int opened = 0;
  /* Only regular files are replaced: anything else where a report file
   * goes fails the whole report before a byte is written. */
  for (int i = 0; i < 4 && st == TPS_OK; i++) {
    char final[TPS_OUT_PATH_MAX];
    snprintf(final, sizeof final, "%s/%s", dir, names[i]);
    if (lstat(final, &sb) == 0 && !S_ISREG(sb.st_mode))
      st = tps_error_set(err, TPS_EIO, final, 0, 0, "cannot write: %s",
                         S_ISDIR(sb.st_mode) ? "is a directory" : "not a regular file");
  }
  for (int i = 0; i < 4 && st == TPS_OK; i++) {
    char final[TPS_OUT_PATH_MAX];
    snprintf(final, sizeof final, "%s/%s", dir, names[i]);
    if ((st = tps_outfile_open(&o[i], final, err))) break;
    opened++;
    renders[i](o[i].f, b);
    st = tps_outfile_finish(&o[i], err);
  }
  if (st == TPS_OK) st = swap_in(o, 4, err);
  for (int i = 0; i < opened; i++) tps_outfile_discard(&o[i]);
  free(o);
  flock(lock, LOCK_UN);
  close(lock);
  return st;
}
