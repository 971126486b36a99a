/**
 * The memory checkers of checkInvariants (invariants.ts): frame classes,
 * reference and map counts, PTE targets, VMA lists and the mm gauges. Each
 * takes the snapshot of _invariants_scan.ts and appends one line per
 * violation to `out`.
 *
 * @module
 */

import {
  FALLOC,
  ICACHE,
  ICACHE_SLOTS,
  ISLOT,
  ISLOT_WORDS,
  MM,
  mmBase,
  MMG,
  PAGE,
  PAGE_WORDS,
  VMA,
  vmaBase,
} from "../abi/layout/mod.ts";
import { PTE_R, PTE_W, PTE_X, pteIsSpecial } from "../abi/sv32.ts";
import { asIno, PAGE_SIZE, type VmaId } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { bmapLookup } from "../fs/xipfs/xipfs_bmap.ts";
import { XIPFS_META_MAPPING } from "../fs/xipfs/metacache.ts";
import { blockInUse, type XipVol } from "../fs/xipfs/xipfs_format.ts";
import { PG_anon, PG_pagetable, PG_uptodate } from "../mm/memmap.ts";
import { VM_EXEC, VM_PFNMAP, VM_READ, VM_SHARED, VM_WRITE } from "../mm/vma.ts";
import {
  fallocWords,
  frameInUse,
  type PteRef,
  readVma,
  type Snapshot,
  vmaSlotCount,
} from "./_invariants_scan.ts";

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** A struct page, read with Atomics. */
interface PageRec {
  flags: number;
  refcount: number;
  mapcount: number;
  mapping: number;
  index: number;
  priv: number;
}

function readPage(mem: Memory, pfn: number): PageRec {
  const b = mem.layout.memmap.base + pfn * PAGE_WORDS;
  const k = mem.k32;
  return {
    flags: Atomics.load(k, b + PAGE.flags),
    refcount: Atomics.load(k, b + PAGE.refcount),
    mapcount: Atomics.load(k, b + PAGE.mapcount),
    mapping: Atomics.load(k, b + PAGE.mapping),
    index: Atomics.load(k, b + PAGE.index),
    priv: Atomics.load(k, b + PAGE.private),
  };
}

const has = (flags: number, bit: number): boolean => (flags & (1 << bit)) !== 0;

/** Inode number held by icache slot `slot` (0: empty). */
export function slotIno(mem: Memory, slot: number): number {
  if (slot < 1 || slot >= ICACHE_SLOTS) return 0;
  return Atomics.load(
    mem.k32,
    mem.layout.icache.base + ICACHE.slots + slot * ISLOT_WORDS + ISLOT.ino,
  );
}

/** VMA flags of slot `v` (0 for none). */
const vmaFlagsOf = (mem: Memory, v: VmaId): number =>
  v === 0 ? 0 : Atomics.load(mem.k32, vmaBase(mem.layout, v) + VMA.flags);

/**
 * Whether a PTE holds a reference and a mapcount on its frame (Linux's
 * vm_normal_page): not pte_special, not the zero page, not in a
 * VM_PFNMAP VMA, and the frame has a struct page.
 */
function counted(s: Snapshot, r: PteRef): boolean {
  if (pteIsSpecial(r.pte) || r.pfn === s.zero) return false;
  if ((vmaFlagsOf(s.mem, r.vma) & VM_PFNMAP) !== 0) return false;
  return r.pfn < s.ramFrames || s.mem.layout.config.deviceMemmap;
}

/** What the caller declares it still holds: pins (gup) or references kept on purpose. */
export type Pins = ReadonlyMap<number, number>;

/**
 * Every RAM frame is exactly one of free, page cache, anonymous, page table,
 * pipe buffer or the zero page, and its struct page agrees. See invariants.ts for the
 * rules in prose.
 */
export function checkFrameClasses(s: Snapshot, pins: Pins, out: string[]): void {
  const { mem } = s;
  for (let pfn = 0; pfn < s.ramFrames; pfn++) {
    const pg = readPage(mem, pfn);
    const classes: string[] = [];
    if (pfn === s.zero) classes.push("zero page");
    if (pfn === s.vdso) classes.push("vdso page");
    if (s.tables.has(pfn)) classes.push("page table");
    if (s.pcache.has(pfn)) classes.push("page cache");
    if (s.pipes.has(pfn)) classes.push("pipe buffer");
    if (s.msgPages.has(pfn)) classes.push("message-queue page");
    if (s.sockPages.has(pfn)) classes.push("socket buffer");
    if (has(pg.flags, PG_anon)) classes.push("anonymous");
    const nptes = s.ptesByPfn.get(pfn)?.length ?? 0;
    if (!frameInUse(mem, pfn)) {
      if (classes.length > 0 || nptes > 0) {
        out.push(
          `frame ${pfn}: free in the frame allocator but ${
            [...classes, ...(nptes > 0 ? [`mapped by ${nptes} PTE(s)`] : [])].join(", ")
          }`,
        );
      }
      if (
        pg.flags !== 0 || pg.refcount !== 0 || pg.mapcount !== 0 || pg.mapping !== 0 ||
        pg.index !== 0 || pg.priv !== 0
      ) {
        out.push(
          `frame ${pfn}: free but its struct page is not clear (flags ${
            hex(pg.flags)
          } refcount ${pg.refcount} mapcount ${pg.mapcount} mapping ${pg.mapping} index ${pg.index})`,
        );
      }
      continue;
    }
    if (classes.length > 1) {
      out.push(`frame ${pfn}: in ${classes.length} classes at once: ${classes.join(", ")}`);
    }
    if (classes.length === 0) {
      if (has(pg.flags, PG_pagetable)) {
        out.push(`frame ${pfn}: PG_pagetable but reachable from no live mm (leaked page table)`);
      } else if ((pins.get(pfn) ?? 0) === 0) {
        out.push(
          `frame ${pfn}: in use but in no class (leaked: flags ${
            hex(pg.flags)
          } refcount ${pg.refcount} mapcount ${pg.mapcount} mapping ${pg.mapping}, ${nptes} PTE(s))`,
        );
      }
      continue;
    }
    checkClassFields(s, pfn, pg, classes[0]!, out);
  }
}

/** The struct-page fields a frame of class `cls` must carry. */
function checkClassFields(s: Snapshot, pfn: number, pg: PageRec, cls: string, out: string[]): void {
  const isTable = cls === "page table";
  if (has(pg.flags, PG_pagetable) !== isTable) {
    out.push(`frame ${pfn}: ${cls} but PG_pagetable is ${isTable ? "clear" : "set"}`);
  }
  if (isTable && (s.ptesByPfn.get(pfn)?.length ?? 0) > 0) {
    out.push(`frame ${pfn}: page table mapped into user space by a PTE`);
  }
  if (cls === "page cache") {
    const refs = s.pcache.get(pfn)!;
    if (refs.length > 1) {
      out.push(`frame ${pfn}: in the page-cache index ${refs.length} times`);
    }
    const e = refs[0]!;
    if (pg.mapping !== e.mapping || pg.index !== e.pgoff) {
      out.push(
        `frame ${pfn}: page-cache index says (mapping ${e.mapping}, pgoff ${e.pgoff}) but the struct page says (mapping ${pg.mapping}, index ${pg.index})`,
      );
    }
    if (!has(pg.flags, PG_uptodate)) out.push(`frame ${pfn}: page-cache page not PG_uptodate`);
    if (e.mapping !== XIPFS_META_MAPPING && slotIno(s.mem, e.mapping) === 0) {
      out.push(`frame ${pfn}: page-cache page of mapping ${e.mapping}, an empty inode slot`);
    }
  }
  if (cls === "anonymous" && pg.mapping !== 0) {
    out.push(`frame ${pfn}: anonymous but mapping is ${pg.mapping}`);
  }
  const kernelBuffers = {
    "pipe buffer": s.pipes,
    "message-queue page": s.msgPages,
    "socket buffer": s.sockPages,
  };
  if (cls in kernelBuffers) {
    const owners = kernelBuffers[cls as keyof typeof kernelBuffers].get(pfn)!;
    if (owners.length > 1) out.push(`frame ${pfn}: a ${cls} of ${owners.length} owners`);
    if ((s.ptesByPfn.get(pfn)?.length ?? 0) > 0) {
      out.push(`frame ${pfn}: ${cls} mapped into user space by a PTE`);
    }
    if (pg.flags !== 0 || pg.mapping !== 0) {
      out.push(`frame ${pfn}: ${cls} with flags ${hex(pg.flags)} mapping ${pg.mapping}`);
    }
  }
}

/**
 * refcount = counted PTEs + pins + 1 for the page cache + 1 for the
 * allocation reference that the zero page and page tables keep; mapcount =
 * counted PTEs. Also device frames when they have a struct page.
 */
export function checkCounts(s: Snapshot, pins: Pins, out: string[]): void {
  const { mem } = s;
  const cfg = mem.layout.config;
  const last = cfg.deviceMemmap ? s.ramFrames + s.deviceFrames : s.ramFrames;
  for (let pfn = 0; pfn < last; pfn++) {
    const ram = pfn < s.ramFrames;
    if (ram && !frameInUse(mem, pfn)) continue;
    const pg = readPage(mem, pfn);
    const ptes = (s.ptesByPfn.get(pfn) ?? []).filter((r) => counted(s, r)).length;
    const pin = pins.get(pfn) ?? 0;
    const cache = s.pcache.has(pfn) ? 1 : 0;
    const kernel = ram &&
        (pfn === s.zero || pfn === s.vdso || s.tables.has(pfn) || s.pipes.has(pfn) ||
          s.msgPages.has(pfn) || s.sockPages.has(pfn))
      ? 1
      : 0;
    const want = ptes + pin + cache + kernel;
    const meta = cache === 1 && s.pcache.get(pfn)![0]!.mapping === XIPFS_META_MAPPING;
    if (meta ? pg.refcount < want : pg.refcount !== want) {
      out.push(
        `frame ${pfn}: refcount ${pg.refcount}, expected ${
          meta ? "at least " : ""
        }${want} (PTEs ${ptes} + pins ${pin} + page cache ${cache} + kernel ${kernel})`,
      );
    }
    if (pg.mapcount !== ptes) {
      out.push(`frame ${pfn}: mapcount ${pg.mapcount}, expected ${ptes} (PTEs mapping it)`);
    }
  }
}

function where(r: PteRef): string {
  return `mm ${r.mm} va ${hex(r.va)}: PTE ${hex(r.pte)}`;
}

/** Permission bits of a PTE against its VMA's VM_* flags. */
function checkPtePerms(r: PteRef, vflags: number, out: string[]): void {
  if ((r.pte & PTE_W) !== 0 && (vflags & VM_WRITE) === 0) {
    out.push(`${where(r)} is writable in a VMA without VM_WRITE`);
  }
  if ((r.pte & PTE_X) !== 0 && (vflags & VM_EXEC) === 0) {
    out.push(`${where(r)} is executable in a VMA without VM_EXEC`);
  }
  if ((r.pte & PTE_R) !== 0 && (vflags & (VM_READ | VM_WRITE)) === 0) {
    out.push(`${where(r)} is readable in a VMA without VM_READ`);
  }
}

/**
 * Where every PTE points: inside a VMA, with no more permission than it; at
 * an allocated RAM frame that is no page table; a page-cache page of the
 * VMA's own file and offset; a device block that the block bitmap marks in
 * use and that the VMA's inode maps at that offset (when `vol` is given).
 */
export function checkPtes(s: Snapshot, vol: XipVol | null, out: string[]): void {
  const { mem } = s;
  for (const r of s.ptes) {
    if (r.vma === 0) {
      out.push(`${where(r)} maps frame ${r.pfn} outside any VMA`);
      continue;
    }
    const v = readVma(mem, r.vma);
    checkPtePerms(r, v.flags, out);
    const sharedFile = (v.flags & VM_SHARED) !== 0 && v.file !== 0;
    const pgoff = v.pgoff + Math.floor((r.va - v.start) / PAGE_SIZE);
    if (r.pfn < s.ramFrames) checkRamPte(s, r, v.file, sharedFile, pgoff, out);
    else checkDevicePte(s, vol, r, v.file, sharedFile, pgoff, out);
  }
}

function checkRamPte(
  s: Snapshot,
  r: PteRef,
  file: number,
  sharedFile: boolean,
  pgoff: number,
  out: string[],
): void {
  const { mem } = s;
  if (!frameInUse(mem, r.pfn)) {
    out.push(`${where(r)} maps free frame ${r.pfn}`);
    return;
  }
  if (r.pfn === s.zero) {
    if (!pteIsSpecial(r.pte)) out.push(`${where(r)} maps the zero page without pte_special`);
    if ((r.pte & PTE_W) !== 0) out.push(`${where(r)} maps the zero page writable`);
    return;
  }
  if (r.pfn === s.vdso) {
    if (!pteIsSpecial(r.pte)) out.push(`${where(r)} maps the vdso page without pte_special`);
    if ((r.pte & PTE_W) !== 0) out.push(`${where(r)} maps the vdso page writable`);
    return;
  }
  if (pteIsSpecial(r.pte)) {
    out.push(`${where(r)} is pte_special but frame ${r.pfn} has a struct page`);
  }
  if (s.tables.has(r.pfn)) return; // reported by checkFrameClasses
  const pc = s.pcache.get(r.pfn);
  if (pc !== undefined) {
    const e = pc[0]!;
    if (file !== e.mapping || pgoff !== e.pgoff) {
      out.push(
        `${
          where(r)
        } maps page-cache page (mapping ${e.mapping}, pgoff ${e.pgoff}) but its VMA maps (file ${file}, pgoff ${pgoff})`,
      );
    }
    if (!sharedFile && (r.pte & PTE_W) !== 0) {
      out.push(`${where(r)} lets a private mapping write page-cache frame ${r.pfn}`);
    }
    return;
  }
  const pg = readPage(mem, r.pfn);
  if (has(pg.flags, PG_anon) && sharedFile) {
    out.push(`${where(r)} maps anonymous frame ${r.pfn} in a shared file VMA`);
  }
}

function checkDevicePte(
  s: Snapshot,
  vol: XipVol | null,
  r: PteRef,
  file: number,
  sharedFile: boolean,
  pgoff: number,
  out: string[],
): void {
  const { mem } = s;
  const memmap = mem.layout.config.deviceMemmap;
  if (pteIsSpecial(r.pte) === memmap) {
    out.push(
      memmap
        ? `${where(r)} is pte_special but device frame ${r.pfn} has a struct page`
        : `${where(r)} maps device frame ${r.pfn} without pte_special (it has no struct page)`,
    );
  }
  if (file === 0) {
    out.push(`${where(r)} maps device frame ${r.pfn} in an anonymous VMA`);
    return;
  }
  if (!sharedFile && (r.pte & PTE_W) !== 0) {
    out.push(`${where(r)} lets a private mapping write device frame ${r.pfn}`);
  }
  if (vol === null) return;
  const b = r.pfn - s.ramFrames;
  if (b >= vol.sb.totalBlocks) {
    out.push(`${where(r)} maps device block ${b}, beyond the volume's ${vol.sb.totalBlocks}`);
    return;
  }
  if (!blockInUse(vol, b)) {
    out.push(`${where(r)} maps device block ${b}, which the block bitmap marks free`);
  }
  const ino = slotIno(mem, file);
  if (ino === 0) {
    out.push(`${where(r)} maps device block ${b} for inode slot ${file}, which is empty`);
    return;
  }
  const owned = bmapLookup(vol, asIno(ino), pgoff);
  if (owned !== b) {
    out.push(
      `${where(r)} maps device block ${b} but inode ${ino} maps ${
        owned === 0 ? "a hole" : `block ${owned}`
      } at pgoff ${pgoff} (stale mapping)`,
    );
  }
}

/**
 * VMA lists: each live mm's list is sorted, page aligned, non-overlapping,
 * its VMAs name the mm and their count matches MM.vmaCount; every used VMA
 * slot is on some live mm's list; every file VMA is on its inode's i_mmap
 * list and every i_mmap entry is a VMA of that inode.
 */
export function checkVmas(s: Snapshot, out: string[]): void {
  const { mem } = s;
  const listed = new Set<number>();
  for (const [mm, list] of s.vmas) {
    let prevEnd = 0;
    for (const v of list) {
      listed.add(v.slot);
      if (v.mm !== mm) out.push(`vma ${v.slot}: on mm ${mm}'s list but names mm ${v.mm}`);
      if (v.start >= v.end || v.start % PAGE_SIZE !== 0 || v.end % PAGE_SIZE !== 0) {
        out.push(`vma ${v.slot}: bad range [${hex(v.start)}, ${hex(v.end)})`);
      }
      if (v.start < prevEnd) out.push(`vma ${v.slot}: overlaps or is out of order in mm ${mm}`);
      prevEnd = v.end;
    }
    const count = Atomics.load(mem.k32, mmBase(mem.layout, mm) + MM.vmaCount);
    if (count !== list.length) {
      out.push(`mm ${mm}: vmaCount ${count} but ${list.length} VMAs on its list`);
    }
  }
  const onImmap = new Map<number, number>();
  for (let slot = 1; slot < ICACHE_SLOTS; slot++) {
    const head = mem.layout.icache.base + ICACHE.slots + slot * ISLOT_WORDS + ISLOT.iMmap;
    const seen = new Set<number>();
    for (let v = Atomics.load(mem.k32, head); v > 0 && !seen.has(v);) {
      seen.add(v);
      onImmap.set(v, slot);
      const file = Atomics.load(mem.k32, vmaBase(mem.layout, v) + VMA.file);
      if (file !== slot) out.push(`vma ${v}: on the i_mmap list of slot ${slot} but maps ${file}`);
      if (Atomics.load(mem.k32, vmaBase(mem.layout, v) + VMA.used) !== 1) {
        out.push(`vma ${v}: free but still on the i_mmap list of slot ${slot}`);
      }
      v = Atomics.load(mem.k32, vmaBase(mem.layout, v) + VMA.rmapNext);
    }
  }
  for (let v = 1; v < vmaSlotCount(mem); v++) {
    if (Atomics.load(mem.k32, vmaBase(mem.layout, v) + VMA.used) === 0) continue;
    if (!listed.has(v)) {
      out.push(`vma ${v}: in use but on no live mm's list (leaked VMA)`);
      continue;
    }
    const file = Atomics.load(mem.k32, vmaBase(mem.layout, v) + VMA.file);
    if (file !== 0 && onImmap.get(v) !== file) {
      out.push(`vma ${v}: maps inode slot ${file} but is not on its i_mmap list`);
    }
  }
}

/**
 * The counters that mirror the tables: the frame allocator's free count
 * (= clear bits, the bits past the last RAM frame set), the page-table
 * gauges (machine-wide and per mm), the anonymous gauge (counted PTEs of
 * PG_anon frames) and each mm's rss counters; mms left dying; malformed
 * table entries.
 */
export function checkGauges(s: Snapshot, out: string[]): void {
  const { mem } = s;
  const k = mem.k32;
  out.push(...s.badEntries);
  for (const [pfn, a, b] of s.sharedTables) {
    out.push(`frame ${pfn}: page table reachable from mm ${a} and mm ${b}`);
  }
  for (const { mm, state } of s.oddMms) out.push(`mm ${mm}: left in state ${state} (not free)`);
  let clear = 0;
  for (let pfn = 0; pfn < s.ramFrames; pfn++) if (!frameInUse(mem, pfn)) clear++;
  for (let b = s.ramFrames; b < fallocWords(mem) * 32; b++) {
    if (!frameInUse(mem, b)) out.push(`frame allocator: bit ${b} past the last RAM frame is clear`);
  }
  const free = Atomics.load(k, mem.layout.falloc.base + FALLOC.freeFrames);
  if (free !== clear) {
    out.push(`frame allocator: freeFrames is ${free} but ${clear} frames have a clear bit`);
  }
  const g = mem.layout.mmg.base;
  const pt = Atomics.load(k, g + MMG.pagetableFrames);
  if (pt !== s.tables.size) {
    out.push(`mm gauges: pagetableFrames is ${pt} but ${s.tables.size} page tables are reachable`);
  }
  const perMm = new Map<number, { pt: number; anon: number; file: number }>();
  for (const mm of s.mms) perMm.set(mm, { pt: 0, anon: 0, file: 0 });
  for (const mm of s.tables.values()) perMm.get(mm)!.pt++;
  let anon = 0;
  for (const r of s.ptes) {
    if (!counted(s, r)) continue;
    const isAnon = has(Atomics.load(k, mem.layout.memmap.base + r.pfn * PAGE_WORDS), PG_anon);
    if (isAnon) anon++;
    const c = perMm.get(r.mm)!;
    if (isAnon) c.anon++;
    else c.file++;
  }
  const anonGauge = Atomics.load(k, g + MMG.anonFrames);
  if (anonGauge !== anon) {
    out.push(`mm gauges: anonFrames is ${anonGauge} but ${anon} PTEs map anonymous frames`);
  }
  for (const [mm, c] of perMm) {
    const b = mmBase(mem.layout, mm);
    const got = {
      pt: Atomics.load(k, b + MM.ptFrames),
      anon: Atomics.load(k, b + MM.rssAnon),
      file: Atomics.load(k, b + MM.rssFile),
    };
    if (got.pt !== c.pt) out.push(`mm ${mm}: ptFrames is ${got.pt} but it reaches ${c.pt} tables`);
    if (got.anon !== c.anon) out.push(`mm ${mm}: rssAnon is ${got.anon}, its PTEs say ${c.anon}`);
    if (got.file !== c.file) out.push(`mm ${mm}: rssFile is ${got.file}, its PTEs say ${c.file}`);
  }
}
