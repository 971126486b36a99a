import { fuzzBriefly, testSeed } from "./_fuzz_test_util.ts";

Deno.test("execve() ends 300 mutated fixtures with a load or a one-line errno, leaking nothing", async () => {
  // Each case: no exception, files closed, no inode reference or frame leaked, checkInvariants clean.
  await fuzzBriefly({ fuzzer: "elf", seed: testSeed(), cases: 300, deadlineMs: 120_000 }, 10);
});
