/* time: clocks, sleeping, and calendar conversions (in UTC). */
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include "mtest.h"

static double secs(const struct timespec *t)
{
	return (double)t->tv_sec + t->tv_nsec / 1e9;
}

int group_time(void)
{
	struct timespec a, b, r;
	CHECK(clock_gettime(CLOCK_REALTIME, &r) == 0 && r.tv_sec > 1700000000, "CLOCK_REALTIME is after 2023");
	CHECK(sizeof r.tv_sec == 8, "time_t is 64 bits");
	CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0, "CLOCK_MONOTONIC");
	struct timespec nap = {0, 20 * 1000 * 1000};
	CHECK(nanosleep(&nap, NULL) == 0, "nanosleep 20 ms");
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(secs(&b) - secs(&a) >= 0.019, "monotonic time advanced by at least the sleep");
	struct timespec bad = {0, 1000000000};
	CHECK_ERR(nanosleep(&bad, NULL), EINVAL, "nanosleep with tv_nsec 1e9 is EINVAL");
	CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, NULL) == 0, "clock_nanosleep relative");
	clock_gettime(CLOCK_MONOTONIC, &a);
	a.tv_nsec += 10 * 1000 * 1000;
	if (a.tv_nsec >= 1000000000) a.tv_sec++, a.tv_nsec -= 1000000000;
	CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &a, NULL) == 0, "clock_nanosleep absolute");
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(secs(&b) >= secs(&a), "woke at or after the absolute deadline");
	CHECK(clock_getres(CLOCK_MONOTONIC, &r) == 0 && r.tv_sec == 0 && r.tv_nsec > 0, "clock_getres");
	struct timeval tv;
	CHECK(gettimeofday(&tv, NULL) == 0 && tv.tv_sec > 1700000000, "gettimeofday");
	time_t now = time(NULL);
	CHECK(now > 1700000000, "time()");
	CHECK(clock() >= 0, "clock() is not an error");

	time_t t = 1234567890;
	struct tm tm;
	gmtime_r(&t, &tm);
	char buf[64];
	strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %a %j", &tm);
	printf("gmtime(1234567890) = %s\n", buf);
	setenv("TZ", "UTC0", 1);
	tzset();
	CHECK(mktime(&tm) == t, "mktime inverts gmtime in UTC");
	t = -86400 * 365;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
	printf("gmtime(-1 year) = %s\n", buf);
	t = 4102444800LL; /* 2100-01-01: past 2038 */
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%d %A", &tm);
	printf("gmtime(4102444800) = %s\n", buf);
	return 0;
}
