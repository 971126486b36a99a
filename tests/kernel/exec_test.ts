/**
 * execve() loads the real fixtures into a real mm: relocations resolved as
 * an independent reading of the files says they must be, the initial stack
 * as Linux lays it out, RELRO sealed, page 0 unmapped, and in textMode "map"
 * the text shared from the device while relocated data is a private copy.
 */

import assert from "node:assert/strict";
import {
  AT_BASE,
  AT_ENTRY,
  AT_EXECFN,
  AT_PAGESZ,
  AT_PHDR,
  AT_PHNUM,
  AT_RANDOM,
} from "../../src/abi/elf.ts";
import { EFAULT } from "../../src/abi/errno.ts";
import { KernelPanic } from "../../src/abi/panic.ts";
import { asVirt, type MmId, PAGE_SIZE, pageRoundDown, pageRoundUp } from "../../src/abi/types.ts";
import {
  type ExecResult,
  execStartStep,
  execve,
  INIT_RETURN,
  isExecError,
  PIE_BASE,
  STACK_SIZE,
  STACK_TOP,
} from "../../src/kernel/exec.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { exitMmap, mmAlloc } from "../../src/mm/mm.ts";
import { doBrk, vmaDump } from "../../src/mm/mmap.ts";
import { copyFromUser, copyToUser, strncpyFromUser } from "../../src/mm/uaccess.ts";
import { VM_EXEC, VM_GROWSDOWN, VM_WRITE } from "../../src/mm/vma.ts";
import { type Memory } from "../../src/hw/memory.ts";
import { type Elf, parseElf } from "../guest/_elf.ts";
import { boot, pfnAt } from "../mm/_mm_helpers.ts";
import { patched, relas, renameDynstr } from "./_elf_mut.ts";
import { fixture, HostExecEnv, ok, ROOTFS, STATIC, withExec } from "./_exec_env.ts";

const FILES: Record<string, Uint8Array> = {
  "/bin/compute": fixture(ROOTFS, "bin/compute"),
  "/lib/libcompute.so": fixture(ROOTFS, "lib/libcompute.so"),
  "/lib/libc.so": fixture(ROOTFS, "lib/libc.so"),
};
const ELVES: Record<string, Elf> = Object.fromEntries(
  Object.entries(FILES).map(([p, b]) => [p, parseElf(b)]),
);

function word(mem: Memory, mm: MmId, va: number): number {
  const b = copyFromUser(mem, mm, asVirt(va), 4);
  if (typeof b === "number") throw new Error(`no word at 0x${va.toString(16)}: ${b}`);
  return new DataView(b.buffer).getUint32(0, true);
}

function cstring(mem: Memory, mm: MmId, va: number): string {
  const b = strncpyFromUser(mem, mm, asVirt(va), 256);
  if (typeof b === "number") throw new Error(`no string at 0x${va.toString(16)}`);
  return new TextDecoder().decode(b);
}

/** Independent symbol resolution: the first object, in load order, that defines `name`. */
function expectedAddress(res: ExecResult, name: string): { value: number; path: string } {
  for (const l of res.loaded) {
    const s = ELVES[l.path]!.dynsyms.find((d) =>
      d.name === name && d.shndx !== 0 && (d.bind === 1 || d.bind === 2)
    );
    if (s !== undefined) return { value: (l.base + s.value) >>> 0, path: l.path };
  }
  throw new Error(`no definition of ${name}`);
}

/** Is `va` inside an executable PT_LOAD of the object loaded from `path`? */
function inText(res: ExecResult, path: string, va: number): boolean {
  const l = res.loaded.find((x) => x.path === path)!;
  return ELVES[path]!.phdrs.some((p) =>
    p.type === 1 && (p.flags & 1) !== 0 && va >= l.base + p.vaddr && va < l.base + p.vaddr + p.memsz
  );
}

for (const textMode of ["copy", "map"] as const) {
  Deno.test(`execve() resolves compute's relocations as the files say (${textMode})`, () => {
    withExec("/bin/compute", ["compute"], [], { textMode, dax: true }, ({ mem, mm, res: r }) => {
      const res = ok(r);
      assert.deepEqual(res.loaded.map((l) => l.path), Object.keys(FILES));
      assert.equal(res.loaded[0]!.base, PIE_BASE);
      let jumpSlots = 0, relatives = 0, abs32 = 0;
      for (const l of res.loaded) {
        const elf = ELVES[l.path]!;
        for (const rel of relas(FILES[l.path]!)) {
          const got = word(mem, mm, l.base + rel.offset);
          if (rel.type === 3) {
            relatives++;
            assert.equal(got, (l.base + rel.addend) >>> 0, `RELATIVE at ${l.path}+${rel.offset}`);
            continue;
          }
          const name = elf.dynsyms[rel.sym]!.name;
          const want = expectedAddress(res, name);
          assert.equal(got, (want.value + rel.addend) >>> 0, `${l.path}: ${name}`);
          if (rel.type === 5) {
            jumpSlots++;
            assert.ok(inText(res, want.path, got), `${name} is not in ${want.path}'s text`);
          } else {
            assert.equal(rel.type, 1);
            abs32++;
            assert.equal(name, "matrix_checksum");
            assert.equal(want.path, "/lib/libcompute.so");
          }
        }
      }
      assert.equal(jumpSlots, 13 + 2, "compute's 13 and libcompute's 2 JUMP_SLOTs");
      assert.equal(relatives, 1 + 1 + 42);
      assert.equal(abs32, 1);
      // libcompute's init_array entry is its RELATIVE relocation; it is the only init call.
      const lc = res.loaded[1]!;
      const initRel = relas(FILES["/lib/libcompute.so"]!).find((x) => x.type === 3)!;
      assert.deepEqual(res.initCalls, [lc.base + initRel.addend]);
      assert.ok(inText(res, lc.path, res.initCalls[0]!));
      assert.deepEqual(res.finiCalls, []);
    });
  });
}

Deno.test("execve() lays out argc, argv, envp and auxv on a 16-byte aligned stack", () => {
  const argv = ["compute", "3", "grüße"];
  const envp = ["A=1", "HOME=/root"];
  const random = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
  withExec("/bin/compute", argv, envp, { textMode: "copy", random }, ({ mem, mm, res: r }) => {
    const res = ok(r);
    assert.equal(res.sp % 16, 0);
    assert.equal(word(mem, mm, res.sp), argv.length);
    assert.equal(res.argvPtr, res.sp + 4);
    for (let i = 0; i < argv.length; i++) {
      assert.equal(cstring(mem, mm, word(mem, mm, res.sp + 4 + 4 * i)), argv[i]);
    }
    assert.equal(word(mem, mm, res.sp + 4 + 4 * argv.length), 0);
    let p = res.sp + 4 * (argv.length + 2);
    assert.equal(res.envpPtr, p);
    for (const e of envp) {
      assert.equal(cstring(mem, mm, word(mem, mm, p)), e);
      p += 4;
    }
    assert.equal(word(mem, mm, p), 0);
    const auxv: [number, number][] = [];
    for (p += 4; word(mem, mm, p) !== 0; p += 8) {
      auxv.push([word(mem, mm, p), word(mem, mm, p + 4)]);
    }
    assert.equal(word(mem, mm, p + 4), 0, "AT_NULL's value");
    assert.deepEqual(auxv, res.auxv);
    const at = new Map(auxv);
    const elf = ELVES["/bin/compute"]!;
    assert.equal(at.get(AT_PHDR), PIE_BASE + 0x34);
    assert.equal(at.get(AT_PHNUM), elf.phdrs.length);
    assert.equal(at.get(AT_ENTRY), PIE_BASE + elf.entry);
    assert.equal(at.get(AT_ENTRY), res.entry);
    assert.equal(at.get(AT_PAGESZ), PAGE_SIZE);
    assert.equal(at.get(AT_BASE), 0);
    assert.deepEqual(copyFromUser(mem, mm, asVirt(at.get(AT_RANDOM)!), 16), random);
    assert.equal(cstring(mem, mm, at.get(AT_EXECFN)!), "/bin/compute");
    // AT_PHDR really points at the program headers.
    const ph = copyFromUser(mem, mm, asVirt(at.get(AT_PHDR)!), 32 * elf.phdrs.length);
    assert.deepEqual(ph, FILES["/bin/compute"]!.subarray(52, 52 + 32 * elf.phdrs.length));
    // Everything lies inside the stack VMA, below its top.
    assert.ok(res.sp >= res.stackBottom && at.get(AT_EXECFN)! < STACK_TOP);
  });
});

Deno.test("execve() leaves page 0 unmapped, seals RELRO, and places stack and heap", () => {
  withExec("/bin/compute", ["compute"], [], { textMode: "copy" }, ({ mem, mm, res: r }) => {
    const res = ok(r);
    const vmas = vmaDump(mem, mm);
    assert.ok(vmas[0]![0] >= PIE_BASE, "nothing mapped below the program");
    assert.equal(copyFromUser(mem, mm, asVirt(0), 4), -EFAULT);
    const flagsAt = (va: number): number => vmas.find(([s, e]) => va >= s && va < e)![2];
    for (const l of res.loaded) {
      const relro = ELVES[l.path]!.phdrs.find((p) => p.type === 0x6474e552)!;
      const start = pageRoundDown(l.base + relro.vaddr);
      const end = pageRoundDown(l.base + relro.vaddr + relro.memsz);
      assert.ok(end > start, `${l.path}'s RELRO covers a page`);
      for (let va = start; va < end; va += PAGE_SIZE) {
        assert.equal(flagsAt(va) & VM_WRITE, 0, `${l.path} RELRO page 0x${va.toString(16)}`);
      }
      assert.equal(copyToUser(mem, mm, asVirt(start), new Uint8Array(4)), -EFAULT);
      for (const p of ELVES[l.path]!.phdrs.filter((p) => p.type === 1)) {
        const f = flagsAt(l.base + p.vaddr);
        assert.equal(
          (f & VM_EXEC) !== 0,
          (p.flags & 1) !== 0,
          `${l.path} X at 0x${p.vaddr.toString(16)}`,
        );
      }
    }
    // compute's .sdata (after the RELRO page) stays writable: its R_RISCV_32 lives there.
    assert.notEqual(flagsAt(PIE_BASE + 0x3a34) & VM_WRITE, 0);
    const stack = vmas.find(([s, e]) => s === STACK_TOP - STACK_SIZE && e === STACK_TOP);
    assert.ok(stack !== undefined && (stack[2] & VM_GROWSDOWN) !== 0);
    assert.equal(res.brkStart, pageRoundUp(PIE_BASE + 0x3a38));
    assert.equal(doBrk(mem, mm, res.brkStart + 100), res.brkStart + 100);
  });
});

Deno.test("execve() loads a static ET_EXEC at its link address with no init calls", () => {
  withExec("/hello", ["hello"], [], { root: STATIC, textMode: "copy" }, ({ res: r }) => {
    const res = ok(r);
    const elf = parseElf(fixture(STATIC, "hello"));
    assert.equal(res.loaded.length, 1);
    assert.equal(res.loaded[0]!.base, 0);
    assert.equal(res.entry, elf.entry);
    assert.deepEqual(res.initCalls, []);
    const last = elf.phdrs.filter((p) => p.type === 1).at(-1)!;
    assert.equal(res.brkStart, pageRoundUp(last.vaddr + last.memsz));
  });
});

Deno.test("execve() opens each library once though several objects need it", () => {
  withExec("/bin/compute", ["compute"], [], { textMode: "copy" }, ({ env, res }) => {
    ok(res);
    assert.deepEqual(env.opened, ["/bin/compute", "/lib/libcompute.so", "/lib/libc.so"]);
  });
});

Deno.test("execve() binds a weak undefined reference to 0", () => {
  const compute = FILES["/bin/compute"]!;
  const idx = ELVES["/bin/compute"]!.dynsyms.findIndex((s) => s.name === "matrix_checksum");
  const dynsym = ELVES["/bin/compute"]!.dynamic.find(([t]) => t === 6)![1];
  const weak = patched(compute, (c) => c[dynsym + 16 * idx + 12] = (2 << 4) | 2); // STB_WEAK FUNC
  const files = new Map([
    ["/bin/compute", weak],
    [
      "/lib/libcompute.so",
      renameDynstr(FILES["/lib/libcompute.so"]!, "matrix_checksum", "matrix_checksuX"),
    ],
  ]);
  withExec("/bin/compute", ["compute"], [], { files, textMode: "copy" }, ({ mem, mm, res }) => {
    ok(res);
    const rel = relas(compute).find((x) => x.type === 1)!;
    assert.equal(word(mem, mm, PIE_BASE + rel.offset), 0);
  });
});

Deno.test("execve() in map mode shares text from the device and privately copies relocated data", () => {
  const mem = boot({ ramFrames: 1024, deviceFrames: 128 });
  const frames0 = freeFrameCount(mem);
  const ram = mem.layout.config.ramFrames;
  const mms = [mmAlloc(mem) as MmId, mmAlloc(mem) as MmId];
  const env = new HostExecEnv(mem, mms[0]!, { dax: true });
  const results: ExecResult[] = [];
  for (const mm of mms) {
    env.mm = mm;
    results.push(ok(execve(env, "/bin/compute", ["compute"], [], { textMode: "map" })));
  }
  const libc = results[0]!.loaded[2]!;
  const libcElf = ELVES["/lib/libc.so"]!;
  const text = libcElf.phdrs.find((p) => p.type === 1 && (p.flags & 1) !== 0)!;
  const dev = env.devicePfnOf("/lib/libc.so");
  for (const [i, mm] of mms.entries()) {
    const base = results[i]!.loaded[2]!.base;
    assert.equal(base, libc.base, "same layout in both processes");
    for (let off = pageRoundDown(text.vaddr); off < text.vaddr + text.memsz; off += PAGE_SIZE) {
      word(mem, mm, base + off); // fault it in
      assert.equal(
        pfnAt(mem, mm, base + off),
        dev + pageRoundDown(text.offset + off - text.vaddr) / PAGE_SIZE,
      );
    }
  }
  // compute's GOT page: a private RAM copy in each process, distinct.
  const got = PIE_BASE + 0x2000;
  const gotPfns = mms.map((mm) => pfnAt(mem, mm, got));
  assert.ok(gotPfns.every((p) => p >= 0 && p < ram), `GOT pages ${gotPfns} are RAM`);
  assert.notEqual(gotPfns[0], gotPfns[1]);
  // The device still holds the unrelocated file: relocation never wrote shared frames.
  const libcBytes = FILES["/lib/libc.so"]!;
  assert.deepEqual(mem.u8.subarray(dev * PAGE_SIZE, dev * PAGE_SIZE + libcBytes.length), libcBytes);
  // padzero: the rest of the page after libc's .data file bytes reads as zero, not file bytes.
  const data = libcElf.phdrs.filter((p) => p.type === 1).at(-1)!;
  const fileEnd = libc.base + data.vaddr + data.filesz;
  const tail = copyFromUser(mem, mms[0]!, asVirt(fileEnd), pageRoundUp(fileEnd) - fileEnd);
  assert.ok(tail instanceof Uint8Array && tail.every((b) => b === 0));
  const fileTail = libcBytes.subarray(
    data.offset + data.filesz,
    pageRoundUp(data.offset + data.filesz),
  );
  assert.ok(
    fileTail.some((b) => b !== 0),
    "the file has non-zero bytes there, so zeroing was needed",
  );
  for (const mm of mms) exitMmap(mem, mm);
  assert.equal(freeFrameCount(mem), frames0);
  assert.equal(env.opens, env.closes);
});

Deno.test("execve() fails cleanly when RAM runs out mid-load", () => {
  for (const ramFrames of [6, 8, 12, 16]) {
    withExec("/bin/compute", ["compute"], [], { textMode: "copy", ramFrames }, ({ res }) => {
      assert.ok(isExecError(res), `${ramFrames} frames should not be enough`);
      assert.ok(res.reason.length > 0);
    });
  }
});

Deno.test("execStartStep() calls each init function, then enters with a0 = 0", () => {
  withExec("/bin/compute", ["compute", "2"], [], { textMode: "copy" }, ({ res: r }) => {
    const res = ok(r);
    const x = new Int32Array(32).fill(7);
    assert.equal(execStartStep(x, res, 0), res.initCalls[0]);
    assert.equal(x[1]! >>> 0, INIT_RETURN);
    assert.equal(x[2], res.sp);
    assert.deepEqual([x[10], x[11], x[12]], [2, res.argvPtr, res.envpPtr]);
    assert.equal(execStartStep(x, res, 1), res.entry);
    assert.deepEqual([...x].map((v, i) => (i === 2 ? 0 : v)), new Array(32).fill(0));
    assert.equal(x[2], res.sp);
    assert.throws(() => execStartStep(x, res, 2), KernelPanic);
  });
});
