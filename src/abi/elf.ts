/**
 * ELF32 facts for RISC-V (the System V gABI, the RISC-V psABI and Linux's
 * auxv numbers): header, program-header, dynamic, symbol and relocation
 * layouts as byte offsets, and the constants exec needs.
 *
 * ```
 * Elf32_Ehdr (52 bytes)                 Elf32_Phdr (32 bytes)
 *  0 e_ident[16]  16 e_type u16           0 p_type    4 p_offset  8 p_vaddr
 * 18 e_machine u16 20 e_version u32      12 p_paddr  16 p_filesz 20 p_memsz
 * 24 e_entry  28 e_phoff  32 e_shoff     24 p_flags  28 p_align
 * 36 e_flags  40 e_ehsize u16 42 e_phentsize u16 44 e_phnum u16
 * 46 e_shentsize 48 e_shnum 50 e_shstrndx
 *
 * Elf32_Dyn (8): d_tag, d_val          Elf32_Sym (16): st_name 0, st_value 4,
 * Elf32_Rela (12): r_offset, r_info,     st_size 8, st_info u8 12, st_other u8 13,
 *   r_addend; sym = info >>> 8,          st_shndx u16 14
 *   type = info & 0xff
 * ```
 *
 * @module
 */

// ---------------------------------------------------------------------------
// e_ident and the file header.

export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const; // "\x7fELF"
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const EI_VERSION = 6;
export const ELFCLASS32 = 1;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;

export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_RISCV = 243;

/** e_flags of the RISC-V psABI: the C extension, the float ABI, RV32E. */
export const EF_RISCV_RVC = 0x1;
export const EF_RISCV_FLOAT_ABI = 0x6;
export const EF_RISCV_RVE = 0x8;

/** Byte offsets in Elf32_Ehdr. */
export const EHDR = {
  type: 16,
  machine: 18,
  version: 20,
  entry: 24,
  phoff: 28,
  flags: 36,
  ehsize: 40,
  phentsize: 42,
  phnum: 44,
} as const;
export const EHDR_SIZE = 52;

// ---------------------------------------------------------------------------
// Program headers.

/** Byte offsets in Elf32_Phdr. */
export const PHDR = {
  type: 0,
  offset: 4,
  vaddr: 8,
  filesz: 16,
  memsz: 20,
  flags: 24,
  align: 28,
} as const;
export const PHDR_SIZE = 32;
/** More program headers than this is not a real program (Linux: 64 KiB of them). */
export const PHNUM_MAX = 256;

export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;

export const PF_X = 0x1;
export const PF_W = 0x2;
export const PF_R = 0x4;

// ---------------------------------------------------------------------------
// The dynamic section.

/** Elf32_Dyn: a tag and a value or address. */
export const DYN = { tag: 0, val: 4 } as const;
export const DYN_SIZE = 8;

/**
 * The DT_HASH table (SysV): nbucket, nchain, then nbucket bucket words and
 * nchain chain words, each a symbol index.
 */
export const SYSV_HASH = { nbucket: 0, nchain: 4, buckets: 8 } as const;

/**
 * The DT_GNU_HASH table: a 16-byte header, then bloomSize bloom words
 * (32-bit on ELF32), nbuckets bucket words, and one chain word per symbol
 * from symoffset on (the hash with bit 0 marking a chain's end).
 */
export const GNU_HASH = {
  nbuckets: 0,
  symoffset: 4,
  bloomSize: 8,
  bloomShift: 12,
  bloom: 16,
} as const;

export const DT_NULL = 0;
export const DT_NEEDED = 1;
export const DT_PLTRELSZ = 2;
export const DT_PLTGOT = 3;
export const DT_HASH = 4;
export const DT_STRTAB = 5;
export const DT_SYMTAB = 6;
export const DT_RELA = 7;
export const DT_RELASZ = 8;
export const DT_RELAENT = 9;
export const DT_STRSZ = 10;
export const DT_SYMENT = 11;
export const DT_INIT = 12;
export const DT_FINI = 13;
export const DT_SONAME = 14;
export const DT_RPATH = 15;
export const DT_SYMBOLIC = 16;
export const DT_REL = 17;
export const DT_RELSZ = 18;
export const DT_RELENT = 19;
export const DT_PLTREL = 20;
export const DT_DEBUG = 21;
export const DT_TEXTREL = 22;
export const DT_JMPREL = 23;
export const DT_BIND_NOW = 24;
export const DT_INIT_ARRAY = 25;
export const DT_FINI_ARRAY = 26;
export const DT_INIT_ARRAYSZ = 27;
export const DT_FINI_ARRAYSZ = 28;
export const DT_RUNPATH = 29;
export const DT_FLAGS = 30;
export const DT_PREINIT_ARRAY = 32;
export const DT_PREINIT_ARRAYSZ = 33;
export const DT_RELRSZ = 35;
export const DT_RELR = 36;
export const DT_GNU_HASH = 0x6ffffef5;
export const DT_VERSYM = 0x6ffffff0;
export const DT_RELACOUNT = 0x6ffffff9;
export const DT_FLAGS_1 = 0x6ffffffb;
export const DT_VERDEF = 0x6ffffffc;
export const DT_VERNEED = 0x6ffffffe;

/** DT_FLAGS bits. */
export const DF_SYMBOLIC = 0x2;
export const DF_TEXTREL = 0x4;
export const DF_BIND_NOW = 0x8;
export const DF_STATIC_TLS = 0x10;

// ---------------------------------------------------------------------------
// Symbols.

export const SYM = { name: 0, value: 4, size: 8, info: 12, other: 13, shndx: 14 } as const;
export const SYM_SIZE = 16;
export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STT_TLS = 6;
export const STT_GNU_IFUNC = 10;
export const stBind = (info: number): number => info >>> 4;
export const stType = (info: number): number => info & 0xf;

// ---------------------------------------------------------------------------
// Relocations (Elf32_Rela; RISC-V uses RELA only).

export const RELA = { offset: 0, info: 4, addend: 8 } as const;
export const RELA_SIZE = 12;
export const relaSym = (info: number): number => info >>> 8;
export const relaType = (info: number): number => info & 0xff;

export const R_RISCV_NONE = 0;
export const R_RISCV_32 = 1;
export const R_RISCV_RELATIVE = 3;
export const R_RISCV_COPY = 4;
export const R_RISCV_JUMP_SLOT = 5;
export const R_RISCV_TLS_DTPMOD32 = 6;
export const R_RISCV_TLS_DTPREL32 = 8;
export const R_RISCV_TLS_TPREL32 = 10;
export const R_RISCV_IRELATIVE = 58;

/** Names of the dynamic relocation types, for error messages. */
export const R_RISCV_NAMES: Readonly<Record<number, string>> = {
  0: "R_RISCV_NONE",
  1: "R_RISCV_32",
  2: "R_RISCV_64",
  3: "R_RISCV_RELATIVE",
  4: "R_RISCV_COPY",
  5: "R_RISCV_JUMP_SLOT",
  6: "R_RISCV_TLS_DTPMOD32",
  7: "R_RISCV_TLS_DTPMOD64",
  8: "R_RISCV_TLS_DTPREL32",
  9: "R_RISCV_TLS_DTPREL64",
  10: "R_RISCV_TLS_TPREL32",
  11: "R_RISCV_TLS_TPREL64",
  58: "R_RISCV_IRELATIVE",
};

// ---------------------------------------------------------------------------
// The auxiliary vector (Linux include/uapi/linux/auxvec.h).

export const AT_NULL = 0;
export const AT_PHDR = 3;
export const AT_PHENT = 4;
export const AT_PHNUM = 5;
export const AT_PAGESZ = 6;
export const AT_BASE = 7;
export const AT_FLAGS = 8;
export const AT_ENTRY = 9;
export const AT_UID = 11;
export const AT_EUID = 12;
export const AT_GID = 13;
export const AT_EGID = 14;
export const AT_HWCAP = 16;
export const AT_CLKTCK = 17;
export const AT_SECURE = 23;
export const AT_RANDOM = 25;
export const AT_EXECFN = 31;

/** AT_HWCAP on riscv: one bit per single-letter extension ('a' = bit 0). */
export const hwcapBit = (ext: string): number => 1 << (ext.charCodeAt(0) - 0x61);
