/**
 * The [vdso] page: where a signal handler returns to.
 *
 * riscv Linux ignores sa_restorer (its struct sigaction has no such field)
 * and sets a handler's ra to __vdso_rt_sigreturn, two instructions in the
 * vDSO: `li a7, 139; ecall`. xip does the same with one page of RAM,
 * allocated once at boot and shared read-only by every process, mapped at
 * exec into each mm as a `[vdso]` VMA below the libraries (Linux's
 * arch_setup_additional_pages places it with get_unmapped_area too).
 *
 * Why a mapped page rather than the alternatives: code on the signal
 * stack needs an executable stack (Linux removed that for riscv with the
 * vDSO), and a magic unmapped return address (as exec.ts uses for init
 * functions) would leave ra pointing at nothing a debugger, an unwinder or
 * a program comparing return addresses could read. The page holds real
 * instructions at a real address, as on Linux.
 *
 * It is not an ELF image: xip passes no AT_SYSINFO_EHDR, so C libraries
 * never look for vDSO symbols in it and make real system calls for
 * clock_gettime and friends (musl and libxc do exactly that without it).
 *
 * The page is mapped with pte_special, like the zero page: nothing counts
 * its references, so mapping it costs no refcount traffic and fork copies
 * the PTE as it is. The VMA has no VM_MAYWRITE, so mprotect cannot make it
 * writable (Linux allows that for debuggers' breakpoints, via COW).
 *
 * @module
 */

import { asErrno, ENOMEM, type Errno, isErr } from "../abi/errno.ts";
import { MM, mmBase } from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import { SYS_rt_sigreturn } from "../abi/signal.ts";
import { asVirt, type MmId, PAGE_SIZE, type Pfn } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { setPte, VM_FAULT_NOPAGE, VM_FAULT_OOM } from "../mm/fault.ts";
import { mmapWriteLock, mmapWriteUnlock, vdsoPagePfn } from "../mm/mm.ts";
import { getUnmappedArea } from "../mm/mmap.ts";
import {
  registerVmOps,
  VM_EXEC,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_READ,
  vmaAlloc,
  vmaLink,
  type VmFault,
  VMOPS_VDSO,
} from "../mm/vma.ts";

/** Where __vdso_rt_sigreturn lies in the page. */
export const VDSO_SIGRETURN_OFFSET = 0;

/** `addi a7, zero, 139` (li a7, __NR_rt_sigreturn) and `ecall`. */
const TRAMPOLINE = [
  (SYS_rt_sigreturn << 20) | (17 << 7) | 0x13,
  0x0000_0073,
];

/** The flags of a [vdso] VMA. */
export const VDSO_VM_FLAGS = VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYEXEC;

/**
 * The vDSO page's frame (allocated by mmBoot, with the zero page), with
 * the trampoline written into it. Writing the same two words again is
 * harmless, so any thread may call this at any time; it takes no lock.
 *
 * @returns the pfn, or -ENOMEM before mmBoot
 */
export function vdsoPfn(mem: Memory): Pfn | Errno {
  const pfn = vdsoPagePfn(mem);
  if (pfn < 0) return asErrno(-ENOMEM);
  const dv = new DataView(mem.u8.buffer, pfn * PAGE_SIZE + VDSO_SIGRETURN_OFFSET, 8);
  if (dv.getUint32(0, true) !== TRAMPOLINE[0]) {
    TRAMPOLINE.forEach((insn, i) => dv.setUint32(4 * i, insn >>> 0, true));
  }
  return pfn;
}

/** The vDSO frame (-1 before mmBoot), for invariant checks. */
export const vdsoFrame = (mem: Memory): number => vdsoPagePfn(mem);

/**
 * Map the [vdso] page into `mm` (a fresh exec image) and record where
 * (MM.vdso). Entry: no lock held; takes mmap_lock for writing.
 *
 * @returns its address, or -ENOMEM (no room, no VMA slot, no frame)
 */
export function installVdso(mem: Memory, mm: MmId): number {
  if (vdsoPfn(mem) < 0) return -ENOMEM;
  mmapWriteLock(mem, mm);
  try {
    const addr = getUnmappedArea(mem, mm, 0, PAGE_SIZE);
    if (addr < 0) return addr;
    const v = vmaAlloc(
      mem,
      mm,
      asVirt(addr),
      asVirt(addr + PAGE_SIZE),
      VDSO_VM_FLAGS,
      0,
      0,
      VMOPS_VDSO,
    );
    if (isErr(v)) return v;
    vmaLink(mem, mm, v);
    mem.k32[mmBase(mem.layout, mm) + MM.vdso] = addr;
    return addr;
  } finally {
    mmapWriteUnlock(mem, mm);
  }
}

/** The address a handler returns to in `mm` (0 when the mm has no vDSO). */
export function vdsoSigreturn(mem: Memory, mm: MmId): number {
  const base = Atomics.load(mem.k32, mmBase(mem.layout, mm) + MM.vdso) >>> 0;
  return base === 0 ? 0 : base + VDSO_SIGRETURN_OFFSET;
}

/**
 * The fault handler of a [vdso] VMA (Linux's special-mapping fault):
 * install the shared page, pte_special and read-only, if the PTE is still
 * empty. Entry: mmap_lock held for reading.
 */
function vdsoFault(_ctx: null, vmf: VmFault): number {
  const pfn = vdsoPfn(vmf.mem);
  if (isErr(pfn)) return VM_FAULT_OOM;
  setPte(vmf, pfn, false, false); // not counted: the page lives as long as the kernel
  return VM_FAULT_NOPAGE;
}

registerVmOps(VMOPS_VDSO, {
  name: "vdso",
  ctx: null,
  fault: vdsoFault,
  mmap() {
    throw new KernelPanic("vdso mmap", "the [vdso] is never mapped through mmap");
  },
});
