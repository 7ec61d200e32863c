/* `gemm_efficiency_shapes`: [[m, n, k, efficiency], ...] on a full grid. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "io/gemm_shapes.h"
#include "io/io_internal.h"
#include "io/limits.h"

#define KEY "'gemm_efficiency_shapes'"
#define MAX_POINTS (TPS_MAX_GRID_AXIS * TPS_MAX_GRID_AXIS * TPS_MAX_GRID_AXIS)
#define DIM_MAX ((int64_t)1 << 40) /* elements along one GEMM dimension */

static const char *const axis_name[3] = {"m", "n", "k"};

/* Adds v to the sorted axis ax of *len values unless present; false when
 * the axis is full. */
static bool axis_add(double *ax, int *len, double v) {
  int i = 0;
  while (i < *len && ax[i] < v) i++;
  if (i < *len && ax[i] == v) return true;
  if (*len >= TPS_MAX_GRID_AXIS) return false;
  memmove(ax + i + 1, ax + i, (size_t)(*len - i) * sizeof *ax);
  ax[i] = v;
  (*len)++;
  return true;
}

static int axis_index(const double *ax, int len, double v) {
  for (int i = 0; i < len; i++)
    if (ax[i] == v) return i;
  return -1;
}

/* One entry [m, n, k, efficiency] into dim[3] and *eff. */
static tps_status read_point(io_doc *d, const yaml_node_t *e, int64_t dim[3], double *eff) {
  char got[64], what[96];
  if (!e || e->type != YAML_SEQUENCE_NODE || io_seq_len(e) != 4) {
    io_node_desc(e, got, sizeof got);
    if (e && e->type == YAML_SEQUENCE_NODE)
      snprintf(got, sizeof got, "a list of %d", io_seq_len(e));
    io_doc_fail(d, e, TPS_ETYPE, "each entry of " KEY " must be [m, n, k, efficiency], got %s",
                got);
    io_doc_hint(d, "for example [4096, 1024, 4096, 0.76]: a GEMM y(m, n) = x(m, k) W(k, n)");
    return TPS_ETYPE;
  }
  for (int a = 0; a < 3; a++) {
    snprintf(what, sizeof what, "%s of an entry of " KEY, axis_name[a]);
    tps_status st = io_node_int(d, io_seq_at(d, e, a), what, 1, DIM_MAX, &dim[a]);
    if (st) return st;
  }
  const yaml_node_t *y = io_seq_at(d, e, 3);
  const char *s = y && y->type == YAML_SCALAR_NODE ? (const char *)y->data.scalar.value : NULL;
  if (!s || !io_fraction_parse(s, eff)) {
    io_node_desc(y, got, sizeof got);
    return io_doc_fail(d, y, TPS_ERANGE,
                        "efficiency of an entry of " KEY " must be a fraction in (0, 1] or a "
                        "percentage, got %s",
                        got);
  }
  return io_check_limit(d, y, "efficiency of an entry of " KEY, *eff, &io_limit_efficiency);
}

tps_status io_gemm_shapes_read(io_doc *d, const yaml_node_t *n, tps_gemm_shapes *out) {
  char got[64];
  int len = io_seq_len(n);
  if (!n || n->type != YAML_SEQUENCE_NODE || len == 0) {
    io_node_desc(n, got, sizeof got);
    io_doc_fail(d, n, TPS_ETYPE, KEY " must be a list of [m, n, k, efficiency] points, got %s",
                got);
    io_doc_hint(d, "leave the key out to cost GEMMs by 'gemm_efficiency' alone");
    return TPS_ETYPE;
  }
  if (len > MAX_POINTS)
    return io_doc_fail(d, n, TPS_ERANGE, KEY " has %d points; at most %d (%d per axis) are allowed",
                        len, MAX_POINTS, TPS_MAX_GRID_AXIS);
  tps_gemm_shapes g; /* about 4 KiB; the points below about 16 KiB */
  memset(&g, 0, sizeof g);
  int64_t pts[MAX_POINTS][3];
  double effs[MAX_POINTS];
  double *axes[3] = {g.m, g.n, g.k};
  int *lens[3] = {&g.nm, &g.nn, &g.nk};
  for (int i = 0; i < len; i++) {
    yaml_node_t *e = io_seq_at(d, n, i);
    tps_status st = read_point(d, e, pts[i], &effs[i]);
    if (st) return st;
    for (int a = 0; a < 3; a++)
      if (!axis_add(axes[a], lens[a], (double)pts[i][a]))
        return io_doc_fail(d, io_seq_at(d, e, a), TPS_ERANGE,
                            KEY " has more than %d distinct %s values; at most %d are allowed",
                            TPS_MAX_GRID_AXIS, axis_name[a], TPS_MAX_GRID_AXIS);
  }
  bool seen[MAX_POINTS] = {false};
  int first[MAX_POINTS] = {0};
  for (int i = 0; i < len; i++) {
    int at = (axis_index(g.m, g.nm, (double)pts[i][0]) * g.nn +
              axis_index(g.n, g.nn, (double)pts[i][1])) * g.nk +
             axis_index(g.k, g.nk, (double)pts[i][2]);
    if (seen[at]) {
      int line = io_node_line(io_seq_at(d, n, first[at]));
      return io_doc_fail(d, io_seq_at(d, n, i), TPS_EINVAL,
                          KEY " gives the point m=%" PRId64 ", n=%" PRId64 ", k=%" PRId64
                          " twice (first on line %d)",
                          pts[i][0], pts[i][1], pts[i][2], line);
    }
    seen[at] = true;
    first[at] = i;
    g.eff[at] = effs[i];
  }
  int want = g.nm * g.nn * g.nk;
  if (len != want) {
    for (int at = 0; at < want; at++) {
      if (seen[at]) continue;
      int i = at / (g.nn * g.nk), j = at / g.nk % g.nn, l = at % g.nk;
      io_doc_fail(d, n, TPS_EINVAL,
                   KEY " must give every point of its grid (%d m x %d n x %d k = %d points), got "
                   "%d: m=%.0f, n=%.0f, k=%.0f is missing",
                   g.nm, g.nn, g.nk, want, len, g.m[i], g.n[j], g.k[l]);
      io_doc_hint(d, "the efficiency is interpolated between the grid's points; measure the "
                     "missing shapes or drop the m, n or k values they need");
      return TPS_EINVAL;
    }
  }
  *out = g;
  return TPS_OK;
}
