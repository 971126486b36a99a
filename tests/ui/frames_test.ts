import assert from "node:assert/strict";
import { badblockSet } from "../../src/hw/badblocks.ts";
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { ACCESS_READ, ACCESS_WRITE, pfnToPte, PTE_R, PTE_U, PTE_V } from "../../src/abi/sv32.ts";
import {
  asInodeSlot,
  asPfn,
  asTaskSlot,
  asVirt,
  type MmId,
  PAGE_SIZE,
  type Pfn,
  type TaskSlot,
} from "../../src/abi/types.ts";
import { SOCK_STREAM } from "../../src/abi/socket.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { openVolume } from "../../src/fs/xipfs/xipfs_format.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { pipeAlloc, pipeGet, pipePut, pipeWrite } from "../../src/kernel/pipe.ts";
import { procAlloc, procSet } from "../../src/kernel/proc.ts";
import { sockSend } from "../../src/kernel/unix_io.ts";
import { sockPair } from "../../src/kernel/unix_sock.ts";
import { handleMmFault } from "../../src/mm/fault.ts";
import { allocFrame } from "../../src/mm/frame_alloc.ts";
import { setPageMapping } from "../../src/mm/memmap.ts";
import { mmAlloc, mmPut, zeroPfn } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { mmRoot, physWords } from "../../src/mm/pgtable.ts";
import { decodeFrameCodes } from "../../src/ui/encode.ts";
import { DEVICE_KINDS, frameMapOf, RAM_KINDS, snapshotFrames } from "../../src/ui/frames.ts";
import { setCurrentTid, taskInit } from "../../src/sync/mod.ts";
import { boot, pfnAt } from "../mm/_mm_helpers.ts";
import { dax, daxPfn, OPS_DAX } from "../mm/_test_vmops.ts";

const ram = (name: string) => RAM_KINDS.findIndex((k) => k.name === name);
const device = (name: string) => DEVICE_KINDS.findIndex((k) => k.name === name);
const RW = PROT_READ | PROT_WRITE;

/** A process in slot `slot` with a fresh mm, as the process table would show it. */
function process(mem: Memory, slot: TaskSlot): MmId {
  procAlloc(mem, slot, 0);
  const mm = mmAlloc(mem) as MmId;
  assert.ok(mm > 0);
  procSet(mem, slot, "mm", mm);
  return mm;
}

Deno.test("snapshotFrames() classifies RAM frames: free, zero page, page table, anonymous", () => {
  const mem = boot({ maxTasks: 4 });
  const mm = process(mem, asTaskSlot(2));
  const before = snapshotFrames(mem, null).ramCodes.filter((c) => c === ram("free")).length;
  const a = doMmap(mem, mm, 0, 3 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
  assert.equal(handleMmFault(mem, mm, asVirt(a), ACCESS_WRITE), 0);
  assert.equal(handleMmFault(mem, mm, asVirt(a + PAGE_SIZE), ACCESS_WRITE), 0);
  assert.equal(handleMmFault(mem, mm, asVirt(a + 2 * PAGE_SIZE), ACCESS_READ), 0);
  const s = snapshotFrames(mem, null);
  assert.equal(s.ramCodes[zeroPfn(mem)], ram("zero"));
  assert.equal(s.ramCodes[mmRoot(mem, mm)], ram("pagetable"));
  assert.equal(s.ramCodes[pfnAt(mem, mm, a)], ram("anon"));
  assert.equal(s.ramCodes[pfnAt(mem, mm, a + PAGE_SIZE)], ram("anon"));
  const count = (k: number) => s.ramCodes.filter((c) => c === k).length;
  // The faults took one level-0 table and two anonymous pages.
  assert.equal(count(ram("free")), before - 3);
  assert.deepEqual(s.mms.get(mm)!.tables, 2);
  assert.equal(s.mms.get(mm)!.rss.anon, 2);
  assert.equal(s.mms.get(mm)!.rss.zero, 1);
  assert.equal(s.ramMappers[pfnAt(mem, mm, a)], 1);
  mmPut(mem, mm);
});

Deno.test("snapshotFrames() names page-cache pages by mapping, other allocations kernel", () => {
  const mem = boot();
  const cached = allocFrame(mem) as Pfn;
  setPageMapping(mem, cached, 3);
  const other = allocFrame(mem) as Pfn;
  const s = snapshotFrames(mem, null);
  assert.equal(s.ramCodes[cached], ram("pagecache"));
  assert.equal(s.ramCodes[other], ram("kernel"));
});

Deno.test("snapshotFrames() counts each process mapping a device frame once", () => {
  const mem = boot({ maxTasks: 4 });
  dax.base = mem.layout.config.ramFrames;
  dax.size = 4;
  const file = { slot: asInodeSlot(7), ops: OPS_DAX, readable: true, writable: false };
  const mms = [process(mem, asTaskSlot(2)), process(mem, asTaskSlot(3))];
  for (const mm of mms) {
    const a = doMmap(mem, mm, 0, 4 * PAGE_SIZE, PROT_READ, MAP_SHARED, file, 0);
    for (let p = 0; p < 3; p++) {
      assert.equal(handleMmFault(mem, mm, asVirt(a + p * PAGE_SIZE), ACCESS_READ), 0);
    }
  }
  // The first process maps page 0 a second time: still one process.
  const again = doMmap(mem, mms[0]!, 0, PAGE_SIZE, PROT_READ, MAP_SHARED, file, 0);
  assert.equal(handleMmFault(mem, mms[0]!, asVirt(again), ACCESS_READ), 0);
  const s = snapshotFrames(mem, null);
  const d = (pgoff: number) => daxPfn(pgoff) - mem.layout.config.ramFrames;
  assert.deepEqual([0, 1, 2, 3].map((p) => s.devMappers[d(p)]), [2, 2, 2, 0]);
  assert.equal(s.mms.get(mms[0]!)!.rss.device, 4);
  assert.equal(s.mms.get(mms[1]!)!.rss.device, 3);
  const map = frameMapOf(s);
  assert.equal(map.device_max_mappers, 2);
  assert.deepEqual(decodeFrameCodes(map.device_mappers, map.device_frames), s.devMappers);
  assert.deepEqual(decodeFrameCodes(map.ram, map.ram_frames), s.ramCodes);
  for (const mm of mms) mmPut(mem, mm);
});

Deno.test("snapshotFrames() ignores a level-0 table that is not a page table (freed and reused)", () => {
  const mem = boot({ maxTasks: 4 });
  const mm = process(mem, asTaskSlot(2));
  // A root entry naming an ordinary frame full of PTE-shaped words: what a
  // lock-free walker would find if the table were freed and reused under it.
  const bogus = allocFrame(mem) as Pfn;
  const p32 = physWords(mem);
  const leaf = pfnToPte(asPfn(mem.layout.config.ramFrames + 1), PTE_V | PTE_R | PTE_U);
  p32.fill(leaf | 0, bogus * 1024, (bogus + 1) * 1024);
  Atomics.store(p32, mmRoot(mem, mm) * 1024 + 5, pfnToPte(bogus, PTE_V) | 0);
  const s = snapshotFrames(mem, null);
  assert.equal(s.devMappers[1], 0);
  assert.equal(s.mms.get(mm)!.tables, 1);
  Atomics.store(p32, mmRoot(mem, mm) * 1024 + 5, 0);
  mmPut(mem, mm);
});

Deno.test("snapshotFrames() reads device block kinds from the xipfs bitmap", () => {
  const image = mkfs({ sizeBytes: 256 * PAGE_SIZE });
  const mem = createMemory(
    { ramFrames: 64, deviceFrames: 256, deviceMemmap: false, maxTasks: 2 },
    { image },
  );
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const opened = openVolume(image);
  assert.ok(opened.ok);
  const vol = opened.vol;
  const s = snapshotFrames(mem, vol);
  assert.equal(s.devCodes[0], device("metadata"));
  assert.equal(s.devCodes[vol.sb.dataStart - 1], device("metadata"));
  assert.equal(s.devCodes[255], device("free"));
  assert.ok(s.devCodes.includes(device("data")), "the root directory's block is file data");
  // Without a volume every block counts as in use.
  assert.ok(snapshotFrames(mem, null).devCodes.every((c) => c !== device("free")));
  // A block on the memory-failure list shows as poisoned, whatever it holds.
  badblockSet(mem, 255, 1, true);
  badblockSet(mem, 0, 1, true);
  const p = snapshotFrames(mem, vol);
  assert.equal(p.devCodes[255], device("poisoned"));
  assert.equal(p.devCodes[0], device("poisoned"));
  assert.equal(p.devCodes[1], device("metadata"));
});

Deno.test("snapshotFrames() names the ring pages of pipes and sockets, and gives them no RSS column", () => {
  const mem = boot({ maxTasks: 4 });
  const me = asTaskSlot(1);
  const pipe = pipeAlloc(mem);
  assert.ok(pipe > 0);
  pipeGet(mem, pipe, "read");
  pipeGet(mem, pipe, "write");
  assert.equal(pipeWrite(mem, me, pipe, new Uint8Array(PAGE_SIZE + 1), true), PAGE_SIZE + 1);
  const pair = sockPair(mem, SOCK_STREAM, 1);
  assert.ok(Array.isArray(pair), `sockPair: ${pair}`);
  assert.equal(sockSend(mem, pair[0], new Uint8Array(100), 0, 0), 100);
  const s = snapshotFrames(mem, null);
  const count = (k: number) => s.ramCodes.filter((c) => c === k).length;
  assert.equal(count(ram("pipe")), 2, "two pages of the pipe's ring hold its bytes");
  assert.equal(count(ram("socket")), 1, "one page of the receiving socket's ring");
  const mm = process(mem, asTaskSlot(2));
  const rss = snapshotFrames(mem, null).mms.get(mm)!.rss;
  assert.ok(!("pipe" in rss) && !("socket" in rss) && "anon" in rss, Object.keys(rss).join(" "));
  pipePut(mem, pipe, "read");
  pipePut(mem, pipe, "write");
  assert.equal(count(ram("pipe")), 2, "the first snapshot is unchanged");
  assert.equal(snapshotFrames(mem, null).ramCodes.filter((c) => c === ram("pipe")).length, 0);
  mmPut(mem, mm);
});
