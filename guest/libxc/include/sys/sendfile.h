#ifndef XC_SYS_SENDFILE_H
#define XC_SYS_SENDFILE_H

#include <sys/types.h>

/* Syscall 71 is sendfile64 on riscv32: the offset pointer is 64-bit. */
ssize_t sendfile(int out_fd, int in_fd, off_t *off, size_t n);

#endif
