/* A small SVG chart renderer for the HTML report: stacked bars and lines
 * over categories (TP sizes, layers), with axes, ticks, axis labels that
 * carry units, a legend and an optional dashed reference line. Output is
 * well-formed XML (an <svg> element with the SVG namespace) written to a
 * caller-given stream; no scripts, no external fonts or URLs (inline
 * charts carry no namespace URI either: HTML implies it). */
#ifndef TPSIM_REPORTS_SVG_H
#define TPSIM_REPORTS_SVG_H

#include <stdio.h>

#define SVG_MAX_SERIES 8

/* One named series: values[i] belongs to category i (n_categories values).
 * Non-finite or negative values are drawn as 0 in bars and skipped in lines. */
typedef struct svg_series {
  const char *name;
  const double *values;
} svg_series;

typedef struct svg_chart {
  const char *id;          /* element id of the <svg>, or NULL */
  const char *title;
  const char *x_label;     /* "tensor-parallel size (TP)" */
  const char *y_label;     /* with the unit: "memory per card (GB)" */
  const char *const *categories; /* x tick labels, n_categories of them */
  int n_categories;
  const svg_series *series;
  int n_series;            /* 1..SVG_MAX_SERIES */
  double ref_value;        /* y of a dashed horizontal line; <= 0: none */
  const char *ref_label;   /* text drawn by that line */
  double ref2_value;       /* y of a second (dotted) line, e.g. the limit under a
                              margin; <= 0: none */
  const char *ref2_label;
  const int *flagged;      /* lines: flagged[i] != 0 draws category i's points as a
                              cross (e.g. "does not fit"); NULL: none */
  const char *flag_label;  /* legend text of the cross */
  /* Prediction intervals (docs/uncertainty.md), per category in y units:
   * lines draw an error bar on the first series from interval_lo[i] to
   * interval_hi[i] (class "errbar"); stacked bars draw a translucent band
   * over the stack from lo to hi of its total (class "band"). NULL: none; a
   * category whose pair is not finite or has lo > hi gets none. The legend
   * names them with interval_label (a glyph of class "errbar-key" or
   * "band-key"). The y axis grows to show every hi. */
  const double *interval_lo, *interval_hi;
  const char *interval_label;
  double y_max;            /* top of the y axis; <= 0: from the data */
  int width, height;       /* pixels; 0: 640 x 360 */
  int standalone;          /* 1: a .svg document (xmlns attribute); 0: inline
                              in HTML, where the namespace is implied */
} svg_chart;

/* Bars per category, series stacked bottom to top in the order given. */
void svg_stacked_bars(FILE *out, const svg_chart *c);
/* One line with circle markers per series, categories evenly spaced. */
void svg_lines(FILE *out, const svg_chart *c);

/* Writes s with &, <, >, " and ' escaped for XML text and attributes. */
void svg_escape(FILE *out, const char *s);

/* A "nice" tick step (1, 2 or 5 x 10^k) giving about `ticks` ticks over
 * [0, max]; max > 0. */
double svg_nice_step(double max, int ticks);

#endif
