/**
 * The hart's software TLB: one small direct-mapped table per access kind
 * (fetch, load, store), as TinyEMU keeps three.
 *
 * An entry is indexed by the low bits of the virtual page number and holds
 *
 * ```
 *  tag[e]   = vpn of the page it maps, or TLB_INVALID
 *  delta[e] = (physical byte address of the frame - virtual address of the page) mod 2^32
 * ```
 *
 * so a hit costs one compare and the physical byte address is
 * `(va + delta[e]) >>> 0`: the int32 sum wraps exactly as the 32-bit
 * physical space does (physical memory is at most 4 GiB, one buffer).
 *
 * The permission is folded into which table holds the entry: a load entry
 * exists only if the PTE grants R, a store entry only if it grants W and its
 * D bit is already set, a fetch entry only if it grants X. So a hit needs no
 * flag test at all.
 *
 * @module
 */

import { KernelPanic } from "../abi/panic.ts";
import { PAGE_SHIFT } from "../abi/types.ts";

/** Default entries per table. 256 pages = 1 MiB of reach per access kind. */
export const TLB_ENTRIES = 256;

/** Tag of an empty entry; no vpn (20 bits) is ever negative. */
export const TLB_INVALID = -1;

/** One direct-mapped table. The hart reads `tag`, `delta` and `mask` directly in its hot loop. */
export class Tlb {
  readonly tag: Int32Array;
  readonly delta: Int32Array;
  /** entries - 1; the index of va is `(va >>> 12) & mask`. */
  readonly mask: number;

  /**
   * @param entries a power of two
   * @param buffer where the arrays live (a hart's state buffer, hart_state.ts); default: their own
   * @param tagOffset byte offset of `tag` in `buffer`
   * @param deltaOffset byte offset of `delta` in `buffer`
   * @throws KernelPanic when `entries` is not a power of two
   */
  constructor(entries: number = TLB_ENTRIES, buffer?: ArrayBuffer, tagOffset = 0, deltaOffset = 0) {
    if (entries < 1 || (entries & (entries - 1)) !== 0) {
      throw new KernelPanic("Tlb", `entries ${entries} is not a power of two`);
    }
    this.tag = buffer ? new Int32Array(buffer, tagOffset, entries) : new Int32Array(entries);
    this.delta = buffer ? new Int32Array(buffer, deltaOffset, entries) : new Int32Array(entries);
    this.tag.fill(TLB_INVALID);
    this.mask = entries - 1;
  }

  /** Map the page holding `va` to the frame whose first byte is `framePa`. */
  fill(va: number, framePa: number): void {
    const vp = va >>> PAGE_SHIFT;
    const e = vp & this.mask;
    this.tag[e] = vp;
    this.delta[e] = (framePa - vp * 4096) | 0;
  }

  /** Forget every entry. */
  flush(): void {
    this.tag.fill(TLB_INVALID);
  }

  /** Forget the entries that map a page to the frame whose first byte is `framePa`. */
  flushFrame(framePa: number): void {
    const tag = this.tag, delta = this.delta;
    for (let e = 0; e <= this.mask; e++) {
      if (tag[e] !== TLB_INVALID && ((tag[e]! * 4096 + delta[e]!) | 0) === (framePa | 0)) {
        tag[e] = TLB_INVALID;
      }
    }
  }
}
