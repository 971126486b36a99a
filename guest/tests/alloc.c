/* alloc: malloc, free, calloc and realloc over brk and mmap. Prints only
 * results that any correct allocator produces. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBLOCK 200

static size_t size_of(int i) {
  return (size_t)(i * 37 % 3000) + 1;
}

static int check(const unsigned char *p, size_t n, unsigned char v) {
  for (size_t k = 0; k < n; k++) {
    if (p[k] != v) return 0;
  }
  return 1;
}

int main(void) {
  static unsigned char *blocks[NBLOCK];
  for (int i = 0; i < NBLOCK; i++) {
    blocks[i] = malloc(size_of(i));
    if (!blocks[i] || ((uintptr_t)blocks[i] & 15)) return 1;
    memset(blocks[i], i & 0xff, size_of(i));
  }
  for (int i = 0; i < NBLOCK; i += 2) free(blocks[i]);
  for (int i = 0; i < NBLOCK; i += 2) {
    blocks[i] = malloc(size_of(i + 1));
    memset(blocks[i], 0xee, size_of(i + 1));
  }
  int ok = 1;
  for (int i = 1; i < NBLOCK; i += 2) ok &= check(blocks[i], size_of(i), (unsigned char)(i & 0xff));
  printf("small blocks: %s\n", ok ? "intact" : "CORRUPT");
  for (int i = 0; i < NBLOCK; i++) free(blocks[i]);

  /* Reuse the dirty blocks just freed: calloc must still zero. */
  uint32_t *z = calloc(700, 4);
  printf("calloc: %s\n", z && check((unsigned char *)z, 2800, 0) ? "zeroed" : "NOT ZEROED");
  free(z);

  /* Grow from the small classes into an mmap'd block and keep the data. */
  char *s = malloc(10);
  strcpy(s, "xip-data");
  for (size_t n = 16; n <= 200000; n *= 3) {
    s = realloc(s, n);
    if (!s) return 1;
  }
  printf("realloc: %s\n", strcmp(s, "xip-data") == 0 ? s : "LOST");
  free(s);

  size_t big = 1 << 20;
  unsigned char *m = malloc(big);
  uint32_t sum = 0;
  for (size_t i = 0; i < big; i++) m[i] = (unsigned char)(i * 7);
  for (size_t i = 0; i < big; i++) sum += m[i];
  printf("big block: %zu bytes, sum %u\n", big, sum);
  free(m);

  char *d = strdup("duplicate me");
  printf("strdup: %s\n", d);
  free(d);
  return 0;
}
