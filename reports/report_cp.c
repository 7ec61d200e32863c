/* Context parallelism in the outputs: words for a header line and JSON
 * keys, only for runs with CP > 1 (docs/schema.md, docs/reports.md). */
#include "reports/report.h"

void report_cp_words(FILE *out, const tps_run *run) {
  if (run->cp <= 1) return;
  if (run->cp_algo == TPS_CP_HYBRID)
    fprintf(out, ", CP %lld (hybrid: Ulysses %lld x ring %lld)", (long long)run->cp,
            (long long)run->ulysses_degree, (long long)(run->cp / run->ulysses_degree));
  else
    fprintf(out, ", CP %lld (%s)", (long long)run->cp, tps_cp_algo_name(run->cp_algo));
}

void report_cp_json(json_writer *w, const tps_run *run) {
  if (run->cp <= 1) return;
  json_key(w, "cp"); json_int(w, run->cp);
  json_key(w, "cp_algo"); json_string(w, tps_cp_algo_name(run->cp_algo));
  json_key(w, "ulysses_degree"); json_int(w, run->ulysses_degree);
}
