/* Megatron / MindSpeed arguments and launch scripts (sim/io/shell_read.c,
 * megatron_flags.c and megatron_args.c): the shell subset (quotes,
 * continuations, comments, variables, arrays, arithmetic), the flags applied
 * to the run overrides and to the model, and the unresolved list. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tpsim/tpsim.h"

#define SCRIPTS TPSIM_SOURCE_DIR "/tests/inputs/scripts/"

static tps_run_overrides fresh_over(void) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  return o;
}

static void parse_ok(const char *text, tps_model *m, tps_run_overrides *o,
                     tps_eco_unresolved *u) {
  tps_error err;
  tps_status st = tps_megatron_args_parse(text, m, o, u, &err);
  cr_assert_eq(st, TPS_OK, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
}

Test(megatron_args, run_flags_and_both_value_spellings) {
  tps_run_overrides o = fresh_over();
  tps_eco_unresolved u;
  parse_ok("--tensor-model-parallel-size 4 --pipeline-model-parallel-size=2 --sequence-parallel"
           " --micro-batch-size 2 --global-batch-size 256 --seq-length 8192"
           " --recompute-granularity selective --use-distributed-optimizer --fp16"
           " --use-flash-attn --lr 1e-4 --some-unknown-flag x --save /ckpt",
           NULL, &o, &u);
  cr_assert_eq(o.tp, 4);
  cr_assert_eq(o.pp, 2);
  cr_assert_eq(o.sp, 1);
  cr_assert_eq(o.micro_batch, 2);
  cr_assert_eq(o.global_batch, 256);
  cr_assert_eq(o.seq_len, 8192);
  cr_assert_eq(o.recompute, TPS_RECOMPUTE_SELECTIVE);
  cr_assert_eq(o.distributed_optimizer, 1);
  cr_assert_eq(o.precision, TPS_PRECISION_FP16);
  cr_assert_eq(o.flash_attention, 1);
  cr_assert_eq(o.cards, 0, "left as it was");
  cr_assert_eq(u.n, 0, "%s %s", u.items[0].arg, u.items[0].why);
  cr_assert_eq(u.recognised, 10);
}

/* MindSpeed's --num-layers-per-virtual-pipeline-stage N is Megatron's
 * chunks per stage, (layers / pp) / N (arguments.py), and refused when N does
 * not divide a stage's layers or when --virtual-pipeline-model-parallel-size
 * says otherwise; --reuse-fp32-param and --recompute-activation-function are
 * run switches. */
Test(megatron_args, layers_per_virtual_stage_and_mindspeed_switches) {
  static tps_model m;
  tps_run_overrides o = fresh_over();
  tps_eco_unresolved u;
  parse_ok("--num-layers 80 --hidden-size 1024 --num-attention-heads 8 --vocab-size 32000"
           " --pipeline-model-parallel-size 4 --num-layers-per-virtual-pipeline-stage 2"
           " --reuse-fp32-param --recompute-activation-function --bf16",
           &m, &o, &u);
  cr_assert_eq(o.vpp, 10, "80 / 4 / 2");
  cr_assert_eq(o.reuse_fp32_param, 1);
  cr_assert_eq(o.recompute_activation, 1);
  cr_assert_eq(u.unmodelled.n, 0);
  tps_error err;
  o = fresh_over();
  cr_assert_eq(tps_megatron_args_parse("--num-layers 80 --hidden-size 1024 --num-attention-heads 8"
                                       " --pipeline-model-parallel-size 4"
                                       " --num-layers-per-virtual-pipeline-stage 3",
                                       &m, &o, &u, &err),
               TPS_EDIVIDE);
  cr_assert(strstr(err.msg, "3 does not divide the 20 layers of a pipeline stage"), "%s", err.msg);
  o = fresh_over();
  cr_assert_eq(tps_megatron_args_parse("--num-layers 80 --hidden-size 1024 --num-attention-heads 8"
                                       " --pipeline-model-parallel-size 4"
                                       " --num-layers-per-virtual-pipeline-stage 2"
                                       " --virtual-pipeline-model-parallel-size 5",
                                       &m, &o, &u, &err),
               TPS_EINVAL);
  cr_assert(strstr(err.msg, "says 5"), "%s", err.msg);
}

/* Variables assigned earlier in the same text, ${VAR:-default}, quotes. */
Test(megatron_args, variables_and_quotes) {
  tps_run_overrides o = fresh_over();
  tps_eco_unresolved u;
  parse_ok("TP=2 MBS='1'; GBS=$((MBS * 16)) ; --tensor-model-parallel-size ${TP}"
           " --micro-batch-size \"$MBS\" --global-batch-size $GBS"
           " --pipeline-model-parallel-size ${PP:-4}",
           NULL, &o, &u);
  cr_assert_eq(o.tp, 2);
  cr_assert_eq(o.micro_batch, 1);
  cr_assert_eq(o.global_batch, 16);
  cr_assert_eq(o.pp, 4);
  cr_assert_eq(u.n, 0);
}

/* Named, with the reason, never silently dropped. */
Test(megatron_args, unresolved_values_are_listed) {
  tps_run_overrides o = fresh_over();
  tps_eco_unresolved u;
  parse_ok("--tensor-model-parallel-size $TP\n"
           "--micro-batch-size two \\\n"
           "  --global-batch-size $(( GBS * 2 ))\n"
           "--recompute-granularity sometimes --seq-length",
           NULL, &o, &u);
  cr_assert_eq(o.tp, 0);
  cr_assert_eq(o.micro_batch, 0);
  cr_assert_eq(u.n, 5);
  cr_assert_str_eq(u.items[0].arg, "--tensor-model-parallel-size");
  cr_assert_str_eq(u.items[0].text, "$TP");
  cr_assert_str_eq(u.items[0].why, "variable 'TP' is not set in the script");
  cr_assert_eq(u.items[0].line, 1);
  cr_assert_str_eq(u.items[1].arg, "--micro-batch-size");
  cr_assert_str_eq(u.items[1].why, "'two' is not an integer >= 1");
  cr_assert_eq(u.items[1].line, 2);
  cr_assert_str_eq(u.items[2].arg, "--global-batch-size");
  cr_assert_str_eq(u.items[2].text, "$(( GBS * 2 ))");
  cr_assert_str_eq(u.items[2].why, "variable 'GBS' is not set in the script");
  cr_assert_eq(u.items[2].line, 3);
  cr_assert_str_eq(u.items[3].why, "'sometimes' is not one of selective, full");
  cr_assert_str_eq(u.items[4].arg, "--seq-length");
  cr_assert_str_eq(u.items[4].why, "no value (an empty or unset variable?): not used");
}

Test(megatron_args, shape_flags_need_a_model) {
  tps_run_overrides o = fresh_over();
  tps_eco_unresolved u;
  parse_ok("--num-layers 2 --tensor-model-parallel-size 2", NULL, &o, &u);
  cr_assert_eq(o.tp, 2);
  cr_assert_eq(u.n, 1);
  cr_assert_str_eq(u.items[0].arg, "--num-layers");
  cr_assert_eq(u.shape, TPS_ECO_SHAPE_NONE);
}

/* --num-query-groups counts only with --group-query-attention (Megatron). */
Test(megatron_args, query_groups_need_gqa) {
  static tps_model m;
  memset(&m, 0, sizeof m);
  tps_run_overrides o = fresh_over();
  tps_eco_unresolved u;
  parse_ok("--num-layers 2 --hidden-size 256 --num-attention-heads 8 --num-query-groups 2"
           " --vocab-size 1000",
           &m, &o, &u);
  cr_assert_eq(u.shape, TPS_ECO_SHAPE_BUILT);
  cr_assert_eq(m.modules[0].kv_heads, 8);
  cr_assert_eq(u.n, 1);
  cr_assert_str_eq(u.items[0].why, "ignored without --group-query-attention");
  memset(&m, 0, sizeof m);
  parse_ok("--num-layers 2 --hidden-size 256 --num-attention-heads 8 --num-query-groups 2"
           " --group-query-attention --vocab-size 1000",
           &m, &o, &u);
  cr_assert_eq(m.modules[0].kv_heads, 2);
}

/* A whole Megatron-LM script: the model alone from its flags (Llama 2 7B:
 * 6,738,415,616 parameters) and the run, cards from torchrun's arguments. */
Test(megatron_args, megatron_script_builds_a_model) {
  static tps_model m;
  memset(&m, 0, sizeof m);
  tps_run_overrides o = fresh_over();
  tps_eco_unresolved u;
  tps_error err;
  tps_status st = tps_megatron_script_load(SCRIPTS "megatron-llama2-7b.sh", &m, &o, &u, &err);
  cr_assert_eq(st, TPS_OK, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  cr_assert_eq(u.n, 0, "%s %s: %s", u.items[0].arg, u.items[0].text, u.items[0].why);
  cr_assert_eq(u.shape, TPS_ECO_SHAPE_BUILT);
  cr_assert_eq(o.cards, 16);
  cr_assert_eq(o.tp, 2);
  cr_assert_eq(o.pp, 4);
  cr_assert_eq(o.sp, 1);
  cr_assert_eq(o.micro_batch, 1);
  cr_assert_eq(o.global_batch, 512);
  cr_assert_eq(o.seq_len, 4096);
  cr_assert_eq(o.recompute, TPS_RECOMPUTE_FULL);
  cr_assert_eq(o.distributed_optimizer, 1);
  cr_assert_eq(o.precision, TPS_PRECISION_BF16);
  cr_assert_eq(o.flash_attention, 1);
  cr_assert_eq(m.n_modules, 1);
  cr_assert_str_eq(m.name, "megatron-llama2-7b");
  const tps_module *d = &m.modules[0];
  cr_assert_eq(d->layers, 32);
  cr_assert_eq(d->kv_heads, 32);
  cr_assert_eq(d->mlp, TPS_MLP_SWIGLU);
  cr_assert_eq(d->norm, TPS_NORM_RMSNORM);
  cr_assert_eq(d->position, TPS_POSITION_ROPE);
  cr_assert_not(d->tied_embeddings || d->bias || d->qkv_bias || d->dropout);
  cr_assert_eq(m.training.vocab_divisor, 1, "--padded-vocab-size is padded already");
  cr_assert_eq(m.training.seq_len, 4096);
  cr_assert_eq(tps_model_params(&m), 6738415616.0, "%.0f", tps_model_params(&m));
  /* the built model runs through the engine */
  tps_run run;
  cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(run.dp, 2);
}

/* A MindSpeed script over the bundled model: ${1:-2}, $((...)) chains,
 * multi-line strings; $(nproc), an unset variable and an unset argument
 * variable are named with the line where they are written. */
Test(megatron_args, mindspeed_script_over_a_bundled_model) {
  static tps_model m;
  char path[4096];
  tps_error err;
  cr_assert_eq(tps_data_find("models", "qwen25vl-7b", path, sizeof path, &err), TPS_OK);
  cr_assert_eq(tps_model_load(path, &m, &err), TPS_OK);
  tps_run_overrides o = fresh_over();
  tps_eco_unresolved u;
  tps_status st =
      tps_megatron_script_load(SCRIPTS "mindspeed-qwen25vl-7b.sh", &m, &o, &u, &err);
  cr_assert_eq(st, TPS_OK, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  cr_assert_eq(u.shape, TPS_ECO_SHAPE_OVERRIDDEN);
  cr_assert_eq(o.tp, 2);
  cr_assert_eq(o.pp, 1);
  cr_assert_eq(o.global_batch, 192);
  cr_assert_eq(o.cards, 8);
  cr_assert_eq(o.seq_len, 0);
  cr_assert_eq(m.modules[2].kv_heads, 4);
  cr_assert_eq(m.training.n_pipeline_stages, 2, "layer count unchanged: placement kept");
  cr_assert_eq(tps_model_params(&m), 8292166656.0);
  cr_assert_eq(u.n, 3);
  cr_assert_str_eq(u.items[0].arg, "--seq-length");
  cr_assert_str_eq(u.items[0].text, "$(nproc)");
  cr_assert_str_eq(u.items[0].why, "command substitution '$(nproc)' is not run");
  cr_assert_eq(u.items[0].line, 16);
  cr_assert_str_eq(u.items[1].arg, "--recompute-granularity");
  cr_assert_str_eq(u.items[1].why, "variable 'RECOMPUTE' is not set in the script");
  cr_assert_eq(u.items[1].line, 35);
  cr_assert_str_eq(u.items[2].arg, "");
  cr_assert_str_eq(u.items[2].text, "$MM_ARGS");
  cr_assert_eq(u.items[2].line, 42);
}

Test(megatron_args, shape_override_checked_and_atomic) {
  static tps_model m;
  char path[4096];
  tps_error err;
  cr_assert_eq(tps_data_find("models", "llama3-8b", path, sizeof path, &err), TPS_OK);
  cr_assert_eq(tps_model_load(path, &m, &err), TPS_OK);
  tps_run_overrides o = fresh_over();
  tps_eco_unresolved u;
  cr_assert_eq(tps_megatron_args_parse("--tensor-model-parallel-size 2\n --num-attention-heads 30",
                                       &m, &o, &u, &err),
               TPS_ERANGE);
  cr_assert_str_eq(err.msg, "--num-attention-heads (30) does not divide --hidden-size (4096)");
  cr_assert_str_eq(err.file, "--megatron-args");
  cr_assert_eq(err.line, 2);
  cr_assert_eq(err.col, 2);
  cr_assert_eq(m.modules[0].heads, 32, "model untouched");
  cr_assert_eq(o.tp, 0, "overrides untouched");
  /* a valid override */
  parse_ok("--num-layers 16 --ffn-hidden-size 8192", &m, &o, &u);
  cr_assert_eq(u.shape, TPS_ECO_SHAPE_OVERRIDDEN);
  cr_assert_eq(m.modules[0].layers, 16);
  cr_assert_eq(m.modules[0].ffn, 8192);
  cr_assert_eq(m.modules[0].kv_heads, 8);
}

Test(megatron_args, unterminated_quote_is_an_error) {
  static tps_model m;
  memset(&m, 0, sizeof m);
  tps_run_overrides o = fresh_over();
  tps_eco_unresolved u;
  tps_error err;
  cr_assert_eq(tps_megatron_script_load(SCRIPTS "unterminated.sh", &m, &o, &u, &err),
               TPS_ESYNTAX);
  cr_assert_str_eq(err.msg, "unterminated double quote");
  cr_assert_eq(err.line, 2);
  cr_assert_eq(err.col, 10);
  cr_assert_eq(tps_megatron_script_load(SCRIPTS "no-such.sh", &m, &o, &u, &err), TPS_EIO);
}

/* Comments end at the line; an escaped '#' or one inside a word does not start one. */
Test(megatron_args, comments_and_escapes) {
  tps_run_overrides o = fresh_over();
  tps_eco_unresolved u;
  parse_ok("# --tensor-model-parallel-size 8\n"
           "--micro-batch-size 3 # --global-batch-size 9\n"
           "--data-path a#b \\# --seq-length 128",
           NULL, &o, &u);
  cr_assert_eq(o.tp, 0);
  cr_assert_eq(o.micro_batch, 3);
  cr_assert_eq(o.global_batch, 0);
  cr_assert_eq(o.seq_len, 128);
}

/* Hostile input ends in an error, not in gigabytes or a deep stack. */
Test(megatron_args, limits) {
  tps_run_overrides o = fresh_over();
  tps_eco_unresolved u;
  tps_error err;
  static char text[8192];
  strcpy(text, "A=xxxxxxxxxxxxxxxx\n");
  for (int i = 0; i < 40; i++) strcat(text, "A=$A$A\n");
  cr_assert_eq(tps_megatron_args_parse(text, NULL, &o, &u, &err), TPS_ERANGE);
  cr_assert(strstr(err.msg, "longer than") != NULL, "%s", err.msg);
  text[0] = '\0';
  for (int i = 0; i < 1000; i++) strcat(text, "\"$(");
  cr_assert_eq(tps_megatron_args_parse(text, NULL, &o, &u, &err), TPS_ESYNTAX);
  cr_assert(strstr(err.msg, "nested deeper") != NULL, "%s", err.msg);
  text[0] = '\0';
  for (int i = 0; i < 1000; i++) strcat(text, "${A:-");
  cr_assert_eq(tps_megatron_args_parse(text, NULL, &o, &u, &err), TPS_ESYNTAX);
  cr_assert_eq(o.tp, 0);
}
