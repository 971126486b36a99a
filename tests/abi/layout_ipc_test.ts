import assert from "node:assert/strict";
import { computeLayout, ICACHE_SLOTS, type LayoutConfig } from "../../src/abi/layout/mod.ts";
import {
  ipcParts,
  MSQ,
  MSQ_PAGES,
  MSQ_WORDS,
  SEMID,
  SEMID_WORDS,
  SHMHDR_WORDS,
  SHMI,
  SHMI_WORDS,
  SHMID,
  SHMID_WORDS,
  SOCK,
  SOCK_ADDR_MAX,
  SOCK_RING_PAGES,
  SOCK_WORDS,
  TDIRENT,
  TDIRENT_WORDS,
} from "../../src/abi/layout/ipc.ts";

const CONFIGS: LayoutConfig[] = [
  { ramFrames: 16384, deviceFrames: 16384, deviceMemmap: false, maxTasks: 128 },
  { ramFrames: 33, deviceFrames: 7, deviceMemmap: true, maxTasks: 3 },
];

for (const cfg of CONFIGS) {
  Deno.test(`ipcParts() lays the ipc region's parts out in order, aligned, inside it (maxTasks ${cfg.maxTasks})`, () => {
    const p = ipcParts(cfg, ICACHE_SLOTS);
    const order = [p.shmi, p.tdirent, p.shm, p.sem, p.semPool, p.semUndo, p.semWait, p.msg, p.sock];
    assert.equal(p.shmi, SHMHDR_WORDS);
    for (let i = 1; i < order.length; i++) {
      assert.ok(order[i]! > order[i - 1]!, `part ${i} starts after part ${i - 1}`);
      assert.equal(order[i]! % 16, 0, `part ${i} is 64-byte aligned`);
    }
    assert.ok(p.tdirent >= p.shmi + ICACHE_SLOTS * SHMI_WORDS, "one SHMI record per icache slot");
    assert.equal(computeLayout(cfg).ipc.words, p.words);
  });
}

Deno.test("ipc records fit their declared sizes", () => {
  const maxOf = (o: Record<string, number>) => Math.max(...Object.values(o));
  assert.ok(maxOf(SHMI) < SHMI_WORDS);
  assert.equal(SHMI.size % 2, 0, "SHMI.size is a 64-bit word pair");
  assert.ok(TDIRENT.name + Math.ceil(255 / 4) <= TDIRENT_WORDS, "NAME_MAX bytes fit a dirent");
  assert.ok(maxOf(SHMID) < SHMID_WORDS);
  assert.ok(maxOf(SEMID) < SEMID_WORDS);
  assert.equal(MSQ.pages + MSQ_PAGES, MSQ_WORDS);
  assert.ok(
    SOCK.addr + Math.ceil(SOCK_ADDR_MAX / 4) <= SOCK.pages,
    "the address fits before the ring",
  );
  assert.equal(SOCK.pages + SOCK_RING_PAGES, SOCK_WORDS);
});
