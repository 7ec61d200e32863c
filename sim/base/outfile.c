/* Writing an output file: a temporary renamed over regular files, special
 * files written in place (see base/outfile.h). */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* realpath */
#include "base/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

unsigned tps_outfile_new_mode(void) {
  mode_t mask = umask(0);
  umask(mask);
  return (unsigned)(0666 & ~mask);
}

static tps_status fail(tps_outfile *o, tps_error *err, tps_status st, const char *what, int e) {
  tps_outfile_discard(o);
  return tps_error_set(err, st, o->shown, 0, 0, "%s: %s", what, strerror(e));
}

/* The descriptor a path names by itself (/dev/stdout, /dev/fd/2, ...), or -1. */
static int fd_alias(const char *path) {
  if (strcmp(path, "/dev/stdin") == 0) return 0;
  if (strcmp(path, "/dev/stdout") == 0) return 1;
  if (strcmp(path, "/dev/stderr") == 0) return 2;
  const char *num = NULL;
  if (strncmp(path, "/dev/fd/", 8) == 0)
    num = path + 8;
  else if (strncmp(path, "/proc/self/fd/", 14) == 0)
    num = path + 14;
  if (!num || !*num) return -1;
  char *end = NULL;
  errno = 0;
  long v = strtol(num, &end, 10);
  if (*end || errno || v < 0 || v > INT_MAX || num[0] < '0' || num[0] > '9') return -1;
  return (int)v;
}

/* Writes through fd (owned: closed when it cannot be opened as a stream). */
static tps_status attach(tps_outfile *o, int fd, tps_error *err) {
  o->f = fdopen(fd, "w");
  if (!o->f) {
    int e = errno;
    close(fd);
    return fail(o, err, TPS_EIO, "cannot write", e);
  }
  return TPS_OK;
}

/* Writes in place through fd (owned). */
static tps_status open_direct(tps_outfile *o, int fd, tps_error *err) {
  o->special = true;
  return attach(o, fd, err);
}

tps_status tps_outfile_open(tps_outfile *o, const char *path, tps_error *err) {
  memset(o, 0, sizeof *o);
  if (!path || !*path) return tps_error_set(err, TPS_EINVAL, "", 0, 0, "empty output path");
  if (strlen(path) >= sizeof o->shown - 64)
    return tps_error_set(err, TPS_EINVAL, "", 0, 0, "output path too long (%zu bytes)", strlen(path));
  snprintf(o->shown, sizeof o->shown, "%s", path);
  snprintf(o->path, sizeof o->path, "%s", path);

  int alias = fd_alias(path);
  if (alias >= 0) {
    if (alias == 1) fflush(stdout);
    if (alias == 2) fflush(stderr);
    int fd = fcntl(alias, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return fail(o, err, TPS_EIO, "cannot write", errno);
    return open_direct(o, fd, err);
  }

  struct stat st, lst;
  bool exists = stat(path, &st) == 0;
  if (!exists && errno != ENOENT) return fail(o, err, TPS_EIO, "cannot create", errno);
  if (!exists && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
    /* A dangling symbolic link: create what it points to, as `>` would. */
    char target[TPS_OUT_PATH_MAX];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0) return fail(o, err, TPS_EIO, "cannot create", n < 0 ? errno : ENOENT);
    target[n] = '\0';
    const char *slash = strrchr(path, '/');
    if (target[0] != '/' && slash) {
      if ((size_t)snprintf(o->path, sizeof o->path, "%.*s/%s", (int)(slash - path), path, target) >=
          sizeof o->path - 64)
        return fail(o, err, TPS_EIO, "cannot create", ENAMETOOLONG);
    } else {
      if (strlen(target) >= sizeof o->path - 64) return fail(o, err, TPS_EIO, "cannot create", ENAMETOOLONG);
      snprintf(o->path, sizeof o->path, "%s", target);
    }
  }
  unsigned mode = tps_outfile_new_mode();
  if (exists) {
    if (S_ISDIR(st.st_mode)) return fail(o, err, TPS_EIO, "cannot write", EISDIR);
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
      int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
      if (fd < 0) return fail(o, err, TPS_EIO, "cannot write", errno);
      return open_direct(o, fd, err);
    }
    if (!S_ISREG(st.st_mode)) {
      tps_outfile_discard(o);
      return tps_error_set(err, TPS_EIO, o->shown, 0, 0,
                           "cannot write: not a regular file, character device or FIFO");
    }
    mode = (unsigned)(st.st_mode & 0777);
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
      /* A link to a regular file: the link stays, its target is replaced. */
      char *real = realpath(path, NULL);
      if (!real) return fail(o, err, TPS_EIO, "cannot create", errno);
      bool fits = strlen(real) < sizeof o->path - 64;
      if (fits) snprintf(o->path, sizeof o->path, "%s", real);
      free(real);
      if (!fits) return fail(o, err, TPS_EIO, "cannot create", ENAMETOOLONG);
    }
  }

  /* The temporary: same directory, a name never longer than 1 + 40 + 11. */
  const char *slash = strrchr(o->path, '/');
  const char *base = slash ? slash + 1 : o->path;
  int dirlen = slash ? (int)(slash - o->path) : 0;
  if ((size_t)snprintf(o->tmp, sizeof o->tmp, "%.*s%s.%.40s.tmp.XXXXXX", dirlen, o->path,
                       slash ? "/" : "", base) >= sizeof o->tmp)
    return fail(o, err, TPS_EIO, "cannot create", ENAMETOOLONG);
  int fd = mkstemp(o->tmp);
  if (fd < 0) {
    int e = errno;
    o->tmp[0] = '\0';
    return fail(o, err, TPS_EIO, "cannot create", e);
  }
  (void)fchmod(fd, (mode_t)mode); /* best effort: on failure the file stays private */
  if (exists && (st.st_uid != geteuid() || st.st_gid != getegid()))
    (void)fchown(fd, st.st_uid, st.st_gid); /* best effort: root keeps the owner */
  return attach(o, fd, err);
}

tps_status tps_outfile_finish(tps_outfile *o, tps_error *err) {
  if (!o->f) return TPS_OK;
  FILE *f = o->f;
  o->f = NULL;
  errno = 0;
  int e = 0;
  if (fflush(f) != 0) e = errno ? errno : EIO;
  if (ferror(f) && !e) e = errno ? errno : EIO;
  errno = 0;
  if (fclose(f) != 0 && !e) e = errno ? errno : EIO;
  if (e) return fail(o, err, TPS_EIO, "cannot write", e);
  return TPS_OK;
}

tps_status tps_outfile_commit(tps_outfile *o, tps_error *err) {
  if (o->special || !o->tmp[0]) return TPS_OK;
  if (rename(o->tmp, o->path) != 0) return fail(o, err, TPS_EIO, "cannot write", errno);
  o->tmp[0] = '\0';
  return TPS_OK;
}

tps_status tps_outfile_close(tps_outfile *o, tps_error *err) {
  tps_status st = tps_outfile_finish(o, err);
  return st ? st : tps_outfile_commit(o, err);
}

void tps_outfile_discard(tps_outfile *o) {
  if (o->f) {
    fclose(o->f);
    o->f = NULL;
  }
  if (o->tmp[0]) {
    unlink(o->tmp);
    o->tmp[0] = '\0';
  }
}
