/* hostile MODE ...: a guest that tries what a process must not be able to
 * do, and checks that the kernel refuses it the way Linux does.
 *
 *   hostile rofile PATH          mapping permissions of a read-only fd
 *   hostile wild PATH            wild pointers, huge lengths, bad offsets
 *   hostile isolate PATH ROUNDS  private pages stay private (run several)
 *   hostile segv anon|file PATH  a store to a PROT_READ page: SIGSEGV
 *
 * Every check prints one line, `PASS name` or `FAIL name: detail`, to fd 1
 * (one write per line). The program exits 1 if any check failed, 0
 * otherwise; usage errors and failed set-up steps exit 2. `segv` prints
 * `hostile: storing to a PROT_READ MODE page` and must die by SIGSEGV
 * (status 139); if the store succeeds it prints a FAIL line and exits 1.
 * `segv file` first writes PATH's first page with bytes i & 0xff, so the
 * caller can check afterwards that the store did not reach the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096

static int failures;

static void pass(const char *name) {
  dprintf(1, "PASS %s\n", name);
}

static void fail(const char *name, const char *detail, long got) {
  dprintf(1, "FAIL %s: %s (got %ld, errno %d)\n", name, detail, got, errno);
  failures++;
}

static void setupFailed(const char *what) {
  dprintf(1, "hostile: set-up failed: %s errno %d\n", what, errno);
  exit(2);
}

/* A call that must fail with `want` (errno) and return -1. */
static void expectErr(const char *name, long r, int want) {
  if (r == -1 && errno == want) pass(name);
  else fail(name, want == EFAULT ? "want EFAULT" : want == EINVAL ? "want EINVAL" : "want errno",
            r);
}

/* A call that must succeed (return >= 0). */
static void expectOk(const char *name, long r) {
  if (r >= 0) pass(name);
  else fail(name, "want success", r);
}

/* PATH with one page of bytes i & 0xff; returns nothing, exits on error. */
static void makeFile(const char *path) {
  uint8_t page[PAGE];
  for (int i = 0; i < PAGE; i++) page[i] = (uint8_t)i;
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) setupFailed("open");
  if (pwrite(fd, page, PAGE, 0) != PAGE) setupFailed("pwrite");
  if (fsync(fd) < 0 || close(fd) < 0) setupFailed("fsync/close");
}

/* Whether PATH's first page still holds bytes i & 0xff. */
static int fileIntact(int fd) {
  uint8_t page[PAGE];
  if (pread(fd, page, PAGE, 0) != PAGE) return 0;
  for (int i = 0; i < PAGE; i++) {
    if (page[i] != (uint8_t)i) return 0;
  }
  return 1;
}

static int rofile(const char *path) {
  makeFile(path);
  int ro = open(path, O_RDONLY);
  int wo = open(path, O_WRONLY);
  if (ro < 0 || wo < 0) setupFailed("open");
  expectErr("rofile: mmap(PROT_READ|PROT_WRITE, MAP_SHARED) of an O_RDONLY fd is EACCES",
            (long)mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
  expectErr("rofile: mmap(PROT_READ, MAP_SHARED) of an O_WRONLY fd is EACCES",
            (long)mmap(0, PAGE, PROT_READ, MAP_SHARED, wo, 0), EACCES);
  uint8_t *shared = mmap(0, PAGE, PROT_READ, MAP_SHARED, ro, 0);
  if (shared == MAP_FAILED) setupFailed("mmap PROT_READ MAP_SHARED");
  expectErr("rofile: mprotect(PROT_READ|PROT_WRITE) of that shared map is EACCES",
            mprotect(shared, PAGE, PROT_READ | PROT_WRITE), EACCES);
  if (shared[77] == 77) pass("rofile: the shared map still reads the file");
  else fail("rofile: the shared map still reads the file", "byte 77", shared[77]);
  expectErr("rofile: read() into the read-only shared map is EFAULT", read(ro, shared, 16), EFAULT);
  expectErr("rofile: write() to the O_RDONLY fd is EBADF", write(ro, shared, 16), EBADF);
  expectErr("rofile: ftruncate of the O_RDONLY fd is EINVAL", ftruncate(ro, 0), EINVAL);
  expectErr("rofile: fallocate of the O_RDONLY fd is EBADF",
            fallocate(ro, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PAGE), EBADF);
  uint8_t *priv = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
  expectOk("rofile: mmap(PROT_READ|PROT_WRITE, MAP_PRIVATE) of an O_RDONLY fd works",
           (long)(priv == MAP_FAILED ? -1 : 0));
  if (priv != MAP_FAILED) {
    memset(priv, 0xee, PAGE);
    if (priv[5] == 0xee) pass("rofile: stores to the private map stay in it");
    else fail("rofile: stores to the private map stay in it", "byte 5", priv[5]);
    munmap(priv, PAGE);
  }
  uint8_t *priv2 = mmap(0, PAGE, PROT_READ, MAP_PRIVATE, ro, 0);
  if (priv2 == MAP_FAILED) setupFailed("mmap PROT_READ MAP_PRIVATE");
  expectOk("rofile: mprotect(PROT_READ|PROT_WRITE) of a private map of it works",
           mprotect(priv2, PAGE, PROT_READ | PROT_WRITE));
  priv2[1] = 0x99;
  if (fileIntact(ro) && shared[1] == 1) pass("rofile: the file never changed");
  else fail("rofile: the file never changed", "byte 1 of the shared map", shared[1]);
  munmap(priv2, PAGE);
  munmap(shared, PAGE);
  return failures ? 1 : 0;
}

static int wild(const char *path) {
  makeFile(path);
  int fd = open(path, O_RDWR);
  int dfd = open("/", O_RDONLY | O_DIRECTORY);
  if (fd < 0 || dfd < 0) setupFailed("open");
  char buf[256];
  void *kernel = (void *)0xfffff000u, *unmapped = (void *)0x5f000000u;
  /* A read-only page, a PROT_NONE page, and a page whose successor is unmapped. */
  uint8_t *ro = mmap(0, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint8_t *none = mmap(0, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *edge = mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ro == MAP_FAILED || none == MAP_FAILED || edge == MAP_FAILED) setupFailed("mmap");
  if (munmap(edge + PAGE, PAGE) < 0) setupFailed("munmap");
  memset(edge, 'a', PAGE); /* a path with no NUL before the hole */

  expectErr("wild: read into NULL", read(fd, 0, 16), EFAULT);
  expectErr("wild: read into a kernel address", read(fd, kernel, 16), EFAULT);
  expectErr("wild: read into an unmapped address", read(fd, unmapped, 16), EFAULT);
  expectErr("wild: read into a PROT_READ page", read(fd, ro, 16), EFAULT);
  expectErr("wild: read into the program's text", read(fd, (void *)(uintptr_t)&wild, 16),
            EFAULT);
  expectErr("wild: read of length 0xffffffff", read(fd, buf, 0xffffffffu), EFAULT);
  expectErr("wild: pread into NULL", pread(fd, 0, 16, 0), EFAULT);
  expectErr("wild: pread at offset -1", pread(fd, buf, 16, -1), EINVAL);
  expectErr("wild: write from NULL", write(fd, 0, 16), EFAULT);
  expectErr("wild: write from a kernel address", write(1, kernel, 16), EFAULT);
  expectErr("wild: write from a PROT_NONE page", write(fd, none, 16), EFAULT);
  expectErr("wild: write of length 0x80000000", write(fd, buf, 0x80000000u), EFAULT);
  expectErr("wild: pwrite at offset -4096", pwrite(fd, buf, 16, -4096), EINVAL);
  expectErr("wild: open(NULL)", open(0, O_RDONLY), EFAULT);
  expectErr("wild: open(kernel address)", open((char *)kernel, O_RDONLY), EFAULT);
  /* 3996 bytes, then the hole: the copy faults before PATH_MAX bytes. */
  expectErr("wild: open of a path running into an unmapped page", open(edge + 100, O_RDONLY),
            EFAULT);
  edge[PAGE - 1] = 0;
  expectErr("wild: open of a 4095-byte path", open(edge, O_RDONLY), ENAMETOOLONG);
  expectErr("wild: getdents64 into NULL", getdents64(dfd, 0, 4096), EFAULT);
  /* A good buffer with a length that runs past user space (edge is a mmap, below the stack). */
  expectErr("wild: getdents64 of length 0xfffffff0", getdents64(dfd, edge, 0xfffffff0u), EFAULT);
  if (lseek(dfd, 0, SEEK_SET) != 0) setupFailed("lseek");
  expectErr("wild: getdents64 into a 1-byte buffer", getdents64(dfd, buf, 1), EINVAL);
  expectErr("wild: statx into NULL", statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, 0), EFAULT);
  expectErr("wild: statx into the program's text",
            statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, (void *)(uintptr_t)&wild), EFAULT);
  expectErr("wild: readv with iov NULL", readv(fd, 0, 1), EFAULT);
  struct iovec iov[1] = {{unmapped, 16}};
  expectErr("wild: readv into an unmapped iov_base", readv(fd, iov, 1), EFAULT);
  expectErr("wild: writev of 5000 iovecs", writev(fd, iov, 5000), EINVAL);
  expectErr("wild: mmap of length 0", (long)mmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            EINVAL);
  expectErr("wild: mmap of 4 GiB - 4 KiB",
            (long)mmap(0, 0xfffff000u, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), ENOMEM);
  expectErr("wild: munmap of an unaligned address", munmap((void *)0x12345, PAGE), EINVAL);
  expectErr("wild: mprotect of an unmapped range", mprotect(unmapped, PAGE, PROT_READ), ENOMEM);
  expectErr("wild: close(-1)", close(-1), EBADF);
  expectErr("wild: lseek to -1", (long)lseek(fd, -1, SEEK_SET), EINVAL);
  if (fileIntact(fd)) pass("wild: the file never changed");
  else fail("wild: the file never changed", "content", 0);
  if (ro[0] == 0) pass("wild: the PROT_READ page never changed");
  else fail("wild: the PROT_READ page never changed", "byte 0", ro[0]);
  return failures ? 1 : 0;
}

/* The pattern word i of process `pid` in region `r`. */
static uint32_t patternWord(uint32_t pid, uint32_t r, uint32_t i) {
  return (pid * 0x9e3779b1u) ^ (r << 28) ^ (i * 2654435761u);
}

#define ISO_WORDS (2 * PAGE / 4)
#define ISO_ANON 0x40000000u
#define ISO_FILE 0x40100000u

static int isolate(const char *path, long rounds) {
  uint32_t pid = (uint32_t)getpid();
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) setupFailed("open");
  struct stat st;
  /* Several processes share PATH; growing it to the same size twice is harmless. */
  if (fstat(fd, &st) < 0) setupFailed("fstat");
  if (st.st_size < 2 * PAGE && ftruncate(fd, 2 * PAGE) < 0) setupFailed("ftruncate");
  uint32_t *region[3];
  region[0] = mmap((void *)ISO_ANON, 2 * PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  region[1] = mmap((void *)ISO_FILE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
                   fd, 0);
  region[2] = sbrk(2 * PAGE);
  if (region[0] != (uint32_t *)ISO_ANON || region[1] != (uint32_t *)ISO_FILE ||
      region[2] == (void *)-1) {
    setupFailed("mmap/sbrk");
  }
  static const char *names[3] = {"anonymous map", "private file map", "brk heap"};
  for (uint32_t r = 0; r < 3; r++) {
    for (uint32_t i = 0; i < ISO_WORDS; i++) region[r][i] = patternWord(pid, r, i);
  }
  uint32_t spin = 0;
  for (long round = 0; round < rounds; round++) {
    for (uint32_t r = 0; r < 3; r++) {
      volatile uint32_t *w = region[r];
      for (uint32_t i = 0; i < ISO_WORDS; i++) {
        if (w[i] != patternWord(pid, r, i)) {
          dprintf(1, "FAIL isolate: %s word %u is 0x%08x, want 0x%08x (round %ld)\n", names[r],
                  (unsigned)i, (unsigned)w[i], (unsigned)patternWord(pid, r, i), round);
          return 1;
        }
      }
    }
    for (int k = 0; k < 2000; k++) spin = spin * 1103515245u + 12345u; /* let others run */
  }
  for (uint32_t r = 0; r < 3; r++) dprintf(1, "PASS isolate: %s kept this process's pattern\n", names[r]);
  /* The private file map's stores were copies: the file is still zeros. */
  uint8_t page[PAGE];
  for (off_t at = 0; at < 2 * PAGE; at += PAGE) {
    if (pread(fd, page, PAGE, at) != PAGE) setupFailed("pread");
    for (int i = 0; i < PAGE; i++) {
      if (page[i] != 0) {
        fail("isolate: the shared file is unchanged", "a private store reached it", page[i]);
        return 1;
      }
    }
  }
  pass("isolate: the shared file is unchanged");
  return spin == 1 ? 3 : 0; /* keep the spin loop */
}

static int segv(const char *mode, const char *path) {
  volatile uint8_t *p;
  if (strcmp(mode, "anon") == 0) {
    p = mmap(0, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  } else if (strcmp(mode, "file") == 0 && path) {
    makeFile(path);
    /* The fd could write; the mapping may not. */
    int fd = open(path, O_RDWR);
    if (fd < 0) setupFailed("open");
    p = mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0);
  } else {
    dprintf(2, "usage: hostile segv anon|file PATH\n");
    return 2;
  }
  if (p == MAP_FAILED) setupFailed("mmap");
  uint8_t before = p[10];
  dprintf(1, "hostile: storing to a PROT_READ %s page\n", mode);
  p[10] = (uint8_t)(before + 1);
  fail("segv: a store to a PROT_READ page succeeded", "no SIGSEGV", p[10]);
  return 1;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "rofile") == 0 && argc == 3) return rofile(argv[2]);
  if (strcmp(mode, "wild") == 0 && argc == 3) return wild(argv[2]);
  if (strcmp(mode, "isolate") == 0 && argc == 4) return isolate(argv[2], atol(argv[3]));
  if (strcmp(mode, "segv") == 0 && argc >= 3) return segv(argv[2], argc > 3 ? argv[3] : 0);
  dprintf(2, "usage: hostile rofile PATH | wild PATH | isolate PATH ROUNDS | segv anon|file PATH\n");
  return 2;
}
