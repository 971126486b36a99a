/**
 * The types exec shares with its callers: the narrow seam to the rest of the
 * kernel (ExecEnv, ExecFile), the options, and the result. Kept apart from
 * exec.ts so that the parser and the dynamic linker can name them without
 * an import cycle.
 *
 * @module
 */

import { type MmId, type VirtAddr } from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";

/**
 * What exec needs from the rest of the kernel. The process layer implements
 * it over the VFS; tests implement it over host files.
 */
export interface ExecEnv {
  mem: Memory;
  /** The (fresh, otherwise empty) address space to load into. */
  mm: MmId;
  /**
   * Open a file for exec.
   *
   * @returns a handle, or -ENOENT (no such file), -EACCES (not executable,
   *   or a directory on the path is not searchable), -ENOEXEC (not a regular file)
   */
  openExec(path: string): ExecFile | number;
}

/**
 * An open file, as exec uses it. exec closes every handle it opened before
 * it returns.
 *
 * Write denial (Linux's deny_write_access; src/fs/write_access.ts): an
 * ExecFile is opened with writes denied (openExec fails with -ETXTBSY when
 * the file is open for writing), until close(); every mapping made through
 * `mmap` denies writes for as long as it exists. So whatever exec opens
 * through env.openExec and maps this way (the program, its PT_INTERP
 * interpreter, the DT_NEEDED libraries exec maps) cannot be rewritten under
 * the processes that run it; a file a process maps itself with mmap(2) can.
 */
export interface ExecFile {
  /** Size in bytes. */
  readonly size: number;
  /**
   * Read up to `dst.length` bytes at `pos`.
   *
   * @returns the bytes read (short only at end of file), or -errno
   */
  pread(pos: number, dst: Uint8Array): number;
  /**
   * Map [pgoff, pgoff + len) of the file (pgoff in pages) at `addr` with
   * `prot`; `flags` is MAP_PRIVATE | MAP_FIXED (exec never maps shared).
   * The mapping holds its own reference to the file, so close() does not
   * end it. Only used in textMode "map".
   *
   * @returns `addr`, or -errno
   */
  mmap(addr: number, len: number, prot: number, flags: number, pgoff: number): number;
  close(): void;
}

/** Options of execve. */
export interface ExecOptions {
  /**
   * "map" (default): PT_LOAD segments are mapped from the file, MAP_PRIVATE
   * (text shared with the page cache or the DAX device, data COW on the
   * first write). "copy": every segment is anonymous memory filled with
   * copyToUser, so no file faults are needed and nothing is shared.
   */
  textMode?: "map" | "copy";
  /**
   * Directories searched for DT_NEEDED libraries after LD_LIBRARY_PATH
   * (taken from envp). Default ["/lib", "/usr/lib"].
   */
  libraryPath?: string[];
  /** Bytes reserved for the stack VMA (default STACK_SIZE, 8 MiB). */
  stackSize?: number;
  /** The 16 AT_RANDOM bytes (default: crypto.getRandomValues). Tests pin them. */
  random?: Uint8Array;
}

/** One object loaded into the process, in load (breadth-first) order: the program first. */
export interface LoadedObject {
  /** The path exec opened. */
  path: string;
  /** The name it was asked for (the program path, or the DT_NEEDED string). */
  name: string;
  /** Load bias: the amount added to every p_vaddr (0 for ET_EXEC). */
  base: VirtAddr;
  /** Lowest and highest (exclusive, page-rounded) address the object occupies. */
  start: VirtAddr;
  end: VirtAddr;
  /** Run-time address of its dynamic section, 0 when it has none. */
  dynamic: VirtAddr;
  /** Its DT_NEEDED strings, in order. */
  needed: string[];
}

/** A successful exec: how to start the process. */
export interface ExecResult {
  /** The program's entry point (after bias). */
  entry: VirtAddr;
  /** The initial stack pointer, 16-byte aligned, pointing at argc. */
  sp: VirtAddr;
  argc: number;
  /** Where argv[0] and envp[0] are on the new stack (the init functions' a1 and a2). */
  argvPtr: VirtAddr;
  envpPtr: VirtAddr;
  /**
   * Functions to call before `entry`, in order: the program's
   * DT_PREINIT_ARRAY, then for each object with its dependencies first its
   * DT_INIT and DT_INIT_ARRAY. See execStartStep for how to run them.
   */
  initCalls: VirtAddr[];
  /**
   * Termination functions in the order they should run (the reverse of
   * initialisation: DT_FINI_ARRAY backwards, then DT_FINI, program first).
   * The process is started with a0 = 0, so crt0 does not register them; a
   * process layer that wants them run at exit calls them itself.
   */
  finiCalls: VirtAddr[];
  /** The heap start given to setBrkStart: the page after the program's highest segment. */
  brkStart: VirtAddr;
  /** Top (exclusive) and bottom of the stack VMA. */
  stackTop: VirtAddr;
  stackBottom: VirtAddr;
  /** Every object loaded, program first. */
  loaded: LoadedObject[];
  /** The auxiliary vector as written to the stack, [type, value] pairs, AT_NULL excluded. */
  auxv: [number, number][];
}

/** A failed exec: the errno for the syscall and a one-line reason naming the file. */
export interface ExecError {
  errno: number;
  reason: string;
}

/** Did execve fail? */
export const isExecError = (r: ExecResult | ExecError): r is ExecError =>
  (r as ExecError).errno !== undefined;

/**
 * Aborts a load from deep inside the parser or the linker. Private to
 * src/kernel/exec*: execve catches it and returns it as an ExecError, so
 * nothing a file contains ever throws out of execve.
 */
export class ExecFailure extends Error {
  override name = "ExecFailure";
  readonly reason: string;
  constructor(readonly errno: number, reason: string) {
    const line = oneLine(reason);
    super(line);
    this.reason = line;
  }
}

/**
 * `s` with control characters written as \xNN: names in a reason come from
 * the file (a DT_NEEDED string, a symbol name) and must not break the line.
 */
export function oneLine(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    out += c < 0x20 || c === 0x7f ? `\\x${c.toString(16).padStart(2, "0")}` : ch;
  }
  return out;
}
