/* socket.c: the socket calls. riscv32 has one system call per call and no
 * socketcall(2); send and recv are sendto and recvfrom without an address. */
#include <sys/socket.h>

#include "internal.h"

enum {
  SYS_socket = 198,
  SYS_socketpair = 199,
  SYS_bind = 200,
  SYS_listen = 201,
  SYS_accept = 202,
  SYS_connect = 203,
  SYS_getsockname = 204,
  SYS_getpeername = 205,
  SYS_sendto = 206,
  SYS_recvfrom = 207,
  SYS_setsockopt = 208,
  SYS_getsockopt = 209,
  SYS_shutdown = 210,
  SYS_sendmsg = 211,
  SYS_recvmsg = 212,
  SYS_accept4 = 242,
};

int socket(int domain, int type, int protocol) {
  return (int)__xc_ret(xc_syscall3(SYS_socket, domain, type, protocol));
}

int socketpair(int domain, int type, int protocol, int sv[2]) {
  return (int)__xc_ret(xc_syscall4(SYS_socketpair, domain, type, protocol, sv));
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  return (int)__xc_ret(xc_syscall3(SYS_bind, fd, addr, len));
}

int listen(int fd, int backlog) {
  return (int)__xc_ret(xc_syscall2(SYS_listen, fd, backlog));
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  return (int)__xc_ret(xc_syscall3(SYS_accept, fd, addr, len));
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  return (int)__xc_ret(xc_syscall4(SYS_accept4, fd, addr, len, flags));
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  return (int)__xc_ret(xc_syscall3(SYS_connect, fd, addr, len));
}

int getsockname(int fd, struct sockaddr *addr, socklen_t *len) {
  return (int)__xc_ret(xc_syscall3(SYS_getsockname, fd, addr, len));
}

int getpeername(int fd, struct sockaddr *addr, socklen_t *len) {
  return (int)__xc_ret(xc_syscall3(SYS_getpeername, fd, addr, len));
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
  return __xc_ret(xc_syscall6(SYS_sendto, fd, (long)buf, (long)len, flags, 0, 0));
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
  return __xc_ret(xc_syscall6(SYS_recvfrom, fd, (long)buf, (long)len, flags, 0, 0));
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
               socklen_t tolen) {
  return __xc_ret(xc_syscall6(SYS_sendto, fd, (long)buf, (long)len, flags, (long)to, (long)tolen));
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                 socklen_t *fromlen) {
  return __xc_ret(
      xc_syscall6(SYS_recvfrom, fd, (long)buf, (long)len, flags, (long)from, (long)fromlen));
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  return __xc_ret(xc_syscall3(SYS_sendmsg, fd, msg, flags));
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  return __xc_ret(xc_syscall3(SYS_recvmsg, fd, msg, flags));
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len) {
  return (int)__xc_ret(xc_syscall5(SYS_getsockopt, fd, level, name, val, len));
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  return (int)__xc_ret(xc_syscall5(SYS_setsockopt, fd, level, name, val, len));
}

int shutdown(int fd, int how) {
  return (int)__xc_ret(xc_syscall2(SYS_shutdown, fd, how));
}
