/* Ranges of the loaded physical quantities; see io/limits.h. */
#include "io/limits.h"

#include <stdio.h>

const io_limit io_limit_memory = {1e6, 1e15, "1 MB", "1 PB"};
const io_limit io_limit_bandwidth = {1e6, 1e15, "1 MB/s", "1 PB/s"};
const io_limit io_limit_flops = {1e6, 1e18, "1 MFLOPS", "1 EFLOPS"};
const io_limit io_limit_efficiency = {1e-4, 1.0, "0.0001 (0.01%)", "1 (100%)"};
const io_limit io_limit_time = {0.0, 3600.0, "0 s", "3600 s (1 hour)"};

tps_status io_check_limit(io_doc *d, const yaml_node_t *n, const char *what, double v,
                          const io_limit *lim) {
  if (!n || (v >= lim->lo && v <= lim->hi)) return TPS_OK;
  char got[64];
  io_node_desc(n, got, sizeof got);
  io_doc_fail(d, n, TPS_ERANGE, "%s must be between %s and %s, got %s", what, lim->lo_text,
              lim->hi_text, got);
  io_doc_hint(d, "docs/schema.md, \"Ranges\", gives the range of every quantity");
  return TPS_ERANGE;
}

tps_status io_check_efficiency(io_doc *d, const yaml_node_t *n, const char *what,
                               const tps_table *t) {
  if (!n) return TPS_OK;
  if (n->type == YAML_SCALAR_NODE) return io_check_limit(d, n, what, t->y[0], &io_limit_efficiency);
  char item[96];
  snprintf(item, sizeof item, "y of %s", what);
  for (int i = 0; i < t->n; i++) {
    const yaml_node_t *y = io_seq_at(d, io_seq_at(d, n, i), 1);
    tps_status st = io_check_limit(d, y, item, t->y[i], &io_limit_efficiency);
    if (st) return st;
  }
  return TPS_OK;
}
