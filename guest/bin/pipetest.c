/* pipetest: pipes as pipe(7) describes them.
 *
 *   pipetest basic    in one process: bytes in order, a read takes what is
 *                     there, O_NONBLOCK EAGAIN on empty and full, the
 *                     64 KiB capacity, EOF after the last writer, fstat
 *                     says FIFO, lseek ESPIPE
 *   pipetest epipe    with SIGPIPE ignored, writing with no reader is EPIPE
 *   pipetest stream N a child writes N KiB in odd-sized pieces, the parent
 *                     reads it in other odd sizes and checks every byte
 *   pipetest blast KIB CHUNK
 *                     a child writes KIB KiB in CHUNK-byte writes, the
 *                     parent reads in CHUNK-byte reads (the throughput
 *                     bench: nothing is checked but the count)
 *   pipetest poll     poll(2) on both ends: readable only with bytes or
 *                     once the writer is gone (POLLHUP), writable until
 *                     full, POLLERR once the reader is gone
 *   pipetest atomic   three children each write 100 records of PIPE_BUF
 *                     bytes of their own letter: no record is torn
 *   pipetest sigpipe  writing to a pipe whose reader is gone kills the
 *                     writer with SIGPIPE (status 141 as a shell shows it)
 * Every line it prints is fixed, so qemu-riscv32 and xip print the same. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PIPE_BUF 4096
#define S_IFMT_ 0170000
#define S_IFIFO_ 0010000

static void expect(const char *what, int ok) {
  printf("%s: %s\n", what, ok ? "ok" : "WRONG");
}

static int basic(void) {
  int p[2];
  expect("pipe", pipe(p) == 0);
  expect("write 5", write(p[1], "hello", 5) == 5);
  char buf[100];
  expect("a read takes what is there", read(p[0], buf, sizeof buf) == 5 && !memcmp(buf, "hello", 5));
  close(p[0]);
  close(p[1]);

  expect("pipe2 O_NONBLOCK", pipe2(p, O_NONBLOCK) == 0);
  expect("empty: EAGAIN", read(p[0], buf, 1) < 0 && errno == EAGAIN);
  static char big[65536];
  memset(big, 'x', sizeof big);
  ssize_t n = write(p[1], big, sizeof big);
  expect("64 KiB fit", n == 65536);
  expect("full: EAGAIN", write(p[1], "y", 1) < 0 && errno == EAGAIN);
  long total = 0;
  while ((n = read(p[0], big, 10000)) > 0) total += n;
  expect("65536 bytes come back", total == 65536 && n < 0 && errno == EAGAIN);
  struct stat st;
  expect("fstat: a FIFO", fstat(p[0], &st) == 0 && (st.st_mode & S_IFMT_) == S_IFIFO_);
  expect("lseek: ESPIPE", lseek(p[0], 0, SEEK_CUR) < 0 && errno == ESPIPE);
  close(p[1]);
  expect("EOF once the writer is gone", read(p[0], buf, 10) == 0);
  close(p[0]);
  return 0;
}

/* qemu-user delivers the SIGPIPE of a write even when the guest ignores
 * it, so this one is compared with Linux's rules only. */
static int epipe(void) {
  int p[2];
  signal(SIGPIPE, SIG_IGN);
  pipe(p);
  close(p[0]);
  expect("no reader, SIGPIPE ignored: EPIPE", write(p[1], "z", 1) < 0 && errno == EPIPE);
  close(p[1]);
  return 0;
}

static unsigned char pattern(long i) {
  return (unsigned char)(i * 13 + (i >> 8));
}

static int stream(long kib) {
  int p[2];
  pipe(p);
  long len = kib * 1024;
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    static unsigned char out[7001];
    for (long done = 0; done < len;) {
      long n = (done / 7 % 7001) + 1;
      if (n > len - done) n = len - done;
      for (long i = 0; i < n; i++) out[i] = pattern(done + i);
      if (write(p[1], out, n) != n) _exit(1);
      done += n;
    }
    _exit(0);
  }
  close(p[1]);
  static unsigned char in[5003];
  long got = 0, bad = 0;
  for (;;) {
    long want = (got / 3 % 5003) + 1;
    ssize_t n = read(p[0], in, want);
    if (n <= 0) break;
    for (long i = 0; i < n; i++) bad += in[i] != pattern(got + i);
    got += n;
  }
  int st;
  waitpid(c, &st, 0);
  printf("stream: %ld of %ld bytes, %ld wrong, writer exited %d\n", got, len, bad,
         WEXITSTATUS(st));
  return 0;
}

static int blast(long kib, long chunk) {
  int p[2];
  pipe(p);
  long len = kib * 1024;
  static char buf[65536];
  if (chunk < 1 || chunk > (long)sizeof buf) return 2;
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    for (long done = 0; done < len;) {
      long n = len - done < chunk ? len - done : chunk;
      if (write(p[1], buf, n) != n) _exit(1);
      done += n;
    }
    _exit(0);
  }
  close(p[1]);
  long got = 0;
  ssize_t n;
  while ((n = read(p[0], buf, chunk)) > 0) got += n;
  int st;
  waitpid(c, &st, 0);
  return got == len && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* The revents of one fd, polled without waiting. */
static int revents(int fd, short events) {
  struct pollfd pfd = {fd, events, 0};
  return poll(&pfd, 1, 0) < 0 ? -1 : pfd.revents;
}

static int polls(void) {
  int p[2];
  pipe2(p, O_NONBLOCK);
  expect("empty: the read end is not readable", revents(p[0], POLLIN) == 0);
  expect("the write end is writable", revents(p[1], POLLOUT) == POLLOUT);
  write(p[1], "x", 1);
  expect("a byte in: readable", revents(p[0], POLLIN) == POLLIN);
  static char buf[65536];
  while (write(p[1], buf, sizeof buf) > 0) {
  }
  expect("full: not writable", revents(p[1], POLLOUT) == 0);
  while (read(p[0], buf, sizeof buf) > 0) {
  }
  close(p[1]);
  expect("the writer gone: POLLHUP", revents(p[0], POLLIN) == POLLHUP);
  close(p[0]);
  pipe(p);
  close(p[0]);
  expect("the reader gone: POLLERR", revents(p[1], POLLOUT) == (POLLOUT | POLLERR));
  expect("a closed fd: POLLNVAL", revents(p[0], POLLIN) == POLLNVAL);
  close(p[1]);
  return 0;
}

static int atomic(void) {
  int p[2];
  pipe(p);
  fflush(stdout);
  pid_t kids[3];
  for (int k = 0; k < 3; k++) {
    kids[k] = fork();
    if (kids[k] == 0) {
      close(p[0]);
      static char rec[PIPE_BUF];
      memset(rec, 'a' + k, sizeof rec);
      for (int i = 0; i < 100; i++) {
        if (write(p[1], rec, sizeof rec) != sizeof rec) _exit(1);
      }
      _exit(0);
    }
  }
  close(p[1]);
  static char rec[PIPE_BUF];
  int counts[3] = {0, 0, 0}, torn = 0, fill = 0;
  for (;;) {
    ssize_t n = read(p[0], rec + fill, sizeof rec - fill);
    if (n <= 0) break;
    fill += n;
    if (fill < PIPE_BUF) continue;
    fill = 0;
    int k = rec[0] - 'a';
    int same = k >= 0 && k < 3;
    for (int i = 1; i < PIPE_BUF && same; i++) same = rec[i] == rec[0];
    if (same) counts[k]++;
    else torn++;
  }
  for (int k = 0; k < 3; k++) waitpid(kids[k], 0, 0);
  printf("atomic: records %d %d %d, torn %d\n", counts[0], counts[1], counts[2], torn);
  return 0;
}

static int sigpipe(void) {
  int p[2];
  pipe(p);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    for (;;) write(p[1], "data", 4);
  }
  close(p[1]);
  close(p[0]);
  int st;
  waitpid(c, &st, 0);
  if (WIFSIGNALED(st)) printf("writer killed by signal %d\n", WTERMSIG(st));
  else printf("writer exited %d\n", WEXITSTATUS(st));
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "";
  if (!strcmp(cmd, "basic")) return basic();
  if (!strcmp(cmd, "epipe")) return epipe();
  if (!strcmp(cmd, "stream") && argc > 2) return stream(atol(argv[2]));
  if (!strcmp(cmd, "atomic")) return atomic();
  if (!strcmp(cmd, "poll")) return polls();
  if (!strcmp(cmd, "blast") && argc > 3) return blast(atol(argv[2]), atol(argv[3]));
  if (!strcmp(cmd, "sigpipe")) return sigpipe();
  printf("usage: pipetest basic | epipe | stream KIB | blast KIB CHUNK | poll | atomic | sigpipe\n");
  return 2;
}
