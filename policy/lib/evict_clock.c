// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * evict_clock.c - CLOCK: one reference bit per page and a hand.
 *
 * The ring is kept as a queue whose tail is where the hand points.  An
 * access sets the page's bit.  To find a victim the hand looks at the page
 * under it: a referenced page gets its bit cleared and a second chance (it
 * goes behind the hand: to the head, so the hand meets it again last);
 * an unreferenced page is the victim.  New pages go just behind the hand
 * too.  Each page is looked at no more than twice per victim, so victims()
 * is O(1) amortised; insert, access and remove are O(1).
 */
#include "evict-queue.h"

#define CLOCK_REF	0x1u

static void *clock_create(struct usm_file *file)
{
	(void)file;
	return evq_create();
}

static void clock_destroy(void *state)
{
	free(state);
}

static void clock_insert(void *state, struct usm_page *pg)
{
	pg->pflags = 0;
	evq_push_head(state, pg);
}

static void clock_access(void *state, struct usm_page *pg)
{
	(void)state;
	pg->pflags |= CLOCK_REF;
}

static void clock_remove(void *state, struct usm_page *pg)
{
	evq_del(state, pg);
}

static size_t clock_victims(void *state, struct usm_page **out, size_t n)
{
	struct evq *q = state;
	struct usm_list *cur = q->list.prev;
	/* Enough for two full turns (every bit cleared, then a victim),
	 * which is also how far pinned pages can make us go in vain. */
	size_t budget = 2 * q->count + n + 1;
	size_t got = 0;

	while (got < n && q->count && budget--) {
		struct usm_list *prev;
		struct usm_page *pg;

		if (cur == &q->list)
			cur = q->list.prev;	/* the hand wraps around */
		prev = cur->prev;
		pg = evq_page(cur);
		if (usm_page_pinned(pg)) {
			/* Leave it as it is. */
		} else if (pg->pflags & CLOCK_REF) {
			pg->pflags &= ~CLOCK_REF;
			evq_move_head(q, pg);
		} else {
			evq_del(q, pg);
			out[got++] = pg;
		}
		cur = prev;
	}
	return got;
}

static size_t clock_resident(const void *state)
{
	return ((const struct evq *)state)->count;
}

const struct usm_evict_ops usm_evict_clock = {
	.name = "clock",
	.create = clock_create,
	.destroy = clock_destroy,
	.on_insert = clock_insert,
	.on_access = clock_access,
	.on_remove = clock_remove,
	.victims = clock_victims,
	.resident = clock_resident,
};
