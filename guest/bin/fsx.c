/* fsx FILE SEED OPS [LOG]: a file-system exerciser with a model.
 *
 * FILE is created (or truncated to 0) at start; it is this process's own
 * file, nobody else writes it. A xorshift32 seeded with SEED (decimal or
 * 0x hex; 0 counts as 1) picks OPS operations; a shadow copy of the file in
 * this process's memory says what every byte must be, and every value the
 * program reads back (pread, loads through a mapping, fstat's size) is
 * compared with it. The file stays below MAX_SIZE (80 KiB), so blocks past
 * the 12 direct ones (48 KiB) come through the single-indirect block.
 *
 * Operations (op numbers count from 0):
 *   write     pwrite a random range with a random pattern
 *   read      pread a random range (past EOF: a short read) and compare
 *   truncate  ftruncate to a random size, growing or shrinking
 *   punch     fallocate(PUNCH_HOLE|KEEP_SIZE) a random range
 *   map       mmap MAP_SHARED a random page range (one live at a time; it
 *             stays across later operations, including truncate and punch)
 *   mapstore  store a pattern through the live shared map (below EOF only)
 *   mapload   load through the live shared map and compare
 *   msync     msync(MS_SYNC) the live map
 *   munmap    unmap it
 *   private   mmap MAP_PRIVATE, store through it, load back (the copy must
 *             hold the stores), unmap, then pread: the file must NOT change
 *   fsync     fsync FILE
 *   verify    fstat size and pread of the whole file against the shadow
 * The file is verified completely at the end as well.
 *
 * Output (to fd 1, unbuffered, one write per line):
 *   fsx: MISMATCH op N KIND off X want Y got Z   then exit 1
 *     (X decimal file offset, Y/Z hex bytes, or sizes for KIND "size")
 *   fsx: ERROR op N KIND: WHAT errno E           then exit 3
 *   durable SEQ                                  see LOG below
 *   fsx: ran write=N read=N ... verify=N         ops of each kind that did
 *                                                something (map ops need a
 *                                                live map inside the file)
 *   fsx: OPS ops ok                              then exit 0
 * Usage errors exit 2.
 *
 * LOG (optional): opened O_WRONLY|O_CREAT|O_TRUNC|O_APPEND. After every
 * LOG_EVERY-th op (op N with (N + 1) % 8 == 0) one 16-byte record is
 * appended with write(), then fsync(LOG); only after fsync returns 0 does
 * the program print "durable SEQ". Record SEQ (0, 1, 2, ...) sits at byte
 * 16 * SEQ, four little-endian u32 words:
 *   [0] magic 0x4c585346 ("FSXL")
 *   [1] SEQ
 *   [2] SEQ * 2654435761 (mod 2^32)
 *   [3] checksum: FNV-1a 32 over bytes 0..11 of the record
 * So after a run of OPS ops LOG holds floor(OPS / 8) records. If the
 * process is killed, every record up to the last printed "durable SEQ" must
 * be intact. tests/integration/_fsx_log.ts parses and verifies a LOG. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096
#define MAX_SIZE (80 * 1024)
#define MAX_IO (20 * 1024)
#define MAX_MAP_PAGES 6
#define LOG_EVERY 8
#define LOG_MAGIC 0x4c585346u

static uint8_t shadow[MAX_SIZE]; /* the model; zero past fsize always */
static uint8_t buf[MAX_SIZE];
static uint32_t fsize;
static uint32_t rng;
static long opno;
static int fd = -1;

/* The live shared mapping: file bytes [mapOff, mapOff + mapLen) at map. */
static uint8_t *map;
static uint32_t mapOff, mapLen;

static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

/* A number in [0, n); n > 0. */
static uint32_t below(uint32_t n) {
  return next() % n;
}

static void mismatch(const char *kind, uint32_t off, uint32_t want, uint32_t got) {
  dprintf(1, "fsx: MISMATCH op %ld %s off %u want 0x%02x got 0x%02x\n", opno, kind,
          (unsigned)off, (unsigned)want, (unsigned)got);
  exit(1);
}

static void failed(const char *kind, const char *what) {
  dprintf(1, "fsx: ERROR op %ld %s: %s errno %d\n", opno, kind, what, errno);
  exit(3);
}

/* Compare got[0..n) with the shadow at file offset off. */
static void check(const char *kind, uint32_t off, const volatile uint8_t *got, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    uint8_t g = got[i];
    if (g != shadow[off + i]) mismatch(kind, off + i, shadow[off + i], g);
  }
}

/* A pattern that differs per op, so stale data never looks right. */
static void pattern(uint8_t *dst, uint32_t n) {
  uint32_t a = next(), step = next() | 1;
  for (uint32_t i = 0; i < n; i++, a += step) dst[i] = (uint8_t)(a >> 24) ^ (uint8_t)opno;
}

/* A random range [off, off + len) inside [0, limit); limit > 0. */
static void range(uint32_t limit, uint32_t maxLen, uint32_t *off, uint32_t *len) {
  *off = below(limit);
  uint32_t room = limit - *off;
  *len = 1 + below(room < maxLen ? room : maxLen);
}

/* The shadow's new size: zero what was cut off so it reads as zeros later. */
static void setSize(uint32_t n) {
  if (n < fsize) memset(shadow + n, 0, fsize - n);
  fsize = n;
}

static int opWrite(void) {
  uint32_t off, len;
  range(MAX_SIZE, MAX_IO, &off, &len);
  pattern(buf, len);
  ssize_t r = pwrite(fd, buf, len, off);
  if (r != (ssize_t)len) failed("write", "pwrite");
  memcpy(shadow + off, buf, len);
  if (off + len > fsize) fsize = off + len;
  return 1;
}

static void readCheck(const char *kind, uint32_t off, uint32_t len) {
  ssize_t r = pread(fd, buf, len, off);
  uint32_t want = off >= fsize ? 0 : (fsize - off < len ? fsize - off : len);
  if (r < 0) failed(kind, "pread");
  if ((uint32_t)r != want) mismatch("readlen", off, want, (uint32_t)r);
  check(kind, off, buf, want);
}

static int opRead(void) {
  uint32_t off, len;
  range(MAX_SIZE, MAX_IO, &off, &len);
  readCheck("read", off, len);
  return 1;
}

static int opTruncate(void) {
  uint32_t n = below(MAX_SIZE + 1);
  if (ftruncate(fd, n) < 0) failed("truncate", "ftruncate");
  setSize(n);
  return 1;
}

static int opPunch(void) {
  uint32_t off, len;
  range(MAX_SIZE, MAX_IO * 2, &off, &len);
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0) {
    failed("punch", "fallocate");
  }
  if (off < fsize) memset(shadow + off, 0, (off + len > fsize ? fsize : off + len) - off);
  return 1;
}

static int opMap(void) {
  if (map) return 0;
  uint32_t pages = MAX_SIZE / PAGE;
  uint32_t first = below(pages), n = 1 + below(MAX_MAP_PAGES);
  if (first + n > pages) n = pages - first;
  void *p = mmap(0, n * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)first * PAGE);
  if (p == MAP_FAILED) failed("map", "mmap");
  map = p;
  mapOff = first * PAGE;
  mapLen = n * PAGE;
  return 1;
}

/* The bytes of the live map that are inside the file: [mapOff, end). */
static uint32_t mapEnd(void) {
  return mapOff + mapLen < fsize ? mapOff + mapLen : fsize;
}

static int opMapStore(void) {
  if (!map || mapEnd() <= mapOff) return 0;
  uint32_t off, len;
  range(mapEnd() - mapOff, MAX_IO, &off, &len);
  pattern(buf, len);
  volatile uint8_t *dst = map + off;
  for (uint32_t i = 0; i < len; i++) dst[i] = buf[i];
  memcpy(shadow + mapOff + off, buf, len);
  return 1;
}

static int opMapLoad(void) {
  if (!map || mapEnd() <= mapOff) return 0;
  uint32_t off, len;
  range(mapEnd() - mapOff, MAX_IO, &off, &len);
  check("mapload", mapOff + off, map + off, len);
  return 1;
}

static int opMsync(void) {
  if (!map) return 0;
  if (msync(map, mapLen, MS_SYNC) < 0) failed("msync", "msync");
  return 1;
}

static int opMunmap(void) {
  if (!map) return 0;
  if (munmap(map, mapLen) < 0) failed("munmap", "munmap");
  map = 0;
  return 1;
}

static int opPrivate(void) {
  if (fsize == 0) return 0;
  uint32_t pages = (fsize + PAGE - 1) / PAGE;
  uint32_t first = below(pages), n = 1 + below(MAX_MAP_PAGES);
  if (first + n > pages) n = pages - first;
  uint32_t base = first * PAGE, end = base + n * PAGE < fsize ? base + n * PAGE : fsize;
  uint8_t *p = mmap(0, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)base);
  if (p == MAP_FAILED) failed("private", "mmap");
  check("privload", base, p, end - base); /* before any store: the file's bytes */
  uint32_t off, len;
  range(end - base, MAX_IO, &off, &len);
  pattern(buf, len);
  volatile uint8_t *q = p;
  for (uint32_t i = 0; i < len; i++) q[off + i] = buf[i];
  for (uint32_t i = 0; i < len; i++) {
    if (q[off + i] != buf[i]) mismatch("privcopy", base + off + i, buf[i], q[off + i]);
  }
  readCheck("privfile", base, end - base); /* the file did not change */
  if (munmap(p, n * PAGE) < 0) failed("private", "munmap");
  readCheck("privfile", base, end - base);
  return 1;
}

static int opFsync(void) {
  if (fsync(fd) < 0) failed("fsync", "fsync");
  return 1;
}

static int opVerify(void) {
  struct stat st;
  if (fstat(fd, &st) < 0) failed("verify", "fstat");
  if (st.st_size != (off_t)fsize) {
    dprintf(1, "fsx: MISMATCH op %ld size off 0 want %u got %lld\n", opno, (unsigned)fsize,
            (long long)st.st_size);
    exit(1);
  }
  readCheck("verify", 0, MAX_SIZE);
  return 1;
}

struct op {
  const char *name;
  int (*run)(void); /* 1 when it did something, 0 when skipped (no map, empty file) */
  uint32_t weight;
};

static const struct op OPS[] = {
  {"write", opWrite, 6},       {"read", opRead, 5},       {"truncate", opTruncate, 2},
  {"punch", opPunch, 3},       {"map", opMap, 3},         {"mapstore", opMapStore, 4},
  {"mapload", opMapLoad, 4},   {"msync", opMsync, 1},     {"munmap", opMunmap, 2},
  {"private", opPrivate, 2},   {"fsync", opFsync, 1},     {"verify", opVerify, 1},
};
#define NOPS (sizeof OPS / sizeof OPS[0])

static long done[NOPS];

static uint32_t fnv1a(const uint8_t *p, uint32_t n) {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static void putU32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static void logRecord(int logFd, uint32_t seq) {
  uint8_t rec[16];
  putU32(rec, LOG_MAGIC);
  putU32(rec + 4, seq);
  putU32(rec + 8, seq * 2654435761u);
  putU32(rec + 12, fnv1a(rec, 12));
  if (write(logFd, rec, sizeof rec) != (ssize_t)sizeof rec) failed("log", "write");
  if (fsync(logFd) < 0) failed("log", "fsync");
  dprintf(1, "durable %u\n", (unsigned)seq);
}

int main(int argc, char **argv) {
  char *end1 = 0, *end2 = 0;
  unsigned long seed = argc >= 4 ? strtoul(argv[2], &end1, 0) : 0;
  long ops = argc >= 4 ? strtol(argv[3], &end2, 10) : -1;
  if (argc < 4 || argc > 5 || *end1 || *end2 || ops < 0) {
    dprintf(2, "usage: fsx FILE SEED OPS [LOG]\n");
    return 2;
  }
  rng = (uint32_t)seed ? (uint32_t)seed : 1;
  fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) failed("open", argv[1]);
  int logFd = -1;
  if (argc == 5) {
    logFd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (logFd < 0) failed("open", argv[4]);
  }
  uint32_t total = 0;
  for (unsigned i = 0; i < NOPS; i++) total += OPS[i].weight;
  for (opno = 0; opno < ops; opno++) {
    uint32_t pick = below(total);
    unsigned i = 0;
    while (pick >= OPS[i].weight) pick -= OPS[i++].weight;
    done[i] += OPS[i].run();
    if (logFd >= 0 && (opno + 1) % LOG_EVERY == 0) logRecord(logFd, (uint32_t)(opno / LOG_EVERY));
  }
  opMunmap();
  opVerify();
  if (close(fd) < 0) failed("close", "close");
  if (logFd >= 0 && close(logFd) < 0) failed("close", "close log");
  char line[512];
  int at = snprintf(line, sizeof line, "fsx: ran");
  for (unsigned i = 0; i < NOPS; i++) {
    at += snprintf(line + at, sizeof line - at, " %s=%ld", OPS[i].name, done[i]);
  }
  dprintf(1, "%s\n", line);
  dprintf(1, "fsx: %ld ops ok\n", ops);
  return 0;
}
