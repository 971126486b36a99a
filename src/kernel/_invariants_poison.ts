/**
 * The poison checker of checkInvariants (invariants.ts rule 3c): no leaf
 * PTE and no megapage maps a poisoned device frame (memory failure,
 * src/fs/hwpoison.ts, took each out of every process, as Linux's
 * memory_failure unmaps a poisoned page everywhere, and the faults refuse
 * to map one again); the bitmap's count equals its population; and, given
 * the memory device's volume, the list saved in block 0
 * (src/fs/xipfs/xipfs_poison.ts) names exactly the poisoned blocks.
 *
 * @module
 */

import { HWPOISON } from "../abi/layout/mod.ts";
import { readPoisonList } from "../fs/xipfs/xipfs_poison.ts";
import type { XipVol } from "../fs/xipfs/xipfs_format.ts";
import { badblockTest } from "../hw/badblocks.ts";
import { HPAGE_PMD_NR } from "../mm/pgtable.ts";
import type { Snapshot } from "./_invariants_scan.ts";

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** Check the poison rules on the snapshot; one line per violation. */
export function checkPoison(s: Snapshot, vol: XipVol | null, out: string[]): void {
  const mem = s.mem;
  const base = mem.layout.hwpoison.base;
  let pop = 0;
  const runs: [number, number][] = [];
  for (let b = 0; b < s.deviceFrames; b++) {
    if (!badblockTest(mem, b)) continue;
    pop++;
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] + last[1] === b) last[1]++;
    else runs.push([b, 1]);
  }
  const count = Atomics.load(mem.k32, base + HWPOISON.count);
  if (count !== pop) out.push(`hwpoison: count ${count}, but ${pop} bits are set`);
  if (pop === 0 && vol === null) return;
  for (const p of s.ptes) {
    const b = p.pfn - s.ramFrames;
    if (b >= 0 && b < s.deviceFrames && badblockTest(mem, b)) {
      out.push(`mm ${p.mm} va ${hex(p.va)}: PTE ${hex(p.pte)} maps poisoned device block ${b}`);
    }
  }
  for (const h of s.huges) {
    const b0 = h.pfn - s.ramFrames;
    for (let i = 0; i < HPAGE_PMD_NR; i++) {
      if (!badblockTest(mem, b0 + i)) continue;
      out.push(`mm ${h.mm} va ${hex(h.va)}: megapage maps poisoned device block ${b0 + i}`);
      break;
    }
  }
  if (vol === null) return;
  const list = readPoisonList(vol);
  if ("error" in list) {
    out.push(`hwpoison: the image's ${list.error}`);
    return;
  }
  const want = runs.map(([f, n]) => `${f}+${n}`).join(" ");
  const have = list.runs.map(([f, n]) => `${f}+${n}`).join(" ");
  if (want !== have) {
    out.push(`hwpoison: the image's list [${have}] differs from the bitmap [${want}]`);
  }
}
