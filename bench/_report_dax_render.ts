/**
 * The "DAX megapages and MAP_SYNC" section of REPORT.md (issue 16): the
 * huge-page table and the MAP_SYNC cost row, from bench/_report_dax.ts.
 *
 * @module
 */

import { table } from "./_report_render.ts";
import type { TargetRow } from "./_report_targets.ts";
import type { DaxResult, HugePoint, ReportData } from "./_report_types.ts";

/** a ÷ b as "12.3×"; "—" when a is 0 (a count only the megapage side has). */
const ratio = (a: number, b: number): string =>
  a === 0 ? "—" : b === 0 ? "∞ (none with megapages)" : `${(a / b).toFixed(1)}×`;

function hugeTable(r: DaxResult): string[] {
  const h = r.huge;
  if (h === undefined) return ["Megapages: not in this data."];
  if (h.status !== "ok") return [`Megapages: not measured: ${h.reason ?? ""}`];
  const small = h.points!.find((p) => p.layout === "4k");
  const huge = h.points!.find((p) => p.layout === "megapage");
  if (small === undefined || huge === undefined) return ["Megapages: a layout is missing."];
  const row = (what: string, f: (p: HugePoint) => number, unit = ""): string[] => [
    what,
    `${f(small)}${unit}`,
    `${f(huge)}${unit}`,
    ratio(f(small), f(huge)),
  ];
  return [
    `${small.procs} processes each touch every page of libbig.so's 16 MiB blob ` +
    `(${h.blobPages} pages) and wait in a barrier; counted there, less the same ` +
    "processes not touching it (bench/_report_dax.ts). 4 KiB: mkfs without aligned " +
    "extents, so every DAX fault falls back to a PTE.",
    "",
    table(["", "4 KiB pages", "megapages", "4 KiB ÷ megapages"], [
      row("faults to touch it, all processes", (p) => p.faults),
      row("of which megapage faults", (p) => p.pmdFaults),
      row("page-table frames for it, all processes", (p) => p.pagetableFrames),
      row(
        `touch time per process, ${small.procs} at once (median, faults included)`,
        (p) => p.touchUsMedian,
        " µs",
      ),
      row("touch time of one process alone (best run)", (p) => p.soloTouchUs, " µs"),
      row("whole machine: faults at the barrier", (p) => p.machineFaults),
      row("whole machine: page-table frames at the barrier", (p) => p.machinePagetableFrames),
    ]),
  ];
}

function mapsyncTable(r: DaxResult): string[] {
  const m = r.mapsync;
  if (m === undefined) return ["MAP_SYNC: not in this data."];
  if (m.status !== "ok") return [`MAP_SYNC: not measured: ${m.reason ?? ""}`];
  return [
    `guest/bin/mapsync makes ${m.records} 64-byte records durable in the host image; ` +
    `median of ${m.rounds} interleaved rounds, as the guest timed them, per record. Both ` +
    "ways end in one fdatasync of the image per record (the persistence domain is the " +
    "host file), so on a disk that sets the cost of both; tmpfs shows xip's own path.",
    "",
    table(
      ["host image on", "MAP_SYNC store + cbo.flush + fence", "pwrite + fsync", "fsync ÷ MAP_SYNC"],
      m.points!.map((p) => [
        p.where === "disk" ? "disk (temporary directory)" : "tmpfs (/dev/shm)",
        `${p.persistUs.toFixed(1)} µs`,
        `${p.fsyncUs.toFixed(1)} µs`,
        ratio(p.fsyncUs, p.persistUs),
      ]),
    ),
  ];
}

/** Both tables, for bench/_report_dax.ts's own output. */
export function daxTables(r: DaxResult): string {
  return [...hugeTable(r), "", ...mapsyncTable(r)].join("\n");
}

/** The report section. */
export function daxSection(d: ReportData): string {
  const head = "### DAX megapages and MAP_SYNC";
  const r = d.runs.dax;
  if (r === undefined) return `${head}\n\nNot measured: not in this data.`;
  if (r.status !== "ok") return `${head}\n\nNot measured: ${r.reason ?? ""}`;
  return [head, "", daxTables(r)].join("\n");
}

/** One megapage target: its goal factor, the measure, and the whole-machine one for the note. */
interface HugeTarget {
  target: string;
  factor: number;
  of: (p: HugePoint) => number;
  whole: (p: HugePoint) => number;
  wholeWhat: string;
}

const HUGE_TARGETS: HugeTarget[] = [
  {
    target: "Megapages: faults to touch a 16 MiB library",
    factor: 100,
    of: (p) => p.faults,
    whole: (p) => p.machineFaults,
    wholeWhat: "whole machine at the barrier",
  },
  {
    target: "Megapages: page-table frames for it",
    factor: 10,
    of: (p) => p.pagetableFrames,
    whole: (p) => p.machinePagetableFrames,
    wholeWhat: "whole machine at the barrier (every process's own tables included)",
  },
];

/** Issue 16's megapage targets, from the huge table (a missed one is reported as such). */
export function daxTargets(d: ReportData): TargetRow[] {
  const h = d.runs.dax?.huge;
  const small = h?.points?.find((p) => p.layout === "4k");
  const huge = h?.points?.find((p) => p.layout === "megapage");
  return HUGE_TARGETS.map((t): TargetRow => {
    const goal = `≥ ${t.factor}× fewer than 4 KiB pages`;
    if (small === undefined || huge === undefined) {
      const note = h?.reason ?? d.runs.dax?.reason ?? "not in this data";
      return { target: t.target, goal, measured: "—", verdict: "not measured", note };
    }
    return {
      target: t.target,
      goal,
      measured: `${t.of(small)} against ${t.of(huge)} (${ratio(t.of(small), t.of(huge))}), ` +
        `${small.procs} processes`,
      verdict: t.of(huge) * t.factor <= t.of(small) ? "met" : "missed",
      note: `bench/_report_dax.ts, the idle baseline subtracted; ${t.wholeWhat}: ` +
        `${t.whole(small)} against ${t.whole(huge)} (${ratio(t.whole(small), t.whole(huge))})`,
    };
  });
}
