// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ctx.c - the engine's context: creation, stores, limits and watermarks,
 * files and their per-file policy (xattrs), statistics and the self-check.
 *
 * The engine is split by concern: page.c (page records and reservations,
 * the ownership rules), fault.c (making a page resident), evict.c (victims,
 * batches, the arbiter).  engine.h lists what they share.
 */

#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "store.h"

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

uint64_t pool_used(const struct usm_ctx *ctx)
{
	return usm_pool_nr_frames(ctx->pool) - usm_pool_nr_free(ctx->pool);
}

uint64_t usm_ctx_headroom(const struct usm_ctx *ctx)
{
	uint64_t used = pool_used(ctx);

	return used >= ctx->limit ? 0 : ctx->limit - used;
}

uint64_t wm_frames(const struct usm_ctx *ctx, uint32_t pct)
{
	return ctx->limit * pct / 100;
}

/* ------------------------------------------------------------------ */
/* Stores                                                             */

/* In ctx->store_flags, never passed to usm_store_open(): set by
 * usm_ctx_keep_slots(). */
#define CTX_KEEP_SLOTS	0x80000000u

struct usm_cstore *store_find(struct usm_ctx *ctx, const char *name)
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
	r = store_open_bounded(name, spec, flags, ctx->wait_ms, &cs->st, err,
			       errlen);
	if (r) {
		free(cs);
		return r;
	}
	snprintf(cs->name, sizeof(cs->name), "%s", name);
	cs->writable = usm_store_writable(cs->st) > 0;
	cs->id = ctx->nr_stores;
	ctx->store_by_id[ctx->nr_stores++] = cs;
	{
		pthread_rwlockattr_t a;

		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&cs->io, &a);
		pthread_rwlockattr_destroy(&a);
	}
	cs->next = ctx->stores;
	ctx->stores = cs;
	*out = cs;
	return 0;
}

static void store_slot_free(struct usm_cstore *cs, usm_slot_t slot)
{
	if (!cs || !cs->st || slot == USM_SLOT_NONE)
		return;
	pthread_rwlock_wrlock(&cs->io);
	usm_store_free(cs->st, slot);
	pthread_rwlock_unlock(&cs->io);
}

/*
 * Free a slot once the ctx lock is dropped: a store may take its time
 * (the file store punches a hole), and nothing refers to the slot any
 * more.  Falls back to freeing at once when out of memory.
 */
void slot_free_locked(struct usm_ctx *ctx, struct usm_cstore *cs,
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
void ctx_unlock(struct usm_ctx *ctx)
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
		pthread_rwlock_destroy(&cs->io);
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
void file_drop_range(struct usm_ctx *ctx, struct usm_file *f,
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

uint64_t limit_pages(const struct usm_file *f)
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
		pthread_rwlock_wrlock(&cs->io);
		room += usm_store_room(cs->st);
		pthread_rwlock_unlock(&cs->io);
	}
	return room;
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
	st->resv_stolen = ctx->resv_stolen;
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
