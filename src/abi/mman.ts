/**
 * Linux riscv32 constants of the mmap family (asm-generic/mman-common.h and
 * mman.h, which riscv uses unchanged): PROT_*, MAP_*, MADV_*, MS_*.
 *
 * @module
 */

export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
/** mprotect only: extend the change down to the start of a growsdown VMA. */
export const PROT_GROWSDOWN = 0x0100_0000;
export const PROT_GROWSUP = 0x0200_0000;

/** The sharing type occupies the low bits of `flags`. */
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_GROWSDOWN = 0x0100;
export const MAP_DENYWRITE = 0x0800;
export const MAP_EXECUTABLE = 0x1000;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MAP_NONBLOCK = 0x1_0000;
export const MAP_STACK = 0x2_0000;
export const MAP_HUGETLB = 0x4_0000;
export const MAP_SYNC = 0x8_0000;
export const MAP_FIXED_NOREPLACE = 0x10_0000;
/** Anonymous pages need not be zeroed (only with CONFIG_MMAP_ALLOW_UNINITIALIZED; ignored). */
export const MAP_UNINITIALIZED = 0x400_0000;

/**
 * The flags mmap has always accepted, Linux's LEGACY_MAP_MASK: plain
 * MAP_SHARED strips everything else, MAP_SHARED_VALIDATE refuses anything
 * else a file does not support (-EOPNOTSUPP). MAP_FIXED_NOREPLACE is not
 * in it, as in Linux.
 */
export const LEGACY_MAP_MASK = MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS |
  MAP_DENYWRITE | MAP_EXECUTABLE | MAP_UNINITIALIZED | MAP_GROWSDOWN | MAP_LOCKED |
  MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB;

/** What mmap() returns on failure, as the C library sees it. */
export const MAP_FAILED = -1;

export const MADV_NORMAL = 0;
export const MADV_RANDOM = 1;
export const MADV_SEQUENTIAL = 2;
export const MADV_WILLNEED = 3;
export const MADV_DONTNEED = 4;
/** Poison the pages (memory_failure), as a machine check would; root only in Linux. */
export const MADV_HWPOISON = 100;

export const MS_ASYNC = 1;
export const MS_INVALIDATE = 2;
export const MS_SYNC = 4;
