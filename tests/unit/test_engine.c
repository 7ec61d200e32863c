/* Engine tests: the lowering's saved tensors against Korthikanti et al.'s
 * Table 2, parameter and FLOP counts against Narayanan et al.'s Eq. 2 and 3,
 * and the collective and memory rules. Models are built in code so that
 * these tests do not depend on the YAML loader. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "engine/evaluate.h"
#include "engine/lower_internal.h"
#include "tpsim/tpsim.h"

/* Relative difference, printed on failure with both values. */
#define assert_rel(actual, expected, tol, what)                                           \
  do {                                                                                    \
    double a_ = (actual), e_ = (expected);                                                \
    double r_ = fabs(a_ - e_) / (fabs(e_) > 0 ? fabs(e_) : 1.0);                          \
    cr_assert(r_ <= (tol), "%s: got %.10g, expected %.10g (rel err %.3g > %.3g)", what, a_, \
              e_, r_, (double)(tol));                                                     \
  } while (0)

/* A Megatron GPT: LayerNorm, GeLU MLP of 4h, MHA, biases, learned
 * positions, tied embeddings, dropout on (the setting of both papers). */
static tps_model gpt(int64_t layers, int64_t hidden, int64_t heads, int64_t vocab, int64_t seq) {
  tps_model m;
  memset(&m, 0, sizeof m);
  strcpy(m.name, "gpt-test");
  m.n_modules = 1;
  tps_module *d = &m.modules[0];
  strcpy(d->name, "language_model");
  d->type = TPS_MODULE_DECODER;
  d->layers = layers;
  d->hidden = hidden;
  d->heads = heads;
  d->kv_heads = heads;
  d->head_dim = hidden / heads;
  d->ffn = 4 * hidden;
  d->mlp = TPS_MLP_GELU;
  d->norm = TPS_NORM_LAYERNORM;
  d->qkv_bias = d->bias = d->dropout = true;
  d->vocab = vocab;
  d->tied_embeddings = true;
  d->position = TPS_POSITION_LEARNED;
  d->max_position = seq;
  m.training.seq_len = seq;
  m.training.micro_batch = 1;
  m.training.cards = 1;
  m.training.vocab_divisor = 1;
  m.training.precision = TPS_PRECISION_BF16;
  return m;
}

static tps_run run_for(const tps_model *m, int64_t tp, int64_t micro_batch, bool sp,
                       tps_recompute rc, bool flash) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = tp;
  o.cards = tp;
  o.micro_batch = micro_batch;
  o.sp = sp;
  o.recompute = rc;
  o.flash_attention = flash;
  tps_run run;
  tps_error err;
  cr_assert_eq(tps_run_resolve(m, &o, &run, &err), TPS_OK, "%s", err.msg);
  return run;
}

/* Activation bytes one transformer block keeps for backward, per rank. */
static double block_activation_bytes(const tps_model *m, const tps_run *run) {
  tps_plan plan;
  tps_error err;
  cr_assert_eq(tps_plan_build(m, run, &plan, &err), TPS_OK, "%s", err.msg);
  static tps_hw hw; /* costs are not looked at; memory does not need a profile */
  hw.peak_flops[TPS_PRECISION_BF16] = 1e15;
  hw.memory_bandwidth_Bps = 1e12;
  hw.memory_efficiency = 1.0;
  hw.devices_per_node = 8;
  hw.intra.bandwidth_Bps = hw.inter.bandwidth_Bps = 1e11;
  int block = -1;
  for (int i = 0; i < plan.n_layers; i++)
    if (plan.layers[i].index == 0) block = i;
  cr_assert(block >= 0);
  tps_layer_cost c;
  tps_layer_cost_compute(&plan, block, run, &hw, &c);
  tps_plan_free(&plan);
  return c.activation_bytes;
}

/* Korthikanti et al. 2022 (arXiv 2205.05198) Table 2, bytes per layer with
 * s = seq, b = micro-batch, h = hidden, a = heads, t = TP. GPT-3 175B
 * shapes (their Table 3): s 2048, h 12288, a 96, t 8; b = 1. */
Test(korthikanti_table2, all_six_settings) {
  const double s = 2048, b = 1, h = 12288, a = 96, t = 8;
  tps_model m = gpt(96, 12288, 96, 51200, 2048);
  struct {
    const char *name;
    int64_t tp;
    bool sp;
    tps_recompute rc;
    double expected;
  } cases[] = {
      {"no parallelism: sbh(34 + 5as/h)", 1, false, TPS_RECOMPUTE_NONE, s * b * h * (34 + 5 * a * s / h)},
      {"TP: sbh(10 + 24/t + 5as/(ht))", 8, false, TPS_RECOMPUTE_NONE,
       s * b * h * (10 + 24 / t + 5 * a * s / (h * t))},
      {"TP+SP: sbh/t (34 + 5as/h)", 8, true, TPS_RECOMPUTE_NONE, s * b * h / t * (34 + 5 * a * s / h)},
      {"TP+selective: sbh(10 + 24/t)", 8, false, TPS_RECOMPUTE_SELECTIVE, s * b * h * (10 + 24 / t)},
      {"TP+SP+selective: 34 sbh/t", 8, true, TPS_RECOMPUTE_SELECTIVE, 34 * s * b * h / t},
      {"full recompute: 2sbh", 8, false, TPS_RECOMPUTE_FULL, 2 * s * b * h},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tps_run run = run_for(&m, cases[i].tp, 1, cases[i].sp, cases[i].rc, false);
    assert_rel(block_activation_bytes(&m, &run), cases[i].expected, 1e-12, cases[i].name);
  }
}

/* Flash attention keeps no s^2 tensors: the TP formula without 5as/(ht),
 * plus one fp32 log-sum-exp per token and head on this rank. */
Test(korthikanti_table2, flash_attention_drops_the_quadratic_term) {
  const double s = 2048, h = 12288, a = 96, t = 8;
  tps_model m = gpt(96, 12288, 96, 51200, 2048);
  tps_run run = run_for(&m, 8, 1, false, TPS_RECOMPUTE_NONE, true);
  assert_rel(block_activation_bytes(&m, &run), s * h * (10 + 24 / t) + s * (a / t) * 4.0, 1e-12,
             "flash");
}

/* MindSpeed's --recompute-activation-function: the GeLU output (the
 * down-projection's input, 4h / t wide, 2 bytes) is not kept: Korthikanti's
 * TP term 24/t becomes 16/t, and the activation's forward joins backward. */
Test(korthikanti_table2, activation_recompute_drops_the_mlp_output) {
  const double s = 2048, h = 12288, t = 8;
  tps_model m = gpt(96, 12288, 96, 51200, 2048);
  tps_run run = run_for(&m, 8, 1, false, TPS_RECOMPUTE_NONE, true);
  const double kept = block_activation_bytes(&m, &run);
  run.recompute_activation = true;
  assert_rel(kept - block_activation_bytes(&m, &run), s * 4 * h / t * 2, 1e-12,
             "activation recompute");
}

/* Narayanan et al. 2021 (arXiv 2104.04473) Eq. 2:
 * P = 12 l h^2 (1 + 13/(12h) + (V + s)/(12 l h)). Eq. 2 leaves out the final
 * LayerNorm (2h), which the lowering counts. */
Test(narayanan, eq2_parameters) {
  const int64_t cases[][5] = {{96, 12288, 96, 51200, 2048}, {40, 1536, 16, 51200, 1024},
                              {24, 2048, 16, 51200, 2048}};
  for (size_t i = 0; i < 3; i++) {
    double l = (double)cases[i][0], h = (double)cases[i][1], V = (double)cases[i][3],
           s = (double)cases[i][4];
    tps_model m = gpt(cases[i][0], cases[i][1], cases[i][2], cases[i][3], cases[i][4]);
    double eq2 = 12 * l * h * h * (1 + 13 / (12 * h) + (V + s) / (12 * l * h));
    assert_rel(tps_model_params(&m) - 2 * h, eq2, 1e-12, "Eq. 2");
  }
}

static tps_hw test_hw(void) {
  tps_hw hw;
  memset(&hw, 0, sizeof hw);
  strcpy(hw.name, "test");
  hw.memory_bytes = 80e9;
  hw.memory_bandwidth_Bps = 2e12;
  hw.peak_flops[TPS_PRECISION_BF16] = 312e12;
  hw.gemm_efficiency.n = hw.attention_efficiency.n = 1;
  hw.gemm_efficiency.y[0] = hw.attention_efficiency.y[0] = 0.5;
  hw.memory_efficiency = 0.8;
  hw.kernel_overhead_s = 5e-6;
  hw.devices_per_node = 8;
  hw.intra = (tps_link){.bandwidth_Bps = 300e9, .latency_s = 5e-6, .topology = TPS_TOPOLOGY_SWITCH,
                        .efficiency = {.n = 1, .y = {0.8}}};
  hw.inter = (tps_link){.bandwidth_Bps = 25e9, .latency_s = 10e-6, .topology = TPS_TOPOLOGY_SWITCH,
                        .efficiency = {.n = 1, .y = {0.8}}};
  return hw;
}

/* Narayanan et al. 2021 Eq. 3 (hardware FLOPs with full recompute) and the
 * model-FLOPs form without recompute (Korthikanti 2022, MFU numerator):
 * F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h)), F_model = 72 B s l h^2 (1 + s/(6h) + V/(12 l h)). */
Test(narayanan, eq3_flops) {
  const double B = 16, s = 1024, l = 40, h = 1536, V = 51200;
  tps_model m = gpt(40, 1536, 16, 51200, 1024);
  m.training.global_batch = 16;
  tps_hw hw = test_hw();
  tps_run run = run_for(&m, 1, 16, false, TPS_RECOMPUTE_FULL, false);
  tps_estimate e;
  tps_error err;
  cr_assert_eq(tps_estimate_run(&m, &run, &hw, &e, &err), TPS_OK, "%s", err.msg);
  assert_rel(e.hardware_flops_per_step, 96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h)),
             1e-12, "Eq. 3");
  assert_rel(e.model_flops_per_step, 72 * B * s * l * h * h * (1 + s / (6 * h) + V / (12 * l * h)),
             1e-12, "model FLOPs");
  /* The same job split over TP = 4 does the same work. */
  run = run_for(&m, 4, 16, false, TPS_RECOMPUTE_FULL, false);
  cr_assert_eq(tps_estimate_run(&m, &run, &hw, &e, &err), TPS_OK, "%s", err.msg);
  assert_rel(e.hardware_flops_per_step, 96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h)),
             1e-12, "Eq. 3 at TP 4");
}

/* Ring volumes: an all-reduce of N bytes over p ranks moves 2 (p-1)/p N per
 * rank, reduce-scatter and all-gather (p-1)/p N (facts.md section 4). */
Test(collectives, ring_volume_and_latency) {
  tps_hw hw = test_hw();
  double N = 64e6, bw = 300e9 * 0.8, lat = 5e-6;
  assert_rel(tps_collective_time(TPS_COLL_ALL_REDUCE, N, 4, 1, &hw), 2 * 3 * lat + 2 * 0.75 * N / bw,
             1e-12, "all-reduce p=4");
  assert_rel(tps_collective_time(TPS_COLL_ALL_GATHER, N, 4, 1, &hw), 3 * lat + 0.75 * N / bw, 1e-12,
             "all-gather p=4");
  cr_assert_eq(tps_collective_time(TPS_COLL_ALL_REDUCE, N, 1, 1, &hw), 0.0);
  /* 16 ranks 8 apart span 16 nodes with one rank on each: one NIC each. */
  double inter = 25e9 * 0.8, lat2 = 10e-6;
  assert_rel(tps_collective_time(TPS_COLL_ALL_REDUCE, N, 16, 8, &hw),
             2 * 15 * lat2 + 2 * 15.0 / 16.0 * N / inter, 1e-12, "one rank per node");
  /* 16 ranks 2 apart: 4 per node share 4 NICs (nccl-tests#119). */
  assert_rel(tps_collective_time(TPS_COLL_ALL_REDUCE, N, 16, 2, &hw),
             2 * 15 * lat2 + 2 * 15.0 / 16.0 * N / (4 * inter), 1e-12, "four ranks per node");
  /* 16 ranks 1 apart: 8 per node on 8 NICs... */
  assert_rel(tps_collective_time(TPS_COLL_ALL_REDUCE, N, 16, 1, &hw),
             2 * 15 * lat2 + 2 * 15.0 / 16.0 * N / (8 * inter), 1e-12, "eight ranks per node");
  /* ...unless 8 NICs would beat NVSwitch: the intra link caps them. */
  hw.inter.bandwidth_Bps = 50e9;
  assert_rel(tps_collective_time(TPS_COLL_ALL_REDUCE, N, 16, 1, &hw),
             2 * 15 * lat2 + 2 * 15.0 / 16.0 * N / bw, 1e-12, "capped by the intra link");
}

/* A full mesh (910B HCCS) gives a 2-rank group one link and a p-rank group
 * p - 1 links per rank. */
Test(collectives, full_mesh_links) {
  tps_hw hw = test_hw();
  hw.intra.topology = TPS_TOPOLOGY_FULL_MESH;
  hw.intra.bandwidth_Bps = 56e9;
  hw.intra.latency_s = 0;
  double N = 64e6, link = 56e9 * 0.8;
  assert_rel(tps_collective_time(TPS_COLL_ALL_REDUCE, N, 2, 1, &hw), 2 * 0.5 * N / link, 1e-12, "p=2");
  assert_rel(tps_collective_time(TPS_COLL_ALL_REDUCE, N, 8, 1, &hw), 2 * (7.0 / 8) * N / (7 * link),
             1e-12, "p=8");
}

/* GQA: 4 KV heads split over TP 2 and 4, replicated (one per rank) at TP 8;
 * 3 KV heads refuse TP 2 with a message naming both numbers. */
Test(lowering, gqa_kv_heads) {
  cr_assert_eq(tps_kv_heads_per_rank(4, 2), 2);
  cr_assert_eq(tps_kv_heads_per_rank(4, 4), 1);
  cr_assert_eq(tps_kv_heads_per_rank(4, 8), 1);
  tps_model m = gpt(2, 1024, 8, 1000, 128);
  m.modules[0].kv_heads = 4;
  m.modules[0].head_dim = 128;
  tps_run run = run_for(&m, 8, 1, false, TPS_RECOMPUTE_NONE, true);
  tps_op_list ops;
  tps_op_list_init(&ops);
  tps_error err;
  tps_lower_opts block = {.kind = TPS_LAYER_BLOCK, .needs_input_grad = true};
  cr_assert_eq(tps_lower_layer(&m.modules[0], &run, block, &ops, &err), TPS_OK, "%s", err.msg);
  cr_assert_str_eq(ops.ops[2].name, "qkv");
  cr_assert_eq(ops.ops[2].n, (8 / 8 + 2 * 1) * 128, "qkv columns per rank at TP 8");
  tps_op_list_free(&ops);

  m.modules[0].kv_heads = 3;
  m.modules[0].heads = 6;
  run.tp = 2;
  cr_assert_eq(tps_lower_layer(&m.modules[0], &run, block, &ops, &err), TPS_EDIVIDE);
  cr_assert_str_eq(err.msg,
                   "--tp: 2 does not divide 3 KV heads of module 'language_model' (nor is it a multiple of them)");
  cr_assert_eq(ops.n, 0, "a failed lowering leaves the list as it was");
  tps_op_list_free(&ops);
}

/* The op order is the contract with tp-kernel (tpsim/ops.h). */
Test(lowering, block_op_order) {
  tps_model m = gpt(2, 1024, 8, 1000, 128);
  m.modules[0].position = TPS_POSITION_ROPE;
  tps_run run = run_for(&m, 2, 1, true, TPS_RECOMPUTE_NONE, true);
  tps_op_list ops;
  tps_op_list_init(&ops);
  tps_error err;
  tps_lower_opts block = {.kind = TPS_LAYER_BLOCK, .needs_input_grad = true};
  cr_assert_eq(tps_lower_layer(&m.modules[0], &run, block, &ops, &err), TPS_OK, "%s", err.msg);
  const char *expected[] = {"attn_norm", "attn_f",   "qkv",     "rope",    "attn_core",
                            "attn_out",  "attn_g",   "attn_residual", "mlp_norm", "mlp_f",
                            "mlp_up",    "mlp_act",  "mlp_down", "mlp_g",  "mlp_residual"};
  cr_assert_eq(ops.n, 15);
  for (int i = 0; i < 15; i++) cr_assert_str_eq(ops.ops[i].name, expected[i]);
  /* SP: f all-gathers forward and reduce-scatters backward; g the reverse. */
  cr_assert_eq(ops.ops[1].fwd_coll, TPS_COLL_ALL_GATHER);
  cr_assert_eq(ops.ops[1].bwd_coll, TPS_COLL_REDUCE_SCATTER);
  cr_assert_eq(ops.ops[6].fwd_coll, TPS_COLL_REDUCE_SCATTER);
  cr_assert_eq(ops.ops[6].bwd_coll, TPS_COLL_ALL_GATHER);
  tps_op_list_free(&ops);
}

/* Megatron pads the vocabulary to a multiple of divisor x TP. */
Test(lowering, vocab_padding) {
  cr_assert_eq(tps_padded_vocab(50257, 128, 1), 50304);
  cr_assert_eq(tps_padded_vocab(50257, 128, 8), 51200);
  cr_assert_eq(tps_padded_vocab(152064, 1, 8), 152064);
}

/* Static memory per rank (facts.md section 1; Megatron's
 * theoretical_memory_usage.py): trainable x (2 + 4 + 12/DP) with the
 * distributed optimizer, 18 bytes without. */
/* The 8-layer GPT of the memory tests on 4 cards (DP 4) under `o`. */
static tps_model dp4_gpt(void) {
  tps_model m = gpt(8, 1024, 8, 1024, 512);
  m.training.cards = 4;
  m.training.global_batch = 4;
  return m;
}

static void estimate_with(const tps_model *m, const tps_run_overrides *o, tps_run *run,
                          tps_estimate *e) {
  tps_hw hw = test_hw();
  tps_error err;
  cr_assert_eq(tps_run_resolve(m, o, run, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_estimate_run(m, run, &hw, e, &err), TPS_OK, "%s", err.msg);
}

/* Weights + gradients + optimizer state: the static memory of a rank. */
static double static_bytes(const tps_estimate *e) {
  return e->memory.weights + e->memory.grads + e->memory.optimizer;
}

/* A bf16-only switch in `o` is refused at `precision`. */
static void refused_without_bf16(const tps_model *m, tps_run_overrides o, tps_precision precision) {
  tps_run run;
  tps_error err;
  o.precision = precision;
  cr_assert_eq(tps_run_resolve(m, &o, &run, &err), TPS_EINVAL);
  cr_assert(strstr(err.msg, "needs bf16 training") != NULL, "%s", err.msg);
}

Test(memory, static_bytes_per_param) {
  tps_model m = dp4_gpt();
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.distributed_optimizer = 1;
  tps_run run;
  tps_estimate e;
  estimate_with(&m, &o, &run, &e);
  cr_assert_eq(run.dp, 4);
  double P = tps_model_params(&m);
  assert_rel(static_bytes(&e), P * (6.0 + 12.0 / 4), 1e-12, "distributed optimizer");
  o.distributed_optimizer = 0;
  estimate_with(&m, &o, &run, &e);
  assert_rel(static_bytes(&e), P * 18.0, 1e-12, "plain Adam");
}

/* Megatron-LM's --grad-reduce-in-bf16 (arguments.py: it turns off the fp32
 * accumulation that --bf16 turns on): the main gradients take 2 bytes a
 * parameter instead of 4, so the static rule becomes P (4 + 12/DP); the
 * reduce-scatter moves half the bytes. With fp16 it is refused. */
Test(memory, grad_reduce_in_bf16) {
  tps_model m = dp4_gpt();
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.distributed_optimizer = 1;
  tps_run run;
  tps_estimate fp32, bf16;
  estimate_with(&m, &o, &run, &fp32);
  o.grad_reduce_bf16 = 1;
  estimate_with(&m, &o, &run, &bf16);
  cr_assert(run.grad_reduce_bf16);
  double P = tps_model_params(&m);
  assert_rel(bf16.memory.grads, 2.0 * P, 1e-12, "bf16 gradients");
  assert_rel(static_bytes(&bf16), P * (4.0 + 12.0 / 4), 1e-12, "static rule with bf16 gradients");
  cr_assert(bf16.time.dp_comm < fp32.time.dp_comm, "reduce-scatter of half the bytes: %g vs %g",
            bf16.time.dp_comm, fp32.time.dp_comm);
  refused_without_bf16(&m, o, TPS_PRECISION_FP16);
}

/* MindSpeed's --reuse-fp32-param (docs/zh/features/reuse-fp32-param.md):
 * sizeof(bf16) x parameters saved, / DP with the distributed optimizer: the
 * static rule becomes P (6 + 10/DP), and 16 B a parameter without it. */
Test(memory, reuse_fp32_param) {
  tps_model m = dp4_gpt();
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.distributed_optimizer = 1;
  o.reuse_fp32_param = 1;
  tps_run run;
  tps_estimate e;
  estimate_with(&m, &o, &run, &e);
  double P = tps_model_params(&m);
  assert_rel(static_bytes(&e), P * (6.0 + 10.0 / 4), 1e-12, "distributed optimizer");
  o.distributed_optimizer = 0;
  estimate_with(&m, &o, &run, &e);
  assert_rel(static_bytes(&e), P * 16.0, 1e-12, "plain Adam");
  refused_without_bf16(&m, o, TPS_PRECISION_FP32);
}

/* --overlap-param-gather: the distributed optimizer's weight all-gather is
 * issued in the next step's first forward, so it is hidden where one
 * micro-batch's forward is longer; the reduce-scatter is not affected. */
Test(time, overlap_param_gather_hides_the_all_gather) {
  tps_model m = dp4_gpt();
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.distributed_optimizer = 1;
  tps_run run;
  tps_estimate plain, overlapped;
  estimate_with(&m, &o, &run, &plain);
  o.overlap_param_gather = 1;
  estimate_with(&m, &o, &run, &overlapped);
  cr_assert(run.overlap_param_gather);
  cr_assert(plain.time.dp_comm > 0.0);
  cr_assert(overlapped.time.dp_comm < plain.time.dp_comm, "%g vs %g", overlapped.time.dp_comm,
            plain.time.dp_comm);
  /* memory is not affected */
  cr_assert_eq(overlapped.memory.total, plain.memory.total);
}

/* Runtime memory: the profile's fixed reserve plus one communicator's buffers
 * per parallel group of more than one rank (docs/model.md, "Memory"; the
 * per-communicator figure of NVIDIA/nccl#964 is a profile value). */
Test(memory, communicator_buffers_per_group) {
  tps_model m = gpt(8, 1024, 8, 1024, 512);
  m.training.cards = 4;
  m.training.global_batch = 16;
  tps_hw hw = test_hw();
  hw.runtime_reserve_bytes = 3e8;
  hw.communicator_bytes = 6e8;
  const struct { int64_t tp, pp; int groups; } cases[] = {
      {1, 1, 1}, /* DP 4 */
      {2, 2, 2}, /* TP 2, PP 2, DP 1 */
      {4, 1, 1}, /* TP 4, DP 1 */
      {2, 1, 2}, /* TP 2, DP 2 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    m.training.tp = cases[i].tp;
    m.training.pp = cases[i].pp;
    tps_run_overrides o;
    tps_run_overrides_init(&o);
    tps_run run;
    tps_error err;
    cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_OK, "%s", err.msg);
    tps_estimate e;
    cr_assert_eq(tps_estimate_run(&m, &run, &hw, &e, &err), TPS_OK, "%s", err.msg);
    cr_assert_float_eq(e.memory.runtime_reserve, 3e8 + 6e8 * cases[i].groups, 1e-3,
                       "TP %ld PP %ld: %.0f", (long)cases[i].tp, (long)cases[i].pp,
                       e.memory.runtime_reserve);
  }
  /* A single card holds no communicator. */
  m.training.cards = 1;
  m.training.tp = m.training.pp = 1;
  m.training.global_batch = 4;
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  tps_run run;
  tps_error err;
  cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_OK, "%s", err.msg);
  tps_estimate e;
  cr_assert_eq(tps_estimate_run(&m, &run, &hw, &e, &err), TPS_OK, "%s", err.msg);
  cr_assert_float_eq(e.memory.runtime_reserve, 3e8, 1e-3);
}

/* TP communication overlap (docs/model.md section 4): each SP all-gather is
 * hidden behind the GEMM after it and each reduce-scatter behind the GEMM
 * before it, down to one of the TP chunks: exposed = max(comm - gemm,
 * comm / tp), forward and backward; collectives with no GEMM beside them
 * (the embedding's reduce-scatter) stay whole. Expected values: that rule
 * applied op by op to the same lowering. */
Test(time, tp_comm_overlap_hides_collectives_behind_their_gemms) {
  tps_model m = gpt(2, 2048, 16, 32000, 2048);
  m.training.global_batch = 4;
  tps_hw hw = test_hw();
  tps_run run = run_for(&m, 4, 1, true, TPS_RECOMPUTE_NONE, true);
  cr_assert(!run.tp_comm_overlap);
  tps_plan plan;
  tps_error err;
  cr_assert_eq(tps_plan_build(&m, &run, &plan, &err), TPS_OK, "%s", err.msg);
  tps_run over = run;
  over.tp_comm_overlap = true;
  int checked = 0;
  for (int i = 0; i < plan.n_templates; i++) {
    const tps_template *t = &plan.templates[i];
    double want_f = 0.0, want_b = 0.0, whole_f = 0.0;
    for (int k = 0; k < t->ops.n; k++) {
      const tps_op *op = &t->ops.ops[k];
      if (op->kind != TPS_OP_COLLECTIVE) continue;
      double f, b;
      tps_op_time(op, &hw, &run, &f, &b);
      whole_f += f;
      int g = op->fwd_coll == TPS_COLL_ALL_GATHER ? k + 1 : k - 1;
      if (g >= 0 && g < t->ops.n && t->ops.ops[g].kind == TPS_OP_GEMM) {
        double gf, gb;
        tps_op_time(&t->ops.ops[g], &hw, &run, &gf, &gb);
        f = fmax(f - gf, f / 4.0);
        b = fmax(b - gb, b / 4.0);
        checked++;
      }
      want_f += f;
      want_b += b;
    }
    eng_tmpl_sums plain, hidden;
    eng_tmpl_sums_compute(t, &plan.modules[t->module], &run, &hw, &plain);
    eng_tmpl_sums_compute(t, &plan.modules[t->module], &over, &hw, &hidden);
    assert_rel(plain.comm_fwd_s, whole_f, 1e-12, "no overlap");
    assert_rel(hidden.comm_fwd_s, want_f, 1e-12, "forward");
    assert_rel(hidden.comm_bwd_s, want_b, 1e-12, "backward");
    cr_assert(hidden.comm_fwd_s <= plain.comm_fwd_s);
    cr_assert_eq(hidden.fwd_s, plain.fwd_s, "the GEMMs keep their time");
  }
  cr_assert_geq(checked, 4, "a block has two all-gathers and two reduce-scatters");
  tps_plan_free(&plan);
  /* Megatron requires SP with it: refused without. */
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = o.cards = 4;
  o.tp_comm_overlap = 1;
  o.sp = 0;
  tps_run r;
  cr_assert_eq(tps_run_resolve(&m, &o, &r, &err), TPS_EINVAL);
  cr_assert(strstr(err.msg, "sequence parallelism") != NULL, "%s", err.msg);
  /* at TP 1 there is nothing to overlap: accepted, off */
  o.tp = o.cards = 1;
  cr_assert_eq(tps_run_resolve(&m, &o, &r, &err), TPS_OK, "%s", err.msg);
  cr_assert(!r.tp_comm_overlap);
}

/* Sliding-window attention (Mistral): with a fused causal kernel, query i
 * attends to min(i + 1, w) keys, so the score FLOPs are
 * 4 d heads (w s - w (w - 1) / 2) per sequence instead of 4 d heads s^2 / 2;
 * a window no shorter than the sequence changes nothing. */
Test(lowering, sliding_window_attention_flops) {
  tps_model m = gpt(1, 1024, 8, 1000, 8192);
  m.training.global_batch = 1;
  tps_run run = run_for(&m, 1, 1, false, TPS_RECOMPUTE_NONE, true);
  const double s = 8192, d = 128, heads = 8;
  const double windows[] = {0, 4096, 8192, 16384};
  for (int i = 0; i < 4; i++) {
    m.modules[0].sliding_window = (int64_t)windows[i];
    tps_plan plan;
    tps_error err;
    cr_assert_eq(tps_plan_build(&m, &run, &plan, &err), TPS_OK, "%s", err.msg);
    const tps_op *core = NULL;
    for (int t = 0; t < plan.n_templates && !core; t++)
      for (int k = 0; k < plan.templates[t].ops.n; k++)
        if (plan.templates[t].ops.ops[k].kind == TPS_OP_ATTENTION) core = &plan.templates[t].ops.ops[k];
    cr_assert_not_null(core);
    double w = windows[i];
    double want = (w > 0 && w < s) ? 4.0 * d * heads * (w * s - w * (w - 1) / 2.0)
                                   : 4.0 * d * heads * s * s / 2.0;
    assert_rel(core->fwd_flops, want, 1e-12, "window");
    tps_plan_free(&plan);
  }
}

/* 1F1B keeps pp - s micro-batches in flight on stage s. */
Test(memory, pipeline_in_flight) {
  tps_model m = gpt(8, 1024, 8, 1024, 512);
  m.training.cards = 4;
  m.training.pp = 4;
  m.training.global_batch = 16;
  tps_hw hw = test_hw();
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  tps_run run;
  tps_error err;
  cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_OK, "%s", err.msg);
  tps_estimate e;
  cr_assert_eq(tps_estimate_run(&m, &run, &hw, &e, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(e.n_stages, 4);
  for (int s = 0; s < 4; s++) cr_assert_eq(e.stages[s].in_flight, 4 - s);
  cr_assert_str_eq(e.stages[1].layers, "language_model[2..3]");
}

/* Bad parallel sizes are refused with the numbers named. */
Test(run, refuses_what_does_not_divide) {
  tps_model m = gpt(28, 3584, 28, 1000, 512);
  m.training.cards = 8;
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = 3;
  tps_run run;
  tps_error err;
  cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_EDIVIDE);
  cr_assert_str_eq(err.msg, "--tp 3 x --pp 1 = 3 does not divide 8 cards");
  o.tp = 2;
  o.pp = 3;
  o.cards = 6;
  cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_OK, "%s", err.msg);
  tps_plan plan;
  cr_assert_eq(tps_plan_build(&m, &run, &plan, &err), TPS_EDIVIDE);
  cr_assert_str_eq(err.msg, "--pp: 3 does not divide 28 layers of module 'language_model'");
}

/* Efficiency tables interpolate linearly in log10(x) and clamp. */
Test(tables, log_linear_interpolation) {
  tps_table t = {.n = 3, .x = {1e6, 1e9, 1e12}, .y = {0.1, 0.5, 0.8}};
  assert_rel(tps_table_eval(&t, 1e3), 0.1, 1e-12, "clamped low");
  assert_rel(tps_table_eval(&t, 1e15), 0.8, 1e-12, "clamped high");
  assert_rel(tps_table_eval(&t, 1e9), 0.5, 1e-12, "knot");
  assert_rel(tps_table_eval(&t, pow(10, 7.5)), 0.3, 1e-12, "midpoint in log10");
}

/* Interleaved 1F1B (Narayanan et al. 2021, Sec. 2.2.2; Korthikanti et al.
 * 2022, Sec. 5.1): bubble / v, p2p x v, activations x (1 + (p-1)/(p v)). */
Test(pipeline, interleaved_schedule) {
  tps_model m = gpt(16, 1024, 8, 1024, 512);
  m.training.cards = 4;
  m.training.pp = 4;
  m.training.global_batch = 16;
  tps_hw hw = test_hw();
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  tps_run plain, inter;
  tps_error err;
  cr_assert_eq(tps_run_resolve(&m, &o, &plain, &err), TPS_OK, "%s", err.msg);
  o.vpp = 2;
  cr_assert_eq(tps_run_resolve(&m, &o, &inter, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(inter.vpp, 2);
  assert_rel(eng_vpp_activation_scale(&inter), 1.0 + 3.0 / 8.0, 1e-15, "activation factor");
  assert_rel(eng_vpp_bubble_scale(&inter), 0.5, 1e-15, "bubble factor");
  cr_assert_eq(eng_vpp_activation_scale(&plain), 1.0);
  tps_estimate a, b;
  cr_assert_eq(tps_estimate_run(&m, &plain, &hw, &a, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_estimate_run(&m, &inter, &hw, &b, &err), TPS_OK, "%s", err.msg);
  cr_assert(b.time.pp_bubble < a.time.pp_bubble, "interleaving shrinks the bubble");
  cr_assert(b.memory.activations > a.memory.activations, "and keeps more activations");
  assert_rel(b.time.compute, a.time.compute, 1e-12, "same kernels");

  /* Megatron's rules, with the numbers named. */
  o.vpp = 3;
  cr_assert_eq(tps_run_resolve(&m, &o, &inter, &err), TPS_OK, "%s", err.msg);
  tps_plan plan;
  cr_assert_eq(tps_plan_build(&m, &inter, &plan, &err), TPS_EDIVIDE);
  cr_assert_str_eq(err.msg, "--pp 4 x --vpp 3 does not divide 16 layers of module 'language_model'");
  o.vpp = 2;
  o.global_batch = 6;
  o.pp = 2;
  o.cards = 2;
  cr_assert_eq(tps_run_resolve(&m, &o, &inter, &err), TPS_OK, "%s", err.msg);
  o.global_batch = 3;
  o.pp = 4;
  o.cards = 4;
  cr_assert_eq(tps_run_resolve(&m, &o, &inter, &err), TPS_EDIVIDE);
  cr_assert_str_eq(err.msg, "--vpp: the interleaved schedule needs micro-batches per step (3) to be a "
                            "multiple of --pp 4");
  o.pp = 1;
  o.global_batch = 4;
  cr_assert_eq(tps_run_resolve(&m, &o, &inter, &err), TPS_EINVAL);
  cr_assert_str_eq(err.msg, "--vpp 2 needs a pipeline: --pp is 1");
}
