/* Private helpers of the input layer (sim/io): limits, number scanning,
 * units with hints and fractions; the enum name tables the loaders parse
 * with come from the base (base/names.h). Not part of the public API. */
#ifndef TPSIM_IO_INTERNAL_H
#define TPSIM_IO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/names.h"
#include "tpsim/ecosystem.h"
#include "tpsim/io.h"

/* Largest value accepted for a count (layers, widths, vocab, tokens, ...). */
#define IO_COUNT_MAX 1000000000LL
/* Largest number of layers (blocks) of one module. The engine keeps one
 * record per layer, so a count near IO_COUNT_MAX would need gigabytes;
 * real models have at most a few hundred. */
#define IO_LAYERS_MAX 100000LL
/* Largest input file read, bytes. */
#define IO_FILE_MAX (1024L * 1024L)
/* Deepest nesting of collections accepted before a document is built. */
#define IO_DEPTH_MAX 16

/* Parses a whole string as a plain decimal number ([+-] digits [. digits]
 * [(e|E) [+-] digits], nothing before or after it). Returns false on any
 * junk or overflow. */
bool io_number_parse(const char *s, double *value);

/* Parses a whole string as a decimal integer: [+-] digits, nothing else (no
 * blanks, no exponent); false when it is not one or does not fit int64_t. */
bool io_int_parse(const char *s, int64_t *out);

/* tps_unit_parse with a hint: on an unknown unit, hint receives a sentence
 * such as "units are case-sensitive; did you mean 'GiB'?" (or is emptied).
 * hint may be NULL. */
tps_status io_unit_parse_hint(const char *quantity, const char *text,
                              double *out, char *why, size_t why_size,
                              char *hint, size_t hint_size);

/* Parses a fraction: a plain number in (0, 1] or a percentage in (0, 100]
 * followed by '%' ("35%" -> 0.35). Returns false when text is not one. */
bool io_fraction_parse(const char *text, double *out);

/* Empties a model a reader failed to fill, keeping its path for the
 * messages (model_load.c): no reader hands back half a model. */
void io_model_clear(tps_model *model);

/* Appends an item to one of the readers' bounded lists (items, *n of
 * TPS_ECO_UNRESOLVED_MAX filled), or counts it in *dropped when full;
 * strings may be NULL (empty) and are cut to the fields (eco_list.c). */
void io_eco_item_add(tps_eco_item *items, int *n, int *dropped, const char *arg, const char *text,
                     const char *why, int line);

#endif
