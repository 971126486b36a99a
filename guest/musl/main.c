/* mtest GROUP...: run check groups; status 0 when every check passed. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "mtest.h"

int mt_failures;

static const struct {
	const char *name;
	int (*fn)(void);
} groups[] = {
	{"stdio", group_stdio},   {"memory", group_memory}, {"strings", group_strings},
	{"time", group_time},     {"files", group_files},   {"dirs", group_dirs},
	{"errnos", group_errnos}, {"proc", group_proc},     {"signals", group_signals},
	{"threads", group_threads}, {"procs", group_procs},
};
#define NGROUPS (sizeof groups / sizeof groups[0])

void mt_check(int ok, const char *what)
{
	if (ok) {
		printf("ok %s\n", what);
	} else {
		printf("FAIL %s (errno %d %s)\n", what, errno, strerror(errno));
		mt_failures++;
	}
}

static char scratch[64];

const char *mt_scratch(const char *group)
{
	snprintf(scratch, sizeof scratch, "/tmp/mtest-%s-XXXXXX", group);
	if (!mkdtemp(scratch)) {
		printf("FAIL mkdtemp %s (errno %d)\n", scratch, errno);
		exit(3);
	}
	return scratch;
}

/* Remove the scratch directory and everything in it (one level of subdirectories). */
static void rmtree(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (!d) return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct stat st;
		if (depth < 4 && lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) rmtree(path, depth + 1);
		else unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

void mt_cleanup(void)
{
	if (scratch[0]) {
		chdir("/");
		rmtree(scratch, 0);
		scratch[0] = 0;
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: mtest GROUP...  (groups:");
		for (size_t i = 0; i < NGROUPS; i++) fprintf(stderr, " %s", groups[i].name);
		fprintf(stderr, ")\n");
		return 2;
	}
	for (int a = 1; a < argc; a++) {
		size_t i;
		for (i = 0; i < NGROUPS && strcmp(groups[i].name, argv[a]); i++) {}
		if (i == NGROUPS) {
			fprintf(stderr, "mtest: no group %s\n", argv[a]);
			return 2;
		}
		printf("== %s\n", groups[i].name);
		groups[i].fn();
		mt_cleanup();
		fflush(stdout);
	}
	printf("%s\n", mt_failures ? "FAILED" : "PASSED");
	return mt_failures ? 1 : 0;
}
