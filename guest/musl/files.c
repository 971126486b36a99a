/* files: open flags, I/O calls, stat, fcntl, links, large offsets, /dev nodes, statvfs. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>
#include "mtest.h"

static char path[160], path2[160];

static void io(const char *dir)
{
	snprintf(path, sizeof path, "%s/data", dir);
	int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0640);
	CHECK(fd >= 0, "open O_CREAT|O_EXCL");
	CHECK_ERR(open(path, O_CREAT | O_EXCL | O_RDWR, 0640), EEXIST, "O_EXCL on an existing file is EEXIST");
	CHECK(write(fd, "0123456789", 10) == 10, "write 10 bytes");
	CHECK(lseek(fd, 0, SEEK_END) == 10 && lseek(fd, -4, SEEK_CUR) == 6, "lseek SEEK_END and SEEK_CUR");
	char b[32] = {0};
	CHECK(read(fd, b, sizeof b) == 4 && !memcmp(b, "6789", 4), "read the last 4 bytes");
	CHECK(pwrite(fd, "AB", 2, 2) == 2 && pread(fd, b, 4, 1) == 4 && !memcmp(b, "1AB4", 4), "pwrite and pread");
	struct iovec v[2] = {{"xy", 2}, {"zw", 2}};
	CHECK(pwritev(fd, v, 2, 20) == 4, "pwritev past the end");
	char p1[3] = {0}, p2[3] = {0};
	struct iovec r[2] = {{p1, 2}, {p2, 2}};
	CHECK(preadv(fd, r, 2, 20) == 4 && !strcmp(p1, "xy") && !strcmp(p2, "zw"), "preadv");
	CHECK(pread(fd, b, 4, 12) == 4 && b[0] == 0 && b[3] == 0, "the gap reads as zeros");
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && st.st_size == 24 && S_ISREG(st.st_mode), "fstat size and type");
	CHECK((st.st_mode & 0777) == 0640, "the mode is as created");
	CHECK(ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 && st.st_size == 5, "ftruncate");
	CHECK(fsync(fd) == 0 && fdatasync(fd) == 0, "fsync and fdatasync");

	/* Offsets past 2 GiB and 4 GiB: seek, write, size. */
	off_t far = (off_t)3 << 30;
	CHECK(lseek(fd, far, SEEK_SET) == far, "lseek to 3 GiB");
	CHECK(write(fd, "!", 1) == 1, "write at 3 GiB");
	CHECK(fstat(fd, &st) == 0 && st.st_size == far + 1, "the size is 3 GiB + 1");
	CHECK(pread(fd, b, 1, far) == 1 && b[0] == '!', "pread at 3 GiB");
	CHECK(lseek(fd, (off_t)5 << 30, SEEK_SET) == (off_t)5 << 30, "lseek to 5 GiB");
	CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)5 << 30, "the position stays at 5 GiB");
	CHECK(ftruncate(fd, 0) == 0, "ftruncate back to 0");
	CHECK_ERR(lseek(fd, -1, SEEK_SET), EINVAL, "lseek to -1 is EINVAL");
	CHECK(close(fd) == 0, "close");

	CHECK(access(path, F_OK) == 0 && access(path, R_OK | W_OK) == 0, "access F_OK and R_OK|W_OK");
	CHECK(faccessat(AT_FDCWD, path, F_OK, 0) == 0, "faccessat");
	CHECK(truncate(path, 100) == 0 && stat(path, &st) == 0 && st.st_size == 100, "truncate by path");
}

static void fds(const char *dir)
{
	snprintf(path, sizeof path, "%s/fds", dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	int d = dup(fd);
	CHECK(d > fd, "dup returns a new fd");
	CHECK(write(d, "abc", 3) == 3 && lseek(fd, 0, SEEK_CUR) == 3, "dup shares the position");
	CHECK(dup2(fd, 20) == 20, "dup2 to 20");
	CHECK(dup3(fd, 21, O_CLOEXEC) == 21 && fcntl(21, F_GETFD) == FD_CLOEXEC, "dup3 with O_CLOEXEC");
	CHECK_ERR(dup3(fd, fd, 0), EINVAL, "dup3 to the same fd is EINVAL");
	CHECK(fcntl(fd, F_GETFD) == 0, "F_GETFD is 0");
	CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC, "F_SETFD FD_CLOEXEC");
	CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY, "F_GETFL access mode");
	CHECK(fcntl(fd, F_SETFL, O_APPEND) == 0 && (fcntl(fd, F_GETFL) & O_APPEND), "F_SETFL O_APPEND");
	int hi = fcntl(fd, F_DUPFD, 30);
	CHECK(hi >= 30, "F_DUPFD at or above 30");
	int hic = fcntl(fd, F_DUPFD_CLOEXEC, 40);
	CHECK(hic >= 40 && fcntl(hic, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC");
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
	CHECK(fcntl(fd, F_SETLK, &fl) == 0, "F_SETLK write lock");
	fl.l_type = F_WRLCK;
	CHECK(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK, "F_GETLK: no other owner");
	fl.l_type = F_UNLCK;
	CHECK(fcntl(fd, F_SETLK, &fl) == 0, "F_SETLK unlock");
	CHECK_ERR(fcntl(fd, 9999), EINVAL, "an unknown fcntl command is EINVAL");
	close(d), close(20), close(21), close(hi), close(hic), close(fd);
	CHECK_ERR(close(20), EBADF, "close of a closed fd is EBADF");
	int fl2 = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fl2 >= 0 && fcntl(fl2, F_GETFD) == FD_CLOEXEC, "open O_CLOEXEC sets FD_CLOEXEC");
	close(fl2);
}

static void names(const char *dir)
{
	snprintf(path, sizeof path, "%s/a", dir);
	snprintf(path2, sizeof path2, "%s/b", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	CHECK(rename(path, path2) == 0, "rename");
	CHECK_ERR(access(path, F_OK), ENOENT, "the old name is gone");
	CHECK(renameat(AT_FDCWD, path2, AT_FDCWD, path) == 0, "renameat back");
	close(open(path2, O_CREAT | O_WRONLY, 0644));
	CHECK(rename(path, path2) == 0, "rename over an existing file");
	char link[160], target[160] = {0};
	snprintf(link, sizeof link, "%s/sym", dir);
	CHECK(symlink("b", link) == 0, "symlink");
	ssize_t n = readlink(link, target, sizeof target - 1);
	CHECK(n == 1 && !strcmp(target, "b"), "readlink");
	struct stat st;
	CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "lstat sees a symlink");
	CHECK(stat(link, &st) == 0 && S_ISREG(st.st_mode), "stat follows it");
	CHECK(fstatat(AT_FDCWD, link, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode),
	      "fstatat AT_SYMLINK_NOFOLLOW");
	CHECK_ERR(readlink(path2, target, sizeof target), EINVAL, "readlink of a regular file is EINVAL");
	char real[4096];
	CHECK(realpath(link, real) && !strcmp(strrchr(real, '/'), "/b"), "realpath resolves the link");
	CHECK(unlink(link) == 0 && unlink(path2) == 0, "unlink");
	CHECK_ERR(unlink(path2), ENOENT, "unlink again is ENOENT");

	char tmpl[160];
	snprintf(tmpl, sizeof tmpl, "%s/tmpXXXXXX", dir);
	int fd = mkstemp(tmpl);
	CHECK(fd >= 0 && strncmp(tmpl + strlen(dir), "/tmpXXXXXX", 10) != 0, "mkstemp");
	CHECK(fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600, "mkstemp mode is 0600");
	close(fd);
}

static void devices(void)
{
	struct stat st;
	const char *nodes[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"};
	for (int i = 0; i < 6; i++) {
		char what[64];
		snprintf(what, sizeof what, "%s is a character device", nodes[i]);
		CHECK(stat(nodes[i], &st) == 0 && S_ISCHR(st.st_mode), what);
	}
	char b[16];
	int fd = open("/dev/null", O_RDWR);
	CHECK(fd >= 0 && write(fd, "gone", 4) == 4 && read(fd, b, sizeof b) == 0, "/dev/null swallows and is empty");
	close(fd);
	fd = open("/dev/zero", O_RDWR);
	memset(b, 7, sizeof b);
	CHECK(fd >= 0 && read(fd, b, sizeof b) == 16 && b[0] == 0 && b[15] == 0, "/dev/zero reads zeros");
	CHECK(write(fd, b, 4) == 4, "/dev/zero accepts writes");
	close(fd);
	fd = open("/dev/full", O_WRONLY);
	CHECK_ERR(write(fd, "x", 1), ENOSPC, "/dev/full write is ENOSPC");
	close(fd);
	fd = open("/dev/urandom", O_RDONLY);
	unsigned char r1[16] = {0}, r2[16] = {0};
	CHECK(fd >= 0 && read(fd, r1, 16) == 16 && read(fd, r2, 16) == 16 && memcmp(r1, r2, 16),
	      "/dev/urandom gives different bytes each read");
	close(fd);
	FILE *f = fopen("/dev/null", "w");
	CHECK(f && fprintf(f, "discarded") == 9 && fclose(f) == 0, "stdio to /dev/null");
}

static void fsinfo(const char *dir)
{
	struct statvfs sv;
	CHECK(statvfs(dir, &sv) == 0, "statvfs");
	CHECK(sv.f_namemax == 255, "f_namemax is 255");
	CHECK(sv.f_bsize > 0 && sv.f_blocks >= sv.f_bfree, "block counts are sane");
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0 && fstatvfs(fd, &sv) == 0 && sv.f_namemax == 255, "fstatvfs");
	close(fd);
}

int group_files(void)
{
	const char *dir = mt_scratch("files");
	io(dir);
	fds(dir);
	names(dir);
	devices();
	fsinfo(dir);
	return 0;
}
