// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pmap.c - where each page of each file is, kept in the arena (state.h)
 * so that a restarted daemon can give a new library context the pages the
 * dead one had: usm_page_added() for a page in a frame of the pool (a
 * memfd the supervisor keeps), usm_page_swapped() for a page in a slot of
 * a store (reopened with USM_STORE_KEEP).
 *
 * Per file, a radix tree of PM_FAN entries per block (one arena block of
 * 4 KiB).  An entry is 0 (no page), (frame << 2) | 1 (resident) or
 * (slot << 10) | (store << 2) | 2 (swapped; store indexes the names in
 * pm_stores).  It follows the library exactly because every change of a
 * page's place goes through the daemon:
 *
 *   - a fault (file.c, fault_range) returns the pages pinned: noted before
 *     they are unpinned, so no eviction can come in between; a swap-in
 *     keeps its slot until then (pmap_note), an overwrite of a swapped
 *     page forgets the slot first (pmap_unswap);
 *   - an eviction commits (backend.c, be_commit) after the page is in its
 *     slot and before its frame is freed: noted there;
 *   - truncate, punch and the release of a file drop entries before the
 *     library frees the frames and slots.
 *
 * A daemon killed between the library's change and ours leaves the old
 * place, which still holds the data.  A page that cannot be given back
 * at a restart (its frame or slot claimed twice: a window this misses) is
 * said, counted (restart_lost_pages in the root's stats) and left a hole.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "usmfs.h"

#define PM_FAN		504u	/* (4096 - 16) / 8: a block fills a class 12 */
#define PM_DEAD		UINT32_MAX
#define PM_RES		1u
#define PM_SWP		2u
#define PM_STORES	32u

static pthread_mutex_t pm_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t cover(uint32_t h)
{
	uint64_t c = 1;

	while (h--)
		c *= PM_FAN;
	return c;
}

/* The entry for @idx, made (with its blocks) if @make.  pm_lock held. */
static uint64_t *pm_slot(struct node *n, uint64_t idx, bool make)
{
	uint64_t *b;
	uint32_t h;

	if (n->pm_height == PM_DEAD)
		return NULL;
	if (!n->pm_root) {
		if (!make)
			return NULL;
		n->pm_root = sh_calloc(PM_FAN, sizeof(uint64_t));
		if (!n->pm_root)
			return NULL;
		n->pm_height = 1;
	}
	while (idx >= cover(n->pm_height)) {
		if (!make)
			return NULL;
		b = sh_calloc(PM_FAN, sizeof(uint64_t));
		if (!b)
			return NULL;
		b[0] = (uint64_t)(uintptr_t)n->pm_root;
		n->pm_root = b;
		n->pm_height++;
	}
	b = n->pm_root;
	for (h = n->pm_height; h > 1; h--) {
		uint64_t c = cover(h - 1), *e = &b[idx / c];

		idx %= c;
		if (!*e) {
			if (!make)
				return NULL;
			*e = (uint64_t)(uintptr_t)sh_calloc(PM_FAN, sizeof(uint64_t));
			if (!*e)
				return NULL;
		}
		b = (uint64_t *)(uintptr_t)*e;
	}
	return &b[idx];
}

static void pm_warn(struct node *n, int r)
{
	static unsigned int said;

	if (r && said++ < 8)
		fprintf(stderr, "usmfs: inode %llu: page map: %s (a restart "
			"would lose pages)\n", (unsigned long long)n->ino,
			strerror(-r));
}

/*
 * Pages [@first, @first + @nr) are in frames @fr (USM_FRAME_NONE: not
 * faulted), pinned.  A page that was swapped was faulted with
 * USM_FAULT_KEEP_SLOT: its slot stays its own until the frame is noted
 * here, then it is given up (usm_swapin_settle), so that a daemon killed
 * in between leaves a slot that still holds the page, not one that
 * another page may have taken meanwhile.
 */
void pmap_note(struct node *n, uint64_t first, uint64_t nr,
	       const usm_frame_t *fr)
{
	uint64_t done = 0, swapins[64];
	int r = 0;

	if (!sh)
		return;
	while (done < nr && !r) {
		unsigned int k = 0;

		pthread_mutex_lock(&pm_lock);
		for (; done < nr && k < 64 && !r; done++) {
			uint64_t *e, v;

			if (fr[done] == USM_FRAME_NONE)
				continue;
			e = pm_slot(n, first + done, true);
			if (!e) {
				r = n->pm_height == PM_DEAD ? 0 : -ENOMEM;
				break;
			}
			v = ((uint64_t)fr[done] << 2) | PM_RES;
			/* a page that moved may be a swap-in holding its slot
			 * (swapped, or where a commit we did not see left it) */
			if (*e && *e != v)
				swapins[k++] = done;
			__atomic_store_n(e, v, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&pm_lock);
		for (unsigned int i = 0; i < k; i++)
			usm_swapin_settle(fs.ctx, n->uf, first + swapins[i],
					  fr[swapins[i]], USM_SWAPIN_TAKEN);
	}
	/* not noted (no memory): still give up any slot held for them */
	for (; done < nr; done++)
		if (fr[done] != USM_FRAME_NONE)
			usm_swapin_settle(fs.ctx, n->uf, first + done, fr[done],
					  USM_SWAPIN_TAKEN);
	pm_warn(n, r);
}

/*
 * Before a fault with USM_FAULT_OVERWRITE (the library gives up a swapped
 * page's slot at once, before we can note its new frame): forget where
 * the swapped pages of the range are, their entries in @saved.  A daemon
 * killed before the note leaves a hole, which the request that is resent
 * writes again whole.  pmap_unswap_undo() puts back those of pages
 * [@from, @nr) that the fault did not reach (if nothing noted them since).
 */
void pmap_unswap(struct node *n, uint64_t first, uint64_t nr, uint64_t *saved)
{
	pthread_mutex_lock(&pm_lock);
	for (uint64_t i = 0; i < nr; i++) {
		uint64_t *e = pm_slot(n, first + i, false);

		saved[i] = e ? *e : 0;
		if (e && (*e & 3) == PM_SWP)
			__atomic_store_n(e, 0, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&pm_lock);
}

void pmap_unswap_undo(struct node *n, uint64_t first, uint64_t from,
		      uint64_t nr, const uint64_t *saved)
{
	pthread_mutex_lock(&pm_lock);
	for (uint64_t i = from; i < nr; i++) {
		uint64_t *e;

		if ((saved[i] & 3) != PM_SWP)
			continue;
		e = pm_slot(n, first + i, false);
		if (e && !*e)
			__atomic_store_n(e, saved[i], __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&pm_lock);
}

/* Index of store @name in the arena's table (made if new), or -1. */
static int store_index(const char *name)
{
	for (unsigned int i = 0; i < PM_STORES; i++) {
		char *s = sh->pm_stores[i];

		if (!strcmp(s, name) && (i == 0 || s[0]))
			return (int)i;
		if (i > 0 && !s[0]) {
			snprintf(s, sizeof(sh->pm_stores[i]), "%s", name);
			return (int)i;
		}
	}
	return -1;
}

/* Under fs.lock: the pages of @refs are in their slots now. */
void pmap_commit_locked(const struct usm_page_ref *refs, size_t nr)
{
	struct node *n = NULL;
	int store = -1, r = 0;

	if (!sh)
		return;
	pthread_mutex_lock(&pm_lock);
	for (size_t i = 0; i < nr; i++) {
		uint64_t *e;

		if (!n || n->ino != refs[i].ino) {
			n = node_find_locked(refs[i].ino);
			if (n && n->uf != refs[i].file)
				n = NULL;
			store = n ? store_index(n->pol.swap) : -1;
		}
		if (!n)
			continue;
		e = pm_slot(n, refs[i].index, false);
		if (!e || *e != (((uint64_t)refs[i].frame << 2) | PM_RES))
			continue;	/* not where we saw it: stale */
		if (store < 0 || refs[i].slot >= (1ULL << 54)) {
			r = -ERANGE;
			*e = 0;
			continue;
		}
		__atomic_store_n(e, (refs[i].slot << 10) |
				 ((uint64_t)store << 2) | PM_SWP, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&pm_lock);
	if (n)
		pm_warn(n, r);
}

static void pm_free_tree(uint64_t *b, uint32_t h)
{
	if (h > 1)
		for (unsigned int i = 0; i < PM_FAN; i++)
			if (b[i])
				pm_free_tree((uint64_t *)(uintptr_t)b[i], h - 1);
	sh_free(b);
}

/* Drop entries in [@first, @end) of block @b (height @h, from @base). */
static void pm_clear(uint64_t *b, uint32_t h, uint64_t base, uint64_t first,
		     uint64_t end)
{
	uint64_t c = cover(h - 1);

	for (unsigned int i = 0; i < PM_FAN; i++) {
		uint64_t lo = base + i * c, hi = lo + c;

		if (hi <= first || lo >= end || !b[i])
			continue;
		if (h == 1) {
			__atomic_store_n(&b[i], 0, __ATOMIC_RELEASE);
		} else if (first <= lo && hi <= end) {
			uint64_t *child = (uint64_t *)(uintptr_t)b[i];

			__atomic_store_n(&b[i], 0, __ATOMIC_RELEASE);
			pm_free_tree(child, h - 1);
		} else {
			pm_clear((uint64_t *)(uintptr_t)b[i], h - 1, lo, first, end);
		}
	}
}

/* Pages [@first, @first + @nr) are about to be dropped (UINT64_MAX: to
 * the end). */
void pmap_drop(struct node *n, uint64_t first, uint64_t nr)
{
	uint64_t end = nr > UINT64_MAX - first ? UINT64_MAX : first + nr;

	if (!sh)
		return;
	pthread_mutex_lock(&pm_lock);
	if (n->pm_root && n->pm_height != PM_DEAD)
		pm_clear(n->pm_root, n->pm_height, 0, first, end);
	pthread_mutex_unlock(&pm_lock);
}

/* The file's pages are about to be released: forget them all. */
void pmap_free(struct node *n)
{
	uint64_t *root;
	uint32_t h;

	if (!sh)
		return;
	pthread_mutex_lock(&pm_lock);
	root = n->pm_root;
	h = n->pm_height;
	n->pm_root = NULL;
	n->pm_height = PM_DEAD;
	pthread_mutex_unlock(&pm_lock);
	if (root && h != PM_DEAD)
		pm_free_tree(root, h);
}

struct rebuild {
	struct node *n;
	uint64_t pages, swapped, failed;
};

/* Give page @idx (entry *@e) to the new context; a page that cannot be
 * given is a hole now, in the map too. */
static void pm_give(struct rebuild *rb, uint64_t idx, uint64_t *e)
{
	uint64_t v = *e;
	int r;

	if ((v & 3) == PM_RES) {
		r = usm_page_added(fs.ctx, rb->n->uf, idx, (usm_frame_t)(v >> 2));
		if (!r)
			pool_mark_dirty((usm_frame_t)(v >> 2));
	} else {
		unsigned int s = (unsigned int)(v >> 2) & 0xff;

		r = s < PM_STORES ?
		    usm_page_swapped(fs.ctx, rb->n->uf, idx,
				     s ? sh->pm_stores[s] : "", v >> 10) :
		    -EINVAL;
		rb->swapped += !r;
	}
	rb->pages += !r;
	if (r)
		*e = 0;
	if (r && rb->failed++ < 8)
		fprintf(stderr, "usmfs: restart: inode %llu page %llu (%s %llu): %s\n",
			(unsigned long long)rb->n->ino, (unsigned long long)idx,
			(v & 3) == PM_RES ? "frame" : "slot",
			(unsigned long long)((v & 3) == PM_RES ? v >> 2 : v >> 10),
			strerror(-r));
}

static void pm_walk(struct rebuild *rb, uint64_t *b, uint32_t h, uint64_t base)
{
	uint64_t c = cover(h - 1);

	for (unsigned int i = 0; i < PM_FAN; i++) {
		if (!b[i])
			continue;
		if (h == 1)
			pm_give(rb, base + i, &b[i]);
		else
			pm_walk(rb, (uint64_t *)(uintptr_t)b[i], h - 1, base + i * c);
	}
}

/*
 * A restarted daemon: every inode as the dead one left it, each regular
 * file made again in the new context with its policy and its pages.  The
 * kernel's references (lookups, open files) are kept; the dead daemon's
 * handlers are gone (busy counts).  A page that cannot be given back is
 * said and counted, and the daemon serves on (rather than failing every
 * restart after it).  0, or -1 when a file cannot be made.
 */
int pmap_rebuild(void)
{
	struct rebuild rb = { 0 };
	uint64_t files = 0;

	for (size_t i = 0; i < fs.ns->itab_size; i++) {
		for (struct node *n = fs.ns->itab[i]; n; n = n->hnext) {
			n->busy = 0;
			n->attr_inval = false;
			atomic_store(&n->room_busy, false);
			if (!S_ISREG(n->mode) || !n->uf)
				continue;
			errno = 0;
			n->uf = usm_file_new(fs.ctx, n->ino, &n->pol);
			if (!n->uf) {
				fprintf(stderr, "usmfs: restart: inode %llu: "
					"cannot make its file: %s\n",
					(unsigned long long)n->ino,
					strerror(errno ? errno : ENOMEM));
				return -1;
			}
			files++;
			rb.n = n;
			if (n->pm_root && n->pm_height != PM_DEAD)
				pm_walk(&rb, n->pm_root, n->pm_height, 0);
		}
	}
	fprintf(stderr, "usmfs: restart: %llu inodes, %llu files, %llu pages "
		"(%llu swapped) taken over%s\n",
		(unsigned long long)fs.ns->nr_nodes, (unsigned long long)files,
		(unsigned long long)rb.pages, (unsigned long long)rb.swapped,
		rb.failed ? ", SOME LOST (holes now)" : "");
	sh->lost += rb.failed;
	return 0;
}
