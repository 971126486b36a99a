/**
 * guest/build.ts: rebuild every RISC-V binary under fixtures/ from guest/.
 *
 * `deno task guest` writes fixtures/rootfs (bin/, lib/, etc/),
 * fixtures/static and fixtures/huge (libbig.so, 16 MiB, and bigtouch). `deno run -A guest/build.ts --out DIR` builds into DIR
 * instead (tests use that to check the committed fixtures are current).
 *
 * `--thirdparty DIR` (or $XIP_THIRDPARTY) names the directory holding the
 * musl and Lua release tarballs: musl, its dynamic linker, liblua.so, lua,
 * the development sysroot and Lua's test suite are then rebuilt too
 * (guest/thirdparty.ts). Without it they are left as committed, and the
 * project's musl programs (guest/musl/) are built against the committed
 * fixtures/sysroot.
 *
 * The output is byte-for-byte reproducible: clang runs from the repository
 * root on relative paths, there is no debug info, no build id and no time
 * stamp, and inputs are always given in the same order.
 *
 * @module
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  buildThirdParty,
  dynamicLinkArgs,
  muslCflags,
  staticLinkArgs,
  ThirdPartyError,
} from "./thirdparty.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

const TARGET = ["--target=riscv32-unknown-linux-gnu", "-march=rv32ima", "-mabi=ilp32"];

/** Flags for every translation unit. -mno-relax keeps lld from needing gp. */
const CFLAGS = [
  ...TARGET,
  "-std=gnu11",
  "-O2",
  "-ffreestanding",
  "-fno-builtin",
  "-nostdlib",
  "-nostdlibinc", // keep clang's own stddef.h/stdint.h/stdarg.h, nothing from the host
  "-fno-stack-protector",
  "-fno-common",
  "-fno-asynchronous-unwind-tables",
  "-fno-unwind-tables",
  "-mno-relax",
  "-Wall",
  "-Wextra",
  "-Werror",
  `-ffile-prefix-map=${ROOT}/=`,
  "-Iguest/libxc/include",
  "-Iguest/libcompute/include",
];

/** Flags for every link: 4 KiB pages, no build id, bind everything at load. */
const LDFLAGS = ["--build-id=none", "-z", "max-page-size=4096", "-z", "now", "--no-relax"];

const LIBXC = [
  "syscalls",
  "start",
  "string",
  "stdlib",
  "malloc",
  "stdio",
  "printf",
  "sync",
  "divdi3",
  "process",
  "thread",
  "signal",
  "ipc",
  "socket",
].map((n) => `guest/libxc/src/${n}.c`);

const LIBCOMPUTE = ["crc32", "matrix", "sort"].map((n) => `guest/libcompute/${n}.c`);

/** Dynamic programs in rootfs/bin, and the libraries each needs besides libc. */
const PROGRAMS: Record<string, string[]> = {
  hello: [],
  compute: ["libcompute.so"],
  counter: [],
  segv: [],
  maps: [],
  fsx: [],
  hostile: [],
  hwpoison: [],
  mapsync: [],
  forkcow: [],
  proctest: [],
  exectest: [],
  true: [],
  threads: [],
  nproc: [],
  pipetest: [],
  sh: [],
  wc: [],
  sigctl: [],
  ipcpeer: [],
  spew: [],
  cat: [],
  env: [],
  poke: [],
};

/** Static programs for qemu-riscv32: name -> source (and whether it needs libcompute). */
const STATIC: Record<string, { src: string; compute?: boolean }> = {
  hello: { src: "guest/bin/hello.c" },
  compute: { src: "guest/bin/compute.c", compute: true },
  segv: { src: "guest/bin/segv.c" },
  counter: { src: "guest/bin/counter.c" },
  maps: { src: "guest/bin/maps.c" },
  mext: { src: "guest/tests/mext.c" },
  amo: { src: "guest/tests/amo.c" },
  format: { src: "guest/tests/format.c" },
  alloc: { src: "guest/tests/alloc.c" },
  exitcode: { src: "guest/tests/exitcode.c" },
  forkcow: { src: "guest/bin/forkcow.c" },
  proctest: { src: "guest/bin/proctest.c" },
  exectest: { src: "guest/bin/exectest.c" },
  true: { src: "guest/bin/true.c" },
  threads: { src: "guest/bin/threads.c" },
  nproc: { src: "guest/bin/nproc.c" },
  pipetest: { src: "guest/bin/pipetest.c" },
  sh: { src: "guest/bin/sh.c" },
  wc: { src: "guest/bin/wc.c" },
  sigbasic: { src: "guest/tests/sigbasic.c" },
  sigdie: { src: "guest/tests/sigdie.c" },
  ipcbasic: { src: "guest/tests/ipcbasic.c" },
  ipcpeer: { src: "guest/bin/ipcpeer.c" },
  ipcfork: { src: "guest/tests/ipcfork.c" },
  unixbasic: { src: "guest/tests/unixbasic.c" },
  linktest: { src: "guest/tests/linktest.c" },
  polltest: { src: "guest/tests/polltest.c" },
  futextest: { src: "guest/tests/futextest.c" },
  ipcbench: { src: "guest/bin/ipcbench.c" },
  xld: { src: "guest/tools/xld.c" }, // reference loader: runs rootfs/bin/* under qemu
};

const MOTD = "Welcome to xip: these programs run in place from the memory device.\n";

/** The groups of the musl conformance test, mtest (guest/musl/NAME.c), in its link order. */
export const MTEST_GROUPS = [
  "stdio",
  "memory",
  "strings",
  "time",
  "files",
  "dirs",
  "errnos",
  "proc",
  "signals",
  "threads",
  "procs",
] as const;

/**
 * The project's musl programs: name -> sources. Each is built as a dynamic
 * PIE into rootfs/usr/bin and, when the third-party build runs (it needs
 * libc.a), statically into static/musl/. hello is bin/hello.c again: the
 * same program as /bin/hello, on musl (user-space ld.so) instead of libxc
 * (linked by the kernel), for the report's relocation-cost comparison.
 */
const MUSL_PROGRAMS: Record<string, string[]> = {
  hello: ["guest/bin/hello.c"],
  mtest: ["main", ...MTEST_GROUPS].map(
    (n) => `guest/musl/${n}.c`,
  ),
};

class BuildError extends Error {}

/** Run a tool in `cwd` (the repository root by default); returns its stdout. */
async function runIn(
  cmd: string,
  args: string[],
  cwd = ROOT,
  env?: Record<string, string>,
): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, cwd, env, stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new BuildError(`${cmd} not found: install clang lld llvm (and make for --thirdparty)`);
    }
    throw e;
  }
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new BuildError(`${cmd} ${args.join(" ")}\n${err.slice(-4000)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function run(cmd: string, args: string[]): Promise<void> {
  await runIn(cmd, args);
}

/** The rv32im/ilp32 libgcc.a (soft-float and 64-bit division helpers) musl guests link. */
async function findLibgcc(): Promise<string> {
  const args = ["-march=rv32im", "-mabi=ilp32", "-print-libgcc-file-name"];
  let path: string;
  try {
    path = (await runIn("riscv64-unknown-elf-gcc", args)).trim();
  } catch {
    throw new BuildError("riscv64-unknown-elf-gcc not found: install gcc-riscv64-unknown-elf");
  }
  try {
    await Deno.stat(path);
  } catch {
    throw new BuildError(`${path} not found: install gcc-riscv64-unknown-elf`);
  }
  return path;
}

/** Compile the musl programs' sources against `sysroot`: name -> objects. */
async function compileMusl(sysroot: string, objDir: string): Promise<Record<string, string[]>> {
  const flags = [
    ...muslCflags(sysroot),
    "-std=gnu11",
    "-fPIE",
    "-Wall",
    "-Wextra",
    "-Werror",
    `-ffile-prefix-map=${ROOT}/=`,
  ];
  const out: Record<string, string[]> = {};
  for (const [name, srcs] of Object.entries(MUSL_PROGRAMS)) {
    out[name] = await Promise.all(srcs.map(async (src) => {
      const obj = `${objDir}/musl-${src.replace(/[/.]/g, "_")}.o`;
      await run("clang", [...flags, "-c", src, "-o", obj]);
      return obj;
    }));
  }
  return out;
}

/** Dynamic musl programs into rootfs/usr/bin, against `sysroot`. */
async function buildMuslDynamic(out: string, sysroot: string, libgcc: string): Promise<void> {
  const objDir = await Deno.makeTempDir({ prefix: "xip-guest-musl-" });
  try {
    await Deno.mkdir(`${out}/rootfs/usr/bin`, { recursive: true });
    const objs = await compileMusl(sysroot, objDir);
    for (const [name, o] of Object.entries(objs)) {
      const bin = `${out}/rootfs/usr/bin/${name}`;
      await run("ld.lld", dynamicLinkArgs(sysroot, libgcc, bin, o));
      await run("llvm-objcopy", ["--strip-all", bin]); // libgcc.a carries debug info
    }
  } finally {
    await Deno.remove(objDir, { recursive: true });
  }
}

/** Static musl programs into static/musl/, against a sysroot with libc.a. */
async function buildMuslStatic(out: string, sysroot: string, libgcc: string): Promise<void> {
  const objDir = await Deno.makeTempDir({ prefix: "xip-guest-musl-" });
  try {
    await Deno.mkdir(`${out}/static/musl`, { recursive: true });
    const objs = await compileMusl(sysroot, objDir);
    for (const [name, o] of Object.entries(objs)) {
      const bin = `${out}/static/musl/${name}`;
      await run("ld.lld", staticLinkArgs(sysroot, libgcc, bin, o));
      await run("llvm-objcopy", ["--strip-all", bin]);
    }
  } finally {
    await Deno.remove(objDir, { recursive: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The third-party build when `dir` is given, then the musl programs: into
 * `out`, against out/sysroot when it exists (just rebuilt, or OUT is
 * fixtures/), else the committed fixtures/sysroot.
 */
async function buildMuslSide(out: string, dir: string | undefined): Promise<void> {
  const libgcc = await findLibgcc();
  if (dir !== undefined) {
    const jobs = navigator.hardwareConcurrency ?? 2;
    await buildThirdParty(
      { run: runIn, dir: resolve(dir), out, libgcc, jobs },
      (sysroot) => buildMuslStatic(out, sysroot, libgcc),
    );
  } else {
    console.log(
      "guest: musl and Lua not rebuilt (no --thirdparty DIR or $XIP_THIRDPARTY); " +
        "musl programs built against the committed sysroot",
    );
  }
  const sysroot = await exists(`${out}/sysroot/lib/libc.so`)
    ? `${out}/sysroot`
    : `${ROOT}/fixtures/sysroot`;
  await buildMuslDynamic(out, sysroot, libgcc);
}

/** Compile one C file to an object in `objDir`; returns the object path. */
async function compile(
  src: string,
  objDir: string,
  tag: string,
  extra: string[],
): Promise<string> {
  const obj = `${objDir}/${tag}-${src.replace(/[/.]/g, "_")}.o`;
  await run("clang", [...CFLAGS, ...extra, "-c", src, "-o", obj]);
  return obj;
}

async function build(out: string): Promise<void> {
  await run("clang", ["--version"]);
  await run("ld.lld", ["--version"]);

  for (const d of ["rootfs/bin", "rootfs/lib", "rootfs/etc", "static"]) {
    await Deno.mkdir(`${out}/${d}`, { recursive: true });
  }
  const objDir = await Deno.makeTempDir({ prefix: "xip-guest-" });
  try {
    const pic = (src: string) => compile(src, objDir, "pic", ["-fPIC"]);
    const pie = (src: string) => compile(src, objDir, "pie", ["-fPIE"]);
    const [libxc, libcompute, crt0, crt0Static, progs, statics] = await Promise.all([
      Promise.all(LIBXC.map(pic)),
      Promise.all(LIBCOMPUTE.map(pic)),
      compile("guest/libxc/crt0.c", objDir, "dyn", ["-fPIE"]),
      compile("guest/libxc/crt0.c", objDir, "static", ["-fPIE", "-DXC_STATIC"]),
      Promise.all(Object.keys(PROGRAMS).map((p) => pie(`guest/bin/${p}.c`))),
      Promise.all(Object.values(STATIC).map((s) => pie(s.src))),
    ]);

    // Shared libraries. -Bsymbolic binds a library's calls to its own
    // functions directly, so libc.so has no PLT and no symbol relocations.
    const lib = `${out}/rootfs/lib`;
    const shared = ["-shared", "-Bsymbolic", "--hash-style=both", "-z", "defs", ...LDFLAGS];
    await run("ld.lld", [...shared, "-soname", "libc.so", "-o", `${lib}/libc.so`, ...libxc]);
    await run("ld.lld", [
      ...shared,
      "-soname",
      "libcompute.so",
      "-o",
      `${lib}/libcompute.so`,
      ...libcompute,
      `${lib}/libc.so`,
    ]);

    // Dynamic programs: PIE with no PT_INTERP; the runtime is the loader.
    const names = Object.keys(PROGRAMS);
    await Promise.all(names.map((name, i) =>
      run("ld.lld", [
        "-pie",
        "--no-dynamic-linker",
        ...LDFLAGS,
        "-o",
        `${out}/rootfs/bin/${name}`,
        crt0,
        progs[i]!,
        ...PROGRAMS[name]!.map((l) => `${lib}/${l}`),
        `${lib}/libc.so`,
      ])
    ));

    // Static programs: ET_EXEC at a fixed address, no dynamic section at all.
    const snames = Object.keys(STATIC);
    await Promise.all(snames.map((name, i) =>
      run("ld.lld", [
        "-static",
        ...LDFLAGS,
        "-o",
        `${out}/static/${name}`,
        crt0Static,
        statics[i]!,
        ...(STATIC[name]!.compute ? libcompute : []),
        ...libxc,
      ])
    ));

    await Deno.writeTextFile(`${out}/rootfs/etc/motd`, MOTD);
    await buildHuge(out, objDir, crt0, lib);
  } finally {
    await Deno.remove(objDir, { recursive: true });
  }
}

/** Bytes of libbig.so's blob (guest/big/libbig.c BIG_BYTES). */
const BIG_BYTES = 16 << 20;
/** The word page i of the blob starts with is BIG_MAGIC ^ i. */
const BIG_MAGIC = 0x5197_0000;

/**
 * fixtures/huge: libbig.so (a 16 MiB read-only segment, guest/big) and
 * bin/bigtouch, for the megapage tests and bench. Kept out of rootfs so the
 * images built from it stay small; the blob is generated here, the same
 * bytes every time.
 */
async function buildHuge(out: string, objDir: string, crt0: string, libDir: string): Promise<void> {
  await Deno.mkdir(`${out}/huge/bin`, { recursive: true });
  await Deno.mkdir(`${out}/huge/lib`, { recursive: true });
  const blob = new Uint8Array(BIG_BYTES);
  const v = new DataView(blob.buffer);
  for (let i = 0; i < BIG_BYTES / 4096; i++) v.setUint32(i * 4096, (BIG_MAGIC ^ i) >>> 0, true);
  const blobPath = `${objDir}/big.blob`;
  await Deno.writeFile(blobPath, blob);
  const obj = (src: string, extra: string[]) => compile(src, objDir, "big", ["-fPIC", ...extra]);
  const [c, s] = await Promise.all([
    obj("guest/big/libbig.c", []),
    obj("guest/big/blob.S", [`-DBLOB_PATH="${blobPath}"`]),
  ]);
  const big = `${out}/huge/lib/libbig.so`;
  const shared = ["-shared", "-Bsymbolic", "--hash-style=both", "-z", "defs", ...LDFLAGS];
  await run("ld.lld", [...shared, "-soname", "libbig.so", "-o", big, c, s]);
  const prog = await compile("guest/bin/bigtouch.c", objDir, "pie", ["-fPIE"]);
  await run("ld.lld", [
    "-pie",
    "--no-dynamic-linker",
    ...LDFLAGS,
    "-o",
    `${out}/huge/bin/bigtouch`,
    crt0,
    prog,
    big,
    `${libDir}/libc.so`,
  ]);
}

const USAGE = `usage: deno task guest [--out DIR] [--thirdparty DIR]

Rebuild the RISC-V binaries under fixtures/ from guest/ with clang and lld.

options:
  --out DIR         write the output tree to DIR instead of fixtures/
  --thirdparty DIR  the directory holding musl-1.2.5.tar.gz and lua-5.4.8.tar.gz
                    (or $XIP_THIRDPARTY): rebuild musl, its dynamic linker,
                    liblua.so, lua, the sysroot and Lua's test suite too;
                    without it they stay as committed
  -h, --help        show this help

exit status: 0 built; 1 a build step failed; 2 bad usage.`;

/** The options, or a one-line usage error and exit status 2. */
function parseOptions(): { out?: string; thirdparty?: string } {
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        out: { type: "string" },
        thirdparty: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(USAGE);
      Deno.exit(0);
    }
    return values;
  } catch (e) {
    console.error(`guest: ${e instanceof Error ? e.message : String(e)} (--help for usage)`);
    Deno.exit(2);
  }
}

if (import.meta.main) {
  const values = parseOptions();
  const out = values.out ? resolve(values.out) : `${ROOT}/fixtures`;
  const dir = values.thirdparty ?? Deno.env.get("XIP_THIRDPARTY");
  try {
    await build(out);
    await buildMuslSide(out, dir === "" ? undefined : dir);
    console.log(`guest: built ${out}`);
  } catch (e) {
    if (e instanceof ThirdPartyError) {
      console.error(e.message);
      Deno.exit(1);
    }
    if (!(e instanceof BuildError)) throw e;
    console.error(e.message);
    Deno.exit(1);
  }
}
