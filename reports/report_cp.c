/* Context parallelism and FP8 in the outputs: words for a header line and
 * JSON keys, only for runs that use them (CP > 1, an FP8 format;
 * docs/schema.md, docs/reports.md). */
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

void report_fp8_words(FILE *out, const tps_run *run) {
  if (run->fp8 == TPS_FP8_NONE) return;
  fprintf(out, ", FP8 %s GEMMs (amax history %lld%s)", tps_fp8_format_name(run->fp8),
          (long long)run->fp8_amax_history, run->fp8_param_gather ? ", FP8 weights" : "");
}

void report_fp8_json(json_writer *w, const tps_run *run) {
  if (run->fp8 == TPS_FP8_NONE) return;
  json_key(w, "fp8"); json_string(w, tps_fp8_format_name(run->fp8));
  json_key(w, "fp8_amax_history"); json_int(w, run->fp8_amax_history);
  json_key(w, "fp8_param_gather"); json_bool(w, run->fp8_param_gather);
}
