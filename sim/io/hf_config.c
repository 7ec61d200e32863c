/* Reading a Hugging Face config.json into a tps_model (docs/ecosystem.md).
 *
 * JSON is YAML flow syntax, so the file goes through the same safe loader as
 * the model files (io_doc_load) and errors carry FILE:LINE:COL. Unlike a
 * model file, unknown keys are ignored: a config.json holds many fields
 * (token ids, rope scaling, dtype, ...) that change no parameter count,
 * memory or time tp-sim models. A JSON `null` counts as "left out".
 *
 * One row per supported architecture holds the defaults of its transformers
 * configuration class; the family decides which field names are read and
 * which modules are built. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/json_fields.h"
#include "io/mm_model.h"
#include "io/yaml_doc.h"
#include "tpsim/ecosystem.h"
#include "tpsim/io.h"

#define CMAX IO_COUNT_MAX

typedef enum {
  HF_LLAMA,    /* Llama-style decoder: gated MLP, RMSNorm, RoPE */
  HF_QWEN25VL, /* Qwen2.5-VL: vision_config ViT + merger + Qwen2 decoder */
  HF_GPT2,     /* GPT-2: GELU MLP, LayerNorm, learned positions, biases */
  HF_MIXTRAL,  /* Mixtral: Mistral decoder, every MLP num_local_experts experts */
  HF_QWEN_MOE, /* Qwen2-MoE / Qwen3-MoE: experts of moe_intermediate_size (+ shared) */
  HF_DEEPSEEK  /* DeepSeek-V2/V3: MLA, first_k_dense_replace dense layers, experts */
} hf_family;

/* Defaults of one architecture, as its transformers configuration class
 * sets them (src/transformers/models/<type>/configuration_<type>.py). */
typedef struct hf_arch {
  const char *arch;         /* architectures[0] */
  const char *model_type;   /* used when `architectures` is absent */
  const char *config_class; /* where the defaults below come from */
  hf_family family;
  int64_t vocab, hidden, ffn, layers, heads;
  int64_t kv_heads;         /* 0: = heads (num_key_value_heads=None) */
  int64_t max_position;     /* tokens; rows of GPT-2's learned table */
  bool tied;                /* tie_word_embeddings */
  bool qkv_bias;            /* fixed by the modelling code or attention_bias */
  bool bias;                /* other linears (mlp_bias / GPT-2 Conv1D) */
} hf_arch;

static const hf_arch hf_archs[] = {
    /* LlamaConfig: vocab_size=32000, hidden_size=4096, intermediate_size=11008,
     * num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=None,
     * max_position_embeddings=2048, tie_word_embeddings=False,
     * attention_bias=False, mlp_bias=False. */
    {"LlamaForCausalLM", "llama", "LlamaConfig", HF_LLAMA, 32000, 4096, 11008, 32, 32, 0,
     2048, false, false, false},
    /* MistralConfig: vocab_size=32000, hidden_size=4096, intermediate_size=14336,
     * num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
     * max_position_embeddings=4096*32, tie_word_embeddings=False; no biases. */
    {"MistralForCausalLM", "mistral", "MistralConfig", HF_LLAMA, 32000, 4096, 14336, 32, 32,
     8, 131072, false, false, false},
    /* Qwen2Config: vocab_size=151936, hidden_size=4096, intermediate_size=22016,
     * num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
     * max_position_embeddings=32768, tie_word_embeddings=False; the modelling
     * code puts a bias on q/k/v only. */
    {"Qwen2ForCausalLM", "qwen2", "Qwen2Config", HF_LLAMA, 151936, 4096, 22016, 32, 32, 32,
     32768, false, true, false},
    /* Qwen2_5_VLConfig (text part): vocab_size=152064, hidden_size=8192,
     * intermediate_size=29568, num_hidden_layers=80, num_attention_heads=64,
     * num_key_value_heads=8, max_position_embeddings=32768,
     * tie_word_embeddings=False; q/k/v bias as Qwen2. */
    {"Qwen2_5_VLForConditionalGeneration", "qwen2_5_vl", "Qwen2_5_VLConfig", HF_QWEN25VL,
     152064, 8192, 29568, 80, 64, 8, 32768, false, true, false},
    /* GPT2Config: vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12,
     * n_head=12, n_inner=None (4 x n_embd), activation_function="gelu_new";
     * PretrainedConfig tie_word_embeddings=True; every Conv1D has a bias. */
    {"GPT2LMHeadModel", "gpt2", "GPT2Config", HF_GPT2, 50257, 768, 0, 12, 12, 0, 1024, true,
     true, true},
    /* Mixture-of-experts families. Their dense fields default as below; the
     * expert fields (counts, top-k, widths) and MLA's ranks are required in
     * the file (every published config.json gives them).
     * MixtralConfig: vocab_size=32000, hidden_size=4096, intermediate_size=14336,
     * num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
     * tie_word_embeddings=False; no biases. */
    {"MixtralForCausalLM", "mixtral", "MixtralConfig", HF_MIXTRAL, 32000, 4096, 14336, 32, 32, 8,
     131072, false, false, false},
    /* Qwen2MoeConfig: vocab_size=151936, hidden_size=2048, intermediate_size=5632,
     * num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=16,
     * tie_word_embeddings=False; q/k/v bias as Qwen2. */
    {"Qwen2MoeForCausalLM", "qwen2_moe", "Qwen2MoeConfig", HF_QWEN_MOE, 151936, 2048, 5632, 24,
     16, 16, 32768, false, true, false},
    /* Qwen3MoeConfig: vocab_size=151936, hidden_size=2048, intermediate_size=6144,
     * num_hidden_layers=24, num_attention_heads=32, num_key_value_heads=4,
     * tie_word_embeddings=False, attention_bias=False. */
    {"Qwen3MoeForCausalLM", "qwen3_moe", "Qwen3MoeConfig", HF_QWEN_MOE, 151936, 2048, 6144, 24,
     32, 4, 32768, false, false, false},
    /* DeepseekV2Config: vocab_size=102400, hidden_size=4096, intermediate_size=11008,
     * num_hidden_layers=30, num_attention_heads=32, tie_word_embeddings=False. */
    {"DeepseekV2ForCausalLM", "deepseek_v2", "DeepseekV2Config", HF_DEEPSEEK, 102400, 4096,
     11008, 30, 32, 0, 2048, false, false, false},
    /* DeepseekV3Config: vocab_size=129280, hidden_size=7168, intermediate_size=18432,
     * num_hidden_layers=61, num_attention_heads=128, tie_word_embeddings=False. */
    {"DeepseekV3ForCausalLM", "deepseek_v3", "DeepseekV3Config", HF_DEEPSEEK, 129280, 7168,
     18432, 61, 128, 0, 4096, false, false, false},
};
#define HF_N_ARCHS ((int)(sizeof hf_archs / sizeof hf_archs[0]))

/* Qwen2_5_VLVisionConfig defaults: depth=32, hidden_size=3584,
 * intermediate_size=3420, num_heads=16, in_channels=3, patch_size=14,
 * spatial_merge_size=2, temporal_patch_size=2, window_size=112 (pixels),
 * out_hidden_size=3584, fullatt_block_indexes=[7, 15, 23, 31]. */
enum {
  VIS_DEPTH = 32, VIS_HIDDEN = 3584, VIS_FFN = 3420, VIS_HEADS = 16, VIS_IN_CHANNELS = 3,
  VIS_PATCH = 14, VIS_MERGE = 2, VIS_TEMPORAL = 2, VIS_WINDOW_PX = 112, VIS_OUT = 3584
};
static const int64_t vis_full_attention[] = {7, 15, 23, 31};

/* ---- the config.json keys tp-sim knows (docs/ecosystem.md, "Flag classes") ----
 *
 * modelled: read by a family reader below; ignored: changes no parameter
 * count, memory or time tp-sim models; unmodelled: changes the
 * architecture in a way tp-sim does not model, when its condition holds. A
 * top-level key (or one of text_config) in none of the rows is unknown. */
typedef enum {
  HFK_MODELLED, HFK_IGNORED, HFK_UNMODELLED,
  HFK_MOE /* modelled by the mixture-of-experts families (Mixtral, Qwen2-MoE, Qwen3-MoE,
             DeepSeek-V2/V3); unmodelled, when its condition holds, for the others */
} hfk_class;
typedef enum {
  HFK_ALWAYS,      /* any value that is not null */
  HFK_GT1,         /* an integer > 1 (expert counts: 0 or 1 is a dense model) */
  HFK_GT0,         /* an integer > 0 */
  HFK_TRUE,        /* true */
  HFK_LAYER_TYPES  /* a list holding anything but "full_attention" */
} hfk_cond;

typedef struct hf_key_row {
  const char *key;
  hfk_class cls;
  hfk_cond cond;
  const char *note;
} hf_key_row;

#define HK_MOE "mixture of experts is modelled for Mixtral, Qwen2-MoE, Qwen3-MoE and DeepSeek-V2/V3 configs only"
#define HK_MLA "multi-head latent attention is modelled for DeepSeek-V2/V3 configs only"
#define HK_HYBRID "layers other than full attention + MLP are not modelled"
#define HK_READ "read (docs/ecosystem.md)"
#define HK_IGN "changes no parameter count, memory or time tp-sim models"
#define HK_TOKENS "a token id"
#define HK_DEP "has no effect without the feature it belongs to"
static const hf_key_row hf_keys[] = {
    {"_name_or_path", HFK_MODELLED, HFK_ALWAYS, "the model's name"},
    {"activation_function", HFK_IGNORED, HFK_ALWAYS, "GPT-2's GELU variant: costed the same"},
    {"architectures", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"attention_bias", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"attention_chunk_size", HFK_UNMODELLED, HFK_ALWAYS,
     "chunked local attention is not modelled: attention is costed as full causal attention"},
    {"attention_dropout", HFK_IGNORED, HFK_ALWAYS, "dropout of a config.json model is not costed"},
    {"attn_pdrop", HFK_IGNORED, HFK_ALWAYS, "dropout of a config.json model is not costed"},
    {"auto_map", HFK_IGNORED, HFK_ALWAYS, "remote code names"},
    {"aux_loss_alpha", HFK_IGNORED, HFK_ALWAYS, "the load-balancing loss weight: costs nothing tp-sim models"},
    {"bos_token_id", HFK_IGNORED, HFK_ALWAYS, HK_TOKENS},
    {"decoder_sparse_step", HFK_MODELLED, HFK_ALWAYS, "read by Qwen2-MoE/Qwen3-MoE (only 1, every layer MoE, is modelled)"},
    {"description", HFK_IGNORED, HFK_ALWAYS, "text"},
    {"dtype", HFK_IGNORED, HFK_ALWAYS, "the checkpoint's dtype: the run's precision is used"},
    {"embd_pdrop", HFK_IGNORED, HFK_ALWAYS, "dropout of a config.json model is not costed"},
    {"eos_token_id", HFK_IGNORED, HFK_ALWAYS, HK_TOKENS},
    {"ep_size", HFK_IGNORED, HFK_ALWAYS, "an inference setting of DeepSeek's code: the run's parallelism is used"},
    {"first_k_dense_replace", HFK_MODELLED, HFK_ALWAYS, "read by DeepSeek-V2/V3"},
    {"head_dim", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"hidden_act", HFK_IGNORED, HFK_ALWAYS, "the gated MLP is costed the same whatever the activation"},
    {"hidden_size", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"image_token_id", HFK_IGNORED, HFK_ALWAYS, HK_TOKENS},
    {"initializer_range", HFK_IGNORED, HFK_ALWAYS, HK_IGN},
    {"intermediate_size", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"is_encoder_decoder", HFK_UNMODELLED, HFK_TRUE, "encoder-decoder models are not modelled"},
    {"kv_lora_rank", HFK_MOE, HFK_ALWAYS, HK_MLA},
    {"layer_norm_eps", HFK_IGNORED, HFK_ALWAYS, HK_IGN},
    {"layer_norm_epsilon", HFK_IGNORED, HFK_ALWAYS, HK_IGN},
    {"layer_types", HFK_UNMODELLED, HFK_LAYER_TYPES, HK_HYBRID},
    {"linear_num_key_heads", HFK_UNMODELLED, HFK_ALWAYS, HK_HYBRID},
    {"linear_num_value_heads", HFK_UNMODELLED, HFK_ALWAYS, HK_HYBRID},
    {"max_position_embeddings", HFK_IGNORED, HFK_ALWAYS,
     "RoPE positions have no table; GPT-2 reads n_positions"},
    {"max_window_layers", HFK_MODELLED, HFK_ALWAYS, "read with sliding_window"},
    {"mlp_bias", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"mlp_only_layers", HFK_MODELLED, HFK_ALWAYS, "read by Qwen2-MoE/Qwen3-MoE (only [] is modelled)"},
    {"model_type", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"moe_intermediate_size", HFK_MODELLED, HFK_ALWAYS, "read by the MoE families"},
    {"moe_layer_freq", HFK_MODELLED, HFK_ALWAYS, "read by DeepSeek-V2/V3"},
    {"moe_num_experts", HFK_UNMODELLED, HFK_GT1, "mixture of experts of a family tp-sim does not read"},
    {"n_ctx", HFK_IGNORED, HFK_ALWAYS, "GPT-2's context: n_positions is read"},
    {"n_embd", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"n_group", HFK_IGNORED, HFK_ALWAYS, "group-limited routing changes which experts, not how many"},
    {"n_head", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"n_inner", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"n_layer", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"n_positions", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"n_routed_experts", HFK_MOE, HFK_GT1, HK_MOE},
    {"n_shared_experts", HFK_MODELLED, HFK_ALWAYS, "read by DeepSeek-V2/V3"},
    {"norm_topk_prob", HFK_IGNORED, HFK_ALWAYS, "renormalising the top-k scores costs nothing tp-sim models"},
    {"num_attention_heads", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"num_experts", HFK_MOE, HFK_GT1, HK_MOE},
    {"num_experts_per_tok", HFK_MODELLED, HFK_ALWAYS, "read by the MoE families"},
    {"num_hidden_layers", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"num_key_value_heads", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"num_local_experts", HFK_MOE, HFK_GT1, HK_MOE},
    {"num_nextn_predict_layers", HFK_MOE, HFK_GT0, "multi-token prediction is modelled for DeepSeek-V2/V3 configs only"},
    {"output_router_logits", HFK_IGNORED, HFK_ALWAYS, HK_DEP},
    {"pad_token_id", HFK_IGNORED, HFK_ALWAYS, HK_TOKENS},
    {"partial_rotary_factor", HFK_IGNORED, HFK_ALWAYS, HK_IGN},
    {"pretraining_tp", HFK_IGNORED, HFK_ALWAYS, "a numerics setting of the original training"},
    {"q_lora_rank", HFK_MOE, HFK_ALWAYS, HK_MLA},
    {"qk_nope_head_dim", HFK_MODELLED, HFK_ALWAYS, "read by DeepSeek-V2/V3"},
    {"qk_rope_head_dim", HFK_MODELLED, HFK_ALWAYS, "read by DeepSeek-V2/V3"},
    {"quantization_config", HFK_UNMODELLED, HFK_ALWAYS,
     "quantised weights are not modelled: weights are costed at the run's precision"},
    {"reorder_and_upcast_attn", HFK_IGNORED, HFK_ALWAYS, HK_IGN},
    {"resid_pdrop", HFK_IGNORED, HFK_ALWAYS, "dropout of a config.json model is not costed"},
    {"rms_norm_eps", HFK_IGNORED, HFK_ALWAYS, HK_IGN},
    {"rope_parameters", HFK_IGNORED, HFK_ALWAYS, HK_IGN},
    {"rope_scaling", HFK_IGNORED, HFK_ALWAYS, HK_IGN},
    {"rope_theta", HFK_IGNORED, HFK_ALWAYS, HK_IGN},
    {"routed_scaling_factor", HFK_IGNORED, HFK_ALWAYS, HK_IGN},
    {"router_aux_loss_coef", HFK_IGNORED, HFK_ALWAYS, HK_DEP},
    {"scale_attn_by_inverse_layer_idx", HFK_IGNORED, HFK_ALWAYS, HK_IGN},
    {"scale_attn_weights", HFK_IGNORED, HFK_ALWAYS, HK_IGN},
    {"scoring_func", HFK_MODELLED, HFK_ALWAYS, "read by DeepSeek-V2/V3"},
    {"seq_aux", HFK_IGNORED, HFK_ALWAYS, "the load-balancing loss's form: costs nothing tp-sim models"},
    {"shared_expert_intermediate_size", HFK_MODELLED, HFK_ALWAYS, "read by Qwen2-MoE"},
    {"sliding_window", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"summary_activation", HFK_IGNORED, HFK_ALWAYS, "GPT-2's classification head, not trained here"},
    {"summary_first_dropout", HFK_IGNORED, HFK_ALWAYS, "GPT-2's classification head, not trained here"},
    {"summary_proj_to_labels", HFK_IGNORED, HFK_ALWAYS, "GPT-2's classification head, not trained here"},
    {"summary_type", HFK_IGNORED, HFK_ALWAYS, "GPT-2's classification head, not trained here"},
    {"summary_use_proj", HFK_IGNORED, HFK_ALWAYS, "GPT-2's classification head, not trained here"},
    {"task_specific_params", HFK_IGNORED, HFK_ALWAYS, "generation settings"},
    {"text_config", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"tie_word_embeddings", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"tokenizer_class", HFK_IGNORED, HFK_ALWAYS, "the tokenizer"},
    {"topk_group", HFK_IGNORED, HFK_ALWAYS, "group-limited routing changes which experts, not how many"},
    {"topk_method", HFK_MODELLED, HFK_ALWAYS, "read by DeepSeek-V3 (noaux_tc: a per-expert score bias)"},
    {"torch_dtype", HFK_IGNORED, HFK_ALWAYS, "the checkpoint's dtype: the run's precision is used"},
    {"transformers_version", HFK_IGNORED, HFK_ALWAYS, "the writer's version"},
    {"use_cache", HFK_IGNORED, HFK_ALWAYS, "inference only"},
    {"use_sliding_window", HFK_IGNORED, HFK_ALWAYS, "read with sliding_window"},
    {"v_head_dim", HFK_MODELLED, HFK_ALWAYS, "read by DeepSeek-V2/V3"},
    {"video_token_id", HFK_IGNORED, HFK_ALWAYS, HK_TOKENS},
    {"vision_config", HFK_MODELLED, HFK_ALWAYS, HK_READ},
    {"vision_end_token_id", HFK_IGNORED, HFK_ALWAYS, HK_TOKENS},
    {"vision_start_token_id", HFK_IGNORED, HFK_ALWAYS, HK_TOKENS},
    {"vision_token_id", HFK_IGNORED, HFK_ALWAYS, HK_TOKENS},
    {"vocab_size", HFK_MODELLED, HFK_ALWAYS, HK_READ},
};
#define HF_N_KEYS ((int)(sizeof hf_keys / sizeof hf_keys[0]))

void tps_training_defaults(tps_training *t) {
  /* docs/schema.md, `training:` keys; the same values model_load.c's key
   * table writes when a model file has no training mapping (a unit test
   * compares the two). */
  memset(t, 0, sizeof *t);
  t->seq_len = TPS_DEFAULT_SEQ_LEN;
  t->micro_batch = 1;
  t->global_batch = 0; /* derived: micro_batch x dp */
  t->cards = 8;
  t->tp = 1;
  t->pp = 1;
  t->vpp = 1;
  t->cp = 1; /* context parallelism: none (cp_algo ring, ulysses_degree 0: the schema's) */
  t->dp = 0; /* derived: cards / (tp x pp) */
  t->precision = TPS_PRECISION_BF16;
  t->distributed_optimizer = false;
  t->recompute = TPS_RECOMPUTE_NONE;
  t->sp = false;
  t->flash_attention = true;
  t->overlap_grad_reduce = false;
  t->vocab_divisor = TPS_DEFAULT_VOCAB_DIVISOR;
  t->micro_batch_overhead_s = 0.0;
  t->n_pipeline_stages = 0;
}

/* The architecture row: architectures[0], else model_type. */
static tps_status find_arch(io_doc *d, const yaml_node_t *root, const hf_arch **out) {
  yaml_node_t *list = jf_field(d, root, "architectures");
  yaml_node_t *name_node = NULL;
  const char *name = NULL;
  bool by_type = false;
  if (list) {
    if (list->type != YAML_SEQUENCE_NODE || io_seq_len(list) == 0) {
      char got[64];
      io_node_desc(list, got, sizeof got);
      return io_doc_fail(d, list, TPS_ETYPE,
                          "'architectures' must be a list of class names, got %s", got);
    }
    name_node = io_seq_at(d, list, 0);
  } else {
    name_node = jf_field(d, root, "model_type");
    by_type = true;
  }
  if (!name_node) {
    io_doc_fail(d, root, TPS_EMISSINGKEY,
                 "missing key 'architectures' (and 'model_type') in the config");
    io_doc_hint(d, "is this a Hugging Face config.json? (a MindSpeed-MM model JSON has a "
                   "'text_decoder' section)");
    return TPS_EMISSINGKEY;
  }
  if (name_node->type != YAML_SCALAR_NODE)
    return io_doc_fail(d, name_node, TPS_ETYPE, "the architecture must be a string");
  tps_status st = jf_plain_text(d, name_node);
  if (st) return st;
  name = (const char *)name_node->data.scalar.value;
  for (int i = 0; i < HF_N_ARCHS; i++) {
    if (strcmp(name, by_type ? hf_archs[i].model_type : hf_archs[i].arch) == 0) {
      *out = &hf_archs[i];
      return TPS_OK;
    }
  }
  io_doc_fail(d, name_node, TPS_EUNSUPPORTED, "%s '%.80s' is not supported",
               by_type ? "model_type" : "architecture", name);
  io_doc_hint(d, "supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
                  "MixtralForCausalLM, Qwen2MoeForCausalLM, Qwen3MoeForCausalLM, "
                  "DeepseekV2ForCausalLM, DeepseekV3ForCausalLM, "
                  "Qwen2_5_VLForConditionalGeneration, GPT2LMHeadModel");
  return TPS_EUNSUPPORTED;
}

static const hf_key_row *hf_key_find(const char *key) {
  for (int i = 0; i < HF_N_KEYS; i++)
    if (strcmp(hf_keys[i].key, key) == 0) return &hf_keys[i];
  return NULL;
}

/* Whether an unmodelled key's condition holds for value n. */
static tps_status key_matters(io_doc *d, const hf_key_row *k, yaml_node_t *n, bool *matters) {
  char what[80];
  snprintf(what, sizeof what, "'%s'", k->key);
  int64_t v = 0;
  bool b = false;
  tps_status st = TPS_OK;
  *matters = false;
  switch (k->cond) {
    case HFK_ALWAYS: *matters = true; break;
    case HFK_GT1:
    case HFK_GT0:
      if ((st = io_node_int(d, n, what, 0, CMAX, &v))) return st;
      *matters = v > (k->cond == HFK_GT1 ? 1 : 0);
      break;
    case HFK_TRUE:
      if ((st = io_node_bool(d, n, what, &b))) return st;
      *matters = b;
      break;
    case HFK_LAYER_TYPES:
      if (n->type != YAML_SEQUENCE_NODE) {
        *matters = true;
        break;
      }
      for (int i = 0; i < io_seq_len(n); i++) {
        yaml_node_t *e = io_seq_at(d, n, i);
        if (!e || e->type != YAML_SCALAR_NODE ||
            strcmp((const char *)e->data.scalar.value, "full_attention") != 0)
          *matters = true;
      }
      break;
  }
  return TPS_OK;
}


/* Classifies the keys of map (the config, or its text_config): an
 * unmodelled key whose condition holds goes to notes->unmodelled, or, with
 * notes NULL, refuses the config (TPS_EUNSUPPORTED at the key); a key in no
 * row goes to notes->unknown. */
static tps_status classify_keys(io_doc *d, const yaml_node_t *map, const hf_arch *a,
                                tps_eco_unresolved *notes) {
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *kn = yaml_document_get_node(&d->doc, p->key);
    if (!kn || kn->type != YAML_SCALAR_NODE) continue;
    const char *key = (const char *)kn->data.scalar.value;
    yaml_node_t *n = jf_field(d, map, key);
    const hf_key_row *k = hf_key_find(key);
    if (!k) {
      if (!notes) continue;
      const char *names[HF_N_KEYS];
      for (int i = 0; i < HF_N_KEYS; i++) names[i] = hf_keys[i].key;
      const char *close = tps_did_you_mean(key, names, HF_N_KEYS);
      char why[96];
      if (close)
        snprintf(why, sizeof why, "did you mean '%s'?", close);
      else
        snprintf(why, sizeof why, "not a key tp-sim knows");
      io_eco_item_add(notes->unknown.items, &notes->unknown.n, &notes->unknown.dropped, key, "", why,
                      io_node_line(kn));
      continue;
    }
    bool moe_family = a->family == HF_MIXTRAL || a->family == HF_QWEN_MOE ||
                      a->family == HF_DEEPSEEK;
    bool unmodelled = k->cls == HFK_UNMODELLED || (k->cls == HFK_MOE && !moe_family);
    if (!unmodelled || !n) continue;
    bool matters;
    tps_status st = key_matters(d, k, n, &matters);
    if (st) return st;
    if (!matters) continue;
    char text[96];
    if (n->type == YAML_SCALAR_NODE)
      snprintf(text, sizeof text, "%.80s", (const char *)n->data.scalar.value);
    else
      io_node_desc(n, text, sizeof text);
    if (notes) {
      io_eco_item_add(notes->unmodelled.items, &notes->unmodelled.n, &notes->unmodelled.dropped, key,
                      text, k->note, io_node_line(n));
      continue;
    }
    if (k->cond == HFK_GT1) /* the message of the first releases */
      io_doc_fail(d, n, TPS_EUNSUPPORTED,
                  "'%s' is %s: mixture-of-experts %s models are not supported", key, text,
                  a->arch);
    else
      io_doc_fail(d, n, TPS_EUNSUPPORTED, "'%s' is %s: %s", key, text, k->note);
    io_doc_hint(d, "tp-sim models dense decoders with full attention only");
    return TPS_EUNSUPPORTED;
  }
  return TPS_OK;
}

/* Checks heads/kv_heads/head_dim of a module; `at` locates the error. */
static tps_status check_attention(io_doc *d, const yaml_node_t *at, tps_module *m,
                                  bool head_dim_given, const char *heads_key,
                                  const char *hidden_key) {
  if (m->kv_heads > m->heads || m->heads % m->kv_heads != 0)
    return io_doc_fail(d, at, TPS_ERANGE,
                        "'num_key_value_heads' (%" PRId64 ") must divide '%s' (%" PRId64 ")",
                        m->kv_heads, heads_key, m->heads);
  if (!head_dim_given || m->head_dim == 0) {
    if (m->hidden % m->heads != 0) {
      io_doc_fail(d, at, TPS_ERANGE, "'%s' (%" PRId64 ") does not divide '%s' (%" PRId64 ")",
                   heads_key, m->heads, hidden_key, m->hidden);
      io_doc_hint(d, "give 'head_dim' explicitly");
      return TPS_ERANGE;
    }
    m->head_dim = m->hidden / m->heads;
  }
  return TPS_OK;
}

/* The text decoder of a Llama-style family (Llama, Mistral, Qwen2, and the
 * language model of Qwen2.5-VL); fields read from `map`. */
/* sliding_window (Mistral, Qwen2): every layer attends to the last N
 * tokens unless use_sliding_window is false (Qwen2's default); Qwen2's
 * max_window_layers, which keeps the window off some layers, is refused
 * when it would (a mix of windowed and full layers is not modelled). */
static tps_status read_sliding_window(io_doc *d, const yaml_node_t *map, tps_module *m) {
  tps_status st;
  bool use = true;
  int64_t window = 0, max_layers = 0;
  yaml_node_t *at_window = NULL, *at_max = NULL;
  if ((st = jf_bool(d, map, "use_sliding_window", &use)) ||
      (st = jf_int(d, map, "sliding_window", 1, &window, &at_window)) ||
      (st = jf_int(d, map, "max_window_layers", 0, &max_layers, &at_max)))
    return st;
  if (!use || !at_window) return TPS_OK;
  if (at_max && max_layers > 0 && max_layers < m->layers) {
    io_doc_fail(d, at_max, TPS_EUNSUPPORTED,
                "'max_window_layers' is %" PRId64 " of %" PRId64 " layers: a mix of sliding-window "
                "and full-attention layers is not modelled",
                max_layers, m->layers);
    io_doc_hint(d, "tp-sim models a sliding window on every layer, or on none");
    return TPS_EUNSUPPORTED;
  }
  m->sliding_window = window;
  return TPS_OK;
}

static tps_status read_llama_decoder(io_doc *d, const yaml_node_t *map, const hf_arch *a,
                                     tps_module *m) {
  tps_status st;
  yaml_node_t *at_heads = NULL, *at_kv = NULL, *at_hd = NULL;
  m->type = TPS_MODULE_DECODER;
  m->vocab = a->vocab;
  m->hidden = a->hidden;
  m->ffn = a->ffn;
  m->layers = a->layers;
  m->heads = a->heads;
  m->max_position = 0;
  m->tied_embeddings = a->tied;
  m->qkv_bias = a->qkv_bias;
  m->bias = a->bias;
  bool mlp_bias = a->bias;
  if ((st = jf_int(d, map, "vocab_size", 1, &m->vocab, NULL)) ||
      (st = jf_int(d, map, "hidden_size", 1, &m->hidden, NULL)) ||
      (st = jf_int(d, map, "intermediate_size", 1, &m->ffn, NULL)) ||
      (st = jf_layers(d, map, "num_hidden_layers", &m->layers)) ||
      (st = jf_int(d, map, "num_attention_heads", 1, &m->heads, &at_heads)))
    return st;
  m->kv_heads = a->kv_heads ? a->kv_heads : m->heads;
  if ((st = jf_int(d, map, "num_key_value_heads", 1, &m->kv_heads, &at_kv)) ||
      (st = jf_int(d, map, "head_dim", 1, &m->head_dim, &at_hd)) ||
      (st = jf_bool(d, map, "tie_word_embeddings", &m->tied_embeddings)))
    return st;
  if (a->family == HF_LLAMA && strcmp(a->model_type, "llama") == 0) {
    /* LlamaConfig: attention_bias covers q/k/v (and o_proj: not modelled
     * separately, docs/ecosystem.md); mlp_bias the MLP. */
    if ((st = jf_bool(d, map, "attention_bias", &m->qkv_bias)) ||
        (st = jf_bool(d, map, "mlp_bias", &mlp_bias)))
      return st;
    m->bias = mlp_bias;
  }
  if ((st = read_sliding_window(d, map, m))) return st;
  m->mlp = TPS_MLP_SWIGLU; /* gated MLP: gate, up, down (hidden_act silu) */
  m->norm = TPS_NORM_RMSNORM;
  m->position = TPS_POSITION_ROPE;
  const yaml_node_t *at = at_kv ? at_kv : at_heads ? at_heads : map;
  if (at_hd && m->head_dim * m->heads == m->hidden) at_hd = NULL; /* the usual value */
  return check_attention(d, at_hd ? at_hd : at, m, at_hd != NULL, "num_attention_heads",
                         "hidden_size");
}

/* An integer field a family requires (no default is assumed for it). */
static tps_status jf_need_int(io_doc *d, const yaml_node_t *map, const char *key, int64_t min,
                              int64_t *out, const hf_arch *a) {
  yaml_node_t *at = NULL;
  tps_status st = jf_int(d, map, key, min, out, &at);
  if (st || at) return st;
  io_doc_fail(d, map, TPS_EMISSINGKEY, "missing key '%s' in the config (%s reads it)", key, a->arch);
  io_doc_hint(d, "a published %s config.json gives '%s'", a->arch, key);
  return TPS_EMISSINGKEY;
}

/* The expert and MLA fields of the MoE families, on top of the Llama-style
 * decoder already read into m (docs/ecosystem.md, "Hugging Face
 * config.json"). Mixtral: every MLP is num_local_experts experts of
 * intermediate_size (transformers modeling_mixtral.py). Qwen2-MoE /
 * Qwen3-MoE: every decoder_sparse_step-th layer, but those in
 * mlp_only_layers, has num_experts experts of moe_intermediate_size;
 * Qwen2-MoE adds a shared expert of shared_expert_intermediate_size behind
 * a sigmoid gate (modeling_qwen2_moe.py). DeepSeek: layers from
 * first_k_dense_replace on, every moe_layer_freq-th, have n_routed_experts
 * experts plus n_shared_experts of moe_intermediate_size; MLA attention;
 * num_nextn_predict_layers MTP modules (modeling_deepseek.py). */
static tps_status read_moe(io_doc *d, const yaml_node_t *map, const hf_arch *a, tps_module *m) {
  tps_status st;
  m->router_score = TPS_ROUTER_SOFTMAX;
  m->moe_layer_freq = 1;
  if ((st = jf_need_int(d, map, "num_experts_per_tok", 1, &m->experts_per_token, a))) return st;
  if (a->family == HF_MIXTRAL) {
    if ((st = jf_need_int(d, map, "num_local_experts", 1, &m->experts, a))) return st;
    m->expert_ffn = m->ffn;
  } else if (a->family == HF_QWEN_MOE) {
    int64_t step = 1;
    yaml_node_t *at_step = NULL;
    if ((st = jf_need_int(d, map, "num_experts", 1, &m->experts, a)) ||
        (st = jf_need_int(d, map, "moe_intermediate_size", 1, &m->expert_ffn, a)) ||
        (st = jf_int(d, map, "decoder_sparse_step", 1, &step, &at_step)))
      return st;
    if (step != 1) {
      io_doc_fail(d, at_step, TPS_EUNSUPPORTED,
                  "'decoder_sparse_step' is %" PRId64 ": only 1 (every layer MoE) is modelled", step);
      io_doc_hint(d, "every published Qwen2-MoE / Qwen3-MoE config.json has 1");
      return TPS_EUNSUPPORTED;
    }
    yaml_node_t *only = jf_field(d, map, "mlp_only_layers");
    if (only && (only->type != YAML_SEQUENCE_NODE || io_seq_len(only) > 0)) {
      io_doc_fail(d, only, TPS_EUNSUPPORTED,
                  "'mlp_only_layers' lists dense layers: only [] (every layer MoE) is modelled");
      return TPS_EUNSUPPORTED;
    }
    if (strcmp(a->model_type, "qwen2_moe") == 0) {
      if ((st = jf_need_int(d, map, "shared_expert_intermediate_size", 0, &m->shared_expert_ffn,
                            a)))
        return st;
      m->shared_expert_gate = m->shared_expert_ffn > 0;
    } else {
      /* Qwen3MoeConfig: attention_bias=False covers q/k/v and o */
      if ((st = jf_bool(d, map, "attention_bias", &m->qkv_bias))) return st;
      m->bias = false;
    }
  } else { /* HF_DEEPSEEK */
    int64_t shared = 0;
    yaml_node_t *q = jf_field(d, map, "q_lora_rank"); /* null: q projected directly (V2-Lite) */
    if ((st = jf_need_int(d, map, "n_routed_experts", 1, &m->experts, a)) ||
        (st = jf_need_int(d, map, "moe_intermediate_size", 1, &m->expert_ffn, a)) ||
        (st = jf_int(d, map, "n_shared_experts", 0, &shared, NULL)) ||
        (st = jf_int(d, map, "first_k_dense_replace", 0, &m->first_dense_layers, NULL)) ||
        (st = jf_int(d, map, "moe_layer_freq", 1, &m->moe_layer_freq, NULL)) ||
        (st = jf_need_int(d, map, "kv_lora_rank", 1, &m->kv_lora_rank, a)) ||
        (st = jf_need_int(d, map, "qk_nope_head_dim", 1, &m->qk_nope_head_dim, a)) ||
        (st = jf_need_int(d, map, "qk_rope_head_dim", 1, &m->qk_rope_head_dim, a)) ||
        (st = jf_need_int(d, map, "v_head_dim", 1, &m->v_head_dim, a)) ||
        (st = jf_int(d, map, "num_nextn_predict_layers", 0, &m->mtp_layers, NULL)) ||
        (q && (st = jf_int(d, map, "q_lora_rank", 1, &m->q_lora_rank, NULL))))
      return st;
    if (__builtin_mul_overflow(shared, m->expert_ffn, &m->shared_expert_ffn))
      return io_doc_fail(d, jf_field(d, map, "n_shared_experts"), TPS_ERANGE,
                         "'n_shared_experts' x 'moe_intermediate_size' does not fit a 64-bit count");
    yaml_node_t *score = jf_field(d, map, "scoring_func");
    if (score && score->type == YAML_SCALAR_NODE) {
      const char *v = (const char *)score->data.scalar.value;
      if (strcmp(v, "sigmoid") == 0) m->router_score = TPS_ROUTER_SIGMOID;
      else if (strcmp(v, "softmax") != 0)
        return io_doc_fail(d, score, TPS_EINVAL,
                           "'scoring_func' must be softmax or sigmoid, got '%.40s'", v);
    }
    yaml_node_t *method = jf_field(d, map, "topk_method");
    m->router_bias = method && method->type == YAML_SCALAR_NODE &&
                     strcmp((const char *)method->data.scalar.value, "noaux_tc") == 0;
    m->kv_heads = m->heads;
    m->head_dim = m->qk_nope_head_dim + m->qk_rope_head_dim;
  }
  if (m->experts_per_token > m->experts)
    return io_doc_fail(d, jf_field(d, map, "num_experts_per_tok"), TPS_ERANGE,
                       "'num_experts_per_tok' (%" PRId64 ") is above the experts (%" PRId64 ")",
                       m->experts_per_token, m->experts);
  return TPS_OK;
}

static tps_status read_gpt2(io_doc *d, const yaml_node_t *map, const hf_arch *a,
                            tps_module *m) {
  tps_status st;
  yaml_node_t *at_heads = NULL;
  m->type = TPS_MODULE_DECODER;
  m->vocab = a->vocab;
  m->hidden = a->hidden;
  m->layers = a->layers;
  m->heads = a->heads;
  m->max_position = a->max_position;
  m->tied_embeddings = a->tied;
  m->ffn = 0;
  if ((st = jf_int(d, map, "vocab_size", 1, &m->vocab, NULL)) ||
      (st = jf_int(d, map, "n_embd", 1, &m->hidden, NULL)) ||
      (st = jf_layers(d, map, "n_layer", &m->layers)) ||
      (st = jf_int(d, map, "n_head", 1, &m->heads, &at_heads)) ||
      (st = jf_int(d, map, "n_positions", 1, &m->max_position, NULL)) ||
      (st = jf_int(d, map, "n_inner", 1, &m->ffn, NULL)) ||
      (st = jf_bool(d, map, "tie_word_embeddings", &m->tied_embeddings)))
    return st;
  if (m->ffn == 0) m->ffn = 4 * m->hidden; /* n_inner=None */
  m->kv_heads = m->heads;
  m->mlp = TPS_MLP_GELU;
  m->norm = TPS_NORM_LAYERNORM;
  m->position = TPS_POSITION_LEARNED;
  m->qkv_bias = true;
  m->bias = true;
  return check_attention(d, at_heads ? at_heads : map, m, false, "n_head", "n_embd");
}

/* Qwen2.5-VL vision_config: the ViT and its patch merger (projector). */
static tps_status read_qwen25vl_vision(io_doc *d, const yaml_node_t *root, tps_module *vit,
                                       tps_module *proj, int64_t text_hidden) {
  tps_status st;
  yaml_node_t *vc = jf_field(d, root, "vision_config");
  if (vc && (st = io_node_expect_map(d, vc, "'vision_config'"))) return st;
  int64_t window_px = VIS_WINDOW_PX, merge = VIS_MERGE, out = VIS_OUT;
  yaml_node_t *at_heads = NULL, *at_window = NULL, *at_out = NULL, *at_patch = NULL,
              *at_temporal = NULL, *at_merge = NULL;
  vit->type = TPS_MODULE_VIT;
  snprintf(vit->name, sizeof vit->name, "vision_encoder");
  vit->layers = VIS_DEPTH;
  vit->hidden = VIS_HIDDEN;
  vit->ffn = VIS_FFN;
  vit->heads = VIS_HEADS;
  vit->in_channels = VIS_IN_CHANNELS;
  vit->patch = VIS_PATCH;
  vit->temporal_patch = VIS_TEMPORAL;
  if (vc) {
    if ((st = jf_layers(d, vc, "depth", &vit->layers)) ||
        (st = jf_int(d, vc, "hidden_size", 1, &vit->hidden, NULL)) ||
        (st = jf_int(d, vc, "intermediate_size", 1, &vit->ffn, NULL)) ||
        (st = jf_int(d, vc, "num_heads", 1, &vit->heads, &at_heads)) ||
        (st = jf_int(d, vc, "in_chans", 1, &vit->in_channels, NULL)) ||
        (st = jf_int(d, vc, "in_channels", 1, &vit->in_channels, NULL)) ||
        (st = jf_int(d, vc, "patch_size", 1, &vit->patch, &at_patch)) ||
        (st = jf_int(d, vc, "temporal_patch_size", 1, &vit->temporal_patch, &at_temporal)) ||
        (st = jf_int(d, vc, "spatial_merge_size", 1, &merge, &at_merge)) ||
        (st = jf_int(d, vc, "window_size", 0, &window_px, &at_window)) ||
        (st = jf_int(d, vc, "out_hidden_size", 1, &out, &at_out)))
      return st;
  }
  /* Products the lowering stores as 64-bit counts: the pixels of one patch
   * and the merger's width (hidden x merge^2). */
  int64_t prod;
  if (__builtin_mul_overflow(vit->in_channels, vit->temporal_patch, &prod) ||
      __builtin_mul_overflow(prod, vit->patch, &prod) ||
      __builtin_mul_overflow(prod, vit->patch, &prod)) {
    io_doc_fail(d, at_temporal ? at_temporal : at_patch ? at_patch : root, TPS_ERANGE,
                "'in_chans' x 'temporal_patch_size' x 'patch_size'^2 = %" PRId64 " x %" PRId64
                " x %" PRId64 "^2 does not fit a 64-bit count",
                vit->in_channels, vit->temporal_patch, vit->patch);
    io_doc_hint(d, "Qwen2.5-VL has patch_size 14 and temporal_patch_size 2");
    return TPS_ERANGE;
  }
  if (__builtin_mul_overflow(merge, merge, &prod) ||
      __builtin_mul_overflow(prod, vit->hidden, &prod))
    return io_doc_fail(d, at_merge ? at_merge : root, TPS_ERANGE,
                       "vision 'hidden_size' x 'spatial_merge_size'^2 = %" PRId64 " x %" PRId64
                       "^2 does not fit a 64-bit count",
                       vit->hidden, merge);
  vit->kv_heads = vit->heads;
  vit->mlp = TPS_MLP_SWIGLU; /* Qwen2_5_VLMLP: gate/up/down, silu */
  vit->norm = TPS_NORM_RMSNORM;
  vit->bias = true;          /* qkv, proj and MLP linears carry biases */
  vit->qkv_bias = true;
  vit->tokens = TPS_HF_VISION_TOKENS_DEFAULT;
  if ((st = check_attention(d, at_heads ? at_heads : (vc ? vc : root), vit, false,
                            "num_heads", "hidden_size")))
    return st;
  if (window_px % vit->patch != 0)
    return io_doc_fail(d, at_window ? at_window : root, TPS_ERANGE,
                        "'window_size' (%" PRId64 " pixels) is not a multiple of "
                        "'patch_size' (%" PRId64 ")",
                        window_px, vit->patch);
  vit->window = (window_px / vit->patch) * (window_px / vit->patch); /* patches */
  /* fullatt_block_indexes */
  yaml_node_t *fa = vc ? jf_field(d, vc, "fullatt_block_indexes") : NULL;
  if (fa) {
    int len = io_seq_len(fa);
    if (fa->type != YAML_SEQUENCE_NODE || len > TPS_MAX_FULL_ATTN)
      return io_doc_fail(d, fa, TPS_ETYPE,
                          "'fullatt_block_indexes' must be a list of at most %d block indices",
                          TPS_MAX_FULL_ATTN);
    for (int i = 0; i < len; i++) {
      yaml_node_t *e = io_seq_at(d, fa, i);
      int64_t b;
      if ((st = io_node_int(d, e, "each entry of 'fullatt_block_indexes'", 0,
                             vit->layers - 1, &b)))
        return st;
      if (i > 0 && b <= vit->full_attention_blocks[i - 1])
        return io_doc_fail(d, e, TPS_ERANGE, "'fullatt_block_indexes' must increase");
      vit->full_attention_blocks[i] = b;
    }
    vit->n_full_attention_blocks = len;
  } else {
    int n = 0;
    const int n_default = (int)(sizeof vis_full_attention / sizeof vis_full_attention[0]);
    for (int i = 0; i < n_default; i++)
      if (vis_full_attention[i] < vit->layers)
        vit->full_attention_blocks[n++] = vis_full_attention[i];
    vit->n_full_attention_blocks = n;
  }
  if (out != text_hidden)
    return io_doc_fail(d, at_out ? at_out : root, TPS_ERANGE,
                        "vision 'out_hidden_size' (%" PRId64 ") must equal the text "
                        "'hidden_size' (%" PRId64 ")",
                        out, text_hidden);
  /* Qwen2_5_VLPatchMerger: RMSNorm(hidden), merge merge^2 patches, Linear
   * (hidden*merge^2 -> same) + GELU + Linear (-> out_hidden_size). */
  proj->type = TPS_MODULE_PROJECTOR;
  snprintf(proj->name, sizeof proj->name, "projector");
  proj->layers = 1;
  proj->hidden = vit->hidden;
  proj->spatial_merge = merge;
  proj->ffn = vit->hidden * merge * merge;
  proj->output = out;
  proj->mlp = TPS_MLP_GELU;
  proj->norm = TPS_NORM_RMSNORM;
  proj->bias = true;
  proj->qkv_bias = false; /* no attention */
  return TPS_OK;
}

/* Model name: the last component of _name_or_path, else the directory
 * holding the file, else the file name without .json. */
static void model_name(io_doc *d, const yaml_node_t *root, const char *path, char *out,
                       size_t size) {
  yaml_node_t *n = jf_field(d, root, "_name_or_path");
  char buf[512] = "";
  if (n && n->type == YAML_SCALAR_NODE)
    snprintf(buf, sizeof buf, "%s", (const char *)n->data.scalar.value);
  size_t len = strlen(buf);
  while (len > 0 && buf[len - 1] == '/') buf[--len] = '\0';
  if (len == 0) {
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    const char *file = slash ? slash + 1 : buf;
    if (slash && strcmp(file, "config.json") == 0) {
      *slash = '\0';
    } else {
      size_t fl = strlen(file);
      if (fl > 5 && strcmp(file + fl - 5, ".json") == 0) buf[strlen(buf) - 5] = '\0';
    }
  }
  const char *base = strrchr(buf, '/');
  base = base ? base + 1 : buf;
  if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) base = "hf-model";
  snprintf(out, size, "%.*s", (int)size - 1, base);
}

/* Never hand back half a model: all but the path is cleared. */
tps_status tps_hf_config_load(const char *path, tps_model *model, tps_error *err) {
  return tps_hf_config_read(path, model, NULL, err);
}

tps_status tps_hf_config_read(const char *path, tps_model *model, tps_eco_unresolved *notes,
                              tps_error *err) {
  io_doc d;
  tps_status st;
  if (!model) return tps_error_set(err, TPS_EINVAL, path ? path : "", 0, 0, "no model to fill");
  memset(model, 0, sizeof *model);
  memset(&d, 0, sizeof d);
  yaml_node_t *root = NULL;
  st = jf_open(&d, path, "a Hugging Face config.json", &root, err);
  if (st && !d.loaded) return st;
  snprintf(model->path, sizeof model->path, "%s", path);
  if (!st && io_mm_layout(&d, root)) {
    /* A MindSpeed-MM model JSON (mm_model.c). */
    st = io_mm_model_read(&d, root, path, model);
    io_doc_free(&d);
    if (st) io_model_clear(model);
    return st;
  }
  const hf_arch *a = NULL;
  if (!st && !(st = find_arch(&d, root, &a)))
    st = jf_plain_text(&d, jf_field(&d, root, "_name_or_path")); /* the model's name */
  /* Newer transformers write the text fields of a VLM under text_config. */
  yaml_node_t *text = root;
  if (!st && a->family == HF_QWEN25VL) {
    yaml_node_t *tc = jf_field(&d, root, "text_config");
    if (tc && !(st = io_node_expect_map(&d, tc, "'text_config'"))) text = tc;
  }
  if (notes) tps_eco_unresolved_init(notes);
  if (!st) st = classify_keys(&d, root, a, notes);
  if (!st && text != root) st = classify_keys(&d, text, a, notes);
  if (!st) {
    tps_module *dec;
    if (a->family == HF_QWEN25VL) {
      dec = &model->modules[2];
      st = read_llama_decoder(&d, text, a, dec);
      if (!st) st = read_qwen25vl_vision(&d, root, &model->modules[0], &model->modules[1],
                                         dec->hidden);
      snprintf(dec->name, sizeof dec->name, "language_model");
      model->n_modules = 3;
    } else {
      dec = &model->modules[0];
      st = a->family == HF_GPT2 ? read_gpt2(&d, root, a, dec)
                                : read_llama_decoder(&d, root, a, dec);
      if (!st && (a->family == HF_MIXTRAL || a->family == HF_QWEN_MOE ||
                  a->family == HF_DEEPSEEK))
        st = read_moe(&d, root, a, dec);
      snprintf(dec->name, sizeof dec->name, "decoder");
      model->n_modules = 1;
    }
  }
  if (!st) {
    model_name(&d, root, path, model->name, sizeof model->name);
    snprintf(model->source, sizeof model->source,
             "Hugging Face config.json (%s; fields left out take the transformers %s "
             "defaults): %.700s",
             a->arch, a->config_class, path);
    tps_training_defaults(&model->training);
    /* A config.json carries no recipe: train it as current Megatron recipes
     * do rather than with one micro-batch per step and unsharded Adam
     * state: the distributed optimizer on and 128 sequences per step
     * (Megatron-LM examples/llama/train_llama3_8b_h100_fp8.sh and NeMo's
     * Llama-3 8B recipe: --use-distributed-optimizer, global batch 128).
     * Every run option overrides them; the header names them. */
    model->training.distributed_optimizer = true;
    model->training.global_batch = 128;
  }
  io_doc_free(&d);
  if (st && notes) tps_eco_unresolved_init(notes);
  if (st) io_model_clear(model);
  return st;
}
