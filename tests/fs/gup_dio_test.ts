import assert from "node:assert/strict";
import { EFAULT, EINVAL } from "../../src/abi/errno.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { asPfn, asTaskSlot, type MmId, PAGE_SIZE, type Pfn } from "../../src/abi/types.ts";
import { directIORead, directIOWrite } from "../../src/fs/direct_io.ts";
import { daxBlockPfn } from "../../src/fs/dax_fault.ts";
import { getUserPages, getUserPagesFast, unpinUserPages } from "../../src/mm/gup.ts";
import { pageRefcount } from "../../src/mm/memmap.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { switchMm } from "../../src/mm/tlb_flush.ts";
import { copyFromUser, copyToUser } from "../../src/mm/uaccess.ts";
import { pfnAt, userLoad } from "../mm/_mm_helpers.ts";
import { fileMachine, mapAt, newFile, pageOf } from "./_mmfile.ts";

const P = PAGE_SIZE;
const A = 0x4000_0000;
const B = 0x5000_0000;
const RW = PROT_READ | PROT_WRITE;
const anon = (mem: Parameters<typeof doMmap>[0], mm: MmId, at: number, len: number) =>
  assert.equal(doMmap(mem, mm, at, len, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), at);

for (
  const [name, gup] of [["getUserPages", getUserPages], [
    "getUserPagesFast",
    getUserPagesFast,
  ]] as const
) {
  Deno.test(`${name}() pins anonymous pages, faulting them in, and unpin restores the counts`, () => {
    const m = fileMachine();
    const mm = mmAlloc(m.mem) as MmId;
    switchMm(m.mem, asTaskSlot(1), mm);
    anon(m.mem, mm, B, 4 * P);
    assert.equal(copyToUser(m.mem, mm, B as never, new Uint8Array([1, 2, 3])), 0); // page 0 present
    const pins = gup(m.mem, mm, B, 4, true);
    assert.ok(Array.isArray(pins), `got ${pins}`);
    assert.equal(pins.length, 4);
    assert.equal(pins[0], pfnAt(m.mem, mm, B));
    for (const p of pins) assert.equal(pageRefcount(m.mem, p), 2, "mapping + pin");
    unpinUserPages(m.mem, pins);
    for (const p of pins) assert.equal(pageRefcount(m.mem, p), 1);
    assert.equal(gup(m.mem, mm, B + 1, 1, false), -EINVAL);
    assert.equal(gup(m.mem, mm, 0x6000_0000, 1, false), -EFAULT, "unmapped");
    switchMm(m.mem, asTaskSlot(1), 0);
    mmPut(m.mem, mm);
  });

  Deno.test(`${name}() fails with -EFAULT on a DAX mapping without a device memmap and pins it with one`, () => {
    for (const deviceMemmap of [false, true]) {
      const m = fileMachine({ deviceMemmap });
      const ip = newFile(m, "d");
      assert.equal(m.fs.daxWrite(ip, 0, pageOf(0x1234_5678)), P);
      const mm = mmAlloc(m.mem) as MmId;
      switchMm(m.mem, asTaskSlot(1), mm);
      mapAt(m, mm, ip, A, P, RW, MAP_SHARED);
      userLoad(m.mem, mm, A); // mapped: the fast path sees the PTE
      const r = gup(m.mem, mm, A, 1, false);
      if (!deviceMemmap) {
        assert.equal(r, -EFAULT, "pte_special: no struct page to pin (the seeds' shortcoming)");
      } else {
        assert.ok(Array.isArray(r));
        const dev = daxBlockPfn(m.fs.ctx, m.fs.getBlock(ip, 0, false)) as Pfn;
        assert.deepEqual(r, [dev]);
        assert.equal(pageRefcount(m.mem, dev), 2, "one mapping + one pin");
        unpinUserPages(m.mem, r);
        assert.equal(pageRefcount(m.mem, dev), 1);
      }
      switchMm(m.mem, asTaskSlot(1), 0);
      mmPut(m.mem, mm);
    }
  });
}

Deno.test("getUserPages() for writing breaks COW of a private file page before pinning", () => {
  const m = fileMachine();
  const ip = newFile(m, "c");
  assert.equal(m.fs.daxWrite(ip, 0, pageOf(0x0707_0707)), P);
  const mm = mmAlloc(m.mem) as MmId;
  mapAt(m, mm, ip, A, P, RW, MAP_PRIVATE);
  userLoad(m.mem, mm, A);
  const pins = getUserPages(m.mem, mm, A, 1, true);
  assert.ok(Array.isArray(pins));
  const pfn = pins[0]!;
  assert.equal(pfnAt(m.mem, mm, A), pfn);
  assert.ok(pfn < m.mem.layout.config.ramFrames, "a RAM copy, not the device frame");
  assert.equal(m.mem.u8[pfn * P], 7);
  unpinUserPages(m.mem, pins);
  mmPut(m.mem, mm);
});

Deno.test("directIORead/Write() move data between a file and an anonymous buffer in both modes", () => {
  for (const dax of ["always", "never"] as const) {
    const m = fileMachine({ dax });
    const ip = newFile(m, "dio");
    const mm = mmAlloc(m.mem) as MmId;
    switchMm(m.mem, asTaskSlot(1), mm);
    anon(m.mem, mm, B, 2 * P);
    const data = new Uint8Array(2 * P).map((_, i) => (i * 7 + 3) & 0xff);
    assert.equal(copyToUser(m.mem, mm, B as never, data), 0);
    assert.equal(directIOWrite(m.fs, mm, ip, P, B, 2 * P), 2 * P, dax);
    assert.equal(m.fs.size(ip), 3 * P);
    const back = new Uint8Array(2 * P);
    assert.equal(m.fs.daxRead(ip, P, back), 2 * P);
    assert.deepEqual(back, data, `${dax}: the device holds the written bytes`);
    anon(m.mem, mm, B + 4 * P, 4 * P);
    assert.equal(directIORead(m.fs, mm, ip, 0, B + 4 * P, 4 * P), 3 * P, "stops at EOF");
    const got = copyFromUser(m.mem, mm, (B + 4 * P) as never, 3 * P);
    assert.ok(got instanceof Uint8Array);
    assert.deepEqual(got.subarray(0, P), new Uint8Array(P), "the hole reads as zeros");
    assert.deepEqual(got.subarray(P), data);
    assert.equal(directIORead(m.fs, mm, ip, 1, B, P), -EINVAL);
    switchMm(m.mem, asTaskSlot(1), 0);
    mmPut(m.mem, mm);
  }
});

Deno.test("O_DIRECT into a buffer that is itself a DAX mapping: -EFAULT without a device memmap, works with one", () => {
  for (const deviceMemmap of [false, true]) {
    const m = fileMachine({ deviceMemmap });
    const src = newFile(m, "src");
    const buf = newFile(m, "buf");
    assert.equal(m.fs.daxWrite(src, 0, pageOf(0xfeed_beef)), P);
    assert.equal(m.fs.daxWrite(buf, 0, pageOf(0x0000_0001)), P);
    const mm = mmAlloc(m.mem) as MmId;
    switchMm(m.mem, asTaskSlot(1), mm);
    mapAt(m, mm, buf, A, P, RW, MAP_SHARED);
    const r = directIORead(m.fs, mm, src, 0, A, P);
    const w = directIOWrite(m.fs, mm, src, P, A, P);
    if (!deviceMemmap) {
      assert.equal(r, -EFAULT);
      assert.equal(w, -EFAULT);
      assert.equal(m.fs.size(src), P, "nothing written");
    } else {
      assert.equal(r, P);
      assert.equal(userLoad(m.mem, mm, A), 0xef, "the DAX buffer received the file's bytes");
      const inBuf = new Uint8Array(4);
      assert.equal(m.fs.daxRead(buf, 0, inBuf), 4);
      assert.deepEqual([...inBuf], [0xef, 0xbe, 0xed, 0xfe], "straight into buf's device block");
      assert.equal(w, P);
      const dev = daxBlockPfn(m.fs.ctx, m.fs.getBlock(buf, 0, false)) as Pfn;
      assert.equal(pageRefcount(m.mem, asPfn(dev)), 1, "pins dropped");
    }
    switchMm(m.mem, asTaskSlot(1), 0);
    mmPut(m.mem, mm);
  }
});
