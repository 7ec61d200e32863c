/* Finding bundled models, hardware profiles, stacks and validation files.
 *
 * A name resolves, in order, to: the path itself when such a file exists;
 * $TPSIM_DATA_DIR/KIND/NAME.yaml; <directory of the running executable>/
 * ../share/tp-sim/KIND/NAME.yaml (an installed tp-sim, found through
 * /proc/self/exe, so that it works without the source tree); TPSIM_DATA_DIR
 * (the build-time data directory, a macro set by CMake)/KIND/NAME.yaml. */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io_internal.h"
#include "tpsim/io.h"

#ifndef TPSIM_DATA_DIR
#define TPSIM_DATA_DIR ""
#endif

/* The installed data directory, <dir of /proc/self/exe>/../share/tp-sim,
 * into dir; "" when the executable cannot be found (not Linux) or the
 * directory does not exist (a build tree). Returns dir. */
static const char *installed_dir(char *dir, size_t size) {
  dir[0] = '\0';
  char exe[900];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0 || (size_t)n >= sizeof exe - 1) return dir;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return dir;
  *slash = '\0'; /* the bin directory */
  char buf[1024];
  int w = snprintf(buf, sizeof buf, "%s/../share/tp-sim", exe);
  struct stat st;
  if (w > 0 && (size_t)w < sizeof buf && (size_t)w < size && stat(buf, &st) == 0 &&
      S_ISDIR(st.st_mode))
    memcpy(dir, buf, (size_t)w + 1);
  return dir;
}

/* The data directory tps_data_list reads: $TPSIM_DATA_DIR when set and not
 * empty, else the installed one when it exists, else the build-time one.
 * buf (size bytes) holds the installed path when that is the answer. */
static const char *data_dir(char *buf, size_t size) {
  const char *env = getenv("TPSIM_DATA_DIR");
  if (env && *env) return env;
  const char *inst = installed_dir(buf, size);
  return *inst ? inst : TPSIM_DATA_DIR;
}

/* "model" / "hardware profile" for messages. */
static const char *kind_noun(const char *kind) {
  if (strcmp(kind, "models") == 0) return "model";
  if (strcmp(kind, "hw_profiles") == 0) return "hardware profile";
  if (strcmp(kind, "hw_profiles/stacks") == 0) return "software stack";
  if (strcmp(kind, "validation") == 0) return "validation file";
  return kind;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Tries DIR/KIND/NAME(.yaml); true and out filled when it is a file. */
static bool try_dir(const char *dir, const char *kind, const char *name,
                    char *out, size_t size) {
  if (!dir || !*dir) return false;
  char buf[1024];
  int w = snprintf(buf, sizeof buf, "%s/%s/%s%s", dir, kind, name,
                   ends_with(name, ".yaml") ? "" : ".yaml");
  if (w < 0 || (size_t)w >= sizeof buf) return false;
  struct stat st;
  if (stat(buf, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if ((size_t)w >= size) return false;
  memcpy(out, buf, (size_t)w + 1);
  return true;
}

tps_status tps_data_find(const char *kind, const char *name_or_path,
                         char *out, size_t out_size, tps_error *err) {
  tps_error_clear(err);
  if (!kind || (strcmp(kind, "models") != 0 && strcmp(kind, "hw_profiles") != 0 &&
                strcmp(kind, "hw_profiles/stacks") != 0 && strcmp(kind, "validation") != 0))
    return tps_error_set(err, TPS_EINVAL, "", 0, 0, "unknown data kind '%s'",
                         kind ? kind : "");
  if (!name_or_path || !*name_or_path)
    return tps_error_set(err, TPS_EINVAL, "", 0, 0, "no %s name given",
                         kind_noun(kind));
  if (!out || out_size == 0)
    return tps_error_set(err, TPS_EINVAL, "", 0, 0, "no room for the path");

  struct stat st;
  if (stat(name_or_path, &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return tps_error_set(err, TPS_EIO, name_or_path, 0, 0,
                           "is a directory, not a file");
    if (strlen(name_or_path) >= out_size)
      return tps_error_set(err, TPS_EINVAL, name_or_path, 0, 0,
                           "path is too long");
    /* Not a regular file (a FIFO, a device): the loader refuses it by
     * name without opening it for reading (io_file_read). */
    snprintf(out, out_size, "%s", name_or_path);
    return TPS_OK;
  }
  /* A path that exists but cannot be reached (a symlink loop, a component
   * that is a file, no permission) says why; so does a path (it has a '/')
   * that does not exist, which is not a bundled name. */
  int why = errno;
  if (why != ENOENT || strchr(name_or_path, '/')) {
    char reason[128];
    snprintf(reason, sizeof reason, "%s", strerror(why));
    if (reason[0] >= 'A' && reason[0] <= 'Z') reason[0] = (char)(reason[0] - 'A' + 'a');
    return tps_error_set(err, why == ENOENT ? TPS_ENOTFOUND : TPS_EIO, name_or_path, 0, 0,
                         "cannot open file: %s", reason);
  }

  const char *env = getenv("TPSIM_DATA_DIR");
  if (env && *env && try_dir(env, kind, name_or_path, out, out_size)) return TPS_OK;
  char inst[1024];
  if (try_dir(installed_dir(inst, sizeof inst), kind, name_or_path, out, out_size)) return TPS_OK;
  if (try_dir(TPSIM_DATA_DIR, kind, name_or_path, out, out_size)) return TPS_OK;

  tps_error_set(err, TPS_ENOTFOUND, "", 0, 0, "no %s named '%s'", kind_noun(kind),
                name_or_path);
  enum { MAX_NAMES = 256 };
  char(*names)[TPS_NAME_MAX] = malloc(MAX_NAMES * sizeof *names);
  if (!names) return TPS_ENOTFOUND;
  int n = tps_data_list(kind, names, MAX_NAMES);
  const char *ptrs[MAX_NAMES];
  for (int i = 0; i < n; i++) ptrs[i] = names[i];
  /* The name as people write it: any case ("H100"), and a bundled name it
   * begins ("h100" for "h100-sxm"), before an edit-distance guess. */
  char lower[TPS_NAME_MAX];
  size_t len = strlen(name_or_path);
  for (size_t i = 0; i < sizeof lower - 1 && i < len; i++)
    lower[i] = (char)tolower((unsigned char)name_or_path[i]);
  lower[len < sizeof lower - 1 ? len : sizeof lower - 1] = '\0';
  const char *best = NULL;
  for (int i = 0; i < n && !best; i++)
    if (strcmp(names[i], lower) == 0) best = names[i];
  const char *starts[2] = {NULL, NULL};
  int n_starts = 0;
  for (int i = 0; i < n && !best && len >= 2; i++)
    if (strncmp(names[i], lower, strlen(lower)) == 0 && names[i][strlen(lower)] == '-') {
      if (n_starts < 2) starts[n_starts] = names[i];
      n_starts++;
    }
  if (n_starts == 1) best = starts[0];
  if (!best && n_starts == 0) best = tps_did_you_mean(name_or_path, ptrs, n);
  if (n_starts >= 2) {
    tps_error_hint(err, "did you mean '%s' or '%s'%s?", starts[0], starts[1],
                   n_starts > 2 ? " (or another)" : "");
  } else if (best) {
    tps_error_hint(err, "did you mean '%s'?", best);
  } else if (n > 0) {
    char list[200] = "";
    size_t used = 0;
    int shown = 0;
    for (int i = 0; i < n; i++) {
      size_t need = strlen(names[i]) + 2;
      if (used + need + 4 >= sizeof list) break;
      used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                               names[i]);
      shown++;
    }
    tps_error_hint(err, "bundled %ss: %s%s", kind_noun(kind), list,
                   shown < n ? ", ..." : "");
  } else {
    tps_error_hint(err, "give a path to a YAML file");
  }
  free(names);
  return TPS_ENOTFOUND;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

int tps_data_list(const char *kind, char names[][TPS_NAME_MAX], int max) {
  if (!kind || !names || max <= 0) return 0;
  char path[1024], inst[1024];
  int w = snprintf(path, sizeof path, "%s/%s", data_dir(inst, sizeof inst), kind);
  if (w < 0 || (size_t)w >= sizeof path) return 0;
  DIR *dir = opendir(path);
  if (!dir) return 0;
  /* Collect every name, sort, then hand back the first max. */
  int n = 0, cap = 0;
  char(*all)[TPS_NAME_MAX] = NULL;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    const char *fn = e->d_name;
    size_t len = strlen(fn);
    if (fn[0] == '.' || len <= 5 || !ends_with(fn, ".yaml")) continue;
    if (len - 5 >= TPS_NAME_MAX) continue;
    if (n == cap) {
      int ncap = cap ? cap * 2 : 32;
      void *p = realloc(all, (size_t)ncap * sizeof *all);
      if (!p) break;
      all = p;
      cap = ncap;
    }
    memcpy(all[n], fn, len - 5);
    all[n][len - 5] = '\0';
    n++;
  }
  closedir(dir);
  if (n > 1) qsort(all, (size_t)n, sizeof *all, cmp_names);
  int k = n < max ? n : max;
  for (int i = 0; i < k; i++) memcpy(names[i], all[i], TPS_NAME_MAX);
  free(all);
  return k;
}
