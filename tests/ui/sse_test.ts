import assert from "node:assert/strict";
import { type SseEvent, sseEvent } from "../../src/ui/sse.ts";
import { sseParser } from "../../src/ui/web/stream.ts";
import { rng } from "./_rng.ts";

Deno.test("sseEvent() writes an event line, one data line per line of data, and a blank line", () => {
  assert.equal(sseEvent("update", '{"t":1}'), 'event: update\ndata: {"t":1}\n\n');
  assert.equal(sseEvent("x", "a\nb\r\nc"), "event: x\ndata: a\ndata: b\ndata: c\n\n");
  assert.throws(() => sseEvent("a\nb", ""), RangeError);
});

Deno.test("the page's sseParser() follows the event-stream format: names, joined data, comments, CR/LF", () => {
  const p = sseParser();
  const text = "retry: 1000\n\n: a comment\nevent: hello\ndata: 1\ndata: 2\n\n" +
    "data:no space\r\n\r\nevent: update\rdata: {}\r\rid: 7\nevent: empty\n\n";
  assert.deepEqual(p(text), [
    { event: "hello", data: "1\n2" },
    { event: "message", data: "no space" },
    { event: "update", data: "{}" },
  ]);
  assert.deepEqual(p("event: late\ndata: x"), [], "an event ends at its blank line");
  assert.deepEqual(p("\n\n"), [{ event: "late", data: "x" }]);
});

Deno.test("the page's sseParser() gives sseEvent()'s events however the stream is cut into chunks", () => {
  const events: SseEvent[] = [];
  let text = "retry: 1000\n\n";
  for (let i = 0; i < 200; i++) {
    const e = {
      event: i % 7 === 0 ? "hello" : "update",
      data: JSON.stringify({ t: i, s: "é\u2028" }),
    };
    events.push(e);
    text += sseEvent(e.event, e.data);
  }
  const crlf = text.replaceAll("\n", "\r\n");
  const seed = 0x55e;
  const r = rng(seed);
  for (const [name, t] of [["LF", text], ["CRLF", crlf]] as const) {
    for (let k = 0; k < 30; k++) {
      const p = sseParser();
      const got: SseEvent[] = [];
      for (let at = 0; at < t.length;) {
        const n = 1 + Math.floor(r() ** 3 * 400);
        got.push(...p(t.slice(at, at + n)));
        at += n;
      }
      assert.deepEqual(got, events, `${name}, cut ${k} (seed 0x${seed.toString(16)})`);
    }
  }
});
