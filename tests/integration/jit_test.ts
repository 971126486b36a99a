/**
 * Tier 1 in a whole machine (Machine.boot({ jit: "eager" }), the debug check
 * on): the text of a file rewritten by a write() runs as the new code when
 * the program is executed again; a block freed by truncate while a process
 * runs it translated and then given to another file's code runs that code;
 * kill and terminate stop a process inside translated code; and N processes
 * of one program share its translations instead of making N.
 */

import assert from "node:assert/strict";
import * as asm from "../hw/_asm.ts";
import { O_CREAT, O_RDWR, O_WRONLY } from "../../src/abi/fcntl.ts";
import { freeBlockCount } from "../../src/fs/xipfs/balloc.ts";
import { ETXTBSY } from "../../src/abi/errno.ts";
import { asIno } from "../../src/abi/types.ts";
import { vfsProcCreate, vfsProcExit, vfsPwrite, vfsTruncateInode } from "../../src/fs/vfs.ts";
import { vfsOpen, vfsStat } from "../../src/fs/vfs_path.ts";
import { Machine } from "../../src/kernel/machine.ts";
import { makeGuestTree, tinyElf, until, within } from "../kernel/_guest_image.ts";
import { assertInvariants } from "../_invariants.ts";

const WAIT_MS = 60_000;

/** exit(code), padded to `words` instructions so that programs of one length can replace each other. */
function exitWith(code: number, words = 8): Uint8Array {
  const p = new asm.Program();
  p.emit(asm.addi(asm.A0, asm.ZERO, code), asm.addi(asm.A7, asm.ZERO, 93), asm.ecall());
  while (p.words.length < words) p.emit(asm.addi(asm.ZERO, asm.ZERO, 0));
  return tinyElf(p.assemble());
}

/** Write `bytes` at 0 of `path` (created if missing), on the main thread through the VFS write path. */
function writeFile(m: Machine, path: string, bytes: Uint8Array): void {
  const proc = vfsProcCreate(m.fs.vfs);
  if (typeof proc === "number") throw new Error(`vfsProcCreate: ${proc}`);
  try {
    const fd = vfsOpen(proc, path, O_WRONLY | O_CREAT);
    assert.ok(fd >= 0, `open ${path}: ${fd}`);
    assert.equal(vfsPwrite(proc, fd, bytes, 0), bytes.length);
  } finally {
    vfsProcExit(m.fs.vfs, proc.fdt);
  }
}

/** Run `path` to its exit; its status. */
async function status(m: Machine, path: string): Promise<number> {
  const p = m.spawn(path, [path]);
  return (await within(p.wait(), WAIT_MS, path)).code;
}

async function withMachine(
  dax: "always" | "never",
  fn: (m: Machine, tree: string) => Promise<void>,
  opts: { maxProcs?: number; warm?: number; size?: number } = {},
): Promise<void> {
  const tree = makeGuestTree();
  Deno.writeFileSync(`${tree}/t/exit11`, exitWith(11));
  const m = await Machine.boot({
    from: tree,
    size: opts.size ?? 16 * 1024 * 1024,
    dax,
    jit: "eager",
    jitCheck: true,
    maxProcs: opts.maxProcs ?? 4,
    warm: opts.warm ?? 1,
    stdout: () => {},
    stderr: () => {},
  });
  try {
    await fn(m, tree);
    assertInvariants(m, { fsck: true }, `jit, dax=${dax}`);
  } finally {
    await within(m.shutdown(), WAIT_MS, "shutdown");
    Deno.removeSync(tree, { recursive: true });
  }
}

for (const dax of ["always", "never"] as const) {
  Deno.test(`exec after another writer rewrote the program's text runs the new code (jit eager, dax=${dax})`, async () => {
    await withMachine(dax, async (m) => {
      assert.equal(await status(m, "/t/exit11"), 11);
      const made = m.mem.jit!.counters().translations;
      assert.ok(made >= 1, "the program ran translated");
      // Unchanged text: the pooled Worker runs it again from its translation.
      assert.equal(await status(m, "/t/exit11"), 11);
      assert.equal(m.mem.jit!.counters().translations, made, "nothing was translated again");
      // The write path (daxWrite in place, or the page-cache page) bumps the frame's generation.
      writeFile(m, "/t/exit11", exitWith(22));
      assert.equal(await status(m, "/t/exit11"), 22);
      assert.ok(m.mem.jit!.counters().invalidations >= 1, "the write killed the translation");
    });
  });
}

Deno.test("a block truncated while a process runs it translated, then given to another file's code, runs that code", async () => {
  await withMachine("always", async (m, tree) => {
    void tree;
    const c = m.fs.xip.ctx;
    const proc = vfsProcCreate(m.fs.vfs);
    if (typeof proc === "number") throw new Error(`vfsProcCreate: ${proc}`);
    try {
      // Fill the device, so the block truncate frees is the only one free.
      const fill = vfsOpen(proc, "/filler", O_RDWR | O_CREAT);
      assert.ok(fill >= 0);
      const zeros = new Uint8Array(4096);
      for (let pos = 0; vfsPwrite(proc, fill, zeros, pos) === 4096; pos += 4096);
      assert.equal(freeBlockCount(c), 0);
      const spinner = m.spawn("/t/spin", ["/t/spin"]);
      await until(() => m.mem.jit!.counters().translations >= 1, WAIT_MS, "spin translated");
      await new Promise((r) => setTimeout(r, 20)); // let it loop in translated code
      // A running program cannot be opened for writing (ETXTBSY, as Linux's
      // deny_write_access), so the kernel truncates the inode itself: that
      // unmaps /t/spin from the spinning process (a shootdown it acknowledges
      // at a poll of translated code), then frees the block.
      assert.equal(vfsOpen(proc, "/t/spin", O_WRONLY), -ETXTBSY);
      const ino = vfsStat(proc, "/t/spin");
      assert.ok(typeof ino !== "number");
      const ip = m.fs.vfs.iget(asIno(ino.ino));
      assert.ok(typeof ip !== "number");
      try {
        assert.equal(vfsTruncateInode(m.fs.vfs, ip, 0), 0);
      } finally {
        m.fs.vfs.iput(ip);
      }
      assert.equal(freeBlockCount(c), 1);
      const died = await within(spinner.wait(), WAIT_MS, "spinner");
      assert.equal(died.code, 128 + 7, `SIGBUS at its next fetch: ${died.message}`);
      // The freed block becomes /t/exit33's text.
      writeFile(m, "/t/exit33", exitWith(33, 1));
      assert.equal(freeBlockCount(c), 0, "the new file took the freed block");
      assert.equal(await status(m, "/t/exit33"), 33);
    } finally {
      vfsProcExit(m.fs.vfs, proc.fdt);
    }
  }, { size: 4 * 1024 * 1024 });
});

for (const how of ["kill", "terminate"] as const) {
  Deno.test(`${how}() stops a process spinning in translated code`, async () => {
    await withMachine("always", async (m) => {
      const p = m.spawn("/t/spin", ["/t/spin"]);
      await until(() => m.mem.jit!.counters().translations >= 1, WAIT_MS, "spin translated");
      await new Promise((r) => setTimeout(r, 20));
      const t0 = performance.now();
      assert.ok(how === "kill" ? m.kill(p.pid, 9) : m.terminate(p.pid));
      const s = await within(p.wait(), WAIT_MS, "the killed process");
      assert.equal(s.code, 128 + 9);
      assert.ok(performance.now() - t0 < WAIT_MS);
    });
  });
}

Deno.test("processes of one program share its translations: the first Worker translates, the others install", async () => {
  await withMachine("always", async (m) => {
    assert.equal(await status(m, "/bin/compute"), 0);
    const one = m.mem.jit!.counters();
    const ps = Array.from({ length: 4 }, () => m.spawn("/bin/compute", ["/bin/compute"]));
    for (const p of ps) assert.equal((await within(p.wait(), WAIT_MS, "compute")).code, 0);
    const all = m.mem.jit!.counters();
    const st = m.stats().jit;
    assert.equal(st.translations, all.translations, "stats() reports the translator's counters");
    assert.equal(st.shared_installs, all.sharedInstalls);
    // Every frame was translated once already: the other Workers take the published products.
    assert.ok(all.sharedInstalls >= 1, `shared installs: ${JSON.stringify(all)}`);
    assert.ok(
      all.translations - one.translations < one.translations,
      `4 more processes made ${
        all.translations - one.translations
      } translations; one made ${one.translations}`,
    );
  }, { maxProcs: 5, warm: 5 });
});
