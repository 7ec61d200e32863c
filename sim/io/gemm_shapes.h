/* The reader of a hardware profile's `gemm_efficiency_shapes` (docs/schema.md,
 * "Hardware profile"): GEMM efficiency measured on a full grid of shapes.
 * Not part of the public API; tps_hw_load reaches it. */
#ifndef TPSIM_IO_GEMM_SHAPES_H
#define TPSIM_IO_GEMM_SHAPES_H

#include "io/yaml_doc.h"
#include "tpsim/model.h"

/* Reads n, a list of [m, n, k, efficiency] points (m, n, k positive
 * integers, efficiency a fraction), into out. The points may come in any
 * order but must cover the full grid of their distinct m, n and k values
 * (at most TPS_MAX_GRID_AXIS each), every point once. Errors name the file,
 * line and column of the entry at fault. */
tps_status io_gemm_shapes_read(io_doc *d, const yaml_node_t *n, tps_gemm_shapes *out);

#endif
