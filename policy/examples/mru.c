// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mru.c - an example eviction policy plugin for usmfs: MRU (most recently
 * used first), which suits files read in loops bigger than memory.
 *
 * Build:  cc -shared -fPIC $(pkg-config --cflags usmpolicy) -o mru.so mru.c
 * Use:    plugin = /path/to/mru.so      (usmfs.conf, [policy] section)
 *         setfattr -n user.usm.evict -v mru /mnt/usm/FILE
 */
#include <stdlib.h>

#include <usm/policy.h>

/* One per file: the file's resident pages, most recently used at the head. */
struct mru {
	struct usm_list pages;
	size_t count;
};

static struct usm_page *page_of(struct usm_list *n)
{
	return usm_container_of(n, struct usm_page, node);
}

static void *mru_create(struct usm_file *file)
{
	struct mru *m = malloc(sizeof(*m));

	(void)file;
	if (m) {
		usm_list_init(&m->pages);
		m->count = 0;
	}
	return m;		/* NULL: out of memory */
}

static void mru_destroy(void *state)
{
	free(state);		/* every page was removed before */
}

static void mru_insert(void *state, struct usm_page *pg)
{
	struct mru *m = state;

	usm_list_add(&pg->node, &m->pages);
	m->count++;
}

static void mru_access(void *state, struct usm_page *pg)
{
	struct mru *m = state;

	usm_list_del(&pg->node);
	usm_list_add(&pg->node, &m->pages);
}

static void mru_remove(void *state, struct usm_page *pg)
{
	struct mru *m = state;

	usm_list_del(&pg->node);
	m->count--;
}

/* Give the most recently used pages first, skipping pinned ones, and
 * detach what we give. */
static size_t mru_victims(void *state, struct usm_page **out, size_t n)
{
	struct mru *m = state;
	struct usm_list *cur = m->pages.next;
	size_t got = 0;

	while (got < n && cur != &m->pages) {
		struct usm_page *pg = page_of(cur);

		cur = cur->next;
		if (usm_page_pinned(pg))
			continue;
		usm_list_del(&pg->node);
		m->count--;
		out[got++] = pg;
	}
	return got;
}

static size_t mru_resident(const void *state)
{
	return ((const struct mru *)state)->count;
}

static const struct usm_evict_ops mru_ops = {
	.name = "mru",
	.create = mru_create,
	.destroy = mru_destroy,
	.on_insert = mru_insert,
	.on_access = mru_access,
	.on_remove = mru_remove,
	.victims = mru_victims,
	.resident = mru_resident,
};

/* The one symbol the library looks for. */
const struct usm_plugin usm_plugin_info = {
	.abi = USM_PLUGIN_ABI,
	.name = "mru",
	.evict = (const struct usm_evict_ops *const[]){ &mru_ops, NULL },
};
