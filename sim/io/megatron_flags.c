/* The table of Megatron-LM / MindSpeed flags tp-sim understands, and the
 * matching of a command's words against it: each recognised flag's value is
 * checked (an integer >= 1, a fraction, one of the choices) and recorded,
 * a later flag overriding an earlier one as argparse does; a value that is
 * missing, unexpanded or invalid goes to the unresolved list instead. What
 * the values mean for a model and a run is megatron_args.c's job. */
#include "io/megatron_flags.h"

#include <stdio.h>
#include <string.h>

#include "io/flag_classes.h"
#include "io/io_internal.h"

static const char *const recompute_choices[] = {"selective", "full", NULL};
static const char *const method_choices[] = {"uniform", "block", NULL};
static const char *const norm_choices[] = {"LayerNorm", "RMSNorm", NULL};
/* mrope (Qwen2-VL's multimodal RoPE) is costed as rope. */
static const char *const position_choices[] = {"learned_absolute", "rope", "none", "mrope",
                                               NULL};

/* MindSpeed's --context-parallel-algo, in tps_cp_algo order; its adaptive
 * variants are not modelled (they fail the choice and are named). */
static const char *const cp_algo_choices[] = {"megatron_cp_algo", "ulysses_cp_algo",
                                              "hybrid_cp_algo", NULL};
/* Megatron's --cp-comm-type: p2p is the ring, a2a Ulysses; allgather and
 * the hierarchical a2a+p2p are not modelled. */
static const char *const cp_comm_choices[] = {"p2p", "a2a", NULL};
/* Megatron's --fp8-format, in tps_fp8_format order after "none". */
static const char *const fp8_choices[] = {"e4m3", "hybrid", NULL};
/* Megatron's --cross-entropy-fusion-impl (megatron/training/arguments.py). */
static const char *const ce_impl_choices[] = {"native", "te", NULL};
static const char *const score_choices[] = {"softmax", "sigmoid", NULL};
/* --moe-token-dispatcher-type (Megatron-LM arguments.py; MindSpeed-LLM adds
 * alltoall_seq): indexes 0 and 1 are modelled, the others costed as them. */
static const char *const dispatcher_choices[] = {"alltoall", "alltoall_seq", "allgather", "flex",
                                                 NULL};

static const char *const tokenizer_choices[] = {
    "BertWordPieceLowerCase", "BertWordPieceCase",       "GPT2BPETokenizer",
    "SentencePieceTokenizer", "GPTSentencePieceTokenizer", "HuggingFaceTokenizer",
    "Llama2Tokenizer",        "TikTokenizer",            "MultimodalTokenizer",
    "NullTokenizer",          "PretrainedFromHF",        NULL};

const mgf_flag mgf_flags[] = {
    {"--tensor-model-parallel-size", MGF_TP, MGF_INT, false, NULL},
    {"--pipeline-model-parallel-size", MGF_PP, MGF_INT, false, NULL},
    {"--sequence-parallel", MGF_SP, MGF_SWITCH, false, NULL},
    {"--micro-batch-size", MGF_MBS, MGF_INT, false, NULL},
    {"--global-batch-size", MGF_GBS, MGF_INT, false, NULL},
    {"--seq-length", MGF_SEQ, MGF_INT, false, NULL},
    {"--recompute-granularity", MGF_RECOMPUTE, MGF_CHOICE, false, recompute_choices},
    {"--recompute-method", MGF_RECOMPUTE_METHOD, MGF_CHOICE, false, method_choices},
    {"--recompute-activations", MGF_RECOMPUTE_ACT, MGF_SWITCH, false, NULL},
    {"--virtual-pipeline-model-parallel-size", MGF_VPP, MGF_INT, false, NULL},
    {"--use-distributed-optimizer", MGF_DIST_OPT, MGF_SWITCH, false, NULL},
    {"--bf16", MGF_BF16, MGF_SWITCH, false, NULL},
    {"--fp16", MGF_FP16, MGF_SWITCH, false, NULL},
    {"--use-flash-attn", MGF_FLASH, MGF_SWITCH, false, NULL},
    {"--overlap-grad-reduce", MGF_OVERLAP, MGF_SWITCH, false, NULL},
    {"--tp-comm-overlap", MGF_TP_OVERLAP, MGF_SWITCH, false, NULL},
    {"--grad-reduce-in-bf16", MGF_GRAD_BF16, MGF_SWITCH, false, NULL},
    /* MindSpeed: the fp32 master weights stored as the bf16 weights plus a
     * 16-bit residual (docs/zh/features/reuse-fp32-param.md) */
    {"--reuse-fp32-param", MGF_REUSE_FP32, MGF_SWITCH, false, NULL},
    /* MindSpeed: the MLP's activation function re-run in backward */
    {"--recompute-activation-function", MGF_RECOMPUTE_ACT_FN, MGF_SWITCH, false, NULL},
    {"--num-layers-per-virtual-pipeline-stage", MGF_VPP_LAYERS, MGF_INT, false, NULL},
    {"--overlap-param-gather", MGF_PARAM_GATHER, MGF_SWITCH, false, NULL},
    /* MindSpeed's CoC: each SP all-gather / reduce-scatter chunked against its
     * GEMM, as --tp-comm-overlap (docs/zh/features/communication-over-computation.md) */
    {"--use-ascend-coc", MGF_COC, MGF_SWITCH, false, NULL},
    {"--coc-fused-kernel", MGF_COC_FUSED, MGF_SWITCH, false, NULL},
    {"--coc-parallel-num", MGF_COC_NUM, MGF_INT, false, NULL},
    {"--sliding-window", MGF_SLIDING, MGF_INT, true, NULL},
    /* torchrun / torch.distributed.launch: cards = nproc_per_node x nnodes */
    {"--nproc_per_node", MGF_NPROC, MGF_INT, false, NULL},
    {"--nproc-per-node", MGF_NPROC, MGF_INT, false, NULL},
    {"--nnodes", MGF_NNODES, MGF_INT, false, NULL},
    /* model shape */
    {"--num-layers", MGF_LAYERS, MGF_INT, true, NULL},
    {"--hidden-size", MGF_HIDDEN, MGF_INT, true, NULL},
    {"--ffn-hidden-size", MGF_FFN, MGF_INT, true, NULL},
    {"--num-attention-heads", MGF_HEADS, MGF_INT, true, NULL},
    {"--num-query-groups", MGF_GROUPS, MGF_INT, true, NULL},
    {"--group-query-attention", MGF_GQA, MGF_SWITCH, true, NULL},
    {"--swiglu", MGF_SWIGLU, MGF_SWITCH, true, NULL},
    {"--normalization", MGF_NORM, MGF_CHOICE, true, norm_choices},
    {"--untie-embeddings-and-output-weights", MGF_UNTIE, MGF_SWITCH, true, NULL},
    {"--position-embedding-type", MGF_POSITION, MGF_CHOICE, true, position_choices},
    {"--use-rotary-position-embeddings", MGF_ROTARY, MGF_SWITCH, true, NULL},
    {"--padded-vocab-size", MGF_PADDED_VOCAB, MGF_INT, true, NULL},
    {"--vocab-size", MGF_VOCAB, MGF_INT, true, NULL},
    {"--make-vocab-size-divisible-by", MGF_VOCAB_DIV, MGF_INT, true, NULL},
    {"--max-position-embeddings", MGF_MAX_POS, MGF_INT, true, NULL},
    {"--kv-channels", MGF_KV_CHANNELS, MGF_INT, true, NULL},
    {"--disable-bias-linear", MGF_NO_BIAS, MGF_SWITCH, true, NULL},
    {"--add-qkv-bias", MGF_QKV_BIAS, MGF_SWITCH, true, NULL},
    {"--attention-dropout", MGF_ATT_DROPOUT, MGF_FRAC, true, NULL},
    {"--hidden-dropout", MGF_HID_DROPOUT, MGF_FRAC, true, NULL},
    {"--tokenizer-type", MGF_TOKENIZER, MGF_CHOICE, true, tokenizer_choices},
    /* a BPE merges file: the GPT-2 tokenizer (the vocabulary size comes with it) */
    {"--merge-file", MGF_MERGE_FILE, MGF_GIVEN, true, NULL},
    /* MindSpeed-MM: the model JSON (image_encoder, text_decoder, ...) */
    {"--mm-model", MGF_MM_MODEL, MGF_PATH, true, NULL},
    /* MindSpeed: decoder layers per pipeline stage, "12,16" */
    {"--num-layer-list", MGF_LAYER_LIST, MGF_LIST, false, NULL},
    /* MindSpeed: layers (0-based, "61,62,63") that are identities, placed by
     * the pipeline split like the others (docs/zh/features/noop-layers.md) */
    {"--noop-layers", MGF_NOOP, MGF_LIST, true, NULL},
    /* context parallelism (docs/model.md, "Context parallelism") */
    {"--context-parallel-size", MGF_CP, MGF_INT, false, NULL},
    {"--context-parallel-algo", MGF_CP_ALGO, MGF_CHOICE, false, cp_algo_choices},
    {"--ulysses-degree-in-cp", MGF_ULYSSES, MGF_INT, false, NULL},
    {"--cp-comm-type", MGF_CP_COMM, MGF_CHOICE, false, cp_comm_choices},
    /* mixture of experts (docs/schema.md's expert keys) */
    {"--num-experts", MGF_EXPERTS, MGF_INT, true, NULL},
    {"--moe-router-topk", MGF_TOPK, MGF_INT, true, NULL},
    {"--moe-ffn-hidden-size", MGF_MOE_FFN, MGF_INT, true, NULL},
    {"--moe-intermediate-size", MGF_MOE_FFN, MGF_INT, true, NULL}, /* MindSpeed-LLM */
    {"--moe-shared-expert-intermediate-size", MGF_SHARED_FFN, MGF_INT, true, NULL},
    /* an integer; Megatron's list pattern "([0]+[1]*3)*8" is left unresolved.
     * MindSpeed-LLM scripts write -1 for both to mean every layer is MoE
     * (transformer_block.py: layer i is MoE when i >= k and i % freq == 0) */
    {"--moe-layer-freq", MGF_MOE_FREQ, MGF_INT_UNSET, true, NULL},
    {"--first-k-dense-replace", MGF_FIRST_DENSE, MGF_INT_UNSET, true, NULL}, /* MindSpeed-LLM */
    /* MindSpeed-LLM: shared experts of --moe-ffn-hidden-size each, run as one
     * MLP of N x that width (features_manager/moe/shared_expert.py) */
    {"--n-shared-experts", MGF_N_SHARED, MGF_INT, true, NULL},
    {"--moe-router-score-function", MGF_ROUTER_SCORE, MGF_CHOICE, true, score_choices},
    /* DeepSeek-V3's per-expert score bias (aux-loss-free balancing) */
    {"--moe-router-enable-expert-bias", MGF_ROUTER_BIAS, MGF_SWITCH, true, NULL},
    /* multi-head latent attention: Megatron's and MindSpeed-LLM's spellings */
    {"--multi-latent-attention", MGF_MLA, MGF_SWITCH, true, NULL},
    {"--q-lora-rank", MGF_Q_LORA, MGF_INT, true, NULL},
    {"--kv-lora-rank", MGF_KV_LORA, MGF_INT, true, NULL},
    {"--qk-head-dim", MGF_QK_NOPE, MGF_INT, true, NULL},
    {"--qk-nope-head-dim", MGF_QK_NOPE, MGF_INT, true, NULL},
    {"--qk-pos-emb-head-dim", MGF_QK_ROPE, MGF_INT, true, NULL},
    {"--qk-rope-head-dim", MGF_QK_ROPE, MGF_INT, true, NULL},
    {"--v-head-dim", MGF_V_HEAD, MGF_INT, true, NULL},
    /* multi-token prediction depth */
    {"--mtp-num-layers", MGF_MTP, MGF_INT, true, NULL},
    /* FP8 training (docs/model.md, "FP8") */
    {"--fp8-format", MGF_FP8, MGF_CHOICE, false, fp8_choices},
    {"--fp8-amax-history-len", MGF_FP8_AMAX, MGF_INT, false, NULL},
    {"--fp8-param-gather", MGF_FP8_PGATHER, MGF_SWITCH, false, NULL},
    {"--cross-entropy-loss-fusion", MGF_CE_FUSION, MGF_SWITCH, false, NULL},
    {"--cross-entropy-fusion-impl", MGF_CE_IMPL, MGF_CHOICE, false, ce_impl_choices},
    /* expert parallelism (docs/model.md, "Mixture of experts") */
    {"--expert-model-parallel-size", MGF_EP, MGF_INT, false, NULL},
    {"--expert-tensor-parallel-size", MGF_ETP, MGF_INT, false, NULL},
    {"--moe-token-dispatcher-type", MGF_DISPATCHER, MGF_CHOICE, false, dispatcher_choices},
    /* the routed experts of a rank run as one grouped GEMM: how tp-sim costs them */
    {"--moe-grouped-gemm", MGF_GROUPED_GEMM, MGF_SWITCH, false, NULL},
    /* token dropping: an expert takes at most this x its expected load */
    {"--moe-expert-capacity-factor", MGF_CAPACITY, MGF_POSNUM, false, NULL},
};
const int mgf_n_flags = (int)(sizeof mgf_flags / sizeof mgf_flags[0]);

void mgf_flag_names(const char **names) {
  for (int k = 0; k < mgf_n_flags; k++) names[k] = mgf_flags[k].name;
}

void mgf_unres_add(tps_eco_unresolved *u, const char *arg, const char *text, const char *why,
                   int line) {
  if (u) io_eco_item_add(u->items, &u->n, &u->dropped, arg, text, why, line);
}

/* Records the value of one flag. value may be NULL (a switch, or missing). */
static void take_flag(shx_reader *R, mgf_args *A, const mgf_flag *f, const char *spelled,
                      const shx_text *value, shx_pos at) {
  mgf_val *v = &A->val[f->id];
  if (f->kind == MGF_SWITCH) {
    v->given = true;
    v->flag = f->name;
    v->at = at;
    return;
  }
  if (!value) {
    mgf_unres_add(A->unres, spelled, "", "no value (an empty or unset variable?): not used", at.line);
    return;
  }
  const char *txt = shx_text_str(value);
  unsigned char u = shx_text_unresolved(value);
  int line = value->n ? value->pos[0].line : at.line;
  if (u) {
    mgf_unres_add(A->unres, spelled, txt, shx_why(R, u), line);
    return;
  }
  char why[160];
  if (f->kind == MGF_GIVEN) {
    /* the value only has to be there */
  } else if (f->kind == MGF_PATH) {
    if (!*txt || strlen(txt) >= sizeof A->path) {
      snprintf(why, sizeof why, "%s",
               *txt ? "the file name is too long" : "the file name is empty");
      mgf_unres_add(A->unres, spelled, txt, why, line);
      return;
    }
    snprintf(A->path, sizeof A->path, "%s", txt);
  } else if (f->kind == MGF_LIST) {
    int64_t list[TPS_MAX_STAGES];
    int n = 0;
    const char *p = txt;
    for (;;) {
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      char item[32];
      int64_t x;
      bool ok = len > 0 && len < sizeof item && n < TPS_MAX_STAGES;
      if (ok) {
        memcpy(item, p, len);
        item[len] = '\0';
        ok = io_int_parse(item, &x) && x >= 0 && x <= IO_LAYERS_MAX;
      }
      if (!ok) {
        snprintf(why, sizeof why,
                 "'%.60s' is not a comma-separated list of at most %d layer %s", txt,
                 TPS_MAX_STAGES, f->id == MGF_NOOP ? "indexes" : "counts");
        mgf_unres_add(A->unres, spelled, txt, why, line);
        return;
      }
      list[n++] = x;
      if (!comma) break;
      p = comma + 1;
    }
    if (f->id == MGF_NOOP) {
      memcpy(A->noop, list, (size_t)n * sizeof list[0]);
      A->n_noop = n;
    } else {
      memcpy(A->list, list, (size_t)n * sizeof list[0]);
      A->n_list = n;
    }
  } else if (f->kind == MGF_INT) {
    int64_t x;
    int64_t max = f->id == MGF_LAYERS ? IO_LAYERS_MAX : IO_COUNT_MAX;
    if (!io_int_parse(txt, &x) || x < 1 || x > max) {
      snprintf(why, sizeof why, "'%.60s' is not an integer >= 1", txt);
      mgf_unres_add(A->unres, spelled, txt, why, line);
      return;
    }
    v->i = x;
  } else if (f->kind == MGF_INT_UNSET) {
    int64_t x;
    if (!io_int_parse(txt, &x) || x < -1 || x > IO_COUNT_MAX) {
      snprintf(why, sizeof why, "'%.60s' is not an integer >= 1, or 0 / -1 (not set)", txt);
      mgf_unres_add(A->unres, spelled, txt, why, line);
      return;
    }
    v->i = x < 1 ? 0 : x;
  } else if (f->kind == MGF_FRAC) {
    double x;
    if (!io_number_parse(txt, &x) || x < 0.0 || x > 1.0) {
      snprintf(why, sizeof why, "'%.60s' is not a number between 0 and 1", txt);
      mgf_unres_add(A->unres, spelled, txt, why, line);
      return;
    }
    v->x = x;
  } else if (f->kind == MGF_POSNUM) {
    double x;
    if (!io_number_parse(txt, &x) || !(x > 0.0) || x > 1e6) {
      snprintf(why, sizeof why, "'%.60s' is not a number above 0", txt);
      mgf_unres_add(A->unres, spelled, txt, why, line);
      return;
    }
    v->x = x;
  } else {
    int k = -1;
    for (int c = 0; f->choices[c]; c++)
      if (strcmp(txt, f->choices[c]) == 0) k = c;
    if (k < 0) {
      size_t used = (size_t)snprintf(why, sizeof why, "'%.40s' is not one of", txt);
      for (int c = 0; f->choices[c] && used < sizeof why; c++)
        used += (size_t)snprintf(why + used, sizeof why - used, "%s %s", c ? "," : "",
                                 f->choices[c]);
      mgf_unres_add(A->unres, spelled, txt, why, line);
      return;
    }
    v->i = k;
  }
  v->given = true;
  v->flag = f->name;
  v->at = at;
}

static const mgf_flag *flag_find(const char *name, size_t len) {
  for (int k = 0; k < mgf_n_flags; k++)
    if (strlen(mgf_flags[k].name) == len && memcmp(mgf_flags[k].name, name, len) == 0)
      return &mgf_flags[k];
  return NULL;
}

/* The name part of a "--flag" or "--flag=value" word. */
static size_t flag_len(const char *t) {
  const char *eq = strchr(t, '=');
  return eq ? (size_t)(eq - t) : strlen(t);
}

/* Records a flag of the classification table and, when it takes values,
 * the words that are its value; returns the index of its last word. */
static int take_classified(shx_reader *R, mgf_args *A, const flc_flag *f,
                           const shx_text *fields, int n, int k) {
  const shx_text *fld = &fields[k];
  const char *t = shx_text_str(fld);
  int line = fld->n ? fld->pos[0].line : 0;
  const char *eq = strchr(t, '=');
  char value[128] = "";
  const char *why = NULL;
  int last = k;
  if (f->takes != FLC_SWITCH) {
    if (eq) {
      snprintf(value, sizeof value, "%s", eq + 1);
      unsigned char u = shx_text_unresolved(fld);
      if (u) why = shx_why(R, u);
    } else {
      size_t used = 0;
      while (last + 1 < n && strncmp(shx_text_str(&fields[last + 1]), "--", 2) != 0) {
        const shx_text *v = &fields[++last];
        unsigned char u = shx_text_unresolved(v);
        if (u && !why) why = shx_why(R, u);
        if (used < sizeof value)
          used += (size_t)snprintf(value + used, sizeof value - used, "%s%s", used ? " " : "",
                                   shx_text_str(v));
        if (f->takes == FLC_VALUE) break;
      }
    }
  }
  if (A->seen) flc_seen_flag_add(A->seen, f, value, why, line);
  return last;
}

void mgf_scan_command(shx_reader *R, const shx_text *fields, int n, void *user) {
  mgf_args *A = user;
  bool launch = false; /* looks like a training launch: report hidden args */
  bool training = false; /* holds a known flag: report unknown flags */
  for (int k = 0; k < n; k++) {
    const char *t = shx_text_str(&fields[k]);
    size_t l = strlen(t);
    if (strncmp(t, "--", 2) == 0 || (l > 3 && strcmp(t + l - 3, ".py") == 0)) launch = true;
    if (strncmp(t, "--", 2) == 0 && (flag_find(t, flag_len(t)) || flc_find(t, flag_len(t))))
      training = true;
  }
  for (int k = 0; k < n; k++) {
    const shx_text *fld = &fields[k];
    const char *t = shx_text_str(fld);
    shx_pos at = fld->n ? fld->pos[0] : (shx_pos){0, 0};
    if (strncmp(t, "--", 2) != 0) {
      unsigned char u = shx_text_unresolved(fld);
      /* after an unknown flag it is that flag's value; after a switch or
       * a plain word it may hold arguments of its own */
      const char *prev = k > 0 ? shx_text_str(&fields[k - 1]) : "";
      const char *peq = strchr(prev, '=');
      const mgf_flag *pf = prev[0] == '-' && !peq ? flag_find(prev, strlen(prev)) : NULL;
      bool is_value = prev[0] == '-' && !peq && (!pf || pf->kind != MGF_SWITCH);
      if (u && launch && !is_value)
        mgf_unres_add(A->unres, "", t, shx_why(R, u), at.line);
      continue;
    }
    const char *eq = strchr(t, '=');
    size_t nlen = eq ? (size_t)(eq - t) : strlen(t);
    const mgf_flag *f = flag_find(t, nlen);
    if (!f) {
      const flc_flag *c = flc_find(t, nlen);
      if (c)
        k = take_classified(R, A, c, fields, n, k);
      else if (training && A->seen && nlen > 2)
        flc_seen_unknown_add(A->seen, t, nlen, at.line);
      continue;
    }
    char spelled[64];
    snprintf(spelled, sizeof spelled, "%.*s", (int)(nlen < 63 ? nlen : 63), t);
    if (f->kind == MGF_SWITCH) {
      take_flag(R, A, f, spelled, NULL, at);
      continue;
    }
    if (eq) {
      shx_text val = {0};
      size_t off = (size_t)(eq - t) + 1;
      bool ok = true;
      for (size_t c = off; ok && c < fld->n; c++)
        ok = shx_text_push(R, &val, fld->s[c], fld->pos[c], fld->u[c]);
      if (ok) take_flag(R, A, f, spelled, &val, at);
      shx_text_free(&val);
    } else if (k + 1 < n && strncmp(shx_text_str(&fields[k + 1]), "--", 2) != 0) {
      take_flag(R, A, f, spelled, &fields[k + 1], at);
      k++;
    } else {
      take_flag(R, A, f, spelled, NULL, at);
    }
  }
}
