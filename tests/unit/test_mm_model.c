/* MindSpeed-MM model JSON (sim/io/mm_model.c) and its launch-script route
 * (--mm-model, --num-layer-list in megatron_flags.c / megatron_args.c):
 * the recipe's model_7b.json, written for these tests with the real key
 * names, against the bundled models/qwen25vl-7b.yaml and the published
 * parameter total; TransformerConfig defaults for keys left out; every
 * refusal with its status, line and message. */
#define _DEFAULT_SOURCE /* mkstemps */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tpsim/tpsim.h"

#define MM TPSIM_SOURCE_DIR "/tests/inputs/mindspeed-mm/"
#define MODEL_7B MM "examples/qwen2.5vl/model_7b.json"
#define RECIPE MM "examples/qwen2.5vl/finetune_qwen2_5_vl_7b.sh"

static void load_ok(const char *path, tps_model *m) {
  tps_error err;
  tps_status st = tps_model_load(path, m, &err);
  cr_assert_eq(st, TPS_OK, "%s:%d:%d: %s (%s)", err.file, err.line, err.col, err.msg, err.hint);
}

static void bundled(tps_model *m) {
  char path[4096];
  tps_error err;
  cr_assert_eq(tps_data_find("models", "qwen25vl-7b", path, sizeof path, &err), TPS_OK, "%s",
               err.msg);
  load_ok(path, m);
}

/* Reads the whole recipe file; caller frees. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s", path);
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return strdup(buf);
}

/* Writes model_7b.json with `from` replaced by `to` (once) to a temporary
 * file; returns its path (static buffer). */
static const char *variant(const char *from, const char *to) {
  static char path[64];
  char *text = slurp(MODEL_7B);
  char *at = strstr(text, from);
  cr_assert_not_null(at, "'%s' not in model_7b.json", from);
  snprintf(path, sizeof path, "/tmp/tpsim_mm_XXXXXX.json");
  int fd = mkstemps(path, 5);
  cr_assert(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fwrite(text, 1, (size_t)(at - text), f);
  fputs(to, f);
  fputs(at + strlen(from), f);
  fclose(f);
  free(text);
  return path;
}

static tps_error load_fails(const char *path, tps_status want) {
  static tps_model m;
  tps_error err;
  tps_status st = tps_model_load(path, &m, &err);
  unlink(path);
  cr_assert_eq(st, want, "status %d, want %d: %s", st, want, err.msg);
  cr_assert_eq(m.n_modules, 0, "no half model");
  return err;
}

/* The same modules as models/qwen25vl-7b.yaml: the published total of
 * Qwen2.5-VL-7B-Instruct, 8,292,166,656 parameters (facts.md section 2),
 * and the LLM's 7,615,616,512 trainable (vision encoder and projector
 * frozen by the file's "freeze": true). */
Test(mm_model, model_7b_reproduces_the_bundled_model) {
  static tps_model mm, yaml;
  load_ok(MODEL_7B, &mm);
  bundled(&yaml);
  cr_assert_eq(tps_model_params(&mm), 8292166656.0, "total %.0f", tps_model_params(&mm));
  cr_assert_eq(tps_model_trainable_params(&mm), 7615616512.0, "trainable %.0f",
               tps_model_trainable_params(&mm));
  cr_assert_eq(mm.n_modules, 3);
  for (int i = 0; i < 3; i++) {
    const tps_module *a = &mm.modules[i], *b = &yaml.modules[i];
    cr_assert_str_eq(a->name, b->name);
    cr_assert_eq(a->type, b->type, "%s", a->name);
    cr_assert_eq(a->frozen, b->frozen, "%s frozen", a->name);
    cr_assert_eq(tps_module_params(a), tps_module_params(b), "%s params", a->name);
    const int64_t fa[] = {a->layers, a->hidden, a->heads, a->kv_heads, a->head_dim, a->ffn,
                          a->mlp, a->norm, a->bias, a->qkv_bias, a->dropout, a->vocab,
                          a->tied_embeddings, a->position, a->patch, a->temporal_patch,
                          a->in_channels, a->tokens, a->window, a->spatial_merge, a->output,
                          a->n_full_attention_blocks};
    const int64_t fb[] = {b->layers, b->hidden, b->heads, b->kv_heads, b->head_dim, b->ffn,
                          b->mlp, b->norm, b->bias, b->qkv_bias, b->dropout, b->vocab,
                          b->tied_embeddings, b->position, b->patch, b->temporal_patch,
                          b->in_channels, b->tokens, b->window, b->spatial_merge, b->output,
                          b->n_full_attention_blocks};
    for (size_t k = 0; k < sizeof fa / sizeof fa[0]; k++)
      cr_assert_eq(fa[k], fb[k], "%s field %zu: %lld vs %lld", a->name, k, (long long)fa[k],
                   (long long)fb[k]);
    for (int j = 0; j < a->n_full_attention_blocks; j++)
      cr_assert_eq(a->full_attention_blocks[j], b->full_attention_blocks[j]);
  }
  /* pipeline_num_layers: ViT [32, 0], LLM [12, 16]; the projector where the
   * ViT ends (stage 0), as the bundled training: pipeline_layers. */
  cr_assert_eq(mm.training.pp, 2);
  cr_assert_eq(mm.training.n_pipeline_stages, 2);
  for (int m = 0; m < 3; m++)
    for (int s = 0; s < 2; s++)
      cr_assert_eq(mm.training.pipeline_layers[m][s], yaml.training.pipeline_layers[m][s],
                   "module %d stage %d", m, s);
  cr_assert_eq(mm.training.seq_len, 1024);        /* text_decoder seq_length */
  cr_assert_eq(mm.training.vocab_divisor, 1);     /* vocab_size used unpadded */
  cr_assert_eq(mm.training.precision, TPS_PRECISION_BF16);
  cr_assert(mm.training.distributed_optimizer);
  cr_assert_str_eq(mm.name, "model_7b");
  cr_assert_eq(mm.default_hw[0], '\0');
}

/* tps_mindspeed_mm_load reads the same file and refuses a Hugging Face
 * config.json by name. */
Test(mm_model, direct_loader) {
  static tps_model a, b;
  tps_error err;
  cr_assert_eq(tps_mindspeed_mm_load(MODEL_7B, &a, &err), TPS_OK, "%s", err.msg);
  load_ok(MODEL_7B, &b);
  cr_assert_eq(tps_model_params(&a), tps_model_params(&b));
  cr_assert_eq(tps_mindspeed_mm_load(TPSIM_SOURCE_DIR "/tests/inputs/hf/llama3-8b/config.json", &a,
                                     &err),
               TPS_EMISSINGKEY);
  cr_assert_str_eq(err.msg, "missing key 'text_decoder': not a MindSpeed-MM model JSON");
}

/* Keys left out take TransformerConfig's defaults (megatron/core/transformer/
 * transformer_config.py via MindSpeed-MM get_model_config): ffn 4h, LayerNorm,
 * GELU MLP, biases on every linear (so on QKV), dropout 0.1, tied
 * embeddings, GPTModel's learned absolute positions; no image_encoder: a
 * text-only model. pretrain_vlm.py's freeze defaults: ViT frozen, projector
 * trained. */
Test(mm_model, transformer_config_defaults) {
  static tps_model m;
  char path[] = "/tmp/tpsim_mm_XXXXXX.json";
  int fd = mkstemps(path, 5);
  cr_assert(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs("{\"model_id\": \"qwen2_5vl\", \"image_encoder\": null, \"text_decoder\": {"
        "\"model_id\": \"qwen2_5_lm\", \"num_layers\": 2, \"hidden_size\": 64, "
        "\"num_attention_heads\": 4, \"vocab_size\": 1000, \"seq_length\": 128}}",
        f);
  fclose(f);
  load_ok(path, &m);
  unlink(path);
  cr_assert_eq(m.n_modules, 1);
  const tps_module *d = &m.modules[0];
  cr_assert_str_eq(d->name, "language_model");
  cr_assert_eq(d->ffn, 256);
  cr_assert_eq(d->kv_heads, 4);
  cr_assert_eq(d->head_dim, 16);
  cr_assert_eq(d->norm, TPS_NORM_LAYERNORM);
  cr_assert_eq(d->mlp, TPS_MLP_GELU);
  cr_assert(d->bias && d->qkv_bias && d->dropout && d->tied_embeddings);
  cr_assert_eq(d->position, TPS_POSITION_LEARNED);
  cr_assert_eq(d->max_position, 128);
  cr_assert_eq(m.training.pp, 1);
  cr_assert_eq(m.training.n_pipeline_stages, 0);

  static tps_model v;
  load_ok(variant("\"freeze\": true\n    },\n    \"vision_projector\"",
                  "\"rope_theta\": 10000\n    },\n    \"vision_projector\""),
          &v);
  cr_assert(v.modules[0].frozen, "vision_encoder frozen by default");
  load_ok(variant("\"params_dtype\": \"bf16\",\n      \"bf16\": true,\n      \"freeze\": true",
                  "\"params_dtype\": \"bf16\""),
          &v);
  cr_assert_not(v.modules[1].frozen, "projector trained by default");
}

/* Each refusal names the key at its line. */
Test(mm_model, refusals) {
  tps_error e;
  e = load_fails(variant("\"post_layer_norm\": false", "\"post_layer_norm\": true"),
                 TPS_EUNSUPPORTED);
  cr_assert_str_eq(e.msg, "'post_layer_norm' in 'vision_encoder': a norm after the last vision "
                          "block is not modelled");
  cr_assert_eq(e.line, 31);
  e = load_fails(variant("\"pipeline_num_layers\": [12, 16]",
                         "\"pipeline_num_layers\": [[6, 8], [6, 8]]"),
                 TPS_EUNSUPPORTED);
  cr_assert(strstr(e.msg, "virtual pipeline stages"), "%s", e.msg);
  e = load_fails(variant("\"ffn_hidden_size\": 5120", "\"ffn_hidden_size\": 4096"), TPS_ERANGE);
  cr_assert_str_eq(e.msg, "'ffn_hidden_size' (4096) of 'vision_projector' must be 'input_size' x "
                          "'spatial_merge_size'^2 = 1280 x 2^2");
  e = load_fails(variant("\"gated_linear_unit\": false", "\"gated_linear_unit\": true"),
                 TPS_EUNSUPPORTED);
  cr_assert(strstr(e.msg, "a gated projector MLP is not modelled"), "%s", e.msg);
  e = load_fails(variant("\"add_bias_linear\": false", "\"add_bias_linear\": true"), TPS_ERANGE);
  cr_assert_str_eq(e.msg, "'disable_bias_linear' true contradicts 'add_bias_linear' true in "
                          "'text_decoder'");
  e = load_fails(variant("\"hidden_size\": 3584,\n      \"gated",
                         "\"hidden_size\": 2048,\n      \"gated"),
                 TPS_ERANGE);
  cr_assert_str_eq(e.msg, "'hidden_size' (2048) of 'vision_projector' must equal the text "
                          "decoder's 'hidden_size' (3584)");
  e = load_fails(variant("\"num_query_groups\": 4", "\"num_query_groups\": 3"), TPS_ERANGE);
  cr_assert(strstr(e.msg, "'num_query_groups' (3) must divide"), "%s", e.msg);
  e = load_fails(variant("\"video_encoder\": null", "\"video_encoder\": {\"model_id\": \"x\"}"),
                 TPS_EUNSUPPORTED);
  cr_assert_str_eq(e.msg, "'video_encoder' in the model JSON: a video encoder is not modelled");
  e = load_fails(variant("\"text_decoder\": {", "\"text_decoder\": [1], \"x\": {"),
                 TPS_EUNKNOWNKEY);
  cr_assert_str_eq(e.msg, "unknown key 'x' in the model JSON");
}

/* ---- the launch-script route ---- */

/* The recipe's script: its run flags, and the model from --mm-model
 * (./examples/qwen2.5vl/model_7b.json, named from the folder two above the
 * script as MindSpeed-MM's recipes name it from the repository root). The
 * script's own shape flags (--vocab-size 152064, --normalization RMSNorm,
 * --swiglu, --make-vocab-size-divisible-by 1) agree with the file: nothing
 * is listed as unused. */
Test(mm_script, recipe_follows_mm_model) {
  static tps_model m, direct;
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  tps_eco_unresolved u;
  tps_error err;
  tps_status st = tps_megatron_script_load(RECIPE, &m, &o, &u, &err);
  cr_assert_eq(st, TPS_OK, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  cr_assert_eq(u.n, 0, "unused: %s %s", u.items[0].arg, u.items[0].why);
  cr_assert_eq(u.shape, TPS_ECO_SHAPE_BUILT);
  load_ok(MODEL_7B, &direct);
  cr_assert_eq(m.n_modules, 3);
  cr_assert_eq(tps_model_params(&m), tps_model_params(&direct));
  cr_assert_eq(tps_model_trainable_params(&m), 7615616512.0);
  cr_assert_eq(m.training.n_pipeline_stages, 2);
  cr_assert_eq(o.tp, 1);
  cr_assert_eq(o.pp, 2);
  cr_assert_eq(o.micro_batch, 1);
  cr_assert_eq(o.global_batch, 192); /* 1 x 48 x DP 4 */
  cr_assert_eq(o.seq_len, 1024);
  cr_assert_eq(o.cards, 8);
  cr_assert_eq(o.distributed_optimizer, 1);
  cr_assert_eq(o.flash_attention, 1);
  cr_assert_eq(o.precision, TPS_PRECISION_BF16);
}

/* --mm-model beside a model already given is listed, not used; a file that
 * is nowhere is an error at the flag; shape flags that contradict the file
 * are listed as unused (MindSpeed-MM builds the model from the file). */
Test(mm_script, mm_model_edges) {
  static tps_model m;
  tps_run_overrides o;
  tps_eco_unresolved u;
  tps_error err;
  load_ok(MODEL_7B, &m);
  tps_run_overrides_init(&o);
  cr_assert_eq(tps_megatron_args_parse("--mm-model other.json", &m, &o, &u, &err), TPS_OK);
  cr_assert_eq(u.n, 1);
  cr_assert_str_eq(u.items[0].arg, "--mm-model");
  cr_assert_str_eq(u.items[0].why,
                   "not used: a model is already given (--model, or an earlier script)");

  memset(&m, 0, sizeof m);
  cr_assert_eq(tps_megatron_args_parse("--mm-model no/such/model.json", &m, &o, &u, &err),
               TPS_ENOTFOUND);
  cr_assert_str_eq(err.msg, "--mm-model 'no/such/model.json': no such file (relative to the "
                            "current folder)");
  cr_assert_eq(err.line, 1);
  cr_assert_eq(m.n_modules, 0);

  memset(&m, 0, sizeof m);
  cr_assert_eq(tps_megatron_args_parse("--mm-model " MODEL_7B " --num-layers 30", &m, &o, &u,
                                       &err),
               TPS_OK, "%s", err.msg);
  cr_assert_eq(m.modules[2].layers, 28, "the file's layers");
  cr_assert_eq(u.n, 1);
  cr_assert_str_eq(u.items[0].arg, "(model)");
  cr_assert(strstr(u.items[0].why, "differ from --mm-model"), "%s", u.items[0].why);
}

/* MindSpeed's --num-layer-list: decoder layers per stage, as the CLI's
 * --pipeline-layers; a list that is not one is listed with the reason. */
Test(mm_script, num_layer_list) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  tps_eco_unresolved u;
  tps_error err;
  cr_assert_eq(tps_megatron_args_parse("--num-layer-list 12,16 --pipeline-model-parallel-size 2",
                                       NULL, &o, &u, &err),
               TPS_OK);
  cr_assert_eq(o.n_decoder_layers, 2);
  cr_assert_eq(o.decoder_layers[0], 12);
  cr_assert_eq(o.decoder_layers[1], 16);
  cr_assert_eq(u.n, 0);
  tps_run_overrides_init(&o);
  cr_assert_eq(tps_megatron_args_parse("--num-layer-list 12,,16", NULL, &o, &u, &err), TPS_OK);
  cr_assert_eq(o.n_decoder_layers, 0);
  cr_assert_eq(u.n, 1);
  cr_assert_str_eq(u.items[0].arg, "--num-layer-list");
  cr_assert_str_eq(u.items[0].why,
                   "'12,,16' is not a comma-separated list of at most 128 layer counts");
}
