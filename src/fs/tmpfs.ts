/**
 * tmpfs (Linux's mm/shmem.c as a filesystem): a directory tree whose files
 * are shmem inodes (src/fs/shmem.ts), mounted on /dev/shm for POSIX shared
 * memory (shm_open is open + ftruncate + mmap there; sem_open maps a file
 * there and uses a futex word in it). It is written to be mounted anywhere
 * (a /tmp on tmpfs is one TmpfsMount more): nothing here knows /dev/shm but
 * the mount point test (`mountedOn`).
 *
 * Mounting. TmpfsMount is a StackedFs (stacked_fs.ts) over the filesystem
 * below it, as procfs's ProcfsMount is: looking up the mount point's name in its
 * parent answers with the tmpfs root, and every other call is routed by
 * inode number (shmemOwns), since open files and handles carry only
 * (ino, slot). The mount point must exist below (the Machine makes /dev
 * and /dev/shm at boot when the image has none, tmpfsMountPrepare); readdir
 * of its parent shows the directory below, as Linux's does.
 *
 * What lives where:
 * - inodes: shmem inodes of kind SHMEM_KIND_TMPFS (regular files,
 *   directories, symlinks whose target is the file's data);
 * - directory entries: the TDIRENT table (layout/ipc.ts), every tmpfs
 *   directory's in one, with the directory's inode number in each entry;
 * - the namespace lock SHMHDR.lock (LockClass.TMPFS): every entry, every
 *   nlink and parent change. Each name of an inode holds one reference on
 *   it, dropped by the unlink, rmdir or rename that removes the name,
 *   after the lock is released; so an unlinked file that is still open or
 *   mapped lives on, and its pages go with its last reference. A
 *   directory has one name; a file has nlink of them (link(2)).
 *
 * Linux semantics kept: O_CREAT|O_EXCL, unlink while open, hard links
 * (shmem_link; musl's sem_open links its semaphore into place), rename
 * (replacing a file, or an empty directory by a directory; a no-op
 * between two names of one file; EXDEV across filesystems; EINVAL into
 * its own subtree), "." and "..", sticky 1777 root, size= 50% of RAM
 * (ENOSPC), nr_inodes (shmem's SHMEM_MAX_INODES).
 * Not kept: permissions are not checked (xip has no users), extended
 * attributes.
 *
 * @module
 */

import {
  EEXIST,
  EINVAL,
  EISDIR,
  ENOENT,
  ENOSPC,
  ENOTDIR,
  ENOTEMPTY,
  EOPNOTSUPP,
  EPERM,
  EXDEV,
} from "../abi/errno.ts";
import {
  DT_DIR,
  FALLOC_FL_KEEP_SIZE,
  modeToDtype,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFSOCK,
} from "../abi/fcntl.ts";
import { SHMEM_KIND_SYSV, SHMEM_KIND_TMPFS, SHMHDR, TMPFS_DIRENTS } from "../abi/layout/ipc.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asIno, asInodeSlot, type Ino } from "../abi/types.ts";
import { nowSecs } from "./dax.ts";
import {
  shmemFallocate,
  shmemIget,
  shmemIhold,
  shmemInodeNew,
  shmemIput,
  shmemIRwsem,
  shmemOwns,
  shmemPunchHole,
  shmemRead,
  shmemSize,
  shmemTruncate,
  shmemWrite,
  shmiGet,
  shmiSet,
} from "./shmem.ts";
import { type Cover, StackedFs } from "./stacked_fs.ts";
import { Tmpfs } from "./tmpfs_ns.ts";
import type { VAttr, VDirent, VfsFs, VInode } from "./vfs_fs.ts";
import type { InodeRef, XipCtx } from "./xipfs/xipfs_ctx.ts";

/** Where the POSIX shared-memory tmpfs is mounted: /dev/shm. */
export const SHM_MOUNT: readonly string[] = ["dev", "shm"];

/** readdir cookies: 0 "." , 1 "..", then TDIRENT index + 2. */
const COOKIE_FIRST_ENTRY = 2;

const enc = new TextEncoder();
const dec = new TextDecoder();

const isDir = (mode: number): boolean => (mode & S_IFMT) === S_IFDIR;

/**
 * Make the tmpfs's root directory (mode 1777, as /dev/shm is), in SHMHDR;
 * it keeps its creation reference until tmpfsUnmount. Main thread, once, at
 * boot. Entry: no lock held; the inode-cache lock (shmemInodeNew).
 * @returns 0, or -errno (no inode slot)
 */
export function tmpfsMountInit(c: XipCtx): number {
  const root = shmemInodeNew(c, SHMEM_KIND_TMPFS, S_IFDIR | 0o1777);
  if (typeof root === "number") return root;
  shmiSet(c, root, "nlink", 2);
  shmiSet(c, root, "parent", root.ino);
  const h = c.mem.layout.ipc.base;
  Atomics.store(c.k32, h + SHMHDR.tmpfsRootIno, root.ino);
  Atomics.store(c.k32, h + SHMHDR.tmpfsRootSlot, root.slot);
  return 0;
}

/**
 * Make the mount point's directories in `lower` when they are missing (/dev
 * 0755, /dev/shm 1777), as an init system's tmpfiles does. Main thread at
 * boot, through `lower`'s directory calls. Entry: no lock held; each call
 * takes its directory's i_rwsem.
 * @returns 0, or the first error other than EEXIST
 */
export function tmpfsMountPrepare(lower: VfsFs): number {
  const root = lower.iget(lower.rootIno);
  if (typeof root === "number") return root;
  let dir: VInode = root;
  try {
    for (const [i, name] of SHM_MOUNT.entries()) {
      const mode = S_IFDIR | (i === SHM_MOUNT.length - 1 ? 0o1777 : 0o755);
      let ino = lower.lookup(dir, name);
      if (ino === -ENOENT) ino = lower.mkdir(dir, name, mode);
      if (ino < 0) return ino;
      const next = lower.iget(asIno(ino));
      if (typeof next === "number") return next;
      lower.iput(dir);
      dir = next;
    }
    return 0;
  } finally {
    lower.iput(dir);
  }
}

/**
 * Drop every tmpfs name and the root (machine shutdown: no process is left),
 * so the inode cache holds no tmpfs inode at unmount. Main thread. Entry: no
 * lock held; the TMPFS lock (the inode-cache lock under it) to clear the
 * names, then shmemIput with it dropped.
 */
export function tmpfsUnmount(c: XipCtx): void {
  const h = c.mem.layout.ipc.base;
  const rootIno = Atomics.load(c.k32, h + SHMHDR.tmpfsRootIno);
  if (rootIno === 0) return;
  const t = new Tmpfs(c);
  const linked: InodeRef[] = [];
  t.locked(() => {
    for (let i = 0; i < TMPFS_DIRENTS; i++) {
      const ino = t.entIno(i);
      if (ino === 0) continue;
      const ip = shmemIget(c, asIno(ino));
      if (ip !== null) linked.push(ip, ip); // the link, and the reference just taken
      t.clearEnt(i);
    }
  });
  for (const ip of linked) shmemIput(c, ip);
  const root = {
    ino: asIno(rootIno),
    slot: asInodeSlot(Atomics.load(c.k32, h + SHMHDR.tmpfsRootSlot)),
  };
  Atomics.store(c.k32, h + SHMHDR.tmpfsRootIno, 0);
  Atomics.store(c.k32, h + SHMHDR.tmpfsRootSlot, 0);
  shmemIput(c, root);
}

/** The filesystem below with a tmpfs mounted on /dev/shm. */
export class TmpfsMount extends StackedFs {
  readonly #t: Tmpfs;

  constructor(lower: VfsFs, readonly c: XipCtx) {
    super(lower);
    this.#t = new Tmpfs(c);
  }

  /** The ino of the lower directory `path` (components from the root), or -errno. */
  #lowerIno(path: readonly string[]): number {
    let ino: number = this.lower.rootIno;
    for (const name of path) {
      const d = this.lower.iget(asIno(ino));
      if (typeof d === "number") return d;
      try {
        ino = this.lower.lookup(d, name);
      } finally {
        this.lower.iput(d);
      }
      if (ino < 0) return ino;
    }
    return ino;
  }

  /** Whether `name` in lower directory `dir` is the mount point (/dev/shm). */
  #mountedOn(dir: VInode, name: string): boolean {
    if (name !== SHM_MOUNT[SHM_MOUNT.length - 1] || this.#t.rootIno === 0) return false;
    return this.#lowerIno(SHM_MOUNT.slice(0, -1)) === dir.ino;
  }

  // isDax is true for a tmpfs inode: the VFS sends its reads and writes to
  // daxRead/daxWrite and never writes it back, what a memory-only inode wants.
  protected override owns(ino: number): boolean {
    return shmemOwns(ino);
  }
  protected override cover(dir: VInode, name: string): Cover | null {
    return this.#mountedOn(dir, name) ? { ino: this.#t.rootIno, dir: true } : null;
  }
  protected override ownIget(ino: Ino): VInode | number {
    return shmemIget(this.c, ino) ?? -ENOENT;
  }
  protected override ownIput(ip: VInode): void {
    shmemIput(this.c, ip);
  }
  protected override ownGetattr(ip: VInode): VAttr {
    const c = this.c;
    return {
      ino: ip.ino,
      mode: shmiGet(c, ip, "mode"),
      links: shmiGet(c, ip, "nlink"),
      uid: shmiGet(c, ip, "uid"),
      gid: shmiGet(c, ip, "gid"),
      size: shmemSize(c, ip),
      blocks: shmiGet(c, ip, "pages") * 8,
      atime: shmiGet(c, ip, "atime"),
      mtime: shmiGet(c, ip, "mtime"),
      ctime: shmiGet(c, ip, "ctime"),
      dax: false,
    };
  }
  protected override ownSize(ip: VInode): number {
    return shmemSize(this.c, ip);
  }
  protected override ownIRwsem(ip: VInode): number {
    return shmemIRwsem(this.c, ip);
  }
  protected override ownDaxRead(ip: VInode, pos: number, dst: Uint8Array): number {
    if (isDir(shmiGet(this.c, ip, "mode"))) return -EISDIR;
    return shmemRead(this.c, ip, pos, dst);
  }
  protected override ownDaxWrite(ip: VInode, pos: number, src: Uint8Array): number {
    return shmemWrite(this.c, ip, pos, src)[0];
  }
  protected override ownDaxAppend(ip: VInode, src: Uint8Array): [number, number] {
    return shmemWrite(this.c, ip, 0, src, true);
  }
  protected override ownTruncate(ip: VInode, size: number): number {
    return shmemTruncate(this.c, ip, size);
  }
  protected override ownPunchHole(ip: VInode, off: number, len: number): number {
    return shmemPunchHole(this.c, ip, off, len);
  }
  protected override ownFallocate(ip: VInode, mode: number, off: number, len: number): number {
    if ((mode & ~FALLOC_FL_KEEP_SIZE) !== 0) return -EOPNOTSUPP;
    return shmemFallocate(this.c, ip, off, len, mode !== 0);
  }
  protected override ownFsync(): number {
    return 0;
  }
  // shmem inodes keep no i_writecount: ETXTBSY is not enforced for them (the default).

  protected override ownLookup(dir: VInode, name: string): Ino | number {
    if (!isDir(shmiGet(this.c, dir, "mode"))) return -ENOTDIR;
    if (name === ".") return dir.ino;
    if (name === "..") {
      if (dir.ino !== this.#t.rootIno) return shmiGet(this.c, dir, "parent");
      const up = this.#lowerIno(SHM_MOUNT.slice(0, -1));
      return up < 0 ? up : asIno(up);
    }
    return this.#t.locked(() => {
      const i = this.#t.find(dir.ino, name);
      return i < 0 ? -ENOENT : asIno(this.#t.entIno(i));
    });
  }

  /**
   * Make a node `name` of `mode` in tmpfs directory `dir`; `fill` writes a
   * symlink's target once the inode exists. The creation reference becomes
   * the link's.
   */
  #makeNode(dir: VInode, name: string, mode: number, fill?: (ip: InodeRef) => number): number {
    const c = this.c, t = this.#t;
    const bytes = enc.encode(name);
    const made = t.locked((): InodeRef | number => {
      if (shmiGet(c, dir, "nlink") === 0) return -ENOENT; // removed while we walked
      if (t.find(dir.ino, name) >= 0) return -EEXIST;
      const slot = t.free();
      if (slot < 0) return -ENOSPC;
      const ip = shmemInodeNew(c, SHMEM_KIND_TMPFS, mode);
      if (typeof ip === "number") return ip;
      if (isDir(mode)) {
        shmiSet(c, ip, "nlink", 2);
        shmiSet(c, ip, "parent", dir.ino);
        shmiSet(c, dir, "nlink", shmiGet(c, dir, "nlink") + 1);
      }
      t.setEnt(slot, dir.ino, ip.ino, bytes);
      touch(c, dir);
      return ip;
    });
    if (typeof made === "number") return made;
    if (fill !== undefined) {
      const r = fill(made);
      if (r < 0) {
        this.unlink(dir, name);
        return r;
      }
    }
    return made.ino;
  }

  protected override ownCreate(dir: VInode, name: string, mode: number): Ino | number {
    return this.#makeNode(dir, name, mode) as Ino | number;
  }
  protected override ownMkdir(dir: VInode, name: string, mode: number): Ino | number {
    return this.#makeNode(dir, name, S_IFDIR | (mode & 0o7777)) as Ino | number;
  }
  protected override ownMknod(dir: VInode, name: string, mode: number): Ino | number {
    if ((mode & S_IFMT) !== S_IFSOCK) return -EPERM;
    return this.#makeNode(dir, name, S_IFSOCK | (mode & 0o7777)) as Ino | number;
  }
  protected override ownSymlink(dir: VInode, name: string, target: string): Ino | number {
    const bytes = enc.encode(target);
    return this.#makeNode(dir, name, S_IFLNK | 0o777, (ip) => {
      const [n] = shmemWrite(this.c, ip, 0, bytes);
      return n < 0 ? n : 0;
    }) as Ino | number;
  }
  protected override ownReadlink(ip: VInode): string | number {
    if ((shmiGet(this.c, ip, "mode") & S_IFMT) !== S_IFLNK) return -EINVAL;
    const buf = new Uint8Array(shmemSize(this.c, ip));
    const n = shmemRead(this.c, ip, 0, buf);
    return n < 0 ? n : dec.decode(buf.subarray(0, n));
  }

  /** Remove entry `name` of `dir`; `wantDir` selects rmdir's rules. */
  #remove(dir: VInode, name: string, wantDir: boolean): number {
    const c = this.c, t = this.#t;
    let drop: InodeRef | null = null;
    const r = t.locked(() => {
      const i = t.find(dir.ino, name);
      if (i < 0) return -ENOENT;
      const ip = shmemIget(c, asIno(t.entIno(i)));
      if (ip === null) throw new KernelPanic("tmpfs remove", `entry ${name} names a freed inode`);
      const d = isDir(shmiGet(c, ip, "mode"));
      let err = 0;
      if (wantDir && !d) err = -ENOTDIR;
      else if (!wantDir && d) err = -EISDIR;
      else if (d && t.hasChildren(ip.ino)) err = -ENOTEMPTY;
      if (err === 0) {
        t.clearEnt(i);
        dropLink(c, dir, ip, d);
        drop = ip; // the link's reference
      }
      shmemIput(c, ip); // the reference taken above (never the last: the link holds one)
      return err;
    });
    if (drop !== null) shmemIput(c, drop);
    return r;
  }

  protected override ownUnlink(dir: VInode, name: string): number {
    return this.#remove(dir, name, false);
  }
  protected override ownRmdir(dir: VInode, name: string): number {
    return this.#remove(dir, name, true);
  }

  /** link where `ip` or `dir` is a tmpfs inode: both must be, and `ip` a tmpfs non-directory. */
  protected override ownLink(ip: VInode, dir: VInode, name: string): number {
    if (
      shmemOwns(ip.ino) !== shmemOwns(dir.ino) || shmiGet(this.c, ip, "kind") !== SHMEM_KIND_TMPFS
    ) return -EXDEV;
    if (isDir(shmiGet(this.c, ip, "mode"))) return -EPERM;
    const c = this.c, t = this.#t;
    const bytes = enc.encode(name);
    return t.locked(() => {
      if (shmiGet(c, dir, "nlink") === 0) return -ENOENT; // removed while we walked
      if (t.find(dir.ino, name) >= 0) return -EEXIST;
      const nlink = shmiGet(c, ip, "nlink");
      if (nlink === 0) return -ENOENT; // its last name went meanwhile (shmem_link's check)
      const slot = t.free();
      if (slot < 0) return -ENOSPC;
      shmemIhold(c, ip); // the new name's reference
      shmiSet(c, ip, "nlink", nlink + 1);
      shmiSet(c, ip, "ctime", nowSecs());
      t.setEnt(slot, dir.ino, ip.ino, bytes);
      touch(c, dir);
      return 0;
    });
  }

  /** rename where either directory is tmpfs's: both must be (-EXDEV). */
  protected override ownRename(
    odir: VInode,
    oname: string,
    ndir: VInode,
    nname: string,
    noReplace: boolean,
  ): number {
    if (shmemOwns(odir.ino) !== shmemOwns(ndir.ino)) return -EXDEV;
    const c = this.c, t = this.#t;
    let drop: InodeRef | null = null;
    const r = t.locked(() => {
      const si = t.find(odir.ino, oname);
      if (si < 0) return -ENOENT;
      const src = asIno(t.entIno(si));
      const srcDir = isDir(shmiGet(c, this.#slotOf(src), "mode"));
      if (srcDir && this.#isAncestor(src, ndir.ino)) return -EINVAL;
      const ti = t.find(ndir.ino, nname);
      // RENAME_NOREPLACE: any existing target, even the source itself (do_renameat2).
      if (noReplace && ti >= 0) return -EEXIST;
      // The same name, or two names of one file: nothing to do (POSIX).
      if (ti === si || (ti >= 0 && t.entIno(ti) === src)) return 0;
      if (ti >= 0) {
        const tgt = shmemIget(c, asIno(t.entIno(ti)));
        if (tgt === null) {
          throw new KernelPanic("tmpfs rename", `entry ${nname} names a freed inode`);
        }
        const tgtDir = isDir(shmiGet(c, tgt, "mode"));
        let err = 0;
        if (srcDir && !tgtDir) err = -ENOTDIR;
        else if (!srcDir && tgtDir) err = -EISDIR;
        else if (tgtDir && t.hasChildren(tgt.ino)) err = -ENOTEMPTY;
        if (err === 0) {
          t.clearEnt(ti);
          dropLink(c, ndir, tgt, tgtDir);
          drop = tgt;
        }
        shmemIput(c, tgt);
        if (err < 0) return err;
      }
      const bytes = enc.encode(nname);
      t.clearEnt(si);
      t.setEnt(si, ndir.ino, src, bytes);
      if (srcDir && odir.ino !== ndir.ino) {
        const s = this.#slotOf(src);
        shmiSet(c, s, "parent", ndir.ino);
        shmiSet(c, odir, "nlink", shmiGet(c, odir, "nlink") - 1);
        shmiSet(c, ndir, "nlink", shmiGet(c, ndir, "nlink") + 1);
      }
      touch(c, odir);
      touch(c, ndir);
      return 0;
    });
    if (drop !== null) shmemIput(c, drop);
    return r;
  }

  /** The InodeRef of a linked tmpfs inode (its link holds it). Lock held. */
  #slotOf(ino: Ino): InodeRef {
    const ip = shmemIget(this.c, ino);
    if (ip === null) throw new KernelPanic("tmpfs", `linked inode ${ino} is gone`);
    shmemIput(this.c, ip); // the link still holds one: the slot stays
    return ip;
  }

  /** Whether directory `a` is `d` or one of its ancestors. Lock held. */
  #isAncestor(a: Ino, d: number): boolean {
    for (let cur = d, hops = 0; hops < TMPFS_DIRENTS + 1; hops++) {
      if (cur === a) return true;
      if (cur === this.#t.rootIno) return false;
      cur = shmiGet(this.c, this.#slotOf(asIno(cur)), "parent");
    }
    return true;
  }

  protected override ownReaddir(
    dir: VInode,
    cookie: number,
    emit: (e: VDirent) => boolean,
  ): number {
    const c = this.c, t = this.#t;
    if (!isDir(shmiGet(c, dir, "mode"))) return -ENOTDIR;
    const parent = dir.ino === t.rootIno
      ? this.#lowerIno(SHM_MOUNT.slice(0, -1))
      : shmiGet(c, dir, "parent");
    const all: VDirent[] = [
      { ino: dir.ino, name: ".", dtype: DT_DIR, next: 1 },
      { ino: asIno(Math.max(parent, 0)), name: "..", dtype: DT_DIR, next: COOKIE_FIRST_ENTRY },
    ];
    t.locked(() => {
      for (let i = Math.max(0, cookie - COOKIE_FIRST_ENTRY); i < TMPFS_DIRENTS; i++) {
        if (t.entIno(i) === 0 || t.entParent(i) !== dir.ino) continue;
        const ino = asIno(t.entIno(i));
        const mode = shmiGet(c, this.#slotOf(ino), "mode");
        all.push({
          ino,
          name: t.entName(i),
          dtype: modeToDtype(mode),
          next: i + 1 + COOKIE_FIRST_ENTRY,
        });
      }
    });
    for (const e of all) {
      if (e.next <= cookie) continue;
      if (!emit(e)) return 0;
    }
    return 0;
  }
}

/**
 * The name /proc/PID/maps shows for a mapping of shmem inode `ino` (as
 * Linux's d_path of the shmem file): `/dev/zero (deleted)` for shared
 * anonymous memory, `/SYSV<key> (deleted)` for a System V segment, the
 * path of a tmpfs file (with " (deleted)" once unlinked). Takes the tmpfs
 * lock. Entry: the caller's mapping keeps the inode alive.
 */
export function shmemMapsName(c: XipCtx, ino: number): string {
  const ip = shmemIget(c, asIno(ino));
  if (ip === null) return "";
  try {
    const kind = shmiGet(c, ip, "kind");
    if (kind === SHMEM_KIND_SYSV) {
      return `/SYSV${(shmiGet(c, ip, "key") >>> 0).toString(16).padStart(8, "0")} (deleted)`;
    }
    if (kind !== SHMEM_KIND_TMPFS) return "/dev/zero (deleted)";
    if (shmiGet(c, ip, "nlink") === 0) return "(deleted)";
    const t = new Tmpfs(c);
    return t.locked(() => {
      const parts: string[] = [];
      for (let cur = ino, hops = 0; cur !== t.rootIno && hops <= TMPFS_DIRENTS; hops++) {
        let found = -1;
        for (let i = 0; i < TMPFS_DIRENTS && found < 0; i++) if (t.entIno(i) === cur) found = i;
        if (found < 0) return "";
        parts.unshift(t.entName(found));
        cur = t.entParent(found);
      }
      return "/" + [...SHM_MOUNT, ...parts].join("/");
    });
  } finally {
    shmemIput(c, ip);
  }
}

/** Update a directory's mtime and ctime (a name came or went). */
function touch(c: XipCtx, dir: InodeRef): void {
  const now = nowSecs();
  shmiSet(c, dir, "mtime", now);
  shmiSet(c, dir, "ctime", now);
}

/**
 * The bookkeeping of a name leaving `dir`: a file loses one link; a
 * directory its only one (nlink 0), taking its "." and the parent's ".."
 * with it. The caller drops the name's reference once the lock is
 * released.
 */
function dropLink(c: XipCtx, dir: InodeRef, ip: InodeRef, wasDir: boolean): void {
  shmiSet(c, ip, "nlink", wasDir ? 0 : shmiGet(c, ip, "nlink") - 1);
  shmiSet(c, ip, "ctime", nowSecs());
  if (wasDir) shmiSet(c, dir, "nlink", shmiGet(c, dir, "nlink") - 1);
  touch(c, dir);
}
