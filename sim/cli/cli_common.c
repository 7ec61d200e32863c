/* What every tp-sim command shares: error printing, atomic output, loading
 * inputs (see cli/cli.h). */
#include <errno.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/outfile.h"
#include "cli/cli.h"

void print_error(const tps_error *err) {
  fputs("tp-sim: ", stderr);
  if (err->file[0] && err->line > 0)
    fprintf(stderr, "%s:%d:%d: ", err->file, err->line, err->col);
  else if (err->file[0])
    fprintf(stderr, "%s: ", err->file);
  fprintf(stderr, "%s\n", err->msg[0] ? err->msg : tps_strerror(err->status));
  if (err->hint[0]) fprintf(stderr, "hint: %s\n", err->hint);
}

int fail_usage(const char *msg, const char *hint) {
  fprintf(stderr, "tp-sim: %s\n", msg);
  if (hint) fprintf(stderr, "hint: %s\n", hint);
  return EXIT_USAGE;
}

/* ---- output: stdout, or base/outfile.h (a temporary renamed over a
 * regular file; a device, FIFO or standard stream written in place) ---- */

typedef void (*render_fn)(FILE *out, const void *data);

int write_output(const char *path, render_fn render, const void *data) {
  if (!path) {
    render(stdout, data);
    int bad = fflush(stdout) != 0 || ferror(stdout);
    if (bad) {
      fprintf(stderr, "tp-sim: cannot write to standard output: %s\n", strerror(errno ? errno : EIO));
      return EXIT_RUN;
    }
    return EXIT_OK;
  }
  if (!*path) return fail_usage("--output: expected a path, got ''", NULL);
  tps_outfile o;
  tps_error err;
  tps_error_clear(&err);
  if (tps_outfile_open(&o, path, &err) != TPS_OK) {
    print_error(&err);
    return err.status == TPS_EINVAL ? EXIT_USAGE : EXIT_RUN;
  }
  render(o.f, data);
  if (tps_outfile_close(&o, &err) != TPS_OK) {
    print_error(&err);
    return EXIT_RUN;
  }
  return EXIT_OK;
}

/* ---- loading ---- */

/* Lays the run options given on the command line over those read from
 * Megatron arguments: what the user typed wins. */
static void merge_overrides(tps_run_overrides *eco, const tps_run_overrides *cli) {
  int64_t *eco_i[] = {&eco->tp,      &eco->pp,          &eco->vpp,         &eco->dp,
                      &eco->cards,   &eco->seq_len,     &eco->micro_batch, &eco->global_batch,
                      &eco->mean_seq_len};
  const int64_t cli_i[] = {cli->tp,    cli->pp,      cli->vpp,         cli->dp,
                           cli->cards, cli->seq_len, cli->micro_batch, cli->global_batch,
                           cli->mean_seq_len};
  for (size_t i = 0; i < sizeof cli_i / sizeof cli_i[0]; i++)
    if (cli_i[i] > 0) *eco_i[i] = cli_i[i];
  int *eco_t[] = {&eco->sp, &eco->distributed_optimizer, &eco->flash_attention,
                  &eco->overlap_grad_reduce, &eco->recompute, &eco->precision};
  const int cli_t[] = {cli->sp, cli->distributed_optimizer, cli->flash_attention,
                       cli->overlap_grad_reduce, cli->recompute, cli->precision};
  for (size_t i = 0; i < sizeof cli_t / sizeof cli_t[0]; i++)
    if (cli_t[i] >= 0) *eco_t[i] = cli_t[i];
  eco->memory_margin = cli->memory_margin;
  if (cli->n_decoder_layers > 0) {
    memcpy(eco->decoder_layers, cli->decoder_layers, sizeof eco->decoder_layers);
    eco->n_decoder_layers = cli->n_decoder_layers;
  }
}

/* --freeze a,b: marks the named modules frozen (no gradients, no optimizer
 * state, no backward unless a trained module before them needs it). */
static int freeze_modules(const char *list, tps_model *model) {
  char buf[512];
  if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf)
    return fail_usage("--freeze: list too long", NULL);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    int found = -1;
    const char *names[TPS_MAX_MODULES];
    for (int m = 0; m < model->n_modules; m++) {
      names[m] = model->modules[m].name;
      if (strcmp(model->modules[m].name, t) == 0) found = m;
    }
    if (found < 0) {
      char msg[256], all[256] = "", hint[300];
      for (int m = 0; m < model->n_modules; m++)
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", m ? ", " : "", names[m]);
      snprintf(msg, sizeof msg, "--freeze: model '%s' has no module '%.60s'", model->name, t);
      const char *close = tps_did_you_mean(t, names, model->n_modules);
      if (close)
        snprintf(hint, sizeof hint, "did you mean '%s'? (modules: %s)", close, all);
      else
        snprintf(hint, sizeof hint, "modules: %s", all);
      return fail_usage(msg, hint);
    }
    model->modules[found].frozen = true;
  }
  return EXIT_OK;
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
int load_inputs(const cli_args *args, tps_model *model, tps_hw *hw,
                       tps_run_overrides *over) {
  tps_error err;
  tps_error_clear(&err);
  char path[4096];
  memset(model, 0, sizeof *model);
  if (args->model) {
    /* A checkpoint folder (a Hugging Face model directory) stands for its config.json. */
    const char *model_arg = args->model;
    char in_dir[4096];
    struct stat sb;
    if (stat(args->model, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      if (snprintf(in_dir, sizeof in_dir, "%s/config.json", args->model) >= (int)sizeof in_dir)
        return fail_usage("--model: the folder's path is too long", NULL);
      if (stat(in_dir, &sb) != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "--model: %.500s is a folder without a config.json", args->model);
        return fail_usage(msg, "give a model YAML, a Hugging Face config.json or a folder holding one");
      }
      model_arg = in_dir;
    }
    if (tps_data_find("models", model_arg, path, sizeof path, &err) != TPS_OK ||
        tps_model_load(path, model, &err) != TPS_OK) {
      print_error(&err);
      return EXIT_USAGE;
    }
  } else if (!args->script && !args->megatron_args) {
    return fail_usage("--model is required", "see `tp-sim list models`, or give the model's shape "
                                             "with --megatron-args");
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
    if (model->n_modules == 0)
      return fail_usage("--megatron-args give no complete model",
                        "pass --model, or --num-layers, --hidden-size and --num-attention-heads");
  }
  merge_overrides(&eco, &args->over);
  *over = eco;
  if (args->freeze && freeze_modules(args->freeze, model) != EXIT_OK) return EXIT_USAGE;
  const char *hw_name = args->hw ? args->hw : model->default_hw;
  if (!hw_name || !hw_name[0])
    return fail_usage("--hw is required: the model names no default hardware",
                      "see `tp-sim list hw`");
  if (tps_data_find("hw_profiles", hw_name, path, sizeof path, &err) != TPS_OK ||
      tps_hw_load(path, hw, &err) != TPS_OK) {
    print_error(&err);
    return EXIT_USAGE;
  }
  return apply_stack(args->stack, hw);
}

int apply_stack(const char *stack, tps_hw *hw) {
  if (!stack) return EXIT_OK;
  if (strcmp(stack, "none") == 0) {
    memset(&hw->stack, 0, sizeof hw->stack);
    snprintf(hw->stack.name, sizeof hw->stack.name, "none");
    return EXIT_OK;
  }
  char path[4096];
  tps_error err;
  tps_error_clear(&err);
  if (tps_data_find("hw_profiles/stacks", stack, path, sizeof path, &err) != TPS_OK ||
      tps_stack_load(path, &hw->stack, &err) != TPS_OK) {
    print_error(&err);
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

void warn_skipped(const tps_tp_skip *skipped, int n) {
  for (int i = 0; i < n; i++)
    fprintf(stderr, "tp-sim: warning: TP=%lld skipped: %s\n", (long long)skipped[i].tp,
            skipped[i].why);
}
