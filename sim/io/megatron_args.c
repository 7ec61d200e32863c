/* Megatron-LM / MindSpeed arguments and launch scripts (docs/ecosystem.md).
 *
 * A small subset of POSIX shell, enough for the scripts these frameworks
 * ship: words with '...' and "..." quotes (which may span lines), backslash
 * escapes and continuations, # comments, commands separated by newlines,
 * ';', '&', '|'; assignments NAME=VALUE, NAME+=VALUE, NAME=( array ),
 * `export`/`declare`/`local`/`readonly` NAME=VALUE; expansions $NAME,
 * ${NAME}, ${NAME:-word} (and -, :=, =, :+, +), ${NAME[@]}, $((integer
 * arithmetic)). Nothing is ever run: $(command), `command`, positional
 * parameters and variables the script does not set stay unexpanded, and a
 * flag whose value holds one is reported as unresolved.
 *
 * Every character of an expanded word remembers where it was written
 * (line, column) and, when it comes from something unexpanded, why; so an
 * unresolved value inside GPT_ARGS="..." is reported at its own line.
 *
 * The whole text is scanned; every command's words are matched against the
 * flag table (a later flag overrides an earlier one, as argparse does) and
 * the values are applied at the end, to copies, so that an error leaves the
 * caller's model and overrides untouched. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_internal.h"

#ifndef TPS_IO_LAYERS_MAX
#define TPS_IO_LAYERS_MAX 100000LL /* as model files: one engine record per layer */
#endif
#include "tpsim/ecosystem.h"
#include "tpsim/io.h"

#define MG_WHY_MAX 64     /* distinct reasons kept per parse */
#define MG_NAME_MAX 64    /* longest variable name */
#define MG_DEPTH_MAX 32   /* nested ${...:-${...}} expansions, quotes in $(...) */
#define MG_TEXT_MAX (1L << 20) /* longest expanded word or variable, characters */

/* ---- text with positions ---- */

typedef struct mg_pos {
  int line, col; /* 1-based */
} mg_pos;

/* A growing string; each character carries its source position and u, 0
 * for resolved text or 1 + the index of the reason it is unresolved. */
typedef struct mg_text {
  char *s;
  mg_pos *pos;
  unsigned char *u;
  size_t n, cap;
} mg_text;

typedef struct mg_var {
  char name[MG_NAME_MAX];
  mg_text value;
  bool array; /* ${NAME[@]} splits even inside double quotes */
} mg_var;

/* ---- the flag table ---- */

typedef enum {
  MG_TP, MG_PP, MG_SP, MG_MBS, MG_GBS, MG_SEQ, MG_LAYERS, MG_HIDDEN, MG_FFN, MG_HEADS,
  MG_GROUPS, MG_GQA, MG_RECOMPUTE, MG_RECOMPUTE_METHOD, MG_RECOMPUTE_ACT, MG_DIST_OPT,
  MG_BF16, MG_FP16, MG_SWIGLU, MG_FLASH, MG_NORM, MG_UNTIE, MG_POSITION, MG_ROTARY,
  MG_PADDED_VOCAB, MG_VOCAB, MG_VOCAB_DIV, MG_MAX_POS, MG_KV_CHANNELS, MG_NO_BIAS,
  MG_QKV_BIAS, MG_ATT_DROPOUT, MG_HID_DROPOUT, MG_OVERLAP, MG_NPROC, MG_NNODES, MG_N
} mg_id;

typedef enum {
  MG_SWITCH, /* no value */
  MG_INT,    /* integer >= 1 */
  MG_FRAC,   /* number in [0, 1] */
  MG_CHOICE  /* one of choices */
} mg_kind;

static const char *const recompute_choices[] = {"selective", "full", NULL};
static const char *const method_choices[] = {"uniform", "block", NULL};
static const char *const norm_choices[] = {"LayerNorm", "RMSNorm", NULL};
/* mrope (Qwen2-VL's multimodal RoPE) is costed as rope. */
static const char *const position_choices[] = {"learned_absolute", "rope", "none", "mrope",
                                               NULL};

typedef struct mg_flag {
  const char *name;
  mg_id id;
  mg_kind kind;
  bool shape; /* describes the model rather than the run */
  const char *const *choices;
} mg_flag;

static const mg_flag mg_flags[] = {
    {"--tensor-model-parallel-size", MG_TP, MG_INT, false, NULL},
    {"--pipeline-model-parallel-size", MG_PP, MG_INT, false, NULL},
    {"--sequence-parallel", MG_SP, MG_SWITCH, false, NULL},
    {"--micro-batch-size", MG_MBS, MG_INT, false, NULL},
    {"--global-batch-size", MG_GBS, MG_INT, false, NULL},
    {"--seq-length", MG_SEQ, MG_INT, false, NULL},
    {"--recompute-granularity", MG_RECOMPUTE, MG_CHOICE, false, recompute_choices},
    {"--recompute-method", MG_RECOMPUTE_METHOD, MG_CHOICE, false, method_choices},
    {"--recompute-activations", MG_RECOMPUTE_ACT, MG_SWITCH, false, NULL},
    {"--use-distributed-optimizer", MG_DIST_OPT, MG_SWITCH, false, NULL},
    {"--bf16", MG_BF16, MG_SWITCH, false, NULL},
    {"--fp16", MG_FP16, MG_SWITCH, false, NULL},
    {"--use-flash-attn", MG_FLASH, MG_SWITCH, false, NULL},
    {"--overlap-grad-reduce", MG_OVERLAP, MG_SWITCH, false, NULL},
    /* torchrun / torch.distributed.launch: cards = nproc_per_node x nnodes */
    {"--nproc_per_node", MG_NPROC, MG_INT, false, NULL},
    {"--nproc-per-node", MG_NPROC, MG_INT, false, NULL},
    {"--nnodes", MG_NNODES, MG_INT, false, NULL},
    /* model shape */
    {"--num-layers", MG_LAYERS, MG_INT, true, NULL},
    {"--hidden-size", MG_HIDDEN, MG_INT, true, NULL},
    {"--ffn-hidden-size", MG_FFN, MG_INT, true, NULL},
    {"--num-attention-heads", MG_HEADS, MG_INT, true, NULL},
    {"--num-query-groups", MG_GROUPS, MG_INT, true, NULL},
    {"--group-query-attention", MG_GQA, MG_SWITCH, true, NULL},
    {"--swiglu", MG_SWIGLU, MG_SWITCH, true, NULL},
    {"--normalization", MG_NORM, MG_CHOICE, true, norm_choices},
    {"--untie-embeddings-and-output-weights", MG_UNTIE, MG_SWITCH, true, NULL},
    {"--position-embedding-type", MG_POSITION, MG_CHOICE, true, position_choices},
    {"--use-rotary-position-embeddings", MG_ROTARY, MG_SWITCH, true, NULL},
    {"--padded-vocab-size", MG_PADDED_VOCAB, MG_INT, true, NULL},
    {"--vocab-size", MG_VOCAB, MG_INT, true, NULL},
    {"--make-vocab-size-divisible-by", MG_VOCAB_DIV, MG_INT, true, NULL},
    {"--max-position-embeddings", MG_MAX_POS, MG_INT, true, NULL},
    {"--kv-channels", MG_KV_CHANNELS, MG_INT, true, NULL},
    {"--disable-bias-linear", MG_NO_BIAS, MG_SWITCH, true, NULL},
    {"--add-qkv-bias", MG_QKV_BIAS, MG_SWITCH, true, NULL},
    {"--attention-dropout", MG_ATT_DROPOUT, MG_FRAC, true, NULL},
    {"--hidden-dropout", MG_HID_DROPOUT, MG_FRAC, true, NULL},
};
#define MG_N_FLAGS ((int)(sizeof mg_flags / sizeof mg_flags[0]))

typedef struct mg_val {
  bool given;
  int64_t i;   /* MG_INT; MG_CHOICE: index into choices */
  double x;    /* MG_FRAC */
  const char *flag; /* spelling used */
  mg_pos at;   /* where the flag was written */
} mg_val;

/* ---- parser state ---- */

typedef struct mg_state {
  const char *src;  /* the whole text */
  size_t len;
  const char *file; /* for errors: the script path or "--megatron-args" */
  tps_error *err;
  tps_status st;    /* first error (sticky) */
  mg_var *vars;
  int n_vars, cap_vars;
  char whys[MG_WHY_MAX][160];
  int n_whys;
  int depth;       /* expansions being expanded */
  int skip_depth;  /* constructs being skipped */
  mg_val val[MG_N];
  tps_eco_unresolved *unres;
} mg_state;

/* An emitter collects the fields (words after splitting) of one expansion. */
typedef struct mg_emit {
  mg_text cur;
  bool has;     /* cur is a field even if empty ("" was seen) */
  bool split;   /* unquoted whitespace splits fields */
  mg_text *fields;
  int n, cap;
} mg_emit;

static tps_status fail(mg_state *S, mg_pos at, tps_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tps_status fail(mg_state *S, mg_pos at, tps_status st, const char *fmt, ...) {
  if (S->st) return S->st;
  S->st = st;
  if (!S->err) return st;
  char msg[sizeof S->err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  tps_error_set(S->err, st, S->file, at.line, at.col, "%s", msg);
  return st;
}

static bool oom(mg_state *S) {
  mg_pos none = {0, 0};
  fail(S, none, TPS_ENOMEM, "out of memory while reading the arguments");
  return false;
}

static void text_free(mg_text *t) {
  free(t->s);
  free(t->pos);
  free(t->u);
  memset(t, 0, sizeof *t);
}

static bool text_push(mg_state *S, mg_text *t, char c, mg_pos p, unsigned char u) {
  if (t->n >= (size_t)MG_TEXT_MAX) {
    fail(S, p, TPS_ERANGE, "an expansion is longer than %ld characters", MG_TEXT_MAX);
    return false;
  }
  if (t->n + 1 >= t->cap) {
    size_t ncap = t->cap ? t->cap * 2 : 32;
    char *s = realloc(t->s, ncap);
    if (s) t->s = s;
    mg_pos *pos = realloc(t->pos, ncap * sizeof *pos);
    if (pos) t->pos = pos;
    unsigned char *uu = realloc(t->u, ncap);
    if (uu) t->u = uu;
    if (!s || !pos || !uu) return oom(S);
    t->cap = ncap;
  }
  t->s[t->n] = c;
  t->pos[t->n] = p;
  t->u[t->n] = u;
  t->n++;
  t->s[t->n] = '\0';
  return true;
}

static const char *text_str(const mg_text *t) { return t->s ? t->s : ""; }

/* First reason a text is unresolved, or 0. */
static unsigned char text_unresolved(const mg_text *t) {
  for (size_t i = 0; i < t->n; i++)
    if (t->u[i]) return t->u[i];
  return 0;
}

/* Index + 1 of a reason (kept once); the last slot is reused when full. */
static unsigned char why_add(mg_state *S, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static unsigned char why_add(mg_state *S, const char *fmt, ...) {
  char buf[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  for (int i = 0; i < S->n_whys; i++)
    if (strcmp(S->whys[i], buf) == 0) return (unsigned char)(i + 1);
  int k = S->n_whys < MG_WHY_MAX ? S->n_whys++ : MG_WHY_MAX - 1;
  snprintf(S->whys[k], sizeof S->whys[k], "%s", buf);
  return (unsigned char)(k + 1);
}

static void unres_add(mg_state *S, const char *arg, const char *text, const char *why,
                      int line) {
  tps_eco_unresolved *u = S->unres;
  if (!u) return;
  if (u->n >= TPS_ECO_UNRESOLVED_MAX) {
    u->dropped++;
    return;
  }
  tps_eco_item *it = &u->items[u->n++];
  /* Longer strings are cut to the fields' sizes (precision bounds them). */
  snprintf(it->arg, sizeof it->arg, "%.*s", (int)sizeof it->arg - 1, arg ? arg : "");
  snprintf(it->text, sizeof it->text, "%.*s", (int)sizeof it->text - 1, text ? text : "");
  snprintf(it->why, sizeof it->why, "%.*s", (int)sizeof it->why - 1, why ? why : "");
  it->line = line;
}

/* ---- emitter ---- */

static bool emit_field_end(mg_state *S, mg_emit *em) {
  if (!em->has) return true;
  if (em->n == em->cap) {
    int ncap = em->cap ? em->cap * 2 : 16;
    mg_text *f = realloc(em->fields, (size_t)ncap * sizeof *f);
    if (!f) return oom(S);
    em->fields = f;
    em->cap = ncap;
  }
  em->fields[em->n++] = em->cur;
  memset(&em->cur, 0, sizeof em->cur);
  em->has = false;
  return true;
}

/* One character; `splittable`: unquoted, so blanks end the field. */
static bool emit_char(mg_state *S, mg_emit *em, char c, mg_pos p, unsigned char u,
                      bool splittable) {
  if (splittable && em->split && (c == ' ' || c == '\t' || c == '\n'))
    return emit_field_end(S, em);
  em->has = true;
  return text_push(S, &em->cur, c, p, u);
}

static void emit_free(mg_emit *em) {
  text_free(&em->cur);
  for (int i = 0; i < em->n; i++) text_free(&em->fields[i]);
  free(em->fields);
  memset(em, 0, sizeof *em);
}

/* ---- scanning the source ---- */

static mg_pos advance(mg_pos p, char c) {
  if (c == '\n') {
    p.line++;
    p.col = 1;
  } else if (((unsigned char)c & 0xC0) != 0x80) {
    p.col++;
  }
  return p;
}

static mg_pos pos_at(const mg_state *S, mg_pos from, size_t b, size_t e) {
  for (size_t i = b; i < e && i < S->len; i++) from = advance(from, S->src[i]);
  return from;
}

static size_t skip_construct(mg_state *S, size_t i, size_t end, mg_pos p);

/* End (index of the closing quote) of a quoted string opened at i. */
static size_t skip_quote(mg_state *S, size_t i, size_t end, mg_pos p) {
  char q = S->src[i];
  for (size_t j = i + 1; j < end; j++) {
    char c = S->src[j];
    if (c == q) return j;
    if (q == '"' && c == '\\') {
      j++;
    } else if (q == '"' && c == '$' && j + 1 < end &&
               (S->src[j + 1] == '(' || S->src[j + 1] == '{')) {
      j = skip_construct(S, j, end, pos_at(S, p, i, j));
      if (S->st) return end;
    }
  }
  fail(S, p, TPS_ESYNTAX, "unterminated %s quote", q == '"' ? "double" : "single");
  if (S->err) tps_error_hint(S->err, "the quote opened here is never closed");
  return end;
}

/* Given S->src[i] == '$' followed by '(' or '{', or a '`' or '(': the index of
 * the closing character, skipping nested quotes and constructs. */
static size_t skip_construct_in(mg_state *S, size_t i, size_t end, mg_pos p);

static size_t skip_construct(mg_state *S, size_t i, size_t end, mg_pos p) {
  if (++S->skip_depth > MG_DEPTH_MAX) {
    fail(S, p, TPS_ESYNTAX, "quotes and $(...) nested deeper than %d levels", MG_DEPTH_MAX);
    S->skip_depth--;
    return end;
  }
  size_t r = skip_construct_in(S, i, end, p);
  S->skip_depth--;
  return r;
}

static size_t skip_construct_in(mg_state *S, size_t i, size_t end, mg_pos p) {
  char open, close;
  size_t j;
  if (S->src[i] == '`') {
    for (j = i + 1; j < end; j++) {
      if (S->src[j] == '\\') j++;
      else if (S->src[j] == '`') return j;
    }
    fail(S, p, TPS_ESYNTAX, "unterminated backquote");
    return end;
  }
  if (S->src[i] == '$') i++;
  open = S->src[i];
  close = open == '(' ? ')' : '}';
  int depth = 1;
  for (j = i + 1; j < end; j++) {
    char c = S->src[j];
    if (c == '\\') {
      j++;
    } else if (c == '\'' || c == '"') {
      j = skip_quote(S, j, end, pos_at(S, p, i, j));
      if (S->st) return end;
    } else if (c == open) {
      depth++;
    } else if (c == close) {
      if (--depth == 0) return j;
    }
  }
  fail(S, p, TPS_ESYNTAX, "unterminated '%s'", open == '(' ? "$(" : "${");
  return end;
}

/* ---- variables ---- */

static mg_var *var_find(mg_state *S, const char *name, size_t len) {
  for (int i = 0; i < S->n_vars; i++)
    if (strlen(S->vars[i].name) == len && memcmp(S->vars[i].name, name, len) == 0)
      return &S->vars[i];
  return NULL;
}

/* Sets (append: adds to) a variable; takes ownership of value. */
static bool var_set(mg_state *S, const char *name, size_t len, mg_text *value, bool array,
                    bool append) {
  mg_var *v = var_find(S, name, len);
  if (!v) {
    if (S->n_vars == S->cap_vars) {
      int ncap = S->cap_vars ? S->cap_vars * 2 : 32;
      mg_var *nv = realloc(S->vars, (size_t)ncap * sizeof *nv);
      if (!nv) {
        text_free(value);
        return oom(S);
      }
      S->vars = nv;
      S->cap_vars = ncap;
    }
    v = &S->vars[S->n_vars++];
    memset(v, 0, sizeof *v);
    memcpy(v->name, name, len);
    v->name[len] = '\0';
    append = false;
  }
  if (append) {
    if (array && v->value.n && value->n) {
      mg_pos p = value->pos[0];
      if (!text_push(S, &v->value, ' ', p, 0)) return false;
    }
    for (size_t i = 0; i < value->n; i++)
      if (!text_push(S, &v->value, value->s[i], value->pos[i], value->u[i])) return false;
    text_free(value);
  } else {
    text_free(&v->value);
    v->value = *value;
    memset(value, 0, sizeof *value);
  }
  v->array = v->array || array;
  return true;
}

static bool is_name_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static bool is_name_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* ---- expansion ---- */

static bool expand_range(mg_state *S, size_t b, size_t e, mg_pos p, mg_emit *em, bool in_dq);

/* Emits the source text [b, e) verbatim as one unresolved, unsplit piece. */
static bool emit_raw(mg_state *S, mg_emit *em, size_t b, size_t e, mg_pos p,
                     unsigned char why) {
  for (size_t i = b; i < e; i++) {
    if (!emit_char(S, em, S->src[i], p, why, false)) return false;
    p = advance(p, S->src[i]);
  }
  return true;
}

static bool emit_var(mg_state *S, mg_emit *em, const mg_var *v, bool in_dq, bool all) {
  bool splittable = !in_dq || (all && v->array);
  for (size_t i = 0; i < v->value.n; i++)
    if (!emit_char(S, em, v->value.s[i], v->value.pos[i], v->value.u[i], splittable))
      return false;
  if (in_dq) em->has = true;
  return true;
}

/* Integer arithmetic over a flat string: + - * / % ( ), unary -, names. */
typedef struct mg_arith {
  mg_state *S;
  const char *s;
  size_t i;
  bool bad;
  char why[160];
} mg_arith;

static void ar_blank(mg_arith *A) {
  while (A->s[A->i] == ' ' || A->s[A->i] == '\t' || A->s[A->i] == '\n') A->i++;
}

static int64_t ar_expr(mg_arith *A);

/* Records the first reason the arithmetic failed: "<pre><name><post>". */
static int64_t ar_fail(mg_arith *A, const char *pre, const char *name, const char *post) {
  if (!A->bad) snprintf(A->why, sizeof A->why, "%s%s%s", pre, name, post);
  A->bad = true;
  return 0;
}

static int64_t ar_bad(mg_arith *A, const char *why) { return ar_fail(A, why, "", ""); }

static bool parse_int(const char *s, int64_t *out) {
  if (!*s) return false;
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (!*p) return false;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q)) return false;
  errno = 0;
  long long v = strtoll(s, NULL, 10);
  if (errno == ERANGE) return false;
  *out = (int64_t)v;
  return true;
}

static int64_t ar_primary(mg_arith *A) {
  ar_blank(A);
  char c = A->s[A->i];
  if (c == '(') {
    A->i++;
    int64_t v = ar_expr(A);
    ar_blank(A);
    if (A->s[A->i] != ')') return ar_bad(A, "unbalanced parentheses in $((...))");
    A->i++;
    return v;
  }
  if (c == '-' || c == '+') {
    A->i++;
    int64_t v = ar_primary(A);
    return c == '-' ? -v : v;
  }
  if (isdigit((unsigned char)c)) {
    int64_t v = 0;
    while (isdigit((unsigned char)A->s[A->i])) {
      if (__builtin_mul_overflow(v, 10, &v) ||
          __builtin_add_overflow(v, A->s[A->i] - '0', &v))
        return ar_bad(A, "number too large in $((...))");
      A->i++;
    }
    return v;
  }
  if (c == '$') A->i++; /* $NAME left by an unexpandable form */
  if (is_name_start(A->s[A->i])) {
    size_t b = A->i;
    while (is_name_char(A->s[A->i])) A->i++;
    char name[MG_NAME_MAX];
    size_t len = A->i - b < sizeof name - 1 ? A->i - b : sizeof name - 1;
    memcpy(name, A->s + b, len);
    name[len] = '\0';
    mg_var *v = var_find(A->S, A->s + b, A->i - b);
    if (!v) return ar_fail(A, "variable '", name, "' is not set in the script");
    unsigned char u = text_unresolved(&v->value);
    if (u) return ar_bad(A, A->S->whys[u - 1]);
    int64_t x;
    if (!parse_int(text_str(&v->value), &x))
      return ar_fail(A, "variable '", name, "' is not an integer");
    return x;
  }
  return ar_bad(A, "cannot evaluate $((...))");
}

static int64_t ar_term(mg_arith *A) {
  int64_t v = ar_primary(A);
  for (;;) {
    ar_blank(A);
    char op = A->s[A->i];
    if (op != '*' && op != '/' && op != '%') return v;
    A->i++;
    int64_t r = ar_primary(A);
    if (A->bad) return 0;
    if (op == '*') {
      if (__builtin_mul_overflow(v, r, &v)) return ar_bad(A, "overflow in $((...))");
    } else {
      if (r == 0) return ar_bad(A, "division by zero in $((...))");
      v = op == '/' ? v / r : v % r;
    }
  }
}

static int64_t ar_expr(mg_arith *A) {
  int64_t v = ar_term(A);
  for (;;) {
    ar_blank(A);
    char op = A->s[A->i];
    if (op != '+' && op != '-') return v;
    A->i++;
    int64_t r = ar_term(A);
    if (A->bad) return 0;
    if (op == '+' ? __builtin_add_overflow(v, r, &v) : __builtin_sub_overflow(v, r, &v))
      return ar_bad(A, "overflow in $((...))");
  }
}

/* $((...)) at [b, e) (b at '$', e past the closing "))"). */
static bool expand_arith(mg_state *S, size_t b, size_t e, mg_pos p, mg_emit *em) {
  mg_emit inner = {.split = false};
  bool ok = expand_range(S, b + 3, e - 2, pos_at(S, p, b, b + 3), &inner, true) &&
            emit_field_end(S, &inner);
  if (!ok) {
    emit_free(&inner);
    return false;
  }
  const mg_text *t = inner.n ? &inner.fields[0] : NULL;
  unsigned char u = t ? text_unresolved(t) : 0;
  mg_arith A = {.S = S, .s = t ? text_str(t) : ""};
  int64_t v = 0;
  if (!u) {
    v = ar_expr(&A);
    ar_blank(&A);
    if (!A.bad && A.s[A.i]) ar_bad(&A, "cannot evaluate $((...))");
    if (A.bad) u = why_add(S, "%s", A.why);
  }
  emit_free(&inner);
  if (u) return emit_raw(S, em, b, e, p, u);
  char num[32];
  snprintf(num, sizeof num, "%" PRId64, v);
  for (const char *c = num; *c; c++)
    if (!emit_char(S, em, *c, p, 0, false)) return false;
  return true;
}

/* ${...} at [b, e) (b at '$', e past '}'). */
static bool expand_brace(mg_state *S, size_t b, size_t e, mg_pos p, mg_emit *em, bool in_dq) {
  size_t i = b + 2, close = e - 1;
  const char *s = S->src;
  if (i < close && s[i] == '#') /* ${#NAME}: a length */
    return emit_raw(S, em, b, e, p, why_add(S, "${#...} (a length) is not expanded"));
  size_t nb = i;
  bool positional = false;
  if (i < close && is_name_start(s[i])) {
    while (i < close && is_name_char(s[i])) i++;
  } else if (i < close && (isdigit((unsigned char)s[i]) || strchr("@*#?$!", s[i]))) {
    positional = true;
    i++;
    while (!strchr("@*#?$!", s[nb]) && i < close && isdigit((unsigned char)s[i])) i++;
  } else {
    return emit_raw(S, em, b, e, p, why_add(S, "'%.*s' is not a parameter expansion",
                                            (int)(e - b), s + b));
  }
  size_t ne = i;
  bool all = false;
  if (i + 2 < close + 1 && s[i] == '[') { /* ${NAME[@]}, ${NAME[*]} */
    if (i + 2 < close + 1 && (s[i + 1] == '@' || s[i + 1] == '*') && s[i + 2] == ']') {
      all = true;
      i += 3;
    } else {
      return emit_raw(S, em, b, e, p, why_add(S, "array element '%.*s' is not expanded",
                                              (int)(e - b), s + b));
    }
  }
  mg_var *v = positional ? NULL : var_find(S, s + nb, ne - nb);
  bool set = v != NULL, nonempty = v && v->value.n > 0;
  if (i == close) {
    if (v) return emit_var(S, em, v, in_dq, all);
    unsigned char why = positional
                            ? why_add(S, "positional parameter '$%.*s' is not known",
                                      (int)(ne - nb), s + nb)
                            : why_add(S, "variable '%.*s' is not set in the script",
                                      (int)(ne - nb), s + nb);
    return emit_raw(S, em, b, e, p, why);
  }
  /* operator and word */
  bool colon = s[i] == ':';
  if (colon) i++;
  char op = i < close ? s[i] : '\0';
  if (!strchr("-=+?", op) || op == '\0')
    return emit_raw(S, em, b, e, p, why_add(S, "'%.*s': this expansion form is not supported",
                                            (int)(e - b), s + b));
  i++;
  bool use_word;
  bool cond = colon ? nonempty : set;
  if (op == '+') use_word = cond;
  else use_word = !cond;
  if (op == '?' && use_word)
    return emit_raw(S, em, b, e, p, why_add(S, "variable '%.*s' is not set in the script",
                                            (int)(ne - nb), s + nb));
  if (!use_word) {
    if (op == '+') return true; /* empty */
    return emit_var(S, em, v, in_dq, all);
  }
  mg_pos wp = pos_at(S, p, b, i);
  if (op == '=' && !positional) {
    mg_emit w = {.split = false};
    bool ok = expand_range(S, i, close, wp, &w, true) && emit_field_end(S, &w);
    mg_text val = {0};
    if (ok && w.n) {
      val = w.fields[0];
      memset(&w.fields[0], 0, sizeof w.fields[0]);
    }
    emit_free(&w);
    if (!ok || !var_set(S, s + nb, ne - nb, &val, false, false)) return false;
    v = var_find(S, s + nb, ne - nb);
    return emit_var(S, em, v, in_dq, false);
  }
  return expand_range(S, i, close, wp, em, in_dq);
}

/* A '$' at i; *next receives the index after the expansion. */
static bool expand_dollar(mg_state *S, size_t i, size_t end, mg_pos p, mg_emit *em,
                          bool in_dq, size_t *next) {
  const char *s = S->src;
  if (++S->depth > MG_DEPTH_MAX) {
    fail(S, p, TPS_ESYNTAX, "expansions nested deeper than %d levels", MG_DEPTH_MAX);
    return false;
  }
  bool ok = true;
  if (i + 2 < end && s[i + 1] == '(' && s[i + 2] == '(') {
    size_t c = skip_construct(S, i, end, p); /* the outer ')' of "))" */
    if (S->st) ok = false;
    else if (c + 1 <= end && c > i + 3 && s[c - 1] == ')') {
      *next = c + 1;
      ok = expand_arith(S, i, c + 1, p, em);
    } else {
      *next = c + 1;
      ok = emit_raw(S, em, i, c + 1, p, why_add(S, "command substitution is not run"));
    }
  } else if (i + 1 < end && s[i + 1] == '(') {
    size_t c = skip_construct(S, i, end, p);
    if (S->st) ok = false;
    else {
      *next = c + 1;
      ok = emit_raw(S, em, i, c + 1, p,
                    why_add(S, "command substitution '%.*s' is not run",
                            (int)(c + 1 - i > 60 ? 60 : c + 1 - i), s + i));
    }
  } else if (i + 1 < end && s[i + 1] == '{') {
    size_t c = skip_construct(S, i, end, p);
    if (S->st) ok = false;
    else {
      *next = c + 1;
      ok = expand_brace(S, i, c + 1, p, em, in_dq);
    }
  } else if (i + 1 < end && is_name_start(s[i + 1])) {
    size_t j = i + 1;
    while (j < end && is_name_char(s[j])) j++;
    *next = j;
    mg_var *v = var_find(S, s + i + 1, j - i - 1);
    if (v) ok = emit_var(S, em, v, in_dq, false);
    else
      ok = emit_raw(S, em, i, j, p, why_add(S, "variable '%.*s' is not set in the script",
                                            (int)(j - i - 1), s + i + 1));
  } else if (i + 1 < end && (isdigit((unsigned char)s[i + 1]) || strchr("@*#?$!", s[i + 1]))) {
    *next = i + 2;
    ok = emit_raw(S, em, i, i + 2, p, why_add(S, "positional parameter '$%c' is not known",
                                              s[i + 1]));
  } else {
    *next = i + 1;
    ok = emit_char(S, em, '$', p, 0, false);
  }
  S->depth--;
  return ok && !S->st;
}

/* Expands the source range [b, e) starting at position p into em. */
static bool expand_range(mg_state *S, size_t b, size_t e, mg_pos p, mg_emit *em, bool in_dq) {
  const char *s = S->src;
  size_t i = b;
  while (i < e && !S->st) {
    char c = s[i];
    if (c == '\\') {
      if (i + 1 < e && s[i + 1] == '\n') { /* continuation */
        p = advance(advance(p, c), '\n');
        i += 2;
        continue;
      }
      if (i + 1 >= e) {
        if (!emit_char(S, em, c, p, 0, false)) return false;
        i++;
        continue;
      }
      char n = s[i + 1];
      if (in_dq && !strchr("$`\"\\", n)) {
        if (!emit_char(S, em, c, p, 0, false)) return false;
        p = advance(p, c);
        i++;
        continue;
      }
      mg_pos np = advance(p, c);
      if (!emit_char(S, em, n, np, 0, false)) return false;
      p = advance(np, n);
      i += 2;
    } else if (c == '\'' && !in_dq) {
      size_t q = skip_quote(S, i, e, p);
      if (S->st) return false;
      em->has = true;
      mg_pos qp = advance(p, c);
      for (size_t j = i + 1; j < q; j++) {
        if (!emit_char(S, em, s[j], qp, 0, false)) return false;
        qp = advance(qp, s[j]);
      }
      p = advance(qp, '\'');
      i = q + 1;
    } else if (c == '"' && !in_dq) {
      size_t q = skip_quote(S, i, e, p);
      if (S->st) return false;
      em->has = true;
      if (!expand_range(S, i + 1, q, advance(p, c), em, true)) return false;
      p = pos_at(S, p, i, q + 1);
      i = q + 1;
    } else if (c == '$') {
      size_t next = i + 1;
      if (!expand_dollar(S, i, e, p, em, in_dq, &next)) return false;
      p = pos_at(S, p, i, next);
      i = next;
    } else if (c == '`') {
      size_t q = skip_construct(S, i, e, p);
      if (S->st) return false;
      if (!emit_raw(S, em, i, q + 1, p, why_add(S, "command substitution `...` is not run")))
        return false;
      p = pos_at(S, p, i, q + 1);
      i = q + 1;
    } else {
      if (!emit_char(S, em, c, p, 0, !in_dq)) return false;
      p = advance(p, c);
      i++;
    }
  }
  return !S->st;
}

/* ---- words and commands ---- */

typedef struct mg_word {
  size_t b, e;
  mg_pos p;
} mg_word;

/* Reads the next word from *i; returns 1 a word, 0 end of command, -1 end
 * of text (or error). */
static int next_word(mg_state *S, size_t *i, mg_pos *p, mg_word *w) {
  const char *s = S->src;
  for (;;) {
    if (*i >= S->len) return -1;
    char c = s[*i];
    if (c == ' ' || c == '\t' || c == '\r') {
      *p = advance(*p, c);
      (*i)++;
    } else if (c == '\\' && *i + 1 < S->len && s[*i + 1] == '\n') {
      *p = advance(advance(*p, c), '\n');
      *i += 2;
    } else if (c == '#') {
      while (*i < S->len && s[*i] != '\n') {
        *p = advance(*p, s[*i]);
        (*i)++;
      }
    } else if (c == '\n' || c == ';' || c == '&' || c == '|') {
      *p = advance(*p, c);
      (*i)++;
      return 0;
    } else {
      break;
    }
  }
  w->b = *i;
  w->p = *p;
  size_t j = *i;
  while (j < S->len && !S->st) {
    char c = s[j];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '&' || c == '|')
      break;
    if (c == '\\') {
      j += 2;
    } else if (c == '\'' || c == '"') {
      j = skip_quote(S, j, S->len, pos_at(S, *p, *i, j)) + 1;
    } else if (c == '`' || (c == '$' && j + 1 < S->len && (s[j + 1] == '(' || s[j + 1] == '{'))) {
      j = skip_construct(S, j, S->len, pos_at(S, *p, *i, j)) + 1;
    } else if (c == '(' && j > w->b && s[j - 1] == '=') { /* NAME=( array ) */
      j = skip_construct(S, j, S->len, pos_at(S, *p, *i, j)) + 1;
    } else {
      j++;
    }
  }
  if (j > S->len) j = S->len;
  w->e = j;
  *p = pos_at(S, *p, *i, j);
  *i = j;
  return S->st ? -1 : 1;
}

/* NAME= or NAME+= at the start of a word: length of NAME, else 0. */
static size_t assignment_name(const mg_state *S, const mg_word *w, bool *append) {
  const char *s = S->src;
  size_t i = w->b;
  if (i >= w->e || !is_name_start(s[i])) return 0;
  while (i < w->e && is_name_char(s[i])) i++;
  *append = i + 1 < w->e && s[i] == '+' && s[i + 1] == '=';
  if (*append) return i - w->b;
  return i < w->e && s[i] == '=' ? i - w->b : 0;
}

static bool do_assignment(mg_state *S, const mg_word *w) {
  bool append = false;
  size_t nlen = assignment_name(S, w, &append);
  if (nlen == 0 || nlen >= MG_NAME_MAX) return true; /* not one we keep */
  size_t vb = w->b + nlen + (append ? 2 : 1);
  mg_pos vp = pos_at(S, w->p, w->b, vb);
  mg_text val = {0};
  bool array = vb < w->e && S->src[vb] == '(' && S->src[w->e - 1] == ')';
  mg_emit em = {.split = array};
  bool ok;
  if (array) {
    ok = expand_range(S, vb + 1, w->e - 1, advance(vp, '('), &em, false) &&
         emit_field_end(S, &em);
    for (int k = 0; ok && k < em.n; k++) {
      if (k > 0) ok = text_push(S, &val, ' ', em.fields[k].n ? em.fields[k].pos[0] : vp, 0);
      for (size_t c = 0; ok && c < em.fields[k].n; c++)
        ok = text_push(S, &val, em.fields[k].s[c], em.fields[k].pos[c], em.fields[k].u[c]);
    }
  } else {
    ok = expand_range(S, vb, w->e, vp, &em, false) && emit_field_end(S, &em);
    if (ok && em.n) {
      val = em.fields[0];
      memset(&em.fields[0], 0, sizeof em.fields[0]);
    }
  }
  emit_free(&em);
  if (!ok) {
    text_free(&val);
    return false;
  }
  return var_set(S, S->src + w->b, nlen, &val, array, append);
}

static bool word_is(const mg_state *S, const mg_word *w, const char *lit) {
  size_t n = strlen(lit);
  return w->e - w->b == n && memcmp(S->src + w->b, lit, n) == 0;
}

/* Records the value of one flag. value may be NULL (a switch, or missing). */
static void take_flag(mg_state *S, const mg_flag *f, const char *spelled, const mg_text *value,
                      mg_pos at) {
  mg_val *v = &S->val[f->id];
  if (f->kind == MG_SWITCH) {
    v->given = true;
    v->flag = f->name;
    v->at = at;
    return;
  }
  if (!value) {
    unres_add(S, spelled, "", "the flag has no value", at.line);
    return;
  }
  const char *txt = text_str(value);
  unsigned char u = text_unresolved(value);
  int line = value->n ? value->pos[0].line : at.line;
  if (u) {
    unres_add(S, spelled, txt, S->whys[u - 1], line);
    return;
  }
  char why[160];
  if (f->kind == MG_INT) {
    int64_t x;
    int64_t max = f->id == MG_LAYERS ? TPS_IO_LAYERS_MAX : TPS_IO_COUNT_MAX;
    if (!parse_int(txt, &x) || x < 1 || x > max) {
      snprintf(why, sizeof why, "'%.60s' is not an integer >= 1", txt);
      unres_add(S, spelled, txt, why, line);
      return;
    }
    v->i = x;
  } else if (f->kind == MG_FRAC) {
    double x;
    if (!tps_number_parse(txt, &x) || x < 0.0 || x > 1.0) {
      snprintf(why, sizeof why, "'%.60s' is not a number between 0 and 1", txt);
      unres_add(S, spelled, txt, why, line);
      return;
    }
    v->x = x;
  } else {
    int k = -1;
    for (int c = 0; f->choices[c]; c++)
      if (strcmp(txt, f->choices[c]) == 0) k = c;
    if (k < 0) {
      size_t used = (size_t)snprintf(why, sizeof why, "'%.40s' is not one of", txt);
      for (int c = 0; f->choices[c] && used < sizeof why; c++)
        used += (size_t)snprintf(why + used, sizeof why - used, "%s %s", c ? "," : "",
                                 f->choices[c]);
      unres_add(S, spelled, txt, why, line);
      return;
    }
    v->i = k;
  }
  v->given = true;
  v->flag = f->name;
  v->at = at;
}

static const mg_flag *flag_find(const char *name, size_t len) {
  for (int k = 0; k < MG_N_FLAGS; k++)
    if (strlen(mg_flags[k].name) == len && memcmp(mg_flags[k].name, name, len) == 0)
      return &mg_flags[k];
  return NULL;
}

/* Matches the fields of one command against the flag table. */
static void scan_fields(mg_state *S, mg_text *fields, int n) {
  bool launch = false; /* looks like a training launch: report hidden args */
  for (int k = 0; k < n; k++) {
    const char *t = text_str(&fields[k]);
    size_t l = strlen(t);
    if (strncmp(t, "--", 2) == 0 || (l > 3 && strcmp(t + l - 3, ".py") == 0)) launch = true;
  }
  for (int k = 0; k < n; k++) {
    const mg_text *fld = &fields[k];
    const char *t = text_str(fld);
    mg_pos at = fld->n ? fld->pos[0] : (mg_pos){0, 0};
    if (strncmp(t, "--", 2) != 0) {
      unsigned char u = text_unresolved(fld);
      /* after an unknown flag it is that flag's value; after a switch or
       * a plain word it may hold arguments of its own */
      const char *prev = k > 0 ? text_str(&fields[k - 1]) : "";
      const char *peq = strchr(prev, '=');
      const mg_flag *pf = prev[0] == '-' && !peq ? flag_find(prev, strlen(prev)) : NULL;
      bool is_value = prev[0] == '-' && !peq && (!pf || pf->kind != MG_SWITCH);
      if (u && launch && !is_value)
        unres_add(S, "", t, S->whys[u - 1], at.line);
      continue;
    }
    const char *eq = strchr(t, '=');
    size_t nlen = eq ? (size_t)(eq - t) : strlen(t);
    const mg_flag *f = flag_find(t, nlen);
    if (!f) continue; /* an argument tp-sim does not model */
    char spelled[64];
    snprintf(spelled, sizeof spelled, "%.*s", (int)(nlen < 63 ? nlen : 63), t);
    if (f->kind == MG_SWITCH) {
      take_flag(S, f, spelled, NULL, at);
      continue;
    }
    if (eq) {
      mg_text val = {0};
      size_t off = (size_t)(eq - t) + 1;
      bool ok = true;
      for (size_t c = off; ok && c < fld->n; c++)
        ok = text_push(S, &val, fld->s[c], fld->pos[c], fld->u[c]);
      if (ok) take_flag(S, f, spelled, &val, at);
      text_free(&val);
    } else if (k + 1 < n && strncmp(text_str(&fields[k + 1]), "--", 2) != 0) {
      take_flag(S, f, spelled, &fields[k + 1], at);
      k++;
    } else {
      take_flag(S, f, spelled, NULL, at);
    }
  }
}

static bool is_declare(const mg_state *S, const mg_word *w) {
  return word_is(S, w, "export") || word_is(S, w, "declare") || word_is(S, w, "local") ||
         word_is(S, w, "readonly") || word_is(S, w, "typeset");
}

/* Runs through the whole text: assignments and flag scans. */
static tps_status run_text(mg_state *S) {
  size_t i = 0;
  mg_pos p = {1, 1};
  mg_word *words = NULL;
  int n = 0, cap = 0;
  int r;
  do {
    mg_word w;
    r = next_word(S, &i, &p, &w);
    if (r == 1) {
      if (n == cap) {
        int ncap = cap ? cap * 2 : 32;
        mg_word *nw = realloc(words, (size_t)ncap * sizeof *nw);
        if (!nw) {
          oom(S);
          break;
        }
        words = nw;
        cap = ncap;
      }
      words[n++] = w;
      continue;
    }
    if (S->st) break;
    /* end of a command: words[0..n) */
    int k = 0;
    bool dummy;
    while (k < n && assignment_name(S, &words[k], &dummy) > 0) {
      if (!do_assignment(S, &words[k])) break;
      k++;
    }
    if (k < n && is_declare(S, &words[k])) {
      for (k++; k < n && !S->st; k++)
        if (assignment_name(S, &words[k], &dummy) > 0) do_assignment(S, &words[k]);
    } else if (k < n && !S->st) {
      mg_emit em = {.split = true};
      bool ok = true;
      for (int j = k; ok && j < n; j++)
        ok = expand_range(S, words[j].b, words[j].e, words[j].p, &em, false) &&
             emit_field_end(S, &em);
      if (ok) scan_fields(S, em.fields, em.n);
      emit_free(&em);
    }
    n = 0;
  } while (r != -1 && !S->st);
  free(words);
  return S->st;
}

/* ---- applying the values ---- */

static bool given(const mg_state *S, mg_id id) { return S->val[id].given; }
static int64_t ival(const mg_state *S, mg_id id) { return S->val[id].i; }

static bool any_shape(const mg_state *S) {
  for (int k = 0; k < MG_N_FLAGS; k++)
    if (mg_flags[k].shape && S->val[mg_flags[k].id].given) return true;
  return false;
}

static void apply_run(mg_state *S, tps_run_overrides *o, tps_eco_unresolved *u) {
  int applied = 0;
#define RUN_INT(id, field) \
  if (given(S, id)) { o->field = ival(S, id); applied++; }
  RUN_INT(MG_TP, tp)
  RUN_INT(MG_PP, pp)
  RUN_INT(MG_MBS, micro_batch)
  RUN_INT(MG_GBS, global_batch)
  RUN_INT(MG_SEQ, seq_len)
#undef RUN_INT
  if (given(S, MG_SP)) { o->sp = 1; applied++; }
  if (given(S, MG_DIST_OPT)) { o->distributed_optimizer = 1; applied++; }
  if (given(S, MG_FLASH)) { o->flash_attention = 1; applied++; }
  if (given(S, MG_OVERLAP)) { o->overlap_grad_reduce = 1; applied++; }
  if (given(S, MG_RECOMPUTE)) {
    o->recompute = ival(S, MG_RECOMPUTE) == 0 ? TPS_RECOMPUTE_SELECTIVE : TPS_RECOMPUTE_FULL;
    applied++;
  } else if (given(S, MG_RECOMPUTE_ACT)) {
    o->recompute = TPS_RECOMPUTE_SELECTIVE;
    applied++;
  }
  if (given(S, MG_RECOMPUTE_METHOD)) applied++; /* uniform | block: placement only */
  if (given(S, MG_BF16) && given(S, MG_FP16)) {
    unres_add(S, "--fp16", "", "both --bf16 and --fp16 are given; bf16 is used",
              S->val[MG_FP16].at.line);
  }
  if (given(S, MG_BF16)) { o->precision = TPS_PRECISION_BF16; applied++; }
  else if (given(S, MG_FP16)) { o->precision = TPS_PRECISION_FP16; applied++; }
  if (given(S, MG_NPROC)) {
    int64_t nodes = given(S, MG_NNODES) ? ival(S, MG_NNODES) : 1;
    o->cards = ival(S, MG_NPROC) * nodes;
    applied += 1 + given(S, MG_NNODES);
  }
  u->recognised += applied;
}

/* Megatron's default FFN width: 4h, or with --swiglu the largest multiple
 * of 64 under 8h/3 (megatron/training/arguments.py). */
static int64_t megatron_ffn(int64_t h, bool swiglu) {
  return swiglu ? ((8 * h / 3) / 64) * 64 : 4 * h;
}

/* Applies the shape flags to decoder m (fresh: Megatron defaults for what
 * is not given). Returns an error for a shape that does not hold. */
static tps_status apply_shape(mg_state *S, tps_module *m, tps_training *t, bool fresh,
                              int *applied) {
  int n = 0;
#define SHAPE_INT(id, field) \
  if (given(S, id)) { m->field = ival(S, id); n++; }
  SHAPE_INT(MG_LAYERS, layers)
  SHAPE_INT(MG_HIDDEN, hidden)
  SHAPE_INT(MG_HEADS, heads)
  SHAPE_INT(MG_VOCAB, vocab)
  SHAPE_INT(MG_MAX_POS, max_position)
  SHAPE_INT(MG_KV_CHANNELS, head_dim)
#undef SHAPE_INT
  if (given(S, MG_PADDED_VOCAB)) {
    m->vocab = ival(S, MG_PADDED_VOCAB);
    t->vocab_divisor = 1; /* already padded */
    n++;
  }
  if (given(S, MG_VOCAB_DIV)) {
    if (!given(S, MG_PADDED_VOCAB)) t->vocab_divisor = ival(S, MG_VOCAB_DIV);
    n++;
  }
  if (given(S, MG_SWIGLU)) { m->mlp = TPS_MLP_SWIGLU; n++; }
  if (given(S, MG_FFN)) { m->ffn = ival(S, MG_FFN); n++; }
  else if (fresh) m->ffn = megatron_ffn(m->hidden, m->mlp == TPS_MLP_SWIGLU);
  if (given(S, MG_GQA)) {
    n++;
    if (given(S, MG_GROUPS)) { m->kv_heads = ival(S, MG_GROUPS); n++; }
    else if (fresh) m->kv_heads = 1; /* Megatron's default num_query_groups */
  } else if (given(S, MG_GROUPS)) {
    unres_add(S, "--num-query-groups", "", "ignored without --group-query-attention",
              S->val[MG_GROUPS].at.line);
  }
  if (fresh && !given(S, MG_GQA)) m->kv_heads = m->heads;
  if (given(S, MG_HEADS) && !given(S, MG_GQA) && !fresh && m->kv_heads > m->heads)
    m->kv_heads = m->heads;
  if (given(S, MG_NORM)) {
    m->norm = ival(S, MG_NORM) == 1 ? TPS_NORM_RMSNORM : TPS_NORM_LAYERNORM;
    n++;
  }
  if (given(S, MG_UNTIE)) { m->tied_embeddings = false; n++; }
  if (given(S, MG_POSITION)) {
    int64_t k = ival(S, MG_POSITION);
    m->position = k == 0 ? TPS_POSITION_LEARNED : k == 2 ? TPS_POSITION_NONE : TPS_POSITION_ROPE;
    n++;
  } else if (given(S, MG_ROTARY)) {
    m->position = TPS_POSITION_ROPE;
    n++;
  }
  if (given(S, MG_NO_BIAS)) {
    m->bias = false;
    if (!given(S, MG_QKV_BIAS)) m->qkv_bias = false;
    n++;
  }
  if (given(S, MG_QKV_BIAS)) { m->qkv_bias = true; n++; }
  if (given(S, MG_ATT_DROPOUT) || given(S, MG_HID_DROPOUT)) {
    /* the other one keeps its value: Megatron's 0.1 for a new model */
    double keep = fresh || m->dropout ? 0.1 : 0.0;
    double a = given(S, MG_ATT_DROPOUT) ? S->val[MG_ATT_DROPOUT].x : keep;
    double h = given(S, MG_HID_DROPOUT) ? S->val[MG_HID_DROPOUT].x : keep;
    m->dropout = a > 0.0 || h > 0.0;
    n += given(S, MG_ATT_DROPOUT) + given(S, MG_HID_DROPOUT);
  }
  if (m->position == TPS_POSITION_LEARNED && m->max_position == 0)
    m->max_position = t->seq_len > 0 ? t->seq_len : 2048;
  /* checks */
  mg_val *hv = &S->val[given(S, MG_HEADS) ? MG_HEADS : MG_HIDDEN];
  if (given(S, MG_KV_CHANNELS) && m->head_dim * m->heads == m->hidden) {
    /* the usual value: nothing to keep */
  } else if (!given(S, MG_KV_CHANNELS)) {
    if (m->hidden % m->heads != 0)
      return fail(S, hv->at, TPS_ERANGE,
                  "--num-attention-heads (%" PRId64 ") does not divide --hidden-size (%" PRId64
                  ")",
                  m->heads, m->hidden);
    m->head_dim = m->hidden / m->heads;
  }
  if (m->kv_heads < 1 || m->kv_heads > m->heads || m->heads % m->kv_heads != 0) {
    mg_val *gv = &S->val[given(S, MG_GROUPS) ? MG_GROUPS : MG_HEADS];
    return fail(S, gv->at, TPS_ERANGE,
                "--num-query-groups (%" PRId64 ") must divide --num-attention-heads (%" PRId64
                ")",
                m->kv_heads, m->heads);
  }
  *applied = n;
  return TPS_OK;
}

static tps_status apply_all(mg_state *S, tps_model *model, tps_run_overrides *over,
                            tps_eco_unresolved *u, const char *name, const char *origin) {
  tps_run_overrides o = *over;
  apply_run(S, &o, u);
  if (!any_shape(S)) {
    *over = o;
    return TPS_OK;
  }
  if (!model) {
    for (int k = 0; k < MG_N_FLAGS; k++) {
      const mg_val *v = &S->val[mg_flags[k].id];
      if (mg_flags[k].shape && v->given && v->flag == mg_flags[k].name)
        unres_add(S, mg_flags[k].name, "", "a model-shape flag, and no model was given",
                  v->at.line);
    }
    *over = o;
    return TPS_OK;
  }
  tps_model *m = malloc(sizeof *m);
  if (!m) {
    oom(S);
    return S->st;
  }
  *m = *model;
  tps_status st = TPS_OK;
  int applied = 0;
  if (m->n_modules == 0) {
    static const mg_id needed[] = {MG_LAYERS, MG_HIDDEN, MG_HEADS};
    static const char *const needed_names[] = {"--num-layers", "--hidden-size",
                                               "--num-attention-heads"};
    char missing[160] = "";
    size_t used = 0;
    for (int k = 0; k < 3; k++)
      if (!given(S, needed[k]) && used < sizeof missing)
        used += (size_t)snprintf(missing + used, sizeof missing - used, "%s%s",
                                 used ? ", " : "", needed_names[k]);
    if (used) {
      char why[sizeof missing + 64];
      snprintf(why, sizeof why, "no complete model: %s missing (pass --model)", missing);
      unres_add(S, "(model)", "", why, 0);
      free(m);
      *over = o;
      return TPS_OK;
    }
    /* A decoder with Megatron's defaults for what is not given
     * (megatron/training/arguments.py): LayerNorm, GELU MLP of 4h, biases
     * on every linear, tied embeddings, learned absolute positions,
     * dropout 0.1. */
    tps_module *d = &m->modules[0];
    memset(d, 0, sizeof *d);
    d->type = TPS_MODULE_DECODER;
    snprintf(d->name, sizeof d->name, "decoder");
    d->mlp = TPS_MLP_GELU;
    d->norm = TPS_NORM_LAYERNORM;
    d->bias = true;
    d->qkv_bias = true;
    d->tied_embeddings = true;
    d->position = TPS_POSITION_LEARNED;
    d->dropout = true;
    d->vocab = 0;
    tps_training_defaults(&m->training);
    if (given(S, MG_SEQ)) m->training.seq_len = ival(S, MG_SEQ);
    st = apply_shape(S, d, &m->training, true, &applied);
    if (!st && d->vocab == 0) {
      d->vocab = 32000;
      unres_add(S, "--vocab-size", "",
                "no --vocab-size or --padded-vocab-size (the tokenizer decides): 32000 assumed",
                0);
    }
    m->n_modules = 1;
    snprintf(m->name, sizeof m->name, "%.*s", TPS_NAME_MAX - 1, name);
    snprintf(m->source, sizeof m->source,
             "Megatron arguments in %.900s (Megatron defaults for the rest)", origin);
    m->default_hw[0] = '\0';
    /* the run flags are the model's training defaults too */
    tps_training *t = &m->training;
    if (o.tp > 0) t->tp = o.tp;
    if (o.pp > 0) t->pp = o.pp;
    if (o.micro_batch > 0) t->micro_batch = o.micro_batch;
    if (o.global_batch > 0) t->global_batch = o.global_batch;
    if (o.cards > 0) t->cards = o.cards;
    if (o.sp == 1) t->sp = true;
    if (o.distributed_optimizer == 1) t->distributed_optimizer = true;
    if (o.recompute >= 0) t->recompute = (tps_recompute)o.recompute;
    if (o.precision >= 0) t->precision = (tps_precision)o.precision;
    if (!given(S, MG_BF16) && !given(S, MG_FP16) && over->precision < 0) {
      t->precision = TPS_PRECISION_FP32; /* Megatron without --bf16/--fp16 */
    }
    u->shape = TPS_ECO_SHAPE_BUILT;
  } else {
    int last = -1;
    for (int k = 0; k < m->n_modules; k++)
      if (m->modules[k].type == TPS_MODULE_DECODER) last = k;
    if (last < 0) {
      unres_add(S, "(model)", "", "the model has no decoder for the model-shape flags", 0);
    } else {
      tps_module *d = &m->modules[last];
      int64_t old_hidden = d->hidden, old_layers = d->layers;
      st = apply_shape(S, d, &m->training, false, &applied);
      for (int k = 0; !st && k < m->n_modules; k++)
        if (m->modules[k].type == TPS_MODULE_PROJECTOR && m->modules[k].output == old_hidden)
          m->modules[k].output = d->hidden; /* the projector feeds the decoder */
      if (!st && d->layers != old_layers && m->training.n_pipeline_stages > 0) {
        m->training.n_pipeline_stages = 0;
        unres_add(S, "--num-layers", "",
                  "the model's pipeline_layers no longer add up: an even split is used",
                  S->val[MG_LAYERS].at.line);
      }
      u->shape = TPS_ECO_SHAPE_OVERRIDDEN;
    }
  }
  if (!st) {
    *model = *m;
    *over = o;
    u->recognised += applied;
  } else {
    u->shape = TPS_ECO_SHAPE_NONE;
  }
  free(m);
  return st;
}

/* ---- entry points ---- */

void tps_eco_unresolved_init(tps_eco_unresolved *u) {
  if (u) memset(u, 0, sizeof *u);
}

static tps_status parse(const char *text, size_t len, const char *file, const char *name,
                        tps_model *model, tps_run_overrides *over, tps_eco_unresolved *unres,
                        tps_error *err) {
  tps_eco_unresolved local;
  tps_eco_unresolved *u = unres ? unres : &local;
  tps_eco_unresolved_init(u);
  mg_state *S = calloc(1, sizeof *S);
  if (!S) return tps_error_set(err, TPS_ENOMEM, file, 0, 0, "out of memory");
  S->src = text;
  S->len = len;
  S->file = file;
  S->err = err;
  S->unres = u;
  tps_status st = run_text(S);
  if (!st) st = apply_all(S, model, over, u, name, file);
  if (st) tps_eco_unresolved_init(u);
  for (int k = 0; k < S->n_vars; k++) text_free(&S->vars[k].value);
  free(S->vars);
  free(S);
  return st;
}

tps_status tps_megatron_args_parse(const char *text, tps_model *model,
                                   tps_run_overrides *over, tps_eco_unresolved *unres,
                                   tps_error *err) {
  tps_error_clear(err);
  if (!text || !over)
    return tps_error_set(err, TPS_EINVAL, "--megatron-args", 0, 0, "no arguments to read");
  return parse(text, strlen(text), "--megatron-args", "megatron-args", model, over, unres, err);
}

tps_status tps_megatron_script_load(const char *path, tps_model *model,
                                    tps_run_overrides *over, tps_eco_unresolved *unres,
                                    tps_error *err) {
  tps_error_clear(err);
  if (!path || !*path || !over)
    return tps_error_set(err, TPS_EINVAL, path ? path : "", 0, 0, "no script to read");
  struct stat stt;
  if (stat(path, &stt) != 0) {
    char reason[128];
    snprintf(reason, sizeof reason, "%s", strerror(errno));
    if (reason[0] >= 'A' && reason[0] <= 'Z') reason[0] = (char)(reason[0] - 'A' + 'a');
    return tps_error_set(err, TPS_EIO, path, 0, 0, "cannot open file: %s", reason);
  }
  if (S_ISDIR(stt.st_mode))
    return tps_error_set(err, TPS_EIO, path, 0, 0, "is a directory, not a file");
  if (stt.st_size > TPS_IO_FILE_MAX)
    return tps_error_set(err, TPS_EIO, path, 0, 0, "file is larger than %ld bytes",
                         TPS_IO_FILE_MAX);
  FILE *f = fopen(path, "rb");
  if (!f) return tps_error_set(err, TPS_EIO, path, 0, 0, "cannot open file");
  char *buf = malloc((size_t)TPS_IO_FILE_MAX + 1);
  if (!buf) {
    fclose(f);
    return tps_error_set(err, TPS_ENOMEM, path, 0, 0, "out of memory");
  }
  size_t n = fread(buf, 1, (size_t)TPS_IO_FILE_MAX + 1, f);
  bool bad = ferror(f) != 0;
  fclose(f);
  if (bad || n > (size_t)TPS_IO_FILE_MAX) {
    free(buf);
    return tps_error_set(err, TPS_EIO, path, 0, 0, bad ? "cannot read file"
                                                       : "file is larger than the limit");
  }
  buf[n] = '\0';
  if (memchr(buf, '\0', n)) {
    free(buf);
    return tps_error_set(err, TPS_ESYNTAX, path, 0, 0, "file is not text: it holds a NUL byte");
  }
  /* the model name: the file name without directory and extension */
  char name[TPS_NAME_MAX];
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(name, sizeof name, "%s", base);
  char *dot = strrchr(name, '.');
  if (dot && dot != name) *dot = '\0';
  tps_status st = parse(buf, n, path, name, model, over, unres, err);
  free(buf);
  return st;
}
