/* tp-sim: the command-line front end. The only part that prints and exits.
 * Exit codes (CONTRACT): 0 success, 1 a run failed (I/O while writing),
 * 2 bad usage or bad input file, 3 validate found errors beyond tolerance. */
#include <errno.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/options.h"
#include "reports/report.h"
#include "reports/report_bundle.h"
#include "reports/search_report.h"
#include "reports/kernel_report.h"
#include "reports/validate_report.h"
#include "validate/kernel_validate.h"
#include "validate/published.h"

enum { EXIT_OK = 0, EXIT_RUN = 1, EXIT_USAGE = 2, EXIT_TOLERANCE = 3 };

static void print_error(const tps_error *err) {
  fputs("tp-sim: ", stderr);
  if (err->file[0] && err->line > 0)
    fprintf(stderr, "%s:%d:%d: ", err->file, err->line, err->col);
  else if (err->file[0])
    fprintf(stderr, "%s: ", err->file);
  fprintf(stderr, "%s\n", err->msg[0] ? err->msg : tps_strerror(err->status));
  if (err->hint[0]) fprintf(stderr, "hint: %s\n", err->hint);
}

static int fail_usage(const char *msg, const char *hint) {
  fprintf(stderr, "tp-sim: %s\n", msg);
  if (hint) fprintf(stderr, "hint: %s\n", hint);
  return EXIT_USAGE;
}

/* ---- output: stdout, or a temporary file renamed into place ---- */

typedef void (*render_fn)(FILE *out, const void *data);

static int write_output(const char *path, render_fn render, const void *data) {
  if (!path) {
    render(stdout, data);
    if (fflush(stdout) != 0) {
      fprintf(stderr, "tp-sim: cannot write to standard output: %s\n", strerror(errno));
      return EXIT_RUN;
    }
    return EXIT_OK;
  }
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
    return fail_usage("--output: path too long", NULL);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    fprintf(stderr, "tp-sim: %s: cannot create: %s\n", path, strerror(errno));
    return EXIT_RUN;
  }
  mode_t mask = umask(0); /* the usual permissions, not mkstemp's 0600 */
  umask(mask);
  (void)fchmod(fd, 0666 & ~mask); /* best effort: on failure the file stays private */
  FILE *f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    unlink(tmp);
    fprintf(stderr, "tp-sim: %s: cannot write: %s\n", path, strerror(errno));
    return EXIT_RUN;
  }
  render(f, data);
  int bad = ferror(f);
  if (fclose(f) != 0) bad = 1;
  if (bad || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    fprintf(stderr, "tp-sim: %s: cannot write: %s\n", path, strerror(e));
    return EXIT_RUN;
  }
  return EXIT_OK;
}

/* ---- loading ---- */

/* Lays the run options given on the command line over those read from
 * Megatron arguments: what the user typed wins. */
static void merge_overrides(tps_run_overrides *eco, const tps_run_overrides *cli) {
  int64_t *eco_i[] = {&eco->tp,      &eco->pp,          &eco->vpp,         &eco->dp,
                      &eco->cards,   &eco->seq_len,     &eco->micro_batch, &eco->global_batch};
  const int64_t cli_i[] = {cli->tp,    cli->pp,      cli->vpp,         cli->dp,
                           cli->cards, cli->seq_len, cli->micro_batch, cli->global_batch};
  for (size_t i = 0; i < sizeof cli_i / sizeof cli_i[0]; i++)
    if (cli_i[i] > 0) *eco_i[i] = cli_i[i];
  int *eco_t[] = {&eco->sp, &eco->distributed_optimizer, &eco->flash_attention,
                  &eco->overlap_grad_reduce, &eco->recompute, &eco->precision};
  const int cli_t[] = {cli->sp, cli->distributed_optimizer, cli->flash_attention,
                       cli->overlap_grad_reduce, cli->recompute, cli->precision};
  for (size_t i = 0; i < sizeof cli_t / sizeof cli_t[0]; i++)
    if (cli_t[i] >= 0) *eco_t[i] = cli_t[i];
  eco->memory_margin = cli->memory_margin;
}

static void warn_unresolved(const char *where, const tps_eco_unresolved *u) {
  for (int i = 0; i < u->n; i++) {
    const tps_eco_item *it = &u->items[i];
    fprintf(stderr, "tp-sim: warning: %s", where);
    if (it->line > 0) fprintf(stderr, ":%d", it->line);
    if (it->arg[0])
      fprintf(stderr, ": %s '%s' not used: %s\n", it->arg, it->text, it->why);
    else
      fprintf(stderr, ": '%s' not used: %s\n", it->text, it->why);
  }
  if (u->dropped > 0) fprintf(stderr, "tp-sim: warning: %s: %d more not used\n", where, u->dropped);
}

/* Loads the model (--model, and/or a launch script's and --megatron-args'
 * shape flags) and the hardware profile, and resolves the run options:
 * Megatron arguments first, explicit tp-sim options over them. */
static int load_inputs(const cli_args *args, tps_model *model, tps_hw *hw,
                       tps_run_overrides *over) {
  tps_error err;
  tps_error_clear(&err);
  char path[4096];
  memset(model, 0, sizeof *model);
  if (args->model) {
    if (tps_data_find("models", args->model, path, sizeof path, &err) != TPS_OK ||
        tps_model_load(path, model, &err) != TPS_OK) {
      print_error(&err);
      return EXIT_USAGE;
    }
  } else if (!args->script) {
    return fail_usage("--model is required", "see `tp-sim list models`");
  }
  tps_run_overrides eco;
  tps_run_overrides_init(&eco);
  tps_eco_unresolved unres;
  if (args->script) {
    tps_eco_unresolved_init(&unres);
    if (tps_megatron_script_load(args->script, model, &eco, &unres, &err) != TPS_OK) {
      print_error(&err);
      return EXIT_USAGE;
    }
    warn_unresolved(args->script, &unres);
    if (model->n_modules == 0) {
      char msg[600];
      snprintf(msg, sizeof msg, "%s gives no complete model", args->script);
      return fail_usage(msg, "pass --model, or a script with --num-layers, --hidden-size and "
                             "--num-attention-heads");
    }
  }
  if (args->megatron_args) {
    tps_eco_unresolved_init(&unres);
    if (tps_megatron_args_parse(args->megatron_args, model, &eco, &unres, &err) != TPS_OK) {
      print_error(&err);
      return EXIT_USAGE;
    }
    warn_unresolved("--megatron-args", &unres);
  }
  merge_overrides(&eco, &args->over);
  *over = eco;
  const char *hw_name = args->hw ? args->hw : model->default_hw;
  if (!hw_name || !hw_name[0])
    return fail_usage("--hw is required: the model names no default hardware",
                      "see `tp-sim list hw`");
  if (tps_data_find("hw_profiles", hw_name, path, sizeof path, &err) != TPS_OK ||
      tps_hw_load(path, hw, &err) != TPS_OK) {
    print_error(&err);
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

/* ---- commands ---- */

static void warn_skipped(const report_skip *skipped, int n) {
  for (int i = 0; i < n; i++)
    fprintf(stderr, "tp-sim: warning: TP=%lld skipped: %s\n", (long long)skipped[i].tp,
            skipped[i].why);
}

typedef struct command {
  const char *name;
  const char *usage;
  const char *summary;
  unsigned groups;
  int (*run)(const cli_args *args);
} command;

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

static int cmd_estimate(const cli_args *args) {
  static tps_model model;
  static tps_hw hw;
  tps_run_overrides over;
  int rc = load_inputs(args, &model, &hw, &over);
  if (rc) return rc;
  int64_t tps[CLI_MAX_TP];
  int n_tp = args->n_tp;
  memcpy(tps, args->tp_list, sizeof tps);
  if (n_tp == 0) tps[n_tp++] = over.tp; /* Megatron's, else 0: the model's default */

  static tps_estimate est[CLI_MAX_TP];
  static report_skip skipped[CLI_MAX_TP];
  int n = 0, n_skipped = 0;
  tps_error err;
  tps_error_clear(&err);
  tps_status st = report_estimate_tps(&model, &hw, &over, tps, n_tp, est, &n, skipped,
                                      &n_skipped, &err);
  if (st != TPS_OK) {
    print_error(&err);
    return st == TPS_ENOMEM ? EXIT_RUN : EXIT_USAGE;
  }
  warn_skipped(skipped, n_skipped);
  estimate_job job = {.format = args->format};
  job.report.model = &model;
  job.report.hw = &hw;
  job.report.est = est;
  job.report.n = n;
  job.report.skipped = skipped;
  job.report.n_skipped = n_skipped;
  report_recommend(&job.report);
  return write_output(args->output, render_estimate_job, &job);
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

static int cmd_layers(const cli_args *args) {
  static tps_model model;
  static tps_hw hw;
  if (args->format == FORMAT_MD) return fail_usage("layers: --format md is not supported", "use table, json or csv");
  tps_run_overrides over;
  int rc = load_inputs(args, &model, &hw, &over);
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
  if (!costs) {
    tps_plan_free(&plan);
    fprintf(stderr, "tp-sim: out of memory\n");
    return EXIT_RUN;
  }
  for (int i = 0; i < plan.n_layers; i++) tps_layer_cost_compute(&plan, i, &model, &run, &hw, &costs[i]);
  layers_job job = {.format = args->format};
  job.report = (layers_report){.model = &model, .hw = &hw, .run = &run, .plan = &plan,
                               .costs = costs, .show_ops = args->show_ops};
  rc = write_output(args->output, render_layers_job, &job);
  free(costs);
  tps_plan_free(&plan);
  return rc;
}

static int list_kind(const char *kind) {
  static char names[256][TPS_NAME_MAX];
  int n = tps_data_list(kind, names, 256);
  bool models = strcmp(kind, "models") == 0;
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
    } else {
      static tps_hw h;
      if (tps_hw_load(path, &h, &err) == TPS_OK)
        printf("%-24s %s, %.0f GB, %lld per node\n", names[i], h.device_name, h.memory_bytes / 1e9,
               (long long)h.devices_per_node);
      else
        printf("%-24s (invalid: %s)\n", names[i], err.msg);
    }
  }
  return EXIT_OK;
}

typedef struct validate_job {
  validate_report report;
  cli_format format;
} validate_job;

static void render_validate_job(FILE *out, const void *data) {
  const validate_job *job = data;
  if (job->format == FORMAT_JSON)
    report_validate_json(out, &job->report);
  else
    report_validate_table(out, &job->report);
}

/* Exit 3 when --max-error is given and a comparison exceeds it; names them. */
static int check_tolerance(const validate_report *r, double max_error_pct) {
  if (max_error_pct < 0) return EXIT_OK;
  int n = pub_count_beyond(r, max_error_pct / 100.0);
  if (n == 0) return EXIT_OK;
  fprintf(stderr, "tp-sim: validate: %d of %d comparison%s exceed --max-error %g%%:\n", n, r->n,
          r->n == 1 ? "" : "s", max_error_pct);
  for (int i = 0; i < r->n_rows; i++) {
    const validate_row *row = &r->rows[i];
    if (!row->skipped[0] && fabs(row->error) > max_error_pct / 100.0)
      fprintf(stderr, "  %s %s\n", row->id, row->metric);
  }
  return EXIT_TOLERANCE;
}

typedef struct kernel_job {
  const kv_report *report;
  cli_format format;
} kernel_job;

static void render_kernel_job(FILE *out, const void *data) {
  const kernel_job *job = data;
  if (job->format == FORMAT_JSON)
    report_kernel_json(out, job->report);
  else
    report_kernel_table(out, job->report, true);
}

/* validate --kernel: tp-kernel over a grid, predicted vs measured per op. */
static int cmd_validate_kernel(const cli_args *args) {
  if (args->published)
    return fail_usage("validate: give --kernel or --published, not both", NULL);
  if (args->format != FORMAT_TABLE && args->format != FORMAT_JSON)
    return fail_usage("validate: --format must be table or json", NULL);
  kv_validate_opts o = {.hw = args->hw, .prefix = args->hw_prefix, .quick = args->quick,
                        .log = isatty(STDERR_FILENO) ? stderr : NULL};
  kv_report rep;
  memset(&rep, 0, sizeof rep);
  tps_error err;
  tps_error_clear(&err);
  tps_status st = kv_validate(&o, &rep, &err);
  if (st != TPS_OK) {
    print_error(&err);
    kv_report_free(&rep);
    return st == TPS_EINVAL || st == TPS_ENOTFOUND ? EXIT_USAGE : EXIT_RUN;
  }
  kernel_job job = {.report = &rep, .format = args->format};
  int rc = write_output(args->output, render_kernel_job, &job);
  if (rc == EXIT_OK && args->max_error_pct >= 0) {
    int n = kv_count_beyond(&rep, args->max_error_pct / 100.0);
    if (n > 0) {
      fprintf(stderr, "tp-sim: validate --kernel: %d case%s exceed --max-error %g%%\n", n,
              n == 1 ? "" : "s", args->max_error_pct);
      rc = EXIT_TOLERANCE;
    }
  }
  kv_report_free(&rep);
  return rc;
}

/* calibrate: measure this machine with tp-kernel, write hardware profiles. */
static int cmd_calibrate(const cli_args *args) {
  kv_calibrate_opts o = {.prefix = args->output, .quick = args->quick,
                         .log = isatty(STDERR_FILENO) ? stderr : NULL};
  char written[4096] = "";
  tps_error err;
  tps_error_clear(&err);
  tps_status st = kv_calibrate(&o, written, sizeof written, &err);
  if (st != TPS_OK) {
    print_error(&err);
    return st == TPS_EINVAL || st == TPS_ENOTFOUND ? EXIT_USAGE : EXIT_RUN;
  }
  printf("%s", written);
  if (written[0] && written[strlen(written) - 1] != '\n') printf("\n");
  return EXIT_OK;
}

static int cmd_validate(const cli_args *args) {
  if (args->kernel) return cmd_validate_kernel(args);
  if (!args->published)
    return fail_usage("validate: --published FILE or --kernel is required", "tp-sim validate --help");
  if (args->format != FORMAT_TABLE && args->format != FORMAT_JSON)
    return fail_usage("validate: --format must be table or json", NULL);
  validate_job job = {.format = args->format};
  tps_error err;
  tps_error_clear(&err);
  tps_status st = pub_validate(args->published, args->hw, &job.report, &err);
  if (st != TPS_OK) {
    print_error(&err);
    pub_report_free(&job.report);
    return st == TPS_ENOMEM ? EXIT_RUN : EXIT_USAGE;
  }
  int rc = write_output(args->output, render_validate_job, &job);
  if (rc == EXIT_OK) rc = check_tolerance(&job.report, args->max_error_pct);
  pub_report_free(&job.report);
  return rc;
}

static void report_progress(int done, int total, void *ctx) {
  (void)ctx;
  fprintf(stderr, "\rtp-sim: report: %d of %d TP sizes evaluated%s", done, total,
          done == total ? "\n" : "");
}

static int cmd_report(const cli_args *args) {
  if (!args->output)
    return fail_usage("report: -o DIR is required", "tp-sim report --model M --tp 1,2,4 -o DIR");
  double tokens = 0.0;
  if (args->tokens && report_parse_tokens(args->tokens, &tokens) != TPS_OK) {
    char msg[160];
    snprintf(msg, sizeof msg, "--tokens: expected a token count such as 1T, 500B or 2.5e12, got '%s'",
             args->tokens);
    return fail_usage(msg, NULL);
  }
  if ((tokens > 0) != (args->days > 0))
    return fail_usage("report: --tokens and --days go together", "e.g. --tokens 1T --days 30");
  static tps_model model;
  static tps_hw hw;
  tps_run_overrides over;
  int rc = load_inputs(args, &model, &hw, &over);
  if (rc) return rc;
  int64_t tps[CLI_MAX_TP] = {0};
  int n_tp = args->n_tp ? args->n_tp : 1;
  memcpy(tps, args->tp_list, sizeof tps);
  if (!args->n_tp) tps[0] = over.tp;
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
  warn_skipped(b.report.skipped, b.report.n_skipped);
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
static int cmd_recommend(const cli_args *args) {
  if (args->format != FORMAT_TABLE && args->format != FORMAT_JSON)
    return fail_usage("recommend: --format must be table or json", NULL);
  static tps_model model;
  static tps_hw hw;
  tps_run_overrides over;
  int rc = load_inputs(args, &model, &hw, &over);
  if (rc) return rc;
  tps_search_opts o;
  tps_search_opts_init(&o);
  o.cards = over.cards > 0 ? over.cards : model.training.cards;
  o.seq_len = over.seq_len;
  o.global_batch = over.global_batch;
  o.precision = over.precision;
  o.memory_margin = over.memory_margin;
  if (args->top > 0) o.top_n = (int)args->top;
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
  recommend_job job = {.report = {.model = &model, .hw = &hw, .res = &res}, .format = args->format};
  rc = write_output(args->output, render_recommend_job, &job);
  tps_search_result_free(&res);
  return rc;
}

static const command commands[] = {
    {"estimate", "tp-sim estimate --model M [--hw H] --tp LIST [options]",
     "memory per card and throughput for each TP size (the default command)",
     OPTS_MODEL | OPTS_TP_LIST | OPTS_RUN | OPTS_OUTPUT, cmd_estimate},
    {"layers", "tp-sim layers --model M [--hw H] --tp N [options]",
     "per-layer breakdown of memory and time at one configuration",
     OPTS_MODEL | OPTS_TP_ONE | OPTS_RUN | OPTS_OUTPUT | OPTS_LAYERS, cmd_layers},
    {"from-script", "tp-sim from-script FILE.sh [--model M] [--hw H] [--tp LIST] [options]",
     "estimate the run of a Megatron/MindSpeed launch script (its flags and variables)",
     OPTS_MODEL | OPTS_TP_LIST | OPTS_RUN | OPTS_OUTPUT, cmd_estimate},
    {"recommend", "tp-sim recommend --model M [--hw H] [--cards N] [options]",
     "search TP x PP x DP x SP x recompute x micro-batch x optimizer sharding; rank; default TP",
     OPTS_MODEL | OPTS_SEARCH | OPTS_OUTPUT, cmd_recommend},
    {"report", "tp-sim report --model M --tp LIST -o DIR [--tokens 1T --days 30]",
     "capacity-planning report: Markdown, self-contained HTML with charts, CSV, JSON",
     OPTS_MODEL | OPTS_TP_LIST | OPTS_RUN | OPTS_REPORT, cmd_report},
    {"validate", "tp-sim validate --published FILE | --kernel [options]",
     "predicted vs measured with errors and MAPE: published runs, or tp-kernel runs on this machine",
     OPTS_VALIDATE | OPTS_KERNEL | OPTS_OUTPUT, cmd_validate},
    {"calibrate", "tp-sim calibrate [-o PREFIX] [--quick]",
     "measure this machine with tp-kernel and write hardware profiles PREFIX-tpN[-sp].yaml",
     OPTS_CALIBRATE, cmd_calibrate},
    {"list", "tp-sim list models|hw", "bundled models or hardware profiles", 0, NULL},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void print_main_help(void) {
  printf("tp-sim %s: tensor-parallel training simulator (memory per card, step time, default TP)\n\n",
         TPSIM_VERSION);
  printf("Usage:\n  tp-sim --model M --tp 1,2,4 [--hw H]   same as `tp-sim estimate ...`\n");
  for (int i = 0; i < N_COMMANDS; i++)
    printf("  %s\n      %s\n", commands[i].usage, commands[i].summary);
  printf("  tp-sim --help | --version\n\nEvery command has --help. Exit codes: 0 ok, 1 run failed, 2 bad usage or input,\n3 validate beyond --max-error.\n");
  printf("Bundled data: $TPSIM_DATA_DIR or %s (models/, hw_profiles/).\n", "the build's data directory");
}

static void print_command_help(const command *c) {
  printf("Usage: %s\n\n%s.\n\n", c->usage, c->summary);
  if (c->groups) {
    printf("Options:\n");
    cli_print_options(c->groups);
  }
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  if (argc < 2) {
    print_main_help();
    return EXIT_USAGE;
  }
  const char *first = argv[1];
  if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0 || strcmp(first, "help") == 0) {
    print_main_help();
    return EXIT_OK;
  }
  if (strcmp(first, "--version") == 0) {
    printf("tp-sim %s\n", TPSIM_VERSION);
    return EXIT_OK;
  }
  const command *cmd = NULL;
  int arg0 = 2;
  if (first[0] == '-') {
    cmd = &commands[0]; /* estimate is the default */
    arg0 = 1;
  } else {
    for (int i = 0; i < N_COMMANDS; i++)
      if (strcmp(commands[i].name, first) == 0) cmd = &commands[i];
  }
  if (!cmd) {
    char msg[256];
    snprintf(msg, sizeof msg, "unknown command '%s'", first);
    const char *names[N_COMMANDS];
    for (int i = 0; i < N_COMMANDS; i++) names[i] = commands[i].name;
    const char *close = tps_did_you_mean(first, names, N_COMMANDS);
    char hint[128] = "see tp-sim --help";
    if (close) snprintf(hint, sizeof hint, "did you mean '%s'?", close);
    return fail_usage(msg, hint);
  }
  if (!cmd->run) { /* list */
    if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
      print_command_help(cmd);
      return EXIT_OK;
    }
    if (argc != 3 || (strcmp(argv[2], "models") != 0 && strcmp(argv[2], "hw") != 0))
      return fail_usage("list: expected 'models' or 'hw'", "tp-sim list models");
    return list_kind(strcmp(argv[2], "models") == 0 ? "models" : "hw_profiles");
  }
  cli_args args;
  cli_args_init(&args);
  tps_error err;
  tps_error_clear(&err);
  if (strcmp(cmd->name, "from-script") == 0 && argc >= 3 && argv[2][0] != '-') {
    args.script = argv[2]; /* the one positional argument */
    arg0 = 3;
  }
  if (cli_parse(argc, argv, arg0, cmd->groups, &args, &err) != TPS_OK) {
    print_error(&err);
    return EXIT_USAGE;
  }
  if (args.help) {
    print_command_help(cmd);
    return EXIT_OK;
  }
  if (strcmp(cmd->name, "from-script") == 0 && !args.script)
    return fail_usage("from-script: expected a launch script FILE.sh", "tp-sim from-script train.sh --hw 910b2");
  return cmd->run(&args);
}
