/* Running tp-kernel as a subprocess through its launcher (tp-kernel-run),
 * which sets what mpirun needs here (root, oversubscription, one BLAS
 * thread). This library never links MPI.
 *
 * Nothing of a run may outlive it. The launcher starts a session of its own
 * (setsid): Open MPI puts each rank in a process group of its own, but all
 * stay in the launcher's session, so "the run" is every process of that
 * session. A run that times out, or tp-sim getting SIGINT/SIGTERM/SIGHUP,
 * stops the whole session (SIGTERM and SIGCONT, then SIGKILL after a grace
 * period); a run that ends, well or not, has whatever is left of its session
 * killed before its leader is reaped (the leader is waited for with WNOWAIT
 * first, so that its pid, which names the session, cannot be reused while
 * the session is swept). On Linux the launcher also gets SIGTERM when
 * tp-sim dies (PR_SET_PDEATHSIG), so even a SIGKILL of tp-sim makes mpiexec
 * take its ranks down. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "validate/kernel_validate.h"

#define KV_GRACE_S 3.0   /* from SIGTERM to SIGKILL */
#define KV_POLL_NS 20000000L /* 20 ms between looks at a running launcher */
#define KV_SESSION_MAX 1024

tps_status kv_find_launcher(char *out, size_t size, tps_error *err) {
  const char *env = getenv("TPSIM_KERNEL_RUN");
  if (env && *env) {
    if (access(env, X_OK) != 0)
      return tps_error_set(err, TPS_EIO, "", 0, 0, "$TPSIM_KERNEL_RUN is '%s', which is not an executable file", env);
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
  tps_error_set(err, TPS_EIO, "", 0, 0, "cannot find tp-kernel-run next to this program (%s)",
                n > 0 ? exe : "/proc/self/exe");
  tps_error_hint(err, "build with -DTPSIM_KERNEL=ON, or set TPSIM_KERNEL_RUN to the launcher's path");
  return TPS_EIO;
}

/* ---- signals ---- */

static volatile sig_atomic_t g_signal; /* first SIGINT/SIGTERM/SIGHUP, or 0 */
static volatile sig_atomic_t g_child;  /* the running launcher (its session), or 0 */
static int g_depth;                    /* kv_signals_begin nesting */
static const int g_sigs[3] = {SIGINT, SIGTERM, SIGHUP};
static struct sigaction g_saved[3], g_saved_chld;
static bool g_caught[3], g_chld_reset;

static void on_signal(int sig) {
  if (!g_signal) g_signal = sig;
  pid_t child = (pid_t)g_child;
  if (child > 0) {
    kill(-child, SIGTERM); /* async-signal-safe; the rest is done by the waiting loop */
    kill(child, SIGTERM);
  }
}

void kv_signals_begin(void) {
  if (g_depth++ > 0) return;
  g_signal = 0;
  /* SIGCHLD inherited as ignored would reap the launcher by itself: no
   * exit status to judge the run by. */
  g_chld_reset = false;
  struct sigaction chld;
  if (sigaction(SIGCHLD, NULL, &chld) == 0 && chld.sa_handler == SIG_IGN) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    g_chld_reset = sigaction(SIGCHLD, &dfl, &g_saved_chld) == 0;
  }
  for (int i = 0; i < 3; i++) {
    g_caught[i] = false;
    struct sigaction old;
    if (sigaction(g_sigs[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN)
      continue; /* ignored (nohup, a background job): stays ignored */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(g_sigs[i], &sa, &g_saved[i]) == 0) g_caught[i] = true;
  }
}

void kv_signals_end(void) {
  if (g_depth == 0 || --g_depth > 0) return;
  for (int i = 0; i < 3; i++)
    if (g_caught[i]) sigaction(g_sigs[i], &g_saved[i], NULL);
  if (g_chld_reset) sigaction(SIGCHLD, &g_saved_chld, NULL);
}

int kv_interrupted(void) { return (int)g_signal; }

static const char *signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGPIPE: return "SIGPIPE";
    default: return "signal";
  }
}

tps_status kv_interrupted_error(tps_error *err) {
  int sig = kv_interrupted();
  return tps_error_set(err, TPS_EIO, "", 0, 0, "interrupted by %s (signal %d): tp-kernel's processes were stopped",
                       signal_name(sig), sig);
}

/* ---- work directories ---- */

tps_status kv_workdir_make(const char *given, char *out, size_t size, bool *made, tps_error *err) {
  *made = false;
  if (given) {
    if (mkdir(given, 0777) != 0 && errno != EEXIST)
      return tps_error_set(err, TPS_EIO, given, 0, 0, "cannot create %s: %s", given, strerror(errno));
    if ((size_t)snprintf(out, size, "%s", given) >= size)
      return tps_error_set(err, TPS_EINVAL, "", 0, 0, "work directory path too long");
    return TPS_OK;
  }
  const char *tmp = getenv("TMPDIR");
  if ((size_t)snprintf(out, size, "%s/tpsim-kv.XXXXXX", tmp && *tmp ? tmp : "/tmp") >= size)
    return tps_error_set(err, TPS_EINVAL, "", 0, 0, "$TMPDIR is too long");
  if (!mkdtemp(out)) return tps_error_set(err, TPS_EIO, "", 0, 0, "cannot create %s: %s", out, strerror(errno));
  *made = true;
  return TPS_OK;
}

static void remove_tree(const char *path, int depth) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode) && depth < 16) {
    DIR *d = opendir(path);
    if (d) {
      struct dirent *e;
      while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[4096];
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < sizeof sub) remove_tree(sub, depth + 1);
      }
      closedir(d);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}

void kv_workdir_remove(const char *dir) {
  if (dir && *dir) remove_tree(dir, 0);
}

/* ---- one run ---- */

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void nap(void) {
  struct timespec t = {0, KV_POLL_NS};
  nanosleep(&t, NULL); /* EINTR (a signal): fine, the caller looks again */
}

/* The live (not zombie) processes of session sid, at most max. */
static int session_members(pid_t sid, pid_t *out, int max) {
  DIR *d = opendir("/proc");
  if (!d) return 0;
  int n = 0;
  pid_t self = getpid();
  struct dirent *e;
  while ((e = readdir(d)) && n < max) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%.20s/stat", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) continue;
    buf[r] = '\0';
    const char *close_paren = strrchr(buf, ')'); /* the command name may hold anything */
    char state = 0;
    int ppid = 0, pgrp = 0, session = 0;
    if (!close_paren || sscanf(close_paren + 1, " %c %d %d %d", &state, &ppid, &pgrp, &session) != 4) continue;
    pid_t pid = (pid_t)atol(e->d_name);
    if (session == sid && pid != self && state != 'Z' && state != 'X') out[n++] = pid;
  }
  closedir(d);
  return n;
}

/* sig to the leader, its process group and every process of its session. */
static int signal_run(pid_t leader, int sig) {
  kill(-leader, sig);
  kill(leader, sig);
  pid_t m[KV_SESSION_MAX];
  int n = session_members(leader, m, KV_SESSION_MAX);
  for (int i = 0; i < n; i++) kill(m[i], sig);
  return n;
}

/* Whether the leader has ended; it stays unreaped (WNOWAIT). */
static bool leader_ended(pid_t leader) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid(P_PID, (id_t)leader, &si, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
  return si.si_pid == leader;
}

/* Stops the whole run: SIGTERM (and SIGCONT, for stopped ranks), a grace
 * period for mpiexec to take its ranks down, then SIGKILL. */
static void stop_run(pid_t leader) {
  signal_run(leader, SIGTERM);
  signal_run(leader, SIGCONT);
  double until = now_s() + KV_GRACE_S;
  pid_t m[8];
  while (now_s() < until && !(leader_ended(leader) && session_members(leader, m, 8) == 0)) nap();
  signal_run(leader, SIGKILL);
}

/* Kills what is left of a run whose leader has ended, and waits (at most
 * 2 s) until nothing of the session is alive. */
static void sweep_run(pid_t leader) {
  pid_t m[8];
  if (session_members(leader, m, 8) == 0) return;
  double until = now_s() + 2.0;
  while (signal_run(leader, SIGKILL) > 0 && now_s() < until) nap();
}

/* The last line with a letter in it (not a rule of dashes, as Open MPI
 * draws around its messages) of what the run wrote to stderr, or "". */
static void last_words(FILE *cap, char *out, size_t size) {
  out[0] = '\0';
  if (!cap || fseek(cap, 0, SEEK_END) != 0) return;
  long end = ftell(cap);
  if (end <= 0) return;
  long from = end > 2000 ? end - 2000 : 0;
  char buf[2001];
  if (fseek(cap, from, SEEK_SET) != 0) return;
  size_t n = fread(buf, 1, (size_t)(end - from), cap);
  buf[n] = '\0';
  for (;;) {
    char *nl = strrchr(buf, '\n');
    char *line = nl ? nl + 1 : buf;
    bool letter = false;
    for (char *p = line; *p; p++) {
      if (isalpha((unsigned char)*p)) letter = true;
      if ((unsigned char)*p < 0x20) *p = ' ';
    }
    if (letter) {
      while (*line == ' ') line++;
      snprintf(out, size, "%.250s", line);
      return;
    }
    if (!nl) return;
    *nl = '\0';
  }
}

tps_status kv_run_kernel(const char *launcher, int ranks, const char *const *argv, FILE *log,
                         double timeout_s, tps_error *err) {
  if (kv_interrupted()) return kv_interrupted_error(err);
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
  /* Without a log the run's stderr is kept (an unlinked temporary file) so
   * that a failure can quote its last line. */
  FILE *cap = log ? NULL : tmpfile();
  fflush(stdout);
  fflush(stderr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    if (cap) fclose(cap);
    return tps_error_set(err, TPS_EIO, "", 0, 0, "cannot start %s: %s", launcher, strerror(errno));
  }
  if (pid == 0) {
    setsid(); /* a session (and process group) of its own: see the top */
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127); /* tp-sim already died */
#else
    (void)parent;
#endif
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
      dup2(fd, STDIN_FILENO);
      dup2(fd, STDOUT_FILENO);
      if (!log) dup2(cap ? fileno(cap) : fd, STDERR_FILENO);
      if (fd > STDERR_FILENO) close(fd);
    }
    execv(launcher, (char *const *)args);
    _exit(127);
  }
  g_child = pid;
  if (kv_interrupted()) on_signal(kv_interrupted()); /* came between the check and the fork */
  double start = now_s();
  bool timed_out = false, interrupted = false;
  for (;;) {
    if (leader_ended(pid)) break;
    if (kv_interrupted()) {
      interrupted = true;
      break;
    }
    if (timeout_s > 0 && now_s() - start >= timeout_s) {
      timed_out = true;
      break;
    }
    nap();
  }
  if (timed_out || interrupted) {
    if (log) {
      fprintf(log, "  %s: stopping tp-kernel (all its processes)\n", timed_out ? "timeout" : "interrupted");
      fflush(log);
    }
    stop_run(pid);
  }
  sweep_run(pid); /* nothing of the run survives it */
  int status = 0;
  pid_t got;
  while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  int wait_errno = got < 0 ? errno : 0;
  g_child = 0;
  char words[300];
  last_words(cap, words, sizeof words);
  if (cap) fclose(cap);
  if (interrupted || (kv_interrupted() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)))
    return kv_interrupted_error(err);
  if (timed_out) {
    tps_error_set(err, TPS_EIO, "", 0, 0,
                  "tp-kernel did not finish within %g s (--timeout); all its processes were stopped: %s",
                  timeout_s, cmd);
    tps_error_hint(err, "a rank stopped or deadlocked, or the run needs more time: give a larger --timeout");
    return TPS_EIO;
  }
  if (wait_errno)
    return tps_error_set(err, TPS_EIO, "", 0, 0, "cannot tell how tp-kernel ended (waitpid: %s): %s",
                         strerror(wait_errno), cmd);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return TPS_OK;
  if (WIFEXITED(status))
    tps_error_set(err, TPS_EIO, "", 0, 0, "tp-kernel failed (exit status %d): %s", WEXITSTATUS(status), cmd);
  else
    tps_error_set(err, TPS_EIO, "", 0, 0, "tp-kernel failed (killed by %s, signal %d): %s",
                  signal_name(WTERMSIG(status)), WTERMSIG(status), cmd);
  if (words[0])
    tps_error_hint(err, "its last words: %.200s", words);
  else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    tps_error_hint(err, "exit status 127: the launcher or the MPI launcher it runs (mpiexec, $TPSIM_MPIEXEC) "
                        "could not be executed");
  return TPS_EIO;
}

double kv_loadavg(void) {
  FILE *f = fopen("/proc/loadavg", "r");
  double v = -1.0;
  if (!f) return v;
  if (fscanf(f, "%lf", &v) != 1) v = -1.0;
  fclose(f);
  return v;
}
