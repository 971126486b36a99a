/* unistd.h: thin system-call wrappers. On failure they return -1 and set
 * errno, as POSIX says. */
#ifndef XC_UNISTD_H
#define XC_UNISTD_H

#include <sys/types.h>

#define STDIN_FILENO 0
#define STDOUT_FILENO 1
#define STDERR_FILENO 2

#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2

ssize_t read(int fd, void *buf, size_t n);
ssize_t write(int fd, const void *buf, size_t n);
int close(int fd);
off_t lseek(int fd, off_t off, int whence);
ssize_t pread(int fd, void *buf, size_t n, off_t off);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off);
int ftruncate(int fd, off_t len);
int fsync(int fd);
int link(const char *oldpath, const char *newpath);
int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);
int unlink(const char *path);
int unlinkat(int dirfd, const char *path, int flags);
int rmdir(const char *path);
pid_t getpid(void);
pid_t getppid(void);

/* Processes (process.c). riscv32 has no fork, vfork or wait4 system calls:
 * fork is clone(SIGCHLD), and waitpid (sys/wait.h) is made from waitid. */
pid_t fork(void);
int execve(const char *path, char *const argv[], char *const envp[]);
int execv(const char *path, char *const argv[]);
/* execvp: a name without '/' is looked up in $PATH (default "/bin"). */
int execvp(const char *file, char *const argv[]);
int pipe(int fds[2]);
int pipe2(int fds[2], int flags);
int dup(int fd);
int dup2(int oldfd, int newfd);
int dup3(int oldfd, int newfd, int flags);
/* clone(flags, stack, ptid, tls, ctid) and, in the child, exit(fn(arg))
 * on `stack` (its top). Returns the child's tid, or -errno (not errno). */
int __xc_clone(int (*fn)(void *), void *stack, int flags, void *arg, pid_t *ptid, void *tls,
               pid_t *ctid);
#define CLONE_VM 0x100
#define CLONE_VFORK 0x4000
int setpgid(pid_t pid, pid_t pgid);
pid_t getpgid(pid_t pid);
pid_t setsid(void);

/* The environment. A function, not a variable, so programs never need a
 * copy relocation against libc.so (as errno). */
char ***__environ_location(void);
#define environ (*__environ_location())
int brk(void *addr);
void *sbrk(long incr);
void _exit(int status) __attribute__((noreturn));

/* getdents64 fills buf with struct linux_dirent64 records:
 * u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[]. */
struct linux_dirent64 {
  unsigned long long d_ino;
  long long d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};
ssize_t getdents64(int fd, void *buf, size_t n);

#endif
