/**
 * What the live view says about one frame when the pointer rests on it:
 * its kind, struct page counters, the processes that map it, and for a
 * device or page-cache frame the file and offset it holds.
 *
 * The file of a device block is found by reading the xipfs image on the
 * device the way fsck does (block maps of every inode, directories from the
 * root), without the filesystem's locks. An fs changing meanwhile could be
 * read half-way, so the index is built between two reads of the
 * filesystem's allocation counters and rebuilt (up to a few times) when they
 * moved: a seqcount over the block maps. Renames move no counter; the index
 * is rebuilt at most every INDEX_TTL_MS, so a name is at worst that stale.
 *
 * @module
 */

import { PAGE, PAGE_WORDS, PROC, PROC_FREE, procBase, SB_INFO } from "../abi/layout/mod.ts";
import { asIno, type Ino, PAGE_SIZE } from "../abi/types.ts";
import { XIPFS_META_MAPPING } from "../fs/xipfs/metacache.ts";
import { bmapWalk } from "../fs/xipfs/xipfs_bmap.ts";
import { dirIterate } from "../fs/xipfs/xipfs_dir.ts";
import { inodeGet, inodeInUse, isDirMode, type XipVol } from "../fs/xipfs/xipfs_format.ts";
import type { Memory } from "../hw/memory.ts";
import { slotIno } from "../kernel/_invariants_mm.ts";
import {
  PG_anon,
  PG_dirty,
  PG_locked,
  PG_pagetable,
  PG_reserved,
  PG_uptodate,
  PG_writeback,
} from "../mm/memmap.ts";
import { DEVICE_KINDS, type FrameSnapshot, RAM_KINDS } from "./frames.ts";
import type { FilePos, FileUse, FrameDetail } from "./protocol.ts";

export type { FilePos, FrameDetail };

/** PG_* flags by name, for the hover text. */
const PG_NAMES: readonly [number, string][] = [
  [PG_locked, "locked"],
  [PG_uptodate, "uptodate"],
  [PG_dirty, "dirty"],
  [PG_writeback, "writeback"],
  [PG_reserved, "reserved"],
  [PG_anon, "anon"],
  [PG_pagetable, "pagetable"],
];

/** How long a built file index is reused, in ms. */
const INDEX_TTL_MS = 1000;
/** Builds tried while the allocation counters keep moving. */
const INDEX_TRIES = 3;
/** Directory depth the path walk follows at most (a corrupt or changing tree could loop). */
const MAX_DEPTH = 64;

/** Device block -> file position, and inode -> path, of one xipfs volume. */
export class FileIndex {
  #owner = new Map<number, { ino: number; iblock: number; use: FileUse }>();
  #paths = new Map<number, string>();
  #builtAt = -Infinity;
  /** Whether the last build saw the counters stable (false: it may be a torn read). */
  consistent = true;

  constructor(readonly mem: Memory, readonly vol: XipVol) {}

  /** The allocation counters of the mounted fs: they move whenever a block map changes. */
  #gen(): number {
    const x = this.mem.layout.xipfs.base;
    const k = this.mem.k32;
    return (Atomics.load(k, x + SB_INFO.allocs) + Atomics.load(k, x + SB_INFO.frees) * 7 +
      Atomics.load(k, x + SB_INFO.inodeFrees) * 13) | 0;
  }

  #build(): void {
    const vol = this.vol;
    this.#owner.clear();
    this.#paths.clear();
    for (let ino = 1; ino <= vol.sb.inodeCount; ino++) {
      if (!inodeInUse(vol, ino) || inodeGet(vol, asIno(ino), "mode") === 0) continue;
      bmapWalk(vol, asIno(ino), (b, iblock, use, valid) => {
        if (valid) this.#owner.set(b, { ino, iblock, use });
      });
    }
    const walk = (dir: Ino, path: string, depth: number) => {
      if (depth > MAX_DEPTH) return;
      dirIterate(vol, dir, (e) => {
        if (e.name === "." || e.name === ".." || this.#paths.has(e.ino)) return;
        const p = `${path}/${e.name}`;
        this.#paths.set(e.ino, p);
        if (isDirMode(inodeGet(vol, e.ino, "mode"))) walk(e.ino, p, depth + 1);
      });
    };
    this.#paths.set(vol.sb.rootIno, "/");
    walk(vol.sb.rootIno, "", 0);
  }

  /** Rebuild when stale, under the counters' seqcount. Never throws. */
  refresh(now: number): void {
    if (now - this.#builtAt < INDEX_TTL_MS) return;
    this.#builtAt = now;
    for (let i = 0; i < INDEX_TRIES; i++) {
      const g = this.#gen();
      try {
        this.#build();
      } catch {
        // A block read half-way through a change; the next try sees it whole.
      }
      if (this.#gen() === g) {
        this.consistent = true;
        return;
      }
    }
    this.consistent = false;
  }

  /** Where device block `b` belongs, or null for a block no file owns. */
  blockOwner(b: number): FilePos | null {
    const o = this.#owner.get(b);
    if (o === undefined) return null;
    return {
      path: this.#paths.get(o.ino) ?? null,
      ino: o.ino,
      offset: o.iblock * PAGE_SIZE,
      use: o.use,
    };
  }

  /** The path of inode `ino` (null when not reachable from /). */
  pathOf(ino: number): string | null {
    return this.#paths.get(ino) ?? null;
  }
}

/** The xipfs metadata region holding device block `b`, or null for a data block. */
function metaRegion(vol: XipVol | null, b: number): string | null {
  if (vol === null || b >= vol.sb.dataStart) return null;
  const sb = vol.sb;
  if (b === 0) return "superblock";
  if (b < sb.inodeBitmapStart) return "block bitmap";
  if (b < sb.inodeTableStart) return "inode bitmap";
  return "inode table";
}

/** Pids of the processes whose mm maps `pfn` in the snapshot. */
function mappingPids(mem: Memory, snap: FrameSnapshot, pfn: number): number[] {
  const pids: number[] = [];
  for (let slot = 1; slot < mem.layout.config.maxTasks; slot++) {
    const b = procBase(mem.layout, slot);
    if (Atomics.load(mem.k32, b + PROC.state) === PROC_FREE) continue;
    const view = snap.mms.get(Atomics.load(mem.k32, b + PROC.mm));
    if (view !== undefined && view.pfns.includes(pfn)) {
      pids.push(Atomics.load(mem.k32, b + PROC.pid));
    }
  }
  return pids.sort((a, b) => a - b);
}

/**
 * Describe frame `pfn`. Any thread; no lock (see the module comment).
 *
 * @returns null when `pfn` is not a frame of this machine
 */
export function frameDetail(
  mem: Memory,
  snap: FrameSnapshot,
  index: FileIndex | null,
  pfn: number,
): FrameDetail | null {
  const cfg = mem.layout.config;
  if (!Number.isInteger(pfn) || pfn < 0 || pfn >= cfg.ramFrames + cfg.deviceFrames) return null;
  index?.refresh(performance.now());
  const ram = pfn < cfg.ramFrames;
  const hasPage = ram || cfg.deviceMemmap;
  const p = mem.layout.memmap.base + pfn * PAGE_WORDS;
  const word = (f: number) => (hasPage ? Atomics.load(mem.k32, p + f) : null);
  const flags = word(PAGE.flags) ?? 0;
  const kind = ram
    ? RAM_KINDS[snap.ramCodes[pfn]!]!
    : DEVICE_KINDS[snap.devCodes[pfn - cfg.ramFrames]!]!;
  let file: FilePos | null = null;
  let meta: string | null = null;
  const block = ram ? null : pfn - cfg.ramFrames;
  if (block !== null) {
    file = index?.blockOwner(block) ?? null;
    meta = metaRegion(index?.vol ?? null, block);
  } else if (kind.name === "pagecache") {
    const mapping = word(PAGE.mapping) ?? 0;
    const offset = (word(PAGE.index) ?? 0) * PAGE_SIZE;
    if (mapping === XIPFS_META_MAPPING) meta = `xipfs metadata, device block ${offset / PAGE_SIZE}`;
    else {
      const ino = slotIno(mem, mapping);
      if (ino !== 0) file = { path: index?.pathOf(ino) ?? null, ino, offset, use: "data" };
    }
  }
  return {
    pfn,
    region: ram ? "ram" : "device",
    kind: kind.name,
    label: kind.label,
    refcount: word(PAGE.refcount),
    mapcount: word(PAGE.mapcount),
    flags: PG_NAMES.filter(([bit]) => (flags & (1 << bit)) !== 0).map(([, n]) => n),
    pids: mappingPids(mem, snap, pfn),
    file,
    block,
    meta,
  };
}
