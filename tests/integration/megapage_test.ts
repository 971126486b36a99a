/**
 * Megapages end to end: mkfs --from lays libbig.so (16 MiB, fixtures/huge)
 * out in 4 MiB-aligned extents, exec gives it a 4 MiB-aligned load bias,
 * and bigtouch processes touching every page of its blob take four
 * megapage faults each instead of 4096 page faults, in both memmap modes;
 * with the page cache the same program runs with 4 KiB pages.
 */

import assert from "node:assert/strict";
import { makeGuestTree } from "../kernel/_guest_image.ts";
import { run, withMachine } from "./_machine.ts";

const FIXTURES = new URL("../../fixtures/", import.meta.url).pathname;

/** The guest tree plus fixtures/huge (libbig.so, bigtouch). */
function hugeTree(): string {
  const dir = makeGuestTree();
  for (const sub of ["bin", "lib"]) {
    for (const e of Deno.readDirSync(`${FIXTURES}huge/${sub}`)) {
      Deno.copyFileSync(`${FIXTURES}huge/${sub}/${e.name}`, `${dir}/${sub}/${e.name}`);
    }
  }
  return dir;
}

const tree = hugeTree();
Deno.test.afterAll(() => Deno.removeSync(tree, { recursive: true }));

const PROCS = 3;
const BOOT = { size: 40 << 20, ram: 32 << 20, maxProcs: PROCS + 1, warm: PROCS } as const;

for (const memmap of ["none", "device"] as const) {
  Deno.test(`bigtouch maps libbig.so's 16 MiB with 4 megapages per process (dax=always, memmap=${memmap})`, async () => {
    await withMachine(tree, { ...BOOT, dax: "always", memmap }, async (m) => {
      const runs = await Promise.all(
        Array.from(
          { length: PROCS },
          () => run(m, "/bin/bigtouch", ["bigtouch", "/count", `${PROCS}`]),
        ),
      );
      for (const r of runs) {
        assert.equal(r.code, 0, `${r.message} ${r.stderr}`);
        assert.match(r.stdout, /^bigtouch: 4096 pages in \d+ us\n$/);
      }
      const s = m.stats();
      assert.equal(s.faults.dax_pmd, 4 * PROCS, "four megapages per process");
      assert.ok(s.faults.dax < 100 * PROCS, `4 KiB DAX faults: ${s.faults.dax}, not thousands`);
    });
  });
}

Deno.test("bigtouch runs with 4 KiB page-cache pages and no megapage under dax=never", async () => {
  await withMachine(tree, { ...BOOT, dax: "never" }, async (m) => {
    const r = await run(m, "/bin/bigtouch", ["bigtouch"]);
    assert.equal(r.code, 0, `${r.message} ${r.stderr}`);
    const s = m.stats();
    assert.equal(s.faults.dax_pmd, 0);
    const pc = s.faults.file_major + s.faults.file_minor;
    assert.ok(pc >= 4096, `page-cache faults: ${pc}`);
  });
});
