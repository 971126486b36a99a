/**
 * The "hart tiers" measurement (issue 12): the interpreter (tier 0), the
 * WebAssembly translator (tier 1, src/hw/jit) and qemu-riscv32 on the same
 * static guests, in the same run; exec of a short process under both tiers;
 * DAX against page-cache exec and device-frame against RAM-frame text with
 * tier 1; the translator's cost per frame for 1 and 8 processes; warm-up.
 *
 * Each compute figure is the difference of two runs of one program at two
 * sizes (as the qemu section of the report does), so start-up, exec and
 * warm-up cancel and the steady state remains; medians of 3 (1 in --quick).
 * Times are CPU time (user + system) of the process that runs the guest:
 * this Deno process for xip (its Workers and V8's compiler threads
 * included), qemu-riscv32's own for qemu (through /usr/bin/time; wall time
 * when that is missing). On a machine shared with other jobs, CPU time
 * follows the work done; wall time follows the other jobs too.
 *
 * @module
 */

import process from "node:process";
import { mkfs } from "../src/fs/xipfs/mkfs.ts";
import { layOutBlocks } from "../src/hw/jit/blocks.ts";
import { discover } from "../src/hw/jit/discover.ts";
import { emitFrame } from "../src/hw/jit/emit.ts";
import { Machine } from "../src/kernel/machine.ts";
import type { JitOption } from "../src/kernel/proc_jit.ts";
import { buildTiersGuest } from "./_report_tiers_guest.ts";
import { turnOrder, warmJit } from "./_steady.ts";
import type {
  TierRow,
  TiersResult,
  TranslatorCost,
  TranslatorPoint,
  V8Sharing,
} from "./_report_types.ts";

const MIB = 1024 * 1024;
const ROOT = new URL("../", import.meta.url).pathname;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 ? s[k]! : (s[k - 1]! + s[k]!) / 2;
};

const discard = (_d: Uint8Array): void => {};

async function boot(
  image: Uint8Array,
  jit: JitOption,
  opts: { dax?: "always" | "never"; textMode?: "map" | "copy"; procs?: number } = {},
): Promise<Machine> {
  const procs = opts.procs ?? 1;
  return await Machine.boot({
    image: image.slice(),
    ram: 32 * MIB + procs * 4 * MIB,
    dax: opts.dax ?? "always",
    textMode: opts.textMode ?? "map",
    jit,
    maxProcs: Math.max(2, procs),
    warm: procs,
    // Keep the Workers (and with them tier 1's translations and V8's warm code) between the
    // interleaved runs: an idle Worker is stopped after 250 ms by default.
    keepWarmMs: 600_000,
    stdout: discard,
    stderr: discard,
  });
}

/** CPU ms (user + system) this process has used. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Spawn `argv` on `m` `n` times at once and wait: CPU ms, wall ms and
 * instructions retired.
 */
async function timeRun(
  m: Machine,
  argv: string[],
  n = 1,
): Promise<{ ms: number; wallMs: number; instret: number }> {
  const before = m.stats().instret;
  const c0 = cpuMs(), t0 = performance.now();
  const ps = Array.from({ length: n }, () => m.spawn(argv[0]!, argv));
  for (const p of ps) {
    const s = await p.wait();
    if (s.code !== 0) throw new Error(`${argv.join(" ")} exited ${s.code}: ${s.message ?? ""}`);
  }
  const wallMs = performance.now() - t0;
  return { ms: cpuMs() - c0, wallMs, instret: m.stats().instret - before };
}

let haveTime: boolean | null = null;

/**
 * qemu-riscv32's CPU ms (user + system) for one run of `path args`: the
 * command runs `reps` times in a row under /usr/bin/time, whose resolution
 * is 10 ms, and the total is divided; wall ms of one run without
 * /usr/bin/time.
 */
async function timeQemu(path: string, args: string[], reps = 1): Promise<number> {
  if (haveTime === null) {
    try {
      haveTime = (await new Deno.Command("/usr/bin/time", { args: ["true"], stderr: "null" })
        .output()).success;
    } catch {
      haveTime = false;
    }
  }
  if (!haveTime) {
    const t0 = performance.now();
    const out = await new Deno.Command("qemu-riscv32", { args: [path, ...args], stdout: "null" })
      .output();
    if (!out.success) throw new Error(`qemu-riscv32 ${path} exited ${out.code}`);
    return performance.now() - t0;
  }
  const loop = `i=0; while [ $i -lt ${reps} ]; do qemu-riscv32 "$@" >/dev/null || exit 1; ` +
    `i=$((i+1)); done`;
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%U %S", "sh", "-c", loop, "sh", path, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`qemu-riscv32 ${path} exited ${out.code}`);
  const last = new TextDecoder().decode(out.stderr).trim().split("\n").pop()!;
  const [u, sys] = last.split(" ").map(Number) as [number, number];
  return (u + sys) * 1000 / reps;
}

async function haveQemu(): Promise<boolean> {
  try {
    return (await new Deno.Command("sh", { args: ["-c", "command -v qemu-riscv32"] }).output())
      .success;
  } catch {
    return false;
  }
}

interface Workload {
  name: string;
  /** Path in the image and on the host. */
  path: string;
  args: (size: number) => string[];
  sizes: [number, number];
}

/** The workloads: the static compute program, the crc32 loop, fannkuch-redux. */
function workloads(quick: boolean): Workload[] {
  return [
    {
      name: "compute (fixtures/static/compute)",
      path: "/bin/compute",
      args: (n) => [String(n)],
      sizes: quick ? [1, 4] : [2, 30],
    },
    {
      name: "crc32 loop (bitwise, 4 KiB buffer)",
      path: "/bin/tiers",
      args: (n) => ["crc", String(n)],
      sizes: quick ? [5, 60] : [10, 400],
    },
    {
      name: "fannkuch-redux",
      path: "/bin/tiers",
      args: (n) => ["fannkuch", String(n)],
      sizes: quick ? [7, 9] : [7, 9],
    },
  ];
}

/** Steady-state rows: every workload at both sizes, tiers and qemu taking turns. */
async function measureRows(
  image: Uint8Array,
  dir: string,
  quick: boolean,
  qemu: boolean,
): Promise<TierRow[]> {
  const reps = quick ? 1 : 3;
  const machines = { off: await boot(image, "off"), auto: await boot(image, "auto") };
  const rows: TierRow[] = [];
  try {
    for (const w of workloads(quick)) {
      const argv = (n: number) => [w.path, ...w.args(n)];
      // Warm both Workers (and tier 1's translations) on the large size once.
      for (const m of Object.values(machines)) await timeRun(m, argv(w.sizes[1]));
      const t = { off: [[], []], auto: [[], []], qemu: [[], []] } as Record<string, number[][]>;
      let instret = [0, 0];
      // qemu is fast: repeat each of its runs to over a second of CPU (/usr/bin/time counts 10 ms).
      const qemuReps = [1, 1];
      if (qemu) {
        for (const [k, n] of w.sizes.entries()) {
          for (let reps = 1;;) {
            const total = (await timeQemu(`${dir}${w.path}`, w.args(n), reps)) * reps;
            qemuReps[k] = reps;
            if (total >= 1000 || reps >= 400) break;
            reps = Math.min(400, reps * Math.max(2, Math.ceil(1200 / Math.max(total, 10))));
          }
        }
      }
      for (let r = 0; r < reps; r++) {
        for (const [k, n] of w.sizes.entries()) {
          const off = await timeRun(machines.off, argv(n));
          const auto = await timeRun(machines.auto, argv(n));
          t.off![k]!.push(off.ms);
          t.auto![k]!.push(auto.ms);
          instret[k] = off.instret;
          if (qemu) t.qemu![k]!.push(await timeQemu(`${dir}${w.path}`, w.args(n), qemuReps[k]));
        }
      }
      const diff = (xs: number[][]) => median(xs[1]!) - median(xs[0]!);
      instret = [instret[0]!, instret[1]!];
      rows.push({
        workload: w.name,
        args: [w.args(w.sizes[0]).join(" "), w.args(w.sizes[1]).join(" ")],
        instret: instret[1]! - instret[0]!,
        interpMs: diff(t.off!),
        jitMs: diff(t.auto!),
        qemuMs: qemu ? diff(t.qemu!) : null,
      });
    }
  } finally {
    await machines.off.shutdown();
    await machines.auto.shutdown();
  }
  return rows;
}

/**
 * Median spawn-to-exit ms of `argv` on each machine, in steady state
 * (_steady.ts: each machine warmed until its translations held, and V8's
 * tier-up), the machines taking turns run by run in ABBA order.
 */
async function execMedians(machines: Machine[], argv: string[], runs: number): Promise<number[]> {
  const ms: number[][] = machines.map(() => []);
  for (const m of machines) await warmJit(m, () => timeRun(m, argv));
  for (let r = 0; r < runs; r++) {
    for (const k of turnOrder(machines.length, r)) {
      ms[k]!.push((await timeRun(machines[k]!, argv)).ms);
    }
  }
  return ms.map(median);
}

/**
 * Median spawn-to-exit CPU ms of `argv` on a fresh machine of each mode, a
 * new pair of machines every run: the Worker is ready but has run nothing,
 * so tier 1 starts with no translations and a cold emitter. The modes take
 * turns in ABBA order.
 */
async function coldExecMedians(
  image: Uint8Array,
  modes: JitOption[],
  argv: string[],
  runs: number,
): Promise<number[]> {
  const ms: number[][] = modes.map(() => []);
  for (let r = 0; r < runs; r++) {
    for (const k of turnOrder(modes.length, r)) {
      const m = await boot(image, modes[k]!);
      try {
        ms[k]!.push((await timeRun(m, argv)).ms);
      } finally {
        await m.shutdown();
      }
    }
  }
  return ms.map(median);
}

/** Translations for `procs` processes of compute on a fresh machine ("eager"). */
async function measureTranslator(image: Uint8Array, procs: number): Promise<TranslatorPoint> {
  const m = await boot(image, "eager", { procs });
  try {
    await timeRun(m, ["/bin/compute", "1"], procs);
    const c = m.mem.jit!.counters();
    return {
      procs,
      translations: c.translations,
      sharedInstalls: c.sharedInstalls,
      emitMs: c.emitMs,
      compileMs: c.compileMs,
    };
  } finally {
    await m.shutdown();
  }
}

/**
 * The translator's CPU cost per frame, on this thread with nothing else
 * running in the process: libc.so's frames emitted three times (the first
 * pass runs the emitter cold, as a fresh Worker does; the third warm), and
 * each module compiled, instantiated and called once.
 */
function measureTranslatorCost(): TranslatorCost {
  const img = Deno.readFileSync(`${ROOT}fixtures/rootfs/lib/libc.so`);
  const frames: Int32Array[] = [];
  for (let off = 0; off + 4096 <= img.length; off += 4096) {
    frames.push(new Int32Array(img.slice(off, off + 4096).buffer));
  }
  const salt = Math.floor(Math.random() * 1024); // bytes no V8 cache has seen
  const passes: number[] = [];
  let modules: Uint8Array<ArrayBuffer>[] = [];
  for (let pass = 0; pass < 3; pass++) {
    modules = [];
    const c0 = cpuMs();
    for (const [k, f] of frames.entries()) {
      const words = f.slice();
      words[1023] = ((salt + pass * 64 + k) << 20) | 0x13;
      const code = discover(words);
      modules.push(emitFrame(code, layOutBlocks(code), { tlbEntries: 256 }));
    }
    passes.push((cpuMs() - c0) / frames.length);
  }
  const phys = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const state = new WebAssembly.Memory({ initial: 1 });
  const imports = { env: { phys, state, ld: () => 0, st: () => 0 } };
  const c0 = cpuMs();
  for (const bytes of modules) {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
    (inst.exports.run as (w: number, b: number, v: number) => number)(0, 0, 0);
  }
  return {
    frames: frames.length,
    bytesPerFrame: modules.reduce((a, b) => a + b.length, 0) / modules.length,
    emitColdMs: passes[0]!,
    emitWarmMs: passes[2]!,
    compileMs: (cpuMs() - c0) / modules.length,
  };
}

/**
 * Warm-up: fannkuch on a fresh machine ("auto", a cold Worker), the
 * instructions retired and the CPU time sampled every 2 ms; warm-up is the
 * instructions (and CPU ms) until a 20 CPU-ms window first runs at 80% of
 * the rate of the run's second half.
 */
async function measureWarmup(image: Uint8Array, quick: boolean) {
  const m = await boot(image, "auto");
  try {
    const samples: [number, number][] = [];
    const c0 = cpuMs();
    const p = m.spawn("/bin/tiers", ["/bin/tiers", "fannkuch", quick ? "9" : "10"]);
    let done = false;
    const finished = p.wait().then(() => done = true);
    while (!done) {
      samples.push([cpuMs() - c0, m.stats().instret]);
      await new Promise((r) => setTimeout(r, 2));
    }
    await finished;
    samples.push([cpuMs() - c0, m.stats().instret]);
    const [endMs, endN] = samples[samples.length - 1]!;
    const half = samples.find(([t]) => t >= endMs / 2)!;
    const steady = (endN - half[1]) / (endMs - half[0]); // instructions per ms
    for (let i = 0; i < samples.length; i++) {
      const j = samples.findIndex(([t]) => t >= samples[i]![0] + 20);
      if (j < 0) break;
      const rate = (samples[j]![1] - samples[i]![1]) / (samples[j]![0] - samples[i]![0]);
      if (rate >= 0.8 * steady) {
        return { instructions: samples[i]![1], ms: samples[i]![0], steadyMips: steady / 1000 };
      }
    }
    return { instructions: endN, ms: endMs, steadyMips: steady / 1000 };
  } finally {
    await m.shutdown();
  }
}

/** First-call times of `bytes` in a fresh Worker (after `warm`), and of the same bytes again there. */
async function probeWorker(bytes: Uint8Array<ArrayBuffer>, warm: Uint8Array<ArrayBuffer>) {
  const w = new Worker(new URL("./_report_tiers_worker.ts", import.meta.url).href, {
    type: "module",
  });
  try {
    return await new Promise<{ firstCallMs: number; sameWorkerAgainMs: number }>(
      (resolve, reject) => {
        w.onmessage = (ev) => resolve(ev.data);
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(e.message));
        };
        w.postMessage({ bytes, warm });
      },
    );
  } finally {
    w.terminate();
  }
}

/**
 * Does V8 reuse compiled code across Workers for identical module bytes?
 * Translations of libc.so's frames, each made unique to this run (a nop's
 * immediate): the first call of each (which compiles the function, V8
 * compiling lazily) in a fresh Worker, in a second fresh Worker, and once
 * more in the first Worker from a fresh copy of the bytes. Medians.
 */
async function measureV8Sharing(quick: boolean): Promise<V8Sharing> {
  const img = Deno.readFileSync(`${ROOT}fixtures/rootfs/lib/libc.so`);
  const salt = Math.floor(Math.random() * 1024);
  const frame = (k: number, s: number) => {
    const off = 4096 * (1 + (k % Math.floor(img.length / 4096 - 1)));
    const words = new Int32Array(img.slice(off, off + 4096).buffer);
    words[1023] = (s << 20) | 0x13; // addi x0, x0, s: bytes nothing compiled before
    const code = discover(words);
    return emitFrame(code, layOutBlocks(code), { tlbEntries: 256 });
  };
  const first: number[] = [], again: number[] = [], other: number[] = [];
  const n = quick ? 3 : 9;
  for (let k = 0; k < n; k++) {
    const bytes = frame(k, salt + k);
    const a = await probeWorker(bytes, frame(k + 1, 1100 + salt + k));
    const b = await probeWorker(bytes, frame(k + 2, 1500 + salt + k));
    first.push(a.firstCallMs);
    again.push(a.sameWorkerAgainMs);
    other.push(b.firstCallMs);
  }
  return {
    frames: n,
    firstCallMs: median(first),
    sameWorkerAgainMs: median(again),
    otherWorkerMs: median(other),
  };
}

/** Fresh machines per mode for the cold exec (each boots a Worker: about 0.3 s). */
const COLD_RUNS = 15;

/** Everything the tiers section shows. */
export async function measureTiers(quick: boolean): Promise<TiersResult> {
  const dir = await Deno.makeTempDir({ prefix: "xip-bench-tiers-root-" });
  try {
    const why = await buildTiersGuest(dir);
    if (why !== null) return { status: "not measured", reason: why };
    await Deno.copyFile(`${ROOT}fixtures/static/compute`, `${dir}/bin/compute`);
    const image = mkfs({ sizeBytes: 4 * MIB, from: dir });
    const qemu = await haveQemu();
    const rows = await measureRows(image, dir, quick, qemu);
    const runs = quick ? 3 : 41;

    // Exec of a short process: compute 1, interpreter against tier 1 ("auto").
    const ex = [await boot(image, "off"), await boot(image, "auto")];
    let execOff: number, execAuto: number;
    try {
      [execOff, execAuto] = await execMedians(ex, ["/bin/compute", "1"], runs) as [number, number];
    } finally {
      for (const m of ex) await m.shutdown();
    }

    const [coldOff, coldAuto] = await coldExecMedians(
      image,
      ["off", "auto"],
      ["/bin/compute", "1"],
      quick ? 2 : COLD_RUNS,
    ) as [number, number];

    // With tier 1: DAX exec against page-cache exec; text in device frames against RAM frames.
    const rootfs = mkfs({ sizeBytes: 8 * MIB, from: `${ROOT}fixtures/rootfs` });
    const dp = [
      await boot(rootfs, "auto", { dax: "always" }),
      await boot(rootfs, "auto", { dax: "never" }),
    ];
    let daxMs: number, pcMs: number;
    try {
      [daxMs, pcMs] = await execMedians(dp, ["/bin/compute", "1"], runs) as [number, number];
    } finally {
      for (const m of dp) await m.shutdown();
    }
    // Text in device frames (DAX) against RAM frames (page-cache pages), both mapped in place
    // and kept from run to run, so the translations are too.
    const text = [
      await boot(image, "auto", { dax: "always" }),
      await boot(image, "auto", { dax: "never" }),
    ];
    const crc = ["/bin/tiers", "crc", quick ? "60" : "400"];
    let deviceMs: number, ramMs: number;
    try {
      [deviceMs, ramMs] = await execMedians(text, crc, quick ? 1 : 21) as [number, number];
    } finally {
      for (const m of text) await m.shutdown();
    }

    const cost = measureTranslatorCost();
    const translator = [await measureTranslator(image, 1), await measureTranslator(image, 8)];
    const warmup = await measureWarmup(image, quick);
    const v8 = await measureV8Sharing(quick);
    return {
      status: "ok",
      qemu,
      rows,
      exec: { offMs: execOff, autoMs: execAuto, runs },
      execCold: { offMs: coldOff, autoMs: coldAuto, runs: quick ? 2 : COLD_RUNS },
      daxExec: { daxMs, pagecacheMs: pcMs, runs },
      text: { deviceMs, ramMs, args: crc.slice(1).join(" ") },
      translator,
      cost,
      warmup,
      v8,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
