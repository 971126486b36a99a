/* dirs: mkdir, rmdir, chdir, getcwd, readdir, relative paths and *at calls. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "mtest.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int group_dirs(void)
{
	const char *dir = mt_scratch("dirs");
	char cwd[256], want[256];
	CHECK(chdir(dir) == 0, "chdir into the scratch directory");
	CHECK(getcwd(cwd, sizeof cwd) && !strcmp(cwd, dir), "getcwd names it");
	errno = 0;
	CHECK(getcwd(cwd, 3) == NULL && errno == ERANGE, "getcwd into a short buffer is ERANGE");
	CHECK(mkdir("sub", 0755) == 0, "mkdir relative");
	CHECK_ERR(mkdir("sub", 0755), EEXIST, "mkdir again is EEXIST");
	CHECK(mkdir("sub/deeper", 0700) == 0, "mkdir nested");
	struct stat st;
	CHECK(stat("sub/deeper", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	      "stat of the nested directory");
	const char *files[] = {"zeta", "alpha", "mid", "sub/inner"};
	for (int i = 0; i < 4; i++) close(open(files[i], O_CREAT | O_WRONLY, 0644));
	DIR *d = opendir(".");
	CHECK(d != NULL, "opendir .");
	char *names[16];
	int n = 0, dots = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) && n < 16) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) { dots++; continue; }
		names[n++] = strdup(e->d_name);
	}
	if (d) closedir(d);
	qsort(names, n, sizeof names[0], cmp_str);
	printf("readdir:");
	for (int i = 0; i < n; i++) printf(" %s", names[i]), free(names[i]);
	printf("\n");
	CHECK(dots == 2, "readdir lists . and ..");
	CHECK(chdir("sub") == 0 && getcwd(cwd, sizeof cwd), "chdir into sub");
	snprintf(want, sizeof want, "%s/sub", dir);
	CHECK(!strcmp(cwd, want), "getcwd after chdir sub");
	CHECK(access("inner", F_OK) == 0 && access("../alpha", F_OK) == 0, "relative paths from sub");
	int dfd = open("..", O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0, "open .. O_DIRECTORY");
	CHECK(faccessat(dfd, "zeta", F_OK, 0) == 0, "faccessat relative to a dirfd");
	CHECK(fstatat(dfd, "sub", &st, 0) == 0 && S_ISDIR(st.st_mode), "fstatat relative to a dirfd");
	CHECK(mkdirat(dfd, "made", 0755) == 0, "mkdirat");
	CHECK(unlinkat(dfd, "made", AT_REMOVEDIR) == 0, "unlinkat AT_REMOVEDIR");
	int ffd = openat(dfd, "mid", O_RDONLY);
	CHECK(ffd >= 0, "openat relative to a dirfd");
	CHECK_ERR(openat(ffd, "x", O_RDONLY), ENOTDIR, "openat relative to a file is ENOTDIR");
	close(ffd);
	CHECK(fchdir(dfd) == 0 && getcwd(cwd, sizeof cwd) && !strcmp(cwd, dir), "fchdir back up");
	close(dfd);
	CHECK_ERR(rmdir("sub"), ENOTEMPTY, "rmdir of a non-empty directory is ENOTEMPTY");
	CHECK(unlink("sub/inner") == 0 && rmdir("sub/deeper") == 0 && rmdir("sub") == 0, "rmdir after emptying");
	CHECK_ERR(chdir("sub"), ENOENT, "chdir into a removed directory is ENOENT");
	CHECK(chdir("/") == 0 && getcwd(cwd, sizeof cwd) && !strcmp(cwd, "/"), "chdir / and getcwd");
	return 0;
}
