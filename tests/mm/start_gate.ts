// Test helper: lets Workers start their racing loops at the same moment, so
// a concurrency test really overlaps them instead of running one after the
// other behind Worker start-up (tens of milliseconds each).

/** Longest a Worker waits for the others before racing anyway. */
const GATE_TIMEOUT_MS = 60_000;

/**
 * Arrive at the gate (word 0 of `gate`) and wait until `parties` Workers
 * have. Bounded: never waits more than GATE_TIMEOUT_MS in total.
 */
export function startTogether(gate: SharedArrayBuffer, parties: number): void {
  const g = new Int32Array(gate);
  const arrived = Atomics.add(g, 0, 1) + 1;
  if (arrived >= parties) {
    Atomics.notify(g, 0);
    return;
  }
  const deadline = Date.now() + GATE_TIMEOUT_MS;
  for (let seen = arrived; seen < parties && Date.now() < deadline; seen = Atomics.load(g, 0)) {
    Atomics.wait(g, 0, seen, Math.max(1, deadline - Date.now()));
  }
}
