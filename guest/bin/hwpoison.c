/* hwpoison MODE CTL [FILE PAGE] [early] [idle] [catch]: a process for the memory-failure
 * tests. It maps CTL (a file of at least 4 KiB) MAP_SHARED and then, until
 * the host sets CTL's first word, touches one page again and again:
 *
 *   text            a function alone in a page of this program's text
 *   data            a word alone in a page of this program's data, never
 *                   written (the page stays the file's, mapped private)
 *   shared F P      page P of file F, mapped MAP_SHARED
 *   madvise F P     page P of F, mapped shared, poisoned by this process
 *                   itself with madvise(MADV_HWPOISON), then touched once
 *
 * Before the loop it prints "ready OFFSET" with the file offset of the page
 * it touches (from /proc/self/maps), so the host knows which device block
 * to poison. "idle" maps and touches the page once, then waits without
 * touching it again; "early" is idle and asks for early kill first
 * (prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY)). A process whose
 * page is poisoned dies of SIGBUS when it touches it (or at once, early);
 * the others print "done" and exit 0. With "catch", a SA_SIGINFO handler reports the SIGBUS
 * instead: "sigbus code C lsb L at page|other" (C 4 is BUS_MCEERR_AR, 5
 * BUS_MCEERR_AO; "page" when si_addr is the touched page) and exits 42. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096
#define SYS_prctl 167
#define PR_MCE_KILL 33
#define PR_MCE_KILL_SET 1
#define PR_MCE_KILL_EARLY 1
#define MADV_HWPOISON 100

static long syscall5(long n, long a, long b, long c, long d, long e) {
  register long a0 __asm__("a0") = a;
  register long a1 __asm__("a1") = b;
  register long a2 __asm__("a2") = c;
  register long a3 __asm__("a3") = d;
  register long a4 __asm__("a4") = e;
  register long a7 __asm__("a7") = n;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a7) : "memory");
  return a0;
}

/* A page of text and a page of data that hold nothing else. poison_fn
 * (x * 3 + 1) is written in assembly so that the page can be padded to its
 * end: nothing else the program runs (.plt comes next) shares the page. */
__asm__(".pushsection .text.hwpoison,\"ax\",@progbits\n"
        ".balign 4096\n"
        ".globl poison_fn\n"
        ".type poison_fn,@function\n"
        "poison_fn:\n"
        "  slli a1, a0, 1\n"
        "  add a0, a0, a1\n"
        "  addi a0, a0, 1\n"
        "  ret\n"
        ".balign 4096\n"
        ".popsection\n");
int poison_fn(int x);
__attribute__((section(".data.hwpoison"), aligned(PAGE))) volatile uint32_t poison_data[PAGE / 4] = {
  0x600d,
};

/* The page the process touches, for the handler's si_addr check. */
static const void *touched_page;

static void on_sigbus(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  char line[80];
  unsigned long page = (unsigned long)touched_page & ~(unsigned long)(PAGE - 1);
  int same = ((unsigned long)si->si_addr & ~(unsigned long)(PAGE - 1)) == page;
  int n = snprintf(line, sizeof line, "sigbus code %d lsb %d at %s\n", si->si_code,
                   (int)si->si_addr_lsb, same ? "page" : "other");
  write(1, line, (size_t)n);
  _exit(42);
}

static int has_arg(int argc, char **argv, int from, const char *word) {
  for (int i = from; i < argc; i++)
    if (!strcmp(argv[i], word)) return 1;
  return 0;
}

static int fail(const char *what) {
  fprintf(stderr, "hwpoison: %s: %s\n", what, strerror(errno));
  return 1;
}

static unsigned long hexval(const char **p) {
  unsigned long v = 0;
  for (;; (*p)++) {
    char c = **p;
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return v;
    v = v * 16 + (unsigned long)d;
  }
}

/* The file offset /proc/self/maps gives for address `a`, or -1. */
static long file_offset(const void *a) {
  static char buf[8192];
  int fd = open("/proc/self/maps", O_RDONLY);
  if (fd < 0) return -1;
  long n = 0, r;
  while (n < (long)sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += r;
  close(fd);
  buf[n] = 0;
  unsigned long addr = (unsigned long)a;
  for (const char *p = buf; *p;) {
    unsigned long start = hexval(&p);
    p++; /* '-' */
    unsigned long end = hexval(&p);
    p += 6; /* " rwxp " */
    unsigned long off = hexval(&p);
    if (addr >= start && addr < end) return (long)(off + (addr - start));
    while (*p && *p != '\n') p++;
    if (*p) p++;
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: hwpoison text|data|shared|madvise CTL [FILE PAGE] [early] [idle] [catch]\n");
    return 2;
  }
  const char *mode = argv[1];
  int file_mode = !strcmp(mode, "shared") || !strcmp(mode, "madvise");
  if (file_mode && argc < 5) return 2;
  int opts = file_mode ? 5 : 3;
  if (has_arg(argc, argv, opts, "early") &&
      syscall5(SYS_prctl, PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0) != 0) {
    return fail("prctl");
  }
  if (has_arg(argc, argv, opts, "catch")) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGBUS, &sa, 0) != 0) return fail("sigaction");
  }
  int cfd = open(argv[2], O_RDWR);
  if (cfd < 0) return fail("open CTL");
  volatile uint32_t *ctl = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
  if (ctl == MAP_FAILED) return fail("mmap CTL");

  volatile uint32_t *page = 0;
  const void *touched = (const void *)poison_fn;
  if (!strcmp(mode, "data")) {
    touched = (const void *)poison_data;
  } else if (file_mode) {
    int fd = open(argv[3], O_RDWR);
    if (fd < 0) return fail("open FILE");
    long pg = atol(argv[4]);
    page = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)pg * PAGE);
    if (page == MAP_FAILED) return fail("mmap FILE");
    touched = (const void *)page;
  } else if (strcmp(mode, "text") != 0) {
    return 2;
  }
  touched_page = touched;
  volatile uint32_t sink = 0;
  sink += file_mode ? page[0] : !strcmp(mode, "data") ? poison_data[0] : (uint32_t)poison_fn(1);
  printf("ready %ld\n", file_offset(touched));
  fflush(stdout);
  if (!strcmp(mode, "madvise")) {
    if (madvise((void *)page, PAGE, MADV_HWPOISON) != 0) return fail("madvise");
    printf("poisoned\n");
    fflush(stdout);
    sink += page[0]; /* SIGBUS here */
    printf("touched a poisoned page and lived (%u)\n", sink);
    return 1;
  }
  int idle = has_arg(argc, argv, opts, "idle") || has_arg(argc, argv, opts, "early");
  for (unsigned long i = 0; ctl[0] == 0; i++) {
    if (idle) continue;
    if (!strcmp(mode, "text")) sink += (uint32_t)poison_fn((int)i);
    else if (!strcmp(mode, "data")) sink += poison_data[0];
    else sink += page[0];
  }
  printf("done %u\n", sink != 0);
  return 0;
}
