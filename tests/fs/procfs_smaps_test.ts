/**
 * /proc/PID/smaps: Rss, Pss, shared/private clean/dirty and Anonymous from
 * the PTEs, DAX with and without a device memmap, COW copies, VmFlags.
 */

import assert from "node:assert/strict";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { ACCESS_READ, ACCESS_WRITE } from "../../src/abi/sv32.ts";
import { asVirt, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { mmAlloc, mmapWriteLock, mmapWriteUnlock, mmPut } from "../../src/mm/mm.ts";
import { findVma, setVmaFlags, VM_LOCKED, vmaFlags } from "../../src/mm/vma.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { softAccess } from "../mm/_mm_helpers.ts";
import {
  fileBytes,
  mapFile,
  type ProcEnv,
  procEnv,
  readProc,
  releaseMapped,
  writeFile,
} from "./_procfs_env.ts";

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
const FILE = 0x1000_0000;

/** One VMA's smaps block: its header line, the kB fields, VmFlags. */
interface Smap {
  header: string;
  kb: Map<string, number>;
  vmFlags: string;
}

/** Parse smaps, checking every line's format. */
function parseSmaps(text: string): Smap[] {
  const out: Smap[] = [];
  assert.ok(text.endsWith("\n"));
  for (const line of text.slice(0, -1).split("\n")) {
    if (/^[0-9a-f]{8}-[0-9a-f]{8} /.test(line)) {
      out.push({ header: line, kb: new Map(), vmFlags: "" });
      continue;
    }
    const cur = out[out.length - 1];
    assert.ok(cur, `line before any header: ${line}`);
    if (line.startsWith("VmFlags: ")) {
      assert.match(line, /^VmFlags: ([a-z]{2} )*$/);
      cur.vmFlags = line;
      continue;
    }
    if (line.startsWith("THPeligible:")) continue;
    const m = /^([A-Za-z_]+):( +)(\d+) kB$/.exec(line);
    assert.ok(m, `format: ${JSON.stringify(line)}`);
    assert.equal(line.length, 27, `value ends at column 24: ${JSON.stringify(line)}`);
    cur.kb.set(m[1]!, Number(m[3]));
  }
  return out;
}

/** The smaps block of pid's VMA starting at `start`. */
function smapOf(env: ProcEnv, pid: number, start: number): Smap {
  const text = readProc(env, `/proc/${pid}/smaps`);
  assert.equal(typeof text, "string");
  const hex = start.toString(16).padStart(8, "0");
  const s = parseSmaps(text as string).find((b) => b.header.startsWith(`${hex}-`));
  assert.ok(s, `no VMA at ${hex}`);
  return s;
}

/** The counters the tests look at, in kB. */
function counts(s: Smap): Record<string, number> {
  const names = [
    "Rss",
    "Pss",
    "Shared_Clean",
    "Shared_Dirty",
    "Private_Clean",
    "Private_Dirty",
    "Anonymous",
  ];
  return Object.fromEntries(names.map((n) => [n, s.kb.get(n)!]));
}

const kbs = (
  rss: number,
  pss: number,
  sc: number,
  sd: number,
  pc: number,
  pd: number,
  anon: number,
) => ({
  Rss: rss,
  Pss: pss,
  Shared_Clean: sc,
  Shared_Dirty: sd,
  Private_Clean: pc,
  Private_Dirty: pd,
  Anonymous: anon,
});

function touch(env: ProcEnv, mm: MmId, va: number, write: boolean): void {
  const r = softAccess(env.mem, mm, va, write ? ACCESS_WRITE : ACCESS_READ);
  if (r < 0) throw new Error(`fault ${-r} at 0x${va.toString(16)}`);
}

/** Pids 1..n, each with a fresh mm. */
function spawnMms(env: ProcEnv, n: number): MmId[] {
  const mms: MmId[] = [];
  for (let pid = 1; pid <= n; pid++) {
    const mm = mmAlloc(env.mem) as MmId;
    assert.ok(mm > 0);
    env.info.procs.set(pid, { mm });
    mms.push(mm);
  }
  return mms;
}

function teardown(env: ProcEnv, mms: MmId[]): void {
  for (const mm of mms) mmPut(env.mem, mm);
  releaseMapped(env);
}

Deno.test("smaps Rss counts exactly the faulted anonymous pages; the zero page is not counted", () => {
  const env = procEnv();
  const [mm] = spawnMms(env, 1) as [MmId];
  assert.equal(doMmap(env.mem, mm, 0x3000_0000, 8 * PAGE_SIZE, RW, ANON), 0x3000_0000);
  for (const i of [0, 2, 5]) touch(env, mm, 0x3000_0000 + i * PAGE_SIZE, true);
  touch(env, mm, 0x3000_0000 + 7 * PAGE_SIZE, false); // maps the zero page
  const s = smapOf(env, 1, 0x3000_0000);
  assert.deepEqual(counts(s), kbs(12, 12, 0, 0, 0, 12, 12));
  assert.equal(s.kb.get("Size"), 32);
  assert.equal(s.kb.get("KernelPageSize"), 4);
  assert.equal(s.kb.get("MMUPageSize"), 4);
  assert.equal(s.kb.get("Referenced"), 12);
  assert.equal(s.kb.get("Swap"), 0);
  assert.equal(s.kb.get("Locked"), 0);
  assert.equal(s.vmFlags, "VmFlags: rd wr mr mw me ");
  teardown(env, [mm]);
});

Deno.test("smaps Pss divides a page-cache page among its mappers; shared vs private by mapcount", () => {
  const env = procEnv({ dax: false });
  writeFile(env, "/data", fileBytes(4));
  const mms = spawnMms(env, 3);
  for (const mm of mms) mapFile(env, mm, "/data", FILE, 4 * PAGE_SIZE, RW, MAP_SHARED | MAP_FIXED);
  const [a, b, c] = mms as [MmId, MmId, MmId];
  // page 0: a, b; page 1: a, b, c; page 2: a only, written; page 3: nobody.
  for (const mm of [a, b]) touch(env, mm, FILE, false);
  for (const mm of [a, b, c]) touch(env, mm, FILE + PAGE_SIZE, false);
  touch(env, a, FILE + 2 * PAGE_SIZE, true);
  // Pss of a: 4/2 + floor-summed 4/3 + 4 = 7.33 kB, shown as 7 (Linux's PSS_SHIFT arithmetic).
  assert.deepEqual(counts(smapOf(env, 1, FILE)), kbs(12, 7, 8, 0, 0, 4, 0));
  assert.deepEqual(counts(smapOf(env, 2, FILE)), kbs(8, 3, 8, 0, 0, 0, 0));
  assert.deepEqual(counts(smapOf(env, 3, FILE)), kbs(4, 1, 4, 0, 0, 0, 0));
  // b writes page 0: the PTE's D bit makes it Shared_Dirty in b, PG_dirty (set by
  // the shared write fault) in a as well.
  touch(env, b, FILE, true);
  assert.deepEqual(counts(smapOf(env, 2, FILE)), kbs(8, 3, 4, 4, 0, 0, 0));
  assert.deepEqual(counts(smapOf(env, 1, FILE)), kbs(12, 7, 4, 4, 0, 4, 0));
  assert.equal(smapOf(env, 1, FILE).vmFlags, "VmFlags: rd wr sh mr mw me ms ");
  teardown(env, mms);
});

Deno.test("smaps of a DAX mapping without a device memmap shows no Rss and VmFlags mm", () => {
  const env = procEnv({ dax: true, deviceMemmap: false });
  writeFile(env, "/lib/libd.so", fileBytes(3));
  const mms = spawnMms(env, 2);
  for (const mm of mms) {
    mapFile(
      env,
      mm,
      "/lib/libd.so",
      FILE,
      3 * PAGE_SIZE,
      PROT_READ | PROT_EXEC,
      MAP_SHARED | MAP_FIXED,
    );
    touch(env, mm, FILE, false);
    touch(env, mm, FILE + PAGE_SIZE, false);
  }
  const s = smapOf(env, 1, FILE);
  assert.deepEqual(counts(s), kbs(0, 0, 0, 0, 0, 0, 0));
  assert.equal(s.kb.get("Size"), 12);
  assert.equal(s.vmFlags, "VmFlags: rd ex sh mr mw me ms mm ");
  assert.match(s.header, /^10000000-10003000 r-xs 00000000 01:00 \d+ +\/lib\/libd\.so$/);
  teardown(env, mms);
});

Deno.test("smaps of a DAX mapping with a device memmap counts the device pages, shared by mapcount", () => {
  const env = procEnv({ dax: true, deviceMemmap: true });
  writeFile(env, "/lib/libd.so", fileBytes(3));
  const mms = spawnMms(env, 2);
  for (const mm of mms) {
    mapFile(
      env,
      mm,
      "/lib/libd.so",
      FILE,
      3 * PAGE_SIZE,
      PROT_READ | PROT_EXEC,
      MAP_SHARED | MAP_FIXED,
    );
    touch(env, mm, FILE, false);
  }
  touch(env, mms[0]!, FILE + PAGE_SIZE, false);
  assert.deepEqual(counts(smapOf(env, 1, FILE)), kbs(8, 6, 4, 0, 4, 0, 0));
  assert.deepEqual(counts(smapOf(env, 2, FILE)), kbs(4, 2, 4, 0, 0, 0, 0));
  assert.equal(smapOf(env, 2, FILE).vmFlags, "VmFlags: rd ex sh mr mw me ms mm ");
  teardown(env, mms);
});

Deno.test("smaps shows COW copies of a private file mapping as Anonymous private dirty pages", () => {
  for (const dax of [true, false]) {
    const env = procEnv({ dax });
    writeFile(env, "/lib/libp.so", fileBytes(3));
    const [mm] = spawnMms(env, 1) as [MmId];
    mapFile(env, mm, "/lib/libp.so", FILE, 3 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_FIXED);
    touch(env, mm, FILE, false);
    touch(env, mm, FILE + PAGE_SIZE, false);
    touch(env, mm, FILE + PAGE_SIZE, true); // COW of a mapped page
    touch(env, mm, FILE + 2 * PAGE_SIZE, true); // COW fault on first touch
    // DAX without a memmap: the read-only page is a special PTE (no Rss); the page
    // cache's is a struct page mapped once (Private_Clean).
    const want = dax ? kbs(8, 8, 0, 0, 0, 8, 8) : kbs(12, 12, 0, 0, 4, 8, 8);
    assert.deepEqual(counts(smapOf(env, 1, FILE)), want, `dax=${dax}`);
    assert.equal(
      smapOf(env, 1, FILE).vmFlags,
      dax ? "VmFlags: rd wr mr mw me mm " : "VmFlags: rd wr mr mw me ",
    );
    teardown(env, [mm]);
  }
});

Deno.test("smaps VmFlags: gd for a stack, lo and Locked for a VM_LOCKED VMA", () => {
  const env = procEnv();
  const [mm] = spawnMms(env, 1) as [MmId];
  assert.equal(
    doMmap(env.mem, mm, 0x7ff0_0000, 2 * PAGE_SIZE, RW, ANON | MAP_GROWSDOWN),
    0x7ff0_0000,
  );
  assert.equal(doMmap(env.mem, mm, 0x5000_0000, 2 * PAGE_SIZE, RW, ANON), 0x5000_0000);
  // The mm layer accepts MAP_LOCKED without recording it, so set VM_LOCKED directly (mlock).
  mmapWriteLock(env.mem, mm);
  const v = findVma(env.mem, mm, asVirt(0x5000_0000));
  setVmaFlags(env.mem, v, vmaFlags(env.mem, v) | VM_LOCKED);
  mmapWriteUnlock(env.mem, mm);
  touch(env, mm, 0x5000_0000, true);
  const stack = smapOf(env, 1, 0x7ff0_0000);
  assert.equal(stack.vmFlags, "VmFlags: rd wr mr mw me gd ");
  assert.match(stack.header, / +\[stack\]$/);
  const locked = smapOf(env, 1, 0x5000_0000);
  assert.equal(locked.vmFlags, "VmFlags: rd wr mr mw me lo ");
  assert.equal(locked.kb.get("Locked"), 4);
  assert.equal(locked.kb.get("Rss"), 4);
  teardown(env, [mm]);
});
