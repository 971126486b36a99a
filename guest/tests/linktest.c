/* linktest: hard links (link, linkat), printing every result, for
 * comparison with qemu-riscv32 (the host kernel): in the current directory
 * (xipfs under xip) and in /dev/shm (tmpfs), link counts through fstat,
 * data reached through either name, a name that outlives the other, the
 * error cases (EEXIST, ENOENT, EPERM for a directory, EXDEV between the
 * two filesystems, ENOTDIR, EINVAL flags), and a semaphore that sem_open
 * links into place while forked children race to create it. */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *en(long r) {
  if (r >= 0) return "ok";
  switch (errno) {
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case EEXIST: return "EEXIST";
  case EXDEV: return "EXDEV";
  case ENOTDIR: return "ENOTDIR";
  case EISDIR: return "EISDIR";
  case EINVAL: return "EINVAL";
  case EMLINK: return "EMLINK";
  default: return "E?";
  }
}

static long nlink(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  struct stat st;
  long n = fstat(fd, &st) == 0 ? (long)st.st_nlink : -1;
  close(fd);
  return n;
}

static void slurp(const char *label, const char *path) {
  char buf[32] = {0};
  int fd = open(path, O_RDONLY);
  long n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  printf("%s: read %ld '%s'\n", label, n, n > 0 ? buf : "");
}

/* The same steps on the filesystem under `dir` ("." or "/dev/shm"). */
static void links(const char *tag, const char *dir, const char *other, int pid) {
  char a[96], b[96], c[96], d[96], x[96], s[96];
  snprintf(a, sizeof a, "%s/lt%d.a", dir, pid);
  snprintf(b, sizeof b, "%s/lt%d.b", dir, pid);
  snprintf(c, sizeof c, "%s/lt%d.c", dir, pid);
  snprintf(d, sizeof d, "%s/lt%d.d", dir, pid);
  snprintf(x, sizeof x, "%s/lt%d.x", other, pid);
  snprintf(s, sizeof s, "%s/lt%d.b/", dir, pid);

  int fd = open(a, O_RDWR | O_CREAT | O_EXCL, 0600);
  write(fd, "linked data", 11);
  printf("%s: link %s, nlink %ld %ld\n", tag, en(link(a, b)), nlink(a), nlink(b));
  printf("%s: again %s\n", tag, en(link(a, b)));
  printf("%s: missing %s\n", tag, en(link(c, d)));
  printf("%s: onto a file with a slash %s\n", tag, en(link(a, s)));
  snprintf(s, sizeof s, "%s/lt%d.z/", dir, pid);
  printf("%s: new name with a slash %s\n", tag, en(link(a, s)));
  snprintf(s, sizeof s, "%s/lt%d.a/", dir, pid);
  printf("%s: old name with a slash %s\n", tag, en(link(s, c)));
  printf("%s: other filesystem %s\n", tag, en(link(a, x)));
  printf("%s: bad flags %s\n", tag, en(linkat(AT_FDCWD, a, AT_FDCWD, c, 0x1)));
  printf("%s: mkdir %s, link it %s\n", tag, en(mkdir(d, 0700)), en(link(d, c)));
  rmdir(d);

  /* A write through one name is read through the other; the file stays
   * while any name does. */
  int fb = open(b, O_RDWR);
  pwrite(fb, "LINKED", 6, 0);
  close(fb);
  slurp(tag, a);
  printf("%s: unlink first %s, nlink %ld\n", tag, en(unlink(a)), nlink(b));
  slurp(tag, b);
  struct stat st;
  fstat(fd, &st);
  printf("%s: open fd sees nlink %ld size %ld\n", tag, (long)st.st_nlink, (long)st.st_size);
  printf("%s: relink %s, nlink %ld\n", tag, en(link(b, c)), nlink(c));
  printf("%s: unlink %s %s, open %s\n", tag, en(unlink(b)), en(unlink(c)), en(open(c, O_RDONLY)));
  fstat(fd, &st);
  printf("%s: orphan nlink %ld size %ld\n", tag, (long)st.st_nlink, (long)st.st_size);
  printf("%s: empty path %s, orphan by fd %s\n", tag, en(linkat(fd, "", AT_FDCWD, c, 0)),
         en(linkat(fd, "", AT_FDCWD, c, AT_EMPTY_PATH)));
  close(fd);
}

/* Three children race sem_open(O_CREAT) on one name: one creates it, the
 * others open it; all three then count under it. */
static void sem_race(int pid) {
  char name[64], tmp[96];
  snprintf(name, sizeof name, "/ltsem.%d", pid);
  int *count = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  for (int i = 0; i < 3; i++) {
    if (fork() == 0) {
      sem_t *s = sem_open(name, O_CREAT, 0600, 1);
      if (s == SEM_FAILED) _exit(1);
      for (int j = 0; j < 200; j++) {
        sem_wait(s);
        int v = *count;
        for (volatile int k = 0; k < 50; k++) {
        }
        *count = v + 1;
        sem_post(s);
      }
      _exit(0);
    }
  }
  int ok = 0, st;
  for (int i = 0; i < 3; i++) {
    wait(&st);
    ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  printf("sem: %d children counted to %d\n", ok, *count);
  snprintf(tmp, sizeof tmp, "/dev/shm/sem.ltsem.%d", pid);
  printf("sem: name nlink %ld, unlink %s\n", nlink(tmp), en(sem_unlink(name)));
  munmap(count, 4096);
}

int main(void) {
  int pid = getpid();
  links("cwd", ".", "/dev/shm", pid);
  links("shm", "/dev/shm", ".", pid);
  sem_race(pid);
  printf("done\n");
  return 0;
}
