/* mapsync FILE N [fsync|progress]: write N 64-byte records into FILE through a
 * MAP_SHARED_VALIDATE | MAP_SYNC mapping and make each durable with
 * cbo.flush of its cache line and a fence, never fsync or msync (the
 * pmem model: CLWB + SFENCE). Record i sits at offset 64 * i:
 *
 *   u32 magic 0x44524352 ("RCRD"), u32 i, u32 check = i * 0x9e3779b1 + 7,
 *   52 bytes (i + k) & 0xff for k = 0..51
 *
 * The crash-replay test checks that every record whose fence returned is
 * in the host image after any cut. Exit 3 when MAP_SYNC is refused (a file
 * that is not DAX: EOPNOTSUPP). With "fsync", each record is written with
 * pwrite and made durable with fsync instead (the cost comparison); either
 * way it prints the time the N records took. Records beyond the first page
 * fault their page in on the first store, which makes the metadata
 * durable before the page becomes writable (MAP_SYNC's promise). With
 * "progress", the file has one more page, whose first word the program
 * sets (an atomic store, never flushed) to i + 1 once record i's fence has
 * returned: the host reads it, then copies the image, and every record
 * below the count it read must be in the copy. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define LINE 64
#define PAGE 4096
#define MAP_SHARED_VALIDATE 0x03
#define MAP_SYNC 0x80000
#ifndef EOPNOTSUPP
#define EOPNOTSUPP 95
#endif

/* Zicbom's cbo.flush: MISC-MEM opcode, funct3 2, rd x0, imm 2, address in rs1. */
static inline void cbo_flush(const void *p) {
  __asm__ volatile(".insn i 0x0f, 2, x0, %0, 2" : : "r"(p) : "memory");
}
static inline void fence(void) { __asm__ volatile("fence rw, rw" : : : "memory"); }

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(1, &ts); /* CLOCK_MONOTONIC */
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void make_record(uint8_t *r, long i) {
  uint32_t head[3] = {0x44524352u, (uint32_t)i, (uint32_t)i * 0x9e3779b1u + 7};
  for (int k = 0; k < LINE - 12; k++) r[12 + k] = (uint8_t)(i + k);
  memcpy(r, head, sizeof head);
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: mapsync FILE N [fsync|progress]\n");
    return 2;
  }
  long n = atol(argv[2]);
  int use_fsync = argc == 4 && !strcmp(argv[3], "fsync");
  int progress = argc == 4 && !strcmp(argv[3], "progress");
  if (argc == 4 && !use_fsync && !progress) return 2;
  long records = (n * LINE + PAGE - 1) / PAGE * PAGE;
  long size = records + (progress ? PAGE : 0);
  int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, size) < 0) {
    fprintf(stderr, "mapsync: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  long long t0;
  if (use_fsync) {
    /* The comparison: each record made durable with pwrite + fsync. */
    uint8_t r[LINE];
    t0 = now_us();
    for (long i = 0; i < n; i++) {
      make_record(r, i);
      if (pwrite(fd, r, LINE, i * LINE) != LINE || fsync(fd) != 0) {
        fprintf(stderr, "mapsync: pwrite/fsync: %s\n", strerror(errno));
        return 1;
      }
    }
  } else {
    uint8_t *p = mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
    if (p == MAP_FAILED) {
      fprintf(stderr, "mapsync: mmap MAP_SYNC: %s\n", strerror(errno));
      return errno == EOPNOTSUPP ? 3 : 1;
    }
    p[0] = 0; /* the write fault of the first page: metadata made durable here */
    uint32_t *done = progress ? (uint32_t *)(p + records) : 0;
    t0 = now_us();
    for (long i = 0; i < n; i++) {
      uint8_t *r = p + i * LINE;
      make_record(r, i);
      cbo_flush(r);
      fence();
      if (done) __atomic_store_n(done, (uint32_t)(i + 1), __ATOMIC_SEQ_CST);
    }
  }
  long long us = now_us() - t0;
  printf("mapsync: %ld records in %lld us\n", n, us);
  return 0;
}
