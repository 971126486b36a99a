/* matrix.c: integer matrix multiply and the data generator. */
#include <compute.h>
#include <string.h>

uint32_t lcg_next(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  return *state;
}

void lcg_fill(uint32_t *state, void *buf, size_t n) {
  unsigned char *p = buf;
  for (size_t i = 0; i < n; i += 4) {
    uint32_t w = lcg_next(state);
    for (size_t k = 0; k < 4 && i + k < n; k++) p[i + k] = (unsigned char)(w >> (8 * k));
  }
}

void matmul_u32(uint32_t *c, const uint32_t *a, const uint32_t *b, int n) {
  memset(c, 0, sizeof(uint32_t) * (size_t)n * (size_t)n);
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < n; k++) {
      uint32_t aik = a[i * n + k];
      for (int j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
    }
  }
}

uint32_t matrix_checksum(const uint32_t *m, int n) {
  uint32_t sum = 0;
  for (int i = 0; i < n * n; i++) sum += m[i] * (uint32_t)(i + 1);
  return sum;
}
