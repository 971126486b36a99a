/**
 * Tier 1's invalidation hooks in the kernel, path by path: every way the
 * kernel changes a frame's bytes or hands the frame to a new owner bumps the
 * frame's code generation when the frame is marked as code, so no Worker
 * runs a translation of the old bytes again (src/hw/jit/shared.ts,
 * codeWritten and codeFrameReused). RAM frames (allocation, free, a
 * page-cache write) and device blocks (allocation of one block and of an
 * aligned run for a megapage extent, free, a DAX write, the zeroing of a
 * partial truncate and of FALLOC_FL_ZERO_RANGE, punch-hole).
 *
 * Each check marks every frame first (as if each held translated code),
 * runs one kernel operation on the main thread, and compares generations.
 */

import assert from "node:assert/strict";
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  O_CREAT,
  O_RDWR,
} from "../../src/abi/fcntl.ts";
import type { BlockNo, Pfn } from "../../src/abi/types.ts";
import { allocBlock, allocBlockRun, freeBlock } from "../../src/fs/xipfs/balloc.ts";
import {
  vfsFallocate,
  vfsFtruncate,
  vfsProcCreate,
  vfsProcExit,
  vfsPwrite,
} from "../../src/fs/vfs.ts";
import type { Proc } from "../../src/fs/vfs.ts";
import { vfsOpen } from "../../src/fs/vfs_path.ts";
import type { JitShared } from "../../src/hw/jit/shared.ts";
import { allocFrame, freeFrame } from "../../src/mm/frame_alloc.ts";
import { Machine } from "../../src/kernel/machine.ts";
import { within } from "../kernel/_guest_image.ts";

const PAGE = 4096;

/** Mark every frame as code; the generation words afterwards. */
function markAll(j: JitShared): Int32Array {
  for (let pfn = 0; pfn < j.layout.frames; pfn++) j.markCode(pfn);
  return Int32Array.from({ length: j.layout.frames }, (_, pfn) => j.genWord(pfn));
}

/** The frames whose generation moved since `before`. */
function bumped(j: JitShared, before: Int32Array): number[] {
  const out: number[] = [];
  for (let pfn = 0; pfn < j.layout.frames; pfn++) {
    if (j.genWord(pfn) !== before[pfn]) out.push(pfn);
  }
  return out;
}

/** Seeded bytes no other frame holds. */
function pattern(seed: number): Uint8Array {
  const b = new Uint8Array(PAGE);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < PAGE; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** The frame of physical memory that holds `bytes` at its start, or -1. */
function frameHolding(m: Machine, bytes: Uint8Array): number {
  const u8 = m.mem.u8;
  for (let pa = 0; pa + PAGE <= u8.length; pa += PAGE) {
    let i = 0;
    while (i < PAGE && u8[pa + i] === bytes[i]) i++;
    if (i === PAGE) return pa / PAGE;
  }
  return -1;
}

async function withMachine(
  dax: "always" | "never",
  fn: (m: Machine, j: JitShared, proc: Proc) => void,
): Promise<void> {
  const m = await Machine.boot({
    size: 8 * 1024 * 1024,
    dax,
    jit: "eager",
    warm: 0,
    stdout: () => {},
    stderr: () => {},
  });
  const proc = vfsProcCreate(m.fs.vfs);
  if (typeof proc === "number") throw new Error(`vfsProcCreate: ${proc}`);
  try {
    fn(m, m.mem.jit!, proc);
  } finally {
    vfsProcExit(m.fs.vfs, proc.fdt);
    await within(m.shutdown(), 60_000, "shutdown");
  }
}

Deno.test("allocating and freeing a RAM frame bumps its code generation", async () => {
  await withMachine("always", (m, j) => {
    let before = markAll(j);
    const pfn = allocFrame(m.mem);
    assert.ok(pfn >= 0, `allocFrame: ${pfn}`);
    assert.deepEqual(bumped(j, before), [pfn]);
    before = markAll(j);
    freeFrame(m.mem, pfn as Pfn);
    assert.deepEqual(bumped(j, before), [pfn]);
  });
});

Deno.test("allocating a block, an aligned run (megapage extent) and freeing them bump their frames", async () => {
  await withMachine("always", (m, j) => {
    const c = m.fs.xip.ctx;
    const ram = m.mem.layout.config.ramFrames;
    let before = markAll(j);
    const b = allocBlock(c);
    assert.ok(b >= 0, `allocBlock: ${b}`);
    assert.deepEqual(bumped(j, before), [ram + b]);
    before = markAll(j);
    const run = allocBlockRun(c, 16);
    assert.ok(run >= 0, `allocBlockRun: ${run}`);
    const frames = Array.from({ length: 16 }, (_, i) => ram + run + i);
    assert.deepEqual(bumped(j, before), frames, "every block of the run");
    before = markAll(j);
    freeBlock(c, b);
    for (let i = 0; i < 16; i++) freeBlock(c, (run + i) as BlockNo);
    assert.deepEqual(bumped(j, before), [ram + b, ...frames].sort((x, y) => x - y));
  });
});

for (const dax of ["always", "never"] as const) {
  Deno.test(`write, partial truncate, zero-range and punch-hole bump the file's frame (dax=${dax})`, async () => {
    await withMachine(dax, (m, j, proc) => {
      const fd = vfsOpen(proc, "/text", O_RDWR | O_CREAT);
      assert.ok(fd >= 0, `open: ${fd}`);
      const bytes = pattern(0x5eed + (dax === "always" ? 1 : 2));
      assert.equal(vfsPwrite(proc, fd, bytes, 0), PAGE);
      const pfn = frameHolding(m, bytes);
      assert.ok(pfn >= 0, "the file's page is in physical memory");
      const isDevice = pfn >= m.mem.layout.config.ramFrames;
      assert.equal(
        isDevice,
        dax === "always",
        "DAX text is a device frame, else a page-cache page",
      );

      let before = markAll(j);
      assert.equal(vfsPwrite(proc, fd, new Uint8Array([1, 2, 3]), 100), 3);
      assert.deepEqual(bumped(j, before), [pfn], "a write into the frame");

      before = markAll(j);
      assert.equal(vfsFtruncate(proc, fd, 2000), 0);
      assert.ok(bumped(j, before).includes(pfn), "truncate zeroes the tail of the last block");

      assert.equal(vfsFtruncate(proc, fd, PAGE), 0);
      before = markAll(j);
      assert.equal(vfsFallocate(proc, fd, FALLOC_FL_ZERO_RANGE, 0, 512), 0);
      assert.ok(bumped(j, before).includes(pfn), "zero-range zeroes bytes of the frame");

      if (isDevice) {
        // The punched block is freed: its frame changes hands.
        before = markAll(j);
        const rc = vfsFallocate(proc, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PAGE);
        assert.equal(rc, 0);
        assert.ok(bumped(j, before).includes(pfn), "punch-hole frees the block");
      }
    });
  });
}
