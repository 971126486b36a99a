/**
 * The physical frame map of the live view: what every frame is, and how
 * many processes map it, read from shared memory while guests run.
 *
 * Reads only, with Atomics loads, and takes no lock a guest could contend
 * on: not the page-table lock, not mmap_lock, not the page lock. What that
 * costs in exactness, and how it is contained:
 *
 * - A frame's kind comes from its struct page and the frame allocator's
 *   bitmap, one word at a time. A frame changing kind while it is read
 *   shows as either kind, which is what it was during the read.
 * - Who maps a frame comes from walking each live mm's Sv32 tables. A
 *   level-0 table could be freed and reused while it is read (munmap,
 *   exit), and its words would then be misread as PTEs, so a table's
 *   entries count only if, after they were read, the frame still has
 *   PG_pagetable and the root entry still points to it; an mm's entries
 *   count only if its root and state are unchanged after the walk
 *   (seqcount-style: read, then confirm nothing moved underneath).
 *
 * Kinds are tables: a new kind of frame (a megapage, a poisoned frame) is
 * one entry in RAM_KINDS or DEVICE_KINDS.
 *
 * @module
 */

import { badblockCount, badblockTest } from "../hw/badblocks.ts";
import { PIPE, PIPE_PAGES, pipeBase, PIPES_MAX } from "../abi/layout/pipe.ts";
import { sockRingPages } from "../kernel/unix_sock.ts";
import {
  FALLOC,
  MM,
  MM_LIVE,
  mmBase,
  PAGE,
  PAGE_WORDS,
  PROC,
  PROC_FREE,
  procBase,
} from "../abi/layout/mod.ts";
import { PTE_R, PTE_V, PTE_W, PTE_X, PTES_PER_TABLE, pteToPfn } from "../abi/sv32.ts";
import { asMmId, type MmId, type Pte } from "../abi/types.ts";
import { blockInUse, type XipVol } from "../fs/xipfs/xipfs_format.ts";
import type { Memory } from "../hw/memory.ts";
import { PG_anon, PG_pagetable } from "../mm/memmap.ts";
import { zeroPfn } from "../mm/mm.ts";
import { physWords, PTE_PROTNONE } from "../mm/pgtable.ts";
import { encodeFrameCodes, type FrameMap, type KindInfo } from "./encode.ts";

/** What the classifier knows of a RAM frame; one object, reused for every frame. */
export interface RamFacts {
  pfn: number;
  /** The frame allocator's bit: allocated. */
  inUse: boolean;
  flags: number;
  refcount: number;
  /** page->mapping: an inode-cache slot for page-cache pages, 0 otherwise. */
  mapping: number;
  /** The shared zero page. */
  zero: boolean;
  /** A page of a kernel byte ring that names it: BUF_NONE, BUF_PIPE or BUF_SOCKET. */
  buffer: number;
}

/** What RamFacts.buffer says: no ring names the frame, a pipe's does, a socket's does. */
export const BUF_NONE = 0;
export const BUF_PIPE = 1;
export const BUF_SOCKET = 2;

/** What the classifier knows of a device frame. */
export interface DeviceFacts {
  /** Block number on the device (= pfn - ram frames). */
  block: number;
  /** The xipfs block bitmap's bit (true when the volume cannot be read). */
  inUse: boolean;
  /** First data block of the volume (blocks below are metadata). */
  dataStart: number;
  /** On the memory-failure list (src/hw/badblocks.ts): nothing may map or copy it. */
  poisoned: boolean;
}

/** A kind of frame: how the page draws it, and the test that picks it (first match wins). */
export interface FrameKind<F> extends KindInfo {
  readonly match: (f: F) => boolean;
  /** Never mapped into a process (a kernel buffer): no RSS column of its own. */
  readonly kernelOnly?: boolean;
}

const has = (flags: number, bit: number): boolean => (flags & (1 << bit)) !== 0;

/** RAM frame kinds, in matching order; the code sent for a frame is its index here. */
export const RAM_KINDS: readonly FrameKind<RamFacts>[] = [
  { name: "free", label: "free", color: "#eceff1", match: (f) => !f.inUse },
  { name: "zero", label: "zero page", color: "#fdd835", match: (f) => f.zero },
  {
    name: "pagetable",
    label: "page table",
    color: "#8e24aa",
    match: (f) => has(f.flags, PG_pagetable),
  },
  { name: "anon", label: "anonymous", color: "#e53935", match: (f) => has(f.flags, PG_anon) },
  { name: "pagecache", label: "page cache", color: "#1e88e5", match: (f) => f.mapping !== 0 },
  // After the kinds a page says itself: a stale ring word read mid-free can
  // only rename what would otherwise show as "kernel".
  {
    name: "pipe",
    label: "pipe buffer",
    color: "#26a69a",
    match: (f) => f.inUse && f.buffer === BUF_PIPE,
    kernelOnly: true,
  },
  {
    name: "socket",
    label: "socket buffer",
    color: "#00838f",
    match: (f) => f.inUse && f.buffer === BUF_SOCKET,
    kernelOnly: true,
  },
  { name: "kernel", label: "kernel", color: "#455a64", match: () => true },
];

/** Device frame kinds, in matching order; mapped frames are shaded on top by process count. */
export const DEVICE_KINDS: readonly FrameKind<DeviceFacts>[] = [
  { name: "poisoned", label: "poisoned", color: "#b71c1c", match: (d) => d.poisoned },
  { name: "free", label: "free block", color: "#f5f5f5", match: (d) => !d.inUse },
  {
    name: "metadata",
    label: "xipfs metadata",
    color: "#bdbdbd",
    match: (d) => d.block < d.dataStart,
  },
  { name: "data", label: "file data", color: "#c5e1a5", match: () => true },
];

/** What one mm maps, from the last walk. */
export interface MmView {
  /** Every frame a present leaf PTE names, one entry per PTE (so a frame may repeat). */
  readonly pfns: Int32Array;
  /** PTEs by the kind of frame they name: RAM kind names, and "device". */
  readonly rss: Record<string, number>;
  /** Page-table frames: the root and each level-0 table. */
  readonly tables: number;
}

/** One pass over the frames. */
export interface FrameSnapshot {
  readonly ramCodes: Uint8Array;
  readonly ramMappers: Uint8Array;
  readonly devCodes: Uint8Array;
  readonly devMappers: Uint8Array;
  /** By mm slot, the live mms whose walk was consistent. */
  readonly mms: Map<number, MmView>;
}

/** The first kind whose test accepts `facts`. */
function classify<F>(kinds: readonly FrameKind<F>[], facts: F): number {
  for (let i = 0; i < kinds.length; i++) if (kinds[i]!.match(facts)) return i;
  return kinds.length - 1;
}

function classifyRam(mem: Memory, out: Uint8Array): void {
  const k = mem.k32;
  const zero = zeroPfn(mem);
  const bitmap = mem.layout.falloc.base + FALLOC.bitmap;
  const buffers = ringPages(mem, out.length);
  const f: RamFacts = {
    pfn: 0,
    inUse: false,
    flags: 0,
    refcount: 0,
    mapping: 0,
    zero: false,
    buffer: BUF_NONE,
  };
  let word = 0;
  for (let pfn = 0; pfn < out.length; pfn++) {
    if ((pfn & 31) === 0) word = Atomics.load(k, bitmap + (pfn >>> 5));
    const p = mem.layout.memmap.base + pfn * PAGE_WORDS;
    f.pfn = pfn;
    f.inUse = (word & (1 << (pfn & 31))) !== 0;
    f.flags = Atomics.load(k, p + PAGE.flags);
    f.refcount = Atomics.load(k, p + PAGE.refcount);
    f.mapping = Atomics.load(k, p + PAGE.mapping);
    f.zero = pfn === zero;
    f.buffer = buffers[pfn]!;
    out[pfn] = classify(RAM_KINDS, f);
  }
}

/**
 * Which RAM frames the byte rings of pipes and AF_UNIX sockets name
 * (page_ring.ts: pfn + 1 per word, 0 for none), read without their locks:
 * a ring may free a page while it is read, which the kinds' order contains.
 */
function ringPages(mem: Memory, ramFrames: number): Uint8Array {
  const out = new Uint8Array(ramFrames);
  const k = mem.k32;
  for (let slot = 0; slot < PIPES_MAX; slot++) {
    const r = pipeBase(mem.layout.pipes.base, slot);
    if (Atomics.load(k, r + PIPE.id) === 0) continue;
    for (let i = 0; i < PIPE_PAGES; i++) {
      const w = Atomics.load(k, r + PIPE.pages + i);
      if (w > 0 && w <= ramFrames) out[w - 1] = BUF_PIPE;
    }
  }
  for (const pfn of sockRingPages(mem).keys()) {
    if (pfn >= 0 && pfn < ramFrames) out[pfn] = BUF_SOCKET;
  }
  return out;
}

function classifyDevice(mem: Memory, vol: XipVol | null, out: Uint8Array): void {
  const d: DeviceFacts = {
    block: 0,
    inUse: true,
    dataStart: vol?.sb.dataStart ?? 0,
    poisoned: false,
  };
  const blocks = vol?.sb.totalBlocks ?? 0;
  const anyPoison = badblockCount(mem) > 0;
  for (let b = 0; b < out.length; b++) {
    d.block = b;
    d.inUse = vol === null || b >= blocks || blockInUse(vol, b);
    d.poisoned = anyPoison && badblockTest(mem, b);
    out[b] = classify(DEVICE_KINDS, d);
  }
}

const LEAF = PTE_R | PTE_W | PTE_X;

/** Whether `pfn` is a RAM frame marked as a page table right now. */
function isTable(mem: Memory, pfn: number): boolean {
  if (pfn < 0 || pfn >= mem.layout.config.ramFrames) return false;
  const flags = Atomics.load(mem.k32, mem.layout.memmap.base + pfn * PAGE_WORDS + PAGE.flags);
  return has(flags, PG_pagetable);
}

/** A growable list of pfns. */
class PfnList {
  a = new Int32Array(256);
  n = 0;
  push(pfn: number): void {
    if (this.n === this.a.length) {
      const b = new Int32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = pfn;
  }
}

/**
 * Walk mm `mm`'s tables without its locks (see the module comment).
 *
 * @returns the frames its present leaf PTEs name and its table count, or
 *   null when the mm changed underneath (gone, or a new root)
 */
function walkMm(mem: Memory, mm: MmId): { pfns: Int32Array; tables: number } | null {
  const k = mem.k32;
  const p32 = physWords(mem);
  const mb = mmBase(mem.layout, mm);
  const phys = mem.layout.config.ramFrames + mem.layout.config.deviceFrames;
  if (Atomics.load(k, mb + MM.state) !== MM_LIVE) return null;
  const root = Atomics.load(k, mb + MM.root);
  if (!isTable(mem, root)) return null;
  const out = new PfnList();
  let tables = 1;
  for (let i = 0; i < PTES_PER_TABLE; i++) {
    const pde = Atomics.load(p32, root * PTES_PER_TABLE + i) as Pte;
    if ((pde & PTE_V) === 0) continue;
    const target = pteToPfn(pde);
    if ((pde & LEAF) !== 0) {
      // A megapage: one level-1 leaf maps PTES_PER_TABLE frames.
      for (let j = 0; j < PTES_PER_TABLE && target + j < phys; j++) out.push(target + j);
      continue;
    }
    if (!isTable(mem, target)) continue;
    const mark = out.n;
    for (let j = 0; j < PTES_PER_TABLE; j++) {
      const pte = Atomics.load(p32, target * PTES_PER_TABLE + j) as Pte;
      if (pte === 0 || ((pte & PTE_V) === 0 && (pte & PTE_PROTNONE) === 0)) continue;
      if ((pte & PTE_V) !== 0 && (pte & LEAF) === 0) continue; // not a leaf: not Sv32 level 0
      const pfn = pteToPfn(pte);
      if (pfn < phys) out.push(pfn);
    }
    // Confirm the table was one all along: still PG_pagetable, still linked here.
    if (!isTable(mem, target) || Atomics.load(p32, root * PTES_PER_TABLE + i) !== pde) {
      out.n = mark;
      continue;
    }
    tables++;
  }
  if (Atomics.load(k, mb + MM.state) !== MM_LIVE || Atomics.load(k, mb + MM.root) !== root) {
    return null;
  }
  return { pfns: out.a.slice(0, out.n), tables };
}

/** The mm slots of the processes in the table (threads of one process share one). */
export function liveMms(mem: Memory): MmId[] {
  const mms = new Set<MmId>();
  for (let slot = 1; slot < mem.layout.config.maxTasks; slot++) {
    const b = procBase(mem.layout, slot);
    if (Atomics.load(mem.k32, b + PROC.state) === PROC_FREE) continue;
    const mm = asMmId(Atomics.load(mem.k32, b + PROC.mm));
    if (mm > 0) mms.add(mm);
  }
  return [...mms].sort((a, b) => a - b);
}

const DEVICE_RSS = "device";

/**
 * Take one snapshot of every frame. Any thread; no lock (see the module
 * comment). `vol` is the device's xipfs volume, for its block bitmap
 * (null: every device block counts as in use).
 */
export function snapshotFrames(mem: Memory, vol: XipVol | null): FrameSnapshot {
  const cfg = mem.layout.config;
  const ramCodes = new Uint8Array(cfg.ramFrames);
  const devCodes = new Uint8Array(cfg.deviceFrames);
  classifyRam(mem, ramCodes);
  classifyDevice(mem, vol, devCodes);
  const mappers = new Uint8Array(cfg.ramFrames + cfg.deviceFrames);
  const lastMm = new Int32Array(cfg.ramFrames + cfg.deviceFrames);
  const mms = new Map<number, MmView>();
  for (const mm of liveMms(mem)) {
    const w = walkMm(mem, mm);
    if (w === null) continue;
    const rss: Record<string, number> = { [DEVICE_RSS]: 0 };
    for (const kind of RAM_KINDS) if (kind.kernelOnly !== true) rss[kind.name] = 0;
    for (const pfn of w.pfns) {
      if (lastMm[pfn] !== mm) {
        lastMm[pfn] = mm;
        if (mappers[pfn]! < 255) mappers[pfn]!++;
      }
      const name = pfn < cfg.ramFrames ? RAM_KINDS[ramCodes[pfn]!]!.name : DEVICE_RSS;
      rss[name] = (rss[name] ?? 0) + 1;
    }
    mms.set(mm, { pfns: w.pfns, rss, tables: w.tables });
  }
  return {
    ramCodes,
    ramMappers: mappers.slice(0, cfg.ramFrames),
    devCodes,
    devMappers: mappers.slice(cfg.ramFrames),
    mms,
  };
}

const kindInfo = (k: KindInfo): KindInfo => ({ name: k.name, label: k.label, color: k.color });

const maxOf = (a: Uint8Array): number => a.reduce((m, v) => (v > m ? v : m), 0);

/** The compact form of a snapshot that GET /api/frames returns. */
export function frameMapOf(s: FrameSnapshot): FrameMap {
  return {
    ram_frames: s.ramCodes.length,
    device_frames: s.devCodes.length,
    device_base: s.ramCodes.length,
    ram_kinds: RAM_KINDS.map(kindInfo),
    device_kinds: DEVICE_KINDS.map(kindInfo),
    ram: encodeFrameCodes(s.ramCodes),
    ram_mappers: encodeFrameCodes(s.ramMappers),
    device: encodeFrameCodes(s.devCodes),
    device_mappers: encodeFrameCodes(s.devMappers),
    ram_max_mappers: maxOf(s.ramMappers),
    device_max_mappers: maxOf(s.devMappers),
  };
}
