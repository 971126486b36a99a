/**
 * The churn files of the stress suite (see _stress_model.ts for the rule
 * every byte read must satisfy): files that every Worker truncates,
 * fallocates, writes and reads at once, through read(2)/write(2) and
 * through MAP_SHARED mappings, so that truncate, punch, zero, collapse and
 * insert race the faults of other processes.
 *
 * Two of them: /churn (64 KiB, 4 KiB pages) and /huge (4 MiB with a 4 MiB
 * extent-size hint, mapped at a 4 MiB-aligned address: under DAX its faults
 * take megapages, and every change above splits or zaps them).
 */

import { EFBIG, EINVAL } from "../../src/abi/errno.ts";
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  O_RDWR,
} from "../../src/abi/fcntl.ts";
import { MAP_FIXED, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/abi/mman.ts";
import { asVirt, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import {
  type Proc,
  vfsFallocate,
  vfsFtruncate,
  vfsPread,
  vfsPwrite,
  withFile,
} from "../../src/fs/vfs.ts";
import { vfsOpen } from "../../src/fs/vfs_path.ts";
import { mmapFile } from "../../src/fs/file_vm_ops.ts";
import type { InodeRef, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import type { Memory } from "../../src/hw/memory.ts";
import { doMmap, doMunmap } from "../../src/mm/mmap.ts";
import type { MmapFile } from "../../src/mm/vma.ts";
import { copyFromUser, copyToUser } from "../../src/mm/uaccess.ts";
import type { Rand } from "../fuzz/_rng.ts";
import { CHURN_MAX, CHURN_PERIOD, churnBad, churnBytes } from "./_stress_model.ts";

/** One churn file: where it lives, where a process maps it, how big it may get. */
export interface ChurnFile {
  readonly name: string;
  readonly path: string;
  readonly mapVa: number;
  readonly max: number;
}

export const CHURN: ChurnFile = {
  name: "churn",
  path: "/churn",
  mapVa: 0x5800_0000,
  max: CHURN_MAX,
};
/** 4 MiB, mapped 4 MiB-aligned: one megapage when its blocks are an aligned extent. */
export const HUGE_CHURN: ChurnFile = {
  name: "huge",
  path: "/huge",
  mapVa: 0x5c00_0000,
  max: 4 << 20,
};

/** What a churn operation needs of its stress process. */
export interface ChurnHost {
  readonly mem: Memory;
  readonly x: XipFs;
  readonly r: Rand;
  /** The process (created on demand) and its mm. */
  procOrNew(): Proc;
  mmOf(): MmId;
  /** Whether a failure is an allowed out-of-memory outcome (see StressProc.oom). */
  oom(ret: number): boolean;
  fail(msg: string): void;
}

/** One process's handle on a churn file: its fd and whether it is mapped. */
export class ChurnTarget {
  fd = -1;
  mapped = false;
  constructor(readonly f: ChurnFile, readonly h: ChurnHost) {}

  /** Forget the fd and mapping (a new process). */
  reset(): void {
    this.fd = -1;
    this.mapped = false;
  }

  private open(): number {
    const proc = this.h.procOrNew();
    if (this.fd < 0) {
      const fd = vfsOpen(proc, this.f.path, O_RDWR);
      if (fd < 0) throw new Error(`open ${this.f.path}: ${fd}`);
      this.fd = fd;
    }
    return this.fd;
  }

  private map(): void {
    const fd = this.open();
    if (this.mapped) return;
    let file: MmapFile | null = null;
    withFile(this.h.procOrNew(), fd, (_f, ip) => {
      file = mmapFile(this.h.x, ip, true, true);
      return 0;
    });
    const prot = PROT_READ | PROT_WRITE;
    const va = this.f.mapVa;
    const got = doMmap(
      this.h.mem,
      this.h.mmOf(),
      va,
      this.f.max,
      prot,
      MAP_SHARED | MAP_FIXED,
      file!,
    );
    if (got !== va) throw new Error(`mmap ${this.f.path}: ${got}`);
    this.mapped = true;
  }

  /** The file's inode (for its size). */
  private ref(): InodeRef {
    let ref: InodeRef | null = null;
    withFile(this.h.procOrNew(), this.fd, (_f, ip) => {
      ref = ip as InodeRef;
      return 0;
    });
    return ref!;
  }

  /**
   * Run operation `kind`: "truncate", "falloc", "munmap", "write",
   * "map-write", "read" or "map-read".
   */
  run(kind: string): void {
    const { h, f } = this;
    const r = h.r;
    const fd = this.open();
    const proc = h.procOrNew();
    const pos = r.int(f.max - 1);
    const len = 1 + r.int(Math.min(8192, f.max - pos));
    const name = f.name;
    switch (kind) {
      case "truncate": {
        // The huge file is often emptied and regrown whole, so that its next
        // write allocates a whole aligned extent and faults map megapages.
        const whole = f.max > CHURN_MAX && r.chance(0.7);
        const size = whole ? (r.chance(0.5) ? 0 : f.max) : 4 * r.int(f.max / 4 + 1);
        const e = vfsFtruncate(proc, fd, size);
        if (e !== 0 && !(e < 0 && h.oom(e))) h.fail(`ftruncate ${name} to ${size}: ${e}`);
        return;
      }
      case "falloc":
        return this.falloc(fd);
      case "munmap": {
        // A fresh mapping has no page table over the range: it may take a megapage.
        if (!this.mapped) return;
        const e = doMunmap(h.mem, h.mmOf(), f.mapVa, f.max);
        if (e !== 0) h.fail(`munmap ${name}: ${e}`);
        this.mapped = false;
        return;
      }
      case "write": {
        const n = vfsPwrite(proc, fd, churnBytes(pos, len), pos);
        if (n !== len && !h.oom(n)) h.fail(`pwrite ${name} (${pos}, ${len}): ${n}`);
        return;
      }
      case "map-write": {
        this.map();
        // Past EOF the store faults (SIGBUS): allowed, the size moves under us.
        copyToUser(h.mem, h.mmOf(), asVirt(f.mapVa + pos), churnBytes(pos, len));
        return;
      }
      case "read": {
        const dst = new Uint8Array(len);
        const n = vfsPread(proc, fd, dst, pos);
        if (n < 0) {
          if (h.oom(n)) return;
          return h.fail(`pread ${name} (${pos}, ${len}): ${n}`);
        }
        const bad = churnBad(pos, dst.subarray(0, n));
        if (bad >= 0) {
          h.fail(`${name} byte ${bad} read ${dst[bad - pos]} through read(2): foreign data`);
        }
        return;
      }
      default: {
        this.map();
        const got = copyFromUser(h.mem, h.mmOf(), asVirt(f.mapVa + pos), len);
        if (typeof got === "number") return; // past EOF: SIGBUS, allowed
        const bad = churnBad(pos, got);
        if (bad >= 0) {
          h.fail(`${name} byte ${bad} read ${got[bad - pos]} through a mapping: foreign data`);
        }
      }
    }
  }

  /**
   * fallocate while other Workers fault the file: every mode keeps the
   * churn rule (see _stress_model.ts). Collapse and insert may find the
   * size changed under them (EINVAL), which is allowed.
   */
  private falloc(fd: number): void {
    const { h, f } = this;
    const r = h.r;
    const modes = [
      0,
      FALLOC_FL_KEEP_SIZE,
      FALLOC_FL_ZERO_RANGE,
      FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
      FALLOC_FL_COLLAPSE_RANGE,
      FALLOC_FL_INSERT_RANGE,
    ];
    const mode = r.pick(modes);
    const shifts = mode === FALLOC_FL_COLLAPSE_RANGE || mode === FALLOC_FL_INSERT_RANGE;
    const off = shifts ? CHURN_PERIOD * r.int(3) : r.int(f.max - 1);
    const len = shifts ? CHURN_PERIOD : 1 + r.int(Math.min(3 * PAGE_SIZE, f.max - off));
    if (mode === FALLOC_FL_INSERT_RANGE && h.x.size(this.ref()) + len > f.max) return;
    const e = vfsFallocate(h.procOrNew(), fd, mode, off, len);
    if (e === 0 || (e < 0 && h.oom(e))) return;
    if (shifts && (e === -EINVAL || e === -EFBIG)) return;
    h.fail(`fallocate ${f.name} mode ${mode} (${off}, ${len}): ${e}`);
  }
}
