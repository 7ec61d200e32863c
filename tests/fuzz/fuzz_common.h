/* Shared by the libFuzzer harnesses: the loaders take a path, so each input is
 * written to one temporary file per process (created on first use, removed at
 * exit) and the loader reads it back. POSIX.1-2008 only (mkdtemp), so that
 * the harnesses build with the project's _POSIX_C_SOURCE and -std=c11. */
#ifndef TPSIM_FUZZ_COMMON_H
#define TPSIM_FUZZ_COMMON_H

#include <gsl/gsl_errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[64];
static char fuzz_path[96];

static void fuzz_cleanup(void) {
  if (fuzz_path[0]) unlink(fuzz_path);
  if (fuzz_dir[0]) rmdir(fuzz_dir);
}

/* Writes data to this process's temporary file (DIR/input.SUFFIX in a
 * private mkdtemp directory, so the suffix the loaders look at is kept) and
 * returns its path; aborts (a harness bug, not a finding) when the file
 * cannot be written. */
static const char *fuzz_write_input(const uint8_t *data, size_t size, const char *suffix) {
  if (!fuzz_dir[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/tpsim-fuzz-XXXXXX",
             tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(fuzz_dir)) abort();
    snprintf(fuzz_path, sizeof fuzz_path, "%s/input%s", fuzz_dir, suffix);
    atexit(fuzz_cleanup);
    gsl_set_error_handler_off();
  }
  FILE *f = fopen(fuzz_path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  if (fclose(f) != 0) abort();
  return fuzz_path;
}

#endif
