/**
 * The Machine's public types: its options, a process's handle and exit status, and its error (the API of machine.ts).
 *
 * @module
 */

import type { ArgString } from "./exec_stack.ts";
import { type ConsoleInput, type OutputSink } from "./console_host.ts";

/**
 * A Machine could not boot or do what was asked, for a reason the caller
 * can fix (a bad size or option, too many processes, a machine already shut
 * down). The message is one line.
 */
export class MachineError extends Error {
  /** Always "MachineError". */
  override name = "MachineError";
}

/** Options of {@linkcode Machine.boot}. Every field is optional. */
export interface BootOptions {
  /**
   * The device image: its bytes, or the path of an image file to load
   * (needs --allow-read; checked and locked first: src/hw/image_file.ts).
   * Absent: a fresh xipfs of `size` bytes, holding a copy of `from` when
   * given.
   */
  image?: Uint8Array | string;
  /** Device bytes when no image is given (default 16 MiB; a multiple of 4096). */
  size?: number;
  /** Host directory copied into a fresh image (mkfs --from); only without `image`. */
  from?: string;
  /** RAM bytes (default 64 MiB). */
  ram?: number;
  /** DAX policy of the mount (default "inode": per-file flag, as Linux's dax=inode). */
  dax?: "always" | "never" | "inode";
  /**
   * Host file that fsync makes guest writes durable in (blocks written in
   * place). Default: `image` when it is a path; null: none (a snapshot run,
   * or an image that must stay untouched until shutdown saves it).
   */
  imagePath?: string | null;
  /**
   * Crash testing: record every write and flush made on the image file in
   * this file (tests/crash/_log_writes.ts).
   */
  imageLog?: string;
  /** Device frames get struct pages ("device", ZONE_DEVICE-like) or not (default "none"). */
  memmap?: "none" | "device";
  /** Processes that may exist at once (default 16). */
  maxProcs?: number;
  /** Workers started at boot (default min(4, maxProcs)). */
  warm?: number;
  /**
   * The console input of processes spawned without their own: bytes, or a
   * host stream such as Deno.stdin, read only when a guest reads (one
   * stream, shared by those processes as a pipe would be). Default: none,
   * reads return 0.
   */
  stdin?: ConsoleInput;
  /** Prefix each output line with "[pid] " (xip run does when it runs several processes). */
  prefixOutput?: boolean;
  /**
   * Where console output goes unless spawn says otherwise. Default: this
   * process's own stdout/stderr, written by the guest's thread, so that a
   * guest sees the host's EPIPE or ENOSPC on its own write.
   */
  stdout?: OutputSink;
  /** Where processes' stderr goes unless spawn says otherwise (default: this process's stderr). */
  stderr?: OutputSink;
  /**
   * How exec places program text: "map" (default) maps it from the file,
   * in place when the file is DAX; "copy" reads it into anonymous memory
   * (a baseline for measurements).
   */
  textMode?: "map" | "copy";
  /**
   * How long idle Workers stay warm once no process exists, in ms (default
   * 250). Then they stop, so that a script which never calls shutdown()
   * still exits; the next spawn starts Workers again (15–40 ms each).
   * Infinity keeps them until shutdown() (which the script must then call).
   */
  keepWarmMs?: number;
  /** How long kill waits for a process to stop before terminating its Worker (default 2000 ms). */
  killGraceMs?: number;
  /** Check the lock order in every thread (slower; default false). */
  lockdep?: boolean;
  /** Trace every system call of every process to `log` (`xip run --strace`). */
  strace?: boolean;
  /**
   * Where the kernel's own lines go: --strace lines, and the one notice per
   * unimplemented system call number (default: this process's stderr).
   */
  log?: (line: string) => void;
  /**
   * Tier 1, guest code translated to WebAssembly (src/hw/jit): "off", "auto"
   * (a frame once it is hot) or "eager" (a frame at its first dispatch).
   * Default: XIP_JIT from the environment, else "auto".
   */
  jit?: "off" | "auto" | "eager";
  /** Debug: check translated code against its frame's bytes at every entry (XIP_JIT_CHECK=1). */
  jitCheck?: boolean;
}

/**
 * Options of {@linkcode Machine.prototype.spawn}. Every field is optional.
 * Giving stdin, stdout or stderr makes the process a console of its own;
 * what it does not give comes from the boot options (bytes given at boot
 * are read again from their start).
 */
export interface SpawnOptions {
  /** The environment: `["K=V", ...]` (strings, or exact bytes) or `{ K: "V" }` (default empty). */
  env?: ArgString[] | Record<string, string>;
  /** The process's current directory, a path in the image (default "/"). */
  cwd?: string;
  /** What the process reads from fd 0 (default: BootOptions.stdin, else nothing). */
  stdin?: ConsoleInput;
  /** Where its fd 1 goes (default: BootOptions.stdout, else this process's stdout). */
  stdout?: OutputSink;
  /** Where its fd 2 goes (default: BootOptions.stderr, else this process's stderr). */
  stderr?: OutputSink;
}

/** How a process ended. */
export interface ExitStatus {
  /** exit_group status, or 128 + signal when a signal killed it (139 for SIGSEGV). */
  code: number;
  /** The fatal signal, 0 for a normal exit. */
  signal: number;
  /** One line when the runtime decided the exit (exec failure, fault address, kill). */
  message?: string;
}

/** A spawned process: its pid, and a promise of how it ended. */
export interface Process {
  /** Its process id, allocated by spawn (1, 2, ... in spawn order on a fresh machine). */
  readonly pid: number;
  /** Resolves once the process has exited and been torn down completely. */
  wait(): Promise<ExitStatus>;
}
