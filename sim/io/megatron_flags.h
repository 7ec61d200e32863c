/* The Megatron-LM / MindSpeed flags tp-sim understands (megatron_flags.c)
 * and the values a script gives them, as megatron_args.c maps them to a
 * model and run overrides. Not part of the public API. */
#ifndef TPSIM_IO_MEGATRON_FLAGS_H
#define TPSIM_IO_MEGATRON_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/shell_read.h"
#include "tpsim/ecosystem.h"

typedef enum {
  MGF_TP, MGF_PP, MGF_SP, MGF_MBS, MGF_GBS, MGF_SEQ, MGF_LAYERS, MGF_HIDDEN, MGF_FFN, MGF_HEADS,
  MGF_GROUPS, MGF_GQA, MGF_RECOMPUTE, MGF_RECOMPUTE_METHOD, MGF_RECOMPUTE_ACT, MGF_DIST_OPT,
  MGF_BF16, MGF_FP16, MGF_SWIGLU, MGF_FLASH, MGF_NORM, MGF_UNTIE, MGF_POSITION, MGF_ROTARY,
  MGF_PADDED_VOCAB, MGF_VOCAB, MGF_VOCAB_DIV, MGF_MAX_POS, MGF_KV_CHANNELS, MGF_NO_BIAS,
  MGF_QKV_BIAS, MGF_ATT_DROPOUT, MGF_HID_DROPOUT, MGF_OVERLAP, MGF_NPROC, MGF_NNODES,
  MGF_TOKENIZER, MGF_MERGE_FILE, MGF_VPP, MGF_MM_MODEL, MGF_LAYER_LIST, MGF_TP_OVERLAP, MGF_GRAD_BF16, MGF_REUSE_FP32, MGF_RECOMPUTE_ACT_FN, MGF_VPP_LAYERS,
  MGF_PARAM_GATHER, MGF_COC, MGF_COC_FUSED, MGF_COC_NUM, MGF_SLIDING,
  MGF_CP, MGF_CP_ALGO, MGF_ULYSSES, MGF_CP_COMM,
  /* mixture of experts, MLA, MTP */
  MGF_EXPERTS, MGF_TOPK, MGF_MOE_FFN, MGF_SHARED_FFN, MGF_MOE_FREQ, MGF_FIRST_DENSE,
  MGF_ROUTER_SCORE, MGF_MLA, MGF_Q_LORA, MGF_KV_LORA, MGF_QK_NOPE, MGF_QK_ROPE, MGF_V_HEAD,
  MGF_MTP, MGF_N_SHARED, MGF_ROUTER_BIAS,
  /* MindSpeed's no-op (identity) layers: the pipeline placement */
  MGF_NOOP,
  /* FP8 training (Transformer Engine) */
  MGF_FP8, MGF_FP8_AMAX, MGF_FP8_PGATHER,
  /* the loss's implementation */
  MGF_CE_FUSION, MGF_CE_IMPL,
  /* expert parallelism and the token dispatcher */
  MGF_EP, MGF_ETP, MGF_DISPATCHER, MGF_GROUPED_GEMM, MGF_CAPACITY, MGF_N
} mgf_id;

typedef enum {
  MGF_SWITCH, /* no value */
  MGF_INT,    /* integer >= 1 */
  MGF_INT_UNSET, /* integer >= 1, or 0 / -1: not set (MindSpeed-LLM's --moe-layer-freq -1) */
  MGF_FRAC,   /* number in [0, 1] */
  MGF_POSNUM, /* number > 0 */
  MGF_CHOICE, /* one of choices */
  MGF_GIVEN,  /* takes a value, which only needs to be there (a file name) */
  MGF_PATH,   /* a file name, kept in mgf_args.path */
  MGF_LIST    /* comma-separated integers >= 0, kept in mgf_args.list (--noop-layers:
                 mgf_args.noop) */
} mgf_kind;

/* One row of the flag table; an id may have several spellings. */
typedef struct mgf_flag {
  const char *name;
  mgf_id id;
  mgf_kind kind;
  bool shape; /* describes the model rather than the run */
  const char *const *choices;
} mgf_flag;

/* --tokenizer-type choices (Megatron-LM arguments.py; MindSpeed adds
 * PretrainedFromHF): indexes used by megatron_args.c. */
enum {
  MGF_TOK_BERT_LOWER, MGF_TOK_BERT_CASE, MGF_TOK_GPT2_BPE, MGF_TOK_SENTENCEPIECE,
  MGF_TOK_GPT_SENTENCEPIECE, MGF_TOK_HUGGINGFACE, MGF_TOK_LLAMA2, MGF_TOK_TIKTOKEN,
  MGF_TOK_MULTIMODAL, MGF_TOK_NULL, MGF_TOK_PRETRAINED_HF
};

extern const mgf_flag mgf_flags[];
extern const int mgf_n_flags;

/* The value of one flag id, the last one given.
 * MGF_CHOICE values are indexes into the flag's choices:
 *   --recompute-granularity    0 selective, 1 full
 *   --recompute-method         0 uniform, 1 block
 *   --normalization            0 LayerNorm, 1 RMSNorm
 *   --position-embedding-type  0 learned_absolute, 1 rope, 2 none, 3 mrope
 *   --tokenizer-type           mgf_tokenizer_* below */
typedef struct mgf_val {
  bool given;
  int64_t i;        /* MGF_INT; MGF_CHOICE: index into choices */
  double x;         /* MGF_FRAC, MGF_POSNUM */
  const char *flag; /* the table row's name (mgf_flags[k].name) */
  shx_pos at;       /* where the flag was written */
} mgf_val;

/* Longest file name a MGF_PATH flag keeps. */
#define MGF_PATH_MAX 1024

/* What the flags of a whole text say. */
struct flc_seen;
typedef struct mgf_args {
  mgf_val val[MGF_N];
  int64_t noop[TPS_MAX_STAGES];   /* --noop-layers: 0-based layer indexes */
  int n_noop;
  char path[MGF_PATH_MAX];        /* --mm-model FILE, as written (the only MGF_PATH flag) */
  int64_t list[TPS_MAX_STAGES];   /* --num-layer-list */
  int n_list;
  tps_eco_unresolved *unres; /* recognised flags whose value is not usable */
  struct flc_seen *seen;     /* flags of the classification table and unknown
                                flags (flag_classes.h); NULL: not recorded */
} mgf_args;

/* An shx_command_fn (user: the mgf_args): matches the fields of one command
 * against the table, a later flag overriding an earlier one; values that
 * are missing, unexpanded or invalid go to the unresolved list. Other
 * flags are looked up in the classification table (flag_classes.h) and
 * recorded in A->seen with their values; in a command that holds a known
 * flag, a flag in neither table is recorded as unknown. */
void mgf_scan_command(shx_reader *R, const shx_text *fields, int n, void *user);

/* The value table's names, for did-you-mean (n: mgf_n_flags). */
void mgf_flag_names(const char **names);

/* Appends an item to the unresolved list (counts it as dropped when full). */
void mgf_unres_add(tps_eco_unresolved *u, const char *arg, const char *text, const char *why,
                   int line);

/* MindSpeed's --noop-layers (noop_layers.c): with noop (n_noop 0-based
 * indexes, each below layers) as identities, *real_layers gets the real
 * layers and, when pp > 1, real[s] those of stage s of the split that
 * stage_layers gives (n_stages == pp; 0: an even split). False with why
 * when the indexes or the split do not hold. */
bool mgf_noop_place(int64_t layers, int64_t pp, const int64_t *stage_layers, int n_stages,
                    const int64_t *noop, int n_noop, int64_t *real, int64_t *real_layers,
                    char *why, size_t why_size);

#endif
