/* stdio: formatting, scanning, file streams, fdopen, append streams, tmpfile. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "mtest.h"

static void formats(void)
{
	char b[256];
	snprintf(b, sizeof b, "%d %i %u %x %X %o %c %s|%5s|%-5s|%.2s", -42, 7, 4000000000u, 0xbeef,
		 0xbeef, 8, 'z', "str", "ab", "ab", "abcdef");
	puts(b);
	snprintf(b, sizeof b, "%lld %llu %llx %jd %zu %hhd %hd", -9000000000123LL,
		 18446744073709551615ULL, 0x123456789abcdefULL, (long long)-1, (size_t)99,
		 (signed char)-3, (short)-300);
	puts(b);
	snprintf(b, sizeof b, "%.3f %g %e %.10g %a %G %5.1f|%-8.2e|", 3.14159265, 0.0001, 12345.678,
		 1.0 / 3, 1.5, 1e-10, 2.25, -0.5);
	puts(b);
	snprintf(b, sizeof b, "%f %f %f %.0f %.1f", 1e300 * 1e300, -(1e300 * 1e300), 0.0 / 0.0 * 0,
		 2.5, 0.05);
	puts(b);
	snprintf(b, sizeof b, "%08.3f|%+d|% d|%#x|%#o|%*d|%-*d|", 3.5, 5, 5, 255, 8, 6, 42, 4, 7);
	puts(b);
	int n = snprintf(b, 8, "%s", "truncated output");
	printf("snprintf returns %d, buffer \"%s\"\n", n, b);
	CHECK(n == 16 && strlen(b) == 7, "snprintf truncates and returns the full length");
}

static void scanning(void)
{
	int i = 0;
	unsigned x = 0;
	double d = 0;
	char w[16] = "";
	long long ll = 0;
	int got = sscanf("  -17 ff 2.5e3 word 123456789012", "%d %x %lf %15s %lld", &i, &x, &d, w, &ll);
	printf("sscanf got %d: %d %u %.1f %s %lld\n", got, i, x, d, w, ll);
	CHECK(got == 5, "sscanf converts five fields");
	got = sscanf("12abc", "%d%n", &i, &got);
	CHECK(i == 12, "sscanf stops at the first non-digit");
	CHECK(strtod("0x1p4", 0) == 16.0, "strtod reads hex floats");
}

static void streams(const char *dir)
{
	char path[128], line[64];
	snprintf(path, sizeof path, "%s/stream.txt", dir);
	FILE *f = fopen(path, "w+");
	CHECK(f != NULL, "fopen w+");
	if (!f) return;
	for (int k = 0; k < 3; k++) fprintf(f, "line %d\n", k);
	CHECK(ftell(f) == 21, "ftell after three lines is 21");
	rewind(f);
	int lines = 0;
	while (fgets(line, sizeof line, f)) lines++;
	CHECK(lines == 3 && feof(f), "fgets reads three lines then EOF");
	CHECK(fseek(f, 5, SEEK_SET) == 0 && fgetc(f) == '0', "fseek then fgetc");
	CHECK(ungetc('Q', f) == 'Q' && fgetc(f) == 'Q', "ungetc pushes back");
	CHECK(fclose(f) == 0, "fclose");

	char *buf = NULL;
	size_t cap = 0;
	f = fopen(path, "r");
	ssize_t len = f ? getline(&buf, &cap, f) : -1;
	CHECK(len == 7 && !strcmp(buf, "line 0\n"), "getline reads one line");
	free(buf);
	if (f) fclose(f);

	/* Append stream: ftello is the end, fclose succeeds. */
	f = fopen(path, "a");
	CHECK(f != NULL, "fopen a");
	if (f) {
		fputs("appended\n", f);
		CHECK(ftello(f) == 30, "ftello on an append stream is the end of the file");
		CHECK(fclose(f) == 0, "fclose of an append stream");
	}

	/* fdopen of an fd, write, then read back through a second stream. */
	int fd = open(path, O_RDWR | O_APPEND);
	CHECK(fd >= 0, "open O_RDWR|O_APPEND");
	FILE *g = fdopen(fd, "a+");
	CHECK(g != NULL, "fdopen a+");
	if (g) {
		fputs("via fdopen\n", g);
		CHECK(fflush(g) == 0, "fflush");
		rewind(g);
		int count = 0;
		while (fgets(line, sizeof line, g)) count++;
		CHECK(count == 5, "fdopen stream reads back all five lines");
		CHECK(!strcmp(line, "via fdopen\n"), "the last line is the one written");
		fclose(g);
	}

	FILE *t = tmpfile();
	CHECK(t != NULL, "tmpfile");
	if (t) {
		fputs("temporary", t);
		rewind(t);
		CHECK(fgets(line, sizeof line, t) && !strcmp(line, "temporary"), "tmpfile reads back");
		fclose(t);
	}

	char *mem = NULL;
	size_t msize = 0;
	FILE *m = open_memstream(&mem, &msize);
	fprintf(m, "%s-%d", "mem", 7);
	fclose(m);
	CHECK(msize == 5 && !strcmp(mem, "mem-7"), "open_memstream");
	free(mem);

	char fixed[16] = "hello world";
	m = fmemopen(fixed, 11, "r");
	char word[8];
	CHECK(m && fscanf(m, "%7s", word) == 1 && !strcmp(word, "hello"), "fmemopen and fscanf");
	if (m) fclose(m);

	FILE *s = fopen(path, "r");
	char vbuf[64];
	CHECK(s && setvbuf(s, vbuf, _IOFBF, sizeof vbuf) == 0, "setvbuf");
	if (s) fclose(s);
}

int group_stdio(void)
{
	formats();
	scanning();
	streams(mt_scratch("stdio"));
	fprintf(stderr, "stderr is unbuffered\n");
	return 0;
}
