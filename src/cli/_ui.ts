/**
 * `--ui [HOST:]PORT` and `--ui-hold` of `xip run` and the demo: start the
 * live view (src/ui) beside the Machine, print its URL on stderr, and stop
 * it when the command ends. The run itself is unchanged: the view only
 * reads.
 *
 * @module
 */

import type { Machine } from "../kernel/machine.ts";
import {
  isLoopback,
  parseListen,
  startViewServer,
  ViewError,
  type ViewServer,
} from "../ui/server.ts";
import { View, type ViewRun } from "../ui/view.ts";
import type { OptionSpec, Parsed } from "./_command.ts";
import { CliError, usageError } from "./_common.ts";

/** The two options, for a command's option table. */
export const UI_OPTIONS: readonly OptionSpec[] = [
  {
    name: "ui",
    arg: "[HOST:]PORT",
    help: "serve a live view of physical memory, the processes\n" +
      "and their faults at http://HOST:PORT/ while the run\n" +
      "goes on (HOST: 127.0.0.1 unless given; port 0: any)",
  },
  { name: "ui-hold", help: "after the run, keep serving its final state until Ctrl-C" },
];

/** A live view started for a command. */
export interface CliView {
  readonly url: string;
  /** Watch `machine` as a run named `label`; call finish() on the result before shutdown. */
  watch(label: string, machine: Machine): ViewRun;
  /** With --ui-hold and `hold`, wait for Ctrl-C (SIGINT or SIGTERM); then stop the server. */
  close(hold?: boolean): Promise<void>;
}

/**
 * Start the view when `values.ui` is set (before booting, so a bad address
 * fails first). `say` prints one line on stderr.
 *
 * @returns null without --ui
 * @throws CliError: usage (2) for a bad address or --ui-hold alone, 1 when it cannot listen
 */
export function openUi(values: Parsed["values"], say: (line: string) => void): CliView | null {
  const spec = values.ui;
  const hold = values["ui-hold"] === true;
  if (spec === undefined || Array.isArray(spec)) {
    if (hold) throw usageError("--ui-hold needs --ui");
    return null;
  }
  let server: ViewServer;
  const view = new View();
  try {
    const addr = parseListen(String(spec));
    server = startViewServer(view, addr);
    if (!isLoopback(addr.hostname)) {
      say(`the view listens on ${addr.hostname}, reachable from other machines (read-only)`);
    }
  } catch (e) {
    if (e instanceof ViewError) {
      throw e.message.startsWith("cannot listen")
        ? new CliError(`--ui: ${e.message}`, 1)
        : usageError(`--ui: ${e.message}`);
    }
    throw e;
  }
  say(`live view at ${server.url}`);
  return {
    url: server.url,
    watch: (label, machine) => view.addRun(label, machine),
    async close(holdNow = true) {
      if (hold && holdNow) {
        say(`the view stays at ${server.url} until Ctrl-C`);
        await untilInterrupted();
      }
      await server.close();
    },
  };
}

/** Resolve at the first SIGINT or SIGTERM. */
function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const done = () => {
      for (const s of signals) Deno.removeSignalListener(s, done);
      resolve();
    };
    for (const s of signals) Deno.addSignalListener(s, done);
  });
}
