/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pagemap.h - a file's page index -> entry map: a 64-ary radix tree with
 * per-slot tags (like the kernel's xarray marks), so that lookup, insert,
 * delete and "next/previous entry with tag T" are O(log64 index).
 *
 * Entries are non-NULL pointers.  Tag PM_PRESENT is implicit (set for every
 * entry); the others are set and cleared by the owner.  Not locked.
 */
#ifndef USM_PAGEMAP_H
#define USM_PAGEMAP_H

#include <stdint.h>

enum {
	PM_PRESENT = 0,	/* any entry */
	PM_DATA = 1,	/* the owner's: page has data (resident or swapped) */
	PM_FRAME = 2,	/* the owner's: page holds a frame */
	PM_NTAGS
};

#define PM_NONE	UINT64_MAX

struct pm_node;

struct usm_pagemap {
	struct pm_node *root;
	unsigned int height;	/* levels; 0 = empty */
	uint64_t count;		/* entries */
};

void usm_pm_init(struct usm_pagemap *pm);
/* Free the tree (not the entries). */
void usm_pm_destroy(struct usm_pagemap *pm);

void *usm_pm_lookup(const struct usm_pagemap *pm, uint64_t index);
/* 0, -EEXIST, -ENOMEM, -ERANGE (index PM_NONE, i.e. UINT64_MAX, cannot be
 * stored: it is what next/prev answer for "none"). */
int usm_pm_insert(struct usm_pagemap *pm, uint64_t index, void *entry);
/* Replace an existing entry (tags kept).  Returns the old one or NULL. */
void *usm_pm_replace(struct usm_pagemap *pm, uint64_t index, void *entry);
/* Remove and return the entry (NULL if none). */
void *usm_pm_delete(struct usm_pagemap *pm, uint64_t index);

void usm_pm_tag_set(struct usm_pagemap *pm, uint64_t index, unsigned int tag);
void usm_pm_tag_clear(struct usm_pagemap *pm, uint64_t index, unsigned int tag);
int usm_pm_tag_get(const struct usm_pagemap *pm, uint64_t index, unsigned int tag);

/* First index >= @from whose entry has @tag (entry in *@out if non-NULL),
 * or PM_NONE. */
uint64_t usm_pm_next(const struct usm_pagemap *pm, uint64_t from, unsigned int tag,
		 void **out);
/* Last index <= @from whose entry has @tag, or PM_NONE. */
uint64_t usm_pm_prev(const struct usm_pagemap *pm, uint64_t from, unsigned int tag,
		 void **out);

#endif
