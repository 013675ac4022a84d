// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * evict.c - eviction: choosing victims with each file's policy, writing a
 * batch to its store through the backend, and the arbiter that decides
 * which files give up frames when the pool or a limit is short.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

/* Eviction                                                           */

bool file_evictable(const struct usm_file *f)
{
	return !f->dead && f->estate && !(f->eops->flags & USM_EVICT_NEVER) &&
	       f->eops->victims && f->store && f->store->writable &&
	       f->in_policy > 0;
}

static int ppage_index_cmp(const void *a, const void *b)
{
	const struct usm_ppage *x = *(struct usm_ppage *const *)a;
	const struct usm_ppage *y = *(struct usm_ppage *const *)b;

	return (x->pg.index > y->pg.index) - (x->pg.index < y->pg.index);
}

/*
 * One batch: up to ctx->evict_batch pages of @f go out, as the state
 * machine in usm.h says.  Drops and retakes ctx->lock.  Returns the number
 * of pages now SWAPPED.
 */
static size_t evict_batch_locked(struct usm_ctx *ctx, struct usm_file *f,
				 size_t want)
{
	struct usm_page *vic[USM_EVICT_BATCH_MAX];
	struct usm_ppage *pps[USM_EVICT_BATCH_MAX];
	struct usm_page_ref refs[USM_EVICT_BATCH_MAX];
	struct usm_page_ref crefs[USM_EVICT_BATCH_MAX];
	struct usm_page_ref cancel[USM_EVICT_BATCH_MAX];
	usm_slot_t slots[USM_EVICT_BATCH_MAX];
	void *bufs[USM_EVICT_BATCH_MAX];
	size_t widx[USM_EVICT_BATCH_MAX];
	struct usm_cstore *cs = f->store;
	const void *me = &vic;	/* this batch's identity */
	size_t k, nv = 0, m = 0, w = 0, nc = 0, done = 0, i;
	int err, werr = 0;

	if (!file_evictable(f))
		return 0;
	if (want > ctx->evict_batch)
		want = ctx->evict_batch;
	k = f->eops->victims(f->estate, vic, want);
	if (k > want)
		k = want;
	/* The pages that can go, in file order: their slots are taken as
	 * runs of adjacent slots, so the batch is written in one call per
	 * run and neighbours in the file stay neighbours in the store. */
	for (i = 0; i < k; i++) {
		struct usm_ppage *pp = usm_ppage_of(vic[i]);

		if (pp->in_policy) {
			pp->in_policy = false;
			f->in_policy--;
		}
		if (pp->state != USM_PS_RESIDENT || pp->pg.pins || pp->busy ||
		    pp->slot_held) {
			/* The policy gave a page it must not: keep it. */
			if (pp->state == USM_PS_RESIDENT)
				policy_insert(f, pp);
			continue;
		}
		pps[nv++] = pp;
	}
	if (nv > 1)
		qsort(pps, nv, sizeof(*pps), ppage_index_cmp);
	pthread_rwlock_wrlock(&cs->io);
	while (m < nv) {
		usm_slot_t first;
		uint64_t nr, j;

		if (usm_store_alloc_run(cs->st, nv - m, &first, &nr))
			break;
		for (j = 0; j < nr; j++)
			slots[m + j] = first + j;
		m += nr;
	}
	pthread_rwlock_unlock(&cs->io);
	/* No room in the store for the rest: they stay resident. */
	for (i = m; i < nv; i++)
		policy_insert(f, pps[i]);
	for (i = 0; i < m; i++) {
		struct usm_ppage *pp = pps[i];

		pp->state = USM_PS_EVICTING;
		pp->owner = me;
		pp->busy++;
		pp->store = cs;
		pp->slot = slots[i];
		f->inflight++;
		ctx->inflight++;
		refs[i] = (struct usm_page_ref){
			.file = f, .ino = f->ino, .index = pp->pg.index,
			.frame = pp->pg.frame, .slot = slots[i], .err = 0,
		};
	}
	if (m == 0)
		return 0;
	file_get_locked(f);

	pthread_mutex_unlock(&ctx->lock);
	err = ctx->ops.unmap(ctx->priv, refs, m);
	pthread_mutex_lock(&ctx->lock);

	for (i = 0; i < m; i++) {
		struct usm_ppage *pp = pps[i];
		bool mine = pp->owner == me && pp->state == USM_PS_EVICTING;

		if (!pp->dropped && mine && !err && !refs[i].err) {
			pp->state = USM_PS_WRITING;
			bufs[w] = ctx->ops.frame_addr(ctx->priv, pp->pg.frame);
			slots[w] = refs[i].slot;
			widx[w++] = i;
			continue;
		}
		/* Not going out: the batch frees its slot. */
		slot_free_locked(ctx, cs, refs[i].slot);
		if (pp->owner == me) {
			pp->owner = NULL;
			pp->slot = USM_SLOT_NONE;
			pp->store = NULL;
		}
		if (!pp->dropped && mine) {
			/* The backend refused: stays resident. */
			pp->state = USM_PS_RESIDENT;
			policy_insert(f, pp);
		} else if (!pp->dropped) {
			/* A fault cancelled it. */
			cancel[nc++] = refs[i];
		}
		f->inflight--;
		ctx->inflight--;
		page_unbusy(ctx, f, pp);
	}

	if (w) {
		pthread_mutex_unlock(&ctx->lock);
		pthread_rwlock_wrlock(&cs->io);
		werr = usm_store_write(cs->st, slots, bufs, w);
		pthread_rwlock_unlock(&cs->io);
		for (i = 0; i < w; i++)
			crefs[i] = refs[widx[i]];
		if (!werr && ctx->ops.commit)
			ctx->ops.commit(ctx->priv, crefs, w);
		pthread_mutex_lock(&ctx->lock);
	}
	for (i = 0; i < w; i++) {
		struct usm_ppage *pp = pps[widx[i]];

		f->inflight--;
		ctx->inflight--;
		pp->owner = NULL;
		if (pp->dropped) {
			slot_free_locked(ctx, cs, crefs[i].slot);
			pp->slot = USM_SLOT_NONE;
			pp->store = NULL;
			page_unbusy(ctx, f, pp);
			continue;
		}
		if (werr || crefs[i].err) {
			slot_free_locked(ctx, cs, crefs[i].slot);
			pp->slot = USM_SLOT_NONE;
			pp->store = NULL;
			pp->state = USM_PS_RESIDENT;
			policy_insert(f, pp);
			if (werr)
				cancel[nc++] = crefs[i];
			page_unbusy(ctx, f, pp);
			continue;
		}
		page_clear_frame(ctx, f, pp);
		f->evictions++;
		ctx->evictions++;
		/* A WRITING page is held by its batch only (faults wait,
		 * so nobody pins it): the record can go. */
		pp->busy--;
		page_to_swapped(ctx, f, pp, cs, crefs[i].slot);
		done++;
	}
	pthread_cond_broadcast(&ctx->cond);
	if (nc && ctx->ops.cancel) {
		pthread_mutex_unlock(&ctx->lock);
		ctx->ops.cancel(ctx->priv, cancel, nc);
		pthread_mutex_lock(&ctx->lock);
	}
	file_put_locked(f);
	return done;
}

/* Up to @nr pages of @f, in batches. */
long evict_file_locked(struct usm_ctx *ctx, struct usm_file *f,
		       uint64_t nr)
{
	long total = 0;

	file_get_locked(f);
	while ((uint64_t)total < nr) {
		uint64_t want = nr - (uint64_t)total;
		size_t n = evict_batch_locked(ctx, f, want > ctx->evict_batch ?
					      ctx->evict_batch : (size_t)want);
		if (n == 0)
			break;
		total += (long)n;
	}
	file_put_locked(f);
	return total;
}

/*
 * The arbiter: free @need frames by eviction.  Files over their own limit
 * first (largest excess first), then the lowest prio class with something
 * to give, where each file gives in proportion to its resident size.  A
 * file that gives nothing is skipped for the rest of this round.
 */
long arbiter_locked(struct usm_ctx *ctx, uint64_t need)
{
	uint64_t gen = ++ctx->gen;
	long total = 0;

	while ((uint64_t)total < need) {
		struct usm_file *best = NULL, **cls;
		uint64_t excess = 0, sum = 0, left = need - (uint64_t)total;
		uint32_t prio = UINT32_MAX;
		size_t ncls = 0, j;
		struct usm_list *p;

		for (p = ctx->files.next; p != &ctx->files; p = p->next) {
			struct usm_file *f = usm_container_of(p, struct usm_file, link);
			uint64_t lim = limit_pages(f);

			if (f->skip_gen == gen || !file_evictable(f))
				continue;
			if (f->pol.limit && f->resident > lim &&
			    f->resident - lim > excess) {
				best = f;
				excess = f->resident - lim;
			}
			if (f->pol.prio < prio)
				prio = f->pol.prio;
		}
		if (best) {
			long n;

			/* Our own reference: the file may be released while
			 * the lock is dropped. */
			file_get_locked(best);
			n = evict_file_locked(ctx, best, excess < left ? excess : left);
			if (n <= 0)
				best->skip_gen = gen;
			file_put_locked(best);
			total += n > 0 ? n : 0;
			continue;
		}
		if (prio == UINT32_MAX)
			break;
		for (p = ctx->files.next; p != &ctx->files; p = p->next) {
			struct usm_file *f = usm_container_of(p, struct usm_file, link);

			if (f->skip_gen != gen && file_evictable(f) &&
			    f->pol.prio == prio)
				ncls++;
		}
		cls = malloc(ncls * sizeof(*cls));
		if (!cls)
			break;
		j = 0;
		for (p = ctx->files.next; p != &ctx->files && j < ncls; p = p->next) {
			struct usm_file *f = usm_container_of(p, struct usm_file, link);

			if (f->skip_gen != gen && file_evictable(f) &&
			    f->pol.prio == prio) {
				file_get_locked(f);
				cls[j++] = f;
				sum += f->resident;
			}
		}
		ncls = j;
		for (j = 0; j < ncls; j++) {
			struct usm_file *f = cls[j];
			uint64_t quota, room;
			long n;

			room = need > (uint64_t)total ? need - (uint64_t)total : 0;
			quota = sum ? (left * f->resident + sum - 1) / sum : left;
			if (quota > room)
				quota = room;
			if (quota == 0)
				continue;
			n = evict_file_locked(ctx, f, quota);
			if (n <= 0)
				f->skip_gen = gen;
			total += n > 0 ? n : 0;
		}
		for (j = 0; j < ncls; j++)
			file_put_locked(cls[j]);
		free(cls);
	}
	return total;
}

long balance_locked(struct usm_ctx *ctx, unsigned int flags)
{
	uint64_t low = wm_frames(ctx, ctx->low_pct);
	uint64_t high = wm_frames(ctx, ctx->high_pct);
	uint64_t used = pool_used(ctx);

	if (!(flags & USM_BALANCE_FORCE) && used <= high)
		return 0;
	if (used <= low)
		return 0;
	release_all_resv_locked(ctx);
	used = pool_used(ctx);
	if (used <= low)
		return 0;
	return arbiter_locked(ctx, used - low);
}

long usm_balance(struct usm_ctx *ctx, unsigned int flags)
{
	long n;

	pthread_mutex_lock(&ctx->lock);
	n = balance_locked(ctx, flags);
	ctx_unlock(ctx);
	return n;
}

long usm_evict_file(struct usm_ctx *ctx, struct usm_file *f, uint64_t nr)
{
	long n;

	pthread_mutex_lock(&ctx->lock);
	n = evict_file_locked(ctx, f, nr);
	ctx_unlock(ctx);
	return n;
}

int usm_need_balance(struct usm_ctx *ctx)
{
	int r;

	pthread_mutex_lock(&ctx->lock);
	r = pool_used(ctx) > wm_frames(ctx, ctx->high_pct);
	ctx_unlock(ctx);
	return r;
}
