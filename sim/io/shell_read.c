/* The shell subset of Megatron / MindSpeed launch scripts: reads a script
 * or an argument string as shell, without running anything, and hands each
 * command's expanded words to a callback (shell_read.h).
 *
 * Enough POSIX shell for the scripts these frameworks ship: words with
 * '...' and "..." quotes (which may span lines), backslash escapes and
 * continuations, # comments, commands separated by newlines, ';', '&', '|';
 * assignments NAME=VALUE, NAME+=VALUE, NAME=( array ),
 * `export`/`declare`/`local`/`readonly` NAME=VALUE; expansions $NAME,
 * ${NAME}, ${NAME:-word} (and -, :=, =, :+, +), ${NAME[@]}, $((integer
 * arithmetic)); here-documents (<<WORD, <<-WORD, <<'WORD': their bodies are
 * skipped) and # comments inside arrays. Nothing is ever run: $(command),
 * `command`, positional parameters and variables the script does not set
 * stay unexpanded, and the characters they leave carry the reason.
 *
 * Hostile text ends in an error at its line, never in a crash, a wrap or a
 * hang: arithmetic is overflow-checked and its nesting limited, variable
 * names, expansions and the characters expanded in all are bounded, and
 * variables are found through a hash table, so a 1 MB script of 140,000
 * assignments reads in a fraction of a second.
 *
 * Every character of an expanded word remembers where it was written
 * (line, column) and, when it comes from something unexpanded, why; so an
 * unresolved value inside GPT_ARGS="..." is reported at its own line. */
#include "io/shell_read.h"
#include "io/yaml_doc.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_internal.h"

#define SHX_WHY_MAX 64     /* distinct reasons kept per parse */
#define SHX_NAME_MAX 64    /* longest variable name */
#define SHX_DEPTH_MAX 32   /* nested ${...:-${...}} expansions, quotes in $(...) */
#define SHX_TEXT_MAX (1L << 20) /* longest expanded word or variable, characters */
#define SHX_ARITH_DEPTH 256 /* nested parentheses and unary signs in $((...)) */
#define SHX_WORK_MAX (1L << 24) /* characters expanded in one read, all words together */
#define SHX_HEREDOC_MAX 16  /* here-documents opened on one line */
#define SHX_DELIM_MAX 256   /* longest here-document delimiter + 1 */

typedef struct shx_var {
  const char *name; /* in the text being read (not NUL-terminated) */
  size_t name_len;  /* < SHX_NAME_MAX */
  shx_text value;
  bool array; /* ${NAME[@]} splits even inside double quotes */
} shx_var;

/* A here-document whose body starts at the next line: `<<WORD`, `<<-WORD`
 * (leading tabs stripped), WORD possibly quoted. */
typedef struct shx_heredoc {
  char delim[SHX_DELIM_MAX]; /* quotes removed */
  size_t len;
  bool strip_tabs;
} shx_heredoc;

/* ---- reader state ---- */

struct shx_reader {
  const char *src;  /* the whole text */
  size_t len;
  const char *file; /* for errors: the script path or "--megatron-args" */
  tps_error *err;
  tps_status st;    /* first error (sticky) */
  shx_var *vars;
  int n_vars, cap_vars;
  int *slots;       /* hash table of indexes into vars, -1 empty; n_slots a power of 2 */
  size_t n_slots;
  long work;        /* characters expanded so far (SHX_WORK_MAX) */
  shx_heredoc heredocs[SHX_HEREDOC_MAX]; /* opened on the current line */
  int n_heredocs;
  char whys[SHX_WHY_MAX][160];
  int n_whys;
  int depth;       /* expansions being expanded */
  shx_pos where;   /* the word or outermost expansion being expanded, for errors */
  int skip_depth;  /* constructs being skipped */
  shx_command_fn on_command;
  void *user;
  int source_depth; /* `source FILE` / `. FILE` being read, nested */
  char *sourced[64]; /* texts of sourced files: variable names point into them */
  int n_sourced;
};

/* Deepest nesting of sourced files followed, and most files read. */
#define SHX_SOURCE_DEPTH_MAX 8
#define SHX_SOURCED_MAX 64

/* An emitter collects the fields (words after splitting) of one expansion. */
typedef struct shx_emit {
  shx_text cur;
  bool has;     /* cur is a field even if empty ("" was seen) */
  bool split;   /* unquoted whitespace splits fields */
  bool comments; /* an unquoted '#' starting a word comments out the line (arrays) */
  shx_text *fields;
  int n, cap;
} shx_emit;

static tps_status fail(shx_reader *S, shx_pos at, tps_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tps_status fail(shx_reader *S, shx_pos at, tps_status st, const char *fmt, ...) {
  if (S->st) return S->st;
  S->st = st;
  va_list ap;
  va_start(ap, fmt);
  tps_error_vset(S->err, st, S->file, at.line, at.col, fmt, ap);
  va_end(ap);
  return st;
}

static bool oom(shx_reader *S) {
  shx_pos none = {0, 0};
  fail(S, none, TPS_ENOMEM, "out of memory while reading the arguments");
  return false;
}

void shx_text_free(shx_text *t) {
  free(t->s);
  free(t->pos);
  free(t->u);
  memset(t, 0, sizeof *t);
}

/* Room for n more characters in t, within the limits: the length of one
 * text (SHX_TEXT_MAX) and the characters of the whole read (SHX_WORK_MAX).
 * p: where the characters come from, for the error when no expansion is
 * being read. */
static bool text_reserve(shx_reader *S, shx_text *t, size_t n, shx_pos p) {
  if (n > (size_t)SHX_TEXT_MAX - t->n) {
    fail(S, S->where.line ? S->where : p, TPS_ERANGE, "an expansion is longer than %ld characters",
         SHX_TEXT_MAX);
    return false;
  }
  if ((long)n > SHX_WORK_MAX - S->work) {
    fail(S, S->where.line ? S->where : p, TPS_ERANGE,
         "the script expands to more than %ld characters in all", SHX_WORK_MAX);
    if (S->err) tps_error_hint(S->err, "a variable this large copied this often is not a launch script");
    return false;
  }
  S->work += (long)n;
  if (t->n + n >= t->cap) {
    size_t ncap = t->cap ? t->cap : 32;
    while (t->n + n >= ncap) ncap *= 2;
    char *s = realloc(t->s, ncap);
    if (s) t->s = s;
    shx_pos *pos = realloc(t->pos, ncap * sizeof *pos);
    if (pos) t->pos = pos;
    unsigned char *uu = realloc(t->u, ncap);
    if (uu) t->u = uu;
    if (!s || !pos || !uu) return oom(S);
    t->cap = ncap;
  }
  return true;
}

bool shx_text_push(shx_reader *S, shx_text *t, char c, shx_pos p, unsigned char u) {
  if (!text_reserve(S, t, 1, p)) return false;
  t->s[t->n] = c;
  t->pos[t->n] = p;
  t->u[t->n] = u;
  t->n++;
  t->s[t->n] = '\0';
  return true;
}

/* Appends the characters [b, e) of src to t. */
static bool text_append(shx_reader *S, shx_text *t, const shx_text *src, size_t b, size_t e) {
  if (e <= b) return true;
  if (!text_reserve(S, t, e - b, src->pos[b])) return false;
  memcpy(t->s + t->n, src->s + b, e - b);
  memcpy(t->pos + t->n, src->pos + b, (e - b) * sizeof *t->pos);
  memcpy(t->u + t->n, src->u + b, e - b);
  t->n += e - b;
  t->s[t->n] = '\0';
  return true;
}

const char *shx_text_str(const shx_text *t) { return t->s ? t->s : ""; }

/* First reason a text is unresolved, or 0. */
unsigned char shx_text_unresolved(const shx_text *t) {
  for (size_t i = 0; i < t->n; i++)
    if (t->u[i]) return t->u[i];
  return 0;
}

/* Index + 1 of a reason (kept once); the last slot is reused when full. */
static unsigned char why_add(shx_reader *S, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static unsigned char why_add(shx_reader *S, const char *fmt, ...) {
  char buf[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  for (int i = 0; i < S->n_whys; i++)
    if (strcmp(S->whys[i], buf) == 0) return (unsigned char)(i + 1);
  int k = S->n_whys < SHX_WHY_MAX ? S->n_whys++ : SHX_WHY_MAX - 1;
  snprintf(S->whys[k], sizeof S->whys[k], "%s", buf);
  return (unsigned char)(k + 1);
}

/* ---- emitter ---- */

static bool emit_field_end(shx_reader *S, shx_emit *em) {
  if (!em->has) return true;
  if (em->n == em->cap) {
    int ncap = em->cap ? em->cap * 2 : 16;
    shx_text *f = realloc(em->fields, (size_t)ncap * sizeof *f);
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
static bool emit_char(shx_reader *S, shx_emit *em, char c, shx_pos p, unsigned char u,
                      bool splittable) {
  if (splittable && em->split && (c == ' ' || c == '\t' || c == '\n'))
    return emit_field_end(S, em);
  em->has = true;
  return shx_text_push(S, &em->cur, c, p, u);
}

static void emit_free(shx_emit *em) {
  shx_text_free(&em->cur);
  for (int i = 0; i < em->n; i++) shx_text_free(&em->fields[i]);
  free(em->fields);
  memset(em, 0, sizeof *em);
}

/* ---- scanning the source ---- */

static shx_pos advance(shx_pos p, char c) {
  if (c == '\n') {
    p.line++;
    p.col = 1;
  } else if (((unsigned char)c & 0xC0) != 0x80) {
    p.col++;
  }
  return p;
}

static shx_pos pos_at(const shx_reader *S, shx_pos from, size_t b, size_t e) {
  for (size_t i = b; i < e && i < S->len; i++) from = advance(from, S->src[i]);
  return from;
}

/* The position of S->src[i]; the reader starts at 1:1 and advances one
 * character at a time, so this is where it would be. Only for errors (it
 * reads from the start): the skips below do not track positions. */
static shx_pos pos_of(const shx_reader *S, size_t i) {
  shx_pos p = {1, 1};
  return pos_at(S, p, 0, i);
}

static tps_status fail_at(shx_reader *S, size_t i, tps_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tps_status fail_at(shx_reader *S, size_t i, tps_status st, const char *fmt, ...) {
  if (S->st) return S->st;
  S->st = st;
  shx_pos at = pos_of(S, i);
  va_list ap;
  va_start(ap, fmt);
  tps_error_vset(S->err, st, S->file, at.line, at.col, fmt, ap);
  va_end(ap);
  return st;
}

static size_t skip_construct(shx_reader *S, size_t i, size_t end);

/* End (index of the closing quote) of a quoted string opened at i. */
static size_t skip_quote(shx_reader *S, size_t i, size_t end) {
  char q = S->src[i];
  for (size_t j = i + 1; j < end; j++) {
    char c = S->src[j];
    if (c == q) return j;
    if (q == '"' && c == '\\') {
      j++;
    } else if (q == '"' && c == '$' && j + 1 < end &&
               (S->src[j + 1] == '(' || S->src[j + 1] == '{')) {
      j = skip_construct(S, j, end);
      if (S->st) return end;
    }
  }
  fail_at(S, i, TPS_ESYNTAX, "unterminated %s quote", q == '"' ? "double" : "single");
  if (S->err) tps_error_hint(S->err, "the quote opened here is never closed");
  return end;
}

/* Given S->src[i] == '$' followed by '(' or '{', or a '`' or '(': the index of
 * the closing character, skipping nested quotes and constructs. */
static size_t skip_construct_in(shx_reader *S, size_t i, size_t end);

static size_t skip_construct(shx_reader *S, size_t i, size_t end) {
  if (++S->skip_depth > SHX_DEPTH_MAX) {
    fail_at(S, i, TPS_ESYNTAX, "quotes and $(...) nested deeper than %d levels", SHX_DEPTH_MAX);
    S->skip_depth--;
    return end;
  }
  size_t r = skip_construct_in(S, i, end);
  S->skip_depth--;
  return r;
}

static size_t skip_construct_in(shx_reader *S, size_t i, size_t end) {
  char open, close;
  size_t j, at = i;
  if (S->src[i] == '`') {
    for (j = i + 1; j < end; j++) {
      if (S->src[j] == '\\') j++;
      else if (S->src[j] == '`') return j;
    }
    fail_at(S, at, TPS_ESYNTAX, "unterminated backquote");
    return end;
  }
  if (S->src[i] == '$') i++;
  open = S->src[i];
  close = open == '(' ? ')' : '}';
  /* $(command): a '#' beginning a word comments out the rest of the line */
  bool cmd = open == '(' && !(i + 1 < end && S->src[i + 1] == '(');
  bool start = true;
  int depth = 1;
  for (j = i + 1; j < end; j++) {
    char c = S->src[j];
    if (c == '\\') {
      j++;
      start = false;
    } else if (c == '\'' || c == '"') {
      j = skip_quote(S, j, end);
      if (S->st) return end;
      start = false;
    } else if (cmd && c == '#' && start) {
      while (j + 1 < end && S->src[j + 1] != '\n') j++;
    } else if (c == open) {
      depth++;
      start = true;
    } else if (c == close) {
      if (--depth == 0) return j;
      start = false;
    } else {
      start = c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|';
    }
  }
  fail_at(S, at, TPS_ESYNTAX, "unterminated '%s'", open == '(' ? "$(" : "${");
  return end;
}

/* '#' at i starts a comment inside an array opened at open when it begins
 * a word: right after the '(' or a blank (the caller knows the word is
 * empty so far). */
static bool array_comment(const shx_reader *S, size_t open, size_t i) {
  char b = S->src[i - 1];
  return S->src[i] == '#' && (i == open + 1 || b == ' ' || b == '\t' || b == '\n');
}

/* NAME=( ... ) with '(' at i: the index of the closing ')', skipping
 * quotes, constructs and # comments, as expand_range will read them. */
static size_t skip_array(shx_reader *S, size_t i, size_t end) {
  const char *s = S->src;
  bool start = true; /* at the start of a word */
  for (size_t j = i + 1; j < end; j++) {
    char c = s[j];
    if (c == '\\') {
      if (j + 1 < end && s[j + 1] == '\n') { /* a continuation: nothing written */
        j++;
        continue;
      }
      j++;
      start = false;
    } else if (c == '\'' || c == '"') {
      j = skip_quote(S, j, end);
      if (S->st) return end;
      start = false;
    } else if (c == '`' || (c == '$' && j + 1 < end && (s[j + 1] == '(' || s[j + 1] == '{'))) {
      j = skip_construct(S, j, end);
      if (S->st) return end;
      start = false;
    } else if (c == '#' && start) {
      while (j + 1 < end && s[j + 1] != '\n') j++;
    } else if (c == ')') {
      return j;
    } else {
      start = c == ' ' || c == '\t' || c == '\n';
    }
  }
  fail_at(S, i, TPS_ESYNTAX, "unterminated array '('");
  return end;
}

/* ---- variables ---- */

static size_t name_hash(const char *name, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)name[i];
    h *= 1099511628211ull;
  }
  return (size_t)(h ^ (h >> 32));
}

/* The slot of name in the hash table: where it is, or the empty slot where it would go. */
static size_t var_slot(const shx_reader *S, const char *name, size_t len) {
  size_t mask = S->n_slots - 1, k = name_hash(name, len) & mask;
  for (;;) {
    int x = S->slots[k];
    if (x < 0) return k;
    const shx_var *v = &S->vars[x];
    if (v->name_len == len && memcmp(v->name, name, len) == 0) return k;
    k = (k + 1) & mask;
  }
}

static shx_var *var_find(shx_reader *S, const char *name, size_t len) {
  if (!S->n_slots) return NULL;
  int x = S->slots[var_slot(S, name, len)];
  return x < 0 ? NULL : &S->vars[x];
}

/* Room for one more variable: vars grown, the table at most half full. */
static bool var_reserve(shx_reader *S) {
  if (S->n_vars == S->cap_vars) {
    int ncap = S->cap_vars ? S->cap_vars * 2 : 32;
    shx_var *nv = realloc(S->vars, (size_t)ncap * sizeof *nv);
    if (!nv) return oom(S);
    S->vars = nv;
    S->cap_vars = ncap;
  }
  if ((size_t)(S->n_vars + 1) * 2 > S->n_slots) {
    size_t n = S->n_slots ? S->n_slots * 2 : 64;
    int *slots = malloc(n * sizeof *slots);
    if (!slots) return oom(S);
    free(S->slots);
    S->slots = slots;
    S->n_slots = n;
    for (size_t k = 0; k < n; k++) slots[k] = -1;
    for (int x = 0; x < S->n_vars; x++)
      slots[var_slot(S, S->vars[x].name, S->vars[x].name_len)] = x;
  }
  return true;
}

/* Sets (append: adds to) a variable; takes ownership of value. A name
 * longer than SHX_NAME_MAX - 1 is an error at p, where it is assigned. */
static bool var_set(shx_reader *S, const char *name, size_t len, shx_text *value, bool array,
                    bool append, shx_pos p) {
  if (len >= SHX_NAME_MAX) {
    shx_text_free(value);
    fail(S, p, TPS_ERANGE, "variable name '%.20s...' is longer than %d characters", name,
         SHX_NAME_MAX - 1);
    return false;
  }
  shx_var *v = var_find(S, name, len);
  if (!v) {
    if (!var_reserve(S)) {
      shx_text_free(value);
      return false;
    }
    S->slots[var_slot(S, name, len)] = S->n_vars;
    v = &S->vars[S->n_vars++];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->name_len = len;
    append = false;
  }
  if (append) {
    bool ok = !(array && v->value.n && value->n) ||
              shx_text_push(S, &v->value, ' ', value->pos[0], 0);
    ok = ok && text_append(S, &v->value, value, 0, value->n);
    shx_text_free(value);
    if (!ok) return false;
  } else {
    shx_text_free(&v->value);
    v->value = *value;
    memset(value, 0, sizeof *value);
  }
  v->array = v->array || array;
  return true;
}

static bool is_name_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static bool is_name_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* ---- expansion ---- */

static bool expand_range(shx_reader *S, size_t b, size_t e, shx_pos p, shx_emit *em, bool in_dq);

/* Emits the source text [b, e) verbatim as one unresolved, unsplit piece. */
static bool emit_raw(shx_reader *S, shx_emit *em, size_t b, size_t e, shx_pos p,
                     unsigned char why) {
  for (size_t i = b; i < e; i++) {
    if (!emit_char(S, em, S->src[i], p, why, false)) return false;
    p = advance(p, S->src[i]);
  }
  return true;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

/* The value of v: runs of characters copied whole, blanks splitting fields
 * where they are splittable (what emit_char does one character at a time). */
static bool emit_var(shx_reader *S, shx_emit *em, const shx_var *v, bool in_dq, bool all) {
  bool split = (!in_dq || (all && v->array)) && em->split;
  const shx_text *t = &v->value;
  size_t i = 0;
  while (i < t->n) {
    if (split && is_blank(t->s[i])) {
      if (!emit_field_end(S, em)) return false;
      i++;
      continue;
    }
    size_t j = i;
    while (j < t->n && !(split && is_blank(t->s[j]))) j++;
    em->has = true;
    if (!text_append(S, &em->cur, t, i, j)) return false;
    i = j;
  }
  if (in_dq) em->has = true;
  return true;
}

/* Integer arithmetic over a flat string: + - * / % ( ), unary - and +,
 * names. Every operation is checked: a result outside int64_t (which bash
 * would wrap, and which for INT64_MIN / -1 traps) ends the read with an
 * error, as does nesting deeper than SHX_ARITH_DEPTH (the parser recurses). */
typedef enum { AR_OK, AR_UNRESOLVED, AR_OVERFLOW, AR_DEEP } shx_ar_state;

typedef struct shx_arith {
  shx_reader *S;
  const char *s;
  size_t i;
  int depth;
  shx_ar_state bad; /* the first failure; evaluation stops there */
  char why[160];    /* AR_UNRESOLVED: the reason */
} shx_arith;

static void ar_blank(shx_arith *A) {
  while (A->s[A->i] == ' ' || A->s[A->i] == '\t' || A->s[A->i] == '\n') A->i++;
}

static int64_t ar_expr(shx_arith *A);

/* Records the first reason the arithmetic is left unexpanded: "<pre><name><post>". */
static int64_t ar_fail(shx_arith *A, const char *pre, const char *name, const char *post) {
  if (!A->bad) {
    snprintf(A->why, sizeof A->why, "%s%s%s", pre, name, post);
    A->bad = AR_UNRESOLVED;
  }
  return 0;
}

static int64_t ar_bad(shx_arith *A, const char *why) { return ar_fail(A, why, "", ""); }

static int64_t ar_overflow(shx_arith *A) {
  if (!A->bad) A->bad = AR_OVERFLOW;
  return 0;
}

static int64_t ar_primary_in(shx_arith *A);

static int64_t ar_primary(shx_arith *A) {
  if (++A->depth > SHX_ARITH_DEPTH) {
    if (!A->bad) A->bad = AR_DEEP;
    A->depth--;
    return 0;
  }
  int64_t v = ar_primary_in(A);
  A->depth--;
  return v;
}

static int64_t ar_primary_in(shx_arith *A) {
  ar_blank(A);
  char c = A->s[A->i];
  if (c == '(') {
    A->i++;
    int64_t v = ar_expr(A);
    if (A->bad) return 0;
    ar_blank(A);
    if (A->s[A->i] != ')') return ar_bad(A, "unbalanced parentheses in $((...))");
    A->i++;
    return v;
  }
  if (c == '-' || c == '+') {
    A->i++;
    int64_t v = ar_primary(A), r;
    if (A->bad) return 0;
    if (c == '+') return v;
    if (__builtin_sub_overflow((int64_t)0, v, &r)) return ar_overflow(A); /* -INT64_MIN */
    return r;
  }
  if (isdigit((unsigned char)c)) {
    int64_t v = 0;
    while (isdigit((unsigned char)A->s[A->i])) {
      if (__builtin_mul_overflow(v, 10, &v) ||
          __builtin_add_overflow(v, A->s[A->i] - '0', &v))
        return ar_overflow(A);
      A->i++;
    }
    return v;
  }
  if (c == '$') A->i++; /* $NAME left by an unexpandable form */
  if (is_name_start(A->s[A->i])) {
    size_t b = A->i;
    while (is_name_char(A->s[A->i])) A->i++;
    char name[SHX_NAME_MAX];
    size_t len = A->i - b < sizeof name - 1 ? A->i - b : sizeof name - 1;
    memcpy(name, A->s + b, len);
    name[len] = '\0';
    shx_var *v = var_find(A->S, A->s + b, A->i - b);
    if (!v) return ar_fail(A, "variable '", name, "' is not set in the script");
    unsigned char u = shx_text_unresolved(&v->value);
    if (u) return ar_bad(A, A->S->whys[u - 1]);
    int64_t x;
    if (!io_int_parse(shx_text_str(&v->value), &x))
      return ar_fail(A, "variable '", name, "' is not an integer");
    return x;
  }
  return ar_bad(A, "cannot evaluate $((...))");
}

static int64_t ar_term(shx_arith *A) {
  int64_t v = ar_primary(A);
  for (;;) {
    if (A->bad) return 0;
    ar_blank(A);
    char op = A->s[A->i];
    if (op != '*' && op != '/' && op != '%') return v;
    A->i++;
    int64_t r = ar_primary(A);
    if (A->bad) return 0;
    if (op == '*') {
      if (__builtin_mul_overflow(v, r, &v)) return ar_overflow(A);
    } else {
      if (r == 0) return ar_bad(A, "division by zero in $((...))");
      if (v == INT64_MIN && r == -1) return ar_overflow(A); /* traps (SIGFPE) in C */
      v = op == '/' ? v / r : v % r;
    }
  }
}

static int64_t ar_expr(shx_arith *A) {
  int64_t v = ar_term(A);
  for (;;) {
    if (A->bad) return 0;
    ar_blank(A);
    char op = A->s[A->i];
    if (op != '+' && op != '-') return v;
    A->i++;
    int64_t r = ar_term(A);
    if (A->bad) return 0;
    if (op == '+' ? __builtin_add_overflow(v, r, &v) : __builtin_sub_overflow(v, r, &v))
      return ar_overflow(A);
  }
}

/* $((...)) at [b, e) (b at '$', e past the closing "))"). */
static bool expand_arith(shx_reader *S, size_t b, size_t e, shx_pos p, shx_emit *em) {
  shx_emit inner = {.split = false};
  bool ok = expand_range(S, b + 3, e - 2, pos_at(S, p, b, b + 3), &inner, true) &&
            emit_field_end(S, &inner);
  if (!ok) {
    emit_free(&inner);
    return false;
  }
  const shx_text *t = inner.n ? &inner.fields[0] : NULL;
  unsigned char u = t ? shx_text_unresolved(t) : 0;
  shx_arith A = {.S = S, .s = t ? shx_text_str(t) : ""};
  int64_t v = 0;
  if (!u) {
    v = ar_expr(&A);
    ar_blank(&A);
    if (!A.bad && A.s[A.i]) ar_bad(&A, "cannot evaluate $((...))");
    if (A.bad == AR_UNRESOLVED) u = why_add(S, "%s", A.why);
  }
  emit_free(&inner);
  if (A.bad == AR_OVERFLOW || A.bad == AR_DEEP) {
    int n = (int)(e - b > 80 ? 80 : e - b);
    const char *more = e - b > 80 ? "..." : "";
    if (A.bad == AR_DEEP)
      fail(S, p, TPS_ESYNTAX, "parentheses and signs in $((...)) nested deeper than %d levels",
           SHX_ARITH_DEPTH);
    else
      fail(S, p, TPS_ERANGE, "'%.*s%s' overflows 64-bit integers", n, S->src + b, more);
    if (S->err && A.bad == AR_OVERFLOW)
      tps_error_hint(S->err, "bash would wrap around or stop here; tp-sim does not guess a value");
    return false;
  }
  if (u) return emit_raw(S, em, b, e, p, u);
  char num[32];
  snprintf(num, sizeof num, "%" PRId64, v);
  for (const char *c = num; *c; c++)
    if (!emit_char(S, em, *c, p, 0, false)) return false;
  return true;
}

/* ${...} at [b, e) (b at '$', e past '}'). */
static bool expand_brace(shx_reader *S, size_t b, size_t e, shx_pos p, shx_emit *em, bool in_dq) {
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
  shx_var *v = positional ? NULL : var_find(S, s + nb, ne - nb);
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
  shx_pos wp = pos_at(S, p, b, i);
  if (op == '=' && !positional) {
    shx_emit w = {.split = false};
    bool ok = expand_range(S, i, close, wp, &w, true) && emit_field_end(S, &w);
    shx_text val = {0};
    if (ok && w.n) {
      val = w.fields[0];
      memset(&w.fields[0], 0, sizeof w.fields[0]);
    }
    emit_free(&w);
    if (!ok || !var_set(S, s + nb, ne - nb, &val, false, false, p)) return false;
    v = var_find(S, s + nb, ne - nb);
    return emit_var(S, em, v, in_dq, false);
  }
  return expand_range(S, i, close, wp, em, in_dq);
}

/* A '$' at i; *next receives the index after the expansion. */
static bool expand_dollar(shx_reader *S, size_t i, size_t end, shx_pos p, shx_emit *em,
                          bool in_dq, size_t *next) {
  const char *s = S->src;
  if (++S->depth > SHX_DEPTH_MAX) {
    fail(S, p, TPS_ESYNTAX, "expansions nested deeper than %d levels", SHX_DEPTH_MAX);
    return false;
  }
  if (S->depth == 1) S->where = p;
  bool comments = em->comments; /* none inside ${...:-word} */
  em->comments = false;
  bool ok = true;
  if (i + 2 < end && s[i + 1] == '(' && s[i + 2] == '(') {
    size_t c = skip_construct(S, i, end); /* the outer ')' of "))" */
    if (S->st) ok = false;
    else if (c + 1 <= end && c > i + 3 && s[c - 1] == ')') {
      *next = c + 1;
      ok = expand_arith(S, i, c + 1, p, em);
    } else {
      *next = c + 1;
      ok = emit_raw(S, em, i, c + 1, p, why_add(S, "command substitution is not run"));
    }
  } else if (i + 1 < end && s[i + 1] == '(') {
    size_t c = skip_construct(S, i, end);
    if (S->st) ok = false;
    else {
      *next = c + 1;
      ok = emit_raw(S, em, i, c + 1, p,
                    why_add(S, "command substitution '%.*s' is not run",
                            (int)(c + 1 - i > 60 ? 60 : c + 1 - i), s + i));
    }
  } else if (i + 1 < end && s[i + 1] == '{') {
    size_t c = skip_construct(S, i, end);
    if (S->st) ok = false;
    else {
      *next = c + 1;
      ok = expand_brace(S, i, c + 1, p, em, in_dq);
    }
  } else if (i + 1 < end && is_name_start(s[i + 1])) {
    size_t j = i + 1;
    while (j < end && is_name_char(s[j])) j++;
    *next = j;
    shx_var *v = var_find(S, s + i + 1, j - i - 1);
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
  em->comments = comments;
  return ok && !S->st;
}

/* Expands the source range [b, e) starting at position p into em. */
static bool expand_range(shx_reader *S, size_t b, size_t e, shx_pos p, shx_emit *em, bool in_dq) {
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
      shx_pos np = advance(p, c);
      if (!emit_char(S, em, n, np, 0, false)) return false;
      p = advance(np, n);
      i += 2;
    } else if (c == '\'' && !in_dq) {
      size_t q = skip_quote(S, i, e);
      if (S->st) return false;
      em->has = true;
      shx_pos qp = advance(p, c);
      for (size_t j = i + 1; j < q; j++) {
        if (!emit_char(S, em, s[j], qp, 0, false)) return false;
        qp = advance(qp, s[j]);
      }
      p = advance(qp, '\'');
      i = q + 1;
    } else if (c == '"' && !in_dq) {
      size_t q = skip_quote(S, i, e);
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
      size_t q = skip_construct(S, i, e);
      if (S->st) return false;
      if (!emit_raw(S, em, i, q + 1, p, why_add(S, "command substitution `...` is not run")))
        return false;
      p = pos_at(S, p, i, q + 1);
      i = q + 1;
    } else if (em->comments && !in_dq && !em->has && i > 0 && array_comment(S, b - 1, i)) {
      while (i < e && s[i] != '\n') { /* # comment in an array: to the end of the line */
        p = advance(p, s[i]);
        i++;
      }
    } else {
      if (!emit_char(S, em, c, p, 0, !in_dq)) return false;
      p = advance(p, c);
      i++;
    }
  }
  return !S->st;
}

/* ---- words and commands ---- */

typedef struct shx_word {
  size_t b, e;
  shx_pos p;
} shx_word;

/* `<<` (not `<<<`) at i: a here-document operator. */
static bool at_heredoc(const shx_reader *S, size_t i) {
  return i + 1 < S->len && S->src[i] == '<' && S->src[i + 1] == '<' &&
         !(i + 2 < S->len && S->src[i + 2] == '<');
}

/* Reads the operator `<<[-]WORD` at *i (past it on return) and queues the
 * here-document, whose body the next newline skips. */
static bool heredoc_open(shx_reader *S, size_t *i, shx_pos *p) {
  const char *s = S->src;
  size_t j = *i + 2;
  bool strip = j < S->len && s[j] == '-', quoted = false;
  if (strip) j++;
  while (j < S->len && (s[j] == ' ' || s[j] == '\t')) j++;
  if (S->n_heredocs == SHX_HEREDOC_MAX) {
    fail(S, *p, TPS_ERANGE, "more than %d here-documents on one line", SHX_HEREDOC_MAX);
    return false;
  }
  shx_heredoc *d = &S->heredocs[S->n_heredocs];
  size_t n = 0;
  bool too_long = false;
#define DELIM_ADD(ch) (n + 1 < SHX_DELIM_MAX ? (void)(d->delim[n++] = (ch)) : (void)(too_long = true))
  while (j < S->len && s[j] && !strchr(" \t\r\n;&|<>()", s[j])) {
    char c = s[j];
    if (c == '\'' || c == '"') {
      size_t q = skip_quote(S, j, S->len);
      if (S->st) return false;
      for (size_t k = j + 1; k < q; k++) {
        if (c == '"' && s[k] == '\\' && k + 1 < q && strchr("$`\"\\", s[k + 1])) k++;
        DELIM_ADD(s[k]);
      }
      quoted = true;
      j = q + 1;
    } else if (c == '\\' && j + 1 < S->len) {
      if (s[j + 1] != '\n') DELIM_ADD(s[j + 1]);
      quoted = true;
      j += 2;
    } else {
      DELIM_ADD(c);
      j++;
    }
  }
#undef DELIM_ADD
  if (too_long) {
    fail(S, *p, TPS_ERANGE, "a here-document delimiter is longer than %d characters",
         SHX_DELIM_MAX - 1);
    return false;
  }
  if (n == 0 && !quoted) {
    fail(S, *p, TPS_ESYNTAX, "'<<' without a word: a here-document needs a delimiter");
    return false;
  }
  d->len = n;
  d->strip_tabs = strip;
  S->n_heredocs++;
  *p = pos_at(S, *p, *i, j);
  *i = j;
  return true;
}

/* At the start of a line: skips the bodies of the here-documents opened on
 * the line before, each up to its delimiter line (or the end of the text). */
static void heredoc_bodies(shx_reader *S, size_t *i, shx_pos *p) {
  const char *s = S->src;
  for (int h = 0; h < S->n_heredocs; h++) {
    const shx_heredoc *d = &S->heredocs[h];
    while (*i < S->len) {
      size_t b = *i, e = b;
      while (e < S->len && s[e] != '\n') e++;
      size_t c = b, ce = e;
      if (d->strip_tabs)
        while (c < e && s[c] == '\t') c++;
      if (ce > c && s[ce - 1] == '\r') ce--; /* a CRLF script */
      bool end = ce - c == d->len && memcmp(s + c, d->delim, d->len) == 0;
      size_t next = e < S->len ? e + 1 : e;
      *p = pos_at(S, *p, b, next);
      *i = next;
      if (end) break;
    }
  }
  S->n_heredocs = 0;
}

/* Reads the next word from *i; returns 1 a word, 0 end of command, -1 end
 * of text (or error). heredocs: `<<` opens a here-document (not inside an
 * arithmetic command `(( ... ))`, where it is a shift). */
static int next_word(shx_reader *S, size_t *i, shx_pos *p, shx_word *w, bool heredocs) {
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
      if (c == '\n' && S->n_heredocs) heredoc_bodies(S, i, p);
      return 0;
    } else if (heredocs && at_heredoc(S, *i)) {
      if (!heredoc_open(S, i, p)) return -1;
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
    if (c == '<' && j + 1 < S->len && s[j + 1] == '<') {
      if (at_heredoc(S, j) && heredocs) break; /* cat<<EOF: the operator ends the word */
      j += at_heredoc(S, j) ? 2 : 3;
    } else if (c == '\\') {
      j += 2;
    } else if (c == '\'' || c == '"') {
      j = skip_quote(S, j, S->len) + 1;
    } else if (c == '`' || (c == '$' && j + 1 < S->len && (s[j + 1] == '(' || s[j + 1] == '{'))) {
      j = skip_construct(S, j, S->len) + 1;
    } else if (c == '(' && j > w->b && s[j - 1] == '=') { /* NAME=( array ) */
      j = skip_array(S, j, S->len) + 1;
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
static size_t assignment_name(const shx_reader *S, const shx_word *w, bool *append) {
  const char *s = S->src;
  size_t i = w->b;
  if (i >= w->e || !is_name_start(s[i])) return 0;
  while (i < w->e && is_name_char(s[i])) i++;
  *append = i + 1 < w->e && s[i] == '+' && s[i + 1] == '=';
  if (*append) return i - w->b;
  return i < w->e && s[i] == '=' ? i - w->b : 0;
}

static bool do_assignment(shx_reader *S, const shx_word *w) {
  bool append = false;
  size_t nlen = assignment_name(S, w, &append);
  if (nlen == 0) return true;
  size_t vb = w->b + nlen + (append ? 2 : 1);
  S->where = w->p;
  shx_pos vp = pos_at(S, w->p, w->b, vb);
  shx_text val = {0};
  bool array = vb < w->e && S->src[vb] == '(' && S->src[w->e - 1] == ')';
  shx_emit em = {.split = array, .comments = array};
  bool ok;
  if (array) {
    ok = expand_range(S, vb + 1, w->e - 1, advance(vp, '('), &em, false) &&
         emit_field_end(S, &em);
    for (int k = 0; ok && k < em.n; k++) {
      if (k > 0) ok = shx_text_push(S, &val, ' ', em.fields[k].n ? em.fields[k].pos[0] : vp, 0);
      ok = ok && text_append(S, &val, &em.fields[k], 0, em.fields[k].n);
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
    shx_text_free(&val);
    return false;
  }
  return var_set(S, S->src + w->b, nlen, &val, array, append, w->p);
}

static bool word_is(const shx_reader *S, const shx_word *w, const char *lit) {
  size_t n = strlen(lit);
  return w->e - w->b == n && memcmp(S->src + w->b, lit, n) == 0;
}

static bool is_declare(const shx_reader *S, const shx_word *w) {
  return word_is(S, w, "export") || word_is(S, w, "declare") || word_is(S, w, "local") ||
         word_is(S, w, "readonly") || word_is(S, w, "typeset");
}

static tps_status run_text(shx_reader *S);

/* `source FILE` or `. FILE` in a script: reads FILE (relative to the
 * script's folder, as launch scripts are run from theirs) with the same
 * variables, so that a CONFIG.sh's assignments reach the flags. Only for a
 * script read from a file; a file that cannot be read is left alone (its
 * variables then show as unresolved where they are used). Returns false
 * when the command is not a followed source. */
static bool follow_source(shx_reader *S, const shx_emit *em) {
  if (em->n != 2 || shx_text_unresolved(&em->fields[1])) return false;
  const char *cmd = shx_text_str(&em->fields[0]), *arg = shx_text_str(&em->fields[1]);
  if (strcmp(cmd, "source") != 0 && strcmp(cmd, ".") != 0) return false;
  struct stat sb;
  if (!S->file || stat(S->file, &sb) != 0 || !S_ISREG(sb.st_mode)) return false;
  if (S->source_depth >= SHX_SOURCE_DEPTH_MAX || S->n_sourced >= SHX_SOURCED_MAX) {
    fail(S, S->where, TPS_ERANGE, "sourced files nested deeper than %d, or more than %d",
         SHX_SOURCE_DEPTH_MAX, SHX_SOURCED_MAX);
    return true;
  }
  char path[1024];
  const char *slash = strrchr(S->file, '/');
  int w = arg[0] == '/' || !slash
              ? snprintf(path, sizeof path, "%s", arg)
              : snprintf(path, sizeof path, "%.*s/%s", (int)(slash - S->file), S->file, arg);
  if (w < 0 || (size_t)w >= sizeof path) return false;
  char *text = NULL;
  size_t len = 0;
  tps_error ignored;
  if (shx_load_file(path, &text, &len, &ignored) != TPS_OK) return false;
  S->sourced[S->n_sourced++] = text; /* freed with the reader */
  /* the sourced text in place of the script's, then back */
  const char *src = S->src, *file = S->file;
  size_t slen = S->len;
  int n_heredocs = S->n_heredocs;
  shx_heredoc saved[SHX_HEREDOC_MAX];
  memcpy(saved, S->heredocs, sizeof saved);
  char *name = strdup(path);
  if (!name) {
    oom(S);
    return true;
  }
  S->src = text;
  S->len = len;
  S->file = name;
  S->n_heredocs = 0;
  S->source_depth++;
  run_text(S);
  S->source_depth--;
  S->src = src;
  S->len = slen;
  S->file = file;
  S->n_heredocs = n_heredocs;
  memcpy(S->heredocs, saved, sizeof saved);
  free(name); /* an error copied it */
  return true;
}

/* Runs through the whole text: assignments, and the other commands to on_command. */
static tps_status run_text(shx_reader *S) {
  size_t i = 0;
  shx_pos p = {1, 1};
  shx_word *words = NULL;
  int n = 0, cap = 0;
  int r;
  do {
    shx_word w;
    bool arith_cmd = n > 0 && words[0].e - words[0].b >= 2 && S->src[words[0].b] == '(' &&
                     S->src[words[0].b + 1] == '(';
    r = next_word(S, &i, &p, &w, !arith_cmd);
    if (r == 1) {
      if (n == cap) {
        int ncap = cap ? cap * 2 : 32;
        shx_word *nw = realloc(words, (size_t)ncap * sizeof *nw);
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
      shx_emit em = {.split = true};
      bool ok = true;
      for (int j = k; ok && j < n; j++) {
        S->where = words[j].p;
        ok = expand_range(S, words[j].b, words[j].e, words[j].p, &em, false) &&
             emit_field_end(S, &em);
      }
      if (ok && !follow_source(S, &em)) S->on_command(S, em.fields, em.n, S->user);
      emit_free(&em);
    }
    n = 0;
  } while (r != -1 && !S->st);
  free(words);
  return S->st;
}

const char *shx_why(const shx_reader *S, unsigned char u) { return S->whys[u - 1]; }

/* ---- entry points ---- */

tps_status shx_read(const char *text, size_t len, const char *file, tps_error *err,
                    shx_command_fn on_command, void *user) {
  shx_reader *S = calloc(1, sizeof *S);
  if (!S) return tps_error_set(err, TPS_ENOMEM, file, 0, 0, "out of memory");
  S->src = text;
  S->len = len;
  S->file = file;
  S->err = err;
  S->on_command = on_command;
  S->user = user;
  tps_status st = run_text(S);
  for (int k = 0; k < S->n_vars; k++) shx_text_free(&S->vars[k].value);
  for (int k = 0; k < S->n_sourced; k++) free(S->sourced[k]);
  free(S->vars);
  free(S->slots);
  free(S);
  return st;
}

tps_status shx_load_file(const char *path, char **text, size_t *len, tps_error *err) {
  /* The shared reader: a regular file only, refused without blocking
   * otherwise (a FIFO would hang a plain fopen). */
  unsigned char *ubuf = NULL;
  size_t n = 0;
  tps_status st = io_file_read(path, &ubuf, &n, err);
  if (st != TPS_OK) return st;
  char *buf = (char *)ubuf;
  buf[n] = '\0';
  if (memchr(buf, '\0', n)) {
    free(buf);
    return tps_error_set(err, TPS_ESYNTAX, path, 0, 0, "file is not text: it holds a NUL byte");
  }
  *text = buf;
  *len = n;
  return TPS_OK;
}
