import assert from "node:assert/strict";
import { asPfn } from "../../src/abi/types.ts";
import { createMemory } from "../../src/hw/memory.ts";
import { deviceFramesEverMapped, noteDeviceMapped } from "../../src/mm/devmap.ts";

const CFG = { ramFrames: 8, deviceFrames: 70, deviceMemmap: false, maxTasks: 2 };

Deno.test("noteDeviceMapped() counts each device frame once and ignores RAM and bad pfns", () => {
  const mem = createMemory(CFG);
  assert.equal(deviceFramesEverMapped(mem), 0);
  for (const pfn of [0, 7, -1, 8 + 70, 2.5]) noteDeviceMapped(mem, asPfn(pfn));
  assert.equal(deviceFramesEverMapped(mem), 0, "RAM and out-of-range pfns are not device frames");
  // First, last, and both sides of a bitmap-word boundary (bit 31 is the sign bit).
  const dev = [8, 8 + 31, 8 + 32, 8 + 69];
  for (const pfn of [...dev, ...dev]) noteDeviceMapped(mem, asPfn(pfn));
  assert.equal(deviceFramesEverMapped(mem), dev.length);
});
