/**
 * Test double (not a test): a single-threaded VfsFs over the offline xipfs
 * accessors, so the VFS can be tested before the live xipfs (branch
 * `livefs`) is merged. It is not a filesystem of its own: every on-disk
 * change goes through src/fs/xipfs_*.ts; inode references live in a JS
 * map (one thread only) and the lock words in the scratch region.
 */
import { EBUSY, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY } from "../../src/abi/errno.ts";
import { S_IFDIR, S_IFLNK, S_IFMT } from "../../src/abi/fcntl.ts";
import { XIPFS_BLOCK_SIZE } from "../../src/abi/layout.ts";
import { asBlock, asIno, type Ino, PAGE_SIZE } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import type { Memory } from "../../src/hw/memory.ts";
import { BMAP_MAX_BLOCKS, bmapInsert, bmapLookup, bmapTruncate } from "../../src/fs/xipfs_bmap.ts";
import {
  dirAddEntry,
  dirCountChildren,
  dirInitBlock,
  dirIterate,
  dirLookup,
  dirRemoveEntry,
  modeToFileType,
} from "../../src/fs/xipfs_dir.ts";
import { symlinkRead, symlinkWriteOffline } from "../../src/fs/xipfs_file.ts";
import {
  allocBlockOffline,
  allocInodeOffline,
  freeBlockOffline,
  freeInodeOffline,
  inodeGet,
  inodeGetSize,
  inodeSet,
  inodeSetSize,
  openVolume,
  type XipVol,
} from "../../src/fs/xipfs_format.ts";
import { truncateInodePages } from "../../src/fs/pagecache.ts";
import { filemapAops } from "../../src/fs/filemap.ts";
import type { VAttr, VDirent, VfsFs, VInode } from "../../src/fs/vfs_fs.ts";

const SLOT_LOCK_WORDS = 8;

export class OfflineFs implements VfsFs {
  readonly dev: MemDevice;
  readonly vol: XipVol;
  readonly rootIno: Ino;
  readonly maxBytes = BMAP_MAX_BLOCKS * PAGE_SIZE;
  readonly #refs = new Map<number, number>();
  readonly #orphans = new Set<number>();
  /** Eviction writes other inodes' dirty pages back through their ops. */
  readonly aopsLookup = (slot: number) => filemapAops(this, { ino: asIno(slot), slot });

  constructor(readonly mem: Memory, readonly dax: boolean) {
    this.dev = new MemDevice(mem);
    const o = openVolume(this.dev.bytes);
    if (!o.ok) throw new Error(o.error);
    this.vol = o.vol;
    this.rootIno = this.vol.sb.rootIno;
  }

  #alloc = () => {
    const b = allocBlockOffline(this.vol);
    if (b > 0) this.dev.bytes.fill(0, b * XIPFS_BLOCK_SIZE, (b + 1) * XIPFS_BLOCK_SIZE);
    return b;
  };

  iget(ino: Ino): VInode | number {
    if (inodeGet(this.vol, ino, "mode") === 0) return -ENOENT;
    this.#refs.set(ino, (this.#refs.get(ino) ?? 0) + 1);
    return { ino, slot: ino };
  }
  iput(ip: VInode): void {
    const n = (this.#refs.get(ip.ino) ?? 0) - 1;
    if (n < 0) throw new Error(`iput ${ip.ino}: no reference`);
    this.#refs.set(ip.ino, n);
    if (n === 0 && this.#orphans.delete(ip.ino)) this.#evict(ip.ino);
  }
  refs(ino: number): number {
    return this.#refs.get(ino) ?? 0;
  }
  handle(ino: Ino, slot: number): VInode {
    return { ino, slot };
  }
  isDax(_ip: VInode): boolean {
    return this.dax;
  }
  getattr(ip: VInode): VAttr {
    const g = (f: Parameters<typeof inodeGet>[2]) => inodeGet(this.vol, ip.ino, f);
    return {
      ino: ip.ino,
      mode: g("mode"),
      links: g("links"),
      uid: g("uid"),
      gid: g("gid"),
      size: inodeGetSize(this.vol, ip.ino),
      blocks: g("blocks") * 8,
      atime: 0,
      mtime: 0,
      ctime: 0,
      dax: this.dax,
    };
  }
  size(ip: VInode): number {
    return inodeGetSize(this.vol, ip.ino);
  }
  iRwsem(ip: VInode): number {
    return this.mem.layout.scratch.base + ip.slot * SLOT_LOCK_WORDS;
  }
  invalidateLock(ip: VInode): number {
    return this.iRwsem(ip) + 4;
  }
  getBlock(ip: VInode, iblock: number, create: boolean): number {
    const b = bmapLookup(this.vol, ip.ino, iblock);
    if (b !== 0 || !create) return b;
    const nb = this.#alloc();
    if (nb < 0) return nb;
    const rc = bmapInsert(this.vol, ip.ino, iblock, nb, this.#alloc);
    return rc < 0 ? rc : nb;
  }
  daxRead(ip: VInode, pos: number, dst: Uint8Array): number {
    const size = this.size(ip);
    if (pos >= size) return 0;
    const end = Math.min(size, pos + dst.length);
    for (let p = pos; p < end;) {
      const ib = Math.floor(p / PAGE_SIZE);
      const off = p % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, end - p);
      const b = this.getBlock(ip, ib, false);
      if (b < 0) return b;
      if (b === 0) dst.fill(0, p - pos, p - pos + n);
      else dst.set(this.dev.bytes.subarray(b * PAGE_SIZE + off, b * PAGE_SIZE + off + n), p - pos);
      p += n;
    }
    return end - pos;
  }
  daxWrite(ip: VInode, pos: number, src: Uint8Array): number {
    for (let p = pos; p < pos + src.length;) {
      const ib = Math.floor(p / PAGE_SIZE);
      const off = p % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, pos + src.length - p);
      const b = this.getBlock(ip, ib, true);
      if (b < 0) return p > pos ? p - pos : b;
      this.dev.bytes.set(src.subarray(p - pos, p - pos + n), b * PAGE_SIZE + off);
      p += n;
    }
    if (pos + src.length > this.size(ip)) inodeSetSize(this.vol, ip.ino, pos + src.length);
    return src.length;
  }
  setSize(ip: VInode, size: number): number {
    inodeSetSize(this.vol, ip.ino, size);
    return 0;
  }
  truncate(ip: VInode, size: number): number {
    const old = this.size(ip);
    if (size < old) {
      const keep = Math.ceil(size / PAGE_SIZE);
      const tail = size % PAGE_SIZE;
      if (tail !== 0) {
        const b = bmapLookup(this.vol, ip.ino, keep - 1);
        if (b > 0) this.dev.bytes.fill(0, b * PAGE_SIZE + tail, (b + 1) * PAGE_SIZE);
      }
      const rc = bmapTruncate(this.vol, ip.ino, keep, (b) => freeBlockOffline(this.vol, b));
      if (rc < 0) return rc;
    }
    inodeSetSize(this.vol, ip.ino, size);
    return 0;
  }
  fsync(_ip: VInode): number {
    return this.dev.flush();
  }
  lookup(dir: VInode, name: string): Ino | number {
    return dirLookup(this.vol, dir.ino, name);
  }
  #newInode(dir: VInode, name: string, mode: number, links: number): Ino | number {
    const ino = allocInodeOffline(this.vol);
    if (ino < 0) return ino;
    inodeSet(this.vol, ino, "mode", mode);
    inodeSet(this.vol, ino, "links", links);
    const rc = dirAddEntry(this.vol, dir.ino, name, ino, modeToFileType(mode), this.#alloc);
    if (rc < 0) {
      inodeSet(this.vol, ino, "mode", 0);
      freeInodeOffline(this.vol, ino);
      return rc;
    }
    return ino;
  }
  create(dir: VInode, name: string, mode: number): Ino | number {
    return this.#newInode(dir, name, mode, 1);
  }
  mkdir(dir: VInode, name: string, mode: number): Ino | number {
    const ino = this.#newInode(dir, name, mode, 2);
    if (ino < 0) return ino;
    const b = this.#alloc();
    if (b < 0) return b;
    dirInitBlock(this.vol, b, asIno(ino), dir.ino);
    bmapInsert(this.vol, asIno(ino), 0, b, this.#alloc);
    inodeSetSize(this.vol, asIno(ino), XIPFS_BLOCK_SIZE);
    inodeSet(this.vol, dir.ino, "links", inodeGet(this.vol, dir.ino, "links") + 1);
    return ino;
  }
  #drop(ino: Ino): void {
    const links = inodeGet(this.vol, ino, "links") - 1;
    inodeSet(this.vol, ino, "links", links);
    if (links > 0) return;
    if ((this.#refs.get(ino) ?? 0) > 0) this.#orphans.add(ino);
    else this.#evict(ino);
  }
  #evict(ino: number): void {
    const i = asIno(ino);
    // The slot (= ino here) is the mapping id: its pages must go with the inode.
    truncateInodePages(this.mem, ino, 0);
    bmapTruncate(this.vol, i, 0, (b) => freeBlockOffline(this.vol, asBlock(b)));
    inodeSetSize(this.vol, i, 0);
    inodeSet(this.vol, i, "mode", 0);
    inodeSet(this.vol, i, "links", 0);
    inodeSet(this.vol, i, "blocks", 0);
    freeInodeOffline(this.vol, i);
  }
  #mode = (ino: Ino) => inodeGet(this.vol, ino, "mode") & S_IFMT;
  unlink(dir: VInode, name: string): number {
    const ino = dirLookup(this.vol, dir.ino, name);
    if (ino < 0) return ino;
    if (this.#mode(ino) === S_IFDIR) return -EISDIR;
    const rc = dirRemoveEntry(this.vol, dir.ino, name);
    if (rc < 0) return rc;
    this.#drop(ino);
    return 0;
  }
  rmdir(dir: VInode, name: string): number {
    const ino = dirLookup(this.vol, dir.ino, name);
    if (ino < 0) return ino;
    if (this.#mode(ino) !== S_IFDIR) return -ENOTDIR;
    if (ino === this.rootIno) return -EBUSY;
    if (dirCountChildren(this.vol, ino) > 0) return -ENOTEMPTY;
    dirRemoveEntry(this.vol, dir.ino, name);
    inodeSet(this.vol, dir.ino, "links", inodeGet(this.vol, dir.ino, "links") - 1);
    inodeSet(this.vol, ino, "links", 1);
    this.#drop(ino);
    return 0;
  }
  rename(odir: VInode, oname: string, ndir: VInode, nname: string): number {
    const ino = dirLookup(this.vol, odir.ino, oname);
    if (ino < 0) return ino;
    const isDir = this.#mode(ino) === S_IFDIR;
    if (isDir) {
      // Refuse moving a directory under itself: walk up from ndir.
      for (let d = ndir.ino; d !== this.rootIno; d = dirLookup(this.vol, d, "..") as Ino) {
        if (d === ino) return -EINVAL;
      }
    }
    const tgt = dirLookup(this.vol, ndir.ino, nname);
    if (tgt === ino) return 0;
    if (tgt >= 0) {
      const tDir = this.#mode(tgt) === S_IFDIR;
      if (isDir && !tDir) return -ENOTDIR;
      if (!isDir && tDir) return -EISDIR;
      if (tDir) {
        const rc = this.rmdir(ndir, nname);
        if (rc < 0) return rc;
      } else {
        const rc = this.unlink(ndir, nname);
        if (rc < 0) return rc;
      }
    } else if (tgt !== -ENOENT) return tgt;
    const rc = dirAddEntry(
      this.vol,
      ndir.ino,
      nname,
      ino,
      modeToFileType(this.#mode(ino)),
      this.#alloc,
    );
    if (rc < 0) return rc;
    dirRemoveEntry(this.vol, odir.ino, oname);
    if (isDir && odir.ino !== ndir.ino) {
      dirRemoveEntry(this.vol, ino, "..");
      dirAddEntry(this.vol, ino, "..", ndir.ino, modeToFileType(S_IFDIR), this.#alloc);
      inodeSet(this.vol, odir.ino, "links", inodeGet(this.vol, odir.ino, "links") - 1);
      inodeSet(this.vol, ndir.ino, "links", inodeGet(this.vol, ndir.ino, "links") + 1);
    }
    return 0;
  }
  symlink(dir: VInode, name: string, target: string): Ino | number {
    const ino = this.#newInode(dir, name, S_IFLNK | 0o777, 1);
    if (ino < 0) return ino;
    const rc = symlinkWriteOffline(
      this.vol,
      asIno(ino),
      new TextEncoder().encode(target),
      this.#alloc,
    );
    return rc < 0 ? rc : ino;
  }
  readlink(ip: VInode): string | number {
    return symlinkRead(this.vol, ip.ino);
  }
  readdir(dir: VInode, cookie: number, emit: (e: VDirent) => boolean): number {
    if (this.#mode(dir.ino) !== S_IFDIR) return -ENOTDIR;
    return dirIterate(this.vol, dir.ino, (e) => {
      if (e.pos < cookie) return false;
      const ifmt = inodeGet(this.vol, e.ino, "mode") & S_IFMT;
      return !emit({ ino: e.ino, name: e.name, ifmt, next: e.pos + e.recLen });
    });
  }
}
