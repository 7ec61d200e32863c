/* tp-sim data model: a model (modules), a hardware profile and a run
 * (parallel configuration and training options). Caller-owned plain structs;
 * all quantities are in SI base units (bytes, seconds, FLOP/s, bytes/s)
 * after loading, whatever unit the YAML used. */
#ifndef TPSIM_MODEL_H
#define TPSIM_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#define TPS_NAME_MAX 64
#define TPS_SOURCE_MAX 1024
#define TPS_MAX_MODULES 8
#define TPS_MAX_STAGES 128  /* largest pipeline size accepted */
#define TPS_MAX_TABLE 32    /* points in an efficiency table */
#define TPS_MAX_FULL_ATTN 64

/* Defaults for what neither the model file nor the command line gives. */
/* Decoder tokens per sample: the `training: seq_len` default of
 * docs/schema.md, GPT-3's context length (Brown et al. 2020); Megatron-LM's
 * --seq-length has no default of its own. */
#define TPS_DEFAULT_SEQ_LEN 2048
/* The vocabulary is padded to a multiple of divisor x TP: Megatron-LM's
 * default --make-vocab-size-divisible-by 128 (megatron/training/arguments.py). */
#define TPS_DEFAULT_VOCAB_DIVISOR 128
/* Fraction of device memory a recommended configuration leaves free
 * (--margin, docs/model.md, docs/search.md): tp-sim's policy, not a
 * measurement. */
#define TPS_DEFAULT_MEMORY_MARGIN 0.05

typedef enum { TPS_MODULE_DECODER, TPS_MODULE_VIT, TPS_MODULE_PROJECTOR } tps_module_type;
typedef enum { TPS_MLP_GELU, TPS_MLP_SWIGLU } tps_mlp_kind;
typedef enum { TPS_NORM_LAYERNORM, TPS_NORM_RMSNORM } tps_norm_kind;
typedef enum { TPS_POSITION_NONE, TPS_POSITION_LEARNED, TPS_POSITION_ROPE } tps_position;
typedef enum { TPS_PRECISION_BF16, TPS_PRECISION_FP16, TPS_PRECISION_FP32, TPS_PRECISION_COUNT } tps_precision;
typedef enum { TPS_RECOMPUTE_NONE, TPS_RECOMPUTE_SELECTIVE, TPS_RECOMPUTE_FULL } tps_recompute;
typedef enum { TPS_TOPOLOGY_SWITCH, TPS_TOPOLOGY_FULL_MESH } tps_topology;
/* How context parallelism splits attention (docs/model.md, "Context
 * parallelism"): Megatron's ring attention (MindSpeed megatron_cp_algo),
 * DeepSpeed-Ulysses' head all-to-all (ulysses_cp_algo), or MindSpeed's
 * hybrid of the two (hybrid_cp_algo: Ulysses inside groups of
 * ulysses_degree ranks, a ring across them). */
typedef enum { TPS_CP_RING, TPS_CP_ULYSSES, TPS_CP_HYBRID, TPS_CP_ALGO_COUNT } tps_cp_algo;
typedef enum { TPS_ROUTER_SOFTMAX, TPS_ROUTER_SIGMOID } tps_router_score;
/* FP8 training with Transformer Engine (docs/model.md, "FP8"): none, E4M3
 * for every FP8 tensor, or hybrid (E4M3 forward, E5M2 gradients); both run
 * the transformer blocks' GEMMs at the device's FP8 peak. Megatron-LM's
 * --fp8-format. */
typedef enum { TPS_FP8_NONE, TPS_FP8_E4M3, TPS_FP8_HYBRID, TPS_FP8_COUNT } tps_fp8_format;
/* Megatron-LM's default --fp8-amax-history-len (megatron/training/arguments.py). */
#define TPS_DEFAULT_FP8_AMAX_HISTORY 1
/* How the loss holds the logits (docs/model.md, "The loss"): MEGATRON,
 * Megatron's vocab-parallel cross entropy, which keeps an fp32 softmax and
 * works on fp32 copies beside the logits; TE, Transformer Engine's
 * parallel_cross_entropy, which writes the gradient into the logits and
 * keeps only them (Megatron --cross-entropy-loss-fusion with
 * --cross-entropy-fusion-impl te; NeMo's performance recipes). */
typedef enum { TPS_CE_MEGATRON, TPS_CE_TE, TPS_CE_COUNT } tps_cross_entropy;

/* One module of a model: a decoder LLM, a ViT encoder or a projector.
 *
 * decoder:   `layers` transformer blocks of width `hidden`, plus the token
 *            embedding (vocab x hidden), final norm and lm_head (untied
 *            unless tied_embeddings), learned positions (max_position x hidden)
 *            when position == LEARNED.
 * vit:       patch embedding (in_channels * temporal_patch * patch^2 -> hidden,
 *            no bias) then `layers` non-causal blocks over `tokens` patches per
 *            sample; blocks listed in full_attention_blocks attend over the whole
 *            image, the others within windows of `window` patches (window = 0:
 *            every block is full attention).
 * projector: merges spatial_merge^2 tokens of width `hidden` into one
 *            (norm over `hidden`, then MLP hidden*merge^2 -> ffn -> output). */
typedef struct tps_module {
  char name[TPS_NAME_MAX];
  tps_module_type type;
  int64_t layers;      /* transformer blocks (projector: 1) */
  int64_t hidden;      /* model width h */
  int64_t heads;       /* attention heads a (projector: 0) */
  int64_t kv_heads;    /* key/value heads (GQA); == heads for MHA */
  int64_t head_dim;    /* per-head width; hidden / heads unless given */
  int64_t ffn;         /* MLP inner width */
  tps_mlp_kind mlp;
  tps_norm_kind norm;
  bool qkv_bias;       /* bias on the QKV projection */
  bool bias;           /* bias on every other linear layer */
  bool dropout;        /* attention and hidden dropout on (saves masks) */
  bool frozen;         /* no gradients, no optimizer state */
  /* decoder */
  int64_t vocab;       /* 0: a bare block stack, no embedding or head (the
                          engine's reading of tp-kernel's layers; loaders
                          require a vocabulary) */
  bool tied_embeddings;
  tps_position position;
  int64_t max_position; /* learned positions: table rows */
  int64_t sliding_window; /* decoder: each token attends to the last N tokens
                             (Mistral's sliding window); 0 = full causal */
  /* Mixture of experts (decoder; experts == 0: every MLP is dense). An MoE
   * layer's MLP is a router (hidden -> experts scores, top-k kept) plus
   * `experts` routed experts of inner width expert_ffn (gated like `mlp`)
   * plus shared experts of inner width shared_expert_ffn together, which
   * every token passes through. Layer i (0-based) is MoE when
   * i >= first_dense_layers and i % moe_layer_freq == 0 (Megatron-LM's
   * --moe-layer-freq N, DeepSeek's first_k_dense_replace / moe_layer_freq);
   * the others are dense MLPs of width `ffn`. */
  int64_t experts;            /* routed experts per MoE layer */
  int64_t experts_per_token;  /* top-k */
  int64_t expert_ffn;         /* inner width of one routed expert */
  int64_t shared_expert_ffn;  /* inner width of the shared experts together; 0: none */
  bool shared_expert_gate;    /* a sigmoid gate (hidden -> 1) scales the shared
                                 experts' output (Qwen2-MoE) */
  tps_router_score router_score; /* softmax or sigmoid scores */
  bool router_bias;           /* a per-expert score bias (DeepSeek-V3's
                                 e_score_correction_bias): `experts` parameters */
  int64_t moe_layer_freq;     /* every freq-th layer is MoE; 0 or 1: every one */
  int64_t first_dense_layers; /* the first k layers keep a dense MLP */
  /* Multi-head latent attention (DeepSeek-V2/V3; kv_lora_rank == 0: off).
   * Q: hidden -> q_lora_rank (norm) -> heads x (nope + rope), or directly
   * hidden -> heads x (nope + rope) when q_lora_rank == 0; KV: hidden ->
   * kv_lora_rank + rope (norm on the first part) -> heads x (nope + v);
   * output heads x v -> hidden. */
  int64_t q_lora_rank, kv_lora_rank;
  int64_t qk_nope_head_dim, qk_rope_head_dim, v_head_dim;
  /* Multi-token prediction (DeepSeek-V3): depth of MTP modules, each an
   * embedding norm and a hidden norm, a projection 2 hidden -> hidden, one
   * transformer block (MoE when the model has experts) and a norm before
   * the output head; the embedding and the head are the main model's. */
  int64_t mtp_layers;
  /* vit */
  int64_t patch, temporal_patch, in_channels;
  int64_t tokens;      /* patches per sample entering the first block */
  int64_t window;      /* patches per attention window; 0 = all full */
  int64_t full_attention_blocks[TPS_MAX_FULL_ATTN];
  int n_full_attention_blocks;
  /* projector */
  int64_t spatial_merge; /* tokens merged per side (2 -> 4 tokens into 1) */
  int64_t output;        /* output width (the decoder's hidden) */
} tps_module;

/* Training defaults a model file carries; every field can be overridden
 * from the command line. A value of 0 means "not given". */
typedef struct tps_training {
  int64_t seq_len, micro_batch, global_batch, cards, pp, dp, tp;
  int64_t mean_seq_len; /* variable-length samples: mean decoder tokens per sample
                           (seq_len is then the longest); 0: every sample seq_len */
  int64_t vpp; /* model chunks per pipeline stage (interleaved 1F1B); 0/1: none */
  int64_t cp;  /* context-parallel ranks; 0: not given (1) */
  tps_cp_algo cp_algo;
  int64_t ulysses_degree; /* hybrid: Ulysses ranks inside CP; 0: not given */
  int64_t ep;  /* expert-parallel ranks; 0: not given (1) */
  int64_t etp; /* expert tensor-parallel ranks; 0: not given (= tp) */
  double moe_capacity_factor; /* tokens an expert takes, over the expected load
                                 (Megatron --moe-expert-capacity-factor); 0: dropless */
  tps_precision precision;
  tps_fp8_format fp8;     /* FP8 GEMMs in the transformer blocks; NONE: off */
  tps_cross_entropy cross_entropy; /* the loss's implementation (its logits memory) */
  bool distributed_optimizer;
  tps_recompute recompute;
  bool sp;
  bool flash_attention;
  bool overlap_grad_reduce;
  bool tp_comm_overlap; /* TP collectives overlapped with their GEMMs (needs SP) */
  bool overlap_param_gather; /* the distributed optimizer's weight all-gather overlaps the
                                next step's forward (Megatron --overlap-param-gather) */
  bool reuse_fp32_param; /* MindSpeed --reuse-fp32-param: fp32 master weights kept as the
                            bf16 weights + a 16-bit residual (bf16 only) */
  bool recompute_activation; /* MindSpeed --recompute-activation-function: the MLP's
                                activation re-run in backward, its output not kept */
  bool grad_reduce_bf16; /* gradients kept and reduced in bf16, not fp32 (Megatron
                            --grad-reduce-in-bf16; NeMo grad_reduce_in_fp32: false) */
  int64_t vocab_divisor; /* Megatron --make-vocab-size-divisible-by */
  double micro_batch_overhead_s; /* host-side seconds per micro-batch on every
                                    stage (data loading, preprocessing, op
                                    dispatch) that no kernel accounts for */
  /* explicit pipeline placement: layers of module m on stage s
   * (MindSpeed-MM pipeline_num_layers); n_pipeline_stages == 0: not given. */
  int64_t pipeline_layers[TPS_MAX_MODULES][TPS_MAX_STAGES];
  int n_pipeline_stages;
} tps_training;

typedef struct tps_model {
  char name[TPS_NAME_MAX];
  char source[TPS_SOURCE_MAX];
  char path[512];              /* file it was loaded from */
  char default_hw[TPS_NAME_MAX]; /* hardware profile used when --hw is absent */
  tps_module modules[TPS_MAX_MODULES];
  int n_modules;
  tps_training training;
} tps_model;

/* A piecewise-linear table y(x), interpolated in log10(x) and clamped at
 * both ends; n == 1 is a constant. x is in the quantity's SI unit. */
typedef struct tps_table {
  int n;
  double x[TPS_MAX_TABLE];
  double y[TPS_MAX_TABLE];
  double sd;   /* spread of a one-point table's y (`0.9 +- 0.05`): the
                  standard deviation, same unit as y; 0 = exact */
} tps_table;

/* GEMM efficiency by shape: achieved / peak FLOP/s of one y(m, n) = x(m, k)
 * W(k, n) call, measured on the full grid m[] x n[] x k[] (each axis strictly
 * increasing, in elements). eff[(i * nn + j) * nk + l] is the point
 * (m[i], n[j], k[l]). Interpolated trilinearly in (log m, log n, log k),
 * each coordinate clamped to its axis (tps_gemm_shape_eval, engine.h);
 * nm == 0: no grid (the FLOPs table gemm_efficiency applies). */
#define TPS_MAX_GRID_AXIS 8
typedef struct tps_gemm_shapes {
  int nm, nn, nk;
  double m[TPS_MAX_GRID_AXIS], n[TPS_MAX_GRID_AXIS], k[TPS_MAX_GRID_AXIS];
  double eff[TPS_MAX_GRID_AXIS * TPS_MAX_GRID_AXIS * TPS_MAX_GRID_AXIS];
} tps_gemm_shapes;

typedef struct tps_link {
  double bandwidth_Bps;  /* per device, per direction, bytes/s */
  double latency_s;      /* per collective step */
  double latency_sd_s;   /* its spread (standard deviation); 0 = exact */
  tps_topology topology;
  tps_table efficiency;  /* achieved / nominal bandwidth over message bytes */
} tps_link;

/* Kinds of lowered op (ops.h's tps_op_kind: gemm, attention, norm,
 * activation, residual, rope, embedding, loss, collective). */
#define TPS_OP_KIND_COUNT 9

/* The software stack a device runs (framework + runtime: Megatron on
 * PyTorch/CUDA, MindSpeed on torch_npu/CANN): what issuing the lowered ops
 * costs the host, the kernels a framework launches besides each op's own,
 * fixed host costs per micro-batch and per step, and its caching allocator.
 * Loaded from hw_profiles/stacks/NAME.yaml (docs/schema.md); all zero for a
 * profile without one (tp-kernel's calibrations: plain C, no framework). */
typedef struct tps_stack {
  char name[TPS_NAME_MAX];
  char source[TPS_SOURCE_MAX];
  char path[512];
  double host_dispatch_s;       /* host seconds to issue one framework op */
  double host_ops[TPS_OP_KIND_COUNT][2];      /* framework ops issued per lowered
                                                 op of a kind: forward, backward */
  double extra_kernels[TPS_OP_KIND_COUNT][2]; /* device kernels per lowered op
                                                 beyond its own compute kernels
                                                 (bias adds, casts, copies) */
  double per_micro_batch_s;     /* host seconds per micro-batch outside the layers */
  double per_step_s;            /* host seconds per step outside the layers */
  double allocator_overhead;    /* caching allocator: reserved / allocated bytes
                                   of activations; 0 or 1 = none */
  double moe_imbalance;         /* dropless MoE: tokens the most loaded expert-parallel
                                   rank receives over the expected (uniform) load;
                                   0 or 1 = balanced */
  char moe_source[TPS_SOURCE_MAX]; /* where moe_imbalance comes from */
  /* Spreads (standard deviations, same units; 0 = exact) of the constants
   * above, from `value +- sd` in the file: `tp-sim fit` writes its
   * standard errors so (docs/uncertainty.md). */
  double host_dispatch_sd_s, per_micro_batch_sd_s, per_step_sd_s, allocator_overhead_sd;
} tps_stack;

typedef struct tps_hw {
  char name[TPS_NAME_MAX];
  char source[TPS_SOURCE_MAX];
  char path[512];
  char device_name[128];
  double memory_bytes;          /* HBM per device */
  double memory_bandwidth_Bps;
  double peak_flops[TPS_PRECISION_COUNT]; /* dense FLOP/s; 0 = not given */
  double peak_fp8_flops;        /* dense FP8 tensor FLOP/s; 0 = no FP8 (refused) */
  tps_table fp8_gemm_efficiency; /* x = FLOPs of one FP8 GEMM call; given with
                                    peak_fp8_flops */
  double runtime_reserve_bytes; /* framework + runtime (context) memory, fixed */
  double communicator_bytes;    /* buffers of one collective communicator
                                   (NCCL/HCCL), held once per parallel group
                                   of more than one rank; 0 = in the reserve */
  double backward_buffers;      /* gradient buffers the size of a layer's input
                                   (tokens x hidden) kept alive through backward
                                   besides one op's working set; 0 = none */
  tps_table gemm_efficiency;    /* x = FLOPs of one GEMM call */
  tps_gemm_shapes gemm_shapes;  /* by shape (m, n, k); when given (nm > 0),
                                   GEMMs are costed with it instead of
                                   gemm_efficiency */
  tps_table attention_efficiency; /* x = FLOPs of one attention-core call */
  double memory_efficiency;     /* achieved / nominal bandwidth, elementwise */
  double kernel_overhead_s;     /* fixed cost per kernel launch */
  /* Spreads (standard deviations, same units; 0 = exact) of measured
   * constants above, from `value +- sd` in the file (docs/uncertainty.md);
   * one-point efficiency tables carry theirs in tps_table.sd. */
  double memory_bandwidth_sd_Bps, runtime_reserve_sd_bytes, memory_efficiency_sd,
      kernel_overhead_sd_s;
  int64_t devices_per_node;
  tps_link intra;               /* within a node */
  tps_link inter;               /* between nodes, per device */
  char stack_name[TPS_NAME_MAX]; /* the profile's default software stack ("" none) */
  tps_stack stack;              /* the stack in use (loaded from stack_name or --stack) */
} tps_hw;

/* The model-error term of a hardware family (docs/uncertainty.md): the
 * spread of log(predicted / measured) that remains on published runs when
 * every constant is known, from leave-one-group-out validation. An entry
 * applies to a hardware profile by name, or failing that to every profile
 * running its software stack. */
#define TPS_MAX_MODEL_ERRORS 32
typedef struct tps_model_error {
  char hw[TPS_NAME_MAX];    /* hardware profile name; "" = by stack */
  char stack[TPS_NAME_MAX]; /* software stack name; "" = by hw */
  double time_sd;           /* sd of log(predicted / measured) of step time
                               (and all that scales with it: tokens/s, MFU) */
  double memory_sd;         /* the same for memory per card */
} tps_model_error;

typedef struct tps_model_errors {
  char path[512];
  char source[TPS_SOURCE_MAX];
  tps_model_error e[TPS_MAX_MODEL_ERRORS];
  int n;
} tps_model_errors;

/* One fully resolved run: what the engine evaluates. */
typedef struct tps_run {
  int64_t tp, pp, dp, cards;    /* cards = tp x cp x pp x dp */
  int64_t cp;                   /* context-parallel ranks: each holds seq_len / cp
                                   tokens of every sequence; 1: none */
  tps_cp_algo cp_algo;          /* how attention crosses the CP ranks */
  int64_t ulysses_degree;       /* Ulysses ranks inside CP: cp (ulysses), 1 (ring),
                                   the hybrid's --ulysses-degree-in-cp */
  int64_t seq_len, micro_batch, global_batch;
  int64_t mean_seq_len;         /* tokens per sample on average when samples vary in
                                   length (Megatron --variable-seq-lengths): time and
                                   tokens/s at the mean, memory at seq_len (the
                                   longest); equals seq_len when they do not vary */
  int64_t micro_batches;        /* global_batch / (micro_batch * dp) */
  int64_t vpp;                  /* model chunks per pipeline stage (interleaved 1F1B); 1: none */
  tps_precision precision;       /* weights, activations and non-FP8 kernels */
  tps_fp8_format fp8;           /* FP8 GEMMs in the transformer blocks (TE); NONE: off */
  int64_t fp8_amax_history;     /* amax history length per FP8 tensor (FP8 only) */
  bool fp8_param_gather;        /* FP8 primary weights (Megatron --fp8-param-gather):
                                   no bf16 copy of the FP8 GEMMs' weights */
  tps_cross_entropy cross_entropy; /* how the loss holds the logits */
  bool sp, distributed_optimizer, flash_attention, overlap_grad_reduce;
  bool grad_reduce_bf16;        /* main gradients in bf16 (2 bytes), not fp32 (bf16 only) */
  bool reuse_fp32_param;        /* master weights as bf16 weight + residual: 2 bytes less */
  bool recompute_activation;    /* dense MLP activation re-run in backward (MindSpeed) */
  bool overlap_param_gather;    /* distributed optimizer: weight all-gather behind forward */
  bool tp_comm_overlap;         /* SP's all-gathers and reduce-scatters overlapped with
                                   the GEMM beside them (Megatron --tp-comm-overlap) */
  tps_recompute recompute;
  /* Expert parallelism (docs/model.md, "Mixture of experts"): the routed
   * experts of an MoE layer are spread over ep ranks and each expert's
   * columns over etp ranks; the ranks of one pipeline stage, TP x CP x DP of
   * them, are then ETP x EP x EDP (Megatron-Core's expert rank grid), so
   * the experts' own data-parallel group has edp = tp cp dp / (ep etp)
   * ranks. Without experts ep = 1 and etp = tp. */
  int64_t ep, etp;
  double moe_capacity_factor;   /* 0: dropless; else an expert takes at most this
                                   times its expected tokens */
  int64_t vocab_divisor;
  double memory_margin;         /* fraction of device memory kept free for "fits with margin" */
  double micro_batch_overhead_s; /* host-side seconds per micro-batch per stage */
  bool no_optimizer;            /* a forward + backward pass only: no optimizer
                                   state and no optimizer step (tp-kernel's
                                   runs); false for training */
  int64_t pipeline_layers[TPS_MAX_MODULES][TPS_MAX_STAGES];
  bool explicit_pipeline;
} tps_run;

/* A run as asked for: what the model's training defaults are overridden by
 * (command line, Megatron arguments, a published case). The engine resolves
 * it into a tps_run (tps_run_overrides_init, tps_run_resolve in engine.h). */
typedef struct tps_run_overrides {
  int64_t tp, pp, dp, cards, seq_len, micro_batch, global_batch;
  int64_t mean_seq_len; /* 0: unset */
  int64_t vpp;    /* 0: unset */
  int64_t cp;     /* 0: unset */
  int cp_algo;    /* -1 unset, else tps_cp_algo */
  int64_t ulysses_degree; /* 0: unset */
  int64_t ep, etp; /* 0: unset */
  double moe_capacity_factor; /* < 0: unset; 0: dropless */
  int sp, distributed_optimizer, flash_attention, overlap_grad_reduce; /* -1 unset, 0, 1 */
  int tp_comm_overlap; /* -1 unset, 0, 1 */
  int grad_reduce_bf16; /* -1 unset, 0, 1 */
  int reuse_fp32_param, recompute_activation; /* -1 unset, 0, 1 */
  int overlap_param_gather; /* -1 unset, 0, 1 */
  int recompute;  /* -1 unset, else tps_recompute */
  int precision;  /* -1 unset, else tps_precision */
  int fp8;        /* -1 unset, else tps_fp8_format */
  int64_t fp8_amax_history; /* 0: unset */
  int fp8_param_gather;     /* -1 unset, 0, 1 */
  int cross_entropy;        /* -1 unset, else tps_cross_entropy */
  double memory_margin; /* < 0: unset */
  /* Layers of every decoder on each pipeline stage (--pipeline-layers,
   * MindSpeed's --num-layer-list); encoders and projectors then sit on
   * stage 0. n_decoder_layers 0: unset. */
  int64_t decoder_layers[TPS_MAX_STAGES];
  int n_decoder_layers;
} tps_run_overrides;

const char *tps_precision_name(tps_precision p);
const char *tps_recompute_name(tps_recompute r);
const char *tps_module_type_name(tps_module_type t);
const char *tps_cp_algo_name(tps_cp_algo a);
const char *tps_fp8_format_name(tps_fp8_format f);
const char *tps_cross_entropy_name(tps_cross_entropy c);
/* Bytes per element of activations and weights at this precision. */
int tps_precision_bytes(tps_precision p);

#endif
