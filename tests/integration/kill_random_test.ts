/**
 * Processes killed (SIGKILL) at random moments, while they fault pages
 * in, take their futex locks in MAP_SHARED files and make syscalls; the
 * mix includes the dynamic musl lua (its interpreter and libraries mapped
 * by musl's ld.so), as a victim and as a survivor. The
 * victims stop at their next safe point (a hart poll, a trap, a lock
 * operation or a futex wait slice: Deno cannot stop a Worker anywhere
 * else), and the Machine tears them down. Afterwards the other processes
 * have finished correctly, every frame and lock is back, the invariants
 * hold and fsck is clean.
 *
 * Seeded: XIP_SEED replays the same victims and delays.
 *
 * Hard kills (machine.terminate, chaosKill) at random points are the
 * subject of tests/chaos/kill_chaos_test.ts and tests/kernel/kill_point_test.ts.
 */

import assert from "node:assert/strict";
import { SIGKILL } from "../../src/kernel/signal.ts";
import { computeOutput } from "../guest/_expected.ts";
import { rng } from "../../tools/fuzz/_rng.ts";
import { makeTree, within, withMachine } from "./_machine.ts";
import { assertInvariants } from "../_invariants.ts";

const tree = makeTree();
Deno.test.afterAll(() => Deno.removeSync(tree, { recursive: true }));

const ROUNDS = 4;
/** A lua run long enough to be struck mid-run (a few hundred ms on the interpreter). */
const LUA_LONG = "local s = 0 for i = 1, 300000 do s = (s + i * i) % 1000003 end print(s)";
const LUA_LONG_OUT = `${
  Array.from({ length: 300000 }, (_, k) => k + 1).reduce((s, i) => (s + i * i) % 1000003, 0)
}\n`;

for (const dax of ["always", "never"] as const) {
  Deno.test(`processes killed at random moments (dax=${dax}) leave the others, frames, locks and fsck intact`, async () => {
    const seed = Number(Deno.env.get("XIP_SEED") ?? Math.floor(Math.random() * 2 ** 31));
    const random = rng(seed);
    try {
      await withMachine(tree, { dax, maxProcs: 8, warm: 8, log: () => {} }, async (m) => {
        const dec = new TextDecoder();
        let stopped = 0;
        for (let round = 0; round < ROUNDS; round++) {
          // Each counter has its own file: a process killed inside its futex-protected
          // section leaves that user-space lock held, as a non-robust futex does in Linux.
          const argvs = [
            ["/bin/counter", `/c${round}a`, "20000"],
            ["/bin/counter", `/c${round}b`, "20000"],
            ["/bin/compute", "12"],
            ["/bin/compute", "12"],
            ["/bin/maps"],
            ["/bin/compute", "2"],
            ["/bin/lua", "-e", LUA_LONG],
            ["/bin/lua", "-e", "print(6 * 7)"],
          ];
          const outs = argvs.map(() => "");
          const ps = argvs.map((argv, i) =>
            m.spawn(argv[0]!, argv, { stdout: (d) => outs[i] += dec.decode(d) })
          );
          const victims = new Set<number>();
          // Victims among the long runs (the counters, compute 12 and the long lua), so
          // strikes land mid-run.
          while (victims.size < 2) victims.add([0, 1, 2, 3, 6][Math.floor(random() * 5)]!);
          const strikes = [...victims].map(async (i) => {
            await new Promise((r) => setTimeout(r, Math.floor(random() * 250)));
            m.kill(ps[i]!.pid, SIGKILL);
          });
          const exits = await within(
            Promise.all(ps.map((p) => p.wait())),
            120_000,
            `round ${round}`,
          );
          await Promise.all(strikes);
          exits.forEach((e, i) => {
            const what = `round ${round}, ${argvs[i]!.join(" ")}`;
            if (victims.has(i)) {
              // Finished before the strike (0) or stopped by it (128 + SIGKILL).
              assert.ok(e.code === 0 || e.code === 137, `${what}: victim exited ${e.code}`);
              if (e.code === 137) stopped++;
              return;
            }
            assert.equal(e.code, 0, `${what}: ${e.message ?? ""}`);
            if (argvs[i]![0] === "/bin/compute") {
              assert.equal(outs[i], computeOutput(Number(argvs[i]![1])), what);
            }
            if (argvs[i]![0] === "/bin/lua") {
              assert.equal(outs[i], i === 6 ? LUA_LONG_OUT : "42\n", what);
            }
          });
        }
        // The strikes must really land mid-run, or this test checks nothing.
        assert.ok(
          stopped >= ROUNDS,
          `only ${stopped} of ${2 * ROUNDS} victims were stopped mid-run`,
        );
        assertInvariants(m, { fsck: true }, `and fsck (XIP_SEED=${seed})`);
      });
    } catch (e) {
      console.error(`kill_random_test failed with XIP_SEED=${seed}`);
      throw e;
    }
  });
}
