/**
 * Keep SIGINT, SIGTERM and SIGHUP from cutting a file write short: while
 * `body` runs they are only noted (a Deno listener replaces the default
 * action, which would end the process at once, leaving a temporary file
 * behind), and acted on once it is done.
 *
 * @module
 */

const SIGNALS = [["SIGINT", 2], ["SIGTERM", 15], ["SIGHUP", 1]] as const;

/**
 * Run `body` with the signals deferred.
 *
 * @returns body's result, and the first signal that arrived meanwhile (0: none)
 */
export async function withSignalsDeferred<T>(body: () => T): Promise<[T, number]> {
  let got = 0;
  const handlers = SIGNALS.map(([sig, n]) => [sig, () => got ||= n] as const);
  for (const [sig, fn] of handlers) Deno.addSignalListener(sig, fn);
  try {
    const value = body();
    // Signals that came during body are queued: let their listeners run.
    await new Promise((r) => setTimeout(r, 0));
    return [value, got];
  } finally {
    for (const [sig, fn] of handlers) Deno.removeSignalListener(sig, fn);
  }
}
