/* The strict JSON reader of model descriptions (io/json_fields.h): a
 * Hugging Face config.json (hf_config.c) and a MindSpeed-MM model JSON
 * (mm_model.c) go through it. */
#include "io/json_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

tps_status jf_open(io_doc *d, const char *path, const char *what, yaml_node_t **root,
                   tps_error *err) {
  tps_status st = io_doc_load_json(d, path, err);
  if (st) return st;
  yaml_node_t *r = io_doc_root(d);
  *root = r;
  if (r && (st = jf_refuse_duplicates(d, r, "the config", 0))) return st;
  if (!r) {
    tps_error_set(err, TPS_ESYNTAX, d->path, 1, 1, "file is empty");
    tps_error_hint(err, "%s is a JSON object", what);
    return TPS_ESYNTAX;
  }
  if (r->type != YAML_MAPPING_NODE) {
    char got[64];
    io_node_desc(r, got, sizeof got);
    return io_doc_fail(d, r, TPS_ETYPE, "%s must be a JSON object, got %s", what, got);
  }
  return TPS_OK;
}

/* A value, or NULL when the key is absent or JSON null. */
yaml_node_t *jf_field(io_doc *d, const yaml_node_t *map, const char *key) {
  yaml_node_t *n = io_map_get(d, map, key);
  if (n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
    const char *s = (const char *)n->data.scalar.value;
    if (strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || *s == '\0') return NULL;
  }
  return n;
}

/* Reads an integer field >= min, or keeps *out (the default) when absent;
 * *at receives the node (NULL when defaulted). */
tps_status jf_int(io_doc *d, const yaml_node_t *map, const char *key, int64_t min,
                  int64_t *out, yaml_node_t **at) {
  yaml_node_t *n = jf_field(d, map, key);
  if (at) *at = n;
  if (!n) return TPS_OK;
  char what[80];
  snprintf(what, sizeof what, "'%s'", key);
  return io_node_int(d, n, what, min, IO_COUNT_MAX, out);
}

/* A layer count: 1..IO_LAYERS_MAX. */
tps_status jf_layers(io_doc *d, const yaml_node_t *map, const char *key, int64_t *out) {
  yaml_node_t *n = jf_field(d, map, key);
  if (!n) return TPS_OK;
  char what[80];
  snprintf(what, sizeof what, "'%s'", key);
  return io_node_int(d, n, what, 1, IO_LAYERS_MAX, out);
}

tps_status jf_bool(io_doc *d, const yaml_node_t *map, const char *key, bool *out) {
  yaml_node_t *n = jf_field(d, map, key);
  if (!n) return TPS_OK;
  char what[80];
  snprintf(what, sizeof what, "'%s'", key);
  return io_node_bool(d, n, what, out);
}

/* One key of a mapping, for sorting. */
typedef struct jf_key {
  const yaml_node_t *node;
  const char *text;
  size_t len;
} jf_key;

static int jf_key_cmp(const void *pa, const void *pb) {
  const jf_key *a = pa, *b = pb;
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->text, b->text, n);
  if (c) return c;
  if (a->len != b->len) return a->len < b->len ? -1 : 1;
  /* equal keys in document order */
  return a->node->start_mark.index < b->node->start_mark.index ? -1
         : a->node->start_mark.index > b->node->start_mark.index;
}

/* Refuses a key given twice in any mapping of the document, as the model
 * YAML does (a JSON parser would silently keep the first or the last one):
 * "duplicate key 'hidden_size' in 'vision_config'", first given at line N.
 * Keys are sorted per mapping (a hostile object may hold 10^5 keys), and
 * the repeat that comes first in the file is reported. `depth` is bounded by
 * io_doc_load's nesting limit. */
tps_status jf_refuse_duplicates(io_doc *d, const yaml_node_t *n, const char *where,
                                int depth) {
  if (!n || depth > IO_DEPTH_MAX + 1) return TPS_OK;
  if (n->type == YAML_SEQUENCE_NODE) {
    for (int i = 0; i < io_seq_len(n); i++) {
      tps_status st = jf_refuse_duplicates(d, io_seq_at(d, n, i), where, depth + 1);
      if (st) return st;
    }
    return TPS_OK;
  }
  if (n->type != YAML_MAPPING_NODE) return TPS_OK;
  size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
  if (count > 1) {
    jf_key *keys = malloc(count * sizeof *keys);
    if (!keys) return io_doc_fail(d, n, TPS_ENOMEM, "out of memory while reading the config");
    size_t m = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
      yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
      if (k && k->type == YAML_SCALAR_NODE)
        keys[m++] = (jf_key){k, (const char *)k->data.scalar.value, k->data.scalar.length};
    }
    qsort(keys, m, sizeof *keys, jf_key_cmp);
    const jf_key *first = NULL, *repeat = NULL;
    for (size_t i = 1; i < m; i++) {
      if (keys[i].len != keys[i - 1].len || memcmp(keys[i].text, keys[i - 1].text, keys[i].len))
        continue;
      if (!repeat || keys[i].node->start_mark.index < repeat->node->start_mark.index) {
        repeat = &keys[i];
        first = &keys[i - 1];
        while (first > keys && first[-1].len == first->len &&
               memcmp(first[-1].text, first->text, first->len) == 0)
          first--;
      }
    }
    if (repeat) {
      io_doc_fail(d, repeat->node, TPS_ESYNTAX, "duplicate key '%.64s' in %s", repeat->text, where);
      io_doc_hint(d, "first given at line %d; JSON readers disagree on which value wins",
                  io_node_line(first->node));
      free(keys);
      return TPS_ESYNTAX;
    }
    free(keys);
  }
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
    char inner[96];
    if (k && k->type == YAML_SCALAR_NODE)
      snprintf(inner, sizeof inner, "'%.64s'", (const char *)k->data.scalar.value);
    else
      snprintf(inner, sizeof inner, "%s", where);
    tps_status st = jf_refuse_duplicates(d, yaml_document_get_node(&d->doc, p->value), inner,
                                      depth + 1);
    if (st) return st;
  }
  return TPS_OK;
}

/* A text field tp-sim uses (and may print): no control characters, which
 * a JSON value may otherwise hold (io_doc_load_json). */
tps_status jf_plain_text(io_doc *d, const yaml_node_t *n) {
  if (!n || n->type != YAML_SCALAR_NODE) return TPS_OK;
  for (size_t i = 0; i < n->data.scalar.length; i++) {
    unsigned char c = n->data.scalar.value[i];
    if (c < 0x20 || c == 0x7F)
      return io_doc_fail(d, n, TPS_ESYNTAX, "text holds a control character (0x%02x)", c);
  }
  return TPS_OK;
}
