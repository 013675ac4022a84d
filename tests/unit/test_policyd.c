// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_policyd.c - usm-policyd against a fake /dev/usmfs.
 *
 * The fake is a small model of the module's side of the protocol: a pool
 * (a malloc'ed buffer the server "mmaps"), page states per file, an event
 * queue, and the commands' semantics (GRANT, EVICT, COMMIT, CANCEL,
 * SWAPIN_DONE, LIST_PAGES, stores).  It checks every command it gets as
 * the module would, and keeps its state across a server's detach, so that
 * a second server can attach and find the swapped pages.
 *
 * The server's sources are compiled in (main() left out).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define PD_NO_MAIN
#include "../../policy/server/chan.c"
#include "../../policy/server/backend.c"
#include "../../policy/server/handlers.c"
#include "../../policy/server/resync.c"
#include "../../policy/server/pressure.c"
#include "../../policy/server/main.c"

/* ---------------------------------------------------------- the fake */

#define FK_FRAMES	64
#define FK_FILES	4	/* inode numbers 1..FK_FILES-1 on mount 1 */
#define FK_PAGES	128
#define FK_QUEUE	1024
#define FK_DEV		1

enum fk_state { FK_HOLE, FK_RES, FK_LOCKED, FK_SWAPPED, FK_WAITING };

struct fk_page {
	enum fk_state st;
	uint64_t frame, slot, token;
	uint32_t store_id;
};

struct fk {
	unsigned char *mem;
	/* frame -> owner: 0 free, else ino * FK_PAGES + index + 1; resv
	 * marks a granted frame with the page it is for */
	uint64_t owner[FK_FRAMES];
	uint64_t resv[FK_FRAMES];
	struct fk_page pages[FK_FILES][FK_PAGES];
	bool exists[FK_FILES];
	char stores[USMFS_MAX_STORES][USMFS_NAME_LEN];
	bool store_set[USMFS_MAX_STORES];
	struct usmfs_event q[FK_QUEUE];
	size_t qh, qt;
	uint64_t seq, token, generation;
	bool attached;
	uint32_t low, high;
	/* what the server sent, in order */
	uint16_t log[8192];
	size_t nlog;
	unsigned long n_evict, n_commit, n_cancel, n_done, n_list, n_grant;
	unsigned long n_from_resv;	/* faults served from grants */
	unsigned long n_bad;		/* commands the fake refused as invalid */
	uint32_t last_status;
	ssize_t bad_read;		/* next read returns this many bytes */
	int efd;			/* readable while events are queued */
	bool term_when_empty;		/* raise SIGTERM when drained */
	bool hup_when_empty;		/* raise SIGHUP first */
	uint32_t nr_chunks;
	uint64_t features;		/* granted at HELLO */
	bool lose_done;			/* a batch with SWAPIN_DONE fails whole */
	uint64_t trunc_seq[FK_FILES];	/* seq of each file's last TRUNCATED */
	void (*list_hook)(unsigned long n_list);	/* after a LIST_PAGES */
	unsigned long n_stale;		/* EVICTs refused: TRUNCATED unseen */
};

static struct fk fk;

static uint64_t owner_id(uint64_t ino, uint64_t index)
{
	return ino * FK_PAGES + index + 1;
}

static void fk_push(const struct usmfs_event *ev)
{
	assert_true(fk.qt - fk.qh < FK_QUEUE);
	fk.q[fk.qt % FK_QUEUE] = *ev;
	fk.q[fk.qt % FK_QUEUE].seq = ++fk.seq;
	fk.qt++;
	if (fk.efd >= 0) {
		uint64_t one = 1;

		assert_int_equal(write(fk.efd, &one, 8), 8);
	}
}

static struct usmfs_event fk_ev(uint16_t type, uint64_t ino)
{
	struct usmfs_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.dev = FK_DEV;
	ev.ino = ino;
	return ev;
}

static void fk_create(uint64_t ino, const char *path, uint16_t flags)
{
	struct usmfs_event ev = fk_ev(USMFS_EV_FILE_CREATED, ino);

	ev.flags = flags;
	ev.u.created.parent = 1;
	ev.u.created.mode = 0100600;
	strcpy((char *)ev.u.created.comm, "tester");
	strcpy((char *)ev.u.created.alloc, "firstfit");
	strcpy((char *)ev.u.created.evict, "s3fifo");
	if (path)
		strcpy((char *)ev.u.created.path, path);
	fk.exists[ino] = true;
	fk_push(&ev);
}

static void fill_pattern(unsigned char *p, uint64_t ino, uint64_t index)
{
	for (size_t i = 0; i < 4096; i += 8) {
		uint64_t v = (ino << 48) ^ (index << 20) ^ i ^ 0x5a5a5a5a;

		memcpy(p + i, &v, 8);
	}
}

static bool check_pattern(const unsigned char *p, uint64_t ino, uint64_t index)
{
	unsigned char want[4096];

	fill_pattern(want, ino, index);
	return memcmp(p, want, sizeof(want)) == 0;
}

/* A frame as the module's fault path would take it: the page's own
 * reservation, else the lowest free frame that is not reserved. */
static uint64_t fk_take(uint64_t ino, uint64_t index, bool *from_resv)
{
	*from_resv = false;
	for (uint64_t f = 0; f < FK_FRAMES; f++)
		if (fk.resv[f] == owner_id(ino, index)) {
			fk.resv[f] = 0;
			*from_resv = true;
			return f;
		}
	for (uint64_t f = 0; f < FK_FRAMES; f++)
		if (!fk.owner[f] && !fk.resv[f])
			return f;
	fail_msg("fake pool full");
	return 0;
}

/* A write fault on a hole: allocate, fill with the page's pattern. */
static void fk_alloc(uint64_t ino, uint64_t index)
{
	struct usmfs_event ev = fk_ev(USMFS_EV_PAGES_ALLOCATED, ino);
	struct fk_page *pg = &fk.pages[ino][index];
	bool r;
	uint64_t f;

	assert_int_equal(pg->st, FK_HOLE);
	f = fk_take(ino, index, &r);
	fk.owner[f] = owner_id(ino, index);
	pg->st = FK_RES;
	pg->frame = f;
	fill_pattern(fk.mem + f * 4096, ino, index);
	ev.flags = r ? USMFS_EVF_RESERVED : 0;
	fk.n_from_resv += r;
	ev.u.range.start = index;
	ev.u.range.frame = f;
	ev.u.range.nr = 1;
	fk_push(&ev);
}

/* Truncate page @index of file @ino, as the module: TRUNCATED first,
 * then the frame goes back to the pool. */
static void fk_punch(uint64_t ino, uint64_t index)
{
	struct usmfs_event ev = fk_ev(USMFS_EV_TRUNCATED, ino);
	struct fk_page *pg = &fk.pages[ino][index];

	ev.u.range.start = index;
	ev.u.range.nr = 1;
	fk_push(&ev);
	fk.trunc_seq[ino] = fk.seq;
	if (pg->st == FK_RES)
		fk.owner[pg->frame] = 0;
	pg->st = FK_HOLE;
	/* the module drops the grants of the range too */
	for (uint64_t f = 0; f < FK_FRAMES; f++)
		if (fk.resv[f] == owner_id(ino, index))
			fk.resv[f] = 0;
}

/* A write fault on a hole, served from frame @f. */
static void fk_alloc_at(uint64_t ino, uint64_t index, uint64_t f)
{
	struct usmfs_event ev = fk_ev(USMFS_EV_PAGES_ALLOCATED, ino);
	struct fk_page *pg = &fk.pages[ino][index];

	assert_int_equal(pg->st, FK_HOLE);
	assert_int_equal(fk.owner[f], 0);
	fk.owner[f] = owner_id(ino, index);
	pg->st = FK_RES;
	pg->frame = f;
	fill_pattern(fk.mem + f * 4096, ino, index);
	ev.u.range.start = index;
	ev.u.range.frame = f;
	ev.u.range.nr = 1;
	fk_push(&ev);
}

/* A fault on a swapped page: a zeroed frame, a waiting request (with
 * @flags USMFS_EVF_AHEAD: a read-ahead one, nobody waiting). */
static uint64_t fk_swapin_flags(uint64_t ino, uint64_t index, uint16_t flags)
{
	struct usmfs_event ev = fk_ev(USMFS_EV_SWAPIN_REQUEST, ino);
	struct fk_page *pg = &fk.pages[ino][index];
	bool r;
	uint64_t f;

	assert_int_equal(pg->st, FK_SWAPPED);
	f = fk_take(ino, index, &r);
	fk.owner[f] = owner_id(ino, index);
	memset(fk.mem + f * 4096, 0, 4096);
	pg->st = FK_WAITING;
	pg->frame = f;
	pg->token = ++fk.token;
	ev.u.swapin.index = index;
	ev.u.swapin.frame = f;
	ev.u.swapin.slot = pg->slot;
	ev.u.swapin.store_id = pg->store_id;
	ev.u.swapin.token = pg->token;
	ev.flags |= flags;
	fk_push(&ev);
	return f;
}

static uint64_t fk_fault_swapped(uint64_t ino, uint64_t index)
{
	return fk_swapin_flags(ino, index, 0);
}

/* HELLO queued the request of a fault still waiting again. */
static void fk_requeue(uint64_t ino, uint64_t index)
{
	struct usmfs_event ev = fk_ev(USMFS_EV_SWAPIN_REQUEST, ino);
	struct fk_page *pg = &fk.pages[ino][index];

	assert_int_equal(pg->st, FK_WAITING);
	ev.u.swapin.index = index;
	ev.u.swapin.frame = pg->frame;
	ev.u.swapin.slot = pg->slot;
	ev.u.swapin.store_id = pg->store_id;
	ev.u.swapin.token = pg->token;
	fk_push(&ev);
}

/* setxattr user.usm.reclaim, as the module does it: only a server that
 * evicts is asked (ENOTCONN otherwise, which the user sees). */
static int fk_reclaim(uint64_t ino, uint64_t nr)
{
	struct usmfs_event ev = fk_ev(USMFS_EV_RECLAIM, ino);

	if (!fk.attached || !(fk.features & USMFS_F_EVICT))
		return -ENOTCONN;
	ev.u.reclaim.nr = nr;
	fk_push(&ev);
	return 0;
}

static unsigned fk_count(enum fk_state st)
{
	unsigned n = 0;

	for (int i = 0; i < FK_FILES; i++)
		for (int j = 0; j < FK_PAGES; j++)
			n += fk.pages[i][j].st == st;
	return n;
}

static unsigned fk_used(void)
{
	unsigned n = 0;

	for (int f = 0; f < FK_FRAMES; f++)
		n += fk.owner[f] != 0;
	return n;
}

static struct fk_page *cmd_page(struct usmfs_cmd *c, uint64_t index)
{
	if (c->dev != FK_DEV || c->ino == 0 || c->ino >= FK_FILES ||
	    !fk.exists[c->ino] || index >= FK_PAGES)
		return NULL;
	return &fk.pages[c->ino][index];
}

static uint32_t fk_cmd(struct usmfs_cmd *c)
{
	struct fk_page *pg;

	if (fk.nlog < sizeof(fk.log) / sizeof(fk.log[0]))
		fk.log[fk.nlog++] = c->op;
	if (c->reserved0)
		return EINVAL;
	switch (c->op) {
	case USMFS_CMD_GRANT:
		fk.n_grant++;
		if (!cmd_page(c, c->u.grant.index) || c->u.grant.nr == 0 ||
		    c->u.grant.first_frame + c->u.grant.nr > FK_FRAMES)
			return EINVAL;
		for (uint64_t i = 0; i < c->u.grant.nr; i++)
			if (fk.owner[c->u.grant.first_frame + i] ||
			    fk.resv[c->u.grant.first_frame + i])
				return EBUSY;
		for (uint64_t i = 0; i < c->u.grant.nr; i++)
			fk.resv[c->u.grant.first_frame + i] =
				owner_id(c->ino, c->u.grant.index + i);
		return 0;
	case USMFS_CMD_EVICT:
		fk.n_evict++;
		if (c->u.range.nr != 1 || c->u.range.reserved)
			return EINVAL;
		pg = cmd_page(c, c->u.range.index);
		if (!pg)
			return EINVAL;
		/* As the module (1.3): a truncation the server has not
		 * handled yet. */
		if (c->u.range.seq && fk.trunc_seq[c->ino] > c->u.range.seq) {
			fk.n_stale++;
			return ESTALE;
		}
		if (pg->st != FK_RES)
			return ENOENT;
		if (pg->frame != c->u.range.frame)
			return ESTALE;
		pg->st = FK_LOCKED;
		return 0;
	case USMFS_CMD_COMMIT:
		fk.n_commit++;
		pg = cmd_page(c, c->u.commit.index);
		if (!pg)
			return EINVAL;
		if (pg->st != FK_LOCKED || pg->frame != c->u.commit.frame)
			return ENOENT;
		/* As the module: any store id, named or not (0 is the
		 * server's default store, which has no name). */
		if (c->u.commit.store_id >= USMFS_MAX_STORES)
			return EINVAL;
		fk.owner[pg->frame] = 0;
		/* the module does not clear it; poison to catch reads */
		memset(fk.mem + pg->frame * 4096, 0xee, 4096);
		pg->st = FK_SWAPPED;
		pg->slot = c->u.commit.slot;
		pg->store_id = c->u.commit.store_id;
		pg->frame = UINT64_MAX;
		return 0;
	case USMFS_CMD_CANCEL:
		fk.n_cancel++;
		if (c->u.range.seq || c->u.range.reserved)
			return EINVAL;
		pg = cmd_page(c, c->u.range.index);
		if (!pg)
			return EINVAL;
		if (pg->st != FK_LOCKED)
			return ENOENT;
		pg->st = FK_RES;
		return 0;
	case USMFS_CMD_SWAPIN_DONE:
		fk.n_done++;
		pg = cmd_page(c, c->u.swapin.index);
		if (!pg)
			return EINVAL;
		if (pg->st != FK_WAITING || pg->token != c->u.swapin.token)
			return ENOENT;
		if (pg->frame != c->u.swapin.frame)
			return ESTALE;
		fk.last_status = c->u.swapin.status;
		if (c->u.swapin.status) {
			fk.owner[pg->frame] = 0;
			pg->st = FK_SWAPPED;
		} else {
			pg->st = FK_RES;
		}
		return 0;
	case USMFS_CMD_SET_WATERMARKS:
		if (!(c->u.wm.low_pct > 0 && c->u.wm.low_pct < c->u.wm.high_pct &&
		      c->u.wm.high_pct <= 100))
			return EINVAL;
		fk.low = c->u.wm.low_pct;
		fk.high = c->u.wm.high_pct;
		return 0;
	case USMFS_CMD_SET_STORE:
		if (c->u.store.store_id >= USMFS_MAX_STORES ||
		    !memchr(c->u.store.name, 0, USMFS_NAME_LEN))
			return EINVAL;
		memcpy(fk.stores[c->u.store.store_id], c->u.store.name,
		       USMFS_NAME_LEN);
		/* As the module: "" forgets the name. */
		fk.store_set[c->u.store.store_id] = c->u.store.name[0] != 0;
		return 0;
	case USMFS_CMD_GET_STORE:
		if (c->u.store.store_id >= USMFS_MAX_STORES)
			return EINVAL;
		if (!fk.store_set[c->u.store.store_id])
			return ENOENT;
		memcpy(c->u.store.name, fk.stores[c->u.store.store_id],
		       USMFS_NAME_LEN);
		return 0;
	case USMFS_CMD_LIST_PAGES: {
		struct usmfs_page_rec *recs =
			(struct usmfs_page_rec *)(uintptr_t)c->u.list.recs_ptr;
		uint64_t pos = c->u.list.cursor_ino * FK_PAGES +
			       c->u.list.cursor_index;
		uint32_t n = 0, cap = c->u.list.nr;

		fk.n_list++;
		if (c->dev || c->ino || cap == 0 || c->u.list.seq)
			return EINVAL;
		c->u.list.seq = fk.seq;
		/* Two records per call at most: exercise the cursor. */
		if (cap > 2)
			cap = 2;
		for (; pos < FK_FILES * FK_PAGES && n < cap; pos++) {
			struct fk_page *p = &fk.pages[pos / FK_PAGES][pos % FK_PAGES];

			if (p->st == FK_HOLE)
				continue;
			memset(&recs[n], 0, sizeof(recs[n]));
			recs[n].dev = FK_DEV;
			recs[n].ino = pos / FK_PAGES;
			recs[n].index = pos % FK_PAGES;
			recs[n].state = p->st == FK_RES || p->st == FK_LOCKED ?
				USMFS_PAGE_RESIDENT :
				p->st == FK_WAITING ? USMFS_PAGE_WAITING :
				USMFS_PAGE_SWAPPED;
			recs[n].frame = recs[n].state == USMFS_PAGE_RESIDENT ?
				p->frame : UINT64_MAX;
			recs[n].slot = p->slot;
			recs[n].store_id = p->store_id;
			n++;
		}
		while (pos < FK_FILES * FK_PAGES &&
		       fk.pages[pos / FK_PAGES][pos % FK_PAGES].st == FK_HOLE)
			pos++;
		c->u.list.nr = n;
		c->u.list.cursor_dev = FK_DEV;
		c->u.list.cursor_ino = pos / FK_PAGES;
		c->u.list.cursor_index = pos % FK_PAGES;
		if (pos >= FK_FILES * FK_PAGES)
			c->flags |= USMFS_CMDF_LIST_END;
		/* pages moving while the server lists */
		if (fk.list_hook)
			fk.list_hook(fk.n_list);
		return 0;
	}
	}
	fk.n_bad++;
	return EINVAL;
}

static int fk_ioctl(void *priv, unsigned long req, void *arg)
{
	(void)priv;
	if (req == USMFS_IOC_HELLO) {
		struct usmfs_hello *h = arg;

		if (h->version_major != USMFS_VERSION_MAJOR)
			return -EPROTO;
		if (fk.attached)
			return -EALREADY;
		fk.attached = true;
		h->features &= USMFS_F_ALL;
		fk.features = h->features;
		h->version_minor = USMFS_VERSION_MINOR;
		h->state = fk_count(FK_SWAPPED) + fk_count(FK_WAITING) ?
			USMFS_STATE_SWAPPED : 0;
		h->pool_frames = FK_FRAMES;
		h->nr_chunks = fk.nr_chunks;
		h->page_shift = USMFS_PAGE_SHIFT;
		h->event_size = sizeof(struct usmfs_event);
		h->cmd_size = sizeof(struct usmfs_cmd);
		h->max_batch = 8;	/* small: exercise batch splitting */
		h->queue_events = FK_QUEUE;
		h->low_pct = 70;
		h->high_pct = 90;
		h->generation = ++fk.generation;
		h->swapped_pages = fk_count(FK_SWAPPED) + fk_count(FK_WAITING);
		return 0;
	}
	if (!fk.attached)
		return -EPERM;
	if (req == USMFS_IOC_GET_CHUNKS) {
		struct usmfs_chunks *q = arg;
		struct usmfs_chunk *c = (struct usmfs_chunk *)(uintptr_t)q->chunks_ptr;
		uint64_t per = FK_FRAMES / fk.nr_chunks;

		for (uint32_t i = 0; i < fk.nr_chunks && i < q->nr; i++) {
			memset(&c[i], 0, sizeof(c[i]));
			c[i].first_frame = i * per;
			c[i].nr_frames = per;
		}
		q->nr = fk.nr_chunks;
		return 0;
	}
	if (req == USMFS_IOC_CMD) {
		struct usmfs_cmd_batch *b = arg;
		struct usmfs_cmd *c = (struct usmfs_cmd *)(uintptr_t)b->cmds_ptr;

		if (b->nr == 0 || b->nr > 8)
			return -EINVAL;
		/* The server dies before the module sees its answer. */
		for (uint32_t i = 0; fk.lose_done && i < b->nr; i++)
			if (c[i].op == USMFS_CMD_SWAPIN_DONE)
				return -EIO;
		for (b->done = 0; b->done < b->nr; b->done++)
			c[b->done].error = fk_cmd(&c[b->done]);
		return 0;
	}
	return -ENOTTY;
}

static ssize_t fk_read(void *priv, void *buf, size_t len)
{
	size_t n = 0, max = len / sizeof(struct usmfs_event);

	(void)priv;
	if (fk.bad_read) {
		ssize_t r = fk.bad_read;

		fk.bad_read = 0;
		memset(buf, 0x7f, (size_t)r);
		return r;
	}
	while (n < max && fk.qh < fk.qt) {
		memcpy((char *)buf + n * sizeof(struct usmfs_event),
		       &fk.q[fk.qh % FK_QUEUE], sizeof(struct usmfs_event));
		fk.qh++;
		n++;
	}
	if (n == 0) {
		if (fk.efd >= 0) {
			uint64_t v;

			(void)!read(fk.efd, &v, 8);
		}
		if (fk.hup_when_empty) {
			uint64_t one = 1;

			/* and make the device readable again, so that the
			 * loop reads once more and gets the SIGTERM below */
			fk.hup_when_empty = false;
			raise(SIGHUP);
			assert_int_equal(write(fk.efd, &one, 8), 8);
		} else if (fk.term_when_empty) {
			fk.term_when_empty = false;
			raise(SIGTERM);
		}
		return -EAGAIN;
	}
	return (ssize_t)(n * sizeof(struct usmfs_event));
}

static void *fk_map(void *priv, size_t len)
{
	(void)priv;
	assert_int_equal(len, FK_FRAMES * 4096);
	return fk.mem;
}

static void fk_unmap(void *priv, void *addr, size_t len)
{
	(void)priv;
	(void)addr;
	(void)len;
}

static void fk_close(void *priv)
{
	(void)priv;
	/* The module cancels evictions in progress and drops grants. */
	for (int i = 0; i < FK_FILES; i++)
		for (int j = 0; j < FK_PAGES; j++)
			if (fk.pages[i][j].st == FK_LOCKED)
				fk.pages[i][j].st = FK_RES;
	memset(fk.resv, 0, sizeof(fk.resv));
	fk.attached = false;
}

static const struct pd_chan_ops fk_ops = {
	.ioctl = fk_ioctl,
	.read = fk_read,
	.map_pool = fk_map,
	.unmap_pool = fk_unmap,
	.close = fk_close,
};

/* -------------------------------------------------------- the server */

static char tmpdir[] = "/tmp/usm-test-policyd.XXXXXX";
static char conf_text[1024];
static struct usm_config *cfg;
static struct pd_chan ch;
static struct policyd pd;

static void fk_reset(uint32_t nr_chunks)
{
	unsigned char *mem = fk.mem;

	memset(&fk, 0, sizeof(fk));
	fk.mem = mem;
	fk.efd = -1;
	fk.nr_chunks = nr_chunks;
	memset(fk.mem, 0xee, FK_FRAMES * 4096);
}

static bool running;

static void server_start_features(uint64_t features)
{
	char err[512] = "";

	assert_int_equal(usm_config_parse_string(conf_text, "test.conf",
						 USM_CONFIG_NO_PLUGINS, &cfg,
						 err, sizeof(err)), 0);
	pd_chan_init(&ch, &fk_ops, NULL, fk.efd);
	assert_int_equal(pd_chan_attach(&ch, features), 0);
	assert_int_equal(pd_init(&pd, &ch, cfg), 0);
	running = true;
}

static void server_start(void)
{
	server_start_features(USMFS_F_ALL);
}

static void server_stop(void)
{
	running = false;
	pd_fini(&pd);
	pd_chan_close(&ch);
	usm_config_free(cfg);
	cfg = NULL;
}

/* Read and handle everything queued, as the loop does. */
static void pump(void)
{
	struct usmfs_event evs[16];
	ssize_t n;

	while ((n = pd_chan_read(&ch, evs, 16)) > 0)
		pd_handle_events(&pd, evs, (size_t)n);
	assert_true(n == 0);
}

static int setup(void **state)
{
	(void)state;
	pd_log_level = getenv("PD_VERBOSE") ? PD_DEBUG : -1;
	if (!mkdtemp(tmpdir))
		return -1;
	/* USM_TEST_STORE: the store spec instead of a file in tmpdir
	 * (tests/rados/run.sh runs the server's tests on a "rados:" store) */
	if (getenv("USM_TEST_STORE"))
		snprintf(conf_text, sizeof(conf_text),
			 "[pool]\nlow_watermark = 50%%\nhigh_watermark = 75%%\n"
			 "evict = fifo\nswap = fast\n\n[store fast]\npath = %s\n",
			 getenv("USM_TEST_STORE"));
	else
		snprintf(conf_text, sizeof(conf_text),
			 "[pool]\n"
			 "low_watermark = 50%%\n"
			 "high_watermark = 75%%\n"
			 "evict = fifo\n"
			 "swap = fast\n"
			 "\n"
			 "[store fast]\n"
			 "path = file:%s/fast.swap\n", tmpdir);
	fk.mem = malloc(FK_FRAMES * 4096);
	return fk.mem ? 0 : -1;
}

/* After each test, also a failed one: no server left behind. */
static int test_teardown(void **state)
{
	(void)state;
	if (running)
		server_stop();
	else if (ch.ops)
		pd_chan_close(&ch);
	usm_config_free(cfg);
	cfg = NULL;
	if (fk.efd >= 0)
		close(fk.efd);
	fk.efd = -1;
	fk.attached = false;
	return 0;
}

static int teardown(void **state)
{
	char p[512];

	(void)state;
	snprintf(p, sizeof(p), "%s/fast.swap", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/good.conf", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/bad.conf", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/check.out", tmpdir);
	unlink(p);
	rmdir(tmpdir);
	free(fk.mem);
	return 0;
}

/* ------------------------------------------------------------ tests */

static void test_attach(void **state)
{
	(void)state;
	fk_reset(2);
	server_start();
	/* the config's watermarks went to the module */
	assert_int_equal(fk.low, 50);
	assert_int_equal(fk.high, 75);
	assert_int_equal(pd.features, USMFS_F_ALL);
	assert_false(pd.restarted);
	assert_int_equal(ch.nr_chunks, 2);
	server_stop();
	assert_false(fk.attached);
}

static void test_attach_refused(void **state)
{
	struct pd_chan c2;

	(void)state;
	fk_reset(1);
	fk.attached = true;	/* someone else */
	pd_chan_init(&c2, &fk_ops, NULL, -1);
	assert_int_equal(pd_chan_attach(&c2, USMFS_F_ALL), -EALREADY);
	free(c2.chunks);
	fk.attached = false;
}

/* Pages allocated beyond the high watermark: EVICT, then COMMIT with
 * slots, down to the low watermark. */
static void test_evict(void **state)
{
	size_t first_evict = SIZE_MAX, first_commit = SIZE_MAX;

	(void)state;
	fk_reset(1);
	server_start();
	fk_create(1, "/heap", 0);
	for (uint64_t i = 0; i < 56; i++)
		fk_alloc(1, i);
	pump();
	assert_int_equal(pd.rejected, 0);
	assert_int_equal(fk_count(FK_LOCKED), 0);
	/* 56 of 64 frames > 75%: evicted to at most 50% */
	assert_true(fk_count(FK_SWAPPED) > 0);
	assert_true(fk_used() <= FK_FRAMES * 50 / 100);
	assert_int_equal(fk_count(FK_RES) + fk_count(FK_SWAPPED), 56);
	for (size_t i = 0; i < fk.nlog; i++) {
		if (fk.log[i] == USMFS_CMD_EVICT && first_evict == SIZE_MAX)
			first_evict = i;
		if (fk.log[i] == USMFS_CMD_COMMIT && first_commit == SIZE_MAX)
			first_commit = i;
	}
	assert_true(first_evict < first_commit);
	assert_true(first_commit != SIZE_MAX);
	assert_int_equal(fk.n_commit, fk_count(FK_SWAPPED));
	assert_int_equal(fk.n_bad, 0);
	/* distinct slots, in a known store (0: the default store) */
	for (int i = 0; i < FK_PAGES; i++) {
		struct fk_page *a = &fk.pages[1][i];

		if (a->st != FK_SWAPPED)
			continue;
		assert_true(a->store_id == 0 || fk.store_set[a->store_id]);
		for (int j = i + 1; j < FK_PAGES; j++)
			if (fk.pages[1][j].st == FK_SWAPPED)
				assert_int_not_equal(a->slot, fk.pages[1][j].slot);
	}
	/* the library agrees with the module */
	{
		struct usm_pool_stats st;

		usm_pool_stats(pd.ctx, &st);
		assert_int_equal(st.resident, fk_count(FK_RES));
		assert_int_equal(st.swapped, fk_count(FK_SWAPPED));
	}
	server_stop();
}

static int first_swapped(uint64_t ino)
{
	for (int i = 0; i < FK_PAGES; i++)
		if (fk.pages[ino][i].st == FK_SWAPPED)
			return i;
	return -1;
}

/* A server and file 1 (@path) of 56 pages, some evicted: the first
 * swapped one. */
static int heap_with_swapped(const char *path)
{
	int idx;

	fk_reset(1);
	server_start();
	fk_create(1, path, 0);
	for (uint64_t i = 0; i < 56; i++)
		fk_alloc(1, i);
	pump();
	idx = first_swapped(1);
	assert_true(idx >= 0);
	return idx;
}

/* user.usm.reclaim: RECLAIM events make the server push the file's pages
 * out (usm_evict_file) although the pool is under its watermarks. */
static void test_reclaim(void **state)
{
	struct usmfs_event ev;
	struct usm_file_stats fst;
	unsigned long rejected;
	uint64_t f;
	int idx;

	(void)state;
	fk_reset(1);
	server_start();
	fk_create(1, "/heap", 0);
	fk_create(2, "/other", 0);
	for (uint64_t i = 0; i < 20; i++)
		fk_alloc(1, i);
	for (uint64_t i = 0; i < 4; i++)
		fk_alloc(2, i);
	pump();
	/* 24 of 64 frames: under the watermarks, nothing goes by itself */
	assert_int_equal(fk_count(FK_SWAPPED), 0);

	assert_int_equal(fk_reclaim(1, 5), 0);
	pump();
	assert_int_equal(fk_count(FK_LOCKED), 0);
	assert_int_equal(fk_count(FK_SWAPPED), 5);
	assert_int_equal(fk_used(), 19);
	usm_file_stats(pd.ctx, pd_file_find(&pd, 1, 1)->f, &fst);
	assert_int_equal(fst.resident, 15);
	assert_int_equal(fst.swapped, 5);

	/* ~0: all of the file, and only that file */
	assert_int_equal(fk_reclaim(1, UINT64_MAX), 0);
	pump();
	assert_int_equal(fk_count(FK_SWAPPED), 20);
	for (int i = 0; i < 4; i++)
		assert_int_equal(fk.pages[2][i].st, FK_RES);
	assert_int_equal(fk_used(), 4);
	assert_int_equal(fk.n_bad, 0);
	assert_int_equal(pd.rejected, 0);

	/* the data comes back */
	idx = first_swapped(1);
	assert_true(idx >= 0);
	f = fk_fault_swapped(1, (uint64_t)idx);
	pump();
	assert_int_equal(fk.last_status, 0);
	assert_true(check_pattern(fk.mem + f * 4096, 1, (uint64_t)idx));

	/* garbage: no such file, no pages */
	rejected = pd.rejected;
	assert_int_equal(fk_reclaim(3, 1), 0);
	assert_int_equal(fk_reclaim(2, 0), 0);
	pump();
	assert_int_equal(pd.rejected, rejected + 2);
	for (int i = 0; i < 4; i++)
		assert_int_equal(fk.pages[2][i].st, FK_RES);
	server_stop();

	/* a server that does not evict is never asked, and refuses anyway */
	server_start_features(USMFS_F_ALL & ~USMFS_F_EVICT);
	assert_int_equal(fk_reclaim(2, UINT64_MAX), -ENOTCONN);
	pump();
	rejected = pd.rejected;
	ev = fk_ev(USMFS_EV_RECLAIM, 2);
	ev.u.reclaim.nr = UINT64_MAX;
	fk_push(&ev);
	pump();
	assert_int_equal(pd.rejected, rejected + 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(fk.pages[2][i].st, FK_RES);
	server_stop();
}

/* A fault on a swapped page: SWAPIN_DONE, the data in the frame. */
static void test_swapin(void **state)
{
	int idx;
	uint64_t f;

	(void)state;
	idx = heap_with_swapped("/heap");
	f = fk_fault_swapped(1, (uint64_t)idx);
	pump();
	assert_int_equal(fk.n_done, 1);
	assert_int_equal(fk.last_status, 0);
	assert_int_equal(fk.pages[1][idx].st, FK_RES);
	assert_true(check_pattern(fk.mem + f * 4096, 1, (uint64_t)idx));
	assert_int_equal(pd.swapins, 1);
	{
		usm_frame_t fr;

		assert_int_equal(usm_page_state(pd.ctx, pd_file_find(&pd, 1, 1)->f,
						(uint64_t)idx, &fr),
				 USM_PAGE_RESIDENT);
		assert_int_equal(fr, f);
	}
	/* 30 more, one request each: swap-ins push the pool over the high
	 * watermark again, and the server evicts meanwhile (56 pages do not
	 * fit under it: some are always out) */
	for (int k = 0; k < 30; k++) {
		idx = first_swapped(1);
		assert_true(idx >= 0);
		f = fk_fault_swapped(1, (uint64_t)idx);
		pump();
		assert_int_equal(fk.last_status, 0);
		assert_true(check_pattern(fk.mem + f * 4096, 1, (uint64_t)idx));
		/* the pool is kept under the high watermark meanwhile */
		assert_true(fk_used() <= FK_FRAMES * 75 / 100 + 1);
	}
	assert_int_equal(pd.swapin_errors, 0);
	server_stop();
}

/* A swap-in a task waits for is an access for the policy (the task uses
 * the page at once); a read-ahead one (USMFS_EVF_AHEAD) is not. */
static void test_swapin_access(void **state)
{
	struct usm_file_stats st;
	struct usm_file *uf;
	uint64_t hits;
	int idx;

	(void)state;
	idx = heap_with_swapped("/heap");
	uf = pd_file_find(&pd, 1, 1)->f;
	usm_file_stats(pd.ctx, uf, &st);
	hits = st.hits;
	fk_swapin_flags(1, (uint64_t)idx, USMFS_EVF_AHEAD);
	pump();
	assert_int_equal(fk.last_status, 0);
	usm_file_stats(pd.ctx, uf, &st);
	assert_int_equal(st.hits, hits);
	idx = first_swapped(1);
	assert_true(idx >= 0);
	fk_fault_swapped(1, (uint64_t)idx);
	pump();
	assert_int_equal(fk.last_status, 0);
	usm_file_stats(pd.ctx, uf, &st);
	assert_int_equal(st.hits, hits + 1);
	server_stop();
}

/* A fault that left before the server read its request (SWAPIN_CANCELLED
 * in the same batch): answered ECANCELED, the slot not read nor freed; the
 * page comes back whole on the next fault. */
static void test_swapin_cancelled(void **state)
{
	struct usmfs_event ev = fk_ev(USMFS_EV_SWAPIN_CANCELLED, 1);
	usm_frame_t fr;
	int idx;
	uint64_t f;

	(void)state;
	idx = heap_with_swapped("/heap");
	f = fk_fault_swapped(1, (uint64_t)idx);
	ev.u.swapin.index = (uint64_t)idx;
	ev.u.swapin.frame = f;
	ev.u.swapin.token = fk.pages[1][idx].token;
	fk_push(&ev);
	pump();
	assert_int_equal(fk.n_done, 1);
	assert_int_equal(fk.last_status, ECANCELED);
	assert_int_equal(fk.pages[1][idx].st, FK_SWAPPED);
	assert_int_equal(pd.swapins_cancelled, 1);
	assert_int_equal(pd.swapin_errors, 0);
	assert_int_equal(usm_page_state(pd.ctx, pd_file_find(&pd, 1, 1)->f,
					(uint64_t)idx, &fr), USM_PAGE_SWAPPED);
	f = fk_fault_swapped(1, (uint64_t)idx);
	pump();
	assert_int_equal(fk.last_status, 0);
	assert_true(check_pattern(fk.mem + f * 4096, 1, (uint64_t)idx));
	server_stop();
}

/*
 * The server read a swapped page's slot into the frame, then died before
 * the module accepted its SWAPIN_DONE (here the DONE never reaches it):
 * the module still has the page waiting on that slot, so the slot must
 * still hold the page when the next server serves the request again.
 */
static void test_swapin_done_lost(void **state)
{
	struct usmfs_event ev;
	usm_frame_t fr;
	int idx;

	(void)state;
	idx = heap_with_swapped("/heap");
	fk.lose_done = true;
	fk_fault_swapped(1, (uint64_t)idx);
	pump();
	assert_int_equal(fk.n_done, 0);
	assert_int_equal(fk.pages[1][idx].st, FK_WAITING);
	/* Not answered: for the server, the page is still out there. */
	assert_int_equal(usm_page_state(pd.ctx, pd_file_find(&pd, 1, 1)->f,
					(uint64_t)idx, &fr), USM_PAGE_SWAPPED);
	fk.lose_done = false;
	server_stop();

	fk.qh = fk.qt;
	server_start();
	fk_create(1, "/heap", USMFS_EVF_REPLAY);
	ev = fk_ev(USMFS_EV_REPLAY_DONE, 0);
	ev.dev = 0;
	fk_push(&ev);
	fk_requeue(1, (uint64_t)idx);
	pump();
	assert_int_equal(fk.n_done, 1);
	assert_int_equal(fk.last_status, 0);
	assert_int_equal(fk.pages[1][idx].st, FK_RES);
	assert_true(check_pattern(fk.mem + fk.pages[1][idx].frame * 4096, 1,
				  (uint64_t)idx));
	server_stop();
}

/*
 * A page truncated between its fault marking it busy and the module
 * queueing its SWAPIN_REQUEST: TRUNCATED (the slot is free now) comes
 * before the request naming that slot.  The server must not claim or read
 * a slot it freed (it may be another page's by then): it answers ESTALE
 * and its view of the pool stays the module's.
 */
static void test_swapin_after_truncate(void **state)
{
	struct usmfs_event ev;
	struct usm_pool_stats st;
	struct fk_page *pg;
	usm_frame_t fr;
	uint64_t f;
	bool r;
	int idx;

	(void)state;
	idx = heap_with_swapped("/heap");
	pg = &fk.pages[1][idx];
	/* The fault took a frame; truncation erased the busy entry. */
	f = fk_take(1, (uint64_t)idx, &r);
	ev = fk_ev(USMFS_EV_TRUNCATED, 1);
	ev.u.range.start = (uint64_t)idx;
	ev.u.range.nr = 1;
	fk_push(&ev);
	pg->st = FK_HOLE;
	ev = fk_ev(USMFS_EV_SWAPIN_REQUEST, 1);
	ev.u.swapin.index = (uint64_t)idx;
	ev.u.swapin.frame = f;
	ev.u.swapin.slot = pg->slot;
	ev.u.swapin.store_id = pg->store_id;
	ev.u.swapin.token = ++fk.token;
	fk_push(&ev);
	pump();
	assert_int_equal(fk.n_done, 1);
	assert_int_equal(fk.log[fk.nlog - 1], USMFS_CMD_SWAPIN_DONE);
	assert_int_equal(usm_page_state(pd.ctx, pd_file_find(&pd, 1, 1)->f,
					(uint64_t)idx, &fr), USM_PAGE_HOLE);
	usm_pool_stats(pd.ctx, &st);
	assert_int_equal(st.resident, fk_count(FK_RES));
	assert_int_equal(st.swapped, fk_count(FK_SWAPPED));
	server_stop();
}

/* The server goes away; a new one attaches, lists, serves. */
static void test_restart(void **state)
{
	unsigned swapped, seen = 0;
	int idx;

	(void)state;
	fk_reset(1);
	server_start();
	fk_create(1, "/heap", 0);
	fk_create(2, "/other", 0);
	for (uint64_t i = 0; i < 28; i++) {
		fk_alloc(1, i);
		fk_alloc(2, i);
	}
	pump();
	swapped = fk_count(FK_SWAPPED);
	assert_true(swapped > 0);
	server_stop();

	/* While no server is attached, a fault on a swapped page waits. */
	idx = first_swapped(2);
	assert_true(idx >= 0);
	fk_fault_swapped(2, (uint64_t)idx);

	/* The new server: HELLO says swapped pages exist; the module
	 * replays the files, then REPLAY_DONE; the waiting request is
	 * queued again after it. */
	fk.qh = fk.qt;		/* the old queue died with the old server */
	server_start();
	assert_true(pd.restarted);
	fk_create(1, "/heap", USMFS_EVF_REPLAY);
	fk_create(2, "/other", USMFS_EVF_REPLAY);
	{
		struct usmfs_event ev = fk_ev(USMFS_EV_REPLAY_DONE, 0);

		ev.dev = 0;
		fk_push(&ev);
	}
	{
		struct fk_page *pg = &fk.pages[2][idx];
		struct usmfs_event ev = fk_ev(USMFS_EV_SWAPIN_REQUEST, 2);

		ev.u.swapin.index = (uint64_t)idx;
		ev.u.swapin.frame = pg->frame;
		ev.u.swapin.slot = pg->slot;
		ev.u.swapin.store_id = pg->store_id;
		ev.u.swapin.token = pg->token;
		fk_push(&ev);
	}
	pump();
	assert_true(fk.n_list >= 2);	/* the cursor was followed */
	assert_int_equal(pd.rejected, 0);
	assert_int_equal(fk.pages[2][idx].st, FK_RES);
	assert_int_equal(fk.last_status, 0);
	assert_true(check_pattern(fk.mem + fk.pages[2][idx].frame * 4096, 2,
				  (uint64_t)idx));
	{
		struct usm_pool_stats st;

		usm_pool_stats(pd.ctx, &st);
		assert_int_equal(st.resident, fk_count(FK_RES));
		assert_int_equal(st.swapped, fk_count(FK_SWAPPED));
	}
	/* pages swapped before the restart read back */
	for (uint64_t ino = 1; ino <= 2; ino++) {
		for (int k = 0; k < 8 && (idx = first_swapped(ino)) >= 0; k++) {
			uint64_t f = fk_fault_swapped(ino, (uint64_t)idx);

			pump();
			assert_int_equal(fk.last_status, 0);
			assert_true(check_pattern(fk.mem + f * 4096, ino,
						  (uint64_t)idx));
			seen++;
		}
	}
	assert_int_equal(seen, 16);
	assert_int_equal(pd.swapin_errors, 0);
	server_stop();
}

static void test_truncate_and_remove(void **state)
{
	struct usmfs_event ev;

	(void)state;
	fk_reset(1);
	server_start();
	fk_create(1, "/t", 0);
	for (uint64_t i = 0; i < 56; i++)
		fk_alloc(1, i);
	pump();
	/* the module drops pages >= 10 */
	for (int i = 10; i < FK_PAGES; i++) {
		struct fk_page *pg = &fk.pages[1][i];

		if (pg->st == FK_RES)
			fk.owner[pg->frame] = 0;
		pg->st = FK_HOLE;
	}
	ev = fk_ev(USMFS_EV_TRUNCATED, 1);
	ev.u.range.start = 10;
	ev.u.range.nr = UINT64_MAX;
	fk_push(&ev);
	pump();
	{
		struct usm_file_stats st;

		usm_file_stats(pd.ctx, pd_file_find(&pd, 1, 1)->f, &st);
		assert_int_equal(st.resident + st.swapped, 10);
	}
	/* an xattr change reaches the library */
	ev = fk_ev(USMFS_EV_XATTR_CHANGED, 1);
	ev.u.xattr.id = USM_XATTR_EVICT;
	ev.u.xattr.len = 3;
	memcpy(ev.u.xattr.value, "lru", 3);
	fk_push(&ev);
	pump();
	{
		struct usm_file_policy pol;

		usm_file_get_policy(pd.ctx, pd_file_find(&pd, 1, 1)->f, &pol);
		assert_string_equal(pol.evict, "lru");
	}
	ev = fk_ev(USMFS_EV_FILE_REMOVED, 1);
	fk_push(&ev);
	pump();
	assert_null(pd_file_find(&pd, 1, 1));
	assert_int_equal(pd.nfiles, 0);
	assert_int_equal(pd.rejected, 0);
	server_stop();
}

/* Events lost (OVERFLOW): LIST_PAGES brings the library back in line,
 * also for pages the module dropped in the lost events. */
static void test_overflow(void **state)
{
	struct usmfs_event ev;
	struct usm_file_stats st;

	(void)state;
	fk_reset(1);
	server_start();
	fk_create(1, "/o", 0);
	for (uint64_t i = 0; i < 20; i++)
		fk_alloc(1, i);
	pump();
	/* lost: a truncate to 10 pages, and 3 new pages of the file */
	for (int i = 10; i < FK_PAGES; i++) {
		struct fk_page *pg = &fk.pages[1][i];

		if (pg->st == FK_RES)
			fk.owner[pg->frame] = 0;
		pg->st = FK_HOLE;
	}
	for (uint64_t i = 30; i < 33; i++)
		fk_alloc(1, i);
	fk.qt -= 3;
	ev = fk_ev(USMFS_EV_OVERFLOW, 0);
	ev.dev = 0;
	ev.u.overflow.lost = 4;
	fk_push(&ev);
	pump();
	usm_file_stats(pd.ctx, pd_file_find(&pd, 1, 1)->f, &st);
	assert_int_equal(st.resident + st.swapped, 13);
	assert_int_equal(usm_next_data(pd.ctx, pd_file_find(&pd, 1, 1)->f, 10), 30);
	{
		struct usm_pool_stats ps;

		usm_pool_stats(pd.ctx, &ps);
		assert_int_equal(ps.used, fk_used());
	}
	assert_int_equal(pd.rejected, 0);
	server_stop();
}

/* The library agrees with the fake module, page by page. */
static void assert_views_agree(void)
{
	struct usm_pool_stats ps;

	for (uint64_t ino = 1; ino < FK_FILES; ino++) {
		struct pd_file *pf = pd_file_find(&pd, FK_DEV, ino);

		for (uint64_t i = 0; i < FK_PAGES; i++) {
			struct fk_page *pg = &fk.pages[ino][i];
			enum usm_page_state st = USM_PAGE_HOLE;
			usm_frame_t fr = USM_FRAME_NONE;

			if (pf)
				st = usm_page_state(pd.ctx, pf->f, i, &fr);
			if (pg->st == FK_RES) {
				if (st != USM_PAGE_RESIDENT || fr != pg->frame)
					fail_msg("%llu:%llu: module frame %llu, here state %d frame %lld",
						 (unsigned long long)ino,
						 (unsigned long long)i,
						 (unsigned long long)pg->frame, st,
						 (long long)fr);
			} else if (pg->st == FK_SWAPPED) {
				if (st != USM_PAGE_SWAPPED ||
				    !usm_page_in_slot(pd.ctx, pf->f, i,
						      pd_store_name(&pd, pg->store_id),
						      pg->slot))
					fail_msg("%llu:%llu: module slot %llu, here state %d",
						 (unsigned long long)ino,
						 (unsigned long long)i,
						 (unsigned long long)pg->slot, st);
			} else if (pg->st == FK_HOLE && st != USM_PAGE_HOLE) {
				fail_msg("%llu:%llu: a hole, here state %d",
					 (unsigned long long)ino,
					 (unsigned long long)i, st);
			}
		}
	}
	usm_pool_stats(pd.ctx, &ps);
	assert_int_equal(ps.used - ps.reserved, fk_used());
	{
		unsigned resv = 0;

		for (int f = 0; f < FK_FRAMES; f++)
			resv += fk.resv[f] != 0;
		assert_int_equal(ps.reserved, resv);
	}
}

/*
 * A page truncated and faulted again into the same frame while the
 * server, not having read those events yet, evicts it: the module refuses
 * the EVICT (ESTALE), or the server would put the page in a slot that the
 * TRUNCATED then frees here, and know it as resident in that frame (its
 * swap-in answered EIO, its slot given to another page).
 */
static void test_evict_truncated_unseen(void **state)
{
	struct pd_file *pf;
	uint64_t idx = UINT64_MAX, f;

	(void)state;
	fk_reset(1);
	server_start();
	fk_create(1, "/aba", 0);
	for (uint64_t i = 0; i < 20; i++)
		fk_alloc(1, i);
	pump();
	pf = pd_file_find(&pd, FK_DEV, 1);
	for (uint64_t i = 0; i < 20 && idx == UINT64_MAX; i++)
		if (fk.pages[1][i].st == FK_RES)
			idx = i;
	assert_true(idx != UINT64_MAX);
	f = fk.pages[1][idx].frame;
	fk_punch(1, idx);
	fk_alloc_at(1, idx, f);
	/* evict it all before reading the two events */
	assert_true(usm_evict_file(pd.ctx, pf->f, UINT64_MAX) >= 0);
	pump();
	assert_views_agree();
	assert_true(fk.n_stale >= 1);
	assert_int_equal(fk.pages[1][idx].st, FK_RES);
	assert_true(check_pattern(fk.mem + fk.pages[1][idx].frame * 4096, 1,
				  idx));
	assert_int_equal(fk.n_bad, 0);
	server_stop();
}

/*
 * After an OVERFLOW, events older than the listing are skipped for the
 * pages it covered (replayed, an old PAGES_ALLOCATED takes a frame the
 * module gave to another page since); a file announced after the listing
 * learns its listed pages then.
 */
static void test_overflow_catchup(void **state)
{
	struct usmfs_event ev;
	uint64_t f;

	(void)state;
	fk_reset(1);
	server_start();
	fk_create(1, "/a", 0);
	for (uint64_t i = 0; i < 8; i++)
		fk_alloc(1, i);
	pump();
	/* lost: page 3 truncated */
	fk_punch(1, 3);
	fk.qt--;
	ev = fk_ev(USMFS_EV_OVERFLOW, 0);
	ev.dev = 0;
	ev.u.overflow.lost = 1;
	fk_push(&ev);
	/* queued after the OVERFLOW, before the server lists: page 20
	 * faulted and truncated, its frame reused by file 2 */
	f = fk_take(1, 20, &(bool){ false });
	fk_alloc_at(1, 20, f);
	fk_punch(1, 20);
	fk_create(2, "/b", 0);
	fk_alloc_at(2, 0, f);
	fk_alloc(2, 1);
	pump();
	assert_views_agree();
	assert_true(pd.events_skipped >= 2);
	assert_int_equal(pd.pending.n, 0);
	/* and on: new events apply */
	fk_punch(2, 0);
	fk_alloc(1, 30);
	pump();
	assert_views_agree();
	assert_int_equal(pd.catchup_seq, 0);
	assert_int_equal(pd.rejected, 0);
	assert_int_equal(fk.n_bad, 0);
	server_stop();
}

/* During the listing's first round (which showed page 0 of file 1):
 * page 0 is punched. */
static void punch_after_first_round(unsigned long n_list)
{
	if (n_list == 1)
		fk_punch(1, 0);
}

/*
 * The listing is taken in rounds while pages move: an event after a
 * round is applied for the pages that round covered, though an earlier
 * one than a later round's seq (with one seq for the whole listing, the
 * punch was skipped and page 0 stayed known in its frame).
 */
static void test_resync_rounds(void **state)
{
	struct usmfs_event ev;

	(void)state;
	fk_reset(1);
	server_start();
	fk_create(1, "/r", 0);
	for (uint64_t i = 0; i < 6; i++)
		fk_alloc(1, i);
	fk_create(2, "/s", 0);
	for (uint64_t i = 0; i < 6; i++)
		fk_alloc(2, i);
	pump();
	ev = fk_ev(USMFS_EV_OVERFLOW, 0);
	ev.dev = 0;
	ev.u.overflow.lost = 1;
	fk_push(&ev);
	fk.list_hook = punch_after_first_round;
	pump();
	fk.list_hook = NULL;
	assert_true(fk.n_list > 2);
	assert_views_agree();
	assert_int_equal(pd.rejected, 0);
	server_stop();
}

/*
 * A truncation that dropped a grant is lost (OVERFLOW); the grant's frame
 * goes to another file's page, which the listing shows: the server's stale
 * reservation gives the frame up (it refused the page before: EBUSY; the
 * swap-ins the module sent into such frames failed the same way, and
 * test_ctx's test_fault_given_frame covers that side).
 */
static void test_overflow_lost_grant(void **state)
{
	struct usmfs_event ev;
	uint64_t f = UINT64_MAX;

	(void)state;
	fk_reset(1);
	server_start();
	ev = fk_ev(USMFS_EV_FILE_CREATED, 1);
	strcpy((char *)ev.u.created.alloc, "contiguous");
	ev.u.created.set = 1u << USM_XATTR_ALLOC;
	fk.exists[1] = true;
	fk_push(&ev);
	pump();
	for (uint64_t i = 0; i < FK_FRAMES; i++)
		if (fk.resv[i] == owner_id(1, 0))
			f = i;
	assert_true(f != UINT64_MAX);
	/* lost: page 0 of file 1 punched (its grant dropped) */
	fk_punch(1, 0);
	fk.qt--;
	ev = fk_ev(USMFS_EV_OVERFLOW, 0);
	ev.dev = 0;
	ev.u.overflow.lost = 1;
	fk_push(&ev);
	fk_create(2, "/h", 0);
	fk_alloc_at(2, 0, f);
	pump();
	assert_views_agree();
	assert_int_equal(pd.rejected, 0);
	assert_int_equal(fk.n_bad, 0);
	server_stop();
}

/* Garbage on the channel: rejected with a log line, never a crash. */
static void test_garbage(void **state)
{
	struct usmfs_event ev;
	unsigned long warn0;

	(void)state;
	fk_reset(1);
	server_start();
	fk_create(1, "/g", 0);
	pump();
	warn0 = pd_log_count[PD_WARN];

	ev = fk_ev(999, 1);			/* unknown type */
	fk_push(&ev);
	ev = fk_ev(USMFS_EV_FILE_CREATED, 0);	/* inode 0 */
	fk_push(&ev);
	ev = fk_ev(USMFS_EV_FILE_CREATED, 3);	/* names without NUL */
	memset(ev.u.created.alloc, 'a', USMFS_NAME_LEN);
	fk_push(&ev);
	ev = fk_ev(USMFS_EV_FILE_CREATED, 3);	/* a policy name with '/' */
	strcpy((char *)ev.u.created.alloc, "../x");
	fk_push(&ev);
	ev = fk_ev(USMFS_EV_FILE_CREATED, 3);	/* path without NUL */
	strcpy((char *)ev.u.created.alloc, "firstfit");
	strcpy((char *)ev.u.created.evict, "lru");
	memset(ev.u.created.path, '/', USMFS_PATH_HINT_LEN);
	fk_push(&ev);
	ev = fk_ev(USMFS_EV_PAGES_ALLOCATED, 1);	/* frame out of the pool */
	ev.u.range.frame = FK_FRAMES;
	ev.u.range.nr = 1;
	fk_push(&ev);
	ev = fk_ev(USMFS_EV_PAGES_ALLOCATED, 1);	/* run wrapping around */
	ev.u.range.start = UINT64_MAX;
	ev.u.range.nr = 2;
	fk_push(&ev);
	ev = fk_ev(USMFS_EV_PAGES_ALLOCATED, 2);	/* unknown file */
	ev.u.range.nr = 1;
	fk_push(&ev);
	ev = fk_ev(USMFS_EV_XATTR_CHANGED, 1);	/* attribute id too big */
	ev.u.xattr.id = 1000;
	fk_push(&ev);
	ev = fk_ev(USMFS_EV_XATTR_CHANGED, 1);	/* value too long */
	ev.u.xattr.id = USM_XATTR_EVICT;
	ev.u.xattr.len = 100000;
	fk_push(&ev);
	ev = fk_ev(USMFS_EV_SWAPIN_REQUEST, 1);	/* frame out of the pool */
	ev.u.swapin.frame = UINT64_MAX;
	fk_push(&ev);
	ev = fk_ev(USMFS_EV_TRUNCATED, 1);	/* empty range */
	fk_push(&ev);
	ev = fk_ev(USMFS_EV_UMOUNT, 0);		/* dev 0 */
	ev.dev = 0;
	fk_push(&ev);
	pump();
	assert_int_equal(pd.rejected, 13);
	assert_int_equal(pd.unknown, 1);
	assert_true(pd_log_count[PD_WARN] >= warn0 + 13);

	/* A read that is not a whole number of events. */
	fk.bad_read = 100;
	pump();
	assert_int_equal(ch.events_bad, 1);

	/* An xattr value the library refuses: logged, the file unchanged. */
	ev = fk_ev(USMFS_EV_XATTR_CHANGED, 1);
	ev.u.xattr.id = USM_XATTR_EVICT;
	ev.u.xattr.len = 5;
	memcpy(ev.u.xattr.value, "bogus", 5);
	fk_push(&ev);
	/* and the server still works */
	fk_alloc(1, 0);
	pump();
	{
		struct usm_file_stats st;
		struct usm_file_policy pol;

		usm_file_stats(pd.ctx, pd_file_find(&pd, 1, 1)->f, &st);
		assert_int_equal(st.resident, 1);
		usm_file_get_policy(pd.ctx, pd_file_find(&pd, 1, 1)->f, &pol);
		assert_string_equal(pol.evict, "fifo");
	}
	assert_int_equal(pd.rejected, 13);
	server_stop();
}

/* A swap-in the server cannot serve (page unknown, slot unknown) fails
 * the fault (status != 0) instead of handing out garbage. */
static void test_swapin_unknown(void **state)
{
	struct usmfs_event ev;

	(void)state;
	fk_reset(1);
	server_start();
	fk_create(1, "/u", 0);
	pump();
	fk.pages[1][5].st = FK_SWAPPED;	/* the server never heard of it */
	fk.pages[1][5].slot = 12345;
	fk.pages[1][5].store_id = 200;	/* no such store */
	fk_fault_swapped(1, 5);
	pump();
	assert_int_equal(fk.n_done, 1);
	assert_int_not_equal(fk.last_status, 0);
	assert_int_equal(fk.pages[1][5].st, FK_SWAPPED);
	/* an unknown file */
	ev = fk_ev(USMFS_EV_SWAPIN_REQUEST, 2);
	ev.u.swapin.frame = 3;
	fk_push(&ev);
	pump();
	assert_int_equal(pd.swapin_errors, 2);
	server_stop();
}

/* USM_FAULT_FRAME, which swap-ins use: the frame must be free (or the
 * file's); nothing changes when it is not. */
static void test_fault_frame(void **state)
{
	struct usm_file *f;
	usm_frame_t fr;
	int idx;

	(void)state;
	idx = heap_with_swapped("/ff");
	f = pd_file_find(&pd, 1, 1)->f;
	fr = UINT64_MAX;
	for (int i = 0; i < FK_PAGES; i++)
		if (fk.pages[1][i].st == FK_RES) {
			fr = fk.pages[1][i].frame;	/* a used frame */
			break;
		}
	assert_true(fr < FK_FRAMES);
	assert_int_equal(usm_fault(pd.ctx, f, (uint64_t)idx, USM_FAULT_FRAME, &fr),
			 -EBUSY);
	fr = FK_FRAMES;
	assert_int_equal(usm_fault(pd.ctx, f, (uint64_t)idx, USM_FAULT_FRAME, &fr),
			 -ERANGE);
	assert_int_equal(usm_page_state(pd.ctx, f, (uint64_t)idx, &fr),
			 USM_PAGE_SWAPPED);
	server_stop();
}

/* The real device's wrappers, on things that are not /dev/usmfs. */
static void test_chan_real(void **state)
{
	struct pd_chan c;

	(void)state;
	assert_int_equal(pd_chan_open(&c, "/nonexistent/usmfs"), -ENOENT);
	assert_int_equal(pd_chan_open(&c, "/dev/null"), 0);
	assert_int_equal(pd_chan_attach(&c, USMFS_F_ALL), -ENOTTY);
	assert_int_equal(pd_chan_read(&c, NULL, 0), 0);
	pd_chan_close(&c);
}

/* Reservations: a file whose placement policy reserves runs gets GRANTs,
 * and the module's faults land in them. */
static void test_grant(void **state)
{
	struct usmfs_event ev;

	(void)state;
	fk_reset(1);
	server_start();
	ev = fk_ev(USMFS_EV_FILE_CREATED, 1);
	strcpy((char *)ev.u.created.alloc, "contiguous");
	strcpy((char *)ev.u.created.evict, "lru");
	ev.u.created.set = 1u << USM_XATTR_ALLOC;
	fk.exists[1] = true;
	fk_push(&ev);
	pump();
	assert_int_equal(fk.n_grant, 1);
	/* a grant is at most 1/16 of the pool: 4 frames here */
	assert_int_equal(pd.grant_max, 4);
	{
		unsigned resv = 0;

		for (int f = 0; f < FK_FRAMES; f++)
			resv += fk.resv[f] != 0;
		assert_int_equal(resv, 4);
	}
	/* sequential faults: each used-up run brings the next grant */
	for (uint64_t i = 0; i < 16; i++) {
		fk_alloc(1, i);
		pump();
	}
	assert_int_equal(fk.n_from_resv, 16);
	assert_true(fk.n_grant >= 4);
	/* pages 0..15 sit in aligned runs of 4 frames */
	for (uint64_t i = 0; i < 16; i++)
		assert_int_equal(fk.pages[1][i].frame % 4, i % 4);
	{
		struct usm_pool_stats st;

		usm_pool_stats(pd.ctx, &st);
		assert_int_equal(st.resident, 16);
	}
	assert_int_equal(pd.rejected, 0);
	server_stop();
}

static int write_file(const char *name, const char *text, char *path,
		      size_t len);

/* The loop: epoll on the device and a signalfd; SIGTERM detaches
 * (state: SIGHUP first, reloading the config). */
static void test_loop_sigterm(void **state)
{
	sigset_t mask, old;

	(void)state;
	fk_reset(1);
	fk.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(fk.efd >= 0);
	server_start();
	fk_create(1, "/loop", 0);
	for (uint64_t i = 0; i < 56; i++)
		fk_alloc(1, i);
	fk.term_when_empty = true;
	if (*(const bool *)*state) {
		/* SIGHUP first: the config's new watermarks reach the
		 * module; a bad config is refused and the old one kept. */
		static char path[256];

		assert_int_equal(write_file("hup.conf",
					    "[pool]\nlow_watermark = 60%\nhigh_watermark = 80%\n",
					    path, sizeof(path)), 0);
		pd.config_path = path;
		fk.hup_when_empty = true;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &old);
	alarm(60);	/* a loop that does not stop fails, it does not hang */
	assert_int_equal(pd_run(&pd), 0);
	alarm(0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(fk.qh, fk.qt);		/* everything handled */
	assert_true(fk_count(FK_SWAPPED) > 0);	/* and balanced */
	if (*(const bool *)*state) {
		assert_int_equal(fk.low, 60);
		assert_int_equal(fk.high, 80);
		unlink(pd.config_path);
	} else {
		assert_int_equal(fk.low, 50);
	}
	server_stop();
	close(fk.efd);
	fk.efd = -1;
}

static int write_file(const char *name, const char *text, char *path,
		      size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return 0;
}

/* pd_main(@argv) with stderr going to check.out: its exit code, and what
 * it wrote in @buf. */
static int pd_main_stderr(char **argv, char *buf, size_t len)
{
	char out[600];
	int saved, fd, argc = 0, r;
	FILE *f;

	while (argv[argc])
		argc++;
	snprintf(out, sizeof(out), "%s/check.out", tmpdir);
	fflush(stderr);
	saved = dup(2);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	r = pd_main(argc, argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fopen(out, "r");
	assert_non_null(f);
	buf[fread(buf, 1, len - 1, f)] = '\0';
	fclose(f);
	return r;
}

static void test_check(void **state)
{
	char good[256], bad[256], out[600], buf[1024] = "";
	char *argv_good[] = { (char *)"usm-policyd", (char *)"--check", good, NULL };
	char *argv_bad[] = { (char *)"usm-policyd", (char *)"--check", bad, NULL };
	char *argv_opt[] = { (char *)"usm-policyd", (char *)"--bogus", NULL };

	(void)state;
	assert_int_equal(write_file("good.conf", conf_text, good, sizeof(good)), 0);
	assert_int_equal(write_file("bad.conf",
				    "[pool]\nlow_watermark = 50%\nevict = nosuchpolicy\n",
				    bad, sizeof(bad)), 0);
	assert_int_equal(pd_main_stderr(argv_good, buf, sizeof(buf)), 0);
	assert_int_equal(pd_main_stderr(argv_opt, buf, sizeof(buf)), 1);
	assert_int_equal(pd_main_stderr(argv_bad, buf, sizeof(buf)), 1);
	/* "FILE:LINE: message" for the bad one */
	snprintf(out, sizeof(out), "%s:3:", bad);
	assert_non_null(strstr(buf, out));
	assert_non_null(strstr(buf, "nosuchpolicy"));
}

/* --check looks at the stores' files: one that is not a store is refused,
 * named with its line, and left as it was. */
static void test_check_store_file(void **state)
{
	char victim[300], conf[256], text[800], want[1200], buf[2048] = "";
	char *argv[] = { (char *)"usm-policyd", (char *)"--check", conf, NULL };
	struct stat before, after;

	(void)state;
	assert_int_equal(write_file("passwd", "root:x:0:0:root:/root:/bin/sh\n",
				    victim, sizeof(victim)), 0);
	assert_int_equal(stat(victim, &before), 0);
	snprintf(text, sizeof(text), "[store s]\npath = file:%s\n", victim);
	assert_int_equal(write_file("store.conf", text, conf, sizeof(conf)), 0);
	assert_int_equal(pd_main_stderr(argv, buf, sizeof(buf)), 1);
	snprintf(want, sizeof(want), "%s:2: [store s]: file:%s: exists and is not a usmfs store",
		 conf, victim);
	if (!strstr(buf, want))
		fail_msg("--check said \"%s\"", buf);
	assert_int_equal(stat(victim, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(after.st_mode, before.st_mode);
	assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
}

/* A mount given swap=none: its files are never evicted, whatever the
 * config's default store. */
static void test_mount_swap(void **state)
{
	struct usmfs_event ev = fk_ev(USMFS_EV_MOUNT, 0);

	(void)state;
	fk_reset(1);
	server_start();
	ev.u.mount.max_frames = 64;
	strcpy((char *)ev.u.mount.swap, "none");
	fk_push(&ev);
	fk_create(1, "/pinned-by-mount", 0);
	for (uint64_t i = 0; i < 56; i++)
		fk_alloc(1, i);
	pump();
	assert_int_equal(pd.rejected, 0);
	assert_int_equal(fk_count(FK_SWAPPED), 0);
	{
		struct usm_file_policy pol;
		struct pd_file *pf = pd_file_find(&pd, FK_DEV, 1);

		assert_non_null(pf);
		usm_file_get_policy(pd.ctx, pf->f, &pol);
		assert_string_equal(pol.swap, "none");
	}
	/* a bad store name in MOUNT is rejected, not applied */
	ev = fk_ev(USMFS_EV_MOUNT, 0);
	memset(ev.u.mount.swap, 'x', sizeof(ev.u.mount.swap));
	fk_push(&ev);
	pump();
	assert_int_equal(pd.rejected, 1);
	server_stop();
}

/* PRESSURE for the share of a mount of 40 frames, 32 of them used
 * (watermarks 50/75 %). */
static void fk_mount_pressure(void)
{
	struct usmfs_event ev = fk_ev(USMFS_EV_PRESSURE, 0);

	ev.u.pressure.total = 40;
	ev.u.pressure.free = 8;
	ev.u.pressure.low_pct = 50;
	ev.u.pressure.high_pct = 75;
	fk_push(&ev);
}

/* PRESSURE for a mount's share takes from the lower prio class first: a
 * prio 7 file keeps its pages while a default (4) one has some to give. */
static void test_mount_pressure_prio(void **state)
{
	struct usmfs_event ev = fk_ev(USMFS_EV_MOUNT, 0);
	int hot = 0, cold = 0;

	(void)state;
	fk_reset(1);
	server_start();
	ev.u.mount.max_frames = 40;
	fk_push(&ev);
	fk_create(1, "/cold", 0);
	ev = fk_ev(USMFS_EV_FILE_CREATED, 2);
	ev.u.created.mode = 0100600;
	ev.u.created.prio = 7;
	ev.u.created.set = 1u << USM_XATTR_PRIO;
	strcpy((char *)ev.u.created.alloc, "firstfit");
	strcpy((char *)ev.u.created.evict, "s3fifo");
	fk.exists[2] = true;
	fk_push(&ev);
	for (uint64_t i = 0; i < 16; i++) {
		fk_alloc(1, i);
		fk_alloc(2, i);
	}
	pump();
	fk_mount_pressure();
	pump();
	assert_int_equal(pd.rejected, 0);
	for (int i = 0; i < FK_PAGES; i++) {
		cold += fk.pages[1][i].st == FK_SWAPPED;
		hot += fk.pages[2][i].st == FK_SWAPPED;
	}
	/* 32 used, low 20: 12 to go, all from the cold file */
	assert_true(cold >= 12);
	assert_int_equal(hot, 0);
	server_stop();
}

/* PRESSURE events for a mount that wait in one batch (each with the
 * figures of when it was queued) evict down to the low watermark once, not
 * once each (issue 16: a 32 MiB share was emptied down to 3 MiB). */
static void test_mount_pressure_batch(void **state)
{
	struct usmfs_event ev = fk_ev(USMFS_EV_MOUNT, 0);
	int out = 0;

	(void)state;
	fk_reset(1);
	server_start();
	ev.u.mount.max_frames = 40;
	fk_push(&ev);
	fk_create(1, "/f", 0);
	for (uint64_t i = 0; i < 32; i++)
		fk_alloc(1, i);
	pump();
	for (int k = 0; k < 3; k++)
		fk_mount_pressure();
	pump();
	assert_int_equal(pd.rejected, 0);
	for (int i = 0; i < FK_PAGES; i++)
		out += fk.pages[1][i].st == FK_SWAPPED;
	/* 32 used, low 20: 12 to go (rounding may take a few more), not 3 x 12 */
	assert_in_range(out, 12, 16);
	server_stop();
}

int main(void)
{
	static bool no, yes = true;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_attach, test_teardown),
		cmocka_unit_test_teardown(test_attach_refused, test_teardown),
		cmocka_unit_test_teardown(test_evict, test_teardown),
		cmocka_unit_test_teardown(test_swapin, test_teardown),
		cmocka_unit_test_teardown(test_swapin_access, test_teardown),
		cmocka_unit_test_teardown(test_swapin_cancelled, test_teardown),
		cmocka_unit_test_teardown(test_reclaim, test_teardown),
		cmocka_unit_test_teardown(test_mount_swap, test_teardown),
		cmocka_unit_test_teardown(test_mount_pressure_prio, test_teardown),
		cmocka_unit_test_teardown(test_mount_pressure_batch, test_teardown),
		cmocka_unit_test_teardown(test_restart, test_teardown),
		cmocka_unit_test_teardown(test_evict_truncated_unseen,
					  test_teardown),
		cmocka_unit_test_teardown(test_overflow_catchup, test_teardown),
		cmocka_unit_test_teardown(test_overflow_lost_grant, test_teardown),
		cmocka_unit_test_teardown(test_resync_rounds, test_teardown),
		cmocka_unit_test_teardown(test_swapin_done_lost, test_teardown),
		cmocka_unit_test_teardown(test_swapin_after_truncate, test_teardown),
		cmocka_unit_test_teardown(test_truncate_and_remove, test_teardown),
		cmocka_unit_test_teardown(test_overflow, test_teardown),
		cmocka_unit_test_teardown(test_garbage, test_teardown),
		cmocka_unit_test_teardown(test_swapin_unknown, test_teardown),
		cmocka_unit_test_teardown(test_grant, test_teardown),
		cmocka_unit_test_teardown(test_fault_frame, test_teardown),
		cmocka_unit_test_teardown(test_chan_real, test_teardown),
		cmocka_unit_test_prestate_setup_teardown(test_loop_sigterm, NULL,
							 test_teardown, &no),
		cmocka_unit_test_prestate_setup_teardown(test_loop_sigterm, NULL,
							 test_teardown, &yes),
		cmocka_unit_test_teardown(test_check, test_teardown),
		cmocka_unit_test_teardown(test_check_store_file, test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
