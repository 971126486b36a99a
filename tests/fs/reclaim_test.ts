/**
 * Regression test from the stress harness (tests/chaos, seed 950, 160 RAM
 * frames, page cache): an anonymous write fault failed (-EFAULT from
 * copyToUser, VM_FAULT_OOM) while the page cache held clean, unmapped,
 * unpinned pages it could have given back. Linux's page allocator enters
 * direct reclaim before it fails; so must the fault path here ("the page
 * cache is evicted first", issue 8).
 */

import assert from "node:assert/strict";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { asVirt, type MmId, PAGE_SIZE, type Pfn } from "../../src/abi/types.ts";
import { readCachePage } from "../../src/fs/pagecache/pagecache.ts";
import { pagecacheFrames } from "../../src/fs/pagecache/pagecache.ts";
import { checkInvariants } from "../../src/kernel/invariants.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { putPage } from "../../src/mm/memmap.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { copyToUser } from "../../src/mm/uaccess.ts";
import { type FileMachine, fileMachine, newFile } from "./_mmfile.ts";
import type { InodeRef } from "../../src/fs/xipfs/xipfs_live.ts";

const A = 0x4000_0000;

/** Fill every free frame with clean page-cache pages (a file read once); the file's reference. */
function fillWithCache(m: FileMachine): InodeRef {
  const f = newFile(m, "f", 256 * PAGE_SIZE);
  for (let pg = 0; freeFrameCount(m.mem) > 0; pg++) {
    const pfn = readCachePage(m.mem, f.slot, pg, m.fs.aops, undefined, m.fs.aopsFor);
    assert.ok(pfn >= 0, `readCachePage ${pg}: ${pfn}`);
    putPage(m.mem, pfn as Pfn);
  }
  return f;
}

Deno.test("an anonymous write fault evicts clean page-cache pages before it fails with OOM", () => {
  const m = fileMachine({ dax: "never", ramFrames: 64 });
  const mm = mmAlloc(m.mem) as MmId;
  const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  assert.equal(doMmap(m.mem, mm, A, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, flags), A);
  assert.equal(copyToUser(m.mem, mm, asVirt(A), new Uint8Array([1])), 0); // its page table now
  const f = fillWithCache(m);
  const cached = pagecacheFrames(m.mem);
  assert.ok(cached > 8);
  for (let i = 1; i < 8; i++) {
    assert.equal(
      copyToUser(m.mem, mm, asVirt(A + i * PAGE_SIZE), new Uint8Array([i])),
      0,
      `page ${i}`,
    );
  }
  assert.ok(pagecacheFrames(m.mem) < cached, "the cache gave frames back");
  m.fs.iput(f);
  mmPut(m.mem, mm);
  assert.deepEqual(checkInvariants(m.mem), []);
});

Deno.test("a fault that needs a new page table evicts clean page-cache pages before it fails with OOM", () => {
  // The page table is a frame too: Linux allocates it (pte_alloc) with the
  // same reclaiming allocator as the page it will map.
  const m = fileMachine({ dax: "never", ramFrames: 64 });
  const mm = mmAlloc(m.mem) as MmId;
  const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  assert.equal(doMmap(m.mem, mm, A, PAGE_SIZE, PROT_READ | PROT_WRITE, flags), A);
  const f = fillWithCache(m); // no page table covers A yet
  const cached = pagecacheFrames(m.mem);
  assert.equal(copyToUser(m.mem, mm, asVirt(A), new Uint8Array([7])), 0, "the fault succeeded");
  assert.ok(pagecacheFrames(m.mem) < cached, "the cache gave frames back");
  m.fs.iput(f);
  mmPut(m.mem, mm);
  assert.deepEqual(checkInvariants(m.mem), []);
});
