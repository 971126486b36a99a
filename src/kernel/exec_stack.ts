/**
 * The initial process stack (Linux's setup_arg_pages, copy_strings and
 * create_elf_tables), at the top of user space:
 *
 * ```
 *  STACK_TOP ─────────────────────────────  (TASK_SIZE - PAGE_SIZE)
 *     4 zero bytes
 *     execfn string (AT_EXECFN)
 *     envp strings, envp[0] lowest
 *     argv strings, argv[0] lowest
 *     (down to a 16-byte boundary)
 *     16 AT_RANDOM bytes
 *     (padding so that sp is 16-byte aligned)
 *     auxv pairs ... AT_NULL, 0
 *     NULL, envp[envc-1] ... envp[0]
 *     NULL, argv[argc-1] ... argv[0]
 *  sp → argc
 *  ...  grows down to STACK_TOP - stackSize (one anonymous VM_GROWSDOWN VMA,
 *       faulted in page by page; only the pages written here are populated)
 * ```
 *
 * @module
 */

import { AT_EXECFN, AT_NULL, AT_RANDOM } from "../abi/elf.ts";
import { E2BIG, ENOMEM } from "../abi/errno.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_PRIVATE,
  MAP_STACK,
  PROT_READ,
  PROT_WRITE,
} from "../abi/mman.ts";
import { asVirt, PAGE_SIZE, type VirtAddr } from "../abi/types.ts";
import { TASK_SIZE } from "../mm/mm.ts";
import { doMmap } from "../mm/mmap.ts";
import { copyToUser } from "../mm/uaccess.ts";
import { writeFault } from "./exec_map.ts";
import { type ExecEnv, ExecFailure } from "./exec_types.ts";

/** The stack VMA's size: Linux's default RLIMIT_STACK. */
export const STACK_SIZE = 8 * 1024 * 1024;
/**
 * The stack ends one page below the top of user space; the page left over
 * is a guard, like Linux's gap above the stack (and the init-return address
 * exec.ts uses lies above TASK_SIZE, never mapped).
 */
export const STACK_TOP = TASK_SIZE - PAGE_SIZE;
/** The longest single argument or environment string (Linux's MAX_ARG_STRLEN, 32 pages). */
export const MAX_ARG_STRLEN = 32 * 4096;

/**
 * An argument or environment string: text (written as UTF-8) or the exact
 * bytes (a host argv that is not UTF-8 passes unchanged). No NUL inside.
 */
export type ArgString = string | Uint8Array;

/** The bytes of `s` with its terminating NUL. */
export function argBytes(s: ArgString): Uint8Array {
  if (typeof s === "string") return enc.encode(s + "\0");
  const b = new Uint8Array(s.length + 1);
  b.set(s);
  return b;
}

const dec = new TextDecoder();
/** `s` as text (bytes that are not UTF-8 become U+FFFD), for lookups such as LD_LIBRARY_PATH. */
export const argText = (s: ArgString): string => (typeof s === "string" ? s : dec.decode(s));

/** What goes on the stack. */
export interface StackArgs {
  argv: ArgString[];
  envp: ArgString[];
  /** The path that was executed (AT_EXECFN). */
  execfn: string;
  /** Auxv pairs in order, without AT_RANDOM, AT_EXECFN and AT_NULL (added here). */
  auxv: [number, number][];
  /** 16 bytes for AT_RANDOM. */
  random: Uint8Array;
}

/** The built stack. */
export interface StackLayout {
  sp: VirtAddr;
  argvPtr: VirtAddr;
  envpPtr: VirtAddr;
  top: VirtAddr;
  bottom: VirtAddr;
  /** The auxv as written, AT_NULL excluded. */
  auxv: [number, number][];
}

const enc = new TextEncoder();

/**
 * Check the argument and environment strings fit: each under
 * MAX_ARG_STRLEN, all together under a quarter of the stack (as Linux).
 * Throws ExecFailure(E2BIG) otherwise.
 */
export function checkArgs(
  name: string,
  argv: ArgString[],
  envp: ArgString[],
  stackSize: number,
): void {
  let total = 0;
  for (const s of [...argv, ...envp]) {
    const n = argBytes(s).length;
    if (n > MAX_ARG_STRLEN) throw new ExecFailure(E2BIG, `${name}: an argument is ${n} bytes long`);
    total += n + 4;
  }
  if (total > stackSize / 4) {
    throw new ExecFailure(E2BIG, `${name}: ${total} bytes of arguments and environment`);
  }
}

/**
 * Map the stack VMA and write argc, argv, envp, auxv and the strings.
 * Entry: no lock held; the mm is private to the exec.
 *
 * @returns the layout; throws ExecFailure (ENOMEM when the stack range is
 *   taken or memory runs out)
 */
export function setupStack(
  env: ExecEnv,
  name: string,
  args: StackArgs,
  stackSize: number,
): StackLayout {
  const bottom = STACK_TOP - stackSize;
  const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_GROWSDOWN | MAP_STACK;
  const r = doMmap(env.mem, env.mm, bottom, stackSize, PROT_READ | PROT_WRITE, flags);
  if (r < 0) throw new ExecFailure(ENOMEM, `${name}: cannot map the stack (errno ${-r})`);

  // Strings, from the top down: a zero word, execfn, envp, argv.
  const argvB = args.argv.map(argBytes);
  const envpB = args.envp.map(argBytes);
  const fnB = enc.encode(args.execfn + "\0");
  let p = STACK_TOP - 4;
  p -= fnB.length;
  const execfnAt = p;
  const envpAt = new Array<number>(envpB.length);
  const argvAt = new Array<number>(argvB.length);
  p -= envpB.reduce((n, b) => n + b.length, 0);
  for (let i = 0, q = p; i < envpB.length; q += envpB[i]!.length, i++) envpAt[i] = q;
  p -= argvB.reduce((n, b) => n + b.length, 0);
  for (let i = 0, q = p; i < argvB.length; q += argvB[i]!.length, i++) argvAt[i] = q;
  const stringsAt = p;
  p &= ~15;
  p -= 16;
  const randomAt = p;

  const auxv: [number, number][] = [
    ...args.auxv,
    [AT_RANDOM, randomAt],
    [AT_EXECFN, execfnAt],
  ];
  const words = 1 + argvB.length + 1 + envpB.length + 1 + 2 * (auxv.length + 1);
  const sp = (p - 4 * words) & ~15;
  if (sp < bottom) throw new ExecFailure(ENOMEM, `${name}: arguments do not fit the stack`);

  // One image of [sp, STACK_TOP), written with a single copyToUser.
  const img = new Uint8Array(STACK_TOP - sp);
  const dv = new DataView(img.buffer);
  let w = 0;
  const put = (v: number): void => {
    dv.setUint32(w, v >>> 0, true);
    w += 4;
  };
  put(argvB.length);
  for (const a of argvAt) put(a);
  put(0);
  for (const e of envpAt) put(e);
  put(0);
  for (const [t, v] of auxv) {
    put(t);
    put(v);
  }
  put(AT_NULL);
  put(0);
  img.set(args.random.subarray(0, 16), randomAt - sp);
  let q = stringsAt - sp;
  for (const b of [...argvB, ...envpB, fnB]) {
    img.set(b, q);
    q += b.length;
  }
  const wr = copyToUser(env.mem, env.mm, asVirt(sp), img);
  if (wr < 0) throw new ExecFailure(ENOMEM, `${name}: stack: ${writeFault(sp, img.length)}`);
  return {
    sp: asVirt(sp),
    argvPtr: asVirt(sp + 4),
    envpPtr: asVirt(sp + 4 * (argvB.length + 2)),
    top: asVirt(STACK_TOP),
    bottom: asVirt(bottom),
    auxv,
  };
}
