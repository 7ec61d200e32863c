/* Shared by the tp-sim commands (sim/cli/cmd_*.c): printing errors, atomic
 * output, loading the model and hardware profile, and the commands' entry
 * points. Only sim/cli prints and exits. */
#ifndef TPSIM_CLI_CLI_H
#define TPSIM_CLI_CLI_H

#include <stdio.h>

#include "cli/options.h"
#include "reports/report.h"

/* Exit codes (CONTRACT): 0 success, 1 a run failed (I/O while writing),
 * 2 bad usage or bad input file, 3 validate found errors beyond tolerance. */
enum { EXIT_OK = 0, EXIT_RUN = 1, EXIT_USAGE = 2, EXIT_TOLERANCE = 3 };

/* "tp-sim: FILE:LINE:COL: message" and "hint: ..." on stderr. */
void print_error(const tps_error *err);
/* "tp-sim: msg" (and the hint) on stderr; returns EXIT_USAGE. */
int fail_usage(const char *msg, const char *hint);

/* Renders to stdout, or to `path` through a temporary file renamed into
 * place (no half-written file on failure). Returns an exit code. */
typedef void (*render_fn)(FILE *out, const void *data);
int write_output(const char *path, render_fn render, const void *data);

/* Inputs tp-sim ignored because --allow-unmodelled was given: one sentence
 * each, for the output's assumptions. */
#define CLI_NOTES_MAX 24
typedef struct cli_notes {
  int n;
  char text[CLI_NOTES_MAX][512];
} cli_notes;

/* Loads the model (--model, a launch script's or --megatron-args' shape
 * flags) and the hardware profile, and resolves the run options (Megatron
 * arguments first, explicit options over them). A flag or config.json key
 * that tp-sim does not model fails the load (exit 2) unless
 * --allow-unmodelled, which warns and adds it to notes (may be NULL); an
 * unknown flag or key warns. Returns an exit code. */
int load_inputs(const cli_args *args, tps_model *model, tps_hw *hw, tps_run_overrides *over,
                cli_notes *notes);
/* --stack: replaces hw->stack with the named stack (or a path; "none": no
 * framework costs); NULL keeps the profile's. Returns an exit code. */
int apply_stack(const char *stack, tps_hw *hw);
/* The model-error terms of validation/model-error.yaml (loaded once; the
 * same table on every call). NULL after printing the error when the file
 * cannot be found or read. */
const tps_model_errors *load_model_errors(void);
/* "tp-sim: warning: TP=N skipped: why" for each skipped TP size. */
void warn_skipped(const tps_tp_skip *skipped, int n);
/* Whether an interval can say anything about a prediction on hw: a
 * model-error term for it or a constant with a spread. When neither, a zero
 * width interval would read as exact: false, with a note saying why (in
 * notes, or on stderr when notes is NULL). */
bool intervals_known(const tps_model_errors *errors, const tps_hw *hw, cli_notes *notes);
/* The TP sizes `estimate` and `report` compare: --tp LIST, else the launch
 * script's or --megatron-args' TP, else the model's and each power of two up
 * to a node's devices (`*is_default` set, and a note saying so). */
int tp_sizes_to_compare(const cli_args *args, const tps_model *model, const tps_hw *hw,
                        const tps_run_overrides *over, int64_t *tps, cli_notes *notes,
                        bool *is_default);

/* The commands (cmd_estimate.c, cmd_report.c, cmd_validate.c). */
int cmd_estimate(const cli_args *args);
int cmd_layers(const cli_args *args);
int list_kind(const char *kind);
int cmd_report(const cli_args *args);
int cmd_recommend(const cli_args *args);
int cmd_validate(const cli_args *args);
int cmd_calibrate(const cli_args *args);
int cmd_fit(const cli_args *args);
int cmd_list_flags(const cli_args *args);

#endif
