import assert from "node:assert/strict";
import { EFAULT } from "../../src/abi/errno.ts";
import { VMSTAT } from "../../src/abi/layout/mod.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { asVirt, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { statRead } from "../../src/hw/memory.ts";
import { mmAlloc, mmPut, TASK_SIZE } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { copyFromUser, copyToUser, strncpyFromUser } from "../../src/mm/uaccess.ts";
import { boot, pfnAt, rng, userLoad, userStore } from "./_mm_helpers.ts";

const ANON = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
const RW = PROT_READ | PROT_WRITE;
const P = PAGE_SIZE;
const BASE = 0x2000_0000;

Deno.test("copyToUser() then copyFromUser() round-trips across pages, faulting them in", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  assert.equal(doMmap(mem, mm, BASE, 4 * P, RW, ANON), BASE);
  const seed = 1234;
  const r = rng(seed);
  const bytes = new Uint8Array(3 * P - 100).map(() => Math.floor(r() * 256));
  const va = asVirt(BASE + 50);
  assert.equal(copyToUser(mem, mm, va, bytes), 0);
  assert.equal(statRead(mem, VMSTAT.faultAnon), 3, "three pages faulted by the write");
  const back = copyFromUser(mem, mm, va, bytes.length);
  assert.ok(back instanceof Uint8Array);
  assert.deepEqual(back, bytes, `seed ${seed}`);
  assert.equal(userLoad(mem, mm, BASE + 50 + P), bytes[P]);
  // A read of untouched memory maps the zero page.
  const z = copyFromUser(mem, mm, asVirt(BASE + 3 * P + 8), 16);
  assert.deepEqual(z, new Uint8Array(16));
  assert.equal(statRead(mem, VMSTAT.faultZero), 1);
  mmPut(mem, mm);
});

Deno.test("copyFromUser()/copyToUser() return -EFAULT on bad addresses and permissions", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  assert.equal(doMmap(mem, mm, BASE, 2 * P, RW, ANON), BASE);
  assert.equal(doMmap(mem, mm, BASE + 4 * P, P, PROT_READ, ANON), BASE + 4 * P);
  assert.equal(doMmap(mem, mm, BASE + 6 * P, P, 0, ANON), BASE + 6 * P);
  const cases: [string, () => unknown][] = [
    ["read of unmapped", () => copyFromUser(mem, mm, asVirt(0x1000), 4)],
    ["read running off the end", () => copyFromUser(mem, mm, asVirt(BASE + 2 * P - 2), 4)],
    ["write to read-only", () => copyToUser(mem, mm, asVirt(BASE + 4 * P), new Uint8Array(1))],
    ["read of PROT_NONE", () => copyFromUser(mem, mm, asVirt(BASE + 6 * P), 1)],
    ["kernel address", () => copyFromUser(mem, mm, asVirt(TASK_SIZE), 1)],
    ["wrap", () => copyFromUser(mem, mm, asVirt(TASK_SIZE - 1), 2)],
  ];
  for (const [what, call] of cases) assert.equal(call(), -EFAULT, what);
  assert.deepEqual(copyFromUser(mem, mm, asVirt(BASE + 4 * P), 2), new Uint8Array(2));
  assert.deepEqual(copyFromUser(mem, mm, asVirt(0), 0), new Uint8Array(0), "nothing to copy");
  mmPut(mem, mm);
});

Deno.test("copyToUser() breaks COW of the zero page like a user store", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  assert.equal(doMmap(mem, mm, BASE, P, RW, ANON), BASE);
  assert.equal(userLoad(mem, mm, BASE), 0);
  const z = pfnAt(mem, mm, BASE);
  assert.equal(copyToUser(mem, mm, asVirt(BASE + 1), Uint8Array.of(7, 8)), 0);
  assert.notEqual(pfnAt(mem, mm, BASE), z);
  assert.equal(userLoad(mem, mm, BASE + 2), 8);
  assert.equal(mem.u8[z * P + 1], 0);
  mmPut(mem, mm);
});

Deno.test("strncpyFromUser() stops at NUL, reports no NUL, and faults on a bad page", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  assert.equal(doMmap(mem, mm, BASE, P, RW, ANON), BASE);
  const text = new TextEncoder().encode("hello");
  const at = BASE + P - 3; // string crosses into an unmapped page
  for (let i = 0; i < 3; i++) userStore(mem, mm, at + i, text[i]!);
  assert.equal(strncpyFromUser(mem, mm, asVirt(at), 16), -EFAULT);
  userStore(mem, mm, at + 2, 0);
  assert.deepEqual(strncpyFromUser(mem, mm, asVirt(at), 16), text.subarray(0, 2));
  for (let i = 0; i < 5; i++) userStore(mem, mm, BASE + i, text[i]!);
  assert.deepEqual(strncpyFromUser(mem, mm, asVirt(BASE), 3), text.subarray(0, 3), "no NUL in 3");
  assert.deepEqual(strncpyFromUser(mem, mm, asVirt(BASE), 64), text);
  mmPut(mem, mm);
});
