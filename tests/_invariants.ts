/**
 * Test helper (not a test): the assertion every concurrency and chaos test
 * ends with (issue 8), so the wording lives in one place. Call it at
 * quiescence only: every Worker stopped or parked outside the kernel.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Memory } from "../src/hw/memory.ts";
import { checkInvariants, type InvariantOptions } from "../src/kernel/invariants.ts";

/** Anything with the Machine's checkInvariants (a Machine), or raw memory. */
type Subject = Memory | { checkInvariants(opts?: InvariantOptions): string[] };

/**
 * Assert that checkInvariants reports nothing on `on` (a Machine or the
 * raw Memory of a lower-level suite), with `opts` (pins, fsck, ...).
 * `what` names the moment in the failure message (a seed, a round).
 */
export function assertInvariants(on: Subject, opts: InvariantOptions = {}, what = ""): void {
  const lines = "checkInvariants" in on ? on.checkInvariants(opts) : checkInvariants(on, opts);
  assert.deepEqual(lines, [], `invariants${what === "" ? "" : ` ${what}`}`);
}
