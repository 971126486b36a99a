/**
 * A Worker for the V8 sharing probe of bench/_report_tiers.ts: instantiate
 * the module bytes it is sent and call the function once (V8 compiles
 * lazily: that call compiles it), then the same with a fresh copy of the
 * bytes in this same Worker; report both first calls. An unrelated module
 * is run first, so the times are of compiling, not of waking V8's wasm
 * machinery in a new isolate.
 *
 * @module
 */

interface Probe {
  bytes: Uint8Array<ArrayBuffer>;
  warm: Uint8Array<ArrayBuffer>;
}

type Run = (word: number, budget: number, pageVa: number) => number;

const port = self as unknown as {
  onmessage: ((ev: MessageEvent<Probe>) => void) | null;
  postMessage(msg: unknown): void;
};

port.onmessage = (ev: MessageEvent<Probe>) => {
  const phys = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const state = new WebAssembly.Memory({ initial: 1 });
  const imports = { env: { phys, state, ld: () => 0, st: () => 0 } };
  /** Instantiate `bytes` and time its first call (budget 0: the first block leaves at once). */
  const firstCall = (bytes: Uint8Array<ArrayBuffer>): number => {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
    const t0 = performance.now();
    (inst.exports.run as unknown as Run)(0, 0, 0);
    return performance.now() - t0;
  };
  firstCall(ev.data.warm);
  const ms = firstCall(ev.data.bytes);
  const againMs = firstCall(ev.data.bytes.slice());
  port.postMessage({ firstCallMs: ms, sameWorkerAgainMs: againMs });
};
