/**
 * Write access and exec's denial of it (Linux's i_writecount with
 * get_write_access, put_write_access, deny_write_access and
 * allow_write_access), on the ISLOT.writecount word of an in-memory inode:
 * positive, the files open for writing; negative, the exec'd files and the
 * text mappings that deny writes. A writable open of a file whose text is
 * mapped is -ETXTBSY, and so is an exec of a file open for writing, so one
 * process cannot rewrite the instructions another runs in place.
 *
 * Who holds a denial (src/kernel/files.ts openExec, src/fs/file_vm_ops.ts):
 * an exec holds one on each file it opens (the program, and the interpreter
 * and libraries the exec side maps) from the open to the end of the exec;
 * every VMA that exec maps from such a file carries VM_DENYWRITE and holds
 * one for its life (split, unmap and exit balance it), as Linux did with
 * MAP_DENYWRITE before 5.15. Mappings a process makes itself with mmap(2)
 * never deny (Linux ignores MAP_DENYWRITE from user space).
 *
 * Any thread; no lock: each operation is one compare-and-swap loop on the
 * word. The slot's count is reset when the slot takes a new inode.
 *
 * @module
 */

import { ETXTBSY } from "../abi/errno.ts";
import { ICACHE, ISLOT, ISLOT_WORDS } from "../abi/layout/mod.ts";
import type { Memory } from "../hw/memory.ts";
import type { InodeSlot } from "../abi/types.ts";

/** What is done to an inode's write count. */
export type WriteAccessOp = "get" | "put" | "deny" | "allow";

const word = (mem: Memory, slot: InodeSlot): number =>
  mem.layout.icache.base + ICACHE.slots + slot * ISLOT_WORDS + ISLOT.writecount;

/**
 * Apply `op` to the write count of the inode in icache slot `slot` (the
 * caller holds a reference on it): "get" for an open for writing, "put" at
 * its release, "deny" for exec, "allow" when that ends.
 *
 * @returns 0, or -ETXTBSY ("get" while denied, "deny" while open for writing)
 */
export function writeAccess(mem: Memory, slot: InodeSlot, op: WriteAccessOp): number {
  const k = mem.k32, w = word(mem, slot);
  if (op === "put") {
    Atomics.sub(k, w, 1);
    return 0;
  }
  if (op === "allow") {
    Atomics.add(k, w, 1);
    return 0;
  }
  for (;;) {
    const v = Atomics.load(k, w);
    if (op === "get" ? v < 0 : v > 0) return -ETXTBSY;
    if (Atomics.compareExchange(k, w, v, op === "get" ? v + 1 : v - 1) === v) return 0;
  }
}

/** The write count of slot `slot` (tests, invariants). */
export const writeCount = (mem: Memory, slot: InodeSlot): number =>
  Atomics.load(mem.k32, word(mem, slot));

/** Start the count of a slot that takes a new inode (icache, under its lock). */
export function writeAccessReset(mem: Memory, slot: InodeSlot): void {
  Atomics.store(mem.k32, word(mem, slot), 0);
}
