/**
 * Headless Chromium for the live view's browser test, driven by
 * puppeteer-core (from npm; it never downloads a browser: it is given
 * Debian's). When no browser can be had, `launchBrowser` says why in one
 * line instead, and the test reports that line as its skip.
 *
 * @module
 */

// puppeteer-core is named inline, not in deno.json's import map, because
// every `deno task` installs the whole map: only this test needs it.
import type { Browser } from "npm:puppeteer-core@25.16.0";

/** Where Chromium is looked for, in order (XIP_CHROMIUM first when set). */
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/**
 * The flags headless Chromium needs on these machines: no sandbox (root,
 * containers), no GPU, and no background connections, which the closed
 * network would refuse (and which the view must not need anyway).
 */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function findChromium(): string | null {
  const env = Deno.env.get("XIP_CHROMIUM");
  for (const path of env ? [env, ...CANDIDATES] : CANDIDATES) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not there */ }
  }
  return null;
}

/** A browser, with its own profile directory; close() removes both. */
export interface TestBrowser {
  readonly browser: Browser;
  close(): Promise<void>;
}

type Puppeteer = typeof import("npm:puppeteer-core@25.16.0").default;

let found: { exe: string; puppeteer: Puppeteer } | null = null;

/**
 * Whether a browser can be had: Chromium is installed and puppeteer-core
 * loads. Call it once at module load, to register the test as ignored.
 *
 * @returns null when it can, else one line saying why not
 */
export async function browserUnavailable(): Promise<string | null> {
  const exe = findChromium();
  if (exe === null) {
    return `no Chromium at ${CANDIDATES.join(", ")} or $XIP_CHROMIUM (.ci/run installs Debian's)`;
  }
  try {
    found = { exe, puppeteer: (await import("npm:puppeteer-core@25.16.0")).default };
  } catch (e) {
    return `puppeteer-core cannot be loaded from npm: ${String(e).split("\n")[0]}`;
  }
  return null;
}

/**
 * Launch headless Chromium with a fresh profile (after browserUnavailable()
 * returned null).
 *
 * @throws Error when Chromium does not start
 */
export async function launchBrowser(): Promise<TestBrowser> {
  if (found === null) throw new Error("launchBrowser: call browserUnavailable() first");
  const profile = await Deno.makeTempDir({ prefix: "xip-chromium-" });
  try {
    const browser = await found.puppeteer.launch({
      executablePath: found.exe,
      headless: true,
      pipe: true, // DevTools over a pipe: no debugging port is opened
      args: [...FLAGS, `--user-data-dir=${profile}`],
    });
    return {
      browser,
      async close() {
        await browser.close().catch(() => {});
        await Deno.remove(profile, { recursive: true }).catch(() => {});
      },
    };
  } catch (e) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Chromium showing one page, with nothing attached to it (no DevTools protocol). */
export interface PlainBrowser {
  readonly pid: number;
  close(): Promise<void>;
}

/**
 * Open `url` in headless Chromium run as a plain process, the way a person's
 * browser would show the page: no puppeteer, so no DevTools traffic for
 * each stream message (bench/ui_compare.ts measures what the page costs).
 * After browserUnavailable() returned null.
 */
export async function openPlainChromium(url: string): Promise<PlainBrowser> {
  if (found === null) throw new Error("openPlainChromium: call browserUnavailable() first");
  const profile = await Deno.makeTempDir({ prefix: "xip-chromium-" });
  const child = new Deno.Command(found.exe, {
    args: [...FLAGS, `--user-data-dir=${profile}`, "--window-size=1280,900", url],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    pid: child.pid,
    async close() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}
