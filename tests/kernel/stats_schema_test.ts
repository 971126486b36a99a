/**
 * The stats contract: docs/stats.schema.json is what the MachineStats type
 * generates (tools/stats_schema.ts), and real output, from machine.stats()
 * and from `xip run --stats`, validates against it (ajv, draft 2020-12).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Ajv2020 } from "npm:ajv@8/dist/2020.js";
import { Machine } from "../../src/kernel/machine.ts";
import { STATS_VERSION } from "../../src/kernel/stats.ts";
import { PAGE_SIZE } from "../../src/abi/types.ts";
import { SCHEMA_PATH, schemaText, statsSchema } from "../../tools/stats_schema.ts";

const ROOTFS = new URL("../../fixtures/rootfs", import.meta.url).pathname;
const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;

const committed = JSON.parse(Deno.readTextFileSync(SCHEMA_PATH));
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(committed);

/** The validation errors of `v`, one line each; empty when it is valid. */
function problems(v: unknown): string[] {
  if (validate(v)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`);
}

Deno.test("docs/stats.schema.json is the schema the MachineStats type generates", async () => {
  const text = schemaText(await statsSchema());
  assert.equal(
    Deno.readTextFileSync(SCHEMA_PATH),
    text,
    "docs/stats.schema.json is out of date: run deno task schema",
  );
});

Deno.test("machine.stats() of a run with exits and a fault validates against the schema", async () => {
  const m = await Machine.boot({ from: ROOTFS, maxProcs: 4, warm: 2, stdout: () => {} });
  try {
    const quiet = { stdout: () => {}, stderr: () => {} };
    const runs = [
      m.spawn("/bin/compute", ["/bin/compute", "1"], quiet),
      m.spawn("/bin/hello", ["/bin/hello"], quiet),
      m.spawn("/bin/segv", ["/bin/segv"], quiet),
    ];
    const codes = (await Promise.all(runs.map((p) => p.wait()))).map((s) => s.code);
    assert.deepEqual(codes, [0, 0, 139]);
    const stats = JSON.parse(JSON.stringify(m.stats()));
    assert.deepEqual(problems(stats), []);
    assert.equal(stats.version, STATS_VERSION);
    assert.equal(stats.page_size, PAGE_SIZE);
    assert.deepEqual(stats.exit, [0, 0, 139]);
    assert.ok(stats.instret > 0 && stats.faults.dax + stats.faults.file_major > 0);
  } finally {
    await m.shutdown();
  }
});

Deno.test("the schema rejects a stats object with a field missing, added or mistyped", async () => {
  const m = await Machine.boot({ from: ROOTFS, maxProcs: 1, warm: 0 });
  const good = JSON.parse(JSON.stringify(m.stats()));
  await m.shutdown();
  assert.deepEqual(problems(good), []);
  const { faults: _faults, ...missing } = good;
  assert.ok(problems(missing).some((p) => p.includes("faults")));
  assert.ok(problems({ ...good, extra: 1 }).some((p) => p.includes("additional")));
  assert.ok(problems({ ...good, wall_ms: "12" }).some((p) => p.includes("/wall_ms")));
  assert.ok(problems({ ...good, version: 2 }).some((p) => p.includes("/version")));
  assert.ok(problems({ ...good, ram: { ...good.ram, total_frames: -1 } }).length > 0);
});

Deno.test("xip run --stats FILE writes JSON that validates against the schema", async () => {
  const dir = await Deno.makeTempDir({ prefix: "xip-stats-" });
  try {
    const image = `${dir}/root.img`, statsFile = `${dir}/s.json`;
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const mk = await run(["mkfs", image, "--from", ROOTFS]);
    assert.equal(mk.code, 0, new TextDecoder().decode(mk.stderr));
    const r = await run(["run", image, "--procs", "2", "--stats", statsFile, "--", "/bin/hello"]);
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const stats = JSON.parse(Deno.readTextFileSync(statsFile));
    assert.deepEqual(problems(stats), []);
    assert.equal(stats.procs, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
