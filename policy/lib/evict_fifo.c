// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * evict_fifo.c - FIFO: pages leave in the order they became resident;
 * accesses change nothing.  Every operation is O(1).
 */
#include "evict-queue.h"

static void *fifo_create(struct usm_file *file)
{
	(void)file;
	return evq_create();
}

static void fifo_destroy(void *state)
{
	free(state);
}

static void fifo_insert(void *state, struct usm_page *pg)
{
	evq_push_head(state, pg);
}

static void fifo_access(void *state, struct usm_page *pg)
{
	(void)state;
	(void)pg;
}

static void fifo_remove(void *state, struct usm_page *pg)
{
	evq_del(state, pg);
}

static size_t fifo_victims(void *state, struct usm_page **out, size_t n)
{
	return evq_take_oldest(state, out, n);
}

static size_t fifo_resident(const void *state)
{
	return ((const struct evq *)state)->count;
}

const struct usm_evict_ops usm_evict_fifo = {
	.name = "fifo",
	.create = fifo_create,
	.destroy = fifo_destroy,
	.on_insert = fifo_insert,
	.on_access = fifo_access,
	.on_remove = fifo_remove,
	.victims = fifo_victims,
	.resident = fifo_resident,
};
