/**
 * MAP_SYNC (src/mm/mmap.ts flag rules, src/fs/dax_sync.ts): which mmap
 * flag combinations Linux accepts (MAP_SHARED_VALIDATE refuses what the
 * file does not support with EOPNOTSUPP; plain MAP_SHARED ignores MAP_SYNC
 * and unknown flags), and the promise itself: after a write fault on a
 * MAP_SYNC mapping returns, the metadata that reaches the page's block is
 * already in the host image, so a store made durable with a cache-line
 * write-back (persistLine, the hart's cbo.flush) is in the file after a
 * crash. A plain MAP_SHARED mapping is the negative control. 4 KiB pages
 * and megapages, both memmap modes.
 */

import assert from "node:assert/strict";
import { EIO, EOPNOTSUPP } from "../../src/abi/errno.ts";
import {
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_SYNC,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { ACCESS_WRITE } from "../../src/abi/sv32.ts";
import { asTaskSlot, asVirt, type MmId, PAGE_SIZE, type Pte } from "../../src/abi/types.ts";
import { persistLine } from "../../src/fs/dax_sync.ts";
import { mmapFile } from "../../src/fs/file_vm_ops.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { smapsBlock, snapshotVmas } from "../../src/fs/procfs/procfs_maps.ts";
import { bmapLookup } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { fileRead } from "../../src/fs/xipfs/xipfs_file.ts";
import { blockInUse, openVolume, type XipVol } from "../../src/fs/xipfs/xipfs_format.ts";
import { FS_XFLAG_EXTSIZE } from "../../src/fs/xipfs/xipfs_fsxattr.ts";
import type { InodeRef } from "../../src/fs/xipfs/xipfs_live.ts";
import { namei } from "../../src/fs/xipfs/xipfs_namei.ts";
import { handleMmFault } from "../../src/mm/fault.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { doMmap, vmaDump } from "../../src/mm/mmap.ts";
import { PGDIR_SIZE, physWords, pmdIsHuge, pmdWord } from "../../src/mm/pgtable.ts";
import { switchMm } from "../../src/mm/tlb_flush.ts";
import { copyToUser } from "../../src/mm/uaccess.ts";
import { VM_SYNC } from "../../src/mm/vma.ts";
import { assertInvariants } from "../_invariants.ts";
import { type FileMachine, fileMachine, newFile } from "./_mmfile.ts";

const BS = PAGE_SIZE;
const MB4 = PGDIR_SIZE;
const RW = PROT_READ | PROT_WRITE;
/** A flag bit no Linux version defines. */
const UNKNOWN_FLAG = 0x40_0000;

const mapFile = (m: FileMachine, mm: MmId, ip: InodeRef, len: number, flags: number): number =>
  doMmap(m.mem, mm, 0, len, RW, flags, mmapFile(m.fs, ip, true, true), 0);

const vmFlagsAt = (m: FileMachine, mm: MmId, va: number): number =>
  vmaDump(m.mem, mm).find(([s]) => s === va)![2];

Deno.test("mmap flags: MAP_SHARED_VALIDATE checks them, MAP_SHARED ignores MAP_SYNC and unknown ones", () => {
  for (const dax of ["always", "never"] as const) {
    const m = fileMachine({ dax });
    const ip = newFile(m, "f", 4 * BS);
    const mm = mmAlloc(m.mem) as MmId;
    const sync = mapFile(m, mm, ip, BS, MAP_SHARED_VALIDATE | MAP_SYNC);
    if (dax === "always") {
      assert.ok(sync > 0, `DAX accepts MAP_SYNC: ${sync}`);
      assert.ok((vmFlagsAt(m, mm, sync) & VM_SYNC) !== 0, "VM_SYNC");
      const smaps = snapshotVmas(m.mem, mm, true).map(smapsBlock).join("");
      assert.match(smaps, /VmFlags: .*\bsf\b/, "smaps shows sf");
    } else {
      assert.equal(sync, -EOPNOTSUPP, "the page cache cannot promise MAP_SYNC");
    }
    const plain = mapFile(m, mm, ip, BS, MAP_SHARED | MAP_SYNC);
    assert.ok(plain > 0, `plain MAP_SHARED ignores MAP_SYNC (${dax})`);
    assert.equal(vmFlagsAt(m, mm, plain) & VM_SYNC, 0);
    assert.ok(mapFile(m, mm, ip, BS, MAP_SHARED | UNKNOWN_FLAG) > 0, "unknown flag ignored");
    assert.equal(mapFile(m, mm, ip, BS, MAP_SHARED_VALIDATE | UNKNOWN_FLAG), -EOPNOTSUPP);
    assert.ok(mapFile(m, mm, ip, BS, MAP_SHARED_VALIDATE) > 0, "VALIDATE alone is MAP_SHARED");
    mmPut(m.mem, mm);
    m.fs.iput(ip);
    assertInvariants(m.mem, { fsck: true });
  }
});

/** The image file read back as a volume, and the inode of `name` in it. */
function onDisk(path: string, name: string): { vol: XipVol; ino: number; image: Uint8Array } {
  const image = Deno.readFileSync(path);
  const o = openVolume(image);
  if (!o.ok) throw new Error(o.error);
  return { vol: o.vol, ino: namei(o.vol, name), image };
}

/** A 64-byte record whose bytes name `i`. */
const record = (i: number): Uint8Array =>
  new Uint8Array(64).map((_, k) => (i * 31 + k) & 0xff || 1);

for (const memmap of [false, true]) {
  const tag = `memmap=${memmap ? "device" : "none"}`;

  Deno.test(`a MAP_SYNC write fault makes the block's metadata durable before it maps (${tag})`, () => {
    const path = Deno.makeTempFileSync({ prefix: "xip-mapsync-", suffix: ".img" });
    try {
      const m = fileMachine({ imagePath: path, deviceMemmap: memmap });
      const log = newFile(m, "log", 4 * BS); // a hole: the fault allocates
      const plain = newFile(m, "plain", 4 * BS);
      assert.equal(m.fs.fsync(log), 0, "a durable starting point");
      const mm = mmAlloc(m.mem) as MmId;
      switchMm(m.mem, asTaskSlot(1), mm);
      const va = mapFile(m, mm, log, 4 * BS, MAP_SHARED_VALIDATE | MAP_SYNC);
      const vp = mapFile(m, mm, plain, 4 * BS, MAP_SHARED);
      assert.ok(va > 0 && vp > 0);

      assert.equal(handleMmFault(m.mem, mm, asVirt(vp + BS), ACCESS_WRITE), 0);
      assert.ok(bmapLookup(m.fs.ctx.vol, plain.ino, 1) > 0, "the plain fault allocated");
      let d = onDisk(path, "/plain");
      assert.equal(bmapLookup(d.vol, d.ino as never, 1), 0, "control: not yet in the image");

      assert.equal(handleMmFault(m.mem, mm, asVirt(va + BS), ACCESS_WRITE), 0);
      const b = bmapLookup(m.fs.ctx.vol, log.ino, 1);
      assert.ok(b > 0);
      d = onDisk(path, "/log");
      assert.equal(bmapLookup(d.vol, d.ino as never, 1), b, "the image maps the new block");
      assert.ok(blockInUse(d.vol, b), "marked in use in the image's bitmap");
      assert.equal(fsck(d.image).status, 0, "the image is consistent at this point");

      // The store, then cbo.flush of its line: in the file on disk, no fsync.
      const rec = record(5);
      assert.equal(copyToUser(m.mem, mm, asVirt(va + BS + 64), rec), 0);
      const pa = (m.mem.layout.config.ramFrames + b) * BS + 64;
      assert.equal(persistLine(m.fs.ctx, pa + 13), 0, "any address in the line");
      d = onDisk(path, "/log");
      assert.deepEqual(fileRead(d.vol, d.ino as never, BS + 64, 64), rec);
      assert.equal(persistLine(m.fs.ctx, 5 * BS), 0, "a RAM line: nothing to persist");

      // A file renamed over the image is another file: cbo.flush never writes into it.
      const other = `${path}.other`;
      const otherBytes = new Uint8Array(Deno.statSync(path).size).fill(0x5a);
      Deno.writeFileSync(other, otherBytes);
      Deno.renameSync(other, path);
      assert.equal(persistLine(m.fs.ctx, pa), -EIO, "the path names another file now");
      assert.deepEqual(Deno.readFileSync(path), otherBytes, "and that file is untouched");

      switchMm(m.mem, asTaskSlot(1), 0);
      mmPut(m.mem, mm);
      m.fs.iput(log);
      m.fs.iput(plain);
      assertInvariants(m.mem, { fsck: true });
    } finally {
      Deno.removeSync(path);
    }
  });

  Deno.test(`a MAP_SYNC write fault on a megapage syncs first, then maps 4 MiB writable (${tag})`, () => {
    const path = Deno.makeTempFileSync({ prefix: "xip-mapsync-huge-", suffix: ".img" });
    try {
      const m = fileMachine({
        imagePath: path,
        deviceMemmap: memmap,
        sizeBytes: 24 << 20,
        ramFrames: 1024,
      });
      const ip = newFile(m, "big");
      assert.equal(m.fs.setFsxattr(ip, { xflags: FS_XFLAG_EXTSIZE, extsize: MB4 }), 0);
      const data = new Uint8Array(MB4).fill(0x5a);
      assert.equal(m.fs.daxWrite(ip, 0, data), MB4, "written, not yet durable");
      assert.equal(onDisk(path, "/big").ino < 0, true, "the file is not in the image yet");
      const mm = mmAlloc(m.mem) as MmId;
      switchMm(m.mem, asTaskSlot(1), mm);
      const va = mapFile(m, mm, ip, MB4, MAP_SHARED_VALIDATE | MAP_SYNC);
      assert.equal(va % MB4, 0);
      assert.equal(handleMmFault(m.mem, mm, asVirt(va + 7 * BS), ACCESS_WRITE), 0);
      const pmd = Atomics.load(physWords(m.mem), pmdWord(m.mem, mm, asVirt(va))) as Pte;
      assert.ok(pmdIsHuge(pmd), "one writable megapage");
      const d = onDisk(path, "/big");
      assert.ok(d.ino > 0, "the file reached the image");
      for (const i of [0, 1, 511, 1023]) {
        assert.equal(bmapLookup(d.vol, d.ino as never, i), bmapLookup(m.fs.ctx.vol, ip.ino, i));
      }
      assert.equal(fsck(d.image).status, 0);
      switchMm(m.mem, asTaskSlot(1), 0);
      mmPut(m.mem, mm);
      m.fs.iput(ip);
      assertInvariants(m.mem, { fsck: true });
    } finally {
      Deno.removeSync(path);
    }
  });
}
