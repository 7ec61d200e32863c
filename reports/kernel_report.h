/* Rendering `tp-sim validate --kernel`: predicted (engine on a calibrated
 * profile) vs measured (tp-kernel) time per op, step time and per-rank
 * memory, as a terminal table or JSON. The renderers only print what
 * sim/validate/kernel_validate.c filled in; they never exit.
 *
 * JSON keys (CONTRACT, issue 5; keys may be added, never renamed): tool,
 * kind ("kernel"), cases[] (id, tp, sp, ..., predicted_s, measured_s,
 * error, memory {predicted_bytes, measured_bytes, error}, noisy, ops[]),
 * summary {step_time_mape, memory_mape, noisy, tp4_step_time_mape, ...}.
 * Times in seconds, memory in bytes, errors as signed fractions
 * predicted / measured - 1, MAPE as a fraction. */
#ifndef TPSIM_REPORTS_KERNEL_REPORT_H
#define TPSIM_REPORTS_KERNEL_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "validate/validate_types.h"

void report_kernel_table(FILE *out, const kv_report *r, bool per_op);
void report_kernel_json(FILE *out, const kv_report *r);

#endif
