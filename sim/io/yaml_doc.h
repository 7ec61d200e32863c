/* A loaded YAML file and table-driven readers for its mappings.
 *
 * io_doc_load reads one file (at most IO_FILE_MAX bytes), rejects what
 * the schema never needs and what could hurt (several documents, anchors and
 * aliases, nesting deeper than IO_DEPTH_MAX, NUL or control characters in
 * text) and builds a libyaml document whose nodes carry their position.
 *
 * Every error goes to the tps_error given to io_doc_load with the file name
 * and the 1-based line and column of the node at fault. Readers return the
 * status they set, so callers can `if ((st = ...)) return st;`.
 *
 * Not part of the public API (named io_*): sim/io reads its files with it,
 * and sim/validate reads published cases and tp-kernel's JSON with it. */
#ifndef TPSIM_IO_YAML_DOC_H
#define TPSIM_IO_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "tpsim/model.h"
#include "tpsim/status.h"

typedef struct io_doc {
  char path[512];
  yaml_document_t doc;
  bool loaded;    /* doc holds a document to delete */
  tps_error *err; /* where errors go; may be NULL */
} io_doc;

/* Reads a whole input file (at most IO_FILE_MAX bytes) into *buf (malloc'd,
 * NUL-terminated; *len bytes before the NUL). Refuses anything but a regular
 * file without blocking ("is a named pipe (FIFO), not a regular file", a
 * device, a socket, a directory) and reports open errors with strerror
 * ("cannot open file: too many levels of symbolic links", "... not a
 * directory"). Errors carry path as their file, no line. */
tps_status io_file_read(const char *path, unsigned char **buf, size_t *len, tps_error *err);

/* Reads and parses path. On error nothing needs freeing, but io_doc_free is
 * harmless. */
tps_status io_doc_load(io_doc *d, const char *path, tps_error *err);
/* io_doc_load for a JSON file (JSON is YAML flow syntax): also accepts
 * what valid JSON holds and YAML refuses, a surrogate pair of \u escapes
 * (decoded to the UTF-8 of its character) and escaped control characters
 * other than NUL in values ("\r\n"); keys still may not hold them. */
tps_status io_doc_load_json(io_doc *d, const char *path, tps_error *err);
void io_doc_free(io_doc *d);
/* The root node, or NULL for an empty file. */
yaml_node_t *io_doc_root(io_doc *d);

/* Sets an error located at node `at` (its start; NULL: the file itself, no
 * line) and returns status. */
tps_status io_doc_fail(io_doc *d, const yaml_node_t *at, tps_status status,
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets the hint of the error last set. */
void io_doc_hint(io_doc *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Describes a node for "got ..." in messages: 'text' (cut at 40
 * characters), "nothing" (empty plain scalar), "a list", "an empty list",
 * "a mapping" or "an empty mapping". */
void io_node_desc(const yaml_node_t *n, char *buf, size_t size);
/* 1-based line of a node. */
int io_node_line(const yaml_node_t *n);

/* Sequence access. */
int io_seq_len(const yaml_node_t *seq);
yaml_node_t *io_seq_at(io_doc *d, const yaml_node_t *seq, int i);
/* Value of the first pair whose key is `key` in a mapping, or NULL. */
yaml_node_t *io_map_get(io_doc *d, const yaml_node_t *map, const char *key);

/* Scalar readers. `what` names the value in messages ("'layers'", "each entry
 * of 'full_attention_blocks'"). */
tps_status io_node_string(io_doc *d, const yaml_node_t *n, const char *what,
                          char *buf, size_t size);
tps_status io_node_int(io_doc *d, const yaml_node_t *n, const char *what,
                        int64_t min, int64_t max, int64_t *out);
tps_status io_node_bool(io_doc *d, const yaml_node_t *n, const char *what,
                         bool *out);
/* choices: NULL-terminated; *out is the index of the match. */
tps_status io_node_enum(io_doc *d, const yaml_node_t *n, const char *what,
                        const char *const *choices, int *out);
/* A plain number (no unit) in [min, max]. */
tps_status io_node_number(io_doc *d, const yaml_node_t *n, const char *what,
                           double min, double max, double *out);
/* Requires a mapping; `what` as in "'device' must be a mapping". */
tps_status io_node_expect_map(io_doc *d, const yaml_node_t *n,
                              const char *what);

/* Key tables: one row per key of a mapping (Redis config.c style). */
typedef enum {
  IO_KEY_STRING,   /* char[size] at offset */
  IO_KEY_INT,      /* int64_t at offset, in [min, max] */
  IO_KEY_BOOL,     /* bool at offset: true or false */
  IO_KEY_ENUM,     /* enum (int-sized) at offset, one of choices */
  IO_KEY_QUANTITY, /* double at offset, SI units of `quantity`; min 1: > 0 */
  IO_KEY_FRACTION, /* double at offset in (0, 1] */
  IO_KEY_NUMBER,   /* double at offset, plain number in [min, max] */
  IO_KEY_TABLE,    /* tps_table at offset; x in `quantity` (NULL: plain) */
  IO_KEY_NODE      /* not read: the value node is handed to the caller */
} io_key_type;

#define IO_VARIANT_ALL 0xffu
#define IO_KEYS_MAX 64

typedef struct io_key {
  const char *name;
  io_key_type type;
  size_t offset;              /* where the value goes in the caller's struct */
  size_t size;                /* STRING: capacity of the char array */
  int64_t min, max;           /* INT, NUMBER: range; QUANTITY: min 1 means > 0 */
  int64_t def;                /* INT, BOOL, ENUM: value when absent, optional */
  const char *const *choices; /* ENUM: NULL-terminated, index = enum value */
  const char *quantity;       /* QUANTITY; TABLE: unit of x */
  unsigned applies;           /* variants (bits) the key belongs to */
  unsigned required;          /* variants that must give it */
  const char *help;           /* meaning and unit, one line */
  /* QUANTITY, NUMBER, FRACTION, TABLE (one-point form only): the value may
   * carry a spread, `value +- sd` or `value ± sd` (sd >= 0, in the value's
   * unit); sd goes to base + sd_offset (TABLE: the table's own sd). A key
   * without `spread` refuses one by name. */
  bool spread;
  size_t sd_offset;
} io_key;

typedef struct io_map_ctx {
  const char *where;   /* "module 'language_model'", "'device'", "the model file" */
  unsigned variant_bit;     /* bit of the variant read; IO_VARIANT_ALL if none */
  const char *variant_name; /* "vit" for "key 'vocab' does not apply to vit
                               module 'x'"; NULL: such keys are unknown */
} io_map_ctx;

/* Reads a mapping through a key table: rejects non-string keys, unknown keys
 * (with a did-you-mean hint), duplicate keys and keys of other variants;
 * parses each value into base + offset; writes `def` for absent optional
 * INT/BOOL/ENUM keys; then reports the first missing required key at the
 * mapping. A `source:` string is accepted in every mapping even when the
 * table lacks it. found[i] receives the value node of keys[i] (NULL when
 * absent). */
tps_status io_map_read(io_doc *d, const yaml_node_t *map,
                       const io_key *keys, int n, const io_map_ctx *ctx,
                       void *base, yaml_node_t **found);

#endif
