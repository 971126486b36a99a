/**
 * Memory failure under running processes (machine.poison, madvise
 * MADV_HWPOISON, PR_MCE_KILL): guests of /bin/hwpoison touch one page in a
 * loop (a page of their own text, of their data, or of a shared file
 * mapping) while the host poisons the device block under it. Every process
 * that touches the page dies of SIGBUS (or reports BUS_MCEERR_AR with the
 * page's address from its handler); processes that map the block but do
 * not touch it, and processes of the same program touching other pages,
 * finish normally; an early-kill process gets BUS_MCEERR_AO at once,
 * touching nothing. Both memmap modes; each machine ends with the
 * invariants (nothing maps a poisoned frame) and fsck.
 */

import assert from "node:assert/strict";
import { PAGE_SIZE } from "../../src/abi/types.ts";
import { bmapLookup } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { namei } from "../../src/fs/xipfs/xipfs_namei.ts";
import type { Machine, Process } from "../../src/kernel/machine.ts";
import { physWords } from "../../src/mm/pgtable.ts";
import { makeGuestTree } from "../kernel/_guest_image.ts";
import { within, withMachine } from "./_machine.ts";

const BS = PAGE_SIZE;
const SIGBUS_EXIT = 128 + 7;

const tree = makeGuestTree();
// Word 0 is the go word; the last byte keeps mkfs from leaving the block a hole.
Deno.writeFileSync(`${tree}/ctl`, new Uint8Array(BS).fill(1, BS - 1));
Deno.writeFileSync(`${tree}/shared`, new Uint8Array(2 * BS).fill(0x33));
Deno.test.afterAll(() => Deno.removeSync(tree, { recursive: true }));

interface Guest {
  p: Process;
  out: () => string;
  /** The file offset of the page it touches, once it printed "ready". */
  ready: Promise<number>;
}

function start(m: Machine, args: string[]): Guest {
  const dec = new TextDecoder();
  let text = "";
  let resolve!: (off: number) => void;
  const ready = new Promise<number>((r) => (resolve = r));
  const p = m.spawn("/bin/hwpoison", ["hwpoison", ...args], {
    stdout: (d) => {
      text += dec.decode(d);
      const got = /ready (-?\d+)\n/.exec(text);
      if (got !== null) resolve(Number(got[1]));
    },
  });
  return { p, out: () => text, ready: within(ready, 120_000, `${args.join(" ")}: ready`) };
}

/** The device byte offset of file `path`'s page at byte `off`. */
function deviceOffset(m: Machine, path: string, off: number): number {
  const vol = m.fs.xip.ctx.vol;
  const ino = namei(vol, path);
  assert.ok(ino > 0, path);
  const b = bmapLookup(vol, ino as never, Math.floor(off / BS));
  assert.ok(b > 0, `${path}+${off} is not a hole`);
  return b * BS;
}

/** Set /ctl's first word: the guests still running finish. */
function release(m: Machine): void {
  const word = (m.mem.layout.config.ramFrames * BS + deviceOffset(m, "/ctl", 0)) / 4;
  Atomics.store(physWords(m.mem), word, 1);
}

const BOOT = { dax: "always", maxProcs: 8, warm: 6 } as const;

for (const memmap of ["none", "device"] as const) {
  Deno.test(`poison under running processes kills only the touchers: text, data, shared (memmap=${memmap})`, async () => {
    await withMachine(tree, { ...BOOT, memmap }, async (m) => {
      const text = [start(m, ["text", "/ctl"]), start(m, ["text", "/ctl"])];
      const data = start(m, ["data", "/ctl"]);
      const shared = start(m, ["shared", "/ctl", "/shared", "1"]);
      const idle = start(m, ["shared", "/ctl", "/shared", "1", "idle"]);
      const other = start(m, ["shared", "/ctl", "/shared", "0"]);
      const all = [...text, data, shared, idle, other];
      const offs = await Promise.all(all.map((g) => g.ready));
      assert.equal(offs[0], offs[1], "both text guests touch the same page of the program");
      assert.equal(offs[4], BS, "the shared guests print their file offset");
      assert.equal(m.poison(deviceOffset(m, "/bin/hwpoison", offs[0]!)), 1);
      assert.equal(m.poison(deviceOffset(m, "/bin/hwpoison", offs[2]!)), 1);
      assert.equal(m.poison(deviceOffset(m, "/shared", BS) + 100, 8), 1);
      assert.equal(m.stats().device.poisoned_frames, 3);
      const killed = await Promise.all(
        [...text, data, shared].map((g) => within(g.p.wait(), 60_000, "toucher")),
      );
      for (const s of killed) {
        assert.equal(s.code, SIGBUS_EXIT, JSON.stringify(s));
        assert.match(s.message ?? "", /SIGBUS at 0x[0-9a-f]+ .*poisoned memory/);
      }
      release(m);
      for (const g of [idle, other]) {
        const s = await within(g.p.wait(), 60_000, "survivor");
        assert.equal(s.code, 0, `${JSON.stringify(s)} ${g.out()}`);
        assert.match(g.out(), /done 1\n$/);
      }
    });
  });
}

Deno.test("a SIGBUS handler sees BUS_MCEERR_AR and the page; early kill gets BUS_MCEERR_AO untouched", async () => {
  await withMachine(tree, { ...BOOT, memmap: "none" }, async (m) => {
    const late = start(m, ["shared", "/ctl", "/shared", "1", "catch"]);
    const early = start(m, ["shared", "/ctl", "/shared", "1", "early", "catch"]);
    const earlyNoHandler = start(m, ["shared", "/ctl", "/shared", "1", "early"]);
    const idle = start(m, ["shared", "/ctl", "/shared", "1", "idle"]);
    await Promise.all([late, early, earlyNoHandler, idle].map((g) => g.ready));
    m.poison(deviceOffset(m, "/shared", BS));
    const [l, e, en] = await Promise.all(
      [late, early, earlyNoHandler].map((g) => within(g.p.wait(), 60_000, "killed")),
    );
    assert.equal(l!.code, 42, late.out());
    assert.match(
      late.out(),
      /sigbus code 4 lsb 12 at page\n$/,
      "BUS_MCEERR_AR, si_addr in the page",
    );
    assert.equal(e!.code, 42, early.out());
    assert.match(early.out(), /sigbus code 5 lsb 12 at page\n$/, "BUS_MCEERR_AO, at once");
    assert.equal(en!.code, SIGBUS_EXIT, "early kill without a handler: killed untouched");
    release(m);
    const s = await within(idle.p.wait(), 60_000, "idle");
    assert.equal(s.code, 0, "late kill: mapping a poisoned page is not fatal");
  });
});

Deno.test("madvise(MADV_HWPOISON) poisons the caller's page; other mappers of it die on touch", async () => {
  await withMachine(tree, { ...BOOT, memmap: "device" }, async (m) => {
    const toucher = start(m, ["shared", "/ctl", "/shared", "1"]);
    const other = start(m, ["shared", "/ctl", "/shared", "0"]);
    await Promise.all([toucher.ready, other.ready]);
    const self = start(m, ["madvise", "/ctl", "/shared", "1", "catch"]);
    const s = await within(self.p.wait(), 60_000, "madvise");
    assert.equal(s.code, 42, self.out());
    assert.match(self.out(), /poisoned\nsigbus code 4 lsb 12 at page\n$/);
    const t = await within(toucher.p.wait(), 60_000, "toucher");
    assert.equal(t.code, SIGBUS_EXIT);
    release(m);
    assert.equal((await within(other.p.wait(), 60_000, "other")).code, 0);
    assert.equal(m.stats().device.poisoned_frames, 1);
  });
});
