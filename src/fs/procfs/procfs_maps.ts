/**
 * /proc/PID/maps and /proc/PID/smaps (Linux's fs/proc/task_mmu.c, reduced):
 * a snapshot of an mm's VMAs, taken under mmap_lock for reading, with the
 * smaps page accounting done by walking the PTEs in the same hold, then
 * formatted once the lock is dropped (file names are found after it: the
 * directory walk takes i_rwsem, which ranks above mmap_lock).
 *
 * maps line (Linux's show_map_vma):
 *
 * ```
 *  start-end perms offset dev ino                         pathname
 *  %08x-%08x rwxp %08x %02x:%02x %u, padded with spaces to column 73, then the name
 * ```
 *
 * The name starts at column 73 (0-based) as on a 64-bit Linux and in
 * qemu-user's emulated maps; a riscv32 Linux kernel would pad to 48 only.
 * A line without a name ends with the space after the inode, as Linux's.
 * perms: r/w/x from VM_READ/WRITE/EXEC, then `s` for VM_MAYSHARE, else `p`.
 * offset: pgoff * 4096 for a file mapping, 0 for anonymous memory. dev:
 * XIP_DEV (01:00, see src/fs/vfs.ts) for a file, 00:00 for anonymous.
 * Names: the file's path (procfs_path.ts), `[vdso]` for the sigreturn page, `[heap]` for the VMA around the
 * brk area, `[stack]` for an anonymous VM_GROWSDOWN VMA, nothing for other
 * anonymous memory.
 *
 * @module
 */

import { ICACHE, ISLOT, ISLOT_WORDS, MM, mmBase } from "../../abi/layout/mod.ts";
import { pfnToPte, PTE_A, PTE_D, PTE_FLAGS_MASK, pteIsTable } from "../../abi/sv32.ts";
import {
  asMmId,
  type InodeSlot,
  type MmId,
  PAGE_SIZE,
  type Pfn,
  type Pte,
  type VmaId,
} from "../../abi/types.ts";
import type { Memory } from "../../hw/memory.ts";
import { vmNormalPage } from "../../mm/fault.ts";
import { pageMapcount, PG_anon, PG_dirty, testPageFlag } from "../../mm/memmap.ts";
import { mmapReadLock, mmapReadUnlock, mmPut } from "../../mm/mm.ts";
import {
  hugePfnAt,
  mmRoot,
  physWords,
  pmdAddrEnd,
  pmdIsHuge,
  pmdOffset,
  pteLoad,
  pteOffset,
  ptePresent,
} from "../../mm/pgtable.ts";
import {
  VM_EXEC,
  VM_GROWSDOWN,
  VM_LOCKED,
  VM_MAYSHARE,
  VM_READ,
  VM_WRITE,
  vmaEnd,
  vmaFile,
  vmaFirst,
  vmaFlags,
  vmaNext,
  vmaOpsId,
  vmaPgoff,
  vmaStart,
  VMOPS_VDSO,
} from "../../mm/vma.ts";
import type { ProcInfo } from "./procfs.ts";
import { inodePaths } from "./procfs_path.ts";
import { shmemCtx, shmemOwns } from "../shmem.ts";
import { shmemMapsName } from "../tmpfs.ts";
import { XIP_DEV } from "../vfs.ts";
import type { VfsFs } from "../vfs_fs.ts";

/** Column (0-based) where a maps line's name starts. */
export const MAPS_NAME_COLUMN = 73;

/** Linux's PSS_SHIFT: Pss is summed in 1/4096ths of a byte so 4096/3 adds up exactly. */
const PSS_SHIFT = 12;

/** Page counts of one VMA, in bytes (Linux's struct mem_size_stats, reduced). */
export interface MemSizeStats {
  rss: number;
  /** Proportional set size << PSS_SHIFT. */
  pssFixed: number;
  sharedClean: number;
  sharedDirty: number;
  privateClean: number;
  privateDirty: number;
  referenced: number;
  anonymous: number;
  /** Pss of a VM_LOCKED VMA << PSS_SHIFT. */
  lockedFixed: number;
  /** Bytes mapped by DAX megapages (FilePmdMapped; not in Rss: they hold no reference). */
  filePmdMapped: number;
}

/** One VMA as maps and smaps show it, copied out under mmap_lock. */
export interface VmaSnap {
  start: number;
  end: number;
  flags: number;
  /** File page offset of `start`; 0 for anonymous memory. */
  pgoff: number;
  /** Inode number of the mapped file; 0 for anonymous memory. */
  ino: number;
  /** `[heap]`, `[stack]` or "" for anonymous memory; set by the caller for files. */
  name: string;
  /** Page accounting, when asked for (smaps). */
  mss: MemSizeStats | null;
}

const newMss = (): MemSizeStats => ({
  rss: 0,
  pssFixed: 0,
  sharedClean: 0,
  sharedDirty: 0,
  privateClean: 0,
  privateDirty: 0,
  referenced: 0,
  anonymous: 0,
  lockedFixed: 0,
  filePmdMapped: 0,
});

/** Inode number held by inode-cache slot `slot` (the VMA's reference keeps it there). */
function slotIno(mem: Memory, slot: InodeSlot): number {
  return Atomics.load(
    mem.k32,
    mem.layout.icache.base + ICACHE.slots + slot * ISLOT_WORDS + ISLOT.ino,
  );
}

/**
 * Call `fn` for every present leaf PTE in [start, end) of mm `mm`, in
 * address order, skipping 4 MiB ranges that have no level-0 table. A
 * megapage is reported page by page, as the PTE each of its 1024 frames
 * would have, with `huge` set (smaps_pmd_entry's view). Entry:
 * mmap_lock held (tables are freed only under it for writing); PTEs are
 * read atomically, without the page-table lock, as Linux's smaps walk
 * reads them under the PTE lock only to keep the page alive, which the
 * mmap_lock hold does here (a page stays mapped until a zap, and a zap
 * releases only after its TLB shootdown).
 */
export function forEachPresentPte(
  mem: Memory,
  mm: MmId,
  start: number,
  end: number,
  fn: (va: number, pte: Pte, huge: boolean) => void,
): void {
  const p32 = physWords(mem);
  const root = mmRoot(mem, mm);
  for (let va = start, next: number; va < end; va = next) {
    next = pmdAddrEnd(va, end);
    const pde = pteLoad(p32, pmdOffset(root, va));
    if (pmdIsHuge(pde)) {
      for (let v = va; v < next; v += PAGE_SIZE) {
        fn(v, pfnToPte(hugePfnAt(pde, v), pde & PTE_FLAGS_MASK), true);
      }
    } else if (pteIsTable(pde)) {
      for (let v = va; v < next; v += PAGE_SIZE) {
        const pte = pteLoad(p32, pteOffset(pde, v));
        if (ptePresent(pte)) fn(v, pte, false);
      }
    }
  }
}

/**
 * Account the pages of VMA `v` (Linux's smaps_pte_entry + smaps_account):
 * only pages with a struct page count (vmNormalPage), so special PTEs of a
 * DAX mapping without a device memmap and the zero page add nothing. A page
 * mapped more than once is shared and adds 4 KiB / mapcount to Pss; dirty
 * is the PTE's D bit or PG_dirty; referenced is the A bit. Entry: mmap_lock
 * held.
 */
function accountVma(mem: Memory, mm: MmId, v: VmaId): MemSizeStats {
  const mss = newMss();
  const locked = (vmaFlags(mem, v) & VM_LOCKED) !== 0;
  forEachPresentPte(mem, mm, vmaStart(mem, v), vmaEnd(mem, v), (_va, pte, huge) => {
    // A DAX megapage holds no reference (pmd_devmap): it shows only here.
    if (huge) mss.filePmdMapped += PAGE_SIZE;
    const pfn: Pfn | null = vmNormalPage(mem, v, pte);
    if (pfn === null) return;
    const dirty = (pte & PTE_D) !== 0 || testPageFlag(mem, pfn, PG_dirty);
    mss.rss += PAGE_SIZE;
    if (testPageFlag(mem, pfn, PG_anon)) mss.anonymous += PAGE_SIZE;
    if ((pte & PTE_A) !== 0) mss.referenced += PAGE_SIZE;
    const mapcount = pageMapcount(mem, pfn);
    const shared = mapcount >= 2;
    const pss = shared ? Math.floor((PAGE_SIZE << PSS_SHIFT) / mapcount) : PAGE_SIZE << PSS_SHIFT;
    mss.pssFixed += pss;
    if (locked) mss.lockedFixed += pss;
    if (shared) {
      if (dirty) mss.sharedDirty += PAGE_SIZE;
      else mss.sharedClean += PAGE_SIZE;
    } else if (dirty) mss.privateDirty += PAGE_SIZE;
    else mss.privateClean += PAGE_SIZE;
  });
  return mss;
}

/**
 * Take a user reference on mm `mm` unless it has none left (Linux's
 * mmget_not_zero), so a reader can walk it while its owner exits; the
 * reader drops it with mmPut, which tears the mm down if it was the last.
 */
export function mmGetNotZero(mem: Memory, mm: MmId): boolean {
  const w = mmBase(mem.layout, mm) + MM.users;
  for (let u = Atomics.load(mem.k32, w); u > 0;) {
    const seen = Atomics.compareExchange(mem.k32, w, u, u + 1);
    if (seen === u) return true;
    u = seen;
  }
  return false;
}

/**
 * Copy out mm `mm`'s VMAs (and their page accounting when `smaps`).
 * Names of file VMAs are left "" for the caller. Takes and drops the
 * mm's mmap_lock for reading. Entry: the caller holds a user reference on
 * the mm (so it cannot be torn down meanwhile); no lock held.
 */
export function snapshotVmas(mem: Memory, mm: MmId, smaps: boolean): VmaSnap[] {
  const out: VmaSnap[] = [];
  mmapReadLock(mem, mm);
  try {
    const b = mmBase(mem.layout, mm);
    const brkStart = mem.k32[b + MM.brkStart]! >>> 0;
    const brk = mem.k32[b + MM.brk]! >>> 0;
    for (let v = vmaFirst(mem, mm); v !== 0; v = vmaNext(mem, v)) {
      const start = vmaStart(mem, v);
      const end = vmaEnd(mem, v);
      const flags = vmaFlags(mem, v);
      const file = vmaFile(mem, v);
      let name = "";
      // Linux's [heap] test (show_map_vma): the VMA reaches the brk area.
      if (vmaOpsId(mem, v) === VMOPS_VDSO) name = "[vdso]";
      else if (file === 0 && start <= brk && end >= brkStart) name = "[heap]";
      else if (file === 0 && (flags & VM_GROWSDOWN) !== 0) name = "[stack]";
      out.push({
        start,
        end,
        flags,
        pgoff: file === 0 ? 0 : vmaPgoff(mem, v),
        ino: file === 0 ? 0 : slotIno(mem, file),
        name,
        mss: smaps ? accountVma(mem, mm, v) : null,
      });
    }
  } finally {
    mmapReadUnlock(mem, mm);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Formatting.

const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0");

/** One maps line (no newline) for VMA `s` (Linux's show_vma_header_prefix + name). */
export function mapsLine(s: VmaSnap): string {
  const f = s.flags;
  const perms = ((f & VM_READ) !== 0 ? "r" : "-") + ((f & VM_WRITE) !== 0 ? "w" : "-") +
    ((f & VM_EXEC) !== 0 ? "x" : "-") + ((f & VM_MAYSHARE) !== 0 ? "s" : "p");
  const dev = s.ino === 0 ? 0 : XIP_DEV;
  const major = dev >>> 8;
  const minor = dev & 0xff;
  const prefix = `${hex(s.start, 8)}-${hex(s.end, 8)} ${perms} ${hex(s.pgoff * PAGE_SIZE, 8)} ` +
    `${hex(major, 2)}:${hex(minor, 2)} ${s.ino} `;
  if (s.name === "") return prefix;
  // seq_pad: spaces up to the name column, and always at least the one space already there.
  return prefix.padEnd(MAPS_NAME_COLUMN) + s.name;
}

/**
 * A `Name:   N kB` line as Linux's SEQ_PUT_DEC writes it: the label padded
 * to 16 columns and the number right-aligned to end at column 24.
 */
export function kbLine(label: string, bytes: number): string {
  let head = `${label}:`;
  head = head.length < 16 ? head.padEnd(16) : `${head} `;
  return `${head}${String(Math.floor(bytes / 1024)).padStart(24 - head.length)} kB`;
}

/** VmFlags mnemonics by bit number (Linux's show_smap_vma_flags), for the VM_* bits xip has. */
const VMFLAG_NAMES: readonly [number, string][] = [
  [0, "rd"],
  [1, "wr"],
  [2, "ex"],
  [3, "sh"],
  [4, "mr"],
  [5, "mw"],
  [6, "me"],
  [7, "ms"],
  [8, "gd"],
  [10, "pf"],
  [13, "lo"],
  [23, "sf"],
  [28, "mm"],
];

/** The `VmFlags:` line: two-letter codes in bit order, each followed by a space (as Linux). */
export function vmFlagsLine(flags: number): string {
  let line = "VmFlags: ";
  for (const [bit, name] of VMFLAG_NAMES) if ((flags & (1 << bit)) !== 0) line += `${name} `;
  return line;
}

/** The smaps block of one VMA: its maps line, the counters, VmFlags (Linux's show_smap). */
export function smapsBlock(s: VmaSnap): string {
  const m = s.mss ?? newMss();
  const lines = [
    mapsLine(s),
    kbLine("Size", s.end - s.start),
    kbLine("KernelPageSize", PAGE_SIZE),
    kbLine("MMUPageSize", PAGE_SIZE),
    kbLine("Rss", m.rss),
    kbLine("Pss", m.pssFixed / (1 << PSS_SHIFT)),
    kbLine("Shared_Clean", m.sharedClean),
    kbLine("Shared_Dirty", m.sharedDirty),
    kbLine("Private_Clean", m.privateClean),
    kbLine("Private_Dirty", m.privateDirty),
    kbLine("Referenced", m.referenced),
    kbLine("Anonymous", m.anonymous),
    kbLine("LazyFree", 0),
    kbLine("AnonHugePages", 0),
    kbLine("ShmemPmdMapped", 0),
    kbLine("FilePmdMapped", m.filePmdMapped),
    kbLine("Shared_Hugetlb", 0),
    kbLine("Private_Hugetlb", 0),
    kbLine("Swap", 0),
    kbLine("SwapPss", 0),
    kbLine("Locked", m.lockedFixed / (1 << PSS_SHIFT)),
    "THPeligible:    0",
    vmFlagsLine(s.flags),
  ];
  return lines.join("\n") + "\n";
}

/** The whole maps (or smaps) text of `vmas`. */
export function formatMaps(vmas: readonly VmaSnap[], smaps: boolean): string {
  let out = "";
  for (const s of vmas) out += smaps ? smapsBlock(s) : `${mapsLine(s)}\n`;
  return out;
}

/**
 * The maps (or smaps) text of process `pid`: empty when it has no mm or is
 * gone (as Linux's, once the mm is released). Takes a user reference on the
 * mm, re-checks that it is still the process's (the slot may have been
 * reused), snapshots it, drops the reference, then names the files on
 * `root`. Entry: no lock held.
 */
export function mapsText(
  mem: Memory,
  root: VfsFs,
  info: ProcInfo,
  pid: number,
  smaps: boolean,
): string {
  const mm = info.lookupPid(pid)?.mm ?? asMmId(0);
  if (mm <= 0 || !mmGetNotZero(mem, mm)) return "";
  let vmas: VmaSnap[];
  try {
    if (info.lookupPid(pid)?.mm !== mm) return "";
    vmas = snapshotVmas(mem, mm, smaps);
  } finally {
    mmPut(mem, mm);
  }
  const files = vmas.filter((s) => s.ino !== 0 && !shmemOwns(s.ino));
  const names = inodePaths(root, files.map((s) => s.ino));
  for (const s of vmas) {
    if (s.ino === 0) continue;
    s.name = shmemOwns(s.ino) ? shmemMapsName(shmemCtx(), s.ino) : names.get(s.ino) ?? "";
  }
  return formatMaps(vmas, smaps);
}
