/**
 * Chaos with dying Workers (not a test; tests/chaos/kill_chaos_test.ts and
 * `deno task stress --kill` run it). Each round starts a mix of guest
 * processes on one Machine and kills some of them the hard way, as a
 * terminated Worker dies: either at a random moment (machine.terminate) or
 * at a chosen kill point (machine.chaosKill: the N-th lock operation, or
 * the N-th made while holding a given lock class: inside a fault, a
 * getBlock, a truncate). The victim stops where it stands, without
 * unwinding (src/sync/current.ts), and the Machine recovers its locks and
 * tears it down from the main thread.
 *
 * After every round the survivors must have finished correctly, and at the
 * end of the run:
 * - every frame and lock is back, and machine.checkInvariants({ fsck }) is clean;
 * - the host image file, which fsync writes in place, holds every log record
 *   an fsx process reported durable ("durable N" after its fsync returned),
 *   even the killed ones' and before any clean shutdown;
 * - the image saved at shutdown is fsck-clean and mounts again with clean
 *   invariants.
 *
 * @module
 */

import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { mkfsInto } from "../../src/fs/xipfs/mkfs.ts";
import { fileRead } from "../../src/fs/xipfs/xipfs_file.ts";
import { inodeGetSize, openVolume } from "../../src/fs/xipfs/xipfs_format.ts";
import { namei } from "../../src/fs/xipfs/xipfs_namei.ts";
import { type ExitStatus, Machine } from "../../src/kernel/machine.ts";
import { LockClass } from "../../src/sync/lockdep.ts";
import { DEBUG_PERTURB, setDebug } from "../../src/sync/debug.ts";
import { computeOutput } from "../../tests/guest/_expected.ts";
import { Rand } from "../fuzz/_rng.ts";
import { makeGuestTree, within } from "../../tests/kernel/_guest_image.ts";
import { lastDurable, verifyFsxLog } from "../../tests/integration/_fsx_log.ts";

/**
 * Lock classes a chaosKill targets, per mode: those a process can hold at a
 * kill point (src/sync/current.ts); PAGE_CACHE only in the page cache, where
 * truncate collects a file's pages under it. INODE_CACHE is taken only
 * inside no-kill regions where a process can be killed, because what it
 * guards comes with inode references no lock records; TASK_TABLE,
 * FRAME_ALLOC and BLOCK_ALLOC are declared for lockdep but unused (those
 * tables are lock-free).
 */
export const TARGET_CLASSES: Readonly<Record<"always" | "never", readonly LockClass[]>> = {
  always: [
    LockClass.I_RWSEM,
    LockClass.MMAP_LOCK,
    LockClass.INVALIDATE_LOCK,
    LockClass.DAX_ENTRY,
    LockClass.BLOCK_MAP,
    LockClass.I_MMAP,
    LockClass.PAGE_TABLE,
    LockClass.FILE_TABLE,
  ],
  never: [
    LockClass.I_RWSEM,
    LockClass.MMAP_LOCK,
    LockClass.INVALIDATE_LOCK,
    LockClass.PAGE_LOCK,
    LockClass.BLOCK_MAP,
    LockClass.I_MMAP,
    LockClass.PAGE_TABLE,
    LockClass.FILE_TABLE,
    LockClass.PAGE_CACHE,
  ],
};

export interface KillChaosOptions {
  seed: number;
  dax: "always" | "never";
  rounds: number;
  /** Kill points a chaosKill counts to, at most (default 300). */
  maxPoints?: number;
  /** fsx operations per process (default 300). */
  fsxOps?: number;
  /** Schedule perturbation (DEBUG_PERTURB) on every lock operation. */
  perturb?: boolean;
  /** RAM in 4 KiB frames (default 8192); small values make faults reclaim and OOM-kill. */
  ramFrames?: number;
}

export interface KillChaosReport {
  seed: number;
  dax: string;
  perturb: boolean;
  processes: number;
  /** Victims stopped by a kill (exit 137), and how. */
  killed: number;
  killedByTerminate: number;
  killedAtPoint: number;
  /** How many victims died holding each lock class (from the exit message). */
  heldAtDeath: Map<string, number>;
  /** Durable fsx log records checked in the host image after the run. */
  durableRecords: number;
  /** Processes the OOM killer stopped (only with ramFrames set). */
  oomKilled: number;
  /** One line per problem; empty when the run held. */
  problems: string[];
  /** Each victim stopped by a kill: round, program and the exit message (for diagnosis). */
  deaths: string[];
}

const dec = new TextDecoder();

interface Proc {
  argv: string[];
  out: string;
  victim: "" | "terminate" | "point";
  status?: ExitStatus;
}

/** What `threads compute 2 20000` prints (qemu-riscv32 prints the same). */
const THREADS_OUT = [
  "2 threads: 2262 primes below 20000",
  "every thread's getpid() is the process's: yes",
  "thread ids distinct and not the pid: yes",
  "mutex-guarded counter: 2000 (expected 2000)",
  "",
].join("\n");
const CYCLES = "20";

/**
 * A musl process for the mix: the dynamic lua writes a file through stdio,
 * reads it back line by line, removes it and prints the sum.
 */
const luaChaos = (round: number): string =>
  `local p = "/lua${round}.txt" local f = assert(io.open(p, "w")) ` +
  `for i = 1, 2000 do f:write(i, "\\n") end f:close() local n = 0 ` +
  `for l in io.lines(p) do n = n + tonumber(l) end os.remove(p) print("lua ok " .. n)`;
const LUA_CHAOS_OUT = "lua ok 2001000\n";

/**
 * The workload of one round: counters, compute, fsx with logs, a threaded
 * compute (two more Workers on its mm), a process forking children one
 * after another (so a victim may be a thread group, or a parent whose
 * child is then orphaned), and a musl lua (its libc and ld.so in place).
 */
function roundArgv(round: number, r: Rand, fsxOps: number): string[][] {
  return [
    ["/bin/counter", `/cnt${round}a`, "3000"],
    ["/bin/counter", `/cnt${round}b`, "3000"],
    ["/bin/compute", "6"],
    ["/bin/fsx", `/fsx${round}a`, String(r.u32()), String(fsxOps), `/log${round}a`],
    ["/bin/fsx", `/fsx${round}b`, String(r.u32()), String(fsxOps), `/log${round}b`],
    ["/bin/fsx", `/fsx${round}c`, String(r.u32()), String(fsxOps), `/log${round}c`],
    ["/bin/threads", "compute", "2", "20000"],
    ["/bin/proctest", "cycles", CYCLES],
    ["/bin/lua", "-e", luaChaos(round)],
  ];
}

/** What a survivor must have printed and returned; null when it did. */
function survivorProblem(p: Proc): string | null {
  const s = p.status!;
  if (s.code !== 0) return `exit ${s.code}: ${s.message ?? ""} ${p.out.slice(-200)}`;
  const prog = p.argv[0];
  if (prog === "/bin/compute" && p.out !== computeOutput(Number(p.argv[1]))) {
    return `wrong output: ${p.out.slice(0, 200)}`;
  }
  if (prog === "/bin/fsx" && !p.out.includes(`fsx: ${p.argv[3]} ops ok`)) {
    return `no "ops ok": ${p.out.slice(-200)}`;
  }
  if (prog === "/bin/threads" && p.out !== THREADS_OUT) {
    return `wrong output: ${p.out.slice(0, 300)}`;
  }
  if (prog === "/bin/proctest" && p.out !== `${CYCLES} cycles of fork, exit, wait: ok\n`) {
    return `wrong output: ${p.out.slice(0, 200)}`;
  }
  if (prog === "/bin/lua" && p.out !== LUA_CHAOS_OUT) return `wrong output: ${p.out.slice(0, 200)}`;
  return null;
}

/** Read `path` from an image's bytes, or null when it does not exist. */
function readFileFromImage(image: Uint8Array, path: string): Uint8Array | null | string {
  const opened = openVolume(image);
  if (!opened.ok) return opened.error;
  const ino = namei(opened.vol, path, true);
  if (ino < 0) return null;
  const bytes = fileRead(opened.vol, ino, 0, inodeGetSize(opened.vol, ino));
  return typeof bytes === "number" ? `read ${path}: errno ${bytes}` : bytes;
}

/**
 * Run the chaos: `rounds` rounds on one Machine booted from a host image
 * file, then the durability, fsck and re-mount checks. Never throws for a
 * problem of the system under test: it lists it in `problems`.
 */
export async function runKillChaos(o: KillChaosOptions): Promise<KillChaosReport> {
  const r = new Rand(o.seed);
  const rep: KillChaosReport = {
    seed: o.seed,
    dax: o.dax,
    perturb: o.perturb ?? false,
    processes: 0,
    killed: 0,
    killedByTerminate: 0,
    killedAtPoint: 0,
    heldAtDeath: new Map(),
    durableRecords: 0,
    oomKilled: 0,
    problems: [],
    deaths: [],
  };
  const tree = makeGuestTree();
  const dir = Deno.makeTempDirSync({ prefix: "xip-chaos-" });
  const imagePath = `${dir}/chaos.img`;
  const img = new Uint8Array(16 * 1024 * 1024);
  mkfsInto(img, { from: tree });
  Deno.writeFileSync(imagePath, img);
  const errs: string[] = [];
  const durable: { log: string; n: number }[] = [];
  const m = await Machine.boot({
    image: imagePath,
    ram: (o.ramFrames ?? 8192) * 4096,
    dax: o.dax,
    lockdep: true,
    maxProcs: 14,
    warm: 8,
    killGraceMs: 5000,
    stderr: (d) => errs.push(dec.decode(d)),
    log: () => {},
  });
  if (o.perturb) setDebug(m.mem.k32, DEBUG_PERTURB, true);
  let saved = false;
  try {
    for (let round = 0; round < o.rounds; round++) {
      const procs: Proc[] = roundArgv(round, r, o.fsxOps ?? 300).map((argv) => ({
        argv,
        out: "",
        victim: "",
      }));
      const spawned = procs.map((p) =>
        m.spawn(p.argv[0]!, p.argv, { stdout: (d) => p.out += dec.decode(d) })
      );
      rep.processes += procs.length;
      const strikes: Promise<void>[] = [];
      const classes = TARGET_CLASSES[o.dax];
      // Victims: one counter, two fsx (the long runs, so that kills land
      // mid-run), the threaded compute or the forking process, and in
      // every other round the lua.
      const lua = r.int(2) === 0 ? [8] : [];
      for (const i of [r.int(2), 3 + r.int(3), 3 + r.int(3), 6 + r.int(2), ...lua]) {
        if (procs[i]!.victim !== "") continue;
        const pid = spawned[i]!.pid;
        procs[i]!.victim = r.int(3) === 0 ? "terminate" : "point";
        if (procs[i]!.victim === "terminate") {
          const delay = r.int(1500);
          strikes.push(new Promise((res) => setTimeout(res, delay)).then(() => {
            m.terminate(pid);
          }));
        } else if (r.int(3) === 0) {
          m.chaosKill(pid, 1 + r.int(o.maxPoints ?? 300)); // any lock operation
        } else {
          m.chaosKill(pid, 1 + r.int(20), classes[r.int(classes.length)]!);
        }
      }
      const exits = await within(
        Promise.all(spawned.map((p) => p.wait())),
        180_000,
        `seed ${o.seed} round ${round}`,
      );
      await Promise.all(strikes);
      procs.forEach((p, i) => {
        p.status = exits[i]!;
        const what = `seed ${o.seed} ${o.dax} round ${round} ${p.argv.join(" ")}`;
        if (p.argv[0] === "/bin/fsx") {
          durable.push({ log: p.argv[4]!, n: lastDurable(p.out) });
        }
        if (p.victim !== "" && p.status.code === 137) {
          rep.killed++;
          const msg = p.status.message ?? "";
          rep.deaths.push(`round ${round} ${p.victim} ${p.argv.join(" ")}: ${msg}`);
          if (p.victim === "point") rep.killedAtPoint++;
          else rep.killedByTerminate++;
          for (const c of /holding (.*)\)$/.exec(msg)?.[1]?.split(", ") ?? []) {
            rep.heldAtDeath.set(c, (rep.heldAtDeath.get(c) ?? 0) + 1);
          }
          return;
        }
        if (o.ramFrames !== undefined && p.status.code === 137 && p.status.message === undefined) {
          rep.oomKilled++; // RAM pressure: the OOM killer chose it (src/kernel/oom.ts)
          return;
        }
        const bad = survivorProblem(p);
        if (bad !== null) rep.problems.push(`${what}${p.victim ? " (victim)" : ""}: ${bad}`);
      });
      if (rep.problems.length > 0) break;
    }
    rep.problems.push(...m.checkInvariants({ fsck: true }).map((l) => `invariants: ${l}`));
    if (m.stats().panics !== 0) rep.problems.push(`kernel bugs: ${errs.join("").slice(0, 500)}`);
    // Before any clean shutdown: fsync put the durable records in the host file.
    const host = Deno.readFileSync(imagePath);
    for (const d of durable) {
      if (d.n < 0) continue;
      const bytes = readFileFromImage(host, d.log);
      if (bytes === null || typeof bytes === "string") {
        rep.problems.push(`durable ${d.log}: ${bytes ?? "missing from the host image"}`);
        continue;
      }
      const v = verifyFsxLog(bytes);
      if (v.records < d.n + 1) {
        rep.problems.push(
          `durable ${d.log}: ${d.n + 1} records reported durable, ${v.records} in the host image${
            v.problem ? ` (${v.problem})` : ""
          }`,
        );
      }
      rep.durableRecords += d.n + 1;
    }
    await within(m.shutdown({ save: imagePath }), 60_000, "shutdown");
    saved = true;
    if (m.stats().panics !== 0) rep.problems.push(`at shutdown: ${errs.join("").slice(0, 500)}`);
    const after = Deno.readFileSync(imagePath);
    const f = fsck(after);
    if (f.status !== 0) rep.problems.push(`fsck of the saved image: ${f.errors.join("; ")}`);
    const again = await Machine.boot({ image: after, imagePath: null, dax: o.dax, warm: 1 });
    try {
      rep.problems.push(...again.checkInvariants({ fsck: true }).map((l) => `re-mounted: ${l}`));
    } finally {
      await again.shutdown();
    }
  } finally {
    if (!saved) await within(m.shutdown(), 60_000, "shutdown");
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(tree, { recursive: true });
  }
  return rep;
}

/** The report as a few lines. */
export function formatKillChaos(rep: KillChaosReport): string {
  const held = [...rep.heldAtDeath].sort().map(([c, n]) => `${c} ${n}`).join(", ");
  return [
    `kill chaos seed ${rep.seed} dax=${rep.dax}${
      rep.perturb ? " perturb" : ""
    }: ${rep.processes} processes, ${rep.killed} killed ` +
    `(${rep.killedByTerminate} at a random moment, ${rep.killedAtPoint} at a chosen kill point), ` +
    `${rep.durableRecords} durable log records checked` +
    (rep.oomKilled > 0 ? `, ${rep.oomKilled} OOM-killed` : ""),
    `  held at death: ${held || "none"}`,
    ...rep.problems.map((p) => `  PROBLEM ${p}`),
    ...(rep.problems.length > 0 ? rep.deaths.map((d) => `  death: ${d}`) : []),
  ].join("\n");
}
