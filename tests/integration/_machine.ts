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
import { SYS_exit_group, SYS_getpid, SYS_mmap2 } from "../../src/abi/syscall_nr.ts";
import { asTid } from "../../src/abi/types.ts";
import { PROC_FREE } from "../../src/abi/layout.ts";
import { procGet } from "../../src/kernel/proc.ts";
import { pagecacheFrames } from "../../src/fs/pagecache.ts";
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
    assert.deepEqual(heldLocks(m.mem.k32, asTid(tid)), [], `${what}: locks held by task ${tid}`);
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
export function procSlot(m: Machine, pid: number): number {
  for (let s = 2; s < m.mem.layout.config.maxTasks; s++) {
    if (procGet(m.mem, s, "pid") === pid && procGet(m.mem, s, "state") !== PROC_FREE) return s;
  }
  return -1;
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
