/* unixbasic: AF_UNIX sockets, printing every result, for comparison with
 * qemu-riscv32 (the host kernel's sockets): socketpair (stream and
 * datagram), shutdown, EPIPE, SO_TYPE/SO_ERROR/SO_ACCEPTCONN/SO_PEERCRED,
 * bind/listen/connect/accept on a path in the current directory and in
 * /dev/shm and on an abstract name, datagrams with sender addresses, the
 * error cases, nonblocking calls, and a server with a forked client. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *en(long r) {
  if (r >= 0) return "ok";
  switch (errno) {
  case EINVAL: return "EINVAL";
  case ENOENT: return "ENOENT";
  case EAGAIN: return "EAGAIN";
  case EPIPE: return "EPIPE";
  case ENOTCONN: return "ENOTCONN";
  case EISCONN: return "EISCONN";
  case ECONNREFUSED: return "ECONNREFUSED";
  case ECONNRESET: return "ECONNRESET";
  case EADDRINUSE: return "EADDRINUSE";
  case EOPNOTSUPP: return "EOPNOTSUPP";
  case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
  case EPROTOTYPE: return "EPROTOTYPE";
  case ENOTSOCK: return "ENOTSOCK";
  case ENXIO: return "ENXIO";
  case ESPIPE: return "ESPIPE";
  case EBADF: return "EBADF";
  default: return "E?";
  }
}

static int optint(int fd, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, name, &v, &len) < 0) return -1000 - errno;
  return v;
}

static socklen_t addr_of(struct sockaddr_un *a, const char *path) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  strcpy(a->sun_path, path);
  return (socklen_t)(2 + strlen(path) + 1);
}

static void pair_stream(void) {
  int sv[2];
  printf("pair: %s\n", en(socketpair(AF_UNIX, SOCK_STREAM, 0, sv)));
  printf("pair: type %d domain %d error %d acceptconn %d\n", optint(sv[0], SO_TYPE),
         optint(sv[0], SO_DOMAIN), optint(sv[0], SO_ERROR), optint(sv[0], SO_ACCEPTCONN));
  struct ucred cr;
  socklen_t crl = sizeof cr;
  getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cr, &crl);
  printf("pair: peercred pid %s len %u\n", cr.pid == getpid() ? "me" : "other", crl);
  struct stat st;
  fstat(sv[0], &st);
  printf("pair: fstat socket %d\n", S_ISSOCK(st.st_mode));
  char buf[64];
  printf("pair: write %ld\n", (long)write(sv[0], "hello", 5));
  printf("pair: send %ld\n", (long)send(sv[0], " world", 6, 0));
  memset(buf, 0, sizeof buf);
  printf("pair: peek %ld '%s'\n", (long)recv(sv[1], buf, 3, MSG_PEEK), buf);
  memset(buf, 0, sizeof buf);
  printf("pair: read %ld '%s'\n", (long)read(sv[1], buf, sizeof buf), buf);
  printf("pair: nonblock recv %s\n", en(recv(sv[1], buf, 8, MSG_DONTWAIT)));
  printf("pair: lseek %s pread %s\n", en(lseek(sv[1], 0, SEEK_SET)), en(pread(sv[1], buf, 1, 0)));
  printf("pair: shutdown wr %s\n", en(shutdown(sv[0], SHUT_WR)));
  printf("pair: read after peer shutdown %ld\n", (long)read(sv[1], buf, 8));
  printf("pair: write after own shutdown %s\n", en(send(sv[0], "x", 1, MSG_NOSIGNAL)));
  printf("pair: other way still works %ld\n", (long)write(sv[1], "back", 4));
  printf("pair: read %ld\n", (long)read(sv[0], buf, 8));
  printf("pair: shutdown bad %s\n", en(shutdown(sv[0], 7)));
  close(sv[0]);
  printf("pair: write to closed peer %s\n", en(send(sv[1], "x", 1, MSG_NOSIGNAL)));
  /* (SIGPIPE itself is checked by tests/kernel/unix_socket_test.ts: under
   * qemu-riscv32 7.2 a guest's handled or ignored SIGPIPE from a host
   * socket still kills it.) */
  close(sv[1]);
  /* Unread data when the peer closes: the reader of the other end sees ECONNRESET. */
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  write(sv[0], "unread", 6);
  close(sv[1]);
  printf("pair: read after peer closed with data unread %s\n", en(read(sv[0], buf, 8)));
  close(sv[0]);
}

static void pair_dgram(void) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  printf("dgram: type %d\n", optint(sv[0], SO_TYPE));
  send(sv[0], "one", 3, 0);
  send(sv[0], "twotwo", 6, 0);
  send(sv[0], "", 0, 0);
  char buf[16];
  memset(buf, 0, sizeof buf);
  printf("dgram: recv %ld '%s'\n", (long)recv(sv[1], buf, sizeof buf, 0), buf);
  memset(buf, 0, sizeof buf);
  printf("dgram: trunc %ld '%s'\n", (long)recv(sv[1], buf, 3, MSG_TRUNC), buf);
  printf("dgram: empty datagram %ld\n", (long)recv(sv[1], buf, sizeof buf, 0));
  printf("dgram: nonblock %s\n", en(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT)));
  int sent = 0;
  while (send(sv[0], "q", 1, MSG_DONTWAIT) == 1) sent++;
  /* (How many fit depends on the kernel's buffer accounting: not printed.) */
  printf("dgram: queue fills: %s after more than 10: %d\n", en(-1), sent > 10);
  struct msghdr mh;
  struct iovec iov[2];
  char a[2], b[4];
  iov[0].iov_base = a, iov[0].iov_len = 2;
  iov[1].iov_base = b, iov[1].iov_len = 4;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = iov, mh.msg_iovlen = 2;
  while (recv(sv[1], buf, 1, MSG_DONTWAIT) == 1) {}
  struct iovec out[2] = {{"ab", 2}, {"cdefg", 5}};
  struct msghdr smh;
  memset(&smh, 0, sizeof smh);
  smh.msg_iov = out, smh.msg_iovlen = 2;
  printf("dgram: sendmsg %ld\n", (long)sendmsg(sv[0], &smh, 0));
  long n = recvmsg(sv[1], &mh, 0);
  printf("dgram: recvmsg %ld flags trunc=%d '%.2s' '%.4s'\n", n, (mh.msg_flags & MSG_TRUNC) != 0, a, b);
  close(sv[0]);
  close(sv[1]);
}

static void errors(void) {
  printf("err: protocol %s\n", en(socket(AF_UNIX, SOCK_STREAM, 5)));
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a;
  printf("err: connect nowhere %s\n", en(connect(s, (void *)&a, addr_of(&a, "no/such/socket"))));
  int f = open("plainfile", O_CREAT | O_RDWR, 0600);
  close(f);
  printf("err: connect to a file %s\n", en(connect(s, (void *)&a, addr_of(&a, "plainfile"))));
  unlink("plainfile");
  printf("err: listen unbound %s\n", en(listen(s, 5)));
  printf("err: getpeername %s\n", en(getpeername(s, (void *)&a, &(socklen_t){sizeof a})));
  printf("err: recv unconnected %s\n", en(recv(s, &a, 1, MSG_DONTWAIT)));
  printf("err: send unconnected %s\n", en(send(s, "x", 1, MSG_NOSIGNAL)));
  printf("err: short address %s\n", en(bind(s, (void *)&a, 1)));
  printf("err: not a socket %s\n", en(listen(0, 1)));
  printf("err: bad fd %s\n", en(shutdown(99, SHUT_RD)));
  int d = socket(AF_UNIX, SOCK_DGRAM, 0);
  printf("err: listen dgram %s\n", en(listen(d, 1)));
  printf("err: dgram send unconnected %s\n", en(send(d, "x", 1, 0)));
  printf("err: unknown option %d\n", optint(d, 12345));
  close(s);
  close(d);
}

/* bind/listen/connect/accept at `path` (abstract when it starts with '@'),
 * printing `label` instead of the path (which may hold the pid). */
static void named(const char *label, const char *path) {
  struct sockaddr_un a;
  socklen_t alen = addr_of(&a, path);
  if (path[0] == '@') {
    a.sun_path[0] = 0;
    alen = (socklen_t)(2 + strlen(path)); /* abstract: no NUL */
  }
  int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  printf("%s: bind %s\n", label, en(bind(l, (void *)&a, alen)));
  int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
  printf("%s: bind again %s\n", label, en(bind(l2, (void *)&a, alen)));
  printf("%s: connect before listen %s\n", label, en(connect(l2, (void *)&a, alen)));
  if (path[0] != '@') printf("%s: open %s\n", label, en(open(path, O_RDWR)));
  printf("%s: listen %s acceptconn %d\n", label, en(listen(l, 4)), optint(l, SO_ACCEPTCONN));
  printf("%s: accept empty %s\n", label, en(accept(l, 0, 0)));
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  printf("%s: connect %s, again %s\n", label, en(connect(c, (void *)&a, alen)),
         en(connect(c, (void *)&a, alen)));
  write(c, "early", 5); /* before accept: queued on the server's end */
  struct sockaddr_un peer;
  socklen_t plen = sizeof peer;
  int s = accept(l, (void *)&peer, &plen);
  printf("%s: accept %s peer len %u\n", label, en(s), plen);
  char buf[32];
  memset(buf, 0, sizeof buf);
  printf("%s: server reads %ld '%s'\n", label, (long)read(s, buf, sizeof buf), buf);
  struct sockaddr_un me;
  socklen_t mlen = sizeof me;
  getsockname(s, (void *)&me, &mlen);
  printf("%s: accepted socket's name len ok %d same %d\n", label, mlen == alen, memcmp(&me, &a, alen) == 0);
  mlen = sizeof me;
  getpeername(c, (void *)&me, &mlen);
  printf("%s: client's peer name len ok %d same %d\n", label, mlen == alen, memcmp(&me, &a, alen) == 0);
  struct ucred cr;
  socklen_t crl = sizeof cr;
  getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crl);
  printf("%s: server sees client pid %s\n", label, cr.pid == getpid() ? "me" : "other");
  /* A client connected but never accepted is reset when the listener closes. */
  int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
  connect(c2, (void *)&a, alen);
  close(l);
  printf("%s: pending client after listener closed %s\n", label, en(read(c2, buf, 4)));
  printf("%s: connect after close %s\n", label, en(connect(socket(AF_UNIX, SOCK_STREAM, 0), (void *)&a, alen)));
  if (path[0] != '@') printf("%s: unlink %s\n", label, en(unlink(path)));
  close(s);
  close(c);
  close(c2);
  close(l2);
}

static char shmname[64];

static const char *shm(const char *what) {
  snprintf(shmname, sizeof shmname, "/dev/shm/unixbasic.%d.%s", getpid(), what);
  return shmname;
}

static void dgram_named(void) {
  struct sockaddr_un a, from;
  socklen_t alen = addr_of(&a, shm("dg"));
  int r = socket(AF_UNIX, SOCK_DGRAM, 0);
  printf("dgname: bind %s\n", en(bind(r, (void *)&a, alen)));
  int w = socket(AF_UNIX, SOCK_DGRAM, 0);
  printf("dgname: sendto %ld\n", (long)sendto(w, "ping", 4, 0, (void *)&a, alen));
  char buf[16];
  memset(buf, 0, sizeof buf);
  socklen_t flen = sizeof from;
  long n = recvfrom(r, buf, sizeof buf, 0, (void *)&from, &flen);
  printf("dgname: recvfrom %ld '%s' from an unnamed sender: len %u\n", n, buf, flen);
  printf("dgname: reply to no name %s\n", en(sendto(r, "x", 1, 0, (void *)&from, flen)));
  struct sockaddr_un wa;
  char wname[64];
  strcpy(wname, shm("dgw"));
  socklen_t walen = addr_of(&wa, wname);
  printf("dgname: bind sender %s\n", en(bind(w, (void *)&wa, walen)));
  sendto(w, "ping2", 5, 0, (void *)&a, alen);
  flen = sizeof from;
  n = recvfrom(r, buf, sizeof buf, 0, (void *)&from, &flen);
  printf("dgname: recvfrom %ld from len ok %d same %d\n", n, flen == walen, memcmp(&from, &wa, walen) == 0);
  printf("dgname: reply %ld\n", (long)sendto(r, "pong", 4, 0, (void *)&from, flen));
  memset(buf, 0, sizeof buf);
  printf("dgname: sender gets %ld '%s'\n", (long)recv(w, buf, sizeof buf, 0), buf);
  unlink(wname);
  printf("dgname: connect %s send %ld\n", en(connect(w, (void *)&a, alen)), (long)send(w, "x", 1, 0));
  close(r);
  printf("dgname: send to closed %s\n", en(send(w, "x", 1, 0)));
  unlink(shm("dg"));
  close(w);
}

static void forked(void) {
  struct sockaddr_un a;
  socklen_t alen = addr_of(&a, shm("srv"));
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  bind(l, (void *)&a, alen);
  listen(l, 1);
  pid_t pid = fork();
  if (pid == 0) {
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c, (void *)&a, alen) < 0) _exit(1);
    char buf[4096];
    for (int i = 0; i < 40; i++) {
      memset(buf, 'a' + i % 26, sizeof buf);
      if (write(c, buf, sizeof buf) != sizeof buf) _exit(2);
    }
    shutdown(c, SHUT_WR);
    long n = read(c, buf, sizeof buf);
    _exit(n == 4 && memcmp(buf, "done", 4) == 0 ? 0 : 3);
  }
  int s = accept(l, 0, 0);
  char buf[1000];
  long total = 0, sum = 0;
  for (;;) {
    long n = read(s, buf, sizeof buf);
    if (n <= 0) break;
    for (long i = 0; i < n; i++) sum += buf[i];
    total += n;
  }
  write(s, "done", 4);
  int st = 0;
  waitpid(pid, &st, 0);
  printf("fork: server read %ld bytes sum %ld, client exit %d\n", total, sum, WEXITSTATUS(st));
  close(s);
  close(l);
  unlink(shm("srv"));
}

int main(void) {
  pair_stream();
  pair_dgram();
  errors();
  char abs[32];
  snprintf(abs, sizeof abs, "@unixbasic.%d", getpid());
  named("cwd", "unixbasic.sock");
  char shmsock[64];
  strcpy(shmsock, shm("sock"));
  named("shm", shmsock);
  named("abstract", abs);
  dgram_named();
  forked();
  printf("done\n");
  return 0;
}
