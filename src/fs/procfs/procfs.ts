/**
 * procfs: a synthetic, read-only filesystem mounted at /proc (Linux's
 * fs/proc, reduced). Its files are generated from the kernel tables when
 * read, like seq_file: the first read at position 0 builds the whole text
 * into a buffer held for the open file, and later reads at other positions
 * are served from that buffer, so a reader that reads in small pieces sees
 * one consistent snapshot. A read at position 0 builds it afresh (seq_file
 * restarts there too).
 *
 * ```
 *  /proc
 *  ├── self      -> "PID" of the calling process (a symlink)
 *  ├── meminfo   procfs_meminfo.ts
 *  └── PID/      one directory per live process
 *      ├── maps  procfs_maps.ts
 *      └── smaps
 * ```
 *
 * Inode numbers (all above any xipfs inode, which the mount uses to route):
 *
 * ```
 *  PROC_INO_BASE + 1  /proc          PROC_INO_BASE + 8*pid + 0  /proc/PID
 *  PROC_INO_BASE + 2  /proc/self     PROC_INO_BASE + 8*pid + 1  /proc/PID/maps
 *  PROC_INO_BASE + 3  /proc/meminfo  PROC_INO_BASE + 8*pid + 2  /proc/PID/smaps
 * ```
 *
 * Open-file identity: every iget of a procfs inode gets a fresh id from the
 * shared counter FILES.procfsSeq, used as the handle's `slot`. The open-file
 * record stores it as its islot, so the snapshot buffer (kept per thread,
 * since a JS buffer cannot live in shared memory) is keyed by the record's
 * id and freed by the record's last iput (close). A thread keeps at most
 * SNAPSHOTS_PER_THREAD buffers; past that the oldest is dropped and rebuilt
 * if read again (a file closed by another thread, e.g. the Machine reaping
 * a dead process, leaves its buffer here until then).
 *
 * Processes come from a `ProcInfo`, which the process layer implements.
 *
 * @module
 */

import { EACCES, ENOENT, ENOTDIR } from "../../abi/errno.ts";
import { DT_DIR, DT_LNK, DT_REG, S_IFDIR, S_IFLNK, S_IFREG } from "../../abi/fcntl.ts";
import { FILES } from "../../abi/layout/mod.ts";
import { KernelPanic } from "../../abi/panic.ts";
import { asIno, asInodeSlot, type Ino, type MmId } from "../../abi/types.ts";
import type { Memory } from "../../hw/memory.ts";
import { mapsText } from "./procfs_maps.ts";
import { meminfoText } from "./procfs_meminfo.ts";
import type { VAttr, VDirent, VfsFs, VInode } from "../vfs_fs.ts";

/** The processes procfs shows: what the process layer tells it. */
export interface ProcInfo {
  /** The live process `pid`: its mm slot (0 once it has none), or null when there is none. */
  lookupPid(pid: number): { mm: MmId } | null;
  /** The calling thread's process id; 0 when the thread runs no process (the Machine). */
  selfPid(): number;
  /** Every live process (thread-group leader) pid, ascending. */
  pids(): number[];
  /** The thread ids of process `pid` (its own pid first among them), ascending; [] if none. */
  threads?(pid: number): number[];
}

/** First procfs inode number; every xipfs inode number is below it. */
export const PROC_INO_BASE = 0x4000_0000;
export const PROC_ROOT_INO = asIno(PROC_INO_BASE + 1);
export const PROC_SELF_INO = asIno(PROC_INO_BASE + 2);
export const PROC_MEMINFO_INO = asIno(PROC_INO_BASE + 3);
/** Largest pid that has inode numbers. */
export const PROC_PID_MAX = Math.floor((0x7fff_ffff - PROC_INO_BASE) / 8);

/** What a procfs inode is. */
const enum Kind {
  root,
  self,
  meminfo,
  pidDir,
  maps,
  smaps,
  taskDir,
}

/** Files of a /proc/PID directory: name, kind, inode offset. */
const PID_FILES: readonly [string, Kind, number][] = [
  ["maps", Kind.maps, 1],
  ["smaps", Kind.smaps, 2],
];
/** Inode offset of /proc/PID/task, the directory of the process's threads. */
const TASK_OFF = 3;

/** Whether `ino` is a procfs inode (the mount routes by this). */
export const procfsOwns = (ino: number): boolean => ino >= PROC_INO_BASE;

const pidIno = (pid: number, off: number): Ino => asIno(PROC_INO_BASE + pid * 8 + off);

/** [kind, pid] of a procfs inode number, or null when it names nothing. */
function decode(ino: number): [Kind, number] | null {
  if (ino === PROC_ROOT_INO) return [Kind.root, 0];
  if (ino === PROC_SELF_INO) return [Kind.self, 0];
  if (ino === PROC_MEMINFO_INO) return [Kind.meminfo, 0];
  const rel = ino - PROC_INO_BASE;
  const pid = Math.floor(rel / 8);
  if (pid < 1) return null;
  const off = rel % 8;
  if (off === 0) return [Kind.pidDir, pid];
  if (off === TASK_OFF) return [Kind.taskDir, pid];
  const f = PID_FILES.find(([, , o]) => o === off);
  return f === undefined ? null : [f[1], pid];
}

/** The canonical decimal pid a name spells ("12", not "012" or "+12"), or 0. */
function parsePid(name: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(name)) return 0;
  const pid = Number(name);
  return pid <= PROC_PID_MAX ? pid : 0;
}

// ---------------------------------------------------------------------------
// Snapshot buffers, per thread and per machine.

/** Most snapshot buffers one thread keeps per machine. */
export const SNAPSHOTS_PER_THREAD = 64;

const snapshotsByMachine = new WeakMap<ArrayBufferLike, Map<number, Uint8Array>>();

function snapshots(mem: Memory): Map<number, Uint8Array> {
  let m = snapshotsByMachine.get(mem.k32.buffer);
  if (m === undefined) {
    m = new Map();
    snapshotsByMachine.set(mem.k32.buffer, m);
  }
  return m;
}

/** Snapshot buffers this thread holds for `mem` (tests: close frees them). */
export const procfsSnapshotCount = (mem: Memory): number => snapshots(mem).size;

/** A fresh procfs handle id, unique machine-wide, > 0. */
function nextId(mem: Memory): number {
  const w = mem.layout.files.base + FILES.procfsSeq;
  for (;;) {
    const id = (Atomics.add(mem.k32, w, 1) + 1) & 0x7fff_ffff;
    if (id !== 0) return id;
  }
}

const enc = new TextEncoder();

// ---------------------------------------------------------------------------

/**
 * The procfs inodes, as the mount (procfs_mount.ts) calls them. Methods
 * take only procfs handles. `root` is the filesystem procfs is mounted on,
 * used for ".." of /proc and to name mapped files.
 */
export class ProcFs {
  readonly mem: Memory;

  constructor(readonly root: VfsFs, readonly info: ProcInfo) {
    this.mem = root.mem;
  }

  /** Whether pid `pid` is a live process. */
  private alive(pid: number): boolean {
    return this.info.lookupPid(pid) !== null;
  }

  /**
   * Reference a procfs inode: a fresh handle id (see the module comment).
   *
   * @returns the handle, or -ENOENT for a number that names nothing or a dead pid
   */
  iget(ino: Ino): VInode | number {
    const d = decode(ino);
    if (d === null || (d[1] !== 0 && !this.alive(d[1]))) return -ENOENT;
    return { ino, slot: asInodeSlot(nextId(this.mem)) }; // a fresh id stands in the slot
  }

  /** Drop a reference: frees the snapshot of an open file whose last close this is. */
  iput(ip: VInode): void {
    snapshots(this.mem).delete(ip.slot);
  }

  private kindOf(ip: VInode, where: string): [Kind, number] {
    const d = decode(ip.ino);
    if (d === null) throw new KernelPanic(where, `not a procfs inode: ${ip.ino}`);
    return d;
  }

  getattr(ip: VInode): VAttr {
    const [kind] = this.kindOf(ip, "ProcFs.getattr");
    const now = Math.floor(Date.now() / 1000);
    let mode = S_IFREG | 0o444;
    let links = 1;
    if (kind === Kind.root) {
      mode = S_IFDIR | 0o555;
      links = 2 + this.info.pids().length;
    } else if (kind === Kind.pidDir) {
      mode = S_IFDIR | 0o555;
      links = 3;
    } else if (kind === Kind.taskDir) {
      mode = S_IFDIR | 0o555;
      links = 2 + this.tids(this.kindOf(ip, "ProcFs.getattr")[1]).length;
    } else if (kind === Kind.self) mode = S_IFLNK | 0o777;
    return {
      ino: ip.ino,
      mode,
      links,
      uid: 0,
      gid: 0,
      size: 0, // as Linux's proc files: the length is known only by reading
      blocks: 0,
      atime: now,
      mtime: now,
      ctime: now,
      dax: false,
    };
  }

  /**
   * Look `name` up in procfs directory `dir`.
   *
   * @returns the inode number, -ENOENT, or -ENOTDIR when `dir` is a file
   */
  lookup(dir: VInode, name: string): Ino | number {
    const [kind, pid] = this.kindOf(dir, "ProcFs.lookup");
    if (kind === Kind.root) {
      if (name === ".") return PROC_ROOT_INO;
      if (name === "..") return this.root.rootIno;
      if (name === "self") return PROC_SELF_INO;
      if (name === "meminfo") return PROC_MEMINFO_INO;
      const p = parsePid(name);
      return p !== 0 && this.alive(p) ? pidIno(p, 0) : -ENOENT;
    }
    if (kind === Kind.taskDir) {
      if (name === ".") return dir.ino;
      if (name === "..") return pidIno(pid, 0);
      const t = parsePid(name);
      return t !== 0 && this.tids(pid).includes(t) ? pidIno(t, 0) : -ENOENT;
    }
    if (kind !== Kind.pidDir) return -ENOTDIR;
    if (!this.alive(pid)) return -ENOENT;
    if (name === ".") return dir.ino;
    if (name === "..") return PROC_ROOT_INO;
    if (name === "task") return pidIno(pid, TASK_OFF);
    const f = PID_FILES.find(([n]) => n === name);
    return f === undefined ? -ENOENT : pidIno(pid, f[2]);
  }

  /** The threads of process `pid` (just `pid` when the table does not say). */
  private tids(pid: number): number[] {
    return this.info.threads?.(pid) ?? (this.alive(pid) ? [pid] : []);
  }

  /**
   * List a procfs directory from `cookie`. /proc: ".", "..", "self",
   * "meminfo" at positions 0..3, then each live pid P at position 4 + P,
   * so a listing resumed after processes came and went continues in pid
   * order (Linux's TGID_OFFSET scheme).
   *
   * @returns 0, or -ENOTDIR
   */
  readdir(dir: VInode, cookie: number, emit: (e: VDirent) => boolean): number {
    const [kind, pid] = this.kindOf(dir, "ProcFs.readdir");
    if (kind === Kind.taskDir) return this.readTaskDir(dir, pid, cookie, emit);
    if (kind !== Kind.root && kind !== Kind.pidDir) return -ENOTDIR;
    const fixed: [string, number, number][] = kind === Kind.root
      ? [
        [".", PROC_ROOT_INO, DT_DIR],
        ["..", this.root.rootIno, DT_DIR],
        ["self", PROC_SELF_INO, DT_LNK],
        ["meminfo", PROC_MEMINFO_INO, DT_REG],
      ]
      : [
        [".", dir.ino, DT_DIR],
        ["..", PROC_ROOT_INO, DT_DIR],
        ...PID_FILES.map(([n, , off]): [string, number, number] => [n, pidIno(pid, off), DT_REG]),
        ["task", pidIno(pid, TASK_OFF), DT_DIR],
      ];
    for (let i = Math.max(0, cookie); i < fixed.length; i++) {
      const [name, ino, dtype] = fixed[i]!;
      if (!emit({ ino: asIno(ino), name, dtype, next: i + 1 })) return 0;
    }
    if (kind !== Kind.root) return 0;
    const from = Math.max(0, cookie - fixed.length);
    for (const p of this.info.pids()) {
      if (p < from || p < 1 || p > PROC_PID_MAX) continue;
      const e = { ino: pidIno(p, 0), name: String(p), dtype: DT_DIR, next: fixed.length + p + 1 };
      if (!emit(e)) return 0;
    }
    return 0;
  }

  /** /proc/PID/task: ".", "..", then each thread T at position 2 + T. */
  private readTaskDir(
    dir: VInode,
    pid: number,
    cookie: number,
    emit: (e: VDirent) => boolean,
  ): number {
    const fixed: [string, number][] = [[".", dir.ino], ["..", pidIno(pid, 0)]];
    for (let i = Math.max(0, cookie); i < fixed.length; i++) {
      const [name, ino] = fixed[i]!;
      if (!emit({ ino: asIno(ino), name, dtype: DT_DIR, next: i + 1 })) return 0;
    }
    const from = Math.max(0, cookie - fixed.length);
    for (const t of this.tids(pid)) {
      if (t < from || t > PROC_PID_MAX) continue;
      if (
        !emit({ ino: pidIno(t, 0), name: String(t), dtype: DT_DIR, next: fixed.length + t + 1 })
      ) {
        return 0;
      }
    }
    return 0;
  }

  /** /proc/self's target: the caller's pid, or -ENOENT when the thread runs no process. */
  readlink(ip: VInode): string | number {
    const [kind] = this.kindOf(ip, "ProcFs.readlink");
    if (kind !== Kind.self) return -ENOENT;
    const pid = this.info.selfPid();
    return pid > 0 ? String(pid) : -ENOENT;
  }

  /** The text of file `ip`, generated now. */
  private generate(kind: Kind, pid: number): Uint8Array {
    if (kind === Kind.meminfo) return enc.encode(meminfoText(this.mem));
    return enc.encode(mapsText(this.mem, this.root, this.info, pid, kind === Kind.smaps));
  }

  /**
   * Read file `ip` at `pos` into dst: a fresh snapshot when pos is 0 or the
   * open file has none yet, else from its snapshot. Entry: no lock held.
   *
   * @returns bytes read (0 past the end), or -EACCES for the symlink (the
   *   VFS turns reads of a directory into -EISDIR before they get here)
   */
  read(ip: VInode, pos: number, dst: Uint8Array): number {
    const [kind, pid] = this.kindOf(ip, "ProcFs.read");
    if (kind !== Kind.meminfo && kind !== Kind.maps && kind !== Kind.smaps) return -EACCES;
    const snaps = snapshots(this.mem);
    let buf = snaps.get(ip.slot);
    if (buf === undefined || pos === 0) {
      buf = this.generate(kind, pid);
      snaps.delete(ip.slot); // re-insert as newest
      snaps.set(ip.slot, buf);
      if (snaps.size > SNAPSHOTS_PER_THREAD) snaps.delete(snaps.keys().next().value!);
    }
    if (pos >= buf.length) return 0;
    const n = Math.min(dst.length, buf.length - pos);
    dst.set(buf.subarray(pos, pos + n));
    return n;
  }
}
