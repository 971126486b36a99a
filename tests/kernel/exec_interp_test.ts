/**
 * execve() of a program with PT_INTERP, as Linux's load_elf_binary does it:
 * the program and its interpreter (musl's ld.so) are both mapped from
 * their files, nothing is relocated in the kernel, the process starts at
 * the interpreter's entry, and the auxiliary vector tells the interpreter
 * where everything is. The Machine then really runs it, from DAX and
 * from the page cache, in both text modes.
 */
import assert from "node:assert/strict";
import {
  AT_BASE,
  AT_EGID,
  AT_ENTRY,
  AT_EUID,
  AT_EXECFN,
  AT_GID,
  AT_HWCAP,
  AT_PAGESZ,
  AT_PHDR,
  AT_PHENT,
  AT_PHNUM,
  AT_RANDOM,
  AT_SECURE,
  AT_UID,
  hwcapBit,
} from "../../src/abi/elf.ts";
import { asVirt } from "../../src/abi/types.ts";
import { PIE_BASE } from "../../src/kernel/exec.ts";
import { Machine } from "../../src/kernel/machine.ts";
import { copyFromUser } from "../../src/mm/uaccess.ts";
import { parseElf } from "../guest/_elf.ts";
import { runOnMachine } from "../guest/_musl.ts";
import { fixture, ok, ROOTFS, withExec } from "./_exec_env.ts";
import { makeGuestTree, within } from "./_guest_image.ts";

const LUA = fixture(ROOTFS, "bin/lua");
const LDSO = fixture(ROOTFS, "lib/ld-musl-riscv32.so.1");

Deno.test("execve() of a PT_INTERP program maps it and its interpreter and builds the auxv", () => {
  for (const textMode of ["copy", "map"] as const) {
    const random = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    const opts = { textMode, dax: true, deviceFrames: 512, random };
    withExec("/bin/lua", ["lua", "-v"], ["A=1"], opts, ({ mem, mm, res }) => {
      const r = ok(res);
      const aux = new Map(r.auxv);
      const prog = parseElf(LUA), ldso = parseElf(LDSO);
      assert.deepEqual(r.loaded.map((l) => l.path), ["/bin/lua", "/lib/ld-musl-riscv32.so.1"]);
      const interpBase = r.loaded[1]!.base;
      assert.ok(interpBase > PIE_BASE, "the interpreter lies above the program");
      assert.equal(r.entry, (interpBase + ldso.entry) >>> 0, "starts at the interpreter");
      assert.equal(aux.get(AT_BASE), interpBase);
      assert.equal(aux.get(AT_ENTRY), PIE_BASE + prog.entry, "the program's own entry");
      const phdr = prog.phdrs.find((p) => p.type === 6)!; // PT_PHDR
      assert.equal(aux.get(AT_PHDR), PIE_BASE + phdr.vaddr);
      assert.equal(aux.get(AT_PHENT), 32);
      assert.equal(aux.get(AT_PHNUM), prog.phdrs.length);
      assert.equal(aux.get(AT_PAGESZ), 4096);
      assert.equal(aux.get(AT_HWCAP), hwcapBit("i") | hwcapBit("m") | hwcapBit("a"));
      for (const k of [AT_UID, AT_EUID, AT_GID, AT_EGID, AT_SECURE]) assert.equal(aux.get(k), 0);
      const rnd = copyFromUser(mem, mm, asVirt(aux.get(AT_RANDOM)!), 16);
      assert.deepEqual(rnd, random, "AT_RANDOM points at the 16 bytes");
      const fn = copyFromUser(mem, mm, asVirt(aux.get(AT_EXECFN)!), 9);
      assert.equal(new TextDecoder().decode(fn as Uint8Array), "/bin/lua\0");
      assert.deepEqual(r.initCalls, [], "the interpreter runs the initializers, not the kernel");
      assert.equal(r.brkStart, r.loaded[0]!.end, "the heap starts after the program");
    });
  }
});

for (const dax of ["always", "never"] as const) {
  for (const textMode of ["map", "copy"] as const) {
    Deno.test(`the Machine runs the dynamic musl lua (dax=${dax}, text ${textMode})`, async () => {
      const tree = makeGuestTree();
      const m = await Machine.boot({
        from: tree,
        size: 16 << 20,
        dax,
        textMode,
        maxProcs: 2,
        log: () => {},
      });
      try {
        const r = await runOnMachine(m, "/bin/lua", [
          "lua",
          "-e",
          "print(1+1, _VERSION, arg[0], arg[1])",
        ]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, "2\tLua 5.4\tlua\t-e\n"); // no script: every argument is in arg
        const e = await runOnMachine(m, "/bin/lua", ["lua", "-e", "error('boom')"]);
        assert.equal(e.status, 1);
        assert.match(e.stderr, /^lua: \(command line\):1: boom\n/);
      } finally {
        await within(m.shutdown(), 30_000, "shutdown");
        Deno.removeSync(tree, { recursive: true });
      }
    });
  }
}
