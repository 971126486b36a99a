/**
 * Server-sent events as the live view writes and reads them: the server's
 * encoder (src/ui/server.ts) and the page's parser (src/ui/web/app.ts),
 * which reads GET /api/stream with fetch rather than EventSource, so that
 * it can take what came once per redraw instead of waking for each event.
 *
 * The subset of the HTML event-stream format the view uses, and what the
 * parser accepts:
 *
 * ```
 *  event: update\n          the event's name ("message" when absent)
 *  data: {"t":1.5,...}\n    its data; several data lines join with "\n"
 *  \n                       a blank line ends the event
 *  : comment\n  retry: 1000\n  id: 7\n     ignored
 * ```
 *
 * Lines may end in \n, \r\n or \r. An event with no data line is not
 * dispatched, as in the HTML standard. Plain functions and a class over
 * strings: no Deno or DOM API.
 *
 * @module
 */

/** One server-sent event. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * The text of one event. `data` may hold newlines (each becomes a data
 * line); `event` may not.
 *
 * @throws RangeError when `event` holds a line break
 */
export function sseEvent(event: string, data: string): string {
  if (/[\r\n]/.test(event)) throw new RangeError("sseEvent: an event name has no line break");
  return `event: ${event}\n${data.split(/\r\n|\r|\n/).map((l) => `data: ${l}\n`).join("")}\n`;
}

/** Turns a stream's text, in chunks cut anywhere, into its events. */
export class SseParser {
  #buf = "";
  #event = "";
  #data: string[] = [];

  /** Take the next chunk of the stream; returns the events it completed, in order. */
  push(chunk: string): SseEvent[] {
    const out: SseEvent[] = [];
    this.#buf += chunk;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.#buf);
      // A lone \r at the end may be the first half of \r\n: wait for the next chunk.
      if (m === null || (m[0] === "\r" && m.index === this.#buf.length - 1)) break;
      const line = this.#buf.slice(0, m.index);
      this.#buf = this.#buf.slice(m.index + m[0].length);
      this.#line(line, out);
    }
    return out;
  }

  #line(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.#data.length > 0) {
        out.push({ event: this.#event || "message", data: this.#data.join("\n") });
      }
      this.#event = "";
      this.#data = [];
      return;
    }
    const colon = line.indexOf(":");
    if (colon === 0) return; // a comment
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.#event = value;
    else if (field === "data") this.#data.push(value);
  }
}
