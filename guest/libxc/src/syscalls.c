/* syscalls.c: the POSIX wrappers around the Linux riscv32 system calls. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* errno is per thread: __errno_location is in thread.c. */
long __xc_ret(long r) {
  if (r < 0 && r > -4096) {
    errno = (int)-r;
    return -1;
  }
  return r;
}

void __xc_exit_now(int status) {
  for (;;) xc_syscall1(SYS_exit_group, status);
}

void _exit(int status) {
  __xc_exit_now(status);
}

ssize_t read(int fd, void *buf, size_t n) {
  return __xc_ret(xc_syscall3(SYS_read, fd, buf, n));
}

ssize_t write(int fd, const void *buf, size_t n) {
  return __xc_ret(xc_syscall3(SYS_write, fd, buf, n));
}

int openat(int dirfd, const char *path, int flags, ...) {
  mode_t mode = 0;
  if (flags & O_CREAT) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  return (int)__xc_ret(xc_syscall4(SYS_openat, dirfd, path, flags, mode));
}

int open(const char *path, int flags, ...) {
  mode_t mode = 0;
  if (flags & O_CREAT) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  return (int)__xc_ret(xc_syscall4(SYS_openat, AT_FDCWD, path, flags, mode));
}

int close(int fd) {
  return (int)__xc_ret(xc_syscall1(SYS_close, fd));
}

off_t lseek(int fd, off_t off, int whence) {
  off_t result = 0;
  long r = xc_syscall5(SYS_llseek, fd, (long)(off >> 32), (long)off, &result, whence);
  if (__xc_ret(r) < 0) return -1;
  return result;
}

ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  return __xc_ret(xc_syscall5(SYS_pread64, fd, buf, n, (long)off, (long)(off >> 32)));
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  return __xc_ret(xc_syscall5(SYS_pwrite64, fd, buf, n, (long)off, (long)(off >> 32)));
}

int ftruncate(int fd, off_t len) {
  return (int)__xc_ret(xc_syscall3(SYS_ftruncate64, fd, (long)len, (long)(len >> 32)));
}

int fallocate(int fd, int mode, off_t off, off_t len) {
  return (int)__xc_ret(xc_syscall6(SYS_fallocate, fd, mode, (long)off, (long)(off >> 32),
                                   (long)len, (long)(len >> 32)));
}

_Static_assert(sizeof(struct statx) == 256, "struct statx size");
_Static_assert(__builtin_offsetof(struct statx, stx_rdev_major) == 128, "stx_rdev_major");

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
  return (int)__xc_ret(xc_syscall5(SYS_statx, dirfd, path, flags, mask, buf));
}

/* Linux's new_encode_dev. */
static unsigned long long encode_dev(unsigned int major, unsigned int minor) {
  return (minor & 0xff) | ((major & 0xfff) << 8) | ((unsigned long long)(minor & ~0xffu) << 12);
}

/* fstat on statx(fd, "", AT_EMPTY_PATH), as musl does on riscv32. */
int fstat(int fd, struct stat *st) {
  struct statx x;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &x) < 0) return -1;
  *st = (struct stat){
      .st_dev = encode_dev(x.stx_dev_major, x.stx_dev_minor),
      .st_ino = x.stx_ino,
      .st_mode = x.stx_mode,
      .st_nlink = x.stx_nlink,
      .st_uid = x.stx_uid,
      .st_gid = x.stx_gid,
      .st_rdev = encode_dev(x.stx_rdev_major, x.stx_rdev_minor),
      .st_size = (long long)x.stx_size,
      .st_blksize = (int)x.stx_blksize,
      .st_blocks = (long long)x.stx_blocks,
      .st_atime_sec = (int)x.stx_atime.tv_sec,
      .st_atime_nsec = x.stx_atime.tv_nsec,
      .st_mtime_sec = (int)x.stx_mtime.tv_sec,
      .st_mtime_nsec = x.stx_mtime.tv_nsec,
      .st_ctime_sec = (int)x.stx_ctime.tv_sec,
      .st_ctime_nsec = x.stx_ctime.tv_nsec,
  };
  return 0;
}

/* rename on renameat2 with no flags: riscv32 has neither rename nor renameat. */
int rename(const char *oldpath, const char *newpath) {
  return (int)__xc_ret(xc_syscall5(SYS_renameat2, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0));
}

int fsync(int fd) {
  return (int)__xc_ret(xc_syscall1(SYS_fsync, fd));
}

int unlinkat(int dirfd, const char *path, int flags) {
  return (int)__xc_ret(xc_syscall3(SYS_unlinkat, dirfd, path, flags));
}

int mkdir(const char *path, mode_t mode) {
  return (int)__xc_ret(xc_syscall3(SYS_mkdirat, AT_FDCWD, path, mode));
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags) {
  return (int)__xc_ret(xc_syscall5(SYS_linkat, olddirfd, oldpath, newdirfd, newpath, flags));
}

int link(const char *oldpath, const char *newpath) {
  return linkat(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}

int unlink(const char *path) {
  return unlinkat(AT_FDCWD, path, 0);
}

int rmdir(const char *path) {
  return unlinkat(AT_FDCWD, path, AT_REMOVEDIR);
}

ssize_t getdents64(int fd, void *buf, size_t n) {
  return __xc_ret(xc_syscall3(SYS_getdents64, fd, buf, n));
}

ssize_t readv(int fd, const struct iovec *iov, int cnt) {
  return __xc_ret(xc_syscall3(SYS_readv, fd, iov, cnt));
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  return __xc_ret(xc_syscall3(SYS_writev, fd, iov, cnt));
}

ssize_t sendfile(int out_fd, int in_fd, off_t *off, size_t n) {
  return __xc_ret(xc_syscall4(SYS_sendfile64, out_fd, in_fd, off, n));
}

pid_t getpid(void) {
  return (pid_t)xc_syscall0(SYS_getpid);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (off & 4095) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  long r = xc_syscall6(SYS_mmap2, (long)addr, (long)len, prot, flags, fd, (long)(off >> 12));
  return (void *)__xc_ret(r);
}

int munmap(void *addr, size_t len) {
  return (int)__xc_ret(xc_syscall2(SYS_munmap, addr, len));
}

int mprotect(void *addr, size_t len, int prot) {
  return (int)__xc_ret(xc_syscall3(SYS_mprotect, addr, len, prot));
}

int msync(void *addr, size_t len, int flags) {
  return (int)__xc_ret(xc_syscall3(SYS_msync, addr, len, flags));
}

int madvise(void *addr, size_t len, int advice) {
  return (int)__xc_ret(xc_syscall3(SYS_madvise, addr, len, advice));
}

/* The kernel's brk returns the new break on success, which is exactly the
 * address asked for, and the unchanged old break when it refuses. */
static unsigned long cur_brk;

int brk(void *addr) {
  long r = xc_syscall1(SYS_brk, addr);
  if (r < 0 && r > -4096) return (int)__xc_ret(r); /* a runtime without brk */
  cur_brk = (unsigned long)r;
  if (cur_brk != (unsigned long)addr) {
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

void *sbrk(long incr) {
  if (cur_brk == 0) {
    long r = xc_syscall1(SYS_brk, 0);
    if (r < 0 && r > -4096) return (void *)__xc_ret(r);
    cur_brk = (unsigned long)r;
  }
  unsigned long old = cur_brk;
  if (incr == 0) return (void *)old;
  if (brk((void *)(old + incr)) < 0) return (void *)-1;
  return (void *)old;
}

/* clock_gettime64 writes a 64-bit tv_nsec; copy it into the user struct. */
int clock_gettime(clockid_t clk, struct timespec *ts) {
  long long kts[2];
  long r = __xc_ret(xc_syscall2(SYS_clock_gettime64, clk, kts));
  if (r < 0) return -1;
  ts->tv_sec = kts[0];
  ts->tv_nsec = (long)kts[1];
  return 0;
}

/* ppoll_time64 takes a 64-bit timespec; the struct's long tv_nsec is widened. */
int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask) {
  long long kts[2];
  if (tmo) {
    kts[0] = tmo->tv_sec;
    kts[1] = tmo->tv_nsec;
  }
  return (int)__xc_ret(xc_syscall5(SYS_ppoll_time64, fds, n, tmo ? kts : 0, mask, 8));
}

int poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
  struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  return ppoll(fds, n, timeout_ms < 0 ? 0 : &ts, 0);
}

/* struct stat keeps the asm-generic stat64 layout (fstat fills it from statx). */
_Static_assert(sizeof(struct stat) == 104, "struct stat size");
_Static_assert(__builtin_offsetof(struct stat, st_mode) == 16, "st_mode");
_Static_assert(__builtin_offsetof(struct stat, st_size) == 48, "st_size");
_Static_assert(__builtin_offsetof(struct stat, st_blocks) == 64, "st_blocks");
_Static_assert(__builtin_offsetof(struct stat, st_mtime_sec) == 80, "st_mtime");
