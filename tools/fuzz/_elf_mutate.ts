/**
 * Structured mutations of ELF32 files for the exec fuzzer. Each mutator
 * targets one structure the loader parses (the ELF header, program
 * headers, the dynamic section and the tables it names, relocations,
 * symbols) or the file as a whole (bit flips, truncation, garbage tails),
 * and names itself so outcomes can be counted per mutator.
 *
 * Offsets come from the original file's own headers, read here (the file
 * is a valid fixture); the mutated copy may then say anything.
 */

import { Rand } from "./_rng.ts";

const PT_LOAD = 1, PT_DYNAMIC = 2;
const DT_NEEDED = 1, DT_HASH = 4, DT_STRTAB = 5, DT_SYMTAB = 6, DT_RELA = 7, DT_RELASZ = 8;
const DT_JMPREL = 23, DT_PLTRELSZ = 2, DT_GNU_HASH = 0x6fff_fef5;

/** ELF header fields: [name, offset, bytes]. */
const EHDR_FIELDS: readonly [string, number, 1 | 2 | 4][] = [
  ["ei_class", 4, 1],
  ["ei_data", 5, 1],
  ["ei_version", 6, 1],
  ["e_type", 16, 2],
  ["e_machine", 18, 2],
  ["e_version", 20, 4],
  ["e_entry", 24, 4],
  ["e_phoff", 28, 4],
  ["e_shoff", 32, 4],
  ["e_flags", 36, 4],
  ["e_ehsize", 40, 2],
  ["e_phentsize", 42, 2],
  ["e_phnum", 44, 2],
];

/** Program header fields: [name, offset]. */
const PHDR_FIELDS: readonly [string, number][] = [
  ["p_type", 0],
  ["p_offset", 4],
  ["p_vaddr", 8],
  ["p_filesz", 16],
  ["p_memsz", 20],
  ["p_flags", 24],
  ["p_align", 28],
];

interface Phdr {
  off: number;
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

/** What the mutators need to know about the original file. */
interface Layout {
  phdrs: Phdr[];
  /** File offset and size of the dynamic section, or null. */
  dyn: { off: number; size: number } | null;
  /** Dynamic entries: [file offset of the entry, tag, value]. */
  dents: [number, number, number][];
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function layoutOf(b: Uint8Array): Layout {
  const dv = view(b);
  const phoff = dv.getUint32(28, true);
  const phnum = dv.getUint16(44, true);
  const phdrs: Phdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const off = phoff + 32 * i;
    phdrs.push({
      off,
      type: dv.getUint32(off, true),
      offset: dv.getUint32(off + 4, true),
      vaddr: dv.getUint32(off + 8, true),
      filesz: dv.getUint32(off + 16, true),
    });
  }
  const d = phdrs.find((p) => p.type === PT_DYNAMIC);
  const dents: [number, number, number][] = [];
  if (d !== undefined) {
    for (let o = d.offset; o + 8 <= d.offset + d.filesz; o += 8) {
      dents.push([o, dv.getUint32(o, true), dv.getUint32(o + 4, true)]);
    }
  }
  return { phdrs, dyn: d === undefined ? null : { off: d.offset, size: d.filesz }, dents };
}

/** File offset of link-time address `va`, or -1. */
function vaToOff(l: Layout, va: number): number {
  for (const p of l.phdrs) {
    if (p.type === PT_LOAD && va >= p.vaddr && va < p.vaddr + p.filesz) {
      return p.offset + va - p.vaddr;
    }
  }
  return -1;
}

function put(dv: DataView, off: number, bytes: 1 | 2 | 4, v: number): void {
  if (off < 0 || off + bytes > dv.byteLength) return;
  if (bytes === 1) dv.setUint8(off, v & 0xff);
  else if (bytes === 2) dv.setUint16(off, v & 0xffff, true);
  else dv.setUint32(off, v >>> 0, true);
}

function get(dv: DataView, off: number, bytes: 1 | 2 | 4): number {
  if (off < 0 || off + bytes > dv.byteLength) return 0;
  return bytes === 1
    ? dv.getUint8(off)
    : bytes === 2
    ? dv.getUint16(off, true)
    : dv.getUint32(off, true);
}

/** A mutated copy and the name of the mutation. */
export interface Mutant {
  bytes: Uint8Array;
  kind: string;
}

type Mutator = (b: Uint8Array, l: Layout, r: Rand) => Uint8Array | null;

const bitflip: Mutator = (b, _l, r) => {
  const c = b.slice();
  const head = r.chance(0.6) ? Math.min(c.length, 2048) : c.length;
  for (let n = 1 + r.int(8); n > 0; n--) c[r.int(head)]! ^= 1 << r.int(8);
  return c;
};

const truncate: Mutator = (b, l, r) => {
  const cuts = [0, 4, 16, 40, 52, ...l.phdrs.map((p) => p.off + r.int(32))];
  for (const p of l.phdrs) cuts.push(p.offset + r.int(Math.max(1, p.filesz)));
  const n = r.chance(0.5) ? r.pick(cuts) : r.int(b.length);
  return b.slice(0, Math.min(n, b.length - 1));
};

const ehdrField: Mutator = (b, _l, r) => {
  const c = b.slice();
  const dv = view(c);
  const [, off, bytes] = r.pick(EHDR_FIELDS);
  put(dv, off, bytes, r.interesting(get(dv, off, bytes)));
  return c;
};

const phdrField: Mutator = (b, l, r) => {
  if (l.phdrs.length === 0) return null;
  const c = b.slice();
  const dv = view(c);
  const p = r.pick(l.phdrs);
  const [name, off] = r.pick(PHDR_FIELDS);
  const v = name === "p_type" && r.chance(0.5)
    ? r.pick([0, 1, 2, 3, 4, 6, 7, 0x6474_e550, 0x6474_e551, 0x6474_e552, 0x7000_0003])
    : r.interesting(get(dv, p.off + off, 4));
  put(dv, p.off + off, 4, v);
  return c;
};

const hugeSize: Mutator = (b, l, r) => {
  const loads = l.phdrs.filter((p) => p.type === PT_LOAD || p.type === PT_DYNAMIC);
  if (loads.length === 0) return null;
  const c = b.slice();
  const dv = view(c);
  const p = r.pick(loads);
  const huge = r.pick([
    0x7fff_ffff,
    0x8000_0000,
    0xffff_f000,
    0xffff_ffff,
    0x4000_0000,
    0x1000_0001,
  ]);
  put(dv, p.off + r.pick([16, 20]), 4, huge);
  if (r.chance(0.3)) put(dv, p.off + 20, 4, huge);
  return c;
};

const overlap: Mutator = (b, l, r) => {
  const loads = l.phdrs.filter((p) => p.type === PT_LOAD);
  if (loads.length < 2) return null;
  const c = b.slice();
  const dv = view(c);
  const i = r.int(loads.length);
  let j = r.int(loads.length - 1);
  if (j >= i) j++;
  const a = loads[i]!, z = loads[j]!;
  const to = r.chance(0.5) ? z.vaddr : (z.vaddr + r.pick([-4096, 4096, 1, 8])) >>> 0;
  put(dv, a.off + 8, 4, to);
  if (r.chance(0.5)) put(dv, a.off + 12, 4, to);
  return c;
};

const dynamicEntry: Mutator = (b, l, r) => {
  if (l.dents.length === 0) return null;
  const c = b.slice();
  const dv = view(c);
  const [off, tag, val] = r.pick(l.dents);
  switch (r.int(5)) {
    case 0: // the value
      put(dv, off + 4, 4, r.interesting(val));
      break;
    case 1: // the tag
      put(
        dv,
        off,
        4,
        r.pick([0, DT_NEEDED, 3, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_RELA, 16, 22, 24, r.u32()]),
      );
      break;
    case 2: { // lose the DT_NULL terminator
      const last = l.dents[l.dents.length - 1]!;
      put(dv, last[0], 4, r.pick([DT_NEEDED, DT_RELASZ, tag]));
      put(dv, last[0] + 4, 4, r.u32());
      break;
    }
    case 3: { // a DT_NEEDED naming garbage
      put(dv, off, 4, DT_NEEDED);
      put(dv, off + 4, 4, r.interesting(val));
      break;
    }
    default: // duplicate an entry over another
    {
      const [o2] = r.pick(l.dents);
      put(dv, o2, 4, tag);
      put(dv, o2 + 4, 4, r.interesting(val));
    }
  }
  return c;
};

/** A word inside one of the tables the dynamic section names (hash, symbols, strings, relocations). */
const dynamicTable: Mutator = (b, l, r) => {
  const wanted = [DT_HASH, DT_GNU_HASH, DT_SYMTAB, DT_STRTAB, DT_RELA, DT_JMPREL];
  const tables = l.dents.filter(([, t]) => wanted.includes(t));
  if (tables.length === 0) return null;
  const [, tag, va] = r.pick(tables);
  const at = vaToOff(l, va);
  if (at < 0) return null;
  const c = b.slice();
  const dv = view(c);
  const sizeTag = tag === DT_RELA ? DT_RELASZ : tag === DT_JMPREL ? DT_PLTRELSZ : -1;
  const size = l.dents.find(([, t]) => t === sizeTag)?.[2] ?? 256;
  const word = at + 4 * r.int(Math.max(1, Math.floor(Math.min(size, 1024) / 4)));
  for (let n = 1 + r.int(3); n > 0; n--) {
    const w = word + 4 * r.int(4);
    put(
      dv,
      w,
      4,
      tag === DT_RELA || tag === DT_JMPREL
        ? r.pick([r.interesting(get(dv, w, 4)), (r.u32() & 0xffff_ff00) | r.int(64)])
        : r.interesting(get(dv, w, 4)),
    );
  }
  return c;
};

const garbageTail: Mutator = (b, _l, r) => {
  const extra = new Uint8Array(1 + r.int(8192));
  for (let i = 0; i < extra.length; i++) extra[i] = r.int(256);
  const c = new Uint8Array(b.length + extra.length);
  c.set(b);
  c.set(extra, b.length);
  const dv = view(c);
  // Point something at the tail so the loader reads it.
  if (r.chance(0.5)) put(dv, 28, 4, b.length);
  return c;
};

const MUTATORS: readonly [string, Mutator, number][] = [
  ["bitflip", bitflip, 5],
  ["truncate", truncate, 2],
  ["ehdr", ehdrField, 3],
  ["phdr", phdrField, 4],
  ["huge-size", hugeSize, 2],
  ["overlap", overlap, 2],
  ["dynamic", dynamicEntry, 3],
  ["dyn-table", dynamicTable, 3],
  ["tail", garbageTail, 1],
];
const TOTAL = MUTATORS.reduce((s, m) => s + m[2], 0);

/** One random structured mutation of `orig`; sometimes two stacked. */
export function mutateElf(orig: Uint8Array, r: Rand): Mutant {
  const l = layoutOf(orig);
  let bytes = orig;
  const kinds: string[] = [];
  for (let round = 0; round < (r.chance(0.2) ? 2 : 1); round++) {
    let pick = r.int(TOTAL);
    let m = MUTATORS[0]!;
    for (const cand of MUTATORS) {
      if (pick < cand[2]) {
        m = cand;
        break;
      }
      pick -= cand[2];
    }
    const out = m[1](bytes, l, r);
    kinds.push(out === null ? "bitflip" : m[0]);
    bytes = out ?? bitflip(bytes, l, r)!;
  }
  return { bytes, kind: kinds.join("+") };
}
