/**
 * Test helper (not a test): Machines booted on the guest tree (fixtures'
 * rootfs, the static programs under /static, tiny assembled guests under
 * /t), a spawn-and-collect helper, and the checks every Machine test ends
 * with: every RAM frame is back except the page-cache pages still cached,
 * no task holds a lock, and the machine's invariants and fsck hold.
 *
 * @module
 */

import assert from "node:assert/strict";
import { AT_FDCWD, O_RDONLY } from "../../src/abi/fcntl.ts";
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import {
  SYS_exit_group,
  SYS_futex_time64,
  SYS_getpid,
  SYS_mmap2,
  SYS_munmap,
  SYS_openat,
} from "../../src/abi/syscall_nr.ts";
import { asTaskSlot, PAGE_SIZE, type TaskSlot } from "../../src/abi/types.ts";
import { PROC_FREE } from "../../src/abi/layout/mod.ts";
import { procGet } from "../../src/kernel/proc.ts";
import { pagecacheFrames } from "../../src/fs/pagecache/pagecache.ts";
import { type BootOptions, type ExitStatus, Machine } from "../../src/kernel/machine.ts";
import { heldLocks } from "../../src/sync/held.ts";
import * as asm from "../hw/_asm.ts";
import { makeGuestTree, tinyElf, within } from "../kernel/_guest_image.ts";
import { assertInvariants } from "../_invariants.ts";

export { within };

/** Where /t/isolate maps its private page. */
export const ISOLATE_VA = 0x4000_0000;

/**
 * /t/isolate: map one private anonymous page at ISOLATE_VA, store its pid
 * there, then load it back `rounds` times; exit 0 when it always read its
 * own pid, 1 as soon as it reads anything else, 3 when the mmap fails.
 */
export function isolateElf(rounds: number): Uint8Array {
  const p = new asm.Program();
  const { A0, A1, A2, A3, A4, A5, A7, S0, S1, T0, T1, ZERO } = asm;
  p.emit(...asm.li(A0, ISOLATE_VA), ...asm.li(A1, 4096), asm.addi(A2, ZERO, 3)); // PROT_READ|WRITE
  p.emit(asm.addi(A3, ZERO, 0x32), asm.addi(A4, ZERO, -1), asm.addi(A5, ZERO, 0)); // PRIVATE|FIXED|ANON
  p.emit(asm.addi(A7, ZERO, SYS_mmap2), asm.ecall());
  p.emit(...asm.li(S1, ISOLATE_VA));
  p.branch((off) => asm.bne(A0, S1, off), "mmapFailed");
  p.emit(asm.addi(A7, ZERO, SYS_getpid), asm.ecall(), asm.addi(S0, A0, 0));
  p.emit(asm.sw(S0, S1, 0), ...asm.li(T1, rounds));
  p.label("loop");
  p.emit(asm.lw(T0, S1, 0));
  p.branch((off) => asm.bne(T0, S0, off), "wrong");
  p.emit(asm.addi(T1, T1, -1));
  p.branch((off) => asm.bne(T1, ZERO, off), "loop");
  p.emit(asm.addi(A0, ZERO, 0), asm.addi(A7, ZERO, SYS_exit_group), asm.ecall());
  p.label("wrong");
  p.emit(asm.addi(A0, ZERO, 1), asm.addi(A7, ZERO, SYS_exit_group), asm.ecall());
  p.label("mmapFailed");
  p.emit(asm.addi(A0, ZERO, 3), asm.addi(A7, ZERO, SYS_exit_group), asm.ecall());
  return tinyElf(p.assemble());
}

/** Emit exit_group(code). */
function emitExit(p: asm.Program, code: number): void {
  p.emit(asm.addi(asm.A0, asm.ZERO, code), asm.addi(asm.A7, asm.ZERO, SYS_exit_group), asm.ecall());
}

/** Emit a FUTEX_WAIT loop on a stack word that stays 0: the process sleeps until killed. */
function emitSleepForever(p: asm.Program): void {
  const { A0, A1, A2, A3, A7, SP, ZERO } = asm;
  p.emit(asm.addi(SP, SP, -16), asm.sw(ZERO, SP, 0));
  p.label("sleep");
  p.emit(asm.addi(A0, SP, 0), asm.addi(A1, ZERO, 0), asm.addi(A2, ZERO, 0));
  p.emit(asm.addi(A3, ZERO, 0), asm.addi(A7, ZERO, SYS_futex_time64), asm.ecall());
  p.branch((off) => asm.jal(ZERO, off), "sleep");
}

/** Emit `mmap2(0, pages pages, prot, flags, fd in A4, 0)`, the address left in S0; "mmapFailed" on error. */
function emitMmap(p: asm.Program, pages: number, prot: number, flags: number): void {
  const { A0, A1, A2, A3, A5, A7, S0, T0, ZERO } = asm;
  p.emit(asm.addi(A0, ZERO, 0), ...asm.li(A1, pages * PAGE_SIZE));
  p.emit(asm.addi(A2, ZERO, prot), asm.addi(A3, ZERO, flags), asm.addi(A5, ZERO, 0));
  p.emit(asm.addi(A7, ZERO, SYS_mmap2), asm.ecall());
  p.emit(...asm.li(T0, -4096));
  p.branch((off) => asm.bgeu(A0, T0, off), "mmapFailed");
  p.emit(asm.addi(S0, A0, 0));
}

/**
 * A guest that opens `file`, mmaps `pages` pages of it MAP_SHARED read-only
 * and loads one word of each page (a fault maps the frame: the device frame
 * under DAX, a page-cache page otherwise). Then with `hold` it sleeps in
 * FUTEX_WAIT until killed, mapping in place; without, it munmaps and exits
 * 0. Exit 3: open failed; 4: mmap failed; 5: munmap failed.
 */
export function touchFileElf(file: string, pages: number, hold: boolean): Uint8Array {
  const p = new asm.Program();
  const { A0, A1, A2, A3, A4, A7, S0, S1, S2, SP, T0, ZERO } = asm;
  // The path, NUL-terminated, on the stack.
  const words = Math.ceil((file.length + 1) / 4);
  const path = new Uint8Array(words * 4);
  path.set(new TextEncoder().encode(file));
  const dv = new DataView(path.buffer);
  p.emit(asm.addi(SP, SP, -words * 4));
  for (let w = 0; w < words; w++) {
    p.emit(...asm.li(T0, dv.getInt32(w * 4, true)), asm.sw(T0, SP, w * 4));
  }
  p.emit(...asm.li(A0, AT_FDCWD), asm.addi(A1, SP, 0), asm.addi(A2, ZERO, O_RDONLY));
  p.emit(asm.addi(A3, ZERO, 0), asm.addi(A7, ZERO, SYS_openat), asm.ecall());
  p.branch((off) => asm.blt(A0, ZERO, off), "openFailed");
  p.emit(asm.addi(A4, A0, 0));
  emitMmap(p, pages, PROT_READ, MAP_SHARED);
  p.emit(asm.addi(S1, ZERO, 0), ...asm.li(S2, pages));
  p.label("touch");
  p.emit(asm.slli(T0, S1, 12), asm.add(T0, T0, S0), asm.lw(T0, T0, 0), asm.addi(S1, S1, 1));
  p.branch((off) => asm.bne(S1, S2, off), "touch");
  if (hold) {
    emitSleepForever(p);
  } else {
    p.emit(asm.addi(A0, S0, 0), ...asm.li(A1, pages * PAGE_SIZE));
    p.emit(asm.addi(A7, ZERO, SYS_munmap), asm.ecall());
    p.branch((off) => asm.bne(A0, ZERO, off), "munmapFailed");
    emitExit(p, 0);
  }
  p.label("openFailed");
  emitExit(p, 3);
  p.label("mmapFailed");
  emitExit(p, 4);
  p.label("munmapFailed");
  emitExit(p, 5);
  return tinyElf(p.assemble());
}

/** Exit status of hogElf when its mmap fails (ENOMEM's number, as a program would report it). */
export const HOG_MMAP_FAILED = 12;

/**
 * A guest that mmaps `pages * stride` private anonymous pages and stores a
 * distinct word in every `stride`-th one (each store faults in a fresh
 * frame; with a stride of 1024, a fresh page table too), reads every word
 * back, then sleeps in FUTEX_WAIT until killed, holding all of its memory.
 * `stride` is a power of two. Exit 1: a page lost its word;
 * HOG_MMAP_FAILED: the mmap failed.
 */
export function hogElf(pages: number, stride = 1): Uint8Array {
  const shift = 12 + Math.log2(stride);
  if (!Number.isInteger(shift)) throw new Error(`stride ${stride} is not a power of two`);
  const p = new asm.Program();
  const { A4, S0, S1, S2, T0, T1, T2, ZERO } = asm;
  p.emit(asm.addi(A4, ZERO, -1));
  emitMmap(p, pages * stride, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  p.emit(...asm.li(S2, pages), ...asm.li(T2, 0x5a5a0000));
  p.emit(asm.addi(S1, ZERO, 0));
  p.label("store");
  p.emit(asm.slli(T0, S1, shift), asm.add(T0, T0, S0), asm.xor(T1, S1, T2), asm.sw(T1, T0, 0));
  p.emit(asm.addi(S1, S1, 1));
  p.branch((off) => asm.bne(S1, S2, off), "store");
  p.emit(asm.addi(S1, ZERO, 0));
  p.label("check");
  p.emit(asm.slli(T0, S1, shift), asm.add(T0, T0, S0), asm.lw(T0, T0, 0), asm.xor(T1, S1, T2));
  p.branch((off) => asm.bne(T0, T1, off), "lost");
  p.emit(asm.addi(S1, S1, 1));
  p.branch((off) => asm.bne(S1, S2, off), "check");
  emitSleepForever(p);
  p.label("lost");
  emitExit(p, 1);
  p.label("mmapFailed");
  emitExit(p, HOG_MMAP_FAILED);
  return tinyElf(p.assemble());
}

/** The guest tree plus /t/isolate. Remove it with Deno.removeSync(dir, { recursive: true }). */
export function makeTree(): string {
  const dir = makeGuestTree();
  Deno.writeFileSync(`${dir}/t/isolate`, isolateElf(300_000));
  return dir;
}

/**
 * Every RAM frame is free again except the page-cache pages still cached,
 * and no task (the Machine's or a process slot) holds a lock.
 */
export function assertQuiet(m: Machine, what: string): void {
  const cached = pagecacheFrames(m.mem);
  assert.equal(m.freeFrames() + cached, m.bootFreeFrames, `${what}: frames (cached ${cached})`);
  for (let tid = 1; tid < m.mem.layout.config.maxTasks; tid++) {
    assert.deepEqual(
      heldLocks(m.mem.k32, asTaskSlot(tid)),
      [],
      `${what}: locks held by task ${tid}`,
    );
  }
}

/**
 * Boot on `tree` with lockdep, run `body`, check the machine is quiet and
 * consistent (checkInvariants with fsck), always shut down.
 */
export async function withMachine(
  tree: string,
  opts: BootOptions,
  body: (m: Machine) => Promise<void>,
): Promise<void> {
  const errs: string[] = [];
  const m = await Machine.boot({
    from: tree,
    size: 16 * 1024 * 1024,
    ram: 32 * 1024 * 1024,
    lockdep: true,
    killGraceMs: 5000,
    stderr: (d) => errs.push(new TextDecoder().decode(d)),
    ...opts,
  });
  try {
    await body(m);
    assertQuiet(m, `after the test (dax ${opts.dax})`);
    assertInvariants(m, { fsck: true }, `after the test (dax ${opts.dax})`);
    assert.equal(m.stats().panics, 0, errs.join(""));
  } finally {
    await within(m.shutdown(), 30_000, "shutdown");
  }
  assert.equal(m.stats().panics, 0, `at shutdown: ${errs.join("")}`);
}

/** The task slot of live process `pid`, or -1 when it has none (not started, or reaped). */
export function procSlot(m: Machine, pid: number): TaskSlot {
  for (let i = 2; i < m.mem.layout.config.maxTasks; i++) {
    const s = asTaskSlot(i);
    if (procGet(m.mem, s, "pid") === pid && procGet(m.mem, s, "state") !== PROC_FREE) return s;
  }
  return asTaskSlot(-1);
}

export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

/** Spawn `path` and collect its console output; the promise has a watchdog. */
export function run(m: Machine, path: string, argv: string[]): Promise<RunResult> {
  const dec = new TextDecoder();
  const out: Uint8Array[] = [], err: Uint8Array[] = [];
  const p = m.spawn(path, argv, { stdout: (d) => out.push(d), stderr: (d) => err.push(d) });
  const text = (bs: Uint8Array[]) => bs.map((b) => dec.decode(b)).join("");
  return within(p.wait(), 120_000, path).then((s) => ({
    ...s,
    stdout: text(out),
    stderr: text(err),
  }));
}
