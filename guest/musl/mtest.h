/*
 * mtest: small musl programs for conformance runs under xip and
 * qemu-riscv32. Each group prints one line per check, so the two outputs
 * can be compared line by line; nothing printed depends on time, pids,
 * addresses or the host.
 */
#ifndef MTEST_H
#define MTEST_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Checks failed so far (main exits 1 when any did). */
extern int mt_failures;

/* Print "ok WHAT" or "FAIL WHAT (errno NAME)", and count failures. */
void mt_check(int ok, const char *what);
#define CHECK(cond, what) mt_check((cond) != 0, (what))
/* A call expected to fail with errno E. */
#define CHECK_ERR(call, e, what) \
	do { errno = 0; long r_ = (long)(call); mt_check(r_ == -1 && errno == (e), (what)); } while (0)

/* A scratch directory under /tmp, made by mt_scratch and removed by mt_cleanup. */
const char *mt_scratch(const char *group);
void mt_cleanup(void);

int group_stdio(void);
int group_memory(void);
int group_strings(void);
int group_time(void);
int group_files(void);
int group_dirs(void);
int group_errnos(void);
int group_proc(void);
int group_signals(void);
int group_threads(void);
int group_procs(void);

#endif
