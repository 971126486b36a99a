/**
 * Run one job per Worker and collect their reports, for the multi-Worker
 * suites in tests/fs. A watchdog terminates every Worker and fails the test
 * when they are still running after `watchdogMs`; Workers are always
 * terminated on the way out.
 *
 * @param workerUrl the Worker script; it answers one posted job with one report
 * @param failed the report to use for a Worker that threw (its message in `error`)
 * @param stuck extra text for the watchdog's message (a seed, a lock dump)
 */
export async function runJobWorkers<J, R>(
  workerUrl: string,
  jobs: readonly J[],
  watchdogMs: number,
  failed: (error: string) => R,
  stuck: () => string = () => "",
): Promise<R[]> {
  const workers = jobs.map(() => new Worker(workerUrl, { type: "module" }));
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const reports = workers.map((w, i) =>
      new Promise<R>((resolve) => {
        w.onmessage = (e: MessageEvent<R>) => resolve(e.data);
        w.onerror = (e) => {
          e.preventDefault();
          resolve(failed(`worker ${i}: ${e.message}`));
        };
        w.postMessage(jobs[i]!);
      })
    );
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`watchdog: workers still running after ${watchdogMs} ms${stuck()}`)),
        watchdogMs,
      );
    });
    return await Promise.race([Promise.all(reports), watchdog]);
  } finally {
    clearTimeout(timer);
    for (const w of workers) w.terminate();
  }
}
