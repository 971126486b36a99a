/**
 * Up-front limits of `xip run`: what a run would take from the host,
 * checked before anything starts, so that a command line that cannot work
 * fails at once with one line instead of thrashing the host.
 *
 * @module
 */

import { computeLayout } from "../abi/layout/mod.ts";
import { PAGE_SIZE } from "../abi/types.ts";
import { MAX_IMAGE_BYTES } from "../hw/image.ts";
import { CliError, envGet } from "./_common.ts";

const MIB = 1024 * 1024;

/**
 * Host memory a process Worker takes while it runs: its isolate, the
 * kernel modules and the hart (measured on this project's machines: about 16 MiB per busy Worker).
 */
export const WORKER_HOST_BYTES = 16 * MIB;
/** The Deno process itself with the Machine's main thread. */
export const MACHINE_HOST_BYTES = 64 * MIB;

/** Host bytes a run of `procs` processes with `ram` bytes of RAM on an image of `image` bytes takes. */
export function runHostBytes(procs: number, ram: number, image: number): number {
  const tables = computeLayout({
    ramFrames: ram / PAGE_SIZE,
    deviceFrames: image / PAGE_SIZE,
    deviceMemmap: false,
    maxTasks: procs + 2,
  }).bytes;
  return MACHINE_HOST_BYTES + procs * WORKER_HOST_BYTES + ram + image + tables;
}

/**
 * Host memory available to this run: XIP_HOST_MEMORY (bytes) when set, for
 * a container whose limit the host does not report, else MemAvailable.
 */
export function hostAvailable(): number {
  const env = envGet("XIP_HOST_MEMORY");
  if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  try {
    return Deno.systemMemoryInfo().available; // needs --allow-sys
  } catch { /* not granted: try /proc */ }
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(Deno.readTextFileSync("/proc/meminfo"));
    if (m !== null) return Number(m[1]) * 1024;
  } catch { /* not readable either */ }
  return Infinity; // unknown: do not refuse
}

const gib = (n: number): string => `${(n / (1024 * MIB)).toFixed(1)} GiB`;

/**
 * Refuse a run that cannot fit: an image larger than run loads, or more
 * host memory than is available.
 *
 * @throws CliError (status 1) with one line
 */
export function checkRunLimits(image: string, procs: number, ram: number): void {
  let size = 0;
  try {
    size = Deno.statSync(image).size;
  } catch {
    return; // opening the image reports it
  }
  if (size > MAX_IMAGE_BYTES) {
    throw new CliError(
      `image ${image}: ${gib(size)} is larger than run supports (${gib(MAX_IMAGE_BYTES)}: ` +
        `the whole device lives in memory)`,
      1,
    );
  }
  const need = runHostBytes(procs, ram, size - (size % PAGE_SIZE));
  const have = hostAvailable();
  if (need > have) {
    throw new CliError(
      `--procs ${procs} with --ram ${ram / MIB}M would take about ${gib(need)} of host memory ` +
        `(${WORKER_HOST_BYTES / MIB} MiB per process Worker, plus RAM and image); ` +
        `${gib(have)} is available`,
      1,
    );
  }
}
