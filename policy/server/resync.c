// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * resync.c - learning the module's pages again with LIST_PAGES, after lost
 * events (OVERFLOW, a gap in seq) or when a server attaches (REPLAY_DONE),
 * and the catch-up that follows.
 *
 * The listing is taken in rounds (PD_LIST_RECS records each) while pages
 * move: faults allocate, truncations free, the module queues events for
 * each.  Each round returns the seq of the newest event queued before it
 * looked at any page (protocol 1.3): an event at or before that seq is
 * reflected in the round's records, a later one may be or not.  So:
 *
 *  - a record is newer than anything the library has (events handled
 *    before the listing, records of earlier rounds): a page known
 *    elsewhere is forgotten and learnt as listed, and so is a page still
 *    in a listed frame;
 *  - after the listing, until an event newer than every round arrives
 *    ("catch-up"), an event about a page a round covered is skipped when
 *    its seq is at or before that round's (pd_listed()); replayed, an old
 *    TRUNCATED would drop a page the module has, an old PAGES_ALLOCATED
 *    would take a frame the module gave to another page since;
 *  - records of a file whose FILE_CREATED is still queued are kept
 *    (pending) and learnt when it comes.
 *
 * Events after the catch-up, and those the rounds did not cover, are
 * applied in order, each of them newer than what it changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd.h"

#define PD_LIST_RECS	1024u	/* LIST_PAGES records per command */

/* ------------------------------------------------------------ rounds */

static int cursor_cmp(uint32_t d1, uint64_t i1, uint64_t x1,
		      uint32_t d2, uint64_t i2, uint64_t x2)
{
	if (d1 != d2)
		return d1 < d2 ? -1 : 1;
	if (i1 != i2)
		return i1 < i2 ? -1 : 1;
	return x1 < x2 ? -1 : x1 > x2;
}

/* The last round starting at or before page @index of @dev:@ino, or -1. */
static ssize_t round_of(const struct policyd *pd, uint32_t dev, uint64_t ino,
			uint64_t index)
{
	size_t lo = 0, hi = pd->nrounds;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct pd_round *r = &pd->rounds[mid];

		if (cursor_cmp(r->dev, r->ino, r->index, dev, ino, index) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (ssize_t)lo - 1;
}

bool pd_listed(const struct policyd *pd, const struct usmfs_event *ev,
	       uint64_t index)
{
	ssize_t r;

	if (!pd->catchup_seq || ev->seq > pd->catchup_seq)
		return false;
	r = round_of(pd, ev->dev, ev->ino, index);
	return r >= 0 && ev->seq <= pd->rounds[r].seq;
}

void pd_truncate_unlisted(struct policyd *pd, const struct usmfs_event *ev,
			  struct usm_file *f, uint64_t start, uint64_t end)
{
	uint64_t lo = start;

	while (lo < end) {
		ssize_t r = round_of(pd, ev->dev, ev->ino, lo);
		uint64_t hi = UINT64_MAX;

		/* The next round, when it starts inside this file. */
		if (r + 1 < (ssize_t)pd->nrounds &&
		    pd->rounds[r + 1].dev == ev->dev &&
		    pd->rounds[r + 1].ino == ev->ino)
			hi = pd->rounds[r + 1].index;
		if (hi > end)
			hi = end;
		if (!pd_listed(pd, ev, lo)) {
			usm_punch(pd->ctx, f, lo, hi - lo);
		} else {
			/* The pages are as listed; the module's grants in
			 * the range went all the same (not listed). */
			usm_unreserve_pages(pd->ctx, f, lo, hi);
			pd->events_skipped++;
			pd_log(PD_DEBUG, "TRUNCATED seq %llu of %u:%llu [%llu, %llu): listed after it",
			       (unsigned long long)ev->seq, ev->dev,
			       (unsigned long long)ev->ino,
			       (unsigned long long)lo, (unsigned long long)hi);
		}
		if (hi == UINT64_MAX)
			break;
		lo = hi;
	}
}

static void pending_free(struct policyd *pd)
{
	free(pd->pending.r);
	memset(&pd->pending, 0, sizeof(pd->pending));
}

void pd_catchup_end(struct policyd *pd)
{
	if (pd->pending.n)
		pd_log(PD_WARN, "resync: %zu listed pages of files never announced: not managed here",
		       pd->pending.n);
	pending_free(pd);
	free(pd->rounds);
	pd->rounds = NULL;
	pd->nrounds = pd->crounds = 0;
	pd->catchup_seq = 0;
}

static int rounds_add(struct policyd *pd, uint32_t dev, uint64_t ino,
		      uint64_t index, uint64_t seq)
{
	if (pd->nrounds == pd->crounds) {
		size_t cap = pd->crounds ? pd->crounds * 2 : 16;
		struct pd_round *r = realloc(pd->rounds, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		pd->rounds = r;
		pd->crounds = cap;
	}
	pd->rounds[pd->nrounds++] = (struct pd_round){
		.dev = dev, .ino = ino, .index = index, .seq = seq,
	};
	return 0;
}

/* ------------------------------------------------------------ records */

/* Whether the library has page @rec->index of @pf where @rec says. */
static bool rec_matches(struct policyd *pd, struct pd_file *pf,
			const struct usmfs_page_rec *rec)
{
	const char *store;
	usm_frame_t cur = USM_FRAME_NONE;

	switch (usm_page_state(pd->ctx, pf->f, rec->index, &cur)) {
	case USM_PAGE_RESIDENT:
		return rec->state == USMFS_PAGE_RESIDENT &&
		       cur == (usm_frame_t)rec->frame;
	case USM_PAGE_SWAPPED:
		if (rec->state != USMFS_PAGE_SWAPPED &&
		    rec->state != USMFS_PAGE_WAITING)
			return false;
		store = pd_store_name(pd, rec->store_id);
		return store && usm_page_in_slot(pd->ctx, pf->f, rec->index,
						 store, rec->slot);
	default:
		return false;
	}
}

/* Which page holds each frame here, kept up to date during one
 * resynchronisation (NULL: conflicts are refused). */
struct pd_holder {
	struct pd_file *pf;
	uint64_t index;
};

static struct pd_holder *holders_build(struct policyd *pd)
{
	uint64_t frames = pd->ch->hello.pool_frames;
	struct pd_holder *h = calloc(frames ? frames : 1, sizeof(*h));

	if (!h)
		return NULL;
	for (size_t b = 0; b < pd->nbuckets; b++) {
		for (struct pd_file *pf = pd->buckets[b]; pf; pf = pf->next) {
			uint64_t i = 0;
			usm_frame_t fr;

			while ((i = usm_next_data(pd->ctx, pf->f, i)) != UINT64_MAX) {
				if (usm_page_state(pd->ctx, pf->f, i, &fr) ==
				    USM_PAGE_RESIDENT && fr < frames) {
					h[fr].pf = pf;
					h[fr].index = i;
				}
				if (i == UINT64_MAX - 1)
					break;
				i++;
			}
		}
	}
	return h;
}

/* Forget page @index of @pf here (its frame and slot back), as the
 * TRUNCATED we did not see would have. */
static void forget(struct policyd *pd, struct pd_holder *h, struct pd_file *pf,
		   uint64_t index)
{
	usm_frame_t fr = USM_FRAME_NONE;

	if (usm_page_state(pd->ctx, pf->f, index, &fr) == USM_PAGE_RESIDENT &&
	    h && fr < pd->ch->hello.pool_frames && h[fr].pf == pf &&
	    h[fr].index == index)
		h[fr].pf = NULL;
	usm_punch(pd->ctx, pf->f, index, 1);
}

struct pd_resync_counts {
	unsigned long added, moved, bad, pending;
};

static int recs_add(struct pd_recs *rs, const struct usmfs_page_rec *rec)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 1024;
		struct usmfs_page_rec *r = realloc(rs->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		rs->r = r;
		rs->cap = cap;
	}
	rs->r[rs->n++] = *rec;
	return 0;
}

/* Learn one listed page (see the top of the file). */
static void resync_rec(struct policyd *pd, const struct usmfs_page_rec *rec,
		       struct pd_holder *h, struct pd_resync_counts *n)
{
	struct pd_file *pf;
	usm_frame_t cur;
	const char *store;
	int r;

	if (!pd_file_id_valid(rec->dev, rec->ino)) {
		n->bad++;
		return;
	}
	pf = pd_file_find(pd, rec->dev, rec->ino);
	if (!pf) {
		/* Its FILE_CREATED may still be queued. */
		if (recs_add(&pd->pending, rec)) {
			n->bad++;
			pd_log(PD_WARN, "LIST_PAGES: page %llu of unknown file %u:%llu",
			       (unsigned long long)rec->index, rec->dev,
			       (unsigned long long)rec->ino);
		} else {
			n->pending++;
		}
		return;
	}
	if (usm_page_state(pd->ctx, pf->f, rec->index, &cur) != USM_PAGE_HOLE) {
		if (rec_matches(pd, pf, rec))
			return;		/* known, as listed */
		forget(pd, h, pf, rec->index);
		n->moved++;
	}
	switch (rec->state) {
	case USMFS_PAGE_RESIDENT:
		if (rec->frame >= pd->ch->hello.pool_frames) {
			n->bad++;
			return;
		}
		r = usm_page_added(pd->ctx, pf->f, rec->index, rec->frame);
		if (r == -EBUSY && h && h[rec->frame].pf) {
			forget(pd, h, h[rec->frame].pf, h[rec->frame].index);
			n->moved++;
			r = usm_page_added(pd->ctx, pf->f, rec->index,
					   rec->frame);
		}
		if (!r && h) {
			h[rec->frame].pf = pf;
			h[rec->frame].index = rec->index;
		}
		break;
	case USMFS_PAGE_SWAPPED:
	case USMFS_PAGE_WAITING:
		store = pd_store_name(pd, rec->store_id);
		r = store ? usm_page_swapped(pd->ctx, pf->f, rec->index, store,
					     rec->slot) : -ENOENT;
		break;
	default:
		n->bad++;
		return;
	}
	if (r) {
		n->bad++;
		pd_log(PD_ERR, "LIST_PAGES: %u:%llu page %llu (state %u, frame %lld, store %u slot %lld): %s",
		       rec->dev, (unsigned long long)rec->ino,
		       (unsigned long long)rec->index, rec->state,
		       (long long)rec->frame, rec->store_id,
		       (long long)rec->slot, strerror(-r));
		return;
	}
	n->added++;
}

void pd_pending_learn(struct policyd *pd, struct pd_file *pf)
{
	struct pd_resync_counts n = { 0, 0, 0, 0 };
	struct pd_holder *h;

	if (!pd->pending.n)
		return;
	h = holders_build(pd);
	for (size_t i = 0, k = 0, end = pd->pending.n; i < end; i++) {
		struct usmfs_page_rec rec = pd->pending.r[i];

		if (rec.dev != pf->dev || rec.ino != pf->ino) {
			pd->pending.r[k++] = rec;	/* kept */
		} else {
			pd->pending.n--;
			resync_rec(pd, &rec, h, &n);
		}
	}
	free(h);
	if (n.added || n.bad)
		pd_log(PD_INFO, "file %u:%llu: %lu listed pages learnt, %lu refused",
		       pf->dev, (unsigned long long)pf->ino, n.added, n.bad);
}

static int rec_cmp(const void *a, const void *b)
{
	const struct usmfs_page_rec *x = a, *y = b;

	return cursor_cmp(x->dev, x->ino, x->index, y->dev, y->ino, y->index);
}

/*
 * Drop every page the module did not list (what lost TRUNCATED events
 * would have said), and every page known elsewhere than listed (truncated
 * and faulted again in lost events), so that the frames and slots they
 * held are free here before the listed pages are learnt.
 */
static unsigned long prune(struct policyd *pd, const struct pd_recs *all)
{
	struct pd_recs sorted = { NULL, all->n, all->n };
	unsigned long n = 0;

	/* a sorted copy: the records are learnt in the order listed */
	sorted.r = malloc((all->n ? all->n : 1) * sizeof(*all->r));
	if (!sorted.r)
		return 0;
	memcpy(sorted.r, all->r, all->n * sizeof(*all->r));
	qsort(sorted.r, sorted.n, sizeof(*sorted.r), rec_cmp);
	for (size_t b = 0; b < pd->nbuckets; b++) {
		for (struct pd_file *pf = pd->buckets[b]; pf; pf = pf->next) {
			struct usmfs_page_rec key;
			const struct usmfs_page_rec *rec;
			uint64_t i = 0;

			memset(&key, 0, sizeof(key));
			key.dev = pf->dev;
			key.ino = pf->ino;
			while ((i = usm_next_data(pd->ctx, pf->f, i)) != UINT64_MAX) {
				key.index = i;
				rec = bsearch(&key, sorted.r, sorted.n,
					      sizeof(*sorted.r), rec_cmp);
				if (!rec || !rec_matches(pd, pf, rec)) {
					usm_punch(pd->ctx, pf->f, i, 1);
					n++;
				}
				if (i == UINT64_MAX - 1)
					break;
				i++;
			}
		}
	}
	free(sorted.r);
	return n;
}

int pd_resync(struct policyd *pd, bool prune_missing)
{
	struct usmfs_page_rec *recs = calloc(PD_LIST_RECS, sizeof(*recs));
	struct pd_resync_counts n = { 0, 0, 0, 0 };
	struct pd_recs all = { NULL, 0, 0 };
	struct pd_holder *h = NULL;
	struct usmfs_cmd c;
	uint32_t cdev = 0;
	uint64_t cino = 0, cidx = 0, seq = 0;
	unsigned long rounds = 0, dropped = 0;
	int r = 0;

	if (!recs)
		return -ENOMEM;
	/* A new listing supersedes the last one's catch-up. */
	pd_catchup_end(pd);
	/* Our answers still queued (a SWAPIN_DONE, say) go first: the
	 * listing then shows what they did, as the library has it. */
	pd_chan_flush(pd->ch);
	if (!prune_missing)
		h = holders_build(pd);
	for (;;) {
		memset(&c, 0, sizeof(c));
		c.op = USMFS_CMD_LIST_PAGES;
		c.u.list.recs_ptr = (uintptr_t)recs;
		c.u.list.nr = PD_LIST_RECS;
		c.u.list.cursor_dev = cdev;
		c.u.list.cursor_ino = cino;
		c.u.list.cursor_index = cidx;
		r = pd_chan_submit(pd->ch, &c, 1);
		if (r == 0 && c.error)
			r = -(int)c.error;
		if (r) {
			pd_log(PD_ERR, "LIST_PAGES: %s", strerror(-r));
			break;
		}
		if (c.u.list.nr > PD_LIST_RECS) {
			pd_log(PD_ERR, "LIST_PAGES: %u records for %u", c.u.list.nr,
			       PD_LIST_RECS);
			r = -EPROTO;
			break;
		}
		if (c.u.list.seq < seq) {
			pd_log(PD_ERR, "LIST_PAGES: seq %llu after %llu",
			       (unsigned long long)c.u.list.seq,
			       (unsigned long long)seq);
			r = -EPROTO;
			break;
		}
		seq = c.u.list.seq;
		r = rounds_add(pd, cdev, cino, cidx, seq);
		/* Pruning needs the whole list first; otherwise learn as
		 * the records come. */
		for (uint32_t i = 0; i < c.u.list.nr && !r; i++) {
			if (prune_missing)
				r = recs_add(&all, &recs[i]);
			else
				resync_rec(pd, &recs[i], h, &n);
		}
		if (r)
			break;
		rounds++;
		if (c.flags & USMFS_CMDF_LIST_END)
			break;
		/* The cursor must move on, or we would ask forever. */
		if (c.u.list.nr == 0 ||
		    cursor_cmp(c.u.list.cursor_dev, c.u.list.cursor_ino,
			       c.u.list.cursor_index, cdev, cino, cidx) <= 0) {
			pd_log(PD_ERR, "LIST_PAGES: the cursor does not advance");
			r = -EPROTO;
			break;
		}
		cdev = c.u.list.cursor_dev;
		cino = c.u.list.cursor_ino;
		cidx = c.u.list.cursor_index;
	}
	/* Prune only after a complete listing. */
	if (prune_missing && !r) {
		dropped = prune(pd, &all);
		h = holders_build(pd);
		for (size_t i = 0; i < all.n; i++)
			resync_rec(pd, &all.r[i], h, &n);
	}
	free(h);
	free(all.r);
	free(recs);
	/* Without seqs (a module older than 1.3) nothing is skipped. */
	if (!r && seq)
		pd->catchup_seq = seq;
	else
		pd_catchup_end(pd);
	pd->resyncs++;
	pd->resync_moved += n.moved;
	pd_log(PD_INFO, "resynchronised: %lu pages learnt, %lu dropped, %lu moved, %lu refused, %lu waiting for their file, %lu LIST_PAGES (seq %llu)",
	       n.added, dropped, n.moved, n.bad, n.pending, rounds,
	       (unsigned long long)seq);
	return r;
}
