// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * evict_pinned.c - pinned: the file's pages never leave (USM_EVICT_NEVER).
 * The pages are still counted so that resident() is right.
 */
#include "evict-queue.h"

static void *pinned_create(struct usm_file *file)
{
	(void)file;
	return evq_create();
}

static void pinned_destroy(void *state)
{
	free(state);
}

static void pinned_insert(void *state, struct usm_page *pg)
{
	evq_push_head(state, pg);
}

static void pinned_access(void *state, struct usm_page *pg)
{
	(void)state;
	(void)pg;
}

static void pinned_remove(void *state, struct usm_page *pg)
{
	evq_del(state, pg);
}

static size_t pinned_victims(void *state, struct usm_page **out, size_t n)
{
	(void)state;
	(void)out;
	(void)n;
	return 0;
}

static size_t pinned_resident(const void *state)
{
	return ((const struct evq *)state)->count;
}

const struct usm_evict_ops usm_evict_pinned = {
	.name = "pinned",
	.flags = USM_EVICT_NEVER,
	.create = pinned_create,
	.destroy = pinned_destroy,
	.on_insert = pinned_insert,
	.on_access = pinned_access,
	.on_remove = pinned_remove,
	.victims = pinned_victims,
	.resident = pinned_resident,
};
