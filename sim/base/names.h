/* The name tables of the enums of model.h (sim/base/names.c): one
 * NULL-terminated table per enum, indexed by the enum value. The loaders
 * (sim/io) parse with them and the *_name() functions of model.h print with
 * them, so a name printed in a report is always a name a file may contain.
 * Part of the base every folder may use; not part of the public API. */
#ifndef TPSIM_BASE_NAMES_H
#define TPSIM_BASE_NAMES_H

extern const char *const tps_module_type_names[];
extern const char *const tps_mlp_names[];
extern const char *const tps_router_score_names[];
extern const char *const tps_norm_names[];
extern const char *const tps_position_names[];
extern const char *const tps_precision_names[];
extern const char *const tps_recompute_names[];
extern const char *const tps_topology_names[];
extern const char *const tps_cp_algo_names[];
extern const char *const tps_fp8_format_names[];
extern const char *const tps_cross_entropy_names[];

#endif
