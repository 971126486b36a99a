/**
 * Isolation and permissions through hostile guests (guest/bin/hostile.c),
 * several at once on one Machine, with DAX and through the page cache:
 * - rofile: a read-only fd cannot become a writable shared mapping, by mmap
 *   or by mprotect (VM_MAYWRITE is not there), while private maps may write;
 * - wild: wild pointers, huge lengths and bad offsets get EFAULT/EINVAL/...
 *   and never hurt the kernel, the file or a read-only page;
 * - isolate: processes storing different patterns at the same virtual
 *   addresses (anonymous map, MAP_PRIVATE map of one shared file, brk heap)
 *   each keep their own, and the shared file stays zeros;
 * - segv: a store to a PROT_READ page (anonymous, or a MAP_SHARED file
 *   page of an fd open for writing) kills only that process, by SIGSEGV,
 *   and the file does not change.
 * Every run ends with the invariants and fsck clean.
 */

import assert from "node:assert/strict";
import { readGuestFile } from "./_fsx_log.ts";
import { makeTree, run, type RunResult, withMachine } from "./_machine.ts";

const tree = makeTree();
Deno.test.afterAll(() => Deno.removeSync(tree, { recursive: true }));

/** The PASS lines of a run; fails on any other line. */
function passes(r: RunResult, what: string): string[] {
  const lines = r.stdout.trimEnd().split("\n");
  for (const l of lines) assert.match(l, /^PASS /, `${what}: ${l}`);
  return lines.map((l) => l.slice(5));
}

/** Bytes i & 0xff: what hostile's makeFile writes. */
const SEQ_PAGE = Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff);

for (const dax of ["always", "never"] as const) {
  Deno.test(`hostile rofile and wild (2 of each at once, dax=${dax}) get Linux's refusals`, async () => {
    await withMachine(tree, { dax, maxProcs: 4, warm: 4 }, async (m) => {
      const rs = await Promise.all([
        run(m, "/bin/hostile", ["hostile", "rofile", "/ro0"]),
        run(m, "/bin/hostile", ["hostile", "rofile", "/ro1"]),
        run(m, "/bin/hostile", ["hostile", "wild", "/w0"]),
        run(m, "/bin/hostile", ["hostile", "wild", "/w1"]),
      ]);
      for (const [i, r] of rs.entries()) {
        const what = i < 2 ? `rofile ${i}` : `wild ${i - 2}`;
        assert.deepEqual([r.code, r.signal], [0, 0], `${what}: ${r.stdout}${r.message ?? ""}`);
        const names = passes(r, what);
        if (i < 2) {
          assert.equal(names.length, 12, `${what}: ${names}`);
          assert.ok(names.includes(
            "rofile: mmap(PROT_READ|PROT_WRITE, MAP_SHARED) of an O_RDONLY fd is EACCES",
          ));
          assert.ok(names.includes(
            "rofile: mprotect(PROT_READ|PROT_WRITE) of that shared map is EACCES",
          ));
          assert.ok(names.includes("rofile: the file never changed"));
        } else {
          assert.equal(names.length, 33, `${what}: ${names}`);
          assert.ok(names.includes("wild: read into the program's text"));
          assert.ok(names.includes("wild: getdents64 of length 0xfffffff0"));
          assert.ok(names.includes("wild: the file never changed"));
        }
      }
      for (const f of ["/ro0", "/ro1", "/w0", "/w1"]) {
        assert.deepEqual(readGuestFile(m, f), SEQ_PAGE, `${f} unchanged`);
      }
      assert.equal(m.stats().panics, 0);
      assert.deepEqual(m.checkInvariants({ fsck: true }), [], "invariants and fsck");
    });
  });

  Deno.test(`6 hostile isolate processes keep their private pages while 2 segv ones die (dax=${dax})`, async () => {
    const N = 6;
    await withMachine(tree, { dax, maxProcs: N + 2, warm: N + 2 }, async (m) => {
      const iso = Array.from(
        { length: N },
        () => run(m, "/bin/hostile", ["hostile", "isolate", "/shared", "40"]),
      );
      const segAnon = run(m, "/bin/hostile", ["hostile", "segv", "anon"]);
      const segFile = run(m, "/bin/hostile", ["hostile", "segv", "file", "/ro"]);
      for (const [what, p] of [["anon", segAnon], ["file", segFile]] as const) {
        const r = await p;
        assert.deepEqual([r.code, r.signal], [139, 11], `segv ${what}: ${r.stdout}`);
        assert.equal(r.stdout, `hostile: storing to a PROT_READ ${what} page\n`);
      }
      for (const [i, p] of iso.entries()) {
        const r = await p;
        assert.deepEqual([r.code, r.signal], [0, 0], `isolate ${i}: ${r.stdout}${r.message ?? ""}`);
        assert.deepEqual(passes(r, `isolate ${i}`), [
          "isolate: anonymous map kept this process's pattern",
          "isolate: private file map kept this process's pattern",
          "isolate: brk heap kept this process's pattern",
          "isolate: the shared file is unchanged",
        ]);
      }
      assert.deepEqual(
        readGuestFile(m, "/ro"),
        SEQ_PAGE,
        "the PROT_READ store never reached the file",
      );
      assert.deepEqual(
        readGuestFile(m, "/shared"),
        new Uint8Array(8192),
        "private stores stayed private",
      );
      assert.deepEqual(m.stats().exit.toSorted((a, b) => a - b), [...Array(N).fill(0), 139, 139]);
      assert.deepEqual(m.checkInvariants({ fsck: true }), [], "invariants and fsck");
    });
  });
}
