/**
 * The snapshot that checkInvariants (invariants.ts) judges: one pass over
 * the shared tables that records, for every frame, what refers to it. The
 * checkers in _invariants_mm.ts then compare what the struct pages say with
 * what the snapshot counted.
 *
 * Reads only, with Atomics loads and no lock: the caller guarantees
 * quiescence (no Worker runs kernel code), and a checker must not block on
 * a lock that a broken state left held.
 *
 * @module
 */

import {
  FALLOC,
  fallocBitmapWords,
  MM,
  MM_FREE,
  MM_LIVE,
  mmBase,
  PCACHE,
  PCACHE_SLOT,
  PCACHE_SLOT_WORDS,
  pcacheSlots,
  VMA,
  vmaBase,
  VMAS_PER_TASK,
} from "../abi/layout/mod.ts";
import { PIPE, PIPE_PAGES, pipeBase, PIPES_MAX } from "../abi/layout/pipe.ts";
import { msgStorePages } from "./ipc_msg.ts";
import { sockRingPages } from "./unix_sock.ts";
import { pteIsLeaf, pteIsTable, PTES_PER_TABLE, pteToPfn } from "../abi/sv32.ts";
import {
  asMmId,
  asPfn,
  asPte,
  asVmaId,
  type MmId,
  type Pfn,
  type Pte,
  type VmaId,
} from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { PTE_PROTNONE } from "../mm/pgtable.ts";
import { zeroPfn } from "../mm/mm.ts";
import { vdsoFrame } from "./vdso.ts";

/** A present leaf PTE (valid, or PROT_NONE) found by walking an mm's tables. */
export interface PteRef {
  readonly mm: MmId;
  readonly va: number;
  readonly pte: Pte;
  readonly pfn: Pfn;
  /** The VMA slot covering `va`, 0 when none does (itself a violation). */
  readonly vma: VmaId;
}

/** A megapage: a leaf (valid or PROT_NONE) in a root table, mapping 4 MiB. */
export interface HugeRef {
  readonly mm: MmId;
  /** The 4 MiB-aligned address it maps. */
  readonly va: number;
  readonly pte: Pte;
  /** The first of its 1024 frames. */
  readonly pfn: Pfn;
  /** The VMA slot covering `va`, 0 when none does (itself a violation). */
  readonly vma: VmaId;
}

/** A page-cache index entry. */
export interface PcacheRef {
  readonly mapping: number;
  readonly pgoff: number;
  readonly pfn: Pfn;
}

/** A VMA as the checkers need it. */
export interface VmaRec {
  readonly slot: VmaId;
  readonly mm: MmId;
  readonly start: number;
  readonly end: number;
  readonly flags: number;
  readonly file: number;
  readonly pgoff: number;
}

/** Everything one pass over the tables found. */
export interface Snapshot {
  readonly mem: Memory;
  readonly ramFrames: number;
  readonly deviceFrames: number;
  /** The zero page, -1 before mmBoot. */
  readonly zero: number;
  /** The [vdso] page (kept like the zero page, mapped pte_special), -1 before its first use. */
  readonly vdso: number;
  /** Live mm slots (state MM_LIVE). */
  readonly mms: MmId[];
  /** mm slots that are neither free nor live (dying: a teardown did not finish). */
  readonly oddMms: { mm: MmId; state: number }[];
  /** Page-table frame -> the mm that reaches it (root or level-0 table). */
  readonly tables: Map<number, number>;
  /** Page-table frames reached twice: [pfn, first mm, second mm]. */
  readonly sharedTables: [number, number, number][];
  /** Table entries that are neither empty, a table pointer at level 1, nor a leaf at level 0. */
  readonly badEntries: string[];
  /** Every present leaf PTE, in walk order. */
  readonly ptes: PteRef[];
  /** Every megapage, in walk order. */
  readonly huges: HugeRef[];
  /** Leaf PTEs grouped by the frame they name. */
  readonly ptesByPfn: Map<number, PteRef[]>;
  /** Page-cache index entries by frame; a frame indexed twice has two. */
  readonly pcache: Map<number, PcacheRef[]>;
  /** VMAs of live mms, in list order per mm. */
  readonly vmas: Map<number, VmaRec[]>;
  /** Ring pages of live pipes: frame -> the pipe records naming it (one, unless broken). */
  readonly pipes: Map<number, number[]>;
  /** Store pages of live System V message queues: frame -> the queues naming it (ipc_msg.ts). */
  readonly msgPages: Map<number, number[]>;
  /** Receive-ring pages of live AF_UNIX sockets: frame -> the sockets naming it (unix_sock.ts). */
  readonly sockPages: Map<number, number[]>;
}

/** Whether RAM frame `pfn`'s bit is set in the frame allocator's bitmap. */
export function frameInUse(mem: Memory, pfn: number): boolean {
  const w = mem.layout.falloc.base + FALLOC.bitmap + (pfn >>> 5);
  return (Atomics.load(mem.k32, w) & (1 << (pfn & 31))) !== 0;
}

/** Bitmap words of the frame allocator, for the counter check. */
export const fallocWords = (mem: Memory): number => fallocBitmapWords(mem.layout.config);

/** Read VMA slot `v`. */
export function readVma(mem: Memory, v: VmaId): VmaRec {
  const b = vmaBase(mem.layout, v);
  const k = mem.k32;
  return {
    slot: v,
    mm: asMmId(Atomics.load(k, b + VMA.mm)),
    start: Atomics.load(k, b + VMA.start),
    end: Atomics.load(k, b + VMA.end),
    flags: Atomics.load(k, b + VMA.flags),
    file: Atomics.load(k, b + VMA.file),
    pgoff: Atomics.load(k, b + VMA.pgoff),
  };
}

/** VMA slots in the table (slot 0 unused). */
export const vmaSlotCount = (mem: Memory): number => mem.layout.config.maxTasks * VMAS_PER_TASK;

/** The VMAs on mm `mm`'s list, following `next` links, at most every slot once. */
function listVmas(mem: Memory, mm: MmId): VmaRec[] {
  const out: VmaRec[] = [];
  const seen = new Set<number>();
  let v = Atomics.load(mem.k32, mmBase(mem.layout, mm) + MM.vmaHead);
  while (v !== 0 && !seen.has(v) && v > 0 && v < vmaSlotCount(mem)) {
    seen.add(v);
    out.push(readVma(mem, asVmaId(v)));
    v = Atomics.load(mem.k32, vmaBase(mem.layout, v) + VMA.next);
  }
  return out;
}

function vmaAt(list: VmaRec[], va: number): VmaId {
  for (const v of list) if (va >= v.start && va < v.end) return v.slot;
  return asVmaId(0);
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l === undefined) m.set(k, [v]);
  else l.push(v);
}

/** Walk mm `mm`'s two-level tables, recording tables and leaves into `s`. */
function walkMm(s: Snapshot, p32: Int32Array, mm: MmId, vmas: VmaRec[]): void {
  const root = Atomics.load(s.mem.k32, mmBase(s.mem.layout, mm) + MM.root);
  const phys = s.ramFrames + s.deviceFrames;
  const noteTable = (pfn: number): boolean => {
    const prev = s.tables.get(pfn);
    if (prev !== undefined) {
      s.sharedTables.push([pfn, prev, mm]);
      return false;
    }
    s.tables.set(pfn, mm);
    return true;
  };
  if (root < 0 || root >= s.ramFrames) {
    s.badEntries.push(`mm ${mm}: root page table ${root} is not a RAM frame`);
    return;
  }
  if (!noteTable(root)) return;
  for (let i = 0; i < PTES_PER_TABLE; i++) {
    const pde = asPte(Atomics.load(p32, root * PTES_PER_TABLE + i));
    if (pde === 0) continue;
    if (pteIsLeaf(pde) || (pde & PTE_PROTNONE) !== 0) {
      const va = i * PTES_PER_TABLE * 4096;
      s.huges.push({ mm, va, pte: pde, pfn: pteToPfn(pde), vma: vmaAt(vmas, va) });
      continue;
    }
    if (!pteIsTable(pde)) {
      s.badEntries.push(`mm ${mm}: root entry ${i} is 0x${(pde >>> 0).toString(16)}, not a table`);
      continue;
    }
    const t = pteToPfn(pde);
    if (t >= s.ramFrames) {
      s.badEntries.push(`mm ${mm}: root entry ${i} names frame ${t}, not a RAM frame`);
      continue;
    }
    if (!noteTable(t)) continue;
    for (let j = 0; j < PTES_PER_TABLE; j++) {
      const pte = asPte(Atomics.load(p32, t * PTES_PER_TABLE + j));
      if (pte === 0) continue;
      const va = (i * PTES_PER_TABLE + j) * 4096;
      const hex = (pte >>> 0).toString(16);
      if (!pteIsLeaf(pte) && (pte & PTE_PROTNONE) === 0) {
        s.badEntries.push(`mm ${mm} va 0x${va.toString(16)}: PTE 0x${hex} is not a leaf`);
        continue;
      }
      const pfn = pteToPfn(pte);
      if (pfn >= phys) {
        s.badEntries.push(
          `mm ${mm} va 0x${
            va.toString(16)
          }: PTE 0x${hex} names frame ${pfn} beyond physical memory`,
        );
        continue;
      }
      const ref: PteRef = { mm, va, pte, pfn, vma: vmaAt(vmas, va) };
      s.ptes.push(ref);
      push(s.ptesByPfn, pfn, ref);
    }
  }
}

/** Read the page-cache index slots (no lock: see the module comment). */
function scanPcache(s: Snapshot): void {
  const k = s.mem.k32;
  const n = pcacheSlots(s.mem.layout.config);
  const base = s.mem.layout.pcache.base + PCACHE.slots;
  for (let i = 0; i < n; i++) {
    const w = base + i * PCACHE_SLOT_WORDS;
    const mapping = Atomics.load(k, w + PCACHE_SLOT.mapping);
    if (mapping <= 0) continue;
    const pfn = asPfn(Atomics.load(k, w + PCACHE_SLOT.pfn));
    push(s.pcache, pfn, { mapping, pgoff: Atomics.load(k, w + PCACHE_SLOT.pgoff), pfn });
  }
}

/** Read the pipe records' ring pages (no lock: see the module comment). */
function scanPipes(s: Snapshot): void {
  const k = s.mem.k32;
  for (let slot = 0; slot < PIPES_MAX; slot++) {
    const r = pipeBase(s.mem.layout.pipes.base, slot);
    if (Atomics.load(k, r + PIPE.id) === 0) continue;
    for (let i = 0; i < PIPE_PAGES; i++) {
      const p = Atomics.load(k, r + PIPE.pages + i);
      if (p !== 0) push(s.pipes, p - 1, slot);
    }
  }
}

/**
 * Take the snapshot. Entry: quiescence (see the module comment).
 */
export function takeSnapshot(mem: Memory, p32: Int32Array): Snapshot {
  const cfg = mem.layout.config;
  const s: Snapshot = {
    mem,
    ramFrames: cfg.ramFrames,
    deviceFrames: cfg.deviceFrames,
    zero: zeroPfn(mem),
    vdso: vdsoFrame(mem),
    mms: [],
    oddMms: [],
    tables: new Map(),
    sharedTables: [],
    badEntries: [],
    ptes: [],
    huges: [],
    ptesByPfn: new Map(),
    pcache: new Map(),
    vmas: new Map(),
    pipes: new Map(),
    msgPages: msgStorePages(mem),
    sockPages: sockRingPages(mem),
  };
  for (let i = 1; i < cfg.maxTasks; i++) {
    const mm = asMmId(i);
    const state = Atomics.load(mem.k32, mmBase(mem.layout, mm) + MM.state);
    if (state === MM_LIVE) s.mms.push(mm);
    else if (state !== MM_FREE) s.oddMms.push({ mm, state });
  }
  for (const mm of s.mms) {
    const vmas = listVmas(mem, mm);
    s.vmas.set(mm, vmas);
    walkMm(s, p32, mm, vmas);
  }
  scanPcache(s);
  scanPipes(s);
  return s;
}
