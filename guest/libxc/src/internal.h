/* internal.h: what libxc's own files share and programs never see.
 *
 * System calls follow the Linux riscv32 convention: number in a7,
 * arguments in a0..a5, result in a0, where -4095..-1 is a negated errno.
 * A 64-bit argument takes two consecutive registers, low word first, with
 * no even-register alignment (checked against qemu-riscv32). */
#ifndef XC_INTERNAL_H
#define XC_INTERNAL_H

#include <stddef.h>

#define HIDDEN __attribute__((visibility("hidden")))

enum {
  SYS_dup = 23,
  SYS_dup3 = 24,
  SYS_fcntl64 = 25,
  SYS_mkdirat = 34,
  SYS_unlinkat = 35,
  SYS_linkat = 37,
  SYS_ftruncate64 = 46,  /* fd, len_lo, len_hi */
  SYS_fallocate = 47,    /* fd, mode, off_lo, off_hi, len_lo, len_hi */
  SYS_openat = 56,
  SYS_close = 57,
  SYS_pipe2 = 59,
  SYS_getdents64 = 61,
  SYS_llseek = 62,       /* fd, off_hi, off_lo, loff_t *result, whence */
  SYS_read = 63,
  SYS_write = 64,
  SYS_readv = 65,
  SYS_writev = 66,
  SYS_pread64 = 67,      /* fd, buf, n, off_lo, off_hi */
  SYS_pwrite64 = 68,     /* fd, buf, n, off_lo, off_hi */
  SYS_sendfile64 = 71,   /* out, in, loff_t *off, n */

  SYS_fsync = 82,
  SYS_exit = 93,
  SYS_exit_group = 94,
  SYS_waitid = 95,       /* idtype, id, siginfo_t *, options, rusage * */
  SYS_set_tid_address = 96,
  SYS_setpgid = 154,
  SYS_getpgid = 155,
  SYS_setsid = 157,
  SYS_getpid = 172,
  SYS_getppid = 173,
  SYS_brk = 214,
  SYS_munmap = 215,
  SYS_clone = 220,       /* flags, newsp, parent_tid, tls, child_tid */
  SYS_execve = 221,
  SYS_mmap2 = 222,       /* addr, len, prot, flags, fd, offset / 4096 */
  SYS_mprotect = 226,
  SYS_msync = 227,
  SYS_madvise = 233,
  SYS_renameat2 = 276,   /* olddirfd, oldpath, newdirfd, newpath, flags */
  SYS_statx = 291,       /* dirfd, path, flags, mask, struct statx * */
  SYS_clock_gettime64 = 403,
  SYS_ppoll_time64 = 414, /* fds, nfds, struct __kernel_timespec *, sigset_t *, 8 */
  SYS_futex_time64 = 422, /* uaddr, op, val, timeout (always 0 here) */
};

static inline long xc_syscall6(long n, long a, long b, long c, long d, long e, long f) {
  register long a0 __asm__("a0") = a;
  register long a1 __asm__("a1") = b;
  register long a2 __asm__("a2") = c;
  register long a3 __asm__("a3") = d;
  register long a4 __asm__("a4") = e;
  register long a5 __asm__("a5") = f;
  register long a7 __asm__("a7") = n;
  __asm__ volatile("ecall"
                   : "+r"(a0)
                   : "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a5), "r"(a7)
                   : "memory");
  return a0;
}

#define xc_syscall0(n) xc_syscall6(n, 0, 0, 0, 0, 0, 0)
#define xc_syscall1(n, a) xc_syscall6(n, (long)(a), 0, 0, 0, 0, 0)
#define xc_syscall2(n, a, b) xc_syscall6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define xc_syscall3(n, a, b, c) xc_syscall6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define xc_syscall4(n, a, b, c, d) \
  xc_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define xc_syscall5(n, a, b, c, d, e) \
  xc_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* Turn a raw kernel result into the POSIX convention: -1 and errno. */
HIDDEN long __xc_ret(long r);

/* exit_group without flushing anything. */
HIDDEN void __xc_exit_now(int status) __attribute__((noreturn));

/* Flush every open stdio stream (exit() calls it). */
HIDDEN void __xc_stdio_flush_all(void);

/* Write a string straight to fd 2, bypassing stdio (used by abort paths). */
HIDDEN void __xc_die(const char *msg) __attribute__((noreturn));

#endif
