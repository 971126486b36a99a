/**
 * System V IPC as the Linux riscv32 ABI defines it: flags and commands
 * (include/uapi/linux/ipc.h, shm.h, sem.h, msg.h), the default limits, and
 * the byte layouts of the structures the calls copy in and out. riscv32
 * has no old IPC layouts: the kernel always uses the "64" structures
 * (asm-generic ipcbuf.h, shmbuf.h, sembuf.h, msgbuf.h, 32-bit branch, with
 * split 64-bit times), and a command carrying IPC_64 (0x100) is refused
 * with EINVAL, as Linux without ARCH_WANT_IPC_PARSE_VERSION does. musl
 * 1.2.5 (IPC_64 is 0 on riscv32) copies these into its time64 structures.
 *
 * @module
 */

// ipc.h
export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000;
export const IPC_EXCL = 0o2000;
export const IPC_NOWAIT = 0o4000;
export const IPC_RMID = 0;
export const IPC_SET = 1;
export const IPC_STAT = 2;
export const IPC_INFO = 3;
/** The "new layout" bit old ABIs pass in a command; riscv refuses it. */
export const IPC_64 = 0x100;

// shm.h
export const SHM_RDONLY = 0o10000;
export const SHM_RND = 0o20000;
export const SHM_REMAP = 0o40000;
export const SHM_EXEC = 0o100000;
export const SHM_LOCK = 11;
export const SHM_UNLOCK = 12;
export const SHM_STAT = 13;
export const SHM_INFO = 14;
export const SHM_STAT_ANY = 15;
/** Mode bits the kernel keeps in shm_perm.mode: the segment is destroyed at its last detach. */
export const SHM_DEST = 0o1000;
export const SHM_LOCKED = 0o2000;
/** shmget flags accepted and ignored (no huge pages; memory is never reserved). */
export const SHM_HUGETLB = 0o4000;
export const SHM_NORESERVE = 0o10000;
/** Attach addresses are aligned to this (riscv's SHMLBA is PAGE_SIZE). */
export const SHMLBA = 4096;
export const SHMMIN = 1;
/** ULONG_MAX - (1 << 24) on 32 bits: Linux's default SHMMAX and SHMALL. */
export const SHMMAX = 0xfeff_ffff;
export const SHMALL = 0xfeff_ffff;

// sem.h
export const SEM_UNDO = 0x1000;
export const GETPID = 11;
export const GETVAL = 12;
export const GETALL = 13;
export const GETNCNT = 14;
export const GETZCNT = 15;
export const SETVAL = 16;
export const SETALL = 17;
export const SEM_STAT = 18;
export const SEM_INFO = 19;
export const SEM_STAT_ANY = 20;
/** Linux's defaults: semaphores per set, operations per semop, largest value. */
export const SEMMSL = 32000;
export const SEMOPM = 500;
export const SEMVMX = 32767;
/** Largest undo adjustment (SEMAEM = SEMVMX). */
export const SEMAEM = SEMVMX;

// msg.h
export const MSG_NOERROR = 0o10000;
export const MSG_EXCEPT = 0o20000;
export const MSG_COPY = 0o40000;
export const MSG_STAT = 11;
export const MSG_INFO = 12;
export const MSG_STAT_ANY = 13;
/** Linux's defaults: largest message, default queue size in bytes. */
export const MSGMAX = 8192;
export const MSGMNB = 16384;

/** Ids are seq * IPCMNI + index (Linux's ipc_buildid, IPCMNI 32768). */
export const IPCMNI = 32768;

/** struct ipc64_perm (36 bytes), byte offsets. */
export const IPC64_PERM = {
  key: 0,
  uid: 4,
  gid: 8,
  cuid: 12,
  cgid: 16,
  mode: 20,
  /** unsigned short seq. */
  seq: 24,
} as const;
export const IPC64_PERM_BYTES = 36;

/** struct shmid64_ds, 32-bit (84 bytes). Times are split: low word, then high. */
export const SHMID64 = {
  perm: 0,
  segsz: 36,
  atime: 40,
  dtime: 48,
  ctime: 56,
  cpid: 64,
  lpid: 68,
  nattch: 72,
} as const;
export const SHMID64_BYTES = 84;

/** struct semid64_ds, 32-bit (64 bytes). */
export const SEMID64 = {
  perm: 0,
  otime: 36,
  ctime: 44,
  nsems: 52,
} as const;
export const SEMID64_BYTES = 64;

/** struct msqid64_ds, 32-bit (88 bytes). */
export const MSQID64 = {
  perm: 0,
  stime: 36,
  rtime: 44,
  ctime: 52,
  cbytes: 60,
  qnum: 64,
  qbytes: 68,
  lspid: 72,
  lrpid: 76,
} as const;
export const MSQID64_BYTES = 88;

/** struct sembuf: unsigned short sem_num, short sem_op, short sem_flg (6 bytes). */
export const SEMBUF = { num: 0, op: 2, flg: 4 } as const;
export const SEMBUF_BYTES = 6;

/** struct shminfo: shmmax, shmmin, shmmni, shmseg, shmall, 4 unused (unsigned long each). */
export const SHMINFO_BYTES = 36;
/** struct shm_info: used_ids, shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes. */
export const SHM_INFO_BYTES = 24;
/** struct seminfo: ten ints (semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem). */
export const SEMINFO_BYTES = 40;
/** struct msginfo: msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql (int), msgseg (unsigned short). */
export const MSGINFO_BYTES = 32;
