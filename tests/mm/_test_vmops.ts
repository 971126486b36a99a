/**
 * Stand-in file systems for the mm tests, registered as VmOperations:
 * a page-cache-like one whose pages are RAM frames the test owns, and a
 * DAX-like one that maps device frames with insertMixed. They follow the
 * hook contracts in src/mm/vma.ts the way filemapFault and daxFault will.
 */

import { ACCESS_WRITE } from "../../src/abi/sv32.ts";
import { asPfn, type Pfn } from "../../src/abi/types.ts";
import { type Memory } from "../../src/hw/memory.ts";
import {
  copyUserPage,
  insertMixed,
  VM_FAULT_DONE_COW,
  VM_FAULT_SIGBUS,
} from "../../src/mm/fault.ts";
import { getPage } from "../../src/mm/memmap.ts";
import {
  registerVmOps,
  VM_MIXEDMAP,
  VM_SHARED,
  vmaFlags,
  type VmFault,
  VMOPS_TEST,
} from "../../src/mm/vma.ts";

export const OPS_PAGES = VMOPS_TEST;
export const OPS_DAX = VMOPS_TEST + 1;

/** Page-cache stand-in: pgoff → a RAM frame the test allocated (the "cache" holds one ref). */
export const cachePages = new Map<number, Pfn>();
export const mkwriteCalls: number[] = [];

registerVmOps(OPS_PAGES, {
  name: "test-pages",
  ctx: null,
  fault(_ctx: null, vmf: VmFault): number {
    const pfn = cachePages.get(vmf.pgoff);
    if (pfn === undefined) return VM_FAULT_SIGBUS;
    getPage(vmf.mem, pfn);
    vmf.page = pfn;
    return 0;
  },
  pageMkwrite(_ctx: null, vmf: VmFault): number {
    mkwriteCalls.push(vmf.pgoff);
    return 0;
  },
});

/** DAX stand-in: file page p is device frame `daxBase + p`; pages below daxSize exist. */
export const dax = { base: 0, size: 0 };

/** Device frame holding page `pgoff` of the DAX stand-in file. */
export const daxPfn = (pgoff: number): Pfn => asPfn(dax.base + pgoff);

registerVmOps(OPS_DAX, {
  name: "test-dax",
  ctx: null,
  mmap(_mem: Memory, _file, vmFlags: number): number {
    return vmFlags | VM_MIXEDMAP;
  },
  fault(_ctx: null, vmf: VmFault): number {
    if (vmf.pgoff >= dax.size) return VM_FAULT_SIGBUS;
    const pfn = daxPfn(vmf.pgoff);
    if (vmf.cowPage !== 0) {
      copyUserPage(vmf.mem, vmf.cowPage, pfn);
      return VM_FAULT_DONE_COW;
    }
    const shared = (vmaFlags(vmf.mem, vmf.vma) & VM_SHARED) !== 0;
    return insertMixed(
      vmf.mem,
      vmf.mm,
      vmf.vma,
      vmf.address,
      pfn,
      shared && vmf.access === ACCESS_WRITE,
    );
  },
});
