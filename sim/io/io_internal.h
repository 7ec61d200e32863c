/* Private helpers of the input layer (sim/io): number scanning, units with
 * hints, fractions; the enum name tables the loaders parse with come from
 * the base (base/names.h). Not part of the public API. */
#ifndef TPSIM_IO_INTERNAL_H
#define TPSIM_IO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/names.h"
#include "tpsim/io.h"

/* Largest value accepted for a count (layers, widths, vocab, tokens, ...). */
#define TPS_IO_COUNT_MAX 1000000000LL
/* Largest number of layers (blocks) of one module. The engine keeps one
 * record per layer, so a count near TPS_IO_COUNT_MAX would need gigabytes;
 * real models have at most a few hundred. */
#define TPS_IO_LAYERS_MAX 100000LL
/* Largest input file read, bytes. */
#define TPS_IO_FILE_MAX (1024L * 1024L)
/* Deepest nesting of collections accepted before a document is built. */
#define TPS_IO_DEPTH_MAX 16

/* Scans a decimal number at s: [+-] digits [. digits] [(e|E) [+-] digits]
 * (at least one digit before or after the point). No hex, no inf/nan, no
 * leading blanks. On success stores the value, sets *end past the number
 * and returns true; *overflow is set when the value does not fit a finite
 * double (or underflows to a denormal/zero from a non-zero literal). */
bool tps_number_scan(const char *s, double *value, const char **end,
                     bool *overflow);

/* Parses a whole string as a plain number (tps_number_scan, nothing after
 * it). Returns false on any junk or overflow. */
bool tps_number_parse(const char *s, double *value);

/* tps_unit_parse with a hint: on an unknown unit, hint receives a sentence
 * such as "units are case-sensitive; did you mean 'GiB'?" (or is emptied).
 * hint may be NULL. */
tps_status tps_unit_parse_hint(const char *quantity, const char *text,
                               double *out, char *why, size_t why_size,
                               char *hint, size_t hint_size);

/* Parses a fraction: a plain number in (0, 1] or a percentage in (0, 100]
 * followed by '%' ("35%" -> 0.35). Returns false when text is not one. */
bool tps_fraction_parse(const char *text, double *out);

#endif
