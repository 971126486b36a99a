/**
 * A minimal ELF32 little-endian reader for checking the guest fixtures:
 * program headers, section headers, the dynamic section, relocations and
 * dynamic symbols. It reads only what the tests need and throws on
 * anything it cannot follow.
 *
 * @module
 */

export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_RISCV = 243;
export const EF_RISCV_RVC = 0x1;
export const EF_RISCV_FLOAT_ABI = 0x6;

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;

export const SHT_RELA = 4;
export const SHT_REL = 9;
export const SHF_EXECINSTR = 0x4;

export const DT_NULL = 0;
export const DT_NEEDED = 1;
export const DT_PLTRELSZ = 2;
export const DT_HASH = 4;
export const DT_STRTAB = 5;
export const DT_SYMTAB = 6;
export const DT_RELA = 7;
export const DT_RELASZ = 8;
export const DT_REL = 17;
export const DT_TEXTREL = 22;
export const DT_JMPREL = 23;
export const DT_FLAGS = 30;
export const DF_TEXTREL = 0x4;

export const R_RISCV_32 = 1;
export const R_RISCV_RELATIVE = 3;
export const R_RISCV_JUMP_SLOT = 5;

export interface Phdr {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  flags: number;
  align: number;
}

export interface Shdr {
  type: number;
  flags: number;
  offset: number;
  size: number;
}

export interface Rela {
  offset: number;
  type: number;
  sym: number;
}

export interface DynSym {
  name: string;
  value: number;
  bind: number;
  type: number;
  shndx: number;
}

export interface Elf {
  type: number;
  machine: number;
  flags: number;
  entry: number;
  phdrs: Phdr[];
  shdrs: Shdr[];
  /** Dynamic entries as [tag, value], empty without PT_DYNAMIC. */
  dynamic: Array<[number, number]>;
  needed: string[];
  relocations: Rela[];
  dynsyms: DynSym[];
}

/** Parse an ELF32 LE image. Throws Error with a reason if it is not one. */
export function parseElf(bytes: Uint8Array): Elf {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = [0x7f, 0x45, 0x4c, 0x46];
  if (bytes.length < 52 || magic.some((m, i) => bytes[i] !== m)) throw new Error("not ELF");
  if (bytes[4] !== 1) throw new Error("not ELFCLASS32");
  if (bytes[5] !== 1) throw new Error("not little-endian");
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);

  const phoff = u32(28), shoff = u32(32), phentsize = u16(42), phnum = u16(44);
  const shentsize = u16(46), shnum = u16(48);
  const phdrs: Phdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    phdrs.push({
      type: u32(p),
      offset: u32(p + 4),
      vaddr: u32(p + 8),
      filesz: u32(p + 16),
      memsz: u32(p + 20),
      flags: u32(p + 24),
      align: u32(p + 28),
    });
  }
  const shdrs: Shdr[] = [];
  for (let i = 0; i < shnum; i++) {
    const s = shoff + i * shentsize;
    shdrs.push({ type: u32(s + 4), flags: u32(s + 8), offset: u32(s + 16), size: u32(s + 20) });
  }

  // Dynamic tables are found through vaddrs, as a loader finds them.
  const fileOffset = (va: number): number => {
    const seg = phdrs.find((p) => p.type === PT_LOAD && va >= p.vaddr && va < p.vaddr + p.filesz);
    if (!seg) throw new Error(`vaddr 0x${va.toString(16)} is not in any PT_LOAD`);
    return seg.offset + (va - seg.vaddr);
  };
  const cstr = (o: number): string => {
    let end = o;
    while (bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(o, end));
  };

  const dynamic: Array<[number, number]> = [];
  const dynPh = phdrs.find((p) => p.type === PT_DYNAMIC);
  if (dynPh) {
    for (let o = dynPh.offset; o < dynPh.offset + dynPh.filesz; o += 8) {
      const tag = u32(o);
      if (tag === DT_NULL) break;
      dynamic.push([tag, u32(o + 4)]);
    }
  }
  const dyn = (tag: number): number | undefined => dynamic.find(([t]) => t === tag)?.[1];
  const strtab = dyn(DT_STRTAB) !== undefined ? fileOffset(dyn(DT_STRTAB)!) : -1;
  const needed = dynamic.filter(([t]) => t === DT_NEEDED).map(([, v]) => cstr(strtab + v));

  const relocations: Rela[] = [];
  const readRela = (addrTag: number, sizeTag: number) => {
    const addr = dyn(addrTag), size = dyn(sizeTag);
    if (addr === undefined || !size) return;
    const base = fileOffset(addr);
    for (let o = base; o < base + size; o += 12) {
      const info = u32(o + 4);
      relocations.push({ offset: u32(o), type: info & 0xff, sym: info >>> 8 });
    }
  };
  readRela(DT_RELA, DT_RELASZ);
  readRela(DT_JMPREL, DT_PLTRELSZ);

  // DT_HASH's nchain is the number of dynamic symbols.
  const dynsyms: DynSym[] = [];
  const hash = dyn(DT_HASH), symtab = dyn(DT_SYMTAB);
  if (hash !== undefined && symtab !== undefined) {
    const nchain = u32(fileOffset(hash) + 4);
    const base = fileOffset(symtab);
    for (let i = 0; i < nchain; i++) {
      const s = base + i * 16;
      const info = bytes[s + 12]!;
      dynsyms.push({
        name: cstr(strtab + u32(s)),
        value: u32(s + 4),
        bind: info >> 4,
        type: info & 0xf,
        shndx: u16(s + 14),
      });
    }
  }

  return {
    type: u16(16),
    machine: u16(18),
    entry: u32(24),
    flags: u32(36),
    phdrs,
    shdrs,
    dynamic,
    needed,
    relocations,
    dynsyms,
  };
}
