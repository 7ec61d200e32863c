/* RFC 4180 quoting of CSV text fields (see reports/csv.h). */
#include "reports/csv.h"

#include <string.h>

void csv_field(FILE *out, const char *s) {
  if (!s) s = "";
  if (!s[strcspn(s, ",\"\r\n")]) {
    fputs(s, out);
    return;
  }
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"') fputc('"', out);
    fputc(*s, out);
  }
  fputc('"', out);
}
