/* `estimate`, `layers` and `list`: memory and time per TP size, per layer,
 * and the bundled data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct estimate_job {
  estimate_report report;
  cli_format format;
} estimate_job;

static void render_estimate_job(FILE *out, const void *data) {
  const estimate_job *job = data;
  switch (job->format) {
    case FORMAT_JSON: report_estimate_json(out, &job->report); break;
    case FORMAT_CSV: report_estimate_csv(out, &job->report); break;
    case FORMAT_MD: report_estimate_md(out, &job->report); break;
    default: report_estimate_table(out, &job->report); break;
  }
}

int cmd_estimate(const cli_args *args) {
  static tps_model model;
  static tps_hw hw;
  static cli_notes notes;
  tps_run_overrides over;
  int rc = load_inputs(args, &model, &hw, &over, &notes);
  if (rc) return rc;
  int64_t tps[CLI_MAX_TP];
  bool default_tps;
  int n_tp = tp_sizes_to_compare(args, &model, &hw, &over, tps, &notes, &default_tps);

  tps_estimate *est = calloc(CLI_MAX_TP, sizeof *est);
  tps_tp_skip *skipped = calloc(CLI_MAX_TP, sizeof *skipped);
  if (!est || !skipped) {
    free(est);
    free(skipped);
    fprintf(stderr, "tp-sim: out of memory\n");
    return EXIT_RUN;
  }
  int n = 0, n_skipped = 0;
  tps_error err;
  tps_error_clear(&err);
  tps_status st = tps_estimate_tp_list(&model, &hw, &over, tps, n_tp, est, &n, skipped,
                                       &n_skipped, &err);
  if (st != TPS_OK) {
    print_error(&err);
    free(est);
    free(skipped);
    return st == TPS_ENOMEM ? EXIT_RUN : EXIT_USAGE;
  }
  /* Candidates the user did not ask for are shown as rows with their
   * reason, not warned about. */
  if (!default_tps) warn_skipped(skipped, n_skipped);
  /* Prediction intervals: the profiles' spreads and the model error of the
   * hardware family (validation/model-error.yaml). */
  tps_uncertainty *unc = NULL;
  const tps_model_error *me = NULL;
  const tps_model_errors *errors = NULL;
  if (args->interval > 0 && n > 0 && !(errors = load_model_errors())) {
    free(est);
    free(skipped);
    return EXIT_USAGE;
  }
  if (errors && intervals_known(errors, &hw, &notes)) {
    me = tps_model_error_find(errors, &hw);
    unc = calloc((size_t)n, sizeof *unc);
    if (!unc) {
      free(est);
      free(skipped);
      fprintf(stderr, "tp-sim: out of memory\n");
      return EXIT_RUN;
    }
    tps_unc_opts uo;
    tps_unc_opts_init(&uo);
    uo.level = args->interval;
    uo.time_sd = me ? me->time_sd : 0.0;
    uo.memory_sd = me ? me->memory_sd : 0.0;
    for (int i = 0; i < n; i++) {
      if ((st = tps_uncertainty_run(&model, &hw, &est[i], &uo, &unc[i], &err)) != TPS_OK) {
        print_error(&err);
        free(unc);
        free(est);
        free(skipped);
        return st == TPS_ENOMEM ? EXIT_RUN : EXIT_USAGE;
      }
    }
  }
  estimate_job job = {.format = args->format};
  job.report.unc = unc;
  job.report.model_error = me;
  job.report.model = &model;
  job.report.hw = &hw;
  job.report.est = est;
  job.report.n = n;
  job.report.skipped = skipped;
  job.report.n_skipped = n_skipped;
  job.report.params_total = tps_model_params(&model);
  job.report.params_trainable = tps_model_trainable_params(&model);
  job.report.params_active = tps_model_active_params(&model);
  job.report.params_mtp = tps_model_mtp_params(&model);
  report_recommend(&job.report);
  const char *note_text[CLI_NOTES_MAX];
  for (int i = 0; i < notes.n; i++) note_text[i] = notes.text[i];
  report_add_notes(&job.report, note_text, notes.n);
  rc = write_output(args->output, render_estimate_job, &job);
  free(unc);
  free(est);
  free(skipped);
  return rc;
}

typedef struct layers_job {
  layers_report report;
  cli_format format;
} layers_job;

static void render_layers_job(FILE *out, const void *data) {
  const layers_job *job = data;
  switch (job->format) {
    case FORMAT_JSON: report_layers_json(out, &job->report); break;
    case FORMAT_CSV: report_layers_csv(out, &job->report); break;
    default: report_layers_table(out, &job->report); break;
  }
}

static void op_times_free(layers_op_time **t, int n) {
  if (!t) return;
  for (int i = 0; i < n; i++) free(t[i]);
  free(t);
}

/* Forward and backward seconds of every op of every layer template
 * ([template][op]), for `layers --ops`; NULL when out of memory. */
static layers_op_time **op_times_compute(const tps_plan *plan, const tps_hw *hw, const tps_run *run) {
  layers_op_time **t = calloc(plan->n_templates > 0 ? (size_t)plan->n_templates : 1, sizeof *t);
  if (!t) return NULL;
  for (int i = 0; i < plan->n_templates; i++) {
    const tps_op_list *ops = &plan->templates[i].ops;
    t[i] = calloc(ops->n > 0 ? (size_t)ops->n : 1, sizeof *t[i]);
    if (!t[i]) {
      op_times_free(t, i);
      return NULL;
    }
    for (int k = 0; k < ops->n; k++) tps_op_time(&ops->ops[k], hw, run, &t[i][k].fwd_s, &t[i][k].bwd_s);
  }
  return t;
}

int cmd_layers(const cli_args *args) {
  static tps_model model;
  static tps_hw hw;
  if (args->format == FORMAT_MD) return fail_usage("layers: --format md is not supported", "use table, json or csv");
  tps_run_overrides over;
  int rc = load_inputs(args, &model, &hw, &over, NULL);
  if (rc) return rc;
  if (args->n_tp) over.tp = args->tp_list[0];
  tps_run run;
  tps_plan plan;
  tps_error err;
  tps_error_clear(&err);
  if (tps_run_resolve(&model, &over, &run, &err) != TPS_OK ||
      tps_plan_build(&model, &run, &plan, &err) != TPS_OK) {
    print_error(&err);
    return EXIT_USAGE;
  }
  tps_layer_cost *costs = calloc((size_t)plan.n_layers, sizeof *costs);
  layers_op_time **op_times = args->show_ops ? op_times_compute(&plan, &hw, &run) : NULL;
  if (!costs || (args->show_ops && !op_times)) {
    free(costs);
    tps_plan_free(&plan);
    fprintf(stderr, "tp-sim: out of memory\n");
    return EXIT_RUN;
  }
  for (int i = 0; i < plan.n_layers; i++) tps_layer_cost_compute(&plan, i, &run, &hw, &costs[i]);
  layers_job job = {.format = args->format};
  job.report = (layers_report){.model = &model, .hw = &hw, .run = &run, .plan = &plan,
                               .costs = costs, .show_ops = args->show_ops,
                               .op_times = (const layers_op_time *const *)op_times};
  rc = write_output(args->output, render_layers_job, &job);
  op_times_free(op_times, plan.n_templates);
  free(costs);
  tps_plan_free(&plan);
  return rc;
}

int list_kind(const char *kind) {
  static char names[256][TPS_NAME_MAX];
  int n = tps_data_list(kind, names, 256);
  bool models = strcmp(kind, "models") == 0, stacks = strcmp(kind, "hw_profiles/stacks") == 0;
  for (int i = 0; i < n && i < 256; i++) {
    char path[4096];
    tps_error err;
    tps_error_clear(&err);
    if (tps_data_find(kind, names[i], path, sizeof path, &err) != TPS_OK) continue;
    if (models) {
      static tps_model m;
      if (tps_model_load(path, &m, &err) == TPS_OK)
        printf("%-24s %5.2fB params, %d module%s%s%s\n", names[i], tps_model_params(&m) / 1e9,
               m.n_modules, m.n_modules == 1 ? "" : "s", m.default_hw[0] ? ", default hw " : "",
               m.default_hw);
      else
        printf("%-24s (invalid: %s)\n", names[i], err.msg);
    } else if (stacks) {
      static tps_stack s;
      if (tps_stack_load(path, &s, &err) == TPS_OK)
        printf("%-24s host %.1f us per op, %.2f ms per micro-batch, %.2f ms per step%s\n", names[i],
               s.host_dispatch_s * 1e6, s.per_micro_batch_s * 1e3, s.per_step_s * 1e3,
               strncmp(s.source, "FITTED", 6) == 0 ? " (fitted)" : "");
      else
        printf("%-24s (invalid: %s)\n", names[i], err.msg);
    } else {
      static tps_hw h;
      if (tps_hw_load(path, &h, &err) == TPS_OK)
        printf("%-24s %s, %.0f GB, %lld per node, stack %s\n", names[i], h.device_name,
               h.memory_bytes / 1e9, (long long)h.devices_per_node,
               h.stack_name[0] ? h.stack_name : "none");
      else
        printf("%-24s (invalid: %s)\n", names[i], err.msg);
    }
  }
  return EXIT_OK;
}
