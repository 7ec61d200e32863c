/* `tp-sim fit`: fit software-stack constants to measured runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "reports/fit_report.h"
#include "validate/fit.h"

typedef struct fit_job {
  const fit_result *res;
  cli_format format;
  char date[32];
} fit_job;

static void render_fit(FILE *out, const void *data) {
  const fit_job *job = data;
  if (job->format == FORMAT_JSON)
    report_fit_json(out, job->res);
  else
    report_fit_table(out, job->res);
}

static void render_stack(FILE *out, const void *data) {
  const fit_job *job = data;
  report_fit_stack_yaml(out, job->res, job->date);
}

static void render_model_error(FILE *out, const void *data) {
  const fit_job *job = data;
  report_fit_model_error_yaml(out, job->res);
}

int cmd_fit(const cli_args *args) {
  if (args->format != FORMAT_TABLE && args->format != FORMAT_JSON)
    return fail_usage("fit: --format must be table or json", NULL);
  fit_opts o;
  memset(&o, 0, sizeof o);
  for (int i = 0; i < args->n_cases; i++) o.files[o.n_files++] = args->cases[i];
  o.stack = args->stack;
  o.hw_override = args->hw;
  /* --param a,b,c */
  char names[512];
  if (args->params && strcmp(args->params, "none") == 0) {
    o.none = true;
    if (args->write_path)
      return fail_usage("fit: --write with --param none: no constant is fitted to write",
                        "drop --write (--write-model-error still writes the model error)");
  } else if (args->params) {
    if (strlen(args->params) >= sizeof names) return fail_usage("--param: list too long", NULL);
    snprintf(names, sizeof names, "%s", args->params);
    for (char *save = NULL, *t = strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      if (o.n_params == FIT_MAX_PARAMS) return fail_usage("--param: too many constants", NULL);
      o.params[o.n_params++] = t;
    }
  }
  fit_result res;
  tps_error err;
  tps_error_clear(&err);
  int rc = fit_run(&o, &res, &err);
  if (rc != 0) {
    print_error(&err);
    fit_result_free(&res);
    return rc == 2 ? EXIT_USAGE : EXIT_TOLERANCE;
  }
  fit_job job = {.res = &res, .format = args->format};
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(job.date, sizeof job.date, "%Y-%m-%d", &tm);
  rc = write_output(args->output, render_fit, &job);
  if (rc == EXIT_OK && args->write_path) rc = write_output(args->write_path, render_stack, &job);
  if (rc == EXIT_OK && args->write_me_path)
    rc = write_output(args->write_me_path, render_model_error, &job);
  fit_result_free(&res);
  return rc;
}
