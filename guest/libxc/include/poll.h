/* poll.h: poll and ppoll over ppoll_time64 (syscall 414; riscv32 has no
 * poll or ppoll of its own). */
#ifndef XC_POLL_H
#define XC_POLL_H

#include <signal.h>
#include <time.h>

struct pollfd {
  int fd;
  short events;
  short revents;
};
typedef unsigned long nfds_t;

#define POLLIN 0x1
#define POLLPRI 0x2
#define POLLOUT 0x4
#define POLLERR 0x8
#define POLLHUP 0x10
#define POLLNVAL 0x20
#define POLLRDNORM 0x40
#define POLLRDBAND 0x80
#define POLLWRNORM 0x100
#define POLLWRBAND 0x200
#define POLLRDHUP 0x2000

/* Wait up to timeout_ms (negative: for ever) for an event on one of fds. */
int poll(struct pollfd *fds, nfds_t n, int timeout_ms);
/* The same with a timespec (NULL: for ever) and `mask` blocked while waiting (NULL: unchanged). */
int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask);

#endif
