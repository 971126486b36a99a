/* errnos: the error paths of common calls, and their messages. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "mtest.h"

int group_errnos(void)
{
	const char *dir = mt_scratch("errnos");
	char p[300], f[200];
	snprintf(f, sizeof f, "%s/file", dir);
	int fd = open(f, O_CREAT | O_WRONLY, 0644);
	write(fd, "data", 4);
	close(fd);
	CHECK_ERR(open("/no/such/file", O_RDONLY), ENOENT, "open of a missing path is ENOENT");
	CHECK_ERR(open(dir, O_WRONLY), EISDIR, "open of a directory for writing is EISDIR");
	snprintf(p, sizeof p, "%s/x", f);
	CHECK_ERR(open(p, O_RDONLY), ENOTDIR, "a file used as a directory is ENOTDIR");
	CHECK_ERR(open(f, O_RDONLY | O_DIRECTORY), ENOTDIR, "O_DIRECTORY on a file is ENOTDIR");
	CHECK_ERR(unlink(dir), EISDIR, "unlink of a directory is EISDIR");
	CHECK_ERR(rmdir(f), ENOTDIR, "rmdir of a file is ENOTDIR");
	snprintf(p, sizeof p, "%s/missing/child", dir);
	CHECK_ERR(mkdir(p, 0755), ENOENT, "mkdir under a missing parent is ENOENT");
	char longname[300];
	memset(longname, 'n', 299);
	longname[299] = 0;
	CHECK_ERR(open(longname, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG, "a 299-byte name is ENAMETOOLONG");
	fd = open(f, O_WRONLY);
	char b[4];
	CHECK_ERR(read(fd, b, 4), EBADF, "read on a write-only fd is EBADF");
	close(fd);
	fd = open(f, O_RDONLY);
	CHECK_ERR(write(fd, "x", 1), EBADF, "write on a read-only fd is EBADF");
	CHECK_ERR(ftruncate(fd, 0), EINVAL, "ftruncate on a read-only fd is EINVAL");
	close(fd);
	CHECK_ERR(close(-1), EBADF, "close(-1) is EBADF");
	CHECK_ERR(write(999, "x", 1), EBADF, "write to an unopened fd is EBADF");
	CHECK_ERR(lseek(999, 0, SEEK_SET), EBADF, "lseek of an unopened fd is EBADF");
	CHECK(opendir(f) == NULL && errno == ENOTDIR, "opendir of a file is ENOTDIR");
	fd = open(f, O_RDONLY);
	errno = 0;
	CHECK(isatty(fd) == 0 && errno == ENOTTY, "isatty of a file is 0 with ENOTTY");
	CHECK(read(fd, NULL, 0) == 0, "read of 0 bytes into NULL returns 0");
	CHECK_ERR(read(fd, (void *)16, 1), EFAULT, "read of data into an unmapped buffer is EFAULT");
	close(fd);
	CHECK_ERR(access("/no/such", F_OK), ENOENT, "access of a missing path is ENOENT");
	CHECK_ERR(chdir(f), ENOTDIR, "chdir to a file is ENOTDIR");
	CHECK_ERR(rename("/no/such", f), ENOENT, "rename of a missing file is ENOENT");
	snprintf(p, sizeof p, "%s/adir", dir);
	mkdir(p, 0755);
	CHECK_ERR(rename(p, f), ENOTDIR, "rename of a directory over a file is ENOTDIR");
	CHECK_ERR(rename(dir, p), EINVAL, "rename of a directory into itself is EINVAL");
	errno = ENOENT;
	perror("perror says");
	printf("strerror(EBADF) = %s\n", strerror(EBADF));
	printf("strerror(EISDIR) = %s\n", strerror(EISDIR));
	return 0;
}
