/* Unit tests of the input layer (sim/io): units, fractions, did-you-mean,
 * enum names, model and hardware loading with their defaults, data lookup,
 * and every bad-input fixture under tests/inputs/bad with its exact error
 * text, line and column. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tpsim/ecosystem.h"
#include "tpsim/engine.h"
#include "tpsim/io.h"

#define INPUTS TPSIM_SOURCE_DIR "/tests/inputs"

/* ---- units ------------------------------------------------------------- */

static double unit_ok(const char *quantity, const char *text) {
  double v = -1.0;
  char why[256] = "";
  tps_status st = tps_unit_parse(quantity, text, &v, why, sizeof why);
  cr_assert_eq(st, TPS_OK, "%s '%s': %s", quantity, text, why);
  return v;
}

Test(units, exact_values) {
  /* Each value must be the correctly rounded SI value, bit for bit. */
  cr_expect_eq(unit_ok("bytes", "64 GiB"), 68719476736.0);
  cr_expect_eq(unit_ok("bytes", "64 GB"), 64e9);
  cr_expect_eq(unit_ok("bytes", "4.5 GiB"), 4.5 * 1073741824.0);
  cr_expect_eq(unit_ok("bytes", "5000 MB"), 5e9);
  cr_expect_eq(unit_ok("bytes", "1 KiB"), 1024.0);
  cr_expect_eq(unit_ok("bytes", "1 TiB"), 1099511627776.0);
  cr_expect_eq(unit_ok("bytes", "12 B"), 12.0);
  cr_expect_eq(unit_ok("bytes", "64GiB"), 68719476736.0);
  cr_expect_eq(unit_ok("bytes", "0 B"), 0.0);
  cr_expect_eq(unit_ok("bandwidth", "1.6 TB/s"), 1.6e12);
  cr_expect_eq(unit_ok("bandwidth", "200 Gb/s"), 25e9);
  cr_expect_eq(unit_ok("bandwidth", "400 Gbps"), 50e9);
  cr_expect_eq(unit_ok("bandwidth", "56 GB/s"), 56e9);
  cr_expect_eq(unit_ok("bandwidth", "2039 GB/s"), 2.039e12);
  cr_expect_eq(unit_ok("bandwidth", "100 Mb/s"), 12.5e6);
  cr_expect_eq(unit_ok("bandwidth", "1 GiB/s"), 1073741824.0);
  cr_expect_eq(unit_ok("flops", "376 TFLOPS"), 3.76e14);
  cr_expect_eq(unit_ok("flops", "989 TFLOP/s"), 9.89e14);
  cr_expect_eq(unit_ok("flops", "1.5 PFLOPS"), 1.5e15);
  cr_expect_eq(unit_ok("flops", "7 GFLOPS"), 7e9);
  cr_expect_eq(unit_ok("time", "8 us"), 8e-6);
  cr_expect_eq(unit_ok("time", "10 us"), 1e-5);
  cr_expect_eq(unit_ok("time", "100 ns"), 1e-7);
  cr_expect_eq(unit_ok("time", "2.5 ms"), 2.5e-3);
  cr_expect_eq(unit_ok("time", "3 s"), 3.0);
  cr_expect_eq(unit_ok("time", "1e3 us"), 1e-3);
  cr_expect_eq(unit_ok("time", ".5 s"), 0.5);
}

typedef struct unit_bad {
  const char *quantity, *text;
  tps_status status;
  const char *why;
} unit_bad;

Test(units, errors) {
  static const unit_bad cases[] = {
      {"bytes", "64", TPS_EUNIT,
       "missing unit in '64' (expected bytes: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"},
      {"bytes", "", TPS_ETYPE,
       "'' is not a number with a unit (expected bytes: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"},
      {"bytes", "lots", TPS_ETYPE,
       "'lots' is not a number with a unit (expected bytes: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"},
      {"bytes", "nan GB", TPS_ETYPE,
       "'nan GB' is not a number with a unit (expected bytes: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"},
      {"bytes", "inf GB", TPS_ETYPE,
       "'inf GB' is not a number with a unit (expected bytes: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"},
      {"bytes", "1,5 GB", TPS_ETYPE,
       "'1,5 GB' is not a number with a unit (expected bytes: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"},
      {"bytes", "-64 GiB", TPS_ERANGE, "negative value in '-64 GiB'"},
      {"bytes", "1e999 GB", TPS_ERANGE, "value out of range in '1e999 GB'"},
      {"bytes", "1e300 TiB", TPS_ERANGE, "value out of range in '1e300 TiB'"},
      {"bytes", "64 gib", TPS_EUNIT,
       "unknown unit 'gib' in '64 gib' (expected bytes: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"},
      {"bytes", "64 GiB extra", TPS_EUNIT,
       "unknown unit 'GiB extra' in '64 GiB extra' (expected bytes: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"},
      {"time", "5", TPS_EUNIT, "missing unit in '5' (expected time: ns, us, ms, s)"},
      {"time", "5 sec", TPS_EUNIT,
       "unknown unit 'sec' in '5 sec' (expected time: ns, us, ms, s)"},
      {"flops", "376 TFlops", TPS_EUNIT,
       "unknown unit 'TFlops' in '376 TFlops' (expected flops: FLOPS, GFLOPS, TFLOPS, PFLOPS, "
       "FLOP/s, GFLOP/s, TFLOP/s, PFLOP/s)"},
      {"length", "5 m", TPS_EINVAL, "unknown quantity 'length'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    double v = 42.0;
    char why[512];
    tps_status st = tps_unit_parse(cases[i].quantity, cases[i].text, &v, why, sizeof why);
    cr_expect_eq(st, cases[i].status, "'%s': status %s", cases[i].text, tps_status_name(st));
    cr_expect_str_eq(why, cases[i].why, "'%s'", cases[i].text);
    cr_expect_eq(v, 42.0, "'%s': output written on error", cases[i].text);
  }
}

Test(units, null_why_is_allowed) {
  double v;
  cr_expect_eq(tps_unit_parse("bytes", "64", &v, NULL, 0), TPS_EUNIT);
  cr_expect_eq(tps_unit_parse("bytes", NULL, &v, NULL, 0), TPS_ETYPE);
}

/* ---- did you mean ------------------------------------------------------ */

Test(did_you_mean, distances) {
  static const char *const keys[] = {"layers", "hidden", "heads", "kv_heads", "ffn"};
  cr_expect_str_eq(tps_did_you_mean("hiden", keys, 5), "hidden");
  cr_expect_str_eq(tps_did_you_mean("layres", keys, 5), "layers"); /* swap = 1 */
  cr_expect_str_eq(tps_did_you_mean("kvheads", keys, 5), "kv_heads");
  cr_expect_str_eq(tps_did_you_mean("fnn", keys, 5), "ffn");
  cr_expect_str_eq(tps_did_you_mean("heads", keys, 5), "heads");
  cr_expect_null(tps_did_you_mean("vocab", keys, 5));
  cr_expect_null(tps_did_you_mean("x", keys, 5));
  cr_expect_null(tps_did_you_mean("", keys, 5));
  cr_expect_null(tps_did_you_mean("hiden", keys, 0));
  cr_expect_null(tps_did_you_mean(NULL, keys, 5));
}

/* ---- names ------------------------------------------------------------- */

Test(names, enums) {
  cr_expect_str_eq(tps_precision_name(TPS_PRECISION_BF16), "bf16");
  cr_expect_str_eq(tps_precision_name(TPS_PRECISION_FP32), "fp32");
  cr_expect_str_eq(tps_precision_name((tps_precision)7), "unknown");
  cr_expect_str_eq(tps_recompute_name(TPS_RECOMPUTE_SELECTIVE), "selective");
  cr_expect_str_eq(tps_module_type_name(TPS_MODULE_PROJECTOR), "projector");
  cr_expect_eq(tps_precision_bytes(TPS_PRECISION_BF16), 2);
  cr_expect_eq(tps_precision_bytes(TPS_PRECISION_FP16), 2);
  cr_expect_eq(tps_precision_bytes(TPS_PRECISION_FP32), 4);
}

/* ---- models ------------------------------------------------------------ */

static tps_model model; /* large: keep off the stack */
static tps_hw hw;

static void load_model_ok(const char *path) {
  tps_error err;
  tps_status st = tps_model_load(path, &model, &err);
  cr_assert_eq(st, TPS_OK, "%s:%d:%d: %s (%s)", err.file, err.line, err.col, err.msg,
               err.hint);
}

Test(model, defaults_of_a_minimal_decoder) {
  load_model_ok(INPUTS "/models/tiny-gpt.yaml");
  cr_expect_str_eq(model.name, "tiny-gpt");
  cr_expect_str_eq(model.path, INPUTS "/models/tiny-gpt.yaml");
  cr_expect_str_eq(model.default_hw, "");
  cr_assert_eq(model.n_modules, 1);
  const tps_module *m = &model.modules[0];
  cr_expect_eq(m->type, TPS_MODULE_DECODER);
  cr_expect_eq(m->kv_heads, 4);  /* = heads */
  cr_expect_eq(m->head_dim, 16); /* = hidden / heads */
  cr_expect_eq(m->qkv_bias, false);
  cr_expect_eq(m->bias, false);
  cr_expect_eq(m->dropout, false);
  cr_expect_eq(m->frozen, false);
  cr_expect_eq(m->tied_embeddings, false);
  cr_expect_eq(m->position, TPS_POSITION_LEARNED);
  cr_expect_eq(m->max_position, 128);
  cr_expect_eq(m->mlp, TPS_MLP_GELU);
  cr_expect_eq(m->norm, TPS_NORM_LAYERNORM);
  const tps_training *t = &model.training;
  cr_expect_eq(t->seq_len, 2048);
  cr_expect_eq(t->micro_batch, 1);
  cr_expect_eq(t->global_batch, 0); /* derived at run time */
  cr_expect_eq(t->cards, 8);
  cr_expect_eq(t->tp, 1);
  cr_expect_eq(t->pp, 1);
  cr_expect_eq(t->dp, 0); /* derived at run time */
  cr_expect_eq(t->precision, TPS_PRECISION_BF16);
  cr_expect_eq(t->recompute, TPS_RECOMPUTE_NONE);
  cr_expect_eq(t->distributed_optimizer, false);
  cr_expect_eq(t->sp, false);
  cr_expect_eq(t->flash_attention, true);
  cr_expect_eq(t->overlap_grad_reduce, false);
  cr_expect_eq(t->vocab_divisor, 128);
  cr_expect_eq(t->n_pipeline_stages, 0);
}

Test(model, vision_language_model) {
  load_model_ok(INPUTS "/models/vlm-7b.yaml");
  cr_expect_str_eq(model.name, "vlm-7b");
  cr_expect_str_eq(model.default_hw, "test-npu");
  cr_expect(strncmp(model.source, "HF Qwen/", 8) == 0);
  cr_assert_eq(model.n_modules, 3);
  const tps_module *vit = &model.modules[0], *proj = &model.modules[1],
                   *lm = &model.modules[2];
  cr_expect_str_eq(vit->name, "vision_encoder");
  cr_expect_eq(vit->type, TPS_MODULE_VIT);
  cr_expect_eq(vit->layers, 32);
  cr_expect_eq(vit->head_dim, 80);
  cr_expect_eq(vit->kv_heads, 16);
  cr_expect_eq(vit->qkv_bias, true); /* = bias */
  cr_expect_eq(vit->frozen, true);
  cr_expect_eq(vit->patch, 14);
  cr_expect_eq(vit->temporal_patch, 2);
  cr_expect_eq(vit->in_channels, 3);
  cr_expect_eq(vit->tokens, 1344);
  cr_expect_eq(vit->window, 64);
  cr_assert_eq(vit->n_full_attention_blocks, 4);
  cr_expect_eq(vit->full_attention_blocks[0], 7);
  cr_expect_eq(vit->full_attention_blocks[3], 31);
  cr_expect_eq(proj->type, TPS_MODULE_PROJECTOR);
  cr_expect_eq(proj->layers, 1);
  cr_expect_eq(proj->heads, 0);
  cr_expect_eq(proj->spatial_merge, 2);
  cr_expect_eq(proj->output, 3584);
  cr_expect_eq(lm->type, TPS_MODULE_DECODER);
  cr_expect_eq(lm->heads, 28);
  cr_expect_eq(lm->kv_heads, 4);
  cr_expect_eq(lm->head_dim, 128);
  cr_expect_eq(lm->qkv_bias, true);
  cr_expect_eq(lm->bias, false);
  cr_expect_eq(lm->vocab, 152064);
  cr_expect_eq(lm->position, TPS_POSITION_ROPE);
  cr_expect_eq(lm->mlp, TPS_MLP_SWIGLU);
  const tps_training *t = &model.training;
  cr_expect_eq(t->seq_len, 1024);
  cr_expect_eq(t->global_batch, 192);
  cr_expect_eq(t->dp, 4);
  cr_expect_eq(t->pp, 2); /* from pipeline_layers */
  cr_expect_eq(t->distributed_optimizer, true);
  cr_expect_eq(t->vocab_divisor, 1);
  cr_assert_eq(t->n_pipeline_stages, 2);
  cr_expect_eq(t->pipeline_layers[0][0], 32);
  cr_expect_eq(t->pipeline_layers[0][1], 0);
  cr_expect_eq(t->pipeline_layers[1][0], 1);
  cr_expect_eq(t->pipeline_layers[2][0], 12);
  cr_expect_eq(t->pipeline_layers[2][1], 16);
}

Test(model, error_leaves_no_half_model) {
  tps_error err;
  model.n_modules = 5;
  cr_assert_neq(tps_model_load(INPUTS "/bad/m_pipeline_sum.yaml", &model, &err), TPS_OK);
  cr_expect_eq(model.n_modules, 0);
  cr_expect_str_eq(model.name, "");
  cr_expect_str_eq(model.path, INPUTS "/bad/m_pipeline_sum.yaml");
  cr_expect_str_eq(err.file, INPUTS "/bad/m_pipeline_sum.yaml");
}

/* ---- hardware ---------------------------------------------------------- */

static void load_hw_ok(const char *path) {
  tps_error err;
  tps_status st = tps_hw_load(path, &hw, &err);
  cr_assert_eq(st, TPS_OK, "%s:%d:%d: %s (%s)", err.file, err.line, err.col, err.msg,
               err.hint);
}

Test(hw, tables_and_full_mesh) {
  load_hw_ok(INPUTS "/hw_profiles/test-npu.yaml");
  cr_expect_str_eq(hw.name, "test-npu");
  cr_expect_str_eq(hw.device_name, "Test NPU");
  cr_expect_str_eq(hw.path, INPUTS "/hw_profiles/test-npu.yaml");
  cr_expect_eq(hw.memory_bytes, 64e9);
  cr_expect_eq(hw.memory_bandwidth_Bps, 1.6e12);
  cr_expect_eq(hw.peak_flops[TPS_PRECISION_BF16], 3.76e14);
  cr_expect_eq(hw.peak_flops[TPS_PRECISION_FP16], 3.76e14);
  cr_expect_eq(hw.peak_flops[TPS_PRECISION_FP32], 9.4e13);
  cr_expect_eq(hw.runtime_reserve_bytes, 4.5 * 1073741824.0);
  cr_assert_eq(hw.gemm_efficiency.n, 3);
  cr_expect_eq(hw.gemm_efficiency.x[0], 1e6);
  cr_expect_eq(hw.gemm_efficiency.x[1], 1e9);
  cr_expect_eq(hw.gemm_efficiency.y[1], 0.55);
  cr_expect_eq(hw.gemm_efficiency.x[2], 1e12);
  cr_assert_eq(hw.attention_efficiency.n, 2);
  cr_expect_eq(hw.attention_efficiency.y[1], 0.6); /* 60% */
  cr_expect_eq(hw.memory_efficiency, 0.7);
  cr_expect_eq(hw.kernel_overhead_s, 1e-5);
  cr_expect_str_eq(hw.stack.name, ""); /* no stack: key: no framework costs */
  cr_expect_eq(hw.devices_per_node, 8);
  cr_expect_eq(hw.intra.bandwidth_Bps, 56e9);
  cr_expect_eq(hw.intra.latency_s, 1e-5);
  cr_expect_eq(hw.intra.topology, TPS_TOPOLOGY_FULL_MESH);
  cr_assert_eq(hw.intra.efficiency.n, 3);
  cr_expect_eq(hw.intra.efficiency.x[0], 1024.0);
  cr_expect_eq(hw.intra.efficiency.x[2], 64.0 * 1048576.0);
  cr_expect_eq(hw.intra.efficiency.y[2], 0.8);
  cr_expect_eq(hw.inter.bandwidth_Bps, 25e9);
  cr_expect_eq(hw.inter.latency_s, 2e-5);
  cr_expect_eq(hw.inter.topology, TPS_TOPOLOGY_SWITCH);
  cr_expect_eq(hw.inter.efficiency.n, 1);
}

Test(hw, scalars_and_switch) {
  load_hw_ok(INPUTS "/hw_profiles/test-gpu.yaml");
  cr_expect_eq(hw.memory_bytes, 80.0 * 1073741824.0);
  cr_expect_eq(hw.memory_bandwidth_Bps, 2.039e12);
  cr_expect_eq(hw.peak_flops[TPS_PRECISION_BF16], 3.12e14);
  cr_expect_eq(hw.peak_flops[TPS_PRECISION_FP32], 0.0); /* not given */
  cr_expect_eq(hw.runtime_reserve_bytes, 5e9);
  cr_expect_eq(hw.gemm_efficiency.n, 1);
  cr_expect_eq(hw.gemm_efficiency.x[0], 1.0);
  cr_expect_eq(hw.gemm_efficiency.y[0], 0.75);
  cr_expect_eq(hw.attention_efficiency.y[0], 0.5); /* 50% */
  cr_expect_eq(hw.kernel_overhead_s, 5e-6);
  cr_expect_eq(hw.intra.topology, TPS_TOPOLOGY_SWITCH);
  cr_expect_eq(hw.intra.bandwidth_Bps, 300e9);
  cr_expect_eq(hw.inter.bandwidth_Bps, 25e9); /* 200 Gb/s */
  cr_expect_eq(hw.inter.efficiency.y[0], 0.9);
}

/* ---- bad inputs: exact message, line and column ------------------------- */

typedef struct bad_case {
  char file[48];  /* under tests/inputs/bad */
  char kind;      /* 'm' model, 'h' hardware profile, 's' software stack */
  tps_status status;
  int line, col;
  char msg[256];
  char hint[160]; /* "" = no hint */
} bad_case;

static const bad_case bad_cases[] = {
    {"h_activation_overhead.yaml", 'h', TPS_EINVAL, 15, 24,
     "'activation_overhead' is not a hardware key: what the caching allocator holds beyond live "
     "tensors is the software stack's 'allocator_overhead'",
     "remove it, and set allocator_overhead in hw_profiles/stacks/STACK.yaml"},
    {"h_bandwidth_tiny.yaml", 'h', TPS_ERANGE, 8, 21,
     "'memory_bandwidth' must be between 1 MB/s and 1 PB/s, got '1e-300 TB/s'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
    {"h_bandwidth_unit.yaml", 'h', TPS_EUNIT, 7, 21,
     "'memory_bandwidth': unknown unit 'GB' in '2039 GB' (expected bandwidth: B/s, KB/s, MB/s, GB/s, TB/s, KiB/s, MiB/s, GiB/s, Mb/s, Gb/s, Tb/s, Gbps)",
     "did you mean 'GB/s'?"},
    {"h_bare_number.yaml", 'h', TPS_EUNIT, 6, 11,
     "'memory': missing unit in '64' (expected bytes: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
     ""},
    {"h_devices.yaml", 'h', TPS_ETYPE, 16, 12,
     "'devices' must be an integer between 1 and 1000000, got 'eight'",
     ""},
    {"h_efficiency_tiny.yaml", 'h', TPS_ERANGE, 19, 22,
     "'memory_efficiency' must be between 0.0001 (0.01%) and 1 (100%), got '1e-300'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
    {"h_flops_unit.yaml", 'h', TPS_EUNIT, 9, 11,
     "'bf16': unknown unit 'TFLOP' in '312 TFLOP' (expected flops: FLOPS, GFLOPS, TFLOPS, PFLOPS, FLOP/s, GFLOP/s, TFLOP/s, PFLOP/s)",
     "did you mean 'TFLOP/s'?"},
    {"h_fraction.yaml", 'h', TPS_ERANGE, 13, 22,
     "'memory_efficiency' must be a fraction in (0, 1] or a percentage, got '1.5'",
     ""},
    {"h_fraction_zero.yaml", 'h', TPS_ERANGE, 13, 22,
     "'memory_efficiency' must be a fraction in (0, 1] or a percentage, got '0%'",
     ""},
    {"h_huge.yaml", 'h', TPS_ERANGE, 6, 11,
     "'memory': value out of range in '1e400 GiB'",
     ""},
    {"h_inter_topology.yaml", 'h', TPS_EUNKNOWNKEY, 25, 3,
     "unknown key 'topology' in 'inter_link'",
     "known keys: bandwidth, latency, efficiency, source"},
    {"h_latency_huge.yaml", 'h', TPS_ERANGE, 30, 12,
     "'latency' of 'inter_link' must be between 0 s and 3600 s (1 hour), got '1e307 s'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
    {"h_link_bandwidth_tiny.yaml", 'h', TPS_ERANGE, 24, 16,
     "'bandwidth' of 'intra_link' must be between 1 MB/s and 1 PB/s, got '900 KB/s'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
    {"h_link_efficiency_tiny.yaml", 'h', TPS_ERANGE, 27, 26,
     "y of 'efficiency' of 'intra_link' must be between 0.0001 (0.01%) and 1 (100%), got '1e-300'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
    {"h_link_typo.yaml", 'h', TPS_EUNKNOWNKEY, 18, 5,
     "unknown key 'bandwith' in 'intra_link'",
     "did you mean 'bandwidth'?"},
    {"h_memory_huge.yaml", 'h', TPS_ERANGE, 7, 11,
     "'memory' must be between 1 MB and 1 PB, got '2000 TB'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
    {"h_missing_inter.yaml", 'h', TPS_EMISSINGKEY, 2, 1,
     "missing key 'inter_link' in the hardware profile",
     "'inter_link': per-device link between nodes"},
    {"h_negative.yaml", 'h', TPS_ERANGE, 6, 11,
     "'memory': negative value in '-64 GiB'",
     ""},
    {"h_node_scalar.yaml", 'h', TPS_ETYPE, 15, 7,
     "'node' must be a mapping, got '8'",
     ""},
    {"h_overhead_huge.yaml", 'h', TPS_ERANGE, 20, 20,
     "'kernel_overhead' must be between 0 s and 3600 s (1 hour), got '1e307 s'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
    {"h_peak_empty.yaml", 'h', TPS_EMISSINGKEY, 9, 5,
     "'peak_flops' must give at least one of bf16, fp16, fp32",
     "for example 'bf16: 376 TFLOPS'"},
    {"h_peak_huge.yaml", 'h', TPS_ERANGE, 13, 11,
     "'fp32' must be between 1 MFLOPS and 1 EFLOPS, got '1e10 PFLOPS'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
    {"h_peak_unknown.yaml", 'h', TPS_EUNKNOWNKEY, 9, 5,
     "unknown key 'bf8' in 'peak_flops'",
     "known keys: bf16, fp16, fp32, fp8, source"},
    {"h_reserve.yaml", 'h', TPS_ERANGE, 10, 20,
     "'runtime_reserve' must be less than 'memory', got '90 GiB'",
     ""},
    {"h_communicator_huge.yaml", 'h', TPS_ERANGE, 11, 24,
     "'runtime_reserve' + 3 x 'communicator_memory' (TP, PP and DP groups) must be less than "
     "'memory', got '30 GiB'",
     ""},
    {"h_communicator_negative.yaml", 'h', TPS_ERANGE, 11, 24,
     "'communicator_memory': negative value in '-1 GiB'",
     ""},
    {"h_table_empty.yaml", 'h', TPS_ETYPE, 11, 20,
     "'gemm_efficiency' must be a fraction or a list of [x, y] pairs, got an empty list",
     ""},
    {"h_table_long.yaml", 'h', TPS_ERANGE, 11, 20,
     "'gemm_efficiency' has 40 points; at most 32 are allowed",
     ""},
    {"h_table_order.yaml", 'h', TPS_ERANGE, 15, 37,
     "x values of 'gemm_efficiency' must increase, got '1.0e6' after '1.0e9'",
     ""},
    {"h_table_pair.yaml", 'h', TPS_ETYPE, 15, 36,
     "each entry of 'gemm_efficiency' must be an [x, y] pair, got a list",
     ""},
    {"h_table_x_unit.yaml", 'h', TPS_EUNIT, 27, 48,
     "x of 'efficiency': missing unit in '64' (expected bytes: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
     ""},
    {"h_table_x_zero.yaml", 'h', TPS_ETYPE, 11, 22,
     "x of 'gemm_efficiency' must be a positive number, got '0'",
     ""},
    {"h_table_y.yaml", 'h', TPS_ERANGE, 15, 44,
     "y of 'gemm_efficiency' must be a fraction in (0, 1] or a percentage, got '1.2'",
     ""},
    {"h_table_y_tiny.yaml", 'h', TPS_ERANGE, 17, 13,
     "y of 'attention_efficiency' must be between 0.0001 (0.01%) and 1 (100%), got '0.001%'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
    {"h_time_unit.yaml", 'h', TPS_EUNIT, 14, 20,
     "'kernel_overhead': unknown unit '\u00b5s' in '5 \u00b5s' (expected time: ns, us, ms, s)",
     "write 'us' for microseconds"},
    {"h_top_typo.yaml", 'h', TPS_EUNKNOWNKEY, 2, 1,
     "unknown key 'nmae' in the hardware profile",
     "did you mean 'name'?"},
    {"h_topology.yaml", 'h', TPS_ETYPE, 20, 15,
     "'topology' must be one of switch, full_mesh, got 'ring'",
     ""},
    {"h_unit_case.yaml", 'h', TPS_EUNIT, 6, 11,
     "'memory': unknown unit 'Gib' in '64 Gib' (expected bytes: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
     "units are case-sensitive; did you mean 'GiB'?"},
    {"h_wrong_unit.yaml", 'h', TPS_EUNIT, 6, 11,
     "'memory': unknown unit 'GB/s' in '64 GB/s' (expected bytes: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
     "'GB/s' is a unit of bandwidth, not of bytes"},
    {"h_zero.yaml", 'h', TPS_ERANGE, 6, 11,
     "'memory' must be greater than 0, got '0 GiB'",
     ""},
    {"m_alias.yaml", 'm', TPS_ESYNTAX, 1, 7,
     "YAML anchors are not supported ('&n')",
     "write the value out in full"},
    {"m_alias_merge.yaml", 'm', TPS_ESYNTAX, 5, 9,
     "YAML aliases are not supported ('*base')",
     "write the value out in full"},
    {"m_binary_nul.yaml", 'm', TPS_ESYNTAX, 2, 10,
     "file is not text: it holds a NUL byte",
     "is this a binary file? expected UTF-8 YAML text"},
    {"m_bool.yaml", 'm', TPS_ETYPE, 14, 13,
     "'frozen' must be true or false, got 'yes'",
     "write true or false (lowercase)"},
    {"m_comment_only.yaml", 'm', TPS_ESYNTAX, 1, 1,
     "file is empty",
     "a model file is a mapping with the keys name, source and modules"},
    {"m_deep.yaml", 'm', TPS_ESYNTAX, 1, 22,
     "nesting deeper than 16 levels",
     ""},
    {"m_duplicate_key.yaml", 'm', TPS_ESYNTAX, 14, 5,
     "duplicate key 'hidden' in module 'language_model'",
     "first given at line 7"},
    {"m_duplicate_module.yaml", 'm', TPS_EINVAL, 14, 11,
     "duplicate module name 'language_model'",
     "first used at line 4"},
    {"m_empty.yaml", 'm', TPS_ESYNTAX, 1, 1,
     "file is empty",
     "a model file is a mapping with the keys name, source and modules"},
    {"m_enum_typo.yaml", 'm', TPS_ETYPE, 10, 10,
     "'mlp' must be one of gelu, swiglu, got 'swigl'",
     "did you mean 'swiglu'?"},
    {"m_exponent_count.yaml", 'm', TPS_ETYPE, 6, 13,
     "'layers' must be an integer >= 1, got '1e3'",
     ""},
    {"m_head_dim.yaml", 'm', TPS_ERANGE, 8, 12,
     "'heads' (6) does not divide 'hidden' (64) in module 'language_model'",
     "give 'head_dim' explicitly"},
    {"m_huge.yaml", 'm', TPS_ERANGE, 12, 12,
     "'vocab' must be at most 1000000000, got '99999999999999999999'",
     ""},
    {"m_invalid_utf8.yaml", 'm', TPS_ESYNTAX, 2, 9,
     "invalid YAML: invalid leading UTF-8 octet (byte 0xff)",
     "is this a binary file? expected UTF-8 YAML text"},
    {"m_kv_heads.yaml", 'm', TPS_ERANGE, 9, 15,
     "'kv_heads' (3) must divide 'heads' (4)",
     ""},
    {"m_learned_no_max.yaml", 'm', TPS_EMISSINGKEY, 4, 5,
     "missing key 'max_position' in module 'language_model'",
     "'max_position' is required when 'position' is learned"},
    {"m_mb_overhead_huge.yaml", 'm', TPS_ERANGE, 15, 25,
     "'micro_batch_overhead' must be between 0 s and 3600 s (1 hour), got '1e307 s'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
    {"m_missing_key.yaml", 'm', TPS_EMISSINGKEY, 4, 5,
     "missing key 'hidden' in module 'language_model'",
     "'hidden': model width h"},
    {"m_module_no_type.yaml", 'm', TPS_EMISSINGKEY, 4, 5,
     "missing key 'type' in module 'lm'",
     "'type': decoder, vit or projector"},
    {"m_module_scalar.yaml", 'm', TPS_ETYPE, 4, 5,
     "module 1 must be a mapping, got 'decoder'",
     ""},
    {"m_module_type.yaml", 'm', TPS_ETYPE, 5, 11,
     "'type' must be one of decoder, vit, projector, got 'encoder'",
     "did you mean 'decoder'?"},
    {"m_name_long.yaml", 'm', TPS_ERANGE, 1, 7,
     "'name' is longer than 63 characters",
     ""},
    {"m_name_null.yaml", 'm', TPS_ETYPE, 1, 7,
     "'name' must be a string, got '~'",
     ""},
    {"m_negative.yaml", 'm', TPS_ERANGE, 6, 13,
     "'layers' must be an integer >= 1, got '-3'",
     ""},
    {"m_no_modules.yaml", 'm', TPS_ERANGE, 3, 10,
     "'modules' must hold at least one module",
     ""},
    {"m_non_integer.yaml", 'm', TPS_ETYPE, 7, 13,
     "'hidden' must be an integer >= 1, got '12.5'",
     ""},
    {"m_not_applicable.yaml", 'm', TPS_EUNKNOWNKEY, 14, 5,
     "key 'patch' does not apply to decoder module 'language_model'",
     ""},
    {"m_nul_escape.yaml", 'm', TPS_ESYNTAX, 2, 9,
     "text holds a control character (0x00)",
     ""},
    {"m_over_max.yaml", 'm', TPS_ERANGE, 9, 10,
     "'ffn' must be at most 1000000000, got '2000000000'",
     ""},
    {"m_pipeline_length.yaml", 'm', TPS_ERANGE, 24, 13,
     "'pipeline_layers' of 'merger' has 3 stages, but 'language_model' has 2",
     "every list has one entry per pipeline stage"},
    {"m_pipeline_missing.yaml", 'm', TPS_EMISSINGKEY, 23, 5,
     "missing key 'merger' in 'pipeline_layers'",
     "list the layers of every module on every stage"},
    {"m_pipeline_negative.yaml", 'm', TPS_ERANGE, 16, 25,
     "each entry of 'pipeline_layers' of 'language_model' must be an integer >= 0, got '-1'",
     ""},
    {"m_pipeline_pp.yaml", 'm', TPS_ERANGE, 15, 7,
     "'pp' is 4, but the lists of 'pipeline_layers' have 2 stages",
     ""},
    {"m_pipeline_scalar.yaml", 'm', TPS_ETYPE, 16, 21,
     "'pipeline_layers' of 'language_model' must be a list of layer counts per stage, got '2'",
     ""},
    {"m_pipeline_sum.yaml", 'm', TPS_ERANGE, 16, 21,
     "'pipeline_layers' of 'language_model' sums to 3, but the module has 2 layers",
     ""},
    {"m_pipeline_unknown.yaml", 'm', TPS_EUNKNOWNKEY, 16, 5,
     "unknown module 'language_modle' in 'pipeline_layers'",
     "did you mean 'language_model'?"},
    {"m_pp_range.yaml", 'm', TPS_ERANGE, 15, 7,
     "'pp' must be at most 128, got '200'",
     ""},
    {"m_projector_layers.yaml", 'm', TPS_ERANGE, 6, 13,
     "'layers' of a projector must be 1, got 2",
     ""},
    {"m_projector_merge_overflow.yaml", 'm', TPS_ERANGE, 22, 20,
     "hidden x spatial_merge^2 = 64 x 1000000000^2 does not fit a 64-bit count in module 'projector'",
     "'spatial_merge' is the tokens merged per side (Qwen2.5-VL: 2)"},
    {"m_root_list.yaml", 'm', TPS_ETYPE, 1, 1,
     "a model file must be a mapping of keys, got a list",
     ""},
    {"m_source_type.yaml", 'm', TPS_ETYPE, 2, 9,
     "'source' must be a string, got a mapping",
     ""},
    {"m_syntax.yaml", 'm', TPS_ESYNTAX, 12, 4,
     "invalid YAML: did not find expected '-' indicator",
     "while parsing a block collection at line 4, column 3"},
    {"m_syntax_flow.yaml", 'm', TPS_ESYNTAX, 12, 10,
     "invalid YAML: did not find expected ',' or ']'",
     "while parsing a flow sequence at line 11, column 11"},
    {"m_tab.yaml", 'm', TPS_ESYNTAX, 4, 1,
     "invalid YAML: found character that cannot start any token",
     "while scanning for the next token at line 4, column 1"},
    {"m_top_missing_name.yaml", 'm', TPS_EMISSINGKEY, 1, 1,
     "missing key 'name' in the model file",
     "'name': model name"},
    {"m_top_unknown.yaml", 'm', TPS_EUNKNOWNKEY, 3, 1,
     "unknown key 'hw_profile' in the model file",
     "known keys: name, source, hw, modules, training"},
    {"m_training_enum.yaml", 'm', TPS_ETYPE, 15, 14,
     "'recompute' must be one of none, selective, full, got 'partial'",
     ""},
    {"m_training_scalar.yaml", 'm', TPS_ETYPE, 14, 11,
     "'training' must be a mapping, got '5'",
     ""},
    {"m_training_unknown.yaml", 'm', TPS_EUNKNOWNKEY, 15, 3,
     "unknown key 'seq_length' in 'training'",
     "did you mean 'seq_len'?"},
    {"m_two_documents.yaml", 'm', TPS_ESYNTAX, 14, 1,
     "file holds more than one YAML document",
     "remove the '---' line or split the file"},
    {"m_unknown_enum.yaml", 'm', TPS_ETYPE, 10, 10,
     "'mlp' must be one of gelu, swiglu, got 'relu'",
     "did you mean 'gelu'?"},
    {"m_unknown_key.yaml", 'm', TPS_EUNKNOWNKEY, 7, 5,
     "unknown key 'hiden' in module 'language_model'",
     "did you mean 'hidden'?"},
    {"m_vit_blocks.yaml", 'm', TPS_ERANGE, 15, 32,
     "'full_attention_blocks' entry 4 is not a block of 4-layer module 'vit' (0..3)",
     ""},
    {"m_vit_blocks_order.yaml", 'm', TPS_ERANGE, 15, 32,
     "'full_attention_blocks' must increase, got 1 after 2",
     ""},
    {"m_vit_patch_overflow.yaml", 'm', TPS_ERANGE, 15, 21,
     "in_channels x temporal_patch x patch^2 = 3 x 1000000000 x 1000000000^2 does not fit a 64-bit count in module 'vit'",
     "'patch' is the side of a patch in pixels (Qwen2.5-VL: 14), 'temporal_patch' the frames per patch (2)"},
    {"m_window_negative.yaml", 'm', TPS_ERANGE, 24, 13,
     "'window' must be an integer >= 0, got '-1'",
     ""},
    {"m_wrong_type.yaml", 'm', TPS_ETYPE, 6, 13,
     "'layers' must be an integer >= 1, got a list",
     ""},
    {"m_zero.yaml", 'm', TPS_ERANGE, 8, 12,
     "'heads' must be an integer >= 1, got '0'",
     ""},
    {"s_dispatch_huge.yaml", 's', TPS_ERANGE, 4, 16,
     "'host_dispatch' must be between 0 s and 3600 s (1 hour), got '1e307 s'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
    {"s_per_micro_batch_huge.yaml", 's', TPS_ERANGE, 5, 18,
     "'per_micro_batch' must be between 0 s and 3600 s (1 hour), got '7200 s'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
    {"s_per_step_huge.yaml", 's', TPS_ERANGE, 6, 11,
     "'per_step' must be between 0 s and 3600 s (1 hour), got '3601 s'",
     "docs/schema.md, \"Ranges\", gives the range of every quantity"},
};

ParameterizedTestParameters(bad, fixtures) {
  return cr_make_param_array(bad_case, (void *)bad_cases,
                             sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(const bad_case *c, bad, fixtures) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", INPUTS "/bad", c->file);
  tps_error err;
  static tps_stack stack;
  tps_status st = c->kind == 'm'   ? tps_model_load(path, &model, &err)
                  : c->kind == 's' ? tps_stack_load(path, &stack, &err)
                                   : tps_hw_load(path, &hw, &err);
  cr_expect_eq(st, c->status, "%s: status %s, expected %s", c->file,
               tps_status_name(st), tps_status_name(c->status));
  cr_expect_eq(err.status, st, "%s: err.status", c->file);
  cr_expect_str_eq(err.file, path, "%s: file", c->file);
  cr_expect_eq(err.line, c->line, "%s: line", c->file);
  cr_expect_eq(err.col, c->col, "%s: column", c->file);
  cr_expect_str_eq(err.msg, c->msg, "%s: message", c->file);
  cr_expect_str_eq(err.hint, c->hint, "%s: hint", c->file);
}

Test(bad, missing_file) {
  tps_error err;
  const char *path = INPUTS "/bad/no-such-file.yaml";
  cr_expect_eq(tps_model_load(path, &model, &err), TPS_EIO);
  cr_expect_str_eq(err.file, path);
  cr_expect_eq(err.line, 0);
  cr_expect_eq(err.col, 0);
  cr_expect_str_eq(err.msg, "cannot open file: no such file or directory");
  cr_expect_eq(tps_hw_load(path, &hw, &err), TPS_EIO);
  cr_expect_str_eq(err.msg, "cannot open file: no such file or directory");
}

Test(bad, directory) {
  tps_error err;
  cr_expect_eq(tps_model_load(INPUTS "/bad", &model, &err), TPS_EIO);
  cr_expect_str_eq(err.file, INPUTS "/bad");
  cr_expect_eq(err.line, 0);
  cr_expect_str_eq(err.msg, "is a directory, not a file");
}

/* Non-regular files and unreachable paths (hostile-input issue): a FIFO
 * used to block the reader forever; a symlink loop and a path under a file
 * said "no such file or directory". */
static char special_dir[] = "/tmp/tpsim-io-special-XXXXXX";
static char fifo_yaml[128], fifo_json[128], loop_yaml[128];

static void make_special(void) {
  cr_assert_not_null(mkdtemp(special_dir));
  snprintf(fifo_yaml, sizeof fifo_yaml, "%s/fifo.yaml", special_dir);
  snprintf(fifo_json, sizeof fifo_json, "%s/config.json", special_dir);
  snprintf(loop_yaml, sizeof loop_yaml, "%s/loop.yaml", special_dir);
  cr_assert_eq(mkfifo(fifo_yaml, 0600), 0);
  cr_assert_eq(mkfifo(fifo_json, 0600), 0);
  cr_assert_eq(symlink("loop.yaml", loop_yaml), 0);
}

static void remove_special(void) {
  unlink(fifo_yaml);
  unlink(fifo_json);
  unlink(loop_yaml);
  rmdir(special_dir);
}

static void expect_io_error(tps_status st, const tps_error *err, const char *path,
                            const char *msg) {
  cr_expect_eq(st, TPS_EIO, "%s: %s", path, tps_status_name(st));
  cr_expect_str_eq(err->file, path);
  cr_expect_eq(err->line, 0);
  cr_expect_str_eq(err->msg, msg);
}

Test(bad, fifo_is_refused_not_waited_on, .init = make_special, .fini = remove_special,
     .timeout = 10) {
  static tps_stack stack;
  tps_error err;
  const char *msg = "is a named pipe (FIFO), not a regular file";
  expect_io_error(tps_model_load(fifo_yaml, &model, &err), &err, fifo_yaml, msg);
  cr_expect_str_eq(err.hint, "tp-sim reads regular files only; save the input to a file first");
  expect_io_error(tps_hw_load(fifo_yaml, &hw, &err), &err, fifo_yaml, msg);
  expect_io_error(tps_stack_load(fifo_yaml, &stack, &err), &err, fifo_yaml, msg);
  expect_io_error(tps_model_load(fifo_json, &model, &err), &err, fifo_json, msg);
  /* a launch script (from-script) too */
  tps_run_overrides over;
  tps_run_overrides_init(&over);
  tps_eco_unresolved unres;
  tps_eco_unresolved_init(&unres);
  memset(&model, 0, sizeof model);
  expect_io_error(tps_megatron_script_load(fifo_yaml, &model, &over, &unres, &err), &err, fifo_yaml,
                  msg);
  /* found by name like any file, then refused by the loader */
  char path[512];
  cr_expect_eq(tps_data_find("models", fifo_yaml, path, sizeof path, &err), TPS_OK);
}

Test(bad, device_is_refused) {
  tps_error err;
  expect_io_error(tps_model_load("/dev/null", &model, &err), &err, "/dev/null",
                  "is a character device, not a regular file");
}

Test(bad, symlink_loop_says_so, .init = make_special, .fini = remove_special) {
  tps_error err;
  const char *msg = "cannot open file: too many levels of symbolic links";
  expect_io_error(tps_model_load(loop_yaml, &model, &err), &err, loop_yaml, msg);
  char path[512];
  cr_expect_eq(tps_data_find("models", loop_yaml, path, sizeof path, &err), TPS_EIO);
  cr_expect_str_eq(err.file, loop_yaml);
  cr_expect_str_eq(err.msg, msg);
  /* a bare name in the working directory that loops is not looked up as a
   * bundled name either */
  char cwd[512];
  cr_assert_not_null(getcwd(cwd, sizeof cwd));
  cr_assert_eq(chdir(special_dir), 0);
  tps_status st = tps_data_find("models", "loop.yaml", path, sizeof path, &err);
  cr_assert_eq(chdir(cwd), 0);
  cr_expect_eq(st, TPS_EIO);
  cr_expect_str_eq(err.msg, msg);
}

Test(bad, path_under_a_file_says_not_a_directory) {
  tps_error err;
  const char *p = INPUTS "/bad/m_syntax.yaml/model.yaml";
  const char *msg = "cannot open file: not a directory";
  expect_io_error(tps_model_load(p, &model, &err), &err, p, msg);
  expect_io_error(tps_hw_load(p, &hw, &err), &err, p, msg);
  char path[512];
  cr_expect_eq(tps_data_find("hw_profiles", p, path, sizeof path, &err), TPS_EIO);
  cr_expect_str_eq(err.msg, msg);
}

Test(bad, empty_path) {
  tps_error err;
  cr_expect_eq(tps_model_load("", &model, &err), TPS_EINVAL);
  cr_expect_str_eq(err.msg, "no file name given");
  cr_expect_eq(tps_hw_load(NULL, &hw, &err), TPS_EINVAL);
}

Test(bad, file_too_large) {
  char path[] = "/tmp/tpsim-io-big-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  FILE *f = fdopen(fd, "w");
  cr_assert_not_null(f);
  /* A valid-looking YAML comment just over 1 MiB. */
  for (int i = 0; i < 25000; i++) fputs("# padding padding padding padding padding padding\n", f);
  fclose(f);
  tps_error err;
  tps_status st = tps_model_load(path, &model, &err);
  unlink(path);
  cr_expect_eq(st, TPS_EIO);
  cr_expect_eq(err.line, 0);
  cr_expect_str_eq(err.msg, "file is larger than 1048576 bytes");
}

Test(bad, null_error_is_allowed) {
  cr_expect_eq(tps_model_load(INPUTS "/bad/m_syntax.yaml", &model, NULL), TPS_ESYNTAX);
  cr_expect_eq(tps_hw_load(INPUTS "/bad/h_bare_number.yaml", &hw, NULL), TPS_EUNIT);
}

/* ---- data lookup ------------------------------------------------------- */

static void use_test_data(void) { setenv("TPSIM_DATA_DIR", INPUTS, 1); }

Test(data, finds_bundled_names, .init = use_test_data) {
  char path[512];
  tps_error err;
  cr_assert_eq(tps_data_find("models", "vlm-7b", path, sizeof path, &err), TPS_OK, "%s",
               err.msg);
  cr_expect_str_eq(path, INPUTS "/models/vlm-7b.yaml");
  cr_assert_eq(tps_data_find("hw_profiles", "test-npu", path, sizeof path, &err), TPS_OK);
  cr_expect_str_eq(path, INPUTS "/hw_profiles/test-npu.yaml");
  cr_assert_eq(tps_data_find("models", "vlm-7b.yaml", path, sizeof path, &err), TPS_OK);
  cr_expect_str_eq(path, INPUTS "/models/vlm-7b.yaml");
}

Test(data, path_as_given, .init = use_test_data) {
  char path[512];
  tps_error err;
  const char *p = INPUTS "/bad/m_syntax.yaml";
  cr_assert_eq(tps_data_find("models", p, path, sizeof path, &err), TPS_OK);
  cr_expect_str_eq(path, p);
  cr_expect_eq(tps_data_find("models", INPUTS "/models", path, sizeof path, &err), TPS_EIO);
  cr_expect_str_eq(err.msg, "is a directory, not a file");
  cr_expect_eq(tps_data_find("models", INPUTS "/nope.yaml", path, sizeof path, &err),
               TPS_ENOTFOUND);
  cr_expect_str_eq(err.msg, "cannot open file: no such file or directory");
  char tiny[8];
  cr_expect_eq(tps_data_find("models", p, tiny, sizeof tiny, &err), TPS_EINVAL);
}

Test(data, not_found_with_hints, .init = use_test_data) {
  char path[512];
  tps_error err;
  cr_expect_eq(tps_data_find("models", "vlm-7", path, sizeof path, &err), TPS_ENOTFOUND);
  cr_expect_str_eq(err.msg, "no model named 'vlm-7'");
  cr_expect_str_eq(err.hint, "did you mean 'vlm-7b'?");
  cr_expect_eq(tps_data_find("hw_profiles", "test-gpx", path, sizeof path, &err),
               TPS_ENOTFOUND);
  cr_expect_str_eq(err.msg, "no hardware profile named 'test-gpx'");
  cr_expect_str_eq(err.hint, "did you mean 'test-gpu'?");
  cr_expect_eq(tps_data_find("models", "llama", path, sizeof path, &err), TPS_ENOTFOUND);
  cr_expect_str_eq(err.hint, "bundled models: tiny-gpt, vlm-7b");
  cr_expect_eq(tps_data_find("gadgets", "x", path, sizeof path, &err), TPS_EINVAL);
}

Test(data, list_is_sorted, .init = use_test_data) {
  char names[4][TPS_NAME_MAX];
  cr_assert_eq(tps_data_list("models", names, 4), 2);
  cr_expect_str_eq(names[0], "tiny-gpt");
  cr_expect_str_eq(names[1], "vlm-7b");
  cr_assert_eq(tps_data_list("hw_profiles", names, 1), 1);
  cr_expect_str_eq(names[0], "test-gpu");
  cr_expect_eq(tps_data_list("nothing-here", names, 4), 0);
}

/* Every bundled model and profile (the real data directory) loads cleanly. */
Test(data, bundled_files_load) {
  const char *dirs[] = {"models", "hw_profiles"};
  for (int k = 0; k < 2; k++) {
    setenv("TPSIM_DATA_DIR", TPSIM_SOURCE_DIR, 1);
    char names[64][TPS_NAME_MAX];
    int n = tps_data_list(dirs[k], names, 64);
    for (int i = 0; i < n; i++) {
      char path[512];
      tps_error err;
      cr_assert_eq(tps_data_find(dirs[k], names[i], path, sizeof path, &err), TPS_OK);
      tps_status st = k == 0 ? tps_model_load(path, &model, &err)
                             : tps_hw_load(path, &hw, &err);
      cr_expect_eq(st, TPS_OK, "%s:%d:%d: %s (%s)", err.file, err.line, err.col, err.msg,
                   err.hint);
    }
  }
}
