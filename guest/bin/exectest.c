/* exectest: execve from a running process.
 *
 *   exectest            run the checks below, one fixed line each
 *   exectest show PID   what the checks exec: print argv[3..], $XIPVAR and
 *                       whether fds 3 and 4 are open, then exit 3 when its
 *                       pid is PID (exec keeps the pid), 4 otherwise
 *
 * The checks: execve of a missing file and of a file that is no program
 * fail and leave the caller running; fork + execve passes argv and envp,
 * keeps the pid, closes the O_CLOEXEC fd and keeps the other; vfork
 * (clone CLONE_VM|CLONE_VFORK, as posix_spawn) + execve resumes the parent
 * once the child exec'd; a vfork child whose execve fails exits 127.
 * argv[0] must be the program's own path (it execs itself). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *self;

static const char *errname(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case ENOEXEC: return "ENOEXEC";
    case EACCES: return "EACCES";
    case ENOTDIR: return "ENOTDIR";
    default: return "other";
  }
}

static int show(int argc, char **argv) {
  printf("show:");
  for (int i = 3; i < argc; i++) printf(" %s", argv[i]);
  const char *v = getenv("XIPVAR");
  struct stat st;
  printf(" | XIPVAR=%s | fd 3 %s, fd 4 %s", v ? v : "(unset)",
         fstat(3, &st) < 0 ? "closed" : "open", fstat(4, &st) < 0 ? "closed" : "open");
  /* What execve keeps of the signal state: ignored stays ignored, a handler
   * becomes the default, the mask and pending signals stay. */
  struct sigaction u1, u2;
  sigaction(SIGUSR1, 0, &u1);
  sigaction(SIGUSR2, 0, &u2);
  sigset_t mask, pend;
  sigprocmask(SIG_BLOCK, 0, &mask);
  sigpending(&pend);
  printf(" | USR1 %s, USR2 %s, TERM %s%s\n", u1.sa_handler == SIG_DFL ? "default" : "not default",
         u2.sa_handler == SIG_IGN ? "ignored" : "not ignored",
         sigismember(&mask, SIGTERM) ? "blocked" : "unblocked",
         sigismember(&pend, SIGTERM) ? " and pending" : "");
  return getpid() == atoi(argv[2]) ? 3 : 4;
}

static void report(const char *what, pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) printf("%s: waitpid failed\n", what);
  else if (WIFEXITED(st)) printf("%s: exited %d\n", what, WEXITSTATUS(st));
  else printf("%s: killed by signal %d\n", what, WTERMSIG(st));
}

static void on_usr1(int sig) { (void)sig; }

/* A handler, an ignored signal, a blocked one left pending: for show. */
static void signal_state(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, 0);
  signal(SIGUSR2, SIG_IGN);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, 0);
  raise(SIGTERM);
}

static void exec_show(const char *tag) {
  char pid[16];
  snprintf(pid, sizeof pid, "%d", getpid());
  char *argv[] = {(char *)self, "show", pid, (char *)tag, "two words", 0};
  char *envp[] = {"XIPVAR=42", "OTHER=x", 0};
  execve(self, argv, envp);
  _exit(127);
}

static char vfork_stack[16384];

static int vfork_child(void *tag) {
  if (tag) exec_show((const char *)tag);
  char *argv[] = {"nothing", 0};
  execve("/no/such/program", argv, 0);
  return 127;
}

int main(int argc, char **argv) {
  self = argv[0];
  if (argc >= 3 && !strcmp(argv[1], "show")) return show(argc, argv);

  char *none[] = {"x", 0};
  int r = execve("/no/such/program", none, 0);
  printf("execve of a missing file: %d %s, still running\n", r, errname(errno));
  r = execve("/etc/motd", none, 0);
  printf("execve of a text file: %d %s, still running\n", r, errname(errno));
  r = execve("/bin", none, 0);
  printf("execve of a directory: %d %s, still running\n", r, errname(errno));

  int a = open("/etc/motd", O_RDONLY | O_CLOEXEC);
  int b = open("/etc/motd", O_RDONLY);
  if (a != 3 || b != 4) {
    printf("setup: fds %d %d, wanted 3 4\n", a, b);
    return 1;
  }
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    signal_state();
    exec_show("fork");
  }
  report("fork + exec", c);

  fflush(stdout);
  int v = __xc_clone(vfork_child, vfork_stack + sizeof vfork_stack,
                     CLONE_VM | CLONE_VFORK | 17, "vfork", 0, 0, 0);
  printf("vfork parent resumed\n");
  report("vfork + exec", v);
  fflush(stdout);
  v = __xc_clone(vfork_child, vfork_stack + sizeof vfork_stack, CLONE_VM | CLONE_VFORK | 17, 0,
                 0, 0, 0);
  report("vfork + failed exec", v);
  return 0;
}
