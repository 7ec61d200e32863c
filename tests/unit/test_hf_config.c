/* Hugging Face config.json reading (sim/io/hf_config.c): parameter counts of
 * configs written for these tests against published totals and against the
 * bundled YAML models, transformers defaults for fields left out, and every
 * refusal with its exact message and FILE:LINE:COL. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tpsim/tpsim.h"

#define HF TPSIM_SOURCE_DIR "/tests/inputs/hf/"

static void load_ok(const char *path, tps_model *m) {
  tps_error err;
  tps_status st = tps_model_load(path, m, &err);
  cr_assert_eq(st, TPS_OK, "%s:%d:%d: %s (%s)", err.file, err.line, err.col, err.msg, err.hint);
}

static void bundled(const char *name, tps_model *m) {
  char path[4096];
  tps_error err;
  cr_assert_eq(tps_data_find("models", name, path, sizeof path, &err), TPS_OK, "%s", err.msg);
  load_ok(path, m);
}

/* Compares every field of two modules that the engine reads. */
static void assert_same_module(const tps_module *a, const tps_module *b) {
  cr_assert_str_eq(a->name, b->name);
  cr_assert_eq(a->type, b->type, "%s type", a->name);
  cr_assert_eq(a->layers, b->layers, "%s layers", a->name);
  cr_assert_eq(a->hidden, b->hidden, "%s hidden", a->name);
  cr_assert_eq(a->heads, b->heads, "%s heads", a->name);
  cr_assert_eq(a->kv_heads, b->kv_heads, "%s kv_heads", a->name);
  cr_assert_eq(a->head_dim, b->head_dim, "%s head_dim", a->name);
  cr_assert_eq(a->ffn, b->ffn, "%s ffn", a->name);
  cr_assert_eq(a->mlp, b->mlp, "%s mlp", a->name);
  cr_assert_eq(a->norm, b->norm, "%s norm", a->name);
  cr_assert_eq(a->bias, b->bias, "%s bias", a->name);
  cr_assert_eq(a->qkv_bias, b->qkv_bias, "%s qkv_bias", a->name);
  cr_assert_eq(a->vocab, b->vocab, "%s vocab", a->name);
  cr_assert_eq(a->tied_embeddings, b->tied_embeddings, "%s tied", a->name);
  cr_assert_eq(a->position, b->position, "%s position", a->name);
  cr_assert_eq(a->patch, b->patch, "%s patch", a->name);
  cr_assert_eq(a->temporal_patch, b->temporal_patch, "%s temporal_patch", a->name);
  cr_assert_eq(a->in_channels, b->in_channels, "%s in_channels", a->name);
  cr_assert_eq(a->tokens, b->tokens, "%s tokens", a->name);
  cr_assert_eq(a->window, b->window, "%s window", a->name);
  cr_assert_eq(a->n_full_attention_blocks, b->n_full_attention_blocks, "%s full", a->name);
  for (int i = 0; i < a->n_full_attention_blocks; i++)
    cr_assert_eq(a->full_attention_blocks[i], b->full_attention_blocks[i]);
  cr_assert_eq(a->spatial_merge, b->spatial_merge, "%s spatial_merge", a->name);
  cr_assert_eq(a->output, b->output, "%s output", a->name);
}

/* The published total of Qwen2.5-VL-7B-Instruct, 8,292,166,656, and the
 * same modules as models/qwen25vl-7b.yaml (frozen aside: a config.json says
 * nothing about training, so nothing is frozen). */
Test(hf_config, qwen25vl_7b_reproduces_the_bundled_model) {
  static tps_model hf, yaml;
  load_ok(HF "qwen25vl-7b/config.json", &hf);
  bundled("qwen25vl-7b", &yaml);
  cr_assert_eq(tps_model_params(&hf), 8292166656.0, "total %.0f", tps_model_params(&hf));
  cr_assert_eq(hf.n_modules, 3);
  for (int i = 0; i < 3; i++) {
    assert_same_module(&hf.modules[i], &yaml.modules[i]);
    cr_assert_not(hf.modules[i].frozen);
  }
  cr_assert_str_eq(hf.name, "qwen25vl-7b"); /* the directory holding config.json */
  cr_assert_eq(hf.default_hw[0], '\0');
  cr_assert_eq(hf.modules[0].tokens, TPS_HF_VISION_TOKENS_DEFAULT);
}

/* Newer transformers write the text fields under text_config; minified JSON. */
Test(hf_config, qwen25vl_text_config_minified) {
  static tps_model hf;
  load_ok(HF "qwen25vl-text-config/config.json", &hf);
  cr_assert_eq(tps_model_params(&hf), 8292166656.0, "total %.0f", tps_model_params(&hf));
}

/* Meta-Llama-3-8B: 8,030,261,248 parameters, as models/llama3-8b.yaml. */
Test(hf_config, llama3_8b) {
  static tps_model hf, yaml;
  load_ok(HF "llama3-8b/config.json", &hf);
  bundled("llama3-8b", &yaml);
  cr_assert_eq(tps_model_params(&hf), 8030261248.0, "total %.0f", tps_model_params(&hf));
  assert_same_module(&hf.modules[0], &yaml.modules[0]);
  cr_assert_str_eq(hf.name, "llama3-8b");
}

/* Mistral-7B-v0.1: 7,241,732,096 parameters (the HF model card's total),
 * every layer with a sliding window of 4096 tokens (config.json
 * sliding_window; MistralConfig's docstring: "Sliding window attention
 * window size"). */
Test(hf_config, mistral_7b) {
  static tps_model hf;
  static tps_eco_unresolved notes;
  tps_error err;
  tps_status st = tps_hf_config_read(HF "mistral-7b/config.json", &hf, &notes, &err);
  cr_assert_eq(st, TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_model_params(&hf), 7241732096.0, "total %.0f", tps_model_params(&hf));
  cr_assert_eq(hf.modules[0].kv_heads, 8);
  cr_assert_not(hf.modules[0].qkv_bias);
  cr_assert_eq(hf.modules[0].sliding_window, 4096);
  cr_assert_eq(notes.unmodelled.n, 0, "the window is modelled");
  cr_assert_eq(notes.unknown.n, 0, "every key of the released config is known");
  static tps_model m;
  cr_assert_eq(tps_hf_config_load(HF "mistral-7b/config.json", &m, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(m.modules[0].sliding_window, 4096);
}

/* Qwen2's max_window_layers below the layer count with the window on mixes
 * windowed and full layers: refused at the key. */
Test(hf_config, sliding_window_on_some_layers_refused) {
  static tps_model m;
  tps_error err;
  cr_assert_eq(tps_hf_config_load(HF "qwen2-window-layers/config.json", &m, &err),
               TPS_EUNSUPPORTED);
  cr_assert(strstr(err.msg, "'max_window_layers' is 21 of 24 layers: a mix of sliding-window "
                            "and full-attention layers is not modelled") == err.msg,
            "%s", err.msg);
  cr_assert_eq(err.line, 11);
}

/* Qwen2's sliding_window with use_sliding_window false changes nothing;
 * an unknown key is listed with a did-you-mean; an expert count of 1 is
 * a dense model. */
Test(hf_config, key_classes) {
  static tps_model m;
  static tps_eco_unresolved notes;
  tps_error err;
  cr_assert_eq(tps_hf_config_read(HF "qwen25vl-7b/config.json", &m, &notes, &err), TPS_OK, "%s",
               err.msg);
  cr_assert_eq(notes.unmodelled.n, 0, "use_sliding_window is false");
  cr_assert_eq(notes.unknown.n, 0);
  cr_assert_eq(tps_hf_config_read(HF "key-classes/config.json", &m, &notes, &err), TPS_OK, "%s",
               err.msg);
  cr_assert_eq(notes.unknown.n, 1);
  cr_assert_str_eq(notes.unknown.items[0].arg, "num_hiden_layers");
  cr_assert_str_eq(notes.unknown.items[0].why, "did you mean 'num_hidden_layers'?");
  cr_assert_eq(notes.unmodelled.n, 2);
  cr_assert_str_eq(notes.unmodelled.items[0].arg, "q_lora_rank");
  cr_assert_str_eq(notes.unmodelled.items[0].text, "1536");
  cr_assert_str_eq(notes.unmodelled.items[1].arg, "num_nextn_predict_layers");
}

/* Qwen2.5-0.5B: 494,032,768 parameters (tied embeddings, q/k/v bias). */
Test(hf_config, qwen2_tied_with_qkv_bias) {
  static tps_model hf;
  load_ok(HF "qwen2.5-0.5b/config.json", &hf);
  const tps_module *d = &hf.modules[0];
  cr_assert(d->qkv_bias);
  cr_assert_not(d->bias);
  cr_assert(d->tied_embeddings);
  cr_assert_eq(d->head_dim, 64);
  cr_assert_eq(tps_model_params(&hf), 494032768.0, "total %.0f", tps_model_params(&hf));
}

/* GPT-2 small: 124,439,808 parameters (tied lm_head, 1024 learned positions). */
Test(hf_config, gpt2) {
  static tps_model hf;
  load_ok(HF "gpt2/config.json", &hf);
  const tps_module *d = &hf.modules[0];
  cr_assert_eq(d->position, TPS_POSITION_LEARNED);
  cr_assert_eq(d->max_position, 1024);
  cr_assert_eq(d->ffn, 4 * 768);
  cr_assert_eq(d->mlp, TPS_MLP_GELU);
  cr_assert_eq(d->norm, TPS_NORM_LAYERNORM);
  cr_assert(d->bias && d->qkv_bias && d->tied_embeddings);
  cr_assert_eq(tps_model_params(&hf), 124439808.0, "total %.0f", tps_model_params(&hf));
}

/* Left out: LlamaConfig's defaults (heads 32, kv = heads, ffn 11008, vocab
 * 32000, untied, no biases); null counts as left out. */
Test(hf_config, missing_fields_take_transformers_defaults) {
  static tps_model hf;
  load_ok(HF "llama-defaults/config.json", &hf);
  const tps_module *d = &hf.modules[0];
  cr_assert_eq(d->hidden, 2048);
  cr_assert_eq(d->layers, 4);
  cr_assert_eq(d->heads, 32);
  cr_assert_eq(d->kv_heads, 32);
  cr_assert_eq(d->head_dim, 64);
  cr_assert_eq(d->ffn, 11008);
  cr_assert_eq(d->vocab, 32000);
  cr_assert_not(d->tied_embeddings);
  cr_assert_not(d->bias || d->qkv_bias);
  /* embedding + lm_head + 4 blocks (attention 4 h^2, MLP 3 h ffn, 2 norms) + final norm */
  double h = 2048, f = 11008, v = 32000;
  double expect = 2 * v * h + 4 * (4 * h * h + 3 * h * f + 2 * h) + h;
  cr_assert_eq(tps_model_params(&hf), expect, "%.0f vs %.0f", tps_model_params(&hf), expect);
}

/* The schema's training defaults, identical to a model file without
 * training:, except the two a config.json gets as current Megatron recipes
 * run (hf_config.c: the distributed optimizer on, global batch 128). */
Test(hf_config, training_defaults_match_the_schema) {
  static tps_model hf, yaml;
  load_ok(HF "gpt2/config.json", &hf);
  load_ok(HF "no-training.yaml", &yaml);
  cr_assert(hf.training.distributed_optimizer && !yaml.training.distributed_optimizer);
  cr_assert_eq(hf.training.global_batch, 128);
  cr_assert_eq(yaml.training.global_batch, 0);
  hf.training.distributed_optimizer = yaml.training.distributed_optimizer;
  hf.training.global_batch = yaml.training.global_batch;
  cr_assert_eq(memcmp(&hf.training, &yaml.training, sizeof hf.training), 0);
  cr_assert_eq(hf.training.seq_len, 2048);
  cr_assert_eq(hf.training.vocab_divisor, 128);
}

static void assert_refused(const char *path, tps_status status, int line, int col,
                           const char *msg) {
  static tps_model m;
  tps_error err;
  tps_status st = tps_model_load(path, &m, &err);
  cr_assert_eq(st, status, "%s: got %s: %s", path, tps_status_name(st), err.msg);
  cr_assert_str_eq(err.msg, msg);
  cr_assert_str_eq(err.file, path);
  cr_assert_eq(err.line, line, "line %d", err.line);
  cr_assert_eq(err.col, col, "col %d", err.col);
  cr_assert_eq(m.n_modules, 0, "no half model");
}

Test(hf_config, unsupported_architecture_refused_by_name) {
  assert_refused(HF "unsupported-arch/config.json", TPS_EUNSUPPORTED, 3, 5,
                 "architecture 'FalconForCausalLM' is not supported");
  tps_error err;
  static tps_model m;
  tps_model_load(HF "unsupported-arch/config.json", &m, &err);
  cr_assert(strstr(err.hint, "LlamaForCausalLM") != NULL, "%s", err.hint);
}

Test(hf_config, moe_refused) {
  assert_refused(HF "moe-mistral/config.json", TPS_EUNSUPPORTED, 5, 24,
                 "'num_local_experts' is 8: mixture-of-experts MistralForCausalLM models are "
                 "not supported");
}

Test(hf_config, kv_heads_must_divide_heads) {
  assert_refused(HF "bad-kv-heads/config.json", TPS_ERANGE, 5, 26,
                 "'num_key_value_heads' (3) must divide 'num_attention_heads' (28)");
}

/* A vision patch or merged width beyond int64 is refused at the key: it
 * used to wrap into negative memory per card and a negative MFU. */
Test(hf_config, vision_products_beyond_int64_refused) {
  assert_refused(HF "vision-patch-overflow/config.json", TPS_ERANGE, 13, 28,
                 "'in_chans' x 'temporal_patch_size' x 'patch_size'^2 = 3 x 1000000000 x "
                 "1000000000^2 does not fit a 64-bit count");
  assert_refused(HF "vision-merge-overflow/config.json", TPS_ERANGE, 12, 27,
                 "vision 'hidden_size' x 'spatial_merge_size'^2 = 1280 x 1000000000^2 does not "
                 "fit a 64-bit count");
}

/* What Python's json.dump writes: a character beyond U+FFFF as a surrogate
 * pair, escaped control characters ("\r\n", "\u0007") and "\/" in fields
 * tp-sim ignores; YAML refused the first two. The pair is decoded to UTF-8
 * (here in the model name, from _name_or_path). */
Test(hf_config, json_escapes_accepted) {
  static tps_model hf, ref;
  load_ok(HF "json-escapes/config.json", &hf);
  load_ok(HF "llama3-8b/config.json", &ref);
  cr_assert_str_eq(hf.name, "llama3-8b-\xf0\x9f\x98\x80");
  cr_assert_eq(hf.n_modules, 1);
  assert_same_module(&hf.modules[0], &ref.modules[0]);
}

/* A key given twice is refused as in a model file: JSON parsers differ on
 * which value wins (tp-sim used to keep the first silently). */
Test(hf_config, duplicate_keys_refused) {
  assert_refused(HF "json-duplicate/config.json", TPS_ESYNTAX, 7, 3,
                 "duplicate key 'hidden_size' in the config");
  static tps_model m;
  tps_error err;
  tps_model_load(HF "json-duplicate/config.json", &m, &err);
  cr_assert_str_eq(err.hint, "first given at line 3; JSON readers disagree on which value wins");
  assert_refused(HF "json-duplicate-nested/config.json", TPS_ESYNTAX, 14, 5,
                 "duplicate key 'patch_size' in 'vision_config'");
}

/* Control characters stay refused in the text tp-sim uses and prints. */
Test(hf_config, control_character_in_name_refused) {
  assert_refused(HF "json-control-name/config.json", TPS_ESYNTAX, 2, 20,
                 "text holds a control character (0x1b)");
}

Test(hf_config, missing_file) {
  static tps_model m;
  tps_error err;
  cr_assert_eq(tps_hf_config_load(HF "nope/config.json", &m, &err), TPS_EIO);
}
