/**
 * One stress Worker's process and its random operations (run by
 * stress_worker.ts). Every operation is a direct kernel call: the VFS for
 * read/write/pwrite/ftruncate/fsync, XipFs.punchHole, doMmap/doMunmap, and
 * copyToUser/copyFromUser for loads and stores through mappings, which
 * fault pages in exactly as a guest's accesses would. "Process exit" tears
 * the process down (exitMmap through mmPut, vfsProcExit) and starts a new
 * one. The model (_stress_model.ts) checks every value read.
 */

import { EFAULT, ENOMEM, errnoName, isErr } from "../../src/abi/errno.ts";
import { O_RDWR } from "../../src/abi/fcntl.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { asIno, asMmId, asVirt, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import {
  type Proc,
  vfsFsync,
  vfsFtruncate,
  vfsPread,
  vfsProcCreate,
  vfsProcExit,
  vfsPwrite,
} from "../../src/fs/vfs.ts";
import { vfsOpen, vfsStat } from "../../src/fs/vfs_path.ts";
import type { XipVfs } from "../../src/fs/xipfs/vfs_xipfs.ts";
import type { InodeRef, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { mmapFile } from "../../src/fs/file_vm_ops.ts";
import type { Memory } from "../../src/hw/memory.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { doMmap, doMunmap } from "../../src/mm/mmap.ts";
import { copyFromUser, copyToUser } from "../../src/mm/uaccess.ts";
import { Rand } from "../fuzz/_rng.ts";
import { CHURN, type ChurnHost, ChurnTarget, HUGE_CHURN } from "./_stress_churn.ts";
import {
  makeRecord,
  OWN_MAX,
  OwnFile,
  readRecord,
  RECORD_BYTES,
  SHARED_BYTES,
  SHARED_FILES,
  SHARED_SLOTS,
  STRESS_OWN_FILES,
} from "./_stress_model.ts";

export const ownPath = (w: number, j: number): string => `/w${w}/own${j}`;
export const sharedPath = (f: number): string => `/shared${f}`;
export { CHURN, HUGE_CHURN } from "./_stress_churn.ts";

const OWN_MAP = (j: number): number => 0x4000_0000 + j * 0x100_0000;
const SHARED_MAP = (f: number): number => 0x5000_0000 + f * 0x100_0000;
const ANON_MAP = 0x6000_0000;
const ANON_BYTES = 4 * PAGE_SIZE;
/** Reads of a torn shared record are retried this many times before it is a violation. */
const TORN_RETRIES = 2000;

/** Operation names, for the counts. */
export const OPS = [
  "own-pwrite",
  "own-pread",
  "own-map-write",
  "own-map-read",
  "own-truncate",
  "own-punch",
  "own-fsync",
  "shared-write",
  "shared-map-write",
  "shared-read",
  "shared-map-read",
  "anon",
  "munmap",
  "exit",
  "churn-truncate",
  "churn-write",
  "churn-map-write",
  "churn-read",
  "churn-map-read",
  "churn-falloc",
  "huge-truncate",
  "huge-falloc",
  "huge-write",
  "huge-map-write",
  "huge-read",
  "huge-map-read",
  "huge-munmap",
] as const;
export type OpName = (typeof OPS)[number];
const WEIGHTS: Record<OpName, number> = {
  "own-pwrite": 8,
  "own-pread": 8,
  "own-map-write": 6,
  "own-map-read": 6,
  "own-truncate": 3,
  "own-punch": 2,
  "own-fsync": 1,
  "shared-write": 5,
  "shared-map-write": 5,
  "shared-read": 6,
  "shared-map-read": 6,
  anon: 3,
  munmap: 2,
  exit: 1,
  "churn-truncate": 3,
  "churn-write": 3,
  "churn-map-write": 3,
  "churn-read": 3,
  "churn-map-read": 4,
  "churn-falloc": 3,
  "huge-truncate": 2,
  "huge-falloc": 2,
  "huge-write": 2,
  "huge-map-write": 2,
  "huge-read": 2,
  "huge-map-read": 3,
  "huge-munmap": 1,
};
const TOTAL = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);

/** Thrown when a new process cannot get its first frame under RAM pressure (the op is skipped). */
class OomSkip extends Error {}

export class StressProc implements ChurnHost {
  readonly own: OwnFile[] = Array.from({ length: STRESS_OWN_FILES }, () => new OwnFile());
  /** The last seq this Worker wrote into each of its slots, per shared file. */
  readonly lastSeq: number[][] = Array.from(
    { length: SHARED_FILES },
    () => new Array(SHARED_SLOTS).fill(0),
  );
  /** Highest seq seen per (file, slot), for the monotonic-read check. */
  private readonly seen: number[][] = Array.from(
    { length: SHARED_FILES },
    () => new Array(SHARED_SLOTS).fill(0),
  );
  readonly counts: Record<string, number> = {};
  readonly violations: string[] = [];
  readonly r: Rand;
  private readonly ownRefs: InodeRef[] = [];
  private proc!: Proc;
  private mm = asMmId(0);
  private ownFd: number[] = [];
  private sharedFd: number[] = [];
  private ownMapped: boolean[] = [];
  private sharedMapped: boolean[] = [];
  private readonly churnT = new ChurnTarget(CHURN, this);
  private readonly hugeT = new ChurnTarget(HUGE_CHURN, this);
  private anon: Uint8Array | null = null;
  opIndex = 0;

  constructor(
    readonly mem: Memory,
    readonly x: XipFs,
    readonly vfs: XipVfs,
    readonly w: number,
    readonly workers: number,
    seed: number,
    /** RAM is short on purpose: -ENOMEM/-EFAULT (OOM) are allowed outcomes, counted as "oom". */
    readonly pressure = false,
  ) {
    this.r = new Rand(seed);
    for (let j = 0; j < STRESS_OWN_FILES; j++) {
      const st = this.must(vfsStat(this.procOrNew(), ownPath(w, j)), "stat own");
      const ip = x.iget(asIno(st.ino));
      if (typeof ip === "number") throw new Error(`iget own ${j}: ${ip}`);
      this.ownRefs.push(ip);
    }
  }

  private must<T>(v: T | number, what: string): T {
    if (typeof v === "number") throw new Error(`${what}: ${errnoName(v)}`);
    return v;
  }

  private fd(n: number, what: string): number {
    if (n < 0) throw new Error(`${what}: ${errnoName(n)}`);
    return n;
  }

  /**
   * Under RAM pressure an operation may fail for want of a frame (-ENOMEM,
   * or -EFAULT/short count from a copy whose fault got VM_FAULT_OOM), as
   * Linux's would (ENOMEM, SIGBUS). Count it, let `lost` forget what the
   * model can no longer know, and report whether it was such a failure.
   */
  oom(ret: number | string, lost?: () => void): boolean {
    const code = typeof ret === "string" ? Number(/-\d+/.exec(ret)?.[0] ?? NaN) : ret;
    if (!this.pressure || !(code === -ENOMEM || code === -EFAULT || code >= 0)) return false;
    this.counts.oom = (this.counts.oom ?? 0) + 1;
    lost?.();
    return true;
  }

  fail(msg: string): void {
    this.violations.push(`worker ${this.w} op ${this.opIndex}: ${msg}`);
  }

  procOrNew(): Proc {
    if (this.mm === 0) {
      const mm = mmAlloc(this.mem);
      if (isErr(mm)) {
        if (this.oom(mm)) throw new OomSkip(); // no frame for a new process: try again later
        throw new Error(`mmAlloc: ${mm}`);
      }
      this.mm = mm;
      const p = vfsProcCreate(this.vfs);
      if (typeof p === "number") throw new Error(`vfsProcCreate: ${p}`);
      this.proc = p;
      this.ownFd = [];
      this.sharedFd = [];
      this.ownMapped = [];
      this.sharedMapped = [];
      this.churnT.reset();
      this.hugeT.reset();
      this.anon = null;
    }
    return this.proc;
  }

  mmOf(): MmId {
    return this.mm;
  }

  private ownFdOf(j: number): number {
    this.procOrNew();
    this.ownFd[j] ??= this.fd(vfsOpen(this.proc, ownPath(this.w, j), O_RDWR), "open own");
    return this.ownFd[j]!;
  }

  private sharedFdOf(f: number): number {
    this.procOrNew();
    this.sharedFd[f] ??= this.fd(vfsOpen(this.proc, sharedPath(f), O_RDWR), "open shared");
    return this.sharedFd[f]!;
  }

  private mapOwn(j: number): void {
    if (this.ownMapped[j]) return;
    this.ownFdOf(j);
    const file = mmapFile(this.x, this.ownRefs[j]!, true, true);
    const flags = MAP_SHARED | MAP_FIXED;
    const got = doMmap(this.mem, this.mm, OWN_MAP(j), OWN_MAX, PROT_READ | PROT_WRITE, flags, file);
    if (got !== OWN_MAP(j)) throw new Error(`mmap own: ${got}`);
    this.ownMapped[j] = true;
  }

  private mapShared(f: number): void {
    if (this.sharedMapped[f]) return;
    const fd = this.sharedFdOf(f);
    const st = this.must(vfsStat(this.proc, sharedPath(f)), "stat shared");
    const ip = this.x.iget(asIno(st.ino));
    if (typeof ip === "number") throw new Error(`iget shared: ${ip}`);
    const file = mmapFile(this.x, ip, true, true);
    const flags = MAP_SHARED | MAP_FIXED;
    const got = doMmap(
      this.mem,
      this.mm,
      SHARED_MAP(f),
      SHARED_BYTES,
      PROT_READ | PROT_WRITE,
      flags,
      file,
    );
    this.x.iput(ip); // the VMA holds its own reference
    if (got !== SHARED_MAP(f)) throw new Error(`mmap shared (fd ${fd}): ${got}`);
    this.sharedMapped[f] = true;
  }

  /** Pick and run one operation. */
  step(): void {
    this.opIndex++;
    let pick = this.r.int(TOTAL);
    let op: OpName = "exit";
    for (const o of OPS) {
      if (pick < WEIGHTS[o]) {
        op = o;
        break;
      }
      pick -= WEIGHTS[o];
    }
    this.counts[op] = (this.counts[op] ?? 0) + 1;
    try {
      this.run(op);
    } catch (e) {
      if (!(e instanceof OomSkip)) throw e;
    }
  }

  private bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    const v = this.r.u32();
    for (let i = 0; i < n; i++) b[i] = (v + i * 31 + (i >>> 7)) & 0xff;
    return b;
  }

  private run(op: OpName): void {
    const r = this.r;
    const j = r.int(STRESS_OWN_FILES);
    const m = this.own[j]!;
    switch (op) {
      case "own-pwrite": {
        const len = 1 + r.int(8192);
        const pos = r.int(OWN_MAX - len);
        const data = this.bytes(len);
        const n = vfsPwrite(this.procOrNew(), this.ownFdOf(j), data, pos);
        if (n !== len) {
          if (this.oom(n, () => (m.poisoned = true))) return;
          return this.fail(`own pwrite(${pos}, ${len}) returned ${n}`);
        }
        m.write(pos, data);
        return;
      }
      case "own-pread": {
        const len = 1 + r.int(8192);
        const pos = r.int(OWN_MAX);
        const dst = new Uint8Array(len);
        const n = vfsPread(this.procOrNew(), this.ownFdOf(j), dst, pos);
        const want = Math.max(0, Math.min(len, m.size - pos));
        if (n !== want) {
          // Out of frames part way: a short count (what was read is still checked).
          const short = n >= 0 && n < want;
          if (!((n < 0 || short) && this.oom(n))) {
            return this.fail(`own pread(${pos}, ${len}) returned ${n}, size ${m.size}`);
          }
          if (n < 0) return;
        }
        if (m.poisoned) return;
        const at = m.diff(pos, dst.subarray(0, n));
        if (at >= 0) {
          this.fail(`own file ${j} byte ${at} read ${dst[at - pos]}, model ${m.bytes[at]}`);
        }
        return;
      }
      case "own-map-write": {
        if (m.size === 0) return;
        this.procOrNew();
        this.mapOwn(j);
        const pos = r.int(m.size);
        const len = 1 + r.int(Math.min(4096, m.size - pos));
        const data = this.bytes(len);
        const e = copyToUser(this.mem, this.mm, asVirt(OWN_MAP(j) + pos), data);
        if (e !== 0) {
          if (this.oom(e, () => (m.poisoned = true))) return;
          return this.fail(`store to own map ${j} at ${pos}+${len} (size ${m.size}): ${e}`);
        }
        m.write(pos, data);
        return;
      }
      case "own-map-read": {
        if (m.size === 0) return;
        this.procOrNew();
        this.mapOwn(j);
        const end = Math.min(OWN_MAX, Math.ceil(m.size / PAGE_SIZE) * PAGE_SIZE);
        const pos = r.int(end);
        const len = 1 + r.int(Math.min(8192, end - pos));
        const got = copyFromUser(this.mem, this.mm, asVirt(OWN_MAP(j) + pos), len);
        if (typeof got === "number") {
          if (this.oom(got)) return;
          return this.fail(`load from own map ${j} at ${pos}+${len} (size ${m.size}): ${got}`);
        }
        if (m.poisoned) return;
        const at = m.diff(pos, got);
        if (at >= 0) {
          this.fail(
            `own map ${j} byte ${at} read ${got[at - pos]}, model ${
              at < m.size ? m.bytes[at] : 0
            } (size ${m.size})`,
          );
        }
        return;
      }
      case "own-truncate": {
        const size = r.chance(0.3)
          ? PAGE_SIZE * r.int(OWN_MAX / PAGE_SIZE + 1)
          : r.int(OWN_MAX + 1);
        const e = vfsFtruncate(this.procOrNew(), this.ownFdOf(j), size);
        if (e !== 0) {
          if (e < 0 && this.oom(e, () => (m.poisoned = true))) return;
          return this.fail(`ftruncate own ${j} to ${size}: ${e}`);
        }
        m.truncate(size);
        if (size === 0) m.poisoned = false; // known again: empty
        return;
      }
      case "own-punch": {
        if (m.size === 0) return;
        const off = r.int(m.size);
        const len = 1 + r.int(Math.min(3 * PAGE_SIZE, m.size - off));
        const e = this.x.punchHole(this.ownRefs[j]!, off, len);
        if (e !== 0) {
          if (e < 0 && this.oom(e, () => (m.poisoned = true))) return;
          return this.fail(`punchHole own ${j} (${off}, ${len}): ${e}`);
        }
        m.punch(off, len);
        return;
      }
      case "own-fsync": {
        const e = vfsFsync(this.procOrNew(), this.ownFdOf(j));
        if (e !== 0 && !(e < 0 && this.oom(e))) this.fail(`fsync own ${j}: ${e}`);
        return;
      }
      case "shared-write":
      case "shared-map-write":
        return this.sharedWrite(op === "shared-map-write");
      case "shared-read":
      case "shared-map-read":
        return this.sharedRead(op === "shared-map-read");
      case "anon":
        return this.anonOp();
      case "munmap":
        return this.unmapSome();
      case "exit":
        return this.exit();
      default: {
        // "churn-read" → target churn, kind "read"; "huge-map-write" → huge, "map-write".
        const [file, ...kind] = op.split("-");
        return (file === "huge" ? this.hugeT : this.churnT).run(kind.join("-"));
      }
    }
  }

  private sharedWrite(viaMap: boolean): void {
    const f = this.r.int(SHARED_FILES);
    const mine = Math.floor(SHARED_SLOTS / this.workers);
    const slot = this.w + this.workers * this.r.int(mine);
    const seq = this.lastSeq[f]![slot]! + 1;
    const rec = makeRecord(this.w, slot, seq);
    this.procOrNew();
    if (viaMap) {
      this.mapShared(f);
      const e = copyToUser(this.mem, this.mm, asVirt(SHARED_MAP(f) + slot * RECORD_BYTES), rec);
      // A record never crosses a page: a failed store wrote nothing.
      if (e !== 0) {
        return this.oom(e) ? undefined : this.fail(`store to shared map ${f} slot ${slot}: ${e}`);
      }
    } else {
      const n = vfsPwrite(this.proc, this.sharedFdOf(f), rec, slot * RECORD_BYTES);
      if (n !== RECORD_BYTES) {
        return n < 0 && this.oom(n)
          ? undefined
          : this.fail(`pwrite shared ${f} slot ${slot}: ${n}`);
      }
    }
    this.lastSeq[f]![slot] = seq;
  }

  private readSlot(f: number, slot: number, viaMap: boolean): Uint8Array | string {
    if (viaMap) {
      const got = copyFromUser(
        this.mem,
        this.mm,
        asVirt(SHARED_MAP(f) + slot * RECORD_BYTES),
        RECORD_BYTES,
      );
      return typeof got === "number" ? `load from shared map: ${got}` : got;
    }
    const dst = new Uint8Array(RECORD_BYTES);
    const n = vfsPread(this.proc, this.sharedFdOf(f), dst, slot * RECORD_BYTES);
    return n === RECORD_BYTES ? dst : `pread shared: ${n}`;
  }

  private sharedRead(viaMap: boolean): void {
    const f = this.r.int(SHARED_FILES);
    const slot = this.r.int(SHARED_SLOTS);
    this.procOrNew();
    if (viaMap) this.mapShared(f);
    for (let tries = 0;; tries++) {
      const got = this.readSlot(f, slot, viaMap);
      if (typeof got === "string") {
        return this.oom(got) ? undefined : this.fail(`shared ${f} slot ${slot}: ${got}`);
      }
      const rec = readRecord(got, slot, this.workers);
      if (rec === "bad") {
        if (tries < TORN_RETRIES) continue; // a store in flight: read again
        return this.fail(`shared ${f} slot ${slot} holds garbage after ${tries} reads`);
      }
      const seq = rec === "zero" ? 0 : rec.seq;
      const seen = this.seen[f]![slot]!;
      if (seq < seen) {
        return this.fail(`shared ${f} slot ${slot} went back from seq ${seen} to ${seq}`);
      }
      if (slot % this.workers === this.w && seq !== this.lastSeq[f]![slot]) {
        return this.fail(
          `shared ${f} slot ${slot}: own write seq ${this.lastSeq[f]![slot]} reads as ${seq}`,
        );
      }
      this.seen[f]![slot] = seq;
      return;
    }
  }

  private anonOp(): void {
    this.procOrNew();
    if (this.anon === null) {
      const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
      const got = doMmap(this.mem, this.mm, ANON_MAP, ANON_BYTES, PROT_READ | PROT_WRITE, flags);
      if (got !== ANON_MAP) throw new Error(`mmap anon: ${got}`);
      this.anon = new Uint8Array(ANON_BYTES);
    }
    const pos = this.r.int(ANON_BYTES - 256);
    if (this.r.chance(0.5)) {
      const data = this.bytes(1 + this.r.int(256));
      if (copyToUser(this.mem, this.mm, asVirt(ANON_MAP + pos), data) !== 0) {
        // A store that crossed pages may have landed in part: forget the anon model.
        return this.oom(-EFAULT, () => this.forgetAnon())
          ? undefined
          : this.fail(`store to anon at ${pos}`);
      }
      this.anon.set(data, pos);
    } else {
      const got = copyFromUser(this.mem, this.mm, asVirt(ANON_MAP + pos), 256);
      if (typeof got === "number") {
        return this.oom(got) ? undefined : this.fail(`load from anon at ${pos}: ${got}`);
      }
      for (let i = 0; i < 256; i++) {
        if (got[i] !== this.anon[pos + i]) {
          return this.fail(`anon byte ${pos + i} read ${got[i]}, model ${this.anon[pos + i]}`);
        }
      }
    }
  }

  /** Unmap the anonymous area (its content is no longer known). */
  private forgetAnon(): void {
    doMunmap(this.mem, this.mm, ANON_MAP, ANON_BYTES);
    this.anon = null;
  }

  private unmapSome(): void {
    if (this.mm === 0) return;
    const which = this.r.int(3);
    let e = 0;
    if (which === 0 && this.anon !== null) {
      e = doMunmap(this.mem, this.mm, ANON_MAP, ANON_BYTES);
      this.anon = null;
    } else if (which === 1) {
      const j = this.r.int(STRESS_OWN_FILES);
      if (this.ownMapped[j]) e = doMunmap(this.mem, this.mm, OWN_MAP(j), OWN_MAX);
      this.ownMapped[j] = false;
    } else {
      const f = this.r.int(SHARED_FILES);
      if (this.sharedMapped[f]) e = doMunmap(this.mem, this.mm, SHARED_MAP(f), SHARED_BYTES);
      this.sharedMapped[f] = false;
    }
    if (e !== 0) this.fail(`munmap: ${e}`);
  }

  /** Process exit: the mm torn down (exitMmap) and every file closed; the next op starts a new process. */
  exit(): void {
    if (this.mm === 0) return;
    mmPut(this.mem, this.mm);
    const e = vfsProcExit(this.vfs, this.proc.fdt);
    if (e < 0) this.fail(`vfsProcExit: ${e}`);
    this.mm = asMmId(0);
  }

  /** End of the run: exit and drop the inode references. */
  finish(): void {
    this.exit();
    for (const ip of this.ownRefs) this.x.iput(ip);
    this.ownRefs.length = 0;
  }
}
