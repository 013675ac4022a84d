// SPDX-License-Identifier: LGPL-2.1-or-later
/* A plugin with a good placement table and an eviction table that lacks
 * a required callback (on_remove): refused whole. */
#include <errno.h>

#include <usm/policy.h>

static void *c(struct usm_file *f) { (void)f; return (void *)1; }
static void d(void *s) { (void)s; }
static void p(void *s, struct usm_page *pg) { (void)s; (void)pg; }
static size_t v(void *s, struct usm_page **o, size_t n)
{
	(void)s; (void)o; (void)n;
	return 0;
}
static int place(struct usm_ctx *ctx, struct usm_file *f, uint64_t i,
		 usm_frame_t *fr)
{
	(void)ctx; (void)f; (void)i; (void)fr;
	return -ENOSPC;
}

static const struct usm_evict_ops half = {
	.name = "badtable", .create = c, .destroy = d, .on_insert = p,
	.on_access = p, .victims = v,
};
static const struct usm_alloc_ops alloc = {
	.name = "badtable-place", .place = place,
};

const struct usm_plugin usm_plugin_info = {
	.abi = USM_PLUGIN_ABI,
	.name = "badtable",
	.evict = (const struct usm_evict_ops *const[]){ &half, NULL },
	.alloc = (const struct usm_alloc_ops *const[]){ &alloc, NULL },
};
