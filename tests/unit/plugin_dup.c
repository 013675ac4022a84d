// SPDX-License-Identifier: LGPL-2.1-or-later
/* A plugin whose second table takes a built-in's name ("lru"): nothing of
 * it may be registered, not even its first, good table. */
#include <usm/policy.h>

static void *c(struct usm_file *f) { (void)f; return (void *)1; }
static void d(void *s) { (void)s; }
static void p(void *s, struct usm_page *pg) { (void)s; (void)pg; }
static size_t v(void *s, struct usm_page **o, size_t n)
{
	(void)s; (void)o; (void)n;
	return 0;
}

static const struct usm_evict_ops first = {
	.name = "dup-first", .create = c, .destroy = d, .on_insert = p,
	.on_access = p, .on_remove = p, .victims = v,
};
static const struct usm_evict_ops lru = {
	.name = "lru", .create = c, .destroy = d, .on_insert = p,
	.on_access = p, .on_remove = p, .victims = v,
};

const struct usm_plugin usm_plugin_info = {
	.abi = USM_PLUGIN_ABI,
	.name = "dup",
	.evict = (const struct usm_evict_ops *const[]){ &first, &lru, NULL },
};
