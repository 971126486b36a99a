/* ipcpeer: one side of a multi-process IPC exchange. Several processes of
 * it, started at once by the Machine (or later by fork), rendezvous
 * through a System V key, a /dev/shm name or (with sockets) a path:
 *
 *   ipcpeer setup KEY            a semaphore (value 1) and a 4 KiB segment for KEY
 *   ipcpeer shm-add KEY N        N times: lock (semop -1, SEM_UNDO), counter++, unlock
 *   ipcpeer shm-check KEY        print the counter, remove the semaphore and segment
 *   ipcpeer msg-send KEY N       N messages, type i%3+1, text "m<i>"; then type 9 "end"
 *   ipcpeer msg-recv KEY N       receive them in order (blocking), check, print a sum
 *   ipcpeer sem-take KEY         semop -1 with SEM_UNDO on KEY's semaphore, then exit
 *   ipcpeer sem-block KEY        block in semop (-1 on a semaphore of value 0) forever
 *   ipcpeer sem-eintr KEY        as sem-block, with a SIGUSR1 handler: print what semop says
 *   ipcpeer msg-block KEY        block in msgrcv forever (or until SIGUSR1: print it)
 *   ipcpeer psem-add NAME N      N times: sem_wait, counter++ in shm_open'd memory, sem_post
 *   ipcpeer psem-check NAME      print that counter, unlink both names
 *   ipcpeer sock-server PATH N   AF_UNIX stream server: N clients, each gets its request upper-cased
 *   ipcpeer sock-client PATH MSG connect (retrying until the server is there), send MSG, print the reply
 *   ipcpeer sock-block PATH      a datagram socket bound at PATH, blocked in recv forever
 *   ipcpeer sock-pipe X          write to a socket whose peer closed: dies of SIGPIPE
 *
 * Exit status 0 on success; 1 and a line on stderr otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fail(const char *what) {
  fprintf(stderr, "ipcpeer: %s: errno %d\n", what, errno);
  return 1;
}

/* A read-modify-write slow enough that an unlocked race would lose updates. */
static void slow_inc(volatile int *p) {
  int v = *p;
  for (volatile int i = 0; i < 200; i++) {}
  *p = v + 1;
}

static int setup(key_t key) {
  int sem = semget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
  if (sem < 0) return fail("semget");
  if (semctl(sem, 0, SETVAL, 1) < 0) return fail("SETVAL");
  int shm = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
  if (shm < 0) return fail("shmget");
  printf("setup sem %d shm %d\n", sem, shm);
  return 0;
}

static int shm_add(key_t key, int n) {
  int sem = semget(key, 1, 0), shm = shmget(key, 4096, 0);
  if (sem < 0 || shm < 0) return fail("get");
  volatile int *counter = shmat(shm, 0, 0);
  if (counter == (void *)-1) return fail("shmat");
  struct sembuf lock = {0, -1, SEM_UNDO}, unlock = {0, 1, SEM_UNDO};
  for (int i = 0; i < n; i++) {
    if (semop(sem, &lock, 1) < 0) return fail("lock");
    slow_inc(counter);
    if (semop(sem, &unlock, 1) < 0) return fail("unlock");
  }
  return shmdt((void *)counter) < 0 ? fail("shmdt") : 0;
}

static int shm_check(key_t key) {
  int sem = semget(key, 1, 0), shm = shmget(key, 4096, 0);
  if (sem < 0 || shm < 0) return fail("get");
  int *counter = shmat(shm, 0, SHM_RDONLY);
  if (counter == (void *)-1) return fail("shmat");
  struct shmid_ds ds;
  shmctl(shm, IPC_STAT, &ds);
  printf("counter %d sem %d nattch %lu\n", *counter, semctl(sem, 0, GETVAL), ds.shm_nattch);
  shmdt(counter);
  if (shmctl(shm, IPC_RMID, 0) < 0 || semctl(sem, 0, IPC_RMID) < 0) return fail("rmid");
  return 0;
}

struct msg {
  long mtype;
  char text[64];
};

static int msg_send(key_t key, int n) {
  int q = msgget(key, IPC_CREAT | 0600);
  if (q < 0) return fail("msgget");
  struct msg m;
  for (int i = 0; i <= n; i++) {
    m.mtype = i < n ? i % 3 + 1 : 9;
    int len = i < n ? snprintf(m.text, sizeof m.text, "m%d", i) : snprintf(m.text, 8, "end");
    if (msgsnd(q, &m, (size_t)len, 0) < 0) return fail("msgsnd");
  }
  return 0;
}

static int msg_recv(key_t key, int n) {
  int q = msgget(key, IPC_CREAT | 0600);
  if (q < 0) return fail("msgget");
  struct msg m;
  long sum = 0;
  for (int i = 0; i < n; i++) {
    memset(m.text, 0, sizeof m.text);
    ssize_t len = msgrcv(q, &m, sizeof m.text, 0, 0);
    if (len < 0) return fail("msgrcv");
    char want[16];
    snprintf(want, sizeof want, "m%d", i);
    if (m.mtype != i % 3 + 1 || strcmp(m.text, want) != 0) {
      fprintf(stderr, "ipcpeer: message %d is type %ld '%s'\n", i, m.mtype, m.text);
      return 1;
    }
    sum += i;
  }
  if (msgrcv(q, &m, sizeof m.text, 9, 0) != 3) return fail("end");
  printf("received %d sum %ld\n", n, sum);
  return msgctl(q, IPC_RMID, 0) < 0 ? fail("rmid") : 0;
}

static int sem_take(key_t key) {
  int sem = semget(key, 1, 0);
  struct sembuf take = {0, -1, SEM_UNDO};
  if (sem < 0 || semop(sem, &take, 1) < 0) return fail("take");
  printf("took, value %d\n", semctl(sem, 0, GETVAL));
  return 0; /* exit: the kernel undoes the -1 */
}

static volatile int got_usr1;
static void on_usr1(int sig) {
  (void)sig;
  got_usr1 = 1;
}

static int sem_block(key_t key, int eintr) {
  int sem = semget(key, 1, IPC_CREAT | 0600);
  if (sem < 0) return fail("semget");
  if (eintr) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, 0);
  }
  printf("blocking\n");
  fflush(stdout);
  struct sembuf down = {0, -1, 0};
  int r = semop(sem, &down, 1);
  printf("semop %d errno %s handler %d\n", r, errno == EINTR ? "EINTR" : "other", got_usr1);
  return 0;
}

static int msg_block(key_t key) {
  int q = msgget(key, IPC_CREAT | 0600);
  if (q < 0) return fail("msgget");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, 0);
  printf("blocking\n");
  fflush(stdout);
  struct msg m;
  ssize_t r = msgrcv(q, &m, sizeof m.text, 0, 0);
  printf("msgrcv %ld errno %s handler %d\n", (long)r, errno == EINTR ? "EINTR" : "other", got_usr1);
  return 0;
}

struct pcounter {
  volatile int n;
};

static int psem_add(const char *name, int n, int check) {
  char shmname[64];
  snprintf(shmname, sizeof shmname, "%s.counter", name);
  sem_t *s = sem_open(name, O_CREAT, 0600, 1);
  if (s == SEM_FAILED) return fail("sem_open");
  int fd = shm_open(shmname, O_CREAT | O_RDWR, 0600);
  if (fd < 0) return fail("shm_open");
  if (ftruncate(fd, 4096) < 0) return fail("ftruncate");
  struct pcounter *c = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (c == MAP_FAILED) return fail("mmap");
  if (check) {
    int v;
    sem_getvalue(s, &v);
    printf("counter %d sem %d\n", c->n, v);
    if (sem_unlink(name) < 0 || shm_unlink(shmname) < 0) return fail("unlink");
    return 0;
  }
  for (int i = 0; i < n; i++) {
    if (sem_wait(s) < 0) return fail("sem_wait");
    slow_inc(&c->n);
    if (sem_post(s) < 0) return fail("sem_post");
  }
  munmap(c, 4096);
  return sem_close(s) < 0 ? fail("sem_close") : 0;
}

static socklen_t sun_of(struct sockaddr_un *a, const char *path) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  strncpy(a->sun_path, path, sizeof a->sun_path - 1);
  return (socklen_t)(2 + strlen(a->sun_path) + 1);
}

static int sock_server(const char *path, int n) {
  struct sockaddr_un a;
  socklen_t len = sun_of(&a, path);
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  if (l < 0 || bind(l, (void *)&a, len) < 0 || listen(l, 8) < 0) return fail("listen");
  long bytes = 0;
  for (int i = 0; i < n; i++) {
    int c = accept(l, 0, 0);
    if (c < 0) return fail("accept");
    char buf[256];
    long got = read(c, buf, sizeof buf);
    if (got < 0) return fail("read");
    for (long j = 0; j < got; j++) {
      if (buf[j] >= 'a' && buf[j] <= 'z') buf[j] = (char)(buf[j] - 32);
    }
    if (write(c, buf, (size_t)got) != got) return fail("write");
    bytes += got;
    close(c);
  }
  close(l);
  unlink(path);
  printf("served %d clients, %ld bytes\n", n, bytes);
  return 0;
}

static int sock_client(const char *path, const char *msg) {
  struct sockaddr_un a;
  socklen_t len = sun_of(&a, path);
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  for (int tries = 0; connect(c, (void *)&a, len) < 0; tries++) {
    if ((errno != ENOENT && errno != ECONNREFUSED) || tries > 2000000) return fail("connect");
  }
  if (write(c, msg, strlen(msg)) < 0) return fail("write");
  shutdown(c, SHUT_WR);
  char buf[256];
  long n = read(c, buf, sizeof buf - 1);
  if (n < 0) return fail("read");
  buf[n] = 0;
  printf("reply %s\n", buf);
  return 0;
}

static int sock_block(const char *path) {
  struct sockaddr_un a;
  socklen_t len = sun_of(&a, path);
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (s < 0 || bind(s, (void *)&a, len) < 0) return fail("bind");
  printf("blocking\n");
  fflush(stdout);
  char buf[16];
  recv(s, buf, sizeof buf, 0);
  return 0;
}

static int sock_pipe(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return fail("socketpair");
  close(sv[1]);
  write(sv[0], "x", 1); /* SIGPIPE's default action ends the process here */
  return fail("still alive after SIGPIPE");
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: ipcpeer MODE KEY|NAME [N]\n");
    return 2;
  }
  const char *mode = argv[1];
  key_t key = (key_t)strtol(argv[2], 0, 0);
  int n = argc > 3 ? atoi(argv[3]) : 0;
  if (!strcmp(mode, "setup")) return setup(key);
  if (!strcmp(mode, "shm-add")) return shm_add(key, n);
  if (!strcmp(mode, "shm-check")) return shm_check(key);
  if (!strcmp(mode, "msg-send")) return msg_send(key, n);
  if (!strcmp(mode, "msg-recv")) return msg_recv(key, n);
  if (!strcmp(mode, "sem-take")) return sem_take(key);
  if (!strcmp(mode, "sem-block")) return sem_block(key, 0);
  if (!strcmp(mode, "sem-eintr")) return sem_block(key, 1);
  if (!strcmp(mode, "msg-block")) return msg_block(key);
  if (!strcmp(mode, "psem-add")) return psem_add(argv[2], n, 0);
  if (!strcmp(mode, "psem-check")) return psem_add(argv[2], 0, 1);
  if (!strcmp(mode, "sock-server")) return sock_server(argv[2], n);
  if (!strcmp(mode, "sock-client")) return sock_client(argv[2], argc > 3 ? argv[3] : "");
  if (!strcmp(mode, "sock-block")) return sock_block(argv[2]);
  if (!strcmp(mode, "sock-pipe")) return sock_pipe();
  fprintf(stderr, "ipcpeer: unknown mode %s\n", mode);
  return 2;
}
