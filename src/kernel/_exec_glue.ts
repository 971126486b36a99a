/**
 * The seam between the process layer and exec (branch `exec`, not merged
 * yet). The Worker calls execProgram; once the exec layer lands this file
 * forwards to its `execve(env, path, argv, envp, { textMode })`.
 *
 * Until then it holds an interim loader for static ET_EXEC programs only
 * (fixtures/static/*): each PT_LOAD segment is *copied* into private
 * anonymous memory (textMode "copy" whatever was asked: there is no file
 * mapping without the VFS), then given its final protection; the stack is
 * laid out as Linux does (argc, argv, envp, auxv). Dynamic programs are
 * refused with -ENOEXEC and a reason naming the missing exec layer.
 *
 * @module
 */

import { E2BIG, ENOEXEC, ENOMEM } from "../abi/errno.ts";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../abi/mman.ts";
import { asVirt, PAGE_SIZE, pageRoundDown, pageRoundUp } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { MMAP_MIN_ADDR, TASK_SIZE } from "../mm/mm.ts";
import { doMmap, doMprotect, setBrkStart } from "../mm/mmap.ts";
import { copyToUser } from "../mm/uaccess.ts";
import { type ExecFile, type FsAttach, openExec } from "./_vfs_glue.ts";

/** What a successful exec hands the Worker. */
export interface ExecImage {
  /** First user instruction (e_entry of the program). */
  entry: number;
  /** Initial stack pointer: argc is at sp. */
  sp: number;
  /** DT_INIT_ARRAY functions to call, in order, before entry (dynamic programs). */
  initCalls: number[];
  /** Where the heap starts (brk), already set in the mm. */
  brkStart: number;
}

/** Why exec failed: a negative errno and one line for the user. */
export interface ExecFailure {
  errno: number;
  reason: string;
}

/** How exec places text: mapped from the file (shared, DAX) or copied. */
export type TextMode = "map" | "copy";

/**
 * Top of the stack (exclusive) and its size: 8 MiB, Linux's default
 * RLIMIT_STACK. One page below TASK_SIZE: a VMA ending exactly at TASK_SIZE
 * (0x8000_0000) does not fit the mm layer's int32 VMA words.
 */
export const STACK_TOP = TASK_SIZE - PAGE_SIZE;
export const STACK_SIZE = 8 * 1024 * 1024;
/** Most bytes argv and envp strings may take together (a bound, like ARG_MAX). */
export const ARG_MAX = 128 * 1024;

const PT_LOAD = 1;
const PT_PHDR = 6;
const ET_EXEC = 2;
const ET_DYN = 3;
const EM_RISCV = 243;
const PF_X = 1, PF_W = 2, PF_R = 4;
const AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7;
const AT_ENTRY = 9, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_RANDOM = 25;
/** Bytes per file read while copying a segment. */
const COPY_CHUNK = 64 * 1024;

const fail = (errno: number, reason: string): ExecFailure => ({ errno, reason });

interface Phdr {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  flags: number;
}

function readAll(f: ExecFile, pos: number, len: number): Uint8Array | number {
  const b = new Uint8Array(len);
  const r = f.pread(pos, b);
  if (r < 0) return r;
  return r === len ? b : -ENOEXEC;
}

/** Parse and check the ELF header and program headers. */
function parseElf(
  f: ExecFile,
): { entry: number; type: number; phoff: number; ph: Phdr[] } | ExecFailure {
  const eh = readAll(f, 0, 52);
  if (typeof eh === "number") return fail(-ENOEXEC, "file too short for an ELF header");
  const dv = new DataView(eh.buffer);
  if (dv.getUint32(0, false) !== 0x7f454c46) return fail(-ENOEXEC, "not an ELF file");
  if (eh[4] !== 1 || eh[5] !== 1) return fail(-ENOEXEC, "not a little-endian ELF32 file");
  const type = dv.getUint16(16, true);
  if (dv.getUint16(18, true) !== EM_RISCV) return fail(-ENOEXEC, "not a RISC-V program");
  if (type === ET_DYN) {
    return fail(-ENOEXEC, "dynamic (ET_DYN) programs need the exec layer, not merged yet");
  }
  if (type !== ET_EXEC) return fail(-ENOEXEC, `ELF type ${type} is not an executable`);
  const entry = dv.getUint32(24, true), phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true), phnum = dv.getUint16(44, true);
  if (phentsize !== 32 || phnum === 0 || phnum > 64) return fail(-ENOEXEC, "bad program headers");
  const raw = readAll(f, phoff, phnum * 32);
  if (typeof raw === "number") return fail(-ENOEXEC, "program headers past the end of the file");
  const pv = new DataView(raw.buffer);
  const ph: Phdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = i * 32;
    ph.push({
      type: pv.getUint32(o, true),
      offset: pv.getUint32(o + 4, true),
      vaddr: pv.getUint32(o + 8, true),
      filesz: pv.getUint32(o + 16, true),
      memsz: pv.getUint32(o + 20, true),
      flags: pv.getUint32(o + 24, true),
    });
  }
  return { entry, type, phoff, ph };
}

/** Copy [offset, offset+filesz) of the file to user address vaddr. */
function copySegment(mem: Memory, mm: number, f: ExecFile, p: Phdr): number {
  for (let done = 0; done < p.filesz;) {
    const n = Math.min(COPY_CHUNK, p.filesz - done);
    const b = readAll(f, p.offset + done, n);
    if (typeof b === "number") return b;
    const r = copyToUser(mem, mm, asVirt(p.vaddr + done), b);
    if (r < 0) return r;
    done += n;
  }
  return 0;
}

const protOf = (flags: number): number =>
  ((flags & PF_R) ? PROT_READ : 0) | ((flags & PF_W) ? PROT_WRITE : 0) | ((flags & PF_X) ? 4 : 0);

function loadSegments(mem: Memory, mm: number, f: ExecFile, ph: Phdr[]): number | ExecFailure {
  let top = 0;
  for (const p of ph) {
    if (p.type !== PT_LOAD || p.memsz === 0) continue;
    const end = p.vaddr + p.memsz;
    if (p.filesz > p.memsz || p.offset + p.filesz > f.size) {
      return fail(-ENOEXEC, "a PT_LOAD segment is larger than the file");
    }
    if (p.vaddr < MMAP_MIN_ADDR || end > STACK_TOP - STACK_SIZE) {
      return fail(-ENOEXEC, `segment at 0x${p.vaddr.toString(16)} outside user space`);
    }
    const start = pageRoundDown(p.vaddr), len = pageRoundUp(end) - start;
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    const m = doMmap(mem, mm, start, len, PROT_READ | PROT_WRITE, flags);
    if (m < 0) return fail(m, "cannot map a segment");
    const c = copySegment(mem, mm, f, p);
    if (c < 0) return fail(c === -ENOMEM ? c : -ENOEXEC, "cannot copy a segment");
    const r = doMprotect(mem, mm, start, len, protOf(p.flags));
    if (r < 0) return fail(r, "cannot protect a segment");
    top = Math.max(top, pageRoundUp(end));
  }
  return top === 0 ? fail(-ENOEXEC, "no PT_LOAD segment") : top;
}

/** Where the program headers sit in memory (AT_PHDR). */
function phdrAddr(ph: Phdr[], phoff: number): number {
  for (const p of ph) if (p.type === PT_PHDR) return p.vaddr;
  for (const p of ph) {
    if (p.type === PT_LOAD && p.offset <= phoff && phoff < p.offset + p.filesz) {
      return p.vaddr + (phoff - p.offset);
    }
  }
  return 0;
}

const enc = new TextEncoder();

/**
 * Map the stack and lay out argc, argv, envp and auxv at its top.
 *
 * @returns the initial sp, or a failure
 */
function setupStack(
  mem: Memory,
  mm: number,
  argv: string[],
  envp: string[],
  aux: [number, number][],
): number | ExecFailure {
  const strs = [...argv, ...envp].map((s) => enc.encode(s + "\0"));
  const strBytes = strs.reduce((n, s) => n + s.length, 0);
  if (strBytes > ARG_MAX) return fail(-E2BIG, "argument list too long");
  const m = doMmap(
    mem,
    mm,
    STACK_TOP - STACK_SIZE,
    STACK_SIZE,
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
  );
  if (m < 0) return fail(m, "cannot map the stack");
  const random = crypto.getRandomValues(new Uint8Array(16));
  let at = STACK_TOP - strBytes - 16;
  const randomAt = at;
  const strAt: number[] = [];
  let p = at + 16;
  for (const s of strs) {
    strAt.push(p);
    p += s.length;
  }
  const auxv: [number, number][] = [...aux, [AT_RANDOM, randomAt], [AT_NULL, 0]];
  const words = 1 + argv.length + 1 + envp.length + 1 + auxv.length * 2;
  at = (at - words * 4) & ~15;
  const block = new Uint8Array(STACK_TOP - at);
  const dv = new DataView(block.buffer);
  let w = 0;
  const put = (v: number) => {
    dv.setUint32(w, v >>> 0, true);
    w += 4;
  };
  put(argv.length);
  for (let i = 0; i < argv.length; i++) put(strAt[i]!);
  put(0);
  for (let i = 0; i < envp.length; i++) put(strAt[argv.length + i]!);
  put(0);
  for (const [k, v] of auxv) {
    put(k);
    put(v);
  }
  block.set(random, randomAt - at);
  let s = 0;
  for (const str of strs) {
    block.set(str, strAt[s++]! - at);
  }
  const r = copyToUser(mem, mm, asVirt(at), block);
  return r < 0 ? fail(r, "cannot write the stack") : at;
}

/**
 * Load `path` into the empty mm `mm` and prepare its stack. Entry: the
 * calling task runs `mm` in kernel mode; no lock held. On failure the mm
 * may hold partial mappings; the caller tears it down.
 *
 * @returns the image, or the errno and a one-line reason
 */
export function execProgram(
  fs: FsAttach,
  mm: number,
  path: string,
  argv: string[],
  envp: string[],
  _textMode: TextMode,
): ExecImage | ExecFailure {
  const mem = fs.mem;
  if (argv.length > 4096 || envp.length > 4096) return fail(-E2BIG, "argument list too long");
  const f = openExec(fs, path);
  if (typeof f === "number") return fail(f, "cannot open the program");
  try {
    const elf = parseElf(f);
    if ("errno" in elf) return elf;
    const top = loadSegments(mem, mm, f, elf.ph);
    if (typeof top !== "number") return top;
    setBrkStart(mem, mm, top);
    const phnum = elf.ph.length;
    const sp = setupStack(mem, mm, argv, envp, [
      [AT_PHDR, phdrAddr(elf.ph, elf.phoff)],
      [AT_PHENT, 32],
      [AT_PHNUM, phnum],
      [AT_PAGESZ, PAGE_SIZE],
      [AT_BASE, 0],
      [AT_ENTRY, elf.entry],
      [AT_UID, 0],
      [AT_EUID, 0],
      [AT_GID, 0],
      [AT_EGID, 0],
    ]);
    if (typeof sp !== "number") return sp;
    if (elf.entry < MMAP_MIN_ADDR || elf.entry >= top) {
      return fail(-ENOEXEC, "entry point outside the program");
    }
    return { entry: elf.entry, sp, initCalls: [], brkStart: top };
  } finally {
    f.close();
  }
}
