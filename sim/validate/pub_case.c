/* Reading one published case (see pub_case.h). Typed values go through the
 * sim/io readers with a scratch error, whose message becomes the skip
 * reason; free text goes through the rules of pub_rules.c. */
#include "validate/pub_case.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "validate/pub_rules.h"

/* Upper bounds for counts in a case: large enough for any published run,
 * small enough that the engine's plan stays small. */
#define MAX_LAYERS 10000
#define MAX_WIDTH 10000000
#define MAX_HEADS 100000
#define MAX_VOCAB 100000000
#define MAX_TOKENS 100000000
#define MAX_PARALLEL 1000000
#define MAX_BATCH 1000000000
/* Measured values accepted, in the key's unit. */
#define MEASURED_MIN 1e-9
#define MEASURED_MAX 1e15

static bool skipping(const pub_case *c) { return c->skip[0] != '\0'; }

/* Sets the skip reason unless one is set; adds the node's line. */
static void skip_at(pub_case *c, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void skip_at(pub_case *c, const yaml_node_t *at, const char *fmt, ...) {
  if (skipping(c)) return;
  char msg[VALIDATE_WHY_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (at)
    snprintf(c->skip, sizeof c->skip, "%.400s (line %d)", msg, io_node_line(at));
  else
    snprintf(c->skip, sizeof c->skip, "%s", msg);
}

/* Sets the skip reason from the error a sim/io reader wrote. */
static void skip_from(pub_case *c, const tps_error *e) {
  if (skipping(c)) return;
  if (e->line > 0)
    snprintf(c->skip, sizeof c->skip, "%.400s (line %d)", e->msg, e->line);
  else
    snprintf(c->skip, sizeof c->skip, "%s", e->msg);
}

/* True for an absent node or YAML null (~, null, or nothing). */
static bool is_null(const yaml_node_t *n) {
  if (!n) return true;
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
  const char *s = (const char *)n->data.scalar.value;
  return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
         strcmp(s, "NULL") == 0;
}

/* Text of a scalar node; NULL for null, absent or a collection. */
static const char *text_of(const yaml_node_t *n) {
  if (is_null(n) || n->type != YAML_SCALAR_NODE) return NULL;
  return (const char *)n->data.scalar.value;
}

/* An optional integer at SEC.KEY in [min, max]: 0 when absent or null, 1 when
 * read into *out, -1 when bad (skip set). */
static int read_int(io_doc *d, const yaml_node_t *map, const char *sec, const char *key,
                    int64_t min, int64_t max, pub_case *c, int64_t *out) {
  yaml_node_t *n = io_map_get(d, map, key);
  if (is_null(n)) return 0;
  char what[96];
  snprintf(what, sizeof what, "'%s.%s'", sec, key);
  if (io_node_int(d, n, what, min, max, out) != TPS_OK) {
    skip_from(c, d->err);
    return -1;
  }
  return 1;
}

/* A required integer: "SEC.KEY not given" when absent or null. */
static void need_int(io_doc *d, const yaml_node_t *map, const char *sec, const char *key,
                     int64_t min, int64_t max, pub_case *c, int64_t *out) {
  if (skipping(c)) return;
  if (read_int(d, map, sec, key, min, max, c, out) == 0)
    skip_at(c, NULL, "%s.%s not given", sec, key);
}

/* An optional boolean into *out (-1 absent or null, 0, 1); skip when bad. */
static void read_bool(io_doc *d, const yaml_node_t *map, const char *sec, const char *key,
                      pub_case *c, int *out) {
  yaml_node_t *n = io_map_get(d, map, key);
  if (is_null(n) || skipping(c)) return;
  char what[96];
  snprintf(what, sizeof what, "'%s.%s'", sec, key);
  bool v;
  if (io_node_bool(d, n, what, &v) != TPS_OK) {
    skip_from(c, d->err);
    return;
  }
  *out = v ? 1 : 0;
}

/* Copies a scalar's text into buf (cut to size); false when there is none. */
static bool copy_text(const yaml_node_t *n, char *buf, size_t size) {
  const char *s = text_of(n);
  if (!s || !*s) return false;
  snprintf(buf, size, "%s", s);
  return true;
}

/* The earliest year named by `source` (a string or a mapping of strings). */
static int source_year(io_doc *d, const yaml_node_t *src) {
  if (!src) return 0;
  if (src->type == YAML_SCALAR_NODE) return pub_year_in(text_of(src));
  if (src->type != YAML_MAPPING_NODE) return 0;
  int best = 0;
  for (yaml_node_pair_t *p = src->data.mapping.pairs.start; p < src->data.mapping.pairs.top; p++) {
    int y = pub_year_in(text_of(yaml_document_get_node(&d->doc, p->value)));
    if (y && (!best || y < best)) best = y;
  }
  return best;
}

static void read_model(io_doc *d, const yaml_node_t *map, pub_case *c) {
  yaml_node_t *model = io_map_get(d, map, "model");
  bool profile = c->model_profile[0] != '\0';
  if (is_null(model)) {
    if (!profile) skip_at(c, NULL, "model not given");
    return;
  }
  if (model->type != YAML_MAPPING_NODE) {
    skip_at(c, model, "model must be a mapping");
    return;
  }
  int64_t seq = 0;
  if (read_int(d, model, "model", "seq_len", 1, MAX_TOKENS, c, &seq) > 0) c->seq_len = seq;
  if (profile || skipping(c)) return;
  yaml_node_t *vision = io_map_get(d, model, "vision_encoder");
  if (!is_null(vision)) {
    skip_at(c, vision,
            "model has a vision_encoder, which an inline case cannot describe; name a bundled "
            "model with model_profile:");
    return;
  }
  tps_module *m = &c->module;
  memset(m, 0, sizeof *m);
  snprintf(m->name, sizeof m->name, "decoder");
  m->type = TPS_MODULE_DECODER;
  need_int(d, model, "model", "layers", 1, MAX_LAYERS, c, &m->layers);
  need_int(d, model, "model", "hidden", 1, MAX_WIDTH, c, &m->hidden);
  need_int(d, model, "model", "heads", 1, MAX_HEADS, c, &m->heads);
  if (!skipping(c) && read_int(d, model, "model", "kv_heads", 1, MAX_HEADS, c, &m->kv_heads) == 0)
    m->kv_heads = m->heads;
  if (!skipping(c)) read_int(d, model, "model", "head_dim", 1, MAX_WIDTH, c, &m->head_dim);
  if (!skipping(c))
    read_int(d, model, "model", "sliding_window", 1, MAX_WIDTH, c, &m->sliding_window);
  need_int(d, model, "model", "ffn", 1, MAX_WIDTH, c, &m->ffn);
  need_int(d, model, "model", "vocab", 1, MAX_VOCAB, c, &m->vocab);
  if (!skipping(c) && c->seq_len == 0) skip_at(c, NULL, "model.seq_len not given");
  if (skipping(c)) return;
  if (m->heads % m->kv_heads != 0) {
    skip_at(c, io_map_get(d, model, "kv_heads"),
            "model.kv_heads (%" PRId64 ") does not divide model.heads (%" PRId64 ")", m->kv_heads,
            m->heads);
    return;
  }
  if (m->head_dim == 0) {
    if (m->hidden % m->heads != 0) {
      skip_at(c, io_map_get(d, model, "heads"),
              "model.heads (%" PRId64 ") does not divide model.hidden (%" PRId64
              ") and no head_dim is given",
              m->heads, m->hidden);
      return;
    }
    m->head_dim = m->hidden / m->heads;
  }
  const char *arch = text_of(io_map_get(d, model, "arch"));
  if (!arch) {
    skip_at(c, NULL, "model.arch not given (the architecture rule reads it)");
    return;
  }
  char why[256];
  if (!pub_arch_apply(arch, c->seq_len, m, why, sizeof why))
    skip_at(c, io_map_get(d, model, "arch"), "%s", why);
}

/* Expert parallelism: parallel.ep (and parallel.etp) into the run; the
 * engine refuses them for a case whose model has no experts. */
static void read_ep(io_doc *d, const yaml_node_t *par, pub_case *c) {
  tps_run_overrides *o = &c->over;
  if (read_int(d, par, "parallel", "ep", 1, MAX_PARALLEL, c, &o->ep) <= 0 || skipping(c)) return;
  read_int(d, par, "parallel", "etp", 1, MAX_PARALLEL, c, &o->etp);
}

/* Flash attention stated in the arch text or any text of `parallel`. */
static int flash_stated(io_doc *d, const yaml_node_t *model, const yaml_node_t *par) {
  int f = pub_flash_stated(text_of(io_map_get(d, model, "arch")));
  if (f >= 0 || !par || par->type != YAML_MAPPING_NODE) return f;
  for (yaml_node_pair_t *p = par->data.mapping.pairs.start; p < par->data.mapping.pairs.top; p++) {
    f = pub_flash_stated(text_of(yaml_document_get_node(&d->doc, p->value)));
    if (f >= 0) return f;
  }
  return -1;
}

/* Context parallelism: parallel.cp, and its algorithm from parallel.cp_algo
 * (ring | ulysses | hybrid, or MindSpeed's megatron_cp_algo /
 * ulysses_cp_algo / hybrid_cp_algo) or else any mention in parallel.other;
 * ring (Megatron's default p2p) when none is stated. The hybrid's Ulysses
 * degree is parallel.ulysses_degree. */
static void read_cp(io_doc *d, const yaml_node_t *par, pub_case *c) {
  tps_run_overrides *o = &c->over;
  if (read_int(d, par, "parallel", "cp", 1, MAX_PARALLEL, c, &o->cp) <= 0 || skipping(c)) return;
  const yaml_node_t *an = io_map_get(d, par, "cp_algo");
  const char *algo = text_of(an);
  if (!algo) algo = text_of(io_map_get(d, par, "other"));
  if (pub_text_has(algo, "hybrid")) o->cp_algo = TPS_CP_HYBRID;
  else if (pub_text_has(algo, "ulysses")) o->cp_algo = TPS_CP_ULYSSES;
  else if (!an || pub_text_has(algo, "ring") || pub_text_has(algo, "megatron_cp_algo") ||
           pub_text_has(algo, "p2p"))
    o->cp_algo = TPS_CP_RING;
  else
    skip_at(c, an, "parallel.cp_algo must name ring, ulysses or hybrid, got '%s'", algo);
  if (!skipping(c)) read_int(d, par, "parallel", "ulysses_degree", 1, MAX_PARALLEL, c,
                             &o->ulysses_degree);
}

/* parallel.cross_entropy: the run's loss implementation (megatron or te,
 * tps_cross_entropy); absent: the model's. */
static void read_cross_entropy(const yaml_node_t *par_node, io_doc *d, pub_case *c) {
  const yaml_node_t *n = io_map_get(d, par_node, "cross_entropy");
  if (is_null(n)) return;
  const char *text = text_of(n);
  for (int i = 0; text && tps_cross_entropy_names[i]; i++)
    if (strcmp(text, tps_cross_entropy_names[i]) == 0) {
      c->over.cross_entropy = i;
      return;
    }
  char got[64];
  io_node_desc(n, got, sizeof got);
  skip_at(c, n, "parallel.cross_entropy must be megatron or te, got %s", got);
}

static void read_parallel(io_doc *d, const yaml_node_t *map, pub_case *c) {
  yaml_node_t *par = io_map_get(d, map, "parallel");
  bool profile = c->model_profile[0] != '\0';
  tps_run_overrides *o = &c->over;
  if (is_null(par)) {
    if (!profile) skip_at(c, NULL, "parallel not given");
    return;
  }
  if (par->type != YAML_MAPPING_NODE) {
    skip_at(c, par, "parallel must be a mapping");
    return;
  }
  read_ep(d, par, c);
  if (profile) {
    read_int(d, par, "parallel", "tp", 1, MAX_PARALLEL, c, &o->tp);
    if (!skipping(c)) read_int(d, par, "parallel", "pp", 1, MAX_PARALLEL, c, &o->pp);
    if (!skipping(c)) read_int(d, par, "parallel", "dp", 1, MAX_PARALLEL, c, &o->dp);
    if (!skipping(c)) read_int(d, par, "parallel", "micro_batch", 1, MAX_BATCH, c, &o->micro_batch);
    if (!skipping(c)) read_int(d, par, "parallel", "global_batch", 1, MAX_BATCH, c, &o->global_batch);
  } else {
    need_int(d, par, "parallel", "tp", 1, MAX_PARALLEL, c, &o->tp);
    need_int(d, par, "parallel", "pp", 1, MAX_PARALLEL, c, &o->pp);
    need_int(d, par, "parallel", "dp", 1, MAX_PARALLEL, c, &o->dp);
    need_int(d, par, "parallel", "micro_batch", 1, MAX_BATCH, c, &o->micro_batch);
    need_int(d, par, "parallel", "global_batch", 1, MAX_BATCH, c, &o->global_batch);
  }
  if (!skipping(c)) read_int(d, par, "parallel", "vpp", 1, MAX_PARALLEL, c, &o->vpp);
  if (!skipping(c)) read_cp(d, par, c);
  read_bool(d, par, "parallel", "sp", c, &o->sp);
  read_bool(d, par, "parallel", "distributed_optimizer", c, &o->distributed_optimizer);
  read_bool(d, par, "parallel", "overlap_grad_reduce", c, &o->overlap_grad_reduce);
  read_bool(d, par, "parallel", "tp_comm_overlap", c, &o->tp_comm_overlap);
  read_bool(d, par, "parallel", "grad_reduce_bf16", c, &o->grad_reduce_bf16);
  read_bool(d, par, "parallel", "overlap_param_gather", c, &o->overlap_param_gather);
  read_bool(d, par, "parallel", "reuse_fp32_param", c, &o->reuse_fp32_param);
  read_bool(d, par, "parallel", "recompute_activation", c, &o->recompute_activation);
  read_bool(d, par, "parallel", "flash_attention", c, &c->flash);
  if (!skipping(c)) read_cross_entropy(par, d, c);
  if (skipping(c)) return;
  yaml_node_t *rn = io_map_get(d, par, "recompute");
  if (!is_null(rn)) {
    tps_recompute r;
    const char *text = text_of(rn);
    if (!pub_recompute(text, &r)) {
      char got[64];
      io_node_desc(rn, got, sizeof got);
      skip_at(c, rn, "parallel.recompute must start with none, selective or full, got %s", got);
      return;
    }
    o->recompute = (int)r;
  }
  /* Sharding parameters and gradients over DP (ZeRO-3, FSDP) is not the
   * distributed optimizer (which shards optimizer state only): refused. */
  const yaml_node_t *impl = io_map_get(d, par, "dp_impl");
  const char *impl_text = text_of(impl);
  if (!skipping(c) && (pub_text_has(impl_text, "fsdp") || pub_text_has(impl_text, "zero-3") ||
                       pub_text_has(impl_text, "zero-dp stage 3") ||
                       pub_text_has(impl_text, "stage 3")))
    skip_at(c, impl, "parameter and gradient sharding (ZeRO-3 / FSDP, parallel.dp_impl) is not "
                     "modelled");
  if (o->overlap_grad_reduce < 0 && pub_text_has(impl_text, "overlap-grad-reduce"))
    o->overlap_grad_reduce = 1;
  if (o->overlap_grad_reduce < 0 && pub_text_has(impl_text, "overlap") &&
      !pub_text_has(impl_text, "tp-comm-overlap"))
    o->overlap_grad_reduce = 1;
  if (o->tp_comm_overlap < 0 && pub_text_has(impl_text, "tp-comm-overlap"))
    o->tp_comm_overlap = 1;
  if (o->overlap_param_gather < 0 && pub_text_has(impl_text, "overlap-param-gather"))
    o->overlap_param_gather = 1;
}

static void read_hardware(io_doc *d, const yaml_node_t *map, pub_case *c) {
  yaml_node_t *hw = io_map_get(d, map, "hardware");
  if (!copy_text(io_map_get(d, map, "profile"), c->profile, sizeof c->profile) && hw &&
      hw->type == YAML_MAPPING_NODE)
    copy_text(io_map_get(d, hw, "profile"), c->profile, sizeof c->profile);
  if (!copy_text(io_map_get(d, map, "stack"), c->stack, sizeof c->stack) && hw &&
      hw->type == YAML_MAPPING_NODE)
    copy_text(io_map_get(d, hw, "stack"), c->stack, sizeof c->stack);
  if (is_null(hw)) return;
  if (hw->type != YAML_MAPPING_NODE) {
    skip_at(c, hw, "hardware must be a mapping");
    return;
  }
  copy_text(io_map_get(d, hw, "device"), c->device, sizeof c->device);
  int64_t count = 0;
  if (read_int(d, hw, "hardware", "count", 1, MAX_BATCH, c, &count) <= 0) return;
  const tps_run_overrides *o = &c->over;
  if (c->model_profile[0]) {
    c->over.cards = count;
  } else if (o->tp > 0 && o->pp > 0 && o->dp > 0 &&
             count != o->tp * o->pp * o->dp * (o->cp > 1 ? o->cp : 1)) {
    if (o->cp > 1)
      skip_at(c, io_map_get(d, hw, "count"),
              "hardware.count %" PRId64 " is not tp x cp x pp x dp = %" PRId64 " x %" PRId64
              " x %" PRId64 " x %" PRId64 " = %" PRId64,
              count, o->tp, o->cp, o->pp, o->dp, o->tp * o->cp * o->pp * o->dp);
    else
      skip_at(c, io_map_get(d, hw, "count"),
              "hardware.count %" PRId64 " is not tp x pp x dp = %" PRId64 " x %" PRId64
              " x %" PRId64 " = %" PRId64,
              count, o->tp, o->pp, o->dp, o->tp * o->pp * o->dp);
  }
}

/* Leading number of a text such as "62.3 of 80" or "62.3/80 GiB". */
static bool leading_number(const char *s, double *out) {
  if (!s || !((*s >= '0' && *s <= '9') || *s == '.')) return false;
  char *end = NULL;
  double v = strtod(s, &end);
  if (end == s) return false;
  *out = v;
  return true;
}

static void read_measured(io_doc *d, const yaml_node_t *map, pub_case *c) {
  yaml_node_t *meas = io_map_get(d, map, "measured");
  if (is_null(meas)) return;
  if (meas->type != YAML_MAPPING_NODE) {
    skip_at(c, meas, "measured must be a mapping");
    return;
  }
  for (yaml_node_pair_t *p = meas->data.mapping.pairs.start; p < meas->data.mapping.pairs.top;
       p++) {
    const char *key = text_of(yaml_document_get_node(&d->doc, p->key));
    const pub_metric *m = pub_metric_find(key);
    if (!m) {
      size_t used = strlen(c->ignored);
      if (key && used + strlen(key) + 8 < sizeof c->ignored)
        snprintf(c->ignored + used, sizeof c->ignored - used, "%s%s", used ? ", " : "", key);
      else if (key && used + 6 < sizeof c->ignored && !strstr(c->ignored, "..."))
        snprintf(c->ignored + used, sizeof c->ignored - used, "%s...", used ? ", " : "");
      continue;
    }
    yaml_node_t *vn = yaml_document_get_node(&d->doc, p->value);
    if (is_null(vn)) continue; /* not measured */
    char what[96];
    snprintf(what, sizeof what, "'measured.%s'", key);
    double v = 0.0;
    bool ok = m->quantity == PUB_Q_MEMORY && strcmp(key, "memory_gib_used_of_total") == 0
                  ? leading_number(text_of(vn), &v)
                  : io_node_number(d, vn, what, 0.0, 1e300, &v) == TPS_OK;
    if (!ok || !(v >= MEASURED_MIN && v <= MEASURED_MAX)) {
      char got[64];
      io_node_desc(vn, got, sizeof got);
      skip_at(c, vn, "%s must be a number from %g to %g, got %s", what, MEASURED_MIN, MEASURED_MAX,
              got);
      return;
    }
    if (c->n_measured == PUB_MAX_MEASURED) {
      skip_at(c, vn, "more than %d measured values", PUB_MAX_MEASURED);
      return;
    }
    c->measured[c->n_measured++] = (pub_measured){.metric = m, .value = v};
  }
}

/* Marks measured values that an entry of `uncertain:` names: the entry's
 * first word is a prefix of "measured.KEY" ("measured.memory" marks
 * memory_gb_per_card; "measured.*" and "measured" mark all). */
static void read_uncertain(io_doc *d, const yaml_node_t *map, pub_case *c) {
  yaml_node_t *list = io_map_get(d, map, "uncertain");
  int n = io_seq_len(list);
  for (int i = 0; i < n; i++) {
    const char *s = text_of(io_seq_at(d, list, i));
    if (!s) continue;
    char word[96];
    size_t len = 0;
    while (s[len] && s[len] != ' ' && s[len] != '(' && len + 1 < sizeof word) {
      word[len] = s[len];
      len++;
    }
    word[len] = '\0';
    if (len > 0 && word[len - 1] == '*') word[--len] = '\0';
    if (strncmp(word, "measured", 8) != 0) continue;
    for (int k = 0; k < c->n_measured; k++) {
      char full[96];
      snprintf(full, sizeof full, "measured.%s", c->measured[k].metric->key);
      if (strncmp(full, word, len) == 0) c->measured[k].uncertain = true;
    }
  }
}

static void read_case(io_doc *d, const yaml_node_t *map, int index, pub_case *c) {
  if (!map || map->type != YAML_MAPPING_NODE) {
    skip_at(c, map, "case %d is not a mapping", index + 1);
    return;
  }
  copy_text(io_map_get(d, map, "id"), c->id, sizeof c->id);
  copy_text(io_map_get(d, map, "group"), c->group, sizeof c->group);
  /* A key the format does not have is not silently dropped: a seq_len
   * written beside model: instead of inside it would change nothing. */
  static const char *const case_keys[] = {
      "id",       "group",     "source",   "year",      "model_profile",  "profile",
      "model",    "parallel",  "hardware", "precision", "measured",       "uncertain",
      "memory_reading", "notes", "derived", "stack"};
  const int n_case_keys = (int)(sizeof case_keys / sizeof case_keys[0]);
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *kn = yaml_document_get_node(&d->doc, p->key);
    if (!kn || kn->type != YAML_SCALAR_NODE) continue;
    const char *key = (const char *)kn->data.scalar.value;
    bool known = false;
    for (int i = 0; i < n_case_keys && !known; i++) known = strcmp(key, case_keys[i]) == 0;
    if (known) continue;
    const char *close = tps_did_you_mean(key, case_keys, n_case_keys);
    skip_at(c, kn, "unknown case key '%.60s'%s%s%s (model keys go under model:, run keys under "
                   "parallel:)",
            key, close ? " (did you mean '" : "", close ? close : "", close ? "'?)" : "");
    return;
  }
  int64_t year = 0;
  if (read_int(d, map, "case", "year", 1900, 2100, c, &year) > 0)
    c->year = (int)year;
  else
    c->year = source_year(d, io_map_get(d, map, "source"));
  copy_text(io_map_get(d, map, "model_profile"), c->model_profile, sizeof c->model_profile);
  read_model(d, map, c);
  read_parallel(d, map, c);
  if (c->flash < 0)
    c->flash = flash_stated(d, io_map_get(d, map, "model"), io_map_get(d, map, "parallel"));
  read_hardware(d, map, c);
  const yaml_node_t *prec_node = io_map_get(d, map, "precision");
  const char *prec = text_of(prec_node);
  c->precision = pub_precision(prec, c->year, &c->precision_explicit);
  /* FP8 (Transformer Engine): NeMo's and Megatron-Bridge's FP8 recipes run
   * the hybrid format with delayed scaling over an amax history of 1024
   * (NeMo megatron_gpt_config.yaml: fp8_hybrid, fp8_amax_history_len 1024;
   * Megatron-LM's examples/llama/train_llama3_8b_h100_fp8.sh the same).
   * Weights and activations stay in the precision read above (bf16). */
  if (!skipping(c) && pub_text_has(prec, "fp8")) {
    c->over.fp8 = pub_text_has(prec, "e4m3") ? TPS_FP8_E4M3 : TPS_FP8_HYBRID;
    c->over.fp8_amax_history = 1024;
  }
  read_measured(d, map, c);
  read_uncertain(d, map, c);
  const yaml_node_t *mr = io_map_get(d, map, "memory_reading");
  if (mr && !skipping(c)) {
    static const char *const readings[] = {"device", "reserved", "allocated", NULL};
    const char *t = text_of(mr);
    int k = -1;
    for (int i = 0; t && readings[i] && k < 0; i++)
      if (strcmp(t, readings[i]) == 0) k = i;
    if (k < 0)
      skip_at(c, mr, "memory_reading must be device, reserved or allocated, got '%.40s'",
              t ? t : "");
    else
      c->memory_reading = (tps_memory_reading)k;
  }
}

void pub_case_read(io_doc *d, const yaml_node_t *node, int index, pub_case *c) {
  memset(c, 0, sizeof *c);
  tps_run_overrides_init(&c->over);
  c->flash = -1;
  c->line = io_node_line(node);
  snprintf(c->id, sizeof c->id, "case %d", index + 1);
  snprintf(c->group, sizeof c->group, "(no group)");
  tps_error scratch, *saved = d->err;
  tps_error_clear(&scratch);
  d->err = &scratch;
  read_case(d, node, index, c);
  d->err = saved;
}

void pub_case_overrides(const pub_case *c, bool profile_model, tps_run_overrides *out) {
  *out = c->over;
  if (c->seq_len > 0) out->seq_len = c->seq_len;
  if (profile_model) {
    if (c->precision_explicit) out->precision = (int)c->precision;
    if (c->flash >= 0) out->flash_attention = c->flash;
    return;
  }
  out->precision = (int)c->precision;
  /* Megatron-LM gained flash attention (--use-flash-attn) in 2023; its 2019-2022
   * papers (Korthikanti et al. 2022 included) ran the unfused softmax. */
  out->flash_attention = c->flash >= 0 ? c->flash : (c->year > 0 && c->year < 2023 ? 0 : 1);
}
