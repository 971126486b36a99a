/* sys/stat.h: struct stat has the layout of the asm-generic struct stat64
 * (104 bytes). riscv32 has no fstat system call: fstat() fills it from
 * statx (291). Byte offsets are given on the right. */
#ifndef XC_SYS_STAT_H
#define XC_SYS_STAT_H

#include <sys/types.h>

struct stat {
  unsigned long long st_dev;  /*   0 */
  unsigned long long st_ino;  /*   8 */
  unsigned int st_mode;       /*  16 */
  unsigned int st_nlink;      /*  20 */
  unsigned int st_uid;        /*  24 */
  unsigned int st_gid;        /*  28 */
  unsigned long long st_rdev; /*  32 */
  unsigned long long __pad1;  /*  40 */
  long long st_size;          /*  48 */
  int st_blksize;             /*  56 */
  int __pad2;                 /*  60 */
  long long st_blocks;        /*  64: 512-byte units */
  int st_atime_sec;           /*  72 */
  unsigned int st_atime_nsec; /*  76 */
  int st_mtime_sec;           /*  80 */
  unsigned int st_mtime_nsec; /*  84 */
  int st_ctime_sec;           /*  88 */
  unsigned int st_ctime_nsec; /*  92 */
  unsigned int __unused4;     /*  96 */
  unsigned int __unused5;     /* 100 */
};

#define S_IFMT 0170000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define S_IFREG 0100000
#define S_IFLNK 0120000
#define S_IFSOCK 0140000
#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#define S_ISREG(m) (((m) & S_IFMT) == S_IFREG)
#define S_ISCHR(m) (((m) & S_IFMT) == S_IFCHR)
#define S_ISSOCK(m) (((m) & S_IFMT) == S_IFSOCK)

int fstat(int fd, struct stat *st);
int mkdir(const char *path, mode_t mode);

/* struct statx (linux/stat.h), 256 bytes: what riscv32 has instead of fstat. */
struct statx_timestamp {
  long long tv_sec;
  unsigned int tv_nsec;
  int __reserved;
};
struct statx {
  unsigned int stx_mask, stx_blksize;
  unsigned long long stx_attributes;
  unsigned int stx_nlink, stx_uid, stx_gid;
  unsigned short stx_mode, __spare0;
  unsigned long long stx_ino, stx_size, stx_blocks, stx_attributes_mask;
  struct statx_timestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
  unsigned int stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
  unsigned long long __spare2[14];
};
#define AT_EMPTY_PATH 0x1000
#define STATX_BASIC_STATS 0x7ffu
#define STATX_ATTR_DAX 0x200000u

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf);

#endif
