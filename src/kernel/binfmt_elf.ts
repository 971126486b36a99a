/**
 * ELF32 RISC-V file parsing for exec: the file header and the program
 * headers, validated before anything is mapped (Linux's load_elf_binary
 * checks plus the ones a dynamic linker makes).
 *
 * Every read goes through preadExact and the bounds-checked ByteView, so a
 * malformed file ends in an ExecFailure (ENOEXEC and a one-line reason
 * naming the file), never in a RangeError. Parsing reads headers and the
 * dynamic tables with pread; it never copies a segment's text.
 *
 * @module
 */

import {
  EF_RISCV_FLOAT_ABI,
  EF_RISCV_RVC,
  EF_RISCV_RVE,
  EHDR,
  EHDR_SIZE,
  EI_CLASS,
  EI_DATA,
  EI_VERSION,
  ELF_MAGIC,
  ELFCLASS32,
  ELFDATA2LSB,
  EM_RISCV,
  ET_DYN,
  ET_EXEC,
  EV_CURRENT,
  PF_W,
  PF_X,
  PHDR,
  PHDR_SIZE,
  PHNUM_MAX,
  PT_DYNAMIC,
  PT_GNU_RELRO,
  PT_INTERP,
  PT_LOAD,
  PT_PHDR,
  PT_TLS,
} from "../abi/elf.ts";
import { ENOEXEC } from "../abi/errno.ts";
import { PAGE_MASK, PAGE_SIZE, pageRoundDown, pageRoundUp } from "../abi/types.ts";
import { MMAP_MIN_ADDR, TASK_SIZE } from "../mm/mm.ts";
import { ExecFailure, type ExecFile } from "./exec_types.ts";

/** One PT_LOAD, as linked (no bias). */
export interface Segment {
  /** Index in the program header table, for messages. */
  index: number;
  vaddr: number;
  memsz: number;
  offset: number;
  filesz: number;
  /** PF_* bits. */
  flags: number;
}

/** A validated ELF image: what the loader needs from the headers. */
export interface ElfImage {
  /** Name used in error messages. */
  name: string;
  type: number;
  entry: number;
  phnum: number;
  /** Link-time address of the program headers in memory (for AT_PHDR), or -1. */
  phdrVaddr: number;
  /** PT_LOAD segments with memsz > 0, in ascending address order. */
  loads: Segment[];
  /** PT_DYNAMIC: link-time address and size, or null. */
  dynamic: { vaddr: number; size: number } | null;
  /** PT_GNU_RELRO, or null. */
  relro: { vaddr: number; memsz: number } | null;
  /** PT_INTERP: the file range of the interpreter's path, NUL included, or null. */
  interp: { offset: number; size: number } | null;
  /** Page-rounded span of all loads, link-time addresses. */
  minVaddr: number;
  maxVaddr: number;
  fileSize: number;
}

const hex = (n: number): string => "0x" + (n >>> 0).toString(16);

/** Fail the load with ENOEXEC: `name: what`. */
export function noexec(name: string, what: string): never {
  throw new ExecFailure(ENOEXEC, `${name}: ${what}`);
}

/**
 * Read exactly `len` bytes at `pos`, or fail naming `what`: a range past
 * the end of the file is "truncated", a read error keeps its errno.
 */
export function preadExact(
  file: ExecFile,
  name: string,
  pos: number,
  len: number,
  what: string,
): Uint8Array {
  if (pos < 0 || len < 0 || pos + len > file.size) noexec(name, `truncated ${what}`);
  const buf = new Uint8Array(len);
  for (let done = 0; done < len;) {
    const n = file.pread(pos + done, buf.subarray(done));
    if (n < 0) throw new ExecFailure(-n, `${name}: read error ${-n} in ${what}`);
    if (n === 0) noexec(name, `truncated ${what}`);
    done += n;
  }
  return buf;
}

/**
 * Little-endian reads with bounds checks over bytes read from a file. An
 * out-of-range read is a malformed file, reported as `name: truncated what`.
 */
export class ByteView {
  private readonly dv: DataView;
  constructor(readonly bytes: Uint8Array, readonly name: string, readonly what: string) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get length(): number {
    return this.bytes.length;
  }
  private check(off: number, n: number): void {
    if (!(off >= 0 && off + n <= this.bytes.length)) {
      noexec(this.name, `truncated ${this.what} (read of ${n} at ${off})`);
    }
  }
  u8(off: number): number {
    this.check(off, 1);
    return this.dv.getUint8(off);
  }
  u16(off: number): number {
    this.check(off, 2);
    return this.dv.getUint16(off, true);
  }
  u32(off: number): number {
    this.check(off, 4);
    return this.dv.getUint32(off, true);
  }
  i32(off: number): number {
    this.check(off, 4);
    return this.dv.getInt32(off, true);
  }
}

/**
 * Read and validate the file header and program headers of `file`.
 *
 * @returns the image; throws ExecFailure (ENOEXEC with a one-line reason,
 *   or the errno of a failed read) for anything the loader cannot run
 */
export function readElf(file: ExecFile, name: string): ElfImage {
  const size = file.size;
  if (size < ELF_MAGIC.length) noexec(name, "truncated ELF header (not an ELF file)");
  const head = preadExact(file, name, 0, Math.min(size, EHDR_SIZE), "ELF header");
  if (ELF_MAGIC.some((b, i) => head[i] !== b)) noexec(name, "not an ELF file (bad magic)");
  if (size < EHDR_SIZE) noexec(name, "truncated ELF header");
  const h = new ByteView(head, name, "ELF header");
  checkIdent(h, name);
  const type = h.u16(EHDR.type);
  const phentsize = h.u16(EHDR.phentsize);
  const phnum = h.u16(EHDR.phnum);
  const phoff = h.u32(EHDR.phoff);
  if (phentsize !== PHDR_SIZE) noexec(name, `e_phentsize ${phentsize} is not ${PHDR_SIZE}`);
  if (phnum === 0) noexec(name, "no program headers");
  if (phnum > PHNUM_MAX) noexec(name, `${phnum} program headers (more than ${PHNUM_MAX})`);
  if (phoff + phnum * PHDR_SIZE > size) noexec(name, "truncated program header table");
  const ph = new ByteView(
    preadExact(file, name, phoff, phnum * PHDR_SIZE, "program header table"),
    name,
    "program header table",
  );
  const img: ElfImage = {
    name,
    type,
    entry: h.u32(EHDR.entry),
    phnum,
    phdrVaddr: -1,
    loads: [],
    dynamic: null,
    relro: null,
    interp: null,
    minVaddr: 0,
    maxVaddr: 0,
    fileSize: size,
  };
  for (let i = 0; i < phnum; i++) readPhdr(img, ph, i * PHDR_SIZE, i);
  checkLoads(img);
  if (img.phdrVaddr < 0) img.phdrVaddr = fileOffsetToVaddr(img, phoff, phnum * PHDR_SIZE);
  return img;
}

/** A program's entry point must be inside an executable segment (libraries' e_entry is unused). */
export function checkEntry(img: ElfImage): void {
  if (!inExecLoad(img, img.entry)) {
    noexec(img.name, `entry point ${hex(img.entry)} is not in an executable segment`);
  }
}

/** e_ident, e_machine, e_type, e_version and e_flags. */
function checkIdent(h: ByteView, name: string): void {
  const cls = h.u8(EI_CLASS);
  if (cls !== ELFCLASS32) noexec(name, `not ELFCLASS32 (EI_CLASS ${cls}): xip runs RV32 only`);
  const data = h.u8(EI_DATA);
  if (data !== ELFDATA2LSB) noexec(name, `not little-endian (EI_DATA ${data})`);
  if (h.u8(EI_VERSION) !== EV_CURRENT || h.u32(EHDR.version) !== EV_CURRENT) {
    noexec(name, "unknown ELF version");
  }
  const machine = h.u16(EHDR.machine);
  if (machine !== EM_RISCV) noexec(name, `e_machine ${machine} is not RISC-V (${EM_RISCV})`);
  const type = h.u16(EHDR.type);
  if (type !== ET_EXEC && type !== ET_DYN) {
    noexec(name, `e_type ${type} is neither ET_EXEC nor ET_DYN`);
  }
  const flags = h.u32(EHDR.flags);
  if ((flags & EF_RISCV_RVC) !== 0) {
    noexec(name, "uses compressed instructions (EF_RISCV_RVC); the hart is RV32IMA");
  }
  if ((flags & EF_RISCV_FLOAT_ABI) !== 0) {
    noexec(name, "uses a hardware float ABI; the hart has no F or D extension");
  }
  if ((flags & EF_RISCV_RVE) !== 0) noexec(name, "is an RV32E binary");
}

/** One program header. */
function readPhdr(img: ElfImage, ph: ByteView, off: number, i: number): void {
  const name = img.name;
  const type = ph.u32(off + PHDR.type);
  const offset = ph.u32(off + PHDR.offset);
  const vaddr = ph.u32(off + PHDR.vaddr);
  const filesz = ph.u32(off + PHDR.filesz);
  const memsz = ph.u32(off + PHDR.memsz);
  const flags = ph.u32(off + PHDR.flags);
  const align = ph.u32(off + PHDR.align);
  switch (type) {
    case PT_LOAD: {
      const seg = `segment ${i}`;
      if (filesz > memsz) noexec(name, `${seg}: p_filesz ${hex(filesz)} > p_memsz ${hex(memsz)}`);
      if (offset + filesz > img.fileSize) {
        noexec(name, `${seg}: file range past the end of the file (truncated)`);
      }
      if (align < PAGE_SIZE || (align & (align - 1)) !== 0) {
        noexec(name, `${seg}: p_align ${hex(align)} is not a power of two >= ${PAGE_SIZE}`);
      }
      if (((offset - vaddr) & PAGE_MASK) !== 0) {
        noexec(
          name,
          `${seg}: p_offset ${hex(offset)} and p_vaddr ${hex(vaddr)} differ modulo the page size`,
        );
      }
      if (vaddr + memsz > TASK_SIZE) {
        noexec(name, `${seg}: [${hex(vaddr)}, +${hex(memsz)}) is beyond user space`);
      }
      if (memsz > 0) img.loads.push({ index: i, vaddr, memsz, offset, filesz, flags });
      return;
    }
    case PT_INTERP:
      // load_elf_binary's checks: one PT_INTERP, 2..PATH_MAX bytes, inside the file.
      if (img.interp !== null) noexec(name, "more than one PT_INTERP");
      if (filesz < 2 || filesz > INTERP_MAX) noexec(name, `PT_INTERP of ${filesz} bytes`);
      if (offset + filesz > img.fileSize) noexec(name, "PT_INTERP past the end of the file");
      img.interp = { offset, size: filesz };
      return;
    case PT_TLS:
      // Linux leaves TLS to user space: static musl sets it up from AT_PHDR,
      // and ld.so for dynamic programs. The kernel-side linker refuses TLS
      // relocations by type, so a PT_TLS alone needs nothing here.
      return;
    case PT_DYNAMIC:
      if (img.dynamic !== null) noexec(name, "more than one PT_DYNAMIC");
      img.dynamic = { vaddr, size: filesz };
      return;
    case PT_GNU_RELRO:
      img.relro = { vaddr, memsz };
      return;
    case PT_PHDR:
      img.phdrVaddr = vaddr;
      return;
    default:
      return; // PT_NOTE, PT_GNU_STACK, PT_NULL and unknown types need nothing
  }
}

/** The longest PT_INTERP path, NUL included (Linux's PATH_MAX). */
const INTERP_MAX = 4096;

/**
 * The interpreter path PT_INTERP names. As Linux, the string must end in a
 * NUL at its last byte.
 *
 * @returns the path; throws ExecFailure(ENOEXEC) for a bad string
 */
export function readInterpPath(file: ExecFile, img: ElfImage): string {
  const { offset, size } = img.interp!;
  const raw = preadExact(file, img.name, offset, size, "PT_INTERP string");
  if (raw[size - 1] !== 0) noexec(img.name, "PT_INTERP string is not NUL-terminated");
  const end = raw.indexOf(0);
  if (end === 0) noexec(img.name, "PT_INTERP names an empty path");
  return new TextDecoder().decode(raw.subarray(0, end));
}

/** The loads taken together: present, ascending, disjoint in pages, in user space. */
function checkLoads(img: ElfImage): void {
  const { loads, name } = img;
  if (loads.length === 0) noexec(name, "no loadable segment (PT_LOAD)");
  for (let k = 1; k < loads.length; k++) {
    const a = loads[k - 1]!, b = loads[k]!;
    if (b.vaddr < a.vaddr + a.memsz) {
      noexec(name, `segments ${a.index} and ${b.index} overlap (or are not in address order)`);
    }
    if (pageRoundDown(b.vaddr) < pageRoundUp(a.vaddr + a.memsz)) {
      noexec(name, `segments ${a.index} and ${b.index} share a page`);
    }
  }
  img.minVaddr = pageRoundDown(loads[0]!.vaddr);
  const last = loads[loads.length - 1]!;
  img.maxVaddr = pageRoundUp(last.vaddr + last.memsz);
  if (img.maxVaddr > TASK_SIZE) noexec(name, "segments extend beyond user space");
  if (img.type === ET_EXEC && img.minVaddr < MMAP_MIN_ADDR) {
    noexec(name, `segment at ${hex(loads[0]!.vaddr)} would map page 0`);
  }
}

/** The link-time address of file bytes [off, off + len) when a load maps them, else -1. */
function fileOffsetToVaddr(img: ElfImage, off: number, len: number): number {
  for (const s of img.loads) {
    if (off >= s.offset && off + len <= s.offset + s.filesz) return s.vaddr + (off - s.offset);
  }
  return -1;
}

/** Is [vaddr, vaddr + len) inside a writable PT_LOAD? (Relocation targets must be.) */
export function inWritableLoad(img: ElfImage, vaddr: number, len: number): boolean {
  return img.loads.some((s) =>
    (s.flags & PF_W) !== 0 && vaddr >= s.vaddr && vaddr + len <= s.vaddr + s.memsz
  );
}

/** Is `vaddr` inside an executable PT_LOAD? */
export function inExecLoad(img: ElfImage, vaddr: number): boolean {
  return img.loads.some((s) =>
    (s.flags & PF_X) !== 0 && vaddr >= s.vaddr && vaddr < s.vaddr + s.memsz
  );
}

/**
 * Read [vaddr, vaddr + len) of the image from the file: the range must lie
 * in the file-backed part of one PT_LOAD (dynamic tables always do).
 */
export function readVaddr(
  file: ExecFile,
  img: ElfImage,
  vaddr: number,
  len: number,
  what: string,
): Uint8Array {
  for (const s of img.loads) {
    if (vaddr >= s.vaddr && vaddr + len <= s.vaddr + s.filesz) {
      return preadExact(file, img.name, s.offset + (vaddr - s.vaddr), len, what);
    }
  }
  return noexec(img.name, `${what} at ${hex(vaddr)} (+${len}) is outside the file image`);
}

/**
 * Read from `vaddr` to the end of the file-backed part of its PT_LOAD, at
 * most `max` bytes (for tables whose length is only known by walking them).
 */
export function readVaddrTail(
  file: ExecFile,
  img: ElfImage,
  vaddr: number,
  max: number,
  what: string,
): Uint8Array {
  for (const s of img.loads) {
    if (vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) {
      const len = Math.min(max, s.vaddr + s.filesz - vaddr);
      return preadExact(file, img.name, s.offset + (vaddr - s.vaddr), len, what);
    }
  }
  return noexec(img.name, `${what} at ${hex(vaddr)} is outside the file image`);
}
