import assert from "node:assert/strict";
import { SHMEM_KIND_ANON, SHMEM_KIND_TMPFS } from "../../src/abi/layout/ipc.ts";
import { MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/abi/mman.ts";
import { ACCESS_READ, ACCESS_WRITE } from "../../src/abi/sv32.ts";
import { type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { ENOSPC } from "../../src/abi/errno.ts";
import {
  SHMEM_MAX_INODES,
  shmemInodeNew,
  shmemInodes,
  shmemIput,
  shmemPages,
  shmemRead,
  shmemSize,
  shmemTruncate,
  shmemWrite,
} from "../../src/fs/shmem.ts";
import type { InodeRef } from "../../src/fs/xipfs/xipfs_ctx.ts";
import { shrinkPageCache } from "../../src/fs/pagecache/pagecache.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { doMmap, doMunmap } from "../../src/mm/mmap.ts";
import { VMOPS_SHMEM } from "../../src/mm/vma.ts";
import { assertInvariants } from "../_invariants.ts";
import { fileMachine } from "./_mmfile.ts";
import { softAccess } from "../mm/_mm_helpers.ts";

function newShmem(m: ReturnType<typeof fileMachine>, size: number, kind = SHMEM_KIND_ANON) {
  const ip = shmemInodeNew(m.fs.ctx, kind, 0o100600, size);
  if (typeof ip === "number") throw new Error(`shmemInodeNew: ${ip}`);
  return ip;
}

function mapShmem(
  m: ReturnType<typeof fileMachine>,
  mm: MmId,
  ip: InodeRef,
  addr: number,
  len: number,
  flags = MAP_SHARED,
): void {
  const file = { slot: ip.slot, ops: VMOPS_SHMEM, readable: true, writable: true };
  const r = doMmap(m.mem, mm, addr, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED, file, 0);
  assert.equal(r, addr, `mmap: ${r}`);
}

const store = (m: ReturnType<typeof fileMachine>, mm: MmId, va: number, b: number) => {
  const pa = softAccess(m.mem, mm, va, ACCESS_WRITE);
  assert.ok(pa >= 0, `store fault ${pa}`);
  m.mem.u8[pa] = b;
};
const load = (m: ReturnType<typeof fileMachine>, mm: MmId, va: number): number => {
  const pa = softAccess(m.mem, mm, va, ACCESS_READ);
  assert.ok(pa >= 0, `load fault ${pa}`);
  return m.mem.u8[pa]!;
};

Deno.test("shmemWrite()/shmemRead() round-trip; holes read as zeros; the last iput frees every page", () => {
  const m = fileMachine();
  const c = m.fs.ctx;
  const ip = newShmem(m, 0);
  const data = new Uint8Array(3 * PAGE_SIZE).map((_, i) => (i * 7) & 0xff);
  assert.deepEqual(shmemWrite(c, ip, 2 * PAGE_SIZE + 100, data), [
    data.length,
    2 * PAGE_SIZE + 100,
  ]);
  assert.equal(shmemSize(c, ip), 5 * PAGE_SIZE + 100);
  assert.equal(shmemPages(m.mem), 4, "pages 2..5 exist, 0..1 are a hole");
  const back = new Uint8Array(6 * PAGE_SIZE);
  assert.equal(shmemRead(c, ip, 0, back), 5 * PAGE_SIZE + 100);
  assert.ok(back.subarray(0, 2 * PAGE_SIZE + 100).every((b) => b === 0));
  assert.deepEqual(back.subarray(2 * PAGE_SIZE + 100, 5 * PAGE_SIZE + 100), data);
  assert.equal(shmemPages(m.mem), 4, "reading a hole does not fill it");
  // The page cache's shrinker never evicts shmem pages (no backing store).
  assert.equal(shrinkPageCache(m.mem, 100, m.fs.aopsFor), 0);
  shmemIput(c, ip);
  assert.equal(shmemPages(m.mem), 0);
  assert.equal(shmemInodes(m.mem), 0);
  assertInvariants(m.mem);
});

Deno.test("shmemTruncate() drops pages past the end, zeroes the partial tail, unmaps from every mm", () => {
  const m = fileMachine();
  const c = m.fs.ctx;
  const ip = newShmem(m, 4 * PAGE_SIZE);
  const mm = mmAlloc(m.mem) as MmId;
  mapShmem(m, mm, ip, 0x1000_0000, 4 * PAGE_SIZE);
  for (let p = 0; p < 4; p++) store(m, mm, 0x1000_0000 + p * PAGE_SIZE + 200, 0x40 + p);
  assert.equal(shmemPages(m.mem), 4);
  assert.equal(shmemTruncate(c, ip, PAGE_SIZE + 100), 0);
  assert.equal(shmemPages(m.mem), 2);
  const buf = new Uint8Array(PAGE_SIZE);
  assert.equal(shmemRead(c, ip, PAGE_SIZE, buf), 100);
  assert.equal(shmemTruncate(c, ip, 2 * PAGE_SIZE), 0);
  assert.equal(shmemRead(c, ip, PAGE_SIZE, buf), PAGE_SIZE);
  assert.equal(buf[200], 0, "the tail past the old size was zeroed");
  assert.equal(load(m, mm, 0x1000_0000 + 200), 0x40);
  assert.ok(softAccess(m.mem, mm, 0x1000_0000 + 3 * PAGE_SIZE, ACCESS_READ) < 0, "SIGBUS past EOF");
  assert.equal(doMunmap(m.mem, mm, 0x1000_0000, 4 * PAGE_SIZE), 0);
  shmemIput(c, ip);
  mmPut(m.mem, mm);
  assert.equal(shmemPages(m.mem), 0);
  assertInvariants(m.mem);
});

Deno.test("a shared shmem mapping in two mms sees one set of pages; a private one copies on write", () => {
  const m = fileMachine();
  const c = m.fs.ctx;
  const ip = newShmem(m, 2 * PAGE_SIZE);
  const a = mmAlloc(m.mem) as MmId, b = mmAlloc(m.mem) as MmId, p = mmAlloc(m.mem) as MmId;
  mapShmem(m, a, ip, 0x2000_0000, 2 * PAGE_SIZE);
  mapShmem(m, b, ip, 0x3000_0000, 2 * PAGE_SIZE);
  mapShmem(m, p, ip, 0x4000_0000, 2 * PAGE_SIZE, MAP_PRIVATE);
  // The creating reference can go: the VMAs keep the inode (shmem_zero_setup's way).
  shmemIput(c, ip);
  store(m, a, 0x2000_0000 + 5, 11);
  assert.equal(load(m, b, 0x3000_0000 + 5), 11, "b sees a's store");
  store(m, b, 0x3000_0000 + PAGE_SIZE, 22);
  assert.equal(load(m, a, 0x2000_0000 + PAGE_SIZE), 22, "a sees b's store");
  assert.equal(load(m, p, 0x4000_0000 + 5), 11, "a private mapping reads the shared page");
  store(m, p, 0x4000_0000 + 5, 99);
  assert.equal(load(m, a, 0x2000_0000 + 5), 11, "the private write went to a copy");
  assert.equal(load(m, p, 0x4000_0000 + 5), 99);
  assertInvariants(m.mem);
  mmPut(m.mem, a);
  assert.equal(load(m, b, 0x3000_0000 + 5), 11, "b's mapping keeps the memory alive");
  mmPut(m.mem, b);
  mmPut(m.mem, p);
  assert.equal(shmemPages(m.mem), 0, "the last VMA freed the pages");
  assert.equal(shmemInodes(m.mem), 0);
  assertInvariants(m.mem);
});

Deno.test("shmemInodeNew() refuses past SHMEM_MAX_INODES with -ENOSPC and recovers after iput", () => {
  const m = fileMachine();
  const c = m.fs.ctx;
  const got: InodeRef[] = [];
  for (;;) {
    const ip = shmemInodeNew(c, SHMEM_KIND_TMPFS, 0o100600);
    if (typeof ip === "number") {
      assert.equal(ip, -ENOSPC);
      break;
    }
    got.push(ip);
  }
  assert.equal(got.length, SHMEM_MAX_INODES);
  shmemIput(c, got.pop()!);
  const again = shmemInodeNew(c, SHMEM_KIND_TMPFS, 0o100600);
  assert.notEqual(typeof again, "number");
  got.push(again as InodeRef);
  for (const ip of got) shmemIput(c, ip);
  assert.equal(shmemInodes(m.mem), 0);
  assertInvariants(m.mem);
});
