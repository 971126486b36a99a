/* compute [ITERATIONS]: CPU work through libcompute.so. Each iteration
 * generates fresh data from one LCG stream and folds it into three
 * checksums, so the output depends on every iteration and a larger count
 * just runs longer. */
#include <compute.h>
#include <stdio.h>
#include <stdlib.h>

#define BUF_BYTES 65536
#define MAT_N 24
#define SORT_N 2048
#define SEED 12345u

/* Deliberately called through a pointer in writable data: its initial value
 * is a libcompute address, which takes an R_RISCV_32 relocation against the
 * symbol at load time. volatile keeps the compiler from calling directly. */
static uint32_t (*volatile checksum_of)(const uint32_t *, int) = matrix_checksum;

int main(int argc, char **argv) {
  long iters = 1;
  if (argc > 1) {
    char *end;
    iters = strtol(argv[1], &end, 10);
    if (*end || iters < 1) {
      fprintf(stderr, "usage: compute [ITERATIONS >= 1]\n");
      return 2;
    }
  }
  unsigned char *buf = malloc(BUF_BYTES);
  uint32_t *a = malloc(sizeof(uint32_t) * MAT_N * MAT_N);
  uint32_t *b = malloc(sizeof(uint32_t) * MAT_N * MAT_N);
  uint32_t *c = malloc(sizeof(uint32_t) * MAT_N * MAT_N);
  int32_t *v = malloc(sizeof(int32_t) * SORT_N);
  if (!buf || !a || !b || !c || !v) {
    fprintf(stderr, "compute: out of memory\n");
    return 1;
  }

  uint32_t seed = SEED, crc = 0, mat = 0, sorted = 0;
  for (long it = 0; it < iters; it++) {
    lcg_fill(&seed, buf, BUF_BYTES);
    crc = crc32_update(crc, buf, BUF_BYTES);

    lcg_fill(&seed, a, sizeof(uint32_t) * MAT_N * MAT_N);
    lcg_fill(&seed, b, sizeof(uint32_t) * MAT_N * MAT_N);
    matmul_u32(c, a, b, MAT_N);
    mat += checksum_of(c, MAT_N);

    lcg_fill(&seed, v, sizeof(int32_t) * SORT_N);
    sort_i32(v, SORT_N);
    if (!is_sorted_i32(v, SORT_N)) {
      fprintf(stderr, "compute: sort produced unsorted output\n");
      return 1;
    }
    sorted += fold_i32(v, SORT_N);
  }

  printf("libcompute initialized: %s\n", compute_initialized() ? "yes" : "no");
  printf("iterations: %ld\n", iters);
  printf("crc32: %08x\n", crc);
  printf("matmul: %08x\n", mat);
  printf("sort: %08x\n", sorted);
  return 0;
}
