/**
 * execve: load an ELF32 RISC-V program into a fresh address space, and
 * say how to start it (Linux's load_elf_binary). The one entry point for
 * every exec, the Machine's spawn and a guest's execve alike.
 *
 * Two paths, chosen by the program itself:
 * - PT_INTERP (a musl program: /lib/ld-musl-riscv32.so.1), as Linux does
 *   it: map the program and the interpreter, both in place from their
 *   files, build the auxiliary vector (AT_PHDR of the program, AT_BASE of
 *   the interpreter, AT_ENTRY, AT_RANDOM, ...) and start at the
 *   interpreter's entry. The interpreter then maps the libraries and
 *   relocates everything in user space. The kernel parses nothing of the
 *   program beyond its headers. A missing interpreter is ENOENT; one that
 *   is not a loadable ELF file, or asks for an interpreter itself, is
 *   ELIBBAD (load_elf_binary's answer for a bad interpreter header).
 * - No PT_INTERP (libxc programs, static programs): the work of ld.so is
 *   done here, in the kernel (dynlink.ts).
 *
 * Steps of the kernel-linked path, each failing with an ExecError (errno +
 * one-line reason naming the file) rather than a throw:
 *   1. open and parse the program, then breadth-first every DT_NEEDED
 *      library (headers, dynamic section, symbol and hash tables, via pread);
 *      nothing is mapped until every object has parsed
 *   2. map each object (exec_map.ts): the program at its link address
 *      (ET_EXEC) or at PIE_BASE (ET_DYN), libraries top-down below mmapBase
 *   3. relocate every object eagerly (RELATIVE, 32, JUMP_SLOT), then
 *      mprotect each PT_GNU_RELRO read-only
 *   4. collect the init and fini functions, dependencies first
 *   5. build the stack (exec_stack.ts) and set the heap start
 *   6. map the [vdso] page (vdso.ts), where signal handlers return to
 *
 * On failure the mm holds whatever was mapped so far: the caller discards it
 * with exitMmap (as Linux, past the point of no return, kills the task).
 * exec's own temporaries are JS objects and the files it opened, which it
 * closes on every path.
 *
 * Starting the process (the process layer's duty; see execStartStep):
 * ```
 *   step = 0; hart.pc = execStartStep(hart.x, res, step++)
 *   pageFault(va, access, cause): if va === INIT_RETURN (a fetch fault) and
 *     step <= res.initCalls.length: hart.pc = execStartStep(hart.x, res, step++); retry
 * ```
 * Each init function is called with a0 = argc, a1 = argv, a2 = envp (as
 * glibc does), sp = res.sp and ra = INIT_RETURN, an address above
 * TASK_SIZE that can never be mapped: its `ret` traps as a fetch page fault
 * at INIT_RETURN, which the process layer takes as "returned". The last step
 * jumps to the entry with every register zero except sp, and a0 = 0 (no
 * rtld_fini, guest/README.md).
 *
 * @module
 */

import {
  AT_BASE,
  AT_CLKTCK,
  AT_EGID,
  AT_ENTRY,
  AT_EUID,
  AT_FLAGS,
  AT_GID,
  AT_HWCAP,
  AT_PAGESZ,
  AT_PHDR,
  AT_PHENT,
  AT_PHNUM,
  AT_SECURE,
  AT_UID,
  ET_EXEC,
  hwcapBit,
  PHDR_SIZE,
} from "../abi/elf.ts";
import { EACCES, EINVAL, ELIBBAD, ENOENT, ENOEXEC, ENOMEM, ETXTBSY } from "../abi/errno.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asVirt, PAGE_MASK, PAGE_SIZE, type VirtAddr } from "../abi/types.ts";
import { setBrkStart } from "../mm/mmap.ts";
import {
  DEFAULT_LIBRARY_PATH,
  type Dso,
  initFiniCalls,
  ldLibraryPath,
  loadNeeded,
  protectRelro,
  relocate,
} from "./dynlink.ts";
import { checkEntry, type ElfImage, readElf, readInterpPath } from "./binfmt_elf.ts";
import { readDynamic } from "./elf_dyn.ts";
import { mapImage } from "./exec_map.ts";
import { type ArgString, argText, checkArgs, setupStack, STACK_SIZE } from "./exec_stack.ts";
import { installVdso } from "./vdso.ts";
import {
  type ExecEnv,
  type ExecError,
  ExecFailure,
  type ExecFile,
  type ExecOptions,
  type ExecResult,
  type LoadedObject,
} from "./exec_types.ts";

export * from "./exec_types.ts";
export { STACK_SIZE, STACK_TOP } from "./exec_stack.ts";

/**
 * Where a PIE program (ET_DYN) is loaded: low, like the static programs'
 * link address, so page 0 and the pages up to here stay unmapped and the
 * heap grows up from just above the program, far below the libraries.
 */
export const PIE_BASE = 0x1_0000;

/**
 * The return address given to init functions. It is above TASK_SIZE, so no
 * VMA can ever cover it and the `ret` of an init function always traps with
 * a fetch page fault at exactly this address.
 */
export const INIT_RETURN = 0xffff_f000;

/** AT_CLKTCK: the tick rate times(2) would count in (Linux's USER_HZ). */
const USER_HZ = 100;

/**
 * Load `path` into env.mm (a fresh, empty address space) with `argv` and
 * `envp`. Entry: no lock held; nothing else uses env.mm yet.
 *
 * @returns how to start the process, or an ExecError: ENOENT (the program
 *   or a library not found), EACCES, ENOEXEC (malformed or unsupported file,
 *   text relocation, undefined symbol, bad relocation), E2BIG (arguments),
 *   ENOMEM (no room, or no memory to fault a page in), EINVAL (bad options). After an
 *   error the caller must tear the mm down with exitMmap.
 */
export function execve(
  env: ExecEnv,
  path: string,
  argv: ArgString[],
  envp: ArgString[],
  opts: ExecOptions = {},
): ExecResult | ExecError {
  const opened: ExecFile[] = [];
  try {
    return load(env, path, argv, envp, opts, opened);
  } catch (e) {
    if (e instanceof ExecFailure) return { errno: e.errno, reason: e.reason };
    throw e;
  } finally {
    for (const f of opened) f.close();
  }
}

/** Parse one opened library into a Dso (not yet mapped). */
function openDso(file: ExecFile, name: string, path: string): Dso {
  const img = readElf(file, name);
  const dyn = readDynamic(file, img);
  return { name, path, file, img, dyn, base: 0, start: 0, end: 0, deps: [] };
}

function openFailure(path: string, errno: number): ExecFailure {
  const why = errno === ENOENT
    ? "no such file"
    : errno === EACCES
    ? "permission denied"
    : errno === ENOEXEC
    ? "not a regular file"
    : errno === ETXTBSY
    ? "text file busy (open for writing)"
    : `cannot open (errno ${errno})`;
  return new ExecFailure(errno, `${path}: ${why}`);
}

function load(
  env: ExecEnv,
  path: string,
  argv: ArgString[],
  envp: ArgString[],
  opts: ExecOptions,
  opened: ExecFile[],
): ExecResult {
  const mode = opts.textMode ?? "map";
  const stackSize = opts.stackSize ?? STACK_SIZE;
  if ((stackSize & PAGE_MASK) !== 0 || stackSize < 4 * PAGE_SIZE || stackSize > 0x1000_0000) {
    throw new ExecFailure(EINVAL, `${path}: bad stack size ${stackSize}`);
  }
  checkArgs(path, argv, envp, stackSize);
  const f = env.openExec(path);
  if (typeof f === "number") throw openFailure(path, -f);
  opened.push(f);

  const progImg = readElf(f, path);
  checkEntry(progImg);
  if (progImg.interp !== null) {
    return loadInterpreted(env, path, f, progImg, { argv, envp, opts, stackSize }, opened);
  }

  // 1. Parse everything before mapping anything.
  const prog: Dso = {
    name: path,
    path,
    file: f,
    img: progImg,
    dyn: readDynamic(f, progImg),
    base: 0,
    start: 0,
    end: 0,
    deps: [],
  };
  const searchPath = [
    ...ldLibraryPath(envp.map(argText)),
    ...(opts.libraryPath ?? DEFAULT_LIBRARY_PATH),
  ];
  const all = loadNeeded(env, [prog], opened, searchPath, openDso);

  // 2. Map.
  for (const d of all) {
    const at = d !== prog ? null : d.img.type === ET_EXEC ? d.img.minVaddr : PIE_BASE;
    const m = mapImage(env, d.file, d.img, mode, at);
    d.base = m.base;
    d.start = m.start;
    d.end = m.end;
  }

  // 3. Relocate, then seal RELRO (the GOT is inside it with -z now).
  const cache = new Map<string, number | null>();
  for (const d of all) relocate(env, d, all, cache);
  for (const d of all) protectRelro(env, d);

  // 4. Init and fini functions.
  const { initCalls, finiCalls } = initFiniCalls(env, all);

  // 5. Stack and heap.
  const entry = (prog.base + prog.img.entry) >>> 0;
  const loaded = all.map((d) =>
    loadedObject(d.path, d.name, d.img, d.base, d.start, d.end, d.dyn.needed)
  );
  return startImage(env, path, prog, entry, 0, { argv, envp, opts, stackSize }, loaded, {
    initCalls,
    finiCalls,
  });
}

/** What a load path passes on to the stack setup. */
interface ExecArgs {
  argv: ArgString[];
  envp: ArgString[];
  opts: ExecOptions;
  stackSize: number;
}

/** Where an object landed (a Dso, or the interpreter, which exec does not parse as one). */
interface Placed {
  img: ElfImage;
  base: number;
  end: number;
}

function loadedObject(
  path: string,
  name: string,
  img: ElfImage,
  base: number,
  start: number,
  end: number,
  needed: string[],
): LoadedObject {
  return {
    path,
    name,
    base: asVirt(base),
    start: asVirt(start),
    end: asVirt(end),
    dynamic: asVirt(img.dynamic === null ? 0 : base + img.dynamic.vaddr),
    needed,
  };
}

/**
 * The PT_INTERP path: map the program and its interpreter, and start at
 * the interpreter's entry with AT_BASE naming where it went. Nothing is
 * relocated and no init function is called here: the interpreter does both.
 */
function loadInterpreted(
  env: ExecEnv,
  path: string,
  file: ExecFile,
  img: ElfImage,
  args: ExecArgs,
  opened: ExecFile[],
): ExecResult {
  const mode = args.opts.textMode ?? "map";
  const ipath = readInterpPath(file, img);
  const fi = env.openExec(ipath);
  if (typeof fi === "number") {
    const f = openFailure(ipath, -fi);
    throw new ExecFailure(f.errno, `${path}: interpreter ${f.reason}`);
  }
  opened.push(fi);
  const iimg = readInterpreter(path, ipath, fi);

  const prog = mapImage(env, file, img, mode, img.type === ET_EXEC ? img.minVaddr : PIE_BASE);
  const interp = mapImage(env, fi, iimg, mode, iimg.type === ET_EXEC ? iimg.minVaddr : null);
  const entry = (interp.base + iimg.entry) >>> 0;
  const loaded = [
    loadedObject(path, path, img, prog.base, prog.start, prog.end, []),
    loadedObject(ipath, ipath, iimg, interp.base, interp.start, interp.end, []),
  ];
  return startImage(
    env,
    path,
    { img, base: prog.base, end: prog.end },
    entry,
    interp.base,
    args,
    loaded,
    {
      initCalls: [],
      finiCalls: [],
    },
  );
}

/**
 * Parse the interpreter's headers. Anything that makes it unloadable is
 * ELIBBAD, as Linux answers for a bad interpreter; so is an interpreter
 * that names an interpreter itself (Linux ignores it; xip refuses the
 * recursion outright).
 */
function readInterpreter(path: string, ipath: string, fi: ExecFile): ElfImage {
  try {
    const iimg = readElf(fi, ipath);
    if (iimg.interp !== null) {
      throw new ExecFailure(ELIBBAD, `${ipath} requests an interpreter itself`);
    }
    checkEntry(iimg);
    return iimg;
  } catch (e) {
    if (!(e instanceof ExecFailure) || (e.errno !== ENOEXEC && e.errno !== ELIBBAD)) throw e;
    throw new ExecFailure(ELIBBAD, `${path}: bad interpreter: ${e.reason}`);
  }
}

/**
 * Build the stack with the auxiliary vector (create_elf_tables) and set
 * the heap start after the program.
 */
function startImage(
  env: ExecEnv,
  path: string,
  prog: Placed,
  entry: number,
  interpBase: number,
  args: ExecArgs,
  loaded: LoadedObject[],
  calls: { initCalls: VirtAddr[]; finiCalls: VirtAddr[] },
): ExecResult {
  const img = prog.img;
  const progEntry = (prog.base + img.entry) >>> 0;
  const auxv: [number, number][] = [
    [AT_HWCAP, hwcapBit("i") | hwcapBit("m") | hwcapBit("a")],
    [AT_PAGESZ, PAGE_SIZE],
    [AT_CLKTCK, USER_HZ],
    [AT_PHDR, img.phdrVaddr < 0 ? 0 : prog.base + img.phdrVaddr],
    [AT_PHENT, PHDR_SIZE],
    [AT_PHNUM, img.phnum],
    [AT_BASE, interpBase], // 0 when no interpreter was loaded
    [AT_FLAGS, 0],
    [AT_ENTRY, progEntry],
    [AT_UID, 0],
    [AT_EUID, 0],
    [AT_GID, 0],
    [AT_EGID, 0],
    [AT_SECURE, 0],
  ];
  const { argv, envp, opts, stackSize } = args;
  const random = opts.random ?? crypto.getRandomValues(new Uint8Array(16));
  const st = setupStack(env, path, { argv, envp, execfn: path, auxv, random }, stackSize);
  setBrkStart(env.mem, env.mm, prog.end);
  // 6. The [vdso] page signal handlers return through (vdso.ts), mapped
  // last as Linux's arch_setup_additional_pages does.
  if (installVdso(env.mem, env.mm) < 0) {
    throw new ExecFailure(ENOMEM, `${path}: no room for the [vdso] page`);
  }

  return {
    entry: asVirt(entry),
    sp: st.sp,
    argc: argv.length,
    argvPtr: st.argvPtr,
    envpPtr: st.envpPtr,
    initCalls: calls.initCalls,
    finiCalls: calls.finiCalls,
    brkStart: asVirt(prog.end),
    stackTop: st.top,
    stackBottom: st.bottom,
    loaded,
    auxv: st.auxv,
  };
}

/** Register numbers the start-up sequence sets. */
const RA = 1, SP = 2, A0 = 10, A1 = 11, A2 = 12;

/**
 * Set up register file `x` (a hart's x0..x31) for start-up step `step` of
 * `res` and return the pc to run from. Steps 0 .. initCalls.length - 1 call
 * the init functions (a0 = argc, a1 = argv, a2 = envp, sp = res.sp, ra =
 * INIT_RETURN); step initCalls.length enters the program with every
 * register 0 except sp (and a0 = 0: no rtld_fini). The process layer calls
 * it once before the first run and again each time the hart faults on a
 * fetch at INIT_RETURN.
 *
 * @throws KernelPanic for a step past the entry (a second return to INIT_RETURN)
 */
export function execStartStep(x: Int32Array, res: ExecResult, step: number): VirtAddr {
  const n = res.initCalls.length;
  if (step < 0 || step > n) throw new KernelPanic("execStartStep", `step ${step} of ${n}`);
  x.fill(0);
  x[SP] = res.sp;
  if (step === n) return res.entry;
  x[RA] = INIT_RETURN | 0;
  x[A0] = res.argc;
  x[A1] = res.argvPtr;
  x[A2] = res.envpPtr;
  return res.initCalls[step]!;
}

/** Is a fetch fault at `va` an init function returning (see execStartStep)? */
export const isInitReturn = (va: VirtAddr | number): boolean => va >>> 0 === INIT_RETURN;
