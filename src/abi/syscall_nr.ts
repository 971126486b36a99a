/**
 * Linux riscv32 system-call numbers (asm-generic/unistd.h, which riscv uses)
 * for the calls xip implements. riscv32 has no time32 or stat64 calls: no
 * fstat (80) or fstatat (79), no renameat (38), no futex (98), no
 * nanosleep (101); statx, renameat2, futex_time64 and
 * clock_nanosleep_time64 replace them, and those numbers are -ENOSYS.
 * syscall_names.ts names every number of the ABI.
 *
 * @module
 */

export const SYS_getcwd = 17;
export const SYS_dup = 23;
export const SYS_dup3 = 24;
export const SYS_fcntl64 = 25;
export const SYS_ioctl = 29;
export const SYS_mkdirat = 34;
export const SYS_unlinkat = 35;
export const SYS_symlinkat = 36;
export const SYS_linkat = 37;
export const SYS_statfs64 = 43;
export const SYS_fstatfs64 = 44;
/** truncate64: path, length low word, length high word. */
export const SYS_truncate64 = 45;
/** riscv32 names it ftruncate64: fd, length low word, length high word. */
export const SYS_ftruncate64 = 46;
/** fallocate: fd, mode, offset low, offset high, len low, len high. */
export const SYS_fallocate = 47;
export const SYS_faccessat = 48;
export const SYS_chdir = 49;
export const SYS_fchdir = 50;
export const SYS_openat = 56;
export const SYS_close = 57;
export const SYS_pipe2 = 59;
export const SYS_getdents64 = 61;
/** riscv32 has no lseek, only llseek: fd, offset high, offset low, loff_t *result, whence. */
export const SYS_llseek = 62;
export const SYS_read = 63;
export const SYS_write = 64;
export const SYS_readv = 65;
export const SYS_writev = 66;
export const SYS_pread64 = 67;
export const SYS_pwrite64 = 68;
/** preadv/pwritev: fd, iov, cnt, offset low word, offset high word. */
export const SYS_preadv = 69;
export const SYS_pwritev = 70;
export const SYS_sendfile64 = 71;
export const SYS_readlinkat = 78;
export const SYS_fsync = 82;
export const SYS_fdatasync = 83;
export const SYS_exit = 93;
export const SYS_exit_group = 94;
export const SYS_waitid = 95;
export const SYS_set_tid_address = 96;
export const SYS_set_robust_list = 99;
export const SYS_sched_getaffinity = 123;
export const SYS_sched_yield = 124;
export const SYS_kill = 129;
export const SYS_tgkill = 131;
export const SYS_times = 153;
export const SYS_setreuid = 145;
export const SYS_setuid = 146;
export const SYS_setresuid = 147;
export const SYS_getresuid = 148;
export const SYS_setpgid = 154;
export const SYS_getpgid = 155;
export const SYS_getsid = 156;
export const SYS_setsid = 157;
export const SYS_uname = 160;
export const SYS_getrusage = 165;
export const SYS_umask = 166;
export const SYS_prctl = 167;
export const SYS_getpid = 172;
export const SYS_getppid = 173;
export const SYS_getuid = 174;
export const SYS_geteuid = 175;
export const SYS_getgid = 176;
export const SYS_getegid = 177;
export const SYS_gettid = 178;
export const SYS_sysinfo = 179;
export const SYS_brk = 214;
export const SYS_munmap = 215;
/** clone(flags, newsp, parent_tid, tls, child_tid): riscv's argument order. */
export const SYS_clone = 220;
export const SYS_execve = 221;
/** mmap2: the offset argument counts 4096-byte units. */
export const SYS_mmap2 = 222;
export const SYS_mprotect = 226;
export const SYS_msync = 227;
export const SYS_madvise = 233;
/** Not in riscv32's table (no 32-bit time rusage); xip answers it as the generic 260. */
export const SYS_wait4 = 260;
export const SYS_prlimit64 = 261;
export const SYS_renameat2 = 276;
export const SYS_getrandom = 278;
export const SYS_membarrier = 283;
/** preadv2/pwritev2: fd, iov, cnt, offset low, offset high, flags (RWF_*). */
export const SYS_preadv2 = 286;
export const SYS_pwritev2 = 287;
export const SYS_statx = 291;
export const SYS_clock_gettime64 = 403;
export const SYS_clock_getres_time64 = 406;
export const SYS_clock_nanosleep_time64 = 407;
export const SYS_ppoll_time64 = 414;
export const SYS_futex_time64 = 422;
export const SYS_faccessat2 = 439;
// System V IPC (asm-generic: one number per call, no ipc(2)).
export const SYS_msgget = 186;
export const SYS_msgctl = 187;
export const SYS_msgrcv = 188;
export const SYS_msgsnd = 189;
export const SYS_semget = 190;
export const SYS_semctl = 191;
export const SYS_semop = 193;
export const SYS_shmget = 194;
export const SYS_shmctl = 195;
export const SYS_shmat = 196;
export const SYS_shmdt = 197;
/** semtimedop with a 64-bit timespec (riscv32 has no time32 semtimedop, 192). */
export const SYS_semtimedop_time64 = 420;
// Sockets (asm-generic: one number per call, no socketcall(2)).
export const SYS_socket = 198;
export const SYS_socketpair = 199;
export const SYS_bind = 200;
export const SYS_listen = 201;
export const SYS_accept = 202;
export const SYS_connect = 203;
export const SYS_getsockname = 204;
export const SYS_getpeername = 205;
export const SYS_sendto = 206;
export const SYS_recvfrom = 207;
export const SYS_setsockopt = 208;
export const SYS_getsockopt = 209;
export const SYS_shutdown = 210;
export const SYS_sendmsg = 211;
export const SYS_recvmsg = 212;
export const SYS_accept4 = 242;
