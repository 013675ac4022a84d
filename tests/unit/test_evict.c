// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_evict.c - ordering semantics of the built-in eviction policies, and
 * a randomised model check of the contract every policy must keep.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <usm/policy.h>

#define NPAGES 64

struct fixture {
	const struct usm_evict_ops *ops;
	void *st;
	struct usm_page pg[NPAGES];
};

static struct fixture *fx_new(const struct usm_evict_ops *ops)
{
	struct fixture *f = calloc(1, sizeof(*f));
	size_t i;

	assert_non_null(f);
	f->ops = ops;
	for (i = 0; i < NPAGES; i++)
		f->pg[i].index = i;
	f->st = ops->create(NULL);
	assert_non_null(f->st);
	return f;
}

/* Which pages the policy holds, tracked on the side (the policy owns the
 * pages' spare fields). */
static unsigned char held[NPAGES];

static void ins(struct fixture *f, unsigned int i)
{
	f->ops->on_insert(f->st, &f->pg[i]);
	held[i] = 1;
}

static void acc(struct fixture *f, unsigned int i)
{
	f->ops->on_access(f->st, &f->pg[i]);
}

static void rem(struct fixture *f, unsigned int i)
{
	f->ops->on_remove(f->st, &f->pg[i]);
	held[i] = 0;
}

/* Take up to @n victims; store their indices in @idx; return the count. */
static size_t vic(struct fixture *f, size_t n, unsigned int *idx)
{
	struct usm_page *out[NPAGES];
	size_t got, i;

	assert_true(n <= NPAGES);
	got = f->ops->victims(f->st, out, n);
	assert_true(got <= n);
	for (i = 0; i < got; i++) {
		unsigned int k = (unsigned int)(out[i] - f->pg);

		assert_true(k < NPAGES);
		assert_true(held[k]);
		assert_int_equal(f->pg[k].pins, 0);
		held[k] = 0;
		idx[i] = k;
	}
	return got;
}

static void expect_victims(struct fixture *f, size_t n, const unsigned int *want,
			   size_t nwant)
{
	unsigned int got[NPAGES];
	size_t k = vic(f, n, got), i;

	if (k != nwant) {
		fprintf(stderr, "%s: got %zu victims, want %zu:", f->ops->name,
			k, nwant);
		for (i = 0; i < k; i++)
			fprintf(stderr, " %u", got[i]);
		fprintf(stderr, "\n");
	}
	assert_int_equal(k, nwant);
	for (i = 0; i < k; i++) {
		if (got[i] != want[i])
			fprintf(stderr, "%s: victim %zu is %u, want %u\n",
				f->ops->name, i, got[i], want[i]);
		assert_int_equal(got[i], want[i]);
	}
}

#define EXPECT(f, n, ...) do { \
	static const unsigned int w_[] = { __VA_ARGS__ }; \
	expect_victims(f, n, w_, sizeof(w_) / sizeof(w_[0])); \
} while (0)

static struct fixture *start(const struct usm_evict_ops *ops)
{
	memset(held, 0, sizeof(held));
	return fx_new(ops);
}

static void finish(struct fixture *f)
{
	size_t i;

	for (i = 0; i < NPAGES; i++)
		if (held[i])
			rem(f, (unsigned int)i);
	assert_int_equal(f->ops->resident(f->st), 0);
	f->ops->destroy(f->st);
	free(f);
}

static void test_fifo_order(void **state)
{
	struct fixture *f = start(&usm_evict_fifo);
	unsigned int i;

	(void)state;
	for (i = 1; i <= 5; i++)
		ins(f, i);
	acc(f, 1);
	acc(f, 1);
	EXPECT(f, 2, 1, 2);
	assert_int_equal(f->ops->resident(f->st), 3);
	EXPECT(f, 10, 3, 4, 5);
	EXPECT(f, 1, );
	finish(f);
}

static void test_lru_order(void **state)
{
	struct fixture *f = start(&usm_evict_lru);
	unsigned int i;

	(void)state;
	for (i = 1; i <= 5; i++)
		ins(f, i);
	acc(f, 1);
	acc(f, 3);
	acc(f, 2);
	acc(f, 3);
	EXPECT(f, 5, 4, 5, 1, 2, 3);
	finish(f);
}

static void test_clock_second_chance(void **state)
{
	struct fixture *f = start(&usm_evict_clock);
	unsigned int i;

	(void)state;
	for (i = 1; i <= 4; i++)
		ins(f, i);
	acc(f, 1);
	acc(f, 3);
	/* 1 and 3 lose their bit and go behind the hand. */
	EXPECT(f, 1, 2);
	EXPECT(f, 1, 4);
	/* Only 1 and 3 are left, bits cleared: the hand meets 1 first. */
	ins(f, 5);
	EXPECT(f, 3, 1, 3, 5);
	/* A page referenced again after its second chance survives once
	 * more; with every page referenced, a full turn ends at the first. */
	ins(f, 6);
	ins(f, 7);
	acc(f, 6);
	acc(f, 7);
	EXPECT(f, 1, 6);
	EXPECT(f, 1, 7);
	finish(f);
}

static void test_sieve_retains_in_place(void **state)
{
	struct fixture *f = start(&usm_evict_sieve);
	unsigned int i;

	(void)state;
	for (i = 1; i <= 4; i++)
		ins(f, i);
	acc(f, 1);
	/* The hand passes 1 (visited: kept, bit cleared) and takes 2. */
	EXPECT(f, 1, 2);
	ins(f, 5);
	/* The hand continues from 3 towards the head: 3, 4, then the new
	 * 5, and only after wrapping, 1, which stayed at the tail (CLOCK
	 * would have moved it behind 5). */
	EXPECT(f, 4, 3, 4, 5, 1);
	finish(f);
}

static void test_sieve_visited_first_pass(void **state)
{
	struct fixture *f = start(&usm_evict_sieve);
	unsigned int i;

	(void)state;
	for (i = 1; i <= 3; i++)
		ins(f, i);
	acc(f, 1);
	acc(f, 2);
	acc(f, 3);
	/* All visited: the first pass clears every bit and keeps them; the
	 * victim is found after wrapping, at the tail. */
	EXPECT(f, 1, 1);
	acc(f, 3);
	EXPECT(f, 1, 2);
	EXPECT(f, 1, 3);
	finish(f);
}

static void test_sieve_remove_under_hand(void **state)
{
	struct fixture *f = start(&usm_evict_sieve);
	unsigned int i;

	(void)state;
	for (i = 1; i <= 4; i++)
		ins(f, i);
	EXPECT(f, 1, 1);	/* hand now at 2 */
	rem(f, 2);		/* the page under the hand goes */
	EXPECT(f, 3, 3, 4);
	finish(f);
}

/* Insert 0..9 and access each once, then take one victim: S (all of it)
 * is promoted to M, and M's oldest (0) leaves.  M = 1..9, S empty. */
static struct fixture *s3_with_main(void)
{
	struct fixture *f = start(&usm_evict_s3fifo);
	unsigned int i;

	for (i = 0; i < 10; i++)
		ins(f, i);
	for (i = 0; i < 10; i++)
		acc(f, i);
	EXPECT(f, 1, 0);
	return f;
}

static void test_s3fifo_one_hit_wonders(void **state)
{
	struct fixture *f = s3_with_main();
	unsigned int i;

	(void)state;
	ins(f, 20);
	ins(f, 21);
	for (i = 1; i < 10; i++)
		acc(f, i);
	/* The newest pages leave first: used once, they never reach M. */
	EXPECT(f, 2, 20, 21);
	/* Then M, oldest first once the frequencies run out (1..9 have one
	 * access each: one reinsertion). */
	EXPECT(f, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9);
	finish(f);
}

static void test_s3fifo_small_promotes_accessed(void **state)
{
	struct fixture *f = s3_with_main();

	(void)state;
	ins(f, 20);
	ins(f, 21);
	acc(f, 20);
	/* 20 was used in S: it moves to M; 21 was not: it leaves. */
	EXPECT(f, 1, 21);
	/* S is empty now; M's oldest (1) goes before 20. */
	EXPECT(f, 1, 1);
	finish(f);
}

static void test_s3fifo_ghost_hit_goes_to_main(void **state)
{
	struct fixture *f = s3_with_main();

	(void)state;
	ins(f, 20);
	EXPECT(f, 1, 20);	/* 20 leaves S: its index enters G */
	ins(f, 20);		/* ghost hit: straight into M */
	ins(f, 30);		/* never seen: into S */
	/* If 20 had gone to S it would be S's oldest and leave now. */
	EXPECT(f, 1, 30);
	/* Control: without history, the older newcomer leaves first. */
	ins(f, 40);
	ins(f, 41);
	EXPECT(f, 1, 40);
	finish(f);
}

static void test_s3fifo_ghost_is_bounded(void **state)
{
	struct fixture *f = s3_with_main();
	unsigned int i;

	(void)state;
	/* 40 one-hit wonders pass through S; G keeps only as many indices
	 * as M should hold (90% of 10 resident pages: 9), newest first. */
	for (i = 20; i < 60; i++) {
		unsigned int got;

		ins(f, i);
		assert_int_equal(vic(f, 1, &got), 1);
		assert_int_equal(got, i);
	}
	ins(f, 20);		/* forgotten long ago: into S */
	ins(f, 59);		/* still remembered: into M */
	ins(f, 60);
	EXPECT(f, 2, 20, 60);
	EXPECT(f, 1, 1);	/* then M's oldest, not 59 */
	ins(f, 50);		/* the 10th newest: aged out of G */
	ins(f, 61);
	EXPECT(f, 1, 50);
	finish(f);
}

static void test_s3fifo_remove_records_nothing(void **state)
{
	struct fixture *f = s3_with_main();

	(void)state;
	ins(f, 20);
	rem(f, 20);		/* truncate: no ghost entry */
	ins(f, 20);
	ins(f, 21);
	EXPECT(f, 1, 20);	/* 20 is in S again, the oldest there */
	finish(f);
}

static void test_s3fifo_main_frequency(void **state)
{
	struct fixture *f = s3_with_main();

	(void)state;
	/* 1 gets three accesses (frequency 3), 2 gets one: 1 survives
	 * three reinsertions, so 3..9 and 2 leave before it. */
	acc(f, 1);
	acc(f, 1);
	acc(f, 1);
	acc(f, 2);
	EXPECT(f, 9, 3, 4, 5, 6, 7, 8, 9, 2, 1);
	finish(f);
}

static void test_pinned_never_gives(void **state)
{
	struct fixture *f = start(&usm_evict_pinned);
	unsigned int i;

	(void)state;
	assert_true(f->ops->flags & USM_EVICT_NEVER);
	for (i = 0; i < 8; i++)
		ins(f, i);
	acc(f, 3);
	EXPECT(f, 8, );
	assert_int_equal(f->ops->resident(f->st), 8);
	rem(f, 3);
	assert_int_equal(f->ops->resident(f->st), 7);
	finish(f);
}

static const struct usm_evict_ops *const giving[] = {
	&usm_evict_fifo, &usm_evict_lru, &usm_evict_clock,
	&usm_evict_sieve, &usm_evict_s3fifo,
};
#define NGIVING (sizeof(giving) / sizeof(giving[0]))

static void test_victims_skip_pinned(void **state)
{
	size_t p;

	(void)state;
	for (p = 0; p < NGIVING; p++) {
		struct fixture *f = start(giving[p]);
		unsigned int got[NPAGES], i;
		size_t k;

		for (i = 1; i <= 6; i++)
			ins(f, i);
		acc(f, 4);
		f->pg[1].pins = 1;	/* the oldest, the usual victim */
		f->pg[5].pins = 2;
		k = vic(f, 1, got);	/* vic() fails on a pinned victim */
		assert_int_equal(k, 1);
		k = vic(f, NPAGES, got);
		assert_int_equal(k, 3);
		/* Only the pinned ones are left, and they are not given. */
		assert_int_equal(f->ops->resident(f->st), 2);
		assert_int_equal(vic(f, 4, got), 0);
		f->pg[5].pins = 0;
		assert_int_equal(vic(f, 4, got), 1);
		assert_int_equal(got[0], 5);
		f->pg[1].pins = 0;
		finish(f);
	}
}

static void test_remove_forgets(void **state)
{
	size_t p;

	(void)state;
	for (p = 0; p < NGIVING; p++) {
		struct fixture *f = start(giving[p]);
		unsigned int got[NPAGES], i;
		size_t k;

		for (i = 1; i <= 5; i++)
			ins(f, i);
		acc(f, 2);
		rem(f, 2);
		rem(f, 5);
		assert_int_equal(f->ops->resident(f->st), 3);
		k = vic(f, NPAGES, got);
		assert_int_equal(k, 3);
		for (i = 0; i < k; i++)
			assert_true(got[i] == 1 || got[i] == 3 || got[i] == 4);
		assert_int_equal(f->ops->resident(f->st), 0);
		finish(f);
	}
}

/*
 * Random operations against a model: victims only ever returns held,
 * unpinned pages, each once; resident() matches; a policy that holds an
 * unpinned page gives at least one when asked.
 */
static uint64_t rng = 88172645463325252ull;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_random_model(void **state)
{
	size_t p;

	(void)state;
	for (p = 0; p < NGIVING; p++) {
		struct fixture *f = start(giving[p]);
		size_t step, nheld = 0, i;

		for (step = 0; step < 50000; step++) {
			unsigned int k = (unsigned int)(xorshift() % NPAGES);
			unsigned int op = (unsigned int)(xorshift() % 10);

			if (op < 3) {
				if (!held[k]) {
					ins(f, k);
					nheld++;
				} else {
					acc(f, k);
				}
			} else if (op < 6) {
				if (held[k])
					acc(f, k);
			} else if (op == 6) {
				if (held[k]) {
					rem(f, k);
					nheld--;
					f->pg[k].pins = 0;
				}
			} else if (op == 7) {
				if (held[k])
					f->pg[k].pins ^= 1;
			} else {
				unsigned int got[NPAGES];
				size_t want = 1 + xorshift() % 4, n, unpinned = 0;

				for (i = 0; i < NPAGES; i++)
					if (held[i] && !f->pg[i].pins)
						unpinned++;
				n = vic(f, want, got);
				assert_true(n <= unpinned);
				assert_true(n == want || n == unpinned);
				nheld -= n;
			}
			assert_int_equal(f->ops->resident(f->st), nheld);
		}
		for (i = 0; i < NPAGES; i++)
			f->pg[i].pins = 0;
		finish(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_order),
		cmocka_unit_test(test_lru_order),
		cmocka_unit_test(test_clock_second_chance),
		cmocka_unit_test(test_sieve_retains_in_place),
		cmocka_unit_test(test_sieve_visited_first_pass),
		cmocka_unit_test(test_sieve_remove_under_hand),
		cmocka_unit_test(test_s3fifo_one_hit_wonders),
		cmocka_unit_test(test_s3fifo_small_promotes_accessed),
		cmocka_unit_test(test_s3fifo_ghost_hit_goes_to_main),
		cmocka_unit_test(test_s3fifo_ghost_is_bounded),
		cmocka_unit_test(test_s3fifo_remove_records_nothing),
		cmocka_unit_test(test_s3fifo_main_frequency),
		cmocka_unit_test(test_pinned_never_gives),
		cmocka_unit_test(test_victims_skip_pinned),
		cmocka_unit_test(test_remove_forgets),
		cmocka_unit_test(test_random_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
