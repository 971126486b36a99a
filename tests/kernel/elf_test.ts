/**
 * execve() refuses malformed and unsupported files with the documented
 * errno and a one-line reason naming the file (and the library or symbol),
 * leaving no frame, VMA slot or open file behind. Table-driven over mutated
 * copies of the real fixtures, plus a seeded never-throws fuzz.
 */

import assert from "node:assert/strict";
import { E2BIG, ELIBBAD, ENOENT, ENOEXEC } from "../../src/abi/errno.ts";
import { isExecError } from "../../src/kernel/exec.ts";
import { parseElf } from "../guest/_elf.ts";
import { rng } from "../mm/_mm_helpers.ts";
import {
  DT_FLAGS,
  dynEntryOff,
  patched,
  phdrIndex,
  phdrOff,
  PT_DYNAMIC,
  PT_GNU_STACK,
  PT_INTERP,
  PT_LOAD,
  PT_TLS,
  relas,
  renameDynstr,
  setInterp,
  u32,
  vaddrToOffset,
} from "./_elf_mut.ts";
import { fixture, ROOTFS, STATIC, withExec } from "./_exec_env.ts";

const HELLO = fixture(ROOTFS, "bin/hello");
const COMPUTE = fixture(ROOTFS, "bin/compute");
const LIBCOMPUTE = fixture(ROOTFS, "lib/libcompute.so");
const STATIC_HELLO = fixture(STATIC, "hello");
const LUA = fixture(ROOTFS, "bin/lua");
const LDSO = fixture(ROOTFS, "lib/ld-musl-riscv32.so.1");
/** Bytes of lua's PT_INTERP segment. */
const LUA_INTERP_SIZE = u32(LUA, phdrOff(LUA, phdrIndex(LUA, PT_INTERP)) + 16);

/** Set field `field` (byte offset inside the header) of the `nth` phdr of `type`. */
const setPhdr = (b: Uint8Array, type: number, field: number, v: number, nth = 0): Uint8Array =>
  patched(b, (_c, dv) => dv.setUint32(phdrOff(b, phdrIndex(b, type, nth)) + field, v, true));
const P_OFFSET = 4, P_VADDR = 8, P_FILESZ = 16, P_MEMSZ = 20, P_ALIGN = 28;

interface BadCase {
  name: string;
  /** Files replacing the tree (guest path → bytes). */
  files: [string, Uint8Array][];
  /** The program to exec (default /bin/hello). */
  path?: string;
  root?: URL;
  errno: number;
  /** Substrings the reason must contain. */
  reason: string[];
}

const textRelFlags = patched(LIBCOMPUTE, (c, dv) => {
  const o = dynEntryOff(c, DT_FLAGS);
  dv.setUint32(o + 4, u32(c, o + 4) | 0x4, true); // DF_TEXTREL
});
const textRelTag = patched(LIBCOMPUTE, (c, dv) => {
  dv.setUint32(dynEntryOff(c, 0x6ffffff9), 22, true); // DT_RELACOUNT -> DT_TEXTREL
});
const jumpSlot = relas(LIBCOMPUTE).find((r) => r.type === 5)!;
const relIntoText = patched(LIBCOMPUTE, (_c, dv) => {
  const text = parseElf(LIBCOMPUTE).phdrs.find((p) => p.type === PT_LOAD && (p.flags & 1) !== 0)!;
  dv.setUint32(jumpSlot.at, text.vaddr + 16, true);
});
const relCopy = patched(LIBCOMPUTE, (_c, dv) => {
  dv.setUint32(jumpSlot.at + 4, (jumpSlot.sym << 8) | 4, true); // R_RISCV_COPY
});

const CASES: BadCase[] = [
  {
    name: "a file shorter than the ELF header",
    files: [["/bin/hello", HELLO.slice(0, 40)]],
    errno: ENOEXEC,
    reason: ["/bin/hello", "truncated ELF header"],
  },
  {
    name: "a file cut inside the program header table",
    files: [["/bin/hello", HELLO.slice(0, 100)]],
    errno: ENOEXEC,
    reason: ["/bin/hello", "truncated program header table"],
  },
  {
    name: "a file cut inside a segment",
    files: [["/bin/hello", HELLO.slice(0, 0x300)]],
    errno: ENOEXEC,
    reason: ["/bin/hello", "past the end of the file"],
  },
  {
    name: "bad magic",
    files: [["/bin/hello", patched(HELLO, (c) => c[1] = 0x46)]],
    errno: ENOEXEC,
    reason: ["/bin/hello", "bad magic"],
  },
  {
    name: "ELFCLASS64",
    files: [["/bin/hello", patched(HELLO, (c) => c[4] = 2)]],
    errno: ENOEXEC,
    reason: ["not ELFCLASS32"],
  },
  {
    name: "big-endian",
    files: [["/bin/hello", patched(HELLO, (c) => c[5] = 2)]],
    errno: ENOEXEC,
    reason: ["not little-endian"],
  },
  {
    name: "another machine (x86-64)",
    files: [["/bin/hello", patched(HELLO, (_c, dv) => dv.setUint16(18, 62, true))]],
    errno: ENOEXEC,
    reason: ["e_machine 62 is not RISC-V"],
  },
  {
    name: "a relocatable object (ET_REL)",
    files: [["/bin/hello", patched(HELLO, (_c, dv) => dv.setUint16(16, 1, true))]],
    errno: ENOEXEC,
    reason: ["e_type 1 is neither ET_EXEC nor ET_DYN"],
  },
  {
    name: "an unknown ELF version",
    files: [["/bin/hello", patched(HELLO, (_c, dv) => dv.setUint32(20, 2, true))]],
    errno: ENOEXEC,
    reason: ["unknown ELF version"],
  },
  {
    name: "compressed instructions (EF_RISCV_RVC)",
    files: [["/bin/hello", patched(HELLO, (_c, dv) => dv.setUint32(36, 1, true))]],
    errno: ENOEXEC,
    reason: ["EF_RISCV_RVC"],
  },
  {
    name: "a wrong e_phentsize",
    files: [["/bin/hello", patched(HELLO, (_c, dv) => dv.setUint16(42, 40, true))]],
    errno: ENOEXEC,
    reason: ["e_phentsize 40"],
  },
  {
    name: "no program headers",
    files: [["/bin/hello", patched(HELLO, (_c, dv) => dv.setUint16(44, 0, true))]],
    errno: ENOEXEC,
    reason: ["no program headers"],
  },
  {
    name: "e_phoff past the end of the file",
    files: [["/bin/hello", patched(HELLO, (_c, dv) => dv.setUint32(28, 0xffff_f000, true))]],
    errno: ENOEXEC,
    reason: ["truncated program header table"],
  },
  {
    name: "p_filesz > p_memsz",
    files: [["/bin/hello", setPhdr(HELLO, PT_LOAD, P_FILESZ, 0x20c, 1)]],
    errno: ENOEXEC,
    reason: ["segment 2", "p_filesz 0x20c > p_memsz"],
  },
  {
    name: "p_vaddr not congruent to p_offset",
    files: [["/bin/hello", setPhdr(HELLO, PT_LOAD, P_VADDR, 0x1210, 1)]],
    errno: ENOEXEC,
    reason: ["differ modulo the page size"],
  },
  {
    name: "p_align below the page size",
    files: [["/bin/hello", setPhdr(HELLO, PT_LOAD, P_ALIGN, 0x800, 1)]],
    errno: ENOEXEC,
    reason: ["p_align 0x800"],
  },
  {
    name: "overlapping segments",
    files: [["/bin/hello", setPhdr(HELLO, PT_LOAD, P_MEMSZ, 0x1300, 0)]],
    errno: ENOEXEC,
    reason: ["segments 1 and 2 overlap"],
  },
  {
    name: "segments sharing a page",
    files: [["/bin/hello", setPhdr(HELLO, PT_LOAD, P_VADDR, 0x320 + 0x1000, 2)]],
    errno: ENOEXEC,
    reason: ["share a page"],
  },
  {
    name: "a segment file range past the end",
    files: [["/bin/hello", setPhdr(HELLO, PT_LOAD, P_OFFSET, 0x100_0000 + 0x20c, 1)]],
    errno: ENOEXEC,
    reason: ["past the end of the file"],
  },
  {
    name: "a segment beyond user space",
    files: [["/bin/hello", setPhdr(HELLO, PT_LOAD, P_MEMSZ, 0x8000_0000, 2)]],
    errno: ENOEXEC,
    reason: ["beyond user space"],
  },
  {
    name: "an empty PT_INTERP",
    files: [["/bin/hello", setPhdr(HELLO, PT_GNU_STACK, 0, PT_INTERP)]],
    errno: ENOEXEC,
    reason: ["/bin/hello", "PT_INTERP of 0 bytes"],
  },
  {
    name: "a PT_INTERP string without its NUL",
    path: "/bin/lua",
    files: [["/bin/lua", setInterp(LUA, "", new Uint8Array(LUA_INTERP_SIZE).fill(0x61))]],
    errno: ENOEXEC,
    reason: ["/bin/lua", "not NUL-terminated"],
  },
  {
    name: "a missing interpreter",
    path: "/bin/lua",
    files: [["/bin/lua", setInterp(LUA, "/lib/ld-none.so.1")]],
    errno: ENOENT,
    reason: ["/bin/lua: interpreter /lib/ld-none.so.1: no such file"],
  },
  {
    name: "an interpreter that is not an ELF file",
    path: "/bin/lua",
    files: [["/lib/ld-musl-riscv32.so.1", new TextEncoder().encode("#!/bin/sh\nexit 0\n")]],
    errno: ELIBBAD,
    reason: ["/bin/lua: bad interpreter", "/lib/ld-musl-riscv32.so.1", "not an ELF file"],
  },
  {
    name: "an interpreter built for compressed instructions",
    path: "/bin/lua",
    files: [["/lib/ld-musl-riscv32.so.1", patched(LDSO, (_c, dv) => dv.setUint32(36, 1, true))]],
    errno: ELIBBAD,
    reason: ["bad interpreter", "EF_RISCV_RVC"],
  },
  {
    name: "an interpreter that asks for an interpreter (recursion)",
    path: "/bin/lua",
    files: [["/bin/lua", setInterp(LUA, "/bin/lua")]],
    errno: ELIBBAD,
    reason: ["bad interpreter", "/bin/lua requests an interpreter itself"],
  },
  {
    name: "a directory as the interpreter",
    path: "/bin/lua",
    files: [["/bin/lua", setInterp(LUA, "/lib")]],
    errno: ENOEXEC,
    reason: ["/bin/lua: interpreter /lib: not a regular file"],
  },
  {
    name: "an entry point outside the text",
    files: [["/bin/hello", patched(HELLO, (_c, dv) => dv.setUint32(24, 0x10, true))]],
    errno: ENOEXEC,
    reason: ["entry point 0x10"],
  },
  {
    name: "an ET_EXEC segment on page 0",
    root: STATIC,
    path: "/hello",
    files: [["/hello", setPhdr(STATIC_HELLO, PT_LOAD, P_VADDR, 0)]],
    errno: ENOEXEC,
    reason: ["/hello", "page 0"],
  },
  {
    name: "a dynamic section outside the file image",
    files: [["/bin/hello", setPhdr(HELLO, PT_DYNAMIC, P_VADDR, 0x7000)]],
    errno: ENOEXEC,
    reason: ["dynamic section at 0x7000", "outside the file image"],
  },
  {
    name: "a string table larger than the file",
    files: [[
      "/bin/hello",
      patched(HELLO, (c, dv) => dv.setUint32(dynEntryOff(c, 10) + 4, 1 << 20, true)),
    ]],
    errno: ENOEXEC,
    reason: ["string table", "outside the file image"],
  },
  {
    name: "a DT_NEEDED string index out of range",
    files: [[
      "/bin/hello",
      patched(HELLO, (c, dv) => dv.setUint32(dynEntryOff(c, 1) + 4, 0xffff, true)),
    ]],
    errno: ENOEXEC,
    reason: ["string index 65535 out of range"],
  },
  {
    name: "a DT_SYMENT that is not 16",
    files: [[
      "/bin/hello",
      patched(HELLO, (c, dv) => dv.setUint32(dynEntryOff(c, 11) + 4, 24, true)),
    ]],
    errno: ENOEXEC,
    reason: ["DT_SYMENT 24"],
  },
  {
    name: "a missing library",
    path: "/bin/compute",
    files: [["/bin/compute", renameDynstr(COMPUTE, "libcompute.so", "libcompuXe.so")]],
    errno: ENOENT,
    reason: ["libcompuXe.so: not found in /lib:/usr/lib", "needed by /bin/compute"],
  },
  {
    name: "a missing library whose name holds a newline",
    path: "/bin/compute",
    files: [["/bin/compute", renameDynstr(COMPUTE, "libc.so", "lib\n.so")]],
    errno: ENOENT,
    reason: ["lib\\x0a.so: not found in /lib:/usr/lib"],
  },
  {
    name: "a missing symbol",
    path: "/bin/compute",
    files: [["/lib/libcompute.so", renameDynstr(LIBCOMPUTE, "crc32_update", "crc32_updatX")]],
    errno: ENOEXEC,
    reason: ["/bin/compute: undefined symbol crc32_update"],
  },
  {
    name: "a library with DF_TEXTREL",
    path: "/bin/compute",
    files: [["/lib/libcompute.so", textRelFlags]],
    errno: ENOEXEC,
    reason: ["libcompute.so: text relocations (DT_TEXTREL) would break sharing"],
  },
  {
    name: "a library with DT_TEXTREL",
    path: "/bin/compute",
    files: [["/lib/libcompute.so", textRelTag]],
    errno: ENOEXEC,
    reason: ["libcompute.so: text relocations (DT_TEXTREL)"],
  },
  {
    name: "a relocation aimed at the text",
    path: "/bin/compute",
    files: [["/lib/libcompute.so", relIntoText]],
    errno: ENOEXEC,
    reason: ["libcompute.so: R_RISCV_JUMP_SLOT at", "read-only segment"],
  },
  {
    name: "an unsupported relocation type",
    path: "/bin/compute",
    files: [["/lib/libcompute.so", relCopy]],
    errno: ENOEXEC,
    reason: ["libcompute.so: unsupported relocation R_RISCV_COPY (4)"],
  },
  {
    name: "a library that is not a shared object",
    files: [["/lib/libc.so", STATIC_HELLO]],
    errno: ENOEXEC,
    reason: ["libc.so: /lib/libc.so is not a shared object"],
  },
  {
    name: "a program that does not exist",
    path: "/bin/nope",
    files: [],
    errno: ENOENT,
    reason: ["/bin/nope: no such file"],
  },
  {
    name: "a directory",
    path: "/bin",
    files: [],
    errno: ENOEXEC,
    reason: ["/bin: not a regular file"],
  },
];

for (const c of CASES) {
  Deno.test(`execve() refuses ${c.name} with errno ${c.errno} and a reason`, () => {
    for (const textMode of ["copy", "map"] as const) {
      const path = c.path ?? "/bin/hello";
      withExec(path, [path], [], { files: new Map(c.files), root: c.root, textMode, dax: true }, (
        { res },
      ) => {
        assert.ok(isExecError(res), `${textMode}: exec succeeded`);
        assert.equal(res.errno, c.errno, `${textMode}: ${res.reason}`);
        for (const s of c.reason) assert.ok(res.reason.includes(s), `"${res.reason}" lacks "${s}"`);
        assert.ok(!res.reason.includes("\n"), "the reason is one line");
      });
    }
  });
}

Deno.test("execve() accepts a PT_TLS: thread-local storage is user space's to set up", () => {
  for (const textMode of ["copy", "map"] as const) {
    const files = new Map([["/bin/hello", setPhdr(HELLO, PT_GNU_STACK, 0, PT_TLS)]]);
    withExec("/bin/hello", ["hello"], [], { files, textMode, dax: true }, ({ res }) => {
      assert.ok(!isExecError(res), isExecError(res) ? res.reason : "");
    });
  }
});

Deno.test("execve() refuses arguments larger than a quarter of the stack with E2BIG", () => {
  withExec(
    "/bin/hello",
    ["hello", "x".repeat(100_000)],
    [],
    { stackSize: 64 * 1024 },
    ({ res }) => {
      assert.ok(isExecError(res));
      assert.equal(res.errno, E2BIG);
    },
  );
});

Deno.test("execve() finds a library through LD_LIBRARY_PATH before /lib", () => {
  const files = new Map([["/opt/lib/libcompute.so", LIBCOMPUTE]]);
  const hidden = new Set(["/lib/libcompute.so"]);
  const envp = ["LD_LIBRARY_PATH=/nowhere::/opt/lib"];
  withExec("/bin/compute", ["compute"], envp, { files, hidden, textMode: "copy" }, ({ res }) => {
    assert.ok(!isExecError(res), isExecError(res) ? res.reason : "");
    assert.deepEqual(res.loaded.map((l) => l.path), [
      "/bin/compute",
      "/opt/lib/libcompute.so",
      "/lib/libc.so",
    ]);
  });
  withExec("/bin/compute", ["compute"], [], { files, hidden, textMode: "copy" }, ({ res }) => {
    assert.ok(isExecError(res));
    assert.match(res.reason, /libcompute\.so: not found in \/lib:\/usr\/lib/);
  });
});

Deno.test("execve() never throws and never leaks on randomly corrupted headers (seeded)", () => {
  const seed = Number(Deno.env.get("EXEC_FUZZ_SEED") ?? Date.now() % 1_000_000);
  const rand = rng(seed);
  const targets: [string, Uint8Array][] = [
    ["/bin/hello", HELLO],
    ["/bin/compute", COMPUTE],
    ["/lib/libcompute.so", LIBCOMPUTE],
  ];
  let where = "";
  try {
    for (let i = 0; i < 150; i++) {
      const [victim, bytes] = targets[i % targets.length]!;
      // Corrupt the headers and tables (the first 2 KiB) where the loader looks.
      const pokes: [number, number][] = [];
      const bad = patched(bytes, (c) => {
        const n = 1 + Math.floor(rand() * 6);
        for (let k = 0; k < n; k++) {
          const at = Math.floor(rand() * Math.min(c.length, 2048));
          c[at] = Math.floor(rand() * 256);
          pokes.push([at, c[at]!]);
        }
      });
      where = `iteration ${i}, ${victim} poked at ${JSON.stringify(pokes)}`;
      const path = victim.startsWith("/lib") ? "/bin/compute" : victim;
      withExec(
        path,
        [path],
        [],
        { files: new Map([[victim, bad]]), textMode: "copy" },
        ({ res }) => {
          if (isExecError(res)) {
            assert.ok(res.errno > 0 && res.reason.length > 0);
            assert.ok(!res.reason.includes("\n"));
          }
        },
      );
    }
  } catch (e) {
    console.error(`exec fuzz failed with seed ${seed} at ${where} (rerun: EXEC_FUZZ_SEED=${seed})`);
    throw e;
  }
});

Deno.test("vaddrToOffset() of the test helpers agrees with the fixture's dynamic section", () => {
  // Guards the mutation helpers themselves: DT_STRTAB of hello is inside its first PT_LOAD.
  const strtab = u32(HELLO, dynEntryOff(HELLO, 5) + 4);
  assert.equal(vaddrToOffset(HELLO, strtab), strtab);
});
