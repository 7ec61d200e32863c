/* Rendering `tp-sim validate --kernel` (reports/kernel_report.h). */
#include "reports/kernel_report.h"

#include <math.h>

#include "reports/json_writer.h"

static const char *pct(char *buf, size_t size, double frac) {
  snprintf(buf, size, "%+.1f%%", 100.0 * frac);
  return buf;
}

void report_kernel_table(FILE *out, const kv_report *r, bool per_op) {
  char e1[32], e2[32];
  fprintf(out, "tp-sim validate --kernel: tp-kernel runs vs the engine on %s\n", r->profile);
  fprintf(out, "host %s, %d CPUs, %s, 1-minute load %.2f before / %.2f after\n", r->host, r->cpus, r->date,
          r->load_before, r->load_after);
  fprintf(out, "%-34s %10s %10s %8s %7s %10s %10s %8s\n", "case", "pred ms", "meas ms", "error", "spread",
          "pred MiB", "meas MiB", "mem err");
  for (int i = 0; i < r->n_cases; i++) {
    const kv_case *c = &r->cases[i];
    if (c->skipped[0]) {
      fprintf(out, "%-34s skipped: %s\n", c->id, c->skipped);
      continue;
    }
    fprintf(out, "%-34s %10.2f %10.2f %8s %6.0f%% %10.1f %10.1f %8s%s%s\n", c->id, c->predicted_s * 1e3,
            c->measured_s * 1e3, pct(e1, sizeof e1, c->error), 100.0 * c->spread, c->mem_predicted / 1048576.0,
            c->mem_measured / 1048576.0, pct(e2, sizeof e2, c->mem_error), c->oversubscribed ? "  (oversubscribed)" : "",
            c->noisy ? "  (noisy)" : "");
    if (!per_op) continue;
    for (int j = 0; j < c->n_ops; j++) {
      const kv_op_row *o = &c->ops[j];
      fprintf(out, "    %-20s %-10s fwd %8.3f / %8.3f ms  bwd %8.3f / %8.3f ms  %s\n", o->name, o->kind,
              o->pred_fwd_s * 1e3, o->meas_fwd_s * 1e3, o->pred_bwd_s * 1e3, o->meas_bwd_s * 1e3,
              o->modelled ? pct(e1, sizeof e1, o->error) : "not modelled");
    }
  }
  fprintf(out, "TP 1-2 (%d cases): step-time MAPE %.1f%%, memory (VmHWM) MAPE %.1f%%, buffers MAPE %.1f%%, "
               "per-op MAPE %.1f%%\n",
          r->n_main, 100.0 * r->step_time_mape, 100.0 * r->memory_mape, 100.0 * r->buffers_mape,
          100.0 * r->op_mape);
  if (r->n_tp4)
    fprintf(out, "TP 4 (oversubscribed) and CP cases, reported apart (%d cases): step-time MAPE %.1f%%, "
                 "memory MAPE %.1f%%\n",
            r->n_tp4, 100.0 * r->tp4_step_time_mape, 100.0 * r->tp4_memory_mape);
  if (r->noisy)
    fprintf(out, "NOISY: %s: these figures are not trustworthy\n", r->noisy_why);
  else
    fprintf(out, "machine quiet: load and repeat spread within limits\n");
}

static void jerr(json_writer *w, const char *key, double pred, double meas, double err) {
  json_key(w, key);
  json_object_begin(w);
  json_key(w, "predicted_bytes");
  json_number(w, pred);
  json_key(w, "measured_bytes");
  json_number(w, meas);
  json_key(w, "error");
  json_number(w, err);
  json_object_end(w);
}

void report_kernel_json(FILE *out, const kv_report *r) {
  json_writer w;
  json_init(&w, out);
  json_object_begin(&w);
  json_key(&w, "tool");
  json_string(&w, "tp-sim");
  json_key(&w, "kind");
  json_string(&w, "kernel");
  json_key(&w, "profile");
  json_string(&w, r->profile);
  json_key(&w, "date");
  json_string(&w, r->date);
  json_key(&w, "host");
  json_string(&w, r->host);
  json_key(&w, "cpus");
  json_int(&w, r->cpus);
  json_key(&w, "load_before");
  json_number(&w, r->load_before);
  json_key(&w, "load_after");
  json_number(&w, r->load_after);
  json_key(&w, "units");
  json_string(&w, "seconds (step: forward + backward of all layers; ops: per layer), bytes per rank, "
                   "errors = predicted / measured - 1");
  json_key(&w, "cases");
  json_array_begin(&w);
  for (int i = 0; i < r->n_cases; i++) {
    const kv_case *c = &r->cases[i];
    json_object_begin(&w);
    json_key(&w, "id");
    json_string(&w, c->id);
    json_key(&w, "tp");
    json_int(&w, c->tp);
    json_key(&w, "cp");
    json_int(&w, c->cp > 1 ? c->cp : 1);
    json_key(&w, "sp");
    json_bool(&w, c->sp);
    json_key(&w, "mlp");
    json_string(&w, c->swiglu ? "swiglu" : "gelu");
    json_key(&w, "hidden");
    json_int(&w, c->hidden);
    json_key(&w, "heads");
    json_int(&w, c->heads);
    json_key(&w, "kv_heads");
    json_int(&w, c->kv_heads);
    json_key(&w, "seq_len");
    json_int(&w, c->seq);
    json_key(&w, "micro_batch");
    json_int(&w, c->micro_batch);
    json_key(&w, "layers");
    json_int(&w, c->layers);
    json_key(&w, "oversubscribed");
    json_bool(&w, c->oversubscribed);
    if (c->skipped[0]) {
      json_key(&w, "skipped");
      json_string(&w, c->skipped);
      json_object_end(&w);
      continue;
    }
    json_key(&w, "hw");
    json_string(&w, c->hw);
    json_key(&w, "predicted_s");
    json_number(&w, c->predicted_s);
    json_key(&w, "measured_s");
    json_number(&w, c->measured_s);
    json_key(&w, "measured_min_s");
    json_number(&w, c->measured_min_s);
    json_key(&w, "error");
    json_number(&w, c->error);
    json_key(&w, "spread");
    json_number(&w, c->spread);
    json_key(&w, "noisy");
    json_bool(&w, c->noisy);
    jerr(&w, "memory", c->mem_predicted, c->mem_measured, c->mem_error);
    jerr(&w, "buffers", c->buf_predicted, c->buf_measured, c->buf_error);
    json_key(&w, "ops");
    json_array_begin(&w);
    for (int j = 0; j < c->n_ops; j++) {
      const kv_op_row *o = &c->ops[j];
      json_object_begin(&w);
      json_key(&w, "name");
      json_string(&w, o->name);
      json_key(&w, "kind");
      json_string(&w, o->kind);
      json_key(&w, "modelled");
      json_bool(&w, o->modelled);
      json_key(&w, "predicted_fwd_s");
      json_number(&w, o->pred_fwd_s);
      json_key(&w, "predicted_bwd_s");
      json_number(&w, o->pred_bwd_s);
      json_key(&w, "measured_fwd_s");
      json_number(&w, o->meas_fwd_s);
      json_key(&w, "measured_bwd_s");
      json_number(&w, o->meas_bwd_s);
      json_key(&w, "predicted_s");
      json_number(&w, o->pred_fwd_s + o->pred_bwd_s);
      json_key(&w, "measured_s");
      json_number(&w, o->meas_fwd_s + o->meas_bwd_s);
      json_key(&w, "error");
      json_number(&w, o->error);
      json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
  }
  json_array_end(&w);
  json_key(&w, "summary");
  json_object_begin(&w);
  json_key(&w, "n");
  json_int(&w, r->n_main);
  json_key(&w, "step_time_mape");
  json_number(&w, r->step_time_mape);
  json_key(&w, "memory_mape");
  json_number(&w, r->memory_mape);
  json_key(&w, "buffers_mape");
  json_number(&w, r->buffers_mape);
  json_key(&w, "op_mape");
  json_number(&w, r->op_mape);
  json_key(&w, "tp4_n");
  json_int(&w, r->n_tp4);
  json_key(&w, "tp4_step_time_mape");
  json_number(&w, r->tp4_step_time_mape);
  json_key(&w, "tp4_memory_mape");
  json_number(&w, r->tp4_memory_mape);
  json_key(&w, "max_spread");
  json_number(&w, r->max_spread);
  json_key(&w, "noisy");
  json_bool(&w, r->noisy);
  json_key(&w, "noisy_why");
  json_string(&w, r->noisy_why);
  json_object_end(&w);
  json_object_end(&w);
  json_finish(&w);
}
