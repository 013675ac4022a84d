// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_alloc.c - placement policies: firstfit, contiguous, spread. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_backend.h"

static usm_frame_t fault(struct usm_ctx *ctx, struct usm_file *f, uint64_t i)
{
	usm_frame_t fr = USM_FRAME_NONE;

	assert_int_equal(usm_fault(ctx, f, i, USM_FAULT_WRITE, &fr), 0);
	return fr;
}

static void test_firstfit_order(void **state)
{
	struct fake_be *be = fb_new(64);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", NULL, &mo);
	struct usm_file *a = fb_file(ctx, 1), *b = fb_file(ctx, 2);

	(void)state;
	for (uint64_t i = 0; i < 10; i++) {
		usm_frame_t fr = fault(ctx, a, i);

		assert_int_equal(fr, i);
		assert_true(fb_is_zero(be, fr));	/* zeroed for the file */
	}
	assert_int_equal(fault(ctx, b, 100), 10);
	assert_int_equal(usm_punch(ctx, a, 3, 2), 0);
	assert_int_equal(fault(ctx, b, 101), 3);
	assert_int_equal(fault(ctx, b, 102), 4);
	assert_int_equal(fault(ctx, b, 103), 11);
	/* A hit gives the same frame. */
	assert_int_equal(fault(ctx, a, 0), 0);
	fb_check(ctx);
	fb_free(be);
}

static void test_contiguous_sequential(void **state)
{
	struct fake_be *be = fb_new(2048);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "contiguous", "fifo", NULL, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	struct usm_pool_stats ps;
	usm_frame_t base = USM_FRAME_NONE;

	(void)state;
	/* Spoil the start of the pool so that the run is not trivially 0. */
	usm_ctx_lock(ctx);
	assert_int_equal(usm_pool_take(usm_ctx_pool(ctx), 5), 0);
	usm_ctx_unlock(ctx);
	for (uint64_t i = 0; i < 512; i++) {
		usm_frame_t fr = fault(ctx, f, i);

		if (i == 0)
			base = fr;
		assert_int_equal(fr, base + i);
	}
	assert_int_equal(base % USM_HUGE_FRAMES, 0);
	assert_int_equal(base, 512);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.reserved, 0);	/* the run is used up */
	assert_int_equal(ps.resident, 512);
	usm_ctx_lock(ctx);
	assert_int_equal(usm_pool_put(usm_ctx_pool(ctx), 5), 0);
	usm_ctx_unlock(ctx);
	fb_check(ctx);
	fb_free(be);
}

/* Two files written interleaved and out of order still get one aligned
 * 2 MiB run per 512-page window, PMD-congruent. */
static void test_contiguous_interleaved(void **state)
{
	struct fake_be *be = fb_new(4096);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "contiguous", "fifo", NULL, &mo);
	struct usm_file *f[2] = { fb_file(ctx, 1), fb_file(ctx, 2) };
	usm_frame_t fr[2][1024];

	(void)state;
	for (uint64_t i = 0; i < 1024; i++) {
		uint64_t idx = (i * 7) % 1024;	/* a permutation */

		for (int k = 0; k < 2; k++)
			fr[k][idx] = fault(ctx, f[k], idx);
	}
	for (int k = 0; k < 2; k++) {
		for (uint64_t w = 0; w < 1024; w += 512) {
			usm_frame_t b = fr[k][w];

			assert_int_equal(b % USM_HUGE_FRAMES, 0);
			for (uint64_t i = 0; i < 512; i++)
				assert_int_equal(fr[k][w + i], b + i);
		}
	}
	fb_check(ctx);
	fb_free(be);
}

/* Reservations come back on truncate and under pressure (before any
 * eviction: store none proves nothing was evicted). */
static void test_contiguous_reservation_return(void **state)
{
	struct fake_be *be = fb_new(1024);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "contiguous", "fifo", NULL, &mo);
	struct usm_file *a = fb_file(ctx, 1), *b = fb_file(ctx, 2);
	struct usm_pool_stats ps;

	(void)state;
	fault(ctx, a, 0);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.reserved, 511);
	assert_int_equal(ps.used, 512);
	assert_int_equal(usm_truncate(ctx, a, 0), 0);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.reserved, 0);
	assert_int_equal(ps.used, 0);
	fb_check(ctx);

	/* a holds 2 pages of two reserved windows; b (firstfit) fills the
	 * rest: the reservations must be given back, not block b. */
	fault(ctx, a, 0);
	fault(ctx, a, 600);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.reserved, 1022);
	assert_int_equal(fb_set(ctx, b, USM_XATTR_ALLOC, "firstfit"), 0);
	for (uint64_t i = 0; i < 1022; i++)
		fault(ctx, b, i);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.reserved, 0);
	assert_int_equal(ps.free, 0);
	assert_int_equal(ps.evictions, 0);
	usm_frame_t fr;
	assert_int_equal(usm_fault(ctx, b, 5000, 0, &fr), -ENOSPC);
	fb_check(ctx);
	fb_free(be);
}

static void test_spread(void **state)
{
	struct fake_be *be = fb_new(4096);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "spread", "fifo", NULL, &mo);
	struct usm_file *f = fb_file(ctx, 7);
	usm_frame_t lo = UINT64_MAX, hi = 0, prev = 0;
	unsigned int far = 0;

	(void)state;
	for (uint64_t i = 0; i < 64; i++) {
		usm_frame_t fr = fault(ctx, f, i);

		if (i) {
			uint64_t d = fr > prev ? fr - prev : prev - fr;

			far += d >= 32;
		}
		prev = fr;
		lo = fr < lo ? fr : lo;
		hi = fr > hi ? fr : hi;
	}
	assert_true(far >= 60);			/* consecutive pages far apart */
	assert_true(hi - lo >= 4096 / 2);	/* over the whole pool */
	fb_check(ctx);
	fb_free(be);
}

/* Granted reservations (for the kernel) and usm_page_added. */
static void test_reserve_and_page_added(void **state)
{
	struct fake_be *be = fb_new(2048);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "contiguous", "fifo", NULL, &mo);
	struct usm_file *f = fb_file(ctx, 1), *g = fb_file(ctx, 2);
	struct usm_pool_stats ps;
	usm_frame_t first, fr;
	uint64_t nr;

	(void)state;
	assert_int_equal(usm_reserve(ctx, f, 700, &first, &nr), 0);
	assert_int_equal(nr, 512);
	assert_int_equal(first % 512, 0);
	/* The kernel maps index 700 into its reserved frame. */
	assert_int_equal(usm_page_added(ctx, f, 700, first + 188), 0);
	assert_int_equal(usm_page_state(ctx, f, 700, &fr), USM_PAGE_RESIDENT);
	assert_int_equal(fr, first + 188);
	assert_int_equal(usm_page_added(ctx, f, 700, first + 189), -EEXIST);
	/* Another file in f's reserved frame: the kernel dropped that
	 * reservation (a truncation we have not heard of): it gives way. */
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.resv_stolen, 0);
	assert_int_equal(usm_page_added(ctx, g, 2, first + 1), 0);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.resv_stolen, 1);
	assert_int_equal(usm_page_state(ctx, f, 1, &fr), USM_PAGE_HOLE);
	assert_int_equal(usm_page_added(ctx, g, 3, 4096), -ERANGE);
	/* A free frame chosen by the kernel's firstfit; a frame a page
	 * holds is never taken. */
	usm_frame_t freef = first == 0 ? 512 : 0;
	assert_int_equal(usm_page_added(ctx, g, 3, freef), 0);
	assert_int_equal(usm_page_added(ctx, g, 4, freef), -EBUSY);
	assert_int_equal(usm_page_added(ctx, g, 4, first + 188), -EBUSY);
	/* f used a reserved frame for another index than planned. */
	assert_int_equal(usm_page_added(ctx, f, 10, first + 5), 0);
	fb_check(ctx);

	/* Granted runs survive pressure... */
	assert_int_equal(fb_set(ctx, g, USM_XATTR_ALLOC, "firstfit"), 0);
	usm_pool_stats(ctx, &ps);
	uint64_t left = ps.free;
	for (uint64_t i = 100; i < 100 + left; i++)
		fault(ctx, g, i);
	assert_int_equal(usm_fault(ctx, g, 9999, 0, &fr), -ENOSPC);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.reserved, 509);
	/* ...until given back. */
	assert_int_equal(usm_unreserve(ctx, f, first, 512), 0);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.reserved, 0);
	assert_int_equal(ps.free, 509);
	assert_int_equal(usm_unreserve(ctx, f, first, 512), -EINVAL);
	fb_check(ctx);
	fb_free(be);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_firstfit_order),
		cmocka_unit_test(test_contiguous_sequential),
		cmocka_unit_test(test_contiguous_interleaved),
		cmocka_unit_test(test_contiguous_reservation_return),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_reserve_and_page_added),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
