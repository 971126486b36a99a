/**
 * The dynamic linker, run by exec inside the kernel (there is no ld.so
 * process): find and parse the DT_NEEDED libraries, relocate every object
 * eagerly, apply PT_GNU_RELRO, and list the init and fini functions.
 *
 * Search order (as glibc's, without RPATH/RUNPATH): a name containing '/'
 * is opened as is; otherwise LD_LIBRARY_PATH (from the new envp), then the
 * library path (default /lib, /usr/lib). Each library is loaded once per
 * process, whether asked for by its DT_NEEDED name, its DT_SONAME or its
 * path. The global scope is the program, then the libraries breadth-first.
 * An object marked DT_SYMBOLIC / DF_SYMBOLIC looks in itself first.
 *
 * Relocations are written with copyToUser, so they land in the process's
 * own (private, COW) copy of a data or GOT page; a relocation whose target
 * is not inside a writable PT_LOAD is refused, since it would have to write
 * to shared text.
 *
 * @module
 */

import {
  ET_DYN,
  R_RISCV_32,
  R_RISCV_JUMP_SLOT,
  R_RISCV_NAMES,
  R_RISCV_NONE,
  R_RISCV_RELATIVE,
  RELA,
  RELA_SIZE,
  relaSym,
  relaType,
  SHN_ABS,
  SHN_UNDEF,
  STB_LOCAL,
  STB_WEAK,
  stBind,
  STT_GNU_IFUNC,
  STT_TLS,
  stType,
} from "../abi/elf.ts";
import { ENOENT, ENOEXEC, ENOMEM, ENOTDIR } from "../abi/errno.ts";
import { PROT_READ } from "../abi/mman.ts";
import { asVirt, pageRoundDown, type VirtAddr } from "../abi/types.ts";
import { doMprotect } from "../mm/mmap.ts";
import { copyFromUser, copyToUser } from "../mm/uaccess.ts";
import { type ElfImage, inExecLoad, inWritableLoad, noexec } from "./binfmt_elf.ts";
import { type DynInfo, lookupInTable, symAt } from "./elf_dyn.ts";
import { writeFault } from "./exec_map.ts";
import { type ExecEnv, ExecFailure, type ExecFile } from "./exec_types.ts";

/** One object of the process: the program or a shared library. */
export interface Dso {
  /** The name it was asked for: the program path or the DT_NEEDED string. */
  name: string;
  /** The path it was opened at. */
  path: string;
  file: ExecFile;
  img: ElfImage;
  dyn: DynInfo;
  /** Load bias, set when mapped. */
  base: number;
  start: number;
  end: number;
  /** Its DT_NEEDED objects, in DT_NEEDED order (filled by loadNeeded). */
  deps: Dso[];
}

/** Default library directories (after LD_LIBRARY_PATH). */
export const DEFAULT_LIBRARY_PATH = ["/lib", "/usr/lib"];

const hex = (n: number): string => "0x" + (n >>> 0).toString(16);

/** The directories of LD_LIBRARY_PATH in `envp` (empty entries dropped). */
export function ldLibraryPath(envp: string[]): string[] {
  const e = envp.find((s) => s.startsWith("LD_LIBRARY_PATH="));
  if (e === undefined) return [];
  return e.slice("LD_LIBRARY_PATH=".length).split(":").filter((d) => d !== "");
}

/** A parser for one opened file: header and dynamic section (readElf + readDynamic). */
export type OpenDso = (file: ExecFile, name: string, path: string) => Dso;

/**
 * Breadth-first, find and parse every library the program needs, once each,
 * appending them to `all` (which holds the program). Every file opened is
 * pushed on `opened` at once, so the caller can close them whatever happens.
 *
 * @returns every object, program first; throws ExecFailure: ENOENT naming
 *   the library and the directories searched, ENOEXEC for a library that is
 *   not a shared object, or the parse's error
 */
export function loadNeeded(
  env: ExecEnv,
  all: Dso[],
  opened: ExecFile[],
  searchPath: string[],
  openDso: OpenDso,
): Dso[] {
  const byName = new Map<string, Dso>();
  const prog = all[0]!;
  for (let i = 0; i < all.length; i++) {
    const obj = all[i]!;
    for (const need of obj.dyn.needed) {
      let dep = byName.get(need);
      if (dep === undefined) {
        dep = findLoaded(all, need) ??
          openLibrary(env, all, opened, need, searchPath, obj, openDso);
        byName.set(need, dep);
      }
      if (dep === prog) noexec(obj.name, `needs ${need}, which is the program itself`);
      obj.deps.push(dep);
    }
  }
  return all;
}

/** An object already loaded under this soname or path. */
function findLoaded(all: Dso[], need: string): Dso | undefined {
  return all.find((d, i) => i > 0 && (d.dyn.soname === need || d.path === need));
}

function openLibrary(
  env: ExecEnv,
  all: Dso[],
  opened: ExecFile[],
  need: string,
  searchPath: string[],
  by: Dso,
  openDso: OpenDso,
): Dso {
  const candidates = need.includes("/")
    ? [need]
    : searchPath.map((d) => `${d.replace(/\/+$/, "")}/${need}`);
  for (const path of candidates) {
    const again = all.find((d, i) => i > 0 && d.path === path);
    if (again !== undefined) return again;
    const f = env.openExec(path);
    if (typeof f === "number") {
      if (f === -ENOENT || f === -ENOTDIR) continue;
      throw new ExecFailure(-f, `${need}: cannot open ${path} (errno ${-f}), needed by ${by.name}`);
    }
    opened.push(f);
    const dso = openDso(f, need, path);
    if (dso.img.type !== ET_DYN) {
      throw new ExecFailure(
        ENOEXEC,
        `${need}: ${path} is not a shared object (needed by ${by.name})`,
      );
    }
    all.push(dso);
    return dso;
  }
  const where = need.includes("/") ? need : searchPath.join(":");
  throw new ExecFailure(ENOENT, `${need}: not found in ${where} (needed by ${by.name})`);
}

// ---------------------------------------------------------------------------
// Relocation.

/** Resolved global symbols of one exec: name -> address (or null: undefined). */
type SymCache = Map<string, number | null>;

/** The address of `name` in the global scope, or null. */
function lookupGlobal(scope: Dso[], cache: SymCache, name: string): number | null {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  let found: number | null = null;
  for (const o of scope) {
    const at = definedIn(o, name);
    if (at !== null) {
      found = at;
      break;
    }
  }
  cache.set(name, found);
  return found;
}

/** The address of `name` as `o` defines it, or null. */
function definedIn(o: Dso, name: string): number | null {
  const idx = lookupInTable(o.dyn.symtab, name);
  if (idx < 0) return null;
  const s = symAt(o.dyn.symtab, idx);
  const type = stType(s.info);
  if (type === STT_TLS) noexec(o.name, `symbol ${name} is thread-local, not supported`);
  if (type === STT_GNU_IFUNC) noexec(o.name, `symbol ${name} is an IFUNC, not supported`);
  return ((s.shndx === SHN_ABS ? 0 : o.base) + s.value) >>> 0;
}

/**
 * The value S of symbol `idx` of `obj` for a relocation: its own local
 * definition, or a search of the scope (the object first if it is
 * symbolic). Symbol 0 is the object itself (S = base), as glibc does.
 */
function resolve(obj: Dso, idx: number, scope: Dso[], cache: SymCache): number {
  if (idx === 0) return obj.base >>> 0;
  const s = symAt(obj.dyn.symtab, idx);
  const bind = stBind(s.info);
  if (bind === STB_LOCAL) {
    if (s.shndx === SHN_UNDEF) noexec(obj.name, `local symbol ${s.name} is undefined`);
    return ((s.shndx === SHN_ABS ? 0 : obj.base) + s.value) >>> 0;
  }
  let at = obj.dyn.symbolic ? definedIn(obj, s.name) : null;
  if (at === null) at = lookupGlobal(scope, cache, s.name);
  if (at !== null) return at;
  if (bind === STB_WEAK) return 0;
  return noexec(obj.name, `undefined symbol ${s.name}`);
}

/**
 * Apply every DT_RELA and DT_JMPREL relocation of `obj`. Consecutive words
 * are written with one copyToUser. Entry: no lock held; obj is mapped.
 * Throws ExecFailure: ENOEXEC for an unsupported type, a target outside the
 * writable segments or an undefined symbol; ENOMEM when the write cannot fault its page in.
 */
export function relocate(env: ExecEnv, obj: Dso, scope: Dso[], cache: SymCache): number {
  const writes: [number, number][] = [];
  for (const { what, bytes } of obj.dyn.relaTables) {
    for (let i = 0, off = 0; off + RELA_SIZE <= bytes.length; i++, off += RELA_SIZE) {
      const target = bytes.u32(off + RELA.offset);
      const info = bytes.u32(off + RELA.info);
      const addend = bytes.i32(off + RELA.addend);
      const type = relaType(info);
      if (type === R_RISCV_NONE) continue;
      const tname = R_RISCV_NAMES[type] ?? `type ${type}`;
      let value: number;
      if (type === R_RISCV_RELATIVE) value = obj.base + addend;
      else if (type === R_RISCV_32 || type === R_RISCV_JUMP_SLOT) {
        value = resolve(obj, relaSym(info), scope, cache) + addend;
      } else {
        return noexec(obj.name, `unsupported relocation ${tname} (${type}) in ${what}[${i}]`);
      }
      if (!inWritableLoad(obj.img, target, 4)) {
        noexec(
          obj.name,
          `${tname} at ${hex(target)} (${what}[${i}]) patches a read-only segment: ` +
            "a text relocation would break sharing",
        );
      }
      writes.push([obj.base + target, value >>> 0]);
    }
  }
  writeWords(env, obj, writes);
  return writes.length;
}

/** Write (address, word) pairs, coalescing runs of consecutive addresses. */
function writeWords(env: ExecEnv, obj: Dso, writes: [number, number][]): void {
  writes.sort((a, b) => a[0] - b[0]);
  for (let i = 0; i < writes.length;) {
    let j = i + 1;
    while (j < writes.length && writes[j]![0] === writes[j - 1]![0] + 4) j++;
    const buf = new Uint8Array(4 * (j - i));
    const dv = new DataView(buf.buffer);
    for (let k = i; k < j; k++) dv.setUint32(4 * (k - i), writes[k]![1], true);
    const at = writes[i]![0];
    const r = copyToUser(env.mem, env.mm, asVirt(at), buf);
    if (r < 0) {
      throw new ExecFailure(ENOMEM, `${obj.name}: relocation: ${writeFault(at, buf.length)}`);
    }
    i = j;
  }
}

/**
 * Make PT_GNU_RELRO read-only, whole pages only (as glibc's
 * _dl_protect_relro: the page holding the end stays writable). Entry: no
 * lock held; doMprotect takes and drops mmap_lock for writing (and the
 * page-table lock to weaken PTEs).
 *
 * @throws ExecFailure when the mprotect fails
 */
export function protectRelro(env: ExecEnv, obj: Dso): void {
  const relro = obj.img.relro;
  if (relro === null) return;
  const start = pageRoundDown(obj.base + relro.vaddr);
  const end = pageRoundDown(obj.base + relro.vaddr + relro.memsz);
  if (end <= start) return;
  const r = doMprotect(env.mem, env.mm, start, end - start, PROT_READ);
  if (r < 0) throw new ExecFailure(-r, `${obj.name}: RELRO mprotect at ${hex(start)} failed`);
}

// ---------------------------------------------------------------------------
// Initialisation and termination order.

/** Objects with their dependencies first (depth-first postorder from the program). */
export function initOrder(prog: Dso): Dso[] {
  const out: Dso[] = [];
  const seen = new Set<Dso>();
  const visit = (d: Dso): void => {
    if (seen.has(d)) return;
    seen.add(d);
    for (const dep of d.deps) visit(dep);
    out.push(d);
  };
  visit(prog);
  return out;
}

/** The function pointers of a DT_*_ARRAY, read from the (relocated) process memory. */
function readArray(
  env: ExecEnv,
  obj: Dso,
  range: { vaddr: number; size: number } | null,
): number[] {
  if (range === null) return [];
  const at = obj.base + range.vaddr;
  const b = copyFromUser(env.mem, env.mm, asVirt(at), range.size);
  if (typeof b === "number") noexec(obj.name, `init/fini array at ${hex(at)} is not mapped`);
  const dv = new DataView(b.buffer);
  const out: number[] = [];
  // 0 and -1 are placeholders some linkers leave; glibc would call them and crash.
  for (let k = 0; k < range.size; k += 4) {
    const fn = dv.getUint32(k, true);
    if (fn !== 0 && fn !== 0xffff_ffff) out.push(fn);
  }
  return out;
}

/** Refuse an init/fini pointer that is not inside some object's executable segment. */
function checkCode(all: Dso[], obj: Dso, fn: number, what: string): VirtAddr {
  if (!all.some((d) => inExecLoad(d.img, fn - d.base))) {
    noexec(obj.name, `${what} entry ${hex(fn)} is not in an executable segment`);
  }
  return asVirt(fn);
}

/**
 * The init calls (program DT_PREINIT_ARRAY, then per object in dependency
 * order DT_INIT and DT_INIT_ARRAY) and the fini calls (reverse order: per
 * object, program first, DT_FINI_ARRAY backwards then DT_FINI). Entry: no
 * lock held; every object is mapped. Reading each array takes and drops
 * mmap_lock for reading (copyFromUser).
 *
 * @throws ExecFailure when an array is not mapped or a call does not point
 *   into an object's code
 */
export function initFiniCalls(
  env: ExecEnv,
  all: Dso[],
): { initCalls: VirtAddr[]; finiCalls: VirtAddr[] } {
  const prog = all[0]!;
  const order = initOrder(prog);
  const initCalls: VirtAddr[] = [];
  for (const fn of readArray(env, prog, prog.dyn.preinitArray)) {
    initCalls.push(checkCode(all, prog, fn, "DT_PREINIT_ARRAY"));
  }
  for (const d of order) {
    if (d.dyn.init !== 0) initCalls.push(checkCode(all, d, d.base + d.dyn.init, "DT_INIT"));
    for (const fn of readArray(env, d, d.dyn.initArray)) {
      initCalls.push(checkCode(all, d, fn, "DT_INIT_ARRAY"));
    }
  }
  const finiCalls: VirtAddr[] = [];
  for (const d of [...order].reverse()) {
    for (const fn of readArray(env, d, d.dyn.finiArray).reverse()) {
      finiCalls.push(checkCode(all, d, fn, "DT_FINI_ARRAY"));
    }
    if (d.dyn.fini !== 0) finiCalls.push(checkCode(all, d, d.base + d.dyn.fini, "DT_FINI"));
  }
  return { initCalls, finiCalls };
}
