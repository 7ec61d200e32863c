/* Context parallelism (CP): the run's CP dimension and the ops it adds to a
 * decoder block's attention (docs/model.md, "Context parallelism").
 *
 * Each of the CP ranks of a model replica holds seq_len / cp tokens of
 * every sequence (Megatron-LM get_batch_on_this_cp_rank, megatron/training/
 * utils.py: the sequence is cut in 2 x cp chunks and rank i keeps chunks i
 * and 2 cp - 1 - i, so every rank does the same share of causal attention).
 * Every op of the block then runs on those tokens; only attention needs the
 * rest of the sequence:
 *
 *   ring (megatron_cp_algo; Megatron --cp-comm-type p2p, Transformer Engine
 *   AttnFuncWithCPAndKVP2P, MindSpeed core/context_parallel/
 *   ring_context_parallel.py): the K/V block of each rank travels around the
 *   ring in cp - 1 p2p steps, each overlapped with the attention of the block
 *   already there; backward passes K/V and dK/dV around the ring again;
 *
 *   Ulysses (ulysses_cp_algo; DeepSpeed-Ulysses, Jacobs et al. 2023,
 *   arXiv 2309.14509; MindSpeed core/context_parallel/
 *   ulysses_context_parallel.py): an all-to-all turns Q/K/V from sequence
 *   shards with every head into the whole sequence with heads / cp, and a
 *   second one turns the attention output back; backward mirrors both;
 *
 *   hybrid (hybrid_cp_algo, MindSpeed --ulysses-degree-in-cp u): Ulysses over
 *   groups of u ranks, a ring over the cp / u groups.
 *
 * Placement (Megatron parallel_state.py, order "tp-cp-ep-dp-pp"): CP ranks
 * are TP apart; inside CP the Ulysses ranks are adjacent (MindSpeed builds
 * the hybrid's Ulysses groups of consecutive CP ranks), the ring's are u
 * apart. */
#include <stdint.h>
#include <string.h>

#include "engine/lower_internal.h"
#include "tpsim/engine.h"

tps_status eng_resolve_cp(const tps_model *model, const tps_run_overrides *over, tps_run *run,
                          tps_error *err) {
  const tps_training *tr = &model->training;
  run->cp = over->cp > 0 ? over->cp : (tr->cp > 0 ? tr->cp : 1);
  run->cp_algo = over->cp_algo >= 0 ? (tps_cp_algo)over->cp_algo : tr->cp_algo;
  int64_t u = over->ulysses_degree > 0 ? over->ulysses_degree : tr->ulysses_degree;
  if (run->cp < 1)
    return tps_error_set(err, TPS_ERANGE, NULL, 0, 0, "--cp must be >= 1, got %lld",
                         (long long)run->cp);
  if (u > 0 && run->cp_algo != TPS_CP_HYBRID) {
    tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                  "--ulysses-degree-in-cp %lld is only used by the hybrid CP algorithm (--cp-algo "
                  "%s given)",
                  (long long)u, tps_cp_algo_name(run->cp_algo));
    tps_error_hint(err, "add --cp-algo hybrid (MindSpeed: --context-parallel-algo hybrid_cp_algo), "
                        "or drop --ulysses-degree-in-cp");
    return TPS_EINVAL;
  }
  switch (run->cp_algo) {
    case TPS_CP_RING: run->ulysses_degree = 1; break;
    case TPS_CP_ULYSSES: run->ulysses_degree = run->cp; break;
    case TPS_CP_HYBRID:
      if (run->cp > 1 && u <= 0) {
        tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                      "--cp-algo hybrid needs --ulysses-degree-in-cp (Ulysses ranks inside CP)");
        tps_error_hint(err, "e.g. --cp %lld --cp-algo hybrid --ulysses-degree-in-cp 2",
                       (long long)run->cp);
        return TPS_EINVAL;
      }
      run->ulysses_degree = u > 0 ? u : 1;
      if (run->cp % run->ulysses_degree != 0) {
        tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                      "--ulysses-degree-in-cp %lld does not divide --cp %lld",
                      (long long)run->ulysses_degree, (long long)run->cp);
        tps_error_hint(err, "the hybrid runs Ulysses over u ranks and a ring over cp / u groups");
        return TPS_EDIVIDE;
      }
      break;
    default:
      return tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "unknown CP algorithm %d",
                           (int)run->cp_algo);
  }
  if (run->cp == 1) return TPS_OK;
  /* Ring chunks: 2 x (ring ranks) per sequence (load balance) on every
   * Ulysses rank's share; Ulysses alone: cp shards. */
  int64_t ring = run->cp / run->ulysses_degree;
  int64_t chunks = ring > 1 ? 2 * run->cp : run->cp;
  if (run->seq_len % chunks != 0) {
    tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                  "--cp %lld (%s): seq_len %lld is not a multiple of %lld%s",
                  (long long)run->cp, tps_cp_algo_name(run->cp_algo), (long long)run->seq_len,
                  (long long)chunks,
                  ring > 1 ? " (the ring cuts each sequence in 2 x CP chunks for causal balance)"
                           : " (each CP rank holds seq_len / CP tokens)");
    tps_error_hint(err, "choose a sequence length that is a multiple of %lld", (long long)chunks);
    return TPS_EDIVIDE;
  }
  for (int i = 0; i < model->n_modules; i++) {
    const tps_module *m = &model->modules[i];
    if (m->type == TPS_MODULE_DECODER) continue;
    tps_error_set(err, TPS_EUNSUPPORTED, NULL, 0, 0,
                  "--cp %lld: context parallelism over module '%s' (%s) is not modelled",
                  (long long)run->cp, m->name, tps_module_type_name(m->type));
    tps_error_hint(err, "context parallelism splits a decoder's sequence; drop --cp for this model");
    return TPS_EUNSUPPORTED;
  }
  return TPS_OK;
}

tps_status eng_cp_check_module(const tps_module *m, const tps_run *run, tps_error *err) {
  const int64_t cp = eng_cp_ranks(run), u = eng_ulysses_ranks(run);
  if (cp == 1 || m->type == TPS_MODULE_PROJECTOR) return TPS_OK;
  if (m->type != TPS_MODULE_DECODER) {
    tps_error_set(err, TPS_EUNSUPPORTED, NULL, 0, 0,
                  "--cp %lld: context parallelism over module '%s' (%s) is not modelled",
                  (long long)cp, m->name, tps_module_type_name(m->type));
    return TPS_EUNSUPPORTED;
  }
  if (u == 1) return TPS_OK;
  /* Ulysses: every rank of the group takes heads / (tp x u) whole heads. */
  const int64_t heads_r = m->heads / run->tp, kv_r = tps_kv_heads_per_rank(m->kv_heads, run->tp);
  if (heads_r % u != 0) {
    tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                  "--cp %lld (%s): %lld attention heads of module '%s' are not a multiple of "
                  "TP x Ulysses degree = %lld x %lld",
                  (long long)cp, tps_cp_algo_name(run->cp_algo), (long long)m->heads, m->name,
                  (long long)run->tp, (long long)u);
    tps_error_hint(err, "Ulysses' all-to-all gives each rank whole heads; choose TP x CP that "
                        "divides the heads, or --cp-algo ring");
    return TPS_EDIVIDE;
  }
  if (kv_r % u != 0 && u % kv_r != 0) {
    tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                  "--cp %lld (%s): %lld KV heads per TP rank of module '%s' neither divide by nor "
                  "divide the Ulysses degree %lld",
                  (long long)cp, tps_cp_algo_name(run->cp_algo), (long long)kv_r, m->name,
                  (long long)u);
    tps_error_hint(err, "choose a Ulysses degree that the KV heads per TP rank divide, or --cp-algo ring");
    return TPS_EDIVIDE;
  }
  return TPS_OK;
}

void eng_cp_attention_shape(const tps_run *run, int64_t span_local, int64_t heads_r, int64_t kv_r,
                            eng_cp_shape *out) {
  const int64_t cp = eng_cp_ranks(run), u = eng_ulysses_ranks(run), ring = cp / u;
  memset(out, 0, sizeof *out);
  out->ulysses = u;
  out->ring = ring;
  /* Ulysses gathers the u shards of its group: queries = span x u, which is
   * the whole sequence / ring; keys come around the ring: the whole sequence. */
  out->q_seq = span_local * u;
  out->kv_seq = span_local * cp;
  out->heads = heads_r / u;
  out->kv_heads = tps_kv_heads_per_rank(kv_r, u);
}

tps_status eng_cp_add_ulysses(tps_op_list *out, const char *name, const tps_run *run,
                              int64_t tokens_local, int64_t width, double act_bytes,
                              bool runs_bwd) {
  tps_op *op = eng_op_push(out, name, TPS_OP_COLLECTIVE);
  if (!op) return TPS_ENOMEM;
  op->group = eng_ulysses_ranks(run);
  op->stride = run->tp;
  op->m = tokens_local;
  op->n = width;
  op->coll_bytes = (double)tokens_local * (double)width * act_bytes;
  op->fwd_coll = TPS_COLL_ALL_TO_ALL;
  op->bwd_coll = runs_bwd ? TPS_COLL_ALL_TO_ALL : TPS_COLL_NONE;
  return TPS_OK;
}

tps_status eng_cp_add_ring(tps_op_list *out, const tps_run *run, int core_index,
                           double act_bytes, bool runs_bwd) {
  const tps_op core = out->ops[core_index]; /* copy: the push may move the list */
  tps_op *op = eng_op_push(out, "cp_ring_kv", TPS_OP_COLLECTIVE);
  if (!op) return TPS_ENOMEM;
  const int64_t u = eng_ulysses_ranks(run);
  op->group = eng_cp_ranks(run) / u;
  op->stride = run->tp * u;
  op->m = core.batch * core.seq;
  op->n = 2 * core.kv_heads * core.head_dim;
  /* One K and V block: the queries' tokens x kv heads x head_dim, twice. */
  op->coll_bytes = (double)op->m * (double)op->n * act_bytes;
  op->fwd_coll = TPS_COLL_RING_P2P;
  op->overlap_fwd_flops = core.fwd_flops;
  op->overlap_fwd_bytes = core.fwd_bytes;
  if (runs_bwd) {
    op->bwd_coll = TPS_COLL_RING_P2P;
    op->bwd_coll_bytes = 2.0 * op->coll_bytes; /* K/V and dK/dV */
    op->overlap_bwd_flops = core.bwd_flops;
    op->overlap_bwd_bytes = core.bwd_bytes;
    /* Send and receive buffers of K/V and dK/dV while backward runs. */
    op->workspace_bytes = 2.0 * op->bwd_coll_bytes;
  } else {
    op->workspace_bytes = 2.0 * op->coll_bytes;
  }
  return TPS_OK;
}
