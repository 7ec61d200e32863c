/* SVG charts: see svg.h. Coordinates are in pixels, y growing downwards;
 * the plot area is the chart less fixed margins for the title, legend,
 * axis labels and tick labels. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "reports/svg.h"

/* Colour-blind-safe palette (Okabe and Ito), one colour per series. */
static const char *const palette[SVG_MAX_SERIES] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                                    "#56B4E9", "#D55E00", "#F0E442", "#999999"};

#define FONT "font-family=\"sans-serif\""
#define CHAR_W 6.6 /* pixels per character at 12 px, for layout only */

typedef struct frame {
  double w, h;             /* whole chart, px */
  double left, top;        /* plot area origin, px */
  double pw, ph;           /* plot area size, px */
  double y_top;            /* data value at the top of the axis */
  double step;             /* tick step, data units */
} frame;

void svg_escape(FILE *out, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
      case '&': fputs("&amp;", out); break;
      case '<': fputs("&lt;", out); break;
      case '>': fputs("&gt;", out); break;
      case '"': fputs("&quot;", out); break;
      case '\'': fputs("&#39;", out); break;
      default: fputc(*s, out); break;
    }
  }
}

double svg_nice_step(double max, int ticks) {
  if (!(max > 0) || !isfinite(max)) return 1.0;
  if (ticks < 1) ticks = 1;
  double raw = max / ticks;
  double mag = pow(10.0, floor(log10(raw)));
  double f = raw / mag;
  double nice = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0;
  return nice * mag;
}

static double value(const svg_series *s, int i) {
  double v = s->values[i];
  return isfinite(v) && v > 0 ? v : 0.0;
}

/* Decimals needed to print multiples of step exactly enough. */
static int decimals_for(double step) {
  if (step >= 1.0) return 0;
  int d = (int)ceil(-log10(step) - 1e-9);
  return d > 6 ? 6 : d;
}

static double y_px(const frame *f, double v) { return f->top + f->ph - v / f->y_top * f->ph; }

/* Whether a series has a value to draw (a legend entry for one that has
 * none would name nothing on the chart). */
static bool has_data(const svg_chart *c, int s) {
  for (int i = 0; i < c->n_categories; i++) {
    double v = c->series[s].values[i];
    if (isfinite(v) && v > 0) return true;
  }
  return false;
}

/* Whether category i has an interval to draw. */
static bool has_interval(const svg_chart *c, int i) {
  if (!c->interval_lo || !c->interval_hi) return false;
  double lo = c->interval_lo[i], hi = c->interval_hi[i];
  return isfinite(lo) && isfinite(hi) && lo >= 0 && lo <= hi && hi > 0;
}

static bool any_interval(const svg_chart *c) {
  for (int i = 0; i < c->n_categories; i++)
    if (has_interval(c, i)) return true;
  return false;
}

static bool any_flag(const svg_chart *c) {
  if (!c->flagged || !c->flag_label) return false;
  for (int i = 0; i < c->n_categories; i++)
    if (c->flagged[i]) return true;
  return false;
}

/* The largest interval top, to keep the axis above every bar. */
static double interval_max(const svg_chart *c) {
  double m = 0.0;
  for (int i = 0; i < c->n_categories; i++)
    if (has_interval(c, i) && c->interval_hi[i] > m) m = c->interval_hi[i];
  return m;
}

/* One legend item of `text` at the running position (wrapping rows). */
static double legend_item_w(const char *text) {
  return 22.0 + CHAR_W * (double)strlen(text ? text : "") + 16.0;
}

static void legend_place(const frame *f, double item, double *lx, double *ly) {
  if (*lx > f->left && *lx + item > f->w - 8.0) {
    *lx = f->left;
    *ly += 18.0;
  }
}

/* Title, legend, axes, y ticks and grid; returns the frame for the data. */
/* band: the chart draws intervals as bands (stacked bars), else as error
 * bars (lines); it picks the legend's glyph. */
static frame begin(FILE *out, const svg_chart *c, double data_max, bool band) {
  frame f;
  f.w = c->width > 0 ? c->width : 640;
  f.h = c->height > 0 ? c->height : 360;
  /* the legend takes rows of swatches under the title */
  double row_w = 0.0;
  int rows = 1;
  for (int s = 0; s < c->n_series + 2; s++) {
    const char *name;
    if (s < c->n_series) {
      if (!has_data(c, s)) continue;
      name = c->series[s].name;
    } else if (s == c->n_series) { /* the cross */
      if (!any_flag(c)) continue;
      name = c->flag_label;
    } else { /* the interval glyph */
      if (!any_interval(c) || !c->interval_label) continue;
      name = c->interval_label;
    }
    double item = legend_item_w(name);
    if (row_w > 0 && row_w + item > f.w - 80.0) {
      rows++;
      row_w = 0;
    }
    row_w += item;
  }
  f.left = 72.0;
  f.top = 34.0 + 18.0 * rows + 8.0;
  f.pw = f.w - f.left - 24.0;
  f.ph = f.h - f.top - 58.0;
  double top = data_max;
  if (interval_max(c) > top) top = interval_max(c);
  if (c->ref_value > top) top = c->ref_value;
  if (c->ref2_value > top) top = c->ref2_value;
  if (c->y_max > 0) top = c->y_max;
  if (!(top > 0)) top = 1.0;
  f.step = svg_nice_step(top * 1.04, 5);
  f.y_top = ceil(top * 1.04 / f.step - 1e-9) * f.step;
  if (c->y_max > 0) {
    f.y_top = c->y_max;
    f.step = svg_nice_step(c->y_max, 5);
  }

  fputs("<svg", out);
  if (c->standalone) fputs(" xmlns=\"http://www.w3.org/2000/svg\"", out);
  fprintf(out, " version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" role=\"img\"",
          f.w, f.h, f.w, f.h);
  if (c->id) {
    fputs(" id=\"", out);
    svg_escape(out, c->id);
    fputc('"', out);
  }
  fputs(">\n<title>", out);
  svg_escape(out, c->title);
  fputs("</title>\n", out);
  fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", f.w, f.h);
  fprintf(out, "<text x=\"%.1f\" y=\"20\" " FONT " font-size=\"15\" font-weight=\"bold\" fill=\"#222\">",
          f.left);
  svg_escape(out, c->title);
  fputs("</text>\n", out);

  /* legend (then the flag's cross, then the interval's glyph) */
  double lx = f.left, ly = 34.0;
  for (int s = 0; s < c->n_series; s++) {
    if (!has_data(c, s)) continue;
    const char *name = c->series[s].name ? c->series[s].name : "";
    double item = legend_item_w(name);
    legend_place(&f, item, &lx, &ly);
    fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"%s\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" " FONT " font-size=\"12\" fill=\"#222\">",
            lx, ly - 9.0, palette[s % SVG_MAX_SERIES], lx + 20.0, ly);
    svg_escape(out, name);
    fputs("</text>\n", out);
    lx += item;
  }
  if (any_flag(c)) {
    double item = legend_item_w(c->flag_label);
    legend_place(&f, item, &lx, &ly);
    fprintf(out, "<path d=\"M%.1f %.1f l10 10 m0 -10 l-10 10\" stroke=\"#C00000\" "
                 "stroke-width=\"2.5\" class=\"flag\"/><text x=\"%.1f\" y=\"%.1f\" " FONT
                 " font-size=\"12\" fill=\"#222\">",
            lx + 2.0, ly - 9.0, lx + 20.0, ly);
    svg_escape(out, c->flag_label);
    fputs("</text>\n", out);
    lx += item;
  }
  if (any_interval(c) && c->interval_label) {
    double item = legend_item_w(c->interval_label);
    legend_place(&f, item, &lx, &ly);
    if (band)
      fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"#000000\" "
                   "fill-opacity=\"0.18\" stroke=\"#222\" stroke-width=\"1\" "
                   "stroke-dasharray=\"3 2\" class=\"band-key\"/>",
              lx, ly - 9.0);
    else
      fprintf(out, "<path d=\"M%.1f %.1f v10 M%.1f %.1f h8 M%.1f %.1f h8\" stroke=\"#222\" "
                   "stroke-width=\"1.5\" fill=\"none\" class=\"errbar-key\"/>",
              lx + 7.0, ly - 10.0, lx + 3.0, ly - 10.0, lx + 3.0, ly);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" " FONT " font-size=\"12\" fill=\"#222\">", lx + 20.0,
            ly);
    svg_escape(out, c->interval_label);
    fputs("</text>\n", out);
  }

  /* y grid, ticks and tick labels */
  int dec = decimals_for(f.step);
  for (int k = 0;; k++) {
    double v = k * f.step;
    if (v > f.y_top * (1.0 + 1e-9)) break;
    double y = y_px(&f, v);
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                 "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" " FONT " font-size=\"11\" fill=\"#333\" "
                 "text-anchor=\"end\">%.*f</text>\n",
            f.left, y, f.left + f.pw, y, f.left - 5.0, y, f.left, y, f.left - 8.0, y + 4.0, dec, v);
    if (k > 1000) break;
  }
  /* axes */
  fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n", f.left,
          f.top, f.left, f.top + f.ph);
  fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n", f.left,
          f.top + f.ph, f.left + f.pw, f.top + f.ph);
  /* axis labels */
  fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" " FONT " font-size=\"12\" fill=\"#222\" text-anchor=\"middle\">",
          f.left + f.pw / 2.0, f.h - 10.0);
  svg_escape(out, c->x_label);
  fputs("</text>\n", out);
  double yc = f.top + f.ph / 2.0;
  fprintf(out, "<text x=\"16\" y=\"%.1f\" " FONT " font-size=\"12\" fill=\"#222\" text-anchor=\"middle\" "
               "transform=\"rotate(-90 16 %.1f)\">",
          yc, yc);
  svg_escape(out, c->y_label);
  fputs("</text>\n", out);
  return f;
}

/* x tick labels under band centres, thinned so that they do not overlap. */
static void x_labels(FILE *out, const svg_chart *c, const frame *f) {
  int n = c->n_categories;
  if (n <= 0) return;
  double band = f->pw / n;
  size_t longest = 1;
  for (int i = 0; i < n; i++)
    if (c->categories[i] && strlen(c->categories[i]) > longest) longest = strlen(c->categories[i]);
  double need = CHAR_W * (double)longest + 6.0; /* px per label */
  int every = (int)ceil(need / band);
  if (every < 1) every = 1;
  for (int i = 0; i < n; i += every) {
    double x = f->left + band * (i + 0.5);
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" " FONT " font-size=\"11\" fill=\"#333\" text-anchor=\"middle\">",
            x, f->top + f->ph, x, f->top + f->ph + 5.0, x, f->top + f->ph + 18.0);
    svg_escape(out, c->categories[i] ? c->categories[i] : "");
    fputs("</text>\n", out);
  }
}

static void one_ref_line(FILE *out, const frame *f, double v, const char *label, const char *dash,
                         const char *cls, double label_dy) {
  if (!(v > 0) || v > f->y_top) return;
  double y = y_px(f, v);
  fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#C00000\" "
               "stroke-width=\"2\" stroke-dasharray=\"%s\" class=\"%s\"/>\n",
          f->left, y, f->left + f->pw, y, dash, cls);
  if (label) {
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" " FONT " font-size=\"11\" fill=\"#C00000\" text-anchor=\"end\">",
            f->left + f->pw - 4.0, y + label_dy);
    svg_escape(out, label);
    fputs("</text>\n", out);
  }
}

static void ref_line(FILE *out, const svg_chart *c, const frame *f) {
  one_ref_line(out, f, c->ref_value, c->ref_label, "7 4", "ref", -5.0);
  one_ref_line(out, f, c->ref2_value, c->ref2_label, "2 3", "ref2", 14.0);
}

void svg_stacked_bars(FILE *out, const svg_chart *c) {
  double max = 0.0;
  for (int i = 0; i < c->n_categories; i++) {
    double sum = 0.0;
    for (int s = 0; s < c->n_series; s++) sum += value(&c->series[s], i);
    if (sum > max) max = sum;
  }
  frame f = begin(out, c, max, true);
  int n = c->n_categories > 0 ? c->n_categories : 1;
  double band = f.pw / n;
  double bar = n > 24 ? band * 0.8 : band * 0.6;
  if (bar > 90.0) bar = 90.0;
  for (int i = 0; i < c->n_categories; i++) {
    double x = f.left + band * (i + 0.5) - bar / 2.0;
    double base = 0.0;
    for (int s = 0; s < c->n_series; s++) {
      double v = value(&c->series[s], i);
      if (v <= 0) continue;
      double y0 = y_px(&f, base), y1 = y_px(&f, base + v);
      fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"><title>",
              x, y1, bar, y0 - y1, palette[s % SVG_MAX_SERIES]);
      svg_escape(out, c->categories[i] ? c->categories[i] : "");
      fputs(": ", out);
      svg_escape(out, c->series[s].name ? c->series[s].name : "");
      fprintf(out, " %.4g</title></rect>\n", v);
      base += v;
    }
  }
  /* the interval of each stack's total, over the bars */
  for (int i = 0; i < c->n_categories; i++) {
    if (!has_interval(c, i)) continue;
    double x = f.left + band * (i + 0.5) - bar / 2.0 - 4.0;
    double y_hi = y_px(&f, c->interval_hi[i]), y_lo = y_px(&f, c->interval_lo[i]);
    fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#000000\" "
                 "fill-opacity=\"0.18\" stroke=\"#222\" stroke-width=\"1\" stroke-dasharray=\"3 2\" "
                 "class=\"band\"><title>",
            x, y_hi, bar + 8.0, y_lo - y_hi);
    svg_escape(out, c->categories[i] ? c->categories[i] : "");
    fputs(": ", out);
    svg_escape(out, c->interval_label ? c->interval_label : "interval");
    fprintf(out, " %.4g-%.4g</title></rect>\n", c->interval_lo[i], c->interval_hi[i]);
  }
  ref_line(out, c, &f);
  x_labels(out, c, &f);
  fputs("</svg>\n", out);
}

void svg_lines(FILE *out, const svg_chart *c) {
  double max = 0.0;
  for (int s = 0; s < c->n_series; s++)
    for (int i = 0; i < c->n_categories; i++)
      if (value(&c->series[s], i) > max) max = value(&c->series[s], i);
  frame f = begin(out, c, max, false);
  int n = c->n_categories > 0 ? c->n_categories : 1;
  double band = f.pw / n;
  /* error bars of the first series, under its line and markers */
  for (int i = 0; i < c->n_categories; i++) {
    if (!has_interval(c, i)) continue;
    double x = f.left + band * (i + 0.5);
    double y_hi = y_px(&f, c->interval_hi[i]), y_lo = y_px(&f, c->interval_lo[i]);
    fprintf(out, "<path d=\"M%.2f %.2f V%.2f M%.2f %.2f h12 M%.2f %.2f h12\" stroke=\"#222\" "
                 "stroke-width=\"1.5\" fill=\"none\" class=\"errbar\"><title>",
            x, y_lo, y_hi, x - 6.0, y_lo, x - 6.0, y_hi);
    svg_escape(out, c->categories[i] ? c->categories[i] : "");
    fputs(": ", out);
    svg_escape(out, c->interval_label ? c->interval_label : "interval");
    fprintf(out, " %.4g-%.4g</title></path>\n", c->interval_lo[i], c->interval_hi[i]);
  }
  for (int s = 0; s < c->n_series; s++) {
    const char *color = palette[s % SVG_MAX_SERIES];
    bool open = false;
    for (int i = 0; i < c->n_categories; i++) {
      double v = c->series[s].values[i];
      if (!isfinite(v) || v < 0) continue;
      if (!open) fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\" points=\"", color);
      fprintf(out, "%s%.2f,%.2f", open ? " " : "", f.left + band * (i + 0.5), y_px(&f, v));
      open = true;
    }
    if (open) fputs("\"/>\n", out);
    for (int i = 0; i < c->n_categories; i++) {
      double v = c->series[s].values[i];
      if (!isfinite(v) || v < 0) continue;
      double x = f.left + band * (i + 0.5), y = y_px(&f, v);
      bool flag = c->flagged && c->flagged[i];
      if (flag)
        fprintf(out, "<path d=\"M%.2f %.2f l10 10 m0 -10 l-10 10\" stroke=\"#C00000\" "
                     "stroke-width=\"2.5\" class=\"flag\"><title>",
                x - 5.0, y - 5.0);
      else
        fprintf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"4.5\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"1.5\">"
                     "<title>", x, y, color);
      svg_escape(out, c->categories[i] ? c->categories[i] : "");
      fputs(": ", out);
      svg_escape(out, c->series[s].name ? c->series[s].name : "");
      fprintf(out, " %.4g", v);
      if (flag && c->flag_label) {
        fputs(" (", out);
        svg_escape(out, c->flag_label);
        fputc(')', out);
      }
      fputs(flag ? "</title></path>\n" : "</title></circle>\n", out);
      int dec = v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 3;
      /* beside an error bar, the label moves right of it */
      if (s == 0 && has_interval(c, i))
        fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" " FONT " font-size=\"11\" fill=\"%s\" text-anchor=\"start\">%.*f</text>\n",
                x + 9.0, y - 6.0, color, dec, v);
      else
        fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" " FONT " font-size=\"11\" fill=\"%s\" text-anchor=\"middle\">%.*f</text>\n",
                x, y - 9.0, color, dec, v);
    }
  }
  ref_line(out, c, &f);
  x_labels(out, c, &f);
  fputs("</svg>\n", out);
}
