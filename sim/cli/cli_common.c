/* What every tp-sim command shares: error printing, atomic output, loading
 * inputs (see cli/cli.h). */
#include <errno.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdbool.h>
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
                      &eco->mean_seq_len, &eco->cp,       &eco->ulysses_degree,
                      &eco->fp8_amax_history, &eco->ep, &eco->etp};
  const int64_t cli_i[] = {cli->tp,    cli->pp,      cli->vpp,         cli->dp,
                           cli->cards, cli->seq_len, cli->micro_batch, cli->global_batch,
                           cli->mean_seq_len, cli->cp, cli->ulysses_degree,
                           cli->fp8_amax_history, cli->ep, cli->etp};
  for (size_t i = 0; i < sizeof cli_i / sizeof cli_i[0]; i++)
    if (cli_i[i] > 0) *eco_i[i] = cli_i[i];
  int *eco_t[] = {&eco->sp, &eco->distributed_optimizer, &eco->flash_attention,
                  &eco->overlap_grad_reduce, &eco->tp_comm_overlap, &eco->recompute,
                  &eco->precision, &eco->cp_algo, &eco->fp8, &eco->fp8_param_gather,
                  &eco->grad_reduce_bf16, &eco->overlap_param_gather, &eco->reuse_fp32_param,
                  &eco->recompute_activation, &eco->cross_entropy};
  const int cli_t[] = {cli->sp, cli->distributed_optimizer, cli->flash_attention,
                       cli->overlap_grad_reduce, cli->tp_comm_overlap, cli->recompute,
                       cli->precision, cli->cp_algo, cli->fp8, cli->fp8_param_gather,
                       cli->grad_reduce_bf16, cli->overlap_param_gather, cli->reuse_fp32_param,
                       cli->recompute_activation, cli->cross_entropy};
  for (size_t i = 0; i < sizeof cli_t / sizeof cli_t[0]; i++)
    if (cli_t[i] >= 0) *eco_t[i] = cli_t[i];
  eco->memory_margin = cli->memory_margin;
  if (cli->moe_capacity_factor >= 0) eco->moe_capacity_factor = cli->moe_capacity_factor;
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
    /* An item without text (a flag with no value, a default taken) reads
     * as "FLAG: why"; one with text quotes what was written. */
    if (it->arg[0] && !it->text[0])
      fprintf(stderr, ": %s: %s\n", it->arg, it->why);
    else if (it->arg[0])
      fprintf(stderr, ": %s '%s' not used: %s\n", it->arg, it->text, it->why);
    else
      fprintf(stderr, ": '%s' not used: %s\n", it->text, it->why);
  }
  if (u->dropped > 0) fprintf(stderr, "tp-sim: warning: %s: %d more not used\n", where, u->dropped);
}

/* "--context-parallel-size 4" or "'num_local_experts': 8" */
static void item_words(const tps_eco_item *it, char *out, size_t size) {
  bool flag = it->arg[0] == '-';
  snprintf(out, size, flag ? "%s%s%s" : "'%s'%s%s", it->arg, it->text[0] ? (flag ? " " : ": ") : "",
           it->text);
}

/* "FILE:LINE" or "FILE" */
static void item_where(const char *where, const tps_eco_item *it, char *out, size_t size) {
  if (it->line > 0)
    snprintf(out, size, "%s:%d", where, it->line);
  else
    snprintf(out, size, "%s", where);
}

/* One source of flags or keys and what it gave. */
typedef struct eco_source {
  const char *where; /* the script, "--megatron-args" or the config.json */
  const tps_eco_unresolved *u;
} eco_source;

/* Applies the flag classes' rule to the sources: an unknown flag or key
 * warns; an unmodelled one fails (every one is named, then exit 2) unless
 * allow, when it warns and becomes a note. mean_len (the run has a mean
 * sample length) drops the items it makes harmless. Returns an exit code. */
static int check_unmodelled(const eco_source *src, int n_src, bool allow, bool mean_len,
                            cli_notes *notes) {
  int refused = 0;
  for (int s = 0; s < n_src; s++) {
    const tps_eco_unresolved *u = src[s].u;
    bool keys = u->unknown.n > 0 && u->unknown.items[0].arg[0] != '-';
    for (int i = 0; i < u->unknown.n; i++) {
      const tps_eco_item *it = &u->unknown.items[i];
      char at[4200];
      item_where(src[s].where, it, at, sizeof at);
      fprintf(stderr, "tp-sim: warning: %s: unknown %s '%s' ignored: %s\n", at,
              it->arg[0] == '-' ? "flag" : "key", it->arg, it->why);
    }
    if (u->unknown.dropped > 0)
      fprintf(stderr, "tp-sim: warning: %s: %d more unknown %s ignored\n", src[s].where,
              u->unknown.dropped, keys ? "keys" : "flags");
    for (int i = 0; i < u->unmodelled.n; i++) {
      const tps_eco_item *it = &u->unmodelled.items[i];
      if (it->harmless_with_mean_len && mean_len) continue;
      char words[300], at[4200];
      item_words(it, words, sizeof words);
      item_where(src[s].where, it, at, sizeof at);
      if (!allow) {
        fprintf(stderr, "tp-sim: %s: %s is not modelled: %s\n", at, words, it->why);
        refused++;
        continue;
      }
      fprintf(stderr, "tp-sim: warning: %s: %s is not modelled and was ignored: %s\n", at, words,
              it->why);
      if (notes && notes->n < CLI_NOTES_MAX)
        snprintf(notes->text[notes->n++], sizeof notes->text[0],
                 "not modelled, ignored (--allow-unmodelled): %.120s (%.80s): %.240s", words,
                 at, it->why);
    }
    if (u->unmodelled.dropped > 0) {
      if (!allow) refused++;
      fprintf(stderr, "tp-sim: %s%s: %d more unmodelled flags\n", allow ? "warning: " : "",
              src[s].where, u->unmodelled.dropped);
    }
  }
  if (refused) {
    fprintf(stderr, "hint: --allow-unmodelled estimates anyway, without %s (listed among the "
                    "assumptions); `tp-sim from-script --list-flags` shows every flag's class\n",
            refused > 1 ? "them" : "it");
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

/* Loads the model (--model, and/or a launch script's and --megatron-args'
 * shape flags) and the hardware profile, and resolves the run options:
 * Megatron arguments first, explicit tp-sim options over them.
 * The flag classes' rule applies before the hardware is loaded. */
int load_inputs(const cli_args *args, tps_model *model, tps_hw *hw, tps_run_overrides *over,
                cli_notes *notes) {
  tps_error err;
  tps_error_clear(&err);
  char path[4096];
  memset(model, 0, sizeof *model);
  if (notes) notes->n = 0;
  /* static: each holds up to 3 x 32 items (the CLI runs one load) */
  static tps_eco_unresolved hf_notes, script_notes, args_notes;
  eco_source src[3];
  int n_src = 0;
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
    tps_eco_unresolved_init(&hf_notes);
    if (tps_data_find("models", model_arg, path, sizeof path, &err) != TPS_OK ||
        tps_model_load_noted(path, model, &hf_notes, &err) != TPS_OK) {
      print_error(&err);
      return EXIT_USAGE;
    }
    src[n_src++] = (eco_source){args->model, &hf_notes};
  } else if (!args->script && !args->megatron_args) {
    return fail_usage("--model is required", "see `tp-sim list models`, or give the model's shape "
                                             "with --megatron-args");
  }
  tps_run_overrides eco;
  tps_run_overrides_init(&eco);
  if (args->script) {
    tps_eco_unresolved_init(&script_notes);
    if (tps_megatron_script_load(args->script, model, &eco, &script_notes, &err) != TPS_OK) {
      print_error(&err);
      return EXIT_USAGE;
    }
    warn_unresolved(args->script, &script_notes);
    src[n_src++] = (eco_source){args->script, &script_notes};
    if (model->n_modules == 0) {
      char msg[600];
      snprintf(msg, sizeof msg, "%s gives no complete model", args->script);
      return fail_usage(msg, "pass --model, or a script with --num-layers, --hidden-size and "
                             "--num-attention-heads");
    }
  }
  if (args->megatron_args) {
    tps_eco_unresolved_init(&args_notes);
    if (tps_megatron_args_parse(args->megatron_args, model, &eco, &args_notes, &err) != TPS_OK) {
      print_error(&err);
      return EXIT_USAGE;
    }
    warn_unresolved("--megatron-args", &args_notes);
    src[n_src++] = (eco_source){"--megatron-args", &args_notes};
    if (model->n_modules == 0)
      return fail_usage("--megatron-args give no complete model",
                        "pass --model, or --num-layers, --hidden-size and --num-attention-heads");
  }
  merge_overrides(&eco, &args->over);
  *over = eco;
  bool mean_len = eco.mean_seq_len > 0 || model->training.mean_seq_len > 0;
  int rc = check_unmodelled(src, n_src, args->allow_unmodelled, mean_len, notes);
  if (rc != EXIT_OK) return rc;
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

int tp_sizes_to_compare(const cli_args *args, const tps_model *model, const tps_hw *hw,
                        const tps_run_overrides *over, int64_t *tps, cli_notes *notes,
                        bool *is_default) {
  *is_default = false;
  if (args->n_tp > 0) {
    memcpy(tps, args->tp_list, sizeof args->tp_list);
    return args->n_tp;
  }
  if (over->tp > 0) {
    tps[0] = over->tp;
    return 1;
  }
  /* TP beyond a node would cross the slower inter-node link. */
  const int64_t own = model->training.tp > 0 ? model->training.tp : 1;
  int n = 0;
  bool own_listed = false;
  for (int64_t p = 1; p <= hw->devices_per_node && n < CLI_MAX_TP - 1; p *= 2) {
    if (!own_listed && own < p) {
      tps[n++] = own;
      own_listed = true;
    }
    if (p == own) own_listed = true;
    tps[n++] = p;
  }
  if (!own_listed) tps[n++] = own;
  *is_default = true;
  if (notes && notes->n < CLI_NOTES_MAX)
    snprintf(notes->text[notes->n++], sizeof notes->text[0],
             "TP sizes compared: the model's (%lld) and the powers of two up to %lld devices per "
             "node; --tp LIST chooses others.",
             (long long)own, (long long)hw->devices_per_node);
  return n;
}

bool intervals_known(const tps_model_errors *errors, const tps_hw *hw, cli_notes *notes) {
  if (tps_model_error_find(errors, hw) || tps_uncertain_constants(hw) > 0) return true;
  char text[512];
  snprintf(text, sizeof text,
           "No intervals: no model error is known for %s running %s (validation/model-error.yaml) "
           "and no constant of its profiles carries a spread, so nothing says how far off this "
           "prediction may be.",
           hw->name,
           hw->stack.name[0] && strcmp(hw->stack.name, "none") != 0 ? hw->stack.name
                                                                      : "no software stack");
  if (notes && notes->n < CLI_NOTES_MAX)
    snprintf(notes->text[notes->n++], sizeof notes->text[0], "%s", text);
  else if (!notes)
    fprintf(stderr, "tp-sim: note: %s\n", text);
  return false;
}

void warn_skipped(const tps_tp_skip *skipped, int n) {
  for (int i = 0; i < n; i++)
    fprintf(stderr, "tp-sim: warning: TP=%lld skipped: %s\n", (long long)skipped[i].tp,
            skipped[i].why);
}

const tps_model_errors *load_model_errors(void) {
  static tps_model_errors errors;
  static char path[4096];
  static bool loaded;
  if (loaded) return &errors;
  tps_error err;
  tps_error_clear(&err);
  if (tps_data_find("validation", "model-error", path, sizeof path, &err) != TPS_OK ||
      tps_model_errors_load(path, &errors, &err) != TPS_OK) {
    print_error(&err);
    return NULL;
  }
  loaded = true;
  return &errors;
}
