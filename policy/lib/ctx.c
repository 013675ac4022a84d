// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ctx.c - the engine: a context's pool, files, page maps, stores, faults,
 * eviction and the arbiter (usm/usm.h).
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define FAULT_MAX_ROUNDS	64

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t pool_used(const struct usm_ctx *ctx)
{
	return usm_pool_nr_frames(ctx->pool) - usm_pool_nr_free(ctx->pool);
}

uint64_t usm_ctx_headroom(const struct usm_ctx *ctx)
{
	uint64_t used = pool_used(ctx);

	return used >= ctx->limit ? 0 : ctx->limit - used;
}

static uint64_t wm_frames(const struct usm_ctx *ctx, uint32_t pct)
{
	return ctx->limit * pct / 100;
}

/* ------------------------------------------------------------------ */
/* Stores                                                             */

/* In ctx->store_flags, never passed to usm_store_open(): set by
 * usm_ctx_keep_slots(). */
#define CTX_KEEP_SLOTS	0x80000000u

static struct usm_cstore *store_find(struct usm_ctx *ctx, const char *name)
{
	if (!name || !*name || !strcmp(name, "default"))
		return ctx->dflt;
	if (!strcmp(name, "none"))
		return ctx->none;
	for (struct usm_cstore *cs = ctx->stores; cs; cs = cs->next)
		if (!strcmp(cs->name, name))
			return cs;
	return NULL;
}

static int store_open(struct usm_ctx *ctx, const char *name, const char *spec,
		      unsigned int flags, struct usm_cstore **out, char *err,
		      size_t errlen)
{
	struct usm_cstore *cs;
	int r;

	if (strlen(name) > USM_NAME_MAX) {
		set_err(err, errlen, "store name '%s' too long", name);
		return -EINVAL;
	}
	if (ctx->nr_stores == USM_MAX_STORES) {
		set_err(err, errlen, "%s: too many stores (at most %u)", name,
			USM_MAX_STORES);
		return -EMFILE;
	}
	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	r = usm_store_open(name, spec, flags, &cs->st, err, errlen);
	if (r) {
		free(cs);
		return r;
	}
	snprintf(cs->name, sizeof(cs->name), "%s", name);
	cs->writable = usm_store_writable(cs->st) > 0;
	cs->id = ctx->nr_stores;
	ctx->store_by_id[ctx->nr_stores++] = cs;
	pthread_mutex_init(&cs->io, NULL);
	cs->next = ctx->stores;
	ctx->stores = cs;
	*out = cs;
	return 0;
}

static void store_slot_free(struct usm_cstore *cs, usm_slot_t slot)
{
	if (!cs || !cs->st || slot == USM_SLOT_NONE)
		return;
	pthread_mutex_lock(&cs->io);
	usm_store_free(cs->st, slot);
	pthread_mutex_unlock(&cs->io);
}

/*
 * Free a slot once the ctx lock is dropped: a store may take its time
 * (the file store punches a hole), and nothing refers to the slot any
 * more.  Falls back to freeing at once when out of memory.
 */
static void slot_free_locked(struct usm_ctx *ctx, struct usm_cstore *cs,
			     usm_slot_t slot)
{
	if (!cs || slot == USM_SLOT_NONE)
		return;
	if (ctx->npend == ctx->cap_pend) {
		size_t cap = ctx->cap_pend ? ctx->cap_pend * 2 : 16;
		struct usm_pending_free *p = realloc(ctx->pend, cap * sizeof(*p));

		if (!p) {
			store_slot_free(cs, slot);
			return;
		}
		ctx->pend = p;
		ctx->cap_pend = cap;
	}
	ctx->pend[ctx->npend].cs = cs;
	ctx->pend[ctx->npend].slot = slot;
	ctx->npend++;
}

/* Unlock the context, then free the slots given up while it was held. */
static void ctx_unlock(struct usm_ctx *ctx)
{
	struct usm_pending_free *p = ctx->pend;
	size_t n = ctx->npend;

	ctx->pend = NULL;
	ctx->npend = ctx->cap_pend = 0;
	pthread_mutex_unlock(&ctx->lock);
	for (size_t i = 0; i < n; i++)
		store_slot_free(p[i].cs, p[i].slot);
	free(p);
}

/* ------------------------------------------------------------------ */
/* Files: references, page records                                    */

static __attribute__((noinline)) void file_free(struct usm_file *f)
{
	usm_pm_destroy(&f->map);
	free(f);
}

static void file_get_locked(struct usm_file *f)
{
	f->refs++;
}

static void file_put_locked(struct usm_file *f)
{
	if (--f->refs == 0)
		file_free(f);
}

static void policy_insert(struct usm_file *f, struct usm_ppage *pp)
{
	pp->pg.node.next = pp->pg.node.prev = &pp->pg.node;
	pp->pg.pflags = 0;
	pp->pg.ptag = 0;
	pp->pg.pword = 0;
	f->eops->on_insert(f->estate, &pp->pg);
	pp->in_policy = true;
	f->in_policy++;
}

static void policy_remove(struct usm_file *f, struct usm_ppage *pp)
{
	if (!pp->in_policy)
		return;
	f->eops->on_remove(f->estate, &pp->pg);
	pp->in_policy = false;
	f->in_policy--;
}

static struct usm_ppage *ppage_new(struct usm_file *f, uint64_t index)
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

static void page_set_frame(struct usm_ctx *ctx, struct usm_file *f,
			   struct usm_ppage *pp, usm_frame_t fr)
{
	pp->pg.frame = fr;
	usm_pm_tag_set(&f->map, pp->pg.index, PM_FRAME);
	f->resident++;
	ctx->resident++;
}

/* The page gives its frame back to the pool. */
static void page_clear_frame(struct usm_ctx *ctx, struct usm_file *f,
			     struct usm_ppage *pp)
{
	usm_pool_put(ctx->pool, pp->pg.frame);
	pp->pg.frame = USM_FRAME_NONE;
	usm_pm_tag_clear(&f->map, pp->pg.index, PM_FRAME);
	f->resident--;
	ctx->resident--;
}

static struct usm_cstore *swp_store(struct usm_ctx *ctx, const void *e)
{
	return ctx->store_by_id[usm_swp_store_id(e)];
}

/*
 * Page @pp (no frame any more, held by nobody else) now lives only in
 * (@cs, @slot): its map entry becomes a packed one and the record goes.
 */
static void page_to_swapped(struct usm_ctx *ctx, struct usm_file *f,
			    struct usm_ppage *pp, struct usm_cstore *cs,
			    usm_slot_t slot)
{
	usm_pm_replace(&f->map, pp->pg.index, usm_swp_entry(cs->id, slot));
	f->swapped++;
	ctx->swapped++;
	free(pp);
}

static void swapped_count_dec(struct usm_ctx *ctx, struct usm_file *f)
{
	f->swapped--;
	ctx->swapped--;
}

static void orphan_maybe_free(struct usm_ctx *ctx, struct usm_file *f,
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
static void page_drop(struct usm_ctx *ctx, struct usm_file *f,
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
static void page_unbusy(struct usm_ctx *ctx, struct usm_file *f,
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
static uint64_t resv_release_range(struct usm_ctx *ctx, struct usm_file *f,
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

static uint64_t file_release_resv(struct usm_ctx *ctx, struct usm_file *f,
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
static uint64_t release_all_resv_locked(struct usm_ctx *ctx)
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

/* ------------------------------------------------------------------ */
/* Context                                                            */

static int apply_name(char *dst, const char *src, const char *what,
		      int (*check)(const char *), char *err, size_t errlen)
{
	if (!check(src)) {
		set_err(err, errlen, "%s '%s' is not registered", what, src);
		return -EINVAL;
	}
	snprintf(dst, USM_NAME_MAX + 1, "%s", src);
	return 0;
}

static int alloc_known(const char *n)
{
	return usm_find_alloc(n) != NULL;
}

static int evict_known(const char *n)
{
	return usm_find_evict(n) != NULL;
}

/* Defaults of new files: built-ins, the config's [pool], the mount's. */
static int ctx_base_policy(struct usm_ctx *ctx, char *err, size_t errlen)
{
	const struct usm_mount_opts *mo = ctx->mount;
	const struct usm_config *cfg = ctx->config;
	struct usm_file_policy *b = &ctx->base;
	int r = 0;

	usm_file_policy_init(b);
	if (cfg) {
		const struct usm_file_policy *d = &cfg->defaults;

		if (d->set & (1u << USM_XATTR_ALLOC))
			snprintf(b->alloc, sizeof(b->alloc), "%s", d->alloc);
		if (d->set & (1u << USM_XATTR_EVICT))
			snprintf(b->evict, sizeof(b->evict), "%s", d->evict);
		if (d->set & (1u << USM_XATTR_PRIO))
			b->prio = d->prio;
		if (d->set & (1u << USM_XATTR_LIMIT))
			b->limit = d->limit;
	}
	if (mo) {
		bool cfg_alloc = cfg && (cfg->defaults.set & (1u << USM_XATTR_ALLOC));
		bool cfg_evict = cfg && (cfg->defaults.set & (1u << USM_XATTR_EVICT));

		if (mo->alloc[0] && ((mo->seen & (1u << USM_MOPT_ALLOC)) || !cfg_alloc))
			r = apply_name(b->alloc, mo->alloc, "alloc policy",
				       alloc_known, err, errlen);
		if (!r && mo->evict[0] &&
		    ((mo->seen & (1u << USM_MOPT_EVICT)) || !cfg_evict))
			r = apply_name(b->evict, mo->evict, "evict policy",
				       evict_known, err, errlen);
		if (r)
			return r;
	}
	if (!usm_find_alloc(b->alloc)) {
		set_err(err, errlen, "alloc policy '%s' is not registered", b->alloc);
		return -EINVAL;
	}
	if (!usm_find_evict(b->evict)) {
		set_err(err, errlen, "evict policy '%s' is not registered", b->evict);
		return -EINVAL;
	}
	b->set = 0;
	return 0;
}

static int ctx_open_stores(struct usm_ctx *ctx, char *err, size_t errlen)
{
	const struct usm_config *cfg = ctx->config;
	const char *spec = NULL;
	int r;

	r = store_open(ctx, "none", "none", 0, &ctx->none, err, errlen);
	if (r)
		return r;
	if (cfg) {
		for (size_t i = 0; i < cfg->nr_stores; i++) {
			struct usm_cstore *cs;

			if (!strcmp(cfg->stores[i].name, "none") ||
			    !strcmp(cfg->stores[i].name, "default")) {
				set_err(err, errlen, "store name '%s' is reserved",
					cfg->stores[i].name);
				return -EINVAL;
			}
			r = store_open(ctx, cfg->stores[i].name,
				       cfg->stores[i].spec, ctx->store_flags,
				       &cs, err, errlen);
			if (r)
				return r;
		}
	}
	if (ctx->mount && ctx->mount->swap[0] &&
	    ((ctx->mount->seen & (1u << USM_MOPT_SWAP)) || !cfg ||
	     !(cfg->defaults.set & (1u << USM_XATTR_SWAP))))
		spec = ctx->mount->swap;
	else if (cfg && (cfg->defaults.set & (1u << USM_XATTR_SWAP)))
		spec = cfg->defaults.swap;
	if (!spec || !*spec || !strcmp(spec, "none")) {
		ctx->dflt = ctx->none;
		return 0;
	}
	if (strchr(spec, ':'))
		return store_open(ctx, "default", spec, ctx->store_flags,
				  &ctx->dflt, err, errlen);
	ctx->dflt = store_find(ctx, spec);
	if (!ctx->dflt) {
		set_err(err, errlen, "swap=%s: no such store", spec);
		return -EINVAL;
	}
	return 0;
}

static int valid_watermarks(uint32_t lo, uint32_t hi)
{
	return lo > 0 && lo < hi && hi <= 100;
}

int usm_ctx_create(const struct usm_ctx_params *p, struct usm_ctx **out,
		   char *err, size_t errlen)
{
	struct usm_ctx *ctx;
	pthread_condattr_t ca;
	uint64_t left, chunk;
	int r;

	*out = NULL;
	if (!p || !p->ops || !p->ops->frame_addr || !p->ops->unmap) {
		set_err(err, errlen, "backend ops frame_addr and unmap are required");
		return -EINVAL;
	}
	if (p->pool_frames == 0) {
		set_err(err, errlen, "empty pool");
		return -EINVAL;
	}
	if (p->limit_frames > p->pool_frames) {
		set_err(err, errlen, "limit (%llu frames) exceeds the pool (%llu)",
			(unsigned long long)p->limit_frames,
			(unsigned long long)p->pool_frames);
		return -EINVAL;
	}
	usm_policies_init();
	/* A strong reference: links alloc.c in from the static library, so
	 * that the registry's weak references to the placement tables
	 * resolve. */
	if (!usm_alloc_firstfit.place || !usm_alloc_contiguous.place ||
	    !usm_alloc_spread.place)
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ctx->cond, &ca);
	pthread_condattr_destroy(&ca);
	usm_list_init(&ctx->files);
	ctx->ops = *p->ops;
	ctx->priv = p->priv;
	ctx->mount = p->mount;
	ctx->config = p->config;
	ctx->wait_ms = p->wait_timeout_ms ? p->wait_timeout_ms : 30000;
	ctx->store_flags = p->store_flags;
	ctx->low_pct = p->low_pct;
	ctx->high_pct = p->high_pct;
	ctx->evict_batch = USM_EVICT_BATCH;
	if (!ctx->low_pct && !ctx->high_pct) {
		ctx->low_pct = p->config && p->config->low_pct ? p->config->low_pct : 70;
		ctx->high_pct = p->config && p->config->high_pct ? p->config->high_pct : 90;
	}
	if (!valid_watermarks(ctx->low_pct, ctx->high_pct)) {
		set_err(err, errlen, "bad watermarks %u/%u%%", ctx->low_pct,
			ctx->high_pct);
		r = -EINVAL;
		goto fail;
	}

	ctx->pool = usm_pool_new();
	if (!ctx->pool) {
		r = -ENOMEM;
		goto fail;
	}
	chunk = p->chunk_frames ? p->chunk_frames : p->pool_frames;
	for (left = p->pool_frames; left; left -= chunk) {
		if (chunk > left)
			chunk = left;
		r = usm_pool_add_chunk(ctx->pool, chunk, NULL);
		if (r) {
			set_err(err, errlen, "pool: %s", strerror(-r));
			goto fail;
		}
	}
	ctx->limit = p->limit_frames ? p->limit_frames : p->pool_frames;

	r = ctx_open_stores(ctx, err, errlen);
	if (r)
		goto fail;
	r = ctx_base_policy(ctx, err, errlen);
	if (r)
		goto fail;
	*out = ctx;
	return 0;
fail:
	usm_ctx_destroy(ctx);
	return r;
}

static void file_release_locked(struct usm_ctx *ctx, struct usm_file *f);

void usm_ctx_destroy(struct usm_ctx *ctx)
{
	struct usm_cstore *cs, *nx;

	if (!ctx)
		return;
	pthread_mutex_lock(&ctx->lock);
	if (ctx->store_flags & CTX_KEEP_SLOTS) {
		/* Close the stores first: releasing the files below then
		 * frees no slot (store_slot_free skips closed stores). */
		for (cs = ctx->stores; cs; cs = cs->next) {
			usm_store_close(cs->st);
			cs->st = NULL;
		}
	}
	while (!usm_list_empty(&ctx->files)) {
		struct usm_file *f = usm_container_of(ctx->files.next,
						      struct usm_file, link);
		file_release_locked(ctx, f);
	}
	ctx_unlock(ctx);
	for (cs = ctx->stores; cs; cs = nx) {
		nx = cs->next;
		usm_store_close(cs->st);
		pthread_mutex_destroy(&cs->io);
		free(cs);
	}
	free(ctx->pend);
	usm_pool_free(ctx->pool);
	pthread_cond_destroy(&ctx->cond);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

void usm_ctx_keep_slots(struct usm_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	ctx->store_flags |= CTX_KEEP_SLOTS;
	pthread_mutex_unlock(&ctx->lock);
}

struct usm_pool *usm_ctx_pool(struct usm_ctx *ctx)
{
	return ctx->pool;
}

void usm_ctx_lock(struct usm_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
}

void usm_ctx_unlock(struct usm_ctx *ctx)
{
	ctx_unlock(ctx);
}

int usm_ctx_add_store(struct usm_ctx *ctx, const char *name, const char *spec,
		      unsigned int flags, char *err, size_t errlen)
{
	struct usm_cstore *cs;
	int r;

	if (!name || !usm_name_valid(name, strlen(name)) ||
	    !strcmp(name, "none") || !strcmp(name, "default")) {
		set_err(err, errlen, "bad store name '%s'", name ? name : "");
		return -EINVAL;
	}
	pthread_mutex_lock(&ctx->lock);
	if (store_find(ctx, name)) {
		ctx_unlock(ctx);
		set_err(err, errlen, "store '%s' exists", name);
		return -EEXIST;
	}
	r = store_open(ctx, name, spec, flags, &cs, err, errlen);
	ctx_unlock(ctx);
	return r;
}

static long balance_locked(struct usm_ctx *ctx, unsigned int flags);

int usm_ctx_set_limit(struct usm_ctx *ctx, uint64_t limit_frames)
{
	pthread_mutex_lock(&ctx->lock);
	if (limit_frames > usm_pool_nr_frames(ctx->pool)) {
		ctx_unlock(ctx);
		return -EINVAL;
	}
	ctx->limit = limit_frames ? limit_frames : usm_pool_nr_frames(ctx->pool);
	balance_locked(ctx, 0);
	ctx_unlock(ctx);
	return 0;
}

int usm_ctx_set_evict_batch(struct usm_ctx *ctx, uint32_t pages)
{
	if (pages < 1 || pages > USM_EVICT_BATCH_MAX)
		return -EINVAL;
	pthread_mutex_lock(&ctx->lock);
	ctx->evict_batch = pages;
	ctx->evict_batch_set = true;
	ctx_unlock(ctx);
	return 0;
}

int usm_ctx_set_watermarks(struct usm_ctx *ctx, uint32_t low_pct,
			   uint32_t high_pct)
{
	if (!valid_watermarks(low_pct, high_pct))
		return -EINVAL;
	pthread_mutex_lock(&ctx->lock);
	ctx->low_pct = low_pct;
	ctx->high_pct = high_pct;
	ctx_unlock(ctx);
	return 0;
}

/* ------------------------------------------------------------------ */
/* File life cycle and policy                                         */

void usm_ctx_policy_for(struct usm_ctx *ctx, const struct usm_file_policy *parent,
			const char *path, const char *comm,
			struct usm_file_policy *out)
{
	uint32_t usage = 0;

	pthread_mutex_lock(&ctx->lock);
	*out = ctx->base;
	if (ctx->limit)
		usage = (uint32_t)(pool_used(ctx) * 100 / ctx->limit);
	ctx_unlock(ctx);
	if (parent)
		usm_file_policy_inherit(out, parent);
	if (ctx->config)
		usm_config_policy_for(ctx->config, path, comm, usage, out);
}

struct usm_file *usm_file_new(struct usm_ctx *ctx, uint64_t ino,
			      const struct usm_file_policy *pol)
{
	struct usm_file *f;

	f = calloc(1, sizeof(*f));
	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	f->pol = pol ? *pol : ctx->base;
	f->aops = usm_find_alloc(f->pol.alloc);
	f->eops = usm_find_evict(f->pol.evict);
	if (!f->aops || !f->eops) {
		free(f);
		errno = EINVAL;
		return NULL;
	}
	f->ctx = ctx;
	f->ino = ino;
	f->refs = 1;
	usm_pm_init(&f->map);
	usm_list_init(&f->resv);
	usm_list_init(&f->orphans);
	pthread_mutex_lock(&ctx->lock);
	f->store = store_find(ctx, f->pol.swap);
	if (!f->store) {
		ctx_unlock(ctx);
		free(f);
		errno = EINVAL;
		return NULL;
	}
	f->estate = f->eops->create(f);
	if (!f->estate) {
		ctx_unlock(ctx);
		free(f);
		errno = ENOMEM;
		return NULL;
	}
	usm_list_add_tail(&f->link, &ctx->files);
	ctx->nr_files++;
	ctx_unlock(ctx);
	return f;
}

/* Drop every page with index in [lo, hi) and the reservations there. */
static void file_drop_range(struct usm_ctx *ctx, struct usm_file *f,
			    uint64_t lo, uint64_t hi, bool force)
{
	void *e;
	uint64_t i;

	if (f->reserved)
		file_release_resv(ctx, f, lo, hi, true);
	for (i = usm_pm_next(&f->map, lo, PM_PRESENT, &e); i != PM_NONE && i < hi;
	     i = i == UINT64_MAX ? PM_NONE : usm_pm_next(&f->map, i + 1, PM_PRESENT, &e)) {
		if (usm_entry_is_resv(e))
			continue;	/* a granted run outside [lo, hi) overlaps */
		usm_pm_delete(&f->map, i);
		if (usm_entry_is_swp(e)) {
			slot_free_locked(ctx, swp_store(ctx, e), usm_swp_slot(e));
			swapped_count_dec(ctx, f);
			continue;
		}
		page_drop(ctx, f, e, force);
	}
}

static void file_release_locked(struct usm_ctx *ctx, struct usm_file *f)
{
	struct usm_list *p, *nx;

	f->dead = true;
	usm_list_del(&f->link);
	ctx->nr_files--;
	file_drop_range(ctx, f, 0, UINT64_MAX, true);
	/* Pinned orphans of earlier truncates: the frontend is done. */
	for (p = f->orphans.next; p != &f->orphans; p = nx) {
		struct usm_ppage *pp = usm_container_of(p, struct usm_ppage, olink);

		nx = p->next;
		pp->pg.pins = 0;
		orphan_maybe_free(ctx, f, pp);
	}
	f->eops->destroy(f->estate);
	f->estate = NULL;
	pthread_cond_broadcast(&ctx->cond);
	file_put_locked(f);
}

void usm_file_release(struct usm_ctx *ctx, struct usm_file *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&ctx->lock);
	file_release_locked(ctx, f);
	ctx_unlock(ctx);
}

/* Switch @f to eviction policy @ops, rebuilding it from the resident set. */
static int file_set_evict_locked(struct usm_file *f,
				 const struct usm_evict_ops *ops)
{
	void *st = ops->create(f);
	void *e;
	uint64_t i;

	if (!st)
		return -ENOMEM;
	for (i = usm_pm_next(&f->map, 0, PM_FRAME, &e); i != PM_NONE;
	     i = i == UINT64_MAX ? PM_NONE : usm_pm_next(&f->map, i + 1, PM_FRAME, &e))
		policy_remove(f, e);
	f->eops->destroy(f->estate);
	f->eops = ops;
	f->estate = st;
	for (i = usm_pm_next(&f->map, 0, PM_FRAME, &e); i != PM_NONE;
	     i = i == UINT64_MAX ? PM_NONE : usm_pm_next(&f->map, i + 1, PM_FRAME, &e)) {
		struct usm_ppage *pp = e;

		if (pp->state == USM_PS_RESIDENT)
			policy_insert(f, pp);
	}
	return 0;
}

static long evict_file_locked(struct usm_ctx *ctx, struct usm_file *f,
			      uint64_t nr);

static uint64_t limit_pages(const struct usm_file *f)
{
	return (f->pol.limit + USM_PAGE_SIZE - 1) / USM_PAGE_SIZE;
}

/* Apply the policy @np (already validated) to @f. */
static int file_apply_policy_locked(struct usm_ctx *ctx, struct usm_file *f,
				    const struct usm_file_policy *np)
{
	const struct usm_alloc_ops *a = usm_find_alloc(np->alloc);
	const struct usm_evict_ops *e = usm_find_evict(np->evict);
	struct usm_cstore *cs = store_find(ctx, np->swap);
	bool lowered = np->limit && (!f->pol.limit || np->limit < f->pol.limit);
	int r;

	if (!a || !e || !cs)
		return -EINVAL;
	if (e != f->eops) {
		r = file_set_evict_locked(f, e);
		if (r)
			return r;
	}
	if (a != f->aops) {
		f->aops = a;
		f->alloc_word = 0;
	}
	f->store = cs;
	f->pol = *np;
	if (lowered && f->resident > limit_pages(f))
		evict_file_locked(ctx, f, f->resident - limit_pages(f));
	return 0;
}

int usm_file_setxattr(struct usm_ctx *ctx, struct usm_file *f,
		      enum usm_xattr_id id, const char *value, size_t len)
{
	struct usm_file_policy np;
	int r;

	if (id == USM_XATTR_STATS)
		return -EPERM;
	if ((unsigned int)id >= USM_XATTR_NR)
		return -EINVAL;
	pthread_mutex_lock(&ctx->lock);
	np = f->pol;
	r = usm_file_policy_set(&np, id, value, len);
	if (!r && id == USM_XATTR_SWAP && !store_find(ctx, np.swap))
		r = -EINVAL;
	if (!r) {
		file_get_locked(f);
		r = file_apply_policy_locked(ctx, f, &np);
		file_put_locked(f);
	}
	ctx_unlock(ctx);
	return r;
}

static int format_stats_locked(struct usm_ctx *ctx, struct usm_file *f,
			       char *buf, size_t len);

int usm_file_getxattr(struct usm_ctx *ctx, struct usm_file *f,
		      enum usm_xattr_id id, char *buf, size_t len)
{
	int r;

	if ((unsigned int)id >= USM_XATTR_NR)
		return -EINVAL;
	pthread_mutex_lock(&ctx->lock);
	if (id == USM_XATTR_STATS)
		r = format_stats_locked(ctx, f, buf, len);
	else if (!(f->pol.set & (1u << id)))
		r = -ENODATA;
	else
		r = usm_file_policy_get(&f->pol, id, buf, len);
	ctx_unlock(ctx);
	return r;
}

int usm_file_removexattr(struct usm_ctx *ctx, struct usm_file *f,
			 enum usm_xattr_id id)
{
	struct usm_file_policy np;
	int r;

	if (id == USM_XATTR_STATS)
		return -EPERM;
	if ((unsigned int)id >= USM_XATTR_NR)
		return -EINVAL;
	pthread_mutex_lock(&ctx->lock);
	np = f->pol;
	r = usm_file_policy_unset(&np, id, &ctx->base);
	if (!r) {
		file_get_locked(f);
		r = file_apply_policy_locked(ctx, f, &np);
		file_put_locked(f);
	}
	ctx_unlock(ctx);
	return r;
}

void usm_file_get_policy(struct usm_ctx *ctx, struct usm_file *f,
			 struct usm_file_policy *out)
{
	pthread_mutex_lock(&ctx->lock);
	*out = f->pol;
	ctx_unlock(ctx);
}

/* ------------------------------------------------------------------ */
/*
 * How many more pages @f could be given now: free frames under the limit,
 * plus what its store can still take (its pages, or other files', can move
 * there).  Frontends check it before a large fallocate so that an absurd
 * request fails at once with ENOSPC instead of filling the store's disk.
 */
uint64_t usm_file_room(struct usm_ctx *ctx, struct usm_file *f)
{
	uint64_t room;
	struct usm_cstore *cs;

	pthread_mutex_lock(&ctx->lock);
	room = usm_ctx_headroom(ctx);
	cs = f->store;
	pthread_mutex_unlock(&ctx->lock);
	if (cs && cs->writable) {
		pthread_mutex_lock(&cs->io);
		room += usm_store_room(cs->st);
		pthread_mutex_unlock(&cs->io);
	}
	return room;
}

/* Eviction                                                           */

static bool file_evictable(const struct usm_file *f)
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
	pthread_mutex_lock(&cs->io);
	while (m < nv) {
		usm_slot_t first;
		uint64_t nr, j;

		if (usm_store_alloc_run(cs->st, nv - m, &first, &nr))
			break;
		for (j = 0; j < nr; j++)
			slots[m + j] = first + j;
		m += nr;
	}
	pthread_mutex_unlock(&cs->io);
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
		pthread_mutex_lock(&cs->io);
		werr = usm_store_write(cs->st, slots, bufs, w);
		pthread_mutex_unlock(&cs->io);
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
static long evict_file_locked(struct usm_ctx *ctx, struct usm_file *f,
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
static long arbiter_locked(struct usm_ctx *ctx, uint64_t need)
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

static long balance_locked(struct usm_ctx *ctx, unsigned int flags)
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

static uint64_t resv_index_of_frame(struct usm_file *f, usm_frame_t fr,
				    struct usm_resv **out);

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
	if (usm_pool_take(ctx->pool, want) != 0)
		return -EBUSY;
	*fr = want;
	return 0;
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
		pthread_mutex_lock(&cs->io);
		r = usm_store_read(cs->st, &slot, &buf, 1);
		pthread_mutex_unlock(&cs->io);
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
		if (flags & USM_FAULT_KEEP_SLOT) {
			pp->slot_held = true;	/* usm_swapin_settle() */
		} else {
			slot_free_locked(ctx, cs, slot);
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

/* Find the reservation run of @f that holds frame @fr and still has it
 * unused; returns the index it was reserved for, or PM_NONE. */
static uint64_t resv_index_of_frame(struct usm_file *f, usm_frame_t fr,
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
		} else if (usm_pool_take(ctx->pool, frame) != 0) {
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
	pthread_mutex_lock(&cs->io);
	rc = usm_store_claim(cs->st, slot);
	pthread_mutex_unlock(&cs->io);
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

/* ------------------------------------------------------------------ */
/* Statistics and checks                                              */

void usm_file_stats(struct usm_ctx *ctx, struct usm_file *f,
		    struct usm_file_stats *st)
{
	pthread_mutex_lock(&ctx->lock);
	st->resident = f->resident;
	st->swapped = f->swapped;
	st->faults = f->faults;
	st->evictions = f->evictions;
	st->swapins = f->swapins;
	st->hits = f->hits;
	ctx_unlock(ctx);
}

void usm_pool_stats(struct usm_ctx *ctx, struct usm_pool_stats *st)
{
	pthread_mutex_lock(&ctx->lock);
	st->frames = usm_pool_nr_frames(ctx->pool);
	st->free = usm_pool_nr_free(ctx->pool);
	st->used = st->frames - st->free;
	st->reserved = ctx->reserved;
	st->limit = ctx->limit;
	st->resident = ctx->resident;
	st->swapped = ctx->swapped;
	st->files = ctx->nr_files;
	st->faults = ctx->faults;
	st->evictions = ctx->evictions;
	st->swapins = ctx->swapins;
	st->hits = ctx->hits;
	st->low_pct = ctx->low_pct;
	st->high_pct = ctx->high_pct;
	ctx_unlock(ctx);
}

static int format_stats_locked(struct usm_ctx *ctx, struct usm_file *f,
			       char *buf, size_t len)
{
	(void)ctx;
	return snprintf(buf, len,
			"resident=%llu swapped=%llu faults=%llu evictions=%llu "
			"swapins=%llu hits=%llu alloc=%s evict=%s",
			(unsigned long long)f->resident * USM_PAGE_SIZE,
			(unsigned long long)f->swapped * USM_PAGE_SIZE,
			(unsigned long long)f->faults,
			(unsigned long long)f->evictions,
			(unsigned long long)f->swapins,
			(unsigned long long)f->hits,
			f->aops->name, f->eops->name);
}

int usm_format_file_stats(struct usm_ctx *ctx, struct usm_file *f, char *buf,
			  size_t len)
{
	int r;

	pthread_mutex_lock(&ctx->lock);
	r = format_stats_locked(ctx, f, buf, len);
	ctx_unlock(ctx);
	return r;
}

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		set_err(err, errlen, __VA_ARGS__);			\
		r = -EUCLEAN;						\
		goto out;						\
	}								\
} while (0)

static int claim_frame(uint8_t *owned, struct usm_pool *pool, usm_frame_t fr)
{
	if (fr >= usm_pool_nr_frames(pool) || usm_pool_is_free(pool, fr) != 0)
		return -1;
	if (owned[fr >> 3] & (1u << (fr & 7)))
		return -1;
	owned[fr >> 3] |= (uint8_t)(1u << (fr & 7));
	return 0;
}

int usm_ctx_check(struct usm_ctx *ctx, char *err, size_t errlen)
{
	uint64_t nframes, res = 0, swp = 0, rsv = 0, orph = 0, infl = 0;
	uint64_t faults = 0, evictions = 0, swapins = 0, hits = 0, nfiles = 0;
	uint8_t *owned;
	int r = 0;

	pthread_mutex_lock(&ctx->lock);
	nframes = usm_pool_nr_frames(ctx->pool);
	owned = calloc(nframes / 8 + 1, 1);
	if (!owned) {
		ctx_unlock(ctx);
		return -ENOMEM;
	}
	CHECK(usm_pool_check(ctx->pool) == 0, "pool invariants broken");
	for (struct usm_list *p = ctx->files.next; p != &ctx->files; p = p->next) {
		struct usm_file *f = usm_container_of(p, struct usm_file, link);
		uint64_t fres = 0, fswp = 0, frsv = 0, fpol = 0, finfl = 0, i;
		void *e;

		nfiles++;
		for (i = usm_pm_next(&f->map, 0, PM_PRESENT, &e); i != PM_NONE;
		     i = i == UINT64_MAX ? PM_NONE :
			 usm_pm_next(&f->map, i + 1, PM_PRESENT, &e)) {
			if (usm_entry_is_resv(e)) {
				struct usm_resv *rv = usm_entry_resv(e);

				CHECK(i >= rv->index && i < rv->index + rv->nr,
				      "ino %llu: reservation entry %llu outside its run",
				      (unsigned long long)f->ino, (unsigned long long)i);
				CHECK(claim_frame(owned, ctx->pool,
						  rv->first + (i - rv->index)) == 0,
				      "ino %llu: reserved frame of page %llu not used or owned twice",
				      (unsigned long long)f->ino, (unsigned long long)i);
				CHECK(!usm_pm_tag_get(&f->map, i, PM_DATA) &&
				      !usm_pm_tag_get(&f->map, i, PM_FRAME),
				      "ino %llu: reservation %llu tagged as data",
				      (unsigned long long)f->ino, (unsigned long long)i);
				frsv++;
				continue;
			}
			if (usm_entry_is_swp(e)) {
				unsigned int id = usm_swp_store_id(e);

				CHECK(id < ctx->nr_stores && ctx->store_by_id[id]->writable &&
				      usm_pm_tag_get(&f->map, i, PM_DATA) &&
				      !usm_pm_tag_get(&f->map, i, PM_FRAME),
				      "ino %llu: swapped page %llu inconsistent",
				      (unsigned long long)f->ino, (unsigned long long)i);
				fswp++;
				continue;
			}
			struct usm_ppage *pp = e;

			CHECK(pp->pg.index == i && pp->pg.file == f && !pp->dropped,
			      "ino %llu: page %llu record mismatch",
			      (unsigned long long)f->ino, (unsigned long long)i);
			CHECK(usm_pm_tag_get(&f->map, i, PM_DATA),
			      "ino %llu: page %llu not tagged data",
			      (unsigned long long)f->ino, (unsigned long long)i);
			CHECK(usm_pm_tag_get(&f->map, i, PM_FRAME) &&
			      claim_frame(owned, ctx->pool, pp->pg.frame) == 0,
			      "ino %llu: page %llu frame %llu not used or owned twice",
			      (unsigned long long)f->ino, (unsigned long long)i,
			      (unsigned long long)pp->pg.frame);
			fres++;
			if (pp->in_policy) {
				CHECK(pp->state == USM_PS_RESIDENT,
				      "ino %llu: page %llu in policy but state %u",
				      (unsigned long long)f->ino, (unsigned long long)i,
				      pp->state);
				fpol++;
			}
			if (pp->state == USM_PS_EVICTING || pp->state == USM_PS_WRITING)
				finfl++;
		}
		for (struct usm_list *o = f->orphans.next; o != &f->orphans;
		     o = o->next) {
			struct usm_ppage *pp = usm_container_of(o, struct usm_ppage,
								olink);
			if (pp->pg.frame != USM_FRAME_NONE) {
				CHECK(claim_frame(owned, ctx->pool, pp->pg.frame) == 0,
				      "ino %llu: orphan frame owned twice",
				      (unsigned long long)f->ino);
				orph++;
			}
			if (pp->busy)
				finfl += pp->state == USM_PS_EVICTING ||
					 pp->state == USM_PS_WRITING;
		}
		CHECK(fres == f->resident && fswp == f->swapped && frsv == f->reserved,
		      "ino %llu: counts resident %llu/%llu swapped %llu/%llu reserved %llu/%llu",
		      (unsigned long long)f->ino,
		      (unsigned long long)fres, (unsigned long long)f->resident,
		      (unsigned long long)fswp, (unsigned long long)f->swapped,
		      (unsigned long long)frsv, (unsigned long long)f->reserved);
		CHECK(fpol == f->in_policy,
		      "ino %llu: %llu pages in policy, counted %llu",
		      (unsigned long long)f->ino, (unsigned long long)fpol,
		      (unsigned long long)f->in_policy);
		if (f->eops->resident)
			CHECK(f->eops->resident(f->estate) == fpol,
			      "ino %llu: policy %s holds %zu pages, expected %llu",
			      (unsigned long long)f->ino, f->eops->name,
			      f->eops->resident(f->estate), (unsigned long long)fpol);
		CHECK(finfl <= f->inflight,
		      "ino %llu: in-flight pages %llu > counted %llu",
		      (unsigned long long)f->ino, (unsigned long long)finfl,
		      (unsigned long long)f->inflight);
		res += fres;
		swp += fswp;
		rsv += frsv;
		infl += f->inflight;
		faults += f->faults;
		evictions += f->evictions;
		swapins += f->swapins;
		hits += f->hits;
	}
	CHECK(nfiles == ctx->nr_files, "file count %llu != %llu",
	      (unsigned long long)nfiles, (unsigned long long)ctx->nr_files);
	CHECK(res == ctx->resident && swp == ctx->swapped && rsv == ctx->reserved,
	      "ctx counts resident %llu/%llu swapped %llu/%llu reserved %llu/%llu",
	      (unsigned long long)res, (unsigned long long)ctx->resident,
	      (unsigned long long)swp, (unsigned long long)ctx->swapped,
	      (unsigned long long)rsv, (unsigned long long)ctx->reserved);
	/* Released files' in-flight pages are orphans, counted in ctx only. */
	CHECK(orph <= ctx->orphan_frames && infl <= ctx->inflight,
	      "orphans %llu/%llu in flight %llu/%llu",
	      (unsigned long long)orph, (unsigned long long)ctx->orphan_frames,
	      (unsigned long long)infl, (unsigned long long)ctx->inflight);
	CHECK(pool_used(ctx) == ctx->resident + ctx->reserved + ctx->orphan_frames,
	      "pool used %llu != resident %llu + reserved %llu + orphans %llu",
	      (unsigned long long)pool_used(ctx),
	      (unsigned long long)ctx->resident, (unsigned long long)ctx->reserved,
	      (unsigned long long)ctx->orphan_frames);
	/* Counters of released files stay in the ctx totals. */
	CHECK(faults <= ctx->faults && evictions <= ctx->evictions &&
	      swapins <= ctx->swapins && hits <= ctx->hits,
	      "per-file counters exceed the context's");
	if (ctx->inflight == 0)
		CHECK(ctx->orphan_frames == orph,
		      "orphan frames %llu, found %llu",
		      (unsigned long long)ctx->orphan_frames,
		      (unsigned long long)orph);
out:
	ctx_unlock(ctx);
	free(owned);
	return r;
}
