/*
 * tl_test.h - a tiny table-driven unit test harness. Each tests/unit/test_*.c
 * defines its tests with TEST(name) and lists them in a TESTS table; main() runs
 * them and prints "<file>: N passed, N failed". Header-only.
 */
#ifndef TL_TEST_H
#define TL_TEST_H

#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static int tl_test_failed_now;
static int tl_test_checks;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                     \
	do {                                                                            \
		tl_test_checks++;                                                       \
		if (!(cond)) {                                                          \
			fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			tl_test_failed_now = 1;                                         \
		}                                                                       \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                              \
	do {                                                                            \
		long long va_ = (long long)(a), vb_ = (long long)(b);                   \
		tl_test_checks++;                                                       \
		if (va_ != vb_) {                                                       \
			fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, va_, vb_); \
			tl_test_failed_now = 1;                                         \
		}                                                                       \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                              \
	do {                                                                            \
		const char *sa_ = (a), *sb_ = (b);                                      \
		tl_test_checks++;                                                       \
		if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                            \
			fprintf(stderr, "  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
			tl_test_failed_now = 1;                                         \
		}                                                                       \
	} while (0)

/* Compares a struct tl_str with a C string. */
#define CHECK_STR(s, c)                                                                 \
	do {                                                                            \
		struct tl_str ss_ = (s);                                                \
		const char *cc_ = (c);                                                  \
		tl_test_checks++;                                                       \
		if (ss_.n != strlen(cc_) || (ss_.n && memcmp(ss_.p, cc_, ss_.n))) {     \
			fprintf(stderr, "  %s:%d: %s == \"%s\" failed: got \"%.*s\"\n", __FILE__, __LINE__, #s, cc_, (int)ss_.n, ss_.p ? ss_.p : ""); \
			tl_test_failed_now = 1;                                         \
		}                                                                       \
	} while (0)

struct tl_test_case {
	const char *name;
	void (*fn)(void);
};

#define T(fn) {#fn, fn}

static inline int tl_test_run(const char *suite, const struct tl_test_case *cases, size_t n)
{
	int passed = 0, failed = 0;
	const char *only = getenv("TL_TEST_ONLY");
	for (size_t i = 0; i < n; i++) {
		if (only && !strstr(cases[i].name, only))
			continue;
		tl_test_failed_now = 0;
		cases[i].fn();
		if (tl_test_failed_now) {
			fprintf(stderr, "FAIL %s.%s\n", suite, cases[i].name);
			failed++;
		} else {
			passed++;
		}
	}
	printf("%s: %d passed, %d failed\n", suite, passed, failed);
	return failed ? 1 : 0;
}

#define TEST_MAIN(suite, table) \
	int main(void) { return tl_test_run(suite, table, sizeof(table) / sizeof(table[0])); }

#endif
