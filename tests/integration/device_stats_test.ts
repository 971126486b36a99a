/**
 * stats `device.mapped_frames` counts the device frames mapped at any point
 * of the run (DESIGN.md §6), not those still mapped when a process exited:
 * a frame mapped and unmapped before exit counts, so do frames of a process
 * the Machine killed, and a frame counts once however often it is mapped.
 * While a process holds its mapping, /proc/meminfo's DeviceMapped reports
 * the same frames.
 *
 * The machine runs with textMode "copy", so program text is not served from
 * the device and the only device frames mapped are the guests' mmaps.
 */

import assert from "node:assert/strict";
import { AT_FDCWD, O_RDONLY } from "../../src/abi/fcntl.ts";
import { MAP_SHARED, PROT_READ } from "../../src/abi/mman.ts";
import { SYS_exit_group, SYS_mmap2, SYS_munmap, SYS_openat } from "../../src/abi/syscall_nr.ts";
import { PAGE_SIZE } from "../../src/abi/types.ts";
import { meminfoFrames } from "../../src/fs/procfs_meminfo.ts";
import { procGet } from "../../src/kernel/proc.ts";
import * as asm from "../hw/_asm.ts";
import { tinyElf, until } from "../kernel/_guest_image.ts";
import { makeTree, procSlot, run, withMachine } from "./_machine.ts";

/** A file of the guest tree at least 4 pages long (DAX under dax=always). */
const FILE = "/lib/libc.so";

/**
 * /t/devmapN: open FILE, mmap `pages` pages of it MAP_SHARED read-only,
 * load one word of each page (a DAX fault maps the device frame), then
 * either munmap and exit 0 (`hold` false), or sleep in FUTEX_WAIT forever
 * with the mapping in place. Exit 3: open failed; 4: mmap failed; 5:
 * munmap failed.
 */
function devmapElf(pages: number, hold: boolean): Uint8Array {
  const p = new asm.Program();
  const { A0, A1, A2, A3, A4, A5, A7, S0, S1, S2, SP, T0, ZERO } = asm;
  const exit = (code: number) =>
    p.emit(asm.addi(A0, ZERO, code), asm.addi(A7, ZERO, SYS_exit_group), asm.ecall());
  // The path, NUL-terminated, on the stack.
  const path = new TextEncoder().encode(FILE + "\0\0\0\0");
  p.emit(asm.addi(SP, SP, -32));
  for (let w = 0; w * 4 < FILE.length + 1; w++) {
    const v = path[w * 4]! | path[w * 4 + 1]! << 8 | path[w * 4 + 2]! << 16 |
      path[w * 4 + 3]! << 24;
    p.emit(...asm.li(T0, v), asm.sw(T0, SP, w * 4));
  }
  p.emit(...asm.li(A0, AT_FDCWD), asm.addi(A1, SP, 0), asm.addi(A2, ZERO, O_RDONLY));
  p.emit(asm.addi(A3, ZERO, 0), asm.addi(A7, ZERO, SYS_openat), asm.ecall());
  p.branch((off) => asm.blt(A0, ZERO, off), "openFailed");
  p.emit(asm.addi(A4, A0, 0), asm.addi(A0, ZERO, 0), ...asm.li(A1, pages * PAGE_SIZE));
  p.emit(asm.addi(A2, ZERO, PROT_READ), asm.addi(A3, ZERO, MAP_SHARED), asm.addi(A5, ZERO, 0));
  p.emit(asm.addi(A7, ZERO, SYS_mmap2), asm.ecall());
  p.emit(...asm.li(T0, -4096));
  p.branch((off) => asm.bgeu(A0, T0, off), "mmapFailed");
  p.emit(asm.addi(S0, A0, 0), asm.addi(S1, ZERO, 0), ...asm.li(S2, pages));
  p.label("touch");
  p.emit(asm.slli(T0, S1, 12), asm.add(T0, T0, S0), asm.lw(T0, T0, 0), asm.addi(S1, S1, 1));
  p.branch((off) => asm.bne(S1, S2, off), "touch");
  if (hold) {
    p.emit(asm.sw(ZERO, SP, 28));
    p.label("sleep");
    p.emit(asm.addi(A0, SP, 28), asm.addi(A1, ZERO, 0), asm.addi(A2, ZERO, 0));
    p.emit(asm.addi(A3, ZERO, 0), asm.addi(A7, ZERO, 98), asm.ecall()); // futex(FUTEX_WAIT)
    p.branch((off) => asm.jal(ZERO, off), "sleep");
  } else {
    p.emit(asm.addi(A0, S0, 0), ...asm.li(A1, pages * PAGE_SIZE));
    p.emit(asm.addi(A7, ZERO, SYS_munmap), asm.ecall());
    p.branch((off) => asm.bne(A0, ZERO, off), "munmapFailed");
    exit(0);
  }
  p.label("openFailed");
  exit(3);
  p.label("mmapFailed");
  exit(4);
  p.label("munmapFailed");
  exit(5);
  return tinyElf(p.assemble());
}

const tree = makeTree();
Deno.writeFileSync(`${tree}/t/devmap1`, devmapElf(1, false));
Deno.writeFileSync(`${tree}/t/devmap4`, devmapElf(4, false));
Deno.writeFileSync(`${tree}/t/devhold4`, devmapElf(4, true));
Deno.test.afterAll(() => Deno.removeSync(tree, { recursive: true }));

const OPTS = { dax: "always", textMode: "copy", maxProcs: 4, warm: 2 } as const;

Deno.test("stats() counts a device frame a process mapped and unmapped before it exited", async () => {
  await withMachine(tree, OPTS, async (m) => {
    assert.equal(m.stats().device.mapped_frames, 0, "nothing mapped at boot");
    const r = await run(m, "/t/devmap1", ["devmap1"]);
    assert.equal(r.code, 0, r.message);
    assert.equal(m.stats().device.mapped_frames, 1, "the unmapped frame still counts");
    assert.equal(meminfoFrames(m.mem).deviceMapped, 0, "and nothing is mapped now");
    // Four pages from the same file: the first is the frame already counted.
    const r4 = await run(m, "/t/devmap4", ["devmap4"]);
    assert.equal(r4.code, 0, r4.message);
    assert.equal(m.stats().device.mapped_frames, 4, "each frame counts once");
  });
});

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
      assert.equal(meminfoFrames(m.mem).deviceMapped, 4, "DeviceMapped while held");
      assert.equal(m.stats().device.mapped_frames, 4, "stats while held");
      if (how === "kill") assert.ok(m.kill(p.pid, 9));
      else assert.ok(m.terminate(p.pid));
      const s = await p.wait();
      assert.equal(s.code, 137);
      assert.equal(meminfoFrames(m.mem).deviceMapped, 0, "DeviceMapped after exit");
      assert.equal(m.stats().device.mapped_frames, 4, `stats after ${how}`);
    });
  });
}
