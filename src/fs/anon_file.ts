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
 * AnonMount is the VfsFs wrapper that routes these inode numbers to their
 * ops: the VFS calls getattr, isDax (true: no page cache, no writeback)
 * and iput (release) through it as for any inode, and asks anonFileOps
 * directly for read and write, which need the open file. Positioned I/O
 * and lseek are ESPIPE (vfs.ts), mmap is ENODEV (files.ts).
 *
 * @module
 */

import { EINVAL, ENOENT, ENOTDIR, ESPIPE, EXDEV } from "../abi/errno.ts";
import { FILES } from "../abi/layout/mod.ts";
import { DEFAULT_POLLMASK } from "../abi/poll.ts";
import { KernelPanic } from "../abi/panic.ts";
import type { Ino, InodeSlot } from "../abi/types.ts";
import type { BlockDevice } from "../hw/device.ts";
import type { Memory } from "../hw/memory.ts";
import type { OpenFile } from "./file_table.ts";
import type { AddressSpaceOps, AopsLookup } from "./pagecache/pagecache.ts";
import type { VAttr, VDirent, VfsFs, VInode } from "./vfs_fs.ts";

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
export class AnonMount implements VfsFs {
  readonly mem: Memory;
  readonly dev: BlockDevice;
  readonly rootIno: Ino;
  readonly maxBytes: number;
  readonly aops: AddressSpaceOps;
  readonly aopsLookup: AopsLookup;
  #born = Math.floor(Date.now() / 1000);

  constructor(readonly lower: VfsFs) {
    this.mem = lower.mem;
    this.dev = lower.dev;
    this.rootIno = lower.rootIno;
    this.maxBytes = lower.maxBytes;
    this.aops = lower.aops;
    this.aopsLookup = lower.aopsLookup;
  }

  iget(ino: Ino): VInode | number {
    // An anon file is reached only through its open file, never by number.
    return anonOwns(ino) ? -ENOENT : this.lower.iget(ino);
  }
  iput(ip: VInode): void {
    if (anonOwns(ip.ino)) anonFileOps(ip.ino).release(ip.slot);
    else this.lower.iput(ip);
  }
  handle(ino: Ino, slot: InodeSlot): VInode {
    return anonOwns(ino) ? { ino, slot } : this.lower.handle(ino, slot);
  }
  isDax(ip: VInode): boolean {
    return anonOwns(ip.ino) || this.lower.isDax(ip);
  }
  stream(ip: VInode): boolean {
    // Sockets and pipes have no position: pread, pwrite and lseek are -ESPIPE.
    return anonOwns(ip.ino) || (this.lower.stream?.(ip) ?? false);
  }
  getattr(ip: VInode): VAttr {
    if (!anonOwns(ip.ino)) return this.lower.getattr(ip);
    const st = anonFileOps(ip.ino).stat(ip.slot);
    const t = this.#born;
    return {
      ino: st.ino as Ino,
      mode: st.mode,
      links: 1,
      uid: 0,
      gid: 0,
      size: 0,
      blocks: 0,
      atime: t,
      mtime: t,
      ctime: t,
      dax: false,
    };
  }
  size(ip: VInode): number {
    return anonOwns(ip.ino) ? 0 : this.lower.size(ip);
  }
  iRwsem(ip: VInode): number {
    // Nothing takes it for an anon file (no SEEK_DATA: lseek is ESPIPE); share procfs's stand-in.
    return anonOwns(ip.ino)
      ? this.mem.layout.files.base + FILES.procfsRwsem
      : this.lower.iRwsem(ip);
  }
  getBlock(ip: VInode, iblock: number, create: boolean): number {
    return anonOwns(ip.ino) ? -EINVAL : this.lower.getBlock(ip, iblock, create);
  }
  daxRead(ip: VInode, pos: number, dst: Uint8Array): number {
    // vfs.ts sends anon reads to anonFileOps with the open file; no positioned reads.
    return anonOwns(ip.ino) ? -ESPIPE : this.lower.daxRead(ip, pos, dst);
  }
  daxWrite(ip: VInode, pos: number, src: Uint8Array): number {
    return anonOwns(ip.ino) ? -ESPIPE : this.lower.daxWrite(ip, pos, src);
  }
  daxAppend(ip: VInode, src: Uint8Array): [number, number] {
    return anonOwns(ip.ino) ? [-ESPIPE, 0] : this.lower.daxAppend(ip, src);
  }
  setSize(ip: VInode, size: number): void {
    if (anonOwns(ip.ino)) throw new KernelPanic("AnonMount.setSize", `anon inode ${ip.ino}`);
    this.lower.setSize(ip, size);
  }
  truncate(ip: VInode, size: number): number {
    return anonOwns(ip.ino) ? -EINVAL : this.lower.truncate(ip, size);
  }
  punchHole(ip: VInode, off: number, len: number): number {
    return anonOwns(ip.ino) ? -ESPIPE : this.lower.punchHole(ip, off, len);
  }
  fallocate(ip: VInode, mode: number, off: number, len: number): number {
    return anonOwns(ip.ino) ? -ESPIPE : this.lower.fallocate(ip, mode, off, len);
  }
  fsync(ip: VInode): number {
    return anonOwns(ip.ino) ? -EINVAL : this.lower.fsync(ip);
  }
  writeAccess(ip: VInode, op: "get" | "put" | "deny" | "allow"): number {
    return anonOwns(ip.ino) ? 0 : (this.lower.writeAccess?.(ip, op) ?? 0);
  }
  poll(ip: VInode, flags: number): number {
    // vfsPoll asks an anon file's ops itself (they need the open file).
    return anonOwns(ip.ino) ? DEFAULT_POLLMASK : (this.lower.poll?.(ip, flags) ?? DEFAULT_POLLMASK);
  }
  lookup(dir: VInode, name: string): Ino | number {
    return anonOwns(dir.ino) ? -ENOTDIR : this.lower.lookup(dir, name);
  }
  create(dir: VInode, name: string, mode: number): Ino | number {
    return anonOwns(dir.ino) ? -ENOTDIR : this.lower.create(dir, name, mode);
  }
  mknod(dir: VInode, name: string, mode: number): Ino | number {
    return anonOwns(dir.ino) ? -ENOTDIR : this.lower.mknod(dir, name, mode);
  }
  mkdir(dir: VInode, name: string, mode: number): Ino | number {
    return anonOwns(dir.ino) ? -ENOTDIR : this.lower.mkdir(dir, name, mode);
  }
  link(ip: VInode, dir: VInode, name: string): number {
    if (anonOwns(dir.ino)) return -ENOTDIR;
    // A socket's inode lives on no mounted filesystem (Linux: sockfs): -EXDEV.
    return anonOwns(ip.ino) ? -EXDEV : this.lower.link(ip, dir, name);
  }
  unlink(dir: VInode, name: string): number {
    return anonOwns(dir.ino) ? -ENOTDIR : this.lower.unlink(dir, name);
  }
  rmdir(dir: VInode, name: string): number {
    return anonOwns(dir.ino) ? -ENOTDIR : this.lower.rmdir(dir, name);
  }
  rename(odir: VInode, oname: string, ndir: VInode, nname: string, noReplace = false): number {
    if (anonOwns(odir.ino) || anonOwns(ndir.ino)) return -ENOTDIR;
    return this.lower.rename(odir, oname, ndir, nname, noReplace);
  }
  symlink(dir: VInode, name: string, target: string): Ino | number {
    return anonOwns(dir.ino) ? -ENOTDIR : this.lower.symlink(dir, name, target);
  }
  readlink(ip: VInode): string | number {
    return anonOwns(ip.ino) ? -EINVAL : this.lower.readlink(ip);
  }
  readdir(dir: VInode, cookie: number, emit: (e: VDirent) => boolean): number {
    return anonOwns(dir.ino) ? -ENOTDIR : this.lower.readdir(dir, cookie, emit);
  }
}
