/* Reading the fields of a JSON model description (a Hugging Face
 * config.json, hf_config.c; a MindSpeed-MM model JSON, mm_model.c): the one
 * strict JSON reader both use. Not part of the public API.
 *
 * The file goes through io_doc_load_json (YAML flow syntax, so errors carry
 * FILE:LINE:COL); a JSON `null` (or an empty plain value) counts as "left
 * out", and a key given twice anywhere in the document is refused. */
#ifndef TPSIM_IO_JSON_FIELDS_H
#define TPSIM_IO_JSON_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

#include "io/yaml_doc.h"

/* Loads path as JSON and checks that it is one object with no duplicate
 * key; *root receives it. `what` names the file in messages ("a
 * config.json"). On error d needs no freeing beyond io_doc_free. */
tps_status jf_open(io_doc *d, const char *path, const char *what, yaml_node_t **root,
                   tps_error *err);

/* A value, or NULL when the key is absent or JSON null. */
yaml_node_t *jf_field(io_doc *d, const yaml_node_t *map, const char *key);

/* An integer field in [min, IO_COUNT_MAX], or *out (the default) kept when
 * absent; *at (may be NULL) receives the node, NULL when defaulted. */
tps_status jf_int(io_doc *d, const yaml_node_t *map, const char *key, int64_t min,
                  int64_t *out, yaml_node_t **at);

/* A layer count: 1..IO_LAYERS_MAX, or *out kept when absent. */
tps_status jf_layers(io_doc *d, const yaml_node_t *map, const char *key, int64_t *out);

/* A boolean field, or *out kept when absent. */
tps_status jf_bool(io_doc *d, const yaml_node_t *map, const char *key, bool *out);

/* Refuses a key given twice in any mapping under n ("duplicate key
 * 'hidden_size' in 'vision_config'", first given at line N). */
tps_status jf_refuse_duplicates(io_doc *d, const yaml_node_t *n, const char *where,
                                int depth);

/* A text field tp-sim uses (and may print): no control characters, which a
 * JSON value may otherwise hold. n may be NULL. */
tps_status jf_plain_text(io_doc *d, const yaml_node_t *n);

#endif
