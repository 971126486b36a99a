/**
 * Guests for the Machine tests: a host tree holding the committed fixtures
 * (rootfs at /, the static programs under /static) plus two tiny programs
 * assembled here, a machine booted from it, and a watchdog for waits.
 *
 * @module
 */

import * as asm from "../hw/_asm.ts";
import { Machine } from "../../src/kernel/machine.ts";
import type { BootOptions } from "../../src/kernel/machine_types.ts";

const FIXTURES = new URL("../../fixtures/", import.meta.url).pathname;

/** The futex number and op the assembled guests use (guest/README.md). */
const SYS_FUTEX = 422; // futex_time64: riscv32 has no futex (98)

/**
 * A minimal static ELF32 RISC-V executable: one R+X PT_LOAD at 0x10000
 * holding the headers and `code`, entry right after the headers.
 */
export function tinyElf(code: Uint32Array): Uint8Array {
  const HDR = 52 + 32;
  const size = HDR + code.length * 4;
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]); // ELF, 32-bit, little-endian, version 1
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 243, true); // EM_RISCV
  dv.setUint32(20, 1, true); // e_version
  dv.setUint32(24, 0x10000 + HDR, true); // e_entry
  dv.setUint32(28, 52, true); // e_phoff
  dv.setUint16(40, 52, true); // e_ehsize
  dv.setUint16(42, 32, true); // e_phentsize
  dv.setUint16(44, 1, true); // e_phnum
  const p = 52;
  dv.setUint32(p, 1, true); // PT_LOAD
  dv.setUint32(p + 4, 0, true); // p_offset
  dv.setUint32(p + 8, 0x10000, true); // p_vaddr
  dv.setUint32(p + 12, 0x10000, true); // p_paddr
  dv.setUint32(p + 16, size, true); // p_filesz
  dv.setUint32(p + 20, size, true); // p_memsz
  dv.setUint32(p + 24, 5, true); // PF_R | PF_X
  dv.setUint32(p + 28, 4096, true); // p_align
  for (let i = 0; i < code.length; i++) dv.setUint32(HDR + i * 4, code[i]!, true);
  return b;
}

/** Sleeps in FUTEX_WAIT on a stack word that stays 0, forever. */
export function futexWaitForever(): Uint8Array {
  const p = new asm.Program();
  p.emit(asm.addi(asm.SP, asm.SP, -16), asm.sw(asm.ZERO, asm.SP, 0));
  p.label("again");
  p.emit(asm.addi(asm.A0, asm.SP, 0), asm.addi(asm.A1, asm.ZERO, 0));
  p.emit(asm.addi(asm.A2, asm.ZERO, 0), asm.addi(asm.A3, asm.ZERO, 0));
  p.emit(asm.addi(asm.A7, asm.ZERO, SYS_FUTEX), asm.ecall());
  p.branch((off) => asm.jal(asm.ZERO, off), "again");
  return tinyElf(p.assemble());
}

/** Spins in a one-instruction loop, forever (no syscalls: only polls can stop it). */
export function spinForever(): Uint8Array {
  return tinyElf(Uint32Array.of(asm.jal(asm.ZERO, 0)));
}

/**
 * A host tree for `Machine.boot({ from })`: fixtures/rootfs at the root,
 * fixtures/static under /static, and /t/futexwait, /t/spin.
 *
 * @returns the directory; remove it with Deno.removeSync(dir, { recursive: true })
 */
export function makeGuestTree(): string {
  const dir = Deno.makeTempDirSync({ prefix: "xip-kernel-" });
  const copyTree = (from: string, to: string) => {
    Deno.mkdirSync(to, { recursive: true });
    for (const e of Deno.readDirSync(from)) {
      if (e.isDirectory) copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
      else if (e.isFile) Deno.copyFileSync(`${from}/${e.name}`, `${to}/${e.name}`);
    }
  };
  copyTree(`${FIXTURES}rootfs`, dir);
  copyTree(`${FIXTURES}static`, `${dir}/static`);
  Deno.mkdirSync(`${dir}/t`);
  Deno.writeFileSync(`${dir}/t/futexwait`, futexWaitForever());
  Deno.writeFileSync(`${dir}/t/spin`, spinForever());
  return dir;
}

/** Resolve with `p`, or reject naming `what` after `ms` (a test-side watchdog). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const dog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`watchdog: ${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([p, dog]).finally(() => clearTimeout(timer));
}

/** Poll `cond` every few ms until true, or reject after `ms`. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`watchdog: ${what} not seen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Boot a machine from a fresh makeGuestTree() (a 16 MiB image, 32 MiB of
 * RAM, the guests' stderr dropped; `opts` on top), run `fn` on it, then
 * shut it down (a 30 s watchdog) and remove the tree, whatever `fn` did.
 */
export async function withGuestMachine(
  opts: BootOptions,
  fn: (m: Machine) => Promise<void>,
): Promise<void> {
  const tree = makeGuestTree();
  try {
    const m = await Machine.boot({
      from: tree,
      size: 16 * 1024 * 1024,
      ram: 32 * 1024 * 1024,
      stderr: () => {},
      ...opts,
    });
    try {
      await fn(m);
    } finally {
      await within(m.shutdown(), 30_000, "shutdown");
    }
  } finally {
    Deno.removeSync(tree, { recursive: true });
  }
}
