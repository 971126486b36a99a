import { fuzzBriefly, testSeed } from "../../tools/fuzz/_fuzz_test_util.ts";

Deno.test("a mutated xipfs image is refused in one line or fails operations with errnos, never throws", async () => {
  // Each case: fsck never throws, mount refusals are fsck status 8, -EUCLEAN/-EIO only on images
  // fsck flags, no operation throws, and checkInvariants is clean after unmount.
  await fuzzBriefly({ fuzzer: "image", seed: testSeed(), cases: 150, deadlineMs: 120_000 }, 3);
});
