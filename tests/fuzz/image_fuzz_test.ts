import assert from "node:assert/strict";
import { imageFuzzCase, imageFuzzSetup } from "../../tools/fuzz/_image_fuzz_core.ts";
import { fuzzBriefly, testSeed } from "../../tools/fuzz/_fuzz_test_util.ts";

Deno.test("a mutated xipfs image is refused in one line or fails operations with errnos, never throws", async () => {
  // Each case: fsck never throws, mount refusals are fsck status 8, -EUCLEAN/-EIO only on images
  // fsck flags, no operation throws, and checkInvariants is clean after unmount.
  await fuzzBriefly({ fuzzer: "image", seed: testSeed(), cases: 150, deadlineMs: 120_000 }, 3);
});

Deno.test("image fuzz regression: a repair that cannot make /lost+found places lost files in / (seed 700312325, case 127)", () => {
  // totalBlocks cut below the data blocks leaves no block free for /lost+found; e2fsck's
  // answer to "Place lost files in root directory instead?" is what fsck -y does.
  const z = imageFuzzSetup(700312325);
  assert.deepEqual(imageFuzzCase(z, 127).problems, []);
});

Deno.test("image fuzz regression: a root-directory hole with no free block is closed by compacting the directory (seed 424242, case 845)", () => {
  // fsck -y fills a directory hole with a fresh block; with none free it moves the directory's
  // blocks down over the hole instead (e2fsck -D's compression) and keeps every entry.
  const z = imageFuzzSetup(424242);
  assert.deepEqual(imageFuzzCase(z, 845).problems, []);
});
