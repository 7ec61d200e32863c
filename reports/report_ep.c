/* Expert parallelism in the outputs: words for a header line and JSON keys,
 * only for runs whose experts are split other than by TP alone (EP > 1 or
 * expert TP != TP; docs/schema.md, docs/reports.md). */
#include "reports/report.h"

static bool shown(const tps_run *run) {
  return run->ep > 1 || (run->etp > 0 && run->etp != run->tp);
}

void report_ep_words(FILE *out, const tps_run *run) {
  if (!shown(run)) return;
  fprintf(out, ", EP %lld x ETP %lld (expert DP %lld)", (long long)run->ep, (long long)run->etp,
          (long long)(run->tp * (run->cp > 1 ? run->cp : 1) * run->dp / (run->ep * run->etp)));
}

void report_ep_json(json_writer *w, const tps_run *run) {
  if (!shown(run)) return;
  json_key(w, "ep"); json_int(w, run->ep);
  json_key(w, "etp"); json_int(w, run->etp);
}
