/* Ranges of the loaded physical quantities (docs/schema.md, "Ranges").
 *
 * The loaders parse a quantity (io_map_read), then check it against one of
 * these, so that every number the engine derives from a profile stays
 * finite and in range: a bandwidth of 1e-300 B/s or a latency of 1e307 s
 * would give inf and then NaN (inf - inf) in step times, tokens/s and MFU.
 * Not part of the public API. */
#ifndef TPSIM_IO_LIMITS_H
#define TPSIM_IO_LIMITS_H

#include "io/yaml_doc.h"
#include "tpsim/model.h"

typedef struct io_limit {
  double lo, hi;              /* accepted: lo <= v <= hi */
  const char *lo_text, *hi_text; /* the same, as written in messages */
} io_limit;

/* Device memory: 1 MB .. 1 PB (bytes). */
extern const io_limit io_limit_memory;
/* Memory and link bandwidths: 1 MB/s .. 1 PB/s (bytes/s). */
extern const io_limit io_limit_bandwidth;
/* Peak FLOP/s of one device: 1 MFLOPS .. 1 EFLOPS. */
extern const io_limit io_limit_flops;
/* Efficiencies (fractions of a nominal rate): 1e-4 .. 1 (tp-sim calibrate
 * writes fitted efficiencies down to 1e-4). */
extern const io_limit io_limit_efficiency;
/* Times: kernel overhead, link latency, the stack's host times, a recipe's
 * micro-batch overhead: 0 .. 1 hour. */
extern const io_limit io_limit_time;

/* Checks v, read from node n (NULL: the key was absent, nothing to check),
 * against lim; on failure "'what' must be between LO and HI, got 'TEXT'"
 * located at n, and returns TPS_ERANGE. */
tps_status io_check_limit(io_doc *d, const yaml_node_t *n, const char *what, double v,
                          const io_limit *lim);

/* Checks the y values of an efficiency (n: its node, a fraction or a list of
 * [x, y] pairs; NULL: absent) against io_limit_efficiency. */
tps_status io_check_efficiency(io_doc *d, const yaml_node_t *n, const char *what,
                               const tps_table *t);

#endif
