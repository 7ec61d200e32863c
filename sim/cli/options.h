/* Command-line options: one table that both parses and prints --help, so the
 * two cannot drift (git's parse-options style). */
#ifndef TPSIM_CLI_OPTIONS_H
#define TPSIM_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "tpsim/tpsim.h"

#define CLI_MAX_TP 32

typedef enum { FORMAT_TABLE, FORMAT_JSON, FORMAT_CSV, FORMAT_MD } cli_format;

/* Everything the options can set. */
typedef struct cli_args {
  const char *model;          /* name or path */
  const char *hw;             /* name or path; NULL = model's default */
  int64_t tp_list[CLI_MAX_TP];
  int n_tp;
  tps_run_overrides over;
  cli_format format;
  const char *output;         /* -o FILE; NULL = stdout */
  bool show_ops;              /* layers --ops */
  const char *published;      /* validate --published FILE, or NULL */
  double max_error_pct;       /* validate --max-error, percent; < 0: not given */
  const char *tokens;         /* report --tokens, e.g. "1T"; NULL: none */
  const char *megatron_args;  /* --megatron-args "..."; NULL: none */
  const char *script;         /* from-script FILE.sh; NULL: none */
  bool kernel;                /* validate --kernel */
  const char *hw_prefix;      /* validate --kernel --hw-prefix PREFIX; NULL: default */
  bool quick;                 /* calibrate / validate --kernel --quick */
  int64_t top;                /* recommend --top N; 0: default */
  int64_t max_tp;             /* recommend --max-tp N; 0: the cards */
  int64_t pp_list[CLI_MAX_TP];  /* recommend --pp LIST; n_pp 0: searched */
  int n_pp;
  int64_t mb_list[CLI_MAX_TP];  /* recommend --micro-batch LIST; n_mb 0: searched */
  int n_mb;
  double days;                /* report --days; 0: none */
  double price;               /* report --price per card-hour; 0: none */
  const char *stack;          /* --stack NAME|FILE|none: software stack; NULL: the profile's */
  const char *freeze;         /* --freeze MODULE[,MODULE]: modules that do not train; NULL: none */
  const char *cases[16];      /* fit --cases FILE (repeatable) */
  int n_cases;
  const char *params;         /* fit --param LIST (comma-separated names) */
  const char *write_path;     /* fit --write FILE.yaml: the fitted stack profile */
  const char *write_me_path;  /* fit --write-model-error FILE: its model-error entries */
  int64_t timeout_s;          /* validate --kernel / calibrate --timeout S; 0: default */
  double interval;            /* --interval P as a fraction (0.9); 0: no intervals */
  bool interval_given;        /* --interval was on the command line */
  bool allow_unmodelled;      /* --allow-unmodelled: unmodelled flags/keys warn instead of failing */
  bool list_flags;            /* from-script --list-flags: print the flag classification */
  bool help;
} cli_args;

/* Which option groups a subcommand takes. */
enum {
  OPTS_MODEL = 1 << 0,   /* --model, --hw, --stack, --freeze, --allow-unmodelled */
  OPTS_TP_LIST = 1 << 1, /* --tp LIST */
  OPTS_TP_ONE = 1 << 2,  /* --tp N */
  OPTS_RUN = 1 << 3,     /* --cards, --pp, ... */
  OPTS_OUTPUT = 1 << 4,  /* --format, -o */
  OPTS_LAYERS = 1 << 5,  /* --ops */
  OPTS_VALIDATE = 1 << 6, /* --published, --hw, --max-error */
  OPTS_REPORT = 1 << 7,   /* -o DIR, --tokens, --days */
  OPTS_KERNEL = 1 << 8,   /* validate: --kernel, --hw-prefix, --quick, --timeout */
  OPTS_CALIBRATE = 1 << 9, /* calibrate: -o PREFIX, --quick, --timeout */
  OPTS_SEARCH = 1 << 10,   /* recommend: --cards, --seq-len, --global-batch, --precision, --margin, --top */
  OPTS_FIT = 1 << 11,      /* fit: --cases, --stack, --param, --hw, --write */
  OPTS_OUTPUT_TJ = 1 << 12, /* --format table|json, -o (commands without csv/md) */
  OPTS_INTERVAL = 1 << 13,  /* estimate: --interval P */
  OPTS_SCRIPT = 1 << 14     /* from-script: --list-flags */
};

void cli_args_init(cli_args *args);
/* Parses argv[first..argc) with the options of `groups`. On error fills err
 * (message naming the option) and returns TPS_EINVAL. */
tps_status cli_parse(int argc, char **argv, int first, unsigned groups, cli_args *args,
                     tps_error *err);
/* Prints the options of `groups`, aligned, to stdout. */
void cli_print_options(unsigned groups);

#endif
