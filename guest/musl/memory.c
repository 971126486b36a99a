/* memory: malloc family, mmap family, brk, and mapping until ENOMEM. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "mtest.h"

static void heap(void)
{
	enum { N = 500 };
	static unsigned char *p[N];
	int ok = 1;
	for (int i = 0; i < N; i++) {
		size_t n = 1 + (size_t)(i * 37 % 3000);
		p[i] = malloc(n);
		if (!p[i]) { ok = 0; break; }
		memset(p[i], i & 0xff, n);
	}
	for (int i = 0; ok && i < N; i += 2) free(p[i]), p[i] = NULL;
	for (int i = 1; ok && i < N; i += 2) {
		size_t n = 1 + (size_t)(i * 37 % 3000);
		for (size_t k = 0; k < n; k++) if (p[i][k] != (i & 0xff)) ok = 0;
		free(p[i]);
	}
	CHECK(ok, "500 mallocs of mixed sizes keep their contents");

	int *z = calloc(1000, sizeof *z);
	int zero = z != NULL;
	for (int i = 0; z && i < 1000; i++) zero &= z[i] == 0;
	CHECK(zero, "calloc returns zeroed memory");
	free(z);

	char *r = malloc(16);
	strcpy(r, "realloc keeps");
	r = realloc(r, 100000);
	CHECK(r && !strcmp(r, "realloc keeps"), "realloc grows and keeps the contents");
	r = realloc(r, 3 << 20);
	CHECK(r && !strcmp(r, "realloc keeps"), "realloc to 3 MiB keeps the contents");
	memset(r + 100, 1, (3 << 20) - 100);
	r = realloc(r, 8);
	CHECK(r && !memcmp(r, "realloc", 7), "realloc shrinks");
	free(r);

	void *a = NULL;
	CHECK(posix_memalign(&a, 4096, 10000) == 0 && ((uintptr_t)a & 4095) == 0,
	      "posix_memalign to 4096");
	free(a);
	a = aligned_alloc(64, 128);
	CHECK(a && ((uintptr_t)a & 63) == 0, "aligned_alloc to 64");
	free(a);

	char *big = malloc(16 << 20);
	CHECK(big != NULL, "malloc of 16 MiB");
	if (big) {
		big[0] = 1, big[(16 << 20) - 1] = 2;
		CHECK(big[0] + big[(16 << 20) - 1] == 3, "both ends of 16 MiB are usable");
		free(big);
	}
	/* Called through a volatile pointer: clang may otherwise assume malloc succeeds. */
	void *(*volatile alloc)(size_t) = malloc;
	errno = 0;
	void *h = alloc((size_t)-4096);
	CHECK(h == NULL && errno == ENOMEM, "malloc of ~4 GiB fails with ENOMEM");
	free(h);
}

static void maps(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	CHECK(pg == 4096, "sysconf(_SC_PAGESIZE) is 4096");
	char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED, "mmap anonymous");
	if (m == MAP_FAILED) return;
	CHECK(m[0] == 0 && m[4 * pg - 1] == 0, "anonymous pages read as zero");
	m[pg] = 'x';
	CHECK(mprotect(m, pg, PROT_READ) == 0, "mprotect to read-only");
	CHECK(munmap(m + pg, pg) == 0, "munmap of one page in the middle");
	CHECK(munmap(m, 4 * pg) == 0, "munmap of the rest");
	CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED &&
		      errno == EINVAL, "mmap of length 0 is EINVAL");
	void *cur = sbrk(0);
	CHECK(cur != (void *)-1, "sbrk(0) reports the break");
}

/* Map 64 MiB regions (never touched) until the address space runs out, then carry on. */
static void exhaust(void)
{
	enum { MAX = 256 };
	static void *r[MAX];
	size_t len = 64 << 20;
	int n = 0, err = 0;
	while (n < MAX) {
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) { err = errno; break; }
		r[n++] = p;
	}
	CHECK(n > 4 && n < MAX, "several 64 MiB regions map before the space runs out");
	errno = err;
	CHECK(err == ENOMEM, "the first failing mmap says ENOMEM");
	for (int i = 0; i < n; i++) munmap(r[i], len);
	char *p = malloc(1 << 20);
	CHECK(p != NULL, "after unmapping, malloc of 1 MiB works again");
	if (p) p[0] = 1, free(p);
}

int group_memory(void)
{
	heap();
	maps();
	exhaust();
	return 0;
}
