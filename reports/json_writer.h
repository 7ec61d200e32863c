/* A small streaming JSON writer: objects, arrays, strings (escaped), numbers
 * (finite; non-finite values are written as null), booleans. Pretty-printed
 * with two-space indentation. */
#ifndef TPSIM_REPORTS_JSON_WRITER_H
#define TPSIM_REPORTS_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

typedef struct json_writer {
  FILE *out;
  int depth;
  bool first[JSON_MAX_DEPTH]; /* no element written yet at this depth */
  bool after_key;             /* a key was written, its value comes next */
} json_writer;

void json_init(json_writer *w, FILE *out);
void json_object_begin(json_writer *w);
void json_object_end(json_writer *w);
void json_array_begin(json_writer *w);
void json_array_end(json_writer *w);
void json_key(json_writer *w, const char *key);
void json_string(json_writer *w, const char *s);
void json_number(json_writer *w, double v);
void json_int(json_writer *w, int64_t v);
void json_bool(json_writer *w, bool v);
void json_null(json_writer *w);
/* Ends the document with a newline. */
void json_finish(json_writer *w);

#endif
