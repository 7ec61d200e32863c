/* `validate` (published runs or tp-kernel runs) and `calibrate`. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "reports/kernel_report.h"
#include "reports/validate_report.h"
#include "validate/kernel_validate.h"
#include "validate/published.h"

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

/* After a tp-kernel driver returned: when tp-sim got SIGINT/SIGTERM/SIGHUP
 * meanwhile (the run's processes are stopped and the temporary folder is
 * removed by then), end by that same signal, as the shell expects. */
static void end_if_interrupted(void) {
  int sig = kv_interrupted();
  if (!sig) return;
  fflush(stdout);
  signal(sig, SIG_DFL);
  raise(sig);
}

/* The exit code of a failed driver: a bad option or profile is bad usage;
 * a run that failed (or nothing to compare) is a failed run. */
static int driver_failed(tps_status st, const tps_error *err) {
  print_error(err);
  end_if_interrupted();
  return st == TPS_EINVAL || st == TPS_ENOTFOUND ? EXIT_USAGE : EXIT_RUN;
}

/* The directory an output (-o FILE, or a calibrate PREFIX) goes to must
 * exist before minutes of tp-kernel runs, not after. */
static int output_dir_ok(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!slash) return EXIT_OK;
  snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  struct stat sb;
  int e = stat(dir, &sb) != 0 ? errno : S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
  if (e) {
    fprintf(stderr, "tp-sim: %s: cannot create: %s\n", path, strerror(e));
    return EXIT_RUN;
  }
  return EXIT_OK;
}

/* validate --kernel: tp-kernel over a grid, predicted vs measured per op. */
static int cmd_validate_kernel(const cli_args *args) {
  if (args->published)
    return fail_usage("validate: give --kernel or --published, not both", NULL);
  if (args->interval_given)
    return fail_usage("validate --kernel: --interval applies to --published only",
                      "the kernel comparison has no prediction intervals yet");
  if (args->format != FORMAT_TABLE && args->format != FORMAT_JSON)
    return fail_usage("validate: --format must be table or json", NULL);
  if (args->output && output_dir_ok(args->output) != EXIT_OK) return EXIT_RUN;
  kv_validate_opts o = {.hw = args->hw, .prefix = args->hw_prefix, .quick = args->quick,
                        .timeout_s = (double)args->timeout_s,
                        .log = isatty(STDERR_FILENO) ? stderr : NULL};
  kv_report rep;
  memset(&rep, 0, sizeof rep);
  tps_error err;
  tps_error_clear(&err);
  tps_status st = kv_validate(&o, &rep, &err);
  if (st != TPS_OK) {
    kv_report_free(&rep);
    return driver_failed(st, &err);
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
int cmd_calibrate(const cli_args *args) {
  const char *prefix = args->output;
  if (prefix) {
    const char *slash = strrchr(prefix, '/');
    const char *base = slash ? slash + 1 : prefix;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
      return fail_usage("calibrate: -o PREFIX needs a file name prefix after the directory",
                        "e.g. -o hw_profiles/local writes hw_profiles/local-tp1.yaml, ...");
    if (output_dir_ok(prefix) != EXIT_OK) return EXIT_RUN;
  }
  kv_calibrate_opts o = {.prefix = prefix, .quick = args->quick, .timeout_s = (double)args->timeout_s,
                         .log = isatty(STDERR_FILENO) ? stderr : NULL};
  char written[4096] = "";
  tps_error err;
  tps_error_clear(&err);
  tps_status st = kv_calibrate(&o, written, sizeof written, &err);
  if (st != TPS_OK) return driver_failed(st, &err);
  printf("%s", written);
  if (written[0] && written[strlen(written) - 1] != '\n') printf("\n");
  return EXIT_OK;
}

int cmd_validate(const cli_args *args) {
  if (args->kernel) return cmd_validate_kernel(args);
  if (!args->published)
    return fail_usage("validate: --published FILE or --kernel is required", "tp-sim validate --help");
  if (args->format != FORMAT_TABLE && args->format != FORMAT_JSON)
    return fail_usage("validate: --format must be table or json", NULL);
  validate_job job = {.format = args->format};
  tps_error err;
  tps_error_clear(&err);
  const tps_model_errors *errors = NULL;
  if (args->interval > 0 && !(errors = load_model_errors())) return EXIT_USAGE;
  tps_status st =
      pub_validate_at(args->published, args->hw, args->interval, errors, &job.report, &err);
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
