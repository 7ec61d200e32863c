/* The shell subset of Megatron / MindSpeed launch scripts (shell_read.c),
 * read without running anything: what sim/io's Megatron reader
 * (megatron_flags.c, megatron_args.c) needs from it. Not part of the public
 * API.
 *
 * The reader hands each command's words, after expansion and field
 * splitting, to a callback. Every character of a word remembers where it
 * was written and, when it comes from something left unexpanded, why. */
#ifndef TPSIM_IO_SHELL_READ_H
#define TPSIM_IO_SHELL_READ_H

#include <stdbool.h>
#include <stddef.h>

#include "tpsim/status.h"

typedef struct shx_pos {
  int line, col; /* 1-based */
} shx_pos;

/* A growing string; each character carries its source position and u, 0
 * for resolved text or 1 + the index of the reason it is unresolved
 * (shx_why). */
typedef struct shx_text {
  char *s;
  shx_pos *pos;
  unsigned char *u;
  size_t n, cap;
} shx_text;

typedef struct shx_reader shx_reader;

/* Called for each command that is more than assignments (or `export`-like
 * declarations), with its fields: the words after expansion and splitting.
 * The fields belong to the reader and are freed after the call. */
typedef void (*shx_command_fn)(shx_reader *R, const shx_text *fields, int n, void *user);

/* Reads text[0, len) as shell: keeps the variables it assigns and calls
 * on_command for every other command. file names the text in errors (the
 * script path or "--megatron-args"). Returns the first error: TPS_ESYNTAX
 * (an unterminated quote or construct, nesting too deep, `<<` without a
 * word), TPS_ERANGE ($((...)) outside 64-bit integers, a variable name over
 * 63 characters, an expansion over 2^20 characters or 2^24 in all) or
 * TPS_ENOMEM, also set in err (may be NULL), at FILE:LINE:COL. */
tps_status shx_read(const char *text, size_t len, const char *file, tps_error *err,
                    shx_command_fn on_command, void *user);

/* Reads a whole script file (at most IO_FILE_MAX bytes, text without a NUL
 * byte) into *text (malloc'ed, NUL-terminated, caller frees) and *len. */
tps_status shx_load_file(const char *path, char **text, size_t *len, tps_error *err);

/* Appends one character to t. On failure (too long, out of memory) sets the
 * reader's error, which ends shx_read, and returns false. */
bool shx_text_push(shx_reader *R, shx_text *t, char c, shx_pos p, unsigned char u);
void shx_text_free(shx_text *t);
/* The characters of t ("" when empty). */
const char *shx_text_str(const shx_text *t);
/* The first reason t is unresolved (for shx_why), or 0 when it is resolved. */
unsigned char shx_text_unresolved(const shx_text *t);
/* The reason for a nonzero u: "variable 'TP' is not set in the script". */
const char *shx_why(const shx_reader *R, unsigned char u);

#endif
