/**
 * Open files of kernel objects that live in no filesystem: sockets now,
 * pipes and the like later (Linux's anon_inode files and sockfs/pipefs
 * inodes with their file_operations).
 *
 * Such a file is an ordinary open-file record (file_table.ts) whose inode
 * number is ANON_INO_BASE + the object's kind and whose inode-cache slot
 * word holds the object's id, so fd tables, dup, fork's table copy and the
 * Machine's close of a dead process's files handle it like any other. What
 * the object does is its kind's AnonFileOps, registered per thread (as
 * VmOperations are: functions cannot live in shared memory) by the kernel
 * at mount time:
 *
 * - read/write get the open file (its flags say O_NONBLOCK) and may sleep;
 *   a sleeper finds its task with currentTid();
 * - release runs once, when the record's last reference goes (the last
 *   close of the last fd, in any process or the Machine);
 * - stat fills what fstat shows (mode S_IFSOCK, S_IFIFO, ...);
 * - poll says what is ready now; a driver whose readiness changes bumps
 *   the poll word (sys_poll.ts pollWake) so that pollers look again.
 *
 * AnonMount is the StackedFs (stacked_fs.ts) that routes these inode
 * numbers to their ops: the VFS calls getattr, isDax (true: no page cache, no writeback)
 * and iput (release) through it as for any inode, and asks anonFileOps
 * directly for read and write, which need the open file. Positioned I/O
 * and lseek are ESPIPE (vfs.ts), mmap is ENODEV (files.ts).
 *
 * @module
 */

import { EINVAL, ESPIPE } from "../abi/errno.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asIno } from "../abi/types.ts";
import type { OpenFile } from "./file_table.ts";
import { specialAttr, StackedFs } from "./stacked_fs.ts";
import type { VAttr, VInode } from "./vfs_fs.ts";

/** First anon inode number: below shmem's range (0x3e00_0000). */
export const ANON_INO_BASE = 0x3d00_0000;
/** Kinds of anon files (ANON_INO_BASE + kind is the inode number). */
export const ANON_SOCKET = 1;
export const ANON_PIPE = 2;
const ANON_KINDS = 16;

/** Whether inode number `ino` is an anon file's. */
export const anonOwns = (ino: number): boolean =>
  ino >= ANON_INO_BASE && ino < ANON_INO_BASE + ANON_KINDS;

/** The operations of one kind of anon file (Linux's file_operations). */
export interface AnonFileOps {
  /** read(2) on open file `f` (flags, object id in f.islot): bytes, 0 at EOF, or -errno. */
  read(f: OpenFile, dst: Uint8Array): number;
  /** write(2): bytes written or -errno. */
  write(f: OpenFile, src: Uint8Array): number;
  /** The last reference to an open file of object `id` went. Any thread. */
  release(id: number): void;
  /** What fstat shows: mode with its type bits, and an inode number. */
  stat(id: number): { mode: number; ino: number };
  /** poll(2)'s events of the object now (POLL* bits, src/abi/poll.ts). Never sleeps. */
  poll(f: OpenFile): number;
}

const registry: (AnonFileOps | undefined)[] = new Array(ANON_KINDS);

/** Register `ops` for anon files of `kind` in this thread. */
export function registerAnonOps(kind: number, ops: AnonFileOps): void {
  if (kind < 1 || kind >= ANON_KINDS) throw new KernelPanic("registerAnonOps", `kind ${kind}`);
  registry[kind] = ops;
}

/**
 * The ops of anon inode number `ino`.
 *
 * @throws KernelPanic when this thread registered none for its kind
 */
export function anonFileOps(ino: number): AnonFileOps {
  const ops = registry[ino - ANON_INO_BASE];
  if (ops === undefined) throw new KernelPanic("anonFileOps", `no ops for anon inode ${ino}`);
  return ops;
}

/** The filesystem below with anon files routed to their ops. */
export class AnonMount extends StackedFs {
  #born = Math.floor(Date.now() / 1000);

  protected override owns(ino: number): boolean {
    return anonOwns(ino);
  }
  protected override ownGetattr(ip: VInode): VAttr {
    const st = anonFileOps(ip.ino).stat(ip.slot);
    return specialAttr(asIno(st.ino), st.mode, this.#born);
  }
  protected override ownIput(ip: VInode): void {
    anonFileOps(ip.ino).release(ip.slot);
  }
  /** Sockets and pipes have no position: pread, pwrite and lseek are -ESPIPE. */
  protected override ownStream(): boolean {
    return true;
  }
  // vfs.ts sends anon reads and writes to anonFileOps with the open file, and
  // asks them for poll: what reaches the layer is positioned I/O.
  protected override ownDaxRead(): number {
    return -ESPIPE;
  }
  protected override ownDaxWrite(): number {
    return -ESPIPE;
  }
  protected override ownTruncate(): number {
    return -EINVAL;
  }
  protected override ownFallocate(): number {
    return -ESPIPE;
  }
}
