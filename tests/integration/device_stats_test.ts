/**
 * stats `device.mapped_frames` counts the device frames mapped at any point
 * of the run (docs/stats.schema.json), not those still mapped when a process exited:
 * a frame mapped and unmapped before exit counts, so do frames of a process
 * the Machine killed, and a frame counts once however often it is mapped.
 * While a process holds its mapping, /proc/meminfo's DeviceMapped reports
 * the same frames.
 *
 * The machine runs with textMode "copy", so program text is not served from
 * the device and the only device frames mapped are the guests' mmaps.
 */

import assert from "node:assert/strict";
import { meminfoText } from "../../src/fs/procfs/procfs_meminfo.ts";
import { procGet } from "../../src/kernel/proc.ts";
import { until } from "../kernel/_guest_image.ts";
import { PAGE_SIZE } from "../../src/abi/types.ts";
import type { Machine } from "../../src/kernel/machine.ts";
import { makeTree, procSlot, run, touchFileElf, withMachine } from "./_machine.ts";

/** A file of the guest tree at least 4 pages long (DAX under dax=always). */
const FILE = "/lib/libc.so";

/** DeviceMapped of /proc/meminfo, in frames (the file says kB). */
function deviceMappedFrames(m: Machine): number {
  const kb = /^DeviceMapped: +(\d+) kB$/m.exec(meminfoText(m.mem));
  assert.ok(kb !== null, "meminfo has a DeviceMapped line");
  return Number(kb[1]) / (PAGE_SIZE / 1024);
}

const tree = makeTree();
Deno.writeFileSync(`${tree}/t/devmap1`, touchFileElf(FILE, 1, false));
Deno.writeFileSync(`${tree}/t/devmap4`, touchFileElf(FILE, 4, false));
Deno.writeFileSync(`${tree}/t/devhold4`, touchFileElf(FILE, 4, true));
Deno.test.afterAll(() => Deno.removeSync(tree, { recursive: true }));

const OPTS = { dax: "always", textMode: "copy", maxProcs: 4, warm: 2 } as const;

// With a device memmap the frames are refcounted instead of pte_special: counted the same.
for (const memmap of ["none", "device"] as const) {
  Deno.test(`stats() counts a device frame a process mapped and unmapped before it exited (memmap ${memmap})`, async () => {
    await withMachine(tree, { ...OPTS, memmap }, async (m) => {
      assert.equal(m.stats().device.mapped_frames, 0, "nothing mapped at boot");
      const r = await run(m, "/t/devmap1", ["devmap1"]);
      assert.equal(r.code, 0, r.message);
      assert.equal(m.stats().device.mapped_frames, 1, "the unmapped frame still counts");
      assert.equal(deviceMappedFrames(m), 0, "and nothing is mapped now");
      // Four pages from the same file: the first is the frame already counted.
      const r4 = await run(m, "/t/devmap4", ["devmap4"]);
      assert.equal(r4.code, 0, r4.message);
      assert.equal(m.stats().device.mapped_frames, 4, "each frame counts once");
    });
  });
}

for (const how of ["kill", "terminate"] as const) {
  Deno.test(`stats() and meminfo agree on a live mapping, and the count survives ${how}()`, async () => {
    await withMachine(tree, OPTS, async (m) => {
      const p = m.spawn("/t/devhold4", ["devhold4"], { stdout: () => {}, stderr: () => {} });
      const slot = () => procSlot(m, p.pid);
      // Asleep in its futex wait: every page has been touched.
      await until(
        () => slot() > 0 && procGet(m.mem, slot(), "futexWord") !== 0,
        20_000,
        "devhold4 asleep",
      );
      assert.equal(deviceMappedFrames(m), 4, "DeviceMapped while held");
      assert.equal(m.stats().device.mapped_frames, 4, "stats while held");
      if (how === "kill") assert.ok(m.kill(p.pid, 9));
      else assert.ok(m.terminate(p.pid));
      const s = await p.wait();
      assert.equal(s.code, 137);
      assert.equal(deviceMappedFrames(m), 0, "DeviceMapped after exit");
      assert.equal(m.stats().device.mapped_frames, 4, `stats after ${how}`);
    });
  });
}
