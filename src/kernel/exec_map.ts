/**
 * Mapping an ELF image's PT_LOAD segments into an address space (the
 * elf_map / padzero / set_brk part of Linux's load_elf_binary, and
 * _dl_map_segments of a dynamic linker).
 *
 * The whole image span is first reserved with one PROT_NONE anonymous
 * mapping, which picks the address (top-down below mmapBase for a library)
 * or claims a fixed one with MAP_FIXED_NOREPLACE (the program); each segment
 * is then mapped MAP_FIXED over the reservation and the holes between
 * segments are unmapped. A library with a segment of 4 MiB or more whose
 * address and file offset agree modulo 4 MiB gets a 4 MiB-aligned load
 * bias (the reservation is made 4 MiB longer and trimmed), so that DAX
 * can map its text with megapages (Linux aligns large ET_DYN loads to
 * PMD_SIZE for THP the same way).
 *
 * A segment in textMode "map":
 * ```
 *  pageDown(vaddr)        vaddr+filesz   pageUp(vaddr+filesz)   pageUp(vaddr+memsz)
 *  |<---- file, MAP_PRIVATE, prot ---->|~zeroed~|<----- anonymous, prot ------>|
 * ```
 * The tail of the last file page past p_filesz is zeroed when the segment
 * has bss (memsz > filesz), as Linux's padzero: that page is a private file
 * page, so the write COWs it (a read-only segment is made writable for the
 * write and restored). In textMode "copy" the file part is anonymous memory
 * filled with copyToUser (so the tail is already zero), then set to prot.
 *
 * @module
 */

import { PF_R, PF_W, PF_X } from "../abi/elf.ts";
import { EEXIST, ENOMEM } from "../abi/errno.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from "../abi/mman.ts";
import { asVirt, PAGE_MASK, PAGE_SIZE, pageRoundDown, pageRoundUp } from "../abi/types.ts";
import { doMmap, doMprotect, doMunmap } from "../mm/mmap.ts";
import { copyToUser } from "../mm/uaccess.ts";
import { type ElfImage, preadExact, type Segment } from "./binfmt_elf.ts";
import { type ExecEnv, ExecFailure, type ExecFile } from "./exec_types.ts";

/** Where an image landed. */
export interface MappedImage {
  /** Load bias: run-time address = link-time address + base. */
  base: number;
  start: number;
  end: number;
}

/** Bytes copied per pread/copyToUser round in textMode "copy". */
const COPY_CHUNK = 64 * 1024;

const hex = (n: number): string => "0x" + (n >>> 0).toString(16);

/** PROT_* for PF_* (they are not the same bits). */
export function protOf(pflags: number): number {
  return ((pflags & PF_R) !== 0 ? PROT_READ : 0) | ((pflags & PF_W) !== 0 ? PROT_WRITE : 0) |
    ((pflags & PF_X) !== 0 ? PROT_EXEC : 0);
}

/**
 * Map every PT_LOAD of `img` into env.mm. `at` is the run-time address for
 * img.minVaddr (fixed: the program), or null to let getUnmappedArea choose
 * (a library). Entry: no lock held; the mm is private to the exec.
 *
 * @returns where it went; throws ExecFailure (ENOMEM when there is no room
 *   or the fixed range is taken, or the errno of a failed map or copy).
 *   What was mapped before a failure stays for exitMmap to tear down.
 */
export function mapImage(
  env: ExecEnv,
  file: ExecFile,
  img: ElfImage,
  mode: "map" | "copy",
  at: number | null,
): MappedImage {
  const span = img.maxVaddr - img.minVaddr;
  const flags = MAP_PRIVATE | MAP_ANONYMOUS | (at === null ? 0 : MAP_FIXED_NOREPLACE);
  // A large segment whose file offset and address agree modulo 4 MiB gets a
  // 4 MiB-aligned load bias, so its DAX text can be mapped with megapages.
  const pad = at === null && img.loads.some(hugeCandidate) ? HUGE : 0;
  let r = doMmap(env.mem, env.mm, at ?? 0, span + pad, PROT_NONE, flags);
  if (r < 0 && pad > 0) r = doMmap(env.mem, env.mm, 0, span, PROT_NONE, flags);
  else if (r >= 0 && pad > 0) r = trimToAligned(env, img, r, span);
  if (r < 0) {
    const where = at === null ? "" : ` at ${hex(at)}`;
    const why = r === -EEXIST ? "overlaps another mapping" : `failed (errno ${-r})`;
    throw new ExecFailure(ENOMEM, `${img.name}: reserving ${span} bytes${where} ${why}`);
  }
  const base = (r - img.minVaddr) | 0;
  let prevEnd = r;
  for (const seg of img.loads) {
    const start = base + pageRoundDown(seg.vaddr);
    if (start > prevEnd) unmapHole(env, img, prevEnd, start);
    mapSegment(env, file, img, seg, base, mode);
    prevEnd = base + pageRoundUp(seg.vaddr + seg.memsz);
  }
  return { base, start: r, end: r + span };
}

/** A megapage: the alignment that lets DAX map 4 MiB with one PTE. */
const HUGE = 4 * 1024 * 1024;

/** A segment worth aligning: 4 MiB or more of file, offset and address congruent mod 4 MiB. */
const hugeCandidate = (seg: Segment): boolean =>
  seg.filesz >= HUGE && (seg.vaddr - seg.offset) % HUGE === 0;

/**
 * Keep, of a reservation of span + 4 MiB at `r`, the span whose load bias
 * (start - minVaddr) is a multiple of 4 MiB, and give back the rest.
 *
 * @returns the start of the kept span
 */
function trimToAligned(env: ExecEnv, img: ElfImage, r: number, span: number): number {
  const bias = r - img.minVaddr;
  const start = r + ((HUGE - (((bias % HUGE) + HUGE) % HUGE)) % HUGE);
  if (start > r) unmapHole(env, img, r, start);
  const end = r + span + HUGE;
  if (start + span < end) unmapHole(env, img, start + span, end);
  return start;
}

/** Give back the reservation between two segments. */
function unmapHole(env: ExecEnv, img: ElfImage, from: number, to: number): void {
  const r = doMunmap(env.mem, env.mm, from, to - from);
  if (r < 0) throw new ExecFailure(-r, `${img.name}: unmapping the hole at ${hex(from)} failed`);
}

function mmapOrFail(
  env: ExecEnv,
  img: ElfImage,
  seg: Segment,
  addr: number,
  len: number,
  prot: number,
  file?: ExecFile,
  pgoff = 0,
): void {
  const r = file === undefined
    ? doMmap(env.mem, env.mm, addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
    : file.mmap(addr, len, prot, MAP_PRIVATE | MAP_FIXED, pgoff);
  if (r < 0) {
    throw new ExecFailure(
      -r,
      `${img.name}: mapping segment ${seg.index} at ${hex(addr)} failed (errno ${-r})`,
    );
  }
}

function protectOrFail(env: ExecEnv, img: ElfImage, addr: number, len: number, prot: number): void {
  const r = doMprotect(env.mem, env.mm, addr, len, prot);
  if (r < 0) {
    throw new ExecFailure(-r, `${img.name}: mprotect at ${hex(addr)} failed (errno ${-r})`);
  }
}

function writeOrFail(env: ExecEnv, img: ElfImage, addr: number, bytes: Uint8Array): void {
  const r = copyToUser(env.mem, env.mm, asVirt(addr), bytes);
  if (r < 0) throw new ExecFailure(ENOMEM, `${img.name}: ${writeFault(addr, bytes.length)}`);
}

/**
 * The reason for a failed copyToUser into memory exec has just mapped: the
 * range is mapped and writable, so the fault failed for want of memory (or,
 * in textMode "map", because the file system could not supply the page).
 */
export const writeFault = (addr: number, len: number): string =>
  `cannot fault in ${len} bytes at ${hex(addr)} (out of memory, or the file page is unavailable)`;

/** One PT_LOAD: the file part, the partial-page zeroing, the anonymous bss. */
function mapSegment(
  env: ExecEnv,
  file: ExecFile,
  img: ElfImage,
  seg: Segment,
  base: number,
  mode: "map" | "copy",
): void {
  const prot = protOf(seg.flags);
  const start = base + pageRoundDown(seg.vaddr);
  const fileEnd = base + seg.vaddr + seg.filesz;
  const memEnd = base + seg.vaddr + seg.memsz;
  const mapEnd = seg.filesz > 0 ? pageRoundUp(fileEnd) : start;
  const fileStart = pageRoundDown(seg.offset);
  if (seg.filesz > 0 && mode === "map") {
    mmapOrFail(env, img, seg, start, mapEnd - start, prot, file, fileStart / PAGE_SIZE);
    if (seg.memsz > seg.filesz && (fileEnd & PAGE_MASK) !== 0) padZero(env, img, fileEnd, prot);
  } else if (seg.filesz > 0) {
    mmapOrFail(env, img, seg, start, mapEnd - start, PROT_READ | PROT_WRITE);
    const total = seg.offset + seg.filesz - fileStart;
    for (let done = 0; done < total; done += COPY_CHUNK) {
      const n = Math.min(COPY_CHUNK, total - done);
      const what = `segment ${seg.index}`;
      writeOrFail(env, img, start + done, preadExact(file, img.name, fileStart + done, n, what));
    }
    if (prot !== (PROT_READ | PROT_WRITE)) protectOrFail(env, img, start, mapEnd - start, prot);
  }
  const bssEnd = pageRoundUp(memEnd);
  if (bssEnd > mapEnd) mmapOrFail(env, img, seg, mapEnd, bssEnd - mapEnd, prot);
}

/**
 * Zero from `from` to the end of its page (Linux's padzero). The page is a
 * private file page; the write COWs it. A segment without PF_W is opened
 * for the write and closed again.
 */
function padZero(env: ExecEnv, img: ElfImage, from: number, prot: number): void {
  const page = pageRoundDown(from);
  const writable = (prot & PROT_WRITE) !== 0;
  if (!writable) protectOrFail(env, img, page, PAGE_SIZE, prot | PROT_WRITE);
  writeOrFail(env, img, from, new Uint8Array(page + PAGE_SIZE - from));
  if (!writable) protectOrFail(env, img, page, PAGE_SIZE, prot);
}
