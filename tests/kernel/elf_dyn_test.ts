/**
 * The dynamic-section reader and symbol lookup: the two hash functions on
 * published values, lookups through DT_HASH alone and DT_GNU_HASH alone on
 * every exported symbol of the real libc.so, and readDynamic's view of
 * libcompute.so.
 */

import assert from "node:assert/strict";
import { readElf } from "../../src/kernel/binfmt_elf.ts";
import { elfHash, gnuHash, lookupInTable, readDynamic, symAt } from "../../src/kernel/elf_dyn.ts";
import { type ExecFile } from "../../src/kernel/exec.ts";
import { parseElf } from "../guest/_elf.ts";
import { dynEntryOff, patched } from "./_elf_mut.ts";
import { fixture, ROOTFS } from "./_exec_env.ts";

const enc = new TextEncoder();
const LIBC = fixture(ROOTFS, "lib/libc.so");
const LIBCOMPUTE = fixture(ROOTFS, "lib/libcompute.so");
const DT_HASH = 4, DT_GNU_HASH = 0x6ffffef5, DT_DEBUG = 21;

/** An ExecFile over bytes (no mmap). */
function memFile(bytes: Uint8Array): ExecFile {
  return {
    size: bytes.length,
    pread: (pos, dst) => {
      const n = Math.max(0, Math.min(dst.length, bytes.length - pos));
      dst.set(bytes.subarray(pos, pos + n));
      return n;
    },
    mmap: () => -19,
    close: () => {},
  };
}

/** Hide one hash table by turning its tag into DT_DEBUG, which the loader ignores. */
const withoutTag = (b: Uint8Array, tag: number): Uint8Array =>
  patched(b, (c, dv) => dv.setUint32(dynEntryOff(c, tag), DT_DEBUG, true));

Deno.test("elfHash() and gnuHash() give the published values", () => {
  assert.equal(elfHash(enc.encode("printf")), 0x077905a6);
  assert.equal(gnuHash(enc.encode("printf")), 0x156b2bb8);
  assert.equal(gnuHash(enc.encode("")), 5381);
  assert.equal(elfHash(enc.encode("")), 0);
});

for (
  const [label, bytes] of [
    ["both tables", LIBC],
    ["DT_HASH only", withoutTag(LIBC, DT_GNU_HASH)],
    ["DT_GNU_HASH only", withoutTag(LIBC, DT_HASH)],
  ] as const
) {
  Deno.test(`lookupInTable() finds every libc.so export and nothing else (${label})`, () => {
    const f = memFile(bytes);
    const img = readElf(f, "libc.so");
    const dyn = readDynamic(f, img);
    const exported = parseElf(LIBC).dynsyms.filter((s) => s.shndx !== 0 && s.bind !== 0);
    assert.ok(exported.length > 100, `${exported.length} exports`);
    assert.equal(dyn.symtab.nsyms, parseElf(LIBC).dynsyms.length);
    for (const s of exported) {
      const idx = lookupInTable(dyn.symtab, s.name);
      assert.ok(idx > 0, `${s.name} not found`);
      assert.equal(symAt(dyn.symtab, idx).value, s.value, s.name);
    }
    for (const missing of ["", "printf_", "Printf", "crc32_update", "memcpyy", "x"]) {
      assert.equal(lookupInTable(dyn.symtab, missing), -1, missing);
    }
  });
}

Deno.test("readDynamic() reads libcompute.so's needed list, soname, flags and init array", () => {
  const f = memFile(LIBCOMPUTE);
  const dyn = readDynamic(f, readElf(f, "libcompute.so"));
  assert.deepEqual(dyn.needed, ["libc.so"]);
  assert.equal(dyn.soname, "libcompute.so");
  assert.equal(dyn.symbolic, true, "DF_SYMBOLIC");
  assert.deepEqual(dyn.initArray, { vaddr: 0x27f0, size: 4 });
  assert.equal(dyn.finiArray, null);
  assert.deepEqual(dyn.relaTables.map((t) => [t.what, t.bytes.length]), [
    ["DT_RELA", 12],
    ["DT_JMPREL", 24],
  ]);
});

Deno.test("readDynamic() of a static program is empty", () => {
  const f = memFile(fixture(new URL("../../fixtures/static/", import.meta.url), "hello"));
  const dyn = readDynamic(f, readElf(f, "hello"));
  assert.deepEqual(dyn.needed, []);
  assert.equal(dyn.symtab.nsyms, 0);
  assert.equal(lookupInTable(dyn.symtab, "main"), -1);
});
