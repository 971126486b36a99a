/**
 * Megapages (src/mm/huge_memory.ts, src/fs/dax_pmd.ts) through direct
 * kernel calls: the PMD fault and its fallbacks, mkwrite, the splits that
 * munmap, mprotect, truncate, punch-hole, COW and get_user_pages make, and
 * splitHugePmd itself (fork's API), each in both memmap modes and ending
 * with the machine invariants and fsck.
 */

import assert from "node:assert/strict";
import { VMSTAT } from "../../src/abi/layout/mod.ts";
import { MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_READ, PROT_WRITE } from "../../src/abi/mman.ts";
import { PTE_SPECIAL, PTE_W, pteIsTable, pteToPfn } from "../../src/abi/sv32.ts";
import { asVirt, PAGE_SIZE, type Pte } from "../../src/abi/types.ts";
import { FS_XFLAG_EXTSIZE } from "../../src/fs/xipfs/xipfs_fsxattr.ts";
import { mmapFile } from "../../src/fs/file_vm_ops.ts";
import { smapsBlock, snapshotVmas } from "../../src/fs/procfs/procfs_maps.ts";
import type { InodeRef } from "../../src/fs/xipfs/xipfs_live.ts";
import { statRead } from "../../src/hw/memory.ts";
import { dupMm } from "../../src/mm/fork.ts";
import { getUserPages, unpinUserPages } from "../../src/mm/gup.ts";
import { splitHugePmd } from "../../src/mm/huge_memory.ts";
import { pageMapcount, pageRefcount } from "../../src/mm/memmap.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { doMmap, doMprotect, doMunmap } from "../../src/mm/mmap.ts";
import { PGDIR_SIZE, physWords, pmdIsHuge, pmdWord, walk } from "../../src/mm/pgtable.ts";
import { switchMm } from "../../src/mm/tlb_flush.ts";
import { copyFromUser, copyToUser } from "../../src/mm/uaccess.ts";
import { asTaskSlot, type MmId } from "../../src/abi/types.ts";
import { assertInvariants } from "../_invariants.ts";
import { type FileMachine, fileMachine, newFile } from "../fs/_mmfile.ts";

const MB4 = PGDIR_SIZE;
const BS = PAGE_SIZE;

/** Bytes whose value names their page, never 0. */
const pattern = (n: number, seed: number): Uint8Array =>
  new Uint8Array(n).map((_, i) => ((i >> 12) * 7 + (i & 0x3f) + seed) % 251 + 1);

interface Setup {
  m: FileMachine;
  mm: MmId;
  ip: InodeRef;
  data: Uint8Array;
}

/**
 * A 4 MiB-aligned RAM size, a file of `mb4` megapages written through
 * daxWrite with a 4 MiB extent-size hint (so its blocks are aligned
 * extents), and an mm for this thread.
 */
function setup(memmap: boolean, mb4 = 2, extsize = true): Setup {
  const m = fileMachine({ sizeBytes: 24 << 20, ramFrames: 1024, deviceMemmap: memmap });
  const ip = newFile(m, "big");
  if (extsize) {
    assert.equal(m.fs.setFsxattr(ip, { xflags: FS_XFLAG_EXTSIZE, extsize: MB4 }), 0);
  }
  const data = pattern(mb4 * MB4, 3);
  assert.equal(m.fs.daxWrite(ip, 0, data), data.length);
  const mm = mmAlloc(m.mem) as MmId;
  assert.ok(mm > 0);
  switchMm(m.mem, asTaskSlot(1), mm);
  return { m, mm, ip, data };
}

function teardown(s: Setup): void {
  switchMm(s.m.mem, asTaskSlot(1), 0);
  mmPut(s.m.mem, s.mm);
  s.m.fs.iput(s.ip);
  assertInvariants(s.m.mem, { fsck: true });
}

function map(s: Setup, len: number, prot: number, flags: number, pgoff = 0): number {
  const a = doMmap(s.m.mem, s.mm, 0, len, prot, flags, mmapFile(s.m.fs, s.ip, true, true), pgoff);
  assert.ok(a > 0, `mmap: ${a}`);
  return a;
}

const pmdOf = (s: Setup, va: number): Pte =>
  Atomics.load(physWords(s.m.mem), pmdWord(s.m.mem, s.mm, asVirt(va))) as Pte;
const pmdFaults = (s: Setup): number => statRead(s.m.mem, VMSTAT.faultDaxPmd);
const read = (s: Setup, va: number, n: number): Uint8Array => {
  const got = copyFromUser(s.m.mem, s.mm, asVirt(va), n);
  assert.ok(got instanceof Uint8Array, `load at 0x${va.toString(16)}: ${got}`);
  return got;
};

for (const memmap of [false, true]) {
  const tag = `memmap=${memmap ? "device" : "none"}`;

  Deno.test(`a DAX read fault maps an aligned 4 MiB extent with one megapage (${tag})`, () => {
    const s = setup(memmap);
    const a = map(s, 2 * MB4, PROT_READ, MAP_SHARED);
    assert.equal(a % MB4, 0, "thp_get_unmapped_area: a 4 MiB-aligned address");
    const f0 = pmdFaults(s), d0 = statRead(s.m.mem, VMSTAT.faultDax);
    assert.deepEqual(read(s, a + 12345, 100), s.data.subarray(12345, 12445));
    const pmd = pmdOf(s, a);
    assert.ok(pmdIsHuge(pmd), "the root entry is a leaf");
    assert.equal(pteToPfn(pmd) % 1024, 0, "a 1024-aligned pfn");
    assert.ok((pmd & PTE_SPECIAL) !== 0 && (pmd & PTE_W) === 0, "special, read-only");
    assert.deepEqual(read(s, a, 2 * MB4), s.data, "the whole file through two megapages");
    assert.equal(pmdFaults(s) - f0, 2, "one fault per 4 MiB");
    assert.equal(statRead(s.m.mem, VMSTAT.faultDax) - d0, 0, "no 4 KiB fault");
    const smaps = snapshotVmas(s.m.mem, s.mm, true).map(smapsBlock).join("");
    assert.match(smaps, /FilePmdMapped: +8192 kB/, "smaps shows both megapages");
    assertInvariants(s.m.mem, { fsck: true });
    teardown(s);
  });

  Deno.test(`a shared write to a read-only megapage makes it writable in place (${tag})`, () => {
    const s = setup(memmap, 1);
    const a = map(s, MB4, PROT_READ | PROT_WRITE, MAP_SHARED);
    read(s, a, 1);
    assert.equal(pmdOf(s, a) & PTE_W, 0, "read fault: read-only");
    assert.equal(copyToUser(s.m.mem, s.mm, asVirt(a + 3 * BS + 7), new Uint8Array([0xee])), 0);
    assert.ok(pmdIsHuge(pmdOf(s, a)) && (pmdOf(s, a) & PTE_W) !== 0, "writable megapage");
    const out = new Uint8Array(1);
    assert.equal(s.m.fs.daxRead(s.ip, 3 * BS + 7, out), 1);
    assert.equal(out[0], 0xee, "the store reached the file");
    teardown(s);
  });

  Deno.test(`munmap of one page splits the megapage and keeps the rest mapped (${tag})`, () => {
    const s = setup(memmap, 1);
    const a = map(s, MB4, PROT_READ, MAP_SHARED);
    read(s, a, 1);
    assert.equal(doMunmap(s.m.mem, s.mm, a + 5 * BS, BS), 0);
    assert.ok(pteIsTable(pmdOf(s, a)), "split into a table");
    const p32 = physWords(s.m.mem);
    const w4 = walk(s.m.mem, s.mm, asVirt(a + 4 * BS), false);
    const w5 = walk(s.m.mem, s.mm, asVirt(a + 5 * BS), false);
    assert.ok(Atomics.load(p32, w4) !== 0 && Atomics.load(p32, w5) === 0);
    assert.deepEqual(read(s, a + 6 * BS, BS), s.data.subarray(6 * BS, 7 * BS));
    assert.ok(typeof copyFromUser(s.m.mem, s.mm, asVirt(a + 5 * BS), 1) === "number");
    assertInvariants(s.m.mem, { fsck: true });
    teardown(s);
  });

  Deno.test(`mprotect of the whole 4 MiB rewrites the megapage; of a part, splits it (${tag})`, () => {
    const s = setup(memmap, 1);
    const a = map(s, MB4, PROT_READ, MAP_SHARED);
    read(s, a, 1);
    assert.equal(doMprotect(s.m.mem, s.mm, a, MB4, PROT_NONE), 0);
    assert.ok(pmdIsHuge(pmdOf(s, a)), "still one megapage, now PROT_NONE");
    assertInvariants(s.m.mem);
    assert.equal(doMprotect(s.m.mem, s.mm, a, MB4, PROT_READ), 0);
    assert.deepEqual(read(s, a + 9, 3), s.data.subarray(9, 12));
    assert.equal(doMprotect(s.m.mem, s.mm, a + MB4 - BS, BS, PROT_NONE), 0);
    assert.ok(pteIsTable(pmdOf(s, a)), "a part: split");
    assert.deepEqual(read(s, a + 9, 3), s.data.subarray(9, 12));
    assert.ok(typeof copyFromUser(s.m.mem, s.mm, asVirt(a + MB4 - BS), 1) === "number");
    assertInvariants(s.m.mem, { fsck: true });
    teardown(s);
  });

  Deno.test(`truncate and punch-hole inside a megapage split it and unmap only their range (${tag})`, () => {
    const s = setup(memmap, 2);
    const a = map(s, 2 * MB4, PROT_READ, MAP_SHARED);
    read(s, a, 2 * MB4);
    assert.ok(pmdIsHuge(pmdOf(s, a)) && pmdIsHuge(pmdOf(s, a + MB4)));
    assert.equal(s.m.fs.punchHole(s.ip, 10 * BS, 2 * BS), 0);
    assert.ok(pteIsTable(pmdOf(s, a)), "punched: split");
    assert.ok(read(s, a + 10 * BS, 2 * BS).every((x) => x === 0), "the hole reads zero");
    assert.deepEqual(read(s, a + 12 * BS, BS), s.data.subarray(12 * BS, 13 * BS));
    assert.equal(s.m.fs.truncate(s.ip, MB4 + 100 * BS), 0);
    assert.ok(pteIsTable(pmdOf(s, a + MB4)), "truncated inside: split");
    assert.deepEqual(
      read(s, a + MB4 + 99 * BS, BS),
      s.data.subarray(MB4 + 99 * BS, MB4 + 100 * BS),
    );
    assertInvariants(s.m.mem, { fsck: true });
    teardown(s);
  });

  Deno.test(`a private write splits the megapage and copies one page (COW) (${tag})`, () => {
    const s = setup(memmap, 1);
    const a = map(s, MB4, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    read(s, a, 1);
    assert.ok(pmdIsHuge(pmdOf(s, a)), "a private read maps a megapage");
    const cow0 = statRead(s.m.mem, VMSTAT.faultCow);
    assert.equal(copyToUser(s.m.mem, s.mm, asVirt(a + 2 * BS), new Uint8Array([0x11])), 0);
    assert.ok(pteIsTable(pmdOf(s, a)), "split for the COW");
    assert.equal(statRead(s.m.mem, VMSTAT.faultCow) - cow0, 1, "one page copied");
    const out = new Uint8Array(1);
    s.m.fs.daxRead(s.ip, 2 * BS, out);
    assert.equal(out[0], s.data[2 * BS], "the file is untouched");
    assert.equal(read(s, a + 2 * BS, 1)[0], 0x11);
    assertInvariants(s.m.mem, { fsck: true });
    teardown(s);
  });

  Deno.test(`get_user_pages splits a megapage and pins one page, or fails without a memmap (${tag})`, () => {
    const s = setup(memmap, 1);
    const a = map(s, MB4, PROT_READ, MAP_SHARED);
    read(s, a, 1);
    const got = getUserPages(s.m.mem, s.mm, a + 7 * BS, 2, false);
    assert.ok(pteIsTable(pmdOf(s, a)), "split for the pin");
    if (!memmap) assert.ok(typeof got === "number", "special PTEs cannot be pinned");
    else {
      assert.ok(Array.isArray(got));
      const pins = new Map<number, number>(got.map((p) => [p, 1]));
      assertInvariants(s.m.mem, { pins });
      unpinUserPages(s.m.mem, got);
    }
    assertInvariants(s.m.mem, { fsck: true });
    teardown(s);
  });

  Deno.test(`splitHugePmd() gives 1024 PTEs of the same frames, counted with a device memmap (${tag})`, () => {
    const s = setup(memmap, 1);
    const a = map(s, MB4, PROT_READ, MAP_SHARED);
    read(s, a, 1);
    const first = pteToPfn(pmdOf(s, a));
    splitHugePmd(s.m.mem, s.mm, a + 123 * BS);
    const p32 = physWords(s.m.mem);
    for (let i = 0; i < 1024; i++) {
      const pte = Atomics.load(p32, walk(s.m.mem, s.mm, asVirt(a + i * BS), false)) as Pte;
      assert.equal(pteToPfn(pte), first + i);
      assert.equal((pte & PTE_SPECIAL) !== 0, !memmap);
    }
    if (memmap) {
      assert.equal(pageRefcount(s.m.mem, first), 1);
      assert.equal(pageMapcount(s.m.mem, first), 1);
    }
    assert.deepEqual(read(s, a, MB4), s.data, "same bytes after the split");
    assertInvariants(s.m.mem, { fsck: true });
    teardown(s);
  });

  Deno.test(`fork copies a megapage into the child as one entry; a truncate then splits both (${tag})`, () => {
    const s = setup(memmap, 1);
    const a = map(s, MB4, PROT_READ, MAP_PRIVATE);
    read(s, a, 1);
    const child = dupMm(s.m.mem, s.mm) as MmId;
    assert.ok(child > 0, `dupMm: ${child}`);
    const childPmd = () =>
      Atomics.load(physWords(s.m.mem), pmdWord(s.m.mem, child, asVirt(a))) as Pte;
    assert.equal(childPmd(), pmdOf(s, a), "the same megapage in the child");
    assertInvariants(s.m.mem, { fsck: true });
    assert.equal(s.m.fs.punchHole(s.ip, 3 * BS, BS), 0);
    assert.ok(pteIsTable(pmdOf(s, a)) && pteIsTable(childPmd()), "both split by the punch");
    assertInvariants(s.m.mem, { fsck: true });
    mmPut(s.m.mem, child);
    teardown(s);
  });

  Deno.test(`without an aligned extent, or over a hole, a fault falls back to 4 KiB PTEs (${tag})`, () => {
    const s = setup(memmap, 1, false); // no hint: blocks follow the directory's, not aligned
    const a = map(s, MB4, PROT_READ, MAP_SHARED);
    const f0 = pmdFaults(s);
    assert.deepEqual(read(s, a, 2 * BS), s.data.subarray(0, 2 * BS));
    assert.equal(pmdFaults(s) - f0, 0);
    assert.ok(pteIsTable(pmdOf(s, a)));
    const hole = newFile(s.m, "hole", 2 * MB4); // all holes: no huge zero page
    const h = doMmap(
      s.m.mem,
      s.mm,
      0,
      MB4,
      PROT_READ,
      MAP_SHARED,
      mmapFile(s.m.fs, hole, true, true),
    );
    assert.ok(read(s, h, 8).every((x) => x === 0));
    assert.ok(pteIsTable(pmdOf(s, h)), "a hole is mapped with the 4 KiB zero page");
    assert.equal(doMunmap(s.m.mem, s.mm, h, MB4), 0);
    s.m.fs.iput(hole);
    teardown(s);
  });

  Deno.test(`a shared write fault into an empty 4 MiB-hinted extent allocates it and maps it huge (${tag})`, () => {
    const s = setup(memmap, 1);
    assert.equal(s.m.fs.truncate(s.ip, 2 * MB4), 0); // the second extent is a hole
    const a = map(s, 2 * MB4, PROT_READ | PROT_WRITE, MAP_SHARED);
    assert.equal(copyToUser(s.m.mem, s.mm, asVirt(a + MB4 + 5), new Uint8Array([7])), 0);
    const pmd = pmdOf(s, a + MB4);
    assert.ok(pmdIsHuge(pmd) && (pmd & PTE_W) !== 0, "a writable megapage over the new extent");
    for (let ib = 0; ib < 2048; ib++) {
      assert.ok(s.m.fs.getBlock(s.ip, ib, false) > 0, `block ${ib}`);
    }
    assertInvariants(s.m.mem, { fsck: true });
    teardown(s);
  });
}
