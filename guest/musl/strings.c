/* strings: the string.h, stdlib.h and ctype.h routines. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <strings.h>
#include "mtest.h"

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

int group_strings(void)
{
	char b[64];
	CHECK(strlen("hello") == 5 && strnlen("hello", 3) == 3, "strlen and strnlen");
	CHECK(strcmp("abc", "abd") < 0 && strncmp("abcx", "abcy", 3) == 0, "strcmp and strncmp");
	CHECK(strcasecmp("HeLLo", "hello") == 0 && strncasecmp("ABx", "aby", 2) == 0, "strcasecmp");
	strcpy(b, "foo");
	strcat(b, "bar");
	CHECK(!strcmp(b, "foobar"), "strcpy and strcat");
	CHECK(strchr(b, 'b') == b + 3 && strrchr(b, 'o') == b + 2, "strchr and strrchr");
	CHECK(strstr(b, "oba") == b + 2 && strstr(b, "xyz") == NULL, "strstr");
	CHECK(memmem(b, 6, "ba", 2) == b + 3, "memmem");
	CHECK(strspn("aaabc", "a") == 3 && strcspn("abc,d", ",") == 3, "strspn and strcspn");
	char list[] = "a,b,,c", *save, *tok;
	int n = 0;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) n++;
	CHECK(n == 3, "strtok_r splits a,b,,c into 3");
	char *d = strdup("duplicate");
	CHECK(d && !strcmp(d, "duplicate"), "strdup");
	free(d);
	memset(b, 'x', 10);
	memmove(b + 2, b, 5);
	CHECK(memcmp(b, "xxxxxxx", 7) == 0, "memmove overlapping");
	CHECK(strtol("-0x1f", NULL, 16) == -31 && strtol("0777", NULL, 0) == 511, "strtol bases");
	errno = 0;
	long big = strtol("99999999999999999999", NULL, 10);
	CHECK(big == LONG_MAX && errno == ERANGE, "strtol overflow is ERANGE");
	CHECK(strtoull("18446744073709551615", NULL, 10) == 18446744073709551615ULL, "strtoull max");
	char *end;
	double v = strtod("6.02214076e23xyz", &end);
	CHECK(v > 6.022e23 && v < 6.023e23 && !strcmp(end, "xyz"), "strtod and its end pointer");
	CHECK(atoi("  42abc") == 42 && atol("-7") == -7, "atoi and atol");
	int arr[] = {5, 3, 9, 1, 7, 2, 8};
	qsort(arr, 7, sizeof arr[0], cmp_int);
	printf("qsort: %d %d %d %d %d %d %d\n", arr[0], arr[1], arr[2], arr[3], arr[4], arr[5], arr[6]);
	int key = 7;
	CHECK(bsearch(&key, arr, 7, sizeof arr[0], cmp_int) == &arr[4], "bsearch");
	CHECK(toupper('a') == 'A' && tolower('Z') == 'z' && isdigit('7') && !isalpha('7'), "ctype");
	printf("strerror(ENOENT) = %s\n", strerror(ENOENT));
	printf("strerror(EMFILE) = %s\n", strerror(EMFILE));
	return 0;
}
