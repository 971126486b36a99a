/**
 * The third-party part of `deno task guest`: musl libc and Lua, built from
 * their release tarballs (`--thirdparty DIR`, or $XIP_THIRDPARTY), into
 * the same output tree as the project's own guests.
 *
 * What it writes under OUT (fixtures/ by default):
 * ```
 *   rootfs/lib/ld-musl-riscv32.so.1   musl's libc.so, which is also its dynamic linker
 *   rootfs/lib/liblua.so              Lua 5.4's library (-DLUA_USE_LINUX: dlopen, POSIX)
 *   rootfs/bin/lua                    lua.c, a PIE with PT_INTERP = /lib/ld-musl-riscv32.so.1
 *   rootfs/usr/share/licenses/{musl,lua}/COPYRIGHT
 *   sysroot/include/                  musl's headers, plus lua.h luaconf.h lualib.h lauxlib.h
 *   sysroot/lib/                      crt1.o Scrt1.o rcrt1.o crti.o crtn.o libc.so liblua.so
 *   lua-testes/                       Lua's official test suite (testes/*.lua), and
 *                                     libs/*.so built from testes/libs/*.c for attrib.lua
 * ```
 * `sysroot/` is what the rest of the guest build (and a user) compiles
 * musl programs against: `clang --target=riscv32-unknown-linux-musl
 * -march=rv32ima -mabi=ilp32 -nostdinc -isystem fixtures/sysroot/include`,
 * linked with Scrt1.o crti.o ... libc.so LIBGCC crtn.o and
 * `--dynamic-linker=/lib/ld-musl-riscv32.so.1`. libc.a is built but not
 * kept: static musl programs are linked here (`staticLink`) while it
 * exists.
 *
 * The hart is RV32IMA (no C, no F/D): everything is built with
 * -march=rv32ima -mabi=ilp32. Soft-float and 64-bit division helpers come
 * from the rv32im/ilp32 libgcc of Debian's gcc-riscv64-unknown-elf
 * (musl's LIBCC). The tarballs are checked against pinned SHA-256 sums,
 * unpacked into a temporary directory, configured and built there with
 * relative paths and no debug info, and stripped, so the output does not
 * depend on where the build ran.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** The tarballs this build accepts, with their SHA-256 (the release files). */
export const TARBALLS = {
  musl: {
    file: "musl-1.2.5.tar.gz",
    dir: "musl-1.2.5",
    sha256: "0c04b18aa4021c22e5d01287a3266c92b70219bd5418545eb32abf7477449832",
  },
  lua: {
    file: "lua-5.4.8.tar.gz",
    dir: "lua-5.4.8",
    sha256: "cdaaeb97607f93b66f39ca0c4bbe1d2723627ed6348da8efb73102cb5b0ec970",
  },
} as const;

/** The interpreter path every musl program names in PT_INTERP. */
export const MUSL_LDSO = "/lib/ld-musl-riscv32.so.1";

/** clang's target flags for musl guests. */
export const MUSL_TARGET = ["--target=riscv32-unknown-linux-musl", "-march=rv32ima", "-mabi=ilp32"];

/** Link flags shared by every musl object: 4 KiB pages, no build id, bind at load. */
export const MUSL_LDFLAGS = [
  "--build-id=none",
  "-z",
  "max-page-size=4096",
  "-z",
  "now",
  "--hash-style=both",
];

/** Lua's library sources (the makefile's CORE_O and LIB_O), in link order. */
const LUA_LIB = [
  "lapi",
  "lcode",
  "lctype",
  "ldebug",
  "ldo",
  "ldump",
  "lfunc",
  "lgc",
  "llex",
  "lmem",
  "lobject",
  "lopcodes",
  "lparser",
  "lstate",
  "lstring",
  "ltable",
  "ltm",
  "lundump",
  "lvm",
  "lzio",
  "lauxlib",
  "lbaselib",
  "lcorolib",
  "ldblib",
  "liolib",
  "lmathlib",
  "loadlib",
  "loslib",
  "lstrlib",
  "ltablib",
  "lutf8lib",
  "linit",
];

/** Lua's public headers, installed into the sysroot for C modules. */
const LUA_HEADERS = ["lua.h", "luaconf.h", "lualib.h", "lauxlib.h"];

/** testes/libs: the C modules attrib.lua loads (output name -> source), as its makefile builds them. */
const LUA_TEST_LIBS: Record<string, string> = {
  "lib1.so": "lib1.c",
  "lib11.so": "lib11.c",
  "lib2.so": "lib2.c",
  "lib21.so": "lib21.c",
  "lib2-v2.so": "lib22.c",
};

/** What the caller supplies: how to run a tool, and where things are. */
export interface ThirdPartyEnv {
  /** Run `cmd args` in `cwd`; throws with the tool's output on failure. */
  run(cmd: string, args: string[], cwd: string, env?: Record<string, string>): Promise<string>;
  /** The tarball directory. */
  dir: string;
  /** The output tree (fixtures/ or --out). */
  out: string;
  /** The rv32im/ilp32 libgcc.a. */
  libgcc: string;
  /** Parallel jobs for make. */
  jobs: number;
}

/**
 * Called once musl is installed in a temporary sysroot that still has
 * libc.a (which OUT does not keep): links the static musl programs.
 */
export type StaticStep = (sysrootWithLibcA: string) => Promise<void>;

export class ThirdPartyError extends Error {}

async function sha256(path: string): Promise<string> {
  const data = await Deno.readFile(path);
  const h = createHash("sha256");
  h.update(data);
  return h.digest("hex");
}

/** Check both tarballs are present and are the pinned releases. */
export async function checkTarballs(dir: string): Promise<void> {
  for (const t of Object.values(TARBALLS)) {
    const path = `${dir}/${t.file}`;
    try {
      await Deno.stat(path);
    } catch {
      throw new ThirdPartyError(`third-party: ${path} not found`);
    }
    const got = await sha256(path);
    if (got !== t.sha256) {
      throw new ThirdPartyError(`third-party: ${path}: sha256 ${got}, expected ${t.sha256}`);
    }
  }
}

/**
 * Build musl and Lua into env.out (see the module header), then link
 * `statics` against musl's libc.a while it exists.
 */
export async function buildThirdParty(env: ThirdPartyEnv, statics: StaticStep): Promise<void> {
  await checkTarballs(env.dir);
  const work = await Deno.makeTempDir({ prefix: "xip-thirdparty-" });
  try {
    for (const t of Object.values(TARBALLS)) {
      await env.run("tar", ["xzf", `${env.dir}/${t.file}`], work);
    }
    const sysroot = `${work}/sysroot`;
    await buildMusl(env, `${work}/${TARBALLS.musl.dir}`, sysroot);
    await installMusl(env, sysroot);
    await buildLua(env, `${work}/${TARBALLS.lua.dir}`, `${work}/lua-obj`);
    await statics(sysroot);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** configure and make musl in its unpacked tree, install into `sysroot`. */
async function buildMusl(env: ThirdPartyEnv, src: string, sysroot: string): Promise<void> {
  // -fuse-ld=lld goes into CC: configure tries linker flags with $CC alone.
  const cc = ["clang", ...MUSL_TARGET, "-fuse-ld=lld"].join(" ");
  await env.run("sh", [
    "./configure",
    "--target=riscv32",
    "--prefix=/",
    "--syslibdir=/lib",
    `CC=${cc}`,
    "AR=llvm-ar",
    "RANLIB=llvm-ranlib",
    "LDFLAGS=-Wl,--build-id=none",
    `LIBCC=${env.libgcc}`,
  ], src);
  await env.run("make", [`-j${env.jobs}`], src);
  await env.run("make", ["install", `DESTDIR=${sysroot}`], src);
}

/** Copy musl's results from the install tree into OUT, stripped. */
async function installMusl(env: ThirdPartyEnv, sysroot: string): Promise<void> {
  const out = env.out;
  for (const d of ["rootfs/lib", "rootfs/usr/share/licenses/musl", "sysroot/lib"]) {
    await Deno.mkdir(`${out}/${d}`, { recursive: true });
  }
  await Deno.remove(`${out}/sysroot/include`, { recursive: true }).catch(() => {});
  await copyTree(`${sysroot}/include`, `${out}/sysroot/include`);
  await env.run("llvm-objcopy", [
    "--strip-all",
    `${sysroot}/lib/libc.so`,
    `${out}/sysroot/lib/libc.so`,
  ], sysroot);
  await Deno.copyFile(`${out}/sysroot/lib/libc.so`, `${out}/rootfs/lib/ld-musl-riscv32.so.1`);
  for (const crt of ["crt1.o", "Scrt1.o", "rcrt1.o", "crti.o", "crtn.o"]) {
    await Deno.copyFile(`${sysroot}/lib/${crt}`, `${out}/sysroot/lib/${crt}`);
  }
  const copyright = `${sysroot}/../${TARBALLS.musl.dir}/COPYRIGHT`;
  await Deno.copyFile(copyright, `${out}/rootfs/usr/share/licenses/musl/COPYRIGHT`);
  await Deno.copyFile(copyright, `${out}/sysroot/COPYRIGHT.musl`);
}

/** Compile flags for Lua and for musl programs, against `sysroot`. */
export function muslCflags(sysroot: string): string[] {
  return [
    ...MUSL_TARGET,
    "-nostdinc",
    "-isystem",
    `${sysroot}/include`,
    "-O2",
    "-fno-stack-protector",
    "-fno-common",
    "-mno-relax",
  ];
}

/** liblua.so, lua, the headers, the test suite and its C modules. */
async function buildLua(env: ThirdPartyEnv, src: string, obj: string): Promise<void> {
  const out = env.out;
  const sysroot = `${out}/sysroot`;
  await Deno.mkdir(obj, { recursive: true });
  const cflags = [...muslCflags(sysroot), "-std=gnu99", "-DLUA_USE_LINUX", "-Wall"];
  const lib = await Promise.all(LUA_LIB.map(async (n) => {
    await env.run("clang", [...cflags, "-fPIC", "-c", `${n}.c`, "-o", `${obj}/${n}.o`], src);
    return `${obj}/${n}.o`;
  }));
  await env.run("clang", [...cflags, "-fPIE", "-c", "lua.c", "-o", `${obj}/lua.o`], src);

  await env.run("ld.lld", [
    "-shared",
    ...MUSL_LDFLAGS,
    "-soname",
    "liblua.so",
    "-o",
    `${obj}/liblua.so`,
    ...lib,
    `-L${sysroot}/lib`,
    "-lc",
    env.libgcc,
  ], src);
  await env.run(
    "ld.lld",
    dynamicLinkArgs(sysroot, env.libgcc, `${obj}/lua`, [`${obj}/lua.o`], [`${obj}/liblua.so`]),
    src,
  );
  await Deno.mkdir(`${out}/rootfs/bin`, { recursive: true });
  await Deno.mkdir(`${out}/rootfs/usr/share/licenses/lua`, { recursive: true });
  await env.run(
    "llvm-objcopy",
    ["--strip-all", `${obj}/liblua.so`, `${out}/rootfs/lib/liblua.so`],
    src,
  );
  await env.run("llvm-objcopy", ["--strip-all", `${obj}/lua`, `${out}/rootfs/bin/lua`], src);
  await Deno.copyFile(`${out}/rootfs/lib/liblua.so`, `${sysroot}/lib/liblua.so`);
  for (const h of LUA_HEADERS) await Deno.copyFile(`${src}/${h}`, `${sysroot}/include/${h}`);
  const notice = luaNotice(await Deno.readTextFile(`${src}/lua.h`));
  await Deno.writeTextFile(`${out}/rootfs/usr/share/licenses/lua/COPYRIGHT`, notice);
  await Deno.writeTextFile(`${sysroot}/COPYRIGHT.lua`, notice);

  // The test suite, and the C modules attrib.lua loads with require/loadlib.
  const testes = `${out}/lua-testes`;
  await Deno.remove(testes, { recursive: true }).catch(() => {});
  await copyTree(`${src}/testes`, testes, (name) => !name.endsWith(".c") && name !== "makefile");
  await Deno.writeTextFile(`${testes}/COPYRIGHT`, notice);
  for (const [so, c] of Object.entries(LUA_TEST_LIBS)) {
    const o = `${obj}/test-${c}.o`;
    await env.run("clang", [...cflags, "-I.", "-fPIC", "-c", `testes/libs/${c}`, "-o", o], src);
    // Left undefined: the lua_* symbols come from liblua.so, already loaded, at dlopen.
    await env.run("ld.lld", ["-shared", ...MUSL_LDFLAGS, "-o", `${testes}/libs/${so}`, o], src);
  }
}

/** The copyright notice at the end of lua.h, as plain text. */
function luaNotice(luaH: string): string {
  const start = luaH.indexOf("* Copyright (C)");
  const end = luaH.indexOf("*****/", start);
  if (start < 0 || end < 0) throw new ThirdPartyError("third-party: no notice in lua.h");
  const body = luaH.slice(start, end).split("\n").map((l) => l.replace(/^\* ?/, "").trimEnd());
  while (body.length > 0 && body[body.length - 1] === "") body.pop();
  return "Lua 5.4.8\n\n" + body.join("\n") + "\n";
}

/**
 * ld.lld arguments for a static musl program (ET_EXEC) from `objects`,
 * against a sysroot that has libc.a.
 */
export function staticLinkArgs(sysroot: string, libgcc: string, out: string, objects: string[]) {
  const crt = (n: string) => `${sysroot}/lib/${n}`;
  return [
    "-static",
    ...MUSL_LDFLAGS.filter((f) => f !== "--hash-style=both"),
    "-o",
    out,
    crt("crt1.o"),
    crt("crti.o"),
    ...objects,
    crt("libc.a"),
    libgcc,
    crt("crtn.o"),
  ];
}

/** ld.lld arguments for a dynamic musl PIE from `objects` (and `libs`, e.g. liblua.so). */
export function dynamicLinkArgs(
  sysroot: string,
  libgcc: string,
  out: string,
  objects: string[],
  libs: string[] = [],
) {
  const crt = (n: string) => `${sysroot}/lib/${n}`;
  return [
    "-pie",
    ...MUSL_LDFLAGS,
    `--dynamic-linker=${MUSL_LDSO}`,
    "-o",
    out,
    crt("Scrt1.o"),
    crt("crti.o"),
    ...objects,
    ...libs,
    // -lc, not the path: musl's libc.so has no DT_SONAME, so DT_NEEDED is
    // the name the linker found it by ("libc.so", which ld.so maps to itself).
    `-L${sysroot}/lib`,
    "-lc",
    libgcc,
    crt("crtn.o"),
  ];
}

/** Copy a directory tree, files in sorted order, keeping only names `keep` accepts. */
async function copyTree(
  from: string,
  to: string,
  keep: (name: string) => boolean = () => true,
): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  const entries = [];
  for await (const e of Deno.readDir(from)) entries.push(e);
  entries.sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    if (e.isDirectory) await copyTree(`${from}/${e.name}`, `${to}/${e.name}`, keep);
    else if (e.isFile && keep(e.name)) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}
