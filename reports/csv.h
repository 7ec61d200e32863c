/* CSV fields per RFC 4180 (reports/csv.c): a field holding a comma, a
 * double quote, CR or LF is enclosed in double quotes, its quotes doubled;
 * any other field is written as is. Every CSV writer in reports/ writes its
 * text fields (names, enum values) through csv_field, so that a module
 * named "a,b" cannot shift the columns. */
#ifndef TPSIM_REPORTS_CSV_H
#define TPSIM_REPORTS_CSV_H

#include <stdio.h>

void csv_field(FILE *out, const char *s);

#endif
