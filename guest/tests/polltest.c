/* polltest: poll and ppoll on AF_UNIX sockets and files, printing every
 * result, for comparison with qemu-riscv32 (the host kernel's poll):
 * readiness of a stream pair through data, shutdown and close; an
 * unconnected socket, a listener with a client waiting, a datagram pair;
 * a bad fd, a negative fd, a regular file; a poll woken by a forked
 * child's write; a timeout; ppoll's signal mask
 * (a blocked signal interrupts it, and is blocked again afterwards). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *en(long r) {
  if (r >= 0) return "ok";
  switch (errno) {
  case EINVAL: return "EINVAL";
  case EINTR: return "EINTR";
  case EFAULT: return "EFAULT";
  default: return "E?";
  }
}

/* poll one fd for `events` with `ms`: prints the count and revents. */
static void one(const char *what, int fd, short events, int ms) {
  struct pollfd p = {fd, events, 0};
  int n = poll(&p, 1, ms);
  printf("%s: %d %s revents=%#x\n", what, n, en(n), n < 0 ? 0 : p.revents);
}

static void stream_pair(void) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  one("pair idle", sv[0], POLLIN | POLLOUT, 0);
  write(sv[1], "x", 1);
  one("pair data", sv[0], POLLIN | POLLOUT | POLLRDNORM, 0);
  char c;
  read(sv[0], &c, 1);
  one("pair drained, 50 ms", sv[0], POLLIN, 50);
  /* A child writes while the parent sleeps in poll. */
  pid_t pid = fork();
  if (pid == 0) {
    struct pollfd none = {-1, 0, 0};
    poll(&none, 1, 100); /* sleep 100 ms */
    write(sv[1], "y", 1);
    _exit(0);
  }
  one("woken by the child", sv[0], POLLIN, -1);
  waitpid(pid, 0, 0);
  read(sv[0], &c, 1);
  shutdown(sv[1], SHUT_WR);
  one("peer shut writing", sv[0], POLLIN | POLLRDHUP, 0);
  close(sv[1]);
  one("peer closed", sv[0], POLLIN | POLLOUT | POLLRDHUP, 0);
  close(sv[0]);
}

static void listener(int pid) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  one("unconnected", s, POLLIN | POLLOUT, 0);
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof a.sun_path, "polltest.%d", pid);
  bind(s, (struct sockaddr *)&a, sizeof a);
  listen(s, 4);
  one("listening", s, POLLIN | POLLOUT, 0);
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  connect(c, (struct sockaddr *)&a, sizeof a);
  one("a client waits", s, POLLIN | POLLOUT, 0);
  int e = accept(s, 0, 0);
  one("accepted end", e, POLLIN | POLLOUT, 0);
  one("client end", c, POLLOUT, 0);
  close(e);
  close(c);
  close(s);
  unlink(a.sun_path);
}

static void dgram_pair(void) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  one("dgram idle", sv[0], POLLIN | POLLOUT, 0);
  send(sv[1], "d", 1, 0);
  one("dgram sent", sv[0], POLLIN | POLLOUT, 0);
  close(sv[0]);
  close(sv[1]);
}

static void files(int pid) {
  one("bad fd", 99, POLLIN, 0);
  one("negative fd", -1, POLLIN, 0);
  char name[64];
  snprintf(name, sizeof name, "polltest.%d.f", pid);
  int fd = open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
  one("regular file", fd, POLLIN | POLLOUT, 0);
  close(fd);
  unlink(name);
  struct pollfd p = {0, 0, 0};
  printf("too many: %s\n", en(poll(&p, 0x7fffffff, 0)));
  struct timespec ts = {0, 200000000};
  struct pollfd none = {-1, 0, 0};
  printf("ppoll 200 ms: %d\n", ppoll(&none, 1, &ts, 0));
}

static volatile int caught;
static void on_usr1(int sig) {
  (void)sig;
  caught++;
}

static void masked(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, 0);
  sigset_t block, empty, now;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigemptyset(&empty);
  sigprocmask(SIG_BLOCK, &block, 0);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    kill(parent, SIGUSR1); /* pending, blocked, until ppoll unblocks it */
    _exit(0);
  }
  waitpid(pid, 0, 0);
  printf("masked: caught before %d\n", caught);
  struct pollfd none = {-1, 0, 0};
  int n = ppoll(&none, 1, 0, &empty);
  sigprocmask(SIG_BLOCK, 0, &now);
  printf("masked: ppoll %d %s, caught %d, blocked again %d\n", n, en(n), caught,
         sigismember(&now, SIGUSR1));
  sigprocmask(SIG_UNBLOCK, &block, 0);
}

int main(void) {
  int pid = getpid();
  stream_pair();
  listener(pid);
  dgram_pair();
  files(pid);
  masked();
  printf("done\n");
  return 0;
}
