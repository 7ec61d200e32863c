/* tp-kernel: checked MPI calls, failing the whole job, clocks, memory. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "kernel.h"

int k_world_rank(void) {
  int init = 0, fin = 0, rank = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

_Noreturn void k_fail(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "tp-kernel: rank %d: %s\n", k_world_rank(), msg);
  fflush(stderr);
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  /* MPI_Abort makes the launcher kill every other rank (they may be blocked
   * in a collective waiting for this one) and return non-zero. */
  if (init && !fin) MPI_Abort(MPI_COMM_WORLD, 1);
  exit(1);
}

void k_mpi_check(int rc, const char *call, const char *file, int line) {
  if (rc == MPI_SUCCESS) return;
  char err[MPI_MAX_ERROR_STRING + 1];
  int len = 0;
  if (MPI_Error_string(rc, err, &len) != MPI_SUCCESS) len = 0;
  err[len] = '\0';
  k_fail("%s failed: %s (error %d, %s:%d)", call, len ? err : "unknown MPI error", rc, file, line);
}

double k_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Value of a "Key:   N kB" line of /proc/self/status, in bytes. */
static double proc_status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1.0;
  char line[256];
  double v = -1.0;
  size_t klen = strlen(key);
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      v = strtod(line + klen + 1, NULL) * 1024.0;
      break;
    }
  }
  fclose(f);
  return v;
}

double k_vmhwm(void) { return proc_status_kb("VmHWM"); }
double k_vmrss(void) { return proc_status_kb("VmRSS"); }

const char *k_blas_library(void) {
  Dl_info info;
  void (*fn)(void) = (void (*)(void))cblas_sgemm;
  void *addr;
  memcpy(&addr, &fn, sizeof addr); /* function to object pointer, as dladdr wants */
  if (dladdr(addr, &info) && info.dli_fname) return info.dli_fname;
  return "unknown";
}
