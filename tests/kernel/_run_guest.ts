/**
 * A tiny test-side process layer: run an exec'd program on a Hart with a
 * minimal system-call table (write, writev, brk, anonymous mmap, munmap,
 * exit, exit_group; everything else -ENOSYS), running the init calls first
 * the way exec.ts documents (execStartStep and INIT_RETURN).
 *
 * @module
 */

import { ENOSYS } from "../../src/abi/errno.ts";
import { MM, mmBase } from "../../src/abi/layout/mod.ts";
import { MAP_ANONYMOUS } from "../../src/abi/mman.ts";
import { type Access, ACCESS_EXEC } from "../../src/abi/sv32.ts";
import { asVirt, type MmId, type VirtAddr } from "../../src/abi/types.ts";
import { Hart, type HartEnv } from "../../src/hw/hart.ts";
import { type Memory } from "../../src/hw/memory.ts";
import { type ExecResult, execStartStep, isInitReturn } from "../../src/kernel/exec.ts";
import { handleMmFault } from "../../src/mm/fault.ts";
import { mmField } from "../../src/mm/mm.ts";
import { doBrk, doMmap, doMunmap } from "../../src/mm/mmap.ts";
import { copyFromUser } from "../../src/mm/uaccess.ts";
import { type JitMode, JitRuntime } from "../../src/hw/jit/runtime.ts";
import { JitShared } from "../../src/hw/jit/shared.ts";
import { envJitMode } from "../hw/_hart_machine.ts";

export interface GuestRun {
  stdout: string;
  stderr: string;
  /** Exit status; 128 + signal when killed (139 SIGSEGV, 132 SIGILL). */
  status: number;
  /** Init functions that returned to INIT_RETURN. */
  initsRun: number;
  instret: number;
  /** The tier-1 runtime the hart ran with, if any. */
  jit: JitRuntime | null;
}

const SIGILL = 4, SIGSEGV = 11;

/** Run `res` in `mm` until it exits, or throw after `budget` instructions. */
export function runGuest(
  mem: Memory,
  mm: MmId,
  res: ExecResult,
  budget = 400_000_000,
  jitMode?: JitMode | null,
): GuestRun {
  const out: number[][] = [[], [], []];
  let status = -1;
  let step = 0;
  let initsRun = 0;
  const sys = (h: Hart): number => {
    const a = (i: number): number => h.x[10 + i]!;
    switch (h.x[17]) {
      case 64: // write
      case 66: { // writev
        const fd = a(0);
        if (fd !== 1 && fd !== 2) return -9;
        if (h.x[17] === 64) return writeOut(mem, mm, out[fd]!, a(1), a(2));
        let total = 0;
        const iov = copyFromUser(mem, mm, asVirt(a(1)), 8 * a(2));
        if (typeof iov === "number") return iov;
        const dv = new DataView(iov.buffer);
        for (let i = 0; i < a(2); i++) {
          const n = writeOut(
            mem,
            mm,
            out[fd]!,
            dv.getUint32(8 * i, true),
            dv.getUint32(8 * i + 4, true),
          );
          if (n < 0) return n;
          total += n;
        }
        return total;
      }
      case 93: // exit
      case 94: // exit_group
        status = a(0) & 0xff;
        return 0;
      case 214: // brk
        return doBrk(mem, mm, a(0));
      case 222: // mmap2
        if ((a(3) & MAP_ANONYMOUS) === 0) return -ENOSYS;
        return doMmap(mem, mm, a(0), a(1), a(2), a(3));
      case 215: // munmap
        return doMunmap(mem, mm, a(0), a(1));
      default:
        return -ENOSYS;
    }
  };
  const env: HartEnv = {
    pageFault(va: VirtAddr, access: Access): boolean {
      if (access === ACCESS_EXEC && isInitReturn(va) && step <= res.initCalls.length) {
        initsRun++;
        hart.pc = execStartStep(hart.x, res, step++);
        return true;
      }
      if (handleMmFault(mem, mm, va, access) !== 0) {
        status = 128 + SIGSEGV;
        return false;
      }
      hart.flushTlb(); // a COW may have replaced a frame the load TLB still names
      return true;
    },
    ecall(h: Hart): boolean {
      h.x[10] = sys(h);
      return status < 0;
    },
    trap(): boolean {
      status = 128 + SIGILL;
      return false;
    },
    poll: () => true,
  };
  // Tier 1 when XIP_JIT asks for it (the suites run under both tiers).
  const mode = jitMode ?? envJitMode();
  const cfg = mem.layout.config;
  let jit: JitRuntime | null = null;
  if (mode !== null && mem.physMemory !== null) {
    mem.jit ??= JitShared.create(cfg.ramFrames + cfg.deviceFrames, { mode, arenaBytes: 1 << 22 });
    const check = Deno.env.get("XIP_JIT_CHECK") === "1";
    jit = new JitRuntime({ mode, phys: mem.physMemory, shared: mem.jit, check });
  }
  const hart = new Hart(jit !== null ? mem.physMemory! : mem.phys, env, {
    rootPfn: mmField(mem, mm, MM.root),
    tlbGenWord: { k32: mem.k32, index: mmBase(mem.layout, mm) + MM.tlbGen },
    frames: cfg.ramFrames + cfg.deviceFrames,
    code: mem.jit,
    jit,
  });
  hart.pc = execStartStep(hart.x, res, step++);
  while (status < 0) {
    const why = hart.run(1_000_000);
    if (why === "budget" && hart.instret > budget) {
      throw new Error(`runGuest: over ${budget} instructions`);
    }
    if (why === "trap" && status < 0) status = 128 + SIGSEGV;
  }
  const dec = new TextDecoder();
  return {
    stdout: dec.decode(new Uint8Array(out[1]!)),
    stderr: dec.decode(new Uint8Array(out[2]!)),
    status,
    initsRun,
    instret: hart.instret,
    jit,
  };
}

function writeOut(mem: Memory, mm: MmId, sink: number[], buf: number, n: number): number {
  const b = copyFromUser(mem, mm, asVirt(buf), n >>> 0);
  if (typeof b === "number") return b;
  for (const c of b) sink.push(c);
  return b.length;
}
