/**
 * The live view's web server (`xip run --ui [HOST:]PORT`, `deno task demo
 * --ui`): Deno.serve beside the Machine, on loopback unless told otherwise.
 *
 * ```
 *  GET /                 the page; /app.js and /style.css, embedded in the package
 *  GET /api/stats        machine.stats() of the current run, exactly as --stats writes it
 *  GET /api/runs         every run's totals (the demo's DAX and page-cache runs side by side)
 *  GET /api/frames       the frame map (src/ui/encode.ts FrameMap)
 *  GET /api/frame?pfn=N  one frame: kind, counters, mapping processes, file and offset
 *  GET /api/procs        the process table
 *  GET /api/faults?n=N   the newest N fault-ring records
 *  GET /api/stream       server-sent events: hello, then an update about every 100 ms
 * ```
 *
 * Read-only by construction: every route reads, none takes a body, and any
 * method but GET or HEAD gets 405. Requests whose Host header names another
 * host are refused (a DNS-rebinding page could otherwise read the view from
 * a browser), unless the server was bound to a wildcard address on purpose.
 * The page is served with a Content-Security-Policy that lets it load and
 * connect to this origin only.
 *
 * @module
 */

import { statsJson } from "../kernel/stats.ts";
import { sseEvent } from "./sse.ts";
import type { View } from "./view.ts";
import { WEB_ASSETS } from "./web/_assets.ts";

/** The default port of `--ui` when only a host is meant (and the README's). */
export const DEFAULT_UI_PORT = 8765;

/** Where to listen. */
export interface ListenAddr {
  readonly hostname: string;
  readonly port: number;
}

/** A bad --ui value or a failure to listen; the message is one line. */
export class ViewError extends Error {
  override name = "ViewError";
}

/**
 * Parse `[HOST:]PORT` (an IPv6 host in brackets: `[::1]:8765`). A bare
 * port listens on 127.0.0.1.
 *
 * @throws ViewError naming what is wrong
 */
export function parseListen(text: string): ListenAddr {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(text.trim());
  if (m === null) throw new ViewError(`bad address "${text}" (expected [HOST:]PORT)`);
  const port = Number(m[2]);
  if (port > 65535) throw new ViewError(`port ${port} is outside 0..65535`);
  const host = m[1] ?? "127.0.0.1";
  return { hostname: host.startsWith("[") ? host.slice(1, -1) : host, port };
}

/** Whether `hostname` names this machine's loopback interface only. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

const WILDCARD = new Set(["0.0.0.0", "::"]);

/** The host part of a URL for `hostname` (IPv6 in brackets). */
const urlHost = (hostname: string): string => (hostname.includes(":") ? `[${hostname}]` : hostname);

/** Headers every response carries. */
const BASE_HEADERS: Record<string, string> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** The page may load from and talk to its own origin only: no CDN, no network. */
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function json(body: unknown, status = 200): Response {
  return text(typeof body === "string" ? body : JSON.stringify(body), "application/json", status);
}

function text(body: string, type: string, status = 200, extra: Record<string, string> = {}) {
  return new Response(body, {
    status,
    headers: { ...BASE_HEADERS, "content-type": `${type}; charset=utf-8`, ...extra },
  });
}

const errorJson = (status: number, error: string): Response => json({ error }, status);

/** Bytes a slow stream may have queued before the server drops it. */
const STREAM_QUEUE_MAX = 8 << 20;

/** A running view server. */
export interface ViewServer {
  /** The URL to open, e.g. http://127.0.0.1:8765/. */
  readonly url: string;
  /** The address the listener is bound to, as the system reports it. */
  readonly hostname: string;
  /** The port listened on (the one the system chose when 0 was asked for). */
  readonly port: number;
  /** Close the streams and stop listening. */
  close(): Promise<void>;
}

/**
 * Serve `view` on `addr`. The view's tick is started here.
 *
 * @throws ViewError with one line when the address cannot be listened on
 */
export function startViewServer(view: View, addr: ListenAddr): ViewServer {
  const enc = new TextEncoder();
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const anyHost = WILDCARD.has(addr.hostname);
  const allowed = new Set(["localhost", "127.0.0.1", "::1", addr.hostname]);

  const hostOk = (req: Request): boolean => {
    if (anyHost) return true;
    const host = req.headers.get("host");
    if (host === null) return false;
    try {
      const name = new URL(`http://${host}`).hostname;
      return allowed.has(name.startsWith("[") ? name.slice(1, -1) : name);
    } catch {
      return false;
    }
  };

  const stream = (): Response => {
    let unsubscribe = () => {};
    let ctl: ReadableStreamDefaultController<Uint8Array> | null = null;
    const end = () => {
      unsubscribe();
      if (ctl !== null && streams.delete(ctl)) {
        try {
          ctl.close();
        } catch { /* already closed by the client */ }
      }
    };
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        ctl = c;
        streams.add(c);
        c.enqueue(enc.encode("retry: 1000\n\n"));
        unsubscribe = view.subscribe((event, data) => {
          if ((c.desiredSize ?? 0) < -STREAM_QUEUE_MAX) return end(); // a reader that stopped reading
          try {
            c.enqueue(enc.encode(sseEvent(event, data)));
          } catch {
            end();
          }
        });
      },
      cancel: end,
    }, new ByteLengthQueuingStrategy({ highWaterMark: 1 << 16 }));
    return new Response(body, {
      headers: { ...BASE_HEADERS, "content-type": "text/event-stream; charset=utf-8" },
    });
  };

  const api = (url: URL): Response => {
    const run = view.current();
    const now = performance.now();
    switch (url.pathname) {
      case "/api/stats":
        return run === null ? errorJson(503, "no run yet") : json(statsJson(run.stats()));
      case "/api/runs":
        return json(view.runs.map((r) => r.totals()));
      case "/api/frames": {
        const map = run?.frameMap(now) ?? null;
        return map === null ? errorJson(503, "no run yet") : json(map);
      }
      case "/api/frame": {
        const pfn = Number(url.searchParams.get("pfn") ?? "");
        if (!Number.isSafeInteger(pfn)) return errorJson(400, "pfn must be an integer");
        const d = run?.detail(pfn, now) ?? null;
        return d === null ? errorJson(404, `no frame ${pfn} in a live run`) : json(d);
      }
      case "/api/procs":
        return json(run?.procs(now) ?? []);
      case "/api/faults": {
        const n = Number(url.searchParams.get("n") ?? "50");
        if (!Number.isInteger(n) || n < 1) return errorJson(400, "n must be a positive integer");
        return json(run?.recentFaults(n) ?? []);
      }
      case "/api/stream":
        return stream();
    }
    return errorJson(404, "no such endpoint");
  };

  const handler = (req: Request): Response => {
    if (!hostOk(req)) return errorJson(403, "this view answers to its own host name only");
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("the view is read-only\n", {
        status: 405,
        headers: { ...BASE_HEADERS, allow: "GET, HEAD" },
      });
    }
    const url = new URL(req.url);
    if (url.pathname.startsWith("/api/")) return api(url);
    const asset = WEB_ASSETS[url.pathname === "/" ? "/index.html" : url.pathname];
    if (asset === undefined) return text("not found\n", "text/plain", 404);
    return text(asset.body, asset.type, 200, { "content-security-policy": PAGE_CSP });
  };

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: addr.hostname,
      port: addr.port,
      onListen: () => {},
    }, handler);
  } catch (e) {
    const why = e instanceof Deno.errors.AddrInUse
      ? "address in use"
      : (e as Error).message.split("\n")[0];
    throw new ViewError(`cannot listen on ${urlHost(addr.hostname)}:${addr.port}: ${why}`);
  }
  view.start();
  const { hostname, port } = server.addr;
  return {
    url: `http://${urlHost(addr.hostname)}:${port}/`,
    hostname,
    port,
    async close() {
      view.close();
      for (const c of [...streams]) {
        streams.delete(c);
        try {
          c.close();
        } catch { /* the client went first */ }
      }
      await server.shutdown();
    },
  };
}
