/* Resolving a run from a model's defaults and overrides, and planning: the
 * model's layers in execution order, each placed on a pipeline stage and
 * pointing at a lowered template (one per distinct layer shape). */
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/evaluate.h"
#include "engine/lower_internal.h"
#include "tpsim/engine.h"

void tps_run_overrides_init(tps_run_overrides *over) {
  memset(over, 0, sizeof *over);
  over->sp = over->distributed_optimizer = over->flash_attention = over->overlap_grad_reduce = -1;
  over->tp_comm_overlap = over->grad_reduce_bf16 = over->overlap_param_gather = -1;
  over->reuse_fp32_param = over->recompute_activation = -1;
  over->recompute = over->precision = over->cp_algo = -1;
  over->fp8 = over->fp8_param_gather = over->cross_entropy = -1;
  over->memory_margin = -1.0;
  over->moe_capacity_factor = -1.0;
}

static int64_t pick(int64_t over, int64_t dflt) { return over > 0 ? over : dflt; }

/* Refuses a switch that only bf16 training has ("WHAT needs bf16 training"). */
static tps_status bf16_only(const tps_run *run, const char *flag, const char *what,
                            tps_error *err) {
  if (run->precision == TPS_PRECISION_BF16) return TPS_OK;
  tps_error_set(err, TPS_EINVAL, NULL, 0, 0, "%s needs bf16 training, not %s", what,
                tps_precision_name(run->precision));
  tps_error_hint(err, "add --precision bf16, or drop %s", flag);
  return TPS_EINVAL;
}
static bool pick_bool(int over, bool dflt) { return over >= 0 ? over != 0 : dflt; }

tps_status tps_run_resolve(const tps_model *model, const tps_run_overrides *over,
                           tps_run *run, tps_error *err) {
  const tps_training *tr = &model->training;
  memset(run, 0, sizeof *run);
  run->tp = pick(over->tp, pick(tr->tp, 1));
  run->pp = pick(over->pp, pick(tr->pp, 1));
  run->seq_len = pick(over->seq_len, pick(tr->seq_len, TPS_DEFAULT_SEQ_LEN));
  run->micro_batch = pick(over->micro_batch, pick(tr->micro_batch, 1));
  /* A mean length given with a seq_len override that is shorter is the
   * override's: every sample then fits it. */
  run->mean_seq_len = pick(over->mean_seq_len, pick(tr->mean_seq_len, run->seq_len));
  if (run->mean_seq_len > run->seq_len) {
    if (over->mean_seq_len > 0)
      return tps_error_set(err, TPS_ERANGE, NULL, 0, 0,
                           "--mean-seq-len %lld is above --seq-len %lld (the longest sample)",
                           (long long)run->mean_seq_len, (long long)run->seq_len);
    run->mean_seq_len = run->seq_len;
  }
  run->precision = over->precision >= 0 ? (tps_precision)over->precision : tr->precision;
  run->recompute = over->recompute >= 0 ? (tps_recompute)over->recompute : tr->recompute;
  run->fp8 = over->fp8 >= 0 ? (tps_fp8_format)over->fp8 : tr->fp8;
  run->fp8_amax_history = pick(over->fp8_amax_history, TPS_DEFAULT_FP8_AMAX_HISTORY);
  run->fp8_param_gather = pick_bool(over->fp8_param_gather, false);
  if (run->fp8 == TPS_FP8_NONE) run->fp8_param_gather = false;
  if (run->fp8 != TPS_FP8_NONE && run->precision == TPS_PRECISION_FP32)
    return tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                         "FP8 training (%s) needs bf16 or fp16 weights and activations, not fp32",
                         tps_fp8_format_name(run->fp8));
  run->cross_entropy = over->cross_entropy >= 0 ? (tps_cross_entropy)over->cross_entropy
                                               : tr->cross_entropy;
  run->sp = pick_bool(over->sp, tr->sp);
  run->distributed_optimizer = pick_bool(over->distributed_optimizer, tr->distributed_optimizer);
  run->flash_attention = pick_bool(over->flash_attention, tr->flash_attention);
  run->overlap_grad_reduce = pick_bool(over->overlap_grad_reduce, tr->overlap_grad_reduce);
  run->tp_comm_overlap = pick_bool(over->tp_comm_overlap, tr->tp_comm_overlap);
  run->grad_reduce_bf16 = pick_bool(over->grad_reduce_bf16, tr->grad_reduce_bf16);
  run->overlap_param_gather = pick_bool(over->overlap_param_gather, tr->overlap_param_gather);
  run->reuse_fp32_param = pick_bool(over->reuse_fp32_param, tr->reuse_fp32_param);
  run->recompute_activation = pick_bool(over->recompute_activation, tr->recompute_activation);
  /* MindSpeed's --reuse-fp32-param splits fp32 master weights into the bf16
   * weights and a residual; Megatron-LM's --grad-reduce-in-bf16 turns off the
   * fp32 accumulation that --bf16 turns on. With fp16 or fp32 weights
   * neither has a meaning. */
  tps_status bst;
  if ((run->reuse_fp32_param &&
       (bst = bf16_only(run, "--reuse-fp32-param",
                        "--reuse-fp32-param keeps fp32 master weights as bf16 weights plus a "
                        "residual: it",
                        err)) != TPS_OK) ||
      (run->grad_reduce_bf16 &&
       (bst = bf16_only(run, "--grad-reduce-in-bf16",
                        "bf16 gradient reduction (--grad-reduce-in-bf16)", err)) != TPS_OK))
    return bst;
  run->vocab_divisor = pick(tr->vocab_divisor, TPS_DEFAULT_VOCAB_DIVISOR);
  run->memory_margin = over->memory_margin >= 0 ? over->memory_margin : 0.0;
  run->micro_batch_overhead_s = tr->micro_batch_overhead_s;
  if (run->sp && run->tp == 1) run->sp = false; /* SP needs a TP group */
  if (run->tp == 1) run->tp_comm_overlap = false; /* no TP collectives to overlap */
  /* Megatron-LM (arguments.py) asserts that --tp-comm-overlap comes with
   * --sequence-parallel: the overlapped collectives are SP's. */
  if (run->tp_comm_overlap && !run->sp) {
    tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                  "TP communication overlap needs sequence parallelism (SP) at TP %lld, as "
                  "Megatron-LM requires",
                  (long long)run->tp);
    tps_error_hint(err, "add --sp (Megatron: --sequence-parallel), or drop --tp-comm-overlap");
    return TPS_EINVAL;
  }
  if (run->tp < 1 || run->pp < 1 || run->seq_len < 1 || run->micro_batch < 1)
    return tps_error_set(err, TPS_ERANGE, NULL, 0, 0,
                         "TP, PP, seq_len and micro-batch must be >= 1 (got %lld, %lld, %lld, %lld)",
                         (long long)run->tp, (long long)run->pp, (long long)run->seq_len,
                         (long long)run->micro_batch);
  /* Token counts per micro-batch are int64 products; refuse any that would
   * wrap instead of computing with a wrapped count. */
  for (int i = 0; i < model->n_modules; i++) {
    const tps_module *mod = &model->modules[i];
    int64_t per_sample = mod->type == TPS_MODULE_DECODER ? run->seq_len : mod->tokens;
    if (per_sample > 0 && run->micro_batch > INT64_MAX / per_sample)
      return tps_error_set(err, TPS_ERANGE, NULL, 0, 0,
                           "micro-batch %lld x %lld tokens per sample of module '%s' overflows "
                           "a 64-bit token count",
                           (long long)run->micro_batch, (long long)per_sample, mod->name);
  }
  tps_status cst = eng_resolve_cp(model, over, run, err);
  if (cst != TPS_OK) return cst;
  if (run->tp > INT64_MAX / run->pp || run->tp * run->pp > INT64_MAX / run->cp ||
      (over->dp > 0 && over->dp > INT64_MAX / (run->tp * run->pp * run->cp)))
    return tps_error_set(err, TPS_ERANGE, NULL, 0, 0, "TP x PP x DP overflows a 64-bit card count");

  /* Ranks of one model replica: TP x CP x PP (Megatron's rank order
   * tp-cp-ep-dp-pp; every CP rank holds the whole layer's weights). */
  int64_t tp_pp = run->tp * run->cp * run->pp;
  if (over->dp > 0 && over->cards > 0) {
    run->dp = over->dp;
    run->cards = over->cards;
  } else if (over->dp > 0) {
    run->dp = over->dp;
    run->cards = tp_pp * run->dp;
  } else {
    run->cards = pick(over->cards, pick(tr->cards, tp_pp));
    if (run->cards % tp_pp != 0) {
      if (run->cp > 1) {
        tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                      "--tp %lld x --cp %lld x --pp %lld = %lld does not divide %lld cards",
                      (long long)run->tp, (long long)run->cp, (long long)run->pp, (long long)tp_pp,
                      (long long)run->cards);
        tps_error_hint(err, "choose TP x CP x PP that divides the card count, or set --cards");
        return TPS_EDIVIDE;
      }
      tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                    "--tp %lld x --pp %lld = %lld does not divide %lld cards",
                    (long long)run->tp, (long long)run->pp, (long long)tp_pp, (long long)run->cards);
      tps_error_hint(err, "choose TP x PP that divides the card count, or set --cards");
      return TPS_EDIVIDE;
    }
    run->dp = run->cards / tp_pp;
  }
  if (run->cards != tp_pp * run->dp) {
    if (run->cp > 1)
      return tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                           "--cards %lld is not TP x CP x PP x DP = %lld x %lld x %lld x %lld",
                           (long long)run->cards, (long long)run->tp, (long long)run->cp,
                           (long long)run->pp, (long long)run->dp);
    tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                  "--cards %lld is not TP x PP x DP = %lld x %lld x %lld",
                  (long long)run->cards, (long long)run->tp, (long long)run->pp, (long long)run->dp);
    return TPS_EINVAL;
  }
  if (run->pp > TPS_MAX_STAGES)
    return tps_error_set(err, TPS_ERANGE, NULL, 0, 0, "--pp %lld is above the largest supported (%d)",
                         (long long)run->pp, TPS_MAX_STAGES);

  if (run->dp < 1 || run->micro_batch > INT64_MAX / run->dp)
    return tps_error_set(err, TPS_ERANGE, NULL, 0, 0,
                         "micro-batch %lld x DP %lld is out of range", (long long)run->micro_batch,
                         (long long)run->dp);
  int64_t per_step = run->micro_batch * run->dp;
  run->global_batch = pick(over->global_batch, pick(tr->global_batch, per_step));
  if (run->global_batch % per_step != 0) {
    tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                  "global batch %lld is not a multiple of micro batch %lld x DP %lld",
                  (long long)run->global_batch, (long long)run->micro_batch, (long long)run->dp);
    tps_error_hint(err, "set --global-batch to a multiple of %lld", (long long)per_step);
    return TPS_EDIVIDE;
  }
  run->micro_batches = run->global_batch / per_step;
  tps_status est = eng_resolve_ep(model, over, run, err);
  if (est != TPS_OK) return est;

  if (tr->n_pipeline_stages == run->pp && run->pp > 1) {
    run->explicit_pipeline = true;
    memcpy(run->pipeline_layers, tr->pipeline_layers, sizeof run->pipeline_layers);
  }
  if (over->n_decoder_layers > 0) {
    /* An explicit placement asked for: decoders by the list, everything else
     * on the first stage (where a recipe puts its encoders). */
    if (over->n_decoder_layers != run->pp)
      return tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                           "--pipeline-layers gives %d stages, --pp is %lld", over->n_decoder_layers,
                           (long long)run->pp);
    memset(run->pipeline_layers, 0, sizeof run->pipeline_layers);
    for (int m = 0; m < model->n_modules; m++) {
      const tps_module *mod = &model->modules[m];
      if (mod->type != TPS_MODULE_DECODER) {
        run->pipeline_layers[m][0] = mod->type == TPS_MODULE_PROJECTOR ? 1 : mod->layers;
        continue;
      }
      int64_t sum = 0;
      for (int s = 0; s < over->n_decoder_layers; s++) {
        run->pipeline_layers[m][s] = over->decoder_layers[s];
        sum += over->decoder_layers[s];
      }
      if (sum != mod->layers)
        return tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                             "--pipeline-layers places %lld layers; module '%s' has %lld",
                             (long long)sum, mod->name, (long long)mod->layers);
    }
    run->explicit_pipeline = run->pp > 1;
  }

  run->vpp = pick(over->vpp, pick(tr->vpp, 1));
  if (run->vpp > 1) {
    if (run->pp < 2)
      return tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                           "--vpp %lld needs a pipeline: --pp is %lld", (long long)run->vpp,
                           (long long)run->pp);
    if (run->explicit_pipeline) {
      tps_error_set(err, TPS_EUNSUPPORTED, NULL, 0, 0,
                    "--vpp %lld with the model's explicit pipeline_layers is not modelled",
                    (long long)run->vpp);
      tps_error_hint(err, "drop --vpp, or give a --pp that differs from pipeline_layers' stages");
      return TPS_EUNSUPPORTED;
    }
    if (run->micro_batches % run->pp != 0) {
      tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                    "--vpp: the interleaved schedule needs micro-batches per step (%lld) to be a "
                    "multiple of --pp %lld",
                    (long long)run->micro_batches, (long long)run->pp);
      return TPS_EDIVIDE;
    }
  }
  return TPS_OK;
}

/* ---------------------------------------------------------------------- */

typedef struct plan_builder {
  tps_plan *plan;
  const tps_run *run;
  int cap_layers, cap_templates;
} plan_builder;

static int template_find_or_add(plan_builder *b, int module, tps_lower_opts opts,
                                tps_status *st, tps_error *err) {
  tps_plan *p = b->plan;
  for (int i = 0; i < p->n_templates; i++) {
    const tps_template *t = &p->templates[i];
    if (t->module == module && t->opts.kind == opts.kind &&
        t->opts.full_attention == opts.full_attention &&
        t->opts.needs_input_grad == opts.needs_input_grad && t->opts.moe == opts.moe &&
        t->opts.shared_head == opts.shared_head)
      return i;
  }
  if (p->n_templates == b->cap_templates) {
    int cap = b->cap_templates ? 2 * b->cap_templates : 8;
    tps_template *t = realloc(p->templates, (size_t)cap * sizeof *t);
    if (!t) {
      *st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while planning");
      return -1;
    }
    p->templates = t;
    b->cap_templates = cap;
  }
  tps_template *t = &p->templates[p->n_templates];
  t->module = module;
  t->opts = opts;
  tps_op_list_init(&t->ops);
  *st = tps_lower_layer(&p->modules[module], b->run, opts, &t->ops, err);
  if (*st != TPS_OK) {
    tps_op_list_free(&t->ops);
    return -1;
  }
  return p->n_templates++;
}

static tps_status layer_add(plan_builder *b, int module, int64_t index, tps_lower_opts opts,
                            int stage, tps_error *err) {
  tps_plan *p = b->plan;
  tps_status st = TPS_OK;
  int tid = template_find_or_add(b, module, opts, &st, err);
  if (tid < 0) return st;
  if (p->n_layers == b->cap_layers) {
    int cap = b->cap_layers ? 2 * b->cap_layers : 64;
    tps_layer *l = realloc(p->layers, (size_t)cap * sizeof *l);
    if (!l) return tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while planning");
    p->layers = l;
    b->cap_layers = cap;
  }
  tps_layer *l = &p->layers[p->n_layers++];
  memset(l, 0, sizeof *l);
  const char *mname = p->modules[module].name;
  if (opts.kind == TPS_LAYER_BLOCK)
    snprintf(l->name, sizeof l->name, "%s.%lld", mname, (long long)index);
  else
    snprintf(l->name, sizeof l->name, "%s.%s", mname, tps_layer_kind_name(opts.kind));
  l->module = module;
  l->index = opts.kind == TPS_LAYER_BLOCK ? index : -1;
  l->template_id = tid;
  l->stage = stage;
  return TPS_OK;
}

/* Multi-token prediction modules after the head, on the last stage
 * (Megatron-Core places them there): per depth its projection layer, one
 * block (MoE when the model has experts) and a head sharing the output
 * weight, named decoder.mtpD.proj, decoder.mtpD.block, decoder.mtpD.head. */
static tps_status mtp_add(plan_builder *b, int module, tps_lower_opts o, int stage,
                          tps_error *err) {
  tps_plan *p = b->plan;
  const tps_module *mod = &p->modules[module];
  static const char *const part[] = {"proj", "block", "head"};
  for (int64_t d = 0; d < mod->mtp_layers; d++) {
    for (int k = 0; k < 3; k++) {
      tps_lower_opts x = o;
      x.kind = k == 0 ? TPS_LAYER_MTP : k == 1 ? TPS_LAYER_BLOCK : TPS_LAYER_HEAD;
      x.moe = k == 1 && mod->experts > 0;
      x.shared_head = k == 2;
      tps_status st = layer_add(b, module, k == 1 ? mod->layers + d : -1, x, stage, err);
      if (st != TPS_OK) return st;
      tps_layer *l = &p->layers[p->n_layers - 1];
      snprintf(l->name, sizeof l->name, "%s.mtp%lld.%s", mod->name, (long long)d, part[k]);
    }
  }
  return TPS_OK;
}

static bool is_full_attention_block(const tps_module *m, int64_t i) {
  if (m->type != TPS_MODULE_VIT || m->window == 0) return true;
  for (int k = 0; k < m->n_full_attention_blocks; k++)
    if (m->full_attention_blocks[k] == i) return true;
  return false;
}

/* Stage of block i of module m: explicit placement, else decoders split
 * evenly over the stages and everything else on stage 0 (a model without a
 * decoder splits its encoder evenly). */
static tps_status block_stages(const tps_plan *p, const tps_run *run, int m,
                               int64_t stage_of[], tps_error *err) {
  const tps_module *mod = &p->modules[m];
  int64_t blocks = mod->type == TPS_MODULE_PROJECTOR ? 1 : mod->layers;
  if (run->explicit_pipeline) {
    int64_t i = 0;
    for (int s = 0; s < run->pp; s++)
      for (int64_t k = 0; k < run->pipeline_layers[m][s] && i < blocks; k++) stage_of[i++] = s;
    if (i != blocks)
      return tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                           "pipeline_layers of module '%s' place %lld of its %lld layers",
                           mod->name, (long long)i, (long long)blocks);
    return TPS_OK;
  }
  bool has_decoder = false;
  for (int k = 0; k < p->n_modules; k++) has_decoder |= p->modules[k].type == TPS_MODULE_DECODER;
  bool split = mod->type == TPS_MODULE_DECODER || (!has_decoder && mod->type == TPS_MODULE_VIT);
  if (!split || run->pp == 1) {
    for (int64_t i = 0; i < blocks; i++) stage_of[i] = 0;
    return TPS_OK;
  }
  if (run->vpp > 1 && blocks % (run->pp * run->vpp) != 0) {
    tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                  "--pp %lld x --vpp %lld does not divide %lld layers of module '%s'",
                  (long long)run->pp, (long long)run->vpp, (long long)blocks, mod->name);
    return TPS_EDIVIDE;
  }
  if (blocks % run->pp != 0) {
    tps_error_set(err, TPS_EDIVIDE, NULL, 0, 0,
                  "--pp: %lld does not divide %lld layers of module '%s'",
                  (long long)run->pp, (long long)blocks, mod->name);
    tps_error_hint(err, "choose a PP size that divides %lld, or give training.pipeline_layers",
                   (long long)blocks);
    return TPS_EDIVIDE;
  }
  for (int64_t i = 0; i < blocks; i++) stage_of[i] = i / (blocks / run->pp);
  return TPS_OK;
}

tps_status tps_plan_build(const tps_model *model, const tps_run *run, tps_plan *plan,
                          tps_error *err) {
  memset(plan, 0, sizeof *plan);
  plan->n_modules = model->n_modules;
  memcpy(plan->modules, model->modules, sizeof plan->modules);
  plan->n_stages = (int)run->pp;
  plan_builder b = {.plan = plan, .run = run};
  tps_status st = TPS_OK;
  bool upstream_trains = false;
  int64_t encoder_tokens = 0;
  int64_t *stage_of = NULL;
  /* One record per layer: refuse counts whose records could not be indexed
   * by an int (the loader caps a module at far fewer). */
  double total_layers = 0.0;
  for (int m = 0; m < plan->n_modules; m++) total_layers += (double)plan->modules[m].layers + 3.0;
  if (total_layers > (double)(INT_MAX / 4)) {
    tps_plan_free(plan);
    return tps_error_set(err, TPS_ERANGE, NULL, 0, 0,
                         "the model has %.0f layers; at most %d are supported", total_layers,
                         INT_MAX / 4);
  }
  /* Refuse a TP size before lowering anything, in the order a user reads. */
  for (int m = 0; m < plan->n_modules; m++)
    if ((st = eng_check_module_split(&plan->modules[m], run, err)) != TPS_OK) {
      tps_plan_free(plan);
      return st;
    }

  for (int m = 0; m < plan->n_modules && st == TPS_OK; m++) {
    tps_module *mod = &plan->modules[m];
    if (mod->type == TPS_MODULE_VIT) encoder_tokens = mod->tokens;
    if (mod->type == TPS_MODULE_PROJECTOR) {
      if (encoder_tokens == 0) {
        st = tps_error_set(err, TPS_EINVAL, NULL, 0, 0,
                           "projector '%s' has no vit module before it to take tokens from", mod->name);
        break;
      }
      mod->tokens = encoder_tokens;
    }
    int64_t blocks = mod->type == TPS_MODULE_PROJECTOR ? 1 : mod->layers;
    free(stage_of);
    stage_of = malloc((size_t)blocks * sizeof *stage_of);
    if (!stage_of) {
      st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while planning");
      break;
    }
    if ((st = block_stages(plan, run, m, stage_of, err)) != TPS_OK) break;
    tps_lower_opts o = {.needs_input_grad = upstream_trains};
    switch (mod->type) {
      case TPS_MODULE_VIT:
        o.kind = TPS_LAYER_PATCH_EMBED;
        st = layer_add(&b, m, -1, o, (int)stage_of[0], err);
        for (int64_t i = 0; i < blocks && st == TPS_OK; i++) {
          o.kind = TPS_LAYER_BLOCK;
          o.full_attention = is_full_attention_block(mod, i);
          st = layer_add(&b, m, i, o, (int)stage_of[i], err);
        }
        break;
      case TPS_MODULE_PROJECTOR:
        o.kind = TPS_LAYER_MERGER;
        st = layer_add(&b, m, -1, o, (int)stage_of[0], err);
        break;
      case TPS_MODULE_DECODER: {
        /* A decoder without a vocabulary is a bare block stack (tp-kernel's
         * layers): no embedding, no head. Model files always give one. */
        bool has_vocab = mod->vocab > 0;
        if (has_vocab) {
          o.kind = TPS_LAYER_EMBEDDING;
          st = layer_add(&b, m, -1, o, (int)stage_of[0], err);
        }
        /* Everything after the embedding sees a trainable input. */
        if (!mod->frozen) o.needs_input_grad = true;
        for (int64_t i = 0; i < blocks && st == TPS_OK; i++) {
          o.kind = TPS_LAYER_BLOCK;
          o.moe = tps_module_layer_is_moe(mod, i);
          st = layer_add(&b, m, i, o, (int)stage_of[i], err);
        }
        o.moe = false;
        if (st != TPS_OK || !has_vocab) break;
        o.kind = TPS_LAYER_HEAD;
        st = layer_add(&b, m, -1, o, (int)stage_of[blocks - 1], err);
        if (st == TPS_OK) st = mtp_add(&b, m, o, (int)stage_of[blocks - 1], err);
        if (st == TPS_OK && mod->tied_embeddings && stage_of[0] != stage_of[blocks - 1]) {
          /* Megatron keeps a copy of the shared embedding on the last stage. */
          plan->layers[plan->n_layers - 1].extra_params = eng_tied_copy_params(mod, run);
        }
        break;
      }
    }
    upstream_trains |= !mod->frozen;
  }
  free(stage_of);
  if (st != TPS_OK) tps_plan_free(plan);
  return st;
}

void tps_plan_free(tps_plan *plan) {
  for (int i = 0; i < plan->n_templates; i++) tps_op_list_free(&plan->templates[i].ops);
  free(plan->templates);
  free(plan->layers);
  memset(plan, 0, sizeof *plan);
}
