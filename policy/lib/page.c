// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * page.c - the engine's page records: file references, page map entries,
 * reservations, and the frontend's reports about pages (added, swapped,
 * settled, truncated, punched).
 *
 *
 * Fast path: usm_fault() on a resident page is one radix lookup, the
 * policy's on_access and a counter, under the context's mutex.
 *
 * Page map entries (internal.h): a struct usm_ppage for a page that has a
 * frame (FILLING, RESIDENT, EVICTING, WRITING), a packed word for a
 * swapped page (store id and slot: no memory per swapped page), a tagged
 * reservation pointer for an unused reserved frame, nothing for a hole.
 *
 * Ownership rules, all under ctx->lock:
 *  - a page in the map holding a frame counts in file/ctx "resident"; a
 *    swapped one in "swapped"; unused reserved frames in "reserved";
 *    frames of dropped pages still in use (orphans) in "orphan_frames".
 *    Pool used frames = resident + reserved + orphan_frames.
 *  - while a page is EVICTING/WRITING its slot belongs to the eviction
 *    batch (pp->owner); a fault that cancels the eviction only flips the
 *    state back, and the batch frees its slot when it notices.
 *  - a page with busy != 0 (a batch or a filler holds a pointer to it) is
 *    never freed: truncate/release mark it dropped and move it to the
 *    file's orphan list; the last holder frees it.  Pinned pages that are
 *    truncated are orphans too, until usm_page_unpin().
 *  - a file is freed when it is released and no in-flight operation holds
 *    a reference (f->refs).
 *  - slots given up under the lock are freed by ctx_unlock(), after the
 *    lock is dropped (a store may be slow to free: hole punching).
 *
 * Counters: "faults" counts usm_fault() calls that had to make a page
 * resident (zero-fill or swap-in), "hits" those (and usm_access() calls)
 * that found it resident.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

/* ------------------------------------------------------------------ */
/* Files: references, page records                                    */

static __attribute__((noinline)) void file_free(struct usm_file *f)
{
	usm_pm_destroy(&f->map);
	free(f);
}

void file_get_locked(struct usm_file *f)
{
	f->refs++;
}

void file_put_locked(struct usm_file *f)
{
	if (--f->refs == 0)
		file_free(f);
}

void policy_insert(struct usm_file *f, struct usm_ppage *pp)
{
	pp->pg.node.next = pp->pg.node.prev = &pp->pg.node;
	pp->pg.pflags = 0;
	pp->pg.ptag = 0;
	pp->pg.pword = 0;
	f->eops->on_insert(f->estate, &pp->pg);
	pp->in_policy = true;
	f->in_policy++;
}

void policy_remove(struct usm_file *f, struct usm_ppage *pp)
{
	if (!pp->in_policy)
		return;
	f->eops->on_remove(f->estate, &pp->pg);
	pp->in_policy = false;
	f->in_policy--;
}

struct usm_ppage *ppage_new(struct usm_file *f, uint64_t index)
{
	struct usm_ppage *pp = calloc(1, sizeof(*pp));

	if (!pp)
		return NULL;
	pp->pg.index = index;
	pp->pg.frame = USM_FRAME_NONE;
	pp->pg.file = f;
	usm_list_init(&pp->pg.node);
	usm_list_init(&pp->olink);
	pp->slot = USM_SLOT_NONE;
	return pp;
}

void page_set_frame(struct usm_ctx *ctx, struct usm_file *f,
		    struct usm_ppage *pp, usm_frame_t fr)
{
	pp->pg.frame = fr;
	usm_pm_tag_set(&f->map, pp->pg.index, PM_FRAME);
	f->resident++;
	ctx->resident++;
}

/* The page gives its frame back to the pool. */
void page_clear_frame(struct usm_ctx *ctx, struct usm_file *f,
		      struct usm_ppage *pp)
{
	usm_pool_put(ctx->pool, pp->pg.frame);
	pp->pg.frame = USM_FRAME_NONE;
	usm_pm_tag_clear(&f->map, pp->pg.index, PM_FRAME);
	f->resident--;
	ctx->resident--;
}

struct usm_cstore *swp_store(struct usm_ctx *ctx, const void *e)
{
	return ctx->store_by_id[usm_swp_store_id(e)];
}

/*
 * Page @pp (no frame any more, held by nobody else) now lives only in
 * (@cs, @slot): its map entry becomes a packed one and the record goes.
 */
void page_to_swapped(struct usm_ctx *ctx, struct usm_file *f,
		     struct usm_ppage *pp, struct usm_cstore *cs,
		     usm_slot_t slot)
{
	usm_pm_replace(&f->map, pp->pg.index, usm_swp_entry(cs->id, slot));
	f->swapped++;
	ctx->swapped++;
	free(pp);
}

void swapped_count_dec(struct usm_ctx *ctx, struct usm_file *f)
{
	f->swapped--;
	ctx->swapped--;
}

void orphan_maybe_free(struct usm_ctx *ctx, struct usm_file *f,
		       struct usm_ppage *pp)
{
	if (pp->busy || pp->pg.pins)
		return;
	if (pp->pg.frame != USM_FRAME_NONE) {
		usm_pool_put(ctx->pool, pp->pg.frame);
		ctx->orphan_frames--;
	}
	slot_free_locked(ctx, pp->store, pp->slot);
	usm_list_del(&pp->olink);
	(void)f;
	free(pp);
}

/*
 * Remove page @pp (already deleted from the map) for a reason of its own:
 * free its frame and slot now, or make it an orphan when someone still
 * holds it (busy) or, unless @force, the frontend has it pinned.
 */
void page_drop(struct usm_ctx *ctx, struct usm_file *f,
	       struct usm_ppage *pp, bool force)
{
	bool has_frame = pp->pg.frame != USM_FRAME_NONE;

	policy_remove(f, pp);
	if (has_frame) {
		f->resident--;
		ctx->resident--;
	}
	if (pp->busy || (!force && pp->pg.pins)) {
		pp->dropped = true;
		if (has_frame)
			ctx->orphan_frames++;
		usm_list_add(&pp->olink, &f->orphans);
		return;
	}
	if (has_frame)
		usm_pool_put(ctx->pool, pp->pg.frame);
	slot_free_locked(ctx, pp->store, pp->slot);
	free(pp);
}

/* A batch or filler is done with @pp. */
void page_unbusy(struct usm_ctx *ctx, struct usm_file *f,
		 struct usm_ppage *pp)
{
	pp->busy--;
	if (pp->dropped)
		orphan_maybe_free(ctx, f, pp);
}

/* ------------------------------------------------------------------ */
/* Reservations                                                       */

struct usm_pool *usm_file_pool(struct usm_file *f)
{
	return f->ctx->pool;
}

uint64_t *usm_file_alloc_word(struct usm_file *f)
{
	return &f->alloc_word;
}

uint64_t usm_file_ino(const struct usm_file *f)
{
	return f->ino;
}

int usm_file_range_empty(struct usm_file *f, uint64_t index, uint64_t nr)
{
	uint64_t n;

	if (nr == 0)
		return 1;
	if (index + nr < index)
		return 0;
	n = usm_pm_next(&f->map, index, PM_PRESENT, NULL);
	return n == PM_NONE || n >= index + nr;
}

static void resv_free_if_empty(struct usm_resv *r)
{
	if (r->left == 0) {
		usm_list_del(&r->link);
		free(r);
	}
}

int usm_file_reservation_take(struct usm_file *f, uint64_t index,
			      usm_frame_t *frame)
{
	void *e = usm_pm_lookup(&f->map, index);
	struct usm_resv *r;

	if (!e || !usm_entry_is_resv(e))
		return -ENOENT;
	r = usm_entry_resv(e);
	*frame = r->first + (index - r->index);
	usm_pm_delete(&f->map, index);
	r->left--;
	f->reserved--;
	f->ctx->reserved--;
	resv_free_if_empty(r);
	return 0;
}

int usm_file_reservation_add_flags(struct usm_file *f, uint64_t index,
				   usm_frame_t first, uint64_t nr,
				   bool granted)
{
	struct usm_resv *r;
	uint64_t i;

	if (nr == 0 || index + nr < index || first + nr < first ||
	    first + nr > usm_pool_nr_frames(f->ctx->pool))
		return -EINVAL;
	if (!usm_file_range_empty(f, index, nr))
		return -EEXIST;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->index = index;
	r->first = first;
	r->nr = nr;
	r->left = nr;
	r->granted = granted;
	for (i = 0; i < nr; i++) {
		if (usm_pm_insert(&f->map, index + i, usm_resv_entry(r)) != 0) {
			while (i--)
				usm_pm_delete(&f->map, index + i);
			free(r);
			return -ENOMEM;
		}
	}
	usm_list_add(&r->link, &f->resv);
	f->reserved += nr;
	f->ctx->reserved += nr;
	return 0;
}

int usm_file_reservation_add(struct usm_file *f, uint64_t index,
			     usm_frame_t first, uint64_t nr)
{
	return usm_file_reservation_add_flags(f, index, first, nr, false);
}

/* Give back the unused frames of @r for indices in [lo, hi). */
uint64_t resv_release_range(struct usm_ctx *ctx, struct usm_file *f,
			    struct usm_resv *r, uint64_t lo, uint64_t hi)
{
	uint64_t a = lo > r->index ? lo : r->index;
	uint64_t b = hi < r->index + r->nr ? hi : r->index + r->nr;
	uint64_t n = 0;

	for (uint64_t i = a; i < b; i++) {
		if (usm_pm_lookup(&f->map, i) != usm_resv_entry(r))
			continue;
		usm_pm_delete(&f->map, i);
		usm_pool_put(ctx->pool, r->first + (i - r->index));
		r->left--;
		n++;
	}
	f->reserved -= n;
	ctx->reserved -= n;
	resv_free_if_empty(r);
	return n;
}

uint64_t file_release_resv(struct usm_ctx *ctx, struct usm_file *f,
			   uint64_t lo, uint64_t hi, bool granted_too)
{
	struct usm_list *pos = f->resv.next, *nx;
	uint64_t n = 0;

	for (; pos != &f->resv; pos = nx) {
		struct usm_resv *r = usm_container_of(pos, struct usm_resv, link);

		nx = pos->next;
		if (r->granted && !granted_too)
			continue;
		if (r->index >= hi || r->index + r->nr <= lo)
			continue;
		n += resv_release_range(ctx, f, r, lo, hi);
	}
	return n;
}

/* Under pressure: every file's unused, not granted, reserved frames. */
uint64_t release_all_resv_locked(struct usm_ctx *ctx)
{
	uint64_t n = 0;

	if (ctx->reserved == 0)
		return 0;
	for (struct usm_list *p = ctx->files.next; p != &ctx->files; p = p->next) {
		struct usm_file *f = usm_container_of(p, struct usm_file, link);

		if (f->reserved)
			n += file_release_resv(ctx, f, 0, UINT64_MAX, false);
	}
	return n;
}

usm_frame_t usm_file_frame_before(struct usm_file *f, uint64_t index,
				  uint64_t *dist)
{
	void *e = NULL;
	uint64_t i;

	if (index == 0)
		return USM_FRAME_NONE;
	i = usm_pm_prev(&f->map, index - 1, PM_FRAME, &e);
	if (i == PM_NONE || !e || usm_entry_is_resv(e))
		return USM_FRAME_NONE;
	if (dist)
		*dist = index - i;
	return ((struct usm_ppage *)e)->pg.frame;
}

/* An unused reservation of any file holding frame @fr gives it back to
 * the pool (see usm.h, usm_unreserve_pages()).  Under ctx->lock. */
bool resv_steal_frame_locked(struct usm_ctx *ctx, usm_frame_t fr)
{
	for (struct usm_list *p = ctx->files.next; p != &ctx->files; p = p->next) {
		struct usm_file *f = usm_container_of(p, struct usm_file, link);
		struct usm_resv *r;
		uint64_t i;

		if (!f->reserved)
			continue;
		i = resv_index_of_frame(f, fr, &r);
		if (i != PM_NONE) {
			resv_release_range(ctx, f, r, i, i + 1);
			ctx->resv_stolen++;
			return true;
		}
	}
	return false;
}

/* Take frame @fr for a page the frontend placed there: free in the pool,
 * or held by a reservation the frontend dropped.  0 or -EBUSY. */
int pool_take_placed_locked(struct usm_ctx *ctx, usm_frame_t fr)
{
	if (usm_pool_take(ctx->pool, fr) == 0)
		return 0;
	if (resv_steal_frame_locked(ctx, fr) && usm_pool_take(ctx->pool, fr) == 0)
		return 0;
	return -EBUSY;
}

/* Find the reservation run of @f that holds frame @fr and still has it
 * unused; returns the index it was reserved for, or PM_NONE. */
uint64_t resv_index_of_frame(struct usm_file *f, usm_frame_t fr,
			     struct usm_resv **out)
{
	for (struct usm_list *p = f->resv.next; p != &f->resv; p = p->next) {
		struct usm_resv *r = usm_container_of(p, struct usm_resv, link);

		if (fr >= r->first && fr < r->first + r->nr) {
			uint64_t i = r->index + (fr - r->first);

			if (usm_pm_lookup(&f->map, i) == usm_resv_entry(r)) {
				*out = r;
				return i;
			}
			return PM_NONE;
		}
	}
	return PM_NONE;
}

int usm_page_added(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
		   usm_frame_t frame)
{
	struct usm_ppage *pp;
	struct usm_resv *r = NULL;
	usm_frame_t got;
	void *e;
	int rc = 0;

	pthread_mutex_lock(&ctx->lock);
	if (frame >= usm_pool_nr_frames(ctx->pool)) {
		rc = -ERANGE;
		goto out;
	}
	e = usm_pm_lookup(&f->map, index);
	if (e && !usm_entry_is_resv(e)) {
		rc = -EEXIST;
		goto out;
	}
	pp = ppage_new(f, index);
	if (!pp) {
		rc = -ENOMEM;
		goto out;
	}
	if (e && usm_entry_is_resv(e) &&
	    usm_entry_resv(e)->first + (index - usm_entry_resv(e)->index) == frame) {
		usm_file_reservation_take(f, index, &got);
	} else {
		uint64_t ri = resv_index_of_frame(f, frame, &r);

		if (ri != PM_NONE) {
			/* Reserved for another index of this file. */
			usm_file_reservation_take(f, ri, &got);
		} else if (pool_take_placed_locked(ctx, frame) != 0) {
			free(pp);
			rc = -EBUSY;
			goto out;
		}
		if (e && usm_entry_is_resv(e)) {
			/* Index was reserved with another frame: free that
			 * one, the kernel chose differently. */
			r = usm_entry_resv(e);
			resv_release_range(ctx, f, r, index, index + 1);
		}
	}
	rc = usm_pm_insert(&f->map, index, pp);
	if (rc) {
		usm_pool_put(ctx->pool, frame);
		free(pp);
		goto out;
	}
	usm_pm_tag_set(&f->map, index, PM_DATA);
	page_set_frame(ctx, f, pp, frame);
	pp->state = USM_PS_RESIDENT;
	policy_insert(f, pp);
	f->faults++;
	ctx->faults++;
out:
	ctx_unlock(ctx);
	return rc;
}

int usm_page_swapped(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
		     const char *store, usm_slot_t slot)
{
	struct usm_cstore *cs;
	int rc;

	if (slot >= (1ull << 56))
		return -ERANGE;
	pthread_mutex_lock(&ctx->lock);
	cs = store_find(ctx, store);
	if (!cs || !cs->writable) {
		rc = -EINVAL;
		goto out;
	}
	if (usm_pm_lookup(&f->map, index)) {
		rc = -EEXIST;
		goto out;
	}
	pthread_rwlock_wrlock(&cs->io);
	rc = usm_store_claim(cs->st, slot);
	pthread_rwlock_unlock(&cs->io);
	if (rc)
		goto out;
	rc = usm_pm_insert(&f->map, index, usm_swp_entry(cs->id, slot));
	if (rc) {
		slot_free_locked(ctx, cs, slot);
		goto out;
	}
	usm_pm_tag_set(&f->map, index, PM_DATA);
	f->swapped++;
	ctx->swapped++;
out:
	ctx_unlock(ctx);
	return rc;
}

int usm_swapin_settle(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
		      usm_frame_t frame, enum usm_swapin_fate fate)
{
	struct usm_ppage *pp;
	struct usm_cstore *cs;
	usm_slot_t slot;
	void *e;
	int rc = 0;

	pthread_mutex_lock(&ctx->lock);
	e = usm_pm_lookup(&f->map, index);
	pp = usm_entry_is_page(e) ? e : NULL;
	if (!pp || !pp->slot_held || pp->pg.frame != frame) {
		rc = -ENOENT;
		goto out;
	}
	cs = pp->store;
	slot = pp->slot;
	pp->slot_held = false;
	switch (fate) {
	case USM_SWAPIN_UNTOLD:
		if (pp->state == USM_PS_RESIDENT && !pp->busy && !pp->pg.pins) {
			policy_remove(f, pp);
			page_clear_frame(ctx, f, pp);
			page_to_swapped(ctx, f, pp, cs, slot);
			f->swapins--;
			ctx->swapins--;
			break;
		}
		/* In use here meanwhile: keep the slot rather than guess. */
		pp->slot_held = true;
		rc = -EBUSY;
		break;
	case USM_SWAPIN_GONE:
		usm_pm_delete(&f->map, index);
		page_drop(ctx, f, pp, false);	/* frees frame and slot */
		break;
	default:
		slot_free_locked(ctx, cs, slot);
		pp->slot = USM_SLOT_NONE;
		pp->store = NULL;
		break;
	}
out:
	ctx_unlock(ctx);
	return rc;
}

int usm_page_in_slot(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
		     const char *store, usm_slot_t slot)
{
	int in;
	void *e;

	pthread_mutex_lock(&ctx->lock);
	e = usm_pm_lookup(&f->map, index);
	in = usm_entry_is_swp(e) && usm_swp_slot(e) == slot &&
	     swp_store(ctx, e) == store_find(ctx, store);
	ctx_unlock(ctx);
	return in;
}

void usm_access(struct usm_ctx *ctx, struct usm_file *f, uint64_t index)
{
	void *e;

	pthread_mutex_lock(&ctx->lock);
	e = usm_pm_lookup(&f->map, index);
	if (usm_entry_is_page(e)) {
		struct usm_ppage *pp = e;

		if (pp->state == USM_PS_RESIDENT && pp->in_policy) {
			f->eops->on_access(f->estate, &pp->pg);
			f->hits++;
			ctx->hits++;
		}
	}
	ctx_unlock(ctx);
}

enum usm_page_state usm_page_state(struct usm_ctx *ctx, struct usm_file *f,
				   uint64_t index, usm_frame_t *frame)
{
	enum usm_page_state s = USM_PAGE_HOLE;
	usm_frame_t fr = USM_FRAME_NONE;
	void *e;

	pthread_mutex_lock(&ctx->lock);
	e = usm_pm_lookup(&f->map, index);
	if (usm_entry_is_swp(e)) {
		s = USM_PAGE_SWAPPED;
	} else if (usm_entry_is_page(e)) {
		struct usm_ppage *pp = e;

		fr = pp->pg.frame;
		switch (pp->state) {
		case USM_PS_EVICTING:
		case USM_PS_WRITING:
			s = USM_PAGE_EVICTING;
			break;
		default:
			s = USM_PAGE_RESIDENT;
			break;
		}
	}
	ctx_unlock(ctx);
	if (frame)
		*frame = fr;
	return s;
}

uint64_t usm_next_data(struct usm_ctx *ctx, struct usm_file *f, uint64_t from)
{
	uint64_t i;

	pthread_mutex_lock(&ctx->lock);
	i = usm_pm_next(&f->map, from, PM_DATA, NULL);
	ctx_unlock(ctx);
	return i == PM_NONE ? UINT64_MAX : i;
}

int usm_truncate(struct usm_ctx *ctx, struct usm_file *f, uint64_t nr_pages)
{
	pthread_mutex_lock(&ctx->lock);
	file_drop_range(ctx, f, nr_pages, UINT64_MAX, false);
	pthread_cond_broadcast(&ctx->cond);
	ctx_unlock(ctx);
	return 0;
}

int usm_punch(struct usm_ctx *ctx, struct usm_file *f, uint64_t first,
	      uint64_t nr)
{
	uint64_t end = first + nr < first ? UINT64_MAX : first + nr;

	if (nr == 0)
		return 0;
	pthread_mutex_lock(&ctx->lock);
	file_drop_range(ctx, f, first, end, false);
	pthread_cond_broadcast(&ctx->cond);
	ctx_unlock(ctx);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reservations granted to the frontend                               */

int usm_reserve(struct usm_ctx *ctx, struct usm_file *f, uint64_t index,
		usm_frame_t *first, uint64_t *nr)
{
	int r;

	pthread_mutex_lock(&ctx->lock);
	if (!f->aops->reserve) {
		r = -EOPNOTSUPP;
	} else {
		r = f->aops->reserve(ctx, f, index, first, nr);
		if (!r) {
			void *e = usm_pm_lookup(&f->map, index);

			if (e && usm_entry_is_resv(e))
				usm_entry_resv(e)->granted = true;
		}
	}
	ctx_unlock(ctx);
	return r;
}

void usm_unreserve_pages(struct usm_ctx *ctx, struct usm_file *f,
			 uint64_t first, uint64_t end)
{
	if (first >= end)
		return;
	pthread_mutex_lock(&ctx->lock);
	if (f->reserved)
		file_release_resv(ctx, f, first, end, true);
	ctx_unlock(ctx);
}

int usm_unreserve(struct usm_ctx *ctx, struct usm_file *f, usm_frame_t first,
		  uint64_t nr)
{
	int r = -EINVAL;

	pthread_mutex_lock(&ctx->lock);
	for (struct usm_list *p = f->resv.next; p != &f->resv; p = p->next) {
		struct usm_resv *rv = usm_container_of(p, struct usm_resv, link);

		if (first >= rv->first && first + nr <= rv->first + rv->nr &&
		    first + nr >= first) {
			uint64_t lo = rv->index + (first - rv->first);

			resv_release_range(ctx, f, rv, lo, lo + nr);
			r = 0;
			break;
		}
	}
	ctx_unlock(ctx);
	return r;
}
