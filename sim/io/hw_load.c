/* Loading a hardware profile (docs/schema.md, "Hardware profile").
 * Every value with a unit is stored in SI units: bytes, bytes/s, FLOP/s,
 * seconds. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "io/gemm_shapes.h"
#include "io/io_internal.h"
#include "io/limits.h"
#include "io/yaml_doc.h"
#include "tpsim/io.h"

#define ALL IO_VARIANT_ALL
#define INTRA 1u /* variant bits of a link mapping */
#define INTER 2u

_Static_assert(sizeof(tps_topology) == sizeof(int), "enums are int-sized");

enum { TOP_NAME, TOP_SOURCE, TOP_DEVICE, TOP_NODE, TOP_INTER, TOP_STACK, TOP_N };
static const io_key top_keys[TOP_N] = {
    [TOP_NAME] = {.name = "name", .type = IO_KEY_STRING,
                  .offset = offsetof(tps_hw, name), .size = TPS_NAME_MAX,
                  .applies = ALL, .required = ALL, .help = "profile name"},
    [TOP_SOURCE] = {.name = "source", .type = IO_KEY_STRING,
                    .offset = offsetof(tps_hw, source), .size = TPS_SOURCE_MAX,
                    .applies = ALL, .required = ALL,
                    .help = "where the figures come from"},
    [TOP_DEVICE] = {.name = "device", .type = IO_KEY_NODE, .applies = ALL,
                    .required = ALL, .help = "one accelerator"},
    [TOP_NODE] = {.name = "node", .type = IO_KEY_NODE, .applies = ALL,
                  .required = ALL, .help = "devices of a node and their link"},
    [TOP_INTER] = {.name = "inter_link", .type = IO_KEY_NODE, .applies = ALL,
                   .required = ALL, .help = "per-device link between nodes"},
    /* optional; absent: no software stack (a calibrated tp-kernel profile) */
    [TOP_STACK] = {.name = "stack", .type = IO_KEY_STRING,
                   .offset = offsetof(tps_hw, stack_name), .size = TPS_NAME_MAX,
                   .applies = ALL,
                   .help = "default software stack, a name in hw_profiles/stacks/ (megatron-cuda)"},
};

#define DEV_Q(key, field, q, pos, text)                                         \
  {.name = #key, .type = IO_KEY_QUANTITY, .offset = offsetof(tps_hw, field),    \
   .min = pos, .quantity = q, .applies = ALL, .required = ALL, .help = text}
/* The same with a spread accepted (`value +- sd`), stored at sd_field. */
#define DEV_QS(key, field, q, pos, text, sd_field)                              \
  {.name = #key, .type = IO_KEY_QUANTITY, .offset = offsetof(tps_hw, field),    \
   .min = pos, .quantity = q, .applies = ALL, .required = ALL, .help = text,    \
   .spread = true, .sd_offset = offsetof(tps_hw, sd_field)}

enum {
  DEV_NAME, DEV_MEMORY, DEV_BW, DEV_PEAK, DEV_RESERVE, DEV_GEMM, DEV_ATTN,
  DEV_MEM_EFF, DEV_OVERHEAD, DEV_ACT_OVERHEAD, DEV_BWD_BUFFERS, DEV_COMM_MEM, DEV_FP8_GEMM,
  DEV_GEMM_SHAPES, DEV_N
};
static const io_key device_keys[DEV_N] = {
    [DEV_NAME] = {.name = "name", .type = IO_KEY_STRING,
                  .offset = offsetof(tps_hw, device_name),
                  .size = sizeof(((tps_hw *)0)->device_name), .applies = ALL,
                  .required = ALL, .help = "device name"},
    [DEV_MEMORY] = DEV_Q(memory, memory_bytes, "bytes", 1, "device memory, bytes (64 GB)"),
    [DEV_BW] = DEV_QS(memory_bandwidth, memory_bandwidth_Bps, "bandwidth", 1,
                      "memory bandwidth (1.6 TB/s)", memory_bandwidth_sd_Bps),
    [DEV_PEAK] = {.name = "peak_flops", .type = IO_KEY_NODE, .applies = ALL,
                  .required = ALL, .help = "dense peak per precision (bf16: 376 TFLOPS)"},
    [DEV_RESERVE] = DEV_QS(runtime_reserve, runtime_reserve_bytes, "bytes", 0,
                           "framework and runtime memory outside the allocator (4.5 GiB)",
                           runtime_reserve_sd_bytes),
    [DEV_GEMM] = {.name = "gemm_efficiency", .type = IO_KEY_TABLE,
                  .offset = offsetof(tps_hw, gemm_efficiency), .applies = ALL,
                  .required = ALL, .help = "fraction, or [[FLOPs, fraction], ...]",
                  .spread = true},
    [DEV_ATTN] = {.name = "attention_efficiency", .type = IO_KEY_TABLE,
                  .offset = offsetof(tps_hw, attention_efficiency), .applies = ALL,
                  .required = ALL, .help = "fraction, or [[FLOPs, fraction], ...]",
                  .spread = true},
    [DEV_MEM_EFF] = {.name = "memory_efficiency", .type = IO_KEY_FRACTION,
                     .offset = offsetof(tps_hw, memory_efficiency), .applies = ALL,
                     .required = ALL, .help = "fraction of memory_bandwidth reached",
                     .spread = true, .sd_offset = offsetof(tps_hw, memory_efficiency_sd)},
    [DEV_OVERHEAD] = DEV_QS(kernel_overhead, kernel_overhead_s, "time", 0,
                            "time per kernel launch (10 us)", kernel_overhead_sd_s),
    /* refused by name: the caching allocator belongs to the software stack */
    [DEV_ACT_OVERHEAD] = {.name = "activation_overhead", .type = IO_KEY_NODE, .applies = ALL,
                          .help = "no longer a hardware key: see the stack's allocator_overhead"},
    /* optional; absent: 0 */
    [DEV_BWD_BUFFERS] = {.name = "backward_buffers", .type = IO_KEY_NUMBER,
                         .offset = offsetof(tps_hw, backward_buffers), .min = 0, .max = 64,
                         .applies = ALL,
                         .help = "layer-input-sized gradient buffers alive through backward (2)"},
    /* optional; absent: 0 (communicator buffers counted in runtime_reserve) */
    [DEV_COMM_MEM] = {.name = "communicator_memory", .type = IO_KEY_QUANTITY,
                      .offset = offsetof(tps_hw, communicator_bytes), .min = 0,
                      .quantity = "bytes", .applies = ALL,
                      .help = "buffers per collective communicator, held once per parallel "
                              "group of more than one rank (0.6 GiB)"},
    /* optional; given exactly when peak_flops has fp8 */
    [DEV_FP8_GEMM] = {.name = "fp8_gemm_efficiency", .type = IO_KEY_TABLE,
                      .offset = offsetof(tps_hw, fp8_gemm_efficiency), .applies = ALL,
                      .help = "FP8 GEMMs: fraction of the fp8 peak, or [[FLOPs, fraction], ...]",
                      .spread = true},
    /* optional; absent: GEMMs by FLOPs alone (gemm_efficiency) */
    [DEV_GEMM_SHAPES] = {.name = "gemm_efficiency_shapes", .type = IO_KEY_NODE, .applies = ALL,
                         .help = "GEMM efficiency on a full grid of shapes, "
                                 "[[m, n, k, fraction], ...]"},
};

/* The peak per precision, then FP8's: io_map_read writes each at the
 * given offset from hw->peak_flops. */
#define PEAK_FP8 TPS_PRECISION_COUNT
#define N_PEAK (TPS_PRECISION_COUNT + 1)
static const io_key peak_keys[N_PEAK] = {
    [TPS_PRECISION_BF16] = {.name = "bf16", .type = IO_KEY_QUANTITY,
                            .offset = TPS_PRECISION_BF16 * sizeof(double),
                            .min = 1, .quantity = "flops", .applies = ALL},
    [TPS_PRECISION_FP16] = {.name = "fp16", .type = IO_KEY_QUANTITY,
                            .offset = TPS_PRECISION_FP16 * sizeof(double),
                            .min = 1, .quantity = "flops", .applies = ALL},
    [TPS_PRECISION_FP32] = {.name = "fp32", .type = IO_KEY_QUANTITY,
                            .offset = TPS_PRECISION_FP32 * sizeof(double),
                            .min = 1, .quantity = "flops", .applies = ALL},
    [PEAK_FP8] = {.name = "fp8", .type = IO_KEY_QUANTITY,
                  .offset = offsetof(tps_hw, peak_fp8_flops) - offsetof(tps_hw, peak_flops),
                  .min = 1, .quantity = "flops", .applies = ALL},
};

enum { NODE_DEVICES, NODE_INTRA, NODE_N };
static const io_key node_keys[NODE_N] = {
    [NODE_DEVICES] = {.name = "devices", .type = IO_KEY_INT,
                      .offset = offsetof(tps_hw, devices_per_node), .min = 1,
                      .max = 1000000, .applies = ALL, .required = ALL,
                      .help = "devices per node"},
    [NODE_INTRA] = {.name = "intra_link", .type = IO_KEY_NODE, .applies = ALL,
                    .required = ALL, .help = "link between devices of a node"},
};

enum { LINK_BW, LINK_LATENCY, LINK_TOPOLOGY, LINK_EFF, LINK_N };
static const io_key link_keys[LINK_N] = {
    [LINK_BW] = {.name = "bandwidth", .type = IO_KEY_QUANTITY,
                 .offset = offsetof(tps_link, bandwidth_Bps), .min = 1,
                 .quantity = "bandwidth", .applies = ALL, .required = ALL,
                 .help = "per device per direction (56 GB/s)"},
    [LINK_LATENCY] = {.name = "latency", .type = IO_KEY_QUANTITY,
                      .offset = offsetof(tps_link, latency_s), .min = 0,
                      .quantity = "time", .applies = ALL, .required = ALL,
                      .help = "per collective step (10 us)", .spread = true,
                      .sd_offset = offsetof(tps_link, latency_sd_s)},
    [LINK_TOPOLOGY] = {.name = "topology", .type = IO_KEY_ENUM,
                       .offset = offsetof(tps_link, topology),
                       .choices = tps_topology_names, .applies = INTRA,
                       .required = INTRA, .help = "switch or full_mesh"},
    [LINK_EFF] = {.name = "efficiency", .type = IO_KEY_TABLE,
                  .offset = offsetof(tps_link, efficiency), .quantity = "bytes",
                  .applies = ALL, .required = ALL,
                  .help = "fraction, or [[message bytes, fraction], ...]", .spread = true},
};

static tps_status read_link(io_doc *d, const yaml_node_t *n, unsigned variant,
                            const char *where, tps_link *link) {
  tps_status st;
  if ((st = io_node_expect_map(d, n, where))) return st;
  io_map_ctx ctx = {.where = where, .variant_bit = variant};
  yaml_node_t *f[LINK_N];
  link->topology = TPS_TOPOLOGY_SWITCH; /* inter_link: always a switched fabric */
  if ((st = io_map_read(d, n, link_keys, LINK_N, &ctx, link, f))) return st;
  char what[64];
  snprintf(what, sizeof what, "'bandwidth' of %s", where);
  if ((st = io_check_limit(d, f[LINK_BW], what, link->bandwidth_Bps, &io_limit_bandwidth)))
    return st;
  snprintf(what, sizeof what, "'latency' of %s", where);
  if ((st = io_check_limit(d, f[LINK_LATENCY], what, link->latency_s, &io_limit_time))) return st;
  snprintf(what, sizeof what, "'efficiency' of %s", where);
  return io_check_efficiency(d, f[LINK_EFF], what, &link->efficiency);
}

static tps_status read_device(io_doc *d, const yaml_node_t *n, tps_hw *hw) {
  tps_status st;
  if ((st = io_node_expect_map(d, n, "'device'"))) return st;
  static const io_map_ctx ctx = {.where = "'device'", .variant_bit = ALL};
  yaml_node_t *f[DEV_N];
  if ((st = io_map_read(d, n, device_keys, DEV_N, &ctx, hw, f))) return st;
  if (f[DEV_ACT_OVERHEAD]) {
    io_doc_fail(d, f[DEV_ACT_OVERHEAD], TPS_EINVAL,
                 "'activation_overhead' is not a hardware key: what the caching allocator "
                 "holds beyond live tensors is the software stack's 'allocator_overhead'");
    io_doc_hint(d, "remove it, and set allocator_overhead in hw_profiles/stacks/STACK.yaml");
    return TPS_EINVAL;
  }

  const yaml_node_t *pn = f[DEV_PEAK];
  if ((st = io_node_expect_map(d, pn, "'peak_flops'"))) return st;
  static const io_map_ctx pctx = {.where = "'peak_flops'", .variant_bit = ALL};
  yaml_node_t *pf[N_PEAK];
  if ((st = io_map_read(d, pn, peak_keys, N_PEAK, &pctx, hw->peak_flops, pf)))
    return st;
  bool any = false;
  for (int i = 0; i < N_PEAK; i++) {
    if (i < TPS_PRECISION_COUNT) any = any || pf[i];
    char what[32];
    snprintf(what, sizeof what, "'%s'", peak_keys[i].name);
    double v = i < TPS_PRECISION_COUNT ? hw->peak_flops[i] : hw->peak_fp8_flops;
    if ((st = io_check_limit(d, pf[i], what, v, &io_limit_flops))) return st;
  }
  /* An FP8 peak without its GEMM efficiency (or the other way round)
   * could not price an FP8 GEMM. */
  if (pf[PEAK_FP8] && !f[DEV_FP8_GEMM]) {
    io_doc_fail(d, pf[PEAK_FP8], TPS_EMISSINGKEY,
                "'peak_flops' gives fp8 but 'device' has no 'fp8_gemm_efficiency'");
    io_doc_hint(d, "add 'fp8_gemm_efficiency: 0.7' (a fraction of the fp8 peak, with its source)");
    return TPS_EMISSINGKEY;
  }
  if (f[DEV_FP8_GEMM] && !pf[PEAK_FP8])
    return io_doc_fail(d, f[DEV_FP8_GEMM], TPS_EMISSINGKEY,
                       "'fp8_gemm_efficiency' is given but 'peak_flops' has no fp8");
  if (f[DEV_FP8_GEMM] &&
      (st = io_check_efficiency(d, f[DEV_FP8_GEMM], "'fp8_gemm_efficiency'",
                                &hw->fp8_gemm_efficiency)))
    return st;
  if (!any) {
    io_doc_fail(d, pn, TPS_EMISSINGKEY,
                 "'peak_flops' must give at least one of bf16, fp16, fp32");
    io_doc_hint(d, "for example 'bf16: 376 TFLOPS'");
    return TPS_EMISSINGKEY;
  }
  if ((st = io_check_limit(d, f[DEV_MEMORY], "'memory'", hw->memory_bytes, &io_limit_memory)) ||
      (st = io_check_limit(d, f[DEV_BW], "'memory_bandwidth'", hw->memory_bandwidth_Bps,
                           &io_limit_bandwidth)) ||
      (st = io_check_efficiency(d, f[DEV_GEMM], "'gemm_efficiency'", &hw->gemm_efficiency)) ||
      (st = io_check_efficiency(d, f[DEV_ATTN], "'attention_efficiency'",
                                &hw->attention_efficiency)) ||
      (st = io_check_limit(d, f[DEV_MEM_EFF], "'memory_efficiency'", hw->memory_efficiency,
                           &io_limit_efficiency)) ||
      (st = io_check_limit(d, f[DEV_OVERHEAD], "'kernel_overhead'", hw->kernel_overhead_s,
                           &io_limit_time)))
    return st;
  if (f[DEV_GEMM_SHAPES] && (st = io_gemm_shapes_read(d, f[DEV_GEMM_SHAPES], &hw->gemm_shapes)))
    return st;
  if (hw->runtime_reserve_bytes >= hw->memory_bytes) {
    char got[64];
    io_node_desc(f[DEV_RESERVE], got, sizeof got);
    return io_doc_fail(d, f[DEV_RESERVE], TPS_ERANGE,
                        "'runtime_reserve' must be less than 'memory', got %s", got);
  }
  /* Three groups (TP, PP, DP) each hold one communicator. */
  if (f[DEV_COMM_MEM] && hw->runtime_reserve_bytes + 3.0 * hw->communicator_bytes >= hw->memory_bytes) {
    char got[64];
    io_node_desc(f[DEV_COMM_MEM], got, sizeof got);
    return io_doc_fail(d, f[DEV_COMM_MEM], TPS_ERANGE,
                        "'runtime_reserve' + 3 x 'communicator_memory' (TP, PP and DP groups) must be "
                        "less than 'memory', got %s", got);
  }
  return TPS_OK;
}

static tps_status read_node(io_doc *d, const yaml_node_t *n, tps_hw *hw) {
  tps_status st;
  if ((st = io_node_expect_map(d, n, "'node'"))) return st;
  static const io_map_ctx ctx = {.where = "'node'", .variant_bit = ALL};
  yaml_node_t *f[NODE_N];
  if ((st = io_map_read(d, n, node_keys, NODE_N, &ctx, hw, f))) return st;
  return read_link(d, f[NODE_INTRA], INTRA, "'intra_link'", &hw->intra);
}

tps_status tps_hw_load(const char *path, tps_hw *hw, tps_error *err) {
  io_doc d;
  tps_status st;
  if (!hw) return tps_error_set(err, TPS_EINVAL, path, 0, 0, "no profile to fill");
  memset(hw, 0, sizeof *hw);
  if ((st = io_doc_load(&d, path, err))) return st;
  snprintf(hw->path, sizeof hw->path, "%s", path);
  yaml_node_t *root = io_doc_root(&d);
  yaml_node_t *f[TOP_N];
  static const io_map_ctx ctx = {.where = "the hardware profile", .variant_bit = ALL};
  if (!root) {
    tps_error_set(err, TPS_ESYNTAX, d.path, 1, 1, "file is empty");
    tps_error_hint(err, "a hardware profile is a mapping with the keys name, "
                        "source, device, node and inter_link");
    st = TPS_ESYNTAX;
  } else if (root->type != YAML_MAPPING_NODE) {
    char got[64];
    io_node_desc(root, got, sizeof got);
    st = io_doc_fail(&d, root, TPS_ETYPE,
                      "a hardware profile must be a mapping of keys, got %s", got);
  } else if (!(st = io_map_read(&d, root, top_keys, TOP_N, &ctx, hw, f)) &&
             !(st = read_device(&d, f[TOP_DEVICE], hw)) &&
             !(st = read_node(&d, f[TOP_NODE], hw))) {
    st = read_link(&d, f[TOP_INTER], INTER, "'inter_link'", &hw->inter);
  }
  if (!st && hw->stack_name[0]) {
    /* The profile's default stack, found like any bundled file. */
    char spath[512];
    tps_error serr;
    tps_error_clear(&serr);
    if (tps_data_find("hw_profiles/stacks", hw->stack_name, spath, sizeof spath, &serr) != TPS_OK) {
      st = io_doc_fail(&d, f[TOP_STACK], serr.status, "'stack': %s", serr.msg);
      if (serr.hint[0]) io_doc_hint(&d, "%s", serr.hint);
    } else if ((st = tps_stack_load(spath, &hw->stack, &serr)) != TPS_OK && err) {
      *err = serr; /* the stack file's own FILE:LINE:COL error */
    }
  }
  io_doc_free(&d);
  if (st) {
    char keep[sizeof hw->path];
    snprintf(keep, sizeof keep, "%s", hw->path);
    memset(hw, 0, sizeof *hw);
    snprintf(hw->path, sizeof hw->path, "%s", keep);
  }
  return st;
}
