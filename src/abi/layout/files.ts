/**
 * The open-file table and the per-process fd tables.
 * See mod.ts for the map of every region.
 *
 * @module
 */

import { type LayoutConfig } from "./config.ts";

// files: the open-file table (Linux's struct file), shared machine-wide, and
// one fd table per process (Linux's files_struct), so that any thread, the
// Machine's main thread included, can close a dead process's files.
//
// ```
//  +--------------------+-------------------------------+---------------------------------+
//  | header: lock,      | open files: FILES_MAX records | fd tables: FDT_MAX tables of    |
//  | counters           | of FILE_WORDS                 | FDT_HEADER_WORDS + FDT_FDS words|
//  +--------------------+-------------------------------+---------------------------------+
//  open file: [ refcount | ino | islot | flags | pos (i64, 2 words) | (pad) (pad) ]
//  fd table:  [ lock (2) | inUse | cwd | nrOpen | nofile | nofileMax | (pad...) | fd 0 | ... ]
//  fd word:   0 = closed, else (open-file index + 1) | FDT_CLOEXEC_BIT
// ```
//
// An open file's refcount is 0 when the record is free. Its position is one
// 64-bit word (Atomics on the BigInt64 view), so it is never seen torn. The
// header lock (FILE_TABLE class) is held only to claim a free record; a fd
// table's own lock only to install or clear fd words (both are leaves).

export const FILES = {
  /** Mutex (src/sync, up to FILES_LOCK_WORDS) guarding the claim of a free open-file record. */
  lock: 0,
  /** Open-file records in use. */
  nrFiles: 8,
  /**
   * Last id handed to a procfs inode reference (src/fs/procfs/procfs.ts): the islot
   * of a procfs open file, unique machine-wide so any thread can key a
   * snapshot buffer by it.
   */
  procfsSeq: 9,
  /** An rwsem (4 words) standing in for the i_rwsem of every procfs inode. */
  procfsRwsem: 12,
  /** First open-file record; FILE_WORDS apart. Even, so pos stays 8-byte aligned. */
  records: 16,
} as const;
export const FILES_LOCK_WORDS = 8;

/** Word offsets of an open-file record (Linux's struct file). */
export const FILE = {
  /** References: fds (across all tables) naming it, plus in-flight calls. 0 = free. */
  refcount: 0,
  /** Inode number. */
  ino: 1,
  /** Inode-cache slot of the inode (the page-cache mapping id). */
  islot: 2,
  /** O_* flags of the open (access mode, O_APPEND, O_DIRECT, ...). */
  flags: 3,
  /** File position, an i64 over two words: BigInt64 index (base + pos) / 2. */
  pos: 4,
} as const;
export const FILE_WORDS = 8;
/** Open files machine-wide (Linux's file-max, small). */
export const FILES_MAX = 1024;

/** Word offsets of a fd table's header. */
export const FDT = {
  /** Mutex guarding the fd words of this table. */
  lock: 0,
  /** Users: the processes (threads, with CLONE_FILES) sharing the table; 0 = free. */
  inUse: 2,
  /** Inode number of the current directory. */
  cwd: 3,
  /** Open fds. */
  nrOpen: 4,
  /**
   * RLIMIT_NOFILE of the owning process, soft and hard: no fd at or above
   * the soft limit is installed (written under `lock`; at most FDT_FDS).
   */
  nofile: 5,
  nofileMax: 6,
  /** First fd word. */
  fds: 16,
} as const;
export const FDT_HEADER_WORDS = FDT.fds;
/** Fds per process (RLIMIT_NOFILE). */
export const FDT_FDS = 256;
export const FDT_WORDS = FDT_HEADER_WORDS + FDT_FDS;
/** Set in a fd word when the fd is close-on-exec. */
export const FDT_CLOEXEC_BIT = 1 << 30;
/** Fd tables: one per task, so every process a task can run has one. */
export const fdtMax = (cfg: LayoutConfig): number => cfg.maxTasks;

/** Words of the files region for `cfg`. */
export const filesWords = (cfg: LayoutConfig): number =>
  FILES.records + FILES_MAX * FILE_WORDS + fdtMax(cfg) * FDT_WORDS;

/** Word index of the first fd table in a files region at `base`. */
export const fdtBase = (filesBase: number, fdt: number): number =>
  filesBase + FILES.records + FILES_MAX * FILE_WORDS + fdt * FDT_WORDS;

/** Word index of open-file record `idx` in a files region at `base`. */
export const fileBase = (filesBase: number, idx: number): number =>
  filesBase + FILES.records + idx * FILE_WORDS;
