/* Units: "64 GiB", "1.6 TB/s", "376 TFLOPS", "8 us" -> SI values.
 *
 * One table per quantity, one row per unit spelling (case-sensitive). A row
 * scales the number by 10^exp10 * 2^exp2, so that every unit converts
 * exactly: decimal prefixes are applied to the decimal exponent of the text
 * before strtod rounds it once ("1.6 TB/s" is strtod("1.6e12")), binary
 * prefixes and the bits-to-bytes division are exact powers of two. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

typedef struct unit_row {
  const char *name;
  int exp10; /* decimal scale */
  int exp2;  /* binary scale */
} unit_row;

typedef struct unit_table {
  const char *quantity; /* "bytes", "bandwidth", "flops", "time" */
  const unit_row *rows;
  int n;
} unit_table;

/* bytes */
static const unit_row bytes_rows[] = {
    {"B", 0, 0},    {"KB", 3, 0},   {"MB", 6, 0},   {"GB", 9, 0},
    {"TB", 12, 0},  {"KiB", 0, 10}, {"MiB", 0, 20}, {"GiB", 0, 30},
    {"TiB", 0, 40},
};
/* bytes per second; bits per second are divided by 8 (2^-3) */
static const unit_row bandwidth_rows[] = {
    {"B/s", 0, 0},    {"KB/s", 3, 0},   {"MB/s", 6, 0},   {"GB/s", 9, 0},
    {"TB/s", 12, 0},  {"KiB/s", 0, 10}, {"MiB/s", 0, 20}, {"GiB/s", 0, 30},
    {"Mb/s", 6, -3},  {"Gb/s", 9, -3},  {"Tb/s", 12, -3}, {"Gbps", 9, -3},
};
/* floating-point operations per second */
static const unit_row flops_rows[] = {
    {"FLOPS", 0, 0},    {"GFLOPS", 9, 0},    {"TFLOPS", 12, 0},
    {"PFLOPS", 15, 0},  {"FLOP/s", 0, 0},    {"GFLOP/s", 9, 0},
    {"TFLOP/s", 12, 0}, {"PFLOP/s", 15, 0},
};
/* seconds */
static const unit_row time_rows[] = {
    {"ns", -9, 0}, {"us", -6, 0}, {"ms", -3, 0}, {"s", 0, 0},
};

#define ROWS(a) a, (int)(sizeof a / sizeof a[0])
static const unit_table unit_tables[] = {
    {"bytes", ROWS(bytes_rows)},
    {"bandwidth", ROWS(bandwidth_rows)},
    {"flops", ROWS(flops_rows)},
    {"time", ROWS(time_rows)},
};
#undef ROWS

static const unit_table *find_table(const char *quantity) {
  if (!quantity) return NULL;
  for (size_t i = 0; i < sizeof unit_tables / sizeof unit_tables[0]; i++)
    if (strcmp(unit_tables[i].quantity, quantity) == 0) return &unit_tables[i];
  return NULL;
}

/* Scans the syntax of a decimal number. Returns the end of the number or
 * NULL; *exp_at is where the exponent marker 'e'/'E' is (or the end). */
static const char *scan_syntax(const char *s, const char **exp_at) {
  const char *p = s;
  int digits = 0;
  if (*p == '+' || *p == '-') p++;
  while (isdigit((unsigned char)*p)) p++, digits++;
  if (*p == '.') {
    p++;
    while (isdigit((unsigned char)*p)) p++, digits++;
  }
  if (digits == 0) return NULL;
  *exp_at = p;
  if (*p == 'e' || *p == 'E') {
    const char *q = p + 1;
    if (*q == '+' || *q == '-') q++;
    if (isdigit((unsigned char)*q)) {
      while (isdigit((unsigned char)*q)) q++;
      p = q;
    }
  }
  return p;
}

/* Converts the number text [s, end) scaled by 10^exp10, rounding once.
 * Returns false on overflow or underflow of a non-zero literal. */
static bool convert_scaled(const char *s, const char *exp_at, const char *end,
                           int exp10, double *value) {
  long exponent = 0;
  if (exp_at < end) { /* "e..." present */
    errno = 0;
    exponent = strtol(exp_at + 1, NULL, 10);
    if (errno == ERANGE || exponent > 100000 || exponent < -100000) {
      /* Far outside any double: zero mantissa stays zero, else overflow. */
      for (const char *p = s; p < exp_at; p++)
        if (*p >= '1' && *p <= '9') return false;
      *value = 0.0;
      return true;
    }
  }
  char buf[128];
  int mant_len = (int)(exp_at - s);
  if (mant_len > 96) {
    /* Very long mantissa: convert as written, then scale (one extra rounding
     * only for absurd inputs). */
    char *copy = malloc((size_t)(end - s) + 1);
    if (!copy) return false;
    memcpy(copy, s, (size_t)(end - s));
    copy[end - s] = '\0';
    errno = 0;
    double v = strtod(copy, NULL);
    bool ok = errno != ERANGE;
    free(copy);
    v *= pow(10.0, exp10);
    *value = v;
    return ok && isfinite(v);
  }
  snprintf(buf, sizeof buf, "%.*se%ld", mant_len, s, exponent + exp10);
  errno = 0;
  double v = strtod(buf, NULL);
  if (errno == ERANGE || !isfinite(v)) return false;
  *value = v;
  return true;
}

/* Scans a decimal number at s: [+-] digits [. digits] [(e|E) [+-] digits]
 * (at least one digit before or after the point). No hex, no inf/nan, no
 * leading blanks. On success stores the value, sets *end past the number
 * and returns true; *overflow is set when the value does not fit a finite
 * double (or underflows to a denormal/zero from a non-zero literal). */
static bool number_scan(const char *s, double *value, const char **end,
                        bool *overflow) {
  const char *exp_at = NULL;
  const char *e = s ? scan_syntax(s, &exp_at) : NULL;
  if (overflow) *overflow = false;
  if (!e) return false;
  double v = 0.0;
  if (!convert_scaled(s, exp_at, e, 0, &v)) {
    if (overflow) *overflow = true;
  }
  *value = v + 0.0; /* -0 -> +0 */
  *end = e;
  return true;
}

bool io_number_parse(const char *s, double *value) {
  const char *end = NULL;
  bool overflow = false;
  double v;
  if (!number_scan(s, &v, &end, &overflow) || overflow || *end != '\0')
    return false;
  *value = v;
  return true;
}

bool io_int_parse(const char *s, int64_t *out) {
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

bool io_fraction_parse(const char *text, double *out) {
  const char *end = NULL;
  bool overflow = false;
  double v;
  if (!text || !number_scan(text, &v, &end, &overflow) || overflow)
    return false;
  while (*end == ' ') end++;
  if (*end == '%') {
    v /= 100.0;
    end++;
  }
  if (*end != '\0' || !(v > 0.0 && v <= 1.0)) return false;
  *out = v;
  return true;
}

/* "B, KB, MB, ..." for messages. */
static void list_units(const unit_table *t, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < t->n && used < size; i++) {
    int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
                     t->rows[i].name);
    if (w < 0) break;
    used += (size_t)w;
  }
}

/* Writes at most 40 bytes of text, with "..." when cut (never inside a
 * UTF-8 sequence). */
static void shorten(const char *text, char *buf, size_t size) {
  size_t n = strlen(text);
  if (n <= 40) {
    snprintf(buf, size, "%s", text);
    return;
  }
  int keep = 37;
  while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80) keep--;
  snprintf(buf, size, "%.*s...", keep, text);
}

static void set_why(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_why(char *why, size_t why_size, const char *fmt, ...) {
  if (!why || why_size == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, why_size, fmt, ap);
  va_end(ap);
}

static const unit_row *find_row(const unit_table *t, const char *unit) {
  for (int i = 0; i < t->n; i++)
    if (strcmp(t->rows[i].name, unit) == 0) return &t->rows[i];
  return NULL;
}

/* A hint for an unknown unit of table t: a case slip ("Gib"), a rate for a
 * size ("GB" for "GB/s"), the micro sign, a unit of another quantity, or the
 * closest spelling. */
static void suggest_unit(const unit_table *t, const char *unit, char *hint,
                         size_t hint_size) {
  if (!hint || hint_size == 0) return;
  hint[0] = '\0';
  if (strcmp(unit, "\xC2\xB5s") == 0 || strcmp(unit, "\xCE\xBCs") == 0) {
    snprintf(hint, hint_size, "write 'us' for microseconds");
    return;
  }
  char rate[64];
  snprintf(rate, sizeof rate, "%s/s", unit);
  if (find_row(t, rate)) {
    snprintf(hint, hint_size, "did you mean '%s'?", rate);
    return;
  }
  for (int i = 0; i < t->n; i++) {
    const char *a = t->rows[i].name, *b = unit;
    while (*a && *b && tolower((unsigned char)*a) == tolower((unsigned char)*b))
      a++, b++;
    if (*a == '\0' && *b == '\0') {
      snprintf(hint, hint_size, "units are case-sensitive; did you mean '%s'?",
               t->rows[i].name);
      return;
    }
  }
  for (size_t q = 0; q < sizeof unit_tables / sizeof unit_tables[0]; q++) {
    if (&unit_tables[q] != t && find_row(&unit_tables[q], unit)) {
      snprintf(hint, hint_size, "'%s' is a unit of %s, not of %s", unit,
               unit_tables[q].quantity, t->quantity);
      return;
    }
  }
  const char *names[16];
  int n = t->n < 16 ? t->n : 16;
  for (int i = 0; i < n; i++) names[i] = t->rows[i].name;
  const char *best = tps_did_you_mean(unit, names, n);
  if (best) snprintf(hint, hint_size, "did you mean '%s'?", best);
}

tps_status io_unit_parse_hint(const char *quantity, const char *text,
                              double *out, char *why, size_t why_size,
                              char *hint, size_t hint_size) {
  if (hint && hint_size) hint[0] = '\0';
  if (why && why_size) why[0] = '\0';
  const unit_table *t = find_table(quantity);
  if (!t) {
    set_why(why, why_size, "unknown quantity '%s'", quantity ? quantity : "");
    return TPS_EINVAL;
  }
  if (!text) text = "";
  char units[160], shown[48];
  list_units(t, units, sizeof units);
  shorten(text, shown, sizeof shown);

  const char *s = text;
  while (*s == ' ' || *s == '\t') s++;
  const char *exp_at = NULL;
  const char *num_end = scan_syntax(s, &exp_at);
  if (!num_end) {
    set_why(why, why_size,
            "'%s' is not a number with a unit (expected %s: %s)", shown,
            t->quantity, units);
    return TPS_ETYPE;
  }
  /* The unit: what follows the number and optional blanks, trimmed. */
  const char *u = num_end;
  while (*u == ' ' || *u == '\t') u++;
  size_t ulen = strlen(u);
  while (ulen > 0 && (u[ulen - 1] == ' ' || u[ulen - 1] == '\t')) ulen--;
  if (ulen == 0) {
    set_why(why, why_size, "missing unit in '%s' (expected %s: %s)", shown,
            t->quantity, units);
    return TPS_EUNIT;
  }
  const unit_row *row = NULL;
  for (int i = 0; i < t->n; i++)
    if (strlen(t->rows[i].name) == ulen &&
        memcmp(t->rows[i].name, u, ulen) == 0)
      row = &t->rows[i];
  if (!row) {
    char unit[48];
    snprintf(unit, sizeof unit, "%.*s", ulen > 40 ? 40 : (int)ulen, u);
    if (u == num_end && isalpha((unsigned char)*u) == 0) {
      /* "64,5 GB", "1.2.3 GB": junk glued to the number. */
      set_why(why, why_size,
              "'%s' is not a number with a unit (expected %s: %s)", shown,
              t->quantity, units);
      return TPS_ETYPE;
    }
    set_why(why, why_size, "unknown unit '%s' in '%s' (expected %s: %s)", unit,
            shown, t->quantity, units);
    suggest_unit(t, unit, hint, hint_size);
    return TPS_EUNIT;
  }
  double v = 0.0;
  if (!convert_scaled(s, exp_at, num_end, row->exp10, &v) ||
      !isfinite(v = ldexp(v, row->exp2))) {
    set_why(why, why_size, "value out of range in '%s'", shown);
    return TPS_ERANGE;
  }
  if (v < 0.0) {
    set_why(why, why_size, "negative value in '%s'", shown);
    return TPS_ERANGE;
  }
  if (out) *out = v + 0.0;
  return TPS_OK;
}

tps_status tps_unit_parse(const char *quantity, const char *text, double *out,
                          char *why, size_t why_size) {
  return io_unit_parse_hint(quantity, text, out, why, why_size, NULL, 0);
}

tps_status tps_token_count_parse(const char *text, double *out) {
  if (!text) return TPS_EINVAL;
  while (isspace((unsigned char)*text)) text++;
  if (!*text) return TPS_EINVAL;
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (end == text || errno == ERANGE) return TPS_EINVAL;
  while (isspace((unsigned char)*end)) end++;
  double scale = 1.0;
  switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'T': scale = 1e12; end++; break;
    case 'B': case 'G': scale = 1e9; end++; break;
    case 'M': scale = 1e6; end++; break;
    case 'K': scale = 1e3; end++; break;
    default: return TPS_EINVAL;
  }
  while (isspace((unsigned char)*end)) end++;
  if (*end) return TPS_EINVAL;
  v *= scale;
  if (!isfinite(v) || v <= 0) return TPS_ERANGE;
  *out = v;
  return TPS_OK;
}
