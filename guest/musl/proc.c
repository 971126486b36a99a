/* proc: identity, uname, limits, environment, randomness, TLS, exit handlers. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "mtest.h"

static __thread int tls_counter = 5;
static __thread char tls_buf[32];

static void at_exit_second(void) { printf("atexit: registered second, runs first\n"); }
static void at_exit_first(void) { printf("atexit: registered first, runs last\n"); }

int group_proc(void)
{
	CHECK(getpid() > 0 && getppid() >= 0, "getpid and getppid");
	CHECK(getuid() == geteuid() && getgid() == getegid(), "real and effective ids agree");
	struct utsname u;
	CHECK(uname(&u) == 0, "uname");
	printf("uname sysname = %s\n", u.sysname);
	CHECK(strlen(u.release) > 0 && strlen(u.machine) > 0, "uname release and machine are set");

	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur <= rl.rlim_max, "getrlimit RLIMIT_NOFILE");
	CHECK(getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur > 0, "getrlimit RLIMIT_STACK");
	CHECK(getrlimit(RLIMIT_AS, &rl) == 0, "getrlimit RLIMIT_AS");
	CHECK(getrlimit(RLIMIT_DATA, &rl) == 0, "getrlimit RLIMIT_DATA");
	struct rlimit small = {16, 16};
	CHECK(setrlimit(RLIMIT_NOFILE, &small) == 0, "setrlimit RLIMIT_NOFILE to 16");
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == 16 && rl.rlim_max == 16, "it reads back");
	int fds[32], n = 0, err = 0;
	while (n < 32) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) { err = errno; break; }
		fds[n++] = fd;
	}
	errno = err;
	CHECK(err == EMFILE && fds[n - 1] == 15, "opening stops with EMFILE at fd 16");
	CHECK_ERR(dup2(0, 16), EBADF, "dup2 to an fd at the limit is EBADF");
	for (int i = 0; i < n; i++) close(fds[i]);
	struct rlimit bad = {20, 10};
	CHECK_ERR(setrlimit(RLIMIT_NOFILE, &bad), EINVAL, "soft above hard is EINVAL");

	CHECK(setenv("MTEST_VAR", "value", 1) == 0 && !strcmp(getenv("MTEST_VAR"), "value"), "setenv and getenv");
	CHECK(unsetenv("MTEST_VAR") == 0 && getenv("MTEST_VAR") == NULL, "unsetenv");
	unsigned char r1[16] = {0}, r2[16] = {0};
	CHECK(getrandom(r1, 16, 0) == 16 && getrandom(r2, 16, 0) == 16 && memcmp(r1, r2, 16), "getrandom");
	CHECK(getentropy(r1, 16) == 0, "getentropy");
	CHECK(sysconf(_SC_NPROCESSORS_ONLN) >= 1, "sysconf(_SC_NPROCESSORS_ONLN)");
	CHECK(sysconf(_SC_OPEN_MAX) == 16, "sysconf(_SC_OPEN_MAX) follows RLIMIT_NOFILE");

	tls_counter++;
	strcpy(tls_buf, "thread-local");
	CHECK(tls_counter == 6 && !strcmp(tls_buf, "thread-local"), "__thread variables work");
	atexit(at_exit_first);
	atexit(at_exit_second);
	return 0;
}
