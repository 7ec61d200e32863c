/* Rendering `tp-sim layers`: one row per layer of one configuration, and
 * optionally the ops of each distinct layer shape. */
#include <stdio.h>

#include "reports/csv.h"
#include "reports/json_writer.h"
#include "reports/report.h"

#define MB 1e6
#define MS 1e3

static void print_ops(FILE *out, const layers_report *r, int template_id) {
  const tps_template *t = &r->plan->templates[template_id];
  fprintf(out, "    %-14s %-10s %-6s %8s %8s %8s %11s %11s %9s %9s\n", "op", "kind", "split", "m", "n",
          "k", "fwd GFLOP", "bwd GFLOP", "fwd ms", "bwd ms");
  for (int i = 0; i < t->ops.n; i++) {
    const tps_op *op = &t->ops.ops[i];
    double f = r->op_times[template_id][i].fwd_s, b = r->op_times[template_id][i].bwd_s;
    const char *split = op->kind != TPS_OP_GEMM ? "" :
                        op->split == TPS_SPLIT_COLUMN ? "column" :
                        op->split == TPS_SPLIT_ROW ? "row" : "repl";
    const char *kind = op->kind == TPS_OP_COLLECTIVE
                           ? tps_coll_name(op->fwd_coll != TPS_COLL_NONE ? op->fwd_coll : op->bwd_coll)
                           : tps_op_kind_name(op->kind);
    fprintf(out, "    %-14s %-10.10s %-6s %8lld %8lld %8lld %11.3f %11.3f %9.4f %9.4f\n", op->name,
            kind, split, (long long)op->m, (long long)op->n, (long long)op->k, op->fwd_flops / 1e9,
            op->bwd_flops / 1e9, f * MS, b * MS);
  }
}

void report_layers_table(FILE *out, const layers_report *r) {
  const tps_run *run = r->run;
  fprintf(out, "%s on %s: TP %lld, PP %lld, DP %lld, seq %lld, micro-batch %lld, %s, recompute %s%s",
          r->model->name, r->hw->name, (long long)run->tp, (long long)run->pp, (long long)run->dp,
          (long long)run->seq_len, (long long)run->micro_batch, tps_precision_name(run->precision),
          tps_recompute_name(run->recompute), run->sp ? ", SP" : "");
  if (run->tp_comm_overlap) fprintf(out, ", TP comm overlap");
  report_state_words(out, run);
  report_cp_words(out, run);
  report_fp8_words(out, run);
  report_ep_words(out, run);
  fprintf(out, "\n");
  fprintf(out, "Per rank, per micro-batch. static = weights + grads + optimizer.\n\n");
  fprintf(out, "%-34s %5s %13s %10s %10s %9s %9s %10s\n", "layer", "stage", "params/rank",
          "static MB", "act MB", "fwd ms", "bwd ms", "TP comm ms");
  int shown[64] = {0};
  for (int i = 0; i < r->plan->n_layers; i++) {
    const tps_layer *l = &r->plan->layers[i];
    const tps_layer_cost *c = &r->costs[i];
    fprintf(out, "%-34s %5d %13.0f %10.1f %10.1f %9.3f %9.3f %10.3f\n", l->name, l->stage,
            c->params, c->static_bytes / MB, c->activation_bytes / MB, c->fwd_s * MS,
            (c->bwd_s + c->recompute_s) * MS,
            (c->tp_comm_fwd_s + c->tp_comm_bwd_s + c->recompute_comm_s) * MS);
    if (r->show_ops && l->template_id < 64 && !shown[l->template_id]) {
      shown[l->template_id] = 1;
      print_ops(out, r, l->template_id);
    }
  }
}

void report_layers_json(FILE *out, const layers_report *r) {
  json_writer w;
  report_json_begin(&w, out, r->model, r->hw, false);
  json_key(&w, "tp"); json_int(&w, r->run->tp);
  json_key(&w, "pp"); json_int(&w, r->run->pp);
  json_key(&w, "dp"); json_int(&w, r->run->dp);
  report_cp_json(&w, r->run);
  report_fp8_json(&w, r->run);
  report_ep_json(&w, r->run);
  json_key(&w, "layers");
  json_array_begin(&w);
  for (int i = 0; i < r->plan->n_layers; i++) {
    const tps_layer *l = &r->plan->layers[i];
    const tps_layer_cost *c = &r->costs[i];
    const tps_template *t = &r->plan->templates[l->template_id];
    json_object_begin(&w);
    json_key(&w, "name"); json_string(&w, l->name);
    json_key(&w, "module"); json_string(&w, r->plan->modules[l->module].name);
    json_key(&w, "kind"); json_string(&w, tps_layer_kind_name(t->opts.kind));
    json_key(&w, "stage"); json_int(&w, l->stage);
    json_key(&w, "params_per_rank"); json_number(&w, c->params);
    json_key(&w, "static_bytes"); json_number(&w, c->static_bytes);
    json_key(&w, "activation_bytes"); json_number(&w, c->activation_bytes);
    json_key(&w, "fwd_s"); json_number(&w, c->fwd_s);
    json_key(&w, "bwd_s"); json_number(&w, c->bwd_s + c->recompute_s);
    json_key(&w, "tp_comm_s"); json_number(&w, c->tp_comm_fwd_s + c->tp_comm_bwd_s + c->recompute_comm_s);
    if (r->show_ops) {
      json_key(&w, "ops");
      json_array_begin(&w);
      for (int k = 0; k < t->ops.n; k++) {
        const tps_op *op = &t->ops.ops[k];
        double f = r->op_times[l->template_id][k].fwd_s, b = r->op_times[l->template_id][k].bwd_s;
        json_object_begin(&w);
        json_key(&w, "name"); json_string(&w, op->name);
        json_key(&w, "kind"); json_string(&w, tps_op_kind_name(op->kind));
        json_key(&w, "m"); json_int(&w, op->m);
        json_key(&w, "n"); json_int(&w, op->n);
        json_key(&w, "k"); json_int(&w, op->k);
        json_key(&w, "fwd_flops"); json_number(&w, op->fwd_flops);
        json_key(&w, "bwd_flops"); json_number(&w, op->bwd_flops);
        json_key(&w, "saved_bytes"); json_number(&w, op->saved_bytes);
        json_key(&w, "fwd_s"); json_number(&w, f);
        json_key(&w, "bwd_s"); json_number(&w, b);
        json_object_end(&w);
      }
      json_array_end(&w);
    }
    json_object_end(&w);
  }
  json_array_end(&w);
  json_object_end(&w);
  json_finish(&w);
}

void report_layers_csv(FILE *out, const layers_report *r) {
  fprintf(out, "layer,module,stage,params_per_rank,static_bytes,activation_bytes,fwd_s,bwd_s,tp_comm_s\n");
  for (int i = 0; i < r->plan->n_layers; i++) {
    const tps_layer *l = &r->plan->layers[i];
    const tps_layer_cost *c = &r->costs[i];
    csv_field(out, l->name);
    fputc(',', out);
    csv_field(out, r->plan->modules[l->module].name);
    fprintf(out, ",%d,%.0f,%.0f,%.0f,%.9g,%.9g,%.9g\n", l->stage, c->params, c->static_bytes,
            c->activation_bytes, c->fwd_s, c->bwd_s + c->recompute_s,
            c->tp_comm_fwd_s + c->tp_comm_bwd_s + c->recompute_comm_s);
  }
}
