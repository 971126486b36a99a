/**
 * Branded number types and the named conversions between them.
 *
 * A `Pfn` is not a `BlockNo` is not a `VirtAddr`, even though all are plain
 * numbers at run time. Code converts between them only through the helpers
 * below, so that a reader can follow every change of unit.
 *
 * Physical memory is one flat space of 4 KiB frames (see layout/mod.ts): RAM
 * frames first, then the memory device. A `PhysAddr` is a byte offset into
 * that space, and `pfn * PAGE_SIZE` is the frame's first byte.
 *
 * @module
 */

/**
 * A `T` that only values made by the named conversion helpers have, so that
 * a `Brand<number, "Pfn">` cannot be passed where a block number is wanted.
 */
export type Brand<T, B extends string> = T & { readonly __brand: B };

/**
 * An address space (struct mm_struct): its slot in the shared `mms` table.
 * 0 means "none" (a process before exec, or after its mm was released).
 */
export type MmId = Brand<number, "MmId">;
/**
 * A virtual memory area (struct vm_area_struct): its slot in the shared
 * `vmas` table. 0 means "none" (the end of a list, no VMA found).
 */
export type VmaId = Brand<number, "VmaId">;
/**
 * An in-memory inode: its slot in the inode cache, which is also the
 * inode's page-cache mapping id and what a file VMA records. 0 means
 * "none" (anonymous memory). An `Ino` names the inode on disk; the slot
 * names its in-memory copy.
 */
export type InodeSlot = Brand<number, "InodeSlot">;
/** Page frame number: index of a 4 KiB frame in physical memory. */
export type Pfn = Brand<number, "Pfn">;
/** Byte offset into physical memory. */
export type PhysAddr = Brand<number, "PhysAddr">;
/** Guest virtual address, an unsigned 32-bit value. */
export type VirtAddr = Brand<number, "VirtAddr">;
/** An Sv32 page-table entry, an unsigned 32-bit value. */
export type Pte = Brand<number, "Pte">;
/** A block number on the xipfs device (4 KiB blocks). */
export type BlockNo = Brand<number, "BlockNo">;
/** A 512-byte sector number on a block device. */
export type Sector = Brand<number, "Sector">;
/** An inode number. */
export type Ino = Brand<number, "Ino">;
/**
 * A process or thread id as the guest sees it (Linux's pid_t: getpid,
 * gettid, kill's and wait's argument). Never an index into shared memory:
 * the PROC record of a task holds it (PROC.pid, PROC.tgid).
 */
export type Pid = Brand<number, "Pid">;
/**
 * Which task acts, as an index into the shared tables: the task's TASK
 * record (its held locks and kill state, src/sync), its PROC record (a
 * process runs on exactly one task, so the "process slot" is the same
 * number), its TLB and signal records. The main thread's task and each
 * Worker's have one; locks record it as their holder. 0 means "nobody",
 * 1 is the Machine's own task, and processes use 2 and up. In the code a
 * variable of this type is called `tid` (the lock holder's name) or `slot`
 * (the process table's); the guest never sees it (docs/ARCHITECTURE.md,
 * "Task slots and guest ids").
 */
export type TaskSlot = Brand<number, "TaskSlot">;

/** log2 of the page size. */
export const PAGE_SHIFT = 12;
/** Bytes in a page, a frame and an xipfs block: 4096. */
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** The offset bits of an address within its page. */
export const PAGE_MASK = PAGE_SIZE - 1;
/** log2 of the sector size. */
export const SECTOR_SHIFT = 9;
/** Bytes in a block-device sector: 512. */
export const SECTOR_SIZE = 1 << SECTOR_SHIFT;
/** Sectors in a page: 8. */
export const SECTORS_PER_PAGE = PAGE_SIZE / SECTOR_SIZE;

/** `n` (an mms slot, read from a record or claimed by mmAlloc) as an mm id. */
export const asMmId = (n: number): MmId => n as MmId;
/** `n` (a vmas slot, read from a link word or claimed by vmaAlloc) as a VMA id. */
export const asVmaId = (n: number): VmaId => n as VmaId;
/** `n` (an inode-cache slot, read from a record or claimed by iget) as an inode slot. */
export const asInodeSlot = (n: number): InodeSlot => n as InodeSlot;
/** `n` as a page frame number. */
export const asPfn = (n: number): Pfn => n as Pfn;
/** `n` as a physical byte address. */
export const asPhys = (n: number): PhysAddr => n as PhysAddr;
/** `n` as a guest virtual address (made unsigned 32-bit). */
export const asVirt = (n: number): VirtAddr => (n >>> 0) as VirtAddr;
/** `n` as a page-table entry (made unsigned 32-bit). */
export const asPte = (n: number): Pte => (n >>> 0) as Pte;
/** `n` as an xipfs block number. */
export const asBlock = (n: number): BlockNo => n as BlockNo;
/** `n` as a sector number. */
export const asSector = (n: number): Sector => n as Sector;
/** `n` as an inode number. */
export const asIno = (n: number): Ino => n as Ino;
/** `n` as a process id. */
export const asPid = (n: number): Pid => n as Pid;
/** `n` (a table index: a loop over the slots, a slot word read from a record) as a task slot. */
export const asTaskSlot = (n: number): TaskSlot => n as TaskSlot;

/** First byte of frame `pfn`. */
export const pfnToPhys = (pfn: Pfn): PhysAddr => (pfn * PAGE_SIZE) as PhysAddr;
/** Frame that holds byte `pa`. */
export const physToPfn = (pa: PhysAddr): Pfn => Math.floor(pa / PAGE_SIZE) as Pfn;
/** Sector at which block `b` starts. */
export const blockToSector = (b: BlockNo): Sector => (b * SECTORS_PER_PAGE) as Sector;
/** Block holding sector `s`. */
export const sectorToBlock = (s: Sector): BlockNo => Math.floor(s / SECTORS_PER_PAGE) as BlockNo;

/** Round a byte count or address down to a page boundary. */
export const pageRoundDown = (n: number): number => n - (n % PAGE_SIZE);
/** Round a byte count or address up to a page boundary. */
export const pageRoundUp = (n: number): number => pageRoundDown(n + PAGE_MASK);
/** Virtual page number of `va`. */
export const vpn = (va: VirtAddr): number => va >>> PAGE_SHIFT;
/** Offset of `va` within its page. */
export const pageOffset = (va: VirtAddr): number => va & PAGE_MASK;
