/*
 * bench_noop.c - measures what instrumentation costs when the SDK is disabled
 * (no OTEL_EXPORTER_OTLP_ENDPOINT): ns per tl_span_start + tl_span_end over
 * 100M iterations (argv[1] overrides the count), run as 10 rounds so that the
 * best round (the intrinsic cost, free of interference from other processes)
 * and the median round are both reported; plus the same with one setter per
 * span. Uses only the public API; link against libtracelamp.
 * Exit status 1 if the best round costs 5 ns or more per start+end.
 */
#include "tracelamp.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ROUNDS 10

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ns per iteration of one round; with_setter adds tl_span_set_int. */
static double round_ns(long n, int with_setter)
{
	double t0 = now_ns();
	if (with_setter) {
		for (long i = 0; i < n; i++) {
			struct tl_span_handle *s = tl_span_start("noop", TL_SPAN_KIND_INTERNAL, NULL);
			tl_span_set_int(s, "i", i);
			tl_span_end(s);
		}
	} else {
		for (long i = 0; i < n; i++) {
			struct tl_span_handle *s = tl_span_start("noop", TL_SPAN_KIND_INTERNAL, NULL);
			tl_span_end(s);
		}
	}
	return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000000L;
	double plain[ROUNDS], setter[ROUNDS];

	unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	unsetenv("TRACELAMP_OTEL_ENABLED");
	if (tl_init() || tl_enabled()) {
		fprintf(stderr, "bench_noop: the SDK should be disabled\n");
		return 2;
	}
	if (n < ROUNDS)
		n = ROUNDS;
	for (int r = 0; r < ROUNDS; r++)
		plain[r] = round_ns(n / ROUNDS, 0);
	for (int r = 0; r < ROUNDS; r++)
		setter[r] = round_ns(n / ROUNDS, 1);
	qsort(plain, ROUNDS, sizeof plain[0], cmp);
	qsort(setter, ROUNDS, sizeof setter[0], cmp);
	printf("bench_noop: %ld iterations (tracelamp %s, disabled)\n", n, tl_version());
	printf("  span start+end:              best %.2f ns, median %.2f ns\n", plain[0], plain[ROUNDS / 2]);
	printf("  span start+set_int+end:      best %.2f ns, median %.2f ns\n", setter[0], setter[ROUNDS / 2]);
	return plain[0] < 5.0 ? 0 : 1;
}
