/**
 * Sockets as the Linux riscv32 ABI defines them (asm-generic socket.h and
 * linux/socket.h, net.h, un.h): families, types, options, message flags,
 * and the layouts of sockaddr_un and the 32-bit struct msghdr.
 *
 * @module
 */

export const AF_UNIX = 1;
export const AF_INET = 2;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
/** Flags that socket(2), socketpair(2) and accept4(2) take with the type. */
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOCK_TYPE_MASK = 0xf;

// Socket states (Linux's socket_state).
export const SS_UNCONNECTED = 1;
export const SS_LISTENING = 2;
export const SS_CONNECTED = 3;

export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_LINGER = 13;
export const SO_PASSCRED = 16;
export const SO_PEERCRED = 17;
export const SO_RCVLOWAT = 18;
export const SO_SNDLOWAT = 19;
/** struct timeval of two 32-bit longs. */
export const SO_RCVTIMEO_OLD = 20;
export const SO_SNDTIMEO_OLD = 21;
export const SO_ACCEPTCONN = 30;
export const SO_PROTOCOL = 38;
export const SO_DOMAIN = 39;
/** struct __kernel_sock_timeval: two 64-bit fields (what musl uses with a 64-bit time_t). */
export const SO_RCVTIMEO_NEW = 66;
export const SO_SNDTIMEO_NEW = 67;

export const MSG_OOB = 0x1;
export const MSG_PEEK = 0x2;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_EOR = 0x80;
export const MSG_WAITALL = 0x100;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

/** listen(2)'s backlog is capped at net.core.somaxconn (Linux's default). */
export const SOMAXCONN = 4096;
/** net.unix.max_dgram_qlen: a datagram socket's receive queue is full past this many. */
export const UNIX_MAX_DGRAM_QLEN = 10;

/** struct sockaddr_un: sa_family_t (u16) then sun_path[108]. */
export const SUN_PATH_OFFSET = 2;
export const SOCKADDR_UN_BYTES = 110;

/** struct msghdr on riscv32 (pointers and size_t are 4 bytes). */
export const MSGHDR = {
  name: 0,
  namelen: 4,
  iov: 8,
  iovlen: 12,
  control: 16,
  controllen: 20,
  flags: 24,
} as const;
export const MSGHDR_BYTES = 28;

/** struct ucred (SO_PEERCRED): pid, uid, gid. */
export const UCRED_BYTES = 12;
