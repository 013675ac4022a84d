// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * alloc.c - the built-in placement policies: firstfit, contiguous, spread.
 *
 * Each runs with the context's lock held (called by the engine's fault
 * path), takes frames from the pool and may record reservations for the
 * file.  Frames reserved for a file are already out of the pool, so
 * firstfit's "lowest free frame" never hands out another file's reserved
 * frame.
 */
#include <errno.h>

#include "internal.h"

/* ---- firstfit: the lowest free frame ---- */

static int firstfit_place(struct usm_ctx *ctx, struct usm_file *file,
			  uint64_t index, usm_frame_t *frame)
{
	(void)ctx;
	if (usm_file_reservation_take(file, index, frame) == 0)
		return 0;
	return usm_pool_alloc_from(usm_file_pool(file), 0, frame);
}

const struct usm_alloc_ops usm_alloc_firstfit = {
	.name = "firstfit",
	.place = firstfit_place,
};

/* ---- contiguous: few aligned runs per file ---- */

/*
 * Reserve the largest aligned window (USM_HUGE_FRAMES down to 16 pages)
 * around @index whose pages are all holes, backed by an equally aligned
 * run of frames, so that page i lives in frame first + (i - window) and a
 * 2 MiB window maps with one PMD.  Stays under the context's cap.
 */
static int contig_reserve_window(struct usm_ctx *ctx, struct usm_file *f,
				 uint64_t index, uint64_t min_nr,
				 usm_frame_t *first, uint64_t *nr)
{
	struct usm_pool *pool = usm_file_pool(f);
	uint64_t room = usm_ctx_headroom(ctx);

	for (uint64_t sz = USM_HUGE_FRAMES; sz >= min_nr; sz >>= 1) {
		uint64_t win = index & ~(sz - 1);
		usm_frame_t run;

		if (sz > room || !usm_file_range_empty(f, win, sz))
			continue;
		if (usm_pool_alloc_run(pool, sz, sz, &run) != 0)
			continue;
		if (usm_file_reservation_add(f, win, run, sz) != 0) {
			for (uint64_t i = 0; i < sz; i++)
				usm_pool_put(pool, run + i);
			return -ENOMEM;
		}
		*first = run;
		*nr = sz;
		return 0;
	}
	return -ENOSPC;
}

static int contig_place(struct usm_ctx *ctx, struct usm_file *f,
			uint64_t index, usm_frame_t *frame)
{
	struct usm_pool *pool = usm_file_pool(f);
	usm_frame_t prev, cand = USM_FRAME_NONE, first, cfirst;
	uint64_t dist = 0, nr, cnr;

	if (usm_file_reservation_take(f, index, frame) == 0)
		return 0;

	/* The frame that continues the file's run, if it is free and in the
	 * same chunk as the run. */
	prev = usm_file_frame_before(f, index, &dist);
	if (prev != USM_FRAME_NONE && prev + dist > prev &&
	    usm_pool_chunk_of(pool, prev, &cfirst, &cnr) == 0 &&
	    prev + dist < cfirst + cnr && usm_pool_is_free(pool, prev + dist) == 1)
		cand = prev + dist;

	/* Inside a window (the previous page in the same 2 MiB window),
	 * keeping frames congruent with indices modulo 2 MiB keeps the layout
	 * PMD-aligned: continue the run. */
	if (cand != USM_FRAME_NONE &&
	    (index - dist) / USM_HUGE_FRAMES == index / USM_HUGE_FRAMES &&
	    (cand % USM_HUGE_FRAMES) == (index % USM_HUGE_FRAMES) &&
	    usm_pool_take(pool, cand) == 0) {
		*frame = cand;
		return 0;
	}

	/* A fresh aligned run for the window around index. */
	if (contig_reserve_window(ctx, f, index, 16, &first, &nr) == 0 &&
	    usm_file_reservation_take(f, index, frame) == 0)
		return 0;

	/* Any continuation, then the lowest free frame. */
	if (cand != USM_FRAME_NONE && usm_pool_take(pool, cand) == 0) {
		*frame = cand;
		return 0;
	}
	return usm_pool_alloc_from(pool, 0, frame);
}

static int contig_reserve(struct usm_ctx *ctx, struct usm_file *f,
			  uint64_t index, usm_frame_t *first, uint64_t *nr)
{
	return contig_reserve_window(ctx, f, index, 1, first, nr);
}

const struct usm_alloc_ops usm_alloc_contiguous = {
	.name = "contiguous",
	.place = contig_place,
	.reserve = contig_reserve,
};

/* ---- spread: scatter a file's pages over the pool ---- */

/*
 * Next-fit from a per-file cursor that starts at a place derived from the
 * file (so files start apart) and advances by about 1/61 of the pool
 * after each page: consecutive pages land far apart, and the pool is
 * covered evenly.  The cursor is kept + 1 (0 = not started).
 */
static int spread_place(struct usm_ctx *ctx, struct usm_file *f,
			uint64_t index, usm_frame_t *frame)
{
	struct usm_pool *pool = usm_file_pool(f);
	uint64_t *cur = usm_file_alloc_word(f);
	uint64_t n = usm_pool_nr_frames(pool), stride, from;
	int err;

	(void)ctx;
	if (usm_file_reservation_take(f, index, frame) == 0)
		return 0;
	if (n == 0)
		return -ENOSPC;
	stride = n / 61 + 1;
	if (*cur == 0)
		from = (usm_file_ino(f) * 0x9e3779b97f4a7c15ull) % n;
	else
		from = (*cur - 1) % n;
	err = usm_pool_alloc_from(pool, from, frame);
	if (err)
		return err;
	*cur = (*frame + stride) % n + 1;
	return 0;
}

const struct usm_alloc_ops usm_alloc_spread = {
	.name = "spread",
	.place = spread_place,
};
