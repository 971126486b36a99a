/**
 * The long stress soak (not a test): `deno task stress --seconds N --seed S
 * [--workers K] [--mode dax|pagecache|both] [--perturb on|off|both] [--ram FRAMES]`.
 * Runs rounds of every selected configuration until N seconds have passed,
 * each round with the next seed (S, S+1, ...), and prints one report per
 * run with its seed; exits 1 at the first run with a problem. A run is
 * replayed with `--seed` set to the seed it printed.
 */

import { parseArgs } from "node:util";
import { formatStress, runStress } from "./_stress_runner.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "60" },
    seed: { type: "string" },
    workers: { type: "string", default: "4" },
    mode: { type: "string", default: "both" },
    perturb: { type: "string", default: "both" },
    ram: { type: "string" },
    ops: { type: "string", default: "1000000" },
  },
});
const seconds = Number(values.seconds);
const workers = Number(values.workers);
let seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 1e9);
const modes = values.mode === "both" ? ["dax", "pagecache"] as const : [values.mode] as const;
const perturbs = values.perturb === "both" ? [false, true] : [values.perturb === "on"];
if (!(seconds > 0) || !(workers >= 1) || !modes.every((m) => m === "dax" || m === "pagecache")) {
  console.error(
    "usage: deno task stress --seconds N --seed S [--workers K] [--mode dax|pagecache|both] [--perturb on|off|both] [--ram FRAMES]",
  );
  Deno.exit(2);
}
const end = Date.now() + seconds * 1000;
const slice = Math.max(5, Math.min(60, seconds / (modes.length * perturbs.length)));
let runs = 0, ops = 0;
while (Date.now() < end) {
  for (const mode of modes) {
    for (const perturb of perturbs) {
      const r = await runStress({
        seed,
        workers,
        mode: mode as "dax" | "pagecache",
        perturb,
        ops: Number(values.ops),
        seconds: Math.min(slice, Math.max(1, (end - Date.now()) / 1000)),
        ramFrames: values.ram !== undefined ? Number(values.ram) : undefined,
      });
      console.log(formatStress(r));
      runs++;
      ops += r.ops;
      if (r.problems.length > 0) {
        console.log(
          `FAILED: replay with deno task stress --seed ${seed} --mode ${mode} --perturb ${
            perturb ? "on" : "off"
          } --workers ${workers}`,
        );
        Deno.exit(1);
      }
    }
  }
  seed++;
}
console.log(`stress: ${runs} runs, ${ops} operations, all OK`);
