/* The Megatron-LM / MindSpeed flag classification (sim/io/flag_classes.c,
 * megatron_flag_table.c) and its use by the argument reader: each class,
 * values that make an unmodelled flag harmless, group members that matter
 * only with their feature, unknown flags with a did-you-mean, and the
 * table's own invariants. Expected values are the table's rows
 * (docs/flags.md) and the argparse definitions they classify. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "io/flag_classes.h"
#include "io/megatron_flags.h"
#include "tpsim/tpsim.h"

static void parse_ok(const char *text, tps_run_overrides *o, tps_eco_unresolved *u) {
  tps_error err;
  tps_run_overrides_init(o);
  tps_status st = tps_megatron_args_parse(text, NULL, o, u, &err);
  cr_assert_eq(st, TPS_OK, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
}

/* The unmodelled item for flag, or NULL. */
static const tps_eco_item *unmodelled(const tps_eco_unresolved *u, const char *flag) {
  for (int i = 0; i < u->unmodelled.n; i++)
    if (strcmp(u->unmodelled.items[i].arg, flag) == 0) return &u->unmodelled.items[i];
  return NULL;
}

Test(flag_classes, table_sorted_unique_and_disjoint_from_the_value_table) {
  for (int k = 1; k < flc_n_flags; k++)
    cr_assert_lt(strcmp(flc_flags[k - 1].name, flc_flags[k].name), 0, "%s before %s",
                 flc_flags[k - 1].name, flc_flags[k].name);
  for (int k = 0; k < flc_n_flags; k++) {
    const flc_flag *f = &flc_flags[k];
    cr_assert(strncmp(f->name, "--", 2) == 0, "%s", f->name);
    cr_assert(f->note && f->note[0], "%s has a note", f->name);
    /* a harmless value only makes sense for a trigger that takes a value;
     * a switch can only be made harmless by the run's mean sample length */
    if (f->harmless)
      cr_assert(f->trigger && (f->takes != FLC_SWITCH ||
                               strcmp(f->harmless, FLC_HARMLESS_MEAN_LEN) == 0),
                "%s", f->name);
    /* a group member with no trigger in its group could never count */
    if (f->cls == FLC_UNMODELLED && !f->trigger) {
      bool has_trigger = false;
      for (int j = 0; j < flc_n_flags; j++)
        if (flc_flags[j].group == f->group && flc_flags[j].trigger) has_trigger = true;
      cr_assert(has_trigger, "%s: group %s has no trigger", f->name, flc_group_name(f->group));
    }
    /* no row is in both as ignored or unmodelled */
    for (int j = 0; j < mgf_n_flags; j++)
      if (strcmp(mgf_flags[j].name, f->name) == 0)
        cr_assert_eq(f->cls, FLC_MODELLED, "%s is read by the value table", f->name);
  }
  cr_assert_geq(flc_n_flags, 1000, "%d rows", flc_n_flags);
}

Test(flag_classes, lookup_by_exact_name) {
  const flc_flag *f = flc_find("--cp-window-size=4", strlen("--cp-window-size"));
  cr_assert_not_null(f);
  cr_assert_str_eq(f->name, "--cp-window-size");
  cr_assert_eq(f->cls, FLC_UNMODELLED);
  cr_assert_eq(f->group, FLC_G_CP);
  cr_assert_null(flc_find("--cp-window", strlen("--cp-window")));
  cr_assert_null(flc_find("--cp-window-sizes", strlen("--cp-window-sizes")));
  /* context parallelism is modelled: read by the value table */
  cr_assert_null(flc_find("--context-parallel-size", 23));
  cr_assert_null(flc_find("--context-parallel-algo", 23));
  /* FP8 is modelled: its flags are read by the value table */
  cr_assert_null(flc_find("--fp8-format", 12));
  cr_assert_null(flc_find("--fp8-param-gather", 18));
  cr_assert_eq(flc_find("--fp8-margin", 12)->cls, FLC_IGNORED);
  cr_assert_eq(flc_find("--save", 6)->cls, FLC_IGNORED);
  /* read by the value table (megatron_flags.c), not classified here */
  cr_assert_null(flc_find("--mm-model", 10));
  cr_assert_null(flc_find("--num-layer-list", 16));
}

Test(flag_classes, harmless_values) {
  const flc_flag *cp = flc_find("--cp-attention-mask-type", 24);
  cr_assert(flc_harmless(cp, "causal"));
  cr_assert_not(flc_harmless(cp, "general"));
  cr_assert_not(flc_harmless(cp, "$MASK"));
  const flc_flag *rm = flc_find("--recompute-modules", 19);
  cr_assert(flc_harmless(rm, "core_attn"));
  cr_assert_not(flc_harmless(rm, "core_attn mlp"));
  const flc_flag *opt = flc_find("--optimizer", 11);
  cr_assert(flc_harmless(opt, "adam"));
  cr_assert_not(flc_harmless(opt, "sgd"));
  /* FP8 is modelled with per-tensor scaling (delayed or current) */
  const flc_flag *recipe = flc_find("--fp8-recipe", 12);
  cr_assert(flc_harmless(recipe, "delayed"));
  cr_assert_not(flc_harmless(recipe, "mxfp8"));
}

/* The three classes in one argument string: the modelled flag is applied,
 * the ignored ones leave no trace, the unmodelled ones are listed with their
 * value, line and reason. */
Test(flag_classes, each_class) {
  tps_run_overrides o;
  static tps_eco_unresolved u;
  parse_ok("--tensor-model-parallel-size 2 --save /ckpt --lr 3e-4 --log-interval 1\n"
           "--context-parallel-size 4 --fp8-format hybrid --use-pipe-experts\n"
           "--expert-model-parallel-size 2 --cpu-offloading --first-last-layers-bf16",
           &o, &u);
  cr_assert_eq(o.tp, 2);
  cr_assert_eq(o.cp, 4, "context parallelism is modelled");
  cr_assert_eq(o.fp8, TPS_FP8_HYBRID, "FP8 is modelled");
  cr_assert_eq(u.n, 0, "nothing unresolved");
  cr_assert_eq(u.unknown.n, 0);
  cr_assert_eq(u.unmodelled.n, 3);
  cr_assert_null(unmodelled(&u, "--context-parallel-size"));
  cr_assert_null(unmodelled(&u, "--fp8-format"));
  /* a member of the FP8 group, listed because --fp8-format turned FP8 on */
  const tps_eco_item *bf16 = unmodelled(&u, "--first-last-layers-bf16");
  cr_assert_not_null(bf16);
  cr_assert_eq(bf16->line, 3);
  cr_assert_eq(o.ep, 2, "expert parallelism is modelled");
  cr_assert_null(unmodelled(&u, "--expert-model-parallel-size"));
  cr_assert_eq(unmodelled(&u, "--use-pipe-experts")->line, 2, "EP 2 turns the MoE group on");
  cr_assert_str_eq(unmodelled(&u, "--cpu-offloading")->text, "");
}

/* Values that make a flag harmless are not refused: CP 1, one expert, EP 1,
 * recompute of one layer per chunk, Adam; nor are the members of a feature
 * that is off (--moe-router-topk without experts, the CP algorithm at CP 1). */
Test(flag_classes, harmless_values_and_inactive_groups_not_listed) {
  tps_run_overrides o;
  static tps_eco_unresolved u;
  parse_ok("--cp-attention-mask-type causal --fp8-amax-history-len 16 --num-experts 1"
           " --expert-model-parallel-size 1 --moe-router-topk 2 --moe-grouped-gemm"
           " --recompute-num-layers 1 --optimizer adam --mtp-num-layers 0"
           " --q-lora-rank 1536",
           &o, &u);
  cr_assert_eq(u.unmodelled.n, 0, "first: %s", u.unmodelled.n ? u.unmodelled.items[0].arg : "");
  cr_assert_eq(u.unknown.n, 0);
}

/* A trigger makes its whole group count; so does a modelled flag that turns
 * the feature on: the pipe-experts switch with 8 experts (--num-experts and
 * --moe-router-topk are modelled). */
Test(flag_classes, active_group_lists_its_members) {
  tps_run_overrides o;
  static tps_eco_unresolved u;
  parse_ok("--num-experts 8 --moe-router-topk 2 --use-pipe-experts --fp8-amax-history-len 4",
           &o, &u);
  cr_assert_eq(u.unmodelled.n, 1);
  cr_assert_null(unmodelled(&u, "--moe-router-topk"), "modelled");
  cr_assert_not_null(unmodelled(&u, "--use-pipe-experts"));
  cr_assert_null(unmodelled(&u, "--fp8-amax-history-len"), "FP8 is off");
}

/* A value that is not known may matter: listed with the reason. */
Test(flag_classes, unresolved_value_of_a_trigger_is_listed) {
  tps_run_overrides o;
  static tps_eco_unresolved u;
  parse_ok("--cp-window-size $W", &o, &u);
  cr_assert_eq(u.unmodelled.n, 1);
  cr_assert_str_eq(u.unmodelled.items[0].text, "$W");
  cr_assert(strstr(u.unmodelled.items[0].why, "the value is not known: variable 'W'") != NULL,
            "%s", u.unmodelled.items[0].why);
}

/* The last value wins, as in argparse: CP 4 then CP 1 is harmless. */
Test(flag_classes, later_value_overrides) {
  tps_run_overrides o;
  static tps_eco_unresolved u;
  parse_ok("--fp8-recipe mxfp8 --fp8-recipe=blockwise --context-parallel-size 4 "
           "--context-parallel-size=2", &o, &u);
  cr_assert_eq(u.unmodelled.n, 1, "one --fp8-recipe, its last value");
  cr_assert_str_eq(u.unmodelled.items[0].text, "blockwise");
  cr_assert_eq(o.cp, 2);
  parse_ok("--fp8-recipe mxfp8 --fp8-recipe=delayed", &o, &u);
  cr_assert_eq(u.unmodelled.n, 0, "the last value, delayed scaling, is modelled");
}

/* An unknown flag in a command with known flags is listed once with the
 * closest name; its value is not taken for a flag. Words of a command
 * without any known flag (mkdir, pip) are not looked at. */
Test(flag_classes, unknown_flag_with_did_you_mean) {
  tps_run_overrides o;
  static tps_eco_unresolved u;
  parse_ok("pip install --upgrade foo\n"
           "torchrun pretrain_gpt.py --tensor-model-parallel-size 2 --sequence-paralel"
           " --foo-bar 1 --sequence-paralel --micro-batch-size 2",
           &o, &u);
  cr_assert_eq(o.tp, 2);
  cr_assert_eq(o.micro_batch, 2);
  cr_assert_eq(u.unknown.n, 2, "--upgrade of pip is not listed");
  cr_assert_str_eq(u.unknown.items[0].arg, "--sequence-paralel");
  cr_assert_str_eq(u.unknown.items[0].why, "did you mean '--sequence-parallel'?");
  cr_assert_eq(u.unknown.items[0].line, 2);
  cr_assert_str_eq(u.unknown.items[1].arg, "--foo-bar");
  cr_assert_str_eq(u.unknown.items[1].why, "not a Megatron-LM or MindSpeed flag tp-sim knows");
}

/* A flag with values up to the next flag (nargs='+'): the values are not
 * taken for words of their own, and the whole list decides harmlessness. */
Test(flag_classes, list_values) {
  tps_run_overrides o;
  static tps_eco_unresolved u;
  parse_ok("--recompute-modules core_attn mlp --micro-batch-size 4", &o, &u);
  cr_assert_eq(o.micro_batch, 4);
  cr_assert_eq(u.unmodelled.n, 1);
  cr_assert_str_eq(u.unmodelled.items[0].text, "core_attn mlp");
}

/* --virtual-pipeline-model-parallel-size goes to the run's vpp. */
Test(flag_classes, vpp_is_modelled) {
  tps_run_overrides o;
  static tps_eco_unresolved u;
  parse_ok("--virtual-pipeline-model-parallel-size 4", &o, &u);
  cr_assert_eq(o.vpp, 4);
  cr_assert_eq(u.unmodelled.n + u.unknown.n + u.n, 0);
}

/* --variable-seq-lengths is listed, marked as harmless once the run has a
 * mean sample length (the CLI then drops it; golden ok_from_script_mindspeed_mm
 * with --mean-seq-len, script_varlen_without_mean without). */
Test(flag_classes, variable_lengths_wait_for_a_mean_length) {
  tps_run_overrides o;
  static tps_eco_unresolved u;
  parse_ok("--variable-seq-lengths --seq-length 1024", &o, &u);
  const tps_eco_item *it = unmodelled(&u, "--variable-seq-lengths");
  cr_assert_not_null(it);
  cr_assert(it->harmless_with_mean_len);
  parse_ok("--fp8-recipe mxfp8", &o, &u);
  it = unmodelled(&u, "--fp8-recipe");
  cr_assert_not_null(it);
  cr_assert(!it->harmless_with_mean_len);
}

/* The listing holds both tables once each, sorted. */
Test(flag_classes, listing) {
  int n = tps_megatron_flags_list(NULL, 0);
  static tps_flag_info f[2000];
  cr_assert_leq(n, 2000);
  cr_assert_eq(tps_megatron_flags_list(f, n), n);
  cr_assert_eq(n, flc_n_flags + mgf_n_flags, "no name in both tables");
  for (int i = 1; i < n; i++) cr_assert_lt(strcmp(f[i - 1].name, f[i].name), 0, "%s", f[i].name);
  bool tp = false;
  for (int i = 0; i < n; i++)
    if (strcmp(f[i].name, "--tensor-model-parallel-size") == 0)
      tp = strcmp(f[i].cls, "modelled") == 0;
  cr_assert(tp);
}
