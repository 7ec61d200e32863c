/* Building the capacity-planning report of `tp-sim report`: the planning
 * (engine estimates of every asked TP size, capacity searches, per-layer
 * costs of the recommended TP) is run here, in the CLI layer, and handed
 * to reports/report_bundle.h, which only renders and writes it. */
#ifndef TPSIM_CLI_REPORT_BUILD_H
#define TPSIM_CLI_REPORT_BUILD_H

#include <stdint.h>

#include "reports/report_bundle.h"
#include "tpsim/tpsim.h"

/* Progress callback: `done` of `total` TP sizes finished (for a CLI that
 * shows progress on a terminal). */
typedef void (*report_progress_fn)(int done, int total, void *ctx);

/* Evaluates each TP of tp_list (0 = the model's default) with `over`,
 * skipping the invalid ones with their reason (like `estimate`), fills the
 * recommendation, the per-layer costs of the recommended TP and capacity
 * planning. token_budget (tokens) and days are optional (0 = none).
 * Returns EINVAL when no TP could be evaluated (err holds the first
 * reason), ENOMEM on allocation failure; `out` is then freed. */
tps_status report_bundle_build(const tps_model *m, const tps_hw *hw, const tps_run_overrides *over,
                               const int64_t *tp_list, int n_tp, double token_budget, double days,
                               report_bundle *out, tps_error *err);
/* Same, calling progress (may be NULL) after each TP size. */
tps_status report_bundle_build_ex(const tps_model *m, const tps_hw *hw,
                                  const tps_run_overrides *over, const int64_t *tp_list, int n_tp,
                                  double token_budget, double days, report_progress_fn progress,
                                  void *progress_ctx, report_bundle *out, tps_error *err);
/* Prediction intervals at `level` (in (0, 1)) for a built bundle
 * (docs/uncertainty.md): each evaluated TP's tps_uncertainty_run with the
 * model error `errors` gives for its hardware (NULL or no entry: none), the
 * recommendation's verdicts (report_recommend again), and each capacity
 * row's interval (tps_capacity_plan_interval from the tokens/s interval).
 * `over` is the one report_bundle_build was given. Returns the engine's
 * status (err filled); the bundle is then left without intervals. */
tps_status report_bundle_add_intervals(report_bundle *b, const tps_run_overrides *over,
                                       double level, const tps_model_errors *errors,
                                       tps_error *err);
/* Frees what the bundle owns (est, skipped, capacity, unc, plan, costs). */
void report_bundle_free(report_bundle *b);

#endif
