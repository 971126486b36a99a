/* threads: musl's pthreads over clone (CLONE_VM|FS|FILES|SIGHAND|THREAD|
 * SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID) and the futex operations
 * its locks use: create and join, thread-local storage, mutexes (normal,
 * priority-inheritance, robust), condition variables, barriers,
 * semaphores, detached threads, key destructors, cancellation (musl's
 * SIGCANCEL), per-thread signal masks and pthread_kill, and the group
 * rules seen from a parent: _exit, a thread's exit() or a thread's fault
 * ends the whole process. (/proc/self/task is not checked here: under
 * qemu-user it lists qemu's own host threads too.) */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "mtest.h"

#define NT 4
#define ROUNDS 5000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pi_mu;
static long counter, pi_counter;
static __thread int tls_id = -1;
static pid_t tids[NT];
static pid_t main_pid;

static void *adder(void *arg)
{
	int id = (int)(long)arg;
	tls_id = id;
	tids[id] = gettid();
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		pthread_mutex_unlock(&mu);
		pthread_mutex_lock(&pi_mu);
		pi_counter++;
		pthread_mutex_unlock(&pi_mu);
	}
	return (void *)(long)(tls_id * 100 + (getpid() == main_pid));
}

static void check_create_join(void)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	CHECK(pthread_mutex_init(&pi_mu, &a) == 0, "a priority-inheritance mutex");
	pthread_t t[NT];
	int made = 0;
	for (long i = 0; i < NT; i++) made += pthread_create(&t[i], 0, adder, (void *)i) == 0;
	CHECK(made == NT, "pthread_create starts 4 threads");
	long sum = 0;
	for (int i = 0; i < NT; i++) {
		void *r = 0;
		pthread_join(t[i], &r);
		sum += (long)r;
	}
	CHECK(sum == 604, "join returns each thread's value; every thread saw the process's pid");
	CHECK(counter == NT * ROUNDS, "a normal mutex holds across 4 threads");
	CHECK(pi_counter == NT * ROUNDS, "a PI mutex (FUTEX_LOCK_PI/UNLOCK_PI) holds across 4 threads");
	int distinct = 1;
	for (int i = 0; i < NT; i++)
		for (int j = 0; j < NT; j++)
			if (tids[i] == main_pid || (i != j && tids[i] == tids[j])) distinct = 0;
	CHECK(distinct, "gettid differs per thread and from the pid");
	CHECK(tls_id == -1, "the main thread's __thread variable is its own");
	pthread_mutex_destroy(&pi_mu);
}

static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go, woken;

static void *cond_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!go) pthread_cond_wait(&cv, &mu);
	woken++;
	pthread_mutex_unlock(&mu);
	return 0;
}

static pthread_barrier_t bar;
static int serial;

static void *barrier_waiter(void *arg)
{
	(void)arg;
	if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD) __atomic_add_fetch(&serial, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static sem_t items, done_sem;
static int consumed;

static void *consumer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		sem_wait(&items);
		consumed++;
	}
	return 0;
}

static void *detached(void *arg)
{
	(void)arg;
	sem_post(&done_sem);
	return 0;
}

static void check_sync(void)
{
	pthread_t t[3];
	for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, cond_waiter, 0);
	usleep(20000);
	pthread_mutex_lock(&mu);
	go = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
	CHECK(woken == 3, "pthread_cond_broadcast wakes every waiter");

	pthread_barrier_init(&bar, 0, NT);
	pthread_t b[NT];
	for (int i = 0; i < NT; i++) pthread_create(&b[i], 0, barrier_waiter, 0);
	for (int i = 0; i < NT; i++) pthread_join(b[i], 0);
	CHECK(serial == 1, "a barrier of 4 lets all through, one as the serial thread");
	pthread_barrier_destroy(&bar);

	sem_init(&items, 0, 0);
	pthread_t c;
	pthread_create(&c, 0, consumer, 0);
	for (int i = 0; i < 100; i++) sem_post(&items);
	pthread_join(c, 0);
	CHECK(consumed == 100, "a semaphore hands 100 items to a consumer thread");

	sem_init(&done_sem, 0, 0);
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_t d;
	CHECK(pthread_create(&d, &at, detached, 0) == 0 && sem_wait(&done_sem) == 0, "a detached thread runs");
	pthread_attr_destroy(&at);
}

static pthread_key_t key;
static int destructed;

static void destructor(void *v)
{
	if (v == (void *)&key) destructed++;
}

static void *key_user(void *arg)
{
	(void)arg;
	pthread_setspecific(key, &key);
	pthread_exit((void *)42);
}

static int cleaned;
static void cleanup(void *arg)
{
	(void)arg;
	cleaned = 1;
}

static void *cancel_me(void *arg)
{
	int fd = *(int *)arg;
	char c;
	pthread_cleanup_push(cleanup, 0);
	read(fd, &c, 1); /* blocks: nobody writes */
	pthread_cleanup_pop(0);
	return 0;
}

static void check_exit_cancel(void)
{
	pthread_key_create(&key, destructor);
	pthread_t t;
	void *r = 0;
	pthread_create(&t, 0, key_user, 0);
	pthread_join(t, &r);
	CHECK(r == (void *)42 && destructed == 1, "pthread_exit's value is joined; the key's destructor ran");
	pthread_key_delete(key);

	int p[2];
	pipe(p);
	pthread_create(&t, 0, cancel_me, &p[0]);
	usleep(20000);
	CHECK(pthread_cancel(t) == 0, "pthread_cancel");
	pthread_join(t, &r);
	CHECK(r == PTHREAD_CANCELED && cleaned, "a thread blocked in read is cancelled and its cleanup runs");
	close(p[0]);
	close(p[1]);
}

static volatile sig_atomic_t usr1_tid;
static void on_usr1(int sig)
{
	(void)sig;
	usr1_tid = gettid();
}

static sem_t ready_sem, go_sem;
static pid_t masked_tid;
static int masked_pending, masked_took;

static void *masked(void *arg)
{
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &s, 0);
	masked_tid = gettid();
	sem_post(&ready_sem);
	sem_wait(&go_sem);
	sigset_t pend;
	sigpending(&pend);
	masked_pending = sigismember(&pend, SIGUSR1);
	int sig = 0;
	masked_took = sigwait(&s, &sig) == 0 && sig == SIGUSR1;
	return 0;
}

static void *target(void *arg)
{
	(void)arg;
	sem_post(&ready_sem);
	while (!usr1_tid) sem_wait(&go_sem);
	return (void *)(long)gettid();
}

static void check_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, 0);
	sem_init(&ready_sem, 0, 0);
	sem_init(&go_sem, 0, 0);

	pthread_t t;
	pthread_create(&t, 0, masked, 0);
	sem_wait(&ready_sem);
	pthread_kill(t, SIGUSR1);
	sem_post(&go_sem);
	pthread_join(t, 0);
	CHECK(masked_pending && masked_took && usr1_tid == 0,
	      "a signal a thread blocks stays pending for that thread until its sigwait");

	pthread_create(&t, 0, target, 0);
	sem_wait(&ready_sem);
	pthread_kill(t, SIGUSR1);
	sem_post(&go_sem);
	void *r = 0;
	pthread_join(t, &r);
	CHECK(usr1_tid != 0 && usr1_tid == (long)r, "pthread_kill runs the handler on the target thread");
	signal(SIGUSR1, SIG_DFL);
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;) pause();
	return 0;
}

static void *exiter(void *arg)
{
	(void)arg;
	usleep(20000);
	exit(5);
}

static void *faulter(void *arg)
{
	(void)arg;
	usleep(20000);
	*(volatile int *)0 = 1;
	return 0;
}

/* Fork a child that starts two sleeping threads and `last`, then waits. */
static int group_child(void *(*last)(void *))
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		pthread_t t;
		pthread_create(&t, 0, sleeper, 0);
		pthread_create(&t, 0, sleeper, 0);
		if (last) pthread_create(&t, 0, last, 0);
		else _exit(7);
		for (;;) pause();
	}
	int st = 0;
	waitpid(c, &st, 0);
	return st;
}

static void check_group(void)
{
	int st = group_child(0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "_exit(7) ends the process and its two sleeping threads");
	st = group_child(exiter);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5, "a thread's exit(5) ends the whole process with 5");
	st = group_child(faulter);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "a thread's fault kills the whole process");
}

int group_threads(void)
{
	main_pid = getpid();
	check_create_join();
	check_sync();
	check_exit_cancel();
	check_signals();
	check_group();
	return 0;
}
