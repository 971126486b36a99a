/**
 * The page's reader of the live view's stream (GET /api/stream, written
 * by src/ui/sse.ts): the HTML event-stream format parsed by
 * eventsource-parser from npm, bundled into the page by build.ts, so that
 * the server's own module graph needs no npm package.
 *
 * @module
 */

import { createParser } from "npm:eventsource-parser@4.1.3";
import type { SseEvent } from "../sse.ts";

/**
 * A parser of one stream: give it the text in chunks cut anywhere; each
 * call returns the events the chunk completed, in order (an event without
 * a name is "message", as in the HTML standard).
 */
export function sseParser(): (chunk: string) => SseEvent[] {
  const done: SseEvent[] = [];
  const parser = createParser({
    onEvent: (e) => done.push({ event: e.event ?? "message", data: e.data }),
  });
  return (chunk) => {
    parser.feed(chunk);
    return done.splice(0);
  };
}
