// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_replay.c - the replay core (usm/replay.h): trace generation and
 * reading, the simulated cache, and the published miss-ratio orderings of
 * the policies (cache = 10% of the footprint):
 *   Zipf 0.8 and 1.0: s3fifo < lru, sieve < lru, lru <= fifo
 *   (S3-FIFO, SOSP'23; SIEVE, NSDI'24);
 *   Zipf with periodic scans: s3fifo < lru.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <usm/policy.h>
#include <usm/replay.h>

static double miss_ratio(const struct usm_evict_ops *ops,
			 const struct usm_trace *t, uint64_t cache)
{
	struct usm_replay_stats st;
	char err[256];

	assert_int_equal(usm_replay(ops, t, cache, &st, err, sizeof(err)), 0);
	assert_int_equal(st.requests, t->n);
	assert_int_equal(st.hits + st.misses, st.requests);
	return (double)st.misses / (double)st.requests;
}

static void gen(struct usm_trace *t, enum usm_trace_kind kind, double alpha,
		uint64_t seed)
{
	struct usm_trace_gen g = {
		.kind = kind, .alpha = alpha, .objects = 20000,
		.requests = 300000, .seed = seed,
	};
	char err[256];

	assert_int_equal(usm_trace_generate(&g, t, err, sizeof(err)), 0);
	assert_int_equal(t->n, g.requests);
	assert_true(t->footprint > 0 && t->footprint <= t->objects);
}

static void check_zipf(double alpha, uint64_t seed)
{
	struct usm_trace t;
	uint64_t cache;
	double fifo, lru, sieve, s3;

	gen(&t, USM_TRACE_ZIPF, alpha, seed);
	cache = t.footprint / 10;
	fifo = miss_ratio(&usm_evict_fifo, &t, cache);
	lru = miss_ratio(&usm_evict_lru, &t, cache);
	sieve = miss_ratio(&usm_evict_sieve, &t, cache);
	s3 = miss_ratio(&usm_evict_s3fifo, &t, cache);
	print_message("zipf %.1f seed %llu cache %llu: fifo %.4f lru %.4f sieve %.4f s3fifo %.4f\n",
		      alpha, (unsigned long long)seed,
		      (unsigned long long)cache, fifo, lru, sieve, s3);
	assert_true(s3 < lru);
	assert_true(sieve < lru);
	assert_true(lru <= fifo);
	usm_trace_free(&t);
}

static void test_order_zipf08(void **state)
{
	(void)state;
	check_zipf(0.8, 1);
	check_zipf(0.8, 2);
}

static void test_order_zipf10(void **state)
{
	(void)state;
	check_zipf(1.0, 1);
	check_zipf(1.0, 2);
}

static void test_order_zipf_scans(void **state)
{
	double alphas[] = { 0.8, 1.0 };
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct usm_trace t;
		uint64_t cache;
		double lru, s3;

		gen(&t, USM_TRACE_MIX, alphas[i], 3);
		/* The scans touch their own objects: the footprint holds
		 * both the Zipf set and the scanned range. */
		assert_true(t.footprint > 20000);
		cache = t.footprint / 10;
		lru = miss_ratio(&usm_evict_lru, &t, cache);
		s3 = miss_ratio(&usm_evict_s3fifo, &t, cache);
		print_message("mix %.1f cache %llu: lru %.4f s3fifo %.4f\n",
			      alphas[i], (unsigned long long)cache, lru, s3);
		assert_true(s3 < lru);
		usm_trace_free(&t);
	}
}

/* A loop bigger than the cache: FIFO and LRU never hit; pinned keeps the
 * first pages for good and hits exactly those on every later pass. */
static void test_loop(void **state)
{
	struct usm_trace_gen g = {
		.kind = USM_TRACE_LOOP, .objects = 1000, .requests = 10000,
	};
	struct usm_replay_stats st;
	struct usm_trace t;
	char err[256];

	(void)state;
	assert_int_equal(usm_trace_generate(&g, &t, err, sizeof(err)), 0);
	assert_int_equal(t.footprint, 1000);
	assert_int_equal(t.req[999], 999);
	assert_int_equal(t.req[1000], 0);
	assert_int_equal(usm_replay(&usm_evict_lru, &t, 100, &st, err,
				    sizeof(err)), 0);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.evictions, 10000 - 100);
	assert_int_equal(usm_replay(&usm_evict_fifo, &t, 100, &st, err,
				    sizeof(err)), 0);
	assert_int_equal(st.hits, 0);
	assert_int_equal(usm_replay(&usm_evict_pinned, &t, 100, &st, err,
				    sizeof(err)), 0);
	assert_int_equal(st.hits, 9 * 100);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.bypassed, st.misses - 100);
	/* A cache as big as the loop misses only the first pass. */
	assert_int_equal(usm_replay(&usm_evict_s3fifo, &t, 1000, &st, err,
				    sizeof(err)), 0);
	assert_int_equal(st.misses, 1000);
	usm_trace_free(&t);
}

static void test_deterministic(void **state)
{
	enum usm_trace_kind kinds[] = {
		USM_TRACE_ZIPF, USM_TRACE_SCAN, USM_TRACE_LOOP, USM_TRACE_MIX,
	};
	size_t k;

	(void)state;
	for (k = 0; k < 4; k++) {
		struct usm_trace a, b, c;
		struct usm_replay_stats sa, sb;
		char err[256];

		gen(&a, kinds[k], 0.9, 42);
		gen(&b, kinds[k], 0.9, 42);
		gen(&c, kinds[k], 0.9, 43);
		assert_int_equal(a.n, b.n);
		assert_memory_equal(a.req, b.req, a.n * sizeof(*a.req));
		if (kinds[k] != USM_TRACE_LOOP)
			assert_memory_not_equal(a.req, c.req,
						a.n * sizeof(*a.req));
		assert_int_equal(usm_replay(&usm_evict_s3fifo, &a, 500, &sa,
					    err, sizeof(err)), 0);
		assert_int_equal(usm_replay(&usm_evict_s3fifo, &b, 500, &sb,
					    err, sizeof(err)), 0);
		assert_memory_equal(&sa, &sb, sizeof(sa));
		usm_trace_free(&a);
		usm_trace_free(&b);
		usm_trace_free(&c);
	}
}

static void test_generate_errors(void **state)
{
	struct usm_trace_gen g = {
		.kind = USM_TRACE_ZIPF, .alpha = 1, .objects = 10,
		.requests = 10,
	};
	struct usm_replay_stats st;
	struct usm_trace t;
	char err[256];

	(void)state;
	g.objects = 0;
	assert_int_equal(usm_trace_generate(&g, &t, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "objects"));
	g.objects = 10;
	g.requests = 0;
	assert_int_equal(usm_trace_generate(&g, &t, err, sizeof(err)),
			 -EINVAL);
	g.requests = 10;
	g.alpha = 11;
	assert_int_equal(usm_trace_generate(&g, &t, err, sizeof(err)),
			 -EINVAL);
	g.alpha = -0.5;
	assert_int_equal(usm_trace_generate(&g, &t, err, sizeof(err)),
			 -EINVAL);
	g.alpha = 0;		/* uniform is fine */
	assert_int_equal(usm_trace_generate(&g, &t, err, sizeof(err)), 0);
	usm_trace_free(&t);
	g.kind = USM_TRACE_SCAN;
	g.run = 11;
	assert_int_equal(usm_trace_generate(&g, &t, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(usm_replay(&usm_evict_lru, &t, 0, &st, err,
				    sizeof(err)), -EINVAL);
}

static int read_mem(const char *text, size_t len, struct usm_trace *t,
		    char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int ret;

	assert_non_null(f);
	ret = usm_trace_read(f, "t.txt", t, err, errlen);
	fclose(f);
	return ret;
}

static int read_str(const char *text, struct usm_trace *t, char *err,
		    size_t errlen)
{
	return read_mem(text, strlen(text), t, err, errlen);
}

static void test_read(void **state)
{
	static const char text[] =
		"# a trace\n"
		"heap 1\n"
		"\n"
		"  heap 2  \n"
		"heap 1 # again\n"
		"db 1\n"
		"heap\t3\n"
		"db 1\n";
	struct usm_replay_stats st;
	struct usm_trace t;
	char err[256];

	(void)state;
	assert_int_equal(read_str(text, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 6);
	assert_int_equal(t.footprint, 4);	/* heap 1,2,3 and db 1 */
	assert_int_equal(t.objects, 4);
	assert_int_equal(t.req[0], t.req[2]);
	assert_int_not_equal(t.req[0], t.req[3]);	/* db 1 != heap 1 */
	assert_int_equal(t.req[3], t.req[5]);

	/* Hand-checked with 2 pages: heap1 heap2 heap1 db1 heap3 db1.
	 * LRU: M M H M(-heap2) M(-heap1) H = 2 hits;
	 * FIFO: M M H M(-heap1) M(-heap2) H = 2 hits. */
	assert_int_equal(usm_replay(&usm_evict_lru, &t, 2, &st, err,
				    sizeof(err)), 0);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.evictions, 2);
	usm_trace_free(&t);

	assert_int_equal(read_str("a 1\nb 2\na 1\nc 3\nb 2\n", &t, err,
				  sizeof(err)), 0);
	/* LRU, 2 pages: M M H M(-b) M(-a) -> 1 hit; FIFO: M M H M(-a) H. */
	assert_int_equal(usm_replay(&usm_evict_lru, &t, 2, &st, err,
				    sizeof(err)), 0);
	assert_int_equal(st.hits, 1);
	assert_int_equal(usm_replay(&usm_evict_fifo, &t, 2, &st, err,
				    sizeof(err)), 0);
	assert_int_equal(st.hits, 2);
	usm_trace_free(&t);
}

static void test_read_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "a 1\nb x\n", "t.txt:2: PAGE is not a decimal number" },
		{ "a 1\n\nlonely\n", "t.txt:3: want \"FILE PAGE\"" },
		{ "lonely # page\n", "t.txt:1: want \"FILE PAGE\"" },
		{ "a 1 2\n", "t.txt:1: extra text after PAGE" },
		{ "a -1\n", "t.txt:1: PAGE is not a decimal number" },
		{ "a 99999999999999999999\n", "t.txt:1: page number too large" },
		{ "# nothing\n\n", "t.txt: no requests" },
		{ "", "t.txt: no requests" },
	};
	struct usm_trace t;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(read_str(bad[i].text, &t, err, sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].msg))
			fprintf(stderr, "case %zu: '%s'\n", i, err);
		assert_non_null(strstr(err, bad[i].msg));
		assert_null(t.req);
	}
	assert_int_equal(read_mem("a 1\nb 2\0\n", 8, &t, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "t.txt:2: NUL byte"));
}

/* A policy that gives a page it was never given. */
static struct usm_page stranger;
static int dummy_state;
static void *b_create(struct usm_file *f) { (void)f; return &dummy_state; }
static void b_destroy(void *s) { (void)s; }
static void b_page(void *s, struct usm_page *pg) { (void)s; (void)pg; }
static size_t b_victims(void *s, struct usm_page **out, size_t n)
{
	(void)s; (void)n;
	out[0] = &stranger;
	return 1;
}

static void test_replay_checks_policy(void **state)
{
	static const struct usm_evict_ops broken = {
		.name = "broken", .create = b_create, .destroy = b_destroy,
		.on_insert = b_page, .on_access = b_page, .on_remove = b_page,
		.victims = b_victims,
	};
	struct usm_replay_stats st;
	struct usm_trace t;
	char err[256];

	(void)state;
	gen(&t, USM_TRACE_ZIPF, 1.0, 1);
	assert_int_equal(usm_replay(&broken, &t, 10, &st, err, sizeof(err)),
			 -EPROTO);
	assert_non_null(strstr(err, "broken"));
	usm_trace_free(&t);
}

static void test_rng(void **state)
{
	struct usm_rng r;
	unsigned int hist[10] = { 0 };
	size_t i;

	(void)state;
	usm_rng_seed(&r, 0);
	for (i = 0; i < 100000; i++) {
		double d = usm_rng_double(&r);
		uint64_t b = usm_rng_below(&r, 10);

		assert_true(d >= 0 && d < 1);
		assert_true(b < 10);
		hist[b]++;
	}
	for (i = 0; i < 10; i++)	/* 10000 expected; 5 sigma ~ 475 */
		assert_true(hist[i] > 9500 && hist[i] < 10500);
	assert_int_equal(usm_rng_below(&r, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_zipf08),
		cmocka_unit_test(test_order_zipf10),
		cmocka_unit_test(test_order_zipf_scans),
		cmocka_unit_test(test_loop),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_generate_errors),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_replay_checks_policy),
		cmocka_unit_test(test_rng),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
