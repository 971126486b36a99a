import { fuzzBriefly, testSeed } from "../../tools/fuzz/_fuzz_test_util.ts";

for (const mode of ["dax", "pagecache"] as const) {
  Deno.test(`random syscall streams over the live VFS (${mode}) never throw and leave the machine consistent`, async () => {
    // An even seed mounts DAX, an odd one the page cache.
    const seed = (testSeed() & ~1) | (mode === "dax" ? 0 : 1);
    await fuzzBriefly({ fuzzer: "syscall", seed, cases: 60, deadlineMs: 120_000 }, 2);
  });
}
