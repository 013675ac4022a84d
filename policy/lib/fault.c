// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fault.c - making a page resident: usm_fault() (zero-fill, swap-in or a
 * hit), waiting for room within a deadline, pins and their release.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

/* ------------------------------------------------------------------ */
/* Faults                                                             */

static void deadline_in(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Wait (bounded) for a page state change.  The deadline is set by the
 * first wait of an operation (tv_sec == 0: not yet).  0 or -ETIMEDOUT. */
static int wait_change_locked(struct usm_ctx *ctx, struct timespec *dl)
{
	int r;

	if (dl->tv_sec == 0 && dl->tv_nsec == 0)
		deadline_in(dl, ctx->wait_ms);
	r = pthread_cond_timedwait(&ctx->cond, &ctx->lock, dl);
	return r == ETIMEDOUT ? -ETIMEDOUT : 0;
}

/*
 * Free at least one frame under the cap: give back reservations, else
 * evict (in this thread).  If only in-flight evictions can free frames,
 * wait for them.  Drops the lock.  0, -ENOSPC or -ETIMEDOUT.
 */
static int make_room_locked(struct usm_ctx *ctx, struct timespec *dl)
{
	uint64_t used = pool_used(ctx), need;

	if (release_all_resv_locked(ctx) > 0)
		return 0;
	need = used + 1 > ctx->limit ? used + 1 - ctx->limit : 1;
	/* A frontend that chose its batch size (usm_ctx_set_evict_batch)
	 * gets a whole batch when the pool is big enough: one store write
	 * and one invalidation per batch, not per 16 pages. */
	if (ctx->evict_batch_set && need < ctx->evict_batch &&
	    ctx->limit >= 8 * ctx->evict_batch)
		need = ctx->evict_batch;
	else if (need < 16 && ctx->limit >= 128)
		need = 16;
	if (arbiter_locked(ctx, need) > 0)
		return 0;
	if (ctx->inflight)
		return wait_change_locked(ctx, dl);
	return -ENOSPC;
}

static void zero_frame_locked(struct usm_ctx *ctx, usm_frame_t fr)
{
	if (ctx->ops.frame_zeroed && ctx->ops.frame_zeroed(ctx->priv, fr))
		return;
	memset(ctx->ops.frame_addr(ctx->priv, fr), 0, USM_PAGE_SIZE);
}

/* USM_FAULT_FRAME: take @want, which the frontend chose: a frame reserved
 * for @f (for whatever index), or a free one. */
static int take_given_frame_locked(struct usm_ctx *ctx, struct usm_file *f,
				   usm_frame_t want, usm_frame_t *fr)
{
	struct usm_resv *rv;
	uint64_t ri;

	if (want >= usm_pool_nr_frames(ctx->pool))
		return -ERANGE;
	ri = resv_index_of_frame(f, want, &rv);
	if (ri != PM_NONE)
		return usm_file_reservation_take(f, ri, fr);
	if (pool_take_placed_locked(ctx, want) != 0)
		return -EBUSY;
	*fr = want;
	return 0;
}

/* A page read from its slot (pp->store, pp->slot) is resident: the slot
 * is freed, or held until usm_swapin_settle() (USM_FAULT_KEEP_SLOT). */
static void swapin_landed(struct usm_ctx *ctx, struct usm_file *f,
			  struct usm_ppage *pp, unsigned int flags)
{
	if (flags & USM_FAULT_KEEP_SLOT) {
		pp->slot_held = true;
	} else {
		slot_free_locked(ctx, pp->store, pp->slot);
		pp->slot = USM_SLOT_NONE;
		pp->store = NULL;
	}
	pp->state = USM_PS_RESIDENT;
	policy_insert(f, pp);
	f->faults++;
	f->swapins++;
	ctx->faults++;
	ctx->swapins++;
}

static int fault_locked(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
			unsigned int flags, usm_frame_t *frame)
{
	struct timespec dl = { 0, 0 };
	unsigned int rounds = 0;
	struct usm_ppage *pp = NULL;
	usm_frame_t fr;
	void *e;
	int r;

again:
	if (f->dead)
		return -ENOENT;
	e = usm_pm_lookup(&f->map, index);
	if (usm_entry_is_page(e)) {
		pp = e;
		switch (pp->state) {
		case USM_PS_RESIDENT:
			f->hits++;
			ctx->hits++;
			if (pp->in_policy)
				f->eops->on_access(f->estate, &pp->pg);
			goto got;
		case USM_PS_EVICTING:
			/* Cancel: the batch notices (state/owner changed). */
			pp->state = USM_PS_RESIDENT;
			pp->owner = NULL;
			pp->slot = USM_SLOT_NONE;
			pp->store = NULL;
			policy_insert(f, pp);
			f->hits++;
			ctx->hits++;
			goto got;
		case USM_PS_WRITING:
		case USM_PS_FILLING:
			r = wait_change_locked(ctx, &dl);
			if (r)
				return r;
			goto again;
		default:
			return -EUCLEAN;
		}
	} else if (!usm_entry_is_swp(e) && (flags & USM_FAULT_NOALLOC)) {
		return -ENOENT;
	}

	/* The file's own cap (user.usm.limit): its own pages go first.  If
	 * none can go (store none, all pinned), the cap is soft. */
	if (f->pol.limit && f->resident >= limit_pages(f) &&
	    rounds < FAULT_MAX_ROUNDS && file_evictable(f)) {
		uint64_t over = f->resident + 1 - limit_pages(f);

		rounds++;
		if (evict_file_locked(ctx, f, over < 16 ? over : 16) > 0)
			goto again;
	}

	if (flags & USM_FAULT_FRAME) {
		r = take_given_frame_locked(ctx, f, *frame, &fr);
		if (r)
			return r;
		goto placed;
	}

	/* A frame: from the file's reservation, or under the cap. */
	if (!(e && usm_entry_is_resv(e)) && pool_used(ctx) >= ctx->limit) {
		if (++rounds > FAULT_MAX_ROUNDS)
			return -ENOSPC;
		r = make_room_locked(ctx, &dl);
		if (r)
			return r;
		goto again;
	}
	r = f->aops->place(ctx, f, index, &fr);
	if (r == -ENOSPC) {
		if (++rounds > FAULT_MAX_ROUNDS)
			return -ENOSPC;
		r = make_room_locked(ctx, &dl);
		if (r)
			return r;
		goto again;
	}
	if (r)
		return r;
placed:
	if (!e || usm_entry_is_resv(e)) {
		void *e2 = usm_pm_lookup(&f->map, index);

		/* A placement that ignored this index's reservation: give
		 * that reserved frame back. */
		if (e2 && usm_entry_is_resv(e2))
			resv_release_range(ctx, f, usm_entry_resv(e2), index,
					   index + 1);
		/* A hole: a zeroed frame. */
		pp = ppage_new(f, index);
		r = pp ? usm_pm_insert(&f->map, index, pp) : -ENOMEM;
		if (r) {
			free(pp);
			usm_pool_put(ctx->pool, fr);
			return r;
		}
		usm_pm_tag_set(&f->map, index, PM_DATA);
		page_set_frame(ctx, f, pp, fr);
		if (ctx->ops.zero_frame) {
			pp->state = USM_PS_FILLING;
			pp->busy++;
			file_get_locked(f);
			pthread_mutex_unlock(&ctx->lock);
			ctx->ops.zero_frame(ctx->priv, fr);
			pthread_mutex_lock(&ctx->lock);
			pthread_cond_broadcast(&ctx->cond);
			if (pp->dropped) {
				page_unbusy(ctx, f, pp);
				file_put_locked(f);
				goto again;
			}
			pp->busy--;
			file_put_locked(f);
		} else {
			zero_frame_locked(ctx, fr);
		}
		pp->state = USM_PS_RESIDENT;
		policy_insert(f, pp);
		f->faults++;
		ctx->faults++;
		goto got;
	}

	/* Swapped, and the caller overwrites the whole page: its old content
	 * is not read back, the frame is only zeroed (no stale data of
	 * another file is ever visible) and the slot is given up. */
	if (flags & USM_FAULT_OVERWRITE) {
		struct usm_cstore *cs = swp_store(ctx, e);
		usm_slot_t slot = usm_swp_slot(e);

		pp = ppage_new(f, index);
		if (!pp) {
			usm_pool_put(ctx->pool, fr);
			return -ENOMEM;
		}
		usm_pm_replace(&f->map, index, pp);	/* tags (DATA) kept */
		swapped_count_dec(ctx, f);
		page_set_frame(ctx, f, pp, fr);
		zero_frame_locked(ctx, fr);
		slot_free_locked(ctx, cs, slot);
		pp->state = USM_PS_RESIDENT;
		policy_insert(f, pp);
		f->faults++;
		ctx->faults++;
		goto got;
	}

	/* Swapped: read the slot into the frame, lock dropped. */
	{
		struct usm_cstore *cs = swp_store(ctx, e);
		usm_slot_t slot = usm_swp_slot(e);
		void *buf = ctx->ops.frame_addr(ctx->priv, fr);

		pp = ppage_new(f, index);
		if (!pp) {
			usm_pool_put(ctx->pool, fr);
			return -ENOMEM;
		}
		usm_pm_replace(&f->map, index, pp);	/* tags (DATA) kept */
		swapped_count_dec(ctx, f);
		page_set_frame(ctx, f, pp, fr);
		pp->store = cs;
		pp->slot = slot;
		pp->state = USM_PS_FILLING;
		pp->busy++;
		file_get_locked(f);
		pthread_mutex_unlock(&ctx->lock);
		pthread_rwlock_rdlock(&cs->io);
		r = usm_store_read(cs->st, &slot, &buf, 1);
		pthread_rwlock_unlock(&cs->io);
		pthread_mutex_lock(&ctx->lock);
		pthread_cond_broadcast(&ctx->cond);
		if (pp->dropped) {
			page_unbusy(ctx, f, pp);
			file_put_locked(f);
			goto again;
		}
		pp->busy--;
		file_put_locked(f);
		if (r) {
			page_clear_frame(ctx, f, pp);
			page_to_swapped(ctx, f, pp, cs, slot);
			return -EIO;
		}
		swapin_landed(ctx, f, pp, flags);
	}
got:
	if (flags & USM_FAULT_PIN)
		pp->pg.pins++;
	*frame = pp->pg.frame;
	return 0;
}

int usm_fault(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
	      unsigned int flags, usm_frame_t *frame)
{
	int r;

	pthread_mutex_lock(&ctx->lock);
	file_get_locked(f);
	r = fault_locked(ctx, f, index, flags, frame);
	file_put_locked(f);
	ctx_unlock(ctx);
	return r;
}

static void unpin_locked(struct usm_ctx *ctx, struct usm_file *f,
			 uint64_t index)
{
	void *e;

	e = usm_pm_lookup(&f->map, index);
	if (usm_entry_is_page(e) && ((struct usm_ppage *)e)->pg.pins) {
		((struct usm_ppage *)e)->pg.pins--;
	} else {
		/* Truncated while pinned: an orphan. */
		for (struct usm_list *p = f->orphans.next; p != &f->orphans;
		     p = p->next) {
			struct usm_ppage *pp = usm_container_of(p, struct usm_ppage,
								olink);
			if (pp->pg.index == index && pp->pg.pins) {
				pp->pg.pins--;
				orphan_maybe_free(ctx, f, pp);
				break;
			}
		}
	}
}

void usm_page_unpin(struct usm_ctx *ctx, struct usm_file *f, uint64_t index)
{
	pthread_mutex_lock(&ctx->lock);
	unpin_locked(ctx, f, index);
	ctx_unlock(ctx);
}

/*
 * Swap-in of a run: pages [@index, @index + @max) of @f that are swapped
 * to one store, read with one usm_store_read() (a file store: one preadv
 * per run of adjacent slots; "rados:": one operation per object, all in
 * flight at once) instead of one read per page, each a round trip with
 * the store's lock taken in turn.  Only what fits without waiting: the
 * run stops at the first page that is not swapped (or swapped elsewhere),
 * at the pool's cap and at the file's own, and where placement finds no
 * frame.  Pages are made FILLING as usm_fault() makes one, so that a
 * concurrent fault waits and a truncate marks them dropped.
 *
 * Returns the number of pages made resident from @index on, their frames
 * in @frames (0: nothing done, the caller faults @index the usual way:
 * it needs room made, or is no swapped page), or -EIO when the store
 * failed (every page of the run swapped again, as usm_fault() leaves
 * one).  A page dropped while read ends what is returned there; the
 * pages after it are resident (hits for the caller's next faults).
 */
#define SWAPIN_RUN_MAX	128

static long swapin_run_locked(struct usm_ctx *ctx, struct usm_file *f,
			      uint64_t index, uint64_t max, unsigned int flags,
			      usm_frame_t *frames)
{
	struct usm_ppage *pps[SWAPIN_RUN_MAX];
	usm_slot_t slots[SWAPIN_RUN_MAX];
	void *bufs[SWAPIN_RUN_MAX];
	struct usm_cstore *cs = NULL;
	uint64_t n = 0, i, done;
	bool stop = false;
	int r;

	if (flags & (USM_FAULT_OVERWRITE | USM_FAULT_FRAME))
		return 0;
	if (max > SWAPIN_RUN_MAX)
		max = SWAPIN_RUN_MAX;
	while (n < max) {
		void *e = usm_pm_lookup(&f->map, index + n);
		struct usm_ppage *pp;
		usm_frame_t fr;

		if (!usm_entry_is_swp(e) || (cs && swp_store(ctx, e) != cs))
			break;
		if (pool_used(ctx) >= ctx->limit ||
		    (f->pol.limit && f->resident >= limit_pages(f)))
			break;
		if (f->aops->place(ctx, f, index + n, &fr))
			break;
		pp = ppage_new(f, index + n);
		if (!pp) {
			usm_pool_put(ctx->pool, fr);
			break;
		}
		cs = swp_store(ctx, e);
		slots[n] = usm_swp_slot(e);
		usm_pm_replace(&f->map, index + n, pp);	/* tags (DATA) kept */
		swapped_count_dec(ctx, f);
		page_set_frame(ctx, f, pp, fr);
		pp->store = cs;
		pp->slot = slots[n];
		pp->state = USM_PS_FILLING;
		pp->busy++;
		bufs[n] = ctx->ops.frame_addr(ctx->priv, fr);
		pps[n++] = pp;
	}
	if (n == 0)
		return 0;

	file_get_locked(f);
	pthread_mutex_unlock(&ctx->lock);
	pthread_rwlock_rdlock(&cs->io);
	r = usm_store_read(cs->st, slots, bufs, n);
	pthread_rwlock_unlock(&cs->io);
	pthread_mutex_lock(&ctx->lock);
	pthread_cond_broadcast(&ctx->cond);

	done = n;
	for (i = 0; i < n; i++) {
		struct usm_ppage *pp = pps[i];

		if (pp->dropped) {
			page_unbusy(ctx, f, pp);
			if (!stop)
				done = i;
			stop = true;
			continue;
		}
		pp->busy--;
		if (r) {
			page_clear_frame(ctx, f, pp);
			page_to_swapped(ctx, f, pp, cs, slots[i]);
			continue;
		}
		swapin_landed(ctx, f, pp, flags);
		if (stop)
			continue;	/* not the caller's: a hit later */
		if (flags & USM_FAULT_PIN)
			pp->pg.pins++;
		frames[i] = pp->pg.frame;
	}
	file_put_locked(f);
	if (r)
		return -EIO;
	return (long)done;
}

long usm_fault_range(struct usm_ctx *ctx, struct usm_file *f, uint64_t first,
		     uint64_t nr, unsigned int flags, usm_frame_t *frames)
{
	uint64_t i;
	int r = 0;

	if (flags & USM_FAULT_FRAME)
		return -EINVAL;
	if (nr == 0)
		return 0;
	if (first + nr < first)
		return -ERANGE;
	pthread_mutex_lock(&ctx->lock);
	file_get_locked(f);
	for (i = 0; i < nr; i++) {
		long run = f->dead ? 0 : swapin_run_locked(ctx, f, first + i,
							     nr - i, flags,
							     &frames[i]);

		if (run < 0) {
			r = (int)run;
			break;
		}
		if (run > 0) {
			i += (uint64_t)run - 1;
			continue;
		}
		r = fault_locked(ctx, f, first + i, flags, &frames[i]);
		if (r == -ENOENT && (flags & USM_FAULT_NOALLOC) && !f->dead) {
			frames[i] = USM_FRAME_NONE;
			r = 0;
		}
		if (r)
			break;
	}
	file_put_locked(f);
	ctx_unlock(ctx);
	return i ? (long)i : r;
}

void usm_page_unpin_range(struct usm_ctx *ctx, struct usm_file *f,
			  uint64_t first, uint64_t nr,
			  const usm_frame_t *frames)
{
	uint64_t i;

	pthread_mutex_lock(&ctx->lock);
	for (i = 0; i < nr; i++)
		if (!frames || frames[i] != USM_FRAME_NONE)
			unpin_locked(ctx, f, first + i);
	ctx_unlock(ctx);
}
