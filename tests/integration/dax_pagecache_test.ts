/**
 * Real guest programs through the real file system: exec maps program and
 * library text from xipfs, DAX (shared straight from the device) or the
 * page cache, and the stats say which.
 */

import assert from "node:assert/strict";
import { computeOutput } from "../guest/_expected.ts";
import { assertQuiet, makeTree, run, withMachine } from "./_machine.ts";

const tree = makeTree();
Deno.test.afterAll(() => Deno.removeSync(tree, { recursive: true }));

const HELLO = "hello from xip\nargv[0] = /bin/hello\nargv[1] = x y\n";
const PAGE = 4096;

/** Pages of the executable PT_LOAD segments of an ELF32 file: its text. */
function textPages(path: string): number {
  const b = Deno.readFileSync(path);
  const dv = new DataView(b.buffer);
  const phoff = dv.getUint32(28, true),
    phent = dv.getUint16(42, true),
    phnum = dv.getUint16(44, true);
  let pages = 0;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phent;
    if (dv.getUint32(p, true) !== 1 || (dv.getUint32(p + 24, true) & 1) === 0) continue; // PT_LOAD, PF_X
    const va = dv.getUint32(p + 8, true), memsz = dv.getUint32(p + 20, true);
    pages += Math.ceil((va + memsz) / PAGE) - Math.floor(va / PAGE);
  }
  return pages;
}

for (const dax of ["always", "never"] as const) {
  Deno.test(`hello and compute (libc.so, libcompute.so) run with dax=${dax}, text mapped from the file`, async () => {
    await withMachine(tree, { dax, maxProcs: 4, warm: 2 }, async (m) => {
      const hello = await run(m, "/bin/hello", ["/bin/hello", "x y"]);
      assert.equal(hello.stdout, HELLO);
      assert.equal(hello.code, 0, hello.message);
      const compute = await run(m, "/bin/compute", ["/bin/compute", "3"]);
      assert.equal(compute.stdout, computeOutput(3));
      assert.equal(compute.code, 0, compute.message);
      const s = m.stats();
      if (dax === "always") {
        assert.ok(s.faults.dax > 0, "text faults map device frames");
        assert.equal(s.faults.file_major + s.faults.file_minor, 0, "no page-cache faults");
        assert.equal(s.ram.pagecache_frames, 0, "no page-cache frames");
        assert.equal(s.copied_bytes.pagecache_fill, 0, "nothing copied into a page cache");
        assert.ok(s.device.mapped_frames > 0, "device frames were mapped");
      } else {
        assert.equal(s.faults.dax, 0);
        assert.ok(s.faults.file_major + s.faults.file_minor > 0, "text comes from the page cache");
        assert.ok(s.ram.pagecache_frames > 0, "page-cache frames hold the text");
        assert.equal(s.copied_bytes.pagecache_fill, s.ram.pagecache_frames * PAGE);
        assert.equal(s.device.mapped_frames, 0, "no device frame is ever mapped");
      }
    });
  });
}

Deno.test("8 compute processes with dax=always share the text: RAM grows by private pages only", async () => {
  const runMany = async (n: number) => {
    let stats!: ReturnType<import("../../src/kernel/machine.ts").Machine["stats"]>;
    let used0 = 0;
    await withMachine(tree, { dax: "always", maxProcs: n, warm: n }, async (m) => {
      used0 = m.stats().ram.total_frames - m.bootFreeFrames;
      const rs = await Promise.all(
        Array.from({ length: n }, () => run(m, "/bin/compute", ["/bin/compute", "2"])),
      );
      for (const r of rs) {
        assert.equal(r.code, 0, r.message);
        assert.equal(r.stdout, computeOutput(2));
      }
      stats = m.stats();
    });
    return { stats, used0 };
  };
  const one = await runMany(1);
  const eight = await runMany(8);
  const s = eight.stats;
  assert.deepEqual(s.exit, Array(8).fill(0));
  assert.equal(s.ram.pagecache_frames, 0);
  assert.equal(s.copied_bytes.pagecache_fill, 0);
  assert.equal(s.faults.file_major + s.faults.file_minor, 0);
  // One process's RAM is private pages (anonymous and COW) plus its page tables;
  // the text is not in it: every text page is a device frame.
  const u1 = one.stats.ram.peak_used_frames - one.used0;
  const private1 = one.stats.faults.anon + one.stats.faults.cow;
  const tables1 = u1 - private1;
  assert.ok(tables1 >= 2 && tables1 <= 8, `page tables of one process: ${tables1}`);
  // Eight processes: at most eight times that, never anything proportional to the text.
  const growth = s.ram.peak_used_frames - one.stats.ram.peak_used_frames;
  const perProcess = growth / 7;
  const privatePer = (s.faults.anon + s.faults.cow) / 8 + tables1;
  assert.ok(perProcess <= privatePer, `growth per process ${perProcess} > private ${privatePer}`);
  const text = textPages(`${tree}/bin/compute`) + textPages(`${tree}/lib/libc.so`) +
    textPages(`${tree}/lib/libcompute.so`);
  assert.ok(s.device.mapped_frames >= 1 && s.device.mapped_frames <= text + 8);
  console.log(
    `8 x compute, dax=always: text ${text} pages (device); peak RAM 1 proc ${u1} frames ` +
      `(${private1} private + ${tables1} page tables), growth per extra proc ${
        perProcess.toFixed(1)
      }`,
  );
});

for (const dax of ["always", "never"] as const) {
  Deno.test(`with dax=${dax} a segfault exits 139 while 7 compute processes finish correctly`, async () => {
    await withMachine(tree, { dax, maxProcs: 8, warm: 8 }, async (m) => {
      const seg = run(m, "/bin/segv", ["segv"]);
      const others = Array.from({ length: 7 }, () => run(m, "/bin/compute", ["/bin/compute"]));
      const s = await seg;
      assert.deepEqual([s.code, s.signal], [139, 11]);
      for (const o of others) {
        const r = await o;
        assert.equal(r.code, 0, r.message);
        assert.equal(r.stdout, computeOutput(1));
      }
      assertQuiet(m, "after segv");
    });
  });
}

Deno.test("processes cannot reach each other's anonymous pages at the same address", async () => {
  await withMachine(tree, { dax: "always", maxProcs: 6, warm: 6 }, async (m) => {
    const rs = await Promise.all(Array.from({ length: 6 }, () => run(m, "/t/isolate", ["i"])));
    for (const r of rs) assert.equal(r.code, 0, `read another process's value: ${r.message}`);
  });
});

Deno.test("bin/maps prints /proc/self/maps: its program and libc.so mapped from their files", async () => {
  for (const dax of ["always", "never"] as const) {
    await withMachine(tree, { dax, maxProcs: 2, warm: 1 }, async (m) => {
      const r = await run(m, "/bin/maps", ["/bin/maps"]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split("\n");
      const line = /^([0-9a-f]{8})-([0-9a-f]{8}) ([r-][w-][x-][ps]) [0-9a-f]{8} \S+ \d+\s*(.*)$/;
      for (const l of lines) assert.match(l, line);
      const named = (n: string) => lines.filter((l) => l.endsWith(n));
      assert.ok(named("/bin/maps").some((l) => / r-xp /.test(l)), "program text");
      assert.ok(named("/lib/libc.so").some((l) => / r-xp /.test(l)), "libc text");
      assert.ok(named("/lib/libc.so").some((l) => / rw-p /.test(l)), "libc data");
      assert.equal(named("[stack]").length, 1);
    });
  }
});
