/* The published-case validator: file-level reading (strict), then per case
 * (tolerant): model, hardware profile, run, estimate, one row per measured
 * value. See published.h and docs/validation.md. */
#include "validate/published.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/yaml_doc.h"
#include "validate/pub_case.h"
#include "validate/pub_rules.h"

#define HW_CACHE_MAX 16

/* A hardware profile loaded once per distinct path. */
typedef struct hw_entry {
  char path[PUB_PATH_MAX];
  char stack[64]; /* the case's `stack:` put in place of the profile's, or "" */
  tps_hw hw;
} hw_entry;

typedef struct pub_ctx {
  io_doc doc;
  char dir[PUB_PATH_MAX];   /* directory of the published file, for relative paths */
  const tps_hw *hw_override;
  hw_entry *hws;            /* HW_CACHE_MAX entries */
  int n_hws;
  tps_model *model;
  tps_estimate *est;
  pub_case *pc;
  validate_report *rep;
  int cap_rows;
  pub_set *set;             /* pub_set_load: ready cases go here, not to rows */
  double level;             /* predicted intervals at this level; 0: none */
  const tps_model_errors *errors; /* model-error terms, or NULL */
  tps_uncertainty *unc;     /* scratch for one case's intervals */
} pub_ctx;

/* ---- rows ---- */

static validate_row *add_row(pub_ctx *x, const pub_case *c) {
  validate_report *rep = x->rep;
  if (rep->n_rows == x->cap_rows) {
    int cap = x->cap_rows ? 2 * x->cap_rows : 32;
    validate_row *rows = realloc(rep->rows, (size_t)cap * sizeof *rows);
    if (!rows) return NULL;
    rep->rows = rows;
    x->cap_rows = cap;
  }
  validate_row *row = &rep->rows[rep->n_rows++];
  memset(row, 0, sizeof *row);
  memcpy(row->id, c->id, sizeof row->id);
  memcpy(row->group, c->group, sizeof row->group);
  return row;
}

/* Adds a skipped row: "why" (printf-style). */
static tps_status skip_case(pub_ctx *x, const pub_case *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static tps_status skip_case(pub_ctx *x, const pub_case *c, const char *fmt, ...) {
  validate_row *row = add_row(x, c);
  if (!row) return TPS_ENOMEM;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(row->skipped, sizeof row->skipped, fmt, ap);
  va_end(ap);
  x->rep->n_skipped++;
  return TPS_OK;
}

/* ---- data files ---- */

/* tps_data_find, then (for a relative path) the same path beside the
 * published file. */
static tps_status find_data(const pub_ctx *x, const char *kind, const char *name, char *out,
                            size_t size, tps_error *err) {
  tps_status st = tps_data_find(kind, name, out, size, err);
  if (st != TPS_ENOTFOUND || name[0] == '/' || !x->dir[0]) return st;
  char beside[2 * PUB_PATH_MAX];
  snprintf(beside, sizeof beside, "%s/%s", x->dir, name);
  tps_error err2;
  if (tps_data_find(kind, beside, out, size, &err2) == TPS_OK) {
    tps_error_clear(err);
    return TPS_OK;
  }
  return st;
}

/* "msg" or "FILE:LINE:COL: msg" of an error, for skip reasons; a reason
 * longer than buf is cut, which is all a skip reason needs. */
static void describe(const tps_error *e, char *buf, size_t size) {
  int w;
  if (e->file[0] && e->line > 0)
    w = snprintf(buf, size, "%.200s:%d:%d: %.250s", e->file, e->line, e->col, e->msg);
  else if (e->file[0])
    w = snprintf(buf, size, "%.200s: %.250s", e->file, e->msg);
  else
    w = snprintf(buf, size, "%.400s", e->msg[0] ? e->msg : tps_strerror(e->status));
  if (w < 0 && size > 0) buf[0] = '\0';
}

/* Loads (or finds loaded) the hardware profile `name` (a bundled name or a
 * path) running the software stack `stack` ("" for the profile's own); NULL
 * with why filled when it cannot. */
static const tps_hw *load_hw(pub_ctx *x, const char *name, const char *stack, char *why,
                             size_t why_size) {
  char path[PUB_PATH_MAX], stack_path[PUB_PATH_MAX];
  tps_error err;
  tps_error_clear(&err);
  if (find_data(x, "hw_profiles", name, path, sizeof path, &err) != TPS_OK) {
    char d[450];
    describe(&err, d, sizeof d);
    snprintf(why, why_size, "hardware profile '%.40s': %s", name, d);
    return NULL;
  }
  for (int i = 0; i < x->n_hws; i++)
    if (strcmp(x->hws[i].path, path) == 0 && strcmp(x->hws[i].stack, stack) == 0)
      return &x->hws[i].hw;
  /* A full cache reuses its last slot. */
  int slot = x->n_hws < HW_CACHE_MAX ? x->n_hws : HW_CACHE_MAX - 1;
  hw_entry *e = &x->hws[slot];
  e->path[0] = '\0';
  if (tps_hw_load(path, &e->hw, &err) != TPS_OK) {
    char d[450];
    describe(&err, d, sizeof d);
    snprintf(why, why_size, "hardware profile '%.40s': %s", name, d);
    return NULL;
  }
  if (stack[0] && (find_data(x, "hw_profiles/stacks", stack, stack_path, sizeof stack_path,
                             &err) != TPS_OK ||
                   tps_stack_load(stack_path, &e->hw.stack, &err) != TPS_OK)) {
    char d[450];
    describe(&err, d, sizeof d);
    snprintf(why, why_size, "stack '%.40s': %s", stack, d);
    return NULL;
  }
  snprintf(e->path, sizeof e->path, "%s", path);
  snprintf(e->stack, sizeof e->stack, "%s", stack);
  if (slot == x->n_hws) x->n_hws++;
  return &e->hw;
}

/* ---- one case ---- */

/* The inline model of a case: one decoder module with training defaults
 * (Megatron's: no SP, no distributed optimizer, no recompute, vocabulary
 * padded to a multiple of 128 x TP). */
static void inline_model(const pub_case *c, tps_model *m) {
  memset(m, 0, sizeof *m);
  snprintf(m->name, sizeof m->name, "%.63s", c->id);
  snprintf(m->source, sizeof m->source, "published case '%s' (%s)", c->id, c->group);
  m->modules[0] = c->module;
  m->n_modules = 1;
  tps_training *t = &m->training;
  t->seq_len = c->seq_len;
  t->micro_batch = 1;
  t->tp = t->pp = 1;
  t->precision = c->precision;
  t->recompute = TPS_RECOMPUTE_NONE;
  t->flash_attention = true;
  t->vocab_divisor = TPS_DEFAULT_VOCAB_DIVISOR;
}

/* The cost of the first decoder block of the plan; false if there is none. */
static bool first_block_cost(const tps_model *m, const tps_run *run, const tps_hw *hw,
                             tps_layer_cost *out, tps_error *err) {
  tps_plan plan;
  if (tps_plan_build(m, run, &plan, err) != TPS_OK) return false;
  bool found = false;
  for (int i = 0; i < plan.n_layers && !found; i++) {
    const tps_layer *l = &plan.layers[i];
    if (plan.templates[l->template_id].opts.kind == TPS_LAYER_BLOCK &&
        plan.modules[l->module].type == TPS_MODULE_DECODER) {
      tps_layer_cost_compute(&plan, i, run, hw, out);
      found = true;
    }
  }
  tps_plan_free(&plan);
  return found;
}

/* Largest element count of one op per micro-batch: tokens x the widest
 * matrix side (padded vocabulary, fused MLP, QKV). The engine counts
 * elements in int64_t, so a case above ELEMENTS_MAX is skipped, not run. */
#define ELEMENTS_MAX 1e17
static double largest_op_elements(const tps_model *m, const tps_run *run) {
  double tokens = (double)run->micro_batch * (double)run->seq_len, widest = 0.0;
  for (int i = 0; i < m->n_modules; i++) {
    const tps_module *mod = &m->modules[i];
    double w[4] = {2.0 * (double)mod->ffn, 4.0 * (double)mod->hidden,
                   (double)(mod->heads + 2 * mod->kv_heads) * (double)mod->head_dim,
                   (double)mod->vocab + (double)run->vocab_divisor * (double)run->tp};
    for (int k = 0; k < 4; k++) widest = fmax(widest, w[k]);
  }
  return tokens * widest;
}

static bool any_layer_metric(const pub_case *c) {
  for (int i = 0; i < c->n_measured; i++)
    if (pub_metric_needs_layer(c->measured[i].metric)) return true;
  return false;
}

/* A case whose model, profile and run are resolved. */
typedef struct ready_case {
  const tps_hw *hw;
  tps_run run;
} ready_case;

/* Resolves the model (into x->model), hardware profile and run of a case.
 * Returns TPS_OK with *skipped false when it can be predicted; TPS_OK with
 * *skipped true after adding its skip row; else a fatal status (ENOMEM). */
static tps_status prepare_case(pub_ctx *x, const pub_case *c, ready_case *r, bool *skipped) {
  *skipped = true;
  if (c->skip[0]) return skip_case(x, c, "%s", c->skip);
  char why[VALIDATE_WHY_MAX];
  tps_error err;
  tps_error_clear(&err);

  /* Model. */
  bool profile_model = c->model_profile[0] != '\0';
  tps_model *m = x->model;
  if (profile_model) {
    char path[PUB_PATH_MAX];
    if (find_data(x, "models", c->model_profile, path, sizeof path, &err) != TPS_OK ||
        tps_model_load(path, m, &err) != TPS_OK) {
      if (err.status == TPS_ENOMEM) return TPS_ENOMEM;
      describe(&err, why, 450);
      return skip_case(x, c, "model_profile '%.40s': %s", c->model_profile, why);
    }
  } else {
    inline_model(c, m);
  }

  /* Hardware: --hw, else profile:, else the device rule, else the bundled
   * model's default. */
  const tps_hw *hw = x->hw_override;
  if (hw && c->stack[0]) {
    /* --hw chooses the hardware; the stack stays the one that ran the case */
    hw = load_hw(x, x->hws[0].path, c->stack, why, sizeof why);
    if (!hw) return skip_case(x, c, "%s", why);
  } else if (!hw) {
    const char *name = c->profile[0] ? c->profile : pub_device_profile(c->device);
    if (!name && profile_model && m->default_hw[0]) name = m->default_hw;
    if (!name) {
      if (c->device[0]) return skip_case(x, c, "no hardware profile for '%.200s'", c->device);
      return skip_case(x, c, "hardware.device not given (and no profile:)");
    }
    hw = load_hw(x, name, c->stack, why, sizeof why);
    if (!hw) return skip_case(x, c, "%s", why);
  }

  if (c->n_measured == 0) {
    if (c->ignored[0])
      return skip_case(x, c, "no measured value tp-sim compares (given: %s)", c->ignored);
    return skip_case(x, c, "no measured value tp-sim compares");
  }

  /* Run. */
  tps_run_overrides over;
  pub_case_overrides(c, profile_model, &over);
  tps_status st = tps_run_resolve(m, &over, &r->run, &err);
  if (st == TPS_OK && largest_op_elements(m, &r->run) > ELEMENTS_MAX)
    return skip_case(x, c, "too large to evaluate: %.3g elements in one op of a micro-batch "
                     "(limit %.0e)", largest_op_elements(m, &r->run), ELEMENTS_MAX);
  if (st == TPS_ENOMEM) return st;
  if (st != TPS_OK) {
    describe(&err, why, sizeof why);
    return skip_case(x, c, "the engine cannot evaluate it: %s", why);
  }
  r->hw = hw;
  *skipped = false;
  return TPS_OK;
}

/* Predicts every measured value of a prepared case on hw: pred[i] in the
 * key's unit. TPS_OK; else why in err (a skip reason), *by_engine telling
 * whether the engine refused the run (else a metric cannot be predicted). */
static tps_status predict_values(const pub_case *c, const tps_model *m, const tps_run *run,
                                 const tps_hw *hw, tps_estimate *est, double *pred,
                                 tps_error *err, bool *by_engine) {
  tps_status st = tps_estimate_run(m, run, hw, est, err);
  *by_engine = st != TPS_OK;
  if (st != TPS_OK) return st;
  tps_layer_cost layer;
  bool have_layer = false;
  if (any_layer_metric(c)) {
    have_layer = first_block_cost(m, run, hw, &layer, err);
    if (!have_layer) {
      if (err->status == TPS_ENOMEM) return TPS_ENOMEM;
      return tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                           "no decoder block to cost for the layer metrics");
    }
  }
  for (int i = 0; i < c->n_measured; i++) {
    pred[i] = pub_metric_predict(c->measured[i].metric, est, hw, have_layer ? &layer : NULL,
                                 c->memory_reading);
    if (!isfinite(pred[i]))
      return tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                           "measured.%s cannot be predicted: profile '%s' has no peak for %s",
                           c->measured[i].metric->key, hw->name,
                           tps_precision_name(run->precision));
  }
  return TPS_OK;
}

static tps_status keep_case(pub_ctx *x, const pub_case *c, const ready_case *r);

static tps_status predict_case(pub_ctx *x, const pub_case *c) {
  ready_case r;
  bool skipped;
  tps_status st = prepare_case(x, c, &r, &skipped);
  if (st != TPS_OK || skipped) return st;
  double pred[PUB_MAX_MEASURED];
  tps_error err;
  tps_error_clear(&err);
  bool by_engine;
  st = predict_values(c, x->model, &r.run, r.hw, x->est, pred, &err, &by_engine);
  if (st == TPS_ENOMEM) return st;
  if (st != TPS_OK) {
    char why[VALIDATE_WHY_MAX];
    describe(&err, why, sizeof why);
    if (!by_engine) return skip_case(x, c, "%s", why);
    return skip_case(x, c, "the engine cannot evaluate it: %s", why);
  }
  if (x->set) return keep_case(x, c, &r);
  /* The predicted intervals (first order only: one sample is enough, the
   * sampled check is not used here). */
  bool have_unc = false, no_me = false;
  if (x->level > 0) {
    const tps_model_error *me = tps_model_error_find(x->errors, r.hw);
    tps_unc_opts uo;
    tps_unc_opts_init(&uo);
    uo.level = x->level;
    uo.samples = 1;
    uo.time_sd = me ? me->time_sd : 0.0;
    uo.memory_sd = me ? me->memory_sd : 0.0;
    no_me = !me;
    st = tps_uncertainty_run(x->model, r.hw, x->est, &uo, x->unc, &err);
    if (st == TPS_ENOMEM) return st;
    have_unc = st == TPS_OK;
  }
  /* Rows: all or none, so that a case never counts half. */
  for (int i = 0; i < c->n_measured; i++) {
    validate_row *row = add_row(x, c);
    if (!row) return TPS_ENOMEM;
    snprintf(row->metric, sizeof row->metric, "%s", c->measured[i].metric->key);
    snprintf(row->hw, sizeof row->hw, "%s", r.hw->name);
    row->predicted = pred[i];
    row->measured = c->measured[i].value;
    row->error = pred[i] / c->measured[i].value - 1.0;
    row->uncertain = c->measured[i].uncertain;
    row->fits = x->est->fits;
    row->lo = row->hi = NAN;
    if (have_unc) {
      double sd = c->measured[i].metric->quantity == PUB_Q_MEMORY ? x->unc->sd_log_memory
                                                                  : x->unc->sd_log_time;
      row->lo = pred[i] * exp(-x->unc->z * sd);
      row->hi = pred[i] * exp(x->unc->z * sd);
      row->inside = row->measured >= row->lo && row->measured <= row->hi;
      row->no_model_error = no_me;
    }
  }
  return TPS_OK;
}

/* ---- the file ---- */

/* The `cases` list of the document, or an error at the place it is wrong. */
static tps_status cases_node(pub_ctx *x, yaml_node_t **out) {
  io_doc *d = &x->doc;
  yaml_node_t *root = io_doc_root(d);
  if (!root) {
    tps_error_set(d->err, TPS_ESYNTAX, d->path, 1, 1, "file is empty");
    tps_error_hint(d->err, "a published-cases file is a mapping with a 'cases:' list");
    return TPS_ESYNTAX;
  }
  char got[64];
  if (root->type != YAML_MAPPING_NODE) {
    io_node_desc(root, got, sizeof got);
    io_doc_fail(d, root, TPS_ETYPE, "a published-cases file must be a mapping, got %s", got);
    io_doc_hint(d, "the file holds 'cases:', a list of cases");
    return TPS_ETYPE;
  }
  yaml_node_t *cases = io_map_get(d, root, "cases");
  if (!cases) {
    io_doc_fail(d, root, TPS_EMISSINGKEY, "missing key 'cases'");
    const char *keys[64];
    int n = 0;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top && n < 64; p++) {
      yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
      if (k && k->type == YAML_SCALAR_NODE) keys[n++] = (const char *)k->data.scalar.value;
    }
    static const char *const want[] = {"cases"};
    const char *close = NULL;
    for (int i = 0; i < n && !close; i++)
      if (tps_did_you_mean(keys[i], want, 1)) close = keys[i];
    if (close)
      io_doc_hint(d, "'%s' is not 'cases'", close);
    else
      io_doc_hint(d, "the file holds 'cases:', a list of cases");
    return TPS_EMISSINGKEY;
  }
  if (cases->type != YAML_SEQUENCE_NODE) {
    io_node_desc(cases, got, sizeof got);
    return io_doc_fail(d, cases, TPS_ETYPE, "'cases' must be a list of cases, got %s", got);
  }
  *out = cases;
  return TPS_OK;
}

static tps_status run_cases(pub_ctx *x, const yaml_node_t *cases) {
  int n = io_seq_len(cases);
  for (int i = 0; i < n; i++) {
    pub_case_read(&x->doc, io_seq_at(&x->doc, cases, i), i, x->pc);
    x->rep->n_cases++;
    tps_status st = predict_case(x, x->pc);
    if (st != TPS_OK) return st;
  }
  return TPS_OK;
}

/* ---- a set of ready cases (tp-sim fit) ---- */

/* The set's copy of a profile the ctx loaded (one per distinct name). */
static int set_hw(pub_set *set, const tps_hw *hw) {
  for (int i = 0; i < set->n_hws; i++)
    if (strcmp(set->hws[i].path, hw->path) == 0 && strcmp(set->hws[i].name, hw->name) == 0 &&
        strcmp(set->hws[i].stack.name, hw->stack.name) == 0)
      return i;
  if (set->n_hws == PUB_SET_MAX_HW) return -1;
  set->hws[set->n_hws] = *hw;
  return set->n_hws++;
}

static tps_status keep_case(pub_ctx *x, const pub_case *c, const ready_case *r) {
  pub_set *set = x->set;
  int h = set_hw(set, r->hw);
  if (h < 0) return skip_case(x, c, "more than %d hardware profiles in one fit", PUB_SET_MAX_HW);
  if (set->n_cases == set->cap) {
    int cap = set->cap ? 2 * set->cap : 16;
    pub_ready_case *cases = realloc(set->cases, (size_t)cap * sizeof *cases);
    if (!cases) return TPS_ENOMEM;
    set->cases = cases;
    set->cap = cap;
  }
  pub_ready_case *k = &set->cases[set->n_cases];
  memset(k, 0, sizeof *k);
  k->c = malloc(sizeof *k->c);
  k->model = malloc(sizeof *k->model);
  if (!k->c || !k->model) {
    free(k->c);
    free(k->model);
    return TPS_ENOMEM;
  }
  *k->c = *c;
  *k->model = *x->model;
  k->run = r->run;
  k->hw = h;
  k->file = set->n_files;
  set->n_cases++;
  return TPS_OK;
}

tps_status pub_set_predict(pub_set *set, int i, tps_estimate *est, double *pred, tps_error *err) {
  const pub_ready_case *k = &set->cases[i];
  bool by_engine;
  return predict_values(k->c, k->model, &k->run, &set->hws[k->hw], est, pred, err, &by_engine);
}

void pub_set_free(pub_set *set) {
  for (int i = 0; i < set->n_cases; i++) {
    free(set->cases[i].c);
    free(set->cases[i].model);
  }
  free(set->cases);
  free(set->hws);
  pub_report_free(&set->skipped);
  memset(set, 0, sizeof *set);
}

static tps_status pub_run(const char *path, const char *hw_override, double level,
                          const tps_model_errors *errors, validate_report *rep, pub_set *set,
                          tps_error *err);

tps_status pub_set_load(const char *path, const char *hw_override, pub_set *set, tps_error *err) {
  if (!set->hws) {
    set->hws = calloc(PUB_SET_MAX_HW, sizeof *set->hws);
    if (!set->hws) return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
  }
  /* Skipped cases of every file accumulate in set->skipped. */
  validate_report rep;
  tps_status st = pub_run(path, hw_override, 0.0, NULL, &rep, set, err);
  validate_report *all = &set->skipped;
  for (int i = 0; st == TPS_OK && i < rep.n_rows; i++) {
    validate_row *rows = realloc(all->rows, (size_t)(all->n_rows + 1) * sizeof *rows);
    if (!rows) {
      st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
      break;
    }
    all->rows = rows;
    all->rows[all->n_rows++] = rep.rows[i];
  }
  all->n_cases += rep.n_cases;
  all->n_skipped += rep.n_skipped;
  pub_report_free(&rep);
  set->n_files++;
  return st;
}

tps_status pub_validate(const char *path, const char *hw_override, validate_report *rep,
                        tps_error *err) {
  return pub_run(path, hw_override, 0.0, NULL, rep, NULL, err);
}

tps_status pub_validate_at(const char *path, const char *hw_override, double level,
                           const tps_model_errors *errors, validate_report *rep, tps_error *err) {
  if (!(level >= 0 && level < 1)) {
    memset(rep, 0, sizeof *rep);
    return tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "interval level %g is not in [0, 1)", level);
  }
  return pub_run(path, hw_override, level, errors, rep, NULL, err);
}

static tps_status pub_run(const char *path, const char *hw_override, double level,
                          const tps_model_errors *errors, validate_report *rep, pub_set *set,
                          tps_error *err) {
  memset(rep, 0, sizeof *rep);
  rep->file = path;
  rep->hw_override = hw_override;
  rep->level = set ? 0.0 : level;
  tps_error_clear(err);
  pub_ctx x;
  memset(&x, 0, sizeof x);
  x.rep = rep;
  x.set = set;
  x.level = rep->level;
  x.errors = errors;
  x.unc = x.level > 0 ? malloc(sizeof *x.unc) : NULL;
  x.hws = calloc(HW_CACHE_MAX, sizeof *x.hws);
  x.model = calloc(1, sizeof *x.model);
  x.est = calloc(1, sizeof *x.est);
  x.pc = calloc(1, sizeof *x.pc);
  tps_status st = TPS_OK;
  if (!x.hws || !x.model || !x.est || !x.pc || (x.level > 0 && !x.unc)) {
    st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory");
    goto done;
  }
  if (path) {
    const char *slash = strrchr(path, '/');
    if (slash && (size_t)(slash - path) < sizeof x.dir)
      snprintf(x.dir, sizeof x.dir, "%.*s", (int)(slash - path), path);
  }
  if (hw_override) {
    char hw_path[PUB_PATH_MAX];
    if ((st = tps_data_find("hw_profiles", hw_override, hw_path, sizeof hw_path, err)) ||
        (st = tps_hw_load(hw_path, &x.hws[0].hw, err)))
      goto done;
    snprintf(x.hws[0].path, sizeof x.hws[0].path, "%s", hw_path);
    x.n_hws = 1;
    x.hw_override = &x.hws[0].hw;
  }
  if ((st = io_doc_load(&x.doc, path, err))) goto done;
  yaml_node_t *cases = NULL;
  if ((st = cases_node(&x, &cases))) goto done;
  if ((st = run_cases(&x, cases))) goto done;
  if (!set && (st = pub_summarize(rep))) tps_error_set(err, st, NULL, 0, 0, "out of memory");
done:
  if (st == TPS_ENOMEM && !err->msg[0]) tps_error_set(err, st, NULL, 0, 0, "out of memory");
  io_doc_free(&x.doc);
  free(x.hws);
  free(x.model);
  free(x.est);
  free(x.pc);
  free(x.unc);
  return st;
}

void pub_report_free(validate_report *rep) {
  if (!rep) return;
  free(rep->rows);
  free(rep->groups);
  rep->rows = NULL;
  rep->groups = NULL;
  rep->n_rows = rep->n_groups = 0;
}
