/* The classification of Megatron-LM / MindSpeed flags that are not in the
 * value table of megatron_flags.c (docs/ecosystem.md, "Flag classes"):
 *
 *   modelled     read by tp-sim (the value table holds the rest of them);
 *   ignored      no effect on memory or time that tp-sim models: paths,
 *                logging, checkpointing, seeds, data, launcher, kernel
 *                fusions (inside the stack profile's efficiencies);
 *   unmodelled   changes memory or time in a way the engine does not model
 *                (context parallelism, FP8, experts, offload, ...).
 *
 * An unmodelled row is a trigger (given with a value that is not harmless,
 * it is not modelled) or a member of a feature group (it matters only when
 * a trigger of its group is active: --moe-router-topk without
 * --num-experts changes nothing). A flag in neither table is unknown.
 * Not part of the public API. */
#ifndef TPSIM_IO_FLAG_CLASSES_H
#define TPSIM_IO_FLAG_CLASSES_H

#include <stdbool.h>
#include <stddef.h>

#include "io/shell_read.h"
#include "tpsim/ecosystem.h"

typedef enum { FLC_MODELLED, FLC_IGNORED, FLC_UNMODELLED } flc_class;

/* How argparse reads the flag: no value, one value, or values up to the
 * next flag (nargs='+' / '*'). */
typedef enum { FLC_SWITCH, FLC_VALUE, FLC_LIST } flc_takes;

/* Feature groups of unmodelled flags. */
typedef enum {
  FLC_G_NONE, FLC_G_BERT, FLC_G_CP, FLC_G_DSA, FLC_G_EMA, FLC_G_FP4, FLC_G_FP8, FLC_G_FSDP,
  FLC_G_HYBRID, FLC_G_LORA, FLC_G_MHC, FLC_G_MLA, FLC_G_MOE, FLC_G_MTP, FLC_G_OFFLOAD,
  FLC_G_RETRO, FLC_G_RL, FLC_G_T5, FLC_G_TP2D, FLC_G_TPO, FLC_G_VISION, FLC_G_WINDOW, FLC_G_N
} flc_group;

#define FLC_HARMLESS_MEAN_LEN "--mean-seq-len given"

typedef struct flc_flag {
  const char *name; /* "--context-parallel-size" */
  flc_class cls;
  flc_takes takes;
  flc_group group;
  bool trigger;     /* unmodelled when given (unless harmless), whatever its group */
  /* Values that make a trigger harmless: "<=N" (an integer at most N), or
   * alternatives "a|b"; FLC_HARMLESS_MEAN_LEN: a switch that changes nothing
   * once the run has a mean sample length; NULL: none. */
  const char *harmless;
  const char *note; /* why: what the flag does and what tp-sim does about it */
} flc_flag;

/* The table, sorted by name (strcmp order; a unit test checks it). */
extern const flc_flag flc_flags[];
extern const int flc_n_flags;

/* The row of a flag name of len characters, or NULL. */
const flc_flag *flc_find(const char *name, size_t len);

/* The group's name ("moe"), "" for FLC_G_NONE. */
const char *flc_group_name(flc_group g);
/* "modelled", "ignored", "unmodelled". */
const char *flc_class_name(flc_class c);

/* Whether value (as written, after expansion) makes trigger f harmless. */
bool flc_harmless(const flc_flag *f, const char *value);

/* ---- what one text (a script or an argument string) gave ---- */

#define FLC_SEEN_MAX 256

typedef struct flc_seen_flag {
  const flc_flag *f;
  char value[128];  /* as written after expansion; "" for a switch */
  char why_unresolved[160]; /* the value is not known: why ("" when known) */
  int line;
} flc_seen_flag;

typedef struct flc_unknown_flag {
  char name[64];
  int line;
} flc_unknown_flag;

typedef struct flc_seen {
  flc_seen_flag flags[FLC_SEEN_MAX]; /* one per row, the last value given */
  int n;
  flc_unknown_flag unknown[TPS_ECO_UNRESOLVED_MAX];
  int n_unknown;
  int unknown_dropped;
  bool group_on[FLC_G_N]; /* features a modelled flag turned on (--num-experts 8): their
                             unmodelled members count as a trigger's would */
} flc_seen;

/* Records a classified flag (a later one replaces an earlier one, as in
 * argparse); why_unresolved (copied) says why its value is not known, or is
 * NULL. */
void flc_seen_flag_add(flc_seen *s, const flc_flag *f, const char *value,
                       const char *why_unresolved, int line);
/* Records an unknown flag once. */
void flc_seen_unknown_add(flc_seen *s, const char *name, size_t len, int line);

/* Lists what the flags seen mean for the caller: the unmodelled ones (the
 * triggers given with a value that is not harmless, and the members of an
 * active group) in u->unmodelled, the unknown ones with a did-you-mean in
 * u->unknown, modelled rows whose value table entry is missing in u's
 * unresolved items. known_modelled lists the value table's names. */
void flc_report(const flc_seen *s, const char *const *known_modelled, int n_known,
                tps_eco_unresolved *u);

#endif
