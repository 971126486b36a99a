import { fuzzBriefly, testSeed } from "../../tools/fuzz/_fuzz_test_util.ts";

for (const mode of ["dax", "pagecache"] as const) {
  Deno.test(`execve() ends 200 mutated fixtures (${mode}) with a load or a one-line errno, leaking nothing`, async () => {
    // Each case: no exception, files closed, no inode reference or frame leaked, checkInvariants
    // clean. An even seed mounts DAX, an odd one the page cache.
    const seed = (testSeed() & ~1) | (mode === "dax" ? 0 : 1);
    await fuzzBriefly({ fuzzer: "elf", seed, cases: 200, deadlineMs: 120_000 }, 10);
  });
}
