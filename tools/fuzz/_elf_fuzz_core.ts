/**
 * The exec fuzzer's cases (run in a Worker by elf_fuzz_worker.ts, with the
 * watchdog of _fuzz_runner.ts). Case i of seed S mutates one fixture
 * (fixtures/rootfs/bin/*, the libraries /bin/compute loads, the musl
 * interpreter, fixtures/static/*) with a structured mutation, writes it
 * into the live xipfs (DAX for even seeds, page cache for odd ones)
 * through the VFS, execs it (textMode "map" or "copy") into a fresh mm,
 * and tears the mm down. A mutated program with PT_INTERP (bin/lua) runs
 * into the real /lib/ld-musl-riscv32.so.1; a mutated interpreter is
 * exec'd as the interpreter of an unmutated lua whose PT_INTERP names it. Every case must end with
 * a load or a documented ExecError (errno + one-line reason); afterwards
 * every file exec opened is closed, no inode reference is left, every frame
 * is back (free, or holding a page-cache page: page-cache mode keeps the
 * file pages exec read), and checkInvariants reports nothing.
 */

import { errnoName } from "../../src/abi/errno.ts";
import { type ExecError, type ExecResult, execve, isExecError } from "../../src/kernel/exec.ts";
import { checkInvariants } from "../../src/kernel/invariants.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { pagecacheFrames } from "../../src/fs/pagecache/pagecache.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { mutateElf } from "./_elf_mutate.ts";
import {
  activeInodes,
  bootFuzzMachine,
  FsExecEnv,
  type FuzzMachine,
  putFile,
  ROOTFS,
} from "./_fuzz_machine.ts";
import { type Proc, vfsProcCreate } from "../../src/fs/vfs.ts";
import { vfsUnlink } from "../../src/fs/vfs_path.ts";
import { XipVfs } from "../../src/fs/xipfs/vfs_xipfs.ts";
import { caseSeed, Rand } from "./_rng.ts";
import { setInterp } from "../../tests/kernel/_elf_mut.ts";
import { type CaseOutcome, normalizeReason } from "./_fuzz_summary.ts";
import type { MmId } from "../../src/abi/types.ts";

const STATIC = new URL("../../fixtures/static/", import.meta.url);

interface Target {
  /** Fixture name, for the summary. */
  name: string;
  bytes: Uint8Array;
  /**
   * A program is exec'd itself; a library is found through LD_LIBRARY_PATH
   * by /bin/compute; an interpreter is named by the PT_INTERP of /bin/lua.
   */
  role: "prog" | "lib" | "interp";
}

/** The libraries /bin/compute loads (the kernel-side linker's inputs). */
const COMPUTE_LIBS = ["libc.so", "libcompute.so"];
/** Where a mutated interpreter goes; lua's PT_INTERP segment fits the name. */
const FUZZ_INTERP = "/fuzz/ld.so";

function loadTargets(): Target[] {
  const out: Target[] = [];
  const dir = (base: URL, sub: string, role: Target["role"], prefix: string) => {
    const url = new URL(sub, base);
    for (const e of [...Deno.readDirSync(url)].sort((a, b) => a.name.localeCompare(b.name))) {
      if (!e.isFile) continue;
      if (role === "lib" && !COMPUTE_LIBS.includes(e.name)) continue;
      out.push({
        name: `${prefix}${e.name}`,
        bytes: Deno.readFileSync(new URL(e.name, url)),
        role,
      });
    }
  };
  dir(ROOTFS, "bin/", "prog", "bin/");
  dir(ROOTFS, "lib/", "lib", "lib/");
  dir(STATIC, "./", "prog", "static/");
  const ldso = Deno.readFileSync(new URL("lib/ld-musl-riscv32.so.1", ROOTFS));
  out.push({ name: "interp/ld-musl-riscv32.so.1", bytes: ldso, role: "interp" });
  return out;
}

/** /bin/lua with its PT_INTERP naming FUZZ_INTERP. */
const LUA_FUZZ_INTERP = setInterp(Deno.readFileSync(new URL("bin/lua", ROOTFS)), FUZZ_INTERP);

/** State kept across the cases of one run. */
export interface ElfFuzz {
  m: FuzzMachine;
  /** The fuzzer's own process (fd table), through which files are written and exec'd. */
  proc: Proc;
  targets: Target[];
  seed: number;
  /** Check invariants after every case (true) or only every 25th (cheaper for long runs). */
  everyCase: boolean;
}

/** Even seeds mount DAX (text mapped from the device), odd seeds the page cache. */
export function elfFuzzSetup(seed: number, everyCase = true): ElfFuzz {
  const m = bootFuzzMachine({ dax: (seed & 1) === 0 ? "always" : "never" });
  const fuzz = m.fs.mkdir(m.root, "fuzz", 0o755);
  if (typeof fuzz === "number" && fuzz < 0) throw new Error(`mkdir /fuzz: ${fuzz}`);
  const proc = vfsProcCreate(new XipVfs(m.fs));
  if (typeof proc === "number") throw new Error(`vfsProcCreate: ${proc}`);
  return { m, proc, targets: loadTargets(), seed, everyCase };
}

const RANDOM = new Uint8Array(16).fill(7);

/** Run case `i`. Throws only on a harness failure; loader problems become outcomes. */
export function elfFuzzCase(z: ElfFuzz, i: number): CaseOutcome {
  const { m } = z;
  const r = new Rand(caseSeed(z.seed, i));
  const t = r.pick(z.targets);
  const mut = mutateElf(t.bytes, r);
  const fname = t.role === "lib" ? t.name.slice(4) : t.role === "interp" ? "ld.so" : "prog";
  const problems: string[] = [];
  let kind: string;
  try {
    const put = putFile(z.proc, `/fuzz/${fname}`, mut.bytes);
    if (put < 0) throw new Error(`putFile ${fname}: ${errnoName(put)}`);
    if (t.role === "interp") {
      const p = putFile(z.proc, "/fuzz/prog", LUA_FUZZ_INTERP);
      if (p < 0) throw new Error(`putFile prog: ${errnoName(p)}`);
    }
    // Frames free or in the page cache: exec may leave file pages cached (page-cache mode).
    const frames0 = freeFrameCount(m.mem) + pagecacheFrames(m.mem);
    const inodes0 = activeInodes(m.mem);
    const mm = mmAlloc(m.mem) as MmId;
    if (mm < 0) throw new Error("mmAlloc failed");
    const env = new FsExecEnv(m, mm, z.proc);
    const textMode = r.chance(0.5) ? "map" : "copy";
    const path = t.role === "lib" ? "/bin/compute" : "/fuzz/prog";
    const envp = t.role === "lib" ? ["LD_LIBRARY_PATH=/fuzz"] : [];
    let res: ExecResult | ExecError;
    try {
      res = execve(env, path, [path, "7"], envp, { textMode, random: RANDOM });
    } catch (e) {
      res = { errno: 0, reason: `threw ${e instanceof Error ? e.name : typeof e}: ${String(e)}` };
      problems.push(`execve threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
    mmPut(m.mem, mm); // exitMmap: the same teardown after success or failure
    if (isExecError(res)) {
      if (res.errno > 0 && (res.reason.length === 0 || res.reason.includes("\n"))) {
        problems.push(`reason is not one line: ${JSON.stringify(res.reason)}`);
      }
      kind = res.errno > 0 ? `${errnoName(res.errno)}: ${normalizeReason(res.reason)}` : "THREW";
    } else kind = "loaded";
    if (env.closes !== env.opens) problems.push(`${env.opens - env.closes} file(s) left open`);
    if (activeInodes(m.mem) !== inodes0) {
      problems.push(`inode references leaked: ${activeInodes(m.mem) - inodes0}`);
    }
    const frames = freeFrameCount(m.mem) + pagecacheFrames(m.mem);
    if (frames !== frames0) problems.push(`frames leaked: ${frames0 - frames}`);
  } finally {
    vfsUnlink(z.proc, `/fuzz/${fname}`);
    if (t.role === "interp") vfsUnlink(z.proc, "/fuzz/prog");
  }
  if (z.everyCase || i % 25 === 0) {
    for (const v of checkInvariants(m.mem)) problems.push(`invariant: ${v}`);
  }
  return { kind, mutation: mut.kind, target: t.name, problems };
}
