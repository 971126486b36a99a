/**
 * The megapage checker of checkInvariants (invariants.ts rule 3b): every
 * 4 MiB leaf in a root table (src/mm/huge_memory.ts) maps 1024 device
 * frames from a 1024-aligned pfn, with pte_special, inside one DAX file VMA
 * that covers all of it at a 4 MiB-aligned file offset, with no more
 * permission than the VMA (writable only when shared), and (given a
 * volume) the 1024 blocks are in use and are exactly the blocks the
 * inode maps at those offsets, so no stale megapage survives a truncate,
 * a collapse or a reallocation.
 *
 * @module
 */

import { PTE_R, PTE_SPECIAL, PTE_U, PTE_W, PTE_X } from "../abi/sv32.ts";
import { asIno } from "../abi/types.ts";
import { bmapLookup } from "../fs/xipfs/xipfs_bmap.ts";
import { blockInUse, type XipVol } from "../fs/xipfs/xipfs_format.ts";
import { HPAGE_PMD_NR, PGDIR_SIZE } from "../mm/pgtable.ts";
import { VM_EXEC, VM_MIXEDMAP, VM_READ, VM_SHARED, VM_WRITE } from "../mm/vma.ts";
import { slotIno } from "./_invariants_mm.ts";
import { type HugeRef, readVma, type Snapshot } from "./_invariants_scan.ts";

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
const where = (h: HugeRef): string => `mm ${h.mm} va ${hex(h.va)}: megapage ${hex(h.pte)}`;

/** Check every megapage of the snapshot; one line per violation. */
export function checkHuges(s: Snapshot, vol: XipVol | null, out: string[]): void {
  for (const h of s.huges) checkHuge(s, vol, h, out);
}

function checkHuge(s: Snapshot, vol: XipVol | null, h: HugeRef, out: string[]): void {
  const devFirst = s.ramFrames, devEnd = s.ramFrames + s.deviceFrames;
  if (h.pfn % HPAGE_PMD_NR !== 0) out.push(`${where(h)} names misaligned pfn ${h.pfn}`);
  if (h.pfn < devFirst || h.pfn + HPAGE_PMD_NR > devEnd) {
    out.push(
      `${where(h)} maps frames ${h.pfn}..${h.pfn + HPAGE_PMD_NR - 1}, not all device frames`,
    );
    return;
  }
  if ((h.pte & PTE_SPECIAL) === 0) out.push(`${where(h)} is not pte_special`);
  if ((h.pte & PTE_U) === 0) out.push(`${where(h)} lacks U`);
  if (h.vma === 0) {
    out.push(`${where(h)} lies outside any VMA`);
    return;
  }
  const v = readVma(s.mem, h.vma);
  const start = v.start >>> 0, end = v.end >>> 0;
  if (v.file === 0 || (v.flags & VM_MIXEDMAP) === 0) {
    out.push(`${where(h)} lies in VMA ${h.vma}, which is not a DAX file mapping`);
    return;
  }
  if (start > h.va || end < h.va + PGDIR_SIZE) {
    out.push(`${where(h)} is not covered by its VMA [${hex(start)}, ${hex(end)})`);
    return;
  }
  const pgoff = v.pgoff + (h.va - start) / 4096;
  if (pgoff % HPAGE_PMD_NR !== 0) out.push(`${where(h)} maps unaligned file offset page ${pgoff}`);
  const shared = (v.flags & VM_SHARED) !== 0;
  if ((h.pte & PTE_W) !== 0 && !(shared && (v.flags & VM_WRITE) !== 0)) {
    out.push(`${where(h)} is writable in a VMA that is not shared and writable`);
  }
  if ((h.pte & PTE_X) !== 0 && (v.flags & VM_EXEC) === 0) {
    out.push(`${where(h)} is executable in a VMA without VM_EXEC`);
  }
  if ((h.pte & PTE_R) !== 0 && (v.flags & (VM_READ | VM_WRITE)) === 0) {
    out.push(`${where(h)} is readable in a VMA without VM_READ`);
  }
  if (vol === null) return;
  const ino = slotIno(s.mem, v.file);
  if (ino === 0) {
    out.push(`${where(h)} maps inode slot ${v.file}, which is empty`);
    return;
  }
  const b0 = h.pfn - s.ramFrames;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const owned = bmapLookup(vol, asIno(ino), pgoff + i);
    if (owned !== b0 + i || !blockInUse(vol, b0 + i)) {
      out.push(
        `${where(h)}: page ${i} maps device block ${b0 + i} but inode ${ino} maps ${
          owned === 0 ? "a hole" : `block ${owned}`
        } at pgoff ${pgoff + i} (stale megapage)`,
      );
      return;
    }
  }
}
