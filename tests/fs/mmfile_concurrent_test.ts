import assert from "node:assert/strict";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { asTaskSlot, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { type Memory } from "../../src/hw/memory.ts";
import { daxBlockPfn } from "../../src/fs/dax_fault.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { taskInit } from "../../src/sync/mod.ts";
import { pfnAt } from "../mm/_mm_helpers.ts";
import { fileMachine, mapAt, newFile } from "./_mmfile.ts";
import { assertInvariants } from "../_invariants.ts";
import { type FileJob, TAG_A, TAG_A_STORE, TAG_ANON, tagged } from "./mmfile_worker.ts";

const P = PAGE_SIZE;
const RW = PROT_READ | PROT_WRITE;
const seedOf = (name: string) => {
  const s = Number(Deno.env.get("SEED") ?? Math.floor(Math.random() * 1e9));
  console.log(`${name}: seed ${s} (replay with SEED=${s})`);
  return s;
};

type Result = Record<string, unknown>;
interface Running {
  worker: Worker;
  done: Promise<Result>;
}
type Reply = { ok: boolean; result?: Result; error?: string };

/** Start `job` in a Worker with a watchdog; the Worker is always terminated. */
function start(mem: Memory, job: FileJob, timeoutMs: number): Running {
  taskInit(mem.k32, asTaskSlot(job.tid));
  const url = new URL("./mmfile_worker.ts", import.meta.url).href;
  const worker = new Worker(url, { type: "module" });
  const done = new Promise<Result>((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.terminate();
      reject(new Error(`watchdog: ${job.role} worker ${job.tid} timed out (seed ${job.seed})`));
    }, timeoutMs);
    worker.onmessage = (e: MessageEvent<Reply>) => {
      clearTimeout(timer);
      worker.terminate();
      if (e.data.ok) resolve(e.data.result!);
      else reject(new Error(`${job.role} worker ${job.tid} (seed ${job.seed}): ${e.data.error}`));
    };
    worker.onerror = (e) => {
      clearTimeout(timer);
      worker.terminate();
      e.preventDefault();
      reject(new Error(`${job.role} worker ${job.tid} crashed (seed ${job.seed}): ${e.message}`));
    };
  });
  worker.postMessage(job);
  return { worker, done };
}

async function all(rs: Running[]): Promise<Result[]> {
  try {
    return await Promise.all(rs.map((r) => r.done));
  } finally {
    for (const r of rs) r.worker.terminate();
  }
}

const common = (mem: Memory) => ({
  phys: mem.phys,
  kernel: mem.kernel,
  gate: new SharedArrayBuffer(4),
  parties: 2,
});

Deno.test("two processes write-faulting the same holes get one block per page and keep both stores", async () => {
  const seed = seedOf("hole race");
  const pages = 2000;
  const m = fileMachine({ sizeBytes: 32 << 20, ramFrames: 1024 });
  const ip = newFile(m, "holes", pages * P);
  const base = 0x2000_0000;
  const mms = [mmAlloc(m.mem) as MmId, mmAlloc(m.mem) as MmId];
  for (const mm of mms) mapAt(m, mm, ip, base, pages * P, RW, MAP_SHARED);
  const allocs0 = m.fs.blocksAllocated();
  const c = common(m.mem);
  await all(
    [2, 3].map((tid, i) =>
      start(m.mem, { ...c, role: "hole", tid, seed: seed + tid, mm: mms[i]!, base, pages }, 120_000)
    ),
  );
  const seen = new Set<number>();
  const dv = new DataView(m.mem.phys);
  for (let p = 0; p < pages; p++) {
    const b = m.fs.getBlock(ip, p, false);
    assert.ok(b > 0, `page ${p} has a block (seed ${seed})`);
    assert.ok(!seen.has(b), `block ${b} given twice (seed ${seed})`);
    seen.add(b);
    const pfn = daxBlockPfn(m.fs.ctx, b) as number;
    for (const tid of [2, 3]) {
      assert.equal(
        dv.getUint32(pfn * P + tid * 4, true),
        tagged(tid, p),
        `page ${p}: tid ${tid}'s store was lost (seed ${seed})`,
      );
    }
    for (const mm of mms) {
      const at = pfnAt(m.mem, mm, base + p * P);
      assert.ok(at === -1 || at === pfn, `page ${p} maps a stale frame in mm ${mm} (seed ${seed})`);
    }
  }
  const extra = m.fs.blocksAllocated() - allocs0 - pages;
  assert.ok(extra >= 0 && extra <= 4, `only indirect blocks beyond one per page (${extra})`);
  for (const mm of mms) mmPut(m.mem, mm);
  assertInvariants(m.mem, { fsck: true }, `(seed ${seed})`);
});

/** File A mapped shared in a fresh mm, file B empty, on a small device (blocks come back fast). */
function truncateSetup(deviceMemmap: boolean) {
  const m = fileMachine({ sizeBytes: 1 << 20, ramFrames: 512, deviceMemmap });
  const aPages = 6;
  const a = newFile(m, "a", aPages * P);
  const b = newFile(m, "b");
  // Fill the device so that B can only get blocks A just gave back.
  const filler = newFile(m, "filler");
  const page = new Uint8Array(P).fill(0x11);
  for (let off = 0; m.fs.freeBlocks() > aPages + 2; off += P) {
    assert.equal(m.fs.daxWrite(filler, off, page), P);
  }
  const base = 0x3000_0000;
  const mm = mmAlloc(m.mem) as MmId;
  mapAt(m, mm, a, base, aPages * P, RW, MAP_SHARED);
  const stopWord = m.mem.layout.scratch.base + 8;
  Atomics.store(m.mem.k32, stopWord, 0);
  return { m, a, b, aPages, base, mm, stopWord };
}

Deno.test("after truncate returns, a block handed to another file is never reachable through an old mapping", async () => {
  const seed = seedOf("truncate security");
  const { m, a, b, aPages, base, mm, stopWord } = truncateSetup(false);
  const c = common(m.mem);
  const [rd, tr] = await all([
    start(m.mem, {
      ...c,
      role: "reader",
      tid: 2,
      seed,
      mm,
      base,
      pages: aPages,
      stopWord,
      pollMax: 64,
    }, 120_000),
    start(m.mem, {
      ...c,
      role: "truncator",
      tid: 3,
      seed: seed + 1,
      aIno: a.ino,
      bIno: b.ino,
      aPages,
      bPages: aPages,
      iterations: 2000,
      stopWord,
    }, 120_000),
  ]);
  assert.deepEqual(rd!.bad, [], `reader saw another file's data (seed ${seed})`);
  assert.deepEqual(tr!.bad, [], `B was written through an old mapping of A (seed ${seed})`);
  assert.equal(tr!.rounds, 2000);
  assert.ok((tr!.reuses as number) > 0, `A's freed blocks were reused by B (seed ${seed})`);
  assert.ok((rd!.reads as number) > 0 && (rd!.sigbus as number) > 0, "the reader raced truncates");
  mmPut(m.mem, mm);
  assertInvariants(m.mem, { fsck: true }, `(seed ${seed})`);
});

Deno.test("getUserPagesFast() pins stay valid against truncate + reuse in another Worker (device memmap)", async () => {
  const seed = seedOf("gup-fast vs truncate");
  const { m, a, b, aPages, base, mm, stopWord } = truncateSetup(true);
  const c = common(m.mem);
  const [pn, tr] = await all([
    start(m.mem, {
      ...c,
      role: "pinner",
      tid: 2,
      seed,
      mm,
      base,
      pages: aPages,
      stopWord,
      allowed: [TAG_A, TAG_A_STORE],
    }, 120_000),
    start(m.mem, {
      ...c,
      role: "truncator",
      tid: 3,
      seed: seed + 1,
      aIno: a.ino,
      bIno: b.ino,
      aPages,
      bPages: aPages,
      iterations: 1500,
      stopWord,
    }, 120_000),
  ]);
  assert.deepEqual(pn!.bad, [], `a pinned frame was reused (seed ${seed})`);
  assert.deepEqual(tr!.bad, [], `seed ${seed}`);
  assert.ok((pn!.pins as number) > 0, "some pins succeeded");
  assert.ok((tr!.reuses as number) > 0, `blocks were reused (seed ${seed})`);
  mmPut(m.mem, mm);
  assertInvariants(m.mem, { fsck: true }, `(seed ${seed})`);
});

Deno.test("getUserPagesFast() is safe against a concurrent munmap of the same mm in another Worker", async () => {
  const seed = seedOf("gup-fast vs munmap");
  const m = fileMachine({ ramFrames: 1024 });
  const free0 = freeFrameCount(m.mem);
  const mm = mmAlloc(m.mem) as MmId;
  const base = 0x2800_0000;
  const pages = 8;
  // A neighbour mapping keeps a page table over the range part of the time only.
  const anonFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  assert.equal(doMmap(m.mem, mm, base + 64 * P, P, RW, anonFlags), base + 64 * P);
  const stopWord = m.mem.layout.scratch.base + 8;
  Atomics.store(m.mem.k32, stopWord, 0);
  const c = common(m.mem);
  const [pn, mu] = await all([
    start(m.mem, {
      ...c,
      role: "pinner",
      tid: 2,
      seed,
      mm,
      base,
      pages,
      stopWord,
      allowed: [TAG_ANON],
    }, 120_000),
    start(m.mem, {
      ...c,
      role: "munmapper",
      tid: 3,
      seed: seed + 1,
      mm,
      base,
      pages,
      iterations: 3000,
      stopWord,
    }, 120_000),
  ]);
  assert.deepEqual(pn!.bad, [], `a pinned frame was freed and poisoned (seed ${seed})`);
  assert.equal(mu!.rounds, 3000);
  assert.ok((pn!.pins as number) > 0 && (pn!.efault as number) > 0, "pins raced unmaps");
  mmPut(m.mem, mm);
  assert.equal(freeFrameCount(m.mem), free0, `no frame leaked by a racing pin (seed ${seed})`);
  assertInvariants(m.mem, { fsck: true }, `(seed ${seed})`);
});
