/* ipcbench MODE N: a parent and a forked child exchange through one IPC
 * mechanism, timed inside the guest (CLOCK_MONOTONIC around the exchange
 * only, after the fork), so that bench/ipc_bench.ts can compare xip with
 * qemu-riscv32 (which runs the same calls on the host kernel):
 *
 *   sem N     N round trips of System V semaphore ping-pong (two semaphores)
 *   psem N    N round trips of POSIX unnamed semaphores in MAP_SHARED|MAP_ANONYMOUS
 *   msg N     N round trips of a 64-byte System V message
 *   dgram N   N round trips of a 64-byte datagram over socketpair(SOCK_DGRAM)
 *   stream N  N KiB from the child to the parent over socketpair(SOCK_STREAM),
 *             in 16 KiB writes
 *
 * Prints "MODE N ns_per_op" (per round trip, or per KiB for stream) and
 * exits 0; exits 1 with a line on stderr when a call fails. */
#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "ipcbench: %s: errno %d\n", what, errno);
  exit(1);
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void semop1(int id, int num, int op) {
  struct sembuf b = {(unsigned short)num, (short)op, 0};
  while (semop(id, &b, 1) < 0) {
    if (errno != EINTR) die("semop");
  }
}

/* Each side: `ping` sends one, `pong` waits for one. */
static long long run(int n, void (*ping)(int), void (*pong)(int), void (*child_ping)(int),
                     void (*child_pong)(int)) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    for (int i = 0; i < n; i++) {
      child_pong(i);
      child_ping(i);
    }
    _exit(0);
  }
  long long t0 = now_ns();
  for (int i = 0; i < n; i++) {
    ping(i);
    pong(i);
  }
  long long t = now_ns() - t0;
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("child");
  return t;
}

static int semid;
static void sem_a_up(int i) { (void)i; semop1(semid, 0, 1); }
static void sem_a_down(int i) { (void)i; semop1(semid, 0, -1); }
static void sem_b_up(int i) { (void)i; semop1(semid, 1, 1); }
static void sem_b_down(int i) { (void)i; semop1(semid, 1, -1); }

static sem_t *psem;
static void psem_a_up(int i) { (void)i; sem_post(&psem[0]); }
static void psem_a_down(int i) { (void)i; while (sem_wait(&psem[0]) < 0) {} }
static void psem_b_up(int i) { (void)i; sem_post(&psem[1]); }
static void psem_b_down(int i) { (void)i; while (sem_wait(&psem[1]) < 0) {} }

static int msqid;
struct msg64 {
  long type;
  char text[64];
};
static void msg_send(long type) {
  struct msg64 m = {type, "ping"};
  if (msgsnd(msqid, &m, sizeof m.text, 0) < 0) die("msgsnd");
}
static void msg_recv(long type) {
  struct msg64 m;
  if (msgrcv(msqid, &m, sizeof m.text, type, 0) != (ssize_t)sizeof m.text) die("msgrcv");
}
static void msg_to_child(int i) { (void)i; msg_send(1); }
static void msg_from_child(int i) { (void)i; msg_recv(2); }
static void msg_to_parent(int i) { (void)i; msg_send(2); }
static void msg_from_parent(int i) { (void)i; msg_recv(1); }

static int sv[2];
static void dgram_send(int fd) {
  char b[64] = "ping";
  if (send(fd, b, sizeof b, 0) != (ssize_t)sizeof b) die("send");
}
static void dgram_recv(int fd) {
  char b[64];
  if (recv(fd, b, sizeof b, 0) != (ssize_t)sizeof b) die("recv");
}
static void dg_p_send(int i) { (void)i; dgram_send(sv[0]); }
static void dg_p_recv(int i) { (void)i; dgram_recv(sv[0]); }
static void dg_c_send(int i) { (void)i; dgram_send(sv[1]); }
static void dg_c_recv(int i) { (void)i; dgram_recv(sv[1]); }

static long long stream(int kib) {
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) die("socketpair");
  static char buf[16384];
  long long total = (long long)kib * 1024;
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(sv[0]);
    memset(buf, 'x', sizeof buf);
    for (long long sent = 0; sent < total;) {
      long long want = total - sent < (long long)sizeof buf ? total - sent : (long long)sizeof buf;
      ssize_t w = write(sv[1], buf, (size_t)want);
      if (w <= 0) die("write");
      sent += w;
    }
    _exit(0);
  }
  close(sv[1]);
  long long t0 = now_ns(), got = 0;
  while (got < total) {
    ssize_t r = read(sv[0], buf, sizeof buf);
    if (r <= 0) die("read");
    got += r;
  }
  long long t = now_ns() - t0;
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("child");
  close(sv[0]);
  return t;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: ipcbench sem|psem|msg|dgram|stream N\n");
    return 2;
  }
  const char *mode = argv[1];
  int n = atoi(argv[2]);
  if (n <= 0) {
    fprintf(stderr, "ipcbench: N must be positive\n");
    return 2;
  }
  long long t;
  if (strcmp(mode, "sem") == 0) {
    semid = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    if (semid < 0) die("semget");
    t = run(n, sem_a_up, sem_b_down, sem_b_up, sem_a_down);
    semctl(semid, 0, IPC_RMID);
  } else if (strcmp(mode, "psem") == 0) {
    psem = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (psem == MAP_FAILED) die("mmap");
    sem_init(&psem[0], 1, 0);
    sem_init(&psem[1], 1, 0);
    t = run(n, psem_a_up, psem_b_down, psem_b_up, psem_a_down);
  } else if (strcmp(mode, "msg") == 0) {
    msqid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (msqid < 0) die("msgget");
    t = run(n, msg_to_child, msg_from_child, msg_to_parent, msg_from_parent);
    msgctl(msqid, IPC_RMID, 0);
  } else if (strcmp(mode, "dgram") == 0) {
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) die("socketpair");
    t = run(n, dg_p_send, dg_p_recv, dg_c_send, dg_c_recv);
  } else if (strcmp(mode, "stream") == 0) {
    t = stream(n);
  } else {
    fprintf(stderr, "ipcbench: unknown mode %s\n", mode);
    return 2;
  }
  printf("%s %d %lld\n", mode, n, t / n);
  return 0;
}
