/* fcntl.h: open flags (asm-generic values, as on riscv Linux). */
#ifndef XC_FCNTL_H
#define XC_FCNTL_H

#include <sys/types.h>

#define O_RDONLY 00
#define O_WRONLY 01
#define O_RDWR 02
#define O_ACCMODE 03
#define O_CREAT 0100
#define O_EXCL 0200
#define O_NOCTTY 0400
#define O_TRUNC 01000
#define O_APPEND 02000
#define O_NONBLOCK 04000
#define O_DIRECTORY 0200000
#define O_NOFOLLOW 0400000
#define O_CLOEXEC 02000000

#define F_DUPFD 0
#define F_GETFD 1
#define F_SETFD 2
#define F_GETFL 3
#define F_SETFL 4
#define F_DUPFD_CLOEXEC 1030
#define FD_CLOEXEC 1

#define AT_FDCWD (-100)
#define AT_REMOVEDIR 0x200
#define AT_SYMLINK_FOLLOW 0x400
#define AT_EMPTY_PATH 0x1000

/* fallocate modes (linux/falloc.h). xip implements PUNCH_HOLE|KEEP_SIZE. */
#define FALLOC_FL_KEEP_SIZE 0x01
#define FALLOC_FL_PUNCH_HOLE 0x02

int open(const char *path, int flags, ...);
/* Deallocate [off, off + len) with FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE:
 * the range reads as zeros, the size stays. -1 and errno on failure. */
int fallocate(int fd, int mode, off_t off, off_t len);
int openat(int dirfd, const char *path, int flags, ...);
int fcntl(int fd, int cmd, ...);

#endif
