// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_pool.c - the frame allocator (usm/pool.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <usm/pool.h>

static struct usm_pool *pool_with(const uint64_t *chunks, size_t n)
{
	struct usm_pool *p = usm_pool_new();
	uint64_t expect = 0;

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		usm_frame_t first;

		assert_int_equal(usm_pool_add_chunk(p, chunks[i], &first), 0);
		assert_int_equal(first, expect);
		expect += chunks[i];
	}
	assert_int_equal(usm_pool_nr_frames(p), expect);
	assert_int_equal(usm_pool_check(p), 0);
	return p;
}

static void test_take_put(void **state)
{
	uint64_t c[] = { 100 };
	struct usm_pool *p = pool_with(c, 1);

	(void)state;
	assert_int_equal(usm_pool_nr_free(p), 100);
	assert_int_equal(usm_pool_nr_chunks(p), 1);
	assert_int_equal(usm_pool_is_free(p, 7), 1);
	assert_int_equal(usm_pool_take(p, 7), 0);
	assert_int_equal(usm_pool_is_free(p, 7), 0);
	assert_int_equal(usm_pool_take(p, 7), -EBUSY);
	assert_int_equal(usm_pool_take(p, 100), -ERANGE);
	assert_int_equal(usm_pool_is_free(p, 100), -ERANGE);
	assert_int_equal(usm_pool_put(p, 8), -EINVAL);
	assert_int_equal(usm_pool_put(p, 1000), -ERANGE);
	assert_int_equal(usm_pool_nr_free(p), 99);
	assert_int_equal(usm_pool_check(p), 0);
	assert_int_equal(usm_pool_put(p, 7), 0);
	assert_int_equal(usm_pool_nr_free(p), 100);
	assert_int_equal(usm_pool_check(p), 0);
	assert_int_equal(usm_pool_add_chunk(p, 0, NULL), -EINVAL);
	assert_int_equal(usm_pool_add_chunk(p, UINT64_MAX, NULL), -EINVAL);
	usm_pool_free(p);
}

static void test_alloc_from_wrap(void **state)
{
	uint64_t c[] = { 100 };
	struct usm_pool *p = pool_with(c, 1);
	usm_frame_t f;

	(void)state;
	for (usm_frame_t i = 0; i < 100; i++)
		if (i != 5 && i != 90)
			assert_int_equal(usm_pool_take(p, i), 0);
	assert_int_equal(usm_pool_alloc_from(p, 50, &f), 0);
	assert_int_equal(f, 90);
	assert_int_equal(usm_pool_alloc_from(p, 91, &f), 0);
	assert_int_equal(f, 5);	/* wrapped */
	assert_int_equal(usm_pool_alloc_from(p, 0, &f), -ENOSPC);
	assert_int_equal(usm_pool_put(p, 99), 0);
	assert_int_equal(usm_pool_alloc_from(p, 1000, &f), 0);	/* out of range: from 0 */
	assert_int_equal(f, 99);
	assert_int_equal(usm_pool_nr_free(p), 0);
	assert_int_equal(usm_pool_check(p), 0);
	usm_pool_free(p);
}

static void test_alloc_run_align(void **state)
{
	uint64_t c[] = { 4096 };
	struct usm_pool *p = pool_with(c, 1);
	usm_frame_t f;

	(void)state;
	assert_int_equal(usm_pool_alloc_run(p, 0, 1, &f), -EINVAL);
	assert_int_equal(usm_pool_alloc_run(p, 4, 3, &f), -EINVAL);
	assert_int_equal(usm_pool_alloc_run(p, 4, 0, &f), -EINVAL);
	assert_int_equal(usm_pool_take(p, 3), 0);
	assert_int_equal(usm_pool_alloc_run(p, 512, 512, &f), 0);
	assert_int_equal(f, 512);
	assert_int_equal(usm_pool_alloc_run(p, 8, 8, &f), 0);
	assert_int_equal(f, 8);
	assert_int_equal(usm_pool_alloc_run(p, 64, 64, &f), 0);
	assert_int_equal(f, 64);
	assert_int_equal(usm_pool_alloc_run(p, 1, 1, &f), 0);
	assert_int_equal(f, 0);
	/* A non-power-of-two run: aligned, all taken, inside the pool. */
	assert_int_equal(usm_pool_alloc_run(p, 3, 1, &f), 0);
	for (uint64_t i = 0; i < 3; i++)
		assert_int_equal(usm_pool_is_free(p, f + i), 0);
	assert_int_equal(usm_pool_alloc_run(p, 600, 512, &f), 0);
	assert_int_equal(f % 512, 0);
	for (uint64_t i = 0; i < 600; i++)
		assert_int_equal(usm_pool_is_free(p, f + i), 0);
	assert_int_equal(usm_pool_alloc_run(p, 4096, 1, &f), -ENOSPC);
	assert_int_equal(usm_pool_check(p), 0);
	usm_pool_free(p);
}

static void test_alloc_run_chunks(void **state)
{
	uint64_t c[] = { 1000, 1000, 2048 };
	struct usm_pool *p = pool_with(c, 3);
	usm_frame_t f, first;
	uint64_t nr;

	(void)state;
	assert_int_equal(usm_pool_nr_chunks(p), 3);
	assert_int_equal(usm_pool_chunk_of(p, 999, &first, &nr), 0);
	assert_int_equal(first, 0);
	assert_int_equal(nr, 1000);
	assert_int_equal(usm_pool_chunk_of(p, 1000, &first, &nr), 0);
	assert_int_equal(first, 1000);
	assert_int_equal(usm_pool_chunk_of(p, 4047, &first, &nr), 0);
	assert_int_equal(first, 2000);
	assert_int_equal(nr, 2048);
	assert_int_equal(usm_pool_chunk_of(p, 4048, &first, &nr), -ERANGE);

	/* 512-runs: 0, then 512..1023 straddles chunk 0/1, 1024, then
	 * 1536..2047 straddles 1/2, then 2048, 2560, 3072 (3584.. is past
	 * the end of the pool at 4048). */
	usm_frame_t want[] = { 0, 1024, 2048, 2560, 3072 };
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(usm_pool_alloc_run(p, 512, 512, &f), 0);
		assert_int_equal(f, want[i]);
		assert_int_equal(usm_pool_chunk_of(p, f + 511, &first, &nr), 0);
		assert_true(f >= first && f + 512 <= first + nr);
	}
	assert_int_equal(usm_pool_alloc_run(p, 512, 512, &f), -ENOSPC);
	assert_int_equal(usm_pool_alloc_run(p, 512, 1, &f), -ENOSPC);
	/* Shorter runs in what is left: 512..999 of chunk 0, 1000..1023
	 * and 1536..1999 of chunk 1, 3584..4047 of chunk 2. */
	assert_int_equal(usm_pool_alloc_run(p, 489, 1, &f), -ENOSPC);
	assert_int_equal(usm_pool_alloc_run(p, 400, 64, &f), 0);
	assert_int_equal(f, 512);
	assert_int_equal(usm_pool_alloc_run(p, 464, 8, &f), 0);
	assert_int_equal(f, 1536);
	assert_int_equal(usm_pool_alloc_run(p, 464, 8, &f), 0);
	assert_int_equal(f, 3584);
	assert_int_equal(usm_pool_alloc_run(p, 89, 1, &f), -ENOSPC);
	assert_int_equal(usm_pool_alloc_run(p, 88, 8, &f), 0);
	assert_int_equal(f, 912);
	/* 2000..2047 of chunk 2 is free too: a 24-run is taken from the
	 * first fully free 32-block (2016), not the lower 1000 (documented:
	 * non-power-of-two runs are placed by the rounded-up order). */
	assert_int_equal(usm_pool_alloc_run(p, 24, 8, &f), 0);
	assert_int_equal(f, 2016);
	assert_int_equal(usm_pool_alloc_run(p, 24, 8, &f), 0);
	assert_int_equal(f, 1000);
	assert_int_equal(usm_pool_alloc_run(p, 16, 16, &f), 0);
	assert_int_equal(f, 2000);
	assert_int_equal(usm_pool_alloc_run(p, 8, 8, &f), 0);
	assert_int_equal(f, 2040);
	assert_int_equal(usm_pool_nr_free(p), 0);
	assert_int_equal(usm_pool_check(p), 0);
	usm_pool_free(p);
}

static void test_exhaustion_and_grow(void **state)
{
	uint64_t c[] = { 130 };
	struct usm_pool *p = pool_with(c, 1);
	usm_frame_t f, first;

	(void)state;
	for (uint64_t i = 0; i < 130; i++) {
		assert_int_equal(usm_pool_alloc_from(p, 0, &f), 0);
		assert_int_equal(f, i);
	}
	assert_int_equal(usm_pool_alloc_from(p, 0, &f), -ENOSPC);
	assert_int_equal(usm_pool_alloc_run(p, 1, 1, &f), -ENOSPC);
	assert_int_equal(usm_pool_put(p, 64), 0);
	/* Growing keeps the state of the old frames. */
	assert_int_equal(usm_pool_add_chunk(p, 70, &first), 0);
	assert_int_equal(first, 130);
	assert_int_equal(usm_pool_nr_free(p), 71);
	assert_int_equal(usm_pool_is_free(p, 63), 0);
	assert_int_equal(usm_pool_is_free(p, 64), 1);
	assert_int_equal(usm_pool_check(p), 0);
	/* No fully free aligned 64-block (192.. is past the end)... */
	assert_int_equal(usm_pool_alloc_run(p, 64, 64, &f), -ENOSPC);
	/* ...but an unaligned run of 64 at the start of the new chunk. */
	assert_int_equal(usm_pool_alloc_run(p, 64, 1, &f), 0);
	assert_int_equal(f, 130);
	assert_int_equal(usm_pool_alloc_run(p, 8, 2, &f), -ENOSPC);
	assert_int_equal(usm_pool_alloc_run(p, 6, 2, &f), 0);
	assert_int_equal(f, 194);
	assert_int_equal(usm_pool_alloc_from(p, 0, &f), 0);
	assert_int_equal(f, 64);
	assert_int_equal(usm_pool_check(p), 0);
	usm_pool_free(p);
}

/* Random operations against a reference bitmap. */
static void test_random_vs_reference(void **state)
{
	uint64_t c[] = { 700, 1300, 2048, 37 };
	struct usm_pool *p = pool_with(c, 4);
	uint64_t n = usm_pool_nr_frames(p), nfree = n;
	unsigned char *used = calloc(n, 1);
	unsigned int seed = 12345;

	(void)state;
	assert_non_null(used);
	for (int it = 0; it < 20000; it++) {
		unsigned int op = (unsigned int)rand_r(&seed) % 8;
		usm_frame_t f = (usm_frame_t)rand_r(&seed) % n, g;

		if (op < 2) {
			int r = usm_pool_take(p, f);

			assert_int_equal(r, used[f] ? -EBUSY : 0);
			if (!used[f]) {
				used[f] = 1;
				nfree--;
			}
		} else if (op < 5) {
			int r = usm_pool_put(p, f);

			assert_int_equal(r, used[f] ? 0 : -EINVAL);
			if (used[f]) {
				used[f] = 0;
				nfree++;
			}
		} else if (op < 7) {
			int r = usm_pool_alloc_from(p, f, &g);

			if (nfree == 0) {
				assert_int_equal(r, -ENOSPC);
				continue;
			}
			assert_int_equal(r, 0);
			/* The first free at or after f, wrapping. */
			usm_frame_t e = f;
			while (used[e])
				e = (e + 1) % n;
			assert_int_equal(g, e);
			used[g] = 1;
			nfree--;
		} else {
			uint64_t nr = 1 + (uint64_t)rand_r(&seed) % 70;
			uint64_t al = 1ull << (rand_r(&seed) % 7);
			usm_frame_t first;
			uint64_t cnr;
			int r = usm_pool_alloc_run(p, nr, al, &g);

			if (r == 0) {
				assert_int_equal(g % al, 0);
				assert_int_equal(usm_pool_chunk_of(p, g, &first, &cnr), 0);
				assert_true(g + nr <= first + cnr);
				for (uint64_t i = 0; i < nr; i++) {
					assert_int_equal(used[g + i], 0);
					used[g + i] = 1;
				}
				nfree -= nr;
			} else {
				assert_int_equal(r, -ENOSPC);
			}
		}
		assert_int_equal(usm_pool_nr_free(p), nfree);
		if (it % 997 == 0)
			assert_int_equal(usm_pool_check(p), 0);
	}
	for (uint64_t f = 0; f < n; f++)
		assert_int_equal(usm_pool_is_free(p, f), !used[f]);
	assert_int_equal(usm_pool_check(p), 0);
	free(used);
	usm_pool_free(p);
}

/* A big pool: every frame, one by one, then runs: fast (log N). */
static void test_big_pool(void **state)
{
	uint64_t c[] = { 1u << 20 };	/* 4 GiB of frames */
	struct usm_pool *p = pool_with(c, 1);
	usm_frame_t f;

	(void)state;
	for (uint64_t i = 0; i < (1u << 20); i += 2)
		assert_int_equal(usm_pool_take(p, i), 0);
	/* No 2-run anywhere: the run search must not succeed. */
	assert_int_equal(usm_pool_alloc_run(p, 2, 2, &f), -ENOSPC);
	assert_int_equal(usm_pool_put(p, 1000000), 0);
	assert_int_equal(usm_pool_alloc_run(p, 2, 2, &f), 0);
	assert_int_equal(f, 1000000);
	assert_int_equal(usm_pool_alloc_from(p, 1000000, &f), 0);
	assert_int_equal(f, 1000003);
	assert_int_equal(usm_pool_check(p), 0);
	usm_pool_free(p);
}

/* Many small chunks of odd sizes, added while frames are in use. */
static void test_many_chunks(void **state)
{
	struct usm_pool *p = usm_pool_new();
	unsigned int seed = 99;
	uint64_t total = 0, taken = 0;

	(void)state;
	assert_non_null(p);
	for (int i = 0; i < 1500; i++) {
		uint64_t nr = 1 + (uint64_t)rand_r(&seed) % 100;
		usm_frame_t first, f, cf;
		uint64_t cnr;

		assert_int_equal(usm_pool_add_chunk(p, nr, &first), 0);
		assert_int_equal(first, total);
		total += nr;
		assert_int_equal(usm_pool_chunk_of(p, first, &cf, &cnr), 0);
		assert_int_equal(cf, first);
		assert_int_equal(cnr, nr);
		assert_int_equal(usm_pool_chunk_of(p, first + nr - 1, &cf, &cnr), 0);
		assert_int_equal(cf, first);
		if (i % 3 == 0 && usm_pool_alloc_from(p, first, &f) == 0)
			taken++;
		if (i % 100 == 0)
			assert_int_equal(usm_pool_check(p), 0);
	}
	assert_int_equal(usm_pool_nr_chunks(p), 1500);
	assert_int_equal(usm_pool_nr_frames(p), total);
	assert_int_equal(usm_pool_nr_free(p), total - taken);
	/* Runs never straddle a chunk boundary. */
	for (;;) {
		usm_frame_t f, cf;
		uint64_t cnr;

		if (usm_pool_alloc_run(p, 32, 32, &f) != 0)
			break;
		assert_int_equal(f % 32, 0);
		assert_int_equal(usm_pool_chunk_of(p, f, &cf, &cnr), 0);
		assert_true(f + 32 <= cf + cnr);
	}
	assert_int_equal(usm_pool_check(p), 0);
	usm_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_put),
		cmocka_unit_test(test_alloc_from_wrap),
		cmocka_unit_test(test_alloc_run_align),
		cmocka_unit_test(test_alloc_run_chunks),
		cmocka_unit_test(test_exhaustion_and_grow),
		cmocka_unit_test(test_random_vs_reference),
		cmocka_unit_test(test_big_pool),
		cmocka_unit_test(test_many_chunks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
