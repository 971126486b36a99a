/**
 * Checks the committed RISC-V fixtures against what the xip loader accepts
 * (docs/ARCHITECTURE.md §6): ELF32 RISC-V without compressed instructions, no
 * PT_INTERP, no text relocations, only RELATIVE, 32 and JUMP_SLOT
 * relocations, and every imported symbol exported by a DT_NEEDED library.
 * Runs with Deno alone: the ELF is parsed in TypeScript.
 */
import assert from "node:assert/strict";
import {
  DF_TEXTREL,
  DT_FLAGS,
  DT_TEXTREL,
  EF_RISCV_FLOAT_ABI,
  EF_RISCV_RVC,
  type Elf,
  EM_RISCV,
  ET_DYN,
  ET_EXEC,
  parseElf,
  PT_DYNAMIC,
  PT_INTERP,
  PT_LOAD,
  R_RISCV_32,
  R_RISCV_JUMP_SLOT,
  R_RISCV_RELATIVE,
  SHF_EXECINSTR,
  SHT_REL,
  SHT_RELA,
} from "./_elf.ts";

const FIXTURES = new URL("../../fixtures/", import.meta.url).pathname;
const PAGE = 4096;
const PF_X = 1, PF_W = 2;
const STT_OBJECT = 1;
const SHN_UNDEF = 0;

/** rootfs path -> the exact DT_NEEDED list it must carry. */
const ROOTFS: Record<string, string[]> = {
  "lib/libc.so": [],
  "lib/libcompute.so": ["libc.so"],
  "bin/hello": ["libc.so"],
  "bin/compute": ["libcompute.so", "libc.so"],
  "bin/counter": ["libc.so"],
  "bin/segv": ["libc.so"],
  "bin/maps": ["libc.so"],
};

const STATIC = [
  "hello",
  "compute",
  "segv",
  "counter",
  "maps",
  "mext",
  "amo",
  "format",
  "alloc",
  "exitcode",
  "xld",
];

function load(path: string): Elf {
  return parseElf(Deno.readFileSync(FIXTURES + path));
}

function assertRiscv32(elf: Elf, path: string): void {
  assert.equal(elf.machine, EM_RISCV, `${path}: e_machine`);
  assert.equal(elf.flags & EF_RISCV_RVC, 0, `${path}: built with compressed instructions`);
  assert.equal(elf.flags & EF_RISCV_FLOAT_ABI, 0, `${path}: not the soft-float ilp32 ABI`);
}

/**
 * Every word of every executable section must be a 32-bit encoding (low
 * bits 11): the hart implements RV32IMA without C. Sections, not segments,
 * because the zero padding between .text and .plt is never executed.
 */
function assertNoCompressed(path: string, elf: Elf): void {
  const bytes = Deno.readFileSync(FIXTURES + path);
  const dv = new DataView(bytes.buffer);
  const exec = elf.shdrs.filter((s) => s.flags & SHF_EXECINSTR);
  assert.ok(exec.length > 0, `${path}: no executable section`);
  for (const s of exec) {
    assert.equal(s.offset % 4, 0, `${path}: code not word aligned`);
    for (let o = s.offset; o + 4 <= s.offset + s.size; o += 4) {
      const w = dv.getUint32(o, true);
      assert.equal(w & 3, 3, `${path}: 16-bit encoding 0x${w.toString(16)} at 0x${o.toString(16)}`);
    }
  }
}

for (const [path, needed] of Object.entries(ROOTFS)) {
  Deno.test(`rootfs ${path} is a RISC-V ELF32 ET_DYN with DT_NEEDED ${JSON.stringify(needed)}`, () => {
    const elf = load(`rootfs/${path}`);
    assertRiscv32(elf, path);
    assert.equal(elf.type, ET_DYN);
    assert.ok(elf.phdrs.some((p) => p.type === PT_DYNAMIC), "no PT_DYNAMIC");
    assert.deepEqual(elf.needed, needed);
    if (path.startsWith("bin/")) assert.notEqual(elf.entry, 0, "program without an entry point");
  });

  Deno.test(`rootfs ${path} has no PT_INTERP and no text relocations`, () => {
    const elf = load(`rootfs/${path}`);
    assert.ok(!elf.phdrs.some((p) => p.type === PT_INTERP), "PT_INTERP present");
    assert.ok(!elf.dynamic.some(([t]) => t === DT_TEXTREL), "DT_TEXTREL present");
    const flags = elf.dynamic.find(([t]) => t === DT_FLAGS)?.[1] ?? 0;
    assert.equal(flags & DF_TEXTREL, 0, "DF_TEXTREL set");
  });

  Deno.test(`rootfs ${path} uses only RELATIVE, 32 and JUMP_SLOT relocations, all in writable pages`, () => {
    const elf = load(`rootfs/${path}`);
    const allowed = new Set([R_RISCV_RELATIVE, R_RISCV_32, R_RISCV_JUMP_SLOT]);
    const writable = elf.phdrs.filter((p) => p.type === PT_LOAD && p.flags & PF_W);
    for (const r of elf.relocations) {
      assert.ok(allowed.has(r.type), `relocation type ${r.type} at 0x${r.offset.toString(16)}`);
      assert.ok(
        writable.some((p) => r.offset >= p.vaddr && r.offset + 4 <= p.vaddr + p.memsz),
        `relocation at 0x${r.offset.toString(16)} is outside every writable segment`,
      );
    }
  });

  Deno.test(`rootfs ${path} has page-congruent PT_LOADs and only 32-bit instructions`, () => {
    const elf = load(`rootfs/${path}`);
    for (const p of elf.phdrs.filter((p) => p.type === PT_LOAD)) {
      assert.equal(p.offset % PAGE, p.vaddr % PAGE, `segment at 0x${p.vaddr.toString(16)}`);
      assert.ok(p.align <= PAGE, `p_align ${p.align} larger than a page`);
    }
    assertNoCompressed(`rootfs/${path}`, elf);
  });
}

Deno.test("rootfs programs import only symbols their DT_NEEDED libraries export", () => {
  const exportsOf = (lib: string): Set<string> => {
    const elf = load(`rootfs/lib/${lib}`);
    return new Set(elf.dynsyms.filter((s) => s.shndx !== SHN_UNDEF).map((s) => s.name));
  };
  for (const path of Object.keys(ROOTFS)) {
    const elf = load(`rootfs/${path}`);
    const visible = new Set<string>();
    for (const lib of elf.needed) exportsOf(lib).forEach((n) => visible.add(n));
    for (const s of elf.dynsyms) {
      if (s.shndx !== SHN_UNDEF || s.name === "") continue;
      assert.ok(visible.has(s.name), `${path} imports ${s.name}, which no needed library exports`);
    }
    for (const r of elf.relocations.filter((r) => r.sym !== 0)) {
      assert.ok(r.sym < elf.dynsyms.length, `${path}: relocation symbol index out of range`);
    }
  }
});

Deno.test("rootfs libraries export no data objects (so programs need no copy relocations)", () => {
  for (const lib of ["libc.so", "libcompute.so"]) {
    const objects = load(`rootfs/lib/${lib}`).dynsyms.filter((s) =>
      s.shndx !== SHN_UNDEF && s.type === STT_OBJECT
    );
    assert.deepEqual(objects.map((s) => s.name), [], `${lib} exports data`);
  }
});

for (const name of STATIC) {
  Deno.test(`static ${name} is a RISC-V ET_EXEC with no dynamic section and no relocations`, () => {
    const elf = load(`static/${name}`);
    assertRiscv32(elf, name);
    assert.equal(elf.type, ET_EXEC);
    assert.ok(!elf.phdrs.some((p) => p.type === PT_INTERP || p.type === PT_DYNAMIC));
    assert.ok(!elf.shdrs.some((s) => (s.type === SHT_RELA || s.type === SHT_REL) && s.size > 0));
    const text = elf.phdrs.find((p) =>
      p.type === PT_LOAD && p.flags & PF_X && elf.entry >= p.vaddr && elf.entry < p.vaddr + p.memsz
    );
    assert.ok(text, "entry point outside every executable segment");
    assertNoCompressed(`static/${name}`, elf);
  });
}

Deno.test("rootfs etc/motd is a text file", () => {
  const motd = Deno.readTextFileSync(FIXTURES + "rootfs/etc/motd");
  assert.match(motd, /^Welcome to xip/);
});

Deno.test("rootfs bin/compute exercises all three relocation types the loader supports", () => {
  const types = new Set(load("rootfs/bin/compute").relocations.map((r) => r.type));
  assert.deepEqual([...types].sort(), [R_RISCV_32, R_RISCV_RELATIVE, R_RISCV_JUMP_SLOT]);
});

/** musl and Lua fixtures (built from the tarballs by guest/thirdparty.ts): path -> DT_NEEDED. */
const MUSL_DYNAMIC: Record<string, string[]> = {
  "rootfs/bin/lua": ["liblua.so", "libc.so"],
  "rootfs/usr/bin/mtest": ["libc.so"],
  "rootfs/usr/bin/hello": ["libc.so"],
  "rootfs/lib/liblua.so": ["libc.so"],
  "rootfs/lib/ld-musl-riscv32.so.1": [],
  "lua-testes/libs/lib1.so": [],
  "lua-testes/libs/lib11.so": [],
  "lua-testes/libs/lib2.so": [],
  "lua-testes/libs/lib21.so": [],
  "lua-testes/libs/lib2-v2.so": [],
};
/** The musl programs, which name musl's dynamic linker as their interpreter. */
const MUSL_PROGRAMS = ["rootfs/bin/lua", "rootfs/usr/bin/mtest", "rootfs/usr/bin/hello"];

/** The PT_INTERP string of `path`, or null. */
function interpOf(path: string, elf: Elf): string | null {
  const p = elf.phdrs.find((h) => h.type === PT_INTERP);
  if (p === undefined) return null;
  const b = Deno.readFileSync(FIXTURES + path).subarray(p.offset, p.offset + p.filesz);
  return new TextDecoder().decode(b.subarray(0, b.indexOf(0)));
}

for (const [path, needed] of Object.entries(MUSL_DYNAMIC)) {
  Deno.test(`${path} is an RV32IMA ilp32 ET_DYN with DT_NEEDED ${JSON.stringify(needed)}`, () => {
    const elf = load(path);
    assertRiscv32(elf, path);
    assert.equal(elf.type, ET_DYN);
    assert.deepEqual(elf.needed, needed);
    assertNoCompressed(path, elf);
    const program = MUSL_PROGRAMS.includes(path);
    assert.equal(interpOf(path, elf), program ? "/lib/ld-musl-riscv32.so.1" : null, "PT_INTERP");
    assert.ok(!elf.dynamic.some(([t]) => t === DT_TEXTREL), "DT_TEXTREL present");
  });
}

Deno.test("static/musl/mtest is a static ET_EXEC RV32IMA program with no interpreter", () => {
  const elf = load("static/musl/mtest");
  assertRiscv32(elf, "static/musl/mtest");
  assert.equal(elf.type, ET_EXEC);
  assert.equal(interpOf("static/musl/mtest", elf), null);
  assert.ok(!elf.phdrs.some((p) => p.type === PT_DYNAMIC), "a static program has no PT_DYNAMIC");
  assert.ok(elf.phdrs.some((p) => p.type === 7), "mtest uses __thread: PT_TLS");
  assertNoCompressed("static/musl/mtest", elf);
});

Deno.test("the musl and Lua fixtures carry their licence notices", () => {
  for (const f of ["rootfs/usr/share/licenses/musl/COPYRIGHT", "sysroot/COPYRIGHT.musl"]) {
    assert.match(Deno.readTextFileSync(FIXTURES + f), /Rich Felker/, f);
  }
  for (
    const f of [
      "rootfs/usr/share/licenses/lua/COPYRIGHT",
      "sysroot/COPYRIGHT.lua",
      "lua-testes/COPYRIGHT",
    ]
  ) {
    assert.match(
      Deno.readTextFileSync(FIXTURES + f),
      /Copyright \(C\) 1994-2025 Lua\.org, PUC-Rio/,
      f,
    );
  }
});
