/* The loss's logits (docs/model.md, "The loss"): what the head's loss op
 * keeps and holds beside it per logit for Megatron's vocab-parallel cross
 * entropy and for Transformer Engine's, against the byte counts read from
 * their code (megatron/core/tensor_parallel/cross_entropy.py: an fp32
 * softmax kept, the bf16 logits and fp32 copies beside it;
 * transformer_engine/pytorch/cross_entropy.py: the gradient written into
 * the bf16 logits, which are kept), and the Megatron flags that choose it. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "tpsim/tpsim.h"

static tps_model model;

static void setup(void) {
  char path[4096];
  tps_error err;
  cr_assert_eq(tps_data_find("models", "llama3-8b", path, sizeof path, &err), TPS_OK, "%s",
               err.msg);
  cr_assert_eq(tps_model_load(path, &model, &err), TPS_OK, "%s", err.msg);
}

/* The head's loss op of Llama 3 8B at TP 2, seq 8192, micro-batch 1, bf16. */
static tps_op head_loss(int cross_entropy) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = 2;
  o.seq_len = 8192;
  o.micro_batch = 1;
  o.cross_entropy = cross_entropy;
  tps_run run;
  tps_error err;
  cr_assert_eq(tps_run_resolve(&model, &o, &run, &err), TPS_OK, "%s", err.msg);
  tps_op_list ops;
  tps_op_list_init(&ops);
  tps_lower_opts head = {.kind = TPS_LAYER_HEAD, .needs_input_grad = true};
  cr_assert_eq(tps_lower_layer(&model.modules[0], &run, head, &ops, &err), TPS_OK, "%s",
               err.msg);
  tps_op loss = {0};
  for (int i = 0; i < ops.n; i++)
    if (strcmp(ops.ops[i].name, "loss") == 0) loss = ops.ops[i];
  tps_op_list_free(&ops);
  cr_assert_str_eq(loss.name, "loss");
  return loss;
}

/* 8192 tokens x 128256 / 2 vocabulary rows per rank (128256 is a multiple
 * of Megatron's padding unit 128 x 2: no padding). */
static const double logits = 8192.0 * 64128.0;

Test(loss, megatron_keeps_fp32_softmax_and_copies_beside, .init = setup) {
  tps_op l = head_loss(-1); /* the model's: Megatron's */
  cr_assert_eq(l.saved_bytes, logits * 4.0, "fp32 softmax: %.0f", l.saved_bytes);
  cr_assert_eq(l.workspace_bytes, logits * (4.0 + 2.0), "bf16 logits + fp32 copy: %.0f",
               l.workspace_bytes);
  tps_op same = head_loss(TPS_CE_MEGATRON);
  cr_assert_eq(same.saved_bytes, l.saved_bytes);
  cr_assert_eq(same.workspace_bytes, l.workspace_bytes);
}

Test(loss, te_keeps_only_the_bf16_logits, .init = setup) {
  tps_op l = head_loss(TPS_CE_TE);
  cr_assert_eq(l.saved_bytes, logits * 2.0, "bf16 logits holding the gradient: %.0f",
               l.saved_bytes);
  cr_assert_eq(l.workspace_bytes, 0.0);
  /* the time reads and writes the same bytes either way */
  tps_op m = head_loss(TPS_CE_MEGATRON);
  cr_assert_eq(l.fwd_bytes, m.fwd_bytes);
}

/* Megatron-Core's language_module.py: Transformer Engine's loss runs only
 * with --cross-entropy-loss-fusion and --cross-entropy-fusion-impl te; the
 * native fused loss and the unfused one are Megatron's; the implementation
 * flag alone changes nothing. Every one of these flags is used. */
Test(loss, megatron_flags_choose_it) {
  const struct {
    const char *args;
    int expect;
    int flags;
  } cases[] = {
      {"--cross-entropy-loss-fusion --cross-entropy-fusion-impl te", TPS_CE_TE, 2},
      {"--cross-entropy-fusion-impl=te --cross-entropy-loss-fusion", TPS_CE_TE, 2},
      {"--cross-entropy-loss-fusion", -1, 1},
      {"--cross-entropy-loss-fusion --cross-entropy-fusion-impl native", -1, 2},
      {"--cross-entropy-fusion-impl te", -1, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tps_run_overrides o;
    tps_run_overrides_init(&o);
    tps_eco_unresolved u;
    tps_error err;
    cr_assert_eq(tps_megatron_args_parse(cases[i].args, NULL, &o, &u, &err), TPS_OK, "%s",
                 err.msg);
    cr_assert_eq(o.cross_entropy, cases[i].expect, "%s: %d", cases[i].args, o.cross_entropy);
    cr_assert_eq(u.n, 0, "%s: %s left", cases[i].args, u.n ? u.items[0].arg : "");
    cr_assert_eq(u.recognised, cases[i].flags, "%s: %d used", cases[i].args, u.recognised);
  }
}
