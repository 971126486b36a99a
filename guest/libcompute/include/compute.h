/* compute.h: libcompute, deterministic work for the example programs. */
#ifndef COMPUTE_H
#define COMPUTE_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) as zlib computes
 * it: crc32_update(0, buf, n) is the CRC of buf, and feeding a buffer in
 * pieces gives the same result as feeding it whole. */
uint32_t crc32_update(uint32_t crc, const void *buf, size_t n);

/* The LCG that makes test data: state = state * 1664525 + 1013904223
 * (mod 2^32); each step yields the new state. */
uint32_t lcg_next(uint32_t *state);
void lcg_fill(uint32_t *state, void *buf, size_t n); /* n bytes, LE words */

/* c = a * b for n x n matrices of uint32 (arithmetic mod 2^32). */
void matmul_u32(uint32_t *c, const uint32_t *a, const uint32_t *b, int n);
/* sum over i of m[i] * (i + 1), mod 2^32. */
uint32_t matrix_checksum(const uint32_t *m, int n);

/* Sort ascending with libc qsort; is_sorted_i32 checks the result. */
void sort_i32(int32_t *v, size_t n);
int is_sorted_i32(const int32_t *v, size_t n);
/* h = h * 31 + (uint32)v[i] over the array, from h = 17, mod 2^32. */
uint32_t fold_i32(const int32_t *v, size_t n);

/* 1 if libcompute's constructor ran (the loader ran DT_INIT_ARRAY). */
int compute_initialized(void);

#endif
