// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * evict_s3fifo.c - S3-FIFO (Yang et al., SOSP'23).
 *
 * Three FIFO queues per file:
 *  - small (S), about 10% of the file's resident pages: every new page
 *    enters here, unless its index is in the ghost queue;
 *  - main (M), the rest, with a 2-bit frequency per page and reinsertion;
 *  - ghost (G), indices (no pages) of pages evicted from S, as many as M
 *    should hold (90% of the resident pages), oldest forgotten first.
 * An access raises the page's frequency (capped at 3).  Eviction takes
 * from S while S holds at least 10% of the resident pages (or M is empty),
 * else from M:
 *  - S's oldest page moves to M's head (frequency cleared) if it was
 *    accessed after it came in; otherwise it leaves and its index goes to
 *    G.  So a page used once (a one-hit wonder) only ever lives in S.
 *  - M's oldest page, if its frequency is non-zero, is reinserted at M's
 *    head with the frequency lowered by one; otherwise it leaves.
 * A page inserted while its index is in G goes straight to M.
 *
 * Insert, access and remove are O(1); the ghost is a hash set keyed by
 * page index (chained, resized by doubling) with a FIFO for ageing, so its
 * operations are O(1) expected.  victims() is O(1) amortised: a page in M
 * is reinserted at most 3 times per access pass.
 */
#include <stdint.h>
#include <stdlib.h>

#include "evict-queue.h"

#define S3_SMALL	1u
#define S3_MAIN		2u
#define S3_FREQ_MAX	3u

/* Dropped ghost entries kept for reuse, to spare malloc on eviction. */
#define GHOST_SPARE_MAX	64

struct ghost_ent {
	uint64_t index;
	struct usm_list fifo;		/* head = newest */
	struct ghost_ent *hnext;	/* hash chain; free list link */
};

struct ghost {
	struct usm_list fifo;
	size_t count;
	struct ghost_ent **buckets;
	unsigned int bits;		/* nbuckets = 1 << bits (0: none) */
	struct ghost_ent *spare;
	size_t nspare;
};

struct s3fifo {
	struct evq small, main;
	struct ghost ghost;
};

static size_t ghost_hash(const struct ghost *g, uint64_t index)
{
	return (size_t)((index * 0x9e3779b97f4a7c15ull) >> (64 - g->bits));
}

static struct ghost_ent **ghost_slot(struct ghost *g, uint64_t index)
{
	struct ghost_ent **pp;

	if (!g->bits)
		return NULL;
	pp = &g->buckets[ghost_hash(g, index)];
	while (*pp && (*pp)->index != index)
		pp = &(*pp)->hnext;
	return pp;
}

static void ghost_release(struct ghost *g, struct ghost_ent *e)
{
	if (g->nspare < GHOST_SPARE_MAX) {
		e->hnext = g->spare;
		g->spare = e;
		g->nspare++;
	} else {
		free(e);
	}
}

/* Unlink @e (found at *@pp in its chain) from the hash and the FIFO. */
static void ghost_unlink(struct ghost *g, struct ghost_ent **pp,
			 struct ghost_ent *e)
{
	*pp = e->hnext;
	usm_list_del(&e->fifo);
	g->count--;
	ghost_release(g, e);
}

/* Forget @index if it is there; 1 if it was. */
static int ghost_take(struct ghost *g, uint64_t index)
{
	struct ghost_ent **pp = ghost_slot(g, index);

	if (!pp || !*pp)
		return 0;
	ghost_unlink(g, pp, *pp);
	return 1;
}

static void ghost_drop_oldest(struct ghost *g)
{
	struct ghost_ent *e = usm_container_of(g->fifo.prev, struct ghost_ent,
					       fifo);

	ghost_unlink(g, ghost_slot(g, e->index), e);
}

/* Double the table when it is fuller than one entry per bucket.  A failed
 * allocation only leaves the chains longer. */
static void ghost_grow(struct ghost *g)
{
	unsigned int bits = g->bits ? g->bits + 1 : 4;
	struct ghost_ent **nb, *e;
	struct usm_list *n;

	if (g->bits && g->count < ((size_t)1 << g->bits))
		return;
	if (bits >= 8 * sizeof(size_t) - 1)
		return;
	nb = calloc((size_t)1 << bits, sizeof(*nb));
	if (!nb)
		return;
	free(g->buckets);
	g->buckets = nb;
	g->bits = bits;
	for (n = g->fifo.next; n != &g->fifo; n = n->next) {
		size_t h;

		e = usm_container_of(n, struct ghost_ent, fifo);
		h = ghost_hash(g, e->index);
		e->hnext = nb[h];
		nb[h] = e;
	}
}

/* Remember @index, keeping at most @cap entries. */
static void ghost_add(struct ghost *g, uint64_t index, size_t cap)
{
	struct ghost_ent **pp, *e;

	if (!cap)
		return;
	ghost_take(g, index);
	while (g->count >= cap)
		ghost_drop_oldest(g);
	ghost_grow(g);
	if (!g->bits)
		return;			/* no table: remember nothing */
	if (g->spare) {
		e = g->spare;
		g->spare = e->hnext;
		g->nspare--;
	} else {
		e = malloc(sizeof(*e));
		if (!e) {
			if (!g->count)
				return;
			ghost_drop_oldest(g);
			e = g->spare;
			g->spare = e->hnext;
			g->nspare--;
		}
	}
	e->index = index;
	pp = ghost_slot(g, index);
	e->hnext = *pp;
	*pp = e;
	usm_list_add(&e->fifo, &g->fifo);
	g->count++;
}

static void ghost_free(struct ghost *g)
{
	struct ghost_ent *e;

	while (g->count)
		ghost_drop_oldest(g);
	while ((e = g->spare)) {
		g->spare = e->hnext;
		free(e);
	}
	g->nspare = 0;
	free(g->buckets);
	g->buckets = NULL;
	g->bits = 0;
}

static void *s3_create(struct usm_file *file)
{
	struct s3fifo *s = calloc(1, sizeof(*s));

	(void)file;
	if (s) {
		evq_init(&s->small);
		evq_init(&s->main);
		usm_list_init(&s->ghost.fifo);
	}
	return s;
}

static void s3_destroy(void *state)
{
	struct s3fifo *s = state;

	ghost_free(&s->ghost);
	free(s);
}

static void s3_insert(void *state, struct usm_page *pg)
{
	struct s3fifo *s = state;

	pg->ptag = 0;
	if (ghost_take(&s->ghost, pg->index)) {
		pg->pflags = S3_MAIN;
		evq_push_head(&s->main, pg);
	} else {
		pg->pflags = S3_SMALL;
		evq_push_head(&s->small, pg);
	}
}

static void s3_access(void *state, struct usm_page *pg)
{
	(void)state;
	if (pg->ptag < S3_FREQ_MAX)
		pg->ptag++;
}

static void s3_remove(void *state, struct usm_page *pg)
{
	struct s3fifo *s = state;

	evq_del(pg->pflags == S3_MAIN ? &s->main : &s->small, pg);
}

static size_t s3_resident(const void *state)
{
	const struct s3fifo *s = state;

	return s->small.count + s->main.count;
}

/* The ghost remembers as many indices as M should hold: 90%. */
static size_t ghost_cap(const struct s3fifo *s)
{
	size_t r = s3_resident(s);

	return r - r / 10;
}

/* Evict from S: promote accessed pages to M until an unaccessed one
 * leaves (its index goes to G).  NULL if S has nothing to give. */
static struct usm_page *evict_small(struct s3fifo *s)
{
	struct usm_list *cur = s->small.list.prev;

	while (cur != &s->small.list) {
		struct usm_list *prev = cur->prev;
		struct usm_page *pg = evq_page(cur);

		if (usm_page_pinned(pg)) {
			/* stays where it is */
		} else if (pg->ptag >= 1) {
			evq_del(&s->small, pg);
			pg->ptag = 0;
			pg->pflags = S3_MAIN;
			evq_push_head(&s->main, pg);
		} else {
			size_t cap = ghost_cap(s);

			evq_del(&s->small, pg);
			ghost_add(&s->ghost, pg->index, cap);
			return pg;
		}
		cur = prev;
	}
	return NULL;
}

/* Evict from M: reinsert pages with a non-zero frequency (lowering it)
 * until one with none leaves.  NULL if M has nothing to give. */
static struct usm_page *evict_main(struct s3fifo *s)
{
	struct usm_list *cur = s->main.list.prev;
	size_t budget = (S3_FREQ_MAX + 1) * s->main.count + 1;

	while (s->main.count && budget--) {
		struct usm_list *prev;
		struct usm_page *pg;

		if (cur == &s->main.list)
			cur = s->main.list.prev;
		prev = cur->prev;
		pg = evq_page(cur);
		if (usm_page_pinned(pg)) {
			/* stays where it is */
		} else if (pg->ptag) {
			pg->ptag--;
			evq_move_head(&s->main, pg);
		} else {
			evq_del(&s->main, pg);
			return pg;
		}
		cur = prev;
	}
	return NULL;
}

static size_t s3_victims(void *state, struct usm_page **out, size_t n)
{
	struct s3fifo *s = state;
	size_t got = 0;

	while (got < n && s3_resident(s)) {
		size_t target = s3_resident(s) / 10;
		struct usm_page *pg = NULL;

		if (s->small.count && (s->small.count >= target || !s->main.count))
			pg = evict_small(s);
		if (!pg)
			pg = evict_main(s);
		if (!pg)
			pg = evict_small(s);	/* M had only pinned pages */
		if (!pg)
			break;
		out[got++] = pg;
	}
	return got;
}

const struct usm_evict_ops usm_evict_s3fifo = {
	.name = "s3fifo",
	.create = s3_create,
	.destroy = s3_destroy,
	.on_insert = s3_insert,
	.on_access = s3_access,
	.on_remove = s3_remove,
	.victims = s3_victims,
	.resident = s3_resident,
};
