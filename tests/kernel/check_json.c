/* Checks a tp-kernel --json file: well-formed JSON (a strict RFC 8259
 * parser below), the documented keys (docs/kernel.md), the op names in the
 * lowering's order, and one memory entry per rank.
 *
 *   tp-kernel-check-json FILE NRANKS OPNAME...
 *
 * Exit status 0 when everything holds, 1 otherwise (with the reason). */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
  jtype type;
  double num;
  bool b;
  char *str;             /* J_STR */
  struct jval **items;   /* J_ARR values, J_OBJ values */
  char **keys;           /* J_OBJ keys */
  int n;
} jval;

typedef struct parser {
  const char *s;
  size_t i, len;
  const char *err;
} parser;

static void ws(parser *p) {
  while (p->i < p->len && strchr(" \t\r\n", p->s[p->i])) p->i++;
}

static jval *new_val(jtype t) {
  jval *v = calloc(1, sizeof *v);
  if (!v) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  v->type = t;
  return v;
}

static void push(jval *v, char *key, jval *item) {
  v->items = realloc(v->items, (size_t)(v->n + 1) * sizeof *v->items);
  if (v->type == J_OBJ) v->keys = realloc(v->keys, (size_t)(v->n + 1) * sizeof *v->keys);
  if (!v->items || (v->type == J_OBJ && !v->keys)) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  v->items[v->n] = item;
  if (v->type == J_OBJ) v->keys[v->n] = key;
  v->n++;
}

static jval *parse_value(parser *p);

static char *parse_string(parser *p) {
  if (p->i >= p->len || p->s[p->i] != '"') {
    p->err = "expected a string";
    return NULL;
  }
  p->i++;
  size_t start = p->i;
  while (p->i < p->len && p->s[p->i] != '"') {
    unsigned char c = (unsigned char)p->s[p->i];
    if (c < 0x20) {
      p->err = "control character in a string";
      return NULL;
    }
    if (c == '\\') {
      p->i++;
      if (p->i >= p->len || !strchr("\"\\/bfnrtu", p->s[p->i])) {
        p->err = "bad escape";
        return NULL;
      }
      if (p->s[p->i] == 'u') {
        for (int k = 1; k <= 4; k++)
          if (p->i + (size_t)k >= p->len || !isxdigit((unsigned char)p->s[p->i + (size_t)k])) {
            p->err = "bad \\u escape";
            return NULL;
          }
        p->i += 4;
      }
    }
    p->i++;
  }
  if (p->i >= p->len) {
    p->err = "unterminated string";
    return NULL;
  }
  size_t n = p->i - start;
  char *out = malloc(n + 1);
  if (!out) exit(1);
  memcpy(out, p->s + start, n); /* escapes kept verbatim: enough for key checks */
  out[n] = '\0';
  p->i++;
  return out;
}

static jval *parse_number(parser *p) {
  size_t i = p->i;
  if (i < p->len && p->s[i] == '-') i++;
  if (i >= p->len || !isdigit((unsigned char)p->s[i])) {
    p->err = "bad number";
    return NULL;
  }
  if (p->s[i] == '0')
    i++;
  else
    while (i < p->len && isdigit((unsigned char)p->s[i])) i++;
  if (i < p->len && p->s[i] == '.') {
    i++;
    if (i >= p->len || !isdigit((unsigned char)p->s[i])) {
      p->err = "bad fraction";
      return NULL;
    }
    while (i < p->len && isdigit((unsigned char)p->s[i])) i++;
  }
  if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
    i++;
    if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
    if (i >= p->len || !isdigit((unsigned char)p->s[i])) {
      p->err = "bad exponent";
      return NULL;
    }
    while (i < p->len && isdigit((unsigned char)p->s[i])) i++;
  }
  jval *v = new_val(J_NUM);
  v->num = strtod(p->s + p->i, NULL);
  p->i = i;
  return v;
}

static bool literal(parser *p, const char *word) {
  size_t n = strlen(word);
  if (p->len - p->i >= n && strncmp(p->s + p->i, word, n) == 0) {
    p->i += n;
    return true;
  }
  return false;
}

static jval *parse_value(parser *p) {
  ws(p);
  if (p->i >= p->len) {
    p->err = "unexpected end";
    return NULL;
  }
  char c = p->s[p->i];
  if (c == '{' || c == '[') {
    bool obj = c == '{';
    jval *v = new_val(obj ? J_OBJ : J_ARR);
    p->i++;
    ws(p);
    if (p->i < p->len && p->s[p->i] == (obj ? '}' : ']')) {
      p->i++;
      return v;
    }
    for (;;) {
      char *key = NULL;
      if (obj) {
        ws(p);
        if (!(key = parse_string(p))) return NULL;
        ws(p);
        if (p->i >= p->len || p->s[p->i] != ':') {
          p->err = "expected ':'";
          return NULL;
        }
        p->i++;
      }
      jval *item = parse_value(p);
      if (!item) return NULL;
      push(v, key, item);
      ws(p);
      if (p->i < p->len && p->s[p->i] == ',') {
        p->i++;
        continue;
      }
      if (p->i < p->len && p->s[p->i] == (obj ? '}' : ']')) {
        p->i++;
        return v;
      }
      p->err = obj ? "expected ',' or '}'" : "expected ',' or ']'";
      return NULL;
    }
  }
  if (c == '"') {
    char *s = parse_string(p);
    if (!s) return NULL;
    jval *v = new_val(J_STR);
    v->str = s;
    return v;
  }
  if (literal(p, "true") || literal(p, "false")) {
    jval *v = new_val(J_BOOL);
    v->b = p->s[p->i - 1] == 'e' && p->s[p->i - 2] == 'u';
    return v;
  }
  if (literal(p, "null")) return new_val(J_NULL);
  return parse_number(p);
}

static void jfree(jval *v) {
  if (!v) return;
  for (int i = 0; i < v->n; i++) {
    jfree(v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->str);
  free(v);
}

static const jval *get(const jval *o, const char *key) {
  if (!o || o->type != J_OBJ) return NULL;
  for (int i = 0; i < o->n; i++)
    if (strcmp(o->keys[i], key) == 0) return o->items[i];
  return NULL;
}

static int failures = 0;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("check_json: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  failures++;
}

static const jval *need(const jval *o, const char *key, jtype t, const char *where) {
  const jval *v = get(o, key);
  if (!v || v->type != t) {
    fprintf(stderr, "check_json: %s: missing or mistyped key '%s'\n", where, key);
    failures++;
    return NULL;
  }
  return v;
}

/* {"median": >= 0, "min": >= 0, min <= median} */
static void need_stat(const jval *o, const char *key, const char *where) {
  const jval *s = need(o, key, J_OBJ, where);
  if (!s) return;
  const jval *med = need(s, "median", J_NUM, key), *mn = need(s, "min", J_NUM, key);
  if (med && mn && !(mn->num >= 0.0 && mn->num <= med->num))
    fail("%s: min > median or negative", key);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s FILE NRANKS OPNAME...\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    fprintf(stderr, "check_json: cannot open %s\n", argv[1]);
    return 1;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 > cap) {
      cap = cap ? 2 * cap : 65536;
      buf = realloc(buf, cap);
      if (!buf) return 1;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  fclose(f);
  parser p = {buf, 0, len, NULL};
  jval *root = parse_value(&p);
  if (root) {
    ws(&p);
    if (p.i != p.len) {
      root = NULL;
      p.err = "trailing characters";
    }
  }
  if (!root) {
    fprintf(stderr, "check_json: %s: not valid JSON at byte %zu: %s\n", argv[1], p.i, p.err);
    return 1;
  }
  const int nranks = atoi(argv[2]);
  const jval *tool = need(root, "tool", J_STR, "top level");
  if (tool && strcmp(tool->str, "tp-kernel") != 0) fail("tool is '%s'", tool->str);
  need(root, "version", J_STR, "top level");
  const jval *cfg = need(root, "config", J_OBJ, "top level");
  const char *cfg_keys[] = {"tp", "cp", "hidden", "heads", "kv_heads", "head_dim", "ffn", "seq_len",
                            "micro_batch", "layers", "steps", "warmup"};
  for (size_t i = 0; i < sizeof cfg_keys / sizeof *cfg_keys; i++) need(cfg, cfg_keys[i], J_NUM, "config");
  need(cfg, "sp", J_BOOL, "config");
  need(cfg, "mlp", J_STR, "config");
  need(cfg, "norm", J_STR, "config");
  need(cfg, "cp_algo", J_STR, "config");
  /* MPI ranks = TP x CP, or with an MoE MLP data-parallel ones at TP 1 */
  const jval *tp = get(cfg, "tp"), *cp = get(cfg, "cp"), *moe = get(root, "moe");
  int dp = 1;
  if (moe) {
    const jval *moe_keys[5];
    const char *names[5] = {"experts", "topk", "moe_ffn", "ep", "dp"};
    for (int i = 0; i < 5; i++) moe_keys[i] = need(moe, names[i], J_NUM, "moe");
    if (moe_keys[4]) dp = (int)moe_keys[4]->num;
  }
  if (tp && tp->type == J_NUM && cp && cp->type == J_NUM &&
      (int)tp->num * (int)cp->num * dp != nranks)
    fail("config.tp x config.cp x moe.dp is %d x %d x %d, expected %d ranks", (int)tp->num,
         (int)cp->num, dp, nranks);
  const jval *mach = need(root, "machine", J_OBJ, "top level");
  need(mach, "oversubscribed", J_BOOL, "machine");
  need(mach, "ranks", J_NUM, "machine");
  need(mach, "cpus_online", J_NUM, "machine");
  need_stat(root, "step_time_s", "top level");
  need(root, "step_time_samples_s", J_ARR, "top level");
  need(root, "tokens_per_s", J_NUM, "top level");
  const jval *eff = need(root, "gemm_efficiency_min", J_NUM, "top level");
  if (eff && !(eff->num > 0.0)) fail("gemm_efficiency_min is not positive");

  const jval *ops = need(root, "ops", J_ARR, "top level");
  if (ops) {
    const int want = argc - 3;
    if (ops->n != want) fail("ops has %d entries, expected %d", ops->n, want);
    for (int i = 0; i < ops->n && i < want; i++) {
      const jval *op = ops->items[i];
      const jval *name = need(op, "name", J_STR, "ops[]");
      if (name && strcmp(name->str, argv[3 + i]) != 0) fail("ops[%d] is '%s', expected '%s'", i, name->str, argv[3 + i]);
      const jval *kind = need(op, "kind", J_STR, "ops[]");
      need_stat(op, "fwd_s", argv[3 + i]);
      need_stat(op, "bwd_s", argv[3 + i]);
      if (kind && strcmp(kind->str, "gemm") == 0) {
        need(op, "sgemm", J_OBJ, argv[3 + i]);
        const jval *g = need(op, "gflops", J_OBJ, argv[3 + i]);
        need(g, "fwd", J_NUM, "gflops");
        need(g, "sgemm_fwd", J_NUM, "gflops");
        const jval *e = need(op, "efficiency", J_OBJ, argv[3 + i]);
        need(e, "fwd", J_NUM, "efficiency");
        need(e, "bwd", J_NUM, "efficiency");
      }
      if (kind && strcmp(kind->str, "collective") == 0) {
        need(op, "group", J_NUM, argv[3 + i]);
        need(op, "fwd_coll", J_STR, argv[3 + i]);
        need(op, "bwd_coll", J_STR, argv[3 + i]);
      }
    }
  }
  const jval *mem = need(root, "memory", J_OBJ, "top level");
  const jval *ranks = need(mem, "ranks", J_ARR, "memory");
  if (ranks) {
    if (ranks->n != nranks) fail("memory.ranks has %d entries, expected %d", ranks->n, nranks);
    for (int i = 0; i < ranks->n; i++) {
      const jval *r = ranks->items[i];
      const jval *hwm = need(r, "vmhwm_bytes", J_NUM, "memory.ranks[]");
      const jval *b = need(r, "buffers_bytes", J_OBJ, "memory.ranks[]");
      const jval *tot = need(b, "total", J_NUM, "buffers_bytes");
      if (hwm && tot && !(hwm->num >= tot->num && tot->num > 0))
        fail("memory.ranks[%d]: VmHWM below the buffers it holds", i);
    }
  }
  const int nops = ops ? ops->n : 0;
  jfree(root);
  free(buf);
  if (failures) return 1;
  printf("check_json: %s is valid: %d ops, %d ranks\n", argv[1], nops, nranks);
  return 0;
}
