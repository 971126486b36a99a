/**
 * The `ipc` region of the kernel tables: shared memory and inter-process
 * communication, in shared memory because every process is a Worker.
 * Placed by computeLayout (layout/mod.ts) as one region; its parts:
 *
 * ```
 *  +--------+--------------------+--------------------+
 *  | SHMHDR | SHMI records       | TDIRENT records    |
 *  |        | one per icache slot| tmpfs directory    |
 *  |        | (shmem inodes)     | entries            |
 *  +--------+--------------------+--------------------+
 *  | SVHDR shm | SHMID records (System V shared memory segments)  |
 *  | SVHDR sem | SEMID records | SEM pool | SEMUNDO | SEMWAIT/task |
 *  | SVHDR msg | MSQ records (queues, their text in RAM pages)     |
 *  | SOCKHDR   | SOCK records (AF_UNIX sockets)                    |
 *  +-------------------------------------------------------------+
 * ```
 *
 * shmem (src/fs/shmem.ts): a shmem inode is an in-memory inode with no
 * backing store, Linux's mm/shmem.c. It takes an inode-cache slot (ISLOT:
 * i_count, the locks, i_mmap), flagged IFLAG_SHMEM, and its pages are
 * page-cache pages of that slot's mapping. What the icache slot does not
 * hold (size, mode, links, times) is in the SHMI record of the same slot
 * number. One record per icache slot, so the slot number indexes both.
 *
 * tmpfs (src/fs/tmpfs.ts): the directory entries of every tmpfs directory
 * in one table: (parent inode, inode, name). Guarded by SHMHDR.lock.
 *
 * System V IPC (src/kernel/ipc_*.ts): one id table per kind, each with an
 * SVHDR whose lock (LockClass.IPC) guards every record of that kind and
 * what hangs off it (the semaphore pool and undo entries, a queue's
 * messages). A record's id is seq * IPCMNI + index; `state` says whether
 * the index is free. What a sleeper waits on is a record's `event` word,
 * bumped and notified at every change.
 *
 * AF_UNIX sockets (src/kernel/unix_sock.ts): one SOCK record per socket,
 * all of them under SOCKHDR.lock (LockClass.SOCK, a leaf). A socket's
 * receive queue is a ring of RAM pages (page_ring.ts) in its record;
 * senders write into their peer's.
 *
 * @module
 */

import type { LayoutConfig } from "./mod.ts";

/** The shmem header. */
export const SHMHDR = {
  /**
   * The tmpfs namespace lock (a src/sync mutex, MUTEX_WORDS, class TMPFS):
   * every tmpfs directory entry and every SHMI.nlink/parent change.
   */
  lock: 0,
  /** Last shmem inode number handed out, minus SHMEM_INO_BASE (atomic). */
  lastIno: 2,
  /** Live shmem inodes (atomic). */
  nrInodes: 3,
  /** Pages held by every shmem inode (atomic; stats and checks). */
  nrPages: 4,
  /** Pages held by tmpfs files, checked against the mount's size (atomic). */
  tmpfsPages: 5,
  /** Icache slot of the /dev/shm tmpfs root, 0 before it is mounted. */
  tmpfsRootSlot: 6,
  /** Inode number of the /dev/shm tmpfs root. */
  tmpfsRootIno: 7,
} as const;
export const SHMHDR_WORDS = 16;

/**
 * A shmem inode's attributes, indexed by its icache slot. Written under
 * the inode's i_rwsem (size) or the tmpfs lock (nlink, parent), read with
 * Atomics.
 */
export const SHMI = {
  /** i_size, bytes: a 64-bit word pair (BigInt64 at (base + size) / 2). */
  size: 0,
  /** st_mode: S_IFREG, S_IFDIR or S_IFSOCK plus permission bits. */
  mode: 2,
  /** st_nlink as stat shows it. */
  nlink: 3,
  uid: 4,
  gid: 5,
  /** Seconds since the epoch. */
  atime: 6,
  mtime: 7,
  ctime: 8,
  /** Pages in the page cache (st_blocks / 8). */
  pages: 9,
  /** A tmpfs directory's parent inode ("..") ; 0 for others. */
  parent: 10,
  /** SHMEM_KIND_*. */
  kind: 11,
  /** System V key of a SHMEM_KIND_SYSV segment, for /proc/PID/maps. */
  key: 12,
  /** A SHMEM_KIND_SYSV inode's segment: its SHMID index + 1. */
  sysvIdx: 13,
} as const;
export const SHMI_WORDS = 16;

/** SHMI.kind: MAP_SHARED|MAP_ANONYMOUS memory (Linux's /dev/zero (deleted)). */
export const SHMEM_KIND_ANON = 1;
/** SHMI.kind: a file or directory of the tmpfs on /dev/shm. */
export const SHMEM_KIND_TMPFS = 2;
/** SHMI.kind: a System V shared-memory segment (Linux's /SYSV%08x). */
export const SHMEM_KIND_SYSV = 3;

/** First shmem inode number: below devfs's range (0x3f00_0000), far above any xipfs inode. */
export const SHMEM_INO_BASE = 0x3e00_0000;
/** How many inode numbers the shmem range holds. */
export const SHMEM_INO_RANGE = 0x0100_0000;

/** A tmpfs directory entry; `ino` 0 marks a free record. */
export const TDIRENT = {
  ino: 0,
  /** The directory holding the entry. */
  parent: 1,
  /** Name length in bytes (1..NAME_MAX). */
  nameLen: 2,
  /** The name's bytes, NAME_MAX (255) of them in 64 words. */
  name: 4,
} as const;
export const TDIRENT_WORDS = 68;
/** Directory entries in all tmpfs directories together. */
export const TMPFS_DIRENTS = 256;

// ---------------------------------------------------------------------------
// System V IPC

/** The header of one kind's id table. */
export const SVHDR = {
  /** The kind's lock: a src/sync mutex (MUTEX_WORDS), class IPC. */
  lock: 0,
  /** Linux's ids->seq: bumped when index allocation wraps. */
  seq: 2,
  /** Linux's ids->last_idx: the index handed out last (-1 at boot). */
  lastIdx: 3,
  /** Live ids (in_use). */
  inUse: 4,
} as const;
export const SVHDR_WORDS = 16;

/** SVPERM.state of a free record. */
export const SV_FREE = 0;
/** SVPERM.state of a live record. */
export const SV_LIVE = 1;

/** The kern_ipc_perm part every record starts with. */
export const SVPERM = {
  /** SV_FREE or SV_LIVE. */
  state: 0,
  key: 1,
  uid: 2,
  gid: 3,
  cuid: 4,
  cgid: 5,
  /** Permission bits plus kind flags (SHM_DEST, SHM_LOCKED). */
  mode: 6,
  seq: 7,
  /** Futex word sleepers wait on: bumped (and notified) at every change. */
  event: 8,
  /** Last change by IPC_SET or creation (seconds). */
  ctime: 9,
} as const;

/** A System V shared-memory segment (struct shmid_kernel). */
export const SHMID = {
  ...SVPERM,
  /** Size asked for, in bytes (shm_segsz). */
  segsz: 10,
  /** The shmem inode holding the pages (its number and slot). */
  ino: 11,
  slot: 12,
  /** Attached VMAs (shm_nattch), kept by the segment's VmOperations open/close. */
  nattch: 13,
  cpid: 14,
  lpid: 15,
  atime: 16,
  dtime: 17,
} as const;
export const SHMID_WORDS = 24;
/** Segments machine-wide (Linux's SHMMNI is 4096; shmem inodes bound xip's). */
export const SHM_IDS = 128;

/** A semaphore set (struct sem_array). */
export const SEMID = {
  ...SVPERM,
  nsems: 10,
  /** Index of its first semaphore in the pool. */
  base: 11,
  otime: 12,
} as const;
export const SEMID_WORDS = 16;
/** Semaphore sets machine-wide (Linux's SEMMNI is 32000). */
export const SEM_IDS = 256;
/** One semaphore of the pool: its value and the pid of the last operation. */
export const SEM = { val: 0, pid: 1 } as const;
export const SEM_WORDS = 2;
/** Semaphores machine-wide, all sets together (SEMMNS; one full SEMMSL set fits). */
export const SEM_POOL = 32000;
/** An undo adjustment of one process for one semaphore (struct sem_undo, one entry). */
export const SEMUNDO = {
  /** The process (tgid) it belongs to; 0 = free entry. */
  owner: 0,
  semid: 1,
  semnum: 2,
  /** semadj: added to the value when the process exits. */
  adj: 3,
} as const;
export const SEMUNDO_WORDS = 4;
/** Undo entries machine-wide (SEMMNU). */
export const SEM_UNDOS = 4096;
/**
 * What a task blocked in semop waits for, by task id: the set, and the
 * semaphore and condition of its first operation that could not proceed
 * (Linux's q->blocking), which GETNCNT and GETZCNT count. Cleared when the
 * sleep ends, and by the Machine for a task killed in it.
 */
export const SEMWAIT = { semid: 0, semnum: 1, kind: 2 } as const;
export const SEMWAIT_WORDS = 4;
/** SEMWAIT.kind: waiting for a value to grow (semncnt) or to reach zero (semzcnt). */
export const SEMWAIT_N = 1;
export const SEMWAIT_Z = 2;

/** A message queue (struct msg_queue). */
export const MSQ = {
  ...SVPERM,
  /** Most bytes of text it holds (msg_qbytes; MSGMNB unless IPC_SET changed it). */
  qbytes: 10,
  /** Bytes of text held (msg_cbytes) and messages held (msg_qnum). */
  cbytes: 11,
  qnum: 12,
  lspid: 13,
  lrpid: 14,
  stime: 15,
  rtime: 16,
  /** Bytes of the store in use: the messages, each [mtype | length | text padded to 4]. */
  used: 17,
  /** MSQ_PAGES words: the store's RAM pages, pfn + 1 (0: not allocated yet). */
  pages: 24,
} as const;
/**
 * Store pages of one queue: the worst case of a full MSGMNB queue, 16384
 * one-byte messages of 12 bytes each (header and padded text), 48 pages.
 */
export const MSQ_PAGES = 48;
export const MSQ_WORDS = MSQ.pages + MSQ_PAGES;
/** Message queues machine-wide (Linux's MSGMNI is 32000). */
export const MSG_IDS = 64;

// ---------------------------------------------------------------------------
// AF_UNIX sockets

export const SOCKHDR = {
  /** The sockets' lock: a src/sync mutex (MUTEX_WORDS), class SOCK. */
  lock: 0,
  /** Last socket id generation handed out. */
  lastId: 2,
  /** Live sockets. */
  nrSocks: 3,
  /** Counter behind autobind's abstract names. */
  autobind: 4,
  /**
   * The word poll(2) sleeps on (sys_poll.ts): bumped and notified with
   * every socket's event word, and by any other driver through pollWake.
   */
  pollEvent: 5,
} as const;
export const SOCKHDR_WORDS = 16;

/** One socket (struct unix_sock with its struct sock, reduced). */
export const SOCK = {
  /** The socket's id (generation << SOCK_SLOT_BITS | slot); 0 free, -1 being claimed. */
  id: 0,
  /** SOCK_STREAM or SOCK_DGRAM. */
  type: 1,
  /** SS_* state. */
  state: 2,
  /** The connected peer's id (stream), or a datagram socket's default destination; 0 none. */
  peer: 3,
  /** SOCKF_* bits. */
  flags: 4,
  /** The pending error SO_ERROR reports and clears (a positive errno). */
  err: 5,
  /** listen(2) backlog, and the connections waiting in accept's queue. */
  backlog: 6,
  qlen: 7,
  /** First and last socket id of the accept queue (embryos, linked by `next`). */
  qhead: 8,
  qtail: 9,
  next: 10,
  /** The inode of a bound path name (its number and inode-cache slot; a reference is held). */
  nameIno: 11,
  nameSlot: 12,
  /** Bytes of the bound address (sockaddr_un, family included); 0: not bound. */
  addrLen: 13,
  /** Credentials: the creating process, and the peer's at connect (SO_PEERCRED). */
  ownerPid: 14,
  peerPid: 15,
  /** Receive queue: bytes taken and added since creation (u32), and datagrams queued. */
  head: 16,
  tail: 17,
  qnum: 18,
  /** Futex word: bumped and notified at every change a sleeper may wait for. */
  event: 19,
  /** SO_RCVTIMEO and SO_SNDTIMEO in ms (0: none). */
  rcvtimeo: 20,
  sndtimeo: 21,
  /** SOCKO_* option bits set with setsockopt. */
  opts: 22,
  /** The bound address bytes (SOCK_ADDR_MAX = 110 bytes: sun_family + sun_path). */
  addr: 24,
  /** SOCK_RING_PAGES words: the receive ring's pages (pfn + 1). */
  pages: 52,
} as const;
export const SOCK_ADDR_MAX = 110;
/** Receive ring: 16 pages, 64 KiB (SO_RCVBUF reports it). */
export const SOCK_RING_PAGES = 16;
export const SOCK_WORDS = SOCK.pages + SOCK_RING_PAGES;
/** Sockets machine-wide. */
export const SOCK_MAX = 128;
/** Bits of a socket id that hold its record's index. */
export const SOCK_SLOT_BITS = 8;

/** Offsets of each part, in words from the region's base. */
export interface IpcParts {
  readonly shmi: number;
  readonly tdirent: number;
  /** SVHDR then SHM_IDS SHMID records. */
  readonly shm: number;
  /** SVHDR then SEM_IDS SEMID records. */
  readonly sem: number;
  readonly semPool: number;
  readonly semUndo: number;
  /** One SEMWAIT record per task id. */
  readonly semWait: number;
  /** SVHDR then MSG_IDS MSQ records. */
  readonly msg: number;
  /** SOCKHDR then SOCK_MAX SOCK records. */
  readonly sock: number;
  readonly words: number;
}

const align16 = (n: number): number => Math.ceil(n / 16) * 16;

/**
 * Where each part of the region lies for `cfg`. `icacheSlots` is
 * ICACHE_SLOTS (passed in: layout/mod.ts imports this module).
 */
export function ipcParts(cfg: LayoutConfig, icacheSlots: number): IpcParts {
  const shmi = SHMHDR_WORDS;
  const tdirent = align16(shmi + icacheSlots * SHMI_WORDS);
  const shm = align16(tdirent + TMPFS_DIRENTS * TDIRENT_WORDS);
  const sem = align16(shm + SVHDR_WORDS + SHM_IDS * SHMID_WORDS);
  const semPool = align16(sem + SVHDR_WORDS + SEM_IDS * SEMID_WORDS);
  const semUndo = align16(semPool + SEM_POOL * SEM_WORDS);
  const semWait = align16(semUndo + SEM_UNDOS * SEMUNDO_WORDS);
  const msg = align16(semWait + cfg.maxTasks * SEMWAIT_WORDS);
  const sock = align16(msg + SVHDR_WORDS + MSG_IDS * MSQ_WORDS);
  const words = sock + SOCKHDR_WORDS + SOCK_MAX * SOCK_WORDS;
  return { shmi, tdirent, shm, sem, semPool, semUndo, semWait, msg, sock, words };
}

/** Word index of slot `slot`'s SHMI record in an ipc region at `base`. */
export const shmiBase = (base: number, slot: number): number =>
  base + SHMHDR_WORDS + slot * SHMI_WORDS;
