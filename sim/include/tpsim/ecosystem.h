/* Inputs from the training ecosystem: Hugging Face `config.json` files and
 * Megatron-LM / MindSpeed command-line arguments or launch scripts.
 * docs/ecosystem.md has the mapping tables, the defaults and their sources.
 *
 * Like the rest of the library these calls never print or exit: they return
 * a tps_status and fill a caller-owned tps_error (file, 1-based line and
 * column where there is one). Arguments that were seen but could not be
 * used are not errors: they are listed in a tps_eco_unresolved for the
 * caller to show. */
#ifndef TPSIM_ECOSYSTEM_H
#define TPSIM_ECOSYSTEM_H

#include <stdbool.h>
#include <stdint.h>

#include "tpsim/model.h"
#include "tpsim/status.h"

/* ---- Hugging Face config.json ---- */

/* Patches per sample entering the Qwen2.5-VL vision encoder when the model
 * comes from a config.json, which does not say: one 640x480 image under the
 * MindSpeed-MM recipe's 262,144-pixel cap (the value of
 * models/qwen25vl-7b.yaml). */
#define TPS_HF_VISION_TOKENS_DEFAULT 1344

/* Reads a Hugging Face config.json into a model. Supported architectures
 * (`architectures[0]`, or `model_type` when that list is absent):
 * LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM,
 * Qwen2_5_VLForConditionalGeneration (vision_config -> vit + projector +
 * decoder) and GPT2LMHeadModel. A field left out takes the default of that
 * architecture's transformers configuration class. Any other architecture,
 * and any key that changes the architecture in a way tp-sim does not model
 * (num_local_experts > 1, sliding_window in use, ...; tps_hf_config_read
 * lists them instead), is refused with TPS_EUNSUPPORTED naming it. The training defaults are the
 * schema's (tps_training_defaults); the model names no default hardware. */
tps_status tps_hf_config_load(const char *path, tps_model *model, tps_error *err);

/* ---- MindSpeed-MM model JSON ---- */

/* Reads a MindSpeed-MM model JSON (the file of a recipe's --mm-model, e.g.
 * examples/qwen2.5vl/model_7b.json): image_encoder.vision_encoder -> vit
 * module "vision_encoder", image_encoder.vision_projector -> "projector",
 * text_decoder -> decoder "language_model"; `freeze` -> frozen modules;
 * `pipeline_num_layers` -> the training's pipeline placement and pp; the
 * text decoder's seq_length and params_dtype -> training defaults. Keys left
 * out take Megatron TransformerConfig's defaults. Every key is used,
 * declared irrelevant or refused: an unknown key (TPS_EUNKNOWNKEY) and a
 * set key of an architecture not modelled (TPS_EUNSUPPORTED) name the key.
 * tps_model_load reads such a file too (a .json with a 'text_decoder' or
 * 'image_encoder' section and no 'architectures'); this call refuses any
 * other JSON. */
tps_status tps_mindspeed_mm_load(const char *path, tps_model *model, tps_error *err);

/* The `training:` defaults of docs/schema.md, as a model file without a
 * training mapping gets them (seq_len 2048, micro_batch 1, cards 8, tp 1,
 * pp 1, bf16, flash attention, vocab divisor 128, the rest off / derived). */
void tps_training_defaults(tps_training *t);

/* ---- what a config or an argument text gave that was not used ---- */

#define TPS_ECO_UNRESOLVED_MAX 32

/* An argument that was recognised but not used. */
typedef struct tps_eco_item {
  char arg[64];   /* the flag, "--tensor-model-parallel-size" */
  char text[128]; /* the value after expansion, unexpanded parts as written ("$TP") */
  char why[240];  /* "variable 'TP' is not set in the script" */
  int line;       /* 1-based line in the script or argument string; 0: unknown */
  /* true: the item changes nothing when the run has a mean sample length
   * (--mean-seq-len, or the model's training mean_seq_len): a script's
   * --variable-seq-lengths */
  bool harmless_with_mean_len;
} tps_eco_item;

/* A bounded list of items. */
typedef struct tps_eco_list {
  int n;       /* items filled, <= TPS_ECO_UNRESOLVED_MAX */
  int dropped; /* further items that did not fit */
  tps_eco_item items[TPS_ECO_UNRESOLVED_MAX];
} tps_eco_list;

/* What a model-shape pass did to the model handed in. */
typedef enum {
  TPS_ECO_SHAPE_NONE,       /* no shape flag given (or no model handed in) */
  TPS_ECO_SHAPE_OVERRIDDEN, /* flags changed the model's (last) decoder */
  TPS_ECO_SHAPE_BUILT       /* the flags alone described a decoder model */
} tps_eco_shape;

typedef struct tps_eco_unresolved {
  int n;                    /* items filled, <= TPS_ECO_UNRESOLVED_MAX */
  int dropped;              /* further items that did not fit */
  tps_eco_item items[TPS_ECO_UNRESOLVED_MAX];
  int recognised;           /* flags applied (run options and model shape) */
  tps_eco_shape shape;
  /* Known flags or config keys that change memory or time in a way tp-sim
   * does not model (context parallelism, FP8, experts, offload, ...): the
   * caller refuses the run or, when told to, warns and lists them among
   * the assumptions (docs/ecosystem.md, "Flag classes"). */
  tps_eco_list unmodelled;
  /* Flags (or config keys) in no table: why holds a did-you-mean. */
  tps_eco_list unknown;
} tps_eco_unresolved;

void tps_eco_unresolved_init(tps_eco_unresolved *u);

/* tps_hf_config_load that lists instead of refusing: a key that changes the
 * architecture in a way tp-sim does not model (an expert count > 1,
 * q_lora_rank / kv_lora_rank, sliding_window in use, quantization_config,
 * ...) goes to notes->unmodelled (and the model is built without it), a
 * top-level key tp-sim does not know to notes->unknown with a
 * did-you-mean. notes is reset first. */
tps_status tps_hf_config_read(const char *path, tps_model *model, tps_eco_unresolved *notes,
                              tps_error *err);

/* tps_model_load, with notes for a config.json (tps_hf_config_read); a model
 * YAML leaves notes empty. */
tps_status tps_model_load_noted(const char *path, tps_model *model, tps_eco_unresolved *notes,
                                tps_error *err);

/* Parses a string of Megatron / MindSpeed arguments, as `--megatron-args`
 * gets it: shell words (quotes, backslash escapes and continuations,
 * comments), `$VAR` / `${VAR}` / `${VAR:-default}` / `$((arithmetic))` with
 * the variables assigned earlier in the same text (`TP=2 ...`).
 *
 * Run flags (parallel sizes, batch sizes, sequence length, recompute,
 * distributed optimizer, precision, flash attention) go to `over`; flags
 * left out leave `over` as it was. Model-shape flags (--num-layers,
 * --hidden-size, --num-attention-heads, ...) go to `model` when it is not
 * NULL: with a zeroed model (n_modules == 0) and at least --num-layers,
 * --hidden-size and --num-attention-heads they build a one-decoder model
 * (Megatron's own defaults for the rest), otherwise they change the model's
 * last decoder; with model == NULL they are listed as unresolved. A
 * recognised flag whose value is missing, an unexpanded variable or not a
 * number is listed in `unres` (may be NULL); every other flag is looked up
 * in the flag classes (docs/ecosystem.md): ignored ones leave no trace,
 * unmodelled ones (given with a value that is not harmless) go to
 * unres->unmodelled, unknown ones (in a command holding a known flag) to
 * unres->unknown with a did-you-mean.
 * Errors (TPS_ESYNTAX: an unterminated quote; TPS_ERANGE: a shape that
 * does not hold together) leave model and over unchanged. */
tps_status tps_megatron_args_parse(const char *text, tps_model *model,
                                   tps_run_overrides *over,
                                   tps_eco_unresolved *unres, tps_error *err);

/* The same for a launch script (`tp-sim from-script FILE.sh`): the whole
 * file is read as shell (assignments, `export`, arrays, multi-line quoted
 * strings), and every command's words are scanned for the flags; a later
 * flag overrides an earlier one, as in argparse. torchrun's
 * --nproc_per_node x --nnodes give the card count. Errors carry FILE:LINE:COL. */
tps_status tps_megatron_script_load(const char *path, tps_model *model,
                                    tps_run_overrides *over,
                                    tps_eco_unresolved *unres, tps_error *err);

/* ---- the flag classification (docs/ecosystem.md, "Flag classes") ---- */

/* One Megatron-LM / MindSpeed flag as tp-sim classifies it. */
typedef struct tps_flag_info {
  const char *name;     /* "--context-parallel-size" */
  const char *cls;      /* "modelled", "ignored" or "unmodelled" */
  const char *takes;    /* "switch", "value" or "values" */
  const char *group;    /* feature group of an unmodelled flag ("cp", "moe"), or "" */
  bool trigger;         /* unmodelled on its own; else only when its group is active */
  const char *harmless; /* values that make an unmodelled flag harmless ("<=1"), or "" */
  const char *note;     /* why */
} tps_flag_info;

/* Fills out (up to max entries, sorted by name) with every flag tp-sim
 * knows; returns how many there are. */
int tps_megatron_flags_list(tps_flag_info *out, int max);

#endif
