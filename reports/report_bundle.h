/* The capacity-planning report (`tp-sim report`): every asked TP size
 * estimated, the recommendation of report_recommend, the per-layer
 * breakdown of the recommended TP, and capacity planning per TP; written as
 * report.md, report.html (self-contained: inline CSS and SVG, no scripts,
 * no URLs), report.csv and report.json. The bundle is built (engine runs,
 * capacity searches) by sim/cli/report_build.c; here it is only rendered
 * and written. Writing never prints. */
#ifndef TPSIM_REPORTS_REPORT_BUNDLE_H
#define TPSIM_REPORTS_REPORT_BUNDLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "reports/report.h"
#include "tpsim/capacity.h"
#include "tpsim/uncertainty.h"

typedef struct report_bundle {
  const tps_model *model;  /* borrowed: outlive the bundle */
  const tps_hw *hw;
  tps_estimate *est;       /* owned, n entries */
  tps_tp_skip *skipped;    /* owned, n_skipped entries */
  estimate_report report;  /* points into est / skipped; recommendation filled */
  tps_capacity_row *capacity; /* owned, report.n entries (same order as est) */
  tps_uncertainty *unc;    /* owned, report.n entries, or NULL: no intervals
                              (report_bundle_add_intervals; report.unc points here) */
  double token_budget;     /* tokens; 0: none */
  double days;             /* 0: none */
  double price;            /* per card-hour (any currency); 0: none */
  /* per-layer breakdown of the recommended TP (or the first evaluated one
   * when nothing fits: layers_tp_index says which) */
  int layers_tp_index;     /* index into est, -1 when n == 0 */
  tps_plan plan;
  bool has_plan;
  tps_layer_cost *costs;   /* owned, plan.n_layers entries */
  const char *rules[6];    /* capacity-planning rules, as sentences */
  int n_rules;
} report_bundle;

/* Creates dir (one level, mode 0777 less umask) if needed and writes
 * report.md, report.html, report.csv and report.json as one unit: with dir
 * locked (flock, so that concurrent reports into one dir leave the four
 * files of one run, never a mix), all four are first written completely to
 * temporaries in dir (".report.*.tmp.XXXXXX", base/outfile.h: an existing
 * file keeps its mode), then renamed into place; a rename failing half way
 * is undone (the old files are put back). A report file that exists and is
 * not a regular file fails the write before anything is written. On any
 * failure (EIO, err says which file) every temporary is removed and the
 * old files stay. */
tps_status report_bundle_write(const report_bundle *b, const char *dir, tps_error *err);

/* The renderers, to a stream. */
void report_bundle_md(FILE *out, const report_bundle *b);
void report_bundle_html(FILE *out, const report_bundle *b);
void report_bundle_csv(FILE *out, const report_bundle *b);
void report_bundle_json(FILE *out, const report_bundle *b);

/* The charts of the HTML report, one at a time (standalone: with the SVG
 * namespace, for a .svg file). i in [0, REPORT_N_CHARTS). */
#define REPORT_N_CHARTS 5
void report_bundle_chart(FILE *out, const report_bundle *b, int i, bool standalone);

#endif
