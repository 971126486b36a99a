/**
 * Regression tests from the image fuzzer (tests/fuzz/image_fuzz_test.ts):
 * a block map that names a block the bitmap already marks free (a pointer
 * shared by two files, or a bitmap bit cleared by corruption) is on-disk
 * corruption, so truncate and the last iput must report -EUCLEAN (Linux's
 * ext2_free_blocks logs "bit already cleared" and goes on), never panic.
 */

import assert from "node:assert/strict";
import { EUCLEAN } from "../../src/abi/errno.ts";
import { XINODE, XIPFS_INODE_SIZE } from "../../src/abi/layout/mod.ts";
import { PAGE_SIZE, type Pfn } from "../../src/abi/types.ts";
import { setBlockInUse, superSet } from "../../src/fs/xipfs/xipfs_format.ts";
import {
  lockPage,
  pageView,
  readCachePage,
  setPageDirty,
  unlockPage,
} from "../../src/fs/pagecache/pagecache.ts";
import { putPage } from "../../src/mm/memmap.ts";
import { checkInvariants } from "../../src/kernel/invariants.ts";
import { fileMachine, newFile, pageOf } from "./_mmfile.ts";

Deno.test("truncate() returns -EUCLEAN, without panicking, when two files share a block", () => {
  const m = fileMachine({ dax: "always" });
  const a = newFile(m, "a");
  const b = newFile(m, "b");
  assert.equal(m.fs.daxWrite(a, 0, pageOf(1)), PAGE_SIZE);
  assert.equal(m.fs.daxWrite(b, 0, pageOf(2)), PAGE_SIZE);
  const blockA = m.fs.getBlock(a, 0, false);
  // Corrupt b's first pointer to name a's block, as a damaged image would.
  const sb = m.fs.vol.sb;
  const off = sb.inodeTableStart * PAGE_SIZE + (b.ino - 1) * XIPFS_INODE_SIZE + XINODE.block;
  m.fs.vol.view.setUint32(off, blockA, true);
  assert.equal(m.fs.truncate(a, 0), 0);
  assert.equal(m.fs.truncate(b, 0), -EUCLEAN);
  m.fs.iput(a);
  m.fs.iput(b);
  assert.deepEqual(checkInvariants(m.mem), []);
});

Deno.test("the last iput of an unlinked file whose block the bitmap marks free does not panic", () => {
  const m = fileMachine({ dax: "never" });
  const a = newFile(m, "a");
  assert.equal(m.fs.truncate(a, 3 * PAGE_SIZE), 0);
  const blk = m.fs.getBlock(a, 1, true);
  assert.ok(blk > 0);
  setBlockInUse(m.fs.vol, blk, false);
  assert.equal(m.fs.unlink(m.root, "a"), 0);
  m.fs.iput(a); // evicts: frees the blocks of the unlinked inode
  assert.deepEqual(checkInvariants(m.mem), []);
});

Deno.test("unmount does not panic when writeback of an evicted inode fails (ENOSPC), and stays consistent", () => {
  const m = fileMachine({ dax: "never" });
  const a = newFile(m, "a", 2 * PAGE_SIZE); // two pages of hole: no block behind them
  const pfn = readCachePage(m.mem, a.slot, 0, m.fs.aops, undefined, m.fs.aopsFor) as Pfn;
  assert.ok(pfn >= 0);
  lockPage(m.mem, pfn);
  pageView(m.mem, pfn).fill(0x42);
  setPageDirty(m.mem, pfn); // dirty, and writeback will need a block
  unlockPage(m.mem, pfn);
  putPage(m.mem, pfn);
  superSet(m.fs.vol, "freeBlocks", 0); // the device is full: getBlock(create) answers -ENOSPC
  m.fs.iput(a);
  m.fs.iput(m.root);
  const rc = m.fs.unmount();
  assert.ok(rc === 0 || rc < 0, `unmount returned ${rc}`);
  assert.deepEqual(checkInvariants(m.mem), []);
});
