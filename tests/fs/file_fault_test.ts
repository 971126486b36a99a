import assert from "node:assert/strict";
import { VMSTAT } from "../../src/abi/layout/mod.ts";
import { MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/abi/mman.ts";
import { ACCESS_READ, ACCESS_WRITE, PTE_SPECIAL, PTE_W } from "../../src/abi/sv32.ts";
import { asPfn, type MmId, PAGE_SIZE, type Pfn } from "../../src/abi/types.ts";
import { type Memory, statRead } from "../../src/hw/memory.ts";
import { daxBlockPfn } from "../../src/fs/dax_fault.ts";
import { findGetPage } from "../../src/fs/pagecache/pagecache.ts";
import { VM_FAULT_SIGBUS } from "../../src/mm/fault.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import {
  pageMapcount,
  pageRefcount,
  pfnIsDevice,
  pfnValid,
  PG_anon,
  PG_dirty,
  putPage,
  testPageFlag,
} from "../../src/mm/memmap.ts";
import { mmAlloc, mmPut, zeroPfn } from "../../src/mm/mm.ts";
import { doMunmap } from "../../src/mm/mmap.ts";
import { pfnAt, pteAt, softAccess, userLoad, userStore } from "../mm/_mm_helpers.ts";
import { type FileMachine, fileMachine, mapAt, newFile, pageOf } from "./_mmfile.ts";

const P = PAGE_SIZE;
const A = 0x4000_0000;
const RW = PROT_READ | PROT_WRITE;

const stats = (mem: Memory) => ({
  dax: statRead(mem, VMSTAT.faultDax),
  minor: statRead(mem, VMSTAT.faultFileMinor),
  major: statRead(mem, VMSTAT.faultFileMajor),
  cow: statRead(mem, VMSTAT.faultCow),
  anon: statRead(mem, VMSTAT.faultAnon),
  zero: statRead(mem, VMSTAT.faultZero),
});
type Stats = ReturnType<typeof stats>;
const delta = (a: Stats, b: Stats) =>
  Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - a[k as keyof Stats]]));

/** Device pfn holding file page `pgoff` of `ip` (must be allocated). */
function blockPfn(m: FileMachine, ip: Parameters<FileMachine["fs"]["getBlock"]>[0], pgoff: number) {
  const b = m.fs.getBlock(ip, pgoff, false);
  assert.ok(b > 0, `page ${pgoff} has a block`);
  return daxBlockPfn(m.fs.ctx, b) as Pfn;
}

const word = (mem: Memory, pa: number) => new DataView(mem.phys).getUint32(pa, true);

Deno.test("daxFault() maps the device frame with pte_special on a read and counts a dax fault", () => {
  const m = fileMachine();
  const ip = newFile(m, "f");
  assert.equal(m.fs.daxWrite(ip, 0, pageOf(0x1111_2222)), P);
  const mm = mmAlloc(m.mem) as MmId;
  mapAt(m, mm, ip, A, P, PROT_READ, MAP_SHARED);
  const s0 = stats(m.mem);
  const pa = softAccess(m.mem, mm, A + 8, ACCESS_READ);
  assert.equal(word(m.mem, pa), 0x1111_2222);
  assert.deepEqual(delta(s0, stats(m.mem)), {
    dax: 1,
    minor: 0,
    major: 0,
    cow: 0,
    anon: 0,
    zero: 0,
  });
  const pte = pteAt(m.mem, mm, A);
  assert.equal(pfnAt(m.mem, mm, A), blockPfn(m, ip, 0), "the device frame itself, no copy");
  assert.ok((pte & PTE_SPECIAL) !== 0 && (pte & PTE_W) === 0);
  assert.equal(pfnValid(m.mem, asPfn(pfnAt(m.mem, mm, A))), false, "no struct page");
  mmPut(m.mem, mm);
});

Deno.test("daxFault() maps the zero page on a hole read, allocates nothing, and counts a zero fault", () => {
  const m = fileMachine();
  const ip = newFile(m, "hole", 4 * P);
  const mm = mmAlloc(m.mem) as MmId;
  mapAt(m, mm, ip, A, 4 * P, RW, MAP_SHARED);
  const allocs = m.fs.blocksAllocated();
  const s0 = stats(m.mem);
  assert.equal(userLoad(m.mem, mm, A + 2 * P), 0);
  assert.deepEqual(delta(s0, stats(m.mem)), {
    dax: 0,
    minor: 0,
    major: 0,
    cow: 0,
    anon: 0,
    zero: 1,
  });
  assert.equal(pfnAt(m.mem, mm, A + 2 * P), zeroPfn(m.mem));
  assert.ok((pteAt(m.mem, mm, A + 2 * P) & PTE_SPECIAL) !== 0);
  assert.equal(m.fs.blocksAllocated(), allocs, "a hole read allocates nothing");
  assert.equal(m.fs.getBlock(ip, 2, false), 0);
  mmPut(m.mem, mm);
});

Deno.test("a shared write fault on a zero-page hole unmaps the zero page from every process", () => {
  const m = fileMachine();
  const ip = newFile(m, "up", 2 * P);
  const mm1 = mmAlloc(m.mem) as MmId;
  const mm2 = mmAlloc(m.mem) as MmId;
  mapAt(m, mm1, ip, A, 2 * P, RW, MAP_SHARED);
  mapAt(m, mm2, ip, A + 16 * P, 2 * P, RW, MAP_SHARED);
  assert.equal(userLoad(m.mem, mm1, A + P), 0);
  assert.equal(userLoad(m.mem, mm2, A + 17 * P), 0);
  assert.equal(pfnAt(m.mem, mm2, A + 17 * P), zeroPfn(m.mem));
  const s0 = stats(m.mem);
  userStore(m.mem, mm1, A + P + 5, 0x77);
  assert.deepEqual(delta(s0, stats(m.mem)), {
    dax: 1,
    minor: 0,
    major: 0,
    cow: 0,
    anon: 0,
    zero: 0,
  });
  const pfn = blockPfn(m, ip, 1);
  assert.equal(pfnAt(m.mem, mm1, A + P), pfn);
  assert.equal(pteAt(m.mem, mm2, A + 17 * P), 0, "the other process's zero-page PTE is gone");
  assert.equal(userLoad(m.mem, mm2, A + 17 * P + 5), 0x77, "and it refaults onto the new block");
  assert.equal(pfnAt(m.mem, mm2, A + 17 * P), pfn);
  mmPut(m.mem, mm1);
  mmPut(m.mem, mm2);
});

Deno.test("write(2) into a hole that a process maps as the zero page replaces the mapping", () => {
  const m = fileMachine();
  const ip = newFile(m, "w", P);
  const mm = mmAlloc(m.mem) as MmId;
  mapAt(m, mm, ip, A, P, PROT_READ, MAP_SHARED);
  assert.equal(userLoad(m.mem, mm, A), 0);
  assert.equal(m.fs.daxWrite(ip, 0, pageOf(0x0a0b_0c0d)), P);
  assert.equal(pteAt(m.mem, mm, A), 0, "zero page unmapped by the write");
  assert.equal(word(m.mem, softAccess(m.mem, mm, A, ACCESS_READ)), 0x0a0b_0c0d);
  mmPut(m.mem, mm);
});

Deno.test("a private write fault on a DAX file copies from the device frame and leaves it untouched", () => {
  for (const readFirst of [false, true]) {
    const m = fileMachine();
    const ip = newFile(m, "cow");
    assert.equal(m.fs.daxWrite(ip, 0, pageOf(0x5555_aaaa)), P);
    const dev = blockPfn(m, ip, 0);
    const mm = mmAlloc(m.mem) as MmId;
    mapAt(m, mm, ip, A, P, RW, MAP_PRIVATE);
    if (readFirst) assert.equal(userLoad(m.mem, mm, A), 0xaa, "a read maps the device frame");
    const s0 = stats(m.mem);
    userStore(m.mem, mm, A + 4, 0x99);
    assert.equal(delta(s0, stats(m.mem)).cow, 1, `readFirst=${readFirst}`);
    const pfn = asPfn(pfnAt(m.mem, mm, A));
    assert.ok(!pfnIsDevice(m.mem, pfn) && testPageFlag(m.mem, pfn, PG_anon));
    assert.equal(word(m.mem, pfn * P), 0x5555_aaaa, "copied from the device");
    assert.equal(m.mem.u8[pfn * P + 4], 0x99);
    assert.equal(word(m.mem, dev * P + 4), 0x5555_aaaa, "source block untouched");
    mmPut(m.mem, mm);
  }
});

Deno.test("daxFault() returns SIGBUS past EOF, and after a truncate the old mapping faults SIGBUS", () => {
  const m = fileMachine();
  const ip = newFile(m, "eof");
  assert.equal(m.fs.daxWrite(ip, 0, new Uint8Array(2 * P).fill(3)), 2 * P);
  const mm = mmAlloc(m.mem) as MmId;
  mapAt(m, mm, ip, A, 4 * P, RW, MAP_SHARED);
  assert.equal(softAccess(m.mem, mm, A + 2 * P, ACCESS_READ), -VM_FAULT_SIGBUS);
  assert.equal(userLoad(m.mem, mm, A + P), 3);
  const freed0 = m.fs.blocksFreed();
  assert.equal(m.fs.truncate(ip, P), 0);
  assert.equal(pteAt(m.mem, mm, A + P), 0, "truncate unmapped the page");
  assert.equal(m.fs.blocksFreed() - freed0, 1);
  assert.equal(softAccess(m.mem, mm, A + P, ACCESS_READ), -VM_FAULT_SIGBUS);
  assert.equal(softAccess(m.mem, mm, A + P, ACCESS_WRITE), -VM_FAULT_SIGBUS);
  assert.equal(userLoad(m.mem, mm, A), 3, "the page below EOF stays");
  mmPut(m.mem, mm);
});

Deno.test("filemapFault() counts major then minor, dirties on a shared write, and COWs a private one", () => {
  const m = fileMachine({ dax: "never" });
  const ip = newFile(m, "pc");
  assert.equal(m.fs.isDax(ip), false);
  assert.equal(m.fs.daxWrite(ip, 0, pageOf(0x0102_0304)), P); // through the device, then cache it
  const mm1 = mmAlloc(m.mem) as MmId;
  const mm2 = mmAlloc(m.mem) as MmId;
  const mm3 = mmAlloc(m.mem) as MmId;
  mapAt(m, mm1, ip, A, P, RW, MAP_SHARED);
  mapAt(m, mm2, ip, A, P, RW, MAP_SHARED);
  mapAt(m, mm3, ip, A, P, RW, MAP_PRIVATE);
  let s0 = stats(m.mem);
  assert.equal(userLoad(m.mem, mm1, A), 4);
  assert.deepEqual(delta(s0, stats(m.mem)), {
    dax: 0,
    minor: 0,
    major: 1,
    cow: 0,
    anon: 0,
    zero: 0,
  });
  s0 = stats(m.mem);
  assert.equal(userLoad(m.mem, mm2, A), 4);
  assert.deepEqual(delta(s0, stats(m.mem)), {
    dax: 0,
    minor: 1,
    major: 0,
    cow: 0,
    anon: 0,
    zero: 0,
  });
  const page = asPfn(pfnAt(m.mem, mm1, A));
  assert.equal(pfnAt(m.mem, mm2, A), page, "one cached page, shared");
  assert.equal(pageMapcount(m.mem, page), 2);
  assert.equal(pageRefcount(m.mem, page), 3, "cache + two PTEs");
  userStore(m.mem, mm2, A + 1, 0xee); // read-only PTE → page_mkwrite
  assert.ok(testPageFlag(m.mem, page, PG_dirty));
  assert.equal(userLoad(m.mem, mm1, A + 1), 0xee, "same page");
  s0 = stats(m.mem);
  userStore(m.mem, mm3, A + 2, 0xdd);
  assert.equal(delta(s0, stats(m.mem)).cow, 1);
  assert.notEqual(pfnAt(m.mem, mm3, A), page);
  assert.equal(m.mem.u8[page * P + 2], 0x02, "the cached page is untouched by the private write");
  assert.equal(m.fs.fsync(ip), 0);
  const back = new Uint8Array(P);
  assert.equal(m.fs.dev.bioRead(m.fs.getBlock(ip, 0, false), back), P);
  assert.equal(back[1], 0xee, "the shared store reached the device");
  for (const mm of [mm1, mm2, mm3]) mmPut(m.mem, mm);
  assert.equal(pageMapcount(m.mem, page), 0);
});

Deno.test("VM_MIXEDMAP refcounting: device frames uncounted without a memmap, counted with one, all back to zero at exit", () => {
  for (const deviceMemmap of [false, true]) {
    const m = fileMachine({ deviceMemmap });
    const ip = newFile(m, "mix");
    assert.equal(m.fs.daxWrite(ip, 0, new Uint8Array(3 * P).fill(1)), 3 * P);
    const free0 = freeFrameCount(m.mem);
    const dev = [0, 1, 2].map((i) => blockPfn(m, ip, i));
    const mms = [mmAlloc(m.mem) as MmId, mmAlloc(m.mem) as MmId];
    for (const mm of mms) {
      mapAt(m, mm, ip, A, 3 * P, RW, MAP_SHARED);
      mapAt(m, mm, ip, A + 8 * P, 3 * P, RW, MAP_PRIVATE);
      for (let i = 0; i < 3; i++) {
        userLoad(m.mem, mm, A + i * P);
        userStore(m.mem, mm, A + i * P + 1, 2);
        userLoad(m.mem, mm, A + 8 * P + i * P);
      }
      userStore(m.mem, mm, A + 8 * P, 9); // one RAM COW page per mm in the mixed mapping
    }
    const tag = `deviceMemmap=${deviceMemmap}`;
    for (const pfn of dev) {
      const pte = pteAt(m.mem, mms[0]!, A + (pfn - dev[0]!) * P);
      assert.equal((pte & PTE_SPECIAL) !== 0, !deviceMemmap, tag);
      assert.equal(pfnValid(m.mem, pfn), deviceMemmap, tag);
      if (deviceMemmap) {
        const maps = pfn === dev[0] ? 2 + 0 : 4; // page 0 of the private map was COWed
        assert.equal(pageMapcount(m.mem, pfn), maps, `${tag} pfn ${pfn}`);
        assert.equal(pageRefcount(m.mem, pfn), maps, `${tag} pfn ${pfn}`);
      }
    }
    const cow = asPfn(pfnAt(m.mem, mms[0]!, A + 8 * P));
    assert.equal(pageRefcount(m.mem, cow), 1, `${tag}: the RAM COW page is counted`);
    assert.equal(pageMapcount(m.mem, cow), 1);
    assert.ok(freeFrameCount(m.mem) < free0);
    for (const mm of mms) mmPut(m.mem, mm);
    assert.equal(freeFrameCount(m.mem), free0, `${tag}: no RAM frame leaked`);
    if (deviceMemmap) {
      for (const pfn of dev) {
        assert.equal(pageRefcount(m.mem, pfn), 0, tag);
        assert.equal(pageMapcount(m.mem, pfn), 0, tag);
      }
    }
    assert.equal(m.fs.icount(ip), 1, `${tag}: the VMAs dropped their inode references`);
  }
});

Deno.test("munmap of a DAX mapping drops the i_mmap entries and a truncate then touches no process", () => {
  const m = fileMachine();
  const ip = newFile(m, "mu");
  assert.equal(m.fs.daxWrite(ip, 0, new Uint8Array(2 * P).fill(7)), 2 * P);
  const mm = mmAlloc(m.mem) as MmId;
  mapAt(m, mm, ip, A, 2 * P, RW, MAP_SHARED);
  assert.equal(m.fs.icount(ip), 2);
  userLoad(m.mem, mm, A);
  assert.equal(doMunmap(m.mem, mm, A, 2 * P), 0);
  assert.equal(m.fs.icount(ip), 1);
  assert.equal(m.fs.truncate(ip, 0), 0);
  mmPut(m.mem, mm);
});

Deno.test("findGetPage sees no page-cache page for a DAX file after faults", () => {
  const m = fileMachine();
  const ip = newFile(m, "nocache", P);
  const mm = mmAlloc(m.mem) as MmId;
  mapAt(m, mm, ip, A, P, RW, MAP_SHARED);
  userStore(m.mem, mm, A, 1);
  const pfn = findGetPage(m.mem, ip.slot, 0);
  if (pfn !== -1) putPage(m.mem, pfn);
  assert.equal(pfn, -1, "DAX never fills the page cache");
  mmPut(m.mem, mm);
});
