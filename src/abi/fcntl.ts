/**
 * Linux riscv32 file ABI constants: open flags, lseek whence, fcntl, the
 * stat64 record and the dirent64 record. riscv32 uses the asm-generic
 * values (include/uapi/asm-generic/fcntl.h, stat.h; linux/dirent.h), written
 * here from those headers' documented values.
 *
 * @module
 */

// ---------------------------------------------------------------------------
// open(2) flags, octal as in asm-generic/fcntl.h

export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_DIRECT = 0o40000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_SYNC = 0o4010000; // __O_SYNC | O_DSYNC
export const O_PATH = 0o10000000;

/** Flags that only matter at open time; they are not kept in the open file (Linux drops them too). */
export const O_OPEN_ONLY = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;

/** The access mode of `flags`: O_RDONLY, O_WRONLY or O_RDWR (3 is invalid here). */
export const accMode = (flags: number): number => flags & O_ACCMODE;
export const fmodeCanRead = (flags: number): boolean =>
  accMode(flags) === O_RDONLY || accMode(flags) === O_RDWR;
export const fmodeCanWrite = (flags: number): boolean =>
  accMode(flags) === O_WRONLY || accMode(flags) === O_RDWR;

// ---------------------------------------------------------------------------
// *at() arguments

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
/** linkat: follow a symlink at the old path (linkat does not by default). */
export const AT_SYMLINK_FOLLOW = 0x400;
/** An empty path names the dirfd's own file. */
export const AT_EMPTY_PATH = 0x1000;

// ---------------------------------------------------------------------------
// lseek(2) whence

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

// ---------------------------------------------------------------------------
// fcntl(2)

export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_DUPFD_CLOEXEC = 1030;
export const FD_CLOEXEC = 1;

// ---------------------------------------------------------------------------
// st_mode bits (linux/stat.h)

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFSOCK = 0o140000;
export const S_IFCHR = 0o020000;

/** statx attribute: the file is accessed DAX (STATX_ATTR_DAX). */
export const STATX_ATTR_DAX = 0x0020_0000;

// ---------------------------------------------------------------------------
// struct linux_dirent64 (getdents64)
//
// ```
//  0        8        16        18       19
// +--------+--------+---------+--------+--------------------------+
// | d_ino  | d_off  | d_reclen| d_type | d_name, NUL, pad to 8     |
// |  u64   |  i64   |  u16    |  u8    |                           |
// +--------+--------+---------+--------+--------------------------+
// ```

export const DIRENT64 = {
  ino: 0,
  off: 8,
  reclen: 16,
  type: 18,
  name: 19,
} as const;

/** Bytes of a dirent64 record for a `nameLen`-byte name: header, name, NUL, 8-aligned. */
export const dirent64Size = (nameLen: number): number => (DIRENT64.name + nameLen + 1 + 7) & ~7;

export const DT_UNKNOWN = 0;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

/** The DT_* type for an st_mode. */
export function modeToDtype(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return DT_REG;
    case S_IFDIR:
      return DT_DIR;
    case S_IFLNK:
      return DT_LNK;
    case S_IFSOCK:
      return DT_SOCK;
    case S_IFCHR:
      return DT_CHR;
    default:
      return DT_UNKNOWN;
  }
}

// ---------------------------------------------------------------------------
// fallocate(2) modes (linux/falloc.h)

/** Keep i_size even when the range reaches past it. */
export const FALLOC_FL_KEEP_SIZE = 0x01;
/** Deallocate the range (reads as zeros after); Linux requires KEEP_SIZE with it. */
export const FALLOC_FL_PUNCH_HOLE = 0x02;
/** Reserved codepoint (never implemented by Linux file systems). */
export const FALLOC_FL_NO_HIDE_STALE = 0x04;
/** Remove the range; what follows moves down, i_size shrinks by len (block aligned). */
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;
/** Make the range read as zeros with blocks allocated under it. */
export const FALLOC_FL_ZERO_RANGE = 0x10;
/** Insert a hole of len bytes at off; what follows moves up, i_size grows (block aligned). */
export const FALLOC_FL_INSERT_RANGE = 0x20;
/** Unshare shared (reflinked) blocks: xipfs has none to unshare. */
export const FALLOC_FL_UNSHARE_RANGE = 0x40;

/** Longest path accepted (PATH_MAX, bytes including the NUL). */
export const PATH_MAX = 4096;
/** Longest file name component (NAME_MAX). */
export const NAME_MAX = 255;
/** Symlinks followed in one lookup before -ELOOP (MAXSYMLINKS). */
export const MAXSYMLINKS = 40;
