/* time.h: clock_gettime over clock_gettime64 (syscall 403). */
#ifndef XC_TIME_H
#define XC_TIME_H

#include <sys/types.h>

struct timespec {
  time_t tv_sec;
  long tv_nsec;
};

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1

int clock_gettime(clockid_t clk, struct timespec *ts);

#endif
