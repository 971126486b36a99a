/**
 * Memory failure under live mappings, through direct kernel calls
 * (src/fs/hwpoison.ts memoryFailure, src/kernel/memory_failure.ts, the DAX
 * faults' poison checks, madvise(MADV_HWPOISON)): poisoning a mapped block
 * removes every PTE of it in every mm, shared and private alike; a fault on
 * it then returns VM_FAULT_HWPOISON (SIGBUS BUS_MCEERR_AR in a process); a
 * megapage over it is split and only the bad page goes; the PMD fault falls
 * back to 4 KiB pages around poison. Each case in both memmap modes, ending
 * with the invariants (rule 3c: nothing maps a poisoned frame) and fsck.
 */

import assert from "node:assert/strict";
import { EINVAL } from "../../src/abi/errno.ts";
import {
  MADV_HWPOISON,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { ACCESS_READ, ACCESS_WRITE, pteIsTable } from "../../src/abi/sv32.ts";
import { asTaskSlot, asVirt, type MmId, PAGE_SIZE, type Pte } from "../../src/abi/types.ts";
import { mmapFile } from "../../src/fs/file_vm_ops.ts";
import { FS_XFLAG_EXTSIZE } from "../../src/fs/xipfs/xipfs_fsxattr.ts";
import { bmapLookup } from "../../src/fs/xipfs/xipfs_bmap.ts";
import type { InodeRef } from "../../src/fs/xipfs/xipfs_live.ts";
import { badblockTest } from "../../src/hw/badblocks.ts";
import { installMemoryFailure, poisonBlocks } from "../../src/kernel/memory_failure.ts";
import { handleMmFault, VM_FAULT_HWPOISON } from "../../src/mm/fault.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { doMadvise, doMmap } from "../../src/mm/mmap.ts";
import { PGDIR_SIZE, physWords, pmdIsHuge, pmdWord, walk } from "../../src/mm/pgtable.ts";
import { switchMm } from "../../src/mm/tlb_flush.ts";
import { copyFromUser, copyToUser } from "../../src/mm/uaccess.ts";
import { assertInvariants } from "../_invariants.ts";
import { type FileMachine, fileMachine, newFile } from "../fs/_mmfile.ts";

const BS = PAGE_SIZE;
const MB4 = PGDIR_SIZE;

interface Setup {
  m: FileMachine;
  mms: MmId[];
  ip: InodeRef;
  dev: number[];
}

/** A file of `pages` pages (4 MiB extents when `huge`), and `nmm` mms. */
function setup(memmap: boolean, pages: number, nmm: number, huge = false): Setup {
  const m = fileMachine({ sizeBytes: 24 << 20, ramFrames: 1024, deviceMemmap: memmap });
  const ip = newFile(m, "f");
  if (huge) assert.equal(m.fs.setFsxattr(ip, { xflags: FS_XFLAG_EXTSIZE, extsize: MB4 }), 0);
  const data = new Uint8Array(pages * BS).map((_, i) => (i >> 12) + 1);
  assert.equal(m.fs.daxWrite(ip, 0, data), data.length);
  const dev = [...Array(pages).keys()].map((i) => bmapLookup(m.fs.ctx.vol, ip.ino, i) as number);
  const mms = [...Array(nmm)].map(() => mmAlloc(m.mem) as MmId);
  installMemoryFailure(m.fs.ctx);
  return { m, mms, ip, dev };
}

function teardown(s: Setup): void {
  switchMm(s.m.mem, asTaskSlot(1), 0);
  for (const mm of s.mms) mmPut(s.m.mem, mm);
  s.m.fs.iput(s.ip);
  assertInvariants(s.m.mem, { fsck: true });
}

function map(s: Setup, mm: MmId, len: number, prot: number, flags: number): number {
  const file = mmapFile(s.m.fs, s.ip, true, true);
  const a = doMmap(s.m.mem, mm, 0, len, prot, flags, file, 0);
  assert.ok(a > 0, `mmap: ${a}`);
  return a;
}

/** Whether a leaf (PTE or megapage) maps `va` in `mm`. */
function mapped(s: Setup, mm: MmId, va: number): boolean {
  const p32 = physWords(s.m.mem);
  if (pmdIsHuge(Atomics.load(p32, pmdWord(s.m.mem, mm, asVirt(va))) as Pte)) return true;
  const w = walk(s.m.mem, mm, asVirt(va), false);
  return w >= 0 && Atomics.load(p32, w) !== 0;
}

const fault = (s: Setup, mm: MmId, va: number, write = false): number =>
  handleMmFault(s.m.mem, mm, asVirt(va), write ? ACCESS_WRITE : ACCESS_READ);

for (const memmap of [false, true]) {
  const tag = `memmap=${memmap ? "device" : "none"}`;

  Deno.test(`poison unmaps a page from every mm, shared and private; faults on it fail (${tag})`, () => {
    const s = setup(memmap, 4, 3);
    const [a, b, c] = s.mms as [MmId, MmId, MmId];
    const va = map(s, a, 4 * BS, PROT_READ | PROT_WRITE, MAP_SHARED);
    const vb = map(s, b, 4 * BS, PROT_READ, MAP_SHARED);
    const vc = map(s, c, 4 * BS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    for (const [mm, v] of [[a, va], [b, vb], [c, vc]] as const) {
      for (let p = 0; p < 4; p++) assert.equal(fault(s, mm, v + p * BS), 0);
    }
    assert.equal(poisonBlocks(s.m.fs.ctx, s.dev[1]!, 1), 1);
    for (const [mm, v] of [[a, va], [b, vb], [c, vc]] as const) {
      assert.equal(mapped(s, mm, v + BS), false, `mm ${mm}: the poisoned page is gone`);
      assert.ok(mapped(s, mm, v) && mapped(s, mm, v + 2 * BS), `mm ${mm}: the others stay`);
      assert.equal(fault(s, mm, v + BS), VM_FAULT_HWPOISON, "a read fault on it");
    }
    assert.equal(fault(s, a, va + BS, true), VM_FAULT_HWPOISON, "a shared write fault");
    assert.equal(fault(s, c, vc + BS, true), VM_FAULT_HWPOISON, "a COW fault cannot copy it");
    assert.ok(typeof copyFromUser(s.m.mem, a, asVirt(va + BS), 4) === "number", "uaccess fails");
    assertInvariants(s.m.mem, { fsck: true });
    teardown(s);
  });

  Deno.test(`a private COW copy made before the poison stays mapped (${tag})`, () => {
    const s = setup(memmap, 2, 1);
    const [a] = s.mms as [MmId];
    const v = map(s, a, 2 * BS, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    switchMm(s.m.mem, asTaskSlot(1), a);
    assert.equal(copyToUser(s.m.mem, a, asVirt(v + 8), new Uint8Array([0x77])), 0);
    poisonBlocks(s.m.fs.ctx, s.dev[0]!, 1);
    const got = copyFromUser(s.m.mem, a, asVirt(v + 8), 1);
    assert.ok(got instanceof Uint8Array && got[0] === 0x77, "the RAM copy is not poisoned");
    teardown(s);
  });

  Deno.test(`poison inside a megapage splits it and unmaps only that page; the PMD fault falls back (${tag})`, () => {
    const s = setup(memmap, 1024, 2, true);
    const [a, b] = s.mms as [MmId, MmId];
    const va = map(s, a, MB4, PROT_READ, MAP_SHARED);
    const vb = map(s, b, MB4, PROT_READ, MAP_SHARED);
    assert.equal(va % MB4, 0);
    assert.equal(fault(s, a, va), 0);
    assert.ok(pmdIsHuge(Atomics.load(physWords(s.m.mem), pmdWord(s.m.mem, a, asVirt(va))) as Pte));
    poisonBlocks(s.m.fs.ctx, s.dev[700]!, 1);
    const pmd = Atomics.load(physWords(s.m.mem), pmdWord(s.m.mem, a, asVirt(va))) as Pte;
    assert.ok(pteIsTable(pmd), "split into 4 KiB PTEs");
    assert.equal(mapped(s, a, va + 700 * BS), false);
    assert.ok(mapped(s, a, va + 699 * BS) && mapped(s, a, va + 701 * BS));
    assert.equal(fault(s, a, va + 700 * BS), VM_FAULT_HWPOISON);
    // mm b never faulted: its PMD fault sees poison in the 4 MiB and maps 4 KiB pages.
    assert.equal(fault(s, b, vb + 3 * BS), 0);
    const pb = Atomics.load(physWords(s.m.mem), pmdWord(s.m.mem, b, asVirt(vb))) as Pte;
    assert.equal(pmdIsHuge(pb), false, "no megapage over poison");
    assert.equal(fault(s, b, vb + 700 * BS), VM_FAULT_HWPOISON);
    assertInvariants(s.m.mem, { fsck: true });
    teardown(s);
  });

  Deno.test(`madvise(MADV_HWPOISON) poisons a DAX page; anonymous memory gets EINVAL (${tag})`, () => {
    const s = setup(memmap, 2, 2);
    const [a, b] = s.mms as [MmId, MmId];
    const va = map(s, a, 2 * BS, PROT_READ, MAP_SHARED);
    const vb = map(s, b, 2 * BS, PROT_READ, MAP_SHARED);
    assert.equal(fault(s, b, vb + BS), 0);
    assert.equal(doMadvise(s.m.mem, a, va + BS, BS, MADV_HWPOISON), 0);
    assert.ok(badblockTest(s.m.mem, s.dev[1]!), "the device block is poisoned");
    assert.equal(mapped(s, b, vb + BS), false, "and gone from the other mm");
    assert.equal(fault(s, a, va + BS), VM_FAULT_HWPOISON);
    const anon = doMmap(s.m.mem, a, 0, BS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    assert.ok(anon > 0);
    assert.equal(doMadvise(s.m.mem, a, anon, BS, MADV_HWPOISON), -EINVAL, "RAM is not modelled");
    teardown(s);
  });
}
