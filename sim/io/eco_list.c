/* Appending to the bounded lists of unused, unmodelled and unknown inputs
 * that the argument and config readers return (tpsim/ecosystem.h). */
#include <stdio.h>
#include <string.h>

#include "io/io_internal.h"

void io_eco_item_add(tps_eco_item *items, int *n, int *dropped, const char *arg, const char *text,
                     const char *why, int line) {
  if (*n >= TPS_ECO_UNRESOLVED_MAX) {
    (*dropped)++;
    return;
  }
  tps_eco_item *it = &items[(*n)++];
  memset(it, 0, sizeof *it);
  /* Longer strings are cut to the fields' sizes (precision bounds them). */
  snprintf(it->arg, sizeof it->arg, "%.*s", (int)sizeof it->arg - 1, arg ? arg : "");
  snprintf(it->text, sizeof it->text, "%.*s", (int)sizeof it->text - 1, text ? text : "");
  snprintf(it->why, sizeof it->why, "%.*s", (int)sizeof it->why - 1, why ? why : "");
  it->line = line;
}
