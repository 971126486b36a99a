// The bare-Worker baseline of bench/startup_bench.ts: answer the first message.
/// <reference lib="deno.worker" />
self.onmessage = (e: MessageEvent) => self.postMessage(e.data);
