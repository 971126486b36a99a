/**
 * Progress on stderr for long commands (xip run, the demo, the benchmark
 * report, the stress soak). On a terminal a status line is redrawn in
 * place; elsewhere (a pipe, a CI log) only whole lines are printed, so that
 * logs stay readable and a test's stderr stays empty unless something is
 * said on purpose.
 *
 * @module
 */

import type { Machine } from "../kernel/machine.ts";

const enc = new TextEncoder();

/** A status line on stderr: redrawn in place on a terminal, silent elsewhere. */
export class StatusLine {
  #shown = false;
  /** Whether stderr is a terminal, where the line is drawn. */
  readonly live: boolean;

  constructor(live: boolean = Deno.stderr.isTerminal()) {
    this.live = live;
  }

  /** Replace the status line with `text` (terminal only). */
  draw(text: string): void {
    if (!this.live) return;
    let cols = 100;
    try {
      cols = Deno.consoleSize().columns;
    } catch { /* not a console after all: keep the default */ }
    Deno.stderr.writeSync(enc.encode(`\r\x1b[K${text.slice(0, Math.max(20, cols - 1))}`));
    this.#shown = true;
  }

  /** Remove the status line (terminal only). */
  clear(): void {
    if (this.#shown) Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
    this.#shown = false;
  }

  /** Print `text` as a line of its own on stderr, above the status line. */
  log(text: string): void {
    this.clear();
    Deno.stderr.writeSync(enc.encode(text + "\n"));
  }
}

/** "42s", "3m05s" or "1h02m" for a duration in milliseconds. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

/**
 * Estimated time left when `done` of `total` units of work (any unit:
 * seconds of expected work, rounds) took `elapsedMs`: the rest at the same
 * rate. Null before any work is done.
 */
export function etaMs(done: number, total: number, elapsedMs: number): number | null {
  if (done <= 0 || total <= 0) return null;
  return (elapsedMs / done) * Math.max(0, total - done);
}

/** "1m05s elapsed, about 2m10s left" (or "..., estimating" before any work is done). */
export function etaText(done: number, total: number, elapsedMs: number): string {
  const left = etaMs(done, total, elapsedMs);
  const tail = left === null ? "estimating the time left" : `about ${formatDuration(left)} left`;
  return `${formatDuration(elapsedMs)} elapsed, ${tail}`;
}

/**
 * Redraw `status` with `text()` every `ms` while work goes on (terminal
 * only). Returns the function that stops it and clears the line.
 */
export function ticker(status: StatusLine, text: () => string, ms = 1000): () => void {
  if (!status.live) return () => {};
  status.draw(text());
  const timer = setInterval(() => status.draw(text()), ms);
  return () => {
    clearInterval(timer);
    status.clear();
  };
}

/** How often a machine's progress line is redrawn, in ms. */
const MACHINE_PROGRESS_MS = 500;

/**
 * While a machine runs, redraw `status` with `label`, the processes alive,
 * instructions per second over the last interval and the faults so far,
 * every figure read from machine.stats(). Returns the function that stops
 * it and clears the line. Does nothing off a terminal.
 */
export function machineProgress(machine: Machine, status: StatusLine, label: string): () => void {
  if (!status.live) return () => {};
  let last = machine.stats();
  let lastAt = performance.now();
  const timer = setInterval(() => {
    const now = machine.stats();
    const at = performance.now();
    const ips = (now.instret - last.instret) / ((at - lastAt) / 1000);
    const f = now.faults;
    const faults = f.dax + f.file_major + f.file_minor + f.cow + f.anon + f.zero;
    status.draw(
      `${label}: ${machine.live} alive, ${(ips / 1e6).toFixed(1)} M instr/s, ` +
        `${faults} faults (dax ${f.dax}, file ${f.file_major + f.file_minor}, ` +
        `anon ${f.anon}, cow ${f.cow})`,
    );
    last = now;
    lastAt = at;
  }, MACHINE_PROGRESS_MS);
  return () => {
    clearInterval(timer);
    status.clear();
  };
}
