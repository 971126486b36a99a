/**
 * poll(2) event bits (asm-generic/poll.h) and struct pollfd.
 *
 * @module
 */

export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const POLLRDNORM = 0x40;
export const POLLRDBAND = 0x80;
export const POLLWRNORM = 0x100;
export const POLLWRBAND = 0x200;
export const POLLRDHUP = 0x2000;

/** What a file without a poll operation reports: always readable and writable (DEFAULT_POLLMASK). */
export const DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

/** struct pollfd: { int fd; short events; short revents; }, 8 bytes. */
export const POLLFD = { fd: 0, events: 4, revents: 6 } as const;
export const POLLFD_BYTES = 8;
