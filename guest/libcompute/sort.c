/* sort.c: sorting through libc's qsort, so libcompute.so needs libc.so. */
#include <compute.h>
#include <stdlib.h>

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

void sort_i32(int32_t *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_i32);
}

int is_sorted_i32(const int32_t *v, size_t n) {
  for (size_t i = 1; i < n; i++) {
    if (v[i - 1] > v[i]) return 0;
  }
  return 1;
}

uint32_t fold_i32(const int32_t *v, size_t n) {
  uint32_t h = 17;
  for (size_t i = 0; i < n; i++) h = h * 31u + (uint32_t)v[i];
  return h;
}
