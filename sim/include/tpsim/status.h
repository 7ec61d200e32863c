/* tp-sim status codes and error detail.
 *
 * The library never prints or exits: every fallible call returns a tps_status
 * and, where it has one, fills a caller-owned tps_error with the file, line
 * and column of the problem, a message and an optional hint. Only the CLI
 * prints. Codes and their default strings come from one X-macro table. */
#ifndef TPSIM_STATUS_H
#define TPSIM_STATUS_H

#include <stdarg.h>

/* X(NAME, default message) */
#define TPS_STATUS_MAP(X)                                              \
  X(OK, "success")                                                     \
  X(ENOMEM, "out of memory")                                           \
  X(EIO, "cannot read file")                                           \
  X(ESYNTAX, "malformed YAML or JSON")                                 \
  X(ETYPE, "wrong type")                                               \
  X(EUNIT, "missing or unknown unit")                                  \
  X(ERANGE, "value out of range")                                      \
  X(EUNKNOWNKEY, "unknown key")                                        \
  X(EMISSINGKEY, "missing key")                                        \
  X(EDIVIDE, "parallel size does not divide the model")                \
  X(ENOTFOUND, "no such model or hardware profile")                    \
  X(EINVAL, "invalid argument")                                        \
  X(EUNSUPPORTED, "not modelled")                                      \
  X(EMEASURE, "a measurement yielded nothing to fit")

typedef enum {
#define TPS_STATUS_ENUM(name, msg) TPS_##name,
  TPS_STATUS_MAP(TPS_STATUS_ENUM)
#undef TPS_STATUS_ENUM
  TPS_STATUS_COUNT
} tps_status;

/* Default message of a status code ("unknown status" when out of range). */
const char *tps_strerror(tps_status status);
/* Symbolic name of a status code, e.g. "EUNIT". */
const char *tps_status_name(tps_status status);

/* Where and what went wrong. line/col are 1-based; 0 means "not in a file"
 * (a CLI option, say). file may be empty. */
typedef struct tps_error {
  tps_status status;
  char file[512];
  int line;
  int col;
  char msg[512];  /* one sentence, no trailing newline: "unknown key 'hiden'" */
  char hint[256]; /* empty or "did you mean 'hidden'?" */
} tps_error;

void tps_error_clear(tps_error *err);
/* Sets status, location and a printf-style message; returns status so that
 * callers can write `return tps_error_set(...)`. err may be NULL. */
tps_status tps_error_set(tps_error *err, tps_status status, const char *file,
                         int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The same with a va_list, for callers that wrap it. */
tps_status tps_error_vset(tps_error *err, tps_status status, const char *file, int line,
                          int col, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));
/* Sets the hint (printf-style); err may be NULL. */
void tps_error_hint(tps_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
