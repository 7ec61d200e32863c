/* MindSpeed-LLM's MoE launch scripts (tests/inputs/scripts/mindspeed-deepseek3-671b.sh and
 * mindspeed-mixtral-8x7b.sh, after examples/mcore/ in Ascend/MindSpeed-LLM) read by
 * from-script: every flag is known and its value used, the model the flags build has
 * the bundled model's parameter count (models/deepseek-v3.yaml and mixtral-8x7b.yaml,
 * from the Hugging Face configs), and only the flags tp-sim cannot model are listed.
 * Then the MindSpeed flags those scripts brought in: --n-shared-experts, --noop-layers,
 * --use-ascend-coc and the -1 of --moe-layer-freq / --first-k-dense-replace. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "io/megatron_flags.h"
#include "tpsim/tpsim.h"

#define SCRIPTS TPSIM_SOURCE_DIR "/tests/inputs/scripts/"

static double bundled_params(const char *name) {
  static tps_model b;
  char path[4096];
  tps_error err;
  cr_assert_eq(tps_data_find("models", name, path, sizeof path, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_model_load(path, &b, &err), TPS_OK, "%s", err.msg);
  return tps_model_params(&b);
}

static void load_script(const char *file, tps_model *m, tps_run_overrides *o,
                        tps_eco_unresolved *u) {
  tps_error err;
  memset(m, 0, sizeof *m);
  tps_run_overrides_init(o);
  tps_status st = tps_megatron_script_load(file, m, o, u, &err);
  cr_assert_eq(st, TPS_OK, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  /* every flag known, every modelled value used */
  cr_assert_eq(u->unknown.n, 0, "unknown: %s", u->unknown.n ? u->unknown.items[0].arg : "");
  cr_assert_eq(u->n, 0, "unresolved: %s %s", u->n ? u->items[0].arg : "",
               u->n ? u->items[0].why : "");
  cr_assert_eq(u->shape, TPS_ECO_SHAPE_BUILT);
}

/* The unmodelled list is exactly names (in the order written in the script). */
static void unmodelled_are(const tps_eco_unresolved *u, const char *const *names, int n) {
  cr_assert_eq(u->unmodelled.n, n, "%d unmodelled, first %s", u->unmodelled.n,
               u->unmodelled.n ? u->unmodelled.items[0].arg : "");
  for (int i = 0; i < n; i++) {
    bool found = false;
    for (int j = 0; j < u->unmodelled.n; j++)
      found |= strcmp(u->unmodelled.items[j].arg, names[i]) == 0;
    cr_assert(found, "%s is listed as not modelled", names[i]);
  }
}

/* DeepSeek-V3 671B on 64 x 8 NPUs: 64 layers of which 61,62,63 are no-ops, so 61
 * real layers and a last stage of 5; one shared expert of 2048; CoC as TP overlap. */
Test(moe_scripts, mindspeed_deepseek3_671b) {
  static tps_model m;
  tps_run_overrides o;
  static tps_eco_unresolved u;
  load_script(SCRIPTS "mindspeed-deepseek3-671b.sh", &m, &o, &u);
  cr_assert_eq(o.cards, 512, "NPUS_PER_NODE 8 x NNODES 64");
  cr_assert_eq(o.tp, 4);
  cr_assert_eq(o.pp, 8);
  cr_assert_eq(o.ep, 32);
  cr_assert_eq(o.etp, 1);
  cr_assert_eq(o.tp_comm_overlap, 1, "--use-ascend-coc with --sequence-parallel");
  cr_assert_eq(o.recompute, TPS_RECOMPUTE_FULL);
  cr_assert_eq(o.n_decoder_layers, 8);
  for (int s = 0; s < 7; s++) cr_assert_eq(o.decoder_layers[s], 8, "stage %d", s);
  cr_assert_eq(o.decoder_layers[7], 5, "layers 56..63 less the three no-ops");
  const tps_module *d = &m.modules[0];
  cr_assert_eq(d->layers, 61);
  cr_assert_eq(d->experts, 256);
  cr_assert_eq(d->experts_per_token, 8);
  cr_assert_eq(d->expert_ffn, 2048);
  cr_assert_eq(d->shared_expert_ffn, 2048, "--n-shared-experts 1 x --moe-ffn-hidden-size");
  cr_assert_eq(d->first_dense_layers, 3);
  cr_assert_eq(d->mtp_layers, 1);
  cr_assert_eq(d->kv_lora_rank, 512);
  cr_assert_eq(d->router_score, TPS_ROUTER_SIGMOID);
  double want = bundled_params("deepseek-v3");
  cr_assert_eq(tps_model_params(&m), want, "%.0f vs the bundled %.0f", tps_model_params(&m),
               want);
  static const char *const names[] = {"--reset-attention-mask", "--mtp-mem-efficient-logits",
                                      "--moe-fb-overlap",       "--schedules-method",
                                      "--swap-optimizer",       "--swap-optimizer-times"};
  unmodelled_are(&u, names, 6);
}

/* Mixtral 8x7B on 8 x 8 NPUs at 32k with CP 4 (ring); -1 for the MoE layer frequency and
 * the dense prefix: every layer MoE. */
Test(moe_scripts, mindspeed_mixtral_8x7b) {
  static tps_model m;
  tps_run_overrides o;
  static tps_eco_unresolved u;
  load_script(SCRIPTS "mindspeed-mixtral-8x7b.sh", &m, &o, &u);
  cr_assert_eq(o.cards, 64);
  cr_assert_eq(o.tp, 8);
  cr_assert_eq(o.pp, 1);
  cr_assert_eq(o.cp, 4);
  cr_assert_eq(o.cp_algo, TPS_CP_RING);
  cr_assert_eq(o.ep, 1);
  cr_assert_eq(o.seq_len, 32768);
  cr_assert_eq(o.tp_comm_overlap, -1, "no CoC in this script");
  const tps_module *d = &m.modules[0];
  cr_assert_eq(d->experts, 8);
  cr_assert_eq(d->moe_layer_freq, 1);
  cr_assert_eq(d->first_dense_layers, 0);
  double want = bundled_params("mixtral-8x7b");
  cr_assert_eq(tps_model_params(&m), want, "%.0f vs the bundled %.0f", tps_model_params(&m),
               want);
  /* every flag modelled or without effect; the weight all-gather overlaps */
  unmodelled_are(&u, NULL, 0);
  cr_assert_eq(o.overlap_param_gather, 1);
}

static void parse_model(const char *text, tps_model *m, tps_run_overrides *o,
                        tps_eco_unresolved *u) {
  tps_error err;
  memset(m, 0, sizeof *m);
  tps_run_overrides_init(o);
  tps_status st = tps_megatron_args_parse(text, m, o, u, &err);
  cr_assert_eq(st, TPS_OK, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
}

#define SMALL \
  "--num-layers 8 --hidden-size 1024 --num-attention-heads 8 --vocab-size 32000 --num-experts 8 "

/* MindSpeed-LLM's shared_expert.py: N x the routed width, unless Megatron's
 * --moe-shared-expert-intermediate-size gives the width. */
Test(moe_scripts, n_shared_experts) {
  static tps_model m;
  tps_run_overrides o;
  static tps_eco_unresolved u;
  parse_model(SMALL "--moe-ffn-hidden-size 512 --n-shared-experts 2", &m, &o, &u);
  cr_assert_eq(m.modules[0].shared_expert_ffn, 1024);
  parse_model(SMALL "--moe-ffn-hidden-size 512 --n-shared-experts 2 "
                    "--moe-shared-expert-intermediate-size 768",
              &m, &o, &u);
  cr_assert_eq(m.modules[0].shared_expert_ffn, 768);
  cr_assert_eq(u.n, 0);
}

/* -1 (and 0) mean "not set" in MindSpeed-LLM scripts; -2 is refused with its reason. */
Test(moe_scripts, minus_one_is_not_set) {
  static tps_model m;
  tps_run_overrides o;
  static tps_eco_unresolved u;
  parse_model(SMALL "--moe-layer-freq -1 --first-k-dense-replace -1", &m, &o, &u);
  cr_assert_eq(m.modules[0].moe_layer_freq, 1);
  cr_assert_eq(m.modules[0].first_dense_layers, 0);
  cr_assert_eq(u.n, 0);
  parse_model(SMALL "--moe-layer-freq -2", &m, &o, &u);
  cr_assert_eq(u.n, 1);
  cr_assert_str_eq(u.items[0].why, "'-2' is not an integer >= 1, or 0 / -1 (not set)");
}

/* CoC in chunks or fused, with SP, is the engine's TP overlap; without SP (all-reduce
 * overlap) it is listed; in one chunk (--coc-parallel-num defaults to 1) nothing overlaps. */
Test(moe_scripts, ascend_coc) {
  tps_run_overrides o;
  static tps_eco_unresolved u;
  tps_error err;
  tps_run_overrides_init(&o);
  cr_assert_eq(tps_megatron_args_parse("--use-ascend-coc --sequence-parallel --coc-fused-kernel",
                                       NULL, &o, &u, &err),
               TPS_OK);
  cr_assert_eq(o.tp_comm_overlap, 1);
  cr_assert_eq(u.unmodelled.n, 0);
  tps_run_overrides_init(&o);
  cr_assert_eq(tps_megatron_args_parse("--use-ascend-coc --coc-parallel-num 4", NULL, &o, &u,
                                       &err),
               TPS_OK);
  cr_assert_eq(o.tp_comm_overlap, -1);
  cr_assert_eq(u.unmodelled.n, 1);
  cr_assert_str_eq(u.unmodelled.items[0].arg, "--use-ascend-coc");
  tps_run_overrides_init(&o);
  cr_assert_eq(tps_megatron_args_parse("--use-ascend-coc --sequence-parallel --coc-mode 2", NULL,
                                       &o, &u, &err),
               TPS_OK);
  cr_assert_eq(o.tp_comm_overlap, -1, "one chunk: no overlap");
  cr_assert_eq(u.unmodelled.n + u.n, 0);
}

/* --noop-layers over the even split and over --num-layer-list (MindSpeed's
 * noop-layers.md example: 128 layers with 0 and 127 no-ops), and its refusals. */
Test(moe_scripts, noop_placement) {
  int64_t real[8], layers = 0;
  char why[160];
  const int64_t ends[] = {0, 127};
  cr_assert(mgf_noop_place(128, 4, NULL, 0, ends, 2, real, &layers, why, sizeof why));
  cr_assert_eq(layers, 126);
  cr_assert_eq(real[0], 31);
  cr_assert_eq(real[1], 32);
  cr_assert_eq(real[2], 32);
  cr_assert_eq(real[3], 31);
  const int64_t list[] = {30, 34, 34, 30};
  cr_assert(mgf_noop_place(128, 4, list, 4, ends, 2, real, &layers, why, sizeof why));
  cr_assert_eq(real[0], 29);
  cr_assert_eq(real[3], 29);
  cr_assert(mgf_noop_place(128, 1, NULL, 0, ends, 2, real, &layers, why, sizeof why));
  cr_assert_eq(layers, 126, "no pipeline: only the count");
  const int64_t out[] = {128};
  cr_assert_not(mgf_noop_place(128, 4, NULL, 0, out, 1, real, &layers, why, sizeof why));
  cr_assert_str_eq(why, "layer 128 is not below --num-layers 128");
  const int64_t twice[] = {3, 3};
  cr_assert_not(mgf_noop_place(128, 4, NULL, 0, twice, 2, real, &layers, why, sizeof why));
  cr_assert_str_eq(why, "layer 3 is listed twice");
  const int64_t first[] = {0};
  cr_assert_not(mgf_noop_place(126, 4, NULL, 0, first, 1, real, &layers, why, sizeof why));
  cr_assert_str_eq(why, "the pipeline (4 stages) does not divide 126 layers evenly");
  const int64_t short_list[] = {30, 34, 34, 29};
  cr_assert_not(mgf_noop_place(128, 4, short_list, 4, ends, 2, real, &layers, why, sizeof why));
  cr_assert_str_eq(why, "--num-layer-list places 127 layers, --num-layers is 128");
}

/* A bad index stops the script read with the flag and its line. */
Test(moe_scripts, noop_error_names_the_flag) {
  static tps_model m;
  tps_run_overrides o;
  static tps_eco_unresolved u;
  tps_error err;
  memset(&m, 0, sizeof m);
  tps_run_overrides_init(&o);
  tps_status st = tps_megatron_args_parse(
      SMALL "--pipeline-model-parallel-size 2\n--noop-layers 8", &m, &o, &u, &err);
  cr_assert_eq(st, TPS_EINVAL);
  cr_assert_eq(err.line, 2);
  cr_assert_str_eq(err.msg, "--noop-layers: layer 8 is not below --num-layers 8");
}
