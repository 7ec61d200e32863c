/* The lowering: one layer of a module under one run -> an ordered op list.
 *
 * Shared by the cost model and tp-kernel (see tpsim/ops.h for the op names).
 * Saved-tensor accounting follows Korthikanti et al. 2022 (arXiv 2205.05198,
 * Sec. 4.1): each op keeps the inputs its backward needs, in the activation
 * dtype, dropout masks at 1 byte per element. LayerNorm/RMSNorm statistics
 * (one fp32 per token) are left out, as in that paper. */
#include "tpsim/ops.h"

#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lower_internal.h"

void tps_op_list_init(tps_op_list *list) { memset(list, 0, sizeof *list); }

void tps_op_list_free(tps_op_list *list) {
  free(list->ops);
  memset(list, 0, sizeof *list);
}

/* Appends a zeroed op named `name`; NULL when out of memory. */
static tps_op *op_push(tps_op_list *list, const char *name, tps_op_kind kind) {
  if (list->n == list->cap) {
    int cap = list->cap ? 2 * list->cap : 16;
    tps_op *ops = realloc(list->ops, (size_t)cap * sizeof *ops);
    if (!ops) return NULL;
    list->ops = ops;
    list->cap = cap;
  }
  tps_op *op = &list->ops[list->n++];
  memset(op, 0, sizeof *op);
  strncpy(op->name, name, TPS_OP_NAME_MAX - 1);
  op->kind = kind;
  op->group = 1;
  return op;
}

tps_op *eng_op_push(tps_op_list *list, const char *name, tps_op_kind kind) {
  return op_push(list, name, kind);
}

int64_t tps_ops_full_tokens(const tps_op_list *ops) {
  for (int i = 0; i < ops->n; i++)
    if (ops->ops[i].kind == TPS_OP_GEMM) return ops->ops[i].m;
  return 0;
}

int64_t tps_padded_vocab(int64_t vocab, int64_t divisor, int64_t tp) {
  int64_t multiple = (divisor > 0 ? divisor : 1) * (tp > 0 ? tp : 1);
  return (vocab + multiple - 1) / multiple * multiple;
}

int64_t tps_kv_heads_per_rank(int64_t kv_heads, int64_t tp) {
  if (tp <= kv_heads) return kv_heads / tp;
  return 1; /* replicated: each rank keeps one KV head (tp % kv_heads == 0) */
}

/* Context shared by the per-kind lowering functions. */
typedef struct lower_ctx {
  const tps_module *mod;
  const tps_run *run;
  tps_lower_opts opts;
  tps_op_list *out;
  double act_bytes;   /* bytes per activation element (bf16: 2) */
  int64_t tp;
  bool trainable;     /* weights of this module get gradients */
  bool runs_bwd;      /* this layer runs a backward pass at all */
} lower_ctx;

/* Backward GEMM FLOPs: dgrad when anything needs input gradients, wgrad when
 * the weights train (Narayanan 2021: backward = 2 x forward for both). */
static void gemm_costs(const lower_ctx *c, tps_op *op) {
  double mnk2 = 2.0 * (double)op->m * (double)op->n * (double)op->k;
  double io = ((double)op->m * op->k + (double)op->k * op->n + (double)op->m * op->n) * c->act_bytes;
  op->fwd_flops = mnk2;
  op->fwd_bytes = io;
  if (c->runs_bwd) {
    op->bwd_flops = mnk2 * (c->trainable ? 2.0 : 1.0);
    op->bwd_bytes = io * (c->trainable ? 2.0 : 1.0);
  }
  op->model_flops = op->fwd_flops + op->bwd_flops;
  op->trainable = c->trainable;
}

/* Whether a GEMM runs in FP8 under Transformer Engine: the linear layers of
 * transformer blocks (TE's Linear, LayerNormLinear, grouped expert GEMMs).
 * Megatron-Core keeps in bf16 what it builds without TE: the embedding, the
 * output layer (tensor_parallel.ColumnParallelLinear in gpt_model.py), the
 * MoE router (TopKRouter's own weight) and Qwen2-MoE's shared-expert gate;
 * projector, patch embedding and the MTP projection are left in bf16 too. */
static bool gemm_in_fp8(const lower_ctx *c, const char *name) {
  if (c->run->fp8 == TPS_FP8_NONE || c->opts.kind != TPS_LAYER_BLOCK) return false;
  return strcmp(name, "router") != 0 && strcmp(name, "shared_gate") != 0;
}

static tps_op *add_gemm(lower_ctx *c, const char *name, tps_split split,
                        int64_t m, int64_t k, int64_t n, bool bias,
                        double saved_input_bytes) {
  tps_op *op = op_push(c->out, name, TPS_OP_GEMM);
  if (!op) return NULL;
  op->m = m;
  op->n = n;
  op->k = k;
  op->split = split;
  op->bias = bias;
  op->fp8 = gemm_in_fp8(c, name);
  /* A row-parallel bias is added after the reduction: whole on every rank. */
  op->params = (double)k * (double)n + (bias ? (double)n : 0.0);
  gemm_costs(c, op);
  /* FP8: Transformer Engine keeps the input its weight gradient needs
   * quantized, 1 byte per element (TE linear.py / layernorm_linear.py:
   * the input quantizer's columnwise copy is what is saved). */
  if (op->fp8) saved_input_bytes /= c->act_bytes;
  if (c->runs_bwd) {
    op->saved_bytes = op->saved_bytes_selective = saved_input_bytes;
    op->workspace_bytes = ((double)m * n + (double)m * k) * c->act_bytes;
  }
  return op;
}

/* Element counts are products of tokens per micro-batch (up to 10^18 from
 * the CLI's limits) and a layer width, so they are formed in double, where
 * they stay finite, and stored in the op's int64 count saturated at
 * INT64_MAX instead of wrapping. Exact below 2^53, like every count a real
 * run has. */
static int64_t saturate_i64(double x) {
  return x >= 9.2233720368547748e18 ? INT64_MAX : (int64_t)x;
}

/* Elementwise-style op over `elements` outputs reading `reads` and writing
 * `writes` tensors of that size; backward touches about twice as much. */
static tps_op *add_elementwise(lower_ctx *c, const char *name, tps_op_kind kind,
                               double elements, double reads, double writes,
                               double saved_bytes) {
  tps_op *op = op_push(c->out, name, kind);
  if (!op) return NULL;
  op->elements = saturate_i64(elements);
  op->fwd_bytes = elements * (reads + writes) * c->act_bytes;
  if (c->runs_bwd) {
    op->bwd_bytes = 2.0 * op->fwd_bytes;
    op->saved_bytes = op->saved_bytes_selective = saved_bytes;
  }
  op->trainable = c->trainable;
  return op;
}

static tps_op *add_norm(lower_ctx *c, const char *name, int64_t tokens,
                        int64_t width) {
  double saved = (double)tokens * width * c->act_bytes; /* its input */
  tps_op *op = add_elementwise(c, name, TPS_OP_NORM, (double)tokens * width, 1, 1, saved);
  if (!op) return NULL;
  op->m = tokens;
  op->n = width;
  op->params = c->mod->norm == TPS_NORM_LAYERNORM ? 2.0 * width : (double)width;
  return op;
}

/* Megatron's f (before a column-parallel GEMM) or g (after a row-parallel
 * one), over a full tensor of `tokens` x `width`. */
static tps_op *add_conjugate(lower_ctx *c, const char *name, bool is_g,
                             int64_t tokens, int64_t width) {
  tps_op *op = op_push(c->out, name, TPS_OP_COLLECTIVE);
  if (!op) return NULL;
  op->group = c->tp;
  op->m = tokens;
  op->n = width;
  op->coll_bytes = (double)tokens * width * c->act_bytes;
  if (c->run->sp) {
    op->fwd_coll = is_g ? TPS_COLL_REDUCE_SCATTER : TPS_COLL_ALL_GATHER;
    op->bwd_coll = is_g ? TPS_COLL_ALL_GATHER : TPS_COLL_REDUCE_SCATTER;
  } else {
    op->fwd_coll = is_g ? TPS_COLL_ALL_REDUCE : TPS_COLL_NONE;
    op->bwd_coll = is_g ? TPS_COLL_NONE : TPS_COLL_ALL_REDUCE;
  }
  if (!c->runs_bwd) op->bwd_coll = TPS_COLL_NONE;
  /* Under SP the column GEMM after f keeps only the sequence shard of its
   * input and gathers it again in backward for its weight gradient
   * (Korthikanti et al. 2022, Sec. 4.2.2). */
  op->bwd_regather = c->run->sp && !is_g && c->trainable && c->tp > 1;
  return op;
}

static tps_status oom(tps_error *err) {
  return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while lowering");
}

/* Overflow-checked int64 arithmetic for the counts an op stores (GEMM
 * sides, widths, tokens): false when the exact result does not fit. */
static bool mul_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }
static bool add_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_add_overflow(a, b, out); }

/* Refuses a count that does not fit int64: "module 'M': " + the keys whose
 * product it is, with their values. */
static tps_status too_large(const tps_module *m, tps_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static tps_status too_large(const tps_module *m, tps_error *err, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  tps_error_set(err, TPS_ERANGE, NULL, 0, 0, "module '%s': %s does not fit a 64-bit count",
                m->name, what);
  tps_error_hint(err, "real models are many orders of magnitude smaller; check the keys of "
                      "module '%s'", m->name);
  return TPS_ERANGE;
}

/* Tokens one rank holds between blocks: all of them, or 1/tp under SP. */
static int64_t seq_shard(const lower_ctx *c, int64_t tokens) {
  return c->run->sp ? tokens / c->tp : tokens;
}

static tps_status check_divides(const tps_module *mod, int64_t tp, int64_t what,
                                const char *label, tps_error *err) {
  if (what % tp == 0) return TPS_OK;
  tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0, "--tp: %lld does not divide %lld %s of module '%s'",
                (long long)tp, (long long)what, label, mod->name);
  tps_error_hint(err, "choose a TP size that divides %lld", (long long)what);
  return TPS_EDIVIDE;
}

tps_status eng_check_module_split(const tps_module *m, const tps_run *run, tps_error *err) {
  const int64_t tp = run->tp;
  tps_status st = eng_cp_check_module(m, run, err);
  if (st != TPS_OK) return st;
  if (m->type != TPS_MODULE_PROJECTOR) {
    if ((st = check_divides(m, tp, m->heads, "attention heads", err))) return st;
    if (m->kv_heads % tp != 0 && tp % m->kv_heads != 0) {
      tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                    "--tp: %lld does not divide %lld KV heads of module '%s' (nor is it a multiple of them)",
                    (long long)tp, (long long)m->kv_heads, m->name);
      tps_error_hint(err, "TP must divide the KV heads, or be a multiple of them (KV heads are then replicated)");
      return TPS_EDIVIDE;
    }
  }
  if ((st = check_divides(m, tp, m->ffn, "MLP columns (ffn)", err))) return st;
  if (m->experts > 0 &&
      ((st = eng_ep_check_module(m, run, err)) ||
       (st = check_divides(m, tp, m->shared_expert_ffn,
                           "shared-expert MLP columns (shared_expert_ffn)", err))))
    return st;
  if (run->sp && m->type != TPS_MODULE_PROJECTOR &&
      (st = check_divides(m, tp, eng_module_tokens(m, run),
                          "tokens per micro-batch (sequence parallelism splits them)", err)))
    return st;
  return TPS_OK;
}

/* MLA's projections and an MoE MLP (defined after lower_block). */
static tps_status lower_mla_projections(lower_ctx *c, int64_t tokens, int64_t heads_r,
                                        tps_error *err);
static tps_status lower_moe_mlp(lower_ctx *c, int64_t tokens, tps_error *err);

/* The attention half and MLP half of a transformer block. */
static tps_status lower_block(lower_ctx *c, int64_t tokens, tps_error *err) {
  const tps_module *m = c->mod;
  const int64_t tp = c->tp;
  const double a = c->act_bytes;
  tps_status st = eng_check_module_split(m, c->run, err);
  if (st != TPS_OK) return st;

  const int64_t h = m->hidden;
  const int64_t heads_r = m->heads / tp;
  const bool mla = m->kv_lora_rank > 0;
  const int64_t kv_r = mla ? heads_r : tps_kv_heads_per_rank(m->kv_heads, tp);
  /* Per-head widths: q and k (qk), v; the core's FLOPs go with their mean. */
  const int64_t d_qk = mla ? m->qk_nope_head_dim + m->qk_rope_head_dim : m->head_dim;
  const int64_t d_v = mla ? m->v_head_dim : m->head_dim;
  const int64_t d = mla ? (d_qk + d_v) / 2 : m->head_dim;
  /* Widths the GEMMs store: (heads + 2 kv_heads) x head_dim per rank. */
  int64_t qkv_n, attn_k, qkv_heads; /* qkv_n: the fused QKV GEMM's columns (not MLA) */
  if (!add_i64(heads_r, kv_r, &qkv_heads) || !add_i64(qkv_heads, kv_r, &qkv_heads) ||
      !mul_i64(qkv_heads, d_qk, &qkv_n) || !mul_i64(heads_r, d_v, &attn_k))
    return too_large(m, err, "(heads + 2 x kv_heads) / tp x head_dim = (%lld + 2 x %lld) x %lld",
                     (long long)heads_r, (long long)kv_r, (long long)d_qk);
  const int64_t ts = seq_shard(c, tokens);
  const double mask = m->dropout ? 1.0 : 0.0; /* bytes per dropout-mask element */
  const bool flash = c->run->flash_attention;

  /* ---- attention ---- */
  if (!add_norm(c, "attn_norm", ts, h)) return oom(err);
  if (!add_conjugate(c, "attn_f", false, tokens, h)) return oom(err);
  if (mla) {
    if ((st = lower_mla_projections(c, tokens, heads_r, err)) != TPS_OK) return st;
  } else if (!add_gemm(c, "qkv", TPS_SPLIT_COLUMN, tokens, h, qkv_n, m->qkv_bias,
                       (double)ts * h * a)) {
    return oom(err);
  }
  if (m->type == TPS_MODULE_DECODER && m->position == TPS_POSITION_ROPE) {
    /* Rotates q and k; MLA rotates the rope part of each q head and the one
     * k rope part all heads share. */
    double el = mla ? (double)tokens * (double)(heads_r + 1) * (double)m->qk_rope_head_dim
                    : (double)tokens * (double)(heads_r + kv_r) * (double)d;
    if (!add_elementwise(c, "rope", TPS_OP_ROPE, el, 1, 1, 0.0)) return oom(err);
  }

  const bool cp = eng_cp_ranks(c->run) > 1;
  eng_cp_shape sh;
  int64_t span = tokens / c->run->micro_batch; /* tokens per sequence (on this CP rank) */
  eng_cp_attention_shape(c->run, span, heads_r, kv_r, &sh);
  /* Ulysses: Q, K, V all-to-all to whole heads over the full sequence. */
  if (sh.ulysses > 1 &&
      eng_cp_add_ulysses(c->out, "cp_qkv_a2a", c->run, tokens,
                         (heads_r + 2 * sh.kv_heads * sh.ulysses) * d, a, c->runs_bwd))
    return oom(err);
  const int core_index = c->out->n;
  tps_op *core = op_push(c->out, "attn_core", TPS_OP_ATTENTION);
  if (!core) return oom(err);
  bool causal = m->type == TPS_MODULE_DECODER;
  if (m->type == TPS_MODULE_VIT && m->window > 0 && !c->opts.full_attention) span = m->window;
  if (span > tokens) span = tokens;
  core->batch = tokens / span;
  core->seq = cp ? sh.q_seq : span;
  core->kv_seq = cp ? sh.kv_seq : span;
  const int64_t heads_c = sh.heads, kv_c = sh.kv_heads; /* heads_r, kv_r without Ulysses */
  core->heads = heads_c;
  core->kv_heads = kv_c;
  core->head_dim = d;
  core->causal = causal;
  /* CP runs the fused (flash) attention kernels: Transformer Engine's under
   * Megatron, MindSpeed's with --use-flash-attn; a ring's load-balanced
   * chunks skip the masked blocks. */
  core->flash = flash || cp;
  core->trainable = c->trainable;
  /* Q K^T and P V: 2 GEMMs of 2 x seq x kv_seq x d per head and sequence
   * (MLA: 2 seq^2 (d_qk + d_v) = 4 seq^2 d with d their mean). */
  double full_flops = 4.0 * (double)core->batch * core->seq * core->kv_seq * d * heads_c;
  core->fwd_flops = (causal && core->flash) ? full_flops / 2.0 : full_flops;
  /* Sliding window w < span (causal, fused kernels skip the blocks outside
   * the band): query i sees min(i + 1, w) keys, w span - w (w - 1) / 2 of
   * the span (span + 1) / 2 causal pairs, about span^2 / 2. Unfused attention
   * computes the whole masked square. Under CP each rank's share is scaled
   * by the same ratio (its load-balanced chunks see the band alike). */
  int64_t w = m->type == TPS_MODULE_DECODER ? m->sliding_window : 0;
  if (causal && core->flash && w > 0 && w < span)
    core->fwd_flops *= 2.0 * ((double)w * (double)span - (double)w * (double)(w - 1) / 2.0) /
                       ((double)span * (double)span);
  double q_tokens = cp ? (double)core->batch * core->seq : (double)tokens;
  double qkv_bytes = mla ? q_tokens * heads_c * (2 * d_qk + d_v) * a
                         : q_tokens * (heads_c + 2 * kv_c) * d * a;
  double out_bytes = q_tokens * heads_c * d_v * a;
  double score_elems = (double)core->batch * heads_c * core->seq * core->kv_seq;
  core->fwd_bytes = qkv_bytes + out_bytes + (core->flash ? 0.0 : 2.0 * score_elems * a);
  if (c->runs_bwd) {
    /* dQ, dK, dV, dP: twice the forward; flash also recomputes Q K^T. */
    core->bwd_flops = core->fwd_flops * (core->flash ? 2.5 : 2.0);
    core->bwd_bytes = 2.0 * core->fwd_bytes;
    /* Non-flash keeps softmax output (2 bytes), and with dropout its mask
     * (1) and output (2): Korthikanti's 5 a s^2 b. Flash keeps q, k, v and
     * the fp32 log-sum-exp per row. */
    double lse = q_tokens * heads_c * 4.0;
    double scores = core->flash ? 0.0 : score_elems * (a + (m->dropout ? 1.0 + a : 0.0));
    core->saved_bytes = qkv_bytes + (core->flash ? lse : scores);
    core->saved_bytes_selective = qkv_bytes + (core->flash ? lse : 0.0);
  }
  core->model_flops = c->runs_bwd ? 3.0 * full_flops : full_flops;
  /* Ring: K/V blocks around the CP ring beside the core; Ulysses: the
   * output back to sequence shards. */
  if (sh.ring > 1 && eng_cp_add_ring(c->out, c->run, core_index, a, c->runs_bwd)) return oom(err);
  if (sh.ulysses > 1 &&
      eng_cp_add_ulysses(c->out, "cp_out_a2a", c->run, tokens, heads_r * d, a, c->runs_bwd))
    return oom(err);

  if (!add_gemm(c, "attn_out", TPS_SPLIT_ROW, tokens, attn_k, h, m->bias, out_bytes))
    return oom(err);
  if (!add_conjugate(c, "attn_g", true, tokens, h)) return oom(err);
  if (!add_elementwise(c, "attn_residual", TPS_OP_RESIDUAL, (double)ts * h, 2, 1, (double)ts * h * mask))
    return oom(err);

  if (c->opts.moe) return lower_moe_mlp(c, tokens, err);
  /* ---- MLP ---- */
  const int64_t ffn_r = m->ffn / tp;
  int64_t up_n;
  if (!mul_i64(m->mlp == TPS_MLP_SWIGLU ? 2 : 1, ffn_r, &up_n))
    return too_large(m, err, "2 x ffn / tp = 2 x %lld", (long long)ffn_r);
  if (!add_norm(c, "mlp_norm", ts, h)) return oom(err);
  if (!add_conjugate(c, "mlp_f", false, tokens, h)) return oom(err);
  if (!add_gemm(c, "mlp_up", TPS_SPLIT_COLUMN, tokens, h, up_n, m->bias, (double)ts * h * a))
    return oom(err);
  /* GeLU keeps its input (ffn/tp wide), SwiGLU its gate and up halves. */
  tps_op *act = add_elementwise(c, "mlp_act", TPS_OP_ACTIVATION, (double)tokens * ffn_r,
                                m->mlp == TPS_MLP_SWIGLU ? 2 : 1, 1,
                                (double)tokens * up_n * a);
  if (!act) return oom(err);
  act->m = tokens;
  act->n = ffn_r;
  if (c->runs_bwd) act->workspace_bytes = (double)tokens * (ffn_r + up_n) * a;
  /* MindSpeed's --recompute-activation-function: the activation's output,
   * the down-projection's input, is not kept but re-made in backward from
   * the up-projection's output, which the activation keeps anyway. */
  const bool rerun_act = c->run->recompute_activation && c->runs_bwd;
  act->rerun_in_bwd = rerun_act;
  if (!add_gemm(c, "mlp_down", TPS_SPLIT_ROW, tokens, ffn_r, h, m->bias,
                rerun_act ? 0.0 : (double)tokens * ffn_r * a))
    return oom(err);
  if (!add_conjugate(c, "mlp_g", true, tokens, h)) return oom(err);
  if (!add_elementwise(c, "mlp_residual", TPS_OP_RESIDUAL, (double)ts * h, 2, 1, (double)ts * h * mask))
    return oom(err);
  return TPS_OK;
}

/* Multi-head latent attention's projections (DeepSeek-V2, arXiv 2405.04434,
 * Sec. 2.1.2; Megatron-Core's MLASelfAttention): the down-projections are
 * replicated on every TP rank, the up-projections split heads over TP. The
 * down-projections read the same input: it is saved once. */
static tps_status lower_mla_projections(lower_ctx *c, int64_t tokens, int64_t heads_r,
                                        tps_error *err) {
  const tps_module *m = c->mod;
  const double a = c->act_bytes;
  const int64_t h = m->hidden, ts = seq_shard(c, tokens);
  const int64_t d_qk = m->qk_nope_head_dim + m->qk_rope_head_dim;
  int64_t q_n, kv_n;
  if (!mul_i64(heads_r, d_qk, &q_n) || !mul_i64(heads_r, m->qk_nope_head_dim + m->v_head_dim, &kv_n))
    return too_large(m, err, "heads / tp x (qk_nope_head_dim + qk_rope_head_dim) = %lld x %lld",
                     (long long)heads_r, (long long)d_qk);
  double input = (double)ts * h * a;
  if (m->q_lora_rank > 0) {
    if (!add_gemm(c, "q_down", TPS_SPLIT_REPLICATED, tokens, h, m->q_lora_rank, false, input) ||
        !add_norm(c, "q_norm", tokens, m->q_lora_rank) ||
        !add_gemm(c, "q_up", TPS_SPLIT_COLUMN, tokens, m->q_lora_rank, q_n, false,
                  (double)tokens * m->q_lora_rank * a))
      return oom(err);
    input = 0.0;
  } else if (!add_gemm(c, "q_proj", TPS_SPLIT_COLUMN, tokens, h, q_n, false, input)) {
    return oom(err);
  } else {
    input = 0.0;
  }
  if (!add_gemm(c, "kv_down", TPS_SPLIT_REPLICATED, tokens, h,
                m->kv_lora_rank + m->qk_rope_head_dim, false, input) ||
      !add_norm(c, "kv_norm", tokens, m->kv_lora_rank) ||
      !add_gemm(c, "kv_up", TPS_SPLIT_COLUMN, tokens, m->kv_lora_rank, kv_n, false,
                (double)tokens * m->kv_lora_rank * a))
    return oom(err);
  return TPS_OK;
}

/* A gated (SwiGLU) or GeLU MLP of inner width `ffn_r` per rank over `rows`
 * token rows: up, activation, down, named PREFIX_up/_act/_down. `groups`
 * GEMMs of `rows / groups` rows each when > 1 (the routed experts on this
 * rank, whose weights are `groups` times one expert's); `routed`: these are
 * routed experts (their rows follow the experts' token load, their weights
 * reduce over the expert data-parallel group). */
static tps_status add_mlp(lower_ctx *c, const char *prefix, double rows, int64_t ffn_r,
                          int64_t groups, bool routed, double saved_input, tps_error *err) {
  const tps_module *m = c->mod;
  const double a = c->act_bytes;
  const int64_t h = m->hidden, up_n = (m->mlp == TPS_MLP_SWIGLU ? 2 : 1) * ffn_r;
  const int64_t r = saturate_i64(rows);
  const double g = groups > 1 ? (double)groups : 1.0;
  char name[TPS_OP_NAME_MAX];
  snprintf(name, sizeof name, "%s_up", prefix);
  tps_op *up = add_gemm(c, name, TPS_SPLIT_COLUMN, r, h, up_n, m->bias, saved_input);
  if (!up) return oom(err);
  /* Later pushes may move the op array: keep the index, not the pointer. */
  const ptrdiff_t up_i = up - c->out->ops;
  snprintf(name, sizeof name, "%s_act", prefix);
  tps_op *act = add_elementwise(c, name, TPS_OP_ACTIVATION, rows * ffn_r,
                                m->mlp == TPS_MLP_SWIGLU ? 2 : 1, 1, rows * up_n * a);
  if (!act) return oom(err);
  act->m = r;
  act->n = ffn_r;
  act->moe_load = routed;
  if (c->runs_bwd) act->workspace_bytes = rows * (ffn_r + up_n) * a;
  snprintf(name, sizeof name, "%s_down", prefix);
  tps_op *down = add_gemm(c, name, TPS_SPLIT_ROW, r, ffn_r, h, m->bias, rows * ffn_r * a);
  if (!down) return oom(err);
  tps_op *ops[2] = {&c->out->ops[up_i], down};
  for (int i = 0; routed && i < 2; i++) {
    /* One weight per expert: parameters and the weights' traffic scale with
     * the group; the FLOPs with the rows, already all of them. */
    tps_op *op = ops[i];
    double w = (double)op->k * op->n;
    op->groups = groups > 1 ? groups : 1;
    op->routed = true;
    op->moe_load = true;
    op->params *= g;
    op->fwd_bytes += (g - 1.0) * w * a;
    if (c->runs_bwd) op->bwd_bytes += (g - 1.0) * w * a * (c->trainable ? 2.0 : 1.0);
  }
  return TPS_OK;
}

/* A collective of an MoE layer's token dispatcher over `group` ranks
 * `stride` apart, on a tensor of `bytes`; it follows the experts' load. */
static tps_op *add_moe_coll(lower_ctx *c, const char *name, tps_coll fwd, tps_coll bwd,
                            int64_t group, int64_t stride, double rows, double bytes) {
  tps_op *op = op_push(c->out, name, TPS_OP_COLLECTIVE);
  if (!op) return NULL;
  op->group = group;
  op->stride = stride;
  op->m = saturate_i64(rows);
  op->n = c->mod->hidden;
  op->coll_bytes = bytes;
  op->fwd_coll = fwd;
  op->bwd_coll = c->runs_bwd ? bwd : TPS_COLL_NONE;
  op->moe_load = true;
  return op;
}

/* The MLP of an MoE layer (Megatron-Core MoELayer with the all-to-all token
 * dispatcher: router, permutation, dispatch, grouped routed experts,
 * combine, unpermutation, shared experts; Fedus et al. 2022, DeepSeek-V3,
 * arXiv 2412.19437, Sec. 2.1.2; docs/model.md, "Mixture of experts").
 *
 * Each rank routes its own 1/tp of the layer's tokens (its sequence shard:
 * Megatron-Core runs MoE with TP under sequence parallelism), T_r of them,
 * to experts_per_token (k) experts: T_r k rows. The dispatch all-to-all over
 * the EP group (ranks ETP apart: Megatron-Core's expert grid is
 * etp-ep-edp-pp) sends each row to the rank of its expert, (ep - 1)/ep of
 * them off the rank; an all-gather over the ETP group then gives every
 * expert-TP rank the rows of its experts, T_r k etp in all at the expected
 * (uniform) load, on experts / ep local experts of expert_ffn / etp columns
 * each. The way back is a reduce-scatter over ETP and the combine
 * all-to-all; backward runs each in reverse. */
static tps_status lower_moe_mlp(lower_ctx *c, int64_t tokens, tps_error *err) {
  const tps_module *m = c->mod;
  const tps_run *run = c->run;
  const int64_t tp = c->tp, h = m->hidden;
  const int64_t ep = eng_ep_ranks(run), etp = eng_etp_ranks(run);
  const double a = c->act_bytes;
  const int64_t ts = seq_shard(c, tokens);
  const double mask = m->dropout ? 1.0 : 0.0;
  const double sent = (double)tokens / (double)tp * (double)m->experts_per_token;
  const double rows = sent * (double)etp; /* rows entering this rank's experts */
  tps_status st;
  if (!add_norm(c, "mlp_norm", ts, h)) return oom(err);
  /* Router: scores hidden -> experts on every rank's own tokens, fp32
   * softmax / sigmoid and top-k; keeps its input and the scores. */
  tps_op *router = add_gemm(c, "router", TPS_SPLIT_REPLICATED, ts, h, m->experts, false,
                            (double)ts * h * a + (double)ts * m->experts * 4.0);
  if (!router) return oom(err);
  if (m->router_bias) router->params += (double)m->experts;
  /* Permutation: each routed token copied to its top-k experts' rows. */
  tps_op *perm = add_elementwise(c, "moe_permute", TPS_OP_ACTIVATION, sent * h, 1, 1, 0.0);
  if (!perm) return oom(err);
  perm->m = saturate_i64(sent);
  perm->n = h;
  perm->moe_load = true;
  if (!add_moe_coll(c, "moe_dispatch", TPS_COLL_ALL_TO_ALL, TPS_COLL_ALL_TO_ALL, ep, etp, sent,
                    sent * h * a) ||
      !add_moe_coll(c, "moe_gather", TPS_COLL_ALL_GATHER, TPS_COLL_REDUCE_SCATTER, etp, 1, rows,
                    rows * h * a))
    return oom(err);
  if ((st = add_mlp(c, "experts", rows, m->expert_ffn / etp, m->experts / ep, true,
                    rows * h * a, err)))
    return st;
  if (!add_moe_coll(c, "moe_scatter", TPS_COLL_REDUCE_SCATTER, TPS_COLL_ALL_GATHER, etp, 1, rows,
                    rows * h * a) ||
      !add_moe_coll(c, "moe_combine", TPS_COLL_ALL_TO_ALL, TPS_COLL_ALL_TO_ALL, ep, etp, sent,
                    sent * h * a))
    return oom(err);
  /* Unpermutation: the top-k outputs of a token weighted by their scores
   * and summed; keeps the expert outputs for the scores' gradient. */
  tps_op *unperm = add_elementwise(c, "moe_unpermute", TPS_OP_ACTIVATION, sent * h, 2, 1,
                                   sent * h * a);
  if (!unperm) return oom(err);
  unperm->m = saturate_i64(sent);
  unperm->n = h;
  unperm->moe_load = true;
  /* Without SP every TP rank holds all the tokens: the shards routed on
   * each are gathered back (the gradient is whole on every rank). */
  if (!run->sp && tp > 1) {
    tps_op *g = op_push(c->out, "moe_out_gather", TPS_OP_COLLECTIVE);
    if (!g) return oom(err);
    g->group = tp;
    g->m = tokens;
    g->n = h;
    g->coll_bytes = (double)tokens * h * a;
    g->fwd_coll = TPS_COLL_ALL_GATHER;
  }
  if (m->shared_expert_ffn > 0) {
    /* Shared experts: a dense MLP over TP beside the routed ones. */
    if (!add_conjugate(c, "shared_f", false, tokens, h)) return oom(err);
    if ((st = add_mlp(c, "shared", (double)tokens, m->shared_expert_ffn / tp, 1, false,
                      (double)ts * h * a, err)))
      return st;
    if (m->shared_expert_gate &&
        !add_gemm(c, "shared_gate", TPS_SPLIT_REPLICATED, tokens, h, 1, false, 0.0))
      return oom(err);
    if (!add_conjugate(c, "shared_g", true, tokens, h)) return oom(err);
  }
  if (!add_elementwise(c, "mlp_residual", TPS_OP_RESIDUAL, (double)ts * h, 2, 1, (double)ts * h * mask))
    return oom(err);
  return TPS_OK;
}

/* A multi-token prediction module's own layer (DeepSeek-V3, arXiv
 * 2412.19437, Sec. 2.2; Megatron-Core MultiTokenPredictionLayer): the
 * shared embedding looked up again for the shifted tokens, RMSNorm of it
 * and of the previous depth's hidden state, their concatenation projected
 * 2 hidden -> hidden (column-parallel, then gathered). Its transformer
 * block and its head are separate layers. */
static tps_status lower_mtp(lower_ctx *c, int64_t tokens, tps_error *err) {
  const tps_module *m = c->mod;
  const double a = c->act_bytes;
  const int64_t h = m->hidden, ts = seq_shard(c, tokens);
  tps_op *emb = add_elementwise(c, "mtp_embed", TPS_OP_EMBEDDING, (double)tokens * h, 0, 1, 0.0);
  if (!emb) return oom(err);
  emb->m = tokens;
  emb->n = h;
  if (!add_norm(c, "mtp_enorm", ts, h) || !add_norm(c, "mtp_hnorm", ts, h) ||
      !add_conjugate(c, "mtp_f", false, tokens, 2 * h) ||
      !add_gemm(c, "mtp_proj", TPS_SPLIT_COLUMN, tokens, 2 * h, h / c->tp, false,
                (double)ts * 2 * h * a))
    return oom(err);
  tps_op *g = op_push(c->out, "mtp_gather", TPS_OP_COLLECTIVE);
  if (!g) return oom(err);
  g->group = c->tp;
  g->m = tokens;
  g->n = h;
  g->coll_bytes = (double)tokens * h * a;
  g->fwd_coll = TPS_COLL_ALL_GATHER;
  return TPS_OK;
}

/* The vocabulary padded to a multiple of vocab_divisor x tp, checked. */
static tps_status padded_vocab(const lower_ctx *c, int64_t *out, tps_error *err) {
  const tps_module *m = c->mod;
  int64_t divisor = c->run->vocab_divisor > 0 ? c->run->vocab_divisor : 1, multiple, sum;
  if (!mul_i64(divisor, c->tp, &multiple) || !add_i64(m->vocab, multiple, &sum))
    return too_large(m, err, "vocab %lld padded to a multiple of vocab_divisor x tp = %lld x %lld",
                     (long long)m->vocab, (long long)divisor, (long long)c->tp);
  *out = tps_padded_vocab(m->vocab, divisor, c->tp);
  return TPS_OK;
}

static tps_status lower_embedding(lower_ctx *c, int64_t tokens, tps_error *err) {
  const tps_module *m = c->mod;
  int64_t vpad, ts = seq_shard(c, tokens);
  tps_status st = eng_check_module_split(m, c->run, err);
  if (st != TPS_OK) return st;
  if ((st = padded_vocab(c, &vpad, err)) != TPS_OK) return st;
  tps_op *emb = add_elementwise(c, "embed", TPS_OP_EMBEDDING, (double)tokens * m->hidden, 0, 1, 0.0);
  if (!emb) return oom(err);
  emb->m = tokens;
  emb->n = m->hidden;
  emb->params = (double)vpad / c->tp * m->hidden;
  if (m->position == TPS_POSITION_LEARNED) emb->params += (double)m->max_position * m->hidden;
  if (m->dropout && c->runs_bwd) emb->saved_bytes = emb->saved_bytes_selective = (double)ts * m->hidden;
  /* Vocab-parallel lookup: partial rows are summed (g). */
  tps_op *g = add_conjugate(c, "embed_g", true, tokens, m->hidden);
  if (!g) return oom(err);
  return TPS_OK;
}

static tps_status lower_head(lower_ctx *c, int64_t tokens, tps_error *err) {
  const tps_module *m = c->mod;
  const double a = c->act_bytes;
  int64_t vpad;
  tps_status st = padded_vocab(c, &vpad, err);
  if (st != TPS_OK) return st;
  int64_t vr = vpad / c->tp;
  int64_t ts = seq_shard(c, tokens);
  if (!add_norm(c, "final_norm", ts, m->hidden)) return oom(err);
  if (!add_conjugate(c, "head_f", false, tokens, m->hidden)) return oom(err);
  tps_op *head = add_gemm(c, "lm_head", TPS_SPLIT_COLUMN, tokens, m->hidden, vr, false,
                          (double)ts * m->hidden * a);
  if (!head) return oom(err);
  /* Tied: the weight is the embedding's (a copy on another pipeline stage is
   * added by the planner). */
  if (m->tied_embeddings || c->opts.shared_head) head->params = 0.0;
  /* The loss over T x V/tp logits, per logit (docs/model.md, "The loss"):
   *   megatron: Megatron's vocab-parallel cross entropy keeps the fp32
   *     softmax (4 B); in forward the logits (a), their fp32 copy and the
   *     shifted copy coexist, and in backward the fp32 gradient and its
   *     low-precision cast: 4 + a beside what is kept (megatron/core/
   *     tensor_parallel/cross_entropy.py; since June 2024 the shift is in
   *     place in eager code, but the measured run with the fused loss is
   *     predicted low already with this count, docs/validation.md);
   *   te: Transformer Engine's parallel_cross_entropy writes the gradient
   *     into the logits in forward and keeps them (a), nothing beside them
   *     (transformer_engine/pytorch/cross_entropy.py). */
  const double logits = (double)tokens * vr;
  const bool te = c->run->cross_entropy == TPS_CE_TE;
  tps_op *loss = add_elementwise(c, "loss", TPS_OP_LOSS, logits, 1, 2, logits * (te ? a : 4.0));
  if (!loss) return oom(err);
  loss->m = tokens;
  loss->n = vr;
  loss->workspace_bytes = te ? 0.0 : logits * (4.0 + a);
  /* Max, sum of exponentials and target logit: three all-reduces of one
   * fp32 per token over the TP group. */
  tps_op *ar = op_push(c->out, "loss_ar", TPS_OP_COLLECTIVE);
  if (!ar) return oom(err);
  ar->group = c->tp;
  ar->fwd_coll = TPS_COLL_ALL_REDUCE;
  ar->coll_bytes = 3.0 * tokens * 4.0;
  ar->m = tokens;
  return TPS_OK;
}

static tps_status lower_patch_embed(lower_ctx *c, int64_t tokens, tps_error *err) {
  const tps_module *m = c->mod;
  int64_t k; /* pixels of one patch: in_channels x temporal_patch x patch^2 */
  if (!mul_i64(m->in_channels, m->temporal_patch, &k) || !mul_i64(k, m->patch, &k) ||
      !mul_i64(k, m->patch, &k))
    return too_large(m, err, "in_channels x temporal_patch x patch^2 = %lld x %lld x %lld^2",
                     (long long)m->in_channels, (long long)m->temporal_patch, (long long)m->patch);
  /* Conv3d with stride = kernel is a GEMM over flattened patches, replicated. */
  if (!add_gemm(c, "patch_embed", TPS_SPLIT_REPLICATED, tokens, k, m->hidden, false,
                (double)tokens * k * c->act_bytes))
    return oom(err);
  return TPS_OK;
}

static tps_status lower_merger(lower_ctx *c, int64_t tokens_in, tps_error *err) {
  const tps_module *m = c->mod;
  const double a = c->act_bytes;
  int64_t merge, width;
  if (!mul_i64(m->spatial_merge, m->spatial_merge, &merge) || !mul_i64(m->hidden, merge, &width))
    return too_large(m, err, "hidden x spatial_merge^2 = %lld x %lld^2", (long long)m->hidden,
                     (long long)m->spatial_merge);
  if (tokens_in % merge != 0) {
    return tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                         "module '%s': %lld input tokens are not a multiple of spatial_merge^2 = %lld",
                         m->name, (long long)tokens_in, (long long)merge);
  }
  tps_status st = eng_check_module_split(m, c->run, err);
  if (st != TPS_OK) return st;
  int64_t tokens = tokens_in / merge, ffn_r = m->ffn / c->tp;
  if (!add_norm(c, "merger_norm", tokens_in, m->hidden)) return oom(err);
  if (!add_conjugate(c, "merger_f", false, tokens, width)) return oom(err);
  if (!add_gemm(c, "merger_fc1", TPS_SPLIT_COLUMN, tokens, width, ffn_r, m->bias, (double)tokens * width * a))
    return oom(err);
  tps_op *act = add_elementwise(c, "merger_act", TPS_OP_ACTIVATION, (double)tokens * ffn_r,
                                m->mlp == TPS_MLP_SWIGLU ? 2 : 1, 1, (double)tokens * ffn_r * a);
  if (!act) return oom(err);
  act->m = tokens;
  act->n = ffn_r;
  if (!add_gemm(c, "merger_fc2", TPS_SPLIT_ROW, tokens, ffn_r, m->output, m->bias, (double)tokens * ffn_r * a))
    return oom(err);
  if (!add_conjugate(c, "merger_g", true, tokens, m->output)) return oom(err);
  return TPS_OK;
}

int64_t eng_module_tokens(const tps_module *mod, const tps_run *run) {
  int64_t per_sample = mod->type == TPS_MODULE_DECODER ? run->seq_len : mod->tokens, tokens;
  /* saturated: tps_run_resolve and tps_lower_layer refuse such runs */
  if (!mul_i64(per_sample, run->micro_batch, &tokens)) return INT64_MAX;
  /* Context parallelism: each CP rank holds 1/cp of a decoder's tokens. */
  return mod->type == TPS_MODULE_DECODER ? tokens / eng_cp_ranks(run) : tokens;
}

tps_status tps_lower_layer(const tps_module *mod, const tps_run *run,
                           tps_lower_opts opts, tps_op_list *out,
                           tps_error *err) {
  if (run->tp < 1)
    return tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "--tp must be >= 1, got %lld", (long long)run->tp);
  lower_ctx c = {
      .mod = mod,
      .run = run,
      .opts = opts,
      .out = out,
      .act_bytes = tps_precision_bytes(run->precision),
      .tp = run->tp,
      .trainable = !mod->frozen,
      .runs_bwd = !mod->frozen || opts.needs_input_grad,
  };
  /* Tokens per micro-batch (tps_run_resolve checks them too; the lowering
   * is also called on runs built elsewhere). */
  int64_t per_sample = mod->type == TPS_MODULE_DECODER ? run->seq_len : mod->tokens, tokens;
  if (!mul_i64(per_sample, run->micro_batch, &tokens))
    return too_large(mod, err, "%s x micro_batch = %lld x %lld",
                     mod->type == TPS_MODULE_DECODER ? "seq_len" : "tokens", (long long)per_sample,
                     (long long)run->micro_batch);
  /* Context parallelism: this rank's share of a decoder's tokens (rounded
   * up for a plan at a mean length that CP does not divide). */
  const int64_t cp = eng_cp_ranks(run);
  if (mod->type == TPS_MODULE_DECODER && cp > 1) tokens = (tokens + cp - 1) / cp;
  int first = out->n;
  tps_status st;
  switch (opts.kind) {
    case TPS_LAYER_EMBEDDING: st = lower_embedding(&c, tokens, err); break;
    case TPS_LAYER_BLOCK: st = lower_block(&c, tokens, err); break;
    case TPS_LAYER_HEAD: st = lower_head(&c, tokens, err); break;
    case TPS_LAYER_PATCH_EMBED: st = lower_patch_embed(&c, tokens, err); break;
    case TPS_LAYER_MERGER: st = lower_merger(&c, tokens, err); break;
    case TPS_LAYER_MTP: st = lower_mtp(&c, tokens, err); break;
    default:
      st = tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "unknown layer kind %d", (int)opts.kind);
  }
  if (st != TPS_OK) out->n = first; /* leave the list as it was */
  return st;
}
