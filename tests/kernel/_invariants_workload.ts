/**
 * Test helper (not a test): a realistic single-thread workload on a machine
 * with a mounted xipfs, leaving it quiescent with live mappings of every
 * kind, for the checkInvariants tests and the fuzzers' baselines.
 */

import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { type MmId, PAGE_SIZE, type Pfn } from "../../src/abi/types.ts";
import { readCachePage } from "../../src/fs/pagecache/pagecache.ts";
import type { InodeRef } from "../../src/fs/xipfs/xipfs_live.ts";
import { putPage } from "../../src/mm/memmap.ts";
import { mmAlloc } from "../../src/mm/mm.ts";
import { doMmap, doMprotect, doMunmap } from "../../src/mm/mmap.ts";
import { type FileMachine, fileMachine, mapAt, newFile, pageOf } from "../fs/_mmfile.ts";
import { userLoad, userStore } from "../mm/_mm_helpers.ts";

export const ANON = 0x1000_0000;
export const SHARED = 0x2000_0000;
export const PRIV = 0x3000_0000;
const P = PAGE_SIZE;
const RW = PROT_READ | PROT_WRITE;

export interface Worked {
  m: FileMachine;
  mm: MmId;
  f: InodeRef;
  g: InodeRef;
}

/**
 * Boot (DAX or page cache), then: anonymous memory (writes, a zero-page
 * read, a partial munmap, a PROT_NONE page); a shared file mapping (a write, a hole read); a
 * private mapping of the same file (a read, a COW write); a second file
 * with data; page-cache reads of it (page-cache mode).
 */
export function workload(dax: boolean): Worked {
  const m = fileMachine({ dax: dax ? "always" : "never", ramFrames: 256 });
  const mm = mmAlloc(m.mem) as MmId;
  if (mm < 0) throw new Error("mmAlloc");
  const anon = doMmap(m.mem, mm, ANON, 6 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  if (anon !== ANON) throw new Error(`anon mmap ${anon}`);
  userStore(m.mem, mm, ANON, 1);
  userStore(m.mem, mm, ANON + P, 2);
  userLoad(m.mem, mm, ANON + 2 * P); // the zero page
  userStore(m.mem, mm, ANON + 4 * P, 4);
  if (doMunmap(m.mem, mm, ANON + 4 * P, P) !== 0) throw new Error("munmap");
  userStore(m.mem, mm, ANON + 5 * P, 5);
  // A PROT_NONE leaf: V clear, the frame still mapped and counted.
  if (doMprotect(m.mem, mm, ANON + 5 * P, P, PROT_NONE) !== 0) throw new Error("mprotect");
  const f = newFile(m, "f", 4 * P);
  mapAt(m, mm, f, SHARED, 4 * P, RW, MAP_SHARED);
  userStore(m.mem, mm, SHARED + 5, 0x55);
  userLoad(m.mem, mm, SHARED + P); // a hole
  mapAt(m, mm, f, PRIV, 4 * P, RW, MAP_PRIVATE);
  userLoad(m.mem, mm, PRIV);
  userStore(m.mem, mm, PRIV + 2 * P, 9); // COW of a hole
  userStore(m.mem, mm, PRIV + 3, 7); // COW of written data
  const g = newFile(m, "g");
  if (dax) {
    if (m.fs.daxWrite(g, 0, pageOf(0x1234_5678)) !== P) throw new Error("daxWrite");
  } else {
    if (m.fs.truncate(g, 2 * P) !== 0) throw new Error("truncate");
    for (const pg of [0, 1]) {
      const pfn = readCachePage(m.mem, g.slot, pg, m.fs.aops, undefined, m.fs.aopsFor);
      if (pfn < 0) throw new Error(`readCachePage ${pfn}`);
      putPage(m.mem, pfn as Pfn);
    }
  }
  return { m, mm, f, g };
}
