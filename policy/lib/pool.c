// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pool.c - the frame allocator (usm/pool.h).
 *
 * Free frames are indexed by order, as in a buddy allocator but without
 * splitting or merging anything: for each order o (0 .. nr_orders-1) a
 * bitmap has bit b set iff the 2^o frames [b << o, (b + 1) << o) are all
 * free (order 0 is the plain free bitmap).  Each of these bitmaps is
 * hierarchical (struct hbm): level l+1 has a bit per 64-bit word of level l,
 * set iff that word is non-zero, so "first set bit at or after x" costs
 * O(log64 N).
 *
 *   take(f): clear f at order 0, then clear f >> o at each higher order
 *            until one was already clear;
 *   put(f):  set f at order 0, then set f >> o at order o while both of its
 *            halves at order o-1 are set.
 *
 * A run of nr frames aligned to align is found as the lowest fully free
 * block of order ceil(log2(max(nr, align))) that lies inside one chunk:
 * O(log N) plus one step per chunk boundary skipped.  When nr is not a
 * power of two (or is larger than align) a lower run that is not aligned
 * to that order may be missed; if no such block exists at all, a slower
 * search over the free blocks of order log2(align) looks for any run.
 *
 * Frames past the last one are "used" for every order, so a partial block
 * at the end of the pool is never fully free.
 *
 * The bitmaps are sized for a capacity (a power of two >= the frames) and
 * grow by doubling, so adding a chunk costs O(its frames * log N)
 * amortised, however many chunks the pool is made of.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <usm/pool.h>

#define NONE	UINT64_MAX
#define HBM_MAX_LEVELS	12

/* A hierarchical bitmap of nbits bits (room for more: see hbm_init). */
struct hbm {
	uint64_t nbits;
	unsigned int nlevels;
	uint64_t nwords[HBM_MAX_LEVELS];
	uint64_t *w[HBM_MAX_LEVELS];
};

struct pool_chunk {
	usm_frame_t first;
	uint64_t nr;
};

struct usm_pool {
	uint64_t nr_frames;
	uint64_t cap_frames;		/* the bitmaps' size */
	uint64_t nr_free;
	struct pool_chunk *chunks;
	size_t nr_chunks;
	unsigned int nr_orders;		/* orders 0 .. nr_orders-1 */
	struct hbm *ord;		/* [nr_orders] */
};

static inline unsigned int ctz64(uint64_t x)
{
	return (unsigned int)__builtin_ctzll(x);
}

static inline bool hbm_test(const struct hbm *h, uint64_t b)
{
	return (h->w[0][b >> 6] >> (b & 63)) & 1;
}

static void hbm_free(struct hbm *h)
{
	for (unsigned int l = 0; l < h->nlevels; l++)
		free(h->w[l]);
	memset(h, 0, sizeof(*h));
}

/* Room for @cap bits; none in use yet (nbits = 0). */
static int hbm_init(struct hbm *h, uint64_t cap)
{
	uint64_t n = cap;

	memset(h, 0, sizeof(*h));
	do {
		uint64_t words = (n + 63) / 64;

		if (words == 0)
			words = 1;
		if (h->nlevels == HBM_MAX_LEVELS) {
			hbm_free(h);
			return -EINVAL;
		}
		h->w[h->nlevels] = calloc(words, sizeof(uint64_t));
		if (!h->w[h->nlevels]) {
			hbm_free(h);
			return -ENOMEM;
		}
		h->nwords[h->nlevels++] = words;
		n = words;
	} while (n > 1);
	return 0;
}

static void hbm_set(struct hbm *h, uint64_t b)
{
	for (unsigned int l = 0; l < h->nlevels; l++) {
		uint64_t *wp = &h->w[l][b >> 6];
		bool was_zero = *wp == 0;

		*wp |= 1ull << (b & 63);
		if (!was_zero)
			return;
		b >>= 6;
	}
}

static void hbm_clear(struct hbm *h, uint64_t b)
{
	for (unsigned int l = 0; l < h->nlevels; l++) {
		uint64_t *wp = &h->w[l][b >> 6];

		*wp &= ~(1ull << (b & 63));
		if (*wp)
			return;
		b >>= 6;
	}
}

/* First set bit >= from at level lvl (bit numbers of that level). */
static uint64_t hbm_next_lvl(const struct hbm *h, unsigned int lvl,
			     uint64_t from)
{
	uint64_t wi = from >> 6, word;

	if (wi >= h->nwords[lvl])
		return NONE;
	word = h->w[lvl][wi] & (~0ull << (from & 63));
	if (!word) {
		if (lvl + 1 >= h->nlevels)
			return NONE;
		wi = hbm_next_lvl(h, lvl + 1, wi + 1);
		if (wi == NONE)
			return NONE;
		word = h->w[lvl][wi];
	}
	return (wi << 6) + ctz64(word);
}

static uint64_t hbm_next(const struct hbm *h, uint64_t from)
{
	if (from >= h->nbits)
		return NONE;
	return hbm_next_lvl(h, 0, from);
}

/* ---- the pool ---- */

struct usm_pool *usm_pool_new(void)
{
	return calloc(1, sizeof(struct usm_pool));
}

static void pool_free_orders(struct hbm *ord, unsigned int n)
{
	if (!ord)
		return;
	for (unsigned int o = 0; o < n; o++)
		hbm_free(&ord[o]);
	free(ord);
}

void usm_pool_free(struct usm_pool *pool)
{
	if (!pool)
		return;
	pool_free_orders(pool->ord, pool->nr_orders);
	free(pool->chunks);
	free(pool);
}

static unsigned int orders_for(uint64_t nr_frames)
{
	unsigned int n = 1;

	while (n < 64 && (nr_frames >> n) != 0)
		n++;
	return n;
}

/* Recompute the summary levels of @h from its level 0. */
static void hbm_resummarise(struct hbm *h)
{
	for (unsigned int l = 1; l < h->nlevels; l++) {
		memset(h->w[l], 0, h->nwords[l] * sizeof(uint64_t));
		for (uint64_t wi = 0; wi < h->nwords[l - 1]; wi++)
			if (h->w[l - 1][wi])
				h->w[l][wi >> 6] |= 1ull << (wi & 63);
	}
}

/* Move to bitmaps with room for @cap frames, keeping every bit. */
static int pool_realloc(struct usm_pool *pool, uint64_t cap)
{
	unsigned int norders = orders_for(cap);
	struct hbm *ord = calloc(norders, sizeof(*ord));
	int err;

	if (!ord)
		return -ENOMEM;
	for (unsigned int o = 0; o < norders; o++) {
		err = hbm_init(&ord[o], cap >> o);
		if (err) {
			pool_free_orders(ord, o);
			return err;
		}
		if (o < pool->nr_orders) {
			const struct hbm *old = &pool->ord[o];

			memcpy(ord[o].w[0], old->w[0],
			       old->nwords[0] * sizeof(uint64_t));
			ord[o].nbits = old->nbits;
			hbm_resummarise(&ord[o]);
		}
	}
	pool_free_orders(pool->ord, pool->nr_orders);
	pool->ord = ord;
	pool->nr_orders = norders;
	pool->cap_frames = cap;
	return 0;
}

static void pool_put_one(struct usm_pool *pool, usm_frame_t f);

/* Frames [nr_frames, nr_frames + nr) join the pool, free. */
static int pool_grow(struct usm_pool *pool, uint64_t nr)
{
	uint64_t n = pool->nr_frames + nr;
	int err;

	if (n > pool->cap_frames) {
		uint64_t cap = pool->cap_frames ? pool->cap_frames : 64;

		while (cap < n)
			cap *= 2;
		err = pool_realloc(pool, cap);
		if (err)
			return err;
	}
	for (unsigned int o = 0; o < pool->nr_orders; o++)
		pool->ord[o].nbits = n >> o;
	for (usm_frame_t f = pool->nr_frames; f < n; f++)
		pool_put_one(pool, f);
	return 0;
}

int usm_pool_add_chunk(struct usm_pool *pool, uint64_t nr, usm_frame_t *first)
{
	struct pool_chunk *c;
	int err;

	if (nr == 0 || pool->nr_frames + nr < pool->nr_frames ||
	    pool->nr_frames + nr >= (1ull << 60))
		return -EINVAL;
	c = realloc(pool->chunks, (pool->nr_chunks + 1) * sizeof(*c));
	if (!c)
		return -ENOMEM;
	pool->chunks = c;
	err = pool_grow(pool, nr);	/* counts the frames free */
	if (err)
		return err;
	c[pool->nr_chunks].first = pool->nr_frames;
	c[pool->nr_chunks].nr = nr;
	pool->nr_chunks++;
	if (first)
		*first = pool->nr_frames;
	pool->nr_frames += nr;
	return 0;
}

uint64_t usm_pool_nr_frames(const struct usm_pool *pool)
{
	return pool->nr_frames;
}

uint64_t usm_pool_nr_free(const struct usm_pool *pool)
{
	return pool->nr_free;
}

size_t usm_pool_nr_chunks(const struct usm_pool *pool)
{
	return pool->nr_chunks;
}

int usm_pool_is_free(const struct usm_pool *pool, usm_frame_t f)
{
	if (f >= pool->nr_frames)
		return -ERANGE;
	return hbm_test(&pool->ord[0], f);
}

static void pool_take_one(struct usm_pool *pool, usm_frame_t f)
{
	hbm_clear(&pool->ord[0], f);
	for (unsigned int o = 1; o < pool->nr_orders; o++) {
		uint64_t b = f >> o;

		if (b >= pool->ord[o].nbits || !hbm_test(&pool->ord[o], b))
			break;
		hbm_clear(&pool->ord[o], b);
	}
	pool->nr_free--;
}

static void pool_put_one(struct usm_pool *pool, usm_frame_t f)
{
	hbm_set(&pool->ord[0], f);
	for (unsigned int o = 1; o < pool->nr_orders; o++) {
		uint64_t b = f >> o;

		if (b >= pool->ord[o].nbits ||
		    !hbm_test(&pool->ord[o - 1], 2 * b) ||
		    !hbm_test(&pool->ord[o - 1], 2 * b + 1))
			break;
		hbm_set(&pool->ord[o], b);
	}
	pool->nr_free++;
}

int usm_pool_take(struct usm_pool *pool, usm_frame_t f)
{
	if (f >= pool->nr_frames)
		return -ERANGE;
	if (!hbm_test(&pool->ord[0], f))
		return -EBUSY;
	pool_take_one(pool, f);
	return 0;
}

int usm_pool_put(struct usm_pool *pool, usm_frame_t f)
{
	if (f >= pool->nr_frames)
		return -ERANGE;
	if (hbm_test(&pool->ord[0], f))
		return -EINVAL;
	pool_put_one(pool, f);
	return 0;
}

int usm_pool_alloc_from(struct usm_pool *pool, usm_frame_t from,
			usm_frame_t *out)
{
	uint64_t f;

	if (pool->nr_free == 0)
		return -ENOSPC;
	f = hbm_next(&pool->ord[0], from < pool->nr_frames ? from : 0);
	if (f == NONE)
		f = hbm_next(&pool->ord[0], 0);
	if (f == NONE)
		return -ENOSPC;
	pool_take_one(pool, f);
	*out = f;
	return 0;
}

/* Index of the chunk holding @f (f < nr_frames). */
static size_t chunk_index(const struct usm_pool *pool, usm_frame_t f)
{
	size_t lo = 0, hi = pool->nr_chunks;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (pool->chunks[mid].first <= f)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int usm_pool_chunk_of(const struct usm_pool *pool, usm_frame_t f,
		      usm_frame_t *first, uint64_t *nr)
{
	size_t i;

	if (f >= pool->nr_frames)
		return -ERANGE;
	i = chunk_index(pool, f);
	if (first)
		*first = pool->chunks[i].first;
	if (nr)
		*nr = pool->chunks[i].nr;
	return 0;
}

static bool run_in_chunk(const struct usm_pool *pool, usm_frame_t f,
			 uint64_t nr, usm_frame_t *chunk_end)
{
	const struct pool_chunk *c = &pool->chunks[chunk_index(pool, f)];

	*chunk_end = c->first + c->nr;
	return f + nr <= c->first + c->nr;
}

static void take_run(struct usm_pool *pool, usm_frame_t f, uint64_t nr)
{
	for (uint64_t i = 0; i < nr; i++)
		pool_take_one(pool, f + i);
}

/* Slow path: any run of @nr free frames, start aligned to 2^@ao. */
static usm_frame_t find_run_slow(const struct usm_pool *pool, uint64_t nr,
				 unsigned int ao)
{
	const struct hbm *h = &pool->ord[ao];
	uint64_t b = 0;

	for (;;) {
		usm_frame_t start, end, f;

		b = hbm_next(h, b);
		if (b == NONE)
			return NONE;
		start = b << ao;
		if (start + nr > pool->nr_frames)
			return NONE;
		if (!run_in_chunk(pool, start, nr, &end)) {
			b = ((end + (1ull << ao) - 1) >> ao);
			continue;
		}
		for (f = start; f < start + nr; f++)
			if (!hbm_test(&pool->ord[0], f))
				break;
		if (f == start + nr)
			return start;
		/* Next aligned start after the used frame f. */
		b = (f >> ao) + 1;
	}
}

int usm_pool_alloc_run(struct usm_pool *pool, uint64_t nr, uint64_t align,
		       usm_frame_t *out)
{
	unsigned int o = 0, ao;
	uint64_t want, b = 0;

	if (nr == 0 || align == 0 || (align & (align - 1)))
		return -EINVAL;
	if (nr > pool->nr_free || nr > pool->nr_frames)
		return -ENOSPC;
	want = nr > align ? nr : align;
	while (o < 63 && (1ull << o) < want)
		o++;
	ao = (unsigned int)ctz64(align);
	if (ao >= pool->nr_orders)
		return -ENOSPC;
	if (o < pool->nr_orders) {
		const struct hbm *h = &pool->ord[o];

		for (;;) {
			usm_frame_t start, end;

			b = hbm_next(h, b);
			if (b == NONE)
				break;
			start = b << o;
			if (run_in_chunk(pool, start, nr, &end)) {
				take_run(pool, start, nr);
				*out = start;
				return 0;
			}
			/* Straddles a chunk boundary: go on from the next
			 * chunk. */
			b = (end + (1ull << o) - 1) >> o;
		}
	}
	if ((1ull << o) == nr && align >= nr)
		return -ENOSPC;	/* the index search was exact */
	b = find_run_slow(pool, nr, ao);
	if (b == NONE)
		return -ENOSPC;
	take_run(pool, b, nr);
	*out = b;
	return 0;
}

static int hbm_check(const struct hbm *h)
{
	for (unsigned int l = 0; l + 1 < h->nlevels; l++) {
		for (uint64_t wi = 0; wi < h->nwords[l]; wi++) {
			uint64_t up = (h->w[l + 1][wi >> 6] >> (wi & 63)) & 1;

			if ((h->w[l][wi] != 0) != (up != 0))
				return -EUCLEAN;
		}
	}
	/* No bit beyond nbits. */
	if ((h->nbits & 63) && (h->w[0][h->nbits >> 6] >> (h->nbits & 63)))
		return -EUCLEAN;
	for (uint64_t wi = (h->nbits + 63) >> 6; wi < h->nwords[0]; wi++)
		if (h->w[0][wi])
			return -EUCLEAN;
	return 0;
}

int usm_pool_check(const struct usm_pool *pool)
{
	uint64_t nfree = 0, total = 0;

	if (pool->nr_frames == 0)
		return pool->nr_free == 0 && pool->nr_chunks == 0 ? 0 : -EUCLEAN;
	for (size_t i = 0; i < pool->nr_chunks; i++) {
		if (pool->chunks[i].first != total || pool->chunks[i].nr == 0)
			return -EUCLEAN;
		total += pool->chunks[i].nr;
	}
	if (total != pool->nr_frames)
		return -EUCLEAN;
	if (pool->nr_frames > pool->cap_frames ||
	    pool->nr_orders != orders_for(pool->cap_frames))
		return -EUCLEAN;
	for (unsigned int o = 0; o < pool->nr_orders; o++) {
		const struct hbm *h = &pool->ord[o];

		if (h->nbits != pool->nr_frames >> o || hbm_check(h))
			return -EUCLEAN;
		if (o == 0)
			continue;
		for (uint64_t b = 0; b < h->nbits; b++) {
			bool full = hbm_test(&pool->ord[o - 1], 2 * b) &&
				    hbm_test(&pool->ord[o - 1], 2 * b + 1);

			if (full != hbm_test(h, b))
				return -EUCLEAN;
		}
	}
	for (uint64_t wi = 0; wi < pool->ord[0].nwords[0]; wi++)
		nfree += (uint64_t)__builtin_popcountll(pool->ord[0].w[0][wi]);
	if (nfree != pool->nr_free)
		return -EUCLEAN;
	return 0;
}
