/* Status codes, their strings, and the error detail. */
#include "tpsim/status.h"

#include <stdio.h>
#include <string.h>

static const char *const status_messages[] = {
#define TPS_STATUS_MSG(name, msg) msg,
    TPS_STATUS_MAP(TPS_STATUS_MSG)
#undef TPS_STATUS_MSG
};

static const char *const status_names[] = {
#define TPS_STATUS_STR(name, msg) #name,
    TPS_STATUS_MAP(TPS_STATUS_STR)
#undef TPS_STATUS_STR
};

const char *tps_strerror(tps_status status) {
  if ((int)status < 0 || status >= TPS_STATUS_COUNT) return "unknown status";
  return status_messages[status];
}

const char *tps_status_name(tps_status status) {
  if ((int)status < 0 || status >= TPS_STATUS_COUNT) return "UNKNOWN";
  return status_names[status];
}

void tps_error_clear(tps_error *err) {
  if (err) memset(err, 0, sizeof *err);
}

tps_status tps_error_vset(tps_error *err, tps_status status, const char *file, int line,
                          int col, const char *fmt, va_list ap) {
  if (!err) return status;
  err->status = status;
  snprintf(err->file, sizeof err->file, "%s", file ? file : "");
  err->line = line;
  err->col = col;
  err->hint[0] = '\0';
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  return status;
}

tps_status tps_error_set(tps_error *err, tps_status status, const char *file,
                         int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tps_error_vset(err, status, file, line, col, fmt, ap);
  va_end(ap);
  return status;
}

void tps_error_hint(tps_error *err, const char *fmt, ...) {
  if (!err) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->hint, sizeof err->hint, fmt, ap);
  va_end(ap);
}
