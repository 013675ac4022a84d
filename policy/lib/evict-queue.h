/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * evict-queue.h - private to libusmpolicy: a counted queue of pages, the
 * building block of the list-based eviction policies.
 *
 * Orientation: the head (q->list.next) is the newest end, the tail
 * (q->list.prev) the oldest.  "Moving from tail to head" follows ->prev.
 */
#ifndef USM_EVICT_QUEUE_H
#define USM_EVICT_QUEUE_H

#include <stdlib.h>

#include <usm/policy.h>

struct evq {
	struct usm_list list;
	size_t count;
};

static inline struct usm_page *evq_page(struct usm_list *n)
{
	return usm_container_of(n, struct usm_page, node);
}

static inline void evq_init(struct evq *q)
{
	usm_list_init(&q->list);
	q->count = 0;
}

static inline void evq_push_head(struct evq *q, struct usm_page *pg)
{
	usm_list_add(&pg->node, &q->list);
	q->count++;
}

static inline void evq_del(struct evq *q, struct usm_page *pg)
{
	usm_list_del(&pg->node);
	q->count--;
}

/* Move @pg (already in @q) to the head of @q. */
static inline void evq_move_head(struct evq *q, struct usm_page *pg)
{
	usm_list_del(&pg->node);
	usm_list_add(&pg->node, &q->list);
}

/* The oldest page, or NULL. */
static inline struct usm_page *evq_tail(struct evq *q)
{
	return usm_list_empty(&q->list) ? NULL : evq_page(q->list.prev);
}

/*
 * Detach up to @n unpinned pages, oldest first, into @out.  Pinned pages
 * stay where they are; the walk costs O(victims + pinned pages passed).
 */
static inline size_t evq_take_oldest(struct evq *q, struct usm_page **out,
				     size_t n)
{
	struct usm_list *cur = q->list.prev;
	size_t got = 0;

	while (got < n && cur != &q->list) {
		struct usm_list *prev = cur->prev;
		struct usm_page *pg = evq_page(cur);

		if (!usm_page_pinned(pg)) {
			evq_del(q, pg);
			out[got++] = pg;
		}
		cur = prev;
	}
	return got;
}

static inline void *evq_create(void)
{
	struct evq *q = malloc(sizeof(*q));

	if (q)
		evq_init(q);
	return q;
}

#endif /* USM_EVICT_QUEUE_H */
