/**
 * The fork/exec soak (not a test; `deno task stress --fork` runs it):
 * thousands of fork/exit/wait and fork/exec/exit/wait cycles on one
 * Machine per configuration (both DAX modes, both memmap modes), two
 * cycling processes at a time (`proctest cycles N [PATH]`, guest/bin/proctest.c),
 * exec'ing the static and the dynamic true in turn; then
 * every frame must be back and checkInvariants (with fsck) clean.
 *
 * @module
 */

import { pagecacheFrames } from "../../src/fs/pagecache/pagecache.ts";
import { type BootOptions, Machine } from "../../src/kernel/machine.ts";
import { makeGuestTree, within } from "../../tests/kernel/_guest_image.ts";

export interface ForkSoakOptions {
  /** Cycles each configuration runs in all (in batches of `batch`). */
  cycles: number;
  /** Cycles per guest process. */
  batch?: number;
}

export interface ForkSoakReport {
  /** Configurations run, e.g. "dax always, memmap none". */
  configs: string[];
  /** Cycles completed over every configuration. */
  cycles: number;
  /** One line per problem; empty when the soak held. */
  problems: string[];
}

const CONFIGS: BootOptions[] = [
  { dax: "always", memmap: "none" },
  { dax: "always", memmap: "device" },
  { dax: "never", memmap: "none" },
  { dax: "never", memmap: "device" },
];

/** What each batch execs: nothing (exit), a static and a dynamic program. */
const EXECS: (string | null)[] = [null, "/static/true", "/bin/true"];

const dec = new TextDecoder();

/** Run the soak; never throws for a problem of the system under test, it lists it. */
export async function runForkSoak(o: ForkSoakOptions): Promise<ForkSoakReport> {
  const batch = o.batch ?? 200;
  const rep: ForkSoakReport = { configs: [], cycles: 0, problems: [] };
  const tree = makeGuestTree();
  try {
    for (const cfg of CONFIGS) {
      const name = `dax ${cfg.dax}, memmap ${cfg.memmap}`;
      rep.configs.push(name);
      const m = await Machine.boot({
        from: tree,
        ...cfg,
        maxProcs: 8,
        warm: 4,
        stdout: () => {},
        stderr: () => {},
      });
      try {
        let done = 0, round = 0;
        while (done < o.cycles && rep.problems.length === 0) {
          // Two cycling processes at once, each exec'ing something else.
          const runs = [0, 1].map(async (k) => {
            const exec = EXECS[(round + k) % EXECS.length];
            let out = "";
            const argv = ["proctest", "cycles", String(batch), ...(exec ? [exec] : [])];
            const p = m.spawn("/static/proctest", argv, { stdout: (d) => out += dec.decode(d) });
            const s = await within(p.wait(), 600_000, `${name}: ${argv.join(" ")}`);
            const want = `${batch} cycles of fork, ${exec ? "exec" : "exit"}, wait: ok\n`;
            if (s.code !== 0 || out !== want) {
              rep.problems.push(`${name}: ${argv.join(" ")}: exit ${s.code}: ${out.slice(0, 200)}`);
            }
          });
          await Promise.all(runs);
          done += 2 * batch;
          round++;
        }
        await within(m.settled(), 60_000, `${name}: settled`);
        rep.cycles += done;
        // Every frame is free again but the page-cache pages still cached.
        const leaked = m.bootFreeFrames - m.freeFrames() - pagecacheFrames(m.mem);
        if (leaked > 0) {
          rep.problems.push(`${name}: ${leaked} frames not back after ${done} cycles`);
        }
        rep.problems.push(...m.checkInvariants({ fsck: true }).map((l) => `${name}: ${l}`));
      } finally {
        await within(m.shutdown(), 60_000, `${name}: shutdown`);
      }
      if (rep.problems.length > 0) break;
    }
  } finally {
    Deno.removeSync(tree, { recursive: true });
  }
  return rep;
}
