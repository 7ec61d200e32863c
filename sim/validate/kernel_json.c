/* Reading tp-kernel's JSON (layer runs and --bench tables) back. JSON is
 * YAML 1.2 flow syntax, so the project's libyaml reader (io/yaml_doc.h)
 * parses it; numbers are plain scalars read with strtod. Missing keys the
 * comparison needs are errors naming the key; so is any number that is not
 * finite and non-negative (null, NaN, inf, -1: a broken run, never data),
 * and a step time that is not positive. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/yaml_doc.h"
#include "validate/kernel_validate.h"

/* Scalar text of map[key], or NULL. */
static const char *text_of(io_doc *d, const yaml_node_t *map, const char *key) {
  yaml_node_t *n = map ? io_map_get(d, map, key) : NULL;
  if (!n || n->type != YAML_SCALAR_NODE) return NULL;
  return (const char *)n->data.scalar.value;
}

/* The largest figure accepted (bytes, FLOPs, counts): beyond it a number is
 * not a measurement, and would overflow the integer fields. */
#define KV_JSON_MAX 1e18

/* Number at map[key] (named `label` in messages); required: missing is an
 * error. Every number must be finite (not null, NaN or inf) and in
 * [0, 1e18]: tp-kernel writes times, sizes and counts, none negative. */
static tps_status num_as(io_doc *d, const yaml_node_t *map, const char *key, const char *label,
                         bool required, double *out) {
  const char *t = text_of(d, map, key);
  *out = 0.0;
  if (!t) {
    if (!required) return TPS_OK;
    return io_doc_fail(d, map, TPS_EMISSINGKEY, "tp-kernel JSON: missing number '%s'", label);
  }
  char *end = NULL;
  double v = strtod(t, &end);
  if (end == t || *end)
    return io_doc_fail(d, map, TPS_ETYPE, "tp-kernel JSON: '%s' is not a number ('%.40s')", label, t);
  if (!isfinite(v) || v < 0 || v > KV_JSON_MAX)
    return io_doc_fail(d, map, TPS_ERANGE, "tp-kernel JSON: '%s' is %.40s, not a finite number in [0, 1e18]",
                       label, t);
  *out = v;
  return TPS_OK;
}

static tps_status num(io_doc *d, const yaml_node_t *map, const char *key, bool required, double *out) {
  return num_as(d, map, key, key, required, out);
}

static bool flag(io_doc *d, const yaml_node_t *map, const char *key) {
  const char *t = text_of(d, map, key);
  return t && strcmp(t, "true") == 0;
}

/* {"median": .., "min": ..} at map[key]. */
static tps_status stat_of(io_doc *d, const yaml_node_t *map, const char *key, bool required,
                          kv_stat *out) {
  yaml_node_t *n = io_map_get(d, map, key);
  out->median = out->min = 0.0;
  if (!n || n->type != YAML_MAPPING_NODE) {
    if (!required) return TPS_OK;
    return io_doc_fail(d, map, TPS_EMISSINGKEY, "tp-kernel JSON: missing '%s' {median, min}", key);
  }
  char label[80];
  snprintf(label, sizeof label, "%.60s.median", key);
  tps_status st = num_as(d, n, "median", label, true, &out->median);
  snprintf(label, sizeof label, "%.60s.min", key);
  return st ? st : num_as(d, n, "min", label, true, &out->min);
}

static tps_status open_doc(io_doc *d, const char *path, const char *bench, yaml_node_t **root,
                           tps_error *err) {
  tps_status st = io_doc_load(d, path, err);
  if (st) return st;
  *root = io_doc_root(d);
  if (!*root || (*root)->type != YAML_MAPPING_NODE)
    return io_doc_fail(d, *root, TPS_ETYPE, "not a tp-kernel JSON object");
  const char *tool = text_of(d, *root, "tool");
  if (!tool || strcmp(tool, "tp-kernel") != 0)
    return io_doc_fail(d, *root, TPS_ETYPE, "not tp-kernel output (\"tool\" is not \"tp-kernel\")");
  const char *b = text_of(d, *root, "bench");
  if ((bench == NULL) != (b == NULL) || (bench && strcmp(bench, b) != 0))
    return io_doc_fail(d, *root, TPS_ETYPE, "expected tp-kernel %s%s output", bench ? "--bench " : "a layer run",
                        bench ? bench : "");
  return TPS_OK;
}

/* Integer at map[key] (0 when missing), checked as num(). */
static tps_status inum(io_doc *d, const yaml_node_t *map, const char *key, int64_t *out) {
  double v = 0.0;
  tps_status st = num(d, map, key, false, &v);
  *out = (int64_t)v;
  return st;
}

tps_status kv_kernel_run_load(const char *path, kv_kernel_run *out, tps_error *err) {
  memset(out, 0, sizeof *out);
  io_doc d;
  yaml_node_t *root = NULL;
  tps_status st = open_doc(&d, path, NULL, &root, err);
  if (st) goto done;
  yaml_node_t *cfg = io_map_get(&d, root, "config"), *mach = io_map_get(&d, root, "machine");
  if (!cfg || cfg->type != YAML_MAPPING_NODE) {
    st = io_doc_fail(&d, root, TPS_EMISSINGKEY, "tp-kernel JSON: missing 'config'");
    goto done;
  }
  double tp = 0;
  if ((st = num(&d, cfg, "tp", true, &tp))) goto done;
  if (tp > 65536) {
    st = io_doc_fail(&d, cfg, TPS_ERANGE, "tp-kernel JSON: config tp %.0f is out of range", tp);
    goto done;
  }
  out->tp = (int)tp;
  out->sp = flag(&d, cfg, "sp");
  double cp = 1;
  if ((st = num(&d, cfg, "cp", false, &cp))) goto done;
  if (cp > 65536) {
    st = io_doc_fail(&d, cfg, TPS_ERANGE, "tp-kernel JSON: config cp %.0f is out of range", cp);
    goto done;
  }
  out->cp = cp >= 1 ? (int)cp : 1;
  const char *cp_algo = text_of(&d, cfg, "cp_algo");
  out->ulysses = out->cp > 1 && cp_algo && strcmp(cp_algo, "ulysses") == 0;
  if ((st = inum(&d, cfg, "hidden", &out->hidden)) || (st = inum(&d, cfg, "heads", &out->heads)) ||
      (st = inum(&d, cfg, "kv_heads", &out->kv_heads)) || (st = inum(&d, cfg, "head_dim", &out->head_dim)) ||
      (st = inum(&d, cfg, "ffn", &out->ffn)) || (st = inum(&d, cfg, "seq_len", &out->seq)) ||
      (st = inum(&d, cfg, "micro_batch", &out->micro_batch)) || (st = inum(&d, cfg, "layers", &out->layers)))
    goto done;
  const int64_t shape[] = {out->hidden, out->heads, out->kv_heads, out->head_dim, out->ffn, out->seq,
                           out->micro_batch, out->layers};
  for (size_t i = 0; i < sizeof shape / sizeof shape[0]; i++)
    if (shape[i] > INT64_C(1000000000)) {
      st = io_doc_fail(&d, cfg, TPS_ERANGE, "tp-kernel JSON: config has a size above 10^9 (%lld)", (long long)shape[i]);
      goto done;
    }
  const char *mlp = text_of(&d, cfg, "mlp"), *norm = text_of(&d, cfg, "norm");
  out->swiglu = mlp && strcmp(mlp, "swiglu") == 0;
  out->rmsnorm = norm && strcmp(norm, "rmsnorm") == 0;
  if (out->tp < 1 || out->hidden < 1 || out->heads < 1 || out->seq < 1 || out->layers < 1) {
    st = io_doc_fail(&d, cfg, TPS_ERANGE, "tp-kernel JSON: config lacks tp, hidden, heads, seq_len or layers");
    goto done;
  }
  if (out->kv_heads < 1) out->kv_heads = out->heads;
  if (out->micro_batch < 1) out->micro_batch = 1;
  yaml_node_t *moe = io_map_get(&d, root, "moe");
  if (moe && moe->type == YAML_MAPPING_NODE) { /* tp-kernel --experts: TP 1, CP x DP ranks, EP over them */
    int64_t ep = 0, dp = 0;
    if ((st = inum(&d, moe, "experts", &out->experts)) || (st = inum(&d, moe, "topk", &out->topk)) ||
        (st = inum(&d, moe, "moe_ffn", &out->moe_ffn)) || (st = inum(&d, moe, "ep", &ep)) ||
        (st = inum(&d, moe, "dp", &dp)))
      goto done;
    /* dp first: the rank count is formed only from bounded factors */
    const int64_t ranks = dp >= 1 && dp <= 65536 ? dp * (out->cp > 1 ? out->cp : 1) : 0;
    if (out->tp != 1 || out->experts < 1 || out->topk < 1 || out->topk > out->experts || out->moe_ffn < 1 ||
        ep < 1 || dp < 1 || dp > 65536 || ranks < ep || ranks % ep != 0 || out->experts % ep != 0 ||
        out->experts > 1000000000 || out->moe_ffn > INT64_C(1000000000)) {
      st = io_doc_fail(&d, moe, TPS_ERANGE,
                       "tp-kernel JSON: moe has experts %lld, topk %lld, moe_ffn %lld, ep %lld, dp %lld "
                       "(config tp %d, cp %d): not an MoE run tp-kernel makes",
                       (long long)out->experts, (long long)out->topk, (long long)out->moe_ffn, (long long)ep,
                       (long long)dp, out->tp, out->cp);
      goto done;
    }
    out->ep = (int)ep;
    out->dp = (int)dp;
  }
  if (mach && mach->type == YAML_MAPPING_NODE) {
    out->oversubscribed = flag(&d, mach, "oversubscribed");
    int64_t cpus = 0;
    if ((st = inum(&d, mach, "cpus_online", &cpus))) goto done;
    out->cpus = cpus > 1000000 ? 1000000 : (int)cpus;
  }
  if ((st = stat_of(&d, root, "step_time_s", true, &out->step))) goto done;
  if (!(out->step.median > 0)) {
    st = io_doc_fail(&d, root, TPS_ERANGE, "tp-kernel JSON: step_time_s median is %g s, not a positive time",
                     out->step.median);
    goto done;
  }
  yaml_node_t *samples = io_map_get(&d, root, "step_time_samples_s");
  if (samples && samples->type == YAML_SEQUENCE_NODE) {
    int n = io_seq_len(samples);
    for (int i = 0; i < n && out->n_samples < KV_MAX_SAMPLES; i++) {
      yaml_node_t *s = io_seq_at(&d, samples, i);
      if (!s || s->type != YAML_SCALAR_NODE) continue;
      const char *t = (const char *)s->data.scalar.value;
      char *end = NULL;
      double v = strtod(t, &end);
      if (end == t || *end || !isfinite(v) || v < 0 || v > KV_JSON_MAX) {
        st = io_doc_fail(&d, s, TPS_ERANGE, "tp-kernel JSON: step_time_samples_s[%d] is %.40s, not a time", i, t);
        goto done;
      }
      out->samples[out->n_samples++] = v;
    }
  }
  yaml_node_t *ops = io_map_get(&d, root, "ops");
  if (!ops || ops->type != YAML_SEQUENCE_NODE) {
    st = io_doc_fail(&d, root, TPS_EMISSINGKEY, "tp-kernel JSON: missing 'ops' list");
    goto done;
  }
  int nops = io_seq_len(ops);
  if (nops > KV_OPS_MAX) {
    st = io_doc_fail(&d, ops, TPS_ERANGE, "tp-kernel JSON: %d ops, at most %d", nops, KV_OPS_MAX);
    goto done;
  }
  for (int i = 0; i < nops; i++) {
    yaml_node_t *o = io_seq_at(&d, ops, i);
    kv_meas_op *m = &out->ops[out->n_ops++];
    const char *name = o && o->type == YAML_MAPPING_NODE ? text_of(&d, o, "name") : NULL;
    const char *kind = name ? text_of(&d, o, "kind") : NULL;
    if (!name || !kind) {
      st = io_doc_fail(&d, o ? o : ops, TPS_EMISSINGKEY, "tp-kernel JSON: op %d lacks name or kind", i);
      goto done;
    }
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->kind, sizeof m->kind, "%s", kind);
    if ((st = stat_of(&d, o, "fwd_s", true, &m->fwd)) || (st = stat_of(&d, o, "bwd_s", true, &m->bwd)))
      goto done;
    m->has_regather = io_map_get(&d, o, "bwd_regather_s") != NULL;
    if ((st = stat_of(&d, o, "bwd_regather_s", false, &m->regather))) goto done;
    if ((st = num(&d, o, "fwd_flops", false, &m->fwd_flops)) || (st = num(&d, o, "bwd_flops", false, &m->bwd_flops)) ||
        (st = num(&d, o, "fwd_bytes", false, &m->fwd_bytes)) || (st = num(&d, o, "bwd_bytes", false, &m->bwd_bytes)) ||
        (st = num(&d, o, "coll_bytes", false, &m->coll_bytes)))
      goto done;
    if ((st = inum(&d, o, "group", &m->group))) goto done;
  }
  yaml_node_t *mem = io_map_get(&d, root, "memory");
  if (mem && mem->type == YAML_MAPPING_NODE) {
    if ((st = num(&d, mem, "lowering_saved_bytes_per_layer", false, &out->lowering_saved_per_layer))) goto done;
    yaml_node_t *ranks = io_map_get(&d, mem, "ranks");
    int nr = ranks && ranks->type == YAML_SEQUENCE_NODE ? io_seq_len(ranks) : 0;
    for (int i = 0; i < nr; i++) {
      yaml_node_t *r = io_seq_at(&d, ranks, i);
      if (!r || r->type != YAML_MAPPING_NODE) continue;
      yaml_node_t *b = io_map_get(&d, r, "buffers_bytes");
      double v[7] = {0};
      if ((st = num(&d, r, "vmhwm_bytes", false, &v[0])) || (st = num(&d, r, "vmrss_start_bytes", false, &v[1])))
        goto done;
      if (b && b->type == YAML_MAPPING_NODE &&
          ((st = num(&d, b, "weights", false, &v[2])) || (st = num(&d, b, "grads", false, &v[3])) ||
           (st = num(&d, b, "saved", false, &v[4])) || (st = num(&d, b, "scratch", false, &v[5])) ||
           (st = num(&d, b, "total", false, &v[6]))))
        goto done;
      double *dst[7] = {&out->vmhwm, &out->vmrss_start, &out->buf_weights, &out->buf_grads,
                        &out->buf_saved, &out->buf_scratch, &out->buf_total};
      for (int j = 0; j < 7; j++)
        if (isfinite(v[j]) && v[j] > *dst[j]) *dst[j] = v[j];
    }
  }
done:
  io_doc_free(&d);
  return st;
}

tps_status kv_gemm_bench_load(const char *path, kv_gemm_bench *out, tps_error *err) {
  memset(out, 0, sizeof *out);
  io_doc d;
  yaml_node_t *root = NULL;
  tps_status st = open_doc(&d, path, "gemm", &root, err);
  if (st) goto done;
  int64_t ranks = 0;
  if ((st = inum(&d, root, "ranks", &ranks))) goto done;
  out->ranks = ranks > 65536 ? 65536 : (int)ranks;
  out->oversubscribed = flag(&d, root, "oversubscribed");
  if ((st = stat_of(&d, root, "overhead_s", true, &out->overhead))) goto done;
  yaml_node_t *rows = io_map_get(&d, root, "rows");
  int n = rows && rows->type == YAML_SEQUENCE_NODE ? io_seq_len(rows) : 0;
  if (n < 1 || n > KV_GEMM_MAX) {
    st = io_doc_fail(&d, root, TPS_ERANGE, "tp-kernel --bench gemm: need 1..%d rows, got %d", KV_GEMM_MAX, n);
    goto done;
  }
  for (int i = 0; i < n; i++) {
    yaml_node_t *r = io_seq_at(&d, rows, i);
    if ((st = num(&d, r, "flops", true, &out->flops[i])) || (st = stat_of(&d, r, "fwd_s", true, &out->fwd[i])) ||
        (st = stat_of(&d, r, "dgrad_s", true, &out->dgrad[i])) || (st = stat_of(&d, r, "wgrad_s", true, &out->wgrad[i])))
      goto done;
    out->n++;
  }
done:
  io_doc_free(&d);
  return st;
}

tps_status kv_coll_bench_load(const char *path, kv_coll_bench *out, tps_error *err) {
  memset(out, 0, sizeof *out);
  io_doc d;
  yaml_node_t *root = NULL;
  tps_status st = open_doc(&d, path, "collectives", &root, err);
  if (st) goto done;
  int64_t ranks = 0;
  if ((st = inum(&d, root, "ranks", &ranks))) goto done;
  out->ranks = ranks > 65536 ? 65536 : (int)ranks;
  out->oversubscribed = flag(&d, root, "oversubscribed");
  yaml_node_t *rows = io_map_get(&d, root, "rows");
  int n = rows && rows->type == YAML_SEQUENCE_NODE ? io_seq_len(rows) : 0;
  if (n < 1 || n > KV_COLL_MAX || out->ranks < 2) {
    st = io_doc_fail(&d, root, TPS_ERANGE, "tp-kernel --bench collectives: need >= 2 ranks and 1..%d rows", KV_COLL_MAX);
    goto done;
  }
  for (int i = 0; i < n; i++) {
    yaml_node_t *r = io_seq_at(&d, rows, i);
    if ((st = num(&d, r, "bytes", true, &out->bytes[i])) ||
        (st = stat_of(&d, r, "all_reduce_s", true, &out->all_reduce[i])) ||
        (st = stat_of(&d, r, "reduce_scatter_s", true, &out->reduce_scatter[i])) ||
        (st = stat_of(&d, r, "all_gather_s", true, &out->all_gather[i])))
      goto done;
    out->n++;
  }
done:
  io_doc_free(&d);
  return st;
}
