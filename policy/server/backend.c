// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * backend.c - libusmpolicy's backend ops over /dev/usmfs.
 *
 * The library evicts a batch as: unmap (EVICT: the module unmaps the pages
 * and holds them locked), copy-out through frame_addr (our mmap of the
 * pool), commit (COMMIT: the page becomes (store_id, slot), the frame is
 * freed), or cancel (CANCEL: the page stays resident).  Each op sends one
 * command batch, synchronously, and reports per-page results in refs[].err.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policyd.h"

static void *be_frame_addr(void *priv, usm_frame_t f)
{
	struct policyd *pd = priv;
	void *p = pd_frame_addr(pd->ch, f);

	/* The library only names frames of its pool, which has exactly the
	 * module's pool_frames: anything else is a bug here, not input. */
	if (!p)
		abort();
	return p;
}

static void ref_to_file(const struct usm_page_ref *r, struct usmfs_cmd *c)
{
	c->dev = (uint32_t)(r->ino >> PD_INO_BITS);
	c->ino = r->ino & ((1ull << PD_INO_BITS) - 1);
}

static struct usmfs_cmd *cmds_alloc(size_t n)
{
	return calloc(n ? n : 1, sizeof(struct usmfs_cmd));
}

static int be_unmap(void *priv, struct usm_page_ref *refs, size_t n)
{
	struct policyd *pd = priv;
	struct usmfs_cmd *c = cmds_alloc(n);
	int r;

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		c[i].op = USMFS_CMD_EVICT;
		ref_to_file(&refs[i], &c[i]);
		c[i].u.range.index = refs[i].index;
		c[i].u.range.frame = refs[i].frame;
		c[i].u.range.nr = 1;
		/* Refused (ESTALE) when the file was truncated after what
		 * we have handled: the page may be another one now. */
		c[i].u.range.seq = pd->next_seq ? pd->next_seq - 1 : 0;
	}
	r = pd_chan_submit(pd->ch, c, n);
	pd->evict_cmds += n;
	for (size_t i = 0; i < n; i++) {
		refs[i].err = -(int)c[i].error;
		if (c[i].error && !r)
			pd_log(PD_DEBUG, "EVICT %u:%llu page %llu: %s", c[i].dev,
			       (unsigned long long)c[i].ino,
			       (unsigned long long)refs[i].index,
			       strerror((int)c[i].error));
	}
	free(c);
	return r;
}

/* The store a page of @file goes to: the file's swap attribute ("" is the
 * default store). */
static int ref_store_id(struct policyd *pd, const struct usm_page_ref *r)
{
	struct usm_file_policy pol;

	usm_file_get_policy(pd->ctx, r->file, &pol);
	return pd_store_id(pd, pol.swap);
}

static int be_commit(void *priv, struct usm_page_ref *refs, size_t n)
{
	struct policyd *pd = priv;
	struct usmfs_cmd *c = cmds_alloc(n);
	int r;

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int id = ref_store_id(pd, &refs[i]);

		ref_to_file(&refs[i], &c[i]);
		if (id < 0) {
			/* The store cannot be named to the module: unlock the
			 * page (CANCEL) and keep it (refs[i].err below). */
			c[i].op = USMFS_CMD_CANCEL;
			c[i].u.range.index = refs[i].index;
			c[i].u.range.frame = refs[i].frame;
			c[i].u.range.nr = 1;
			continue;
		}
		c[i].op = USMFS_CMD_COMMIT;
		c[i].u.commit.index = refs[i].index;
		c[i].u.commit.frame = refs[i].frame;
		c[i].u.commit.slot = refs[i].slot;
		c[i].u.commit.store_id = (uint32_t)id;
	}
	r = pd_chan_submit(pd->ch, c, n);
	pd->commit_cmds += n;
	for (size_t i = 0; i < n; i++) {
		if (c[i].op == USMFS_CMD_CANCEL)
			refs[i].err = -EINVAL;
		else
			refs[i].err = -(int)c[i].error;
		if (refs[i].err)
			pd_log(PD_DEBUG, "COMMIT %u:%llu page %llu: %s", c[i].dev,
			       (unsigned long long)c[i].ino,
			       (unsigned long long)refs[i].index,
			       strerror(-refs[i].err));
	}
	free(c);
	return r;
}

static void be_cancel(void *priv, struct usm_page_ref *refs, size_t n)
{
	struct policyd *pd = priv;
	struct usmfs_cmd *c = cmds_alloc(n);

	if (!c) {
		/* Cannot say it: the pages stay locked until we detach, when
		 * the module cancels every locked eviction itself. */
		pd_log(PD_ERR, "CANCEL of %zu pages: out of memory", n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		c[i].op = USMFS_CMD_CANCEL;
		ref_to_file(&refs[i], &c[i]);
		c[i].u.range.index = refs[i].index;
		c[i].u.range.frame = refs[i].frame;
		c[i].u.range.nr = 1;
	}
	pd_chan_submit(pd->ch, c, n);
	for (size_t i = 0; i < n; i++)
		if (c[i].error && c[i].error != ENOENT)
			pd_log(PD_WARN, "CANCEL %u:%llu page %llu: %s", c[i].dev,
			       (unsigned long long)c[i].ino,
			       (unsigned long long)refs[i].index,
			       strerror((int)c[i].error));
	free(c);
}

const struct usm_backend_ops pd_backend_ops = {
	.frame_addr = be_frame_addr,
	.unmap = be_unmap,
	.commit = be_commit,
	.cancel = be_cancel,
};
