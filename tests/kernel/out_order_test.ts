import assert from "node:assert/strict";
import { GAP_MS, OutputOrder } from "../../src/kernel/out_order.ts";

Deno.test("OutputOrder delivers in ticket order whatever order the tickets arrive in", () => {
  const o = new OutputOrder();
  const got: number[] = [];
  for (const t of [2, 0, 3, 1, 5, 4]) o.put(t, () => got.push(t));
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
  o.close();
});

Deno.test("OutputOrder gives up on a missing ticket after GAP_MS, and still delivers it if it comes late", async () => {
  const o = new OutputOrder();
  const got: number[] = [];
  o.put(0, () => got.push(0));
  o.put(2, () => got.push(2));
  o.put(3, () => got.push(3));
  assert.deepEqual(got, [0], "held behind ticket 1");
  await new Promise((r) => setTimeout(r, GAP_MS + 50));
  assert.deepEqual(got, [0, 2, 3], "went on without ticket 1");
  o.put(1, () => got.push(1));
  assert.deepEqual(got, [0, 2, 3, 1], "a late ticket is delivered, not lost");
  o.close();
});

Deno.test("OutputOrder.close() delivers what it holds, in order", () => {
  const o = new OutputOrder();
  const got: number[] = [];
  o.put(4, () => got.push(4));
  o.put(2, () => got.push(2));
  o.close();
  assert.deepEqual(got, [2, 4]);
});
