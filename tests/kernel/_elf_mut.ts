/**
 * Mutations of fixture ELF files for the loader's validation tests: each
 * returns a patched copy. Offsets come from the file's own headers (read
 * with the test-side parser tests/guest/_elf.ts), never hard-coded.
 *
 * @module
 */

import { parseElf } from "../guest/_elf.ts";

export const DT_STRTAB = 5, DT_STRSZ = 10, DT_RELA = 7, DT_JMPREL = 23, DT_FLAGS = 30;
export const PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_TLS = 7, PT_GNU_STACK = 0x6474e551;

const dvOf = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
export const u16 = (b: Uint8Array, off: number): number => dvOf(b).getUint16(off, true);
export const u32 = (b: Uint8Array, off: number): number => dvOf(b).getUint32(off, true);

/** A copy of `b` with `fn` applied. */
export function patched(b: Uint8Array, fn: (c: Uint8Array, dv: DataView) => void): Uint8Array {
  const c = b.slice();
  fn(c, dvOf(c));
  return c;
}

/** File offset of program header `i`. */
export const phdrOff = (b: Uint8Array, i: number): number => u32(b, 28) + 32 * i;

/** Index of the `nth` program header of `type`. */
export function phdrIndex(b: Uint8Array, type: number, nth = 0): number {
  const n = u16(b, 44);
  for (let i = 0; i < n; i++) {
    if (u32(b, phdrOff(b, i)) === type && nth-- === 0) return i;
  }
  throw new Error(`no program header of type ${type}`);
}

/** File offset of a link-time address (inside a PT_LOAD's file part). */
export function vaddrToOffset(b: Uint8Array, va: number): number {
  const e = parseElf(b);
  const s = e.phdrs.find((p) => p.type === PT_LOAD && va >= p.vaddr && va < p.vaddr + p.filesz);
  if (s === undefined) throw new Error(`0x${va.toString(16)} not in the file`);
  return s.offset + va - s.vaddr;
}

/** File offset of the dynamic entry with `tag` (the first one). */
export function dynEntryOff(b: Uint8Array, tag: number): number {
  const d = parseElf(b).phdrs.find((p) => p.type === PT_DYNAMIC)!;
  for (let o = d.offset; o < d.offset + d.filesz; o += 8) if (u32(b, o) === tag) return o;
  throw new Error(`no dynamic tag ${tag}`);
}

/** Replace the NUL-terminated string `from` in .dynstr by `to` (same length). */
export function renameDynstr(b: Uint8Array, from: string, to: string): Uint8Array {
  if (from.length !== to.length) throw new Error("renameDynstr: lengths differ");
  return patched(b, (c) => {
    const start = vaddrToOffset(c, u32(c, dynEntryOff(c, DT_STRTAB) + 4));
    const size = u32(c, dynEntryOff(c, DT_STRSZ) + 4);
    const enc = new TextEncoder();
    const needle = enc.encode(from + "\0");
    for (let o = start; o + needle.length <= start + size; o++) {
      if (needle.every((x, k) => c[o + k] === x)) {
        if (o > start && c[o - 1] !== 0) continue; // a suffix of another name
        c.set(enc.encode(to), o);
        return;
      }
    }
    throw new Error(`renameDynstr: ${from} not found`);
  });
}

/** The Elf32_Rela entries of DT_RELA then DT_JMPREL, with file offsets and addends. */
export function relas(
  b: Uint8Array,
): { at: number; offset: number; type: number; sym: number; addend: number }[] {
  const e = parseElf(b);
  const dyn = (t: number): number | undefined => e.dynamic.find(([k]) => k === t)?.[1];
  const out: { at: number; offset: number; type: number; sym: number; addend: number }[] = [];
  for (const [addrTag, sizeTag] of [[DT_RELA, 8], [DT_JMPREL, 2]] as const) {
    const va = dyn(addrTag), size = dyn(sizeTag);
    if (va === undefined || !size) continue;
    const base = vaddrToOffset(b, va);
    for (let o = base; o < base + size; o += 12) {
      const info = u32(b, o + 4);
      out.push({
        at: o,
        offset: u32(b, o),
        type: info & 0xff,
        sym: info >>> 8,
        addend: dvOf(b).getInt32(o + 8, true),
      });
    }
  }
  return out;
}

/**
 * A copy of `b` whose PT_INTERP string is `path` (NUL-padded to the
 * segment's size, which must fit it), or `raw` bytes when given.
 */
export function setInterp(b: Uint8Array, path: string, raw?: Uint8Array): Uint8Array {
  return patched(b, (c) => {
    const p = phdrOff(c, phdrIndex(c, PT_INTERP));
    const off = u32(c, p + 4), size = u32(c, p + 16);
    const bytes = raw ?? new TextEncoder().encode(path);
    if (bytes.length > size) throw new Error("setInterp: the path does not fit");
    c.fill(0, off, off + size);
    c.set(bytes, off);
  });
}
