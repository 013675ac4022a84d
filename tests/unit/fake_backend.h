/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fake_backend.h - a usm_backend_ops for unit tests: the pool is a
 * malloc'ed array of frames; unmap/commit/cancel are counted and can be
 * hooked to inject failures or to run code while the ctx lock is dropped.
 */
#ifndef FAKE_BACKEND_H
#define FAKE_BACKEND_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <usm/usm.h>

struct fake_be {
	unsigned char *mem;
	uint64_t nframes;
	pthread_mutex_t lock;
	unsigned long unmap_calls, unmapped, commit_calls, committed;
	unsigned long cancel_calls, cancelled;
	int unmap_ret;			/* whole-batch result */
	uint64_t refuse_index;		/* set err = -EBUSY for this index */
	uint64_t commit_fail_index;	/* commit sets err for this index */
	unsigned long zeroed;		/* zero_frame calls */
	int (*unmap_hook)(struct fake_be *be, struct usm_page_ref *refs, size_t n);
	void (*commit_hook)(struct fake_be *be, struct usm_page_ref *refs, size_t n);
	void *arg;			/* for hooks */
	struct usm_ctx *ctx;
	char dir[64];			/* temp dir for stores */
	char swap[128];			/* "file:DIR/swap" */
};

static inline void *fb_frame_addr(void *priv, usm_frame_t f)
{
	struct fake_be *be = priv;

	if (f >= be->nframes)
		abort();
	return be->mem + f * USM_PAGE_SIZE;
}

static inline int fb_unmap(void *priv, struct usm_page_ref *refs, size_t n)
{
	struct fake_be *be = priv;
	int r = 0;

	pthread_mutex_lock(&be->lock);
	be->unmap_calls++;
	be->unmapped += n;
	for (size_t i = 0; i < n; i++)
		if (refs[i].index == be->refuse_index)
			refs[i].err = -EBUSY;
	r = be->unmap_ret;
	pthread_mutex_unlock(&be->lock);
	if (be->unmap_hook)
		r = be->unmap_hook(be, refs, n) ?: r;
	return r;
}

static inline int fb_commit(void *priv, struct usm_page_ref *refs, size_t n)
{
	struct fake_be *be = priv;

	pthread_mutex_lock(&be->lock);
	be->commit_calls++;
	be->committed += n;
	for (size_t i = 0; i < n; i++)
		if (refs[i].index == be->commit_fail_index)
			refs[i].err = -EAGAIN;
	pthread_mutex_unlock(&be->lock);
	if (be->commit_hook)
		be->commit_hook(be, refs, n);
	return 0;
}

static inline void fb_cancel(void *priv, struct usm_page_ref *refs, size_t n)
{
	struct fake_be *be = priv;

	(void)refs;
	pthread_mutex_lock(&be->lock);
	be->cancel_calls++;
	be->cancelled += n;
	pthread_mutex_unlock(&be->lock);
}

static inline void fb_zero_frame(void *priv, usm_frame_t f)
{
	struct fake_be *be = priv;

	memset(fb_frame_addr(be, f), 0, USM_PAGE_SIZE);
	pthread_mutex_lock(&be->lock);
	be->zeroed++;
	pthread_mutex_unlock(&be->lock);
}

/* The same with a zero_frame op (called without the ctx lock). */
static const struct usm_backend_ops fb_ops_zero = {
	.frame_addr = fb_frame_addr,
	.unmap = fb_unmap,
	.commit = fb_commit,
	.cancel = fb_cancel,
	.zero_frame = fb_zero_frame,
};

static const struct usm_backend_ops fb_ops = {
	.frame_addr = fb_frame_addr,
	.unmap = fb_unmap,
	.commit = fb_commit,
	.cancel = fb_cancel,
};

/* A fake backend of @nframes frames, filled with garbage (so that zeroing
 * is visible) and a temp dir for a file store. */
static inline struct fake_be *fb_new(uint64_t nframes)
{
	struct fake_be *be = calloc(1, sizeof(*be));

	if (!be)
		abort();
	be->nframes = nframes;
	be->mem = malloc(nframes * USM_PAGE_SIZE);
	if (!be->mem)
		abort();
	memset(be->mem, 0xa5, nframes * USM_PAGE_SIZE);
	pthread_mutex_init(&be->lock, NULL);
	be->refuse_index = UINT64_MAX;
	be->commit_fail_index = UINT64_MAX;
	snprintf(be->dir, sizeof(be->dir), "/tmp/usmtest.XXXXXX");
	if (!mkdtemp(be->dir))
		abort();
	snprintf(be->swap, sizeof(be->swap), "file:%s/swap", be->dir);
	return be;
}

/* Make a ctx over @be.  @swap is the mount's swap spec (NULL = none). */
static inline struct usm_ctx *fb_ctx(struct fake_be *be, uint64_t limit,
			      const char *alloc, const char *evict,
			      const char *swap, struct usm_mount_opts *mo)
{
	struct usm_ctx_params p = {
		.ops = &fb_ops, .priv = be, .pool_frames = be->nframes,
		.limit_frames = limit, .mount = mo, .wait_timeout_ms = 2000,
	};
	char err[256] = "";
	int r;

	usm_mount_opts_init(mo);
	if (alloc)
		snprintf(mo->alloc, sizeof(mo->alloc), "%s", alloc);
	if (evict)
		snprintf(mo->evict, sizeof(mo->evict), "%s", evict);
	snprintf(mo->swap, sizeof(mo->swap), "%s", swap ? swap : "none");
	r = usm_ctx_create(&p, &be->ctx, err, sizeof(err));
	if (r) {
		fprintf(stderr, "usm_ctx_create: %d %s\n", r, err);
		abort();
	}
	return be->ctx;
}

static inline void fb_free(struct fake_be *be)
{
	char path[160];

	if (be->ctx)
		usm_ctx_destroy(be->ctx);
	snprintf(path, sizeof(path), "%s/swap", be->dir);
	unlink(path);
	rmdir(be->dir);
	free(be->mem);
	pthread_mutex_destroy(&be->lock);
	free(be);
}

/* A new file with the ctx's default policy. */
static inline struct usm_file *fb_file(struct usm_ctx *ctx, uint64_t ino)
{
	struct usm_file_policy pol;
	struct usm_file *f;

	usm_ctx_policy_for(ctx, NULL, NULL, NULL, &pol);
	f = usm_file_new(ctx, ino, &pol);
	if (!f)
		abort();
	return f;
}

static inline int fb_set(struct usm_ctx *ctx, struct usm_file *f, enum usm_xattr_id id,
		  const char *v)
{
	return usm_file_setxattr(ctx, f, id, v, strlen(v));
}

static inline void fb_check(struct usm_ctx *ctx)
{
	char err[512] = "";
	int r = usm_ctx_check(ctx, err, sizeof(err));

	if (r) {
		fprintf(stderr, "usm_ctx_check: %s\n", err);
		abort();
	}
}

/* Fill / verify page content derived from (tag, index). */
static inline void fb_fill(struct fake_be *be, usm_frame_t f, uint64_t tag, uint64_t idx)
{
	uint64_t *p = fb_frame_addr(be, f);

	for (size_t i = 0; i < USM_PAGE_SIZE / 8; i++)
		p[i] = (tag * 0x9e3779b97f4a7c15ull) ^ (idx << 20) ^ i;
}

static inline int fb_verify(struct fake_be *be, usm_frame_t f, uint64_t tag, uint64_t idx)
{
	const uint64_t *p = fb_frame_addr(be, f);

	for (size_t i = 0; i < USM_PAGE_SIZE / 8; i++)
		if (p[i] != ((tag * 0x9e3779b97f4a7c15ull) ^ (idx << 20) ^ i))
			return 0;
	return 1;
}

static inline int fb_is_zero(struct fake_be *be, usm_frame_t f)
{
	const unsigned char *p = fb_frame_addr(be, f);

	for (size_t i = 0; i < USM_PAGE_SIZE; i++)
		if (p[i])
			return 0;
	return 1;
}

#endif
