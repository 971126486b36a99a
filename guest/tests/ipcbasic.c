/* ipcbasic: System V shared memory, semaphores and message queues, POSIX
 * shared memory and named semaphores, and MAP_SHARED|MAP_ANONYMOUS, in one
 * process, printing every result: run under qemu-riscv32 (the host's
 * kernel) and under xip, the output must be the same. Ids and keys are
 * never printed (the host's differ); private ids are used where a key is
 * not the point, and keys derive from the pid so runs do not collide. */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *en(int r) {
  if (r >= 0) return "ok";
  switch (errno) {
  case EINVAL: return "EINVAL";
  case EEXIST: return "EEXIST";
  case ENOENT: return "ENOENT";
  case EAGAIN: return "EAGAIN";
  case EFBIG: return "EFBIG";
  case ERANGE: return "ERANGE";
  case E2BIG: return "E2BIG";
  case ENOMSG: return "ENOMSG";
  case EIDRM: return "EIDRM";
  case ENOSPC: return "ENOSPC";
  default: return "E?";
  }
}

struct msg {
  long mtype;
  char text[8192];
};

static void sysv_shm(key_t key) {
  printf("shm: size 0 %s\n", en(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600)));
  int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
  printf("shm: private %s\n", en(id));
  struct shmid_ds ds;
  shmctl(id, IPC_STAT, &ds);
  printf("shm: stat segsz=%u nattch=%lu mode=%o cpid=%s key=%d\n", (unsigned)ds.shm_segsz,
         ds.shm_nattch, ds.shm_perm.mode & 0777, ds.shm_cpid == getpid() ? "me" : "other",
         ds.shm_perm.__ipc_perm_key);
  char *p = shmat(id, 0, 0);
  printf("shm: attach %s\n", p == (void *)-1 ? en(-1) : "ok");
  for (int i = 0; i < 10000; i++) p[i] = (char)(i * 7);
  char *q = shmat(id, 0, SHM_RDONLY);
  int same = 1;
  for (int i = 0; i < 10000; i++) same &= q[i] == (char)(i * 7);
  printf("shm: second attach sees the data %d, distinct address %d\n", same, p != q);
  shmctl(id, IPC_STAT, &ds);
  printf("shm: nattch=%lu lpid=%s\n", ds.shm_nattch, ds.shm_lpid == getpid() ? "me" : "other");
  printf("shm: detach %s, again %s\n", en(shmdt(q)), en(shmdt(q)));
  printf("shm: misaligned %s\n", shmat(id, (void *)(p + 1), 0) == (void *)-1 ? en(-1) : "ok");
  printf("shm: bad id %s\n", shmat(id + 1, 0, 0) == (void *)-1 ? en(-1) : "ok");
  printf("shm: rmid while attached %s\n", en(shmctl(id, IPC_RMID, 0)));
  shmctl(id, IPC_STAT, &ds);
  printf("shm: after rmid dest=%d key=%d nattch=%lu data=%d\n", (ds.shm_perm.mode & SHM_DEST) != 0,
         ds.shm_perm.__ipc_perm_key, ds.shm_nattch, p[9999] == (char)(9999 * 7));
  printf("shm: last detach %s\n", en(shmdt(p)));
  printf("shm: stat after destroy %s\n", en(shmctl(id, IPC_STAT, &ds)));

  int k = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0640);
  printf("shm: key create %s\n", en(k));
  printf("shm: key excl %s\n", en(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0640)));
  printf("shm: key bigger %s\n", en(shmget(key, 8192, 0)));
  int k2 = shmget(key, 100, 0);
  printf("shm: key lookup same=%d\n", k2 == k);
  printf("shm: other key %s\n", en(shmget(key + 1, 100, 0)));
  shmctl(k, IPC_STAT, &ds);
  printf("shm: key stat mode=%o segsz=%u keyok=%d\n", ds.shm_perm.mode & 0777,
         (unsigned)ds.shm_segsz, ds.shm_perm.__ipc_perm_key == key);
  ds.shm_perm.mode = 0604;
  printf("shm: set %s\n", en(shmctl(k, IPC_SET, &ds)));
  shmctl(k, IPC_STAT, &ds);
  printf("shm: mode now %o\n", ds.shm_perm.mode & 0777);
  printf("shm: rmid %s, again %s\n", en(shmctl(k, IPC_RMID, 0)), en(shmctl(k, IPC_RMID, 0)));
  printf("shm: key gone %s\n", en(shmget(key, 100, 0)));
}

static int semval(int id, int n) {
  return semctl(id, n, GETVAL);
}

static void sysv_sem(void) {
  printf("sem: nsems 0 %s\n", en(semget(IPC_PRIVATE, 0, IPC_CREAT | 0600)));
  int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
  printf("sem: private %s, values %d %d %d\n", en(id), semval(id, 0), semval(id, 1), semval(id, 2));
  struct semid_ds ds;
  semctl(id, 0, IPC_STAT, &ds);
  printf("sem: stat nsems=%lu mode=%o\n", ds.sem_nsems, ds.sem_perm.mode & 0777);
  printf("sem: setval %s -> %d\n", en(semctl(id, 0, SETVAL, 2)), semval(id, 0));
  struct sembuf down = {0, -1, 0};
  printf("sem: down %s -> %d, pid %s\n", en(semop(id, &down, 1)), semval(id, 0),
         semctl(id, 0, GETPID) == getpid() ? "me" : "other");
  struct sembuf two = {0, -2, IPC_NOWAIT};
  printf("sem: down 2 nowait %s -> %d\n", en(semop(id, &two, 1)), semval(id, 0));
  struct sembuf far = {5, 1, 0};
  printf("sem: semnum 5 %s\n", en(semop(id, &far, 1)));
  printf("sem: no ops %s\n", en(semop(id, &down, 0)));
  printf("sem: setval 40000 %s\n", en(semctl(id, 0, SETVAL, 40000)));
  unsigned short all[3] = {1, 2, 3}, got[3] = {0, 0, 0};
  printf("sem: setall %s\n", en(semctl(id, 0, SETALL, all)));
  printf("sem: getall %s %u %u %u\n", en(semctl(id, 0, GETALL, got)), got[0], got[1], got[2]);
  struct sembuf zero = {1, 0, IPC_NOWAIT};
  printf("sem: wait-for-zero nowait %s\n", en(semop(id, &zero, 1)));
  struct sembuf pair[2] = {{0, -1, 0}, {1, -5, IPC_NOWAIT}};
  printf("sem: atomic pair %s -> %d %d\n", en(semop(id, pair, 2)), semval(id, 0), semval(id, 1));
  struct sembuf ok2[2] = {{0, -1, 0}, {2, 4, 0}};
  printf("sem: pair %s -> %d %d\n", en(semop(id, ok2, 2)), semval(id, 0), semval(id, 2));
  struct timespec ts = {0, 30 * 1000 * 1000};
  struct sembuf block = {0, -1, 0};
  printf("sem: timed %s\n", en(semtimedop(id, &block, 1, &ts)));
  semctl(id, 2, SETVAL, 32767);
  struct sembuf up = {2, 1, 0};
  printf("sem: overflow %s -> %d\n", en(semop(id, &up, 1)), semval(id, 2));
  printf("sem: ncnt %d zcnt %d\n", semctl(id, 0, GETNCNT), semctl(id, 0, GETZCNT));
  printf("sem: getval 3 %s\n", en(semctl(id, 3, GETVAL)));
  printf("sem: rmid %s, getval %s\n", en(semctl(id, 0, IPC_RMID)), en(semctl(id, 0, GETVAL)));
}

static void sysv_msg(void) {
  static struct msg m;
  int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  printf("msg: private %s\n", en(id));
  const char *texts[3] = {"two", "one", "three"};
  const long types[3] = {2, 1, 3};
  for (int i = 0; i < 3; i++) {
    m.mtype = types[i];
    strcpy(m.text, texts[i]);
    printf("msg: send %ld %s\n", types[i], en(msgsnd(id, &m, strlen(texts[i]), 0)));
  }
  struct msqid_ds ds;
  msgctl(id, IPC_STAT, &ds);
  printf("msg: stat qnum=%lu cbytes=%lu qbytes=%lu lspid=%s mode=%o\n", ds.msg_qnum, ds.msg_cbytes,
         ds.msg_qbytes, ds.msg_lspid == getpid() ? "me" : "other", ds.msg_perm.mode & 0777);
  const long want[3] = {0, -2, 3};
  for (int i = 0; i < 3; i++) {
    memset(m.text, 0, 16);
    ssize_t n = msgrcv(id, &m, sizeof m.text, want[i], 0);
    printf("msg: recv type %ld: %ld type=%ld '%s'\n", want[i], n, m.mtype, m.text);
  }
  printf("msg: empty %s\n", en((int)msgrcv(id, &m, sizeof m.text, 0, IPC_NOWAIT)));
  m.mtype = 7;
  strcpy(m.text, "hello");
  msgsnd(id, &m, 5, 0);
  printf("msg: short buffer %s\n", en((int)msgrcv(id, &m, 2, 0, IPC_NOWAIT)));
  memset(m.text, 0, 16);
  printf("msg: noerror %ld '%s'\n", msgrcv(id, &m, 2, 0, MSG_NOERROR), m.text);
  m.mtype = 5;
  msgsnd(id, &m, 1, 0);
  m.mtype = 6;
  msgsnd(id, &m, 1, 0);
  msgrcv(id, &m, 8, 5, MSG_EXCEPT);
  printf("msg: except 5 got %ld\n", m.mtype);
  msgrcv(id, &m, 8, 0, 0);
  m.mtype = 0;
  printf("msg: type 0 %s\n", en(msgsnd(id, &m, 1, 0)));
  m.mtype = 1;
  printf("msg: 8193 bytes %s\n", en(msgsnd(id, &m, 8193, 0)));
  memset(m.text, 'x', 4096);
  int sent = 0;
  while (msgsnd(id, &m, 4096, IPC_NOWAIT) == 0) sent++;
  printf("msg: full after %d, %s\n", sent, en(-1));
  msgctl(id, IPC_STAT, &ds);
  printf("msg: full qnum=%lu cbytes=%lu\n", ds.msg_qnum, ds.msg_cbytes);
  while (msgrcv(id, &m, sizeof m.text, 0, IPC_NOWAIT) > 0) {}
  ds.msg_qbytes = 8192;
  printf("msg: set qbytes %s\n", en(msgctl(id, IPC_SET, &ds)));
  msgctl(id, IPC_STAT, &ds);
  printf("msg: qbytes now %lu\n", ds.msg_qbytes);
  printf("msg: rmid %s, send %s\n", en(msgctl(id, IPC_RMID, 0)), en(msgsnd(id, &m, 1, 0)));
}

static void posix_shm(int pid) {
  char name[64];
  snprintf(name, sizeof name, "/xipipc.%d", pid);
  int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
  printf("pshm: open %s\n", en(fd));
  printf("pshm: excl %s\n", en(shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600)));
  printf("pshm: truncate %s\n", en(ftruncate(fd, 8192)));
  char *a = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int fd2 = shm_open(name, O_RDWR, 0);
  char *b = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
  strcpy(a + 5000, "shared page");
  struct stat st;
  fstat(fd2, &st);
  printf("pshm: second mapping '%s' size=%lld\n", b + 5000, (long long)st.st_size);
  printf("pshm: slash %s\n", en(shm_open("/a/b", O_RDWR, 0)));
  printf("pshm: unlink %s, reopen %s\n", en(shm_unlink(name)), en(shm_open(name, O_RDWR, 0)));
  printf("pshm: mapping survives '%s'\n", b + 5000);
  munmap(a, 8192);
  munmap(b, 8192);
  close(fd);
  close(fd2);
}

static void posix_sem(int pid) {
  char name[64];
  snprintf(name, sizeof name, "/xipsem.%d", pid);
  sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 2);
  printf("psem: open %s\n", s == SEM_FAILED ? en(-1) : "ok");
  int a = sem_trywait(s), b = sem_trywait(s);
  int c = sem_trywait(s);
  printf("psem: trywait %d %d %s\n", a, b, en(c));
  sem_post(s);
  int v = -1;
  sem_getvalue(s, &v);
  sem_t *t = sem_open(name, 0);
  int w = -1;
  sem_getvalue(t, &w);
  printf("psem: value %d, second open sees %d\n", v, w);
  printf("psem: wait %s\n", en(sem_wait(t)));
  sem_getvalue(s, &v);
  printf("psem: value %d\n", v);
  printf("psem: excl %s\n", sem_open(name, O_CREAT | O_EXCL, 0600, 0) == SEM_FAILED ? en(-1) : "ok");
  printf("psem: unlink %s, open %s\n", en(sem_unlink(name)),
         sem_open(name, 0) == SEM_FAILED ? en(-1) : "ok");
  sem_close(s);
  sem_close(t);
}

static void shared_anon(void) {
  int *p = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int zero = 1;
  for (int i = 0; i < 3 * 1024; i++) zero &= p[i] == 0;
  p[2048] = 42;
  printf("anon: shared %s zero=%d value=%d\n", p == MAP_FAILED ? "failed" : "ok", zero, p[2048]);
  printf("anon: partial unmap %s, rest %d\n", en(munmap(p, 4096)), p[2048]);
  printf("anon: unmap %s\n", en(munmap(p + 1024, 2 * 4096)));
}

int main(void) {
  int pid = getpid();
  key_t key = (key_t)(0x58490000 | (pid & 0xffff));
  sysv_shm(key);
  sysv_sem();
  sysv_msg();
  posix_shm(pid);
  posix_sem(pid);
  shared_anon();
  printf("done\n");
  return 0;
}
