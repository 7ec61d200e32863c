/* Streaming JSON writer (see json_writer.h). */
#include "reports/json_writer.h"

#include <math.h>

void json_init(json_writer *w, FILE *out) {
  w->out = out;
  w->depth = 0;
  w->first[0] = true;
  w->after_key = false;
}

static void indent(json_writer *w) {
  fputc('\n', w->out);
  for (int i = 0; i < w->depth; i++) fputs("  ", w->out);
}

/* Separator and indentation before a value or key at the current depth. */
static void before_item(json_writer *w) {
  if (w->after_key) {
    w->after_key = false;
    return;
  }
  if (w->depth == 0) return;
  if (!w->first[w->depth]) fputc(',', w->out);
  w->first[w->depth] = false;
  indent(w);
}

static void open(json_writer *w, char c) {
  before_item(w);
  fputc(c, w->out);
  if (w->depth + 1 < JSON_MAX_DEPTH) w->depth++;
  w->first[w->depth] = true;
}

static void close_(json_writer *w, char c) {
  bool empty = w->first[w->depth];
  if (w->depth > 0) w->depth--;
  if (!empty) indent(w);
  fputc(c, w->out);
}

void json_object_begin(json_writer *w) { open(w, '{'); }
void json_object_end(json_writer *w) { close_(w, '}'); }
void json_array_begin(json_writer *w) { open(w, '['); }
void json_array_end(json_writer *w) { close_(w, ']'); }

static void write_escaped(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
      case '"': fputs("\\\"", out); break;
      case '\\': fputs("\\\\", out); break;
      case '\n': fputs("\\n", out); break;
      case '\r': fputs("\\r", out); break;
      case '\t': fputs("\\t", out); break;
      default:
        if (*p < 0x20)
          fprintf(out, "\\u%04x", *p);
        else
          fputc(*p, out);
    }
  }
  fputc('"', out);
}

void json_key(json_writer *w, const char *key) {
  before_item(w);
  write_escaped(w->out, key);
  fputs(": ", w->out);
  w->after_key = true;
}

void json_string(json_writer *w, const char *s) {
  before_item(w);
  write_escaped(w->out, s ? s : "");
}

void json_number(json_writer *w, double v) {
  before_item(w);
  if (!isfinite(v))
    fputs("null", w->out);
  else if (v == floor(v) && fabs(v) < 1e15)
    fprintf(w->out, "%.0f", v);
  else
    fprintf(w->out, "%.9g", v);
}

void json_int(json_writer *w, int64_t v) {
  before_item(w);
  fprintf(w->out, "%lld", (long long)v);
}

void json_bool(json_writer *w, bool v) {
  before_item(w);
  fputs(v ? "true" : "false", w->out);
}

void json_null(json_writer *w) {
  before_item(w);
  fputs("null", w->out);
}

void json_finish(json_writer *w) { fputc('\n', w->out); }
