/* Loading a model file (docs/schema.md, "Model file").
 *
 * Order of work: the top-level keys, then each module (its type first, since
 * the type decides which keys apply), then `training:` (whose
 * pipeline_layers refers to the modules), then defaults that derive from
 * other keys and the checks across keys. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/limits.h"
#include "io/yaml_doc.h"
#include "tpsim/ecosystem.h"
#include "tpsim/io.h"

#define D (1u << TPS_MODULE_DECODER)
#define V (1u << TPS_MODULE_VIT)
#define P (1u << TPS_MODULE_PROJECTOR)
#define ALL IO_VARIANT_ALL
#define CMAX IO_COUNT_MAX

_Static_assert(sizeof(tps_module_type) == sizeof(int), "enums are int-sized");
_Static_assert(sizeof(tps_precision) == sizeof(int), "enums are int-sized");
_Static_assert(sizeof(tps_fp8_format) == sizeof(int), "enums are int-sized");
_Static_assert(sizeof(tps_cross_entropy) == sizeof(int), "enums are int-sized");

/* Top level of a model file. */
enum { TOP_NAME, TOP_SOURCE, TOP_HW, TOP_MODULES, TOP_TRAINING, TOP_N };
static const io_key top_keys[TOP_N] = {
    [TOP_NAME] = {.name = "name", .type = IO_KEY_STRING,
                  .offset = offsetof(tps_model, name), .size = TPS_NAME_MAX,
                  .applies = ALL, .required = ALL, .help = "model name"},
    [TOP_SOURCE] = {.name = "source", .type = IO_KEY_STRING,
                    .offset = offsetof(tps_model, source), .size = TPS_SOURCE_MAX,
                    .applies = ALL, .required = ALL,
                    .help = "where the figures come from"},
    [TOP_HW] = {.name = "hw", .type = IO_KEY_STRING,
                .offset = offsetof(tps_model, default_hw), .size = TPS_NAME_MAX,
                .applies = ALL, .help = "default hardware profile"},
    [TOP_MODULES] = {.name = "modules", .type = IO_KEY_NODE, .applies = ALL,
                     .required = ALL, .help = "list of 1 to 8 modules"},
    [TOP_TRAINING] = {.name = "training", .type = IO_KEY_NODE, .applies = ALL,
                      .help = "training defaults"},
};

/* One module; `applies`/`required` are bits of the module type. */
#define MOD_INT(key, lo, app, req, dflt, text)                                   \
  {.name = #key, .type = IO_KEY_INT, .offset = offsetof(tps_module, key),        \
   .min = lo, .max = CMAX, .def = dflt, .applies = app, .required = req,         \
   .help = text}
#define MOD_BOOL(key, app, text)                                                 \
  {.name = #key, .type = IO_KEY_BOOL, .offset = offsetof(tps_module, key),       \
   .applies = app, .help = text}
#define MOD_ENUM(key, names, app, req, text)                                     \
  {.name = #key, .type = IO_KEY_ENUM, .offset = offsetof(tps_module, key),       \
   .choices = names, .applies = app, .required = req, .help = text}

enum {
  M_NAME, M_TYPE, M_LAYERS, M_HIDDEN, M_HEADS, M_KV_HEADS, M_HEAD_DIM, M_FFN,
  M_MLP, M_NORM, M_BIAS, M_QKV_BIAS, M_DROPOUT, M_FROZEN, M_VOCAB, M_TIED,
  M_POSITION, M_MAX_POSITION, M_PATCH, M_TEMPORAL_PATCH, M_IN_CHANNELS,
  M_TOKENS, M_WINDOW, M_FULL_ATTN, M_SPATIAL_MERGE, M_OUTPUT, M_SLIDING,
  /* mixture of experts, MLA, MTP (decoder); M_EXPERTS first, M_MTP last */
  M_EXPERTS, M_TOPK, M_EXPERT_FFN, M_SHARED_FFN, M_SHARED_GATE, M_ROUTER_SCORE,
  M_ROUTER_BIAS, M_MOE_FREQ, M_FIRST_DENSE, M_Q_LORA, M_KV_LORA, M_QK_NOPE, M_QK_ROPE,
  M_V_HEAD, M_MTP, M_N
};
static const io_key module_keys[M_N] = {
    [M_NAME] = {.name = "name", .type = IO_KEY_STRING,
                .offset = offsetof(tps_module, name), .size = TPS_NAME_MAX,
                .applies = ALL, .required = ALL, .help = "module name"},
    [M_TYPE] = MOD_ENUM(type, tps_module_type_names, ALL, ALL,
                        "decoder, vit or projector"),
    [M_LAYERS] = MOD_INT(layers, 1, ALL, D | V, 1, "transformer blocks"),
    [M_HIDDEN] = MOD_INT(hidden, 1, ALL, ALL, 0, "model width h"),
    [M_HEADS] = MOD_INT(heads, 1, D | V, D | V, 0, "attention heads"),
    [M_KV_HEADS] = MOD_INT(kv_heads, 1, D | V, 0, 0, "key/value heads (default: heads)"),
    [M_HEAD_DIM] = MOD_INT(head_dim, 1, D | V, 0, 0, "per-head width (default: hidden / heads)"),
    [M_FFN] = MOD_INT(ffn, 1, ALL, ALL, 0, "MLP inner width"),
    [M_MLP] = MOD_ENUM(mlp, tps_mlp_names, ALL, ALL, "gelu or swiglu"),
    [M_NORM] = MOD_ENUM(norm, tps_norm_names, ALL, ALL, "layernorm or rmsnorm"),
    [M_BIAS] = MOD_BOOL(bias, ALL, "bias on linear layers other than QKV"),
    [M_QKV_BIAS] = MOD_BOOL(qkv_bias, D | V, "bias on the QKV projection (default: bias)"),
    [M_DROPOUT] = MOD_BOOL(dropout, ALL, "attention and hidden dropout"),
    [M_FROZEN] = MOD_BOOL(frozen, ALL, "no gradients or optimizer state"),
    [M_VOCAB] = MOD_INT(vocab, 1, D, D, 0, "vocabulary size before padding"),
    [M_TIED] = MOD_BOOL(tied_embeddings, D, "lm_head shares the embedding"),
    [M_POSITION] = MOD_ENUM(position, tps_position_names, D, D, "rope, learned or none"),
    [M_MAX_POSITION] = MOD_INT(max_position, 1, D, 0, 0, "rows of the learned position table"),
    [M_PATCH] = MOD_INT(patch, 1, V, V, 0, "patch side, pixels"),
    [M_TEMPORAL_PATCH] = MOD_INT(temporal_patch, 1, V, 0, 1, "frames per patch"),
    [M_IN_CHANNELS] = MOD_INT(in_channels, 1, V, 0, 3, "image channels"),
    [M_TOKENS] = MOD_INT(tokens, 1, V, V, 0, "patches per sample entering block 0"),
    [M_WINDOW] = MOD_INT(window, 0, V, 0, 0, "patches per attention window (0: all full)"),
    [M_FULL_ATTN] = {.name = "full_attention_blocks", .type = IO_KEY_NODE,
                     .applies = V, .help = "blocks (0-based) with full attention"},
    [M_SPATIAL_MERGE] = MOD_INT(spatial_merge, 1, P, 0, 1, "tokens merged per side"),
    [M_OUTPUT] = MOD_INT(output, 1, P, P, 0, "output width (the decoder's hidden)"),
    [M_SLIDING] = MOD_INT(sliding_window, 1, D, 0, 0,
                          "tokens each token attends to (sliding-window attention; absent: full)"),
    [M_EXPERTS] = MOD_INT(experts, 0, D, 0, 0, "routed experts per MoE layer (0: dense)"),
    [M_TOPK] = MOD_INT(experts_per_token, 1, D, 0, 0, "experts each token is routed to (top-k)"),
    [M_EXPERT_FFN] = MOD_INT(expert_ffn, 1, D, 0, 0, "inner width of one routed expert"),
    [M_SHARED_FFN] = MOD_INT(shared_expert_ffn, 0, D, 0, 0,
                             "inner width of the shared experts together (0: none)"),
    [M_SHARED_GATE] = MOD_BOOL(shared_expert_gate, D, "sigmoid gate on the shared experts"),
    [M_ROUTER_SCORE] = MOD_ENUM(router_score, tps_router_score_names, D, 0,
                                "softmax or sigmoid router scores"),
    [M_ROUTER_BIAS] = MOD_BOOL(router_bias, D, "per-expert router score bias"),
    [M_MOE_FREQ] = MOD_INT(moe_layer_freq, 1, D, 0, 1, "every N-th layer is MoE"),
    [M_FIRST_DENSE] = MOD_INT(first_dense_layers, 0, D, 0, 0, "first layers with a dense MLP"),
    [M_Q_LORA] = MOD_INT(q_lora_rank, 0, D, 0, 0, "MLA: query down-projection rank (0: none)"),
    [M_KV_LORA] = MOD_INT(kv_lora_rank, 0, D, 0, 0, "MLA: key/value compression rank (0: no MLA)"),
    [M_QK_NOPE] = MOD_INT(qk_nope_head_dim, 1, D, 0, 0, "MLA: per-head q/k width without RoPE"),
    [M_QK_ROPE] = MOD_INT(qk_rope_head_dim, 1, D, 0, 0, "MLA: per-head q/k RoPE width"),
    [M_V_HEAD] = MOD_INT(v_head_dim, 1, D, 0, 0, "MLA: per-head value width"),
    [M_MTP] = MOD_INT(mtp_layers, 0, D, 0, 0, "multi-token prediction modules (depth)"),
};

/* training: */
#define TR_INT(key, dflt, hi, text)                                              \
  {.name = #key, .type = IO_KEY_INT, .offset = offsetof(tps_training, key),      \
   .min = 1, .max = hi, .def = dflt, .applies = ALL, .help = text}
#define TR_BOOL(key, dflt, text)                                                 \
  {.name = #key, .type = IO_KEY_BOOL, .offset = offsetof(tps_training, key),     \
   .def = dflt, .applies = ALL, .help = text}

enum {
  T_SEQ_LEN, T_MEAN_SEQ_LEN, T_MICRO_BATCH, T_GLOBAL_BATCH, T_CARDS, T_TP, T_PP, T_VPP, T_DP,
  T_CP, T_CP_ALGO, T_ULYSSES, T_EP, T_ETP,
  T_PRECISION, T_FP8, T_CROSS_ENTROPY, T_DIST_OPT, T_RECOMPUTE, T_SP, T_FLASH, T_OVERLAP, T_TP_OVERLAP, T_GRAD_BF16, T_PARAM_GATHER, T_REUSE_FP32, T_RECOMPUTE_ACT,
  T_VOCAB_DIVISOR, T_MB_OVERHEAD, T_PIPELINE_LAYERS, T_N
};
static const io_key training_keys[T_N] = {
    [T_SEQ_LEN] = TR_INT(seq_len, TPS_DEFAULT_SEQ_LEN, CMAX, "decoder tokens per sample"),
    /* 0 = samples all seq_len long */
    [T_MEAN_SEQ_LEN] = TR_INT(mean_seq_len, 0, CMAX,
                              "mean decoder tokens per sample when lengths vary (<= seq_len)"),
    [T_MICRO_BATCH] = TR_INT(micro_batch, 1, CMAX, "samples per micro-batch"),
    /* 0 = derived at run time: micro_batch x dp */
    [T_GLOBAL_BATCH] = TR_INT(global_batch, 0, CMAX, "samples per step"),
    [T_CARDS] = TR_INT(cards, 8, CMAX, "devices in the job"),
    [T_TP] = TR_INT(tp, 1, CMAX, "tensor-parallel size"),
    /* 0 here; set to 1 or to the length of pipeline_layers below */
    [T_PP] = TR_INT(pp, 0, TPS_MAX_STAGES, "pipeline-parallel size"),
    [T_VPP] = TR_INT(vpp, 1, TPS_MAX_STAGES, "model chunks per pipeline stage (interleaved 1F1B)"),
    /* 0 = derived at run time: cards / (tp x pp) */
    [T_DP] = TR_INT(dp, 0, CMAX, "data-parallel size"),
    [T_CP] = TR_INT(cp, 1, 1024, "context-parallel size (each rank holds seq_len / cp tokens)"),
    [T_CP_ALGO] = {.name = "cp_algo", .type = IO_KEY_ENUM,
                   .offset = offsetof(tps_training, cp_algo),
                   .choices = tps_cp_algo_names, .def = TPS_CP_RING,
                   .applies = ALL, .help = "ring, ulysses or hybrid"},
    /* 0 when absent: only the hybrid needs it */
    [T_ULYSSES] = TR_INT(ulysses_degree, 0, 1024, "hybrid CP: Ulysses ranks inside CP"),
    /* 0 when absent: EP 1, expert TP = TP */
    [T_EP] = TR_INT(ep, 0, CMAX, "expert-parallel size (routed experts over EP ranks)"),
    [T_ETP] = TR_INT(etp, 0, CMAX, "expert tensor-parallel size (default: tp)"),
    [T_PRECISION] = {.name = "precision", .type = IO_KEY_ENUM,
                     .offset = offsetof(tps_training, precision),
                     .choices = tps_precision_names, .def = TPS_PRECISION_BF16,
                     .applies = ALL, .help = "bf16, fp16 or fp32"},
    [T_FP8] = {.name = "fp8", .type = IO_KEY_ENUM, .offset = offsetof(tps_training, fp8),
               .choices = tps_fp8_format_names, .def = TPS_FP8_NONE, .applies = ALL,
               .help = "FP8 training (Transformer Engine): none, e4m3 or hybrid"},
    [T_CROSS_ENTROPY] = {.name = "cross_entropy", .type = IO_KEY_ENUM,
                         .offset = offsetof(tps_training, cross_entropy),
                         .choices = tps_cross_entropy_names, .def = TPS_CE_MEGATRON,
                         .applies = ALL,
                         .help = "the loss's implementation: megatron (fp32 softmax and working copies) or te (Transformer Engine's, in the logits)"},
    [T_DIST_OPT] = TR_BOOL(distributed_optimizer, 0, "shard optimizer state over DP"),
    [T_RECOMPUTE] = {.name = "recompute", .type = IO_KEY_ENUM,
                     .offset = offsetof(tps_training, recompute),
                     .choices = tps_recompute_names, .def = TPS_RECOMPUTE_NONE,
                     .applies = ALL, .help = "none, selective or full"},
    [T_SP] = TR_BOOL(sp, 0, "sequence parallelism"),
    [T_FLASH] = TR_BOOL(flash_attention, 1, "fused attention"),
    [T_OVERLAP] = TR_BOOL(overlap_grad_reduce, 0, "DP reduction overlaps backward"),
    [T_TP_OVERLAP] = TR_BOOL(tp_comm_overlap, 0, "TP collectives overlap their GEMMs (needs sp)"),
    [T_REUSE_FP32] = TR_BOOL(reuse_fp32_param, 0, "master weights kept as bf16 weights + a residual (MindSpeed; bf16 only)"),
    [T_RECOMPUTE_ACT] = TR_BOOL(recompute_activation, 0, "MLP activation re-run in backward (MindSpeed)"),
    [T_PARAM_GATHER] = TR_BOOL(overlap_param_gather, 0, "distributed optimizer's weight all-gather overlaps forward"),
    [T_GRAD_BF16] = TR_BOOL(grad_reduce_bf16, 0, "gradients kept and reduced in bf16, not fp32 (bf16 only)"),
    [T_VOCAB_DIVISOR] = TR_INT(vocab_divisor, TPS_DEFAULT_VOCAB_DIVISOR, CMAX,
                               "vocabulary padded to a multiple of divisor x tp"),
    /* 0 when absent (min 0: zero allowed) */
    [T_MB_OVERHEAD] = {.name = "micro_batch_overhead", .type = IO_KEY_QUANTITY,
                       .offset = offsetof(tps_training, micro_batch_overhead_s),
                       .quantity = "time", .min = 0, .applies = ALL,
                       .help = "host-side time per micro-batch on every stage"},
    [T_PIPELINE_LAYERS] = {.name = "pipeline_layers", .type = IO_KEY_NODE,
                           .applies = ALL,
                           .help = "layers of each module on each stage"},
};

/* Where a module is in messages: "module 'vit'" or "module 2" (1-based)
 * while its name is unknown. */
static void module_where(io_doc *d, const yaml_node_t *mn, int index, char *buf,
                         size_t size) {
  yaml_node_t *name = io_map_get(d, mn, "name");
  if (name && name->type == YAML_SCALAR_NODE && name->data.scalar.length > 0 &&
      name->data.scalar.length < TPS_NAME_MAX)
    snprintf(buf, size, "module '%s'", (const char *)name->data.scalar.value);
  else
    snprintf(buf, size, "module %d", index + 1);
}

static tps_status read_full_attention(io_doc *d, const yaml_node_t *n,
                                      tps_module *m) {
  if (!n || n->type != YAML_SEQUENCE_NODE) {
    char got[64];
    io_node_desc(n, got, sizeof got);
    return io_doc_fail(d, n, TPS_ETYPE,
                        "'full_attention_blocks' must be a list of block indices, got %s",
                        got);
  }
  int len = io_seq_len(n);
  if (len > TPS_MAX_FULL_ATTN)
    return io_doc_fail(d, n, TPS_ERANGE,
                        "'full_attention_blocks' has %d entries; at most %d are allowed",
                        len, TPS_MAX_FULL_ATTN);
  for (int i = 0; i < len; i++) {
    yaml_node_t *e = io_seq_at(d, n, i);
    int64_t b;
    tps_status st = io_node_int(d, e, "each entry of 'full_attention_blocks'", 0,
                                 CMAX, &b);
    if (st) return st;
    if (b >= m->layers)
      return io_doc_fail(d, e, TPS_ERANGE,
                          "'full_attention_blocks' entry %" PRId64
                          " is not a block of %" PRId64 "-layer module '%s' (0..%" PRId64 ")",
                          b, m->layers, m->name, m->layers - 1);
    if (i > 0 && b <= m->full_attention_blocks[i - 1])
      return io_doc_fail(d, e, TPS_ERANGE,
                          "'full_attention_blocks' must increase, got %" PRId64
                          " after %" PRId64,
                          b, m->full_attention_blocks[i - 1]);
    m->full_attention_blocks[i] = b;
    m->n_full_attention_blocks = i + 1;
  }
  return TPS_OK;
}

/* A key given that only means something with `needs` (also given and
 * non-zero): refused by name. */
static tps_status needs_key(io_doc *d, yaml_node_t **f, int key, int needs, bool on,
                            const char *where) {
  if (!f[key] || on) return TPS_OK;
  io_doc_fail(d, f[key], TPS_EINVAL, "'%s' needs '%s' in %s", module_keys[key].name,
              module_keys[needs].name, where);
  io_doc_hint(d, "give '%s' (> 0), or drop '%s'", module_keys[needs].name,
              module_keys[key].name);
  return TPS_EINVAL;
}

/* Mixture of experts, MLA and MTP keys of a decoder: what each needs, and
 * MLA's attention shape (kv_heads = heads, head_dim = nope + rope). */
static tps_status finish_moe_mla(io_doc *d, const yaml_node_t *mn, yaml_node_t **f,
                                 tps_module *m, const char *where) {
  tps_status st;
  static const int moe_keys[] = {M_TOPK, M_EXPERT_FFN, M_SHARED_FFN, M_SHARED_GATE,
                                 M_ROUTER_SCORE, M_ROUTER_BIAS, M_MOE_FREQ, M_FIRST_DENSE};
  for (size_t i = 0; i < sizeof moe_keys / sizeof moe_keys[0]; i++)
    if ((st = needs_key(d, f, moe_keys[i], M_EXPERTS, m->experts > 0, where))) return st;
  if (m->experts > 0) {
    static const int required[] = {M_TOPK, M_EXPERT_FFN};
    for (int i = 0; i < 2; i++)
      if (!f[required[i]]) {
        io_doc_fail(d, f[M_EXPERTS], TPS_EMISSINGKEY, "missing key '%s' in %s (it has experts)",
                    module_keys[required[i]].name, where);
        return TPS_EMISSINGKEY;
      }
    if (m->experts_per_token > m->experts)
      return io_doc_fail(d, f[M_TOPK], TPS_ERANGE,
                         "'experts_per_token' (%" PRId64 ") is above 'experts' (%" PRId64 ") in %s",
                         m->experts_per_token, m->experts, where);
    if (m->shared_expert_gate && m->shared_expert_ffn == 0)
      return needs_key(d, f, M_SHARED_GATE, M_SHARED_FFN, false, where);
  }
  static const int mla_keys[] = {M_Q_LORA, M_QK_NOPE, M_QK_ROPE, M_V_HEAD};
  for (size_t i = 0; i < sizeof mla_keys / sizeof mla_keys[0]; i++)
    if ((st = needs_key(d, f, mla_keys[i], M_KV_LORA, m->kv_lora_rank > 0, where))) return st;
  if (m->kv_lora_rank > 0) {
    for (size_t i = 1; i < sizeof mla_keys / sizeof mla_keys[0]; i++)
      if (!f[mla_keys[i]]) {
        io_doc_fail(d, f[M_KV_LORA], TPS_EMISSINGKEY,
                    "missing key '%s' in %s (multi-head latent attention)",
                    module_keys[mla_keys[i]].name, where);
        return TPS_EMISSINGKEY;
      }
    if (f[M_KV_HEADS] && m->kv_heads != m->heads)
      return io_doc_fail(d, f[M_KV_HEADS], TPS_EINVAL,
                         "'kv_heads' must equal 'heads' under multi-head latent attention "
                         "(every head has its own keys and values) in %s", where);
    m->kv_heads = m->heads;
    if (!f[M_HEAD_DIM]) m->head_dim = m->qk_nope_head_dim + m->qk_rope_head_dim;
    if (m->position != TPS_POSITION_ROPE)
      return io_doc_fail(d, f[M_KV_LORA], TPS_EINVAL,
                         "multi-head latent attention needs 'position: rope' in %s", where);
  }
  (void)mn;
  return TPS_OK;
}

/* Defaults that depend on other keys, and checks across keys of a module. */
static tps_status finish_module(io_doc *d, const yaml_node_t *mn,
                                yaml_node_t **f, tps_module *m,
                                const char *where) {
  tps_status st;
  if (m->layers > IO_LAYERS_MAX) {
    io_doc_fail(d, f[M_LAYERS], TPS_ERANGE, "'layers' must be at most %lld, got '%" PRId64 "'",
                 IO_LAYERS_MAX, m->layers);
    io_doc_hint(d, "the simulator keeps one record per layer; real models have a few hundred");
    return TPS_ERANGE;
  }
  /* Products the lowering stores as 64-bit counts (it refuses them too;
   * here the error points at the key). */
  int64_t prod;
  if (m->type == TPS_MODULE_VIT &&
      (__builtin_mul_overflow(m->in_channels, m->temporal_patch, &prod) ||
       __builtin_mul_overflow(prod, m->patch, &prod) ||
       __builtin_mul_overflow(prod, m->patch, &prod))) {
    io_doc_fail(d, f[M_TEMPORAL_PATCH] ? f[M_TEMPORAL_PATCH] : f[M_PATCH], TPS_ERANGE,
                "in_channels x temporal_patch x patch^2 = %" PRId64 " x %" PRId64 " x %" PRId64
                "^2 does not fit a 64-bit count in %s",
                m->in_channels, m->temporal_patch, m->patch, where);
    io_doc_hint(d, "'patch' is the side of a patch in pixels (Qwen2.5-VL: 14), "
                   "'temporal_patch' the frames per patch (2)");
    return TPS_ERANGE;
  }
  if (m->type == TPS_MODULE_PROJECTOR &&
      (__builtin_mul_overflow(m->spatial_merge, m->spatial_merge, &prod) ||
       __builtin_mul_overflow(prod, m->hidden, &prod))) {
    io_doc_fail(d, f[M_SPATIAL_MERGE] ? f[M_SPATIAL_MERGE] : f[M_HIDDEN], TPS_ERANGE,
                "hidden x spatial_merge^2 = %" PRId64 " x %" PRId64
                "^2 does not fit a 64-bit count in %s",
                m->hidden, m->spatial_merge, where);
    io_doc_hint(d, "'spatial_merge' is the tokens merged per side (Qwen2.5-VL: 2)");
    return TPS_ERANGE;
  }
  if (m->type == TPS_MODULE_PROJECTOR) {
    if (f[M_LAYERS] && m->layers != 1)
      return io_doc_fail(d, f[M_LAYERS], TPS_ERANGE,
                          "'layers' of a projector must be 1, got %" PRId64, m->layers);
    m->layers = 1;
    return TPS_OK;
  }
  /* decoder and vit: attention shape */
  if (!f[M_KV_HEADS]) m->kv_heads = m->heads;
  if (m->heads % m->kv_heads != 0)
    return io_doc_fail(d, f[M_KV_HEADS], TPS_ERANGE,
                        "'kv_heads' (%" PRId64 ") must divide 'heads' (%" PRId64 ")",
                        m->kv_heads, m->heads);
  if (!f[M_HEAD_DIM]) {
    if (m->hidden % m->heads != 0) {
      io_doc_fail(d, f[M_HEADS], TPS_ERANGE,
                   "'heads' (%" PRId64 ") does not divide 'hidden' (%" PRId64 ") in %s",
                   m->heads, m->hidden, where);
      io_doc_hint(d, "give 'head_dim' explicitly");
      return TPS_ERANGE;
    }
    m->head_dim = m->hidden / m->heads;
  }
  if (!f[M_QKV_BIAS]) m->qkv_bias = m->bias;
  if (m->type == TPS_MODULE_DECODER) {
    if (m->position == TPS_POSITION_LEARNED && !f[M_MAX_POSITION]) {
      io_doc_fail(d, mn, TPS_EMISSINGKEY, "missing key 'max_position' in %s", where);
      io_doc_hint(d, "'max_position' is required when 'position' is learned");
      return TPS_EMISSINGKEY;
    }
  }
  if (m->type == TPS_MODULE_DECODER && (st = finish_moe_mla(d, mn, f, m, where))) return st;
  if (m->type == TPS_MODULE_VIT && f[M_FULL_ATTN]) {
    if ((st = read_full_attention(d, f[M_FULL_ATTN], m))) return st;
  }
  return TPS_OK;
}

static tps_status read_module(io_doc *d, const yaml_node_t *mn, int index,
                              tps_module *m) {
  char where[TPS_NAME_MAX + 16], what[TPS_NAME_MAX + 16];
  tps_status st;
  module_where(d, mn, index, where, sizeof where);
  if ((st = io_node_expect_map(d, mn, where))) return st;
  yaml_node_t *tn = io_map_get(d, mn, "type");
  if (!tn) {
    io_doc_fail(d, mn, TPS_EMISSINGKEY, "missing key 'type' in %s", where);
    io_doc_hint(d, "'type': decoder, vit or projector");
    return TPS_EMISSINGKEY;
  }
  int type;
  if ((st = io_node_enum(d, tn, "'type'", tps_module_type_names, &type))) return st;
  memset(m, 0, sizeof *m);
  m->type = (tps_module_type)type;
  io_map_ctx ctx = {.where = where, .variant_bit = 1u << type,
                     .variant_name = tps_module_type_names[type]};
  yaml_node_t *f[M_N];
  if ((st = io_map_read(d, mn, module_keys, M_N, &ctx, m, f))) return st;
  snprintf(what, sizeof what, "module '%s'", m->name);
  return finish_module(d, mn, f, m, what);
}

static tps_status read_modules(io_doc *d, const yaml_node_t *n, tps_model *model) {
  int len = io_seq_len(n);
  if (!n || n->type != YAML_SEQUENCE_NODE) {
    char got[64];
    io_node_desc(n, got, sizeof got);
    return io_doc_fail(d, n, TPS_ETYPE, "'modules' must be a list of modules, got %s",
                        got);
  }
  if (len == 0)
    return io_doc_fail(d, n, TPS_ERANGE, "'modules' must hold at least one module");
  if (len > TPS_MAX_MODULES)
    return io_doc_fail(d, n, TPS_ERANGE, "'modules' holds %d modules; at most %d are allowed",
                        len, TPS_MAX_MODULES);
  for (int i = 0; i < len; i++) {
    yaml_node_t *mn = io_seq_at(d, n, i);
    tps_status st = read_module(d, mn, i, &model->modules[i]);
    if (st) return st;
    for (int j = 0; j < i; j++) {
      if (strcmp(model->modules[j].name, model->modules[i].name) == 0) {
        io_doc_fail(d, io_map_get(d, mn, "name"), TPS_EINVAL,
                     "duplicate module name '%s'", model->modules[i].name);
        io_doc_hint(d, "first used at line %d",
                     io_node_line(io_map_get(d, io_seq_at(d, n, j), "name")));
        return TPS_EINVAL;
      }
    }
    model->n_modules = i + 1;
  }
  return TPS_OK;
}

/* pipeline_layers: {module: [layers on stage 0, stage 1, ...]}; every module
 * listed, every list of the same length, each summing to the module's
 * layers. Returns the stage count in *stages. */
static tps_status read_pipeline_layers(io_doc *d, const yaml_node_t *n,
                                       tps_model *model, int *stages) {
  tps_status st;
  tps_training *t = &model->training;
  if ((st = io_node_expect_map(d, n, "'pipeline_layers'"))) return st;
  const char *names[TPS_MAX_MODULES];
  const yaml_node_t *seen[TPS_MAX_MODULES] = {0};
  const yaml_node_t *first_list = NULL;
  const char *first_name = NULL;
  int len0 = 0;
  for (int i = 0; i < model->n_modules; i++) names[i] = model->modules[i].name;
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *kn = yaml_document_get_node(&d->doc, p->key);
    yaml_node_t *vn = yaml_document_get_node(&d->doc, p->value);
    const char *key = kn && kn->type == YAML_SCALAR_NODE
                          ? (const char *)kn->data.scalar.value : NULL;
    int m = -1;
    for (int i = 0; key && i < model->n_modules; i++)
      if (strcmp(key, names[i]) == 0) m = i;
    if (m < 0 && key && strcmp(key, "source") == 0) {
      char tmp[TPS_SOURCE_MAX];
      if ((st = io_node_string(d, vn, "'source'", tmp, sizeof tmp))) return st;
      continue;
    }
    if (m < 0) {
      char got[64];
      io_node_desc(kn, got, sizeof got);
      io_doc_fail(d, kn, TPS_EUNKNOWNKEY, "unknown module %s in 'pipeline_layers'", got);
      const char *best = key ? tps_did_you_mean(key, names, model->n_modules) : NULL;
      if (best) io_doc_hint(d, "did you mean '%s'?", best);
      return TPS_EUNKNOWNKEY;
    }
    if (seen[m]) {
      io_doc_fail(d, kn, TPS_ESYNTAX, "duplicate key '%s' in 'pipeline_layers'", key);
      io_doc_hint(d, "first given at line %d", io_node_line(seen[m]));
      return TPS_ESYNTAX;
    }
    seen[m] = kn;
    int len = io_seq_len(vn);
    if (!vn || vn->type != YAML_SEQUENCE_NODE || len == 0) {
      char got[64];
      io_node_desc(vn, got, sizeof got);
      return io_doc_fail(d, vn, TPS_ETYPE,
                          "'pipeline_layers' of '%s' must be a list of layer "
                          "counts per stage, got %s",
                          key, got);
    }
    if (len > TPS_MAX_STAGES)
      return io_doc_fail(d, vn, TPS_ERANGE,
                          "'pipeline_layers' of '%s' has %d stages; at most %d are allowed",
                          key, len, TPS_MAX_STAGES);
    if (!first_list) {
      first_list = vn;
      first_name = key;
      len0 = len;
    } else if (len != len0) {
      io_doc_fail(d, vn, TPS_ERANGE,
                   "'pipeline_layers' of '%s' has %d stages, but '%s' has %d", key,
                   len, first_name, len0);
      io_doc_hint(d, "every list has one entry per pipeline stage");
      return TPS_ERANGE;
    }
    int64_t sum = 0;
    char what[TPS_NAME_MAX + 48];
    snprintf(what, sizeof what, "each entry of 'pipeline_layers' of '%s'", key);
    for (int s = 0; s < len; s++) {
      int64_t v;
      if ((st = io_node_int(d, io_seq_at(d, vn, s), what, 0, CMAX, &v))) return st;
      t->pipeline_layers[m][s] = v;
      sum += v;
    }
    if (sum != model->modules[m].layers) {
      io_doc_fail(d, vn, TPS_ERANGE,
                   "'pipeline_layers' of '%s' sums to %" PRId64
                   ", but the module has %" PRId64 " layers",
                   key, sum, model->modules[m].layers);
      return TPS_ERANGE;
    }
  }
  for (int i = 0; i < model->n_modules; i++) {
    if (!seen[i]) {
      io_doc_fail(d, n, TPS_EMISSINGKEY, "missing key '%s' in 'pipeline_layers'",
                   names[i]);
      io_doc_hint(d, "list the layers of every module on every stage");
      return TPS_EMISSINGKEY;
    }
  }
  *stages = len0;
  return TPS_OK;
}

static tps_status read_training(io_doc *d, const yaml_node_t *n, tps_model *model) {
  tps_status st;
  tps_training *t = &model->training;
  static const io_map_ctx ctx = {.where = "'training'", .variant_bit = ALL};
  yaml_node_t *f[T_N];
  if (n) {
    if ((st = io_node_expect_map(d, n, "'training'"))) return st;
    if ((st = io_map_read(d, n, training_keys, T_N, &ctx, t, f))) return st;
    if ((st = io_check_limit(d, f[T_MB_OVERHEAD], "'micro_batch_overhead'",
                             t->micro_batch_overhead_s, &io_limit_time)))
      return st;
  } else {
    /* No training: mapping: every default. */
    static const yaml_node_t empty_map = {.type = YAML_MAPPING_NODE};
    if ((st = io_map_read(d, &empty_map, training_keys, T_N, &ctx, t, f))) return st;
  }
  if (f[T_PIPELINE_LAYERS]) {
    int stages = 0;
    if ((st = read_pipeline_layers(d, f[T_PIPELINE_LAYERS], model, &stages))) return st;
    if (f[T_PP] && t->pp != stages) {
      io_doc_fail(d, f[T_PP], TPS_ERANGE,
                   "'pp' is %" PRId64 ", but the lists of 'pipeline_layers' have %d stages",
                   t->pp, stages);
      return TPS_ERANGE;
    }
    t->n_pipeline_stages = stages;
    t->pp = stages;
  }
  if (t->pp == 0) t->pp = 1;
  return TPS_OK;
}

tps_status tps_model_load_noted(const char *path, tps_model *model, tps_eco_unresolved *notes,
                                tps_error *err) {
  size_t plen = path ? strlen(path) : 0;
  if (plen > 5 && strcmp(path + plen - 5, ".json") == 0)
    return tps_hf_config_read(path, model, notes, err);
  if (notes) tps_eco_unresolved_init(notes);
  return tps_model_load(path, model, err);
}

tps_status tps_model_load(const char *path, tps_model *model, tps_error *err) {
  io_doc d;
  tps_status st;
  if (!model) return tps_error_set(err, TPS_EINVAL, path, 0, 0, "no model to fill");
  /* A Hugging Face config.json (docs/ecosystem.md). */
  size_t plen = path ? strlen(path) : 0;
  if (plen > 5 && strcmp(path + plen - 5, ".json") == 0)
    return tps_hf_config_load(path, model, err);
  memset(model, 0, sizeof *model);
  if ((st = io_doc_load(&d, path, err))) return st;
  snprintf(model->path, sizeof model->path, "%s", path);
  yaml_node_t *root = io_doc_root(&d);
  yaml_node_t *f[TOP_N];
  static const io_map_ctx ctx = {.where = "the model file", .variant_bit = ALL};
  if (!root) {
    tps_error_set(err, TPS_ESYNTAX, d.path, 1, 1, "file is empty");
    tps_error_hint(err, "a model file is a mapping with the keys name, source and modules");
    st = TPS_ESYNTAX;
  } else if (root->type != YAML_MAPPING_NODE) {
    char got[64];
    io_node_desc(root, got, sizeof got);
    st = io_doc_fail(&d, root, TPS_ETYPE,
                      "a model file must be a mapping of keys, got %s", got);
  } else if (!(st = io_map_read(&d, root, top_keys, TOP_N, &ctx, model, f)) &&
             !(st = read_modules(&d, f[TOP_MODULES], model))) {
    st = read_training(&d, f[TOP_TRAINING], model);
  }
  io_doc_free(&d);
  if (st) io_model_clear(model); /* never hand back half a model */
  return st;
}

void io_model_clear(tps_model *model) {
  char keep[sizeof model->path];
  snprintf(keep, sizeof keep, "%s", model->path);
  memset(model, 0, sizeof *model);
  snprintf(model->path, sizeof model->path, "%s", keep);
}
