/* Context parallelism: the ring's p2p volume and the Ulysses all-to-all
 * volume per rank against their closed forms, activations per CP rank,
 * attention FLOPs per rank, the DP x CP sharding and the refusals
 * (docs/model.md, "Context parallelism"). Models are built in code. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "engine/lower_internal.h"
#include "tpsim/tpsim.h"

#define assert_rel(actual, expected, tol, what)                                           \
  do {                                                                                    \
    double a_ = (actual), e_ = (expected);                                                \
    double r_ = fabs(a_ - e_) / (fabs(e_) > 0 ? fabs(e_) : 1.0);                          \
    cr_assert(r_ <= (tol), "%s: got %.10g, expected %.10g (rel err %.3g > %.3g)", what, a_, \
              e_, r_, (double)(tol));                                                     \
  } while (0)

/* Llama-3-8B's decoder shape (h 4096, 32 heads, 8 KV heads, head_dim 128,
 * SwiGLU 14336, RMSNorm, RoPE, no bias, no dropout), 4 layers. */
static tps_model llama(int64_t seq) {
  tps_model m;
  memset(&m, 0, sizeof m);
  strcpy(m.name, "llama-test");
  m.n_modules = 1;
  tps_module *d = &m.modules[0];
  strcpy(d->name, "decoder");
  d->type = TPS_MODULE_DECODER;
  d->layers = 4;
  d->hidden = 4096;
  d->heads = 32;
  d->kv_heads = 8;
  d->head_dim = 128;
  d->ffn = 14336;
  d->mlp = TPS_MLP_SWIGLU;
  d->norm = TPS_NORM_RMSNORM;
  d->vocab = 128256;
  d->position = TPS_POSITION_ROPE;
  m.training.seq_len = seq;
  m.training.micro_batch = 1;
  m.training.vocab_divisor = 128;
  m.training.precision = TPS_PRECISION_BF16;
  m.training.flash_attention = true;
  m.training.distributed_optimizer = true;
  return m;
}

static tps_status resolve(const tps_model *m, int64_t tp, int64_t cp, int algo, int64_t u,
                          int64_t dp, tps_run *run, tps_error *err) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = tp;
  o.cp = cp;
  o.cp_algo = algo;
  o.ulysses_degree = u;
  o.dp = dp;
  o.global_batch = 8 * dp;
  return tps_run_resolve(m, &o, run, err);
}

static tps_run run_ok(const tps_model *m, int64_t tp, int64_t cp, int algo, int64_t u,
                      int64_t dp) {
  tps_run run;
  tps_error err;
  cr_assert_eq(resolve(m, tp, cp, algo, u, dp, &run, &err), TPS_OK, "%s", err.msg);
  return run;
}

/* The ops of one block under `run`. */
static void block_ops(const tps_model *m, const tps_run *run, tps_op_list *ops) {
  tps_error err;
  tps_op_list_init(ops);
  tps_lower_opts opts = {.kind = TPS_LAYER_BLOCK};
  cr_assert_eq(tps_lower_layer(&m->modules[0], run, opts, ops, &err), TPS_OK, "%s", err.msg);
}

static const tps_op *find_op(const tps_op_list *ops, const char *name) {
  for (int i = 0; i < ops->n; i++)
    if (strcmp(ops->ops[i].name, name) == 0) return &ops->ops[i];
  return NULL;
}

static double sum_saved(const tps_op_list *ops) {
  double s = 0.0;
  for (int i = 0; i < ops->n; i++) s += ops->ops[i].saved_bytes;
  return s;
}

/* A profile whose links make the closed forms exact: no latency, a flat
 * efficiency of 1, a switch inside 8-device nodes. */
static tps_hw flat_hw(void) {
  tps_hw hw;
  memset(&hw, 0, sizeof hw);
  hw.devices_per_node = 8;
  hw.intra.bandwidth_Bps = 400e9;
  hw.inter.bandwidth_Bps = 50e9;
  hw.intra.efficiency.n = hw.inter.efficiency.n = 1;
  hw.intra.efficiency.y[0] = hw.inter.efficiency.y[0] = 1.0;
  hw.intra.topology = TPS_TOPOLOGY_SWITCH;
  return hw;
}

/* Ring attention (Transformer Engine AttnFuncWithCPAndKVP2P; Liu et al.
 * 2023, arXiv 2310.01889): each rank holds s / cp tokens and sends its K
 * and V block, (s / cp) x 2 x (kv_heads / tp) x head_dim x 2 bytes, to the
 * next rank in cp - 1 steps forward; backward passes K/V and dK/dV, twice
 * that. Llama-3-8B, s 8192, TP 2, CP 4: 2048 x 2 x 4 x 128 x 2 B = 4 MiB per
 * step, 12 MiB forward, 24 MiB backward per rank and layer. */
Test(cp, ring_p2p_volume_per_rank) {
  tps_model m = llama(8192);
  tps_run run = run_ok(&m, 2, 4, TPS_CP_RING, 0, 1);
  tps_op_list ops;
  block_ops(&m, &run, &ops);
  const tps_op *ring = find_op(&ops, "cp_ring_kv");
  cr_assert_not_null(ring);
  cr_assert_null(find_op(&ops, "cp_qkv_a2a"), "no all-to-all in the ring");
  const double block = 2048.0 * 2 * 4 * 128 * 2;
  assert_rel(ring->coll_bytes, block, 1e-12, "K/V block bytes");
  assert_rel(ring->bwd_coll_bytes, 2.0 * block, 1e-12, "K/V + dK/dV block bytes");
  cr_assert_eq(ring->group, 4);
  cr_assert_eq(ring->stride, 2, "CP ranks are TP apart (tp-cp-ep-dp-pp)");
  cr_assert_eq(ring->fwd_coll, TPS_COLL_RING_P2P);
  /* Seconds of the p - 1 sends without overlap: 3 x 4 MiB / 400 GB/s
   * (TP x CP = 8 <= 8 devices per node: the intra link). */
  tps_hw hw = flat_hw();
  assert_rel(eng_ring_p2p_time(&hw, ring->group, ring->stride, ring->coll_bytes),
             3.0 * block / 400e9, 1e-12, "ring forward seconds");
  /* TP 2 x CP 8 = 16 ranks span two nodes: the inter-node link sets the pace. */
  assert_rel(eng_ring_p2p_time(&hw, 8, 2, block), 7.0 * block / 50e9, 1e-12,
             "ring across nodes");
  tps_op_list_free(&ops);
}

/* Ulysses (Jacobs et al. 2023, arXiv 2309.14509, Sec. 3.1): each rank
 * holds s / cp tokens of Q, K and V with all its TP heads and sends
 * (cp - 1)/cp of them in an all-to-all; the output all-to-all moves
 * (s / cp) x (heads / tp) x head_dim. Llama-3-8B, s 8192, TP 2, CP 4:
 * Q/K/V 2048 x (16 + 2 x 4) x 128 x 2 B = 12 MiB per rank, 3/4 of it sent. */
Test(cp, ulysses_all_to_all_volume_per_rank) {
  tps_model m = llama(8192);
  tps_run run = run_ok(&m, 2, 4, TPS_CP_ULYSSES, 0, 1);
  cr_assert_eq(run.ulysses_degree, 4);
  tps_op_list ops;
  block_ops(&m, &run, &ops);
  const tps_op *qkv = find_op(&ops, "cp_qkv_a2a"), *out = find_op(&ops, "cp_out_a2a");
  cr_assert(qkv && out);
  cr_assert_null(find_op(&ops, "cp_ring_kv"), "no ring in Ulysses");
  const double qkv_bytes = 2048.0 * (16 + 2 * 4) * 128 * 2, out_bytes = 2048.0 * 16 * 128 * 2;
  assert_rel(qkv->coll_bytes, qkv_bytes, 1e-12, "Q/K/V bytes held per rank");
  assert_rel(out->coll_bytes, out_bytes, 1e-12, "output bytes held per rank");
  cr_assert_eq(qkv->fwd_coll, TPS_COLL_ALL_TO_ALL);
  cr_assert_eq(qkv->bwd_coll, TPS_COLL_ALL_TO_ALL);
  /* One all-to-all on a switch, no latency: (p - 1)/p x bytes / bandwidth. */
  tps_hw hw = flat_hw();
  assert_rel(tps_collective_time(TPS_COLL_ALL_TO_ALL, qkv->coll_bytes, qkv->group, qkv->stride, &hw),
             0.75 * qkv_bytes / 400e9, 1e-12, "all-to-all seconds");
  /* After it: the whole sequence, heads / (tp x cp) heads. */
  const tps_op *core = find_op(&ops, "attn_core");
  cr_assert_eq(core->seq, 8192);
  cr_assert_eq(core->kv_seq, 8192);
  cr_assert_eq(core->heads, 4);
  cr_assert_eq(core->kv_heads, 1);
  tps_op_list_free(&ops);
}

/* Activations per CP rank fall as 1 / CP (each rank keeps the saved
 * tensors of s / cp tokens; Megatron-LM docs, context_parallel.rst): a
 * block's saved bytes at CP 2 are half those at CP 1, for the ring and for
 * Ulysses. */
Test(cp, activations_halve_at_cp_2) {
  tps_model m = llama(8192);
  tps_op_list one, ring, uly;
  tps_run r1 = run_ok(&m, 2, 1, TPS_CP_RING, 0, 1);
  tps_run r2 = run_ok(&m, 2, 2, TPS_CP_RING, 0, 1);
  tps_run u2 = run_ok(&m, 2, 2, TPS_CP_ULYSSES, 0, 1);
  block_ops(&m, &r1, &one);
  block_ops(&m, &r2, &ring);
  block_ops(&m, &u2, &uly);
  assert_rel(sum_saved(&ring), sum_saved(&one) / 2.0, 1e-12, "ring CP 2 / CP 1");
  assert_rel(sum_saved(&uly), sum_saved(&one) / 2.0, 1e-12, "Ulysses CP 2 / CP 1");
  tps_op_list_free(&one);
  tps_op_list_free(&ring);
  tps_op_list_free(&uly);
}

/* Attention FLOPs per rank: the causal total / (TP x CP) whatever the
 * algorithm (the ring's 2 x CP chunks balance the causal mask; Ulysses
 * runs whole sequences on 1/CP of the heads). Causal flash forward of one
 * sequence: 4 s^2 d heads / 2. */
Test(cp, attention_flops_per_rank) {
  tps_model m = llama(8192);
  const double total = 4.0 * 8192.0 * 8192.0 * 128 * 32 / 2.0;
  const int algos[] = {TPS_CP_RING, TPS_CP_ULYSSES, TPS_CP_HYBRID};
  for (int i = 0; i < 3; i++) {
    tps_run run = run_ok(&m, 2, 4, algos[i], algos[i] == TPS_CP_HYBRID ? 2 : 0, 1);
    tps_op_list ops;
    block_ops(&m, &run, &ops);
    assert_rel(find_op(&ops, "attn_core")->fwd_flops, total / 8.0, 1e-12,
               tps_cp_algo_name(algos[i]));
    if (algos[i] == TPS_CP_HYBRID) {
      /* Ulysses over 2 adjacent ranks, a ring over the 2 groups 2 x TP apart */
      cr_assert_eq(find_op(&ops, "cp_qkv_a2a")->group, 2);
      cr_assert_eq(find_op(&ops, "cp_ring_kv")->group, 2);
      cr_assert_eq(find_op(&ops, "cp_ring_kv")->stride, 4);
    }
    tps_op_list_free(&ops);
  }
}

/* cards = TP x CP x PP x DP; the distributed optimizer shards over DP x CP;
 * the step's model FLOPs (hence MFU's numerator) do not depend on CP. */
Test(cp, cards_sharding_and_model_flops) {
  tps_model m = llama(8192);
  m.training.cards = 16;
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = 2;
  o.cp = 4;
  o.global_batch = 16;
  tps_run run;
  tps_error err;
  cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(run.dp, 2, "16 cards / (TP 2 x CP 4)");
  assert_rel(eng_optimizer_bytes_per_param(&run), 12.0 / 8.0, 1e-12, "Adam bytes over DP x CP");

  static tps_hw hw;
  hw = flat_hw();
  hw.peak_flops[TPS_PRECISION_BF16] = 1e15;
  hw.memory_bandwidth_Bps = 3e12;
  hw.memory_efficiency = 1.0;
  hw.memory_bytes = 80e9;
  hw.gemm_efficiency.n = hw.attention_efficiency.n = 1;
  hw.gemm_efficiency.y[0] = hw.attention_efficiency.y[0] = 0.5;
  static tps_estimate e1, e4;
  tps_run r1 = run;
  o.cp = 1;
  cr_assert_eq(tps_run_resolve(&m, &o, &r1, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_estimate_run(&m, &run, &hw, &e4, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_estimate_run(&m, &r1, &hw, &e1, &err), TPS_OK, "%s", err.msg);
  assert_rel(e4.model_flops_per_step, e1.model_flops_per_step, 1e-12, "model FLOPs per step");
  cr_assert_lt(e4.memory.activations, e1.memory.activations);
}

/* The refusals: each names the numbers that do not divide. */
Test(cp, refusals) {
  tps_model m = llama(8192);
  tps_run run;
  tps_error err;
  /* Ulysses: 32 heads / TP 8 = 4 heads per rank, not a multiple of CP 8. */
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = 8;
  o.cp = 8;
  o.cp_algo = TPS_CP_ULYSSES;
  cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_OK, "%s", err.msg);
  tps_plan plan;
  cr_assert_eq(tps_plan_build(&m, &run, &plan, &err), TPS_EDIVIDE);
  cr_assert(strstr(err.msg, "32 attention heads") && strstr(err.msg, "8 x 8"), "%s", err.msg);
  /* The ring cuts sequences in 2 x CP chunks. */
  tps_model odd = llama(8200);
  cr_assert_eq(resolve(&odd, 1, 8, TPS_CP_RING, 0, 1, &run, &err), TPS_EDIVIDE);
  cr_assert(strstr(err.msg, "seq_len 8200 is not a multiple of 16"), "%s", err.msg);
  /* The hybrid's Ulysses degree divides CP, and is only the hybrid's. */
  cr_assert_eq(resolve(&m, 1, 4, TPS_CP_HYBRID, 3, 1, &run, &err), TPS_EDIVIDE);
  cr_assert(strstr(err.msg, "--ulysses-degree-in-cp 3 does not divide --cp 4"), "%s", err.msg);
  cr_assert_eq(resolve(&m, 1, 4, TPS_CP_HYBRID, 0, 1, &run, &err), TPS_EINVAL);
  cr_assert_eq(resolve(&m, 1, 4, TPS_CP_RING, 2, 1, &run, &err), TPS_EINVAL);
  cr_assert(strstr(err.msg, "only used by the hybrid"), "%s", err.msg);
  /* CP splits a decoder's sequence; a ViT module is refused by name. */
  tps_model vl = llama(8192);
  vl.n_modules = 2;
  vl.modules[1] = vl.modules[0];
  strcpy(vl.modules[1].name, "vision");
  vl.modules[1].type = TPS_MODULE_VIT;
  vl.modules[1].tokens = 1024;
  cr_assert_eq(resolve(&vl, 1, 2, TPS_CP_RING, 0, 1, &run, &err), TPS_EUNSUPPORTED);
  cr_assert(strstr(err.msg, "module 'vision' (vit)"), "%s", err.msg);
}

/* The search holds CP fixed: its fast path gives exactly what
 * tps_estimate_run gives for the same configuration at CP 2 (the equality
 * test_search checks at CP 1), and every row shares cards / CP. */
Test(cp, search_fast_path_equals_estimate_at_cp_2) {
  tps_model m = llama(8192);
  m.training.cards = 8;
  m.training.global_batch = 32;
  static tps_hw hw;
  hw = flat_hw();
  hw.peak_flops[TPS_PRECISION_BF16] = 1e15;
  hw.memory_bandwidth_Bps = 3e12;
  hw.memory_efficiency = 1.0;
  hw.memory_bytes = 80e9;
  hw.gemm_efficiency.n = hw.attention_efficiency.n = 1;
  hw.gemm_efficiency.y[0] = hw.attention_efficiency.y[0] = 0.5;
  hw.intra.latency_s = 3e-6;
  tps_search_opts so;
  tps_search_opts_init(&so);
  so.cards = 8;
  so.cp = 2;
  so.max_micro_batch = 2;
  static tps_search_result res;
  tps_search_result_init(&res);
  tps_error err;
  cr_assert_eq(tps_search(&m, &hw, &so, &res, &err), TPS_OK, "%s", err.msg);
  cr_assert_gt(res.n_top, 0);
  for (int i = 0; i < res.n_top; i++) {
    const tps_search_row *row = &res.top[i];
    cr_assert_eq(row->cfg.tp * row->cfg.pp * row->cfg.dp, 4, "TP x PP x DP = 8 cards / CP 2");
    tps_run run;
    cr_assert_eq(tps_search_config_run(&m, &res.base, &row->cfg, &run, &err), TPS_OK, "%s",
                 err.msg);
    cr_assert_eq(run.cp, 2);
    static tps_estimate e;
    cr_assert_eq(tps_estimate_run(&m, &run, &hw, &e, &err), TPS_OK, "%s", err.msg);
    assert_rel(row->step_time_s, e.step_time_s, 1e-9, "step time");
    assert_rel(row->memory.total, e.memory.total, 1e-9, "memory");
    assert_rel(row->mfu, e.mfu, 1e-9, "MFU");
  }
  tps_search_result_free(&res);
}
