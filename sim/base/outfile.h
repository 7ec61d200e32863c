/* Writing an output file (sim/base/outfile.c): what `-o FILE`, `report -o
 * DIR` and `calibrate -o PREFIX` share, so that no output is ever half
 * written, put in the wrong place or given other permissions.
 *
 *   - A new path or a regular file: written to a temporary file beside it
 *     (".NAME.tmp.XXXXXX" in the same directory, NAME cut to 40 bytes so
 *     the temporary never exceeds NAME_MAX), then renamed over it. An
 *     existing file keeps its permission bits and, where allowed, its owner
 *     and group; a new one gets 0666 less the umask. A symbolic link to a
 *     regular file stays: its target is replaced.
 *   - /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N: written to that
 *     descriptor (a duplicate of it), never replaced.
 *   - A character device or a FIFO (/dev/null, /dev/full, a named pipe):
 *     opened and written in place, never replaced.
 *   - A directory, a block device or a socket: refused.
 * Every error (creating, any write, flushing, closing, renaming) is
 * reported; on error the temporary is removed. Writes that exceed the file
 * size limit fail with EFBIG only when SIGXFSZ is ignored (tp-sim's main
 * ignores it). Part of the base every folder may use; not public API. */
#ifndef TPSIM_BASE_OUTFILE_H
#define TPSIM_BASE_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>

#include "tpsim/status.h"

#define TPS_OUT_PATH_MAX 4096

typedef struct tps_outfile {
  FILE *f;                     /* render into this; NULL once finished */
  bool special;                /* written in place: no temporary, no rename */
  char shown[TPS_OUT_PATH_MAX]; /* the path as given, for messages */
  char path[TPS_OUT_PATH_MAX];  /* what is replaced (a symlink's target) */
  char tmp[TPS_OUT_PATH_MAX];   /* the temporary, or "" */
} tps_outfile;

/* Opens the output. Errors (err->file = path): EINVAL for an empty or too
 * long path, EIO "cannot create: REASON" otherwise. */
tps_status tps_outfile_open(tps_outfile *o, const char *path, tps_error *err);
/* Flushes and closes o->f, checking the stream's error flag, the flush and
 * fclose (EIO "cannot write: REASON"); on error removes the temporary. */
tps_status tps_outfile_finish(tps_outfile *o, tps_error *err);
/* Renames the finished temporary over the path (nothing for a special
 * file); on error removes it. */
tps_status tps_outfile_commit(tps_outfile *o, tps_error *err);
/* finish, then commit. */
tps_status tps_outfile_close(tps_outfile *o, tps_error *err);
/* Gives up: closes the stream if open and removes the temporary. Safe to
 * call more than once and after finish or commit. */
void tps_outfile_discard(tps_outfile *o);

/* The mode (permission bits) a new output file gets: 0666 less the umask. */
unsigned tps_outfile_new_mode(void);

#endif
