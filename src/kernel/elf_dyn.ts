/**
 * The dynamic section of an ELF image and the tables it points to: needed
 * libraries, the dynamic symbol table, its string table, and the symbol
 * hash tables (DT_GNU_HASH preferred, DT_HASH otherwise), with lookup.
 *
 * Tables are read from the file with pread through their link-time
 * addresses (readVaddr), before and independently of the mapping. Every
 * index (string offsets, symbol numbers, hash chains) is checked, and hash
 * chains are walked with a step bound, so a corrupt table cannot loop.
 *
 * @module
 */

import {
  DF_SYMBOLIC,
  DF_TEXTREL,
  DT_FINI,
  DT_FINI_ARRAY,
  DT_FINI_ARRAYSZ,
  DT_FLAGS,
  DT_GNU_HASH,
  DT_HASH,
  DT_INIT,
  DT_INIT_ARRAY,
  DT_INIT_ARRAYSZ,
  DT_JMPREL,
  DT_NEEDED,
  DT_NULL,
  DT_PLTREL,
  DT_PLTRELSZ,
  DT_PREINIT_ARRAY,
  DT_PREINIT_ARRAYSZ,
  DT_REL,
  DT_RELA,
  DT_RELAENT,
  DT_RELASZ,
  DT_RELR,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  DT_SYMBOLIC,
  DT_SYMENT,
  DT_SYMTAB,
  DT_TEXTREL,
  DYN,
  DYN_SIZE,
  GNU_HASH,
  RELA_SIZE,
  SHN_UNDEF,
  STB_GLOBAL,
  STB_WEAK,
  stBind,
  SYM,
  SYM_SIZE,
  SYSV_HASH,
} from "../abi/elf.ts";
import { ByteView, type ElfImage, noexec, readVaddr, readVaddrTail } from "./binfmt_elf.ts";
import { type ExecFile } from "./exec_types.ts";

/** A table given by a start address and a byte size (link-time). */
export interface VRange {
  vaddr: number;
  size: number;
}

/** A dynamic symbol. */
export interface ElfSym {
  name: string;
  value: number;
  size: number;
  info: number;
  shndx: number;
}

/** The dynamic symbol table of one object, with its lookup structure. */
export interface SymTable {
  readonly name: string;
  readonly nsyms: number;
  readonly syms: ByteView;
  readonly strtab: Uint8Array;
  readonly gnu: ByteView | null;
  readonly sysv: ByteView | null;
}

/** What the linker needs from PT_DYNAMIC. */
export interface DynInfo {
  needed: string[];
  soname: string;
  /** DF_SYMBOLIC or DT_SYMBOLIC: the object's own definitions come first for its references. */
  symbolic: boolean;
  init: number;
  fini: number;
  initArray: VRange | null;
  finiArray: VRange | null;
  preinitArray: VRange | null;
  /** DT_RELA then DT_JMPREL, each a table of Elf32_Rela. */
  relaTables: { what: string; bytes: ByteView }[];
  symtab: SymTable;
}

const dec = new TextDecoder();
const enc = new TextEncoder();

/** An empty symbol table, for objects without PT_DYNAMIC. */
const emptyTable = (name: string): SymTable => ({
  name,
  nsyms: 0,
  syms: new ByteView(new Uint8Array(0), name, "symbol table"),
  strtab: new Uint8Array(0),
  gnu: null,
  sysv: null,
});

/** The NUL-terminated string at `off` of a string table. */
export function strAt(strtab: Uint8Array, name: string, off: number): string {
  if (off < 0 || off >= strtab.length) {
    noexec(name, `string index ${off} out of range (DT_STRSZ ${strtab.length})`);
  }
  const end = strtab.indexOf(0, off);
  if (end < 0) noexec(name, `unterminated string at index ${off}`);
  return dec.decode(strtab.subarray(off, end));
}

/**
 * Parse PT_DYNAMIC of `img` and read the tables it names. Refuses text
 * relocations (DT_TEXTREL, DF_TEXTREL), REL and RELR tables, and entry
 * sizes other than the ELF32 ones.
 *
 * @returns the dynamic information (empty for a static file); throws ExecFailure
 */
export function readDynamic(file: ExecFile, img: ElfImage): DynInfo {
  const name = img.name;
  const info: DynInfo = {
    needed: [],
    soname: "",
    symbolic: false,
    init: 0,
    fini: 0,
    initArray: null,
    finiArray: null,
    preinitArray: null,
    relaTables: [],
    symtab: emptyTable(name),
  };
  if (img.dynamic === null) return info;
  const { vaddr, size } = img.dynamic;
  if (size % DYN_SIZE !== 0) noexec(name, `dynamic section size ${size} is not a multiple of 8`);
  const dv = new ByteView(readVaddr(file, img, vaddr, size, "dynamic section"), name, "dynamic");
  const tags = new Map<number, number>();
  const needed: number[] = [];
  let terminated = false;
  for (let off = 0; off + DYN_SIZE <= size; off += DYN_SIZE) {
    const tag = dv.u32(off + DYN.tag);
    const val = dv.u32(off + DYN.val);
    if (tag === DT_NULL) {
      terminated = true;
      break;
    }
    if (tag === DT_NEEDED) needed.push(val);
    else if (!tags.has(tag)) tags.set(tag, val);
  }
  if (!terminated) noexec(name, "dynamic section has no DT_NULL terminator");
  const flags = tags.get(DT_FLAGS) ?? 0;
  if (tags.has(DT_TEXTREL) || (flags & DF_TEXTREL) !== 0) {
    noexec(
      name,
      "text relocations (DT_TEXTREL) would break sharing of its code; rebuild with -fPIC",
    );
  }
  if (tags.has(DT_REL)) noexec(name, "uses REL relocations (DT_REL); RISC-V objects use RELA");
  if (tags.has(DT_RELR)) noexec(name, "uses packed relative relocations (DT_RELR), not supported");
  const syment = tags.get(DT_SYMENT) ?? SYM_SIZE;
  if (syment !== SYM_SIZE) noexec(name, `DT_SYMENT ${syment} is not ${SYM_SIZE}`);
  const relaent = tags.get(DT_RELAENT) ?? RELA_SIZE;
  if (relaent !== RELA_SIZE) noexec(name, `DT_RELAENT ${relaent} is not ${RELA_SIZE}`);
  // Every binding is eager here, so DT_BIND_NOW and DT_FLAGS_1 change nothing; symbol
  // versions (DT_VERSYM) are ignored: the fixtures have none.

  const strtab = tags.has(DT_STRTAB)
    ? readVaddr(file, img, tags.get(DT_STRTAB)!, tags.get(DT_STRSZ) ?? 0, "string table")
    : new Uint8Array(0);
  info.needed = needed.map((off) => strAt(strtab, name, off));
  if (tags.has(DT_SONAME)) info.soname = strAt(strtab, name, tags.get(DT_SONAME)!);
  info.symbolic = tags.has(DT_SYMBOLIC) || (flags & DF_SYMBOLIC) !== 0;
  info.init = tags.get(DT_INIT) ?? 0;
  info.fini = tags.get(DT_FINI) ?? 0;
  info.initArray = arrayRange(tags, DT_INIT_ARRAY, DT_INIT_ARRAYSZ, name);
  info.finiArray = arrayRange(tags, DT_FINI_ARRAY, DT_FINI_ARRAYSZ, name);
  info.preinitArray = arrayRange(tags, DT_PREINIT_ARRAY, DT_PREINIT_ARRAYSZ, name);

  if (tags.has(DT_RELA)) {
    info.relaTables.push(
      relaTable(file, img, tags.get(DT_RELA)!, tags.get(DT_RELASZ) ?? 0, "DT_RELA"),
    );
  }
  if (tags.has(DT_JMPREL)) {
    const pltrel = tags.get(DT_PLTREL) ?? DT_RELA;
    if (pltrel !== DT_RELA) noexec(name, `DT_PLTREL ${pltrel} is not DT_RELA`);
    const sz = tags.get(DT_PLTRELSZ) ?? 0;
    info.relaTables.push(relaTable(file, img, tags.get(DT_JMPREL)!, sz, "DT_JMPREL"));
  }
  if (tags.has(DT_SYMTAB)) info.symtab = readSymTable(file, img, tags, strtab);
  return info;
}

/** A DT_*_ARRAY and its size tag: word aligned, a whole number of words. */
function arrayRange(
  tags: Map<number, number>,
  tag: number,
  szTag: number,
  name: string,
): VRange | null {
  const vaddr = tags.get(tag);
  const size = tags.get(szTag) ?? 0;
  if (vaddr === undefined || size === 0) return null;
  if (size % 4 !== 0 || vaddr % 4 !== 0) {
    noexec(name, `misaligned init/fini array at 0x${vaddr.toString(16)}`);
  }
  return { vaddr, size };
}

function relaTable(
  file: ExecFile,
  img: ElfImage,
  vaddr: number,
  size: number,
  what: string,
): { what: string; bytes: ByteView } {
  if (size % RELA_SIZE !== 0) {
    noexec(img.name, `${what} size ${size} is not a multiple of ${RELA_SIZE}`);
  }
  return { what, bytes: new ByteView(readVaddr(file, img, vaddr, size, what), img.name, what) };
}

/** The symbol count from the hash tables, then the symbols themselves. */
function readSymTable(
  file: ExecFile,
  img: ElfImage,
  tags: Map<number, number>,
  strtab: Uint8Array,
): SymTable {
  const name = img.name;
  let sysv: ByteView | null = null;
  let gnu: ByteView | null = null;
  let nsyms = -1;
  if (tags.has(DT_HASH)) {
    const at = tags.get(DT_HASH)!;
    const h = new ByteView(readVaddr(file, img, at, SYSV_HASH.buckets, "DT_HASH"), name, "DT_HASH");
    const nbucket = h.u32(SYSV_HASH.nbucket), nchain = h.u32(SYSV_HASH.nchain);
    if (nbucket === 0) noexec(name, "DT_HASH has no buckets");
    if (nbucket + nchain > img.fileSize / 4) noexec(name, "DT_HASH is larger than the file");
    sysv = new ByteView(
      readVaddr(file, img, at, SYSV_HASH.buckets + 4 * (nbucket + nchain), "DT_HASH"),
      name,
      "DT_HASH",
    );
    nsyms = nchain;
  }
  if (tags.has(DT_GNU_HASH)) {
    gnu = new ByteView(
      readVaddrTail(file, img, tags.get(DT_GNU_HASH)!, img.fileSize, "DT_GNU_HASH"),
      name,
      "DT_GNU_HASH",
    );
    const n = gnuSymCount(gnu);
    if (nsyms < 0) nsyms = n;
  }
  if (nsyms < 0) noexec(name, "has a symbol table but neither DT_HASH nor DT_GNU_HASH");
  if (nsyms * SYM_SIZE > img.fileSize) noexec(name, `${nsyms} symbols do not fit in the file`);
  const syms = new ByteView(
    readVaddr(file, img, tags.get(DT_SYMTAB)!, nsyms * SYM_SIZE, "symbol table"),
    name,
    "symbol table",
  );
  return { name, nsyms, syms, strtab, gnu, sysv };
}

/**
 * The number of symbols a GNU hash table covers: one past the last chain
 * entry reached from the highest bucket (DT_GNU_HASH has no count).
 */
function gnuSymCount(g: ByteView): number {
  const nbuckets = g.u32(GNU_HASH.nbuckets), symoffset = g.u32(GNU_HASH.symoffset);
  const bloomSize = g.u32(GNU_HASH.bloomSize);
  if (nbuckets === 0 || bloomSize === 0) {
    noexec(g.name, "DT_GNU_HASH has no buckets or bloom words");
  }
  if (nbuckets + bloomSize > g.length / 4) noexec(g.name, "truncated DT_GNU_HASH");
  const buckets = GNU_HASH.bloom + 4 * bloomSize;
  let max = 0;
  for (let b = 0; b < nbuckets; b++) max = Math.max(max, g.u32(buckets + 4 * b));
  if (max === 0) return symoffset;
  if (max < symoffset) noexec(g.name, "DT_GNU_HASH bucket below symoffset");
  const chain = buckets + 4 * nbuckets;
  for (let i = max;; i++) {
    if ((g.u32(chain + 4 * (i - symoffset)) & 1) !== 0) return i + 1;
  }
}

/** Symbol `idx` of the table; throws ExecFailure when out of range. */
export function symAt(t: SymTable, idx: number): ElfSym {
  if (idx < 0 || idx >= t.nsyms) noexec(t.name, `symbol index ${idx} out of range (${t.nsyms})`);
  const o = idx * SYM_SIZE;
  const s = t.syms;
  return {
    name: strAt(t.strtab, t.name, s.u32(o + SYM.name)),
    value: s.u32(o + SYM.value),
    size: s.u32(o + SYM.size),
    info: s.u8(o + SYM.info),
    shndx: s.u16(o + SYM.shndx),
  };
}

/** The System V ELF hash (DT_HASH). */
export function elfHash(name: Uint8Array): number {
  let h = 0;
  for (const c of name) {
    h = ((h << 4) + c) >>> 0;
    const g = h & 0xf000_0000;
    if (g !== 0) h ^= g >>> 24;
    h = (h & ~g) >>> 0;
  }
  return h;
}

/** The GNU hash (DT_GNU_HASH): h = h * 33 + c from 5381. */
export function gnuHash(name: Uint8Array): number {
  let h = 5381;
  for (const c of name) h = (Math.imul(h, 33) + c) >>> 0;
  return h;
}

/** Does symbol `idx` define `name` for other objects (global or weak, not undefined)? */
function defines(t: SymTable, idx: number, name: Uint8Array): boolean {
  if (idx <= 0 || idx >= t.nsyms) return false;
  const o = idx * SYM_SIZE;
  if (t.syms.u16(o + SYM.shndx) === SHN_UNDEF) return false;
  const bind = stBind(t.syms.u8(o + SYM.info));
  if (bind !== STB_GLOBAL && bind !== STB_WEAK) return false;
  const off = t.syms.u32(o + SYM.name);
  if (off + name.length >= t.strtab.length) return false;
  for (let k = 0; k < name.length; k++) if (t.strtab[off + k] !== name[k]) return false;
  return t.strtab[off + name.length] === 0;
}

/**
 * Find the definition of `name` in one object's table, through DT_GNU_HASH
 * when present, else DT_HASH.
 *
 * @returns the symbol index, or -1 when the object does not define it
 */
export function lookupInTable(t: SymTable, name: string): number {
  if (t.nsyms === 0) return -1;
  const bytes = enc.encode(name);
  if (t.gnu !== null) return lookupGnu(t, t.gnu, bytes);
  if (t.sysv !== null) return lookupSysv(t, t.sysv, bytes);
  return -1;
}

function lookupSysv(t: SymTable, h: ByteView, name: Uint8Array): number {
  const nbucket = h.u32(SYSV_HASH.nbucket), nchain = h.u32(SYSV_HASH.nchain);
  let idx = h.u32(SYSV_HASH.buckets + 4 * (elfHash(name) % nbucket));
  for (let steps = 0; idx !== 0 && steps <= nchain; steps++) {
    if (idx >= nchain) noexec(t.name, `DT_HASH chain index ${idx} out of range`);
    if (defines(t, idx, name)) return idx;
    idx = h.u32(SYSV_HASH.buckets + 4 * nbucket + 4 * idx);
  }
  return -1;
}

function lookupGnu(t: SymTable, g: ByteView, name: Uint8Array): number {
  const nbuckets = g.u32(GNU_HASH.nbuckets), symoffset = g.u32(GNU_HASH.symoffset);
  const bloomSize = g.u32(GNU_HASH.bloomSize), shift = g.u32(GNU_HASH.bloomShift);
  const h = gnuHash(name);
  // The bloom filter (32-bit words in ELF32) rejects most misses without touching the chain.
  const word = g.u32(GNU_HASH.bloom + 4 * (Math.floor(h / 32) % bloomSize));
  const mask = ((1 << (h % 32)) | (1 << ((h >>> (shift & 31)) % 32))) >>> 0;
  if (((word & mask) >>> 0) !== mask) return -1;
  const buckets = GNU_HASH.bloom + 4 * bloomSize;
  let idx = g.u32(buckets + 4 * (h % nbuckets));
  if (idx === 0) return -1;
  if (idx < symoffset) noexec(t.name, "DT_GNU_HASH bucket below symoffset");
  const chain = buckets + 4 * nbuckets;
  for (; idx < t.nsyms; idx++) {
    const h2 = g.u32(chain + 4 * (idx - symoffset));
    if (((h2 | 1) >>> 0) === ((h | 1) >>> 0) && defines(t, idx, name)) return idx;
    if ((h2 & 1) !== 0) return -1;
  }
  return -1;
}
