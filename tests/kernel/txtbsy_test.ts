/**
 * deny_write_access (src/fs/write_access.ts): while a process runs a
 * program in place, opening the program or a library exec mapped for
 * writing is ETXTBSY, and a program open for writing cannot be exec'd;
 * both ends balance, so after the run the file opens for writing again.
 */

import assert from "node:assert/strict";
import { Machine } from "../../src/kernel/machine.ts";
import { SIGKILL } from "../../src/kernel/signal.ts";
import { makeGuestTree, within } from "./_guest_image.ts";

const tree = makeGuestTree();
Deno.test.afterAll(() => Deno.removeSync(tree, { recursive: true }));
const dec = new TextDecoder();

async function out(m: Machine, argv: string[]): Promise<{ code: number; text: string }> {
  const parts: Uint8Array[] = [];
  const p = m.spawn(argv[0]!, argv, { stdout: (d) => parts.push(d), stderr: (d) => parts.push(d) });
  const s = await within(p.wait(), 60_000, argv.join(" "));
  return { code: s.code, text: parts.map((b) => dec.decode(b)).join("") + (s.message ?? "") };
}

for (const dax of ["always", "never"] as const) {
  Deno.test(`a running program and the libraries exec mapped cannot be opened for writing (ETXTBSY), dax=${dax}`, async () => {
    const m = await Machine.boot({ from: tree, size: 16 << 20, ram: 32 << 20, dax, warm: 2 });
    try {
      // Before: the program opens for writing.
      assert.equal(
        (await out(m, ["/bin/poke", "/bin/compute"])).text,
        "poke: /bin/compute: opened\n",
      );
      const runner = m.spawn("/bin/compute", ["compute", "40"], { stdout: () => {} });
      await new Promise((r) => setTimeout(r, 200)); // it has exec'd and runs
      // (libc.so is mapped by poke itself, so it says nothing here; libcompute.so
      // is a DT_NEEDED library only compute's exec mapped.)
      for (const path of ["/bin/compute", "/lib/libcompute.so"]) {
        const r = await out(m, ["/bin/poke", path]);
        assert.equal(r.text, `poke: ${path}: errno 26\n`, `${path} while compute runs`);
        assert.equal(r.code, 1);
      }
      // A file no exec mapped is not affected.
      assert.equal((await out(m, ["/bin/poke", "/etc/motd"])).code, 0);
      assert.equal(
        (await within(runner.wait(), 120_000, "compute")).code,
        0,
        "the runner was not disturbed",
      );
      // After: the denials are gone with the mappings.
      assert.equal((await out(m, ["/bin/poke", "/bin/compute"])).code, 0);
      assert.equal((await out(m, ["/bin/poke", "/lib/libcompute.so"])).code, 0);
    } finally {
      await m.shutdown();
    }
  });
}

Deno.test("a running musl program and its interpreter (PT_INTERP) cannot be opened for writing (ETXTBSY); what ld.so maps can", async () => {
  const m = await Machine.boot({ from: tree, size: 16 << 20, ram: 32 << 20, warm: 2 });
  try {
    const interp = "/lib/ld-musl-riscv32.so.1";
    assert.equal((await out(m, ["/bin/poke", interp])).code, 0, "before: it opens for writing");
    // A Lua loop long enough to outlast the checks; it is killed after them.
    const lua = m.spawn("/bin/lua", ["lua", "-e", "local x = 0 for i = 1, 2e9 do x = x + i end"], {
      stdout: () => {},
    });
    await new Promise((r) => setTimeout(r, 300)); // exec mapped the interpreter and liblua
    for (const path of [interp, "/bin/lua"]) {
      const r = await out(m, ["/bin/poke", path]);
      assert.equal(r.text, `poke: ${path}: errno 26\n`, `${path} while lua runs`);
    }
    // liblua.so is mapped by musl's ld.so with mmap, in user space: as on
    // Linux (MAP_DENYWRITE is ignored), that does not deny writers.
    assert.equal((await out(m, ["/bin/poke", "/lib/liblua.so"])).code, 0, "liblua.so opens");
    assert.ok(m.kill(lua.pid, SIGKILL));
    await within(lua.wait(), 60_000, "lua killed");
    assert.equal((await out(m, ["/bin/poke", interp])).code, 0, "after: the denial is gone");
  } finally {
    await m.shutdown();
  }
});

Deno.test("exec of a program that is open for writing fails with ETXTBSY (126); it runs once closed", async () => {
  const m = await Machine.boot({ from: tree, size: 16 << 20, ram: 32 << 20, warm: 2 });
  try {
    const held: Uint8Array[] = [];
    const holder = m.spawn("/bin/poke", ["poke", "/bin/hello", "hold"], {
      stdout: (d) => held.push(d),
    });
    for (let i = 0; dec.decode(held[0] ?? new Uint8Array()) === "" && i < 600; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(dec.decode(held[0]!), "poke: /bin/hello: opened\n");
    const r = await out(m, ["/bin/hello"]);
    assert.equal(r.code, 126);
    assert.match(r.text, /text file busy/);
    assert.ok(m.kill(holder.pid, SIGKILL));
    await within(holder.wait(), 30_000, "holder");
    assert.equal((await out(m, ["/bin/hello"])).code, 0);
  } finally {
    await m.shutdown();
  }
});
