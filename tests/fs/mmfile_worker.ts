/**
 * Worker side of the multi-Worker file-mapping tests. Each Worker attaches
 * to the machine's memory and mounted xipfs, installs the file mm ops (its
 * own thread's registry and truncate hook), runs one role and posts one
 * result.
 *
 * Loads and stores of the "guest" go through SoftHart: a software TLB (one
 * entry per page, kept until a shootdown flushes it, exactly like the
 * hart's), a page-table walk on a miss, and handleMmFault on a missing or
 * insufficient PTE. It runs in user mode and polls for shootdowns every
 * 1..pollMax accesses, so a stale translation would really be used if
 * unmapMappingRange returned before every TLB was flushed.
 */

import {
  type Access,
  ACCESS_READ,
  ACCESS_WRITE,
  PTE_U,
  pteIsLeaf,
  pteToPfn,
} from "../../src/abi/sv32.ts";
import {
  asIno,
  asTaskSlot,
  asVirt,
  type MmId,
  PAGE_SIZE,
  type Pfn,
  type TaskSlot,
} from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { attachMemory, type Memory } from "../../src/hw/memory.ts";
import { installFileMm } from "../../src/fs/file_vm_ops.ts";
import { attachXipfs, type InodeRef, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { handleMmFault } from "../../src/mm/fault.ts";
import { allocFrame } from "../../src/mm/frame_alloc.ts";
import { putPage } from "../../src/mm/memmap.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_POPULATE,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { getUserPagesFast, unpinUserPages } from "../../src/mm/gup.ts";
import { FALLOC_FL_COLLAPSE_RANGE } from "../../src/abi/fcntl.ts";
import { doMmap, doMunmap } from "../../src/mm/mmap.ts";
import { physWords, pteLoad, walk } from "../../src/mm/pgtable.ts";
import { enterIdle, enterKernel, enterUser, switchMm, tlbCheck } from "../../src/mm/tlb_flush.ts";
import { copyToUser } from "../../src/mm/uaccess.ts";
import { setCurrentTid } from "../../src/sync/mod.ts";
import { ENOSPC } from "../../src/abi/errno.ts";
import { rng } from "../mm/_mm_helpers.ts";
import { startTogether } from "../mm/start_gate.ts";

const P = PAGE_SIZE;
/** Word tags: the top byte says who wrote a word. */
export const TAG_A = 0xa0;
export const TAG_A_STORE = 0xa1;
export const TAG_B = 0xb0;
export const TAG_ANON = 0x5a;
export const TAG_POISON = 0xde;
export const tagOf = (w: number): number => w >>> 24;
export const tagged = (tag: number, n: number): number => ((tag << 24) | (n & 0xff_ffff)) >>> 0;

interface Base {
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  tid: number;
  seed: number;
  gate: SharedArrayBuffer;
  parties: number;
}

/** Race write faults on the holes of one file from this Worker's own mm. */
export interface HoleJob extends Base {
  role: "hole";
  mm: MmId;
  base: number;
  pages: number;
}

/** Read and write an old mapping of file A while a truncator recycles its blocks. */
export interface ReaderJob extends Base {
  role: "reader";
  mm: MmId;
  base: number;
  pages: number;
  /** Word in mem.k32 the truncator sets to 1 when it is done. */
  stopWord: number;
  pollMax: number;
}

/** Truncate A, hand its blocks to B, write B's pattern, regrow A; verify B each round. */
export interface TruncatorJob extends Base {
  role: "truncator";
  aIno: number;
  bIno: number;
  aPages: number;
  bPages: number;
  iterations: number;
  stopWord: number;
}

/** Pin pages of a mapping with getUserPagesFast and check what the pinned frames hold. */
export interface PinnerJob extends Base {
  role: "pinner";
  mm: MmId;
  base: number;
  pages: number;
  stopWord: number;
  /** Tags a pinned frame may legitimately hold (0 is always allowed). */
  allowed: number[];
}

/** mmap/populate/munmap an anonymous range in a shared mm, poisoning freed frames. */
export interface MunmapperJob extends Base {
  role: "munmapper";
  mm: MmId;
  base: number;
  pages: number;
  iterations: number;
  stopWord: number;
}

export type FileJob = HoleJob | ReaderJob | TruncatorJob | PinnerJob | MunmapperJob;

/** A guest's view of memory through a software TLB that honours shootdowns. */
class SoftHart {
  readonly tlb = new Map<number, number>();
  readonly p32: Int32Array;
  flushes = 0;
  readonly flush = () => {
    this.tlb.clear();
    this.flushes++;
  };
  constructor(readonly mem: Memory, readonly tid: TaskSlot, readonly mm: MmId) {
    this.p32 = physWords(mem);
  }
  start(): void {
    switchMm(this.mem, this.tid, this.mm);
    enterUser(this.mem, this.tid, this.flush);
  }
  stop(): void {
    enterIdle(this.mem, this.tid);
  }
  poll(): void {
    tlbCheck(this.mem, this.tid, this.flush);
  }
  /** Word index in physical memory of `va`, or -(VM_FAULT_*) when the fault fails. */
  translate(va: number, access: Access): number {
    const vpn = va >>> 12;
    const need = PTE_U | access;
    let pte = this.tlb.get(vpn);
    for (let tries = 0; pte === undefined || (pte & need) !== need; tries++) {
      if (tries > 32) throw new Error(`no progress at 0x${va.toString(16)}`);
      const w = walk(this.mem, this.mm, asVirt(va - (va % P)), false);
      const cur = w < 0 ? 0 : pteLoad(this.p32, w);
      if (pteIsLeaf(cur as never) && (cur & need) === need) {
        pte = cur;
        this.tlb.set(vpn, cur);
        break;
      }
      pte = undefined;
      enterKernel(this.mem, this.tid);
      const r = handleMmFault(this.mem, this.mm, asVirt(va), access);
      enterUser(this.mem, this.tid, this.flush);
      if (r !== 0) return -r;
    }
    return pteToPfn(pte as never) * (P / 4) + ((va % P) >>> 2);
  }
}

function attach(j: Base): { mem: Memory; fs: XipFs } {
  const mem = attachMemory(j.phys, j.kernel);
  setCurrentTid(asTaskSlot(j.tid));
  const fs = attachXipfs(mem, new MemDevice(mem));
  if (!(fs instanceof XipFs)) throw new Error(fs.error);
  installFileMm(fs);
  return { mem, fs };
}

function hole(j: HoleJob) {
  const { mem } = attach(j);
  const r = rng(j.seed);
  const h = new SoftHart(mem, asTaskSlot(j.tid), j.mm);
  h.start();
  startTogether(j.gate, j.parties);
  let sigbus = 0;
  for (let p = 0; p < j.pages; p++) {
    const va = j.base + p * P;
    if (r() < 0.5) {
      // Read first: maps the zero page, which the other Worker's write must unmap.
      const w = h.translate(va, ACCESS_READ);
      if (w < 0) sigbus++;
      else Atomics.load(h.p32, w);
    }
    const w = h.translate(va + j.tid * 4, ACCESS_WRITE);
    if (w < 0) throw new Error(`hole: write fault ${-w} at page ${p}`);
    Atomics.store(h.p32, w, tagged(j.tid, p));
    h.poll();
  }
  h.stop();
  return { sigbus, flushes: h.flushes };
}

function reader(j: ReaderJob) {
  const { mem } = attach(j);
  const r = rng(j.seed);
  const h = new SoftHart(mem, asTaskSlot(j.tid), j.mm);
  h.start();
  startTogether(j.gate, j.parties);
  let reads = 0, stores = 0, sigbus = 0, untilPoll = 1;
  const bad: string[] = [];
  while (Atomics.load(mem.k32, j.stopWord) === 0) {
    const p = Math.floor(r() * j.pages);
    const write = r() < 0.2;
    const w = h.translate(j.base + p * P + (write ? 4 : 0), write ? ACCESS_WRITE : ACCESS_READ);
    if (w < 0) sigbus++;
    else if (write) {
      Atomics.store(h.p32, w, tagged(TAG_A_STORE, stores++));
    } else {
      const v = Atomics.load(h.p32, w) >>> 0;
      reads++;
      if (v !== 0 && tagOf(v) !== TAG_A) {
        bad.push(`page ${p} read 0x${v.toString(16)} through an old mapping`);
        if (bad.length > 5) break;
      }
    }
    if (--untilPoll === 0) {
      untilPoll = 1 + Math.floor(r() * j.pollMax);
      h.poll();
    }
  }
  h.stop();
  return { reads, stores, sigbus, flushes: h.flushes, bad };
}

function truncator(j: TruncatorJob) {
  const { mem, fs } = attach(j);
  const r = rng(j.seed);
  const get = (ino: number): InodeRef => {
    const ip = fs.iget(asIno(ino));
    if (typeof ip === "number") throw new Error(`iget ${ino}: ${ip}`);
    return ip;
  };
  const a = get(j.aIno);
  const b = get(j.bIno);
  const page = new Uint8Array(P);
  const dv = new DataView(page.buffer);
  const fill = (w: number, pages: number) => {
    const buf = new Uint8Array(pages * P);
    const v = new DataView(buf.buffer);
    for (let i = 0; i < buf.length; i += 4) v.setUint32(i, w, true);
    return buf;
  };
  const bad: string[] = [];
  const checkB = (i: number, when: string) => {
    for (let p = 0; p < bPages; p++) {
      if (fs.daxRead(b, p * P, page) !== P) throw new Error("daxRead B");
      for (let o = 0; o < P; o += 4) {
        const v = dv.getUint32(o, true);
        if (v !== tagged(TAG_B, i)) {
          bad.push(`round ${i} ${when}: B page ${p} word ${o / 4} is 0x${v.toString(16)}`);
          return;
        }
      }
    }
  };
  startTogether(j.gate, j.parties);
  let reuses = 0;
  let bPages = 0;
  let i = 0;
  for (; i < j.iterations && bad.length === 0; i++) {
    const aBlocks = new Set<number>();
    for (let p = 0; p < j.aPages; p++) {
      const blk = fs.getBlock(a, p, false);
      if (blk > 0) aBlocks.add(blk);
    }
    // Truncate, punch, or collapse most of A (fallocate) and truncate the rest:
    // each frees A's blocks only after unmapping them and waiting for pins.
    const how = r();
    let rc = how < 0.35
      ? fs.truncate(a, 0)
      : how < 0.7
      ? fs.punchHole(a, 0, j.aPages * P)
      : fs.fallocate(a, FALLOC_FL_COLLAPSE_RANGE, 0, (j.aPages - 1) * P);
    if (rc === 0 && how >= 0.7) rc = fs.truncate(a, 0);
    if (rc !== 0) throw new Error(`truncate/punch/collapse A: ${rc}`);
    // The device is nearly full: B's blocks are mostly the ones A just gave back.
    // Short when the old mapping refilled punched holes of A meanwhile (ENOSPC).
    const wb = fs.daxWrite(b, 0, fill(tagged(TAG_B, i), j.bPages));
    if (wb < 0 && wb !== -ENOSPC) throw new Error(`write B: ${wb}`);
    bPages = Math.max(0, Math.floor(wb / P));
    for (let p = 0; p < bPages; p++) if (aBlocks.has(fs.getBlock(b, p, false))) reuses++;
    checkB(i, "after write");
    // Let the old mapping's Worker run while B holds A's old blocks.
    for (let s = Math.floor(r() * 4000); s > 0; s--) Atomics.load(mem.k32, j.stopWord);
    checkB(i, "before its truncate");
    if (fs.truncate(b, 0) !== 0) throw new Error("truncate B");
    // Regrow A: written with A's pattern, or left as holes for the mapping to fill.
    if (r() < 0.7) {
      if (fs.daxWrite(a, 0, fill(tagged(TAG_A, i), j.aPages)) !== j.aPages * P) {
        throw new Error("write A");
      }
    } else if (fs.truncate(a, j.aPages * P) !== 0) throw new Error("regrow A");
    for (let s = Math.floor(r() * 2000); s > 0; s--) Atomics.load(mem.k32, j.stopWord);
  }
  Atomics.store(mem.k32, j.stopWord, 1);
  fs.iput(a);
  fs.iput(b);
  return { rounds: i, reuses, bad };
}

function pinner(j: PinnerJob) {
  const { mem } = attach(j);
  const r = rng(j.seed);
  switchMm(mem, asTaskSlot(j.tid), j.mm); // gup-fast works on the mm its task runs, in kernel mode
  startTogether(j.gate, j.parties);
  const u32 = physWords(mem);
  let pins = 0, efault = 0;
  const bad: string[] = [];
  const ok = (v: number) => v === 0 || j.allowed.includes(tagOf(v));
  while (Atomics.load(mem.k32, j.stopWord) === 0 && bad.length < 5) {
    const p = Math.floor(r() * j.pages);
    const got = getUserPagesFast(mem, j.mm, j.base + p * P, 1, false);
    if (typeof got === "number") {
      efault++;
      continue;
    }
    pins++;
    const pfn: Pfn = got[0]!;
    const v1 = Atomics.load(u32, pfn * (P / 4)) >>> 0;
    for (let s = Math.floor(r() * 500); s > 0; s--) Atomics.load(mem.k32, j.stopWord);
    const v2 = Atomics.load(u32, pfn * (P / 4)) >>> 0;
    if (!ok(v1) || !ok(v2)) {
      bad.push(`pinned frame ${pfn} held 0x${v1.toString(16)} then 0x${v2.toString(16)}`);
    }
    unpinUserPages(mem, got);
  }
  switchMm(mem, asTaskSlot(j.tid), 0);
  return { pins, efault, bad };
}

function munmapper(j: MunmapperJob) {
  const { mem } = attach(j);
  switchMm(mem, asTaskSlot(j.tid), j.mm);
  startTogether(j.gate, j.parties);
  const buf = new Uint8Array(j.pages * P);
  const dv = new DataView(buf.buffer);
  let i = 0;
  for (; i < j.iterations; i++) {
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE;
    const at = doMmap(mem, j.mm, j.base, j.pages * P, PROT_READ | PROT_WRITE, flags);
    if (at !== j.base) throw new Error(`mmap: ${at}`);
    for (let o = 0; o < buf.length; o += 4) dv.setUint32(o, tagged(TAG_ANON, i), true);
    if (copyToUser(mem, j.mm, asVirt(j.base), buf) !== 0) throw new Error("copyToUser");
    if (doMunmap(mem, j.mm, j.base, j.pages * P) !== 0) throw new Error("munmap");
    // Poison what munmap freed: a frame freed under a pin would show it.
    const got: number[] = [];
    for (let k = 0; k < j.pages * 2; k++) {
      const f = allocFrame(mem);
      if (f < 0) break;
      mem.u8.fill(TAG_POISON, f * P, (f + 1) * P);
      got.push(f);
    }
    for (const f of got) putPage(mem, f as Pfn);
  }
  Atomics.store(mem.k32, j.stopWord, 1);
  switchMm(mem, asTaskSlot(j.tid), 0);
  return { rounds: i };
}

/** The Worker global, typed without the DOM lib. */
const scope = self as unknown as {
  postMessage(m: unknown): void;
  onmessage: ((e: MessageEvent<FileJob>) => void) | null;
};

scope.onmessage = (e: MessageEvent<FileJob>) => {
  const j = e.data;
  try {
    const result = j.role === "hole"
      ? hole(j)
      : j.role === "reader"
      ? reader(j)
      : j.role === "truncator"
      ? truncator(j)
      : j.role === "pinner"
      ? pinner(j)
      : munmapper(j);
    scope.postMessage({ ok: true, result });
  } catch (err) {
    scope.postMessage({ ok: false, error: String((err as Error).stack ?? err) });
  }
};
