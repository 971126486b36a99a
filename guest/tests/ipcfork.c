/* ipcfork: shared memory and IPC between a parent and the children it
 * forks, printing every result, for comparison with qemu-riscv32 (which
 * forks host processes over the host's kernel):
 *   - MAP_SHARED|MAP_ANONYMOUS stays shared across fork, MAP_PRIVATE does not;
 *     a child sees the parent's write made after the fork, and a grandchild
 *     (a fork of the fork) writes the same page;
 *   - an attached System V segment is inherited (its attach count too);
 *   - SEM_UNDO is undone when the child exits, and not inherited;
 *   - semaphore and message-queue ping-pong between parent and child (blocking);
 *   - an unnamed POSIX semaphore in shared anonymous memory (sem_init pshared). */
#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static int wait_child(pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void anon(void) {
  int *shared = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int *priv = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  shared[0] = 1;
  priv[0] = 1;
  pid_t pid = fork();
  if (pid == 0) {
    shared[0] = 2;
    shared[2000] = 77; /* a page the parent never touched */
    priv[0] = 2;
    _exit(0);
  }
  int st = wait_child(pid);
  printf("anon: child %d shared=%d/%d private=%d\n", st, shared[0], shared[2000], priv[0]);
  munmap(shared, 8192);
  munmap(priv, 8192);
}

/* The parent writes after the fork; the child waits for it (a bounded
 * spin), then forks a grandchild that writes back through the same page. */
static void anon_later(void) {
  volatile int *s = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  pid_t pid = fork();
  if (pid == 0) {
    for (long i = 0; i < 200000000L && s[0] == 0; i++) {
    }
    int seen = s[0];
    pid_t g = fork();
    if (g == 0) {
      s[1] = seen + 1;
      _exit(0);
    }
    _exit(wait_child(g));
  }
  s[0] = 41;
  int st = wait_child(pid);
  printf("anon: child %d saw the later write, its child wrote %d\n", st, s[1]);
  munmap((void *)s, 4096);
}

static void sysv_shm(void) {
  int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
  int *p = shmat(id, 0, 0);
  struct shmid_ds ds;
  pid_t pid = fork();
  if (pid == 0) {
    shmctl(id, IPC_STAT, &ds);
    p[1] = (int)ds.shm_nattch; /* the child's inherited attach counts */
    p[0] = 99;
    _exit(0);
  }
  int st = wait_child(pid);
  shmctl(id, IPC_STAT, &ds);
  printf("shm: child %d saw nattch=%d wrote=%d, nattch now %lu\n", st, p[1], p[0], ds.shm_nattch);
  shmctl(id, IPC_RMID, 0);
  shmdt(p);
  printf("shm: gone %d\n", shmctl(id, IPC_STAT, &ds) < 0 && errno == EINVAL);
}

static void undo(void) {
  int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  semctl(id, 0, SETVAL, 5);
  struct sembuf take = {0, -2, SEM_UNDO};
  semop(id, &take, 1); /* the parent's own undo: not the child's to apply */
  pid_t pid = fork();
  if (pid == 0) {
    struct sembuf more = {0, -3, SEM_UNDO};
    semop(id, &more, 1);
    _exit(semctl(id, 0, GETVAL));
  }
  int st = wait_child(pid);
  printf("undo: child saw %d, after its exit %d\n", st, semctl(id, 0, GETVAL));
  semctl(id, 0, IPC_RMID);
}

static void pingpong(void) {
  int sem = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
  int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  struct {
    long mtype;
    int n;
  } m;
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 50; i++) {
      struct sembuf wait0 = {0, -1, 0}, post1 = {1, 1, 0};
      semop(sem, &wait0, 1);
      semop(sem, &post1, 1);
      msgrcv(q, &m, sizeof m.n, 1, 0);
      m.mtype = 2;
      m.n *= 2;
      msgsnd(q, &m, sizeof m.n, 0);
    }
    _exit(0);
  }
  long sum = 0;
  for (int i = 0; i < 50; i++) {
    struct sembuf post0 = {0, 1, 0}, wait1 = {1, -1, 0};
    semop(sem, &post0, 1);
    semop(sem, &wait1, 1);
    m.mtype = 1;
    m.n = i;
    msgsnd(q, &m, sizeof m.n, 0);
    msgrcv(q, &m, sizeof m.n, 2, 0);
    sum += m.n;
  }
  int st = wait_child(pid);
  printf("pingpong: child %d sum %ld\n", st, sum);
  semctl(sem, 0, IPC_RMID);
  msgctl(q, IPC_RMID, 0);
}

static void posix_unnamed(void) {
  struct shared {
    sem_t lock;
    sem_t done;
    int counter;
  } *s = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  sem_init(&s->lock, 1, 1);
  sem_init(&s->done, 1, 0);
  pid_t kids[3];
  for (int k = 0; k < 3; k++) {
    kids[k] = fork();
    if (kids[k] == 0) {
      for (int i = 0; i < 200; i++) {
        sem_wait(&s->lock);
        int v = s->counter;
        for (volatile int j = 0; j < 50; j++) {}
        s->counter = v + 1;
        sem_post(&s->lock);
      }
      sem_post(&s->done);
      _exit(0);
    }
  }
  for (int k = 0; k < 3; k++) sem_wait(&s->done);
  int st = 0;
  for (int k = 0; k < 3; k++) st |= wait_child(kids[k]);
  printf("psem: children %d counter %d\n", st, s->counter);
  munmap(s, 4096);
}

int main(void) {
  anon();
  anon_later();
  sysv_shm();
  undo();
  pingpong();
  posix_unnamed();
  printf("done\n");
  return 0;
}
