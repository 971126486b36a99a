/* process.c: fork, exec, wait, pipes and fd duplication.
 *
 * riscv32 Linux has neither fork nor wait4 nor pipe nor dup2: fork is
 * clone with only SIGCHLD as the exit signal, waitpid is waitid plus the
 * status-word encoding, pipe is pipe2, dup2 is dup3 (or a check that the
 * fd is open when both are the same). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define SIGCHLD 17

pid_t fork(void) {
  return (pid_t)__xc_ret(xc_syscall5(SYS_clone, SIGCHLD, 0, 0, 0, 0));
}

int execve(const char *path, char *const argv[], char *const envp[]) {
  return (int)__xc_ret(xc_syscall3(SYS_execve, path, argv, envp));
}

int execv(const char *path, char *const argv[]) {
  return execve(path, argv, environ);
}

int execvp(const char *file, char *const argv[]) {
  if (strchr(file, '/')) return execv(file, argv);
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/bin";
  size_t flen = strlen(file);
  char buf[512];
  int err = ENOENT;
  for (const char *p = path;; p++) {
    const char *end = strchr(p, ':');
    size_t dlen = end ? (size_t)(end - p) : strlen(p);
    if (dlen + 1 + flen + 1 <= sizeof buf) {
      memcpy(buf, p, dlen);
      buf[dlen] = '/';
      memcpy(buf + dlen + 1, file, flen + 1);
      execv(dlen ? buf : file, argv);
      /* Keep looking past a missing file; remember why anything else failed. */
      if (errno != ENOENT && errno != ENOTDIR) err = errno;
    }
    if (!end) break;
    p = end;
  }
  errno = err;
  return -1;
}

int waitid(idtype_t idtype, pid_t id, siginfo_t *info, int options) {
  return (int)__xc_ret(xc_syscall5(SYS_waitid, idtype, id, info, options, 0));
}

/* The wait4 status word for what waitid reported. */
static int status_word(const siginfo_t *si) {
  switch (si->si_code) {
    case CLD_EXITED:
      return (si->si_status & 0xff) << 8;
    case CLD_KILLED:
      return si->si_status & 0x7f;
    case CLD_DUMPED:
      return (si->si_status & 0x7f) | 0x80;
    case CLD_CONTINUED:
      return 0xffff;
    default: /* CLD_STOPPED, CLD_TRAPPED */
      return ((si->si_status & 0xff) << 8) | 0x7f;
  }
}

pid_t waitpid(pid_t pid, int *status, int options) {
  idtype_t type = P_PID;
  if (pid == -1) {
    type = P_ALL;
    pid = 0;
  } else if (pid <= 0) {
    type = P_PGID;
    pid = -pid;
  }
  siginfo_t si;
  si.si_pid = 0;
  if (waitid(type, pid, &si, options | WEXITED) < 0) return -1;
  if (si.si_pid == 0) return 0; /* WNOHANG, nothing ready */
  if (status) *status = status_word(&si);
  return si.si_pid;
}

pid_t wait(int *status) {
  return waitpid(-1, status, 0);
}

int pipe2(int fds[2], int flags) {
  return (int)__xc_ret(xc_syscall2(SYS_pipe2, fds, flags));
}

int pipe(int fds[2]) {
  return pipe2(fds, 0);
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  return (int)__xc_ret(xc_syscall3(SYS_fcntl64, fd, cmd, arg));
}

int dup(int fd) {
  return (int)__xc_ret(xc_syscall1(SYS_dup, fd));
}

int dup3(int oldfd, int newfd, int flags) {
  return (int)__xc_ret(xc_syscall3(SYS_dup3, oldfd, newfd, flags));
}

int dup2(int oldfd, int newfd) {
  if (oldfd == newfd) {
    /* dup3 refuses equal fds; dup2 returns newfd when oldfd is open. */
    if (fcntl(oldfd, F_GETFD) < 0) return -1;
    return newfd;
  }
  return dup3(oldfd, newfd, 0);
}

pid_t getppid(void) {
  return (pid_t)xc_syscall0(SYS_getppid);
}

int setpgid(pid_t pid, pid_t pgid) {
  return (int)__xc_ret(xc_syscall2(SYS_setpgid, pid, pgid));
}

pid_t getpgid(pid_t pid) {
  return (pid_t)__xc_ret(xc_syscall1(SYS_getpgid, pid));
}

pid_t setsid(void) {
  return (pid_t)__xc_ret(xc_syscall0(SYS_setsid));
}

/* int __xc_clone(int (*fn)(void *), void *stack, int flags, void *arg,
 *                pid_t *ptid, void *tls, pid_t *ctid)
 * clone(flags, stack, ptid, tls, ctid), then in the child call fn(arg) on
 * the new stack and exit with its result. fn and arg ride in t0 and t1,
 * which the child inherits with every other register, so nothing has to
 * be stored on either stack. The parent gets the child's tid or -errno. */
__asm__(".text\n"
        ".globl __xc_clone\n"
        ".type __xc_clone, @function\n"
        "__xc_clone:\n"
        "  mv t0, a0\n"
        "  mv t1, a3\n"
        "  andi a1, a1, -16\n"
        "  mv a0, a2\n"
        "  mv a2, a4\n"
        "  mv a3, a5\n"
        "  mv a4, a6\n"
        "  li a7, 220\n"
        "  ecall\n"
        "  bnez a0, 1f\n"
        "  mv a0, t1\n"
        "  jalr t0\n"
        "  li a7, 93\n"
        "  ecall\n"
        "1:\n"
        "  ret\n"
        ".size __xc_clone, . - __xc_clone\n");
