/**
 * The page's frame map: every frame of physical memory as one cell of a
 * canvas, RAM first and then the memory device, each in its own block. RAM
 * cells take their kind's colour; device cells their kind's colour, or,
 * when processes map them, a shade that deepens with how many do. Hovering
 * a cell shows what the page already knows at once and asks the server
 * (GET /api/frame) for the frame's counters and file.
 *
 * @module
 */

import { decodeFrameCodes, type FrameMap } from "../encode.ts";
import type { FrameDetail } from "../protocol.ts";

/** Rows of space between the RAM block and the device block, in cells. */
const GAP_ROWS = 2;
/** Colours of device frames mapped by 1 .. N processes, light to dark. */
const MAPPED_LIGHT = [255, 204, 128];
const MAPPED_DARK = [191, 54, 12];

/** "#rrggbb" to [r, g, b]. */
function rgb(hex: string): number[] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The colour of a frame mapped by `n` of at most `max` processes. */
export function mappedColor(n: number, max: number): number[] {
  const f = max <= 1 ? 1 : (n - 1) / (max - 1);
  return MAPPED_LIGHT.map((l, i) => Math.round(l + (MAPPED_DARK[i]! - l) * f));
}

const cssOf = (c: number[]): string => `rgb(${c.join(",")})`;

interface Decoded {
  map: FrameMap;
  ram: Uint8Array;
  ramMappers: Uint8Array;
  dev: Uint8Array;
  devMappers: Uint8Array;
}

/** The frame-map canvas, its legend, its summary line and its hover box. */
export class FrameMapView {
  #d: Decoded | null = null;
  #cell = 4;
  #cols = 256;
  /**
   * What the canvas shows now: its pixels, each cell's colour (packed
   * 0xrrggbb, -1 before the first paint), and the legend's and geometry's
   * keys. A new map repaints only the cells whose colour changed, inside
   * their bounding rows: a full repaint and a resized canvas cost software
   * rendering most of its time, and between two maps few frames change.
   */
  #img: ImageData | null = null;
  #shown = new Int32Array(0);
  #geometry = "";
  #legendKey = "";
  #hoverPfn = -1;
  #detailTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly canvas: HTMLCanvasElement,
    readonly tip: HTMLElement,
    readonly legend: HTMLElement,
    readonly summary: HTMLElement,
  ) {
    canvas.addEventListener("mousemove", (e) => this.#hover(e));
    canvas.addEventListener("mouseleave", () => this.#hide());
  }

  /** Show a new frame map. */
  show(map: FrameMap): void {
    this.#d = {
      map,
      ram: decodeFrameCodes(map.ram, map.ram_frames),
      ramMappers: decodeFrameCodes(map.ram_mappers, map.ram_frames),
      dev: decodeFrameCodes(map.device, map.device_frames),
      devMappers: decodeFrameCodes(map.device_mappers, map.device_frames),
    };
    this.#layout();
    this.#draw();
    this.#legend();
    this.#summarise();
  }

  /** Choose a cell size so that both blocks fit a canvas about as tall as it is wide / 2.4. */
  #layout(): void {
    const d = this.#d!;
    const width = this.canvas.width;
    const frames = d.map.ram_frames + d.map.device_frames;
    const geometry = `${width} ${d.map.ram_frames} ${d.map.device_frames}`;
    if (geometry === this.#geometry) return; // setting canvas.height clears and reallocates it
    this.#geometry = geometry;
    this.#img = null;
    const area = width * (width / 2.4);
    this.#cell = Math.max(1, Math.min(12, Math.floor(Math.sqrt(area / Math.max(1, frames)))));
    this.#cols = Math.max(1, Math.floor(width / this.#cell));
    const ramRows = this.#rowsOf(d.map.ram_frames);
    this.canvas.height = (ramRows + GAP_ROWS + this.#rowsOf(d.map.device_frames)) * this.#cell;
    // The geometry, for whoever needs a frame's place on the canvas (the browser test).
    Object.assign(this.canvas.dataset, {
      cell: String(this.#cell),
      cols: String(this.#cols),
      deviceRow: String(ramRows + GAP_ROWS),
    });
  }

  #rowsOf(n: number): number {
    return Math.ceil(n / this.#cols);
  }

  /** Cell index -> pfn, or -1 for the gap or past the end. */
  #pfnAt(x: number, y: number): number {
    const d = this.#d;
    if (d === null) return -1;
    const col = Math.floor(x / this.#cell), row = Math.floor(y / this.#cell);
    if (col < 0 || col >= this.#cols || row < 0) return -1;
    const ramRows = this.#rowsOf(d.map.ram_frames);
    if (row < ramRows) {
      const i = row * this.#cols + col;
      return i < d.map.ram_frames ? i : -1;
    }
    const devRow = row - ramRows - GAP_ROWS;
    if (devRow < 0) return -1;
    const i = devRow * this.#cols + col;
    return i < d.map.device_frames ? d.map.device_base + i : -1;
  }

  /**
   * Every cell's colour, packed 0xrrggbb, by the cell's frame: the kinds'
   * colours are parsed once per map, not once per cell (a map is 20000
   * cells and more).
   */
  #packedColors(): Int32Array {
    const d = this.#d!;
    const pack = (c: number[]) => (c[0]! << 16) | (c[1]! << 8) | c[2]!;
    const ram = d.map.ram_kinds.map((k) => pack(rgb(k.color)));
    const dev = d.map.device_kinds.map((k) => pack(rgb(k.color)));
    const max = Math.max(d.map.device_max_mappers, 2);
    const mapped = Array.from(
      { length: 256 },
      (_, n) => pack(mappedColor(Math.min(Math.max(n, 1), max), max)),
    );
    const out = new Int32Array(d.map.ram_frames + d.map.device_frames);
    for (let i = 0; i < d.map.ram_frames; i++) out[i] = ram[d.ram[i]!]!;
    for (let i = 0; i < d.map.device_frames; i++) {
      const n = d.devMappers[i]!;
      out[d.map.ram_frames + i] = n > 0 ? mapped[n]! : dev[d.dev[i]!]!;
    }
    return out;
  }

  #draw(): void {
    const d = this.#d!;
    const ctx = this.canvas.getContext("2d");
    if (ctx === null) return;
    const cells = d.map.ram_frames + d.map.device_frames;
    if (this.#img === null) {
      this.#img = ctx.createImageData(this.canvas.width, this.canvas.height);
      this.#shown = new Int32Array(cells).fill(-1);
    }
    const img = this.#img, px = img.data;
    const s = this.#cell;
    const inner = s >= 4 ? s - 1 : s; // a 1-pixel grid line when cells are big enough
    const colors = this.#packedColors();
    let top = Infinity, bottom = -1;
    const paint = (cell: number, row: number, col: number) => {
      const packed = colors[cell]!;
      if (this.#shown[cell] === packed) return;
      this.#shown[cell] = packed;
      top = Math.min(top, row);
      bottom = Math.max(bottom, row);
      const r = packed >> 16, g = (packed >> 8) & 255, b = packed & 255;
      for (let y = 0; y < inner; y++) {
        let o = ((row * s + y) * img.width + col * s) * 4;
        for (let x = 0; x < inner; x++, o += 4) {
          px[o] = r;
          px[o + 1] = g;
          px[o + 2] = b;
          px[o + 3] = 255;
        }
      }
    };
    for (let i = 0; i < d.map.ram_frames; i++) {
      paint(i, Math.floor(i / this.#cols), i % this.#cols);
    }
    const devTop = this.#rowsOf(d.map.ram_frames) + GAP_ROWS;
    for (let i = 0; i < d.map.device_frames; i++) {
      paint(d.map.ram_frames + i, devTop + Math.floor(i / this.#cols), i % this.#cols);
    }
    if (bottom < 0) return; // nothing changed
    ctx.putImageData(img, 0, 0, 0, top * s, img.width, (bottom - top + 1) * s);
  }

  #legend(): void {
    const d = this.#d!;
    const items: [string, string][] = [
      ...d.map.ram_kinds.map((k) => [k.color, `RAM: ${k.label}`] as [string, string]),
      ...d.map.device_kinds.map((k) => [k.color, `device: ${k.label}`] as [string, string]),
    ];
    const max = Math.max(d.map.device_max_mappers, 2);
    items.push([cssOf(mappedColor(1, max)), "device: mapped by 1 process"]);
    items.push([cssOf(mappedColor(max, max)), `device: mapped by ${max} processes`]);
    const key = JSON.stringify(items);
    if (key === this.#legendKey) return;
    this.#legendKey = key;
    this.legend.replaceChildren(...items.map(([color, label]) => {
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = color;
      li.append(sw, label);
      return li;
    }));
  }

  #summarise(): void {
    const d = this.#d!;
    // Counts by kind code, the kinds in the order they first appear.
    const counts = new Array<number>(256).fill(0);
    const order: number[] = [];
    for (const c of d.ram) if (counts[c]!++ === 0) order.push(c);
    let mapped = 0;
    for (const v of d.devMappers) if (v > 0) mapped++;
    const ram = order.map((c) => `${counts[c]} ${d.map.ram_kinds[c]!.label}`).join(", ");
    this.summary.dataset.deviceMaxMappers = String(d.map.device_max_mappers);
    this.summary.dataset.deviceMapped = String(mapped);
    this.summary.dataset.ramMaxMappers = String(d.map.ram_max_mappers);
    const text = `RAM: ${d.map.ram_frames} frames (${ram}). Device: ` +
      `${d.map.device_frames} frames, ${mapped} mapped into processes, ` +
      `the most shared by ${d.map.device_max_mappers} processes. ` +
      `Page cache shared by up to ${d.map.ram_max_mappers} processes.`;
    if (this.summary.textContent !== text) this.summary.textContent = text;
  }

  #hide(): void {
    this.#hoverPfn = -1;
    this.tip.hidden = true;
  }

  #hover(e: MouseEvent): void {
    const rect = this.canvas.getBoundingClientRect();
    const sx = this.canvas.width / rect.width, sy = this.canvas.height / rect.height;
    const pfn = this.#pfnAt((e.clientX - rect.left) * sx, (e.clientY - rect.top) * sy);
    if (pfn < 0) return this.#hide();
    this.tip.style.left = `${e.clientX - rect.left + 14}px`;
    this.tip.style.top = `${e.clientY - rect.top + 14}px`;
    if (pfn === this.#hoverPfn) return;
    this.#hoverPfn = pfn;
    this.tip.hidden = false;
    this.tip.textContent = this.#localText(pfn);
    clearTimeout(this.#detailTimer);
    this.#detailTimer = setTimeout(() => this.#fetchDetail(pfn), 60);
  }

  /** What the map itself says about `pfn`. */
  #localText(pfn: number): string {
    const d = this.#d!;
    if (pfn < d.map.ram_frames) {
      const k = d.map.ram_kinds[d.ram[pfn]!]!;
      return `pfn ${pfn} (RAM)\nkind: ${k.label}\nmapped by ${d.ramMappers[pfn]} process(es)`;
    }
    const i = pfn - d.map.device_base;
    const k = d.map.device_kinds[d.dev[i]!]!;
    return `pfn ${pfn} (device block ${i})\nkind: ${k.label}\nmapped by ${
      d.devMappers[i]
    } process(es)`;
  }

  async #fetchDetail(pfn: number): Promise<void> {
    let detail: FrameDetail;
    try {
      const r = await fetch(`/api/frame?pfn=${pfn}`);
      if (!r.ok) return;
      detail = await r.json() as FrameDetail;
    } catch {
      return;
    }
    if (pfn !== this.#hoverPfn) return;
    this.tip.textContent = describeFrame(detail);
  }
}

/** The hover text of a frame's details. */
export function describeFrame(d: FrameDetail): string {
  const lines = [
    `pfn ${d.pfn} (${d.region === "ram" ? "RAM" : `device block ${d.block}`})`,
    `kind: ${d.label}`,
    d.refcount === null
      ? "refcount: none, mapcount: none (no struct page: pte_special)"
      : `refcount: ${d.refcount}, mapcount: ${d.mapcount}`,
    `mapped by ${d.pids.length} process(es)${d.pids.length ? `: pid ${d.pids.join(", ")}` : ""}`,
  ];
  if (d.flags.length > 0) lines.push(`flags: ${d.flags.join(" ")}`);
  if (d.file !== null) {
    const what = d.file.use === "data" ? "" : ` (${d.file.use} block)`;
    lines.push(
      `file: ${d.file.path ?? `inode ${d.file.ino}`}, offset ${d.file.offset}` +
        ` (0x${d.file.offset.toString(16)})${what}`,
    );
  }
  if (d.meta !== null) lines.push(d.meta);
  return lines.join("\n");
}
