/* Reading a MindSpeed-MM model JSON into a tps_model (docs/ecosystem.md,
 * "MindSpeed-MM model JSON").
 *
 * MindSpeed-MM (Ascend/MindSpeed-MM) describes a multimodal model in the
 * JSON file its recipes pass with `--mm-model` (examples/qwen2.5vl/
 * model_7b.json): an `image_encoder` with a `vision_encoder` (ViT) and a
 * `vision_projector`, and a `text_decoder`, each a mapping of Megatron
 * TransformerConfig fields plus the model code's own keys, `freeze` flags
 * and `pipeline_num_layers` (layers per pipeline stage). pretrain_vlm.py
 * builds each section through get_model_config
 * (mindspeed_mm/utils/transformer_model_config.py), so a field left out
 * takes TransformerConfig's default, which this reader writes down.
 *
 * Every key of the file is in one of the tables below: used, declared
 * irrelevant to memory and time (with the reason), or refused by name when
 * set (an architecture tp-sim does not model). A key in no table is refused
 * too: tp-sim cannot tell whether it changes the model.
 *
 * The file goes through the same strict JSON reader as a Hugging Face
 * config.json (json_fields.c): errors carry FILE:LINE:COL. */
#include "io/mm_model.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/json_fields.h"
#include "tpsim/ecosystem.h"
#include "tpsim/io.h"

/* What a key is to tp-sim. */
typedef enum {
  MK_USED,    /* read into the model or the training defaults */
  MK_IGNORED, /* changes no parameter count, memory or time tp-sim models */
  MK_REFUSED  /* an architecture tp-sim does not model: refused when set */
} mk_role;

typedef struct mm_key {
  const char *name;
  mk_role role;
  const char *why; /* MK_IGNORED: why it does not matter; MK_REFUSED: what is not modelled */
} mm_key;

/* Keys every section of Megatron TransformerConfig fields may carry and
 * that change nothing tp-sim costs: numerics (epsilon, init, softmax in
 * fp32), kernel fusions, per-module dtypes (tp-sim costs every module at
 * the run's precision). */
#define MM_COMMON_IGNORED                                                                        \
  {"layernorm_epsilon", MK_IGNORED, "a numerical constant"},                                     \
      {"init_method_std", MK_IGNORED, "weight initialisation"},                                  \
      {"bias_activation_fusion", MK_IGNORED, "a kernel fusion"},                                 \
      {"use_fused_rotary_pos_emb", MK_IGNORED, "a kernel fusion"},                               \
      {"attention_softmax_in_fp32", MK_IGNORED, "softmax numerics"},                             \
      {"bf16", MK_IGNORED, "the run's precision (--bf16, --precision) applies to every module"}, \
      {"fp16", MK_IGNORED, "the run's precision (--bf16, --precision) applies to every module"}

static const mm_key top_keys[] = {
    {"model_id", MK_USED, NULL},
    {"image_encoder", MK_USED, NULL},
    {"text_decoder", MK_USED, NULL},
    {"img_context_token_id", MK_IGNORED, "a token id"},
    {"image_token_id", MK_IGNORED, "a token id"},
    {"video_token_id", MK_IGNORED, "a token id"},
    {"vision_start_token_id", MK_IGNORED, "a token id"},
    {"vision_end_token_id", MK_IGNORED, "a token id"},
    {"patch", MK_IGNORED, "switches of MindSpeed-MM's code patches (bridge_patch)"},
    {"text_encoder", MK_REFUSED, "a text encoder is not modelled"},
    {"video_encoder", MK_REFUSED, "a video encoder is not modelled"},
    {"audio_encoder", MK_REFUSED, "an audio encoder is not modelled"},
};

static const mm_key image_keys[] = {
    {"vision_encoder", MK_USED, NULL},
    {"vision_projector", MK_USED, NULL},
};

static const mm_key vit_keys[] = {
    {"model_id", MK_USED, NULL},
    {"num_layers", MK_USED, NULL},
    {"hidden_size", MK_USED, NULL},
    {"ffn_hidden_size", MK_USED, NULL},
    {"intermediate_size", MK_USED, NULL},
    {"num_attention_heads", MK_USED, NULL},
    {"num_query_groups", MK_USED, NULL},
    {"kv_channels", MK_USED, NULL},
    {"gated_linear_unit", MK_USED, NULL},
    {"activation_func", MK_USED, NULL},
    {"normalization", MK_USED, NULL},
    {"add_bias_linear", MK_USED, NULL},
    {"add_qkv_bias", MK_USED, NULL},
    {"hidden_dropout", MK_USED, NULL},
    {"attention_dropout", MK_USED, NULL},
    {"in_channels", MK_USED, NULL},
    {"patch_size", MK_USED, NULL},
    {"temporal_patch_size", MK_USED, NULL},
    {"spatial_merge_size", MK_USED, NULL},
    {"window_attn_size", MK_USED, NULL},
    {"fullatt_block_indexes", MK_USED, NULL},
    {"freeze", MK_USED, NULL},
    {"pipeline_num_layers", MK_USED, NULL},
    {"post_layer_norm", MK_REFUSED, "a norm after the last vision block is not modelled"},
    {"llm_hidden_size", MK_IGNORED,
     "the projector's hidden_size is the LLM width (the 3B recipe's file gives 1280 here)"},
    {"params_dtype", MK_IGNORED, "the run's precision applies to every module"},
    {"tokens_per_second", MK_IGNORED, "a position scale of M-RoPE for video frames"},
    {"attention_mask_type", MK_IGNORED, "the mask's form, not its cost"},
    {"rope_theta", MK_IGNORED, "a rotary frequency base"},
    MM_COMMON_IGNORED,
};

static const mm_key proj_keys[] = {
    {"model_id", MK_USED, NULL},
    {"num_layers", MK_USED, NULL},
    {"input_size", MK_USED, NULL},
    {"hidden_size", MK_USED, NULL},
    {"ffn_hidden_size", MK_USED, NULL},
    {"gated_linear_unit", MK_USED, NULL},
    {"activation_func", MK_USED, NULL},
    {"normalization", MK_USED, NULL},
    {"add_bias_linear", MK_USED, NULL},
    {"freeze", MK_USED, NULL},
    {"num_attention_heads", MK_IGNORED, "the lnmlp projector has no attention"},
    {"params_dtype", MK_IGNORED, "the run's precision applies to every module"},
    MM_COMMON_IGNORED,
};

static const mm_key text_keys[] = {
    {"model_id", MK_USED, NULL},
    {"num_layers", MK_USED, NULL},
    {"pipeline_num_layers", MK_USED, NULL},
    {"hidden_size", MK_USED, NULL},
    {"ffn_hidden_size", MK_USED, NULL},
    {"num_attention_heads", MK_USED, NULL},
    {"num_query_groups", MK_USED, NULL},
    {"kv_channels", MK_USED, NULL},
    {"vocab_size", MK_USED, NULL},
    {"seq_length", MK_USED, NULL},
    {"max_position_embeddings", MK_USED, NULL},
    {"position_embedding_type", MK_USED, NULL},
    {"untie_embeddings_and_output_weights", MK_USED, NULL},
    {"add_bias_linear", MK_USED, NULL},
    {"disable_bias_linear", MK_USED, NULL},
    {"add_qkv_bias", MK_USED, NULL},
    {"gated_linear_unit", MK_USED, NULL},
    {"activation_func", MK_USED, NULL},
    {"normalization", MK_USED, NULL},
    {"hidden_dropout", MK_USED, NULL},
    {"attention_dropout", MK_USED, NULL},
    {"params_dtype", MK_USED, NULL},
    {"group_query_attention", MK_IGNORED,
     "num_query_groups alone sets the key/value heads (a TransformerConfig field; this is not)"},
    {"freeze", MK_IGNORED, "pretrain_vlm.py never freezes the text decoder"},
    {"rope_theta", MK_IGNORED, "a rotary frequency base"},
    {"rope_scaling", MK_IGNORED, "rotary position scaling"},
    {"mrope_section", MK_IGNORED, "how M-RoPE splits the rotary dimensions"},
    {"parallel_output", MK_IGNORED, "whether logits stay split over TP ranks for the loss"},
    {"use_remove_padding", MK_IGNORED, "padding removal: samples are costed at --mean-seq-len"},
    {"num_moe_experts", MK_REFUSED, "mixture-of-experts layers are not modelled"},
    {"num_experts", MK_REFUSED, "mixture-of-experts layers are not modelled"},
    {"moe_intermediate_size", MK_REFUSED, "mixture-of-experts layers are not modelled"},
    {"moe_ffn_hidden_size", MK_REFUSED, "mixture-of-experts layers are not modelled"},
    {"n_shared_experts", MK_REFUSED, "mixture-of-experts layers are not modelled"},
    {"multi_latent_attention", MK_REFUSED, "multi-latent attention is not modelled"},
    {"q_lora_rank", MK_REFUSED, "multi-latent attention is not modelled"},
    {"kv_lora_rank", MK_REFUSED, "multi-latent attention is not modelled"},
    {"qk_layernorm", MK_REFUSED, "norms on queries and keys are not modelled"},
    MM_COMMON_IGNORED,
};

#define N_KEYS(t) ((int)(sizeof t / sizeof t[0]))

/* One section of the file: the mapping and its name in messages. */
typedef struct mm_sec {
  io_doc *d;
  const yaml_node_t *map;
  const char *name; /* "'text_decoder'" */
} mm_sec;

/* Whether a value is "set": anything but null, false, 0, "" or an empty
 * list or mapping (how a refused key is left off). */
static bool is_set(const yaml_node_t *n) {
  if (!n) return false;
  if (n->type == YAML_SEQUENCE_NODE)
    return n->data.sequence.items.top > n->data.sequence.items.start;
  if (n->type == YAML_MAPPING_NODE) return n->data.mapping.pairs.top > n->data.mapping.pairs.start;
  const char *s = (const char *)n->data.scalar.value;
  if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return *s != '\0';
  double x;
  if (io_number_parse(s, &x)) return x != 0.0;
  return !(strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || strcmp(s, "false") == 0 || *s == '\0');
}

/* Checks every key of a section against its table (see the file comment). */
static tps_status check_keys(const mm_sec *S, const mm_key *keys, int n) {
  io_doc *d = S->d;
  const yaml_node_t *map = S->map;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *kn = yaml_document_get_node(&d->doc, p->key);
    yaml_node_t *vn = yaml_document_get_node(&d->doc, p->value);
    if (!kn || kn->type != YAML_SCALAR_NODE)
      return io_doc_fail(d, kn, TPS_ETYPE, "keys in %s must be names", S->name);
    const char *key = (const char *)kn->data.scalar.value;
    const mm_key *k = NULL;
    for (int i = 0; i < n && !k; i++)
      if (strcmp(keys[i].name, key) == 0) k = &keys[i];
    if (!k) {
      const char *names[64];
      int m = n < 64 ? n : 64;
      for (int i = 0; i < m; i++) names[i] = keys[i].name;
      io_doc_fail(d, kn, TPS_EUNKNOWNKEY, "unknown key '%.64s' in %s", key, S->name);
      const char *close = tps_did_you_mean(key, names, m);
      if (close)
        io_doc_hint(d, "did you mean '%s'? (a key tp-sim does not know may change the model, "
                       "so it is refused rather than ignored; docs/ecosystem.md lists the keys)",
                    close);
      else
        io_doc_hint(d, "a key tp-sim does not know may change the model, so it is refused "
                       "rather than ignored; docs/ecosystem.md lists the keys");
      return TPS_EUNKNOWNKEY;
    }
    if (k->role == MK_REFUSED && is_set(vn)) {
      io_doc_fail(d, kn, TPS_EUNSUPPORTED, "'%s' in %s: %s", key, S->name, k->why);
      io_doc_hint(d, "leave it out (or null) to cost the model without it");
      return TPS_EUNSUPPORTED;
    }
  }
  return TPS_OK;
}

/* A mapping section, or NULL (absent or null). */
static tps_status section(io_doc *d, const yaml_node_t *parent, const char *key, const char *name,
                          bool required, mm_sec *out) {
  yaml_node_t *n = jf_field(d, parent, key);
  out->d = d;
  out->map = n;
  out->name = name;
  if (!n) {
    if (!required) return TPS_OK;
    io_doc_fail(d, parent, TPS_EMISSINGKEY, "missing key '%s' in the model JSON", key);
    io_doc_hint(d, "a MindSpeed-MM model JSON has 'text_decoder' and 'image_encoder' sections");
    return TPS_EMISSINGKEY;
  }
  char what[96];
  snprintf(what, sizeof what, "%s", name);
  return io_node_expect_map(d, n, what);
}

static tps_status missing(const mm_sec *S, const char *key) {
  return io_doc_fail(S->d, S->map, TPS_EMISSINGKEY, "missing key '%s' in %s", key, S->name);
}

/* An integer key in [min, max]; required: missing is an error, else *out
 * keeps its default. *at (may be NULL) receives the node. */
static tps_status get_int(const mm_sec *S, const char *key, bool required, int64_t min,
                          int64_t max, int64_t *out, yaml_node_t **at) {
  yaml_node_t *n = jf_field(S->d, S->map, key);
  if (at) *at = n;
  if (!n) return required ? missing(S, key) : TPS_OK;
  char what[128];
  snprintf(what, sizeof what, "'%s' of %s", key, S->name);
  return io_node_int(S->d, n, what, min, max, out);
}

static tps_status get_bool(const mm_sec *S, const char *key, bool *out, yaml_node_t **at) {
  yaml_node_t *n = jf_field(S->d, S->map, key);
  if (at) *at = n;
  if (!n) return TPS_OK;
  char what[128];
  snprintf(what, sizeof what, "'%s' of %s", key, S->name);
  return io_node_bool(S->d, n, what, out);
}

static tps_status get_enum(const mm_sec *S, const char *key, const char *const *choices,
                           int *out, yaml_node_t **at) {
  yaml_node_t *n = jf_field(S->d, S->map, key);
  if (at) *at = n;
  if (!n) return TPS_OK;
  char what[128];
  snprintf(what, sizeof what, "'%s' of %s", key, S->name);
  return io_node_enum(S->d, n, what, choices, out);
}

/* model_id must be `want`. */
static tps_status check_model_id(const mm_sec *S, const char *want) {
  yaml_node_t *n = jf_field(S->d, S->map, "model_id");
  if (!n) return missing(S, "model_id");
  char id[64];
  char what[128];
  snprintf(what, sizeof what, "'model_id' of %s", S->name);
  tps_status st = jf_plain_text(S->d, n);
  if (!st) st = io_node_string(S->d, n, what, id, sizeof id);
  if (st) return st;
  if (strcmp(id, want) == 0) return TPS_OK;
  io_doc_fail(S->d, n, TPS_EUNSUPPORTED, "'model_id' '%s' of %s is not supported", id, S->name);
  io_doc_hint(S->d, "tp-sim reads MindSpeed-MM's Qwen2.5-VL layout: model_id qwen2_5vl, "
                    "vision_encoder qwen2vit, vision_projector lnmlp, text_decoder qwen2_5_lm");
  return TPS_EUNSUPPORTED;
}

/* Dropout on when either rate is above 0; TransformerConfig's defaults
 * are 0.1 each. */
static tps_status get_dropout(const mm_sec *S, bool *out) {
  static const char *const keys[] = {"hidden_dropout", "attention_dropout"};
  bool on = false;
  for (int i = 0; i < 2; i++) {
    double x = 0.1;
    yaml_node_t *n = jf_field(S->d, S->map, keys[i]);
    if (n) {
      char what[128];
      snprintf(what, sizeof what, "'%s' of %s", keys[i], S->name);
      tps_status st = io_node_number(S->d, n, what, 0.0, 1.0, &x);
      if (st) return st;
    }
    if (x > 0.0) on = true;
  }
  *out = on;
  return TPS_OK;
}

/* activation_func: get_model_config maps silu, quick_gelu and
 * gelu_pytorch_tanh, anything else to gelu; tp-sim costs the activation as
 * one elementwise op, so only the gated/plain choice matters. */
static const char *const activation_choices[] = {"silu", "gelu", "quick_gelu",
                                                 "gelu_pytorch_tanh", NULL};
static const char *const norm_choices[] = {"LayerNorm", "RMSNorm", NULL};

/* The fields every transformer section shares: sizes, attention, MLP,
 * norm, biases, dropout (TransformerConfig defaults for what is left out:
 * ffn 4h, num_query_groups = heads, kv_channels h / heads, LayerNorm, GELU
 * MLP, biases on, dropout 0.1). */
static tps_status read_block(const mm_sec *S, tps_module *m) {
  tps_status st;
  yaml_node_t *at_heads = NULL, *at_groups = NULL;
  if ((st = get_int(S, "num_layers", true, 1, IO_LAYERS_MAX, &m->layers, NULL)) ||
      (st = get_int(S, "hidden_size", true, 1, IO_COUNT_MAX, &m->hidden, NULL)) ||
      (st = get_int(S, "num_attention_heads", true, 1, IO_COUNT_MAX, &m->heads, &at_heads)))
    return st;
  m->ffn = 0;
  m->kv_heads = m->heads;
  m->head_dim = 0;
  if ((st = get_int(S, "ffn_hidden_size", false, 1, IO_COUNT_MAX, &m->ffn, NULL)) ||
      (st = get_int(S, "num_query_groups", false, 1, IO_COUNT_MAX, &m->kv_heads, &at_groups)) ||
      (st = get_int(S, "kv_channels", false, 1, IO_COUNT_MAX, &m->head_dim, NULL)))
    return st;
  if (m->ffn == 0) {
    if (__builtin_mul_overflow(m->hidden, 4, &m->ffn))
      return io_doc_fail(S->d, S->map, TPS_ERANGE, "4 x 'hidden_size' of %s is out of range",
                         S->name);
  }
  if (m->kv_heads > m->heads || m->heads % m->kv_heads != 0)
    return io_doc_fail(S->d, at_groups ? at_groups : at_heads, TPS_ERANGE,
                       "'num_query_groups' (%" PRId64 ") must divide 'num_attention_heads' "
                       "(%" PRId64 ") of %s",
                       m->kv_heads, m->heads, S->name);
  if (m->head_dim == 0 || m->head_dim * m->heads == m->hidden) {
    if (m->hidden % m->heads != 0) {
      io_doc_fail(S->d, at_heads, TPS_ERANGE,
                  "'num_attention_heads' (%" PRId64 ") does not divide 'hidden_size' (%" PRId64
                  ") of %s",
                  m->heads, m->hidden, S->name);
      io_doc_hint(S->d, "give 'kv_channels' (the width of one head) explicitly");
      return TPS_ERANGE;
    }
    m->head_dim = m->hidden / m->heads;
  }
  bool gated = false;
  int act = 1, norm = 0;
  if ((st = get_bool(S, "gated_linear_unit", &gated, NULL)) ||
      (st = get_enum(S, "activation_func", activation_choices, &act, NULL)) ||
      (st = get_enum(S, "normalization", norm_choices, &norm, NULL)))
    return st;
  m->mlp = gated ? TPS_MLP_SWIGLU : TPS_MLP_GELU;
  m->norm = norm == 1 ? TPS_NORM_RMSNORM : TPS_NORM_LAYERNORM;
  bool bias = true, qkv_bias = false;
  if ((st = get_bool(S, "add_bias_linear", &bias, NULL)) ||
      (st = get_bool(S, "add_qkv_bias", &qkv_bias, NULL)))
    return st;
  m->bias = bias;
  m->qkv_bias = bias || qkv_bias; /* linear_qkv has a bias with either */
  return get_dropout(S, &m->dropout);
}

/* pipeline_num_layers of a section: layers on each stage, adding up to
 * num_layers. *n = 0 when absent. */
static tps_status read_pipeline(const mm_sec *S, int64_t layers, int64_t *out, int *n,
                                yaml_node_t **at) {
  io_doc *d = S->d;
  yaml_node_t *list = jf_field(d, S->map, "pipeline_num_layers");
  *at = list;
  *n = 0;
  if (!list) return TPS_OK;
  int len = io_seq_len(list);
  if (list->type != YAML_SEQUENCE_NODE || len < 1 || len > TPS_MAX_STAGES) {
    char got[64];
    io_node_desc(list, got, sizeof got);
    return io_doc_fail(d, list, TPS_ETYPE,
                       "'pipeline_num_layers' of %s must be a list of 1 to %d layer counts "
                       "(one per pipeline stage), got %s",
                       S->name, TPS_MAX_STAGES, got);
  }
  int64_t sum = 0;
  for (int s = 0; s < len; s++) {
    yaml_node_t *e = io_seq_at(d, list, s);
    if (e && e->type == YAML_SEQUENCE_NODE) {
      io_doc_fail(d, e, TPS_EUNSUPPORTED,
                  "'pipeline_num_layers' of %s lists virtual pipeline stages (a list of lists): "
                  "not modelled with an explicit placement",
                  S->name);
      io_doc_hint(d, "give one count per stage; --vpp costs an even interleaved split");
      return TPS_EUNSUPPORTED;
    }
    char what[128];
    snprintf(what, sizeof what, "each entry of 'pipeline_num_layers' of %s", S->name);
    tps_status st = io_node_int(d, e, what, 0, IO_LAYERS_MAX, &out[s]);
    if (st) return st;
    sum += out[s];
  }
  if (sum != layers) {
    io_doc_fail(d, list, TPS_ERANGE,
                "'pipeline_num_layers' of %s places %" PRId64 " layers; 'num_layers' is %" PRId64,
                S->name, sum, layers);
    io_doc_hint(d, "MindSpeed-MM requires the stages' layers to add up to num_layers");
    return TPS_ERANGE;
  }
  *n = len;
  return TPS_OK;
}

/* vision_encoder (MindSpeed-MM qwen2vit: the Qwen2.5-VL ViT). */
static tps_status read_vit(const mm_sec *S, tps_module *vit, int64_t *merge,
                           yaml_node_t **at_merge) {
  tps_status st;
  if ((st = check_model_id(S, "qwen2vit"))) return st;
  memset(vit, 0, sizeof *vit);
  snprintf(vit->name, sizeof vit->name, "vision_encoder");
  vit->type = TPS_MODULE_VIT;
  if ((st = read_block(S, vit))) return st;
  yaml_node_t *at_ffn = jf_field(S->d, S->map, "ffn_hidden_size"), *at_inter = NULL;
  int64_t inter = vit->ffn;
  if ((st = get_int(S, "intermediate_size", false, 1, IO_COUNT_MAX, &inter, &at_inter)))
    return st;
  if (inter != vit->ffn) {
    io_doc_fail(S->d, at_inter, TPS_ERANGE,
                "'intermediate_size' (%" PRId64 ") differs from 'ffn_hidden_size' (%" PRId64
                ") of %s",
                inter, vit->ffn, S->name);
    io_doc_hint(S->d, "the ViT's MLP is built from ffn_hidden_size%s",
                at_ffn ? "" : " (4 x hidden_size when left out)");
    return TPS_ERANGE;
  }
  yaml_node_t *at_patch = NULL, *at_temporal = NULL, *at_window = NULL;
  int64_t window_px = 0;
  if ((st = get_int(S, "in_channels", true, 1, IO_COUNT_MAX, &vit->in_channels, NULL)) ||
      (st = get_int(S, "patch_size", true, 1, IO_COUNT_MAX, &vit->patch, &at_patch)) ||
      (st = get_int(S, "temporal_patch_size", true, 1, IO_COUNT_MAX, &vit->temporal_patch,
                    &at_temporal)) ||
      (st = get_int(S, "spatial_merge_size", true, 1, IO_COUNT_MAX, merge, at_merge)) ||
      (st = get_int(S, "window_attn_size", false, 0, IO_COUNT_MAX, &window_px, &at_window)))
    return st;
  /* Products the lowering stores as 64-bit counts. */
  int64_t prod;
  if (__builtin_mul_overflow(vit->in_channels, vit->temporal_patch, &prod) ||
      __builtin_mul_overflow(prod, vit->patch, &prod) ||
      __builtin_mul_overflow(prod, vit->patch, &prod))
    return io_doc_fail(S->d, at_patch, TPS_ERANGE,
                       "'in_channels' x 'temporal_patch_size' x 'patch_size'^2 of %s does not "
                       "fit a 64-bit count",
                       S->name);
  if (__builtin_mul_overflow(*merge, *merge, &prod) ||
      __builtin_mul_overflow(prod, vit->hidden, &prod))
    return io_doc_fail(S->d, *at_merge, TPS_ERANGE,
                       "'hidden_size' x 'spatial_merge_size'^2 of %s does not fit a 64-bit count",
                       S->name);
  if (window_px % vit->patch != 0)
    return io_doc_fail(S->d, at_window, TPS_ERANGE,
                       "'window_attn_size' (%" PRId64 " pixels) of %s is not a multiple of "
                       "'patch_size' (%" PRId64 ")",
                       window_px, S->name, vit->patch);
  int64_t side = window_px / vit->patch;
  if (side > 1000000)
    return io_doc_fail(S->d, at_window, TPS_ERANGE, "'window_attn_size' of %s is out of range",
                       S->name);
  vit->window = side * side; /* patches per window; 0: every block attends over the image */
  yaml_node_t *fa = jf_field(S->d, S->map, "fullatt_block_indexes");
  if (fa) {
    int len = io_seq_len(fa);
    if (fa->type != YAML_SEQUENCE_NODE || len > TPS_MAX_FULL_ATTN)
      return io_doc_fail(S->d, fa, TPS_ETYPE,
                         "'fullatt_block_indexes' of %s must be a list of at most %d block "
                         "indices",
                         S->name, TPS_MAX_FULL_ATTN);
    for (int i = 0; i < len; i++) {
      yaml_node_t *e = io_seq_at(S->d, fa, i);
      int64_t b;
      if ((st = io_node_int(S->d, e, "each entry of 'fullatt_block_indexes'", 0,
                            vit->layers - 1, &b)))
        return st;
      if (i > 0 && b <= vit->full_attention_blocks[i - 1])
        return io_doc_fail(S->d, e, TPS_ERANGE, "'fullatt_block_indexes' must increase");
      vit->full_attention_blocks[i] = b;
    }
    vit->n_full_attention_blocks = len;
  }
  /* pretrain_vlm.py: getattr(vision_encoder, 'freeze', True). */
  vit->frozen = true;
  if ((st = get_bool(S, "freeze", &vit->frozen, NULL))) return st;
  vit->tokens = TPS_HF_VISION_TOKENS_DEFAULT;
  return TPS_OK;
}

/* vision_projector (MindSpeed-MM lnmlp: norm over input_size, input_size x
 * merge^2 tokens viewed as one of ffn_hidden_size, MLP ffn -> ffn ->
 * hidden_size). */
static tps_status read_projector(const mm_sec *S, const tps_module *vit, int64_t merge,
                                 tps_module *p) {
  tps_status st;
  if ((st = check_model_id(S, "lnmlp"))) return st;
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "projector");
  p->type = TPS_MODULE_PROJECTOR;
  yaml_node_t *at_layers = NULL, *at_in = NULL, *at_ffn = NULL, *at_gated = NULL;
  int64_t layers = 1;
  bool gated = false;
  int act = 1, norm = 0;
  p->bias = true;
  if ((st = get_int(S, "num_layers", false, 1, IO_COUNT_MAX, &layers, &at_layers)) ||
      (st = get_int(S, "input_size", true, 1, IO_COUNT_MAX, &p->hidden, &at_in)) ||
      (st = get_int(S, "hidden_size", true, 1, IO_COUNT_MAX, &p->output, NULL)) ||
      (st = get_int(S, "ffn_hidden_size", true, 1, IO_COUNT_MAX, &p->ffn, &at_ffn)) ||
      (st = get_bool(S, "gated_linear_unit", &gated, &at_gated)) ||
      (st = get_enum(S, "activation_func", activation_choices, &act, NULL)) ||
      (st = get_enum(S, "normalization", norm_choices, &norm, NULL)) ||
      (st = get_bool(S, "add_bias_linear", &p->bias, NULL)))
    return st;
  if (layers != 1)
    return io_doc_fail(S->d, at_layers, TPS_EUNSUPPORTED,
                       "'num_layers' of %s is %" PRId64 ": the lnmlp projector is one MLP",
                       S->name, layers);
  if (gated) {
    io_doc_fail(S->d, at_gated, TPS_EUNSUPPORTED,
                "'gated_linear_unit' true in %s: a gated projector MLP is not modelled", S->name);
    io_doc_hint(S->d, "Qwen2.5-VL's merger is Linear + GELU + Linear (gated_linear_unit false)");
    return TPS_EUNSUPPORTED;
  }
  if (p->hidden != vit->hidden)
    return io_doc_fail(S->d, at_in, TPS_ERANGE,
                       "'input_size' (%" PRId64 ") of %s must equal the vision encoder's "
                       "'hidden_size' (%" PRId64 ")",
                       p->hidden, S->name, vit->hidden);
  if (p->ffn != p->hidden * merge * merge) {
    io_doc_fail(S->d, at_ffn, TPS_ERANGE,
                "'ffn_hidden_size' (%" PRId64 ") of %s must be 'input_size' x "
                "'spatial_merge_size'^2 = %" PRId64 " x %" PRId64 "^2",
                p->ffn, S->name, p->hidden, merge);
    io_doc_hint(S->d, "lnmlp views merge^2 tokens of input_size as one of ffn_hidden_size");
    return TPS_ERANGE;
  }
  p->layers = 1;
  p->spatial_merge = merge;
  p->mlp = TPS_MLP_GELU;
  p->norm = norm == 1 ? TPS_NORM_RMSNORM : TPS_NORM_LAYERNORM;
  p->qkv_bias = false; /* no attention */
  /* pretrain_vlm.py: getattr(vision_projector, 'freeze', False). */
  return get_bool(S, "freeze", &p->frozen, NULL);
}

static const char *const position_choices[] = {"learned_absolute", "rope", "mrope", "none", NULL};
/* params_dtype as get_dtype (mindspeed_mm/utils/utils.py) spells them. */
static const char *const dtype_choices[] = {"bf16", "fp16", "fp32", "bfloat16", "float16",
                                            "float32", NULL};

/* text_decoder (MindSpeed-MM qwen2_5_lm: a Megatron GPT decoder). */
static tps_status read_text(const mm_sec *S, tps_module *m, tps_training *t) {
  tps_status st;
  if ((st = check_model_id(S, "qwen2_5_lm"))) return st;
  memset(m, 0, sizeof *m);
  snprintf(m->name, sizeof m->name, "language_model");
  m->type = TPS_MODULE_DECODER;
  if ((st = read_block(S, m))) return st;
  yaml_node_t *at_add = NULL, *at_disable = NULL, *at_pos = NULL;
  bool disable = false, untie = false;
  int pos = 0, dtype = -1;
  if ((st = get_int(S, "vocab_size", true, 1, IO_COUNT_MAX, &m->vocab, NULL)) ||
      (st = get_bool(S, "untie_embeddings_and_output_weights", &untie, NULL)) ||
      (st = get_bool(S, "disable_bias_linear", &disable, &at_disable)) ||
      (st = get_enum(S, "position_embedding_type", position_choices, &pos, &at_pos)) ||
      (st = get_int(S, "seq_length", false, 1, IO_COUNT_MAX, &t->seq_len, NULL)) ||
      (st = get_enum(S, "params_dtype", dtype_choices, &dtype, NULL)))
    return st;
  m->tied_embeddings = !untie;
  /* --disable-bias-linear is Megatron's flag for add_bias_linear false. */
  at_add = jf_field(S->d, S->map, "add_bias_linear");
  if (disable && at_add && m->bias) {
    io_doc_fail(S->d, at_disable, TPS_ERANGE,
                "'disable_bias_linear' true contradicts 'add_bias_linear' true in %s", S->name);
    return TPS_ERANGE;
  }
  if (disable && !at_add) {
    bool qkv = false;
    if ((st = get_bool(S, "add_qkv_bias", &qkv, NULL))) return st;
    m->bias = false;
    m->qkv_bias = qkv;
  }
  /* GPTModel's default position_embedding_type is learned_absolute; M-RoPE
   * is costed as RoPE. */
  m->position = pos == 0 ? TPS_POSITION_LEARNED : pos == 3 ? TPS_POSITION_NONE : TPS_POSITION_ROPE;
  if (m->position == TPS_POSITION_LEARNED) {
    m->max_position = t->seq_len;
    if ((st = get_int(S, "max_position_embeddings", false, 1, IO_COUNT_MAX, &m->max_position,
                      NULL)))
      return st;
  } else {
    int64_t ignored = 0; /* rotary positions have no table: only checked */
    if ((st = get_int(S, "max_position_embeddings", false, 1, IO_COUNT_MAX, &ignored, NULL)))
      return st;
  }
  if (dtype >= 0) {
    static const tps_precision p[] = {TPS_PRECISION_BF16, TPS_PRECISION_FP16, TPS_PRECISION_FP32};
    t->precision = p[dtype % 3];
  }
  return TPS_OK;
}

bool io_mm_layout(io_doc *d, const yaml_node_t *root) {
  if (!root || root->type != YAML_MAPPING_NODE) return false;
  if (io_map_get(d, root, "architectures")) return false;
  return io_map_get(d, root, "text_decoder") || io_map_get(d, root, "image_encoder");
}

/* Model name: the file name without folder and .json ("model_7b"). */
static void file_stem(const char *path, char *out, size_t size) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", base);
  size_t len = strlen(buf);
  if (len > 5 && strcmp(buf + len - 5, ".json") == 0) buf[len - 5] = '\0';
  if (!buf[0] || strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0)
    snprintf(buf, sizeof buf, "mm-model");
  snprintf(out, size, "%.*s", (int)size - 1, buf);
}

tps_status io_mm_model_read(io_doc *d, const yaml_node_t *root, const char *path,
                            tps_model *model) {
  tps_status st;
  mm_sec top = {d, root, "the model JSON"}, image, vit, proj, text;
  if ((st = check_keys(&top, top_keys, N_KEYS(top_keys))) ||
      (st = check_model_id(&top, "qwen2_5vl")) ||
      (st = section(d, root, "image_encoder", "'image_encoder'", false, &image)) ||
      (st = section(d, root, "text_decoder", "'text_decoder'", true, &text)) ||
      (st = check_keys(&text, text_keys, N_KEYS(text_keys))))
    return st;
  tps_training *t = &model->training;
  tps_training_defaults(t);
  tps_module *dec;
  yaml_node_t *at_vit_pipe = NULL, *at_text_pipe = NULL;
  int64_t vit_pipe[TPS_MAX_STAGES], text_pipe[TPS_MAX_STAGES];
  int n_vit = 0, n_text = 0;
  if (image.map) {
    if ((st = check_keys(&image, image_keys, N_KEYS(image_keys))) ||
        (st = section(d, image.map, "vision_encoder", "'vision_encoder'", true, &vit)) ||
        (st = section(d, image.map, "vision_projector", "'vision_projector'", true, &proj)) ||
        (st = check_keys(&vit, vit_keys, N_KEYS(vit_keys))) ||
        (st = check_keys(&proj, proj_keys, N_KEYS(proj_keys))))
      return st;
    int64_t merge = 1;
    yaml_node_t *at_merge = NULL;
    if ((st = read_vit(&vit, &model->modules[0], &merge, &at_merge)) ||
        (st = read_projector(&proj, &model->modules[0], merge, &model->modules[1])) ||
        (st = read_pipeline(&vit, model->modules[0].layers, vit_pipe, &n_vit, &at_vit_pipe)))
      return st;
    dec = &model->modules[2];
    model->n_modules = 3;
  } else {
    dec = &model->modules[0];
    model->n_modules = 1;
  }
  if ((st = read_text(&text, dec, t)) ||
      (st = read_pipeline(&text, dec->layers, text_pipe, &n_text, &at_text_pipe)))
    return st;
  if (image.map && dec->hidden != model->modules[1].output) {
    yaml_node_t *at = jf_field(d, proj.map, "hidden_size");
    return io_doc_fail(d, at, TPS_ERANGE,
                       "'hidden_size' (%" PRId64 ") of 'vision_projector' must equal the text "
                       "decoder's 'hidden_size' (%" PRId64 ")",
                       model->modules[1].output, dec->hidden);
  }
  /* Pipeline placement: MindSpeed-MM requires a list per module whose length
   * is the pipeline size (vlm_model.py); the projector runs where the
   * vision encoder ends (VisionModel's post_process stage). */
  int stages = n_text > n_vit ? n_text : n_vit;
  if (image.map && stages > 1 && (n_vit == 0 || n_text == 0)) {
    const mm_sec *lacking = n_vit == 0 ? &vit : &text;
    io_doc_fail(d, lacking->map, TPS_EMISSINGKEY, "missing key 'pipeline_num_layers' in %s",
                lacking->name);
    io_doc_hint(d, "MindSpeed-MM needs it in the vision encoder and the text decoder once "
                   "the pipeline has more than one stage");
    return TPS_EMISSINGKEY;
  }
  if (image.map && n_vit != n_text) {
    io_doc_fail(d, at_vit_pipe, TPS_ERANGE,
                "'pipeline_num_layers' of 'vision_encoder' has %d stages; that of "
                "'text_decoder' has %d",
                n_vit, n_text);
    io_doc_hint(d, "each list has one entry per pipeline stage");
    return TPS_ERANGE;
  }
  if (stages > 1) {
    if (image.map) {
      int last = 0;
      for (int s = 0; s < stages; s++) {
        t->pipeline_layers[0][s] = vit_pipe[s];
        if (vit_pipe[s] > 0) last = s;
        t->pipeline_layers[2][s] = text_pipe[s];
      }
      t->pipeline_layers[1][last] = 1;
    } else {
      for (int s = 0; s < stages; s++) t->pipeline_layers[0][s] = text_pipe[s];
    }
    t->n_pipeline_stages = stages;
    t->pp = stages;
  }
  /* The rest of the recipe lives in the launch script (tp-sim from-script
   * follows --mm-model). Left out: the defaults a Hugging Face config.json
   * gets (hf_config.c: distributed optimizer, global batch 128; MindSpeed-MM's
   * recipes also pass --use-distributed-optimizer). The vocabulary is not
   * padded: MindSpeed-MM builds the text decoder with the file's vocab_size
   * (mindspeed_mm/models/vlm_model.py), so the divisor is 1. */
  t->distributed_optimizer = true;
  t->global_batch = 128;
  t->vocab_divisor = 1;
  file_stem(path, model->name, sizeof model->name);
  snprintf(model->source, sizeof model->source,
           "MindSpeed-MM model JSON (model_id qwen2_5vl; keys left out take Megatron "
           "TransformerConfig defaults): %.700s",
           path);
  return TPS_OK;
}

tps_status tps_mindspeed_mm_load(const char *path, tps_model *model, tps_error *err) {
  io_doc d;
  tps_status st;
  if (!model) return tps_error_set(err, TPS_EINVAL, path ? path : "", 0, 0, "no model to fill");
  memset(model, 0, sizeof *model);
  memset(&d, 0, sizeof d);
  yaml_node_t *root = NULL;
  st = jf_open(&d, path, "a MindSpeed-MM model JSON", &root, err);
  if (st && !d.loaded) return st;
  snprintf(model->path, sizeof model->path, "%s", path);
  if (!st && !io_mm_layout(&d, root)) {
    io_doc_fail(&d, root, TPS_EMISSINGKEY,
                "missing key 'text_decoder': not a MindSpeed-MM model JSON");
    io_doc_hint(&d, "a Hugging Face config.json goes to --model");
    st = TPS_EMISSINGKEY;
  }
  if (!st) st = io_mm_model_read(&d, root, path, model);
  io_doc_free(&d);
  if (st) io_model_clear(model);
  return st;
}
