// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pagemap.c - per-file index -> entry radix tree with tags (pagemap.h).
 *
 * A tree of height h covers indices < 2^(6h).  Node at level l (leaves are
 * level 0) holds 64 slots; tag bit i of a node is set iff slot i holds an
 * entry with that tag (leaf) or a child with any such entry (inner).  Empty
 * nodes are freed at once, so a present child always holds entries, and the
 * tree shrinks back to height 0 when the last entry leaves.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "pagemap.h"

#define PM_BITS		6
#define PM_FAN		64
#define PM_MASK		63
#define PM_MAXH		11	/* 66 bits >= 64 */

struct pm_node {
	uint64_t tags[PM_NTAGS];
	void *slot[PM_FAN];
};

void usm_pm_init(struct usm_pagemap *pm)
{
	pm->root = NULL;
	pm->height = 0;
	pm->count = 0;
}

static void node_free(struct pm_node *n, unsigned int level)
{
	if (level > 0) {
		uint64_t m = n->tags[PM_PRESENT];

		while (m) {
			unsigned int i = (unsigned int)__builtin_ctzll(m);

			node_free(n->slot[i], level - 1);
			m &= m - 1;
		}
	}
	free(n);
}

void usm_pm_destroy(struct usm_pagemap *pm)
{
	if (pm->root)
		node_free(pm->root, pm->height - 1);
	usm_pm_init(pm);
}

static inline unsigned int slot_of(uint64_t index, unsigned int level)
{
	unsigned int s = level * PM_BITS;

	return s >= 64 ? 0 : (unsigned int)((index >> s) & PM_MASK);
}

/* Largest index + 1 covered by height h (0 = unbounded). */
static bool covers(unsigned int h, uint64_t index)
{
	unsigned int bits = h * PM_BITS;

	return bits >= 64 || (index >> bits) == 0;
}

void *usm_pm_lookup(const struct usm_pagemap *pm, uint64_t index)
{
	struct pm_node *n = pm->root;

	if (!n || !covers(pm->height, index))
		return NULL;
	for (unsigned int l = pm->height - 1; ; l--) {
		void *p = n->slot[slot_of(index, l)];

		if (l == 0 || !p)
			return p;
		n = p;
	}
}

static int grow(struct usm_pagemap *pm, uint64_t index)
{
	while (!covers(pm->height, index)) {
		struct pm_node *n;

		if (!pm->root) {
			pm->height++;
			continue;
		}
		n = calloc(1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		n->slot[0] = pm->root;
		for (unsigned int t = 0; t < PM_NTAGS; t++)
			if (pm->root->tags[t])
				n->tags[t] |= 1;
		pm->root = n;
		pm->height++;
	}
	if (pm->height == 0)
		pm->height = 1;
	return 0;
}

int usm_pm_insert(struct usm_pagemap *pm, uint64_t index, void *entry)
{
	struct pm_node *path[PM_MAXH];
	struct pm_node *spare[PM_MAXH];
	unsigned int nspare = 0, missing = 0, l;
	struct pm_node *n;
	int err;

	if (!entry)
		return -EINVAL;
	if (index == PM_NONE)
		return -ERANGE;	/* the "none" answer of next/prev */
	if (usm_pm_lookup(pm, index))
		return -EEXIST;
	err = grow(pm, index);
	if (err)
		return err;
	/* Count the nodes to add, and allocate them all before linking any,
	 * so that a failure leaves the tree as it was. */
	n = pm->root;
	for (l = pm->height; l > 0; l--) {
		if (!n) {
			missing++;
			continue;
		}
		if (l > 1)
			n = n->slot[slot_of(index, l - 1)];
	}
	for (; nspare < missing; nspare++) {
		spare[nspare] = calloc(1, sizeof(struct pm_node));
		if (!spare[nspare]) {
			while (nspare)
				free(spare[--nspare]);
			return -ENOMEM;
		}
	}
	if (!pm->root)
		pm->root = spare[--nspare];
	n = pm->root;
	for (l = pm->height - 1; l > 0; l--) {
		unsigned int s = slot_of(index, l);

		path[l] = n;
		if (!n->slot[s])
			n->slot[s] = spare[--nspare];
		n = n->slot[s];
	}
	n->slot[slot_of(index, 0)] = entry;
	n->tags[PM_PRESENT] |= 1ull << slot_of(index, 0);
	for (l = 1; l < pm->height; l++)
		path[l]->tags[PM_PRESENT] |= 1ull << slot_of(index, l);
	pm->count++;
	return 0;
}

/* Walk to the leaf, filling path[0..height-1] (path[0] is the leaf). */
static struct pm_node *walk(const struct usm_pagemap *pm, uint64_t index,
			    struct pm_node **path)
{
	struct pm_node *n = pm->root;

	if (!n || !covers(pm->height, index))
		return NULL;
	for (unsigned int l = pm->height - 1; ; l--) {
		path[l] = n;
		if (l == 0)
			break;
		n = n->slot[slot_of(index, l)];
		if (!n)
			return NULL;
	}
	return n->slot[slot_of(index, 0)] ? n : NULL;
}

/* Recompute tag @t of levels >= @from from their children on the path. */
static void fix_tag_from(struct usm_pagemap *pm, struct pm_node **path,
			 uint64_t index, unsigned int t, unsigned int from)
{
	for (unsigned int l = from; l < pm->height; l++) {
		uint64_t bit = 1ull << slot_of(index, l);
		bool child = path[l - 1]->tags[t] != 0;
		bool had = path[l]->tags[t] & bit;

		if (child == had)
			return;
		if (child)
			path[l]->tags[t] |= bit;
		else
			path[l]->tags[t] &= ~bit;
	}
}

/* Recompute tag @t from level 1 up after a change at the leaf. */
static void fix_tag_up(struct usm_pagemap *pm, struct pm_node **path,
		       uint64_t index, unsigned int t)
{
	fix_tag_from(pm, path, index, t, 1);
}

void usm_pm_tag_set(struct usm_pagemap *pm, uint64_t index, unsigned int tag)
{
	struct pm_node *path[PM_MAXH];
	struct pm_node *leaf = walk(pm, index, path);

	if (!leaf)
		return;
	leaf->tags[tag] |= 1ull << slot_of(index, 0);
	fix_tag_up(pm, path, index, tag);
}

void usm_pm_tag_clear(struct usm_pagemap *pm, uint64_t index, unsigned int tag)
{
	struct pm_node *path[PM_MAXH];
	struct pm_node *leaf = walk(pm, index, path);

	if (!leaf)
		return;
	leaf->tags[tag] &= ~(1ull << slot_of(index, 0));
	fix_tag_up(pm, path, index, tag);
}

int usm_pm_tag_get(const struct usm_pagemap *pm, uint64_t index, unsigned int tag)
{
	struct pm_node *path[PM_MAXH];
	struct pm_node *leaf = walk(pm, index, path);

	if (!leaf)
		return 0;
	return (leaf->tags[tag] >> slot_of(index, 0)) & 1;
}

void *usm_pm_replace(struct usm_pagemap *pm, uint64_t index, void *entry)
{
	struct pm_node *path[PM_MAXH];
	struct pm_node *leaf = walk(pm, index, path);
	void *old;

	if (!leaf || !entry)
		return NULL;
	old = leaf->slot[slot_of(index, 0)];
	leaf->slot[slot_of(index, 0)] = entry;
	return old;
}

void *usm_pm_delete(struct usm_pagemap *pm, uint64_t index)
{
	struct pm_node *path[PM_MAXH];
	struct pm_node *leaf = walk(pm, index, path);
	unsigned int s0 = slot_of(index, 0);
	void *old;

	if (!leaf)
		return NULL;
	old = leaf->slot[s0];
	leaf->slot[s0] = NULL;
	for (unsigned int t = 0; t < PM_NTAGS; t++)
		leaf->tags[t] &= ~(1ull << s0);
	/* Free empty nodes bottom-up, fixing tags of the rest. */
	for (unsigned int l = 0; l < pm->height; l++) {
		struct pm_node *n = path[l];

		if (n->tags[PM_PRESENT] == 0) {
			if (l + 1 < pm->height) {
				unsigned int s = slot_of(index, l + 1);

				path[l + 1]->slot[s] = NULL;
				for (unsigned int t = 0; t < PM_NTAGS; t++)
					path[l + 1]->tags[t] &= ~(1ull << s);
			} else {
				pm->root = NULL;
				pm->height = 0;
			}
			free(n);
			continue;
		}
		/* path[l] still holds entries; its tags are right, fix the
		 * levels above it. */
		for (unsigned int t = 1; t < PM_NTAGS; t++)
			fix_tag_from(pm, path, index, t, l + 1);
		break;
	}
	pm->count--;
	return old;
}

static uint64_t next_rec(const struct pm_node *n, unsigned int level,
			 uint64_t base, uint64_t from, unsigned int t,
			 void **out)
{
	unsigned int shift = level * PM_BITS;
	unsigned int o = from > base ? slot_of(from, level) : 0;
	uint64_t m = n->tags[t] & (~0ull << o);

	while (m) {
		unsigned int i = (unsigned int)__builtin_ctzll(m);
		uint64_t cbase = base + ((uint64_t)i << shift);
		uint64_t r;

		if (level == 0) {
			if (out)
				*out = n->slot[i];
			return cbase;
		}
		r = next_rec(n->slot[i], level - 1, cbase,
			     from > cbase ? from : cbase, t, out);
		if (r != PM_NONE)
			return r;
		m &= m - 1;
	}
	return PM_NONE;
}

uint64_t usm_pm_next(const struct usm_pagemap *pm, uint64_t from, unsigned int tag,
		 void **out)
{
	if (!pm->root || !covers(pm->height, from))
		return PM_NONE;
	return next_rec(pm->root, pm->height - 1, 0, from, tag, out);
}

static uint64_t prev_rec(const struct pm_node *n, unsigned int level,
			 uint64_t base, uint64_t from, unsigned int t,
			 void **out)
{
	unsigned int shift = level * PM_BITS;
	unsigned int bits = shift + PM_BITS;
	uint64_t span_last = bits >= 64 ? UINT64_MAX :
			     base + ((1ull << bits) - 1);
	unsigned int o = from < span_last ? slot_of(from, level) : PM_MASK;
	uint64_t m = n->tags[t] & (o == 63 ? ~0ull : ((1ull << (o + 1)) - 1));

	while (m) {
		unsigned int i = 63 - (unsigned int)__builtin_clzll(m);
		uint64_t cbase = base + ((uint64_t)i << shift);
		uint64_t clast = shift >= 64 ? UINT64_MAX :
				 cbase + ((1ull << shift) - 1);
		uint64_t r;

		if (level == 0) {
			if (out)
				*out = n->slot[i];
			return cbase;
		}
		r = prev_rec(n->slot[i], level - 1, cbase,
			     from < clast ? from : clast, t, out);
		if (r != PM_NONE)
			return r;
		m &= ~(1ull << i);
	}
	return PM_NONE;
}

uint64_t usm_pm_prev(const struct usm_pagemap *pm, uint64_t from, unsigned int tag,
		 void **out)
{
	if (!pm->root)
		return PM_NONE;
	return prev_rec(pm->root, pm->height - 1, 0, from, tag, out);
}
