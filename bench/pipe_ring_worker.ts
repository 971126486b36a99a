/**
 * The baseline of bench/pipe_bench.ts: one end of a raw single-producer,
 * single-consumer byte ring in a SharedArrayBuffer, with the same 64 KiB
 * capacity as a pipe and Atomics.wait/notify when it is full or empty.
 * What a pipe costs beyond this is the kernel: two system calls per chunk,
 * the copies to and from guest memory, the pipe lock and the ring's pages.
 */
/// <reference lib="deno.worker" />

/** Ring header words: head (bytes read), tail (bytes written), then the bytes. */
export const RING_HEAD = 0, RING_TAIL = 1, RING_DATA = 8 * 4, RING_CAP = 65536;

self.onmessage = (
  e: MessageEvent<{ sab: SharedArrayBuffer; role: "write" | "read"; total: number; chunk: number }>,
) => {
  const { sab, role, total, chunk } = e.data;
  const w = new Int32Array(sab);
  const bytes = new Uint8Array(sab, RING_DATA, RING_CAP);
  const buf = new Uint8Array(chunk).fill(0x5a);
  let done = 0;
  while (done < total) {
    const head = Atomics.load(w, RING_HEAD) >>> 0, tail = Atomics.load(w, RING_TAIL) >>> 0;
    const used = (tail - head) >>> 0;
    if (role === "write") {
      const room = RING_CAP - used;
      if (room === 0) {
        Atomics.wait(w, RING_HEAD, head | 0, 20);
        continue;
      }
      const n = Math.min(room, chunk, total - done);
      for (let i = 0; i < n;) {
        const off = (tail + i) % RING_CAP, len = Math.min(n - i, RING_CAP - off);
        bytes.set(buf.subarray(i, i + len), off);
        i += len;
      }
      Atomics.store(w, RING_TAIL, (tail + n) | 0);
      Atomics.notify(w, RING_TAIL);
      done += n;
    } else {
      if (used === 0) {
        Atomics.wait(w, RING_TAIL, tail | 0, 20);
        continue;
      }
      const n = Math.min(used, chunk);
      for (let i = 0; i < n;) {
        const off = (head + i) % RING_CAP, len = Math.min(n - i, RING_CAP - off);
        buf.set(bytes.subarray(off, off + len), i);
        i += len;
      }
      Atomics.store(w, RING_HEAD, (head + n) | 0);
      Atomics.notify(w, RING_HEAD);
      done += n;
    }
  }
  self.postMessage(done);
};
