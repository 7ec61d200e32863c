/* Search over the parallel space (see tpsim/search.h and docs/search.md).
 *
 * What does not change between configurations is computed once:
 *
 *   placement (per PP):           how many layers of each template sit on
 *                                 each stage, which stage holds a tied
 *                                 embedding copy, each stage's last template
 *                                 (it sets the activation sent downstream);
 *   prepared (per TP, SP, micro-batch): each template lowered once and its
 *                                 ops costed once (seconds, bytes, FLOPs
 *                                 summed per template, per micro-batch).
 *
 * A configuration then costs a few multiply-adds per (stage, template) in
 * eng_evaluate, the evaluator tps_estimate_run calls too (evaluate.c), so a
 * configuration's figures are tps_estimate_run's to the last digit
 * (tests/unit/test_search.c). */
#include "tpsim/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/evaluate.h"
#include "engine/lower_internal.h"

#define MAX_TEMPLATES 64 /* distinct layer shapes of one model */

const char *tps_skip_key(tps_skip_reason r) {
  static const char *const keys[] = {
#define TPS_SKIP_KEY(name, key, text) key,
      TPS_SKIP_MAP(TPS_SKIP_KEY)
#undef TPS_SKIP_KEY
  };
  return (unsigned)r < TPS_SKIP_COUNT ? keys[r] : "unknown";
}

const char *tps_skip_text(tps_skip_reason r) {
  static const char *const texts[] = {
#define TPS_SKIP_TEXT(name, key, text) text,
      TPS_SKIP_MAP(TPS_SKIP_TEXT)
#undef TPS_SKIP_TEXT
  };
  return (unsigned)r < TPS_SKIP_COUNT ? texts[r] : "unknown";
}

/* ---------------------------------------------------------------------- */
/* Precomputed objects */

typedef struct prepared {
  int64_t tp, micro_batch, ep, etp;
  bool sp;
  tps_status status;            /* TPS_OK or why lowering refused */
  eng_tmpl_sums t[MAX_TEMPLATES];
  eng_model_sums sums;          /* points at t */
  eng_tmpl_sums t_mean[MAX_TEMPLATES]; /* at the mean sample length (varying lengths) */
  eng_model_sums sums_mean;     /* points at t_mean, or equals sums */
} prepared;

typedef struct placement {
  tps_status status;            /* TPS_OK or why this PP cannot be planned */
  eng_placement layers;         /* layers per (stage, template), tied copies */
} placement;

typedef struct tmpl_key {
  int module;
  tps_lower_opts opts;
} tmpl_key;

struct tps_searcher {
  const tps_model *model;
  const tps_hw *hw;
  tps_run base;
  tps_run scratch;              /* base with one configuration's fields set: a
                                   tps_run holds an 8 KiB pipeline table, too
                                   big to copy per configuration */
  int n_templates;
  tmpl_key keys[MAX_TEMPLATES];
  placement *placements[TPS_MAX_STAGES + 1]; /* by PP, built on first use */
  /* prepared objects: an open-addressing hash on (tp, sp, micro-batch, ep, etp) */
  prepared **slots;
  size_t n_slots, n_prepared;
};

/* The lowering's key: (tp, sp, micro-batch) and the expert layout. */
typedef struct prep_key {
  int64_t tp, mb, ep, etp;
  bool sp;
} prep_key;

static uint64_t prep_hash(const prep_key *k) {
  uint64_t h = (uint64_t)k->tp * UINT64_C(0x9E3779B97F4A7C15);
  h ^= (uint64_t)k->mb * UINT64_C(0xC2B2AE3D27D4EB4F) + (k->sp ? 0x165667B19E3779F9u : 0u);
  h ^= (uint64_t)k->ep * UINT64_C(0x27D4EB2F165667C5) + (uint64_t)k->etp * UINT64_C(0x94D049BB133111EB);
  return h ^ (h >> 29);
}

static prepared **prep_slot(prepared **slots, size_t n_slots, const prep_key *k) {
  size_t i = (size_t)prep_hash(k) & (n_slots - 1);
  while (slots[i] && !(slots[i]->tp == k->tp && slots[i]->sp == k->sp &&
                       slots[i]->micro_batch == k->mb && slots[i]->ep == k->ep &&
                       slots[i]->etp == k->etp))
    i = (i + 1) & (n_slots - 1);
  return &slots[i];
}

static prep_key key_of(const prepared *p) {
  return (prep_key){.tp = p->tp, .mb = p->micro_batch, .ep = p->ep, .etp = p->etp, .sp = p->sp};
}

static bool same_key(const tmpl_key *k, const tps_template *t) {
  return k->module == t->module && k->opts.kind == t->opts.kind &&
         k->opts.full_attention == t->opts.full_attention &&
         k->opts.needs_input_grad == t->opts.needs_input_grad;
}

/* The run a configuration stands for, filled the way tps_run_resolve does,
 * in place over a copy of the base (the placement holds the pipeline table). */
static void config_run_fast(const tps_run *base, const tps_search_config *c, tps_run *run) {
  run->tp = c->tp;
  run->pp = c->pp;
  run->dp = c->dp;
  run->micro_batch = c->micro_batch;
  run->sp = c->sp && c->tp > 1;
  run->distributed_optimizer = c->distributed_optimizer;
  run->recompute = c->recompute;
  run->micro_batches = c->dp > 0 && c->micro_batch > 0 ? base->global_batch / (c->micro_batch * c->dp) : 0;
  run->vpp = c->vpp > 1 ? c->vpp : 1;
  run->ep = c->ep > 1 ? c->ep : 1;
  run->etp = c->etp > 0 ? c->etp : c->tp;
}

/* Interleaving choices at one PP: 1 (plain 1F1B), and 2 and 4 model chunks
 * per stage when PP > 1 and the interleaved dimension is searched. */
static int vpp_candidates(unsigned dims, int64_t pp, int64_t *out) {
  out[0] = 1;
  if (!(dims & TPS_SEARCH_VPP) || pp < 2) return 1;
  out[1] = 2;
  out[2] = 4;
  return 3;
}

/* Whether v chunks per stage split every decoder's layers evenly (and the
 * model has no explicit placement at this PP, which interleaving would
 * replace). */
static bool vpp_splits(const tps_model *m, int64_t pp, int64_t v) {
  if (v <= 1) return true;
  if (m->training.n_pipeline_stages == pp) return false;
  for (int i = 0; i < m->n_modules; i++)
    if (m->modules[i].type == TPS_MODULE_DECODER && m->modules[i].layers % (pp * v) != 0)
      return false;
  return true;
}

static void placement_free(placement *p) {
  if (!p) return;
  eng_placement_free(&p->layers);
  free(p);
}

/* Plans the model at TP = 1 (everything divides) for `pp` stages and
 * records the stage of every layer by template. */
static tps_status placement_build(tps_searcher *s, int64_t pp, placement **out, tps_error *err) {
  placement *p = calloc(1, sizeof *p);
  if (!p) return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while searching");
  *out = p;
  tps_run run = s->base;
  run.tp = 1;
  run.sp = false;
  run.pp = pp;
  run.dp = 1;
  run.micro_batch = 1;
  run.micro_batches = 1;
  const tps_training *tr = &s->model->training;
  run.explicit_pipeline = tr->n_pipeline_stages == pp && pp > 1;
  if (run.explicit_pipeline) memcpy(run.pipeline_layers, tr->pipeline_layers, sizeof run.pipeline_layers);
  tps_plan plan;
  tps_error local;
  p->status = tps_plan_build(s->model, &run, &plan, err ? err : &local);
  if (p->status != TPS_OK) return p->status;
  tps_status st = TPS_OK;
  if (s->n_templates == 0) { /* the first placement names the templates */
    if (plan.n_templates > MAX_TEMPLATES) {
      st = tps_error_set(err, TPS_EUNSUPPORTED, NULL, 0, 0,
                         "the model has %d distinct layer shapes; the search handles %d",
                         plan.n_templates, MAX_TEMPLATES);
    } else {
      s->n_templates = plan.n_templates;
      for (int i = 0; i < plan.n_templates; i++) {
        s->keys[i].module = plan.templates[i].module;
        s->keys[i].opts = plan.templates[i].opts;
      }
    }
  } else if (plan.n_templates != s->n_templates) {
    st = tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "layer templates differ between pipeline sizes");
  }
  for (int i = 0; st == TPS_OK && i < plan.n_templates; i++)
    if (!same_key(&s->keys[i], &plan.templates[i]))
      st = tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "layer templates differ between pipeline sizes");
  if (st == TPS_OK) st = eng_placement_from_plan(&plan, &p->layers, err);
  p->status = st;
  tps_plan_free(&plan);
  return st;
}

/* Lowers every template at (tp, sp, micro-batch) and reduces it to its sums
 * (evaluate.c), once for every configuration that shares them. */
static void prepared_fill(tps_searcher *s, prepared *p, tps_error *err) {
  tps_run run = s->base;
  run.tp = p->tp;
  run.sp = p->sp && p->tp > 1;
  run.ep = p->ep;
  run.etp = p->etp;
  run.pp = 1;
  run.dp = 1;
  run.micro_batch = p->micro_batch;
  run.micro_batches = 1;
  run.explicit_pipeline = false;
  tps_plan plan;
  tps_error local;
  p->status = tps_plan_build(s->model, &run, &plan, err ? err : &local);
  if (p->status != TPS_OK) return;
  if (plan.n_templates != s->n_templates) {
    p->status = tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "layer templates differ between TP sizes");
    tps_plan_free(&plan);
    return;
  }
  for (int i = 0; i < plan.n_templates; i++)
    if (!same_key(&s->keys[i], &plan.templates[i])) {
      p->status = tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "layer templates differ between TP sizes");
      tps_plan_free(&plan);
      return;
    }
  eng_model_sums_from_plan(&plan, &run, s->hw, p->t, &p->sums);
  tps_plan_free(&plan);
  p->sums_mean = p->sums;
  if (eng_varlen(&run)) {
    run.seq_len = run.mean_seq_len;
    p->status = tps_plan_build(s->model, &run, &plan, err ? err : &local);
    if (p->status != TPS_OK) return;
    if (plan.n_templates != s->n_templates)
      p->status = tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "layer templates differ at the mean length");
    else
      eng_model_sums_from_plan(&plan, &run, s->hw, p->t_mean, &p->sums_mean);
    tps_plan_free(&plan);
  }
}

static tps_status prepared_get(tps_searcher *s, int64_t tp, bool sp, int64_t mb, int64_t ep,
                               int64_t etp, prepared **out, tps_error *err) {
  sp = sp && tp > 1;
  ep = ep > 1 ? ep : 1;
  etp = etp > 0 ? etp : tp;
  const prep_key key = {.tp = tp, .mb = mb, .ep = ep, .etp = etp, .sp = sp};
  prepared **slot = prep_slot(s->slots, s->n_slots, &key);
  if (!*slot) {
    if (2 * (s->n_prepared + 1) > s->n_slots) { /* keep the table at most half full */
      size_t n = s->n_slots * 2;
      prepared **slots = calloc(n, sizeof *slots);
      if (!slots) return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while searching");
      for (size_t i = 0; i < s->n_slots; i++)
        if (s->slots[i]) {
          prep_key k = key_of(s->slots[i]);
          *prep_slot(slots, n, &k) = s->slots[i];
        }
      free(s->slots);
      s->slots = slots;
      s->n_slots = n;
      slot = prep_slot(s->slots, s->n_slots, &key);
    }
    prepared *p = calloc(1, sizeof *p);
    if (!p) return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while searching");
    p->tp = tp;
    p->sp = sp;
    p->micro_batch = mb;
    p->ep = ep;
    p->etp = etp;
    prepared_fill(s, p, err);
    *slot = p;
    s->n_prepared++;
    *out = p;
    return p->status;
  }
  *out = *slot;
  if ((*slot)->status != TPS_OK) {
    /* Cached refusal: say it again (cheaply) for this caller. */
    tps_run run = s->base;
    run.tp = tp;
    run.sp = sp;
    run.micro_batch = mb;
    run.ep = ep;
    run.etp = etp;
    for (int m = 0; m < s->model->n_modules; m++)
      if (eng_check_module_split(&s->model->modules[m], &run, err) != TPS_OK) break;
  }
  return (*slot)->status;
}

tps_status tps_searcher_alloc(const tps_model *model, const tps_hw *hw, const tps_run *base,
                              tps_searcher **out, tps_error *err) {
  *out = NULL;
  tps_status hst = eng_check_hw_run(hw, base, err);
  if (hst != TPS_OK) return hst;
  if (base->cards < 1 || base->global_batch < 1 || base->seq_len < 1)
    return tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                         "search needs cards, global batch and seq_len >= 1");
  tps_searcher *s = calloc(1, sizeof *s);
  if (!s) return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while searching");
  s->model = model;
  s->hw = hw;
  s->base = *base;
  s->scratch = *base;
  s->n_slots = 64;
  s->slots = calloc(s->n_slots, sizeof *s->slots);
  if (!s->slots) {
    free(s);
    return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while searching");
  }
  /* PP = 1 names the templates; a model that cannot be planned at all is an
   * error of the search, not a skipped configuration. */
  tps_status st = placement_build(s, 1, &s->placements[1], err);
  if (st != TPS_OK) {
    tps_searcher_free(s);
    return st;
  }
  *out = s;
  return TPS_OK;
}

void tps_searcher_free(tps_searcher *s) {
  if (!s) return;
  for (int i = 0; i <= TPS_MAX_STAGES; i++) placement_free(s->placements[i]);
  for (size_t i = 0; i < s->n_slots; i++) free(s->slots[i]);
  free(s->slots);
  free(s);
}

static tps_status placement_get(tps_searcher *s, int64_t pp, placement **out, tps_error *err) {
  if (pp < 1 || pp > TPS_MAX_STAGES) {
    *out = NULL;
    return tps_error_set(err, TPS_ERANGE, NULL, 0, 0, "--pp %lld is above the largest supported (%d)",
                         (long long)pp, TPS_MAX_STAGES);
  }
  if (!s->placements[pp]) {
    tps_status st = placement_build(s, pp, &s->placements[pp], err);
    *out = s->placements[pp];
    return st;
  }
  *out = s->placements[pp];
  if ((*out)->status != TPS_OK && err) {
    /* Rebuild the message (rare: only asked again for a refused PP). */
    placement *again = NULL;
    placement_build(s, pp, &again, err);
    placement_free(again);
  }
  return (*out)->status;
}

/* ---------------------------------------------------------------------- */
/* Evaluation: pure arithmetic over a prepared object and a placement */

static void eval_config(tps_searcher *s, const prepared *p, const placement *pl,
                        const tps_search_config *cfg, tps_search_row *out) {
  tps_run *const run = &s->scratch;
  config_run_fast(&s->base, cfg, run);
  eng_step step;
  eng_evaluate(&p->sums_mean, &p->sums, &pl->layers, run, s->hw, &step, NULL);
  memset(out, 0, sizeof *out);
  out->cfg = *cfg;
  out->cfg.sp = run->sp;
  out->cfg.cp = eng_cp_ranks(&s->base); /* the searcher's: one CP layout per searcher */
  out->cfg.cp_algo = (int)s->base.cp_algo;
  out->cfg.ulysses_degree = eng_ulysses_ranks(&s->base);
  out->micro_batches = run->micro_batches;
  out->memory = step.memory;
  out->peak_stage = step.peak_stage;
  out->fits = step.fits;
  out->fits_with_margin = step.fits_with_margin;
  out->time = step.time;
  out->step_time_s = step.step_time_s;
  out->tokens_per_s = step.tokens_per_s;
  out->tokens_per_s_per_card = step.tokens_per_s_per_card;
  out->mfu = step.mfu;
}

static tps_status batch_check(const tps_run *base, const tps_search_config *cfg, tps_error *err) {
  if (cfg->dp < 1 || cfg->micro_batch < 1 || cfg->micro_batch > INT64_MAX / cfg->dp ||
      base->global_batch % (cfg->micro_batch * cfg->dp) != 0) {
    tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                  "global batch %lld is not a multiple of micro batch %lld x DP %lld",
                  (long long)base->global_batch, (long long)cfg->micro_batch, (long long)cfg->dp);
    return TPS_EDIVIDE;
  }
  return TPS_OK;
}

/* Whether TP splits every module without SP; `scratch` is a copy of the
 * base run whose tp and sp this overwrites. */
static bool tp_splits(const tps_model *model, tps_run *scratch, int64_t tp, tps_error *err) {
  scratch->tp = tp;
  scratch->sp = false;
  for (int m = 0; m < model->n_modules; m++)
    if (eng_check_module_split(&model->modules[m], scratch, err) != TPS_OK) return false;
  return true;
}

/* Routed experts every MoE module of the model divides into (their gcd);
 * 0 for a model without experts. */
static int64_t model_experts(const tps_model *m) {
  int64_t g = 0;
  for (int i = 0; i < m->n_modules; i++) {
    int64_t e = m->modules[i].type == TPS_MODULE_DECODER ? m->modules[i].experts : 0;
    if (e <= 0) continue;
    while (e) {
      int64_t t = g % e;
      g = e;
      e = t;
    }
  }
  return g;
}

#define MAX_LAYOUTS 64 /* (EP, ETP) pairs tried at one (TP, DP) */

/* The expert layouts tried at one TP and DP: (EP, ETP) pairs with EP a
 * divisor of the experts and EP x ETP dividing TP x CP x DP, ETP = TP
 * (Megatron's default) and 1; given values or the model's when EP is not
 * searched. A model without experts has the one layout (0, 0). */
static int expert_layouts(const tps_model *model, const tps_search_opts *opts, unsigned dims,
                          int64_t tp, int64_t cp, int64_t dp, int64_t *eps, int64_t *etps) {
  const int64_t experts = model_experts(model);
  if (experts <= 0 || dp < 1) {
    eps[0] = etps[0] = 0;
    return 1;
  }
  const tps_training *tr = &model->training;
  int64_t etp_list[2] = {tp, 1}, ep_fixed = 0;
  int n_etp = tp > 1 ? 2 : 1;
  if (opts->etp > 0) {
    etp_list[0] = opts->etp;
    n_etp = 1;
  } else if (!(dims & TPS_SEARCH_EP)) {
    etp_list[0] = tr->etp > 0 ? tr->etp : tp;
    n_etp = 1;
  }
  if (opts->ep > 0) ep_fixed = opts->ep;
  else if (!(dims & TPS_SEARCH_EP)) ep_fixed = tr->ep > 0 ? tr->ep : 1;
  const int64_t ranks = tp * cp * dp;
  int n = 0;
  for (int k = 0; k < n_etp; k++) {
    const int64_t etp = etp_list[k];
    if (ep_fixed > 0) {
      if (n < MAX_LAYOUTS) {
        eps[n] = ep_fixed;
        etps[n++] = etp;
      }
      continue;
    }
    for (int64_t d = 1; d <= experts && n < MAX_LAYOUTS; d++)
      if (experts % d == 0 && d <= ranks / etp && ranks % (d * etp) == 0) {
        eps[n] = d;
        etps[n++] = etp;
      }
  }
  return n;
}

/* Whether a configuration's expert layout splits the model and the ranks. */
static tps_status ep_check(tps_searcher *s, const tps_search_config *cfg, tps_error *err) {
  tps_run *run = &s->scratch;
  run->tp = cfg->tp;
  run->dp = cfg->dp;
  run->ep = cfg->ep > 1 ? cfg->ep : 1;
  run->etp = cfg->etp > 0 ? cfg->etp : cfg->tp;
  const int64_t experts = model_experts(s->model);
  if (experts <= 0) {
    if (cfg->ep > 1 || (cfg->etp > 0 && cfg->etp != cfg->tp))
      return tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "--ep: model '%s' has no experts",
                           s->model->name);
    return TPS_OK;
  }
  const int64_t ranks = cfg->tp * eng_cp_ranks(run) * cfg->dp;
  if (ranks % (run->ep * run->etp) != 0)
    return tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                         "--ep %lld x --etp %lld does not divide the %lld ranks of a stage",
                         (long long)run->ep, (long long)run->etp, (long long)ranks);
  for (int m = 0; m < s->model->n_modules; m++) {
    tps_status st = eng_ep_check_module(&s->model->modules[m], run, err);
    if (st != TPS_OK) return st;
  }
  return TPS_OK;
}

tps_status tps_searcher_eval(tps_searcher *s, const tps_search_config *cfg, tps_search_row *out,
                             tps_skip_reason *skip, tps_error *err) {
  tps_skip_reason why = TPS_SKIP_OTHER;
  tps_status st = TPS_OK;
  placement *pl = NULL;
  prepared *p = NULL;
  /* TP x PP x DP share the cards left by the (fixed) CP size. */
  const int64_t cards = s->base.cards / eng_cp_ranks(&s->base);
  if (cfg->cp > 0 && (cfg->cp != eng_cp_ranks(&s->base) ||
                      (cfg->cp > 1 && cfg->cp_algo != (int)s->base.cp_algo))) {
    st = tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                       "CP %lld (%s) is not the searcher's (CP %lld): one searcher per CP layout",
                       (long long)cfg->cp, tps_cp_algo_name((tps_cp_algo)cfg->cp_algo),
                       (long long)eng_cp_ranks(&s->base));
  } else if (cfg->tp < 1 || cfg->pp < 1 || cfg->dp < 1 || cards % cfg->tp != 0 ||
      (cards / cfg->tp) % cfg->pp != 0 || cards / cfg->tp / cfg->pp != cfg->dp) {
    st = tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "TP x PP x DP is not the search's %lld cards",
                       (long long)s->base.cards);
    why = TPS_SKIP_CARDS;
  } else if (!tp_splits(s->model, &s->scratch, cfg->tp, err)) {
    st = TPS_EDIVIDE;
    why = TPS_SKIP_TP_SPLIT;
  } else if ((st = placement_get(s, cfg->pp, &pl, err)) != TPS_OK) {
    why = TPS_SKIP_PP_SPLIT;
  } else if ((st = batch_check(&s->base, cfg, err)) != TPS_OK) {
    why = TPS_SKIP_BATCH;
  } else if (cfg->vpp > 1 && (cfg->pp < 2 || !vpp_splits(s->model, cfg->pp, cfg->vpp))) {
    st = tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0, "VPP %lld does not split PP %lld's layers",
                       (long long)cfg->vpp, (long long)cfg->pp);
    why = TPS_SKIP_PP_SPLIT;
  } else if (cfg->vpp > 1 &&
             (s->base.global_batch / (cfg->micro_batch * cfg->dp)) % cfg->pp != 0) {
    st = tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                       "interleaving needs the micro-batches per step to be a multiple of PP");
    why = TPS_SKIP_BATCH;
  } else if ((st = ep_check(s, cfg, err)) != TPS_OK) {
    why = TPS_SKIP_OTHER;
  } else if ((st = prepared_get(s, cfg->tp, cfg->sp, cfg->micro_batch, cfg->ep, cfg->etp, &p,
                                err)) != TPS_OK) {
    if (st == TPS_EDIVIDE) why = cfg->sp ? TPS_SKIP_SP_SPLIT : TPS_SKIP_TP_SPLIT;
  } else {
    eval_config(s, p, pl, cfg, out);
    return TPS_OK;
  }
  if (skip) *skip = why;
  return st;
}

tps_status tps_search_config_run(const tps_model *model, const tps_run *base,
                                 const tps_search_config *cfg, tps_run *run, tps_error *err) {
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = cfg->tp;
  o.pp = cfg->pp;
  o.dp = cfg->dp;
  o.cards = base->cards;
  o.seq_len = base->seq_len;
  o.mean_seq_len = base->mean_seq_len;
  o.micro_batch = cfg->micro_batch;
  o.global_batch = base->global_batch;
  o.sp = cfg->sp;
  o.distributed_optimizer = cfg->distributed_optimizer;
  o.flash_attention = base->flash_attention;
  o.overlap_grad_reduce = base->overlap_grad_reduce;
  o.grad_reduce_bf16 = base->grad_reduce_bf16;
  o.overlap_param_gather = base->overlap_param_gather;
  o.reuse_fp32_param = base->reuse_fp32_param;
  o.recompute_activation = base->recompute_activation;
  o.cross_entropy = (int)base->cross_entropy;
  /* the overlap needs SP: configurations without SP run without it */
  o.tp_comm_overlap = base->tp_comm_overlap && cfg->sp;
  o.recompute = (int)cfg->recompute;
  o.vpp = cfg->vpp > 1 ? cfg->vpp : 1;
  o.ep = cfg->ep > 0 ? cfg->ep : 0; /* 0: a model without experts */
  o.etp = cfg->ep > 0 ? (cfg->etp > 0 ? cfg->etp : cfg->tp) : 0;
  if (cfg->cp > 0) { /* the configuration's CP layout (a searched one) */
    o.cp = cfg->cp;
    o.cp_algo = cfg->cp_algo;
    o.ulysses_degree = cfg->cp > 1 && cfg->cp_algo == TPS_CP_HYBRID ? cfg->ulysses_degree : 0;
  } else {
    o.cp = eng_cp_ranks(base);
    o.cp_algo = (int)base->cp_algo;
    o.ulysses_degree = base->cp_algo == TPS_CP_HYBRID ? base->ulysses_degree : 0;
  }
  o.precision = (int)base->precision;
  o.fp8 = (int)base->fp8;
  o.fp8_amax_history = base->fp8_amax_history;
  o.fp8_param_gather = base->fp8_param_gather;
  o.memory_margin = base->memory_margin;
  return tps_run_resolve(model, &o, run, err);
}

/* ---------------------------------------------------------------------- */
/* The search driver */

void tps_search_opts_init(tps_search_opts *opts) {
  memset(opts, 0, sizeof *opts);
  opts->precision = -1;
  opts->memory_margin = -1.0;
  opts->cp_algo = -1;
  opts->fp8 = opts->fp8_param_gather = -1;
}

void tps_search_result_init(tps_search_result *res) { memset(res, 0, sizeof *res); }

void tps_search_result_free(tps_search_result *res) {
  free(res->top);
  free(res->pareto);
  memset(res, 0, sizeof *res);
}

int tps_search_row_cmp(const tps_search_row *a, const tps_search_row *b) {
  double x = a->tokens_per_s_per_card, y = b->tokens_per_s_per_card;
  if (x != y) {
    if (isnan(x)) return 1; /* NaN ranks last */
    if (isnan(y)) return -1;
    return x > y ? -1 : 1;
  }
  const tps_search_config *p = &a->cfg, *q = &b->cfg;
  if (p->tp != q->tp) return p->tp < q->tp ? -1 : 1;
  if (p->pp != q->pp) return p->pp < q->pp ? -1 : 1;
  int64_t pv = p->vpp > 1 ? p->vpp : 1, qv = q->vpp > 1 ? q->vpp : 1;
  if (pv != qv) return pv < qv ? -1 : 1;
  /* the fewer CP ranks first (at equal throughput CP 1 needs no ring) */
  int64_t pc = p->cp > 1 ? p->cp : 1, qc = q->cp > 1 ? q->cp : 1;
  if (pc != qc) return pc < qc ? -1 : 1;
  if (pc > 1 && p->cp_algo != q->cp_algo) return p->cp_algo < q->cp_algo ? -1 : 1; /* ring first */
  if (p->sp != q->sp) return p->sp ? 1 : -1;
  if (p->recompute != q->recompute) return p->recompute < q->recompute ? -1 : 1;
  if (p->micro_batch != q->micro_batch) return p->micro_batch > q->micro_batch ? -1 : 1;
  if (p->distributed_optimizer != q->distributed_optimizer) return p->distributed_optimizer ? 1 : -1;
  if (p->ep != q->ep) return p->ep < q->ep ? -1 : 1;
  int64_t pe = p->etp > 0 ? p->etp : p->tp, qe = q->etp > 0 ? q->etp : q->tp;
  if (pe != qe) return pe > qe ? -1 : 1; /* ETP = TP (Megatron's default) first */
  return 0;
}

/* Peak memory ascending, then the ranking order. */
static int row_cmp_memory(const void *a, const void *b) {
  const tps_search_row *x = a, *y = b;
  if (x->memory.total != y->memory.total) return x->memory.total < y->memory.total ? -1 : 1;
  return tps_search_row_cmp(x, y);
}

/* "recompute selective, distributed optimizer on": the settings of b that
 * differ from a's (SP, recompute, distributed optimizer). */
static void setting_words(const tps_search_config *a, const tps_search_config *b, char *out,
                          size_t size) {
  int w = 0;
  out[0] = '\0';
  if (a->sp != b->sp)
    w += snprintf(out + w, size - (size_t)w, "%sSP %s", w ? ", " : "", b->sp ? "on" : "off");
  if (a->recompute != b->recompute && (size_t)w < size)
    w += snprintf(out + w, size - (size_t)w, "%srecompute %s", w ? ", " : "",
                  tps_recompute_name(b->recompute));
  if (a->distributed_optimizer != b->distributed_optimizer && (size_t)w < size)
    snprintf(out + w, size - (size_t)w, "%sdistributed optimizer %s", w ? ", " : "",
             b->distributed_optimizer ? "on" : "off");
}

/* Appends "; words" (or "words") to a row's list of equivalent settings. */
static void add_equivalent(tps_search_row *kept, const char *words) {
  size_t len = strlen(kept->equivalent);
  if (len + 2 < sizeof kept->equivalent)
    snprintf(kept->equivalent + len, sizeof kept->equivalent - len, "%s%s", len ? "; " : "", words);
  kept->n_equivalent++;
}

/* When `row` has exactly the figures of a kept top row at the same TP, PP,
 * VPP, DP and micro-batch, the two differ only in a setting that changes
 * nothing here: keep the one first in the tie order, name the other in its
 * `equivalent`, and return true (row is not inserted). */
static bool merge_equivalent(tps_search_row *top, int n, const tps_search_row *row) {
  for (int k = 0; k < n; k++) {
    tps_search_row *kept = &top[k];
    const tps_search_config *a = &kept->cfg, *b = &row->cfg;
    if (a->tp != b->tp || a->pp != b->pp || a->dp != b->dp || a->micro_batch != b->micro_batch ||
        a->ep != b->ep || (a->etp > 0 ? a->etp : a->tp) != (b->etp > 0 ? b->etp : b->tp) ||
        (a->cp > 1 ? a->cp : 1) != (b->cp > 1 ? b->cp : 1) ||
        (a->cp > 1 && a->cp_algo != b->cp_algo) ||
        (a->vpp > 1 ? a->vpp : 1) != (b->vpp > 1 ? b->vpp : 1) ||
        kept->step_time_s != row->step_time_s || kept->memory.total != row->memory.total ||
        kept->tokens_per_s_per_card != row->tokens_per_s_per_card)
      continue;
    char words[96];
    if (tps_search_row_cmp(row, kept) < 0) { /* the new row ranks first: it is kept */
      tps_search_row old = *kept;
      *kept = *row;
      kept->n_equivalent = 0;
      kept->equivalent[0] = '\0';
      setting_words(&kept->cfg, &old.cfg, words, sizeof words);
      add_equivalent(kept, words);
      kept->n_equivalent += old.n_equivalent; /* named relative to the old row: counted only */
      /* equal figures: its place among the other rows is unchanged except
       * against rows of equal throughput, which the tie order settles */
      while (k > 0 && tps_search_row_cmp(&top[k], &top[k - 1]) < 0) {
        tps_search_row t = top[k];
        top[k] = top[k - 1];
        top[k - 1] = t;
        k--;
      }
    } else {
      setting_words(&kept->cfg, &row->cfg, words, sizeof words);
      add_equivalent(kept, words);
    }
    return true;
  }
  return false;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Inserts v into the ascending list out[0..*k), keeping the smallest cap. */
static void keep_smallest(int64_t v, int64_t *out, int *k, int cap) {
  if (*k == cap && v >= out[cap - 1]) return;
  int i = *k < cap ? (*k)++ : cap - 1;
  while (i > 0 && out[i - 1] > v) {
    out[i] = out[i - 1];
    i--;
  }
  out[i] = v;
}

/* Divisors of n up to `max`, ascending, the smallest `cap` of them; returns
 * the count. O(min(max, sqrt n)): d and n / d for d up to sqrt(n). */
static int divisors(int64_t n, int64_t max, int64_t *out, int cap) {
  int k = 0;
  if (max >= 1 && max <= n / max) { /* max <= sqrt(n): just try 1..max */
    for (int64_t d = 1; d <= max && k < cap; d++)
      if (n % d == 0) out[k++] = d;
    return k;
  }
  for (int64_t d = 1; d <= n / d; d++) {
    if (n % d) continue;
    if (d <= max) keep_smallest(d, out, &k, cap);
    if (n / d != d && n / d <= max) keep_smallest(n / d, out, &k, cap);
  }
  return k;
}

/* A constraint list sorted ascending without repeats, at most cap values. */
static int sorted_unique(const int64_t *in, int n, int64_t *out, int cap) {
  int k = 0;
  for (int i = 0; i < n; i++) keep_smallest(in[i], out, &k, cap);
  int u = 0;
  for (int i = 0; i < k; i++)
    if (u == 0 || out[u - 1] != out[i]) out[u++] = out[i];
  return u;
}

/* PP sizes tried at one TP: the divisors of cards / TP up to the stage limit
 * (DP must be whole), or the model's PP when PP is not enumerated (or TP does
 * not divide the cards: that point is then skipped as "cards"); with a
 * constraint list, its values (those that do not divide are skipped). */
static int pp_candidates(unsigned dims, int64_t cards, int64_t tp, int64_t model_pp,
                         const tps_search_opts *opts, int64_t *out) {
  if ((dims & TPS_SEARCH_PP) && opts->n_pp_list > 0)
    return sorted_unique(opts->pp_list, opts->n_pp_list, out, TPS_MAX_STAGES);
  if (!(dims & TPS_SEARCH_PP) || cards % tp != 0) {
    out[0] = (dims & TPS_SEARCH_PP) ? 1 : model_pp;
    return 1;
  }
  return divisors(cards / tp, TPS_MAX_STAGES, out, TPS_MAX_STAGES);
}

static const char *recompute_word(tps_recompute r) { return tps_recompute_name(r); }

/* "PP=4, DP=32, SP on, recompute selective, micro-batch 2, distributed optimizer on" */
static void config_words(const tps_search_config *c, char *out, size_t size) {
  char vpp[32] = "", ep[48] = "", cp[48] = "";
  if (c->vpp > 1) snprintf(vpp, sizeof vpp, " (VPP=%lld)", (long long)c->vpp);
  if (c->cp > 1)
    snprintf(cp, sizeof cp, ", CP=%lld (%s)", (long long)c->cp,
             tps_cp_algo_name((tps_cp_algo)c->cp_algo));
  if (c->ep > 0)
    snprintf(ep, sizeof ep, ", EP=%lld, ETP=%lld", (long long)c->ep,
             (long long)(c->etp > 0 ? c->etp : c->tp));
  snprintf(out, size, "PP=%lld%s, DP=%lld%s%s, SP %s, recompute %s, micro-batch %lld, distributed optimizer %s",
           (long long)c->pp, vpp, (long long)c->dp, cp, ep, c->sp ? "on" : "off", recompute_word(c->recompute),
           (long long)c->micro_batch, c->distributed_optimizer ? "on" : "off");
}


#define GB 1e9

static void write_reason(tps_search_result *r, const tps_hw *hw, const tps_search_row *smallest) {
  char *p = r->reason;
  size_t left = sizeof r->reason;
  char words[256];
  int w;
  if (r->n_top == 0) {
    if (smallest) {
      config_words(&smallest->cfg, words, sizeof words);
      snprintf(p, left,
               "no configuration fits in %.1f GB per card with a %.0f%% margin on %lld cards; the "
               "smallest peak is %.1f GB at TP=%lld, %s: add cards, or shorten the sequence",
               hw->memory_bytes / GB, r->memory_margin * 100.0, (long long)r->base.cards,
               smallest->memory.total / GB, (long long)smallest->cfg.tp, words);
    } else {
      snprintf(p, left, "no configuration could be evaluated on %lld cards (see the skip counts)",
               (long long)r->base.cards);
    }
    return;
  }
  const tps_search_row *best = &r->top[0];
  config_words(&best->cfg, words, sizeof words);
  char spans[160] = "";
  if (best->cfg.tp > hw->devices_per_node)
    snprintf(spans, sizeof spans,
             " (TP=%lld spans %lld nodes of %lld devices: its collectives cross the inter-node "
             "links)",
             (long long)best->cfg.tp,
             (long long)((best->cfg.tp + hw->devices_per_node - 1) / hw->devices_per_node),
             (long long)hw->devices_per_node);
  w = snprintf(p, left,
               "TP=%lld: the best configuration (%s) gives %.1f tokens/s per card (MFU %.1f%%) "
               "at %.1f GB of %.1f GB per card (margin %.0f%%)%s",
               (long long)best->cfg.tp, words, best->tokens_per_s_per_card, best->mfu * 100.0,
               best->memory.total / GB, hw->memory_bytes / GB, r->memory_margin * 100.0, spans);
  for (int i = 0; i < r->n_tp && w > 0 && (size_t)w < left; i++) {
    const tps_search_tp_best *b = &r->by_tp[i];
    if (b->tp == best->cfg.tp) continue;
    p += w;
    left -= (size_t)w;
    if (!b->splits) {
      w = snprintf(p, left, "; TP=%lld does not split the heads or MLP", (long long)b->tp);
      continue;
    }
    if (b->evaluated == 0) {
      w = snprintf(p, left, "; TP=%lld: no configuration could be evaluated", (long long)b->tp);
      continue;
    }
    if (!b->found) {
      w = snprintf(p, left, "; TP=%lld: nothing fits (at least %.1f GB)", (long long)b->tp,
                   b->min_peak_bytes / GB);
      continue;
    }
    double change = (b->best.tokens_per_s_per_card / best->tokens_per_s_per_card - 1.0) * 100.0;
    config_words(&b->best.cfg, words, sizeof words);
    w = snprintf(p, left, "; TP=%lld at best %.1f%% %s (%s, %.1f GB)", (long long)b->tp,
                 change < 0 ? -change : change, change < 0 ? "less" : "more", words,
                 b->best.memory.total / GB);
  }
}

/* One context-parallel layout of the search: CP ranks and algorithm
 * (cp_algo -1: the model's; ulysses_degree 0: the model's, hybrid only). */
typedef struct cp_layout {
  int64_t cp;
  int cp_algo;
  int64_t ulysses_degree;
} cp_layout;

#define MAX_CP_LAYOUTS 129 /* CP 1, then ring and Ulysses at up to 64 CP sizes */

/* The layout CP is held at (--cp, or the model's when CP is not searched),
 * or CP 1, the first searched one. */
static cp_layout cp_fixed(const tps_model *model, const tps_search_opts *opts, unsigned dims) {
  const tps_training *tr = &model->training;
  int64_t cp = 1;
  if (opts->cp > 0) cp = opts->cp;
  else if (!(dims & TPS_SEARCH_CP) && tr->cp > 0) cp = tr->cp;
  return (cp_layout){.cp = cp, .cp_algo = opts->cp_algo, .ulysses_degree = opts->ulysses_degree};
}

/* The layouts searched: the first (cp_fixed) alone when CP is held; else
 * CP 1 and, for every divisor CP > 1 of the cards that leaves each CP rank
 * at least min_tokens_per_cp_rank tokens, the ring and Ulysses (or only the
 * algorithm given). Whether seq_len and the heads split is the engine's
 * check (eng_resolve_cp, eng_cp_check_module). */
static int cp_layouts(const tps_model *model, const tps_search_opts *opts, unsigned dims,
                      int64_t seq_len, cp_layout *out) {
  out[0] = cp_fixed(model, opts, dims);
  if (opts->cp > 0 || !(dims & TPS_SEARCH_CP)) return 1;
  const int64_t min_tokens = opts->min_tokens_per_cp_rank > 0 ? opts->min_tokens_per_cp_rank
                                                               : TPS_SEARCH_MIN_TOKENS_PER_CP_RANK;
  const int64_t max_cp = seq_len / min_tokens;
  if (max_cp < 2) return 1;
  int64_t cps[64];
  const int n_cps = divisors(opts->cards, max_cp, cps, 64);
  int n = 1;
  for (int i = 0; i < n_cps; i++) {
    if (cps[i] < 2) continue;
    if (opts->cp_algo >= 0) {
      out[n++] = (cp_layout){.cp = cps[i], .cp_algo = opts->cp_algo,
                             .ulysses_degree = opts->ulysses_degree};
      continue;
    }
    out[n++] = (cp_layout){.cp = cps[i], .cp_algo = TPS_CP_RING};
    out[n++] = (cp_layout){.cp = cps[i], .cp_algo = TPS_CP_ULYSSES};
  }
  return n;
}

/* The shared run of one layout: resolved at TP = PP = DP = 1 on the layout's
 * CP ranks, then given the search's cards. */
static tps_status layout_base(const tps_model *model, tps_run_overrides *o, const cp_layout *l,
                              int64_t cards, tps_run *base, tps_error *err) {
  if (cards % l->cp != 0)
    return tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0, "--cp %lld does not divide %lld cards",
                         (long long)l->cp, (long long)cards);
  o->cp = l->cp;
  o->cp_algo = l->cp_algo;
  o->ulysses_degree = l->ulysses_degree;
  o->cards = l->cp;
  tps_status st = tps_run_resolve(model, o, base, err);
  if (st != TPS_OK) return st;
  base->cards = cards;
  base->explicit_pipeline = false;
  return TPS_OK;
}

tps_status tps_search(const tps_model *model, const tps_hw *hw, const tps_search_opts *opts,
                      tps_search_result *out, tps_error *err) {
  double t0 = now_s();
  tps_search_result_init(out);
  if (opts->cards < 1)
    return tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "--cards is required for a search (got %lld)",
                         (long long)opts->cards);
  if (opts->cards > (INT64_C(1) << 40))
    return tps_error_set(err, TPS_ERANGE, NULL, 0, 0, "--cards %lld is above the largest searched (2^40)",
                         (long long)opts->cards);
  const tps_training *tr = &model->training;
  unsigned dims = opts->dims ? opts->dims : TPS_SEARCH_ALL;
  int top_n = opts->top_n > 0 ? opts->top_n : 10;
  int64_t max_mb = opts->max_micro_batch > 0 ? opts->max_micro_batch : 64;
  int64_t max_tp = opts->max_tp > 0 ? opts->max_tp : opts->cards;
  int64_t every = opts->progress_every > 0 ? opts->progress_every : 4096;

  /* The shared run: resolved at TP = PP = DP = 1, then given the cards. */
  tps_run_overrides o;
  tps_run_overrides_init(&o);
  o.tp = o.pp = o.dp = o.cards = o.vpp = 1; /* VPP is a searched dimension: none in the base */
  o.ep = o.etp = 1; /* so are EP and ETP (the base is at TP 1) */
  o.micro_batch = 1;
  o.seq_len = opts->seq_len;
  o.global_batch = opts->global_batch > 0 ? opts->global_batch
                                          : (tr->global_batch > 0 ? tr->global_batch : opts->cards);
  out->model_global_batch = tr->global_batch;
  out->model_cards = tr->cards;
  if (opts->global_batch <= 0 && tr->global_batch > 0 && tr->cards > 0 && opts->cards != tr->cards &&
      tr->global_batch <= INT64_MAX / opts->cards &&
      (tr->global_batch * opts->cards) % tr->cards == 0) {
    o.global_batch = tr->global_batch * opts->cards / tr->cards;
    out->global_batch_scaled = true;
  }
  o.precision = opts->precision;
  o.fp8 = opts->fp8;
  o.fp8_amax_history = opts->fp8_amax_history;
  o.fp8_param_gather = opts->fp8_param_gather;
  o.memory_margin = opts->memory_margin >= 0 ? opts->memory_margin : TPS_DEFAULT_MEMORY_MARGIN;
  o.sp = 0;
  /* CP layouts: the first (CP 1, or the one held fixed) sets the shared run
   * and the TP list; a searched layout the engine refuses (a sequence that
   * does not split, a module CP does not cover) is left out. */
  cp_layout lays[MAX_CP_LAYOUTS];
  tps_run base;
  cp_layout first = cp_fixed(model, opts, dims);
  tps_status st = layout_base(model, &o, &first, opts->cards, &base, err);
  if (st != TPS_OK) return st;
  int n_lays = cp_layouts(model, opts, dims, base.seq_len, lays);
  {
    int k = 1;
    for (int i = 1; i < n_lays; i++) {
      tps_run *probe = malloc(sizeof *probe);
      if (!probe) return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while searching");
      if (layout_base(model, &o, &lays[i], opts->cards, probe, NULL) == TPS_OK) lays[k++] = lays[i];
      free(probe);
    }
    n_lays = k;
  }
  const int64_t pool = opts->cards / eng_cp_ranks(&base); /* cards for TP x PP x DP at the first layout */
  out->base = base;
  out->base.tp = tr->tp > 0 ? tr->tp : 1;
  out->base.pp = tr->pp > 0 ? tr->pp : 1;
  out->base.micro_batch = tr->micro_batch > 0 ? tr->micro_batch : 1;
  out->base.sp = tr->sp;
  out->base.recompute = tr->recompute;
  out->base.distributed_optimizer = tr->distributed_optimizer;
  out->base.dp = pool % (out->base.tp * out->base.pp) == 0 ? pool / (out->base.tp * out->base.pp)
                                                          : 0;
  out->memory_margin = base.memory_margin;

  /* Candidate lists. */
  int64_t tps[TPS_SEARCH_MAX_TP];
  int n_tps;
  if ((dims & TPS_SEARCH_TP) && opts->n_tp_list > 0) {
    n_tps = sorted_unique(opts->tp_list, opts->n_tp_list, tps, TPS_SEARCH_MAX_TP);
  } else if (dims & TPS_SEARCH_TP) {
    n_tps = divisors(pool, max_tp, tps, TPS_SEARCH_MAX_TP);
  } else {
    tps[0] = out->base.tp;
    n_tps = 1;
  }
  int64_t mbs[64];
  int n_mbs;
  if ((dims & TPS_SEARCH_MICRO_BATCH) && opts->n_mb_list > 0)
    n_mbs = sorted_unique(opts->mb_list, opts->n_mb_list, mbs, 64);
  else if (dims & TPS_SEARCH_MICRO_BATCH)
    n_mbs = divisors(base.global_batch, max_mb, mbs, 64);
  else {
    mbs[0] = out->base.micro_batch;
    n_mbs = 1;
  }
  tps_recompute rcs[3] = {TPS_RECOMPUTE_NONE, TPS_RECOMPUTE_SELECTIVE, TPS_RECOMPUTE_FULL};
  int n_rcs = 3;
  if (!(dims & TPS_SEARCH_RECOMPUTE)) {
    rcs[0] = tr->recompute;
    n_rcs = 1;
  }
  bool dos[2] = {false, true};
  int n_dos = 2;
  if (!(dims & TPS_SEARCH_DISTOPT)) {
    dos[0] = tr->distributed_optimizer;
    n_dos = 1;
  }

  /* Grid size, for progress: the same lists as below, counting only. */
  int64_t total = 0;
  for (int li = 0; li < n_lays; li++) {
    const int64_t lpool = opts->cards / lays[li].cp;
    for (int ti = 0; ti < n_tps; ti++) {
      if (li > 0 && lpool % tps[ti] != 0) continue; /* the TP list is the first layout's */
      int64_t pps[TPS_MAX_STAGES];
      int n_pps = pp_candidates(dims, lpool, tps[ti], out->base.pp, opts, pps);
      int n_sp = (dims & TPS_SEARCH_SP) && tps[ti] > 1 ? 2 : 1;
      int64_t vv[3];
      for (int pi = 0; pi < n_pps; pi++) {
        int64_t eps[MAX_LAYOUTS], etps[MAX_LAYOUTS];
        int64_t dp = lpool % (tps[ti] * pps[pi]) == 0 ? lpool / (tps[ti] * pps[pi]) : 0;
        int n_lay = expert_layouts(model, opts, dims, tps[ti], lays[li].cp, dp, eps, etps);
        total += (int64_t)vpp_candidates(dims, pps[pi], vv) * n_sp * n_mbs * n_rcs * n_dos * n_lay;
      }
    }
  }

  tps_searcher *s = NULL;
  tps_run *lbase = NULL; /* a searched layout's shared run (heap: 8 KiB) */
  size_t cap_valid = 1024, n_valid = 0;
  tps_search_row *valid = malloc(cap_valid * sizeof *valid);
  out->top = malloc((size_t)top_n * sizeof *out->top);
  tps_search_row smallest;
  bool have_smallest = false;
  if (!valid || !out->top) {
    st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while searching");
    goto done;
  }

  int64_t done_n = 0;
  out->n_tp = n_tps;
  for (int ti = 0; ti < n_tps; ti++) out->by_tp[ti].tp = tps[ti];
  for (int li = 0; li < n_lays && st == TPS_OK; li++) {
    const tps_run *lb = &base;
    if (li > 0) {
      if (!lbase && !(lbase = malloc(sizeof *lbase))) {
        st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while searching");
        goto done;
      }
      if ((st = layout_base(model, &o, &lays[li], opts->cards, lbase, err)) != TPS_OK) goto done;
      lb = lbase;
    }
    const int64_t pool_l = opts->cards / eng_cp_ranks(lb); /* cards for TP x PP x DP */
    tps_searcher_free(s);
    s = NULL;
    if ((st = tps_searcher_alloc(model, hw, lb, &s, err)) != TPS_OK) goto done;
    for (int ti = 0; ti < n_tps && st == TPS_OK; ti++) {
      const int64_t tp = tps[ti];
      tps_search_tp_best *tb = &out->by_tp[ti];
      if (li > 0 && pool_l % tp != 0) continue; /* the TP list is the first layout's */
      bool cards_tp = pool_l % tp == 0;
      bool tp_ok = tp_splits(model, &s->scratch, tp, NULL);
      if (li == 0) tb->splits = tp_ok;
      int64_t pps[TPS_MAX_STAGES];
      int n_pps = pp_candidates(dims, pool_l, tp, out->base.pp, opts, pps);
      bool sps[2] = {false, true};
      int n_sps = 2;
      if (!(dims & TPS_SEARCH_SP)) {
        sps[0] = tr->sp && tp > 1;
        n_sps = 1;
      } else if (tp == 1) {
        n_sps = 1;
      }
      for (int pi = 0; pi < n_pps && st == TPS_OK; pi++) {
        const int64_t pp = pps[pi];
        int64_t vpps[3];
        const int n_vpps = vpp_candidates(dims, pp, vpps);
        bool cards_ok = cards_tp && pp <= INT64_MAX / tp && pool_l % (tp * pp) == 0;
        int64_t dp = cards_ok ? pool_l / (tp * pp) : 0;
        placement *pl = NULL;
        bool pp_ok = false;
        if (cards_ok && tp_ok) {
          tps_status ps = placement_get(s, pp, &pl, NULL);
          if (ps == TPS_ENOMEM) {
            st = tps_error_set(err, ps, NULL, 0, 0, "out of memory while searching");
            break;
          }
          pp_ok = ps == TPS_OK;
        }
        int64_t eps[MAX_LAYOUTS], etps[MAX_LAYOUTS];
        const int n_lay = expert_layouts(model, opts, dims, tp, eng_cp_ranks(lb), dp, eps, etps);
        for (int si = 0; si < n_sps && st == TPS_OK; si++) {
          for (int mi = 0; mi < n_mbs * n_lay && st == TPS_OK; mi++) {
            const int64_t mb = mbs[mi / n_lay];
            const int64_t ep = eps[mi % n_lay], etp = etps[mi % n_lay];
            bool batch_ok = cards_ok && mb <= INT64_MAX / dp && base.global_batch % (mb * dp) == 0;
            prepared *p = NULL;
            tps_skip_reason why = TPS_SKIP_OTHER;
            if (!cards_ok) why = TPS_SKIP_CARDS;
            else if (!tp_ok) why = TPS_SKIP_TP_SPLIT;
            else if (!pp_ok) why = TPS_SKIP_PP_SPLIT;
            else if (!batch_ok) why = TPS_SKIP_BATCH;
            else {
              tps_status ps = prepared_get(s, tp, sps[si], mb, ep, etp, &p, NULL);
              if (ps == TPS_ENOMEM) {
                st = tps_error_set(err, ps, NULL, 0, 0, "out of memory while searching");
                break;
              }
              if (ps != TPS_OK) {
                why = ps == TPS_EDIVIDE ? (sps[si] ? TPS_SKIP_SP_SPLIT : TPS_SKIP_TP_SPLIT) : TPS_SKIP_OTHER;
                p = NULL;
              }
            }
            for (int ri = 0; ri < n_rcs; ri++) {
              for (int di = 0; di < n_dos; di++) {
               for (int vi = 0; vi < n_vpps; vi++) {
                done_n++;
                if (opts->progress && done_n % every == 0 &&
                    opts->progress(opts->progress_user, done_n, total, now_s() - t0)) {
                  st = tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "search cancelled");
                  goto done;
                }
                if (!p) {
                  out->skipped[why]++;
                  continue;
                }
                if (vpps[vi] > 1 && !vpp_splits(model, pp, vpps[vi])) {
                  out->skipped[TPS_SKIP_PP_SPLIT]++;
                  continue;
                }
                if (vpps[vi] > 1 && (base.global_batch / (mb * dp)) % pp != 0) {
                  out->skipped[TPS_SKIP_BATCH]++; /* interleaving needs micro-batches % PP == 0 */
                  continue;
                }
                tps_search_config cfg = {.tp = tp, .pp = pp, .dp = dp, .micro_batch = mb,
                                         .sp = sps[si], .distributed_optimizer = dos[di],
                                         .recompute = rcs[ri], .vpp = vpps[vi],
                                         .ep = ep, .etp = etp};
                tps_search_row row;
                eval_config(s, p, pl, &cfg, &row);
                out->evaluated++;
                if (tb->evaluated++ == 0 || row.memory.total < tb->min_peak_bytes)
                  tb->min_peak_bytes = row.memory.total;
                if (!(row.tokens_per_s_per_card > 0)) { /* not a number: refuse it */
                  out->skipped[TPS_SKIP_OTHER]++;
                  continue;
                }
                if (!row.fits_with_margin) {
                  out->skipped[TPS_SKIP_MEMORY]++;
                  if (!have_smallest || row_cmp_memory(&row, &smallest) < 0) {
                    smallest = row;
                    have_smallest = true;
                  }
                  continue;
                }
                out->valid++;
                tb->valid++;
                if (!tb->found || tps_search_row_cmp(&row, &tb->best) < 0) {
                  tb->best = row;
                  tb->found = true;
                }
                if (n_valid == cap_valid) {
                  tps_search_row *grown = realloc(valid, 2 * cap_valid * sizeof *valid);
                  if (!grown) {
                    st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while searching");
                    goto done;
                  }
                  valid = grown;
                  cap_valid *= 2;
                }
                valid[n_valid++] = row;
                if (merge_equivalent(out->top, out->n_top, &row)) continue;
                /* Top N, kept sorted by insertion. */
                if (out->n_top < top_n || tps_search_row_cmp(&row, &out->top[out->n_top - 1]) < 0) {
                  int k = out->n_top < top_n ? out->n_top++ : top_n - 1;
                  while (k > 0 && tps_search_row_cmp(&row, &out->top[k - 1]) < 0) {
                    out->top[k] = out->top[k - 1];
                    k--;
                  }
                  out->top[k] = row;
                }
               }
              }
            }
          }
        }
      }
    }
  }
  if (st != TPS_OK) goto done;
  out->grid = done_n;

  /* Pareto front: by peak memory ascending (ranking order within equal
   * memory), keep each point that beats every cheaper one's throughput. */
  if (n_valid > 0) {
    qsort(valid, n_valid, sizeof *valid, row_cmp_memory);
    size_t k = 0;
    double best_tput = -1.0;
    for (size_t i = 0; i < n_valid; i++)
      if (valid[i].tokens_per_s_per_card > best_tput) {
        best_tput = valid[i].tokens_per_s_per_card;
        valid[k++] = valid[i];
      }
    out->pareto = malloc(k * sizeof *out->pareto);
    if (!out->pareto) {
      st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while searching");
      goto done;
    }
    memcpy(out->pareto, valid, k * sizeof *valid);
    out->n_pareto = (int)k;
  }
  out->recommended_tp = out->n_top > 0 ? out->top[0].cfg.tp : 0;
  write_reason(out, hw, have_smallest ? &smallest : NULL);
  out->elapsed_s = now_s() - t0;
  if (opts->progress) opts->progress(opts->progress_user, done_n, total, out->elapsed_s);

done:
  free(valid);
  free(lbase);
  tps_searcher_free(s);
  if (st != TPS_OK) {
    tps_search_result_free(out);
  }
  return st;
}
