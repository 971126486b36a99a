/* procs: musl's process functions: fork, vfork, waitpid and waitid,
 * pipes with dup2 and fcntl(F_DUPFD), execve's argv, envp and
 * close-on-exec, posix_spawn, popen and system, SIGPIPE and EPIPE, kill.
 * What is exec'd is /bin/sh running builtins only, so the same lines come
 * out under qemu-riscv32 (whose exec runs the host's /bin/sh) and under
 * xip (the guest's /bin/sh). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "mtest.h"

extern char **environ;

static int status_of(pid_t pid)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	return st;
}

/* Read what `fd` gives until EOF (at most n - 1 bytes), NUL-terminated. */
static char *slurp(int fd, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;
	while (got + 1 < n && (r = read(fd, buf + got, n - 1 - got)) > 0) got += (size_t)r;
	buf[got] = 0;
	return buf;
}

static void check_fork_wait(void)
{
	static int shared = 1;
	fflush(stdout);
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		shared = 2;
		_exit(getppid() == parent ? 3 : 4);
	}
	int st = status_of(c);
	CHECK(c > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 3, "fork: the child's getppid is the parent; waitpid sees exit 3");
	CHECK(shared == 1, "fork: the child's write stays in the child");

	/* Only the status: qemu-user makes vfork a fork, so the shared memory
	 * (a write the parent would see) is checked by proctest vfork on xip. */
	c = vfork();
	if (c == 0) _exit(6);
	st = status_of(c);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 6, "vfork: the parent resumes with the child's status");

	int p[2];
	pipe(p);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		char b;
		read(p[0], &b, 1);
		_exit(b);
	}
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int r = waitid(P_PID, c, &si, WEXITED | WNOHANG);
	CHECK(r == 0 && si.si_pid == 0, "waitid WNOHANG: 0 and no child while it runs");
	write(p[1], "\x09", 1);
	memset(&si, 0, sizeof si);
	r = waitid(P_PID, c, &si, WEXITED);
	CHECK(r == 0 && si.si_pid == c && si.si_code == CLD_EXITED && si.si_status == 9, "waitid: CLD_EXITED with status 9");
	CHECK(waitpid(-1, 0, WNOHANG) < 0 && errno == ECHILD, "no children left: ECHILD");

	fflush(stdout);
	c = fork();
	if (c == 0) {
		char b;
		read(p[0], &b, 1); /* blocks: nobody writes again */
		_exit(0);
	}
	kill(c, SIGTERM);
	st = status_of(c);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "kill: a child blocked in read dies of SIGTERM");
	close(p[0]);
	close(p[1]);
}

static void check_pipes_fds(void)
{
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0 && (fcntl(p[0], F_GETFD) & FD_CLOEXEC), "pipe2 O_CLOEXEC");
	int d = fcntl(p[1], F_DUPFD, 20);
	CHECK(d >= 20 && !(fcntl(d, F_GETFD) & FD_CLOEXEC), "fcntl F_DUPFD: at least 20, close-on-exec clear");
	int e = fcntl(p[1], F_DUPFD_CLOEXEC, 30);
	CHECK(e >= 30 && (fcntl(e, F_GETFD) & FD_CLOEXEC), "fcntl F_DUPFD_CLOEXEC");
	CHECK(dup2(d, d) == d, "dup2 of an fd onto itself returns it");
	write(e, "xy", 2);
	close(d);
	close(e);
	close(p[1]);
	char buf[8];
	CHECK(!strcmp(slurp(p[0], buf, sizeof buf), "xy"), "writes through duplicates reach the pipe; EOF after the last");
	close(p[0]);

	pipe(p);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	CHECK(write(p[1], "x", 1) < 0 && errno == EPIPE, "no reader, SIGPIPE ignored: EPIPE");
	signal(SIGPIPE, SIG_DFL);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		write(p[1], "x", 1);
		_exit(0);
	}
	int st = status_of(c);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, "no reader: the writer dies of SIGPIPE");
	close(p[1]);
}

static void check_exec(void)
{
	int p[2];
	pipe(p);
	int keep = dup(p[1]);
	int gone = fcntl(p[1], F_DUPFD_CLOEXEC, 0);
	char cmd[96];
	snprintf(cmd, sizeof cmd, "echo $0 $1 $XVAR >&%d; echo never >&%d", keep, gone);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		close(p[1]);
		char *argv[] = {"sh", "-c", cmd, "zero", "one", 0};
		char *envp[] = {"XVAR=from-envp", 0};
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	close(p[1]);
	close(keep);
	close(gone);
	int st = status_of(c);
	char buf[64];
	CHECK(!strcmp(slurp(p[0], buf, sizeof buf), "zero one from-envp\n"),
	      "execve: argv and envp reach the program, the kept fd is open");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0, "execve: the close-on-exec fd is closed in the program");
	close(p[0]);

	errno = 0;
	char *argv[] = {"nothing", 0};
	CHECK(execve("/no/such/program", argv, environ) < 0 && errno == ENOENT, "a failed execve returns ENOENT to the caller");

	pid_t pid;
	char *sargv[] = {"sh", "-c", "exit 5", 0};
	CHECK(posix_spawn(&pid, "/bin/sh", 0, 0, sargv, environ) == 0, "posix_spawn");
	st = status_of(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5, "posix_spawn: the child's status");
	char *nargv[] = {"x", 0};
	CHECK(posix_spawn(&pid, "/no/such/program", 0, 0, nargv, environ) == ENOENT,
	      "posix_spawn of a missing program: ENOENT");

	posix_spawn_file_actions_t fa;
	pipe(p);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	char *eargv[] = {"sh", "-c", "echo spawned", 0};
	int ok = posix_spawn(&pid, "/bin/sh", &fa, 0, eargv, environ) == 0;
	close(p[1]);
	CHECK(ok && !strcmp(slurp(p[0], buf, sizeof buf), "spawned\n"), "posix_spawn file actions: dup2 onto stdout");
	status_of(pid);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);

	FILE *f = popen("echo one; echo two", "r");
	char line[32] = {0}, line2[32] = {0};
	CHECK(f && fgets(line, sizeof line, f) && fgets(line2, sizeof line2, f), "popen reads the command's output");
	CHECK(!strcmp(line, "one\n") && !strcmp(line2, "two\n"), "popen: the lines in order");
	CHECK(f && pclose(f) == 0, "pclose: exit status 0");
	st = system("exit 3");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3, "system: exit status 3");
}

int group_procs(void)
{
	check_fork_wait();
	check_pipes_fds();
	check_exec();
	return 0;
}
