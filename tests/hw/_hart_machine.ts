/**
 * A test machine for the hart: a physical buffer of RAM then "device"
 * frames, a bump allocator over RAM, and a hand-built Sv32 page table.
 *
 * `setup` gives the hart a tier-1 runtime (src/hw/jit) when XIP_JIT is
 * "eager" or "auto" (or when asked to): the hart suites run under both tiers
 * that way (tests/hw/hart_jit_test.ts runs them again with XIP_JIT=eager).
 *
 * @module
 */

import { PAGE_SIZE } from "../../src/abi/types.ts";
import { PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X } from "../../src/abi/sv32.ts";
import type { VirtAddr } from "../../src/abi/types.ts";
import type { Access } from "../../src/abi/sv32.ts";
import { Hart, type HartEnv, type HartOptions } from "../../src/hw/hart.ts";
import { type JitMode, JitRuntime } from "../../src/hw/jit/runtime.ts";
import { JitShared } from "../../src/hw/jit/shared.ts";
import { layOutBlocks } from "../../src/hw/jit/blocks.ts";
import { publishProduct } from "../../src/hw/jit/cache.ts";
import { discover } from "../../src/hw/jit/discover.ts";
import { leaderSet } from "../../src/hw/jit/entries.ts";
import { emitFrame } from "../../src/hw/jit/emit.ts";

/** The tier-1 mode the hart suites run under: XIP_JIT=eager|auto, else none. */
export function envJitMode(): JitMode | null {
  const v = Deno.env.get("XIP_JIT");
  return v === "eager" || v === "auto" ? v : null;
}

/**
 * Machine.boot's `jit` for the suites that must run under both tiers (exec
 * and the qemu differential): XIP_JIT when set, else "off", so the ordinary
 * run covers the interpreter and tests/hw/jit_modes_test.ts tier 1.
 */
export function suiteJit(): "off" | "auto" | "eager" {
  return envJitMode() ?? "off";
}

export const URX = PTE_V | PTE_U | PTE_R | PTE_X;
export const URW = PTE_V | PTE_U | PTE_R | PTE_W;
export const UR = PTE_V | PTE_U | PTE_R;
export const URWX = PTE_V | PTE_U | PTE_R | PTE_W | PTE_X;
export { PTE_A, PTE_D };

export class TestMachine {
  /** Physical memory as the shared wasm memory translated code imports; `phys` is its buffer. */
  readonly physMemory: WebAssembly.Memory | null;
  readonly phys: SharedArrayBuffer;
  readonly m32: Int32Array;
  readonly u8: Uint8Array;
  readonly root: number;
  private nextRam = 0;

  #jit: JitShared | null = null;

  constructor(readonly ramFrames = 64, readonly deviceFrames = 16, phys?: SharedArrayBuffer) {
    const pages = Math.ceil((ramFrames + deviceFrames) * PAGE_SIZE / 65536);
    this.physMemory = phys
      ? null
      : new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.phys = phys ?? this.physMemory!.buffer as SharedArrayBuffer;
    this.m32 = new Int32Array(this.phys);
    this.u8 = new Uint8Array(this.phys);
    this.root = this.allocFrame();
  }

  /** Frames of physical memory (the buffer may be longer: whole wasm pages). */
  get frames(): number {
    return this.ramFrames + this.deviceFrames;
  }

  /** The translator's shared state for this machine (made on first use). */
  get jitShared(): JitShared {
    return this.#jit ??= JitShared.create(this.ramFrames + this.deviceFrames, {
      arenaBytes: 1 << 20,
    });
  }

  /** A tier-1 runtime over this machine's memory. */
  jitRuntime(mode: JitMode, opts: { check?: boolean; tlbEntries?: number } = {}): JitRuntime {
    if (this.physMemory === null) throw new Error("TestMachine: no wasm memory for the JIT");
    return new JitRuntime({ mode, phys: this.physMemory, shared: this.jitShared, ...opts });
  }

  /** A zeroed RAM frame (bump allocation). */
  allocFrame(): number {
    if (this.nextRam >= this.ramFrames) throw new Error("test machine out of RAM");
    const pfn = this.nextRam++;
    this.u8.fill(0, pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE);
    return pfn;
  }

  /** pfn of device frame `n`. */
  devicePfn(n: number): number {
    return this.ramFrames + n;
  }

  /** Word index of the level-0 PTE for `va`, creating the level-0 table. */
  pteSlot(va: number): number {
    const l1 = this.root * 1024 + ((va >>> 22) & 0x3ff);
    let pte = this.m32[l1]!;
    if ((pte & PTE_V) === 0) {
      pte = (this.allocFrame() << 10) | PTE_V;
      this.m32[l1] = pte;
    }
    return (pte >>> 10) * 1024 + ((va >>> 12) & 0x3ff);
  }

  /** Map the 4 KiB page at `va` to `pfn` with PTE `flags`. */
  map(va: number, pfn: number, flags: number): void {
    this.m32[this.pteSlot(va)] = (pfn << 10) | flags;
  }

  /** Map a 4 MiB superpage at `va` (level-1 leaf) to `pfn`. */
  mapSuper(va: number, pfn: number, flags: number): void {
    this.m32[this.root * 1024 + ((va >>> 22) & 0x3ff)] = (pfn << 10) | flags;
  }

  pte(va: number): number {
    return this.m32[this.pteSlot(va)]! >>> 0;
  }

  setPte(va: number, value: number): void {
    this.m32[this.pteSlot(va)] = value;
  }

  /** Copy instruction words into frame `pfn` at byte `offset`. */
  load(pfn: number, words: ArrayLike<number>, offset = 0): void {
    const base = (pfn * PAGE_SIZE + offset) / 4;
    for (let k = 0; k < words.length; k++) this.m32[base + k] = words[k]!;
  }

  word(pfn: number, offset: number): number {
    return this.m32[(pfn * PAGE_SIZE + offset) / 4]!;
  }

  setWord(pfn: number, offset: number, v: number): void {
    this.m32[(pfn * PAGE_SIZE + offset) / 4] = v;
  }
}

/** A recorded trap. */
export interface TrapRecord {
  kind: "pageFault" | "trap";
  cause: number;
  tval: number;
  access?: Access;
  pc: number;
}

/**
 * An env that records traps and exits on ecall with a7 = 93. Tests override
 * the handlers they care about.
 */
export class RecordingEnv implements HartEnv {
  readonly traps: TrapRecord[] = [];
  exitCode = -1;
  polls = 0;
  hart: Hart | null = null;
  onPageFault: ((va: number, access: Access, cause: number) => boolean) | null = null;
  onTrap: ((cause: number, tval: number) => boolean) | null = null;
  onEcall: ((hart: Hart) => boolean) | null = null;
  onPoll: ((hart: Hart) => boolean) | null = null;

  pageFault(va: VirtAddr, access: Access, cause: number): boolean {
    this.traps.push({ kind: "pageFault", cause, tval: va, access, pc: this.hart?.pc ?? -1 });
    return this.onPageFault ? this.onPageFault(va, access, cause) : false;
  }
  ecall(hart: Hart): boolean {
    if (this.onEcall) return this.onEcall(hart);
    if (hart.x[17] === 93) {
      this.exitCode = hart.x[10]!;
      return false;
    }
    return true;
  }
  trap(cause: number, tval: number): boolean {
    this.traps.push({ kind: "trap", cause, tval, pc: this.hart?.pc ?? -1 });
    return this.onTrap ? this.onTrap(cause, tval) : false;
  }
  poll(hart: Hart): boolean {
    this.polls++;
    return this.onPoll ? this.onPoll(hart) : true;
  }
}

/** The usual user layout of the tests. */
export const TEXT_VA = 0x0001_0000;
export const DATA_VA = 0x0002_0000;

/**
 * A machine with `words` mapped R-X at TEXT_VA (in RAM, or in device frame 0
 * when `device`), a zeroed RW data page at DATA_VA, and a hart at TEXT_VA.
 */
export function setup(
  words: ArrayLike<number>,
  opts: {
    device?: boolean;
    dataFlags?: number;
    hart?: Partial<HartOptions>;
    /** Tier 1: a mode, or null for none (default: envJitMode()). */
    jit?: JitMode | null;
  } = {},
): { m: TestMachine; env: RecordingEnv; hart: Hart; textPfn: number; dataPfn: number } {
  const m = new TestMachine();
  const textPfn = opts.device ? m.devicePfn(0) : m.allocFrame();
  m.load(textPfn, words);
  m.map(TEXT_VA, textPfn, URX);
  const dataPfn = m.allocFrame();
  m.map(DATA_VA, dataPfn, opts.dataFlags ?? URW);
  const env = new RecordingEnv();
  const mode = opts.jit !== undefined ? opts.jit : envJitMode();
  const jit = mode === null
    ? null
    : m.jitRuntime(mode, { check: true, tlbEntries: opts.hart?.tlbEntries });
  const hart = new Hart(m.physMemory!, env, {
    rootPfn: m.root,
    pc: TEXT_VA,
    frames: m.frames,
    jit,
    ...opts.hart,
  });
  env.hart = hart;
  return { m, env, hart, textPfn, dataPfn };
}

/**
 * What another Worker does for a frame no product covers: translate frame
 * `pfn` of `m` at generation `gen` and publish the product.
 */
export function publishAsAnotherWorker(m: TestMachine, pfn: number, gen: number): void {
  const words = new Int32Array(m.physMemory!.buffer, pfn * PAGE_SIZE, PAGE_SIZE / 4).slice();
  const code = discover(words);
  const bytes = emitFrame(code, layOutBlocks(code), { tlbEntries: 256 });
  const info = { entries: leaderSet(code.leader), rounds: 0 };
  if (!publishProduct(m.jitShared, pfn, gen, 256, words, bytes, info)) {
    throw new Error(`publishAsAnotherWorker: frame ${pfn} was not published`);
  }
}
