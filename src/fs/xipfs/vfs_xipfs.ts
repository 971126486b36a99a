/**
 * The live xipfs (src/fs/xipfs/xipfs_live.ts) seen through the VFS contract
 * (vfs_fs.ts). Every method forwards to the XipFs of this thread; the only
 * work here is reshaping: getattr's record, readdir's batches into the
 * VFS's callback, XFT_* entry types into DT_*, and the lock words.
 *
 * @module
 */

import { XFT_DIR, XFT_REG, XFT_SOCK, XFT_SYMLINK } from "../../abi/layout/mod.ts";
import { DT_DIR, DT_LNK, DT_REG, DT_SOCK, DT_UNKNOWN } from "../../abi/fcntl.ts";
import type { Ino, InodeSlot } from "../../abi/types.ts";
import type { BlockDevice } from "../../hw/device.ts";
import type { Memory } from "../../hw/memory.ts";
import type { AddressSpaceOps, AopsLookup } from "../pagecache/pagecache.ts";
import { type XipFs, XIPFS_MAX_BYTES } from "./xipfs_live.ts";
import type { VAttr, VDirent, VfsFs, VInode } from "../vfs_fs.ts";
import { writeAccess, type WriteAccessOp } from "../write_access.ts";

/** Entries fetched from the filesystem per readdir batch. */
const READDIR_BATCH = 32;

const XFT_TO_DT: Record<number, number> = {
  [XFT_REG]: DT_REG,
  [XFT_DIR]: DT_DIR,
  [XFT_SYMLINK]: DT_LNK,
  [XFT_SOCK]: DT_SOCK,
};

/** A VfsFs over this thread's XipFs (from mountXipfs or attachXipfs). */
export class XipVfs implements VfsFs {
  readonly mem: Memory;
  readonly dev: BlockDevice;
  readonly rootIno: Ino;
  readonly maxBytes = XIPFS_MAX_BYTES;
  readonly aops: AddressSpaceOps;
  readonly aopsLookup: AopsLookup;

  constructor(readonly x: XipFs) {
    this.mem = x.mem;
    this.dev = x.dev;
    this.rootIno = x.rootIno;
    this.aops = x.aops;
    this.aopsLookup = x.aopsFor;
  }

  iget(ino: Ino): VInode | number {
    return this.x.iget(ino);
  }
  iput(ip: VInode): void {
    this.x.iput(ip);
  }
  handle(ino: Ino, slot: InodeSlot): VInode {
    return { ino, slot };
  }
  isDax(ip: VInode): boolean {
    return this.x.isDax(ip);
  }
  writeAccess(ip: VInode, op: WriteAccessOp): number {
    return writeAccess(this.mem, ip.slot, op);
  }
  getattr(ip: VInode): VAttr {
    const s = this.x.getattr(ip);
    return {
      ino: s.ino,
      mode: s.mode,
      links: s.nlink,
      uid: s.uid,
      gid: s.gid,
      size: s.size,
      blocks: s.blocks,
      atime: s.atime,
      mtime: s.mtime,
      ctime: s.ctime,
      dax: s.dax,
    };
  }
  size(ip: VInode): number {
    return this.x.size(ip);
  }
  iRwsem(ip: VInode): number {
    return this.x.islotWord(ip, "iRwsem");
  }
  getBlock(ip: VInode, iblock: number, create: boolean): number {
    return this.x.getBlock(ip, iblock, create);
  }
  daxRead(ip: VInode, pos: number, dst: Uint8Array): number {
    return this.x.daxRead(ip, pos, dst);
  }
  daxWrite(ip: VInode, pos: number, src: Uint8Array): number {
    return this.x.daxWrite(ip, pos, src);
  }
  daxAppend(ip: VInode, src: Uint8Array): [number, number] {
    return this.x.daxAppend(ip, src);
  }
  setSize(ip: VInode, size: number): void {
    this.x.setSize(ip, size);
  }
  truncate(ip: VInode, size: number): number {
    return this.x.truncate(ip, size);
  }
  punchHole(ip: VInode, off: number, len: number): number {
    return this.x.punchHole(ip, off, len);
  }
  fallocate(ip: VInode, mode: number, off: number, len: number): number {
    return this.x.fallocate(ip, mode, off, len);
  }
  fsync(ip: VInode): number {
    return this.x.fsync(ip);
  }
  lookup(dir: VInode, name: string): Ino | number {
    return this.x.lookup(dir, name);
  }
  create(dir: VInode, name: string, mode: number): Ino | number {
    return this.x.create(dir, name, mode);
  }
  mkdir(dir: VInode, name: string, mode: number): Ino | number {
    return this.x.mkdir(dir, name, mode);
  }
  mknod(dir: VInode, name: string, mode: number): Ino | number {
    return this.x.mknod(dir, name, mode);
  }
  link(ip: VInode, dir: VInode, name: string): number {
    return this.x.link(ip, dir, name);
  }
  unlink(dir: VInode, name: string): number {
    return this.x.unlink(dir, name);
  }
  rmdir(dir: VInode, name: string): number {
    return this.x.rmdir(dir, name);
  }
  rename(odir: VInode, oname: string, ndir: VInode, nname: string, noReplace = false): number {
    return this.x.rename(odir, oname, ndir, nname, noReplace);
  }
  symlink(dir: VInode, name: string, target: string): Ino | number {
    return this.x.symlink(dir, name, target);
  }
  readlink(ip: VInode): string | number {
    return this.x.readlink(ip);
  }
  readdir(dir: VInode, cookie: number, emit: (e: VDirent) => boolean): number {
    for (;;) {
      const batch = this.x.readdir(dir, cookie, READDIR_BATCH);
      if (typeof batch === "number") return batch;
      for (const e of batch) {
        const dtype = XFT_TO_DT[e.type] ?? DT_UNKNOWN;
        if (!emit({ ino: e.ino, name: e.name, dtype, next: e.next })) return 0;
        cookie = e.next;
      }
      if (batch.length < READDIR_BATCH) return 0;
    }
  }
}
