import assert from "node:assert/strict";
import { computeLayout, pcacheSlots, VMSTAT } from "../../src/abi/layout/mod.ts";
import { asBlock, asTaskSlot, PAGE_SIZE, type Pfn } from "../../src/abi/types.ts";
import { HostFileDevice } from "../../src/hw/host_device.ts";
import { createMemory, type Memory, statRead } from "../../src/hw/memory.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { putPage } from "../../src/mm/memmap.ts";
import { DEBUG_LOCKDEP, setCurrentTid, setDebug, taskInit } from "../../src/sync/mod.ts";
import {
  type AddressSpaceOps,
  lockPage,
  pageView,
  readCachePage,
  setPageDirty,
  shrinkPageCache,
  unlockPage,
  writebackMapping,
} from "../../src/fs/pagecache/pagecache.ts";

function boot(ramFrames = 32): Memory {
  const mem = createMemory({ ramFrames, deviceFrames: 1, deviceMemmap: false, maxTasks: 4 });
  setDebug(mem.k32, DEBUG_LOCKDEP, true);
  setCurrentTid(asTaskSlot(1));
  taskInit(mem.k32, asTaskSlot(1));
  return mem;
}

/** A file laid out contiguously from block `first` of the device: pgoff p is block first + p. */
function contiguousFile(dev: HostFileDevice, first: number): AddressSpaceOps {
  return {
    readpage: (_m, pgoff, frame) => dev.bioRead(asBlock(first + pgoff), frame),
    writepage: (_m, pgoff, frame) => dev.bioWrite(asBlock(first + pgoff), frame),
  };
}

Deno.test("writebackMapping() plus flush() on a HostFileDevice puts dirty bytes in the host file", () => {
  const mem = boot();
  const path = Deno.makeTempFileSync({ prefix: "xip-pcache-", suffix: ".img" });
  const img = new Uint8Array(8 * PAGE_SIZE).map((_, i) => (i >> 12) + 1);
  Deno.writeFileSync(path, img);
  const dev = new HostFileDevice(path, { mem });
  try {
    const aops = contiguousFile(dev, 2);
    const p = readCachePage(mem, 1, 1, aops) as Pfn; // device block 3
    assert.ok(p >= 0);
    assert.ok(pageView(mem, p).every((x) => x === 4), "filled from block 3");
    assert.equal(statRead(mem, VMSTAT.bioReadBytes), PAGE_SIZE);
    assert.equal(statRead(mem, VMSTAT.copiedPagecacheFill), PAGE_SIZE);
    lockPage(mem, p);
    pageView(mem, p).fill(0x77, 10, 20);
    setPageDirty(mem, p);
    unlockPage(mem, p);
    assert.equal(Deno.readFileSync(path)[3 * PAGE_SIZE + 10], 4, "not written before writeback");
    assert.equal(writebackMapping(mem, 1, aops), 1);
    assert.equal(dev.flush(), 0);
    const file = Deno.readFileSync(path);
    assert.deepEqual(
      file.subarray(3 * PAGE_SIZE + 10, 3 * PAGE_SIZE + 20),
      new Uint8Array(10).fill(0x77),
    );
    assert.equal(file[3 * PAGE_SIZE + 9], 4);
    assert.equal(file[2 * PAGE_SIZE + 10], 3, "other blocks untouched");
    assert.equal(statRead(mem, VMSTAT.bioWriteBytes), PAGE_SIZE);
    putPage(mem, p);
    // Eviction of the now clean page frees its frame without another write.
    assert.equal(shrinkPageCache(mem, 1, () => aops), 1);
    assert.equal(freeFrameCount(mem), 32);
    assert.equal(statRead(mem, VMSTAT.bioWriteBytes), PAGE_SIZE);
  } finally {
    dev.close();
    Deno.removeSync(path);
  }
});

Deno.test("computeLayout() gives the page-cache index at least two slots per RAM frame", () => {
  for (const ramFrames of [1, 24, 64, 100, 16384]) {
    const l = computeLayout({ ramFrames, deviceFrames: 1, deviceMemmap: false, maxTasks: 2 });
    const slots = pcacheSlots(l.config);
    assert.ok(slots >= 2 * ramFrames && slots >= 64, `ram ${ramFrames}`);
    assert.equal(slots & (slots - 1), 0, "a power of two");
    assert.ok(l.regions.includes(l.pcache));
    assert.ok(l.pcache.base + l.pcache.words <= l.bytes / 4);
  }
});
