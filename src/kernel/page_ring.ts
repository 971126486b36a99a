/**
 * A byte ring in RAM pages for kernel buffers that live in shared memory:
 * a pipe's (pipe.ts) and a socket's receive queue (unix_sock.ts). A ring
 * is `n` words of a record, each the pfn + 1 of one page (0: none yet),
 * and holds n * PAGE_SIZE bytes; byte `pos` of the stream (a u32 count of
 * bytes since the ring was made) lives at ring offset pos mod capacity.
 * Pages are allocated as writers first need them, with the owner's lock
 * dropped (allocation may reclaim), and freed with the ring.
 *
 * The functions work on a record at word `r` whose page words start at
 * `r + pages`; the caller's lock guards the positions and the copies.
 *
 * @module
 */

import { isErr } from "../abi/errno.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asPfn, PAGE_SIZE } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { allocFrameReclaim } from "../mm/frame_alloc.ts";
import { putPage } from "../mm/memmap.ts";
import { withNoKill } from "../sync/mod.ts";

/** Where a ring's page words are: word `pages` of the record at `r`, `n` of them. */
export interface PageRing {
  readonly r: number;
  readonly pages: number;
  readonly n: number;
}

/**
 * Copy `len` bytes between `buf[at..]` and the ring from stream byte
 * `pos`. Entry: the owner's lock held; the pages exist.
 */
export function ringCopy(
  mem: Memory,
  ring: PageRing,
  pos: number,
  buf: Uint8Array,
  at: number,
  len: number,
  intoRing: boolean,
): void {
  const u8 = mem.u8;
  const cap = ring.n * PAGE_SIZE;
  for (let done = 0; done < len;) {
    const off = (pos + done) % cap;
    const page = Atomics.load(mem.k32, ring.r + ring.pages + Math.floor(off / PAGE_SIZE)) - 1;
    if (page < 0) throw new KernelPanic("ringCopy", `no page at ring offset ${off}`);
    const inPage = off % PAGE_SIZE;
    const n = Math.min(len - done, PAGE_SIZE - inPage);
    const pa = page * PAGE_SIZE + inPage;
    if (intoRing) u8.set(buf.subarray(at + done, at + done + n), pa);
    else buf.set(u8.subarray(pa, pa + n), at + done);
    done += n;
  }
}

/** The first ring page [pos, pos + len) needs that is not allocated, or -1. Entry: lock held. */
export function ringMissingPage(mem: Memory, ring: PageRing, pos: number, len: number): number {
  if (len === 0) return -1;
  const cap = ring.n * PAGE_SIZE;
  const first = Math.floor((pos % cap) / PAGE_SIZE);
  const last = Math.floor(((pos + len - 1) % cap) / PAGE_SIZE);
  for (let i = first;; i = (i + 1) % ring.n) {
    if (Atomics.load(mem.k32, ring.r + ring.pages + i) === 0) return i;
    if (i === last) return -1;
  }
}

/**
 * Give ring page `i` a frame, unless someone did meanwhile. Entry: no lock
 * held (the allocation may reclaim).
 *
 * @returns false when no frame could be had
 */
export function ringAddPage(mem: Memory, ring: PageRing, i: number): boolean {
  return withNoKill(() => {
    const pfn = allocFrameReclaim(mem);
    if (isErr(pfn)) return false;
    if (Atomics.compareExchange(mem.k32, ring.r + ring.pages + i, 0, pfn + 1) !== 0) {
      putPage(mem, pfn);
    }
    return true;
  });
}

/** Free every page of the ring. Entry: nobody else uses the ring any more. */
export function ringFree(mem: Memory, ring: PageRing): void {
  for (let i = 0; i < ring.n; i++) {
    const p = Atomics.exchange(mem.k32, ring.r + ring.pages + i, 0);
    if (p !== 0) putPage(mem, asPfn(p - 1));
  }
}
