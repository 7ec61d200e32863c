/* Running tp-kernel as a subprocess through its launcher (tp-kernel-run),
 * which sets what mpirun needs here (root, oversubscription, one BLAS
 * thread). This library never links MPI. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "validate/kernel_validate.h"

tps_status kv_find_launcher(char *out, size_t size, tps_error *err) {
  const char *env = getenv("TPSIM_KERNEL_RUN");
  if (env && *env) {
    if (access(env, X_OK) != 0)
      return tps_error_set(err, TPS_ENOTFOUND, "", 0, 0,
                           "$TPSIM_KERNEL_RUN is '%s', which is not an executable file", env);
    snprintf(out, size, "%s", env);
    return TPS_OK;
  }
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      if ((size_t)snprintf(out, size, "%s/tp-kernel-run", exe) < size && access(out, X_OK) == 0)
        return TPS_OK;
    }
  }
  tps_error_set(err, TPS_ENOTFOUND, "", 0, 0,
                "cannot find tp-kernel-run next to this program (%s)", n > 0 ? exe : "/proc/self/exe");
  tps_error_hint(err, "build with -DTPSIM_KERNEL=ON, or set TPSIM_KERNEL_RUN to the launcher's path");
  return TPS_ENOTFOUND;
}

tps_status kv_run_kernel(const char *launcher, int ranks, const char *const *argv, FILE *log,
                         tps_error *err) {
  enum { MAXARG = 64 };
  const char *args[MAXARG];
  char np[16];
  snprintf(np, sizeof np, "%d", ranks);
  int n = 0;
  args[n++] = launcher;
  args[n++] = "-n";
  args[n++] = np;
  args[n++] = "--";
  for (int i = 0; argv[i] && n < MAXARG - 1; i++) args[n++] = argv[i];
  args[n] = NULL;
  char cmd[1024] = "";
  size_t used = 0;
  for (int i = 0; i < n && used < sizeof cmd; i++)
    used += (size_t)snprintf(cmd + used, sizeof cmd - used, "%s%s", i ? " " : "", args[i]);
  if (log) {
    fprintf(log, "  $ %s\n", cmd);
    fflush(log);
  }
  pid_t pid = fork();
  if (pid < 0) return tps_error_set(err, TPS_EIO, "", 0, 0, "cannot start %s: %s", launcher, strerror(errno));
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      if (!log) dup2(fd, STDERR_FILENO);
      close(fd);
    }
    execv(launcher, (char *const *)args);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return tps_error_set(err, TPS_EIO, "", 0, 0, "waiting for %s failed", launcher);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return TPS_OK;
  return tps_error_set(err, TPS_EIO, "", 0, 0, "tp-kernel failed (%s %d): %s",
                       WIFEXITED(status) ? "exit status" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), cmd);
}

double kv_loadavg(void) {
  FILE *f = fopen("/proc/loadavg", "r");
  double v = -1.0;
  if (!f) return v;
  if (fscanf(f, "%lf", &v) != 1) v = -1.0;
  fclose(f);
  return v;
}
