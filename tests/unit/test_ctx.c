// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_ctx.c - the engine: faults, eviction, swap, arbiter, xattrs, stats,
 * concurrency.  Uses a fake backend over a malloc'ed pool and a file:PATH
 * store in a temp dir. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "fake_backend.h"
#include "internal.h"	/* to look at store slot counts */
#include "store.h"	/* and its read calls */

static usm_frame_t fault_ok(struct usm_ctx *ctx, struct usm_file *f,
			    uint64_t i, unsigned int flags)
{
	usm_frame_t fr = USM_FRAME_NONE;
	int r = usm_fault(ctx, f, i, flags, &fr);

	if (r)
		fprintf(stderr, "fault %llu: %d\n", (unsigned long long)i, r);
	assert_int_equal(r, 0);
	return fr;
}

static uint64_t slots_used(struct usm_ctx *ctx)
{
	uint64_t n;

	usm_ctx_lock(ctx);
	n = usm_store_slots_used(ctx->dflt->st);
	usm_ctx_unlock(ctx);
	return n;
}

/* Every byte survives eviction to a file store and swap-in. */
static void test_roundtrip(void **state)
{
	struct fake_be *be = fb_new(64);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "lru", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	struct usm_file_stats st;
	struct usm_pool_stats ps;

	(void)state;
	for (uint64_t i = 0; i < 300; i++) {
		usm_frame_t fr = fault_ok(ctx, f, i, USM_FAULT_WRITE);

		assert_true(fb_is_zero(be, fr));
		fb_fill(be, fr, 1, i);
	}
	fb_check(ctx);
	usm_file_stats(ctx, f, &st);
	assert_int_equal(st.resident + st.swapped, 300);
	assert_true(st.evictions >= 236);
	assert_int_equal(slots_used(ctx), st.swapped);
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t i = 0; i < 300; i++) {
			usm_frame_t fr = fault_ok(ctx, f, i, USM_FAULT_PIN);

			assert_true(fb_verify(be, fr, 1, i));
			usm_page_unpin(ctx, f, i);
		}
	}
	usm_file_stats(ctx, f, &st);
	assert_true(st.swapins >= 236);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.swapins, st.swapins);
	assert_int_equal(ps.evictions, st.evictions);
	assert_int_equal(ps.resident, st.resident);
	assert_true(ps.used <= 64);
	fb_check(ctx);
	/* Release frees every frame and slot. */
	usm_file_release(ctx, f);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.used, 0);
	assert_int_equal(ps.files, 0);
	assert_int_equal(slots_used(ctx), 0);
	fb_check(ctx);
	fb_free(be);
}

/* A page overwritten whole is not read back from its slot: the frame is
 * zeroed, the slot freed, and no swap-in is counted. */
static void test_overwrite_no_swapin(void **state)
{
	struct fake_be *be = fb_new(32);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	struct usm_file_stats st0, st;
	uint64_t before;

	(void)state;
	for (uint64_t i = 0; i < 100; i++)
		fb_fill(be, fault_ok(ctx, f, i, USM_FAULT_WRITE), 2, i);
	/* page 0 went out first (fifo) */
	assert_int_equal(usm_page_state(ctx, f, 0, NULL), USM_PAGE_SWAPPED);
	usm_file_stats(ctx, f, &st0);
	before = slots_used(ctx);
	{
		usm_frame_t fr = fault_ok(ctx, f, 0, USM_FAULT_WRITE |
					  USM_FAULT_PIN | USM_FAULT_OVERWRITE);

		assert_true(fb_is_zero(be, fr));
		fb_fill(be, fr, 3, 0);
		usm_page_unpin(ctx, f, 0);
	}
	usm_file_stats(ctx, f, &st);
	assert_int_equal(st.swapins, st0.swapins);
	assert_true(slots_used(ctx) <= before);	/* its slot was freed */
	fb_check(ctx);
	/* the new content survives another round trip */
	for (uint64_t i = 1; i < 100; i++)
		fault_ok(ctx, f, i, 0);
	{
		usm_frame_t fr = fault_ok(ctx, f, 0, USM_FAULT_PIN);

		assert_true(fb_verify(be, fr, 3, 0));
		usm_page_unpin(ctx, f, 0);
	}
	usm_file_release(ctx, f);
	fb_check(ctx);
	fb_free(be);
}

static void test_noalloc_and_states(void **state)
{
	struct fake_be *be = fb_new(16);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	usm_frame_t fr;

	(void)state;
	assert_int_equal(usm_fault(ctx, f, 3, USM_FAULT_NOALLOC, &fr), -ENOENT);
	assert_int_equal(usm_page_state(ctx, f, 3, NULL), USM_PAGE_HOLE);
	assert_int_equal(usm_next_data(ctx, f, 0), UINT64_MAX);
	fr = fault_ok(ctx, f, 3, 0);
	fb_fill(be, fr, 9, 3);
	assert_int_equal(usm_page_state(ctx, f, 3, &fr), USM_PAGE_RESIDENT);
	assert_int_equal(usm_next_data(ctx, f, 0), 3);
	assert_int_equal(usm_next_data(ctx, f, 4), UINT64_MAX);
	fault_ok(ctx, f, 1ull << 40, 0);	/* a sparse, far index */
	assert_int_equal(usm_fault(ctx, f, UINT64_MAX, 0, &fr), -ERANGE);
	fault_ok(ctx, f, UINT64_MAX - 1, 0);
	assert_int_equal(usm_next_data(ctx, f, (1ull << 40) + 1), UINT64_MAX - 1);
	assert_int_equal(usm_punch(ctx, f, UINT64_MAX - 1, 1), 0);
	assert_int_equal(usm_next_data(ctx, f, 4), 1ull << 40);
	assert_int_equal(usm_evict_file(ctx, f, 1), 1);
	assert_int_equal(usm_page_state(ctx, f, 3, &fr), USM_PAGE_SWAPPED);
	assert_int_equal(fr, USM_FRAME_NONE);
	assert_int_equal(usm_next_data(ctx, f, 0), 3);	/* swapped is data */
	/* NOALLOC still swaps data in. */
	fr = fault_ok(ctx, f, 3, USM_FAULT_NOALLOC);
	assert_true(fb_verify(be, fr, 9, 3));
	usm_access(ctx, f, 3);
	usm_access(ctx, f, 4);	/* a hole: no-op */
	fb_check(ctx);
	fb_free(be);
}

/* usm_fault_range: holes with NOALLOC, pins, a partial range when full. */
static void test_fault_range(void **state)
{
	struct fake_be *be = fb_new(16);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "lru", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	usm_frame_t frames[20];
	long r;

	(void)state;
	fb_fill(be, fault_ok(ctx, f, 0, USM_FAULT_WRITE), 5, 0);
	fb_fill(be, fault_ok(ctx, f, 2, USM_FAULT_WRITE), 5, 2);
	assert_int_equal(usm_fault_range(ctx, f, 0, 4,
					 USM_FAULT_NOALLOC | USM_FAULT_PIN,
					 frames), 4);
	assert_true(frames[1] == USM_FRAME_NONE && frames[3] == USM_FRAME_NONE);
	assert_true(fb_verify(be, frames[0], 5, 0));
	assert_true(fb_verify(be, frames[2], 5, 2));
	assert_int_equal(usm_page_state(ctx, f, 1, NULL), USM_PAGE_HOLE);
	/* Pinned pages are never victims. */
	assert_int_equal(usm_evict_file(ctx, f, UINT64_MAX), 0);
	usm_page_unpin_range(ctx, f, 0, 4, frames);
	assert_int_equal(usm_evict_file(ctx, f, UINT64_MAX), 2);
	assert_int_equal(usm_page_state(ctx, f, 0, NULL), USM_PAGE_SWAPPED);

	/* 20 pinned pages do not fit in 16 frames: the range stops at 16,
	 * the swapped pages among them read back. */
	r = usm_fault_range(ctx, f, 0, 20, USM_FAULT_WRITE | USM_FAULT_PIN,
			    frames);
	assert_int_equal(r, 16);
	assert_true(fb_verify(be, frames[0], 5, 0));
	assert_true(fb_verify(be, frames[2], 5, 2));
	assert_true(fb_is_zero(be, frames[1]));
	/* Everything pinned: the next page alone fails. */
	assert_int_equal(usm_fault_range(ctx, f, 16, 4, USM_FAULT_WRITE,
					 frames + 16), -ENOSPC);
	usm_page_unpin_range(ctx, f, 0, 16, NULL);
	assert_int_equal(usm_fault_range(ctx, f, 16, 4, USM_FAULT_WRITE,
					 frames + 16), 4);
	fb_check(ctx);

	assert_int_equal(usm_fault_range(ctx, f, 0, 1, USM_FAULT_FRAME, frames),
			 -EINVAL);
	assert_int_equal(usm_fault_range(ctx, f, 0, 0, 0, frames), 0);
	assert_int_equal(usm_fault_range(ctx, f, UINT64_MAX, 2, 0, frames),
			 -ERANGE);
	fb_free(be);
}

static uint64_t store_reads(struct usm_ctx *ctx)
{
	uint64_t n;

	usm_ctx_lock(ctx);
	n = ctx->dflt->st->reads;
	usm_ctx_unlock(ctx);
	return n;
}

/* usm_fault_range over swapped pages reads them from the store in one
 * call per run (not one per page), within the pool's room; holes, the
 * file's cap, a full pool and a failing store keep their meaning. */
static void test_swapin_run(void **state)
{
	struct fake_be *be = fb_new(64);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1), *g = fb_file(ctx, 2);
	struct usm_file_stats st;
	usm_frame_t frames[48];
	uint64_t r0;
	char path[160];

	(void)state;
	for (uint64_t i = 0; i < 40; i++)
		fb_fill(be, fault_ok(ctx, f, i, 0), 5, i);
	assert_int_equal(usm_evict_file(ctx, f, 40), 40);

	/* 40 swapped pages, 64 free frames: one read */
	r0 = store_reads(ctx);
	assert_int_equal(usm_fault_range(ctx, f, 0, 40, USM_FAULT_PIN, frames), 40);
	assert_int_equal(store_reads(ctx) - r0, 1);
	for (uint64_t i = 0; i < 40; i++)
		assert_true(fb_verify(be, frames[i], 5, i));
	usm_file_stats(ctx, f, &st);
	assert_int_equal(st.swapins, 40);
	assert_int_equal(st.resident, 40);
	assert_int_equal(slots_used(ctx), 0);
	assert_int_equal(usm_evict_file(ctx, f, 40), 0);	/* pinned */
	usm_page_unpin_range(ctx, f, 0, 40, NULL);
	fb_check(ctx);

	/* Kept slots (a frontend that notes the page first): held until
	 * settled, as with usm_fault() */
	assert_int_equal(usm_evict_file(ctx, f, 40), 40);
	assert_int_equal(usm_fault_range(ctx, f, 0, 8,
					 USM_FAULT_PIN | USM_FAULT_KEEP_SLOT,
					 frames), 8);
	assert_int_equal(slots_used(ctx), 40);
	for (uint64_t i = 0; i < 8; i++) {
		assert_true(fb_verify(be, frames[i], 5, i));
		assert_int_equal(usm_swapin_settle(ctx, f, i, frames[i],
						   USM_SWAPIN_TAKEN), 0);
	}
	assert_int_equal(slots_used(ctx), 32);
	usm_page_unpin_range(ctx, f, 0, 8, NULL);

	/* A hole in the run (NOALLOC: no frame for it) splits it in two */
	assert_int_equal(usm_punch(ctx, f, 20, 1), 0);
	r0 = store_reads(ctx);
	assert_int_equal(usm_fault_range(ctx, f, 8, 32, USM_FAULT_NOALLOC,
					 frames), 32);
	assert_int_equal(store_reads(ctx) - r0, 2);
	for (uint64_t i = 8; i < 40; i++)
		assert_true(i == 20 ? frames[i - 8] == USM_FRAME_NONE :
			    fb_verify(be, frames[i - 8], 5, i));
	fb_check(ctx);

	/* Little room: what fits is read in one go, the rest after room is
	 * made (evicting the other file), all of it right */
	assert_int_equal(usm_evict_file(ctx, f, 40), 39);
	for (uint64_t i = 0; i < 58; i++)
		fb_fill(be, fault_ok(ctx, g, i, 0), 6, i);
	assert_int_equal(usm_fault_range(ctx, f, 0, 40, USM_FAULT_PIN, frames),
			 40);
	for (uint64_t i = 0; i < 40; i++)
		assert_true(i == 20 ? fb_is_zero(be, frames[i]) :
			    fb_verify(be, frames[i], 5, i));
	usm_page_unpin_range(ctx, f, 0, 40, NULL);
	fb_check(ctx);

	/* The file's own cap holds: no more than user.usm.limit resident */
	assert_int_equal(usm_evict_file(ctx, f, 40), 40);
	assert_int_equal(fb_set(ctx, f, USM_XATTR_LIMIT, "16K"), 0);
	for (uint64_t i = 0; i < 10; i++) {
		assert_int_equal(usm_fault_range(ctx, f, i, 1, USM_FAULT_PIN,
						 frames), 1);
		assert_true(fb_verify(be, frames[0], 5, i));
		usm_page_unpin(ctx, f, i);
	}
	assert_int_equal(usm_fault_range(ctx, f, 10, 10, 0, frames), 10);
	usm_file_stats(ctx, f, &st);
	assert_true(st.resident <= 4);
	fb_check(ctx);

	/* The store fails: -EIO, the run's pages swapped again, no frame */
	assert_int_equal(usm_evict_file(ctx, f, 40), (long)st.resident);
	snprintf(path, sizeof(path), "%s/swap", be->dir);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(usm_fault_range(ctx, f, 0, 10, 0, frames), -EIO);
	usm_file_stats(ctx, f, &st);
	assert_int_equal(st.resident, 0);
	assert_int_equal(usm_page_state(ctx, f, 3, NULL), USM_PAGE_SWAPPED);
	fb_check(ctx);
	fb_free(be);
}

/* swap=none: full means -ENOSPC; pinned policy and pinned pages too. */
static void test_limit_enospc(void **state)
{
	struct fake_be *be = fb_new(64);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 32, "firstfit", "fifo", NULL, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	struct usm_pool_stats ps;
	usm_frame_t fr;

	(void)state;
	for (uint64_t i = 0; i < 32; i++)
		fault_ok(ctx, f, i, 0);
	assert_int_equal(usm_fault(ctx, f, 32, 0, &fr), -ENOSPC);
	assert_int_equal(usm_balance(ctx, USM_BALANCE_FORCE), 0);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.used, 32);
	assert_int_equal(ps.limit, 32);
	/* Hits still work at the cap. */
	fault_ok(ctx, f, 5, 0);
	/* A lower cap: nothing can go, nothing breaks. */
	assert_int_equal(usm_ctx_set_limit(ctx, 100), -EINVAL);
	assert_int_equal(usm_ctx_set_limit(ctx, 16), 0);
	assert_int_equal(usm_fault(ctx, f, 40, 0, &fr), -ENOSPC);
	fb_check(ctx);
	fb_free(be);

	/* With a store, but evict=pinned or every page pinned: -ENOSPC. */
	be = fb_new(16);
	ctx = fb_ctx(be, 0, "firstfit", "pinned", be->swap, &mo);
	f = fb_file(ctx, 1);
	for (uint64_t i = 0; i < 16; i++)
		fault_ok(ctx, f, i, 0);
	assert_int_equal(usm_fault(ctx, f, 16, 0, &fr), -ENOSPC);
	assert_int_equal(fb_set(ctx, f, USM_XATTR_EVICT, "fifo"), 0);
	for (uint64_t i = 0; i < 16; i++)
		fault_ok(ctx, f, i, USM_FAULT_PIN);
	assert_int_equal(usm_fault(ctx, f, 16, 0, &fr), -ENOSPC);
	assert_int_equal(usm_evict_file(ctx, f, UINT64_MAX), 0);
	usm_page_unpin(ctx, f, 7);
	fr = fault_ok(ctx, f, 16, 0);	/* page 7 was the only way out */
	assert_int_equal(usm_page_state(ctx, f, 7, NULL), USM_PAGE_SWAPPED);
	for (uint64_t i = 0; i < 16; i++)
		if (i != 7)
			usm_page_unpin(ctx, f, i);
	fb_check(ctx);
	fb_free(be);
}

static uint64_t resident_of(struct usm_ctx *ctx, struct usm_file *f)
{
	struct usm_file_stats st;

	usm_file_stats(ctx, f, &st);
	return st.resident;
}

/* Over-limit files first, then lower prio classes, then proportional. */
static void test_arbiter_order(void **state)
{
	struct fake_be *be = fb_new(400);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *a = fb_file(ctx, 1), *b = fb_file(ctx, 2);
	struct usm_file *c = fb_file(ctx, 3), *d = fb_file(ctx, 4);
	struct usm_file *p = fb_file(ctx, 5);
	uint64_t rb, rc, rd;

	(void)state;
	assert_int_equal(fb_set(ctx, a, USM_XATTR_PRIO, "2"), 0);
	assert_int_equal(fb_set(ctx, b, USM_XATTR_PRIO, "6"), 0);
	assert_int_equal(fb_set(ctx, c, USM_XATTR_PRIO, "6"), 0);
	assert_int_equal(fb_set(ctx, d, USM_XATTR_PRIO, "6"), 0);
	/* c goes over its limit (10 pages) while it cannot evict (swap
	 * none: the cap is soft), then gets its store back. */
	assert_int_equal(fb_set(ctx, c, USM_XATTR_SWAP, "none"), 0);
	assert_int_equal(fb_set(ctx, c, USM_XATTR_LIMIT, "40K"), 0);
	assert_int_equal(fb_set(ctx, p, USM_XATTR_PRIO, "0"), 0);
	assert_int_equal(fb_set(ctx, p, USM_XATTR_EVICT, "pinned"), 0);
	for (uint64_t i = 0; i < 60; i++)
		fault_ok(ctx, a, i, 0);
	for (uint64_t i = 0; i < 120; i++)
		fault_ok(ctx, b, i, 0);
	for (uint64_t i = 0; i < 50; i++)
		fault_ok(ctx, c, i, 0);
	for (uint64_t i = 0; i < 40; i++)
		fault_ok(ctx, d, i, 0);
	assert_int_equal(resident_of(ctx, c), 50);
	assert_int_equal(usm_file_removexattr(ctx, c, USM_XATTR_SWAP), 0);
	assert_int_equal(resident_of(ctx, c), 50);
	for (uint64_t i = 0; i < 20; i++)
		fault_ok(ctx, p, i, 0);
	/* used 290 of 400.  Low 65% = 260: 30 from c (over its limit). */
	assert_int_equal(usm_ctx_set_watermarks(ctx, 65, 90), 0);
	assert_int_equal(usm_need_balance(ctx), 0);
	assert_int_equal(usm_balance(ctx, 0), 0);	/* below high: nothing */
	assert_int_equal(usm_balance(ctx, USM_BALANCE_FORCE), 30);
	assert_int_equal(resident_of(ctx, c), 20);
	assert_int_equal(resident_of(ctx, a), 60);
	assert_int_equal(resident_of(ctx, b), 120);
	/* Low 55% = 220: 10 more from c (down to its limit), 30 from a
	 * (prio 2 before 6; p is prio 0 but pinned). */
	assert_int_equal(usm_ctx_set_watermarks(ctx, 55, 90), 0);
	assert_int_equal(usm_balance(ctx, USM_BALANCE_FORCE), 40);
	assert_int_equal(resident_of(ctx, c), 10);
	assert_int_equal(resident_of(ctx, a), 30);
	assert_int_equal(resident_of(ctx, b), 120);
	assert_int_equal(resident_of(ctx, d), 40);
	/* Low 30% = 120: a's last 30, then 70 from class 6 {b 120, c 10,
	 * d 40} in proportion: about 49, 4, 16. */
	assert_int_equal(usm_ctx_set_watermarks(ctx, 30, 90), 0);
	assert_int_equal(usm_balance(ctx, USM_BALANCE_FORCE), 100);
	assert_int_equal(resident_of(ctx, a), 0);
	rb = 120 - resident_of(ctx, b);
	rc = 10 - resident_of(ctx, c);
	rd = 40 - resident_of(ctx, d);
	assert_int_equal(rb + rc + rd, 70);
	assert_true(rb >= 46 && rb <= 52);
	assert_true(rc >= 3 && rc <= 6);
	assert_true(rd >= 14 && rd <= 18);
	assert_int_equal(resident_of(ctx, p), 20);	/* never */
	/* Above the high watermark, a plain balance works too. */
	for (uint64_t i = 120; i < 120 + 270; i++)
		fault_ok(ctx, b, i, 0);
	assert_int_equal(usm_need_balance(ctx), 1);
	assert_true(usm_balance(ctx, 0) > 0);
	assert_int_equal(usm_need_balance(ctx), 0);
	assert_int_equal(resident_of(ctx, p), 20);
	fb_check(ctx);
	fb_free(be);
}

/* A fault on an EVICTING page (from inside unmap, as the FUSE daemon's
 * write-back would) cancels that page's eviction only. */
static int cancel_hook(struct fake_be *be, struct usm_page_ref *refs, size_t n)
{
	struct usm_file *f = be->arg;
	usm_frame_t fr;

	for (size_t i = 0; i < n; i++) {
		if (refs[i].index != 2 || be->cancel_calls)
			continue;
		assert_int_equal(usm_page_state(be->ctx, f, 2, NULL),
				 USM_PAGE_EVICTING);
		assert_int_equal(usm_fault(be->ctx, f, 2, USM_FAULT_WRITE, &fr), 0);
		assert_int_equal(fr, refs[i].frame);
		fb_fill(be, fr, 77, 2);	/* written while "evicting" */
	}
	return 0;
}

static void test_evicting_cancel(void **state)
{
	struct fake_be *be = fb_new(16);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	usm_frame_t fr;

	(void)state;
	for (uint64_t i = 0; i < 4; i++)
		fb_fill(be, fault_ok(ctx, f, i, 0), 5, i);
	be->arg = f;
	be->unmap_hook = cancel_hook;
	/* Batch 1 takes all 4, loses page 2 to the fault (cancelled: 3 go
	 * out); batch 2 takes page 2 again, now with its new content. */
	assert_int_equal(usm_evict_file(ctx, f, 4), 4);
	be->unmap_hook = NULL;
	assert_int_equal(be->cancelled, 1);
	assert_int_equal(be->cancel_calls, 1);
	assert_int_equal(be->unmap_calls, 2);
	assert_int_equal(be->unmapped, 5);
	assert_int_equal(usm_page_state(ctx, f, 2, &fr), USM_PAGE_SWAPPED);
	assert_int_equal(slots_used(ctx), 4);
	fb_check(ctx);
	/* Only the cancel, once more: evict 3 and fault page 2 in unmap. */
	be->cancel_calls = 0;
	for (uint64_t i = 0; i < 4; i++)
		fault_ok(ctx, f, i, 0);
	be->unmap_hook = cancel_hook;
	/* fifo: 0, 1, 2 go; 2 is cancelled; the next batch takes 3. */
	assert_int_equal(usm_evict_file(ctx, f, 3), 3);
	be->unmap_hook = NULL;
	assert_int_equal(be->cancelled, 2);
	assert_int_equal(usm_page_state(ctx, f, 2, &fr), USM_PAGE_RESIDENT);
	assert_true(fb_verify(be, fr, 77, 2));
	assert_int_equal(usm_page_state(ctx, f, 3, NULL), USM_PAGE_SWAPPED);
	assert_int_equal(slots_used(ctx), 3);
	fb_check(ctx);
	for (uint64_t i = 0; i < 4; i++)
		assert_true(fb_verify(be, fault_ok(ctx, f, i, 0), i == 2 ? 77 : 5, i));
	assert_int_equal(slots_used(ctx), 0);

	/* The backend refuses one page, or the whole batch. */
	be->refuse_index = 1;
	assert_int_equal(usm_evict_file(ctx, f, 4), 3);
	assert_int_equal(usm_page_state(ctx, f, 1, NULL), USM_PAGE_RESIDENT);
	be->refuse_index = UINT64_MAX;
	be->unmap_ret = -EIO;
	assert_int_equal(usm_evict_file(ctx, f, 4), 0);
	be->unmap_ret = 0;
	assert_int_equal(slots_used(ctx), 3);
	fb_check(ctx);
	fb_free(be);
}

/* A fault on a WRITING page waits for the write, then swaps it in. */
struct waiter {
	struct usm_ctx *ctx;
	struct usm_file *f;
	uint64_t index;
	atomic_int done;
	int ret;
	usm_frame_t fr;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->ret = usm_fault(w->ctx, w->f, w->index, 0, &w->fr);
	atomic_store(&w->done, 1);
	return NULL;
}

static void commit_hook(struct fake_be *be, struct usm_page_ref *refs, size_t n)
{
	struct waiter *w = be->arg;
	pthread_t t;

	(void)refs;
	(void)n;
	assert_int_equal(usm_page_state(be->ctx, w->f, w->index, NULL),
			 USM_PAGE_EVICTING);
	assert_int_equal(pthread_create(&t, NULL, waiter_main, w), 0);
	usleep(200 * 1000);
	assert_int_equal(atomic_load(&w->done), 0);	/* it waits */
	pthread_detach(t);
}

static void test_writing_wait(void **state)
{
	struct fake_be *be = fb_new(16);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	struct waiter w = { .ctx = ctx, .f = f, .index = 0 };
	struct usm_file_stats st;

	(void)state;
	fb_fill(be, fault_ok(ctx, f, 0, 0), 3, 0);
	be->arg = &w;
	be->commit_hook = commit_hook;
	assert_int_equal(usm_evict_file(ctx, f, 1), 1);
	be->commit_hook = NULL;
	while (!atomic_load(&w.done))
		usleep(1000);
	assert_int_equal(w.ret, 0);
	assert_true(fb_verify(be, w.fr, 3, 0));
	usm_file_stats(ctx, f, &st);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.swapins, 1);
	fb_check(ctx);
	fb_free(be);
}

/* Bounded: the wait gives up with -ETIMEDOUT. */
static void slow_commit(struct fake_be *be, struct usm_page_ref *refs, size_t n)
{
	struct waiter *w = be->arg;
	pthread_t t;

	(void)refs;
	(void)n;
	assert_int_equal(pthread_create(&t, NULL, waiter_main, w), 0);
	pthread_join(t, NULL);
}

static void test_writing_timeout(void **state)
{
	struct fake_be *be = fb_new(16);
	struct usm_ctx_params p = {
		.ops = &fb_ops, .priv = be, .pool_frames = 16,
		.wait_timeout_ms = 100,
	};
	char err[128];
	struct usm_ctx *ctx;
	struct usm_file *f;

	(void)state;
	assert_int_equal(usm_ctx_create(&p, &ctx, err, sizeof(err)), 0);
	be->ctx = ctx;
	assert_int_equal(usm_ctx_add_store(ctx, "fast", be->swap, 0, err, sizeof(err)), 0);
	assert_int_equal(usm_ctx_add_store(ctx, "fast", be->swap, 0, err, sizeof(err)), -EEXIST);
	assert_int_equal(usm_ctx_add_store(ctx, "none", "none", 0, err, sizeof(err)), -EINVAL);
	f = fb_file(ctx, 1);
	assert_int_equal(fb_set(ctx, f, USM_XATTR_SWAP, "nosuch"), -EINVAL);
	assert_int_equal(fb_set(ctx, f, USM_XATTR_SWAP, "fast"), 0);
	struct waiter w = { .ctx = ctx, .f = f, .index = 0 };
	fb_fill(be, fault_ok(ctx, f, 0, 0), 4, 0);
	be->arg = &w;
	be->commit_hook = slow_commit;	/* the fault runs during the commit */
	assert_int_equal(usm_evict_file(ctx, f, 1), 1);
	be->commit_hook = NULL;
	assert_int_equal(w.ret, -ETIMEDOUT);
	assert_true(fb_verify(be, fault_ok(ctx, f, 0, 0), 4, 0));
	fb_check(ctx);
	fb_free(be);
}

/* Changing user.usm.evict rebuilds the policy from the resident set. */
static void test_policy_change(void **state)
{
	struct fake_be *be = fb_new(64);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	char buf[256];
	int n;

	(void)state;
	for (uint64_t i = 0; i < 20; i++)
		fault_ok(ctx, f, i, 0);
	assert_int_equal(usm_evict_file(ctx, f, 5), 5);
	assert_int_equal(fb_set(ctx, f, USM_XATTR_EVICT, "nosuch"), -EINVAL);
	const char *names[] = { "lru", "clock", "sieve", "s3fifo", "pinned", "fifo" };
	for (size_t k = 0; k < 6; k++) {
		assert_int_equal(fb_set(ctx, f, USM_XATTR_EVICT, names[k]), 0);
		fb_check(ctx);	/* the new policy holds the 15 resident pages */
		n = usm_file_getxattr(ctx, f, USM_XATTR_EVICT, buf, sizeof(buf));
		assert_int_equal(n, (int)strlen(names[k]));
		assert_memory_equal(buf, names[k], (size_t)n);
	}
	assert_int_equal(usm_evict_file(ctx, f, 3), 3);
	assert_int_equal(resident_of(ctx, f), 12);
	/* A lower limit evicts at once. */
	assert_int_equal(fb_set(ctx, f, USM_XATTR_LIMIT, "32K"), 0);
	assert_int_equal(resident_of(ctx, f), 8);
	assert_int_equal(usm_file_getxattr(ctx, f, USM_XATTR_PRIO, buf, sizeof(buf)),
			 -ENODATA);
	assert_int_equal(usm_file_setxattr(ctx, f, USM_XATTR_STATS, "1", 1), -EPERM);
	assert_int_equal(usm_file_removexattr(ctx, f, USM_XATTR_EVICT), 0);
	struct usm_file_policy pol;
	usm_file_get_policy(ctx, f, &pol);
	assert_string_equal(pol.evict, "fifo");
	assert_int_equal(usm_file_removexattr(ctx, f, USM_XATTR_EVICT), -ENODATA);
	fb_check(ctx);
	fb_free(be);
}

/* Truncate and punch give back frames and slots; stats add up. */
static void test_truncate_punch_stats(void **state)
{
	struct fake_be *be = fb_new(64);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	struct usm_pool_stats ps;
	struct usm_file_stats st;
	char buf[256];
	int n;

	(void)state;
	for (uint64_t i = 0; i < 50; i++)
		fault_ok(ctx, f, i, 0);
	assert_int_equal(usm_evict_file(ctx, f, 20), 20);	/* fifo: 0..19 */
	assert_int_equal(slots_used(ctx), 20);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.used, 30);
	assert_int_equal(ps.swapped, 20);
	n = usm_format_file_stats(ctx, f, buf, sizeof(buf));
	assert_string_equal(buf, "resident=122880 swapped=81920 faults=50 "
			    "evictions=20 swapins=0 hits=0 alloc=firstfit evict=fifo");
	assert_int_equal(n, (int)strlen(buf));
	assert_int_equal(usm_file_getxattr(ctx, f, USM_XATTR_STATS, buf, 10), n);
	/* punch [5, 25): 15 slots and 5 frames */
	assert_int_equal(usm_punch(ctx, f, 5, 20), 0);
	assert_int_equal(slots_used(ctx), 5);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.used, 25);
	assert_int_equal(usm_next_data(ctx, f, 5), 25);
	/* truncate to 3 pages */
	assert_int_equal(usm_truncate(ctx, f, 3), 0);
	assert_int_equal(slots_used(ctx), 3);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.used, 0);
	usm_file_stats(ctx, f, &st);
	assert_int_equal(st.resident, 0);
	assert_int_equal(st.swapped, 3);
	assert_int_equal(usm_next_data(ctx, f, 3), UINT64_MAX);
	assert_int_equal(usm_punch(ctx, f, 0, UINT64_MAX), 0);
	assert_int_equal(slots_used(ctx), 0);
	assert_int_equal(usm_next_data(ctx, f, 0), UINT64_MAX);
	fb_check(ctx);
	fb_free(be);
}

/* A restarted server learns swapped pages from the kernel. */
static void test_page_swapped(void **state)
{
	struct fake_be *be = fb_new(16);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx;
	struct usm_file *f;
	usm_frame_t fr;
	char path[160];
	static unsigned char page[USM_PAGE_SIZE];

	(void)state;
	/* The old server's store (a store file, with its header): slot 3
	 * holds our page. */
	snprintf(path, sizeof(path), "file:%s/swap", be->dir);
	memset(page, 0x3c, sizeof(page));
	{
		struct usm_store *old = NULL;
		usm_slot_t s3 = 3;
		void *b = page;

		assert_int_equal(usm_store_open("default", path, 0, &old, NULL, 0), 0);
		assert_int_equal(usm_store_claim(old, s3), 0);
		assert_int_equal(usm_store_write(old, &s3, &b, 1), 0);
		usm_store_close(old);
	}
	{
		struct usm_ctx_params p = {
			.ops = &fb_ops, .priv = be, .pool_frames = 16,
			.mount = &mo, .store_flags = USM_STORE_KEEP,
		};
		char err[128];

		usm_mount_opts_init(&mo);
		snprintf(mo.swap, sizeof(mo.swap), "%s", be->swap);
		assert_int_equal(usm_ctx_create(&p, &ctx, err, sizeof(err)), 0);
		be->ctx = ctx;
	}
	f = fb_file(ctx, 1);
	assert_int_equal(usm_page_swapped(ctx, f, 5, "default", 3), 0);
	assert_int_equal(usm_page_swapped(ctx, f, 5, "default", 4), -EEXIST);
	assert_int_equal(usm_page_swapped(ctx, f, 6, "default", 3), -EBUSY);
	assert_int_equal(usm_page_swapped(ctx, f, 6, "nosuch", 4), -EINVAL);
	assert_int_equal(usm_page_state(ctx, f, 5, NULL), USM_PAGE_SWAPPED);
	fb_check(ctx);
	fr = fault_ok(ctx, f, 5, 0);
	assert_memory_equal(fb_frame_addr(be, fr), page, sizeof(page));
	assert_int_equal(slots_used(ctx), 0);
	fb_check(ctx);
	fb_free(be);
}

/* user.usm.limit caps a file at fault time: its own pages go first. */
static void test_file_limit_fault(void **state)
{
	struct fake_be *be = fb_new(64);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1), *g = fb_file(ctx, 2);
	struct usm_file_stats st;

	(void)state;
	for (uint64_t i = 0; i < 10; i++)
		fault_ok(ctx, g, i, 0);
	assert_int_equal(fb_set(ctx, f, USM_XATTR_LIMIT, "16K"), 0);
	for (uint64_t i = 0; i < 30; i++)
		fb_fill(be, fault_ok(ctx, f, i, 0), 8, i);
	usm_file_stats(ctx, f, &st);
	assert_true(st.resident <= 4);
	assert_int_equal(st.resident + st.swapped, 30);
	assert_int_equal(resident_of(ctx, g), 10);	/* others untouched */
	for (uint64_t i = 0; i < 30; i++)
		assert_true(fb_verify(be, fault_ok(ctx, f, i, 0), 8, i));
	usm_file_stats(ctx, f, &st);
	assert_true(st.resident <= 4);
	fb_check(ctx);
	fb_free(be);
}

/* Stores and rules from a config file. */
static void test_config_stores_rules(void **state)
{
	struct fake_be *be = fb_new(32);
	struct usm_config *cfg = NULL;
	struct usm_mount_opts mo;
	struct usm_ctx *ctx;
	struct usm_file *f, *g;
	struct usm_file_policy pol, dir;
	struct usm_pool_stats ps;
	char err[256] = "", text[512];
	int r;

	(void)state;
	snprintf(text, sizeof(text),
		 "[pool]\nlow_watermark = 50%%\nhigh_watermark = 80%%\n"
		 "evict = lru\nswap = fast\n"
		 "[store fast]\npath = %s\n"
		 "[rule heaps]\npath = /heap*\nevict = clock\nprio = 6\n",
		 be->swap);
	r = usm_config_parse_string(text, "test.conf", USM_CONFIG_NO_PLUGINS,
				    &cfg, err, sizeof(err));
	if (r)
		fprintf(stderr, "config: %s\n", err);
	assert_int_equal(r, 0);
	usm_mount_opts_init(&mo);
	{
		struct usm_ctx_params p = {
			.ops = &fb_ops, .priv = be, .pool_frames = 32,
			.mount = &mo, .config = cfg,
		};

		assert_int_equal(usm_ctx_create(&p, &ctx, err, sizeof(err)), 0);
		be->ctx = ctx;
	}
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.low_pct, 50);
	assert_int_equal(ps.high_pct, 80);
	usm_ctx_policy_for(ctx, NULL, "/heap1", NULL, &pol);
	assert_string_equal(pol.evict, "clock");
	assert_int_equal(pol.prio, 6);
	usm_ctx_policy_for(ctx, NULL, "/other", NULL, &pol);
	assert_string_equal(pol.evict, "lru");
	assert_int_equal(pol.prio, 4);
	/* A directory's attributes are inherited. */
	usm_file_policy_init(&dir);
	assert_int_equal(usm_file_policy_set(&dir, USM_XATTR_ALLOC, "spread", 6), 0);
	usm_ctx_policy_for(ctx, &dir, "/other", NULL, &pol);
	assert_string_equal(pol.alloc, "spread");
	f = usm_file_new(ctx, 1, &pol);
	assert_non_null(f);
	usm_ctx_policy_for(ctx, NULL, "/heap2", NULL, &pol);
	g = usm_file_new(ctx, 2, &pol);
	assert_non_null(g);
	assert_int_equal(fb_set(ctx, g, USM_XATTR_SWAP, "fast"), 0);
	assert_int_equal(fb_set(ctx, g, USM_XATTR_SWAP, "default"), 0);
	assert_int_equal(fb_set(ctx, g, USM_XATTR_SWAP, "none"), 0);
	assert_int_equal(fb_set(ctx, g, USM_XATTR_SWAP, "slow"), -EINVAL);
	/* The mount's default store is the config's "fast": pages go out. */
	for (uint64_t i = 0; i < 40; i++)
		fb_fill(be, fault_ok(ctx, f, i, 0), 6, i);
	for (uint64_t i = 0; i < 40; i++)
		assert_true(fb_verify(be, fault_ok(ctx, f, i, 0), 6, i));
	usm_pool_stats(ctx, &ps);
	assert_true(ps.evictions >= 8);
	fb_check(ctx);
	fb_free(be);
	usm_config_free(cfg);
}

/* A backend's zero_frame op is used (without the lock), and a commit
 * that fails for one page keeps that page resident, slot freed. */
static void test_zero_op_commit_error(void **state)
{
	struct fake_be *be = fb_new(16);
	struct usm_mount_opts mo;
	struct usm_ctx_params p = {
		.ops = &fb_ops_zero, .priv = be, .pool_frames = 16, .mount = &mo,
	};
	struct usm_ctx *ctx;
	struct usm_file *f;
	char err[128];

	(void)state;
	usm_mount_opts_init(&mo);
	snprintf(mo.evict, sizeof(mo.evict), "fifo");
	snprintf(mo.swap, sizeof(mo.swap), "%s", be->swap);
	assert_int_equal(usm_ctx_create(&p, &ctx, err, sizeof(err)), 0);
	be->ctx = ctx;
	f = fb_file(ctx, 1);
	for (uint64_t i = 0; i < 8; i++) {
		usm_frame_t fr = fault_ok(ctx, f, i, 0);

		assert_true(fb_is_zero(be, fr));
		fb_fill(be, fr, 2, i);
	}
	assert_int_equal(be->zeroed, 8);
	fault_ok(ctx, f, 3, 0);			/* a hit: no zeroing */
	assert_int_equal(be->zeroed, 8);
	be->commit_fail_index = 1;
	assert_int_equal(usm_evict_file(ctx, f, 3), 3);	/* 0, 2, then 3 */
	assert_int_equal(usm_page_state(ctx, f, 1, NULL), USM_PAGE_RESIDENT);
	assert_int_equal(usm_page_state(ctx, f, 0, NULL), USM_PAGE_SWAPPED);
	assert_int_equal(slots_used(ctx), 3);
	be->commit_fail_index = UINT64_MAX;
	fb_check(ctx);
	for (uint64_t i = 0; i < 8; i++)
		assert_true(fb_verify(be, fault_ok(ctx, f, i, 0), 2, i));
	assert_int_equal(be->zeroed, 8);	/* swap-ins are not zeroed */
	fb_check(ctx);
	fb_free(be);
}

/* A store read that fails leaves the page swapped (-EIO); a pinned page
 * that is truncated keeps its frame until it is unpinned. */
static void test_read_error_and_pinned_truncate(void **state)
{
	struct fake_be *be = fb_new(16);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	struct usm_pool_stats ps;
	usm_frame_t fr;
	char path[160];

	(void)state;
	for (uint64_t i = 0; i < 4; i++)
		fb_fill(be, fault_ok(ctx, f, i, 0), 1, i);
	assert_int_equal(usm_evict_file(ctx, f, 4), 4);
	/* Cut the store file behind its back: reads of written slots fail. */
	snprintf(path, sizeof(path), "%s/swap", be->dir);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(usm_fault(ctx, f, 0, 0, &fr), -EIO);
	assert_int_equal(usm_page_state(ctx, f, 0, NULL), USM_PAGE_SWAPPED);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.used, 0);
	assert_int_equal(ps.swapped, 4);
	fb_check(ctx);
	assert_int_equal(usm_truncate(ctx, f, 0), 0);
	assert_int_equal(slots_used(ctx), 0);

	/* Pinned, then truncated: an orphan until unpinned. */
	fr = fault_ok(ctx, f, 7, USM_FAULT_PIN);
	fb_fill(be, fr, 2, 7);
	assert_int_equal(usm_truncate(ctx, f, 0), 0);
	assert_int_equal(usm_page_state(ctx, f, 7, NULL), USM_PAGE_HOLE);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.used, 1);	/* still the frontend's */
	assert_int_equal(ps.resident, 0);
	assert_int_equal(usm_pool_is_free(usm_ctx_pool(ctx), fr), 0);
	assert_true(fb_verify(be, fr, 2, 7));	/* not reused under it */
	fb_check(ctx);
	/* A new page at the same index is a different, zeroed frame. */
	usm_frame_t fr2 = fault_ok(ctx, f, 7, 0);
	assert_int_not_equal(fr2, fr);
	assert_true(fb_is_zero(be, fr2));
	usm_page_unpin(ctx, f, 7);	/* unpins the orphan, not the new page */
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.used, 1);
	assert_int_equal(usm_pool_is_free(usm_ctx_pool(ctx), fr), 1);
	fb_check(ctx);
	fb_free(be);
}

/* USM_FAULT_FRAME: the frontend chose the frame (usmfs.ko swap-ins). */
static void test_fault_given_frame(void **state)
{
	struct fake_be *be = fb_new(64);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1), *g = fb_file(ctx, 2);
	usm_frame_t fr, first;
	uint64_t nr;

	(void)state;
	for (uint64_t i = 0; i < 4; i++)
		fb_fill(be, fault_ok(ctx, f, i, 0), 3, i);
	assert_int_equal(usm_evict_file(ctx, f, 2), 2);	/* 0 and 1 */
	fr = 40;
	assert_int_equal(usm_fault(ctx, f, 0, USM_FAULT_FRAME, &fr), 0);
	assert_int_equal(fr, 40);
	assert_true(fb_verify(be, 40, 3, 0));
	fr = 40;	/* used now */
	assert_int_equal(usm_fault(ctx, f, 1, USM_FAULT_FRAME, &fr), -EBUSY);
	fr = 64;
	assert_int_equal(usm_fault(ctx, f, 1, USM_FAULT_FRAME, &fr), -ERANGE);
	/* A resident page answers with its own frame. */
	fr = 50;
	assert_int_equal(usm_fault(ctx, f, 2, USM_FAULT_FRAME, &fr), 0);
	assert_int_not_equal(fr, 50);
	assert_int_equal(usm_pool_is_free(usm_ctx_pool(ctx), 50), 1);
	/* A frame reserved for this file (for another index) is fine; one
	 * reserved for another file too: the frontend, which placed the
	 * page there, dropped that reservation. */
	assert_int_equal(fb_set(ctx, g, USM_XATTR_ALLOC, "contiguous"), 0);
	assert_int_equal(usm_reserve(ctx, g, 0, &first, &nr), 0);
	fr = first + 4;
	assert_int_equal(usm_fault(ctx, f, 1, USM_FAULT_FRAME, &fr), 0);
	assert_int_equal(fr, first + 4);
	fr = first + 3;
	assert_int_equal(usm_fault(ctx, g, 9, USM_FAULT_FRAME, &fr), 0);
	assert_int_equal(fr, first + 3);
	fb_check(ctx);
	fb_free(be);
}

/* A server restart: the old server keeps its slots, the new one claims
 * them from the kernel's list and reads every byte back. */
static void test_restart_keep_slots(void **state)
{
	struct fake_be *be = fb_new(32);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	usm_slot_t slots[20];

	(void)state;
	for (uint64_t i = 0; i < 20; i++)
		fb_fill(be, fault_ok(ctx, f, i, 0), 11, i);
	assert_int_equal(usm_evict_file(ctx, f, 20), 20);
	usm_ctx_lock(ctx);
	for (uint64_t i = 0; i < 20; i++) {
		void *e = usm_pm_lookup(&f->map, i);

		assert_true(usm_entry_is_swp(e));
		slots[i] = usm_swp_slot(e);
	}
	usm_ctx_unlock(ctx);
	usm_ctx_keep_slots(ctx);
	usm_ctx_destroy(ctx);
	be->ctx = NULL;
	memset(be->mem, 0x5a, be->nframes * USM_PAGE_SIZE);

	{
		struct usm_ctx_params p = {
			.ops = &fb_ops, .priv = be, .pool_frames = 32,
			.mount = &mo, .store_flags = USM_STORE_KEEP,
		};
		char err[128];

		assert_int_equal(usm_ctx_create(&p, &ctx, err, sizeof(err)), 0);
		be->ctx = ctx;
	}
	f = fb_file(ctx, 1);
	for (uint64_t i = 0; i < 20; i++)
		assert_int_equal(usm_page_swapped(ctx, f, i, "default", slots[i]), 0);
	fb_check(ctx);
	for (uint64_t i = 0; i < 20; i++)
		assert_true(fb_verify(be, fault_ok(ctx, f, i, 0), 11, i));
	assert_int_equal(slots_used(ctx), 0);
	fb_check(ctx);
	fb_free(be);
}

/* Bad parameters are refused with a message. */
static void test_create_errors(void **state)
{
	struct fake_be *be = fb_new(16);
	struct usm_mount_opts mo;
	struct usm_ctx_params p = {
		.ops = &fb_ops, .priv = be, .pool_frames = 16, .mount = &mo,
	};
	struct usm_ctx *ctx;
	char err[128] = "";

	(void)state;
	usm_mount_opts_init(&mo);
	snprintf(mo.swap, sizeof(mo.swap), "nosuchstore");
	assert_int_equal(usm_ctx_create(&p, &ctx, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nosuchstore"));
	snprintf(mo.swap, sizeof(mo.swap), "none");
	p.limit_frames = 17;
	assert_int_equal(usm_ctx_create(&p, &ctx, err, sizeof(err)), -EINVAL);
	p.limit_frames = 0;
	p.low_pct = 90;
	p.high_pct = 50;
	assert_int_equal(usm_ctx_create(&p, &ctx, err, sizeof(err)), -EINVAL);
	p.low_pct = p.high_pct = 0;
	p.chunk_frames = 5;
	assert_int_equal(usm_ctx_create(&p, &ctx, err, sizeof(err)), 0);
	assert_int_equal(usm_pool_nr_chunks(usm_ctx_pool(ctx)), 4);
	/* Store ids are 6 bits: at most 64 stores ("none" is one). */
	int added = 0, r;
	for (int i = 0; i < 70; i++) {
		char name[16];

		snprintf(name, sizeof(name), "s%d", i);
		r = usm_ctx_add_store(ctx, name, "none", 0, err, sizeof(err));
		if (r) {
			assert_int_equal(r, -EMFILE);
			break;
		}
		added++;
	}
	assert_int_equal(added, 63);
	struct usm_file_policy pol;
	usm_ctx_policy_for(ctx, NULL, NULL, NULL, &pol);
	snprintf(pol.evict, sizeof(pol.evict), "bogus");
	errno = 0;
	assert_null(usm_file_new(ctx, 1, &pol));
	assert_int_equal(errno, EINVAL);
	be->ctx = ctx;
	fb_free(be);
}

/* Several threads fault, write, verify and truncate their own files while
 * another balances, under a tight cap. */
#define NT	3
#define NPAGES	128

struct worker {
	struct fake_be *be;
	struct usm_file *f;
	unsigned int seed;
	uint32_t ver[NPAGES];
	int failed;
};

static atomic_int stop_balancer;

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct usm_ctx *ctx = w->be->ctx;

	for (int it = 0; it < 1500 && !w->failed; it++) {
		uint64_t i = (uint64_t)rand_r(&w->seed) % NPAGES;
		unsigned int op = (unsigned int)rand_r(&w->seed) % 64;
		usm_frame_t fr;
		int r;

		if (op == 0) {
			uint64_t k = (uint64_t)rand_r(&w->seed) % NPAGES;

			usm_truncate(ctx, w->f, k);
			for (uint64_t j = k; j < NPAGES; j++)
				w->ver[j] = 0;
			continue;
		}
		if (op == 1) {
			usm_punch(ctx, w->f, i, 3);
			for (uint64_t j = i; j < i + 3 && j < NPAGES; j++)
				w->ver[j] = 0;
			continue;
		}
		if (op < 8 && i + 8 <= NPAGES) {
			/* a range: runs of swapped pages read at once, the
			 * other workers' reads in parallel (usm_cstore.io) */
			usm_frame_t frs[8];
			long n = usm_fault_range(ctx, w->f, i, 8, USM_FAULT_PIN,
						 frs);

			if (n != 8) {
				fprintf(stderr, "worker fault range: %ld\n", n);
				w->failed = 1;
				break;
			}
			for (uint64_t j = 0; j < 8; j++)
				if (w->ver[i + j] ?
				    !fb_verify(w->be, frs[j], w->ver[i + j] * 31 +
					       (uintptr_t)w->f, i + j) :
				    !fb_is_zero(w->be, frs[j])) {
					fprintf(stderr, "data mismatch (range) page %llu\n",
						(unsigned long long)(i + j));
					w->failed = 1;
				}
			usm_page_unpin_range(ctx, w->f, i, 8, NULL);
			continue;
		}
		r = usm_fault(ctx, w->f, i, USM_FAULT_PIN | USM_FAULT_WRITE, &fr);
		if (r) {
			fprintf(stderr, "worker fault: %d\n", r);
			w->failed = 1;
			break;
		}
		if (w->ver[i] ? !fb_verify(w->be, fr, w->ver[i] * 31 + (uintptr_t)w->f, i)
			      : !fb_is_zero(w->be, fr)) {
			fprintf(stderr, "data mismatch page %llu ver %u\n",
				(unsigned long long)i, w->ver[i]);
			w->failed = 1;
		}
		if (op < 40) {
			w->ver[i]++;
			fb_fill(w->be, fr, w->ver[i] * 31 + (uintptr_t)w->f, i);
		}
		usm_page_unpin(ctx, w->f, i);
	}
	return NULL;
}

/* Files come and go (released while the balancer may be evicting them),
 * and a worker's eviction policy changes under it. */
struct churn {
	struct fake_be *be;
	struct usm_file *victim;
	int failed;
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;
	struct usm_ctx *ctx = c->be->ctx;
	const char *evs[] = { "fifo", "lru", "clock", "sieve", "s3fifo" };

	for (int it = 0; it < 150 && !c->failed; it++) {
		struct usm_file *f = fb_file(ctx, 1000 + (uint64_t)it);

		for (uint64_t i = 0; i < 24; i++) {
			usm_frame_t fr;

			if (usm_fault(ctx, f, i, USM_FAULT_PIN, &fr)) {
				c->failed = 1;
				break;
			}
			fb_fill(c->be, fr, 5, i);
			usm_page_unpin(ctx, f, i);
		}
		if (it % 3 == 0)
			usm_evict_file(ctx, f, 8);
		usm_file_release(ctx, f);
		if (fb_set(ctx, c->victim, USM_XATTR_EVICT, evs[it % 5]))
			c->failed = 1;
	}
	return NULL;
}

static void *balancer_main(void *arg)
{
	struct fake_be *be = arg;
	unsigned long n = 0;

	while (!atomic_load(&stop_balancer)) {
		usm_balance(be->ctx, (n++ % 4) == 0 ? USM_BALANCE_FORCE : 0);
		if (n % 16 == 0) {
			char err[256];

			if (usm_ctx_check(be->ctx, err, sizeof(err))) {
				fprintf(stderr, "check: %s\n", err);
				abort();
			}
		}
		usleep(200);
	}
	return NULL;
}

static void test_stress(void **state)
{
	struct fake_be *be = fb_new(160);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 96, "contiguous", "s3fifo", be->swap, &mo);
	struct worker w[NT];
	pthread_t t[NT], bt;
	struct usm_pool_stats ps;
	const char *evs[] = { "lru", "clock", "sieve" };

	(void)state;
	memset(w, 0, sizeof(w));
	atomic_store(&stop_balancer, 0);
	for (int i = 0; i < NT; i++) {
		w[i].be = be;
		w[i].f = fb_file(ctx, (uint64_t)i + 1);
		w[i].seed = 1000u + (unsigned int)i;
		assert_int_equal(fb_set(ctx, w[i].f, USM_XATTR_EVICT, evs[i]), 0);
	}
	assert_int_equal(fb_set(ctx, w[1].f, USM_XATTR_ALLOC, "spread"), 0);
	assert_int_equal(fb_set(ctx, w[2].f, USM_XATTR_ALLOC, "firstfit"), 0);
	assert_int_equal(pthread_create(&bt, NULL, balancer_main, be), 0);
	struct churn ch = { .be = be, .victim = w[0].f };
	pthread_t ct;

	for (int i = 0; i < NT; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	assert_int_equal(pthread_create(&ct, NULL, churn_main, &ch), 0);
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	pthread_join(ct, NULL);
	assert_int_equal(ch.failed, 0);
	atomic_store(&stop_balancer, 1);
	pthread_join(bt, NULL);
	for (int i = 0; i < NT; i++)
		assert_int_equal(w[i].failed, 0);
	fb_check(ctx);
	usm_pool_stats(ctx, &ps);
	fprintf(stderr, "stress: used %llu resident %llu swapped %llu faults %llu evictions %llu swapins %llu hits %llu\n", (unsigned long long)ps.used, (unsigned long long)ps.resident, (unsigned long long)ps.swapped, (unsigned long long)ps.faults, (unsigned long long)ps.evictions, (unsigned long long)ps.swapins, (unsigned long long)ps.hits);
	assert_true(ps.evictions > 0);
	assert_true(ps.swapins > 0);
	assert_true(ps.used <= 96);
	/* Everything still reads back. */
	for (int i = 0; i < NT; i++) {
		for (uint64_t p = 0; p < NPAGES; p++) {
			usm_frame_t fr = fault_ok(ctx, w[i].f, p, USM_FAULT_PIN);

			if (w[i].ver[p])
				assert_true(fb_verify(be, fr, w[i].ver[p] * 31 +
						      (uintptr_t)w[i].f, p));
			else
				assert_true(fb_is_zero(be, fr));
			usm_page_unpin(ctx, w[i].f, p);
		}
	}
	fb_check(ctx);
	for (int i = 0; i < NT; i++)
		usm_file_release(ctx, w[i].f);
	usm_pool_stats(ctx, &ps);
	assert_int_equal(ps.used, 0);
	assert_int_equal(slots_used(ctx), 0);
	fb_free(be);
}

/* The commit of an eviction batch: its pages by index and slot. */
static void runs_hook(struct fake_be *be, struct usm_page_ref *refs, size_t n)
{
	uint64_t *seen = be->arg;

	for (size_t i = 0; i < n; i++) {
		/* in file order, each slot right after the previous one */
		if (i && (refs[i].index <= refs[i - 1].index ||
			  refs[i].slot != refs[i - 1].slot + 1))
			seen[0]++;
	}
	seen[1] += n;
}

/* An eviction batch takes its slots as one run, in file order, whatever
 * order the policy gave the pages in; and the data comes back. */
static void test_batch_slot_runs(void **state)
{
	struct fake_be *be = fb_new(256);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "lru", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	uint64_t order[128], seen[2] = { 0, 0 }, i;
	unsigned int x = 7;
	usm_frame_t fr;

	(void)state;
	for (i = 0; i < 128; i++)
		order[i] = i;
	for (i = 127; i > 0; i--) {	/* shuffled: lru gives them so */
		uint64_t j, t;

		x = x * 1103515245u + 12345u;
		j = (x >> 8) % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < 128; i++)
		fb_fill(be, fault_ok(ctx, f, order[i], USM_FAULT_WRITE), 5,
			order[i]);
	be->arg = seen;
	be->commit_hook = runs_hook;
	assert_int_equal(usm_evict_file(ctx, f, 64), 64);
	assert_int_equal(be->commit_calls, 1);
	assert_int_equal(seen[1], 64);
	assert_int_equal(seen[0], 0);
	/* 4 of the 64 slots freed (rewritten whole), and another batch:
	 * one run again, appended (less than an eighth is free) */
	for (i = 0; i < 4; i++) {
		fr = fault_ok(ctx, f, order[i], USM_FAULT_WRITE | USM_FAULT_PIN |
			      USM_FAULT_OVERWRITE);
		fb_fill(be, fr, 5, order[i]);
		usm_page_unpin(ctx, f, order[i]);
	}
	assert_int_equal(usm_evict_file(ctx, f, 64), 64);
	assert_int_equal(seen[0], 0);
	be->commit_hook = NULL;
	be->arg = NULL;
	for (i = 0; i < 128; i++) {
		fr = fault_ok(ctx, f, i, USM_FAULT_PIN);
		assert_true(fb_verify(be, fr, 5, i));
		usm_page_unpin(ctx, f, i);
	}
	usm_file_release(ctx, f);
	assert_int_equal(slots_used(ctx), 0);
	fb_check(ctx);
	fb_free(be);
}

/* frame_zeroed: a frame the backend knows to be zero is not zeroed again;
 * any other frame is. */
static int zeroed_frame_ok(void *priv, usm_frame_t f)
{
	struct fake_be *be = priv;

	return be->arg && f == *(usm_frame_t *)be->arg;
}

static void test_frame_zeroed_op(void **state)
{
	struct fake_be *be = fb_new(16);
	struct usm_backend_ops ops = fb_ops;
	struct usm_mount_opts mo;
	struct usm_ctx_params p = {
		.ops = &ops, .priv = be, .pool_frames = 16, .mount = &mo,
		.wait_timeout_ms = 2000,
	};
	char err[256] = "";
	struct usm_file *f;
	usm_frame_t known = 0, fr;

	(void)state;
	ops.frame_zeroed = zeroed_frame_ok;
	usm_mount_opts_init(&mo);
	snprintf(mo.alloc, sizeof(mo.alloc), "firstfit");
	assert_int_equal(usm_ctx_create(&p, &be->ctx, err, sizeof(err)), 0);
	f = fb_file(be->ctx, 1);
	be->arg = &known;	/* frame 0 "is zero" (it holds 0xa5 here) */
	fr = fault_ok(be->ctx, f, 0, USM_FAULT_WRITE);
	assert_int_equal(fr, 0);
	assert_false(fb_is_zero(be, fr));	/* left alone */
	fr = fault_ok(be->ctx, f, 1, USM_FAULT_WRITE);
	assert_int_equal(fr, 1);
	assert_true(fb_is_zero(be, fr));	/* zeroed */
	be->arg = NULL;
	usm_file_release(be->ctx, f);
	fb_free(be);
}

/* usm_ctx_set_evict_batch(): bounds, and a bigger batch is one commit and
 * one run of slots. */
static void test_evict_batch_size(void **state)
{
	struct fake_be *be = fb_new(512);
	struct usm_mount_opts mo;
	struct usm_ctx *ctx = fb_ctx(be, 0, "firstfit", "fifo", be->swap, &mo);
	struct usm_file *f = fb_file(ctx, 1);
	uint64_t seen[2] = { 0, 0 }, i;

	(void)state;
	assert_int_equal(usm_ctx_set_evict_batch(ctx, 0), -EINVAL);
	assert_int_equal(usm_ctx_set_evict_batch(ctx, USM_EVICT_BATCH_MAX + 1),
			 -EINVAL);
	for (i = 0; i < 400; i++)
		fb_fill(be, fault_ok(ctx, f, i, USM_FAULT_WRITE), 6, i);
	be->arg = seen;
	be->commit_hook = runs_hook;
	/* the default: 64 a batch */
	assert_int_equal(usm_evict_file(ctx, f, 100), 100);
	assert_int_equal(be->commit_calls, 2);
	assert_int_equal(usm_ctx_set_evict_batch(ctx, 200), 0);
	assert_int_equal(usm_evict_file(ctx, f, 200), 200);
	assert_int_equal(be->commit_calls, 3);
	assert_int_equal(seen[1], 300);
	assert_int_equal(seen[0], 0);
	be->commit_hook = NULL;
	be->arg = NULL;
	for (i = 0; i < 400; i++) {
		usm_frame_t fr = fault_ok(ctx, f, i, USM_FAULT_PIN);

		assert_true(fb_verify(be, fr, 6, i));
		usm_page_unpin(ctx, f, i);
	}
	usm_file_release(ctx, f);
	fb_check(ctx);
	fb_free(be);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_overwrite_no_swapin),
		cmocka_unit_test(test_noalloc_and_states),
		cmocka_unit_test(test_fault_range),
		cmocka_unit_test(test_swapin_run),
		cmocka_unit_test(test_limit_enospc),
		cmocka_unit_test(test_arbiter_order),
		cmocka_unit_test(test_evicting_cancel),
		cmocka_unit_test(test_writing_wait),
		cmocka_unit_test(test_writing_timeout),
		cmocka_unit_test(test_policy_change),
		cmocka_unit_test(test_truncate_punch_stats),
		cmocka_unit_test(test_page_swapped),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_file_limit_fault),
		cmocka_unit_test(test_zero_op_commit_error),
		cmocka_unit_test(test_read_error_and_pinned_truncate),
		cmocka_unit_test(test_fault_given_frame),
		cmocka_unit_test(test_batch_slot_runs),
		cmocka_unit_test(test_frame_zeroed_op),
		cmocka_unit_test(test_evict_batch_size),
		cmocka_unit_test(test_restart_keep_slots),
		cmocka_unit_test(test_config_stores_rules),
		cmocka_unit_test(test_stress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
