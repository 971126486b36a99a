import assert from "node:assert/strict";
import { suiteJit } from "../hw/_hart_machine.ts";
import { PROC_FREE, TASK_TLB, taskBase } from "../../src/abi/layout/mod.ts";
import { TLB_MODE_USER } from "../../src/mm/tlb_flush.ts";
import { asTaskSlot } from "../../src/abi/types.ts";
import { Machine } from "../../src/kernel/machine.ts";
import { procGet } from "../../src/kernel/proc.ts";
import { SIGINT, SIGTERM } from "../../src/kernel/signal.ts";
import { TASK_LIVE, taskState } from "../../src/sync/current.ts";
import { STATIC_CASES } from "../guest/_expected.ts";
import { makeGuestTree, until, within } from "./_guest_image.ts";
import { assertInvariants } from "../_invariants.ts";

const tree = makeGuestTree();
Deno.test.afterAll(() => Deno.removeSync(tree, { recursive: true }));

const dec = new TextDecoder();
const RAM = 32 * 1024 * 1024;

/** Boot a machine on the guest tree, run `body`, check its invariants and fsck, always shut down. */
async function withMachine(
  body: (m: Machine) => Promise<void>,
  opts: { maxProcs?: number; warm?: number } = {},
): Promise<void> {
  const m = await Machine.boot({
    jit: suiteJit(),
    from: tree,
    size: 16 * 1024 * 1024,
    ram: RAM,
    maxProcs: opts.maxProcs ?? 8,
    warm: opts.warm ?? 2,
    killGraceMs: 3000,
    lockdep: true,
    stderr: () => {},
  });
  try {
    await body(m);
    assertInvariants(m, { fsck: true }, "after the test");
  } finally {
    await within(m.shutdown(), 20_000, "shutdown");
  }
}

/** Spawn and collect stdout/stderr. */
function run(m: Machine, path: string, argv: string[]) {
  const out: Uint8Array[] = [], err: Uint8Array[] = [];
  const p = m.spawn(path, argv, { stdout: (d) => out.push(d), stderr: (d) => err.push(d) });
  const text = (bs: Uint8Array[]) => bs.map((b) => dec.decode(b)).join("");
  return {
    pid: p.pid,
    done: within(p.wait(), 60_000, `${path}`).then((s) => ({
      ...s,
      stdout: text(out),
      stderr: text(err),
    })),
  };
}

Deno.test("Machine runs every static fixture with qemu's output and status", async () => {
  await withMachine(async (m) => {
    const runs = STATIC_CASES.map((c) => ({
      c,
      r: run(m, `/static/${c.program}`, [c.argv0, ...c.args]),
    }));
    for (const { c, r } of runs) {
      const res = await r.done;
      assert.equal(res.stdout, c.stdout, `${c.name}: stdout`);
      assert.equal(res.code, c.status, `${c.name}: status (${res.message ?? ""})`);
    }
    assert.equal(m.freeFrames(), m.bootFreeFrames, "every frame came back");
  }, { maxProcs: STATIC_CASES.length, warm: 4 });
});

Deno.test("Machine runs dynamic rootfs programs, init functions first", async () => {
  await withMachine(async (m) => {
    const hello = await run(m, "/bin/hello", ["hello", "x y"]).done;
    assert.equal(hello.stdout, "hello from xip\nargv[0] = hello\nargv[1] = x y\n");
    assert.equal(hello.code, 0);
    const compute = await run(m, "/bin/compute", ["/bin/compute"]).done;
    const want = STATIC_CASES.find((c) => c.program === "compute" && c.args.length === 0)!;
    assert.equal(compute.stdout, want.stdout);
    assert.match(compute.stdout, /^libcompute initialized: yes\n/);
    assert.equal(compute.code, 0);
  });
});

Deno.test("a segfaulting process exits 139 while 7 others finish correctly", async () => {
  await withMachine(async (m) => {
    const seg = run(m, "/bin/segv", ["segv"]);
    const others = Array.from({ length: 7 }, (_, i) => run(m, "/bin/hello", ["hello", `${i}`]));
    const s = await seg.done;
    assert.equal(s.code, 139);
    assert.equal(s.signal, 11);
    assert.equal(s.stdout, "segv: storing to the null address\n");
    for (const [i, o] of others.entries()) {
      const r = await o.done;
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `hello from xip\nargv[0] = hello\nargv[1] = ${i}\n`);
    }
    assert.equal(m.freeFrames(), m.bootFreeFrames);
  }, { maxProcs: 8, warm: 8 });
});

Deno.test("exec failures give 127 for a missing program and 126 for a non-ELF file", async () => {
  await withMachine(async (m) => {
    const missing = await run(m, "/bin/nope", ["nope"]).done;
    assert.equal(missing.code, 127);
    assert.match(missing.message ?? "", /nope/);
    const notElf = await run(m, "/etc/motd", ["motd"]).done;
    assert.equal(notElf.code, 126);
    assert.equal(m.freeFrames(), m.bootFreeFrames);
  });
});

Deno.test("kill() stops a process blocked in futex wait at once, and one spinning at its next poll", async () => {
  await withMachine(async (m) => {
    const w = run(m, "/t/futexwait", ["futexwait"]);
    const slot = () => {
      for (let i = 2; i < m.mem.layout.config.maxTasks; i++) {
        const s = asTaskSlot(i);
        if (procGet(m.mem, s, "pid") === w.pid && procGet(m.mem, s, "state") !== PROC_FREE) {
          return s;
        }
      }
      return asTaskSlot(-1);
    };
    await until(
      () => slot() > 0 && procGet(m.mem, slot(), "futexWord") !== 0,
      20_000,
      "futex wait",
    );
    assert.ok(m.kill(w.pid, SIGTERM));
    const r = await w.done;
    assert.deepEqual([r.code, r.signal, r.message], [143, SIGTERM, undefined], "not terminated");

    const s = run(m, "/t/spin", ["spin"]);
    await new Promise((res) => setTimeout(res, 100));
    assert.ok(m.kill(s.pid, SIGINT));
    const rs = await s.done;
    assert.deepEqual([rs.code, rs.signal, rs.message], [130, SIGINT, undefined]);
    assert.equal(m.kill(s.pid), false, "no such process any more");
    assert.equal(m.freeFrames(), m.bootFreeFrames);
  });
});

Deno.test("terminate() tears a process down from the main thread: frames and locks come back", async () => {
  await withMachine(async (m) => {
    for (const path of ["/t/spin", "/t/futexwait"]) {
      const p = run(m, path, [path]);
      const slot = () =>
        [...Array(m.mem.layout.config.maxTasks).keys()].map(asTaskSlot).find((s) =>
          s >= 2 && procGet(m.mem, s, "pid") === p.pid &&
          procGet(m.mem, s, "state") !== PROC_FREE
        ) ?? asTaskSlot(-1);
      // Terminate only once the guest sits in its loop: a Worker killed in the middle of
      // exec or of a fault is the random-point recovery the mm layer must make safe.
      const inLoop = () => {
        const s = slot();
        if (s < 0) return false;
        if (path === "/t/futexwait") return procGet(m.mem, s, "futexWord") !== 0;
        const mode = Atomics.load(m.mem.k32, taskBase(m.mem.layout, s) + TASK_TLB.mode);
        return mode === TLB_MODE_USER;
      };
      await until(inLoop, 20_000, `${path} in its loop`);
      await new Promise((res) => setTimeout(res, 30));
      const s = slot();
      assert.ok(m.terminate(p.pid));
      const r = await p.done;
      assert.equal(r.code, 137, path);
      assert.match(r.message ?? "", /terminated/);
      assert.notEqual(taskState(m.mem.k32, asTaskSlot(s)), TASK_LIVE);
    }
    assert.equal(m.freeFrames(), m.bootFreeFrames, "frames of the terminated processes");
    assert.deepEqual(m.checkInvariants({ fsck: true }), []);
    // The recovered slots and locks are usable: a new process runs normally.
    const again = await run(m, "/bin/hello", ["hello"]).done;
    assert.equal(again.code, 0);
    assert.equal(m.freeFrames(), m.bootFreeFrames);
  });
});

Deno.test("stats() has every documented field, consistent with what ran", async () => {
  await withMachine(async (m) => {
    const runs = [
      run(m, "/bin/compute", ["compute"]),
      run(m, "/static/hello", ["hello"]),
      run(m, "/bin/segv", ["segv"]),
    ];
    const codes = [];
    for (const r of runs) codes.push((await r.done).code);
    const s = m.stats();
    assert.deepEqual(Object.keys(s.faults).sort(), [
      "anon",
      "cow",
      "dax",
      "dax_pmd",
      "file_major",
      "file_minor",
      "zero",
    ]);
    assert.deepEqual(Object.keys(s.ram).sort(), [
      "anon_frames",
      "pagecache_frames",
      "pagetable_frames",
      "peak_used_frames",
      "total_frames",
    ]);
    assert.deepEqual(Object.keys(s.device).sort(), [
      "mapped_frames",
      "poisoned_frames",
      "total_frames",
    ]);
    assert.deepEqual(Object.keys(s.copied_bytes).sort(), [
      "cow",
      "pagecache_fill",
      "read",
      "write",
    ]);
    assert.equal(s.procs, 3);
    assert.deepEqual(s.exit, codes);
    assert.deepEqual(codes, [0, 0, 139]);
    assert.equal(s.ram.total_frames, RAM / 4096);
    assert.equal(s.device.total_frames, 16 * 1024 * 1024 / 4096);
    assert.ok(s.ram.peak_used_frames > 0 && s.ram.peak_used_frames <= s.ram.total_frames);
    assert.ok(s.faults.anon > 0, "stacks and heaps fault anonymous pages");
    assert.ok(s.instret > 1000, `instret ${s.instret}`);
    assert.ok(s.wall_ms >= 0);
    // Nothing is left mapped once every process exited.
    assert.equal(s.ram.anon_frames, 0);
    assert.equal(s.ram.pagetable_frames, 0);
    assert.equal(s.panics, 0);
  });
});

Deno.test("spawn() refuses more than maxProcs live processes with one line", async () => {
  await withMachine(async (m) => {
    const a = run(m, "/t/spin", ["spin"]);
    const b = run(m, "/t/spin", ["spin"]);
    assert.throws(() => m.spawn("/bin/hello", ["hello"]), /too many processes \(maxProcs is 2\)/);
    m.kill(a.pid, SIGTERM);
    m.kill(b.pid, SIGTERM);
    assert.equal((await a.done).code, 143);
    assert.equal((await b.done).code, 143);
  }, { maxProcs: 2 });
});
