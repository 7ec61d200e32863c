/* Looking flags up in the classification table (megatron_flag_table.c),
 * deciding whether a value makes a flag harmless, and turning the flags one
 * text gave into the unmodelled and unknown lists (flag_classes.h). */
#include "io/flag_classes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/megatron_flags.h"
#include "tpsim/io.h"

static const char *const group_names[FLC_G_N] = {
    "",    "bert", "cp",  "dsa",     "ema",   "fp4", "fp8", "fsdp", "hybrid", "lora",   "mhc",
    "mla", "moe",  "mtp", "offload", "retro", "rl",  "t5",  "tp2d", "tpo",    "vision", "window"};

const char *flc_group_name(flc_group g) {
  return g >= 0 && g < FLC_G_N ? group_names[g] : "";
}

const char *flc_class_name(flc_class c) {
  return c == FLC_MODELLED ? "modelled" : c == FLC_IGNORED ? "ignored" : "unmodelled";
}

const flc_flag *flc_find(const char *name, size_t len) {
  int lo = 0, hi = flc_n_flags - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    const char *m = flc_flags[mid].name;
    int c = strncmp(m, name, len);
    if (c == 0 && m[len] != '\0') c = 1; /* m is longer */
    if (c == 0) return &flc_flags[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return NULL;
}

bool flc_harmless(const flc_flag *f, const char *value) {
  if (!f->harmless || !value) return false;
  if (strncmp(f->harmless, "<=", 2) == 0) {
    int64_t limit, v;
    if (!io_int_parse(f->harmless + 2, &limit)) return false;
    return io_int_parse(value, &v) && v <= limit;
  }
  /* alternatives a|b|c */
  size_t vl = strlen(value);
  for (const char *p = f->harmless; *p;) {
    const char *bar = strchr(p, '|');
    size_t l = bar ? (size_t)(bar - p) : strlen(p);
    if (l == vl && strncmp(p, value, l) == 0) return true;
    if (!bar) break;
    p = bar + 1;
  }
  return false;
}

void flc_seen_flag_add(flc_seen *s, const flc_flag *f, const char *value,
                       const char *why_unresolved, int line) {
  flc_seen_flag *e = NULL;
  for (int i = 0; i < s->n && !e; i++)
    if (s->flags[i].f == f) e = &s->flags[i];
  if (!e) {
    if (s->n >= FLC_SEEN_MAX) return; /* 256 distinct classified flags: more are not kept */
    e = &s->flags[s->n++];
  }
  e->f = f;
  snprintf(e->value, sizeof e->value, "%.*s", (int)sizeof e->value - 1, value ? value : "");
  snprintf(e->why_unresolved, sizeof e->why_unresolved, "%.*s",
           (int)sizeof e->why_unresolved - 1, why_unresolved ? why_unresolved : "");
  e->line = line;
}

void flc_seen_unknown_add(flc_seen *s, const char *name, size_t len, int line) {
  if (len >= sizeof s->unknown[0].name) len = sizeof s->unknown[0].name - 1;
  for (int i = 0; i < s->n_unknown; i++)
    if (strlen(s->unknown[i].name) == len && strncmp(s->unknown[i].name, name, len) == 0) return;
  if (s->n_unknown >= TPS_ECO_UNRESOLVED_MAX) {
    s->unknown_dropped++;
    return;
  }
  flc_unknown_flag *u = &s->unknown[s->n_unknown++];
  memcpy(u->name, name, len);
  u->name[len] = '\0';
  u->line = line;
}

static void list_add(tps_eco_list *l, const char *arg, const char *text, const char *why,
                     int line) {
  io_eco_item_add(l->items, &l->n, &l->dropped, arg, text, why, line);
}

/* Whether a trigger counts: given, and its value is not known to be harmless. */
static bool trigger_active(const flc_seen_flag *e) {
  if (e->f->takes == FLC_SWITCH) return true;
  if (e->why_unresolved[0]) return true; /* the value is not known: it may matter */
  return !flc_harmless(e->f, e->value);
}

void flc_report(const flc_seen *s, const char *const *known_modelled, int n_known,
                tps_eco_unresolved *u) {
  if (!u) return;
  bool active[FLC_G_N] = {false};
  for (int i = 0; i < s->n; i++) {
    const flc_seen_flag *e = &s->flags[i];
    if (e->f->cls == FLC_UNMODELLED && e->f->trigger && trigger_active(e))
      active[e->f->group] = true;
  }
  for (int g = 0; g < FLC_G_N; g++) active[g] |= s->group_on[g];
  active[FLC_G_NONE] = false;
  for (int i = 0; i < s->n; i++) {
    const flc_seen_flag *e = &s->flags[i];
    const flc_flag *f = e->f;
    if (f->cls == FLC_MODELLED) {
      /* classified as modelled, but the value table does not read it (yet) */
      mgf_unres_add(u, f->name, e->value, "not read from a script or argument string yet",
                    e->line);
      continue;
    }
    if (f->cls != FLC_UNMODELLED) continue;
    bool counts = f->trigger ? trigger_active(e) : active[f->group];
    if (!counts) continue;
    char why[sizeof u->unmodelled.items[0].why];
    if (e->why_unresolved[0])
      snprintf(why, sizeof why, "%s (the value is not known: %s)", f->note, e->why_unresolved);
    else
      snprintf(why, sizeof why, "%s", f->note);
    list_add(&u->unmodelled, f->name, e->value, why, e->line);
    if (f->harmless && strcmp(f->harmless, FLC_HARMLESS_MEAN_LEN) == 0 && u->unmodelled.n > 0 &&
        strcmp(u->unmodelled.items[u->unmodelled.n - 1].arg, f->name) == 0)
      u->unmodelled.items[u->unmodelled.n - 1].harmless_with_mean_len = true;
  }
  for (int i = 0; i < s->n_unknown; i++) {
    const flc_unknown_flag *k = &s->unknown[i];
    const char *close = NULL;
    /* the closest name in either table */
    const char **names = malloc(((size_t)flc_n_flags + (size_t)n_known) * sizeof *names);
    if (names) {
      int n = 0;
      for (int j = 0; j < n_known; j++) names[n++] = known_modelled[j];
      for (int j = 0; j < flc_n_flags; j++) names[n++] = flc_flags[j].name;
      close = tps_did_you_mean(k->name, names, n);
    }
    char why[sizeof u->unknown.items[0].why];
    if (close)
      snprintf(why, sizeof why, "did you mean '%s'?", close);
    else
      snprintf(why, sizeof why, "not a Megatron-LM or MindSpeed flag tp-sim knows");
    free(names);
    list_add(&u->unknown, k->name, "", why, k->line);
  }
  u->unknown.dropped += s->unknown_dropped;
}

/* ---- the whole classification, for listing ---- */

static bool flag_in_value_table(const char *name) {
  for (int k = 0; k < mgf_n_flags; k++)
    if (strcmp(mgf_flags[k].name, name) == 0) return true;
  return false;
}

static int info_cmp(const void *a, const void *b) {
  return strcmp(((const tps_flag_info *)a)->name, ((const tps_flag_info *)b)->name);
}

static const char *takes_name(flc_takes t) {
  return t == FLC_SWITCH ? "switch" : t == FLC_VALUE ? "value" : "values";
}

int tps_megatron_flags_list(tps_flag_info *out, int max) {
  int n = 0;
  for (int k = 0; k < mgf_n_flags; k++, n++) {
    if (!out || n >= max) continue;
    const mgf_flag *f = &mgf_flags[k];
    out[n] = (tps_flag_info){f->name, "modelled", f->kind == MGF_SWITCH ? "switch" : "value",
                             "", false, "",
                             f->shape ? "read: the model's shape (docs/ecosystem.md)"
                                      : "read: the run (docs/ecosystem.md)"};
  }
  for (int k = 0; k < flc_n_flags; k++) {
    const flc_flag *f = &flc_flags[k];
    if (flag_in_value_table(f->name)) continue; /* the value table reads it */
    if (out && n < max)
      out[n] = (tps_flag_info){f->name,          flc_class_name(f->cls), takes_name(f->takes),
                               flc_group_name(f->group), f->trigger,  f->harmless ? f->harmless : "",
                               f->note};
    n++;
  }
  if (out) qsort(out, (size_t)(n < max ? n : max), sizeof *out, info_cmp);
  return n;
}
