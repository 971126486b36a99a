/* sys/types.h: the integer types of the xip guest ABI (riscv32, ilp32).
 * off_t is 64-bit, as in every riscv32 Linux libc. */
#ifndef XC_SYS_TYPES_H
#define XC_SYS_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef long ssize_t;
typedef long long off_t;
typedef int pid_t;
typedef unsigned int mode_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef long long time_t;
typedef int clockid_t;

#endif
