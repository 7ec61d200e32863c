/* The lowering: one transformer layer (or embedding, head, patch embedding,
 * projector) of a module, under one run, becomes an ordered list of ops.
 *
 * This list is shared by the two executors: the cost model (engine) and the
 * reference kernel (tp-kernel). Op names are stable (CONTRACT with the kernel
 * and with `tp-sim validate`); a decoder or ViT block lowers to, in order:
 *
 *   attn_norm  attn_f  qkv  [rope]  attn_core  attn_out  attn_g  attn_residual
 *   mlp_norm   mlp_f   mlp_up  mlp_act  mlp_down  mlp_g  mlp_residual
 *
 * `*_f` and `*_g` are Megatron's conjugate collectives: without sequence
 * parallelism f is identity forward / all-reduce backward and g is all-reduce
 * forward / identity backward; with SP, f is all-gather forward /
 * reduce-scatter backward and g is reduce-scatter forward / all-gather
 * backward. At TP = 1 they are still listed, with group 1 and no cost.
 * mlp_up is the fused gate+up GEMM for SwiGLU (n = 2 ffn / tp).
 *
 * Other layer kinds: embedding (embed, embed_g), head (final_norm, lm_head,
 * loss), patch_embed (patch_embed), merger (merger_norm, merger_f,
 * merger_fc1, merger_act, merger_fc2, merger_g).
 *
 * All counts are per rank and per micro-batch. */
#ifndef TPSIM_OPS_H
#define TPSIM_OPS_H

#include "tpsim/model.h"
#include "tpsim/status.h"

#define TPS_OP_NAME_MAX 24

typedef enum {
  TPS_OP_GEMM,
  TPS_OP_ATTENTION,  /* the attention core: softmax(Q K^T) V */
  TPS_OP_NORM,       /* LayerNorm or RMSNorm (module's norm kind) */
  TPS_OP_ACTIVATION, /* GeLU or SwiGLU (module's mlp kind) */
  TPS_OP_RESIDUAL,   /* (dropout +) residual add */
  TPS_OP_ROPE,       /* rotary position embedding on q and k */
  TPS_OP_EMBEDDING,  /* vocab-parallel lookup (+ learned positions) */
  TPS_OP_LOSS,       /* vocab-parallel softmax cross entropy */
  TPS_OP_COLLECTIVE
} tps_op_kind;
_Static_assert(TPS_OP_COLLECTIVE + 1 == TPS_OP_KIND_COUNT, "model.h's TPS_OP_KIND_COUNT");

typedef enum { TPS_SPLIT_REPLICATED, TPS_SPLIT_COLUMN, TPS_SPLIT_ROW } tps_split;

typedef enum {
  TPS_COLL_NONE,
  TPS_COLL_ALL_REDUCE,
  TPS_COLL_REDUCE_SCATTER,
  TPS_COLL_ALL_GATHER,
  TPS_COLL_ALL_TO_ALL, /* context parallelism (Ulysses), MoE token dispatch and
                          combine: each rank sends (p - 1)/p of its own buffer,
                          coll_bytes = that buffer */
  TPS_COLL_RING_P2P    /* context parallelism (ring attention): p - 1 steps, each a
                          send to the next rank and a receive from the previous one
                          of coll_bytes (one K/V block forward; K/V and dK/dV
                          backward, bwd_coll_bytes) */
} tps_coll;

typedef struct tps_op {
  char name[TPS_OP_NAME_MAX];
  tps_op_kind kind;
  /* GEMM: y(m, n) = x(m, k) W(k, n) on each rank, W sharded as `split`. */
  int64_t m, n, k;
  tps_split split;
  bool bias;
  /* Attention core on each rank: `batch` independent sequences of `seq`
   * tokens (windows count as sequences), heads and kv_heads on this rank. */
  int64_t batch, seq, heads, kv_heads, head_dim;
  bool causal, flash;
  /* Collective: kind forward and backward, over `group` ranks of the tensor-
   * parallel group; coll_bytes = size of the full (unsharded) tensor. */
  tps_coll fwd_coll, bwd_coll;
  int64_t group;
  double coll_bytes;
  /* Context parallelism (cp_* ops, docs/model.md "Context parallelism"):
   * the group's ranks are `stride` apart in the global rank order (0 or 1:
   * adjacent, the TP group); a ring's backward moves bwd_coll_bytes per
   * step; overlap_* is the attention core the ring's sends run beside (its
   * FLOPs and bytes forward and backward: the cost model charges only the
   * sends' time beyond it). Attention core: kv_seq keys per query (0: seq). */
  int64_t stride;
  double bwd_coll_bytes;
  double overlap_fwd_flops, overlap_bwd_flops, overlap_fwd_bytes, overlap_bwd_bytes;
  int64_t kv_seq;
  bool bwd_regather;             /* SP f: backward all-gathers the saved input
                                    shard again for the weight gradient (Megatron) */
  /* Costs per rank per micro-batch. bwd_* are 0 when the op runs no backward. */
  double fwd_flops, bwd_flops;
  double fwd_bytes, bwd_bytes;   /* memory traffic, bytes */
  double model_flops;            /* MFU numerator: fwd + bwd as run, attention
                                    counted unmasked (Megatron's convention),
                                    no recompute */
  double params;                 /* parameters held by this rank */
  bool trainable;                /* params get gradients and optimizer state */
  double saved_bytes;            /* activations saved for backward, no recompute */
  double saved_bytes_selective;  /* what stays saved under selective recompute */
  double workspace_bytes;        /* transient while the op runs (its output and
                                    input gradients in backward; the loss's fp32
                                    logits), on top of saved tensors */
  int64_t elements;              /* output elements (elementwise ops) */
  int64_t groups;                /* GEMM: independent GEMMs in one grouped call
                                    (routed experts on this rank); 0 or 1: one */
  bool routed;                   /* routed-expert weights: a token passes through
                                    experts_per_token / experts of them; they
                                    reduce over the expert data-parallel group */
  bool moe_load;                 /* its work follows the routed experts' token
                                    load: the most loaded expert-parallel rank
                                    sets its time and memory (x the run's MoE
                                    load factor, eng_moe_load_factor) */
  bool rerun_in_bwd;             /* its forward is re-run in backward whatever the
                                    recompute choice short of full (MindSpeed's
                                    --recompute-activation-function) */
  bool fp8;                      /* GEMM run in FP8 (Transformer Engine): its inputs
                                    cast to FP8, the product at the FP8 peak, its
                                    saved input kept in FP8 (docs/model.md "FP8") */
} tps_op;

typedef enum {
  TPS_LAYER_EMBEDDING,   /* decoder token (+ position) embedding */
  TPS_LAYER_BLOCK,       /* transformer block */
  TPS_LAYER_HEAD,        /* final norm, lm_head, loss */
  TPS_LAYER_PATCH_EMBED, /* ViT patch embedding */
  TPS_LAYER_MERGER,      /* projector */
  TPS_LAYER_MTP          /* multi-token prediction: norms and projection */
} tps_layer_kind;

/* A growable op list (caller-owned; tps_op_list_init / tps_op_list_free). */
typedef struct tps_op_list {
  tps_op *ops;
  int n, cap;
} tps_op_list;

void tps_op_list_init(tps_op_list *list);
void tps_op_list_free(tps_op_list *list);

typedef struct tps_lower_opts {
  tps_layer_kind kind;
  bool full_attention;   /* ViT block: full instead of windowed attention */
  bool needs_input_grad; /* something upstream trains: frozen ops still run dgrad */
  bool moe;              /* decoder block: the MLP is the module's experts */
  bool shared_head;      /* head of an MTP module: the output weight is the
                            main head's (no parameters of its own) */
} tps_lower_opts;

/* Appends the ops of one layer of `mod` under `run` to `out`. Checks that
 * run->tp divides what it must (heads, kv_heads unless replicated, ffn,
 * vocab after padding, tokens under SP) and says which numbers do not. */
tps_status tps_lower_layer(const tps_module *mod, const tps_run *run,
                           tps_lower_opts opts, tps_op_list *out,
                           tps_error *err);

/* Tokens of a layer's full (not sequence-sharded) input: the m of its first
 * GEMM (under SP, qkv's all-gathered input); 0 when it has no GEMM. */
int64_t tps_ops_full_tokens(const tps_op_list *ops);

/* Vocabulary size after Megatron's padding to a multiple of divisor x tp. */
int64_t tps_padded_vocab(int64_t vocab, int64_t divisor, int64_t tp);

/* KV heads held per rank: kv_heads / tp, or 1 when tp > kv_heads and tp is
 * a multiple of kv_heads (replication, as Megatron does). */
int64_t tps_kv_heads_per_rank(int64_t kv_heads, int64_t tp);

/* Parameters of one layer of this kind over the whole model (not per rank). */
double tps_layer_params(const tps_module *mod, tps_lower_opts opts);
/* Parameters of a whole module / model (embedding counted once if tied). */
double tps_module_params(const tps_module *mod);
double tps_model_params(const tps_model *model);
/* Parameters of the modules that train (not frozen), whole model. */
double tps_model_trainable_params(const tps_model *model);
/* Parameters of the main model (MTP modules left out, as published) one
 * token passes through: routed experts count top-k of `experts` (Mixtral's
 * "12.9B active"); equals the total for a dense model. */
double tps_model_active_params(const tps_model *model);
/* Parameters of the MTP modules of a model (already in tps_model_params). */
double tps_model_mtp_params(const tps_model *model);
/* Whether block i (0-based) of a decoder has an MoE MLP. */
bool tps_module_layer_is_moe(const tps_module *mod, int64_t i);

const char *tps_op_kind_name(tps_op_kind k);
const char *tps_coll_name(tps_coll c);
const char *tps_layer_kind_name(tps_layer_kind k);

#endif
