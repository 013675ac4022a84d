// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * evict_sieve.c - SIEVE (Zhang et al., NSDI'24).
 *
 * One FIFO queue (new pages at the head), a visited bit per page, and a
 * hand that moves from the tail towards the head.  An access sets the
 * bit.  To find a victim the hand passes over visited pages, clearing
 * their bit but leaving them where they are (unlike CLOCK, a retained page
 * is not moved), and stops at the first unvisited page: that page is the
 * victim and the hand stays at the next newer one.  At the head it wraps
 * to the tail.  Insert, access and remove are O(1); victims() is O(1)
 * amortised (each bit is cleared once per setting).
 */
#include "evict-queue.h"

#define SIEVE_VISITED	0x1u

struct sieve {
	struct evq q;
	struct usm_list *hand;	/* next page to examine; NULL = the tail */
};

static void *sieve_create(struct usm_file *file)
{
	struct sieve *s = malloc(sizeof(*s));

	(void)file;
	if (s) {
		evq_init(&s->q);
		s->hand = NULL;
	}
	return s;
}

static void sieve_destroy(void *state)
{
	free(state);
}

static void sieve_insert(void *state, struct usm_page *pg)
{
	struct sieve *s = state;

	pg->pflags = 0;
	evq_push_head(&s->q, pg);
}

static void sieve_access(void *state, struct usm_page *pg)
{
	(void)state;
	pg->pflags |= SIEVE_VISITED;
}

/* The position after @n towards the head, as a hand value. */
static struct usm_list *newer(struct sieve *s, struct usm_list *n)
{
	return n->prev == &s->q.list ? NULL : n->prev;
}

static void sieve_remove(void *state, struct usm_page *pg)
{
	struct sieve *s = state;

	if (s->hand == &pg->node)
		s->hand = newer(s, &pg->node);
	evq_del(&s->q, pg);
}

static size_t sieve_victims(void *state, struct usm_page **out, size_t n)
{
	struct sieve *s = state;
	struct usm_list *cur = s->hand;
	size_t budget = 2 * s->q.count + n + 1;
	size_t got = 0;

	while (got < n && s->q.count && budget--) {
		struct usm_page *pg;

		if (!cur || cur == &s->q.list)
			cur = s->q.list.prev;	/* wrap to the tail */
		pg = evq_page(cur);
		if (usm_page_pinned(pg)) {
			cur = cur->prev;
		} else if (pg->pflags & SIEVE_VISITED) {
			pg->pflags &= ~SIEVE_VISITED;
			cur = cur->prev;
		} else {
			cur = cur->prev;
			evq_del(&s->q, pg);
			out[got++] = pg;
		}
	}
	s->hand = (cur && cur != &s->q.list && s->q.count) ? cur : NULL;
	return got;
}

static size_t sieve_resident(const void *state)
{
	return ((const struct sieve *)state)->q.count;
}

const struct usm_evict_ops usm_evict_sieve = {
	.name = "sieve",
	.create = sieve_create,
	.destroy = sieve_destroy,
	.on_insert = sieve_insert,
	.on_access = sieve_access,
	.on_remove = sieve_remove,
	.victims = sieve_victims,
	.resident = sieve_resident,
};
