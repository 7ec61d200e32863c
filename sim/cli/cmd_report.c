/* `report` (capacity planning) and `recommend` (search). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/recommend_unc.h"
#include "cli/report_build.h"
#include "reports/search_report.h"

static void report_progress(int done, int total, void *ctx) {
  (void)ctx;
  fprintf(stderr, "\rtp-sim: report: %d of %d TP sizes evaluated%s", done, total,
          done == total ? "\n" : "");
}

int cmd_report(const cli_args *args) {
  if (!args->output)
    return fail_usage("report: -o DIR is required", "tp-sim report --model M --tp 1,2,4 -o DIR");
  double tokens = 0.0;
  if (args->tokens && tps_token_count_parse(args->tokens, &tokens) != TPS_OK) {
    char msg[160];
    snprintf(msg, sizeof msg, "--tokens: expected a token count such as 1T, 500B or 2.5e12, got '%s'",
             args->tokens);
    return fail_usage(msg, NULL);
  }
  if ((tokens > 0) != (args->days > 0))
    return fail_usage("report: --tokens and --days go together", "e.g. --tokens 1T --days 30");
  static tps_model model;
  static tps_hw hw;
  static cli_notes notes;
  tps_run_overrides over;
  int rc = load_inputs(args, &model, &hw, &over, &notes);
  if (rc) return rc;
  int64_t tps[CLI_MAX_TP] = {0};
  bool default_tps;
  int n_tp = tp_sizes_to_compare(args, &model, &hw, &over, tps, &notes, &default_tps);
  report_bundle b;
  tps_error err;
  tps_error_clear(&err);
  tps_status st = report_bundle_build_ex(&model, &hw, &over, tps, n_tp, tokens, args->days,
                                         isatty(STDERR_FILENO) ? report_progress : NULL, NULL, &b,
                                         &err);
  if (st != TPS_OK) {
    print_error(&err);
    return st == TPS_ENOMEM ? EXIT_RUN : EXIT_USAGE;
  }
  /* Candidates the user did not ask for are rows with their reason. */
  if (!default_tps) warn_skipped(b.report.skipped, b.report.n_skipped);
  /* Prediction intervals (docs/uncertainty.md): error bars and bands in the
   * charts, intervals of the capacity plan. */
  if (args->interval > 0) {
    const tps_model_errors *errors = load_model_errors();
    if (!errors) {
      report_bundle_free(&b);
      return EXIT_USAGE;
    }
    st = intervals_known(errors, &hw, &notes)
             ? report_bundle_add_intervals(&b, &over, args->interval, errors, &err)
             : TPS_OK;
    if (st != TPS_OK) {
      print_error(&err);
      report_bundle_free(&b);
      return st == TPS_ENOMEM ? EXIT_RUN : EXIT_USAGE;
    }
  }
  const char *note_text[CLI_NOTES_MAX];
  for (int i = 0; i < notes.n; i++) note_text[i] = notes.text[i];
  report_add_notes(&b.report, note_text, notes.n);
  b.price = args->price;
  for (int i = 0; i < b.report.n; i++) {
    const tps_capacity_row *c = &b.capacity[i];
    if (c->has_budget && c->budget.reachable && c->budget.global_batch != b.est[i].run.global_batch)
      fprintf(stderr,
              "tp-sim: warning: TP=%lld: the budget's %lld cards run a global batch of %lld, not "
              "%lld (micro-batches per replica kept); check that the recipe allows it\n",
              (long long)c->tp, (long long)c->budget.cards, (long long)c->budget.global_batch,
              (long long)b.est[i].run.global_batch);
  }
  st = report_bundle_write(&b, args->output, &err);
  report_bundle_free(&b);
  if (st != TPS_OK) {
    print_error(&err);
    return EXIT_RUN;
  }
  fprintf(stderr, "tp-sim: wrote %s/report.{md,html,csv,json}\n", args->output);
  return EXIT_OK;
}

typedef struct recommend_job {
  search_report report;
  cli_format format;
} recommend_job;

static void render_recommend_job(FILE *out, const void *data) {
  const recommend_job *job = data;
  if (job->format == FORMAT_JSON)
    report_search_json(out, &job->report);
  else
    report_search_table(out, &job->report);
}

/* Progress on a terminal once a search has run for a second. */
static int search_progress(void *user, int64_t done, int64_t total, double elapsed_s) {
  bool *shown = user;
  if (elapsed_s < 1.0 && !*shown) return 0;
  *shown = true;
  fprintf(stderr, "\rtp-sim: recommend: %lld of %lld configurations", (long long)done,
          (long long)total);
  if (done >= total) fputc('\n', stderr);
  return 0;
}

/* recommend: search TP x PP x DP x SP x recompute x micro-batch x
 * distributed optimizer for the card count, rank, recommend. */
int cmd_recommend(const cli_args *args) {
  if (args->format != FORMAT_TABLE && args->format != FORMAT_JSON)
    return fail_usage("recommend: --format must be table or json", NULL);
  static tps_model model;
  static tps_hw hw;
  tps_run_overrides over;
  int rc = load_inputs(args, &model, &hw, &over, NULL);
  if (rc) return rc;
  /* --megatron-args: what the search does not vary is the run's setting;
   * the sizes it varies are fixed when the arguments give them; the
   * switches it searches are named as not kept. */
  tps_training *tr = &model.training;
  if (over.flash_attention >= 0) tr->flash_attention = over.flash_attention;
  if (over.overlap_grad_reduce >= 0) tr->overlap_grad_reduce = over.overlap_grad_reduce;
  if (over.tp_comm_overlap >= 0) tr->tp_comm_overlap = over.tp_comm_overlap;
  if (over.grad_reduce_bf16 >= 0) tr->grad_reduce_bf16 = over.grad_reduce_bf16;
  if (over.overlap_param_gather >= 0) tr->overlap_param_gather = over.overlap_param_gather;
  if (over.reuse_fp32_param >= 0) tr->reuse_fp32_param = over.reuse_fp32_param;
  if (over.recompute_activation >= 0) tr->recompute_activation = over.recompute_activation;
  if (over.cross_entropy >= 0) tr->cross_entropy = (tps_cross_entropy)over.cross_entropy;
  if (over.mean_seq_len > 0) tr->mean_seq_len = over.mean_seq_len;
  int64_t one_tp[1] = {over.tp}, one_pp[1] = {over.pp}, one_mb[1] = {over.micro_batch};
  const char *searched[3] = {over.sp >= 0 ? "sequence parallelism" : NULL,
                             over.recompute >= 0 ? "recompute" : NULL,
                             over.distributed_optimizer >= 0 ? "the distributed optimizer" : NULL};
  for (int i = 0; i < 3; i++)
    if (searched[i])
      fprintf(stderr, "tp-sim: note: recommend searches %s; the --megatron-args setting is not "
                      "kept\n", searched[i]);
  if (over.vpp > 0)
    fprintf(stderr, "tp-sim: note: recommend searches the interleaved schedule (VPP); the "
                    "--megatron-args setting is not kept\n");
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = over.cards > 0 ? over.cards : model.training.cards;
  o.seq_len = over.seq_len;
  o.global_batch = over.global_batch;
  o.precision = over.precision;
  o.memory_margin = over.memory_margin;
  o.cp = over.cp;
  o.cp_algo = over.cp_algo;
  o.ulysses_degree = over.ulysses_degree;
  o.fp8 = over.fp8;
  o.fp8_amax_history = over.fp8_amax_history;
  o.fp8_param_gather = over.fp8_param_gather;
  o.ep = over.ep;
  o.etp = over.etp;
  if (args->top > 0) o.top_n = (int)args->top;
  o.max_tp = args->max_tp;
  if (args->max_tp > 0 && args->n_tp > 0)
    return fail_usage("recommend: give --tp LIST or --max-tp N, not both", NULL);
  o.tp_list = args->tp_list;
  o.n_tp_list = args->n_tp;
  o.pp_list = args->pp_list;
  o.n_pp_list = args->n_pp;
  o.mb_list = args->mb_list;
  o.n_mb_list = args->n_mb;
  if (over.tp > 0 && args->n_tp == 0 && args->max_tp == 0) {
    o.tp_list = one_tp;
    o.n_tp_list = 1;
  }
  if (over.pp > 0 && args->n_pp == 0) {
    o.pp_list = one_pp;
    o.n_pp_list = 1;
  }
  if (over.micro_batch > 0 && args->n_mb == 0) {
    o.mb_list = one_mb;
    o.n_mb_list = 1;
  }
  bool shown = false;
  if (isatty(STDERR_FILENO)) {
    o.progress = search_progress;
    o.progress_user = &shown;
  }
  static tps_search_result res;
  tps_search_result_init(&res);
  tps_error err;
  tps_error_clear(&err);
  tps_status st = tps_search(&model, &hw, &o, &res, &err);
  if (st != TPS_OK) {
    print_error(&err);
    tps_search_result_free(&res);
    return st == TPS_ENOMEM ? EXIT_RUN : EXIT_USAGE;
  }
  /* Intervals of the rows printed only (docs/uncertainty.md). */
  recommend_unc unc = {0};
  const tps_model_errors *errors = NULL;
  if (args->interval > 0 && !(errors = load_model_errors())) {
    tps_search_result_free(&res);
    return EXIT_USAGE;
  }
  const double level = errors && intervals_known(errors, &hw, NULL) ? args->interval : 0.0;
  st = recommend_intervals(&model, &hw, &res, level, errors, &unc, &err);
  if (st != TPS_OK) {
    print_error(&err);
    tps_search_result_free(&res);
    return st == TPS_ENOMEM ? EXIT_RUN : EXIT_USAGE;
  }
  recommend_job job = {.report = {.model = &model, .hw = &hw, .res = &res, .top_unc = unc.top,
                                  .tp_unc = unc.by_tp, .model_error = unc.model_error},
                       .format = args->format};
  rc = write_output(args->output, render_recommend_job, &job);
  recommend_unc_free(&unc);
  tps_search_result_free(&res);
  return rc;
}
