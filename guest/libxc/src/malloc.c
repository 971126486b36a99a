/* malloc.c: a size-class allocator over brk, with mmap for big blocks.
 *
 * Every block starts with a 16-byte header, so payloads are 16-byte aligned:
 *
 *   [ size | magic | pad pad ][ payload ... ]
 *
 * Requests up to 64 KiB are rounded up to a power of two (16 .. 65536) and
 * carved from memory got with brk (or from an mmap'd arena when brk is
 * refused). Freed small blocks go on the free list of their class and are
 * reused as they are; they never merge. Larger requests get their own
 * anonymous mmap and go back with munmap. Processes are single-threaded,
 * so there is no lock. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xc/sync.h>

#include "internal.h"

#define HDR 16u
#define MIN_SHIFT 4u  /* 16 bytes */
#define MAX_SHIFT 16u /* 64 KiB */
#define NCLASS (MAX_SHIFT - MIN_SHIFT + 1)
#define GROW (256u * 1024) /* how much heap to ask for at a time */
#define PAGE 4096u

#define MAGIC_SMALL 0x78630001u
#define MAGIC_BIG 0x78630002u
#define MAGIC_FREE 0x78630003u

struct header {
  size_t size; /* payload bytes: the class size, or the mapping minus HDR */
  uint32_t magic;
  uint32_t pad[2];
};

struct free_block {
  struct header h;
  struct free_block *next;
};

static struct free_block *free_lists[NCLASS];
static unsigned char *top, *top_end; /* the unused tail of the current heap */

static unsigned class_of(size_t n) {
  unsigned c = 0;
  while (((size_t)1 << (c + MIN_SHIFT)) < n) c++;
  return c;
}

/* Extend the brk heap by `grow` bytes, first padding the break to a 16-byte
 * boundary. Returns the start of the new bytes, or 0 if brk refuses. */
static unsigned char *grow_heap(size_t grow) {
  unsigned char *cur = sbrk(0);
  if (cur == (void *)-1) return 0;
  size_t pad = (HDR - (uintptr_t)cur % HDR) % HDR;
  if (sbrk((long)(pad + grow)) != cur) return 0;
  return cur + pad;
}

/* Get `need` fresh bytes at the heap top, growing the heap with brk when the
 * current piece is too small, or taking an mmap'd arena if brk says no. */
static void *carve(size_t need) {
  if ((size_t)(top_end - top) < need) {
    size_t grow = need > GROW ? need : GROW;
    unsigned char *fresh = grow_heap(grow);
    if (!fresh) {
      fresh = mmap(0, grow, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (fresh == MAP_FAILED) return 0;
    }
    if (fresh != top_end) top = fresh; /* not contiguous: abandon the old tail */
    top_end = fresh + grow;
  }
  void *p = top;
  top += need;
  return p;
}

/* The free lists and the heap top, for threads (pthread.h). */
static xc_mutex heap_lock = XC_MUTEX_INIT;

void *malloc(size_t n) {
  if (n == 0) n = 1;
  if (n > ((size_t)1 << MAX_SHIFT)) {
    if (n > SIZE_MAX - HDR - PAGE) return 0;
    size_t len = (n + HDR + PAGE - 1) & ~(size_t)(PAGE - 1);
    struct header *h = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (h == MAP_FAILED) return 0;
    h->size = len - HDR;
    h->magic = MAGIC_BIG;
    return (unsigned char *)h + HDR;
  }
  unsigned c = class_of(n);
  struct header *h;
  xc_mutex_lock(&heap_lock);
  if (free_lists[c]) {
    struct free_block *b = free_lists[c];
    free_lists[c] = b->next;
    h = &b->h;
  } else {
    h = carve(HDR + ((size_t)1 << (c + MIN_SHIFT)));
    if (h) h->size = (size_t)1 << (c + MIN_SHIFT);
  }
  if (h) h->magic = MAGIC_SMALL;
  xc_mutex_unlock(&heap_lock);
  return h ? (unsigned char *)h + HDR : 0;
}

/* The header of a live block; a bad or freed pointer ends the process. */
static struct header *header_of(void *p) {
  struct header *h = (struct header *)((unsigned char *)p - HDR);
  if (h->magic != MAGIC_SMALL && h->magic != MAGIC_BIG) {
    __xc_die(h->magic == MAGIC_FREE ? "free(): double free\n" : "free(): invalid pointer\n");
  }
  return h;
}

void free(void *p) {
  if (!p) return;
  struct header *h = header_of(p);
  if (h->magic == MAGIC_BIG) {
    munmap(h, h->size + HDR);
    return;
  }
  struct free_block *b = (struct free_block *)h;
  unsigned c = class_of(h->size);
  xc_mutex_lock(&heap_lock);
  h->magic = MAGIC_FREE;
  b->next = free_lists[c];
  free_lists[c] = b;
  xc_mutex_unlock(&heap_lock);
}

void *calloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return 0;
  void *p = malloc(count * size);
  return p ? memset(p, 0, count * size) : 0;
}

void *realloc(void *p, size_t n) {
  if (!p) return malloc(n);
  struct header *h = header_of(p);
  if (n <= h->size && n > h->size / 4) return p; /* fits and not wasteful */
  void *q = malloc(n);
  if (!q) return 0;
  memcpy(q, p, n < h->size ? n : h->size);
  free(p);
  return q;
}
