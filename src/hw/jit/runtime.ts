/**
 * Tier 1's runtime in one Worker: the hart state buffer translated code
 * imports, the slow-path helpers it calls, the table of installed
 * translations keyed by physical frame, the heat that decides when a frame
 * is worth translating, and `enter`, which the interpreter calls whenever
 * its fetch moves to another page (QEMU's cpu_exec / tb_lookup / tb_gen_code;
 * v86's cpu.rs main loop with jit_find_cache_entry and the hotness counters
 * of jit.rs).
 *
 * A translation is keyed by (pfn, codeGen word). It is found through the
 * frame the fetch TLB names and is never reached any other way, so a TLB
 * shootdown needs nothing from it: once the hart has flushed, it no longer
 * reaches the frame. Each entry compares the translation's word with the
 * frame's codeGen word (one load), so a bump anywhere kills it at once.
 * Installed translations sit in the hart state's entry slots and in a
 * function table, where the dispatcher (dispatch.ts) finds them: a jump
 * from one translated frame to another stays in WebAssembly.
 *
 * The runtime outlives one process: the pool reuses a Worker, and with it
 * the translations of every frame whose generation did not change, such as
 * the text of a program run again from the device (execute in place, for
 * translated code too). One hart is bound to it at a time.
 *
 * @module
 */

import { ENTRY_SET_WORDS, JITH } from "../../abi/layout/jit.ts";
import { KernelPanic } from "../../abi/panic.ts";
import {
  EXIT_JUMP,
  EXIT_MISS,
  EXIT_STEP,
  HartState,
  STATE,
  STATE_SLOTS,
  stateBytes,
} from "../hart_state.ts";
import type { HartMmu } from "../hart_mmu.ts";
import { layOutBlocks } from "./blocks.ts";
import {
  claimFrame,
  findProduct,
  frameClaimed,
  type ProductInfo,
  productPublished,
  publishProduct,
  releaseFrame,
} from "./cache.ts";
import {
  addEntry,
  hasEntry,
  leaderSet,
  readEntries,
  recordEntries,
  recordEntry,
} from "./entries.ts";
import { discover, FRAME_WORDS } from "./discover.ts";
import { DISPATCH_EXPORT, emitDispatcher } from "./dispatch.ts";
import { emitFrame, RUN_EXPORT, ST_CODE, ST_FAULT, ST_OK } from "./emit.ts";
import { HOT_INSNS, type JitMode, type JitShared } from "./shared.ts";

export type { JitMode };

/** A translated frame's entry: (entry word, budget, page VA) -> next pc. */
type RunFn = (word: number, budget: number, pageVa: number) => number;
/** The dispatcher: (pc, budget) -> next pc. */
type DispatchFn = (pc: number, budget: number) => number;

/** One installed translation. */
interface Translation extends ProductInfo {
  readonly pfn: number;
  /** The codeGen word it was made for (mark set). */
  readonly gen: number;
  readonly run: RunFn;
  /** Its index in the function table. */
  readonly fn: number;
  /** The frame's words it was made from. */
  readonly words: Int32Array;
  /** False after fence.i, until the frame's bytes have been compared with `words` again. */
  verified: boolean;
}

/** Options of a runtime. */
export interface JitRuntimeOptions {
  mode: JitMode;
  /** The machine's physical memory (memory 0 of every translation). */
  phys: WebAssembly.Memory;
  /** Code generations, marks, counters and the product arena. */
  shared: JitShared;
  /** Entries per TLB of the harts bound to it (default 256). */
  tlbEntries?: number;
  /** Debug: compare the frame's bytes with the translation's at every entry (slow). */
  check?: boolean;
  /** Instructions interpreted in a frame before "auto" translates it (default HOT_INSNS, 0 for eager). */
  hotInsns?: number;
}

/**
 * Installed translations a runtime keeps (the oldest go first beyond it): 4 MiB of guest
 * text, and a bound on the machine code one Worker holds (a frame compiles to some 100 KiB).
 */
const MAX_TRANSLATIONS = 1024;

/** Slots of the heat table (a power of two). */
const HEAT_SLOTS = 1024;

/**
 * Instructions a runtime interprets, in all, before it translates a frame
 * itself for the first time (installing another Worker's product needs no
 * emitter and is not held back): a ski rental. A fresh Worker's first
 * translations are dear. Emitting costs 15-19 ms of CPU cold (V8 compiling
 * the emitter's JavaScript), and every Worker's first calls of a frame's
 * function make V8 compile it again with TurboFan on a background thread,
 * 60-80 ms of CPU for a 40 KiB frame function (measured 2026-12-06: a
 * frame of fixtures/static/compute, instantiated, called 200 000 times;
 * the process's CPU time grew by that much in the idle 500 ms after), and
 * Liftoff code runs until then. Measured on a fresh machine (`compute N`,
 * CPU time of the interpreter ÷ tier 1, median of 5-7, load 30-60 on 2
 * cores): with 3 M here `compute 3` (8.4 M instructions, two hot frames)
 * was 0.62-0.66×, `compute 10` 0.91×, `compute 30` 1.54-1.55×; with 10 M,
 * 0.88-0.95×, 0.93× and 1.42-1.47×; with 6 M `compute 3` translated one
 * frame and was 0.59×. `compute 1` (2.8 M) translates nothing either way.
 */
const COLD_INSNS = 10_000_000;

/**
 * While a runtime is cold (see COLD_INSNS: "auto", nothing translated or
 * installed yet), the interpreter calls `enter` at the first change of
 * fetch page after every COLD_SAMPLE instructions, not at every change:
 * the heat of that time is sampled, each interval charged to the frame
 * it began in. A cold Worker cannot translate anyway, and the calls are
 * what it would pay for: `compute 1` changes page every 35 instructions,
 * 78 000 calls, run while V8 still has `enter` in its baseline tier
 * (measured 2026-12-07: 15-20 ms of CPU of a 105 ms cold exec). Once
 * warm, every change of page is counted again, from zero heat.
 */
export const COLD_SAMPLE = 4096;

/**
 * How long a Worker interprets a frame that another Worker has claimed to
 * translate before it translates the frame itself (the other may have died,
 * or be starved on a loaded machine): a cold translation takes a few ms.
 */
const CLAIM_WAIT_MS = 250;

/**
 * Translations of one frame at one generation, the first included, that
 * entries found later may cause (each further arrival at a word without a
 * block of its own is then stepped by the interpreter up to the next
 * block): a bound on the emitter's work for a frame that is entered
 * everywhere, such as data executed by mistake or a trap resumed at many
 * places of one frame.
 */
export const MAX_ROUNDS = 8;

/** Counters of one runtime (this Worker), for tests and the bench. */
export interface JitLocalStats {
  /** Frames this runtime translated itself. */
  translated: number;
  /** Translations installed from another Worker's product. */
  sharedInstalls: number;
  /** Entries into translated code from the interpreter. */
  entries: number;
  /** Instructions retired by translated code. */
  instructions: number;
  /**
   * Exits of translated code by kind: EXIT_JUMP, EXIT_BUDGET, EXIT_STEP, and EXIT_MISS (an
   * entry at a word without a block: recorded, then translated again or stepped).
   */
  exits: [number, number, number, number];
  /** Translations made again (or installed again) to give an entry found since a block. */
  retranslated: number;
  /** Translations found dead at entry (their frame's generation moved). */
  stale: number;
  /** Translations dropped by fence.i whose frame no longer held their bytes. */
  fenceMismatches: number;
  /** Frames this runtime interpreted while another Worker translated them (claim[pfn]). */
  claimWaits: number;
  /** Milliseconds spent in discover, lay out and emit; and in compile and instantiate. */
  emitMs: number;
  compileMs: number;
}

export class JitRuntime {
  readonly mode: JitMode;
  readonly state: HartState;
  readonly shared: JitShared;
  /** Debug: compare the frame's bytes with the translation's at every entry. */
  check: boolean;
  readonly hotInsns: number;
  /** The bound hart's MMU, whose slow paths the helpers call. */
  mmu: HartMmu | null = null;
  /** The bound hart (an opaque owner token: only it may enter). */
  owner: object | null = null;
  /** Set by `enter`: where translated code left off, and why (EXIT_*). */
  exitPc = 0;
  exitKind = 0;
  /**
   * With EXIT_STEP: how many instructions the interpreter should run before
   * it dispatches again (1, or up to the next block when `exitPc` lies
   * between blocks of its frame's translation).
   */
  exitSteps = 1;
  /**
   * The interpreter calls `enter` only once its count of instructions has
   * reached this (0 once the runtime is warm): see COLD_SAMPLE.
   */
  nextEnter = 0;
  readonly stats: JitLocalStats = {
    translated: 0,
    sharedInstalls: 0,
    entries: 0,
    instructions: 0,
    exits: [0, 0, 0, 0],
    retranslated: 0,
    stale: 0,
    fenceMismatches: 0,
    claimWaits: 0,
    emitMs: 0,
    compileMs: 0,
  };

  readonly #stateMemory: WebAssembly.Memory;
  readonly #imports: WebAssembly.Imports;
  readonly #phys32: Int32Array;
  readonly #st32: Int32Array;
  readonly #genBase: number;
  readonly #gen32: Int32Array;
  /** Every installed translation, by pfn, oldest first. */
  readonly #all = new Map<number, Translation>();
  // The entry slots (in the state buffer): direct-mapped on the pfn, so a hit is two compares.
  readonly #sPfn: Int32Array;
  readonly #sGen: Int32Array;
  readonly #sFn: Int32Array;
  /** Every translation's function, by table index; free indices. */
  readonly #table: WebAssembly.Table;
  readonly #runs: (RunFn | null)[] = [];
  readonly #freeFns: number[] = [];
  readonly #dispatch: DispatchFn;
  // Heat of frames without a translation: interpreted instructions, direct-mapped.
  readonly #hPfn = new Int32Array(HEAT_SLOTS).fill(-1);
  readonly #hInsns = new Int32Array(HEAT_SLOTS);
  // Arrivals in frames without a translation, direct-mapped like the heat: kept here (no atomic
  // operation at every change of frame) and added to the shared entry set when the frame is
  // translated.
  readonly #aPfn = new Int32Array(HEAT_SLOTS).fill(-1);
  readonly #aBits = new Int32Array(HEAT_SLOTS * ENTRY_SET_WORDS);
  /** The frame the interpreter entered last without a translation, and the instruction count then. */
  #lastPfn = -1;
  #lastAt = 0;
  #epoch: number;
  /** Instructions interpreted in all (auto's heat, summed): see COLD_INSNS. */
  #interpreted = 0;
  /** Frames another Worker has claimed: when this runtime first found the claim. */
  readonly #waits = new Map<number, number>();
  /** Cold: "auto", and nothing translated or installed yet (COLD_INSNS, COLD_SAMPLE). */
  #cold: boolean;

  constructor(opts: JitRuntimeOptions) {
    const entries = opts.tlbEntries ?? 256;
    const pages = Math.ceil(stateBytes(entries) / 65536);
    this.#stateMemory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    this.state = new HartState(entries, this.#stateMemory.buffer as ArrayBuffer);
    this.mode = opts.mode;
    this.shared = opts.shared;
    this.check = opts.check ?? false;
    this.hotInsns = opts.mode === "eager" ? 0 : opts.hotInsns ?? HOT_INSNS;
    this.#cold = this.hotInsns > 0;
    this.#phys32 = new Int32Array(opts.phys.buffer);
    this.#st32 = this.state.i32;
    this.#gen32 = opts.shared.i32;
    this.#genBase = opts.shared.layout.gen;
    this.#epoch = opts.shared.markEpoch();
    this.#sPfn = this.state.slotPfn;
    this.#sGen = this.state.slotGen;
    this.#sFn = this.state.slotFn;
    this.#table = new WebAssembly.Table({ element: "anyfunc", initial: 64 });
    const dispatcher = new WebAssembly.Instance(
      new WebAssembly.Module(emitDispatcher(entries, opts.shared.layout.gen * 4)),
      { env: { state: this.#stateMemory, jit: opts.shared.memory, table: this.#table } },
    );
    this.#dispatch = dispatcher.exports[DISPATCH_EXPORT] as unknown as DispatchFn;
    const st32 = this.#st32;
    const fault = STATE.fault / 4;
    this.#imports = {
      env: {
        phys: opts.phys,
        state: this.#stateMemory,
        ld: (va: number, funct3: number): number => {
          const mmu = this.mmu!;
          const v = mmu.load(va, funct3);
          if (mmu.faultCause >= 0) {
            // The interpreter runs the instruction again and takes the trap itself.
            mmu.faultCause = -1;
            st32[fault] = 1;
            return 0;
          }
          st32[fault] = 0;
          return v;
        },
        st: (va: number, value: number, funct3: number): number => {
          const mmu = this.mmu!;
          mmu.codeStored = false;
          if (!mmu.store(va, funct3, value)) {
            mmu.faultCause = -1;
            return ST_FAULT;
          }
          return mmu.codeStored ? ST_CODE : ST_OK;
        },
      },
    };
  }

  /** Bind `owner` (a hart) with its MMU; the state is reset for it. */
  bind(owner: object, mmu: HartMmu): void {
    this.owner = owner;
    this.mmu = mmu;
    this.state.reset();
    this.#lastPfn = -1;
    this.nextEnter = 0;
  }

  /**
   * Run the translation of the frame at physical byte address `framePa`,
   * which the fetch TLB maps at `pc`'s page, from `pc`, for at most `budget`
   * instructions; translate it first if it is due. Called by the
   * interpreter at every change of fetch page, with `now` its count of
   * instructions so far (for the heat of untranslated frames), and
   * `arrival` false when the hart only goes on at `pc` (after a poll, or
   * after one instruction tier 1 left to it) instead of arriving there: an
   * arrival is recorded in the frame's entry set (entries.ts).
   *
   * @returns the instructions translated code retired (`exitPc` and
   *   `exitKind` say where it stopped and why), or -1 when the frame has no
   *   translation and the interpreter should run it
   */
  enter(pc: number, framePa: number, budget: number, now: number, arrival = true): number {
    const pfn = framePa >>> 12;
    const s = pfn & (STATE_SLOTS - 1);
    if (this.#sPfn[s] !== pfn || this.#sGen[s] !== this.#gen32[this.#genBase + pfn]) {
      const found = this.#lookup(pfn, (pc >>> 2) & (FRAME_WORDS - 1), arrival, now);
      if (this.#cold) this.#coldSample(now);
      if (!found) return -1;
    }
    // The untranslated frame the interpreter ran before this one gets its heat (a frame that
    // translated code calls would otherwise never grow hot).
    if (this.#lastPfn !== pfn) this.#account(now);
    this.#lastPfn = -1;
    // A frame newly marked as code anywhere: no store TLB entry may bypass the mark.
    const epoch = this.#gen32[JITH.markEpoch]!;
    if (epoch !== this.#epoch) {
      this.#epoch = epoch;
      this.state.storeTlb.flush();
    }
    let npc: number;
    if (this.check) {
      // One frame at a time, so that every entry is checked.
      this.#checkBytes(pfn);
      npc = this.#runs[this.#sFn[s]!]!((pc >>> 2) & (FRAME_WORDS - 1), budget, pc & ~0xfff);
    } else npc = this.#dispatch(pc, budget);
    const left = this.#st32[STATE.budget / 4]!;
    let kind = this.#st32[STATE.exitKind / 4]!;
    this.stats.exits[kind]!++;
    if (kind === EXIT_MISS) {
      // Not at `pc` itself (a frame the dispatcher went on to), or at an arrival: record it.
      const arrived = arrival || npc !== pc || left !== budget;
      kind = arrived && this.#missed(npc) ? EXIT_JUMP : EXIT_STEP;
      // Interpret up to the next block (one dispatch, not one an instruction).
      if (kind === EXIT_STEP) this.exitSteps = this.#toNextBlock(npc);
    } else this.exitSteps = 1;
    this.exitPc = npc;
    this.exitKind = kind;
    this.stats.entries++;
    this.stats.instructions += budget - left;
    return budget - left;
  }

  /** fence.i: forget which translations match their frames; each is compared again at its next entry. */
  fenceI(): void {
    for (const t of this.#all.values()) t.verified = false;
    this.#sPfn.fill(-1);
  }

  /** Drop every translation (tests; a machine that goes away). */
  clear(): void {
    for (const t of [...this.#all.values()]) this.#drop(t);
    this.#hPfn.fill(-1);
    this.#aPfn.fill(-1);
  }

  /** Installed translations. */
  get size(): number {
    return this.#all.size;
  }

  /**
   * Translated code arrived at `pc`, a word its frame's translation starts
   * no block at. Record the word as an entry of the frame; if it was
   * recorded before (this is at least its second arrival, or tier 0 saw it
   * too), translate the frame again with a block there, within MAX_ROUNDS.
   * One arrival alone (a trap resumed once, a signal return) is not worth a
   * translation.
   *
   * @returns true when the frame's slot now holds a translation with a block at `pc`
   */
  #missed(pc: number): boolean {
    const pfn = this.#fetchPfn(pc);
    if (pfn < 0) return false;
    const word = (pc >>> 2) & (FRAME_WORDS - 1);
    this.shared.count(JITH.entryMisses);
    if (!recordEntry(this.shared, pfn, word)) return false;
    const old = this.#all.get(pfn);
    if (old === undefined || old.rounds + 1 >= MAX_ROUNDS) return false;
    const t = this.#translate(pfn, word, old);
    if (t === null) return false;
    this.stats.retranslated++;
    this.shared.count(JITH.retranslations);
    this.#install(t);
    return true;
  }

  /** The frame the fetch TLB maps `pc` to (the dispatcher entered through it), or -1. */
  #fetchPfn(pc: number): number {
    const tlb = this.state.fetchTlb, e = (pc >>> 12) & tlb.mask;
    return tlb.tag[e] === pc >>> 12 ? (pc + tlb.delta[e]!) >>> 12 : -1;
  }

  /** Instructions from `pc` to the next block of its frame's translation (at least 1). */
  #toNextBlock(pc: number): number {
    const pfn = this.#fetchPfn(pc);
    const t = pfn < 0 ? undefined : this.#all.get(pfn);
    const word = (pc >>> 2) & (FRAME_WORDS - 1);
    if (t === undefined) return 1;
    let w = word + 1;
    while (w < FRAME_WORDS && !hasEntry(t.entries, w)) w++;
    return w - word;
  }

  /** Tier 0 arrived at word `word` of frame `pfn`, which has no translation: note it. */
  #arrived(pfn: number, word: number): void {
    const a = pfn & (HEAT_SLOTS - 1), base = a * ENTRY_SET_WORDS;
    if (this.#aPfn[a] !== pfn) {
      this.#aPfn[a] = pfn;
      this.#aBits.fill(0, base, base + ENTRY_SET_WORDS);
    }
    const k = base + (word >>> 5);
    this.#aBits[k] = this.#aBits[k]! | (1 << (word & 31));
  }

  /** Put translation `t` in its frame's entry slot. */
  #install(t: Translation): void {
    const s = t.pfn & (STATE_SLOTS - 1);
    this.#sPfn[s] = t.pfn;
    this.#sGen[s] = t.gen;
    this.#sFn[s] = t.fn;
  }

  /**
   * The entry-slot miss: put the frame's translation in its slot, if it has
   * one or is due for one; else count heat, and record word `word` as an
   * entry of the frame when the hart arrives there (`arrival`).
   *
   * @returns true when the slot now holds a translation of `pfn`
   */
  #lookup(pfn: number, word: number, arrival: boolean, now: number): boolean {
    const gen = this.#gen32[this.#genBase + pfn]!;
    let t = this.#all.get(pfn);
    if (t !== undefined && t.gen !== gen) {
      this.#drop(t);
      this.stats.stale++;
      t = undefined;
    }
    if (t !== undefined && !t.verified) {
      if (this.#sameBytes(pfn, t.words)) t.verified = true;
      else {
        // Stored to by a path that bypassed the mark (another hart's stale store TLB entry):
        // kill it everywhere.
        this.shared.noteChange(pfn);
        this.#drop(t);
        this.stats.fenceMismatches++;
        t = undefined;
      }
    }
    if (t === undefined) {
      if (arrival) this.#arrived(pfn, word);
      if (!this.#hot(pfn, now)) return false;
      const made = this.#translate(pfn, arrival ? word : -1);
      if (made === null) return false;
      t = made;
    }
    this.#install(t);
    return true;
  }

  /**
   * After a cold runtime's `enter`: ask for the next call COLD_SAMPLE
   * instructions on, or, once it is warm (it has interpreted COLD_INSNS or
   * holds a translation), for every change of page again, with the heat of
   * the sampled time forgotten, so that what it translates first is chosen
   * by exact heat, and with every arrival recorded.
   */
  #coldSample(now: number): void {
    if (this.#interpreted < COLD_INSNS && this.#all.size === 0) {
      this.nextEnter = now + COLD_SAMPLE;
      return;
    }
    this.#cold = false;
    this.nextEnter = 0;
    this.#hPfn.fill(-1);
    this.#lastPfn = -1;
  }

  /** Forget translation `t`: its slot, its table entry, its place in the map. */
  #drop(t: Translation): void {
    const s = t.pfn & (STATE_SLOTS - 1);
    if (this.#sPfn[s] === t.pfn) this.#sPfn[s] = -1;
    this.#table.set(t.fn, null);
    this.#runs[t.fn] = null;
    this.#freeFns.push(t.fn);
    this.#all.delete(t.pfn);
  }

  /**
   * Count heat: the instructions interpreted since the last entry without a
   * translation go to the frame of that entry. True when `pfn` is due.
   */
  #hot(pfn: number, now: number): boolean {
    if (this.hotInsns === 0) return true;
    this.#account(now);
    this.#lastPfn = pfn;
    this.#lastAt = now;
    const hh = pfn & (HEAT_SLOTS - 1);
    if (this.#hPfn[hh] !== pfn || this.#hInsns[hh]! < this.hotInsns) return false;
    this.#hPfn[hh] = -1;
    return true;
  }

  /**
   * The interpreter leaves the untranslated frame it entered last (at
   * instruction count `now`): the instructions it ran there since are that
   * frame's heat.
   */
  #account(now: number): void {
    const last = this.#lastPfn;
    if (last < 0) return;
    this.#lastPfn = -1;
    const spent = Math.min(now - this.#lastAt, 1 << 24);
    const hl = last & (HEAT_SLOTS - 1);
    if (this.#hPfn[hl] !== last) {
      this.#hPfn[hl] = last;
      this.#hInsns[hl] = 0;
    }
    this.#hInsns[hl] = this.#hInsns[hl]! + spent;
    this.#interpreted += spent;
  }

  /**
   * Translate frame `pfn` (or install another Worker's translation of it)
   * with a block at every recorded entry of the frame, and at word `word`
   * unless it is -1, and keep it in place of `old`, if given.
   *
   * @returns the translation, or null while another Worker translates the
   *   frame (the interpreter runs it meanwhile; a later entry installs the
   *   other Worker's product)
   */
  #translate(pfn: number, word: number, old?: Translation): Translation | null {
    const sh = this.shared;
    // The emitter is still cold here and little has been interpreted: not worth it yet, and
    // with no product of another Worker to install, nothing to read or mark either.
    const emitterCold = this.stats.translated === 0 && this.hotInsns > 0 &&
      this.#interpreted < COLD_INSNS;
    if (emitterCold && !productPublished(sh, pfn)) return null;
    // Mark first, then read: a write that lands after the mark bumps the generation.
    const gen = sh.markCode(pfn);
    if (frameClaimed(sh, pfn, gen) && !this.#waitedLong(pfn)) return null;
    const words = this.#phys32.slice(pfn * FRAME_WORDS, (pfn + 1) * FRAME_WORDS);
    const entries = this.state.entries;
    const t0 = performance.now();
    // Every entry known for this generation: the shared set, this arrival, the old translation's.
    const need = new Int32Array(ENTRY_SET_WORDS);
    const a = pfn & (HEAT_SLOTS - 1);
    if (this.#aPfn[a] === pfn) {
      // What tier 0 saw here goes to the shared set first, for every Worker.
      const mine = this.#aBits.subarray(a * ENTRY_SET_WORDS, (a + 1) * ENTRY_SET_WORDS);
      recordEntries(sh, pfn, mine);
      need.set(mine);
      this.#aPfn[a] = -1;
    }
    readEntries(sh, pfn, gen, need);
    if (word >= 0) addEntry(need, word);
    let rounds = 0;
    if (old !== undefined && old.gen === gen) {
      for (let k = 0; k < ENTRY_SET_WORDS; k++) need[k] = need[k]! | old.entries[k]!;
      rounds = old.rounds + 1;
    }
    const found = findProduct(sh, pfn, gen, entries, words, need);
    let bytes = found?.wasm ?? null;
    let info: ProductInfo = found === null
      ? { entries: need, rounds }
      : { entries: found.entries, rounds: Math.max(found.rounds, rounds) };
    const shared = bytes !== null;
    if (bytes === null) {
      if (emitterCold) return null;
      // Lost the race for the claim: wait for the winner's product, as above.
      if (!claimFrame(sh, pfn, gen) && !this.#waitedLong(pfn)) return null;
      try {
        const code = discover(words, need);
        bytes = emitFrame(code, layOutBlocks(code), { tlbEntries: entries });
        info = { entries: leaderSet(code.leader), rounds };
        if (!publishProduct(sh, pfn, gen, entries, words, bytes, info)) sh.count(JITH.unpublished);
      } finally {
        releaseFrame(sh, pfn, gen); // also a dead Worker's claim that this runtime outwaited
      }
    }
    this.#waits.delete(pfn);
    const t1 = performance.now();
    let run: RunFn;
    try {
      const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), this.#imports);
      run = inst.exports[RUN_EXPORT] as unknown as RunFn;
    } catch (e) {
      throw new KernelPanic("JitRuntime.translate", `frame ${pfn}: ${(e as Error).message}`);
    }
    const t2 = performance.now();
    if (shared) {
      this.stats.sharedInstalls++;
      sh.count(JITH.sharedInstalls);
    } else {
      this.stats.translated++;
      sh.count(JITH.translations);
      sh.addNs(JITH.emitNs, (t1 - t0) * 1e6);
    }
    sh.addNs(JITH.compileNs, (t2 - t1) * 1e6);
    this.stats.emitMs += t1 - t0;
    this.stats.compileMs += t2 - t1;
    if (old !== undefined && this.#all.get(pfn) === old) this.#drop(old);
    if (this.#all.size >= MAX_TRANSLATIONS) this.#drop(this.#all.values().next().value!);
    let fn = this.#freeFns.pop();
    if (fn === undefined) {
      fn = this.#runs.length;
      if (fn >= this.#table.length) this.#table.grow(this.#table.length);
    }
    this.#table.set(fn, run);
    this.#runs[fn] = run;
    const t: Translation = { pfn, gen, run, fn, words, verified: true, ...info };
    this.#all.set(pfn, t);
    return t;
  }

  /**
   * Another Worker holds the claim on `pfn`: true once this runtime has
   * waited CLAIM_WAIT_MS for it since it first found the claim.
   */
  #waitedLong(pfn: number): boolean {
    const now = performance.now();
    const since = this.#waits.get(pfn);
    if (since !== undefined) return now - since >= CLAIM_WAIT_MS;
    if (this.#waits.size >= HEAT_SLOTS) this.#waits.clear();
    this.#waits.set(pfn, now);
    this.stats.claimWaits++;
    return false;
  }

  #sameBytes(pfn: number, words: Int32Array): boolean {
    const p = this.#phys32, base = pfn * FRAME_WORDS;
    for (let i = 0; i < FRAME_WORDS; i++) if (p[base + i] !== words[i]) return false;
    return true;
  }

  /** Debug check: the frame must hold the bytes its current translation was made from. */
  #checkBytes(pfn: number): void {
    const t = this.#all.get(pfn);
    if (t !== undefined && !this.#sameBytes(pfn, t.words)) {
      throw new KernelPanic(
        "JitRuntime.enter",
        `frame ${pfn} changed under its translation without a codeGen bump`,
      );
    }
  }
}
