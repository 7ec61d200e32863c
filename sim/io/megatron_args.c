/* Megatron-LM / MindSpeed arguments and launch scripts (docs/ecosystem.md):
 * what the flags of an argument string or a launch script mean for a model
 * (tps_model) and for the run (tps_run_overrides).
 *
 * The text is read as shell (shell_read.c); every command's words are
 * matched against the flag table (megatron_flags.c), a later flag
 * overriding an earlier one, as argparse does; the values are applied here
 * at the end, to copies, so that an error leaves the caller's model and
 * overrides untouched. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/flag_classes.h"
#include "io/io_internal.h"
#include "io/megatron_flags.h"
#include "io/shell_read.h"
#include "tpsim/ecosystem.h"
#include "tpsim/io.h"

/* ---- applying the values ---- */

/* Where errors go while the values are applied. */
typedef struct mg_apply {
  const mgf_args *a;
  const char *file; /* the script path or "--megatron-args" */
  bool script;      /* file is a script read from disk */
  tps_error *err;
} mg_apply;

static tps_status fail(const mg_apply *S, shx_pos at, tps_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tps_status fail(const mg_apply *S, shx_pos at, tps_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tps_error_vset(S->err, st, S->file, at.line, at.col, fmt, ap);
  va_end(ap);
  return st;
}

static void unres_add(const mg_apply *S, const char *arg, const char *text, const char *why,
                      int line) {
  mgf_unres_add(S->a->unres, arg, text, why, line);
}

static bool given(const mg_apply *S, mgf_id id) { return S->a->val[id].given; }
static int64_t ival(const mg_apply *S, mgf_id id) { return S->a->val[id].i; }
static const mgf_val *val(const mg_apply *S, mgf_id id) { return &S->a->val[id]; }

static bool any_shape(const mg_apply *S) {
  for (int k = 0; k < mgf_n_flags; k++)
    if (mgf_flags[k].shape && given(S, mgf_flags[k].id)) return true;
  return false;
}

static void apply_run(const mg_apply *S, tps_run_overrides *o, tps_eco_unresolved *u) {
  int applied = 0;
#define RUN_INT(id, field) \
  if (given(S, id)) { o->field = ival(S, id); applied++; }
  RUN_INT(MGF_TP, tp)
  RUN_INT(MGF_PP, pp)
  RUN_INT(MGF_MBS, micro_batch)
  RUN_INT(MGF_GBS, global_batch)
  RUN_INT(MGF_SEQ, seq_len)
  RUN_INT(MGF_VPP, vpp)
  RUN_INT(MGF_CP, cp)
  RUN_INT(MGF_ULYSSES, ulysses_degree)
  RUN_INT(MGF_EP, ep)
  RUN_INT(MGF_ETP, etp)
#undef RUN_INT
  /* Token dropping (Megatron --moe-expert-capacity-factor): the most loaded
   * expert takes at most this x its expected load (eng_moe_load_factor). */
  if (given(S, MGF_CAPACITY)) {
    o->moe_capacity_factor = val(S, MGF_CAPACITY)->x;
    applied++;
  }
  /* The all-to-all dispatcher is the one modelled; the others move the
   * same tokens another way (said, not refused). */
  if (given(S, MGF_DISPATCHER)) {
    if (ival(S, MGF_DISPATCHER) >= 2)
      unres_add(S, "--moe-token-dispatcher-type", "",
                "costed as the all-to-all dispatcher (the same tokens per rank, moved by "
                "all-to-all)",
                val(S, MGF_DISPATCHER)->at.line);
    applied++;
  }
  if (given(S, MGF_GROUPED_GEMM)) applied++; /* routed experts: one grouped GEMM per rank */
  /* MindSpeed's algorithm wins over Megatron's --cp-comm-type (MindSpeed
   * replaces Transformer Engine's attention with its own). */
  if (given(S, MGF_CP_ALGO)) {
    o->cp_algo = (int)ival(S, MGF_CP_ALGO);
    applied++;
  }
  if (given(S, MGF_CP_COMM)) {
    if (!given(S, MGF_CP_ALGO)) o->cp_algo = ival(S, MGF_CP_COMM) == 0 ? TPS_CP_RING : TPS_CP_ULYSSES;
    applied++;
  }
  if (given(S, MGF_SP)) { o->sp = 1; applied++; }
  if (given(S, MGF_DIST_OPT)) { o->distributed_optimizer = 1; applied++; }
  if (given(S, MGF_FLASH)) { o->flash_attention = 1; applied++; }
  if (given(S, MGF_OVERLAP)) { o->overlap_grad_reduce = 1; applied++; }
  if (given(S, MGF_TP_OVERLAP)) { o->tp_comm_overlap = 1; applied++; }
  if (given(S, MGF_GRAD_BF16)) { o->grad_reduce_bf16 = 1; applied++; }
  if (given(S, MGF_REUSE_FP32)) { o->reuse_fp32_param = 1; applied++; }
  if (given(S, MGF_RECOMPUTE_ACT_FN)) { o->recompute_activation = 1; applied++; }
  if (given(S, MGF_PARAM_GATHER)) { o->overlap_param_gather = 1; applied++; }
  /* MindSpeed's CoC (docs/zh/features/communication-over-computation.md)
   * splits each TP matmul and its collective into --coc-parallel-num chunks
   * that overlap, or runs them as one fused kernel (--coc-fused-kernel): with
   * SP (all-gather, reduce-scatter) the engine's TP overlap; without SP it
   * overlaps all-reduces, which the engine does not model; in one chunk and
   * no fused kernel nothing overlaps. */
  if (given(S, MGF_COC_FUSED)) applied++;
  if (given(S, MGF_COC_NUM)) applied++;
  if (given(S, MGF_COC)) {
    bool splits = given(S, MGF_COC_FUSED) || (given(S, MGF_COC_NUM) && ival(S, MGF_COC_NUM) > 1);
    if (splits && given(S, MGF_SP)) {
      o->tp_comm_overlap = 1;
    } else if (splits) {
      io_eco_item_add(u->unmodelled.items, &u->unmodelled.n, &u->unmodelled.dropped,
                      "--use-ascend-coc", "",
                      "without --sequence-parallel CoC overlaps the TP all-reduces with their "
                      "matmuls, which is not modelled (with SP it is costed as --tp-comm-overlap)",
                      val(S, MGF_COC)->at.line);
      applied--;
    }
    applied++;
  }
  if (given(S, MGF_RECOMPUTE)) {
    o->recompute = ival(S, MGF_RECOMPUTE) == 0 ? TPS_RECOMPUTE_SELECTIVE : TPS_RECOMPUTE_FULL;
    applied++;
  } else if (given(S, MGF_RECOMPUTE_ACT)) {
    o->recompute = TPS_RECOMPUTE_SELECTIVE;
    applied++;
  }
  if (given(S, MGF_RECOMPUTE_METHOD)) applied++; /* uniform | block: placement only */
  if (given(S, MGF_BF16) && given(S, MGF_FP16)) {
    unres_add(S, "--fp16", "", "both --bf16 and --fp16 are given; bf16 is used",
              val(S, MGF_FP16)->at.line);
  }
  if (given(S, MGF_BF16)) { o->precision = TPS_PRECISION_BF16; applied++; }
  else if (given(S, MGF_FP16)) { o->precision = TPS_PRECISION_FP16; applied++; }
  if (given(S, MGF_FP8)) { o->fp8 = (int)ival(S, MGF_FP8) + 1; applied++; }
  if (given(S, MGF_FP8_AMAX)) { o->fp8_amax_history = ival(S, MGF_FP8_AMAX); applied++; }
  if (given(S, MGF_FP8_PGATHER)) { o->fp8_param_gather = 1; applied++; }
  /* Megatron-Core's language_module.py: with --cross-entropy-loss-fusion,
   * --cross-entropy-fusion-impl te runs Transformer Engine's loss; native
   * (the default) and the unfused loss are Megatron's, costed alike (docs/
   * model.md, "The loss"); without the fusion the implementation flag has
   * no effect. */
  if (given(S, MGF_CE_FUSION)) {
    if (given(S, MGF_CE_IMPL) && ival(S, MGF_CE_IMPL) == 1) o->cross_entropy = TPS_CE_TE;
    applied++;
  }
  if (given(S, MGF_CE_IMPL)) applied++;
  if (given(S, MGF_LAYER_LIST)) {
    /* MindSpeed's per-stage decoder layers, as the CLI's --num-layer-list */
    memcpy(o->decoder_layers, S->a->list, (size_t)S->a->n_list * sizeof S->a->list[0]);
    o->n_decoder_layers = S->a->n_list;
    applied++;
  }
  if (given(S, MGF_NPROC)) {
    int64_t nodes = given(S, MGF_NNODES) ? ival(S, MGF_NNODES) : 1;
    o->cards = ival(S, MGF_NPROC) * nodes;
    applied += 1 + given(S, MGF_NNODES);
  }
  u->recognised += applied;
}

/* Megatron's default FFN width: 4h, or with --swiglu the largest multiple
 * of 64 under 8h/3 (megatron/training/arguments.py). */
static int64_t megatron_ffn(int64_t h, bool swiglu) {
  return swiglu ? ((8 * h / 3) / 64) * 64 : 4 * h;
}

/* The expert, MLA and MTP flags (docs/ecosystem.md). Megatron-LM's
 * defaults (megatron/training/arguments.py) for what is not given:
 * --moe-router-topk 2, --moe-ffn-hidden-size = --ffn-hidden-size, softmax
 * scores; MLA --kv-lora-rank 32, --qk-head-dim 128, --qk-pos-emb-head-dim
 * 64, --v-head-dim 128, no --q-lora-rank. */
static tps_status apply_moe_mla(const mg_apply *S, tps_module *m, bool fresh, int *n) {
#define MOE_INT(id, field) \
  if (given(S, id)) { m->field = ival(S, id); (*n)++; }
  MOE_INT(MGF_EXPERTS, experts)
  MOE_INT(MGF_TOPK, experts_per_token)
  MOE_INT(MGF_MOE_FFN, expert_ffn)
  MOE_INT(MGF_SHARED_FFN, shared_expert_ffn)
  MOE_INT(MGF_MOE_FREQ, moe_layer_freq)
  MOE_INT(MGF_FIRST_DENSE, first_dense_layers)
  MOE_INT(MGF_Q_LORA, q_lora_rank)
  MOE_INT(MGF_KV_LORA, kv_lora_rank)
  MOE_INT(MGF_QK_NOPE, qk_nope_head_dim)
  MOE_INT(MGF_QK_ROPE, qk_rope_head_dim)
  MOE_INT(MGF_V_HEAD, v_head_dim)
  MOE_INT(MGF_MTP, mtp_layers)
#undef MOE_INT
  if (given(S, MGF_N_SHARED)) (*n)++;
  if (given(S, MGF_ROUTER_BIAS)) {
    m->router_bias = true;
    (*n)++;
  }
  if (given(S, MGF_ROUTER_SCORE)) {
    m->router_score = ival(S, MGF_ROUTER_SCORE) == 1 ? TPS_ROUTER_SIGMOID : TPS_ROUTER_SOFTMAX;
    (*n)++;
  }
  /* --num-experts 1 (or 0) is a dense MLP, as the flag table declared it */
  if (m->experts <= 1) m->experts = 0;
  if (m->experts > 0) {
    if (m->experts_per_token == 0) m->experts_per_token = 2;
    if (m->expert_ffn == 0) m->expert_ffn = m->ffn;
    if (m->moe_layer_freq == 0) m->moe_layer_freq = 1;
    /* MindSpeed-LLM: N shared experts of the routed width, unless Megatron's
     * --moe-shared-expert-intermediate-size gives the width itself */
    if (given(S, MGF_N_SHARED) && !given(S, MGF_SHARED_FFN))
      m->shared_expert_ffn = ival(S, MGF_N_SHARED) * m->expert_ffn;
    if (m->experts_per_token > m->experts) {
      const mgf_val *v = val(S, given(S, MGF_TOPK) ? MGF_TOPK : MGF_EXPERTS);
      return fail(S, v->at, TPS_ERANGE,
                  "--moe-router-topk (%" PRId64 ") is above --num-experts (%" PRId64 ")",
                  m->experts_per_token, m->experts);
    }
  } else if (!given(S, MGF_EXPERTS)) {
    static const int moe_only[] = {MGF_TOPK, MGF_MOE_FFN, MGF_SHARED_FFN, MGF_MOE_FREQ,
                                   MGF_FIRST_DENSE, MGF_ROUTER_SCORE, MGF_N_SHARED,
                                   MGF_ROUTER_BIAS};
    for (size_t i = 0; i < sizeof moe_only / sizeof moe_only[0]; i++)
      if (given(S, moe_only[i]))
      {
        unres_add(S, val(S, moe_only[i])->flag, "", "ignored without --num-experts",
                  val(S, moe_only[i])->at.line);
        (*n)--;
      }
  }
  if (given(S, MGF_MLA)) {
    (*n)++;
    if (m->kv_lora_rank == 0) m->kv_lora_rank = 32;
    if (m->qk_nope_head_dim == 0) m->qk_nope_head_dim = 128;
    if (m->qk_rope_head_dim == 0) m->qk_rope_head_dim = 64;
    if (m->v_head_dim == 0) m->v_head_dim = 128;
    m->kv_heads = m->heads;
    m->head_dim = m->qk_nope_head_dim + m->qk_rope_head_dim;
    m->position = TPS_POSITION_ROPE;
  } else if (fresh || m->kv_lora_rank == 0) {
    static const int mla_only[] = {MGF_Q_LORA, MGF_KV_LORA, MGF_QK_NOPE, MGF_QK_ROPE,
                                   MGF_V_HEAD};
    for (size_t i = 0; i < sizeof mla_only / sizeof mla_only[0]; i++)
      if (given(S, mla_only[i]))
      {
        unres_add(S, val(S, mla_only[i])->flag, "", "ignored without --multi-latent-attention",
                  val(S, mla_only[i])->at.line);
        (*n)--;
      }
    m->q_lora_rank = m->kv_lora_rank = m->qk_nope_head_dim = m->qk_rope_head_dim =
        m->v_head_dim = 0;
  }
  return TPS_OK;
}

/* Applies the shape flags to decoder m (fresh: Megatron defaults for what
 * is not given). Returns an error for a shape that does not hold. */
static tps_status apply_shape(const mg_apply *S, tps_module *m, tps_training *t, bool fresh,
                              int *applied) {
  int n = 0;
#define SHAPE_INT(id, field) \
  if (given(S, id)) { m->field = ival(S, id); n++; }
  SHAPE_INT(MGF_LAYERS, layers)
  SHAPE_INT(MGF_HIDDEN, hidden)
  SHAPE_INT(MGF_HEADS, heads)
  SHAPE_INT(MGF_VOCAB, vocab)
  SHAPE_INT(MGF_MAX_POS, max_position)
  SHAPE_INT(MGF_KV_CHANNELS, head_dim)
  SHAPE_INT(MGF_SLIDING, sliding_window)
#undef SHAPE_INT
  if (given(S, MGF_PADDED_VOCAB)) {
    m->vocab = ival(S, MGF_PADDED_VOCAB);
    t->vocab_divisor = 1; /* already padded */
    n++;
  }
  if (given(S, MGF_VOCAB_DIV)) {
    if (!given(S, MGF_PADDED_VOCAB)) t->vocab_divisor = ival(S, MGF_VOCAB_DIV);
    n++;
  }
  if (given(S, MGF_SWIGLU)) { m->mlp = TPS_MLP_SWIGLU; n++; }
  if (given(S, MGF_FFN)) { m->ffn = ival(S, MGF_FFN); n++; }
  else if (fresh) m->ffn = megatron_ffn(m->hidden, m->mlp == TPS_MLP_SWIGLU);
  if (given(S, MGF_GQA)) {
    n++;
    if (given(S, MGF_GROUPS)) { m->kv_heads = ival(S, MGF_GROUPS); n++; }
    else if (fresh) m->kv_heads = 1; /* Megatron's default num_query_groups */
  } else if (given(S, MGF_GROUPS)) {
    unres_add(S, "--num-query-groups", "", "ignored without --group-query-attention",
              val(S, MGF_GROUPS)->at.line);
  }
  if (fresh && !given(S, MGF_GQA)) m->kv_heads = m->heads;
  if (given(S, MGF_HEADS) && !given(S, MGF_GQA) && !fresh && m->kv_heads > m->heads)
    m->kv_heads = m->heads;
  if (given(S, MGF_NORM)) {
    m->norm = ival(S, MGF_NORM) == 1 ? TPS_NORM_RMSNORM : TPS_NORM_LAYERNORM;
    n++;
  }
  if (given(S, MGF_UNTIE)) { m->tied_embeddings = false; n++; }
  if (given(S, MGF_POSITION)) {
    int64_t k = ival(S, MGF_POSITION);
    m->position = k == 0 ? TPS_POSITION_LEARNED : k == 2 ? TPS_POSITION_NONE : TPS_POSITION_ROPE;
    n++;
  } else if (given(S, MGF_ROTARY)) {
    m->position = TPS_POSITION_ROPE;
    n++;
  }
  if (given(S, MGF_NO_BIAS)) {
    m->bias = false;
    if (!given(S, MGF_QKV_BIAS)) m->qkv_bias = false;
    n++;
  }
  if (given(S, MGF_QKV_BIAS)) { m->qkv_bias = true; n++; }
  if (given(S, MGF_ATT_DROPOUT) || given(S, MGF_HID_DROPOUT)) {
    /* the other one keeps its value: Megatron's 0.1 for a new model */
    double keep = fresh || m->dropout ? 0.1 : 0.0;
    double a = given(S, MGF_ATT_DROPOUT) ? val(S, MGF_ATT_DROPOUT)->x : keep;
    double h = given(S, MGF_HID_DROPOUT) ? val(S, MGF_HID_DROPOUT)->x : keep;
    m->dropout = a > 0.0 || h > 0.0;
    n += given(S, MGF_ATT_DROPOUT) + given(S, MGF_HID_DROPOUT);
  }
  if (m->position == TPS_POSITION_LEARNED && m->max_position == 0)
    m->max_position = t->seq_len > 0 ? t->seq_len : TPS_DEFAULT_SEQ_LEN;
  /* checks */
  const mgf_val *hv = val(S, given(S, MGF_HEADS) ? MGF_HEADS : MGF_HIDDEN);
  if (given(S, MGF_KV_CHANNELS) && m->head_dim * m->heads == m->hidden) {
    /* the usual value: nothing to keep */
  } else if (!given(S, MGF_KV_CHANNELS)) {
    if (m->hidden % m->heads != 0)
      return fail(S, hv->at, TPS_ERANGE,
                  "--num-attention-heads (%" PRId64 ") does not divide --hidden-size (%" PRId64
                  ")",
                  m->heads, m->hidden);
    m->head_dim = m->hidden / m->heads;
  }
  tps_status st = apply_moe_mla(S, m, fresh, &n);
  if (st != TPS_OK) return st;
  if (m->kv_heads < 1 || m->kv_heads > m->heads || m->heads % m->kv_heads != 0) {
    const mgf_val *gv = val(S, given(S, MGF_GROUPS) ? MGF_GROUPS : MGF_HEADS);
    return fail(S, gv->at, TPS_ERANGE,
                "--num-query-groups (%" PRId64 ") must divide --num-attention-heads (%" PRId64
                ")",
                m->kv_heads, m->heads);
  }
  *applied = n;
  return TPS_OK;
}

/* ---- --mm-model: MindSpeed-MM's model JSON ---- */

static bool regular_file(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Finds the file of `--mm-model ARG` written in `script` (NULL: in
 * --megatron-args) and writes its path to out. A relative ARG is looked for
 * in the script's folder (as `source FILE` is), then in each folder above it
 * (MindSpeed-MM's recipes are launched from the repository root and name
 * the file from there: ./examples/qwen2.5vl/model_7b.json in
 * examples/qwen2.5vl/finetune_qwen2_5_vl_7b.sh), then in the current
 * folder. */
static bool mm_find(const char *script, const char *arg, char *out, size_t size) {
  if (arg[0] == '/') {
    snprintf(out, size, "%s", arg);
    return strlen(arg) < size && regular_file(out);
  }
  const char *rel = arg;
  while (rel[0] == '.' && rel[1] == '/') {
    rel += 2;
    while (*rel == '/') rel++;
  }
  if (script) {
    char dir[1024];
    const char *slash = strrchr(script, '/');
    if (!slash) dir[0] = '\0';
    else if (slash == script) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - script), script);
    for (int up = 0; up < 64 && dir[0]; up++) {
      int w = strcmp(dir, "/") == 0 ? snprintf(out, size, "/%s", rel)
                                     : snprintf(out, size, "%s/%s", dir, rel);
      if (w > 0 && (size_t)w < size && regular_file(out)) return true;
      char *cut = strrchr(dir, '/');
      if (!cut) dir[0] = '\0'; /* a relative folder: the current one is next */
      else if (cut == dir) {
        if (dir[1] == '\0') break; /* was the root */
        dir[1] = '\0';
      } else {
        *cut = '\0';
      }
    }
  }
  snprintf(out, size, "%s", rel);
  return strlen(rel) < size && regular_file(out);
}

/* Loads the --mm-model file into m (empty). */
static tps_status load_mm_model(const mg_apply *S, tps_model *m) {
  const mgf_val *v = val(S, MGF_MM_MODEL);
  char path[MGF_PATH_MAX + 1100];
  if (!mm_find(S->script ? S->file : NULL, S->a->path, path, sizeof path)) {
    fail(S, v->at, TPS_ENOTFOUND, "--mm-model '%.200s': no such file %s", S->a->path,
         S->script ? "in the script's folder, the folders above it or the current folder"
                   : "(relative to the current folder)");
    tps_error_hint(S->err, "MindSpeed-MM recipes name the file from the repository root, where "
                           "they are launched; or give the model with --model FILE");
    return TPS_ENOTFOUND;
  }
  return tps_mindspeed_mm_load(path, m, S->err);
}

/* The decoder fields the shape flags set, compared. */
static bool same_decoder(const tps_module *a, const tps_module *b) {
  return a->layers == b->layers && a->hidden == b->hidden && a->heads == b->heads &&
         a->kv_heads == b->kv_heads && a->head_dim == b->head_dim && a->ffn == b->ffn &&
         a->vocab == b->vocab && a->max_position == b->max_position && a->mlp == b->mlp &&
         a->norm == b->norm && a->tied_embeddings == b->tied_embeddings &&
         a->position == b->position && a->bias == b->bias && a->qkv_bias == b->qkv_bias &&
         a->dropout == b->dropout;
}

/* With the model from --mm-model, MindSpeed-MM builds the model from the
 * file alone (get_model_config takes only parallel settings from the
 * arguments): the script's shape flags are checked against it, not used. */
static tps_status check_mm_shape(const mg_apply *S, const tps_model *m, tps_eco_unresolved *u) {
  bool other = false;
  for (int k = 0; k < mgf_n_flags; k++)
    if (mgf_flags[k].shape && mgf_flags[k].id != MGF_MM_MODEL && given(S, mgf_flags[k].id))
      other = true;
  if (!other) return TPS_OK;
  tps_model *c = malloc(sizeof *c);
  if (!c) return fail(S, (shx_pos){0, 0}, TPS_ENOMEM, "out of memory while reading the arguments");
  *c = *m;
  int last = c->n_modules - 1, applied = 0;
  tps_error quiet;
  mg_apply Q = *S;
  Q.err = &quiet;
  tps_status st = apply_shape(&Q, &c->modules[last], &c->training, false, &applied);
  if (st || !same_decoder(&c->modules[last], &m->modules[last]) ||
      c->training.vocab_divisor != m->training.vocab_divisor) {
    char why[160];
    snprintf(why, sizeof why, "the model-shape flags differ from --mm-model %.40s, which "
             "MindSpeed-MM builds the model from: not used", S->a->path);
    unres_add(S, "(model)", "", why, 0);
  } else {
    u->recognised += applied; /* they agree with the file */
  }
  free(c);
  return TPS_OK;
}

/* MindSpeed's --noop-layers on decoder d: the real layers, and with a
 * pipeline the real layers of each stage as an explicit placement. */
/* --num-layers-per-virtual-pipeline-stage N: Megatron's arguments.py turns it
 * into chunks per stage, (num_layers / pp) / N, and asserts that N divides
 * the layers of a stage. */
static tps_status apply_vpp_layers(const mg_apply *S, const tps_model *m, tps_run_overrides *o,
                                   int *applied) {
  if (!given(S, MGF_VPP_LAYERS)) return TPS_OK;
  const mgf_val *v = val(S, MGF_VPP_LAYERS);
  int64_t layers = given(S, MGF_LAYERS) ? ival(S, MGF_LAYERS) : 0;
  for (int k = 0; !layers && k < m->n_modules; k++)
    if (m->modules[k].type == TPS_MODULE_DECODER) layers = m->modules[k].layers;
  const int64_t pp = o->pp > 0 ? o->pp : (m->training.pp > 0 ? m->training.pp : 1);
  const int64_t per_chunk = v->i;
  if (layers <= 0 || layers % pp != 0 || (layers / pp) % per_chunk != 0)
    return fail(S, v->at, TPS_EDIVIDE,
                "%s %lld does not divide the %lld layers of a pipeline stage (%lld layers / PP %lld)",
                v->flag, (long long)per_chunk, (long long)(pp > 0 ? layers / pp : layers),
                (long long)layers, (long long)pp);
  if (given(S, MGF_VPP) && ival(S, MGF_VPP) != layers / pp / per_chunk)
    return fail(S, v->at, TPS_EINVAL,
                "%s %lld gives %lld chunks per stage, but --virtual-pipeline-model-parallel-size "
                "says %lld",
                v->flag, (long long)per_chunk, (long long)(layers / pp / per_chunk),
                (long long)ival(S, MGF_VPP));
  o->vpp = layers / pp / per_chunk;
  (*applied)++;
  return TPS_OK;
}

static tps_status apply_noop(const mg_apply *S, tps_module *d, int64_t pp, tps_run_overrides *o,
                             int *applied) {
  if (!given(S, MGF_NOOP)) return TPS_OK;
  const mgf_args *A = S->a;
  int64_t real[TPS_MAX_STAGES], layers = 0;
  char why[160];
  if (!mgf_noop_place(d->layers, pp, A->list, given(S, MGF_LAYER_LIST) ? A->n_list : 0, A->noop,
                      A->n_noop, real, &layers, why, sizeof why))
    return fail(S, val(S, MGF_NOOP)->at, TPS_EINVAL, "--noop-layers: %s", why);
  d->layers = layers;
  if (pp > 1) {
    memcpy(o->decoder_layers, real, (size_t)pp * sizeof real[0]);
    o->n_decoder_layers = (int)pp;
  }
  (*applied)++;
  return TPS_OK;
}

static tps_status apply_all(const mg_apply *S, tps_model *model, tps_run_overrides *over,
                            tps_eco_unresolved *u, const char *name, const char *origin) {
  tps_run_overrides o = *over;
  apply_run(S, &o, u);
  if (!any_shape(S)) {
    *over = o;
    return TPS_OK;
  }
  if (!model) {
    for (int k = 0; k < mgf_n_flags; k++) {
      const mgf_val *v = val(S, mgf_flags[k].id);
      if (mgf_flags[k].shape && v->given && v->flag == mgf_flags[k].name)
        unres_add(S, mgf_flags[k].name, "", "a model-shape flag, and no model was given",
                  v->at.line);
    }
    *over = o;
    return TPS_OK;
  }
  tps_model *m = malloc(sizeof *m);
  if (!m) {
    return fail(S, (shx_pos){0, 0}, TPS_ENOMEM, "out of memory while reading the arguments");
  }
  *m = *model;
  tps_status st = TPS_OK;
  int applied = 0;
  bool from_mm = false;
  if (given(S, MGF_MM_MODEL)) {
    if (m->n_modules > 0) {
      unres_add(S, "--mm-model", S->a->path,
                "not used: a model is already given (--model, or an earlier script)",
                val(S, MGF_MM_MODEL)->at.line);
    } else if ((st = load_mm_model(S, m))) {
      free(m);
      u->shape = TPS_ECO_SHAPE_NONE;
      return st;
    } else {
      from_mm = true;
      applied++;
    }
  }
  if (from_mm) {
    st = check_mm_shape(S, m, u);
    u->shape = TPS_ECO_SHAPE_BUILT;
  } else if (m->n_modules == 0) {
    static const mgf_id needed[] = {MGF_LAYERS, MGF_HIDDEN, MGF_HEADS};
    static const char *const needed_names[] = {"--num-layers", "--hidden-size",
                                               "--num-attention-heads"};
    char missing[160] = "";
    size_t used = 0;
    for (int k = 0; k < 3; k++)
      if (!given(S, needed[k]) && used < sizeof missing)
        used += (size_t)snprintf(missing + used, sizeof missing - used, "%s%s",
                                 used ? ", " : "", needed_names[k]);
    if (used) {
      char why[sizeof missing + 64];
      snprintf(why, sizeof why, "no complete model: %s missing (pass --model)", missing);
      unres_add(S, "(model)", "", why, 0);
      free(m);
      *over = o;
      return TPS_OK;
    }
    /* A decoder with Megatron's defaults for what is not given
     * (megatron/training/arguments.py): LayerNorm, GELU MLP of 4h, biases
     * on every linear, tied embeddings, learned absolute positions,
     * dropout 0.1. */
    tps_module *d = &m->modules[0];
    memset(d, 0, sizeof *d);
    d->type = TPS_MODULE_DECODER;
    snprintf(d->name, sizeof d->name, "decoder");
    d->mlp = TPS_MLP_GELU;
    d->norm = TPS_NORM_LAYERNORM;
    d->bias = true;
    d->qkv_bias = true;
    d->tied_embeddings = true;
    d->position = TPS_POSITION_LEARNED;
    d->dropout = true;
    d->vocab = 0;
    tps_training_defaults(&m->training);
    if (given(S, MGF_SEQ)) m->training.seq_len = ival(S, MGF_SEQ);
    st = apply_shape(S, d, &m->training, true, &applied);
    if (!st) st = apply_noop(S, d, o.pp, &o, &applied);
    bool gpt2_bpe = (given(S, MGF_TOKENIZER) && ival(S, MGF_TOKENIZER) == MGF_TOK_GPT2_BPE) ||
                    (!given(S, MGF_TOKENIZER) && given(S, MGF_MERGE_FILE));
    if (!st && given(S, MGF_TOKENIZER) && (ival(S, MGF_TOKENIZER) == MGF_TOK_BERT_LOWER ||
                                           ival(S, MGF_TOKENIZER) == MGF_TOK_BERT_CASE)) {
      /* BERT's WordPiece tokenizer: an encoder with a pooler and MLM heads,
       * which tp-sim does not model; refused rather than costed as GPT. */
      const char *choice = "";
      for (int k = 0; k < mgf_n_flags; k++)
        if (mgf_flags[k].id == MGF_TOKENIZER) choice = mgf_flags[k].choices[ival(S, MGF_TOKENIZER)];
      st = fail(S, S->a->val[MGF_TOKENIZER].at, TPS_EUNSUPPORTED,
                "%s %s: a BERT (encoder) model is not modelled; tp-sim costs decoder (GPT-style) "
                "models", S->a->val[MGF_TOKENIZER].flag, choice);
    }
    if (!st && d->vocab == 0 && gpt2_bpe) {
      /* The GPT-2 BPE vocabulary (Radford et al. 2019; Megatron's gpt2-vocab.json). */
      d->vocab = 50257;
    } else if (!st && d->vocab == 0) {
      d->vocab = 32000;
      unres_add(S, "--vocab-size", "",
                "no --vocab-size or --padded-vocab-size (the tokenizer decides): 32000 assumed",
                0);
    }
    m->n_modules = 1;
    snprintf(m->name, sizeof m->name, "%.*s", TPS_NAME_MAX - 1, name);
    snprintf(m->source, sizeof m->source,
             "Megatron arguments in %.900s (Megatron defaults for the rest)", origin);
    m->default_hw[0] = '\0';
    /* the run flags are the model's training defaults too */
    tps_training *t = &m->training;
    if (o.tp > 0) t->tp = o.tp;
    if (o.pp > 0) t->pp = o.pp;
    if (o.micro_batch > 0) t->micro_batch = o.micro_batch;
    if (o.global_batch > 0) t->global_batch = o.global_batch;
    if (o.cards > 0) t->cards = o.cards;
    if (o.sp == 1) t->sp = true;
    if (o.distributed_optimizer == 1) t->distributed_optimizer = true;
    if (o.recompute >= 0) t->recompute = (tps_recompute)o.recompute;
    if (o.precision >= 0) t->precision = (tps_precision)o.precision;
    if (!given(S, MGF_BF16) && !given(S, MGF_FP16) && over->precision < 0) {
      t->precision = TPS_PRECISION_FP32; /* Megatron without --bf16/--fp16 */
    }
    u->shape = TPS_ECO_SHAPE_BUILT;
  } else {
    int last = -1;
    for (int k = 0; k < m->n_modules; k++)
      if (m->modules[k].type == TPS_MODULE_DECODER) last = k;
    if (last < 0) {
      unres_add(S, "(model)", "", "the model has no decoder for the model-shape flags", 0);
    } else {
      tps_module *d = &m->modules[last];
      int64_t old_hidden = d->hidden, old_layers = d->layers;
      st = apply_shape(S, d, &m->training, false, &applied);
      if (!st) st = apply_noop(S, d, o.pp > 0 ? o.pp : m->training.pp, &o, &applied);
      for (int k = 0; !st && k < m->n_modules; k++)
        if (m->modules[k].type == TPS_MODULE_PROJECTOR && m->modules[k].output == old_hidden)
          m->modules[k].output = d->hidden; /* the projector feeds the decoder */
      if (!st && d->layers != old_layers && m->training.n_pipeline_stages > 0) {
        m->training.n_pipeline_stages = 0;
        unres_add(S, "--num-layers", "",
                  "the model's pipeline_layers no longer add up: an even split is used",
                  val(S, MGF_LAYERS)->at.line);
      }
      u->shape = TPS_ECO_SHAPE_OVERRIDDEN;
    }
  }
  if (!st) st = apply_vpp_layers(S, m, &o, &applied);
  if (!st) {
    *model = *m;
    *over = o;
    u->recognised += applied;
  } else {
    u->shape = TPS_ECO_SHAPE_NONE;
  }
  free(m);
  return st;
}

/* ---- entry points ---- */

void tps_eco_unresolved_init(tps_eco_unresolved *u) {
  if (u) memset(u, 0, sizeof *u);
}

static tps_status parse(const char *text, size_t len, const char *file, bool script,
                        const char *name, tps_model *model, tps_run_overrides *over,
                        tps_eco_unresolved *unres, tps_error *err) {
  tps_eco_unresolved local;
  tps_eco_unresolved *u = unres ? unres : &local;
  tps_eco_unresolved_init(u);
  mgf_args args;
  memset(&args, 0, sizeof args);
  args.unres = u;
  args.seen = calloc(1, sizeof *args.seen);
  if (!args.seen) return tps_error_set(err, TPS_ENOMEM, file, 0, 0, "out of memory");
  tps_status st = shx_read(text, len, file, err, mgf_scan_command, &args);
  mg_apply S = {.a = &args, .file = file, .script = script, .err = err};
  if (!st) st = apply_all(&S, model, over, u, name, file);
  if (!st) {
    const char *names[MGF_N * 2 + 8];
    int n = mgf_n_flags < (int)(sizeof names / sizeof names[0]) ? mgf_n_flags : 0;
    if (n) mgf_flag_names(names);
    /* MoE, MLA, MTP and FP8 are modelled, but not every flag of theirs: with the
     * feature on, the unmodelled ones are listed (--moe-grouped-gemm, ...) */
    args.seen->group_on[FLC_G_MOE] = (given(&S, MGF_EXPERTS) && ival(&S, MGF_EXPERTS) > 1) ||
                                     (given(&S, MGF_EP) && ival(&S, MGF_EP) > 1);
    args.seen->group_on[FLC_G_MLA] = given(&S, MGF_MLA);
    args.seen->group_on[FLC_G_MTP] = given(&S, MGF_MTP) && ival(&S, MGF_MTP) > 0;
    args.seen->group_on[FLC_G_FP8] = given(&S, MGF_FP8);
    flc_report(args.seen, names, n, u);
  }
  free(args.seen);
  if (st) tps_eco_unresolved_init(u);
  return st;
}

tps_status tps_megatron_args_parse(const char *text, tps_model *model,
                                   tps_run_overrides *over, tps_eco_unresolved *unres,
                                   tps_error *err) {
  tps_error_clear(err);
  if (!text || !over)
    return tps_error_set(err, TPS_EINVAL, "--megatron-args", 0, 0, "no arguments to read");
  return parse(text, strlen(text), "--megatron-args", false, "megatron-args", model, over, unres,
               err);
}

tps_status tps_megatron_script_load(const char *path, tps_model *model,
                                    tps_run_overrides *over, tps_eco_unresolved *unres,
                                    tps_error *err) {
  tps_error_clear(err);
  if (!path || !*path || !over)
    return tps_error_set(err, TPS_EINVAL, path ? path : "", 0, 0, "no script to read");
  char *buf = NULL;
  size_t n = 0;
  tps_status st = shx_load_file(path, &buf, &n, err);
  if (st) return st;
  /* the model name: the file name without directory and extension */
  char name[TPS_NAME_MAX];
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(name, sizeof name, "%s", base);
  char *dot = strrchr(name, '.');
  if (dot && dot != name) *dot = '\0';
  st = parse(buf, n, path, true, name, model, over, unres, err);
  free(buf);
  return st;
}
