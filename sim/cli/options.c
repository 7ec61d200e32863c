/* The option table: parsing and --help from the same rows. */
#include "cli/options.h"

#include "base/names.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_FLAG, T_INT, T_INT_LIST, T_STRING, T_ENUM, T_FRACTION, T_PERCENT } opt_type;

typedef enum {
  ID_MODEL, ID_HW, ID_TP, ID_CARDS, ID_PP, ID_VPP, ID_CP, ID_CP_ALGO, ID_ULYSSES, ID_EP, ID_ETP, ID_DP, ID_SEQ, ID_MEAN_SEQ, ID_MB, ID_GB, ID_SP, ID_NO_SP,
  ID_RECOMPUTE, ID_DISTOPT, ID_NO_DISTOPT, ID_PRECISION, ID_FP8, ID_FP8_AMAX, ID_FP8_PARAM_GATHER, ID_CROSS_ENTROPY, ID_FLASH, ID_NO_FLASH, ID_OVERLAP, ID_TP_OVERLAP, ID_GRAD_BF16, ID_PARAM_GATHER, ID_REUSE_FP32, ID_RECOMPUTE_ACT,
  ID_MARGIN, ID_FORMAT, ID_OUTPUT, ID_OPS, ID_PUBLISHED, ID_MAX_ERROR, ID_TOKENS, ID_DAYS,
  ID_MEGATRON_ARGS, ID_KERNEL, ID_HW_PREFIX, ID_QUICK, ID_TOP, ID_STACK, ID_FREEZE, ID_S_TP, ID_S_PP,
  ID_S_MB, ID_MAX_TP, ID_PIPE_LAYERS, ID_CASES, ID_PARAM, ID_WRITE, ID_WRITE_ME, ID_TIMEOUT, ID_PRICE, ID_INTERVAL,
  ID_ALLOW_UNMODELLED, ID_LIST_FLAGS, ID_HELP
} opt_id;

static const char *const format_choices[] = {"table", "json", "csv", "md", NULL};
static const char *const format_tj_choices[] = {"table", "json", NULL};

typedef struct cli_option {
  opt_id id;
  unsigned group;
  const char *name;      /* "--tp" */
  const char *alias;     /* Megatron/MindSpeed spelling or short form, or NULL */
  opt_type type;
  const char *metavar;
  const char *const *choices;
  int64_t min, max;      /* T_INT, T_INT_LIST */
  const char *help;
} cli_option;

#define BIG INT64_C(1000000000)
#define STR_(x) #x
#define STR(x) STR_(x) /* a macro's value as a string literal */
static const cli_option options[] = {
    {ID_MODEL, OPTS_MODEL, "--model", NULL, T_STRING, "M", NULL, 0, 0,
     "bundled model name (see `tp-sim list models`), a model YAML, a Hugging Face config.json (or its "
     "folder) or a MindSpeed-MM model JSON"},
    {ID_HW, OPTS_MODEL, "--hw", NULL, T_STRING, "H", NULL, 0, 0,
     "bundled hardware profile or YAML path (default: the model's)"},
    {ID_TP, OPTS_TP_LIST, "--tp", "--tensor-model-parallel-size", T_INT_LIST, "LIST", NULL, 1, 1000000,
     "tensor-parallel sizes, comma-separated (default: a launch script's or --megatron-args' TP, "
     "else the model's and the powers of two up to a node's devices)"},
    {ID_TP, OPTS_TP_ONE, "--tp", "--tensor-model-parallel-size", T_INT, "N", NULL, 1, 1000000,
     "tensor-parallel size (default: the model's)"},
    {ID_CARDS, OPTS_RUN | OPTS_SEARCH, "--cards", NULL, T_INT, "N", NULL, 1, BIG, "devices in the job"},
    {ID_PP, OPTS_RUN, "--pp", "--pipeline-model-parallel-size", T_INT, "N", NULL, 1, 128,
     "pipeline-parallel size"},
    {ID_PIPE_LAYERS, OPTS_RUN, "--pipeline-layers", "--num-layer-list", T_INT_LIST, "LIST", NULL, 0,
     100000, "decoder layers on each pipeline stage, comma-separated (12,16); encoders on stage 0"},
    {ID_VPP, OPTS_RUN, "--vpp", "--virtual-pipeline-model-parallel-size", T_INT, "N", NULL, 1, 128,
     "model chunks per pipeline stage (interleaved 1F1B; default 1)"},
    {ID_CP, OPTS_RUN | OPTS_SEARCH, "--cp", "--context-parallel-size", T_INT, "N", NULL, 1, 1024,
     "context-parallel size: each rank holds seq-len / N tokens (default 1)"},
    {ID_CP_ALGO, OPTS_RUN | OPTS_SEARCH, "--cp-algo", NULL, T_ENUM, "ALGO", tps_cp_algo_names, 0, 0,
     "context-parallel attention: ring (Megatron p2p), ulysses (all-to-all of heads) or hybrid "
     "(default ring)"},
    {ID_ULYSSES, OPTS_RUN | OPTS_SEARCH, "--ulysses-degree-in-cp", NULL, T_INT, "N", NULL, 1, 1024,
     "--cp-algo hybrid: Ulysses ranks inside each CP group (a ring across the rest)"},
    {ID_EP, OPTS_RUN | OPTS_SEARCH, "--ep", "--expert-model-parallel-size", T_INT, "N", NULL, 1,
     1000000,
     "expert-parallel size: routed experts spread over N ranks of TP x CP x DP (default 1; "
     "recommend: searched unless given)"},
    {ID_ETP, OPTS_RUN | OPTS_SEARCH, "--etp", "--expert-tensor-parallel-size", T_INT, "N", NULL, 1,
     1000000, "expert tensor-parallel size: each expert's columns over N ranks (default: TP)"},
    {ID_DP, OPTS_RUN, "--dp", NULL, T_INT, "N", NULL, 1, BIG,
     "data-parallel size (default: cards / (TP x CP x PP))"},
    {ID_SEQ, OPTS_RUN | OPTS_SEARCH, "--seq-len", "--seq-length", T_INT, "N", NULL, 1, BIG,
     "tokens per sample (32k = 32768)"},
    {ID_MEAN_SEQ, OPTS_RUN, "--mean-seq-len", NULL, T_INT, "N", NULL, 1, BIG,
     "mean tokens per sample when lengths vary (--variable-seq-lengths): time at the mean, "
     "memory at --seq-len"},
    {ID_MB, OPTS_RUN, "--micro-batch", "--micro-batch-size", T_INT, "N", NULL, 1, BIG,
     "samples per micro-batch"},
    {ID_GB, OPTS_RUN | OPTS_SEARCH, "--global-batch", "--global-batch-size", T_INT, "N", NULL, 1, BIG,
     "samples per step"},
    {ID_SP, OPTS_RUN, "--sp", "--sequence-parallel", T_FLAG, NULL, NULL, 0, 0,
     "sequence parallelism"},
    {ID_NO_SP, OPTS_RUN, "--no-sp", NULL, T_FLAG, NULL, NULL, 0, 0, "no sequence parallelism"},
    {ID_RECOMPUTE, OPTS_RUN, "--recompute", "--recompute-granularity", T_ENUM, "MODE",
     tps_recompute_names, 0, 0, "activation recomputation: none, selective or full"},
    {ID_DISTOPT, OPTS_RUN, "--distributed-optimizer", "--use-distributed-optimizer", T_FLAG, NULL,
     NULL, 0, 0, "shard optimizer state over data parallelism"},
    {ID_NO_DISTOPT, OPTS_RUN, "--no-distributed-optimizer", NULL, T_FLAG, NULL, NULL, 0, 0,
     "keep the whole optimizer state on every rank"},
    {ID_PRECISION, OPTS_RUN | OPTS_SEARCH, "--precision", NULL, T_ENUM, "P",
     tps_precision_names, 0, 0, "bf16, fp16 or fp32"},
    {ID_FP8, OPTS_RUN | OPTS_SEARCH, "--fp8-format", "--fp8", T_ENUM, "F", tps_fp8_format_names, 0,
     0, "FP8 training (Transformer Engine): none, e4m3 or hybrid; the blocks' GEMMs at the fp8 "
        "peak (default: the model's, none)"},
    {ID_FP8_AMAX, OPTS_RUN | OPTS_SEARCH, "--fp8-amax-history-len", NULL, T_INT, "N", NULL, 1,
     1000000, "FP8: amax history entries per FP8 tensor (default 1, Megatron's)"},
    {ID_FP8_PARAM_GATHER, OPTS_RUN | OPTS_SEARCH, "--fp8-param-gather", NULL, T_FLAG, NULL, NULL, 0,
     0, "FP8: weights of FP8 GEMMs held in FP8, no bf16 copy (Megatron's FP8 primary weights)"},
    {ID_CROSS_ENTROPY, OPTS_RUN | OPTS_SEARCH, "--cross-entropy", NULL, T_ENUM, "IMPL",
     tps_cross_entropy_names, 0, 0,
     "the loss's implementation: megatron (an fp32 softmax kept and fp32 working copies: 10 "
     "bytes a logit at its peak in bf16) or te (Transformer Engine's, the gradient written into "
     "the logits: 2; Megatron --cross-entropy-fusion-impl te) (default: the model's, megatron)"},
    {ID_FLASH, OPTS_RUN, "--flash-attention", "--use-flash-attn", T_FLAG, NULL, NULL, 0, 0,
     "fused attention (no s^2 tensors kept)"},
    {ID_NO_FLASH, OPTS_RUN, "--no-flash-attention", NULL, T_FLAG, NULL, NULL, 0, 0,
     "unfused attention"},
    {ID_OVERLAP, OPTS_RUN, "--overlap-grad-reduce", NULL, T_FLAG, NULL, NULL, 0, 0,
     "overlap DP gradient reduction with backward"},
    {ID_PARAM_GATHER, OPTS_RUN, "--overlap-param-gather", NULL, T_FLAG, NULL, NULL, 0, 0,
     "overlap the distributed optimizer's weight all-gather with the next step's forward"},
    {ID_REUSE_FP32, OPTS_RUN, "--reuse-fp32-param", NULL, T_FLAG, NULL, NULL, 0, 0,
     "MindSpeed: fp32 master weights kept as the bf16 weights plus a residual (2 bytes less a parameter; bf16 training)"},
    {ID_RECOMPUTE_ACT, OPTS_RUN, "--recompute-activation-function", NULL, T_FLAG, NULL, NULL, 0, 0,
     "MindSpeed: re-run the MLP's activation function in backward instead of keeping its output"},
    {ID_GRAD_BF16, OPTS_RUN, "--grad-reduce-in-bf16", NULL, T_FLAG, NULL, NULL, 0, 0,
     "keep and reduce gradients in bf16 (2 bytes a parameter), not fp32 (bf16 training)"},
    {ID_TP_OVERLAP, OPTS_RUN, "--tp-comm-overlap", NULL, T_FLAG, NULL, NULL, 0, 0,
     "overlap SP's all-gathers and reduce-scatters with the GEMMs beside them (needs --sp)"},
    {ID_MARGIN, OPTS_RUN | OPTS_SEARCH, "--margin", NULL, T_FRACTION, "F", NULL, 0, 0,
     "fraction of device memory a recommended TP must leave free (default "
     STR(TPS_DEFAULT_MEMORY_MARGIN) ")"},
    {ID_MEGATRON_ARGS, OPTS_RUN | OPTS_SEARCH, "--megatron-args", NULL, T_STRING, "\"ARGS\"", NULL, 0,
     0,
     "Megatron/MindSpeed arguments (quoted) for the run and model shape; explicit options win "
     "(recommend: their TP, PP and micro-batch fix those dimensions of the search)"},
    {ID_FORMAT, OPTS_OUTPUT, "--format", NULL, T_ENUM, "FMT", format_choices, 0, 0,
     "output format: table, json, csv or md (default table)"},
    {ID_OUTPUT, OPTS_OUTPUT, "--output", "-o", T_STRING, "FILE", NULL, 0, 0,
     "write to FILE (atomically) instead of stdout"},
    {ID_FORMAT, OPTS_OUTPUT_TJ, "--format", NULL, T_ENUM, "FMT", format_tj_choices, 0, 0,
     "output format: table or json (default table)"},
    {ID_OUTPUT, OPTS_OUTPUT_TJ, "--output", "-o", T_STRING, "FILE", NULL, 0, 0,
     "write to FILE (atomically) instead of stdout"},
    {ID_OPS, OPTS_LAYERS, "--ops", NULL, T_FLAG, NULL, NULL, 0, 0,
     "also list the ops of each distinct layer"},
    {ID_PUBLISHED, OPTS_VALIDATE, "--published", NULL, T_STRING, "FILE", NULL, 0, 0,
     "YAML file of published cases to predict and compare (see docs/validation.md)"},
    {ID_HW, OPTS_VALIDATE, "--hw", NULL, T_STRING, "H", NULL, 0, 0,
     "hardware profile for every case (default: each case's profile: or device rule)"},
    {ID_MAX_ERROR, OPTS_VALIDATE, "--max-error", NULL, T_PERCENT, "PCT", NULL, 0, 0,
     "exit 3 when any |error| exceeds PCT percent (10 or 10%)"},
    {ID_OUTPUT, OPTS_REPORT, "--output", "-o", T_STRING, "DIR", NULL, 0, 0,
     "directory for report.md, report.html, report.csv and report.json (required)"},
    {ID_TOKENS, OPTS_REPORT, "--tokens", NULL, T_STRING, "N", NULL, 0, 0,
     "token budget to plan cards for: 1T, 500B, 2.5e12"},
    {ID_DAYS, OPTS_REPORT, "--days", NULL, T_STRING, "D", NULL, 0, 0,
     "deadline for the token budget, days"},
    {ID_PRICE, OPTS_REPORT, "--price", NULL, T_STRING, "P", NULL, 0, 0,
     "price per card-hour (any currency): the budget's cost"},
    {ID_KERNEL, OPTS_KERNEL, "--kernel", NULL, T_FLAG, NULL, NULL, 0, 0,
     "run tp-kernel over a grid of configurations and compare per op (instead of --published)"},
    {ID_HW_PREFIX, OPTS_KERNEL, "--hw-prefix", NULL, T_STRING, "PREFIX", NULL, 0, 0,
     "--kernel: profiles PREFIX-tpN[-sp].yaml from `tp-sim calibrate` (default: local)"},
    {ID_QUICK, OPTS_KERNEL | OPTS_CALIBRATE, "--quick", NULL, T_FLAG, NULL, NULL, 0, 0,
     "short sweeps and 2 configurations (CI)"},
    {ID_OUTPUT, OPTS_CALIBRATE, "--output", "-o", T_STRING, "PREFIX", NULL, 0, 0,
     "write PREFIX-tpN[-sp].yaml (default hw_profiles/local)"},
    {ID_TIMEOUT, OPTS_KERNEL | OPTS_CALIBRATE, "--timeout", NULL, T_INT, "S", NULL, 1, 604800,
     "stop a tp-kernel run (all its processes) after S seconds and fail (default 600)"},
    {ID_TOP, OPTS_SEARCH, "--top", NULL, T_INT, "N", NULL, 1, 1000, "configurations listed (default 10)"},
    {ID_S_TP, OPTS_SEARCH, "--tp", "--tensor-model-parallel-size", T_INT_LIST, "LIST", NULL, 1,
     1000000, "only these TP sizes, comma-separated (default: every divisor of --cards)"},
    {ID_MAX_TP, OPTS_SEARCH, "--max-tp", NULL, T_INT, "N", NULL, 1, 1000000,
     "largest TP searched (default: the cards; the devices per node keeps TP inside a node)"},
    {ID_S_PP, OPTS_SEARCH, "--pp", "--pipeline-model-parallel-size", T_INT_LIST, "LIST", NULL, 1,
     128, "only these PP sizes (default: every divisor of cards / TP)"},
    {ID_S_MB, OPTS_SEARCH, "--micro-batch", "--micro-batch-size", T_INT_LIST, "LIST", NULL, 1, BIG,
     "only these micro-batch sizes (default: every divisor of the global batch up to 64)"},
    {ID_STACK, OPTS_MODEL | OPTS_SEARCH, "--stack", NULL, T_STRING, "S", NULL, 0, 0,
     "software stack (hw_profiles/stacks/S.yaml or a path; none: no framework costs; default: "
     "the hardware profile's)"},
    {ID_FREEZE, OPTS_MODEL, "--freeze", NULL, T_STRING, "MODULES", NULL, 0, 0,
     "modules that do not train, comma-separated (names as `tp-sim layers` prints them: "
     "vision_encoder,projector)"},
    {ID_ALLOW_UNMODELLED, OPTS_MODEL, "--allow-unmodelled", NULL, T_FLAG, NULL, NULL, 0, 0,
     "estimate anyway when a Megatron/MindSpeed flag or config.json key changes memory or time "
     "in a way tp-sim does not model (CP, FP8, experts, offload...): a warning and an "
     "assumption instead of exit 2"},
    {ID_LIST_FLAGS, OPTS_SCRIPT, "--list-flags", NULL, T_FLAG, NULL, NULL, 0, 0,
     "print every Megatron/MindSpeed flag tp-sim knows, its class (modelled, ignored, "
     "unmodelled) and why (--format md: a Markdown table)"},
    {ID_CASES, OPTS_FIT, "--cases", NULL, T_STRING, "FILE", NULL, 0, 0,
     "measured runs in the published-case format (repeat for several files)"},
    {ID_STACK, OPTS_FIT, "--stack", NULL, T_STRING, "S", NULL, 0, 0,
     "the stack whose constants are fitted (its values are the starting point); required"},
    {ID_PARAM, OPTS_FIT, "--param", NULL, T_STRING, "LIST", NULL, 0, 0,
     "constants to fit, comma-separated: host_dispatch, per_micro_batch, per_step, "
     "allocator_overhead; or none (the stack as given: errors and model error only)"},
    {ID_HW, OPTS_FIT, "--hw", NULL, T_STRING, "H", NULL, 0, 0,
     "hardware profile for every case (default: each case's profile: or device rule)"},
    {ID_WRITE, OPTS_FIT, "--write", NULL, T_STRING, "FILE", NULL, 0, 0,
     "write the fitted stack profile (YAML, with its sources and errors) to FILE"},
    {ID_WRITE_ME, OPTS_FIT, "--write-model-error", NULL, T_STRING, "FILE", NULL, 0, 0,
     "write the fit's model-error entries (the families: list of validation/model-error.yaml) "
     "to FILE"},
    {ID_INTERVAL, OPTS_INTERVAL, "--interval", NULL, T_STRING, "P", NULL, 0, 0,
     "prediction intervals at P percent (default 90; 0 or none: off; docs/uncertainty.md)"},
    {ID_HELP, 0, "--help", "-h", T_FLAG, NULL, NULL, 0, 0, "show this help"},
};
#define N_OPTIONS ((int)(sizeof options / sizeof options[0]))

void cli_args_init(cli_args *args) {
  memset(args, 0, sizeof *args);
  tps_run_overrides_init(&args->over);
  args->over.memory_margin = TPS_DEFAULT_MEMORY_MARGIN; /* documented in --help */
  args->format = FORMAT_TABLE;
  args->max_error_pct = -1.0;
  args->interval = TPS_UNC_DEFAULT_LEVEL; /* documented in --help */
}

/* "OPTION: expected WHAT, got 'VALUE'" */
static tps_status bad(tps_error *err, const char *opt, const char *what, const char *value) {
  tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "%s: expected %s, got '%s'", opt, what,
                value ? value : "");
  return TPS_EINVAL;
}

/* Parses a whole decimal integer in [min, max]. */
static tps_status parse_int(const char *opt, const char *text, int64_t min, int64_t max,
                            int64_t *out, tps_error *err) {
  if (!*text) return bad(err, opt, "an integer", text);
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (end == text || *end != '\0') return bad(err, opt, "an integer", text);
  if (errno == ERANGE || v < min || v > max) {
    tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "%s: %s is out of range (expected %lld..%lld)", opt,
                  text, (long long)min, (long long)max);
    return TPS_EINVAL;
  }
  *out = v;
  return TPS_OK;
}

static tps_status parse_list(const cli_option *o, const char *text, int64_t *list, int *n,
                             tps_error *err) {
  *n = 0;
  const char *p = text;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char item[32];
    if (len == 0 || len >= sizeof item)
      return bad(err, o->name, "a comma-separated list of integers", text);
    memcpy(item, p, len);
    item[len] = '\0';
    if (*n == CLI_MAX_TP) {
      tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "%s: at most %d sizes", o->name, CLI_MAX_TP);
      return TPS_EINVAL;
    }
    tps_status st = parse_int(o->name, item, o->min, o->max, &list[*n], err);
    if (st) return st;
    (*n)++;
    if (!comma) break;
    p = comma + 1;
  }
  return TPS_OK;
}

static int choice_index(const char *const *choices, const char *text) {
  for (int i = 0; choices[i]; i++)
    if (strcmp(choices[i], text) == 0) return i;
  return -1;
}

static tps_status apply(const cli_option *o, const char *value, cli_args *args, tps_error *err) {
  int64_t v = 0;
  tps_status st = TPS_OK;
  if (o->type == T_INT && (o->id == ID_SEQ || o->id == ID_MEAN_SEQ)) {
    /* Sequence lengths as people write them: 32k = 32 x 1024 tokens. */
    size_t len = strlen(value);
    if (len > 1 && len < 32 && (value[len - 1] == 'k' || value[len - 1] == 'K')) {
      char digits[32];
      memcpy(digits, value, len - 1);
      digits[len - 1] = '\0';
      tps_error ignored;
      if (parse_int(o->name, digits, 1, o->max / 1024, &v, &ignored) != TPS_OK)
        return bad(err, o->name, "a number of tokens (4096 or 32k)", value);
      v *= 1024;
    } else if ((st = parse_int(o->name, value, o->min, o->max, &v, err))) {
      return st;
    }
  } else if (o->type == T_INT && (st = parse_int(o->name, value, o->min, o->max, &v, err))) {
    return st;
  }
  int choice = -1;
  if (o->type == T_ENUM) {
    choice = choice_index(o->choices, value);
    if (choice < 0) {
      char list[128] = "";
      for (int i = 0; o->choices[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, o->choices[i], sizeof list - strlen(list) - 1);
      }
      tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "%s: expected one of %s, got '%s'", o->name, list,
                    value);
      return TPS_EINVAL;
    }
  }
  tps_run_overrides *ov = &args->over;
  switch (o->id) {
    case ID_MODEL: args->model = value; break;
    case ID_HW: args->hw = value; break;
    case ID_TP:
      if (o->type == T_INT_LIST) return parse_list(o, value, args->tp_list, &args->n_tp, err);
      args->tp_list[0] = v;
      args->n_tp = 1;
      break;
    case ID_CARDS: ov->cards = v; break;
    case ID_PP: ov->pp = v; break;
    case ID_VPP: ov->vpp = v; break;
    case ID_CP: ov->cp = v; break;
    case ID_CP_ALGO: ov->cp_algo = choice; break;
    case ID_ULYSSES: ov->ulysses_degree = v; break;
    case ID_EP: ov->ep = v; break;
    case ID_ETP: ov->etp = v; break;
    case ID_DP: ov->dp = v; break;
    case ID_SEQ: ov->seq_len = v; break;
    case ID_MEAN_SEQ: ov->mean_seq_len = v; break;
    case ID_MB: ov->micro_batch = v; break;
    case ID_GB: ov->global_batch = v; break;
    case ID_SP: ov->sp = 1; break;
    case ID_NO_SP: ov->sp = 0; break;
    case ID_RECOMPUTE: ov->recompute = choice; break;
    case ID_DISTOPT: ov->distributed_optimizer = 1; break;
    case ID_NO_DISTOPT: ov->distributed_optimizer = 0; break;
    case ID_PRECISION: ov->precision = choice; break;
    case ID_FP8: ov->fp8 = choice; break;
    case ID_FP8_AMAX: ov->fp8_amax_history = v; break;
    case ID_FP8_PARAM_GATHER: ov->fp8_param_gather = 1; break;
    case ID_CROSS_ENTROPY: ov->cross_entropy = choice; break;
    case ID_FLASH: ov->flash_attention = 1; break;
    case ID_NO_FLASH: ov->flash_attention = 0; break;
    case ID_OVERLAP: ov->overlap_grad_reduce = 1; break;
    case ID_TP_OVERLAP: ov->tp_comm_overlap = 1; break;
    case ID_GRAD_BF16: ov->grad_reduce_bf16 = 1; break;
    case ID_REUSE_FP32: ov->reuse_fp32_param = 1; break;
    case ID_RECOMPUTE_ACT: ov->recompute_activation = 1; break;
    case ID_PARAM_GATHER: ov->overlap_param_gather = 1; break;
    case ID_MARGIN: {
      char *end = NULL;
      errno = 0;
      double f = strtod(value, &end);
      if (end == value || *end != '\0' || errno || !isfinite(f) || f < 0.0 || f >= 1.0)
        return bad(err, o->name, "a fraction in [0, 1)", value);
      ov->memory_margin = f;
      break;
    }
    case ID_FORMAT: args->format = (cli_format)choice; break;
    case ID_OUTPUT:
    case ID_WRITE:
    case ID_WRITE_ME:
      if (!*value) return bad(err, o->name, "a path", value); /* not a file name: bad usage */
      if (o->id == ID_OUTPUT)
        args->output = value;
      else if (o->id == ID_WRITE)
        args->write_path = value;
      else
        args->write_me_path = value;
      break;
    case ID_OPS: args->show_ops = true; break;
    case ID_PUBLISHED: args->published = value; break;
    case ID_MAX_ERROR: {
      char *end = NULL;
      errno = 0;
      double pct = strtod(value, &end);
      if (end != value && *end == '%') end++;
      /* decimal only: no blanks, sign, hex, inf or nan */
      bool plain = value[0] == '.' || (value[0] >= '0' && value[0] <= '9');
      for (const char *q = value; plain && *q; q++)
        plain = strchr("0123456789.eE+-%", *q) != NULL;
      if (!plain || end == value || *end != '\0' || errno || !isfinite(pct) || pct < 0.0)
        return bad(err, o->name, "a percentage >= 0 (10 or 10%)", value);
      args->max_error_pct = pct;
      break;
    }
    case ID_TOKENS: args->tokens = value; break;
    case ID_MEGATRON_ARGS: args->megatron_args = value; break;
    case ID_KERNEL: args->kernel = true; break;
    case ID_HW_PREFIX: args->hw_prefix = value; break;
    case ID_QUICK: args->quick = true; break;
    case ID_TOP: args->top = v; break;
    case ID_STACK: args->stack = value; break;
    case ID_S_TP: return parse_list(o, value, args->tp_list, &args->n_tp, err);
    case ID_S_PP: return parse_list(o, value, args->pp_list, &args->n_pp, err);
    case ID_MAX_TP: args->max_tp = v; break;
    case ID_PIPE_LAYERS:
      return parse_list(o, value, args->over.decoder_layers, &args->over.n_decoder_layers, err);
    case ID_S_MB: return parse_list(o, value, args->mb_list, &args->n_mb, err);
    case ID_FREEZE: args->freeze = value; break;
    case ID_CASES:
      if (args->n_cases == (int)(sizeof args->cases / sizeof args->cases[0])) {
        tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "--cases: at most %d files",
                      (int)(sizeof args->cases / sizeof args->cases[0]));
        return TPS_EINVAL;
      }
      args->cases[args->n_cases++] = value;
      break;
    case ID_PARAM: args->params = value; break;
    case ID_TIMEOUT: args->timeout_s = v; break;
    case ID_PRICE: {
      char *end = NULL;
      errno = 0;
      double p = strtod(value, &end);
      if (end == value || *end != '\0' || errno || !isfinite(p) || p <= 0.0 || p > 1e6)
        return bad(err, o->name, "a price per card-hour in (0, 1e6]", value);
      args->price = p;
      break;
    }
    case ID_DAYS: {
      char *end = NULL;
      errno = 0;
      double d = strtod(value, &end);
      if (end == value || *end != '\0' || errno || !isfinite(d) || d <= 0.0 || d > 36500.0)
        return bad(err, o->name, "a number of days in (0, 36500]", value);
      args->days = d;
      break;
    }
    case ID_INTERVAL: {
      args->interval_given = true;
      if (strcmp(value, "none") == 0) {
        args->interval = 0.0;
        break;
      }
      char *end = NULL;
      errno = 0;
      double pct = strtod(value, &end);
      if (end != value && *end == '%') end++;
      bool plain = value[0] == '.' || (value[0] >= '0' && value[0] <= '9');
      for (const char *q = value; plain && *q; q++) plain = strchr("0123456789.%", *q) != NULL;
      if (!plain || end == value || *end != '\0' || errno || !isfinite(pct) ||
          !(pct == 0.0 || (pct >= 1.0 && pct <= 99.9))) {
        bad(err, o->name, "a percentage in [1, 99.9], or 0 or none for no intervals", value);
        tps_error_hint(err, "--interval 90 gives 90%% intervals");
        return TPS_EINVAL;
      }
      args->interval = pct / 100.0;
      break;
    }
    case ID_ALLOW_UNMODELLED: args->allow_unmodelled = true; break;
    case ID_LIST_FLAGS: args->list_flags = true; break;
    case ID_HELP: args->help = true; break;
  }
  return TPS_OK;
}

static const cli_option *find(const char *name, size_t len, unsigned groups) {
  for (int i = 0; i < N_OPTIONS; i++) {
    const cli_option *o = &options[i];
    if (o->group && !(o->group & groups)) continue;
    if ((strlen(o->name) == len && strncmp(o->name, name, len) == 0) ||
        (o->alias && strlen(o->alias) == len && strncmp(o->alias, name, len) == 0))
      return o;
  }
  return NULL;
}

/* Whether word is exactly the name of an option of groups ("--tp", "-o"). */
static bool is_option_name(const char *word, unsigned groups) {
  return word[0] == '-' && find(word, strlen(word), groups) != NULL;
}

tps_status cli_parse(int argc, char **argv, int first, unsigned groups, cli_args *args,
                     tps_error *err) {
  for (int i = first; i < argc; i++) {
    const char *arg = argv[i];
    if (arg[0] != '-') {
      tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "unexpected argument '%s'", arg);
      return TPS_EINVAL;
    }
    const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const cli_option *o = find(arg, len, groups);
    if (!o) {
      tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "unknown option '%.*s'", (int)len, arg);
      const char *names[2 * N_OPTIONS];
      int n = 0;
      for (int k = 0; k < N_OPTIONS; k++) {
        if (options[k].group && !(options[k].group & groups)) continue;
        names[n++] = options[k].name;
        if (options[k].alias) names[n++] = options[k].alias;
      }
      char word[64];
      snprintf(word, sizeof word, "%.*s", (int)(len < 63 ? len : 63), arg);
      const char *close = tps_did_you_mean(word, names, n);
      if (close)
        tps_error_hint(err, "did you mean '%s'?", close);
      else
        /* argv[first - 1] is the subcommand, or the program itself when
         * the command was left out (estimate is the default). */
        tps_error_hint(err, "see tp-sim %s --help", first >= 2 ? argv[first - 1] : "estimate");
      return TPS_EINVAL;
    }
    const char *value = NULL;
    if (o->type == T_FLAG) {
      if (eq) {
        tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "%s takes no value", o->name);
        return TPS_EINVAL;
      }
    } else if (eq) {
      value = eq + 1;
    } else if (i + 1 < argc &&
               (!is_option_name(argv[i + 1], groups) || o->id == ID_MEGATRON_ARGS)) {
      /* --megatron-args' value is Megatron flags, some spelled as tp-sim's
       * own (--megatron-args "--grad-reduce-in-bf16"): always the next word */
      value = argv[++i];
    } else {
      /* `--model --tp 1`: the next word is an option, not this one's value. */
      tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "%s needs a value (%s)", o->name, o->metavar);
      return TPS_EINVAL;
    }
    tps_status st = apply(o, value, args, err);
    if (st) return st;
  }
  return TPS_OK;
}

void cli_print_options(unsigned groups) {
  for (int i = 0; i < N_OPTIONS; i++) {
    const cli_option *o = &options[i];
    if (o->group && !(o->group & groups)) continue;
    char left[80];
    snprintf(left, sizeof left, "%s%s%s%s%s", o->name, o->metavar ? " " : "",
             o->metavar ? o->metavar : "", o->alias ? ", " : "", o->alias ? o->alias : "");
    if (strlen(left) > 36)
      printf("  %s\n  %-36s %s\n", left, "", o->help);
    else
      printf("  %-36s %s\n", left, o->help);
  }
}
