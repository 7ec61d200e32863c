/* Did-you-mean: the closest candidate by edit distance.
 *
 * Distance is the optimal-string-alignment form of Damerau-Levenshtein:
 * insertions, deletions, substitutions and swaps of two adjacent characters
 * each cost 1. A candidate is accepted when its distance to the word is at
 * most max(1, strlen(word) / 3); ties go to the earlier candidate. */
#include <stdlib.h>
#include <string.h>

#include "tpsim/io.h"

#define DYM_MAX_LEN 128 /* longer words or candidates are never suggested */

/* Edit distance of a (length n) and b (length m), both <= DYM_MAX_LEN. */
static int osa_distance(const char *a, int n, const char *b, int m) {
  /* Three rolling rows: i-2, i-1, i. */
  int rows[3][DYM_MAX_LEN + 1];
  int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
  for (int j = 0; j <= m; j++) prev[j] = j;
  for (int i = 1; i <= n; i++) {
    cur[0] = i;
    for (int j = 1; j <= m; j++) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      int best = prev[j] + 1;                           /* deletion */
      if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1; /* insertion */
      if (prev[j - 1] + cost < best) best = prev[j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          prev2[j - 2] + 1 < best)
        best = prev2[j - 2] + 1; /* transposition */
      cur[j] = best;
    }
    int *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[m];
}

const char *tps_did_you_mean(const char *word, const char *const *candidates,
                             int n) {
  if (!word || !candidates || n <= 0) return NULL;
  size_t wl = strlen(word);
  if (wl == 0 || wl > DYM_MAX_LEN) return NULL;
  int limit = (int)wl / 3;
  if (limit < 1) limit = 1;
  const char *best = NULL;
  int best_d = limit + 1;
  for (int i = 0; i < n; i++) {
    const char *c = candidates[i];
    if (!c) continue;
    size_t cl = strlen(c);
    if (cl == 0 || cl > DYM_MAX_LEN) continue;
    /* The length difference alone bounds the distance from below. */
    size_t diff = cl > wl ? cl - wl : wl - cl;
    if ((int)diff >= best_d) continue;
    int d = osa_distance(word, (int)wl, c, (int)cl);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}
