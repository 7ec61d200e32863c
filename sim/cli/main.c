/* tp-sim: the command-line front end: one table of subcommands and their
 * option groups (cli/options.c), dispatched to sim/cli/cmd_*.c. */
#include <gsl/gsl_errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct command {
  const char *name;
  const char *usage;
  const char *summary;
  unsigned groups;
  int (*run)(const cli_args *args);
} command;

static const command commands[] = {
    {"estimate", "tp-sim estimate --model M [--hw H] --tp LIST [options]",
     "memory per card and throughput for each TP size (the default command)",
     OPTS_MODEL | OPTS_TP_LIST | OPTS_RUN | OPTS_OUTPUT | OPTS_INTERVAL, cmd_estimate},
    {"layers", "tp-sim layers --model M [--hw H] --tp N [options]",
     "per-layer breakdown of memory and time at one configuration",
     OPTS_MODEL | OPTS_TP_ONE | OPTS_RUN | OPTS_OUTPUT | OPTS_LAYERS, cmd_layers},
    {"from-script", "tp-sim from-script FILE.sh [--model M] [--hw H] [--tp LIST] [options] | --list-flags",
     "estimate the run of a Megatron/MindSpeed launch script (its flags and variables)",
     OPTS_MODEL | OPTS_TP_LIST | OPTS_RUN | OPTS_OUTPUT | OPTS_INTERVAL | OPTS_SCRIPT, cmd_estimate},
    {"recommend", "tp-sim recommend --model M [--hw H] [--cards N] [options]",
     "search TP x PP x DP x SP x recompute x micro-batch x optimizer sharding; rank; default TP",
     OPTS_MODEL | OPTS_SEARCH | OPTS_OUTPUT_TJ | OPTS_INTERVAL, cmd_recommend},
    {"report", "tp-sim report --model M --tp LIST -o DIR [--tokens 1T --days 30]",
     "capacity-planning report: Markdown, self-contained HTML with charts, CSV, JSON",
     OPTS_MODEL | OPTS_TP_LIST | OPTS_RUN | OPTS_REPORT | OPTS_INTERVAL, cmd_report},
    {"validate", "tp-sim validate --published FILE | --kernel [options]",
     "predicted vs measured with errors and MAPE: published runs, or tp-kernel runs on this machine",
     OPTS_VALIDATE | OPTS_KERNEL | OPTS_OUTPUT_TJ | OPTS_INTERVAL, cmd_validate},
    {"calibrate", "tp-sim calibrate [-o PREFIX] [--quick]",
     "measure this machine with tp-kernel and write hardware profiles PREFIX-tpN[-sp].yaml",
     OPTS_CALIBRATE, cmd_calibrate},
    {"fit", "tp-sim fit --cases FILE [--cases FILE ...] --stack S --param LIST [--write OUT.yaml]",
     "fit software-stack constants to measured runs: values with standard errors, residuals, "
     "leave-one-group-out error",
     OPTS_FIT | OPTS_OUTPUT_TJ, cmd_fit},
    {"list", "tp-sim list models|hw|stacks", "bundled models, hardware profiles or software stacks",
     0, NULL},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void print_main_help(void) {
  printf("tp-sim %s: tensor-parallel training simulator (memory per card, step time, default TP)\n\n",
         TPSIM_VERSION);
  printf("Usage:\n  tp-sim --model M --tp 1,2,4 [--hw H]   same as `tp-sim estimate ...`\n");
  for (int i = 0; i < N_COMMANDS; i++)
    printf("  %s\n      %s\n", commands[i].usage, commands[i].summary);
  printf("  tp-sim --help | --version\n\nEvery command has --help. Exit codes: 0 ok, 1 run failed, 2 bad usage or input,\n3 validate beyond --max-error, or fit without convergence.\n");
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
  /* A write beyond the file size limit (ulimit -f) then fails with EFBIG,
   * which the output writers report (exit 1, temporaries removed), instead
   * of killing tp-sim with its temporary files left behind. */
  signal(SIGXFSZ, SIG_IGN);
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
    if (argc != 3 || (strcmp(argv[2], "models") != 0 && strcmp(argv[2], "hw") != 0 &&
                      strcmp(argv[2], "stacks") != 0))
      return fail_usage("list: expected 'models', 'hw' or 'stacks'", "tp-sim list models");
    return list_kind(strcmp(argv[2], "models") == 0 ? "models"
                     : strcmp(argv[2], "hw") == 0   ? "hw_profiles"
                                                    : "hw_profiles/stacks");
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
  if (args.list_flags) {
    if (args.script) return fail_usage("from-script: --list-flags takes no script", "tp-sim from-script --list-flags");
    return cmd_list_flags(&args);
  }
  if (strcmp(cmd->name, "from-script") == 0 && !args.script)
    return fail_usage("from-script: expected a launch script FILE.sh", "tp-sim from-script train.sh --hw 910b2");
  return cmd->run(&args);
}
