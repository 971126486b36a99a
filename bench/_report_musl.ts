/**
 * The musl/Lua part of the report: real third-party code under the three
 * exec modes, measured like compute (bench/_report_machine.ts).
 *
 * - exec: spawn → exit of `/bin/lua -e "x=1"`, a PIE whose PT_INTERP is
 *   musl's ld.so, which maps libc.so and liblua.so and relocates them in
 *   user space; the modes take turns run by run; medians.
 * - relocation: the same program (guest/bin/hello.c) linked two ways:
 *   /bin/hello against libxc, linked by the kernel at exec (dynlink.ts), and
 *   /usr/bin/hello against musl, linked by musl's ld.so in user space. The
 *   wall time of spawn → exit and the instructions the process retired (the
 *   kernel-side linker's work is not in instret; ld.so's is).
 * - footprint: N processes of lua at once: page-cache frames (the script
 *   does no file I/O, so they are all pages of lua, libc.so and liblua.so),
 *   device frames mapped, peak RAM.
 *
 * @module
 */

import { mkfs } from "../src/fs/xipfs/mkfs.ts";
import { Machine } from "../src/kernel/machine.ts";
import {
  type ExecPoint,
  type Measured,
  type Mode,
  MODE_NAMES,
  type RunStats,
} from "./_report_types.ts";

const MIB = 1024 * 1024;
const ROOTFS = new URL("../fixtures/rootfs", import.meta.url).pathname;

/** One kind of link: spawn → exit of hello. */
export interface RelocPoint {
  program: string;
  linker: "kernel" | "ld.so";
  runs: number;
  medianMs: number;
  /** Instructions the process retired, start to exit. */
  instret: number;
}

/** N processes of lua in one mode. */
export interface MuslFootprintPoint extends RunStats {
  mode: Mode;
  procs: number;
}

/** The musl/Lua measurements (MachineRuns.musl). */
export interface MuslResult extends Measured {
  exec?: ExecPoint[];
  reloc?: RelocPoint[];
  footprint?: MuslFootprintPoint[];
}

const BOOT: Record<Mode, { dax: "always" | "never"; textMode: "map" | "copy" }> = {
  dax: { dax: "always", textMode: "map" },
  pagecache: { dax: "never", textMode: "map" },
  copy: { dax: "always", textMode: "copy" },
};

const quiet = (_d: Uint8Array): void => {};

function boot(mode: Mode, image: Uint8Array, procs: number): Promise<Machine> {
  return Machine.boot({
    image: image.slice(),
    ram: 64 * MIB,
    ...BOOT[mode],
    maxProcs: Math.max(2, procs),
    warm: procs,
    stdout: quiet,
    stderr: quiet,
    log: () => {},
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 ? s[k]! : (s[k - 1]! + s[k]!) / 2;
};

/** Spawn `argvs` of `path` at once and wait; returns wall ms. Throws on a non-zero exit. */
async function run(m: Machine, path: string, argvs: string[][]): Promise<number> {
  const t0 = performance.now();
  const exits = await Promise.all(argvs.map((a) => m.spawn(path, a).wait()));
  const bad = exits.find((e) => e.code !== 0);
  if (bad !== undefined) throw new Error(`${path} exited ${bad.code} ${bad.message ?? ""}`);
  return performance.now() - t0;
}

async function measureExec(image: Uint8Array, runs: number): Promise<ExecPoint[]> {
  const ms = new Map<Mode, number[]>(MODE_NAMES.map((m) => [m, []]));
  const machines = await Promise.all(MODE_NAMES.map((m) => boot(m, image, 1)));
  try {
    for (let r = -1; r < runs; r++) { // run -1 warms the JIT and the page cache
      for (const [k, mode] of MODE_NAMES.entries()) {
        const wall = await run(machines[k]!, "/bin/lua", [["lua", "-e", "x=1"]]);
        if (r >= 0) ms.get(mode)!.push(wall);
      }
    }
  } finally {
    await Promise.all(machines.map((m) => m.shutdown()));
  }
  return MODE_NAMES.map((mode) => ({
    mode,
    runs,
    medianMs: median(ms.get(mode)!),
    minMs: Math.min(...ms.get(mode)!),
  }));
}

async function measureReloc(image: Uint8Array, runs: number): Promise<RelocPoint[]> {
  const m = await boot("dax", image, 1);
  const progs = [["/bin/hello", "kernel"], ["/usr/bin/hello", "ld.so"]] as const;
  const ms: number[][] = [[], []], instret = [0, 0];
  try {
    for (let r = -1; r < runs; r++) {
      for (const [k, [path]] of progs.entries()) {
        const before = m.stats().instret;
        const wall = await run(m, path, [["hello"]]);
        if (r >= 0) ms[k]!.push(wall);
        instret[k] = m.stats().instret - before;
      }
    }
  } finally {
    await m.shutdown();
  }
  return progs.map(([program, linker], k) => ({
    program,
    linker,
    runs,
    medianMs: median(ms[k]!),
    instret: instret[k]!,
  }));
}

async function measureFootprint(image: Uint8Array, counts: number[]) {
  const out: MuslFootprintPoint[] = [];
  for (const procs of counts) {
    for (const mode of ["dax", "pagecache"] as const) {
      const m = await boot(mode, image, procs);
      let rss = Deno.memoryUsage().rss;
      const timer = setInterval(() => rss = Math.max(rss, Deno.memoryUsage().rss), 10);
      try {
        // Enough work that all N are alive at once (the pool is warm).
        await run(m, "/bin/lua", Array(procs).fill(["lua", "-e", "for i = 1, 200000 do end"]));
      } finally {
        clearInterval(timer);
      }
      const s = m.stats();
      await m.shutdown();
      const c = s.copied_bytes;
      out.push({
        mode,
        procs,
        instret: s.instret,
        peakFrames: s.ram.peak_used_frames,
        pagecacheFrames: s.ram.pagecache_frames,
        copiedBytes: c.pagecache_fill + c.cow + c.read + c.write,
        faultsDax: s.faults.dax,
        faultsFile: s.faults.file_minor + s.faults.file_major,
        deviceMappedFrames: s.device.mapped_frames,
        rssBytes: rss,
      });
    }
  }
  return out;
}

/** Every musl/Lua measurement. */
export async function measureMusl(quick: boolean): Promise<MuslResult> {
  const image = mkfs({ sizeBytes: 16 * MIB, from: ROOTFS });
  const runs = quick ? 3 : 15;
  return {
    status: "ok",
    exec: await measureExec(image, runs),
    reloc: await measureReloc(image, runs),
    footprint: await measureFootprint(image, quick ? [1, 2] : [1, 8]),
  };
}

// ---------------------------------------------------------------------------
// rendering

type Table = (head: string[], rows: string[][]) => string;

/** The report section (tables drawn by the report's `table`). */
export function muslSection(r: MuslResult | undefined, table: Table): string {
  const head = "### musl and Lua: exec, user-space relocation, footprint";
  if (r === undefined) return `${head}\n\nNot measured: not in this data.`;
  if (r.status !== "ok") return `${head}\n\nNot measured: ${r.reason ?? ""}`;
  const pc = r.exec?.find((p) => p.mode === "pagecache");
  const [kern, user] = r.reloc ?? [];
  return [
    head,
    "",
    "Exec of `/bin/lua -e x=1`: PT_INTERP names musl's ld.so, which maps libc.so and " +
    "liblua.so and relocates them in user space; one warm Machine per mode, modes taking " +
    "turns run by run, median. (In copy mode only the program and the interpreter are copied " +
    "by exec; ld.so maps the libraries from the file as usual.)",
    "",
    table(
      ["mode", "runs", "median", "min", "page cache ÷ mode (throughput ratio)"],
      (r.exec ?? []).map((p) => [
        p.mode,
        String(p.runs),
        `${p.medianMs.toFixed(1)} ms`,
        `${p.minMs.toFixed(1)} ms`,
        pc === undefined ? "—" : (pc.medianMs / p.medianMs).toFixed(3),
      ]),
    ),
    "",
    "The same program (guest/bin/hello.c) linked two ways, dax mode: against libxc, linked by " +
    "the kernel at exec (42 RELATIVE relocations in libc.so, the program's JUMP_SLOTs), and " +
    "against musl, linked by ld.so in user space (ld.so relocates itself, musl's libc.so and " +
    "the program). Instructions retired are the process's own: the kernel-side linker's work " +
    "is in the wall time only.",
    "",
    table(
      ["program", "linked by", "median spawn → exit", "instructions retired"],
      (r.reloc ?? []).map((p) => [
        p.program,
        p.linker,
        `${p.medianMs.toFixed(1)} ms`,
        p.instret.toLocaleString("en-US"),
      ]),
    ),
    kern !== undefined && user !== undefined
      ? `\nmusl ÷ kernel-linked: ${(user.medianMs / kern.medianMs).toFixed(2)}× the time, ` +
        `${(user.instret - kern.instret).toLocaleString("en-US")} more user instructions.`
      : "",
    "",
    "N processes of `lua -e 'for i = 1, 200000 do end'` at once. The script does no file " +
    "I/O, so page-cache frames are pages of lua, libc.so and liblua.so: the RAM their code " +
    "takes without DAX.",
    "",
    table(
      [
        "mode",
        "N",
        "page-cache frames (code)",
        "device frames mapped",
        "peak RAM frames",
        "DAX faults",
        "file faults",
      ],
      (r.footprint ?? []).map((p) => [
        p.mode,
        String(p.procs),
        String(p.pagecacheFrames),
        String(p.deviceMappedFrames),
        String(p.peakFrames),
        String(p.faultsDax),
        String(p.faultsFile),
      ]),
    ),
  ].join("\n");
}

/** The report's target row: exec of a dynamic musl program, DAX vs page cache ≥ 0.98. */
export function muslExecTarget(r: MuslResult | undefined) {
  const target = "Exec of a dynamic musl program, DAX vs page cache", goal = "≥ 0.98";
  const none = (note: string) => ({
    target,
    goal,
    measured: "—",
    verdict: "not measured" as const,
    note,
  });
  if (r === undefined) return none("not in this data");
  if (r.status !== "ok") return none(r.reason ?? "");
  const dax = r.exec?.find((p) => p.mode === "dax");
  const pc = r.exec?.find((p) => p.mode === "pagecache");
  if (dax === undefined || pc === undefined) return none("no dax or page-cache exec runs");
  const ratio = pc.medianMs / dax.medianMs;
  return {
    target,
    goal,
    measured: ratio.toFixed(3),
    verdict: ratio >= 0.98 ? "met" as const : "missed" as const,
    note: `spawn→exit of /bin/lua -e x=1 (musl ld.so, libc.so, liblua.so): median ${
      dax.medianMs.toFixed(1)
    } ms (dax) vs ${pc.medianMs.toFixed(1)} ms (page cache), ${dax.runs} interleaved runs each`,
  };
}
