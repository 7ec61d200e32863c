/* Typed readers for YAML nodes and the key-table walker for mappings.
 * Every reader checks the node kind, the text and the range, and on failure
 * names the key, what was expected and what was found. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/yaml_doc.h"

static const char *scalar(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                          : NULL;
}

tps_status io_node_expect_map(io_doc *d, const yaml_node_t *n,
                              const char *what) {
  if (n && n->type == YAML_MAPPING_NODE) return TPS_OK;
  char got[64];
  io_node_desc(n, got, sizeof got);
  return io_doc_fail(d, n, TPS_ETYPE, "%s must be a mapping, got %s", what, got);
}

tps_status io_node_string(io_doc *d, const yaml_node_t *n, const char *what,
                          char *buf, size_t size) {
  const char *s = scalar(n);
  char got[64];
  io_node_desc(n, got, sizeof got);
  /* A plain ~ or null is YAML's null, not text. */
  bool is_null = s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                 (strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
                  strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0);
  if (!s || is_null)
    return io_doc_fail(d, n, TPS_ETYPE, "%s must be a string, got %s", what, got);
  if (*s == '\0') return io_doc_fail(d, n, TPS_ETYPE, "%s must not be empty", what);
  if (strlen(s) >= size)
    return io_doc_fail(d, n, TPS_ERANGE, "%s is longer than %zu characters",
                        what, size - 1);
  snprintf(buf, size, "%s", s);
  return TPS_OK;
}

/* "must be an integer >= 1" or, when the range is narrow, "between a and b".
 * status: ETYPE when the text is no integer at all, ERANGE when it is one out
 * of range. */
static tps_status int_fail(io_doc *d, const yaml_node_t *n, const char *what,
                           int64_t min, int64_t max, tps_status status) {
  char got[64];
  io_node_desc(n, got, sizeof got);
  if (max < IO_COUNT_MAX)
    return io_doc_fail(d, n, status,
                        "%s must be an integer between %" PRId64 " and %" PRId64
                        ", got %s",
                        what, min, max, got);
  return io_doc_fail(d, n, status,
                      "%s must be an integer >= %" PRId64 ", got %s", what, min,
                      got);
}

tps_status io_node_int(io_doc *d, const yaml_node_t *n, const char *what,
                        int64_t min, int64_t max, int64_t *out) {
  const char *s = scalar(n);
  if (!s) return int_fail(d, n, what, min, max, TPS_ETYPE);
  /* Decimal digits with an optional sign, nothing else: no 12.5, no 1e3,
   * no 0x10, no blanks. */
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (*p == '\0') return int_fail(d, n, what, min, max, TPS_ETYPE);
  for (const char *q = p; *q; q++)
    if (*q < '0' || *q > '9') return int_fail(d, n, what, min, max, TPS_ETYPE);
  errno = 0;
  long long v = strtoll(s, NULL, 10);
  if (errno == ERANGE || v > max) {
    if (*s == '-') return int_fail(d, n, what, min, max, TPS_ERANGE);
    char got[64];
    io_node_desc(n, got, sizeof got);
    return io_doc_fail(d, n, TPS_ERANGE, "%s must be at most %" PRId64 ", got %s",
                        what, max, got);
  }
  if (v < min) return int_fail(d, n, what, min, max, TPS_ERANGE);
  *out = (int64_t)v;
  return TPS_OK;
}

tps_status io_node_bool(io_doc *d, const yaml_node_t *n, const char *what,
                         bool *out) {
  const char *s = scalar(n);
  if (s && strcmp(s, "true") == 0) {
    *out = true;
    return TPS_OK;
  }
  if (s && strcmp(s, "false") == 0) {
    *out = false;
    return TPS_OK;
  }
  char got[64];
  io_node_desc(n, got, sizeof got);
  io_doc_fail(d, n, TPS_ETYPE, "%s must be true or false, got %s", what, got);
  /* YAML 1.1 spellings that other tools read as booleans. */
  static const char *const other[] = {"yes", "no", "on", "off", "y", "n", "True",
                                      "False", "TRUE", "FALSE", "Yes", "No", NULL};
  for (int i = 0; s && other[i]; i++)
    if (strcmp(s, other[i]) == 0) io_doc_hint(d, "write true or false (lowercase)");
  return TPS_ETYPE;
}

tps_status io_node_enum(io_doc *d, const yaml_node_t *n, const char *what,
                        const char *const *choices, int *out) {
  const char *s = scalar(n);
  int count = 0;
  while (choices[count]) count++;
  for (int i = 0; s && i < count; i++) {
    if (strcmp(s, choices[i]) == 0) {
      *out = i;
      return TPS_OK;
    }
  }
  char list[256] = "", got[64];
  size_t used = 0;
  for (int i = 0; i < count && used < sizeof list; i++) {
    int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                     choices[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
  io_node_desc(n, got, sizeof got);
  io_doc_fail(d, n, TPS_ETYPE, "%s must be one of %s, got %s", what, list, got);
  const char *best = s ? tps_did_you_mean(s, choices, count) : NULL;
  if (best) io_doc_hint(d, "did you mean '%s'?", best);
  return TPS_ETYPE;
}

/* A value with a unit of `quantity` (see tps_unit_parse), in SI units;
 * positive: must be > 0, else >= 0. */
static tps_status node_quantity(io_doc *d, const yaml_node_t *n,
                                const char *what, const char *quantity,
                                bool positive, double *out) {
  const char *s = scalar(n);
  char why[384], hint[128], got[64];
  io_node_desc(n, got, sizeof got);
  if (!s)
    return io_doc_fail(d, n, TPS_ETYPE, "%s must be a number with a unit, got %s",
                        what, got);
  double v = 0.0;
  tps_status st = io_unit_parse_hint(quantity, s, &v, why, sizeof why, hint,
                                     sizeof hint);
  if (st != TPS_OK) {
    io_doc_fail(d, n, st, "%s: %s", what, why);
    if (hint[0]) io_doc_hint(d, "%s", hint);
    return st;
  }
  if (positive && !(v > 0.0))
    return io_doc_fail(d, n, TPS_ERANGE, "%s must be greater than 0, got %s",
                        what, got);
  *out = v;
  return TPS_OK;
}

tps_status io_node_number(io_doc *d, const yaml_node_t *n, const char *what,
                           double min, double max, double *out) {
  const char *s = scalar(n);
  double v;
  if (s && io_number_parse(s, &v) && v >= min && v <= max) {
    *out = v;
    return TPS_OK;
  }
  char got[64];
  io_node_desc(n, got, sizeof got);
  return io_doc_fail(d, n, TPS_ERANGE, "%s must be a number between %g and %g, got %s",
                      what, min, max, got);
}

/* A fraction in (0, 1] or a percentage ("35%"). */
static tps_status node_fraction(io_doc *d, const yaml_node_t *n,
                                const char *what, double *out) {
  const char *s = scalar(n);
  if (s && io_fraction_parse(s, out)) return TPS_OK;
  char got[64];
  io_node_desc(n, got, sizeof got);
  return io_doc_fail(d, n, TPS_ERANGE,
                      "%s must be a fraction in (0, 1] or a percentage, got %s",
                      what, got);
}

/* An efficiency: a fraction (n = 1, x = 1) or a list of [x, y] pairs with x
 * strictly increasing and > 0 (x_quantity: unit of x, NULL for a plain
 * number), y a fraction; at most TPS_MAX_TABLE pairs. */
static tps_status node_table(io_doc *d, const yaml_node_t *n, const char *what,
                             const char *x_quantity, tps_table *out) {
  char got[64], item[96];
  io_node_desc(n, got, sizeof got);
  if (n && n->type == YAML_SCALAR_NODE) {
    double y;
    tps_status st = node_fraction(d, n, what, &y);
    if (st != TPS_OK) return st;
    memset(out, 0, sizeof *out);
    out->n = 1;
    out->x[0] = 1.0;
    out->y[0] = y;
    return TPS_OK;
  }
  int len = io_seq_len(n);
  if (!n || n->type != YAML_SEQUENCE_NODE || len == 0)
    return io_doc_fail(d, n, TPS_ETYPE,
                        "%s must be a fraction or a list of [x, y] pairs, got %s",
                        what, got);
  if (len > TPS_MAX_TABLE)
    return io_doc_fail(d, n, TPS_ERANGE, "%s has %d points; at most %d are allowed",
                        what, len, TPS_MAX_TABLE);
  tps_table t;
  memset(&t, 0, sizeof t);
  for (int i = 0; i < len; i++) {
    yaml_node_t *pair = io_seq_at(d, n, i);
    if (!pair || pair->type != YAML_SEQUENCE_NODE || io_seq_len(pair) != 2) {
      io_node_desc(pair, got, sizeof got);
      return io_doc_fail(d, pair, TPS_ETYPE,
                          "each entry of %s must be an [x, y] pair, got %s", what,
                          got);
    }
    yaml_node_t *xn = io_seq_at(d, pair, 0), *yn = io_seq_at(d, pair, 1);
    double x = 0.0;
    snprintf(item, sizeof item, "x of %s", what);
    if (x_quantity) {
      tps_status st = node_quantity(d, xn, item, x_quantity, true, &x);
      if (st != TPS_OK) return st;
    } else {
      const char *s = scalar(xn);
      if (!s || !io_number_parse(s, &x) || !(x > 0.0)) {
        io_node_desc(xn, got, sizeof got);
        return io_doc_fail(d, xn, TPS_ETYPE,
                            "%s must be a positive number, got %s", item, got);
      }
    }
    if (i > 0 && !(x > t.x[i - 1])) {
      io_node_desc(xn, got, sizeof got);
      yaml_node_t *prev = io_seq_at(d, io_seq_at(d, n, i - 1), 0);
      char before[64];
      io_node_desc(prev, before, sizeof before);
      return io_doc_fail(d, xn, TPS_ERANGE,
                          "x values of %s must increase, got %s after %s", what,
                          got, before);
    }
    snprintf(item, sizeof item, "y of %s", what);
    tps_status st = node_fraction(d, yn, item, &t.y[i]);
    if (st != TPS_OK) return st;
    t.x[i] = x;
    t.n = i + 1;
  }
  *out = t;
  return TPS_OK;
}

/* "unknown key 'hiden' in module 'x'" with a did-you-mean hint over the keys
 * of this variant, or the list of them when none is close. */
static tps_status unknown_key(io_doc *d, const yaml_node_t *kn, const char *key,
                              const io_key *keys, int n,
                              const io_map_ctx *ctx) {
  const char *names[IO_KEYS_MAX + 1];
  int m = 0;
  bool has_source = false;
  for (int i = 0; i < n && m < IO_KEYS_MAX; i++) {
    if (!(keys[i].applies & ctx->variant_bit)) continue;
    names[m++] = keys[i].name;
    if (strcmp(keys[i].name, "source") == 0) has_source = true;
  }
  if (!has_source) names[m++] = "source";
  io_doc_fail(d, kn, TPS_EUNKNOWNKEY, "unknown key '%.64s' in %s", key, ctx->where);
  const char *best = tps_did_you_mean(key, names, m);
  if (best) {
    io_doc_hint(d, "did you mean '%s'?", best);
    return TPS_EUNKNOWNKEY;
  }
  char list[256] = "";
  size_t used = 0;
  for (int i = 0; i < m && used < sizeof list; i++) {
    int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
  io_doc_hint(d, "known keys: %s", list);
  return TPS_EUNKNOWNKEY;
}

/* Finds a spread marker, "+-" or "±" (U+00B1 in UTF-8), in s: copies what
 * is before it into value and what is after it into sd, both trimmed of
 * blanks. False when s holds no marker. */
static bool split_spread(const char *s, char *value, size_t value_size, char *sd,
                         size_t sd_size) {
  const char *m = strstr(s, "+-"), *u = strstr(s, "\xc2\xb1");
  size_t mlen = 2;
  if (!m || (u && u < m)) m = u;
  if (!m) return false;
  const char *a = s, *b = m;
  while (a < b && (*a == ' ' || *a == '\t')) a++;
  while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
  snprintf(value, value_size, "%.*s", (int)(b - a), a);
  const char *c = m + mlen, *e = c + strlen(c);
  while (*c == ' ' || *c == '\t') c++;
  while (e > c && (e[-1] == ' ' || e[-1] == '\t')) e--;
  snprintf(sd, sd_size, "%.*s", (int)(e - c), c);
  return true;
}

/* The spread text of key k: in k's unit (QUANTITY), a plain number
 * (NUMBER), or a plain number or percentage (FRACTION, TABLE); finite and
 * >= 0. */
static tps_status spread_parse(io_doc *d, const yaml_node_t *v, const io_key *k,
                               const char *what, const char *text, double *sd) {
  char why[384], hint[128];
  bool ok;
  double x = 0.0;
  if (k->type == IO_KEY_QUANTITY) {
    tps_status st = io_unit_parse_hint(k->quantity, text, &x, why, sizeof why, hint, sizeof hint);
    if (st != TPS_OK) {
      io_doc_fail(d, v, st, "spread of %s: %s", what, why);
      if (hint[0]) io_doc_hint(d, "%s", hint);
      else if (strstr(why, "missing unit"))
        io_doc_hint(d, "the standard deviation takes the value's unit: 47 us +- 4 us");
      else
        io_doc_hint(d, "the standard deviation is a value >= 0 with a unit: 47 us +- 4 us");
      return st;
    }
    ok = true;
  } else {
    char num[64];
    size_t len = strlen(text);
    bool pct = k->type != IO_KEY_NUMBER && len > 0 && text[len - 1] == '%';
    ok = len < sizeof num;
    if (ok) {
      snprintf(num, sizeof num, "%.*s", (int)(pct ? len - 1 : len), text);
      ok = io_number_parse(num, &x);
      if (pct) x /= 100.0;
    }
  }
  if (!ok || !isfinite(x) || x < 0.0) {
    io_doc_fail(d, v, TPS_ERANGE, "spread of %s must be a standard deviation >= 0%s, got '%.40s'",
                what, k->type == IO_KEY_QUANTITY ? " with a unit" : "", text);
    io_doc_hint(d, "write value +- sd, for example %s",
                k->type == IO_KEY_QUANTITY ? "47 us +- 4 us" : "0.9 +- 0.05");
    return TPS_ERANGE;
  }
  *sd = x;
  return TPS_OK;
}

static tps_status read_value(io_doc *d, const yaml_node_t *v, const io_key *k, void *base);

/* A value that may be written `value +- sd`: reads the value through k and
 * stores the spread (0 when none). *done is false when the text holds no
 * spread marker (the caller reads it as usual). */
static tps_status read_spread(io_doc *d, const yaml_node_t *v, const io_key *k,
                              const char *what, void *base, bool *done) {
  const char *s = scalar(v);
  char value[128], sd_text[128], got[64];
  *done = false;
  if (!s || !split_spread(s, value, sizeof value, sd_text, sizeof sd_text)) return TPS_OK;
  *done = true;
  io_node_desc(v, got, sizeof got);
  if (!k->spread) {
    io_doc_fail(d, v, TPS_ETYPE, "%s takes no spread, got %s", what, got);
    io_doc_hint(d, "a spread (value +- sd) is accepted on fitted and measured constants, not on "
                   "data-sheet values or counts (docs/uncertainty.md)");
    return TPS_ETYPE;
  }
  if (!value[0] || !sd_text[0]) {
    io_doc_fail(d, v, TPS_ETYPE, "%s: a spread needs a value before '+-' and a standard "
                "deviation after it, got %s", what, got);
    io_doc_hint(d, "for example %s", k->type == IO_KEY_QUANTITY ? "47 us +- 4 us" : "0.9 +- 0.05");
    return TPS_ETYPE;
  }
  double sd = 0.0;
  tps_status st = spread_parse(d, v, k, what, sd_text, &sd);
  if (st != TPS_OK) return st;
  /* The value alone, read as if written without the spread (same position). */
  yaml_node_t alone = *v;
  alone.data.scalar.value = (yaml_char_t *)value;
  alone.data.scalar.length = strlen(value);
  io_key plain = *k;
  plain.spread = false;
  if ((st = read_value(d, &alone, &plain, base))) return st;
  if (k->type == IO_KEY_TABLE)
    ((tps_table *)(void *)((char *)base + k->offset))->sd = sd;
  else
    memcpy((char *)base + k->sd_offset, &sd, sizeof sd);
  return TPS_OK;
}

static tps_status read_value(io_doc *d, const yaml_node_t *v, const io_key *k,
                             void *base) {
  char what[80];
  snprintf(what, sizeof what, "'%s'", k->name);
  char *at = (char *)base + k->offset;
  if (k->type == IO_KEY_QUANTITY || k->type == IO_KEY_NUMBER || k->type == IO_KEY_FRACTION ||
      k->type == IO_KEY_TABLE) {
    bool done;
    tps_status st = read_spread(d, v, k, what, base, &done);
    if (done) return st;
  }
  switch (k->type) {
    case IO_KEY_STRING:
      return io_node_string(d, v, what, at, k->size);
    case IO_KEY_INT: {
      int64_t x;
      tps_status st = io_node_int(d, v, what, k->min, k->max, &x);
      if (st == TPS_OK) memcpy(at, &x, sizeof x);
      return st;
    }
    case IO_KEY_BOOL: {
      bool b;
      tps_status st = io_node_bool(d, v, what, &b);
      if (st == TPS_OK) memcpy(at, &b, sizeof b);
      return st;
    }
    case IO_KEY_ENUM: {
      int e;
      tps_status st = io_node_enum(d, v, what, k->choices, &e);
      if (st == TPS_OK) memcpy(at, &e, sizeof e);
      return st;
    }
    case IO_KEY_QUANTITY: {
      double x;
      tps_status st = node_quantity(d, v, what, k->quantity, k->min > 0, &x);
      if (st == TPS_OK) memcpy(at, &x, sizeof x);
      return st;
    }
    case IO_KEY_FRACTION: {
      double x;
      tps_status st = node_fraction(d, v, what, &x);
      if (st == TPS_OK) memcpy(at, &x, sizeof x);
      return st;
    }
    case IO_KEY_NUMBER: {
      double x = 0.0;
      tps_status st = io_node_number(d, v, what, (double)k->min, (double)k->max, &x);
      if (st == TPS_OK) memcpy(at, &x, sizeof x);
      return st;
    }
    case IO_KEY_TABLE:
      return node_table(d, v, what, k->quantity, (tps_table *)(void *)at);
    case IO_KEY_NODE:
      return TPS_OK;
  }
  return TPS_OK;
}

/* Writes the default of an absent optional key. */
static void write_default(const io_key *k, void *base) {
  char *at = (char *)base + k->offset;
  switch (k->type) {
    case IO_KEY_INT: {
      int64_t x = k->def;
      memcpy(at, &x, sizeof x);
      break;
    }
    case IO_KEY_BOOL: {
      bool b = k->def != 0;
      memcpy(at, &b, sizeof b);
      break;
    }
    case IO_KEY_ENUM: {
      int e = (int)k->def;
      memcpy(at, &e, sizeof e);
      break;
    }
    default:
      break;
  }
}

tps_status io_map_read(io_doc *d, const yaml_node_t *map,
                       const io_key *keys, int n, const io_map_ctx *ctx,
                       void *base, yaml_node_t **found) {
  tps_status st;
  yaml_node_t *key_nodes[IO_KEYS_MAX];
  yaml_node_t *source_key = NULL;
  if (n > IO_KEYS_MAX)
    return io_doc_fail(d, map, TPS_EINVAL, "internal error: key table too long");
  for (int i = 0; i < n; i++) found[i] = key_nodes[i] = NULL;

  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *kn = yaml_document_get_node(&d->doc, p->key);
    yaml_node_t *vn = yaml_document_get_node(&d->doc, p->value);
    const char *key = scalar(kn);
    if (!key) {
      char got[64];
      io_node_desc(kn, got, sizeof got);
      return io_doc_fail(d, kn, TPS_ETYPE, "keys in %s must be plain names, got %s",
                          ctx->where, got);
    }
    int idx = -1;
    for (int i = 0; i < n; i++)
      if (strcmp(keys[i].name, key) == 0) idx = i;
    if (idx < 0 && strcmp(key, "source") == 0) {
      /* Implicit `source:` in any mapping: a string, said once. */
      if (source_key) {
        io_doc_fail(d, kn, TPS_ESYNTAX, "duplicate key 'source' in %s", ctx->where);
        io_doc_hint(d, "first given at line %d", io_node_line(source_key));
        return TPS_ESYNTAX;
      }
      source_key = kn;
      char tmp[TPS_SOURCE_MAX];
      if ((st = io_node_string(d, vn, "'source'", tmp, sizeof tmp))) return st;
      continue;
    }
    if (idx < 0) return unknown_key(d, kn, key, keys, n, ctx);
    const io_key *k = &keys[idx];
    if (!(k->applies & ctx->variant_bit)) {
      if (!ctx->variant_name) return unknown_key(d, kn, key, keys, n, ctx);
      io_doc_fail(d, kn, TPS_EUNKNOWNKEY, "key '%s' does not apply to %s %s",
                   key, ctx->variant_name, ctx->where);
      return TPS_EUNKNOWNKEY;
    }
    if (key_nodes[idx]) {
      io_doc_fail(d, kn, TPS_ESYNTAX, "duplicate key '%s' in %s", key, ctx->where);
      io_doc_hint(d, "first given at line %d", io_node_line(key_nodes[idx]));
      return TPS_ESYNTAX;
    }
    key_nodes[idx] = kn;
    found[idx] = vn;
    if ((st = read_value(d, vn, k, base))) return st;
  }

  for (int i = 0; i < n; i++) {
    const io_key *k = &keys[i];
    if (found[i] || !(k->applies & ctx->variant_bit)) continue;
    if (k->required & ctx->variant_bit) {
      io_doc_fail(d, map, TPS_EMISSINGKEY, "missing key '%s' in %s", k->name,
                   ctx->where);
      if (k->help) io_doc_hint(d, "'%s': %s", k->name, k->help);
      return TPS_EMISSINGKEY;
    }
    write_default(k, base);
  }
  return TPS_OK;
}
