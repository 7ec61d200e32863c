/* `tp-sim validate --published FILE`: predicts published training runs with
 * the engine and compares them with what was measured. No printing, no
 * exit: the CLI renders the report (reports/validate_report.h); its data
 * types are in validate/validate_types.h. */
#ifndef TPSIM_VALIDATE_PUBLISHED_H
#define TPSIM_VALIDATE_PUBLISHED_H

#include "tpsim/tpsim.h"
#include "validate/validate_types.h"

/* Reads the published-cases file at `path` (a mapping with a `cases:` list;
 * other top-level keys are ignored), predicts every case it can and fills
 * rep: one row per (case, measured key) compared, one row per skipped case,
 * in file order, then the groups and MAPE (pub_summarize). hw_override: a
 * bundled profile name or path used for every case, or NULL.
 *
 * Returns TPS_OK, or the status of what is wrong with the file itself
 * (cannot be read, bad YAML, not a mapping, no `cases` list: err carries
 * FILE:LINE:COL) or with hw_override; TPS_ENOMEM when out of memory. The
 * caller frees rep with pub_report_free whatever the status. */
tps_status pub_validate(const char *path, const char *hw_override, validate_report *rep,
                        tps_error *err);
void pub_report_free(validate_report *rep);

/* Fills rep->groups, rep->n and rep->mape from rep->rows. Returns TPS_ENOMEM
 * when the group table cannot be allocated. */
tps_status pub_summarize(validate_report *rep);

/* Number of comparisons whose |error| exceeds max_error (a fraction). */
int pub_count_beyond(const validate_report *rep, double max_error);

#endif
