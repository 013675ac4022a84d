// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * evict_lru.c - LRU: an access moves the page to the head; victims come
 * from the tail (least recently used).  Every operation is O(1).
 */
#include "evict-queue.h"

static void *lru_create(struct usm_file *file)
{
	(void)file;
	return evq_create();
}

static void lru_destroy(void *state)
{
	free(state);
}

static void lru_insert(void *state, struct usm_page *pg)
{
	evq_push_head(state, pg);
}

static void lru_access(void *state, struct usm_page *pg)
{
	evq_move_head(state, pg);
}

static void lru_remove(void *state, struct usm_page *pg)
{
	evq_del(state, pg);
}

static size_t lru_victims(void *state, struct usm_page **out, size_t n)
{
	return evq_take_oldest(state, out, n);
}

static size_t lru_resident(const void *state)
{
	return ((const struct evq *)state)->count;
}

const struct usm_evict_ops usm_evict_lru = {
	.name = "lru",
	.create = lru_create,
	.destroy = lru_destroy,
	.on_insert = lru_insert,
	.on_access = lru_access,
	.on_remove = lru_remove,
	.victims = lru_victims,
	.resident = lru_resident,
};
