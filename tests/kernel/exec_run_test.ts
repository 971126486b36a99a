/**
 * End to end: execve() loads the fixtures and the hart runs them, init
 * calls first, with a test-side system-call table. Static programs must
 * print exactly what tests/guest/_expected.ts says (the same cases qemu is
 * checked against); dynamic rootfs programs print the same as their static
 * builds, in textMode "copy" and "map" (text from device frames).
 */

import assert from "node:assert/strict";
import { computeOutput, STATIC_CASES } from "../guest/_expected.ts";
import { PAGE_SIZE } from "../../src/abi/types.ts";
import { fixture, ok, ROOTFS, STATIC, withExec } from "./_exec_env.ts";
import { runGuest } from "./_run_guest.ts";

for (const c of STATIC_CASES) {
  Deno.test(`execve() + hart run static ${c.program}: ${c.name}`, () => {
    const argv = [c.argv0, ...c.args];
    withExec(`/${c.program}`, argv, [], { root: STATIC, textMode: "copy", ramFrames: 2048 }, (
      { mem, mm, res },
    ) => {
      const run = runGuest(mem, mm, ok(res));
      assert.equal(run.stdout, c.stdout);
      assert.equal(run.status, c.status, `stderr: ${run.stderr}`);
      assert.equal(run.initsRun, 0);
    });
  });
}

interface DynCase {
  program: string;
  args: string[];
  stdout: string;
  stderr?: string;
  status: number;
  inits: number;
}

const DYNAMIC_CASES: DynCase[] = [
  {
    program: "/bin/hello",
    args: ["one", "two words"],
    stdout: "hello from xip\nargv[0] = /bin/hello\nargv[1] = one\nargv[2] = two words\n",
    status: 0,
    inits: 0,
  },
  { program: "/bin/compute", args: [], stdout: computeOutput(1), status: 0, inits: 1 },
  { program: "/bin/compute", args: ["2"], stdout: computeOutput(2), status: 0, inits: 1 },
  {
    program: "/bin/compute",
    args: ["0"],
    stdout: "",
    stderr: "usage: compute [ITERATIONS >= 1]\n",
    status: 2,
    inits: 1,
  },
  {
    program: "/bin/segv",
    args: ["text"],
    stdout: "segv: storing to the text address\n",
    status: 139,
    inits: 0,
  },
];

for (const c of DYNAMIC_CASES) {
  for (const textMode of ["copy", "map"] as const) {
    const label = [c.program, ...c.args].join(" ");
    Deno.test(`execve() + hart run dynamic ${label} (${textMode}) exits ${c.status}`, () => {
      const argv = [c.program, ...c.args];
      const o = { root: ROOTFS, textMode, dax: true, ramFrames: 2048 };
      withExec(c.program, argv, ["PATH=/bin"], o, ({ mem, mm, env, res }) => {
        const loaded = ok(res);
        const run = runGuest(mem, mm, loaded);
        assert.equal(run.stdout, c.stdout);
        if (c.stderr !== undefined) assert.equal(run.stderr, c.stderr);
        assert.equal(run.status, c.status, `stderr: ${run.stderr}`);
        assert.equal(run.initsRun, c.inits, "init functions run before main");
        if (textMode === "map") {
          // Relocations, COW and segv's store into its text never changed the shared device copy.
          for (const l of loaded.loaded) {
            const bytes = fixture(ROOTFS, l.path);
            const at = env.devicePfnOf(l.path) * PAGE_SIZE;
            assert.deepEqual(
              mem.u8.subarray(at, at + bytes.length),
              bytes,
              `${l.path} on the device`,
            );
          }
        }
      });
    });
  }
}
