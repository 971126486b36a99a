/**
 * Server-sent events as the live view writes them (src/ui/server.ts). The
 * page reads GET /api/stream with fetch rather than EventSource, so that it
 * can take what came once per redraw instead of waking for each event, and
 * parses it with eventsource-parser from npm (src/ui/web/stream.ts).
 *
 * The subset of the HTML event-stream format the view writes:
 *
 * ```
 *  event: update\n          the event's name
 *  data: {"t":1.5,...}\n    its data; several data lines join with "\n"
 *  \n                       a blank line ends the event
 * ```
 *
 * A plain function over strings: no Deno or DOM API.
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
