// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * handlers.c - the module's events, turned into libusmpolicy calls.
 *
 * Every event is validated before anything is changed: a record with a bad
 * field (an inode number 0, a name without its NUL, a range that wraps or
 * leaves the pool, an unknown type) is rejected with one log line and
 * counted in pd->rejected; the server goes on with the next.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd.h"

#define PD_MAX_RUN	512u	/* longest page run in one event or command */

/* ------------------------------------------------------------ files */

static size_t file_hash(const struct policyd *pd, uint32_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ ((uint64_t)dev << 40)) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (pd->nbuckets - 1);
}

struct pd_file *pd_file_find(struct policyd *pd, uint32_t dev, uint64_t ino)
{
	struct pd_file *pf;

	if (!pd->nbuckets)
		return NULL;
	for (pf = pd->buckets[file_hash(pd, dev, ino)]; pf; pf = pf->next)
		if (pf->dev == dev && pf->ino == ino)
			return pf;
	return NULL;
}

static int files_grow(struct policyd *pd)
{
	size_t n = pd->nbuckets ? pd->nbuckets * 2 : 256;
	struct pd_file **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < pd->nbuckets; i++) {
		struct pd_file *pf = pd->buckets[i], *nx;

		for (; pf; pf = nx) {
			size_t h;

			nx = pf->next;
			h = (size_t)(((pf->ino ^ ((uint64_t)pf->dev << 40)) *
				      0x9e3779b97f4a7c15ull) >> 32) & (n - 1);
			pf->next = b[h];
			b[h] = pf;
		}
	}
	free(pd->buckets);
	pd->buckets = b;
	pd->nbuckets = n;
	return 0;
}

static int file_insert(struct policyd *pd, struct pd_file *pf)
{
	size_t h;

	if (pd->nfiles >= pd->nbuckets && files_grow(pd) != 0)
		return -ENOMEM;
	h = file_hash(pd, pf->dev, pf->ino);
	pf->next = pd->buckets[h];
	pd->buckets[h] = pf;
	pd->nfiles++;
	return 0;
}

static void file_drop(struct policyd *pd, struct pd_file *pf)
{
	struct pd_file **pp = &pd->buckets[file_hash(pd, pf->dev, pf->ino)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == pf) {
			*pp = pf->next;
			break;
		}
	}
	pd->nfiles--;
	usm_file_release(pd->ctx, pf->f);
	free(pf);
}

/* ----------------------------------------------------------- stores */

static int store_set(struct policyd *pd, uint32_t id, const char *name)
{
	struct usmfs_cmd c;
	int r;

	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_SET_STORE;
	c.u.store.store_id = id;
	memcpy(c.u.store.name, name, strlen(name));
	r = pd_chan_submit(pd->ch, &c, 1);
	if (r == 0 && c.error)
		r = -(int)c.error;
	if (r) {
		pd_log(PD_ERR, "SET_STORE %u '%s': %s", id, name, strerror(-r));
		return r;
	}
	snprintf(pd->stores[id], USMFS_NAME_LEN, "%s", name);
	pd->store_known[id] = true;
	return 0;
}

int pd_store_id(struct policyd *pd, const char *name)
{
	uint32_t id, hole = USMFS_MAX_STORES;

	if (strlen(name) >= USMFS_NAME_LEN)
		return -EINVAL;
	/* Store 0 is the default store ("") by convention: nothing to tell
	 * the module, which keeps no name for it (SET_STORE "" unregisters). */
	if (!*name)
		return 0;
	for (id = 1; id < USMFS_MAX_STORES; id++) {
		if (pd->store_known[id] && !strcmp(pd->stores[id], name))
			return (int)id;
		if (!pd->store_known[id] && hole == USMFS_MAX_STORES)
			hole = id;
	}
	if (hole == USMFS_MAX_STORES)
		return -ENOSPC;
	return store_set(pd, hole, name) ?: (int)hole;
}

const char *pd_store_name(struct policyd *pd, uint32_t id)
{
	struct usmfs_cmd c;

	if (id >= USMFS_MAX_STORES)
		return NULL;
	if (id == 0)
		return "";
	if (pd->store_known[id])
		return pd->stores[id];
	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_GET_STORE;
	c.u.store.store_id = id;
	if (pd_chan_submit(pd->ch, &c, 1) || c.error ||
	    !memchr(c.u.store.name, 0, sizeof(c.u.store.name)))
		return NULL;
	snprintf(pd->stores[id], USMFS_NAME_LEN, "%s",
		 (const char *)c.u.store.name);
	pd->store_known[id] = true;
	return pd->stores[id];
}

/* Learn every store name the module kept from earlier servers. */
static int stores_fetch(struct policyd *pd)
{
	struct usmfs_cmd *c = calloc(USMFS_MAX_STORES, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	for (uint32_t i = 0; i < USMFS_MAX_STORES; i++) {
		c[i].op = USMFS_CMD_GET_STORE;
		c[i].u.store.store_id = i;
	}
	r = pd_chan_submit(pd->ch, c, USMFS_MAX_STORES);
	for (uint32_t i = 0; !r && i < USMFS_MAX_STORES; i++) {
		const char *nm = (const char *)c[i].u.store.name;

		if (c[i].error || !memchr(nm, 0, USMFS_NAME_LEN) ||
		    (*nm && !usm_name_valid(nm, strlen(nm))))
			continue;
		snprintf(pd->stores[i], USMFS_NAME_LEN, "%s", nm);
		pd->store_known[i] = true;
		pd_log(PD_DEBUG, "store %u is '%s'", i, nm);
	}
	free(c);
	return r;
}

/* ------------------------------------------------------- validation */

/* Copy a NUL-padded name field: 0, or -EINVAL without its NUL or with a
 * character a policy/store name cannot have.  "" is accepted. */
static int get_name(const uint8_t *src, size_t len, char *out, size_t outlen)
{
	const void *nul = memchr(src, 0, len);
	size_t n;

	if (!nul)
		return -EINVAL;
	n = (size_t)((const uint8_t *)nul - src);
	if (n >= outlen || (n && !usm_name_valid((const char *)src, n)))
		return -EINVAL;
	memcpy(out, src, n);
	out[n] = '\0';
	return 0;
}

static int reject(struct policyd *pd, const struct usmfs_event *ev,
		  const char *why)
{
	pd->rejected++;
	pd_log(PD_WARN, "event type %u seq %llu for %u:%llu rejected: %s",
	       ev->type, (unsigned long long)ev->seq, ev->dev,
	       (unsigned long long)ev->ino, why);
	return -EINVAL;
}

static struct pd_file *event_file(struct policyd *pd,
				  const struct usmfs_event *ev)
{
	if (!pd_file_id_valid(ev->dev, ev->ino))
		return NULL;
	return pd_file_find(pd, ev->dev, ev->ino);
}

/* ------------------------------------------------------ reservations */

/* Grant @pf a reservation around @index if its placement policy makes
 * them (usm_reserve); the module fills hole faults from it. */
static void grant(struct policyd *pd, struct pd_file *pf, uint64_t index)
{
	struct usmfs_cmd c;
	usm_frame_t first;
	uint64_t nr, base;
	int r;

	if (!(pd->features & USMFS_F_RESERVE) || pf->resv_left)
		return;
	r = usm_reserve(pd->ctx, pf->f, index, &first, &nr);
	if (r)
		return;
	/* The run covers an aligned window around @index (the library's
	 * reserve ops align runs to their power-of-two length). */
	base = (nr & (nr - 1)) ? index : index & ~(nr - 1);
	/* Keep at most grant_max frames, the aligned block holding @index:
	 * frames set aside count as used, and one file must not hold the
	 * pool.  The rest goes back at once. */
	if (nr > pd->grant_max && !(nr & (nr - 1))) {
		uint64_t off = (index - base) & ~(pd->grant_max - 1);

		if (off)
			usm_unreserve(pd->ctx, pf->f, first, off);
		if (off + pd->grant_max < nr)
			usm_unreserve(pd->ctx, pf->f, first + off + pd->grant_max,
				      nr - off - pd->grant_max);
		first += off;
		base += off;
		nr = pd->grant_max;
	}
	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_GRANT;
	c.dev = pf->dev;
	c.ino = pf->ino;
	c.u.grant.index = base;
	c.u.grant.first_frame = first;
	c.u.grant.nr = nr;
	r = pd_chan_submit(pd->ch, &c, 1);
	if (r == 0 && c.error)
		r = -(int)c.error;
	if (r) {
		/* EBUSY: our view of the pool lagged; the events in the
		 * queue will tell us.  Give the frames back either way. */
		pd_log(PD_DEBUG, "GRANT %u:%llu [%llu,+%llu) at frame %llu: %s",
		       pf->dev, (unsigned long long)pf->ino,
		       (unsigned long long)base, (unsigned long long)nr,
		       (unsigned long long)first, strerror(-r));
		usm_unreserve(pd->ctx, pf->f, first, nr);
		return;
	}
	pf->resv_left = nr;
	pd->grants++;
}

/* ----------------------------------------------------------- mounts */

static struct pd_mount *mount_find(struct policyd *pd, uint32_t dev)
{
	struct pd_mount *m;

	for (m = pd->mounts; m; m = m->next)
		if (m->dev == dev)
			return m;
	return NULL;
}

static void mount_forget(struct policyd *pd, uint32_t dev)
{
	struct pd_mount **pp, *m;

	for (pp = &pd->mounts; (m = *pp); pp = &m->next) {
		if (m->dev == dev) {
			*pp = m->next;
			free(m);
			return;
		}
	}
}

/* MOUNT: remember the mount's swap= (reported only when it was given). */
static int ev_mount(struct policyd *pd, const struct usmfs_event *ev)
{
	char swap[USMFS_NAME_LEN];
	struct pd_mount *m;

	if (ev->dev == 0 || ev->dev > PD_DEV_MAX ||
	    get_name(ev->u.mount.swap, USMFS_NAME_LEN, swap, sizeof(swap)))
		return reject(pd, ev, "bad dev or store name");
	pd_log(PD_INFO, "mount %u: %llu frames%s%s", ev->dev,
	       (unsigned long long)ev->u.mount.max_frames,
	       *swap ? ", swap=" : "", swap);
	mount_forget(pd, ev->dev);
	if (!*swap)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->dev = ev->dev;
	memcpy(m->swap, swap, sizeof(m->swap));
	m->next = pd->mounts;
	pd->mounts = m;
	return 0;
}

/* ---------------------------------------------------------- handlers */

static int ev_file_created(struct policyd *pd, const struct usmfs_event *ev)
{
	struct usm_file_policy kp, out;
	char alloc[USMFS_NAME_LEN], evict[USMFS_NAME_LEN], swap[USMFS_NAME_LEN];
	char path[USMFS_PATH_HINT_LEN + 1], comm[USMFS_COMM_LEN + 1];
	const char *pathp = NULL, *commp = NULL;
	struct pd_file *pf;
	char num[32];
	const void *nul;

	if (!pd_file_id_valid(ev->dev, ev->ino))
		return reject(pd, ev, "bad dev or inode number");
	if (get_name(ev->u.created.alloc, USMFS_NAME_LEN, alloc, sizeof(alloc)) ||
	    get_name(ev->u.created.evict, USMFS_NAME_LEN, evict, sizeof(evict)) ||
	    get_name(ev->u.created.swap, USMFS_NAME_LEN, swap, sizeof(swap)))
		return reject(pd, ev, "bad policy or store name");
	if (ev->u.created.set & ~((1u << USM_XATTR_NR) - 1))
		return reject(pd, ev, "unknown attribute bits");
	nul = memchr(ev->u.created.path, 0, USMFS_PATH_HINT_LEN);
	if (!nul)
		return reject(pd, ev, "path hint without NUL");
	if (ev->u.created.path[0]) {
		if (ev->u.created.path[0] != '/')
			return reject(pd, ev, "path hint not starting with '/'");
		memcpy(path, ev->u.created.path, USMFS_PATH_HINT_LEN);
		path[USMFS_PATH_HINT_LEN] = '\0';
		/* A cut path cannot match a rule reliably: only whole ones. */
		if (!(ev->flags & USMFS_EVF_TRUNCATED))
			pathp = path;
	}
	if (!memchr(ev->u.created.comm, 0, USMFS_COMM_LEN))
		return reject(pd, ev, "comm without NUL");
	if (ev->u.created.comm[0]) {
		memcpy(comm, ev->u.created.comm, USMFS_COMM_LEN);
		comm[USMFS_COMM_LEN] = '\0';
		commp = comm;
	}

	/* What the module computed (mount defaults and inheritance), with
	 * each explicitly set attribute validated by the library. */
	usm_file_policy_init(&kp);
	{
		uint32_t set = ev->u.created.set;
		int r = 0;

		if (set & (1u << USM_XATTR_ALLOC))
			r = r ?: usm_file_policy_set(&kp, USM_XATTR_ALLOC, alloc,
						     strlen(alloc));
		if (set & (1u << USM_XATTR_EVICT))
			r = r ?: usm_file_policy_set(&kp, USM_XATTR_EVICT, evict,
						     strlen(evict));
		if (set & (1u << USM_XATTR_SWAP))
			r = r ?: usm_file_policy_set(&kp, USM_XATTR_SWAP, swap,
						     strlen(swap));
		if (set & (1u << USM_XATTR_PRIO)) {
			snprintf(num, sizeof(num), "%u", ev->u.created.prio);
			r = r ?: usm_file_policy_set(&kp, USM_XATTR_PRIO, num,
						     strlen(num));
		}
		if (set & (1u << USM_XATTR_LIMIT)) {
			snprintf(num, sizeof(num), "%llu",
				 (unsigned long long)ev->u.created.limit);
			r = r ?: usm_file_policy_set(&kp, USM_XATTR_LIMIT, num,
						     strlen(num));
		}
		if (r)
			return reject(pd, ev, "bad user.usm.* value");
	}
	usm_ctx_policy_for(pd->ctx, &kp, pathp, commp, &out);
	/* A mount's own alloc=/evict= (what the module reports for an
	 * attribute nobody set) wins over the server's defaults, unless a
	 * rule of the config set it. */
	if (!(out.set & (1u << USM_XATTR_ALLOC)) && *alloc &&
	    strcmp(alloc, USM_DEFAULT_ALLOC) && usm_find_alloc(alloc))
		snprintf(out.alloc, sizeof(out.alloc), "%s", alloc);
	if (!(out.set & (1u << USM_XATTR_EVICT)) && *evict &&
	    strcmp(evict, USM_DEFAULT_EVICT) && usm_find_evict(evict))
		snprintf(out.evict, sizeof(out.evict), "%s", evict);
	/* Likewise the mount's swap= when it was given (a store name, or
	 * "none": nothing of the mount is evicted). */
	if (!(out.set & (1u << USM_XATTR_SWAP))) {
		const struct pd_mount *m = mount_find(pd, ev->dev);

		if (m)
			snprintf(out.swap, sizeof(out.swap), "%s", m->swap);
	}

	pf = pd_file_find(pd, ev->dev, ev->ino);
	if (pf) {
		if (ev->flags & USMFS_EVF_REPLAY)
			return 0;	/* known already (an overflow resync) */
		pd_log(PD_WARN, "file %u:%llu created again: forgetting the old one",
		       ev->dev, (unsigned long long)ev->ino);
		file_drop(pd, pf);
	}
	pf = calloc(1, sizeof(*pf));
	if (!pf)
		return -ENOMEM;
	pf->dev = ev->dev;
	pf->ino = ev->ino;
	pf->f = usm_file_new(pd->ctx, ((uint64_t)ev->dev << PD_INO_BITS) | ev->ino,
			     &out);
	if (!pf->f && errno == EINVAL && out.swap[0]) {
		pd_log(PD_WARN, "file %u:%llu: store '%s' unknown here, using the default",
		       ev->dev, (unsigned long long)ev->ino, out.swap);
		out.swap[0] = '\0';
		out.set &= ~(1u << USM_XATTR_SWAP);
		pf->f = usm_file_new(pd->ctx,
				     ((uint64_t)ev->dev << PD_INO_BITS) | ev->ino,
				     &out);
	}
	if (!pf->f) {
		pd_log(PD_ERR, "file %u:%llu: %s", ev->dev,
		       (unsigned long long)ev->ino, strerror(errno));
		free(pf);
		return -ENOMEM;
	}
	if (file_insert(pd, pf)) {
		usm_file_release(pd->ctx, pf->f);
		free(pf);
		return -ENOMEM;
	}
	pd_log(PD_DEBUG, "file %u:%llu%s%s by %s: alloc=%s evict=%s swap=%s",
	       ev->dev, (unsigned long long)ev->ino, pathp ? " " : "",
	       pathp ? pathp : "", commp ? commp : "?", out.alloc, out.evict,
	       out.swap[0] ? out.swap : "(default)");
	pd_pending_learn(pd, pf);
	grant(pd, pf, 0);
	return 0;
}

static int ev_file_removed(struct policyd *pd, const struct usmfs_event *ev)
{
	struct pd_file *pf = event_file(pd, ev);

	if (!pf)
		return reject(pd, ev, "no such file");
	file_drop(pd, pf);
	return 0;
}

static int ev_truncated(struct policyd *pd, const struct usmfs_event *ev)
{
	struct pd_file *pf = event_file(pd, ev);
	uint64_t start = ev->u.range.start, nr = ev->u.range.nr;
	int r;

	if (!pf)
		return reject(pd, ev, "no such file");
	if (nr == 0 || (nr != UINT64_MAX && start + nr < start))
		return reject(pd, ev, "bad range");
	if (pd->catchup_seq) {
		pd_truncate_unlisted(pd, ev, pf->f, start,
				     nr == UINT64_MAX ? UINT64_MAX : start + nr);
		r = 0;
	} else if (nr == UINT64_MAX) {
		r = usm_truncate(pd->ctx, pf->f, start);
	} else {
		r = usm_punch(pd->ctx, pf->f, start, nr);
	}
	/* The module dropped its grants in the range too. */
	pf->resv_left = 0;
	if (r)
		pd_log(PD_WARN, "truncate %u:%llu at %llu: %s", ev->dev,
		       (unsigned long long)ev->ino, (unsigned long long)start,
		       strerror(-r));
	return 0;
}

static int ev_xattr(struct policyd *pd, const struct usmfs_event *ev)
{
	struct pd_file *pf = event_file(pd, ev);
	uint32_t id = ev->u.xattr.id, len = ev->u.xattr.len;
	int r;

	if (!pf)
		return reject(pd, ev, "no such file");
	if (id >= USM_XATTR_NR || id == USM_XATTR_STATS)
		return reject(pd, ev, "bad attribute id");
	if (len > USMFS_XATTR_LEN)
		return reject(pd, ev, "attribute value too long");
	if (ev->flags & USMFS_EVF_REMOVED) {
		r = usm_file_removexattr(pd->ctx, pf->f, (enum usm_xattr_id)id);
		if (r == -ENODATA)
			r = 0;
	} else {
		r = usm_file_setxattr(pd->ctx, pf->f, (enum usm_xattr_id)id,
				      (const char *)ev->u.xattr.value, len);
	}
	if (r)
		pd_log(PD_WARN, "%s on %u:%llu: %s (the module accepted it)",
		       usm_xattr_name((enum usm_xattr_id)id), ev->dev,
		       (unsigned long long)ev->ino, strerror(-r));
	return 0;
}

static int ev_pages_allocated(struct policyd *pd, const struct usmfs_event *ev)
{
	struct pd_file *pf = event_file(pd, ev);
	uint64_t index = ev->u.range.start, nr = ev->u.range.nr;
	uint64_t frame = ev->u.range.frame;
	uint64_t frames = pd->ch->hello.pool_frames;

	if (!pf)
		return reject(pd, ev, "no such file");
	/*
	 * No PD_MAX_RUN here: the module merges a file's adjacent
	 * allocations into one event with no bound (usmfs.h gives none), so a
	 * 1 MiB write is one run of 256 pages and a longer one more than 512.
	 * Rejecting those left their pages unknown, never to be evicted.  The
	 * run is bounded by the pool.
	 */
	if (nr == 0 || index + nr < index ||
	    frame >= frames || nr > frames - frame)
		return reject(pd, ev, "bad page or frame range");
	for (uint64_t i = 0; i < nr; i++) {
		int r;

		if (pd_listed(pd, ev, index + i)) {
			pd->events_skipped++;
			continue;
		}
		r = usm_page_added(pd->ctx, pf->f, index + i, frame + i);
		/* Listed already (an event just after a listing's seq may
		 * be reflected in it too): nothing to learn. */
		if (r == -EEXIST) {
			usm_frame_t cur = USM_FRAME_NONE;

			if (usm_page_state(pd->ctx, pf->f, index + i, &cur) ==
			    USM_PAGE_RESIDENT && cur == frame + i)
				continue;
		}
		if (r)
			pd_log(PD_WARN, "page %llu of %u:%llu in frame %llu: %s",
			       (unsigned long long)(index + i), ev->dev,
			       (unsigned long long)ev->ino,
			       (unsigned long long)(frame + i), strerror(-r));
	}
	if (ev->flags & USMFS_EVF_RESERVED)
		pf->resv_left = pf->resv_left > nr ? pf->resv_left - nr : 0;
	/* Used up (or not used): the next run, ahead of the next fault. */
	if (!pf->resv_left && index + nr > index)
		grant(pd, pf, index + nr);
	return 0;
}

static int ev_access(struct policyd *pd, const struct usmfs_event *ev)
{
	struct pd_file *pf = event_file(pd, ev);

	if (!pf)
		return reject(pd, ev, "no such file");
	if (ev->u.access.count) {
		usm_access(pd->ctx, pf->f, ev->u.access.index);
		pd->accesses++;
	}
	return 0;
}

static void swapin_done(struct policyd *pd, const struct usmfs_event *ev,
			uint32_t status)
{
	struct usmfs_cmd c;

	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_SWAPIN_DONE;
	c.dev = ev->dev;
	c.ino = ev->ino;
	c.u.swapin.index = ev->u.swapin.index;
	c.u.swapin.frame = ev->u.swapin.frame;
	c.u.swapin.token = ev->u.swapin.token;
	c.u.swapin.status = status;
	if (!status)
		pd->swapins++;
	else if (status != ECANCELED)
		pd->swapin_errors++;
	if (pd_chan_queue(pd->ch, &c))
		pd_log(PD_ERR, "SWAPIN_DONE: out of memory");
}

/* A SWAPIN_CANCELLED for @token follows in the batch being handled. */
static bool cancelled_later(const struct policyd *pd, uint64_t token)
{
	for (size_t i = pd->batch_i + 1; i < pd->batch_n; i++)
		if (pd->batch[i].type == USMFS_EV_SWAPIN_CANCELLED &&
		    pd->batch[i].u.swapin.token == token)
			return true;
	return false;
}

/* The request's (store, slot) is where the page lives here. */
static bool slot_is_pages(struct policyd *pd, struct pd_file *pf,
			  const struct usmfs_event *ev)
{
	const char *store = pd_store_name(pd, ev->u.swapin.store_id);

	return store && usm_page_in_slot(pd->ctx, pf->f, ev->u.swapin.index,
					 store, ev->u.swapin.slot);
}

static int ev_swapin(struct policyd *pd, const struct usmfs_event *ev)
{
	struct pd_file *pf;
	uint64_t index = ev->u.swapin.index;
	usm_frame_t fr = ev->u.swapin.frame, cur;
	enum usm_page_state st;
	int r;

	if (!pd_file_id_valid(ev->dev, ev->ino) ||
	    fr >= pd->ch->hello.pool_frames)
		return reject(pd, ev, "bad file or frame");
	if (cancelled_later(pd, ev->u.swapin.token)) {
		/* Its fault left before we started: the slot stays ours and
		 * the module gives the frame back on this answer. */
		pd->swapins_cancelled++;
		swapin_done(pd, ev, ECANCELED);
		return 0;
	}
	pf = pd_file_find(pd, ev->dev, ev->ino);
	if (!pf) {
		pd_log(PD_WARN, "swap-in for unknown file %u:%llu",
		       ev->dev, (unsigned long long)ev->ino);
		swapin_done(pd, ev, ENOENT);
		return 0;
	}
	st = usm_page_state(pd->ctx, pf->f, index, &cur);
	if (st == USM_PAGE_RESIDENT) {
		pd_log(PD_ERR, "swap-in of %u:%llu page %llu, resident here in frame %llu",
		       ev->dev, (unsigned long long)ev->ino,
		       (unsigned long long)index, (unsigned long long)cur);
		swapin_done(pd, ev, EIO);
		return 0;
	}
	if (st != USM_PAGE_SWAPPED || !slot_is_pages(pd, pf, ev)) {
		/* Not (or no longer) that page's slot here: it was freed
		 * (truncated) and may be another page's now.  Never read
		 * it; the module looks the page up again. */
		pd_log(PD_WARN, "swap-in of %u:%llu page %llu from slot %llu of store %u: not that page's slot here",
		       ev->dev, (unsigned long long)ev->ino,
		       (unsigned long long)index,
		       (unsigned long long)ev->u.swapin.slot,
		       ev->u.swapin.store_id);
		swapin_done(pd, ev, ESTALE);
		return 0;
	}
	cur = fr;
	/* The slot stays the page's until the module took the page
	 * (swapin_answered): a server killed before that leaves it whole
	 * for the next one, which the module asks again. */
	r = usm_fault(pd->ctx, pf->f, index,
		      USM_FAULT_FRAME | USM_FAULT_KEEP_SLOT |
		      ((ev->flags & USMFS_EVF_WRITE) ? USM_FAULT_WRITE : 0), &cur);
	if (r == 0 && cur != fr)
		r = -ESTALE;
	/*
	 * A page a task waits for is in use now: its swap-in is its access
	 * (read and write report none).  Without it, S3-FIFO and CLOCK took
	 * every page just brought back for one never used and evicted it
	 * first, before the task got to it again (issue 16).  Read-ahead
	 * (USMFS_EVF_AHEAD) is not an access.
	 */
	if (r == 0 && !(ev->flags & USMFS_EVF_AHEAD))
		usm_access(pd->ctx, pf->f, index);
	if (r)
		pd_log(PD_ERR, "swap-in of %u:%llu page %llu into frame %llu: %s",
		       ev->dev, (unsigned long long)ev->ino,
		       (unsigned long long)index, (unsigned long long)fr,
		       strerror(-r));
	swapin_done(pd, ev, r ? (uint32_t)-r : 0);
	return 0;
}

/*
 * The module's answer to a SWAPIN_DONE with status 0: accepted (the page
 * is the module's, its slot can go), refused as no such request (ENOENT:
 * the page is gone), or anything else (not looked at, the batch failed,
 * ESTALE, after which the module keeps the request): the page is still
 * swapped there, in its slot, and asked for again.
 */
static void swapin_answered(struct policyd *pd, const struct usmfs_cmd *c)
{
	enum usm_swapin_fate fate = USM_SWAPIN_TAKEN;
	struct pd_file *pf = pd_file_find(pd, c->dev, c->ino);

	if (!pf)		/* removed meanwhile: its pages went with it */
		return;
	if (c->error == ENOENT)
		fate = USM_SWAPIN_GONE;
	else if (c->error)
		fate = USM_SWAPIN_UNTOLD;
	usm_swapin_settle(pd->ctx, pf->f, c->u.swapin.index,
			  c->u.swapin.frame, fate);
}

void pd_cmd_answered(void *arg, const struct usmfs_cmd *c)
{
	if (c->op == USMFS_CMD_SWAPIN_DONE && c->u.swapin.status == 0)
		swapin_answered(arg, c);
}

/* user.usm.reclaim on the module (usmctl evict): push up to @nr pages of
 * the file (~0 = all) out now, as far as its policy and store let them go. */
static int ev_reclaim(struct policyd *pd, const struct usmfs_event *ev)
{
	struct pd_file *pf = event_file(pd, ev);
	uint64_t nr = ev->u.reclaim.nr;
	long n;

	if (!pf)
		return reject(pd, ev, "no such file");
	if (nr == 0)
		return reject(pd, ev, "no pages to reclaim");
	if (!(pd->features & USMFS_F_EVICT))
		return reject(pd, ev, "reclaim without USMFS_F_EVICT");
	/* Answers to waiting faults go out before a long eviction. */
	pd_chan_flush(pd->ch);
	n = usm_evict_file(pd->ctx, pf->f, nr);
	if (n < 0)
		pd_log(PD_WARN, "reclaim of %u:%llu: %s", ev->dev,
		       (unsigned long long)ev->ino, strerror((int)-n));
	else if (nr == UINT64_MAX)
		pd_log(PD_INFO, "reclaim of %u:%llu: %ld pages evicted (all asked)",
		       ev->dev, (unsigned long long)ev->ino, n);
	else
		pd_log(PD_INFO, "reclaim of %u:%llu: %ld of %llu pages evicted",
		       ev->dev, (unsigned long long)ev->ino, n,
		       (unsigned long long)nr);
	return 0;
}

static int ev_umount(struct policyd *pd, const struct usmfs_event *ev)
{
	size_t n = 0;

	if (ev->dev == 0 || ev->dev > PD_DEV_MAX)
		return reject(pd, ev, "bad dev");
	mount_forget(pd, ev->dev);
	for (size_t i = 0; i < pd->nbuckets; i++) {
		struct pd_file *pf = pd->buckets[i], *nx;

		for (; pf; pf = nx) {
			nx = pf->next;
			if (pf->dev == ev->dev) {
				file_drop(pd, pf);
				n++;
			}
		}
	}
	pd_log(PD_INFO, "mount %u gone (%zu files forgotten)", ev->dev, n);
	return 0;
}

int pd_handle_event(struct policyd *pd, const struct usmfs_event *ev)
{
	pd->events++;
	if (pd->catchup_seq && ev->seq > pd->catchup_seq)
		pd_catchup_end(pd);
	/*
	 * The module numbers what it queues and what it loses (an OVERFLOW
	 * counts the losses after it: the next event is seq + lost).  A gap
	 * anywhere else is a loss nobody told us of: what we know may be
	 * stale, so list everything again, as for an OVERFLOW, before this
	 * event.
	 */
	if (pd->next_seq && ev->seq != pd->next_seq &&
	    ev->type != USMFS_EV_OVERFLOW) {
		pd_log(PD_WARN, "event seq %llu where %llu was next: events lost, resynchronising",
		       (unsigned long long)ev->seq,
		       (unsigned long long)pd->next_seq);
		pd->seq_gaps++;
		pd_resync(pd, true);
	}
	pd->last_seq = ev->seq;
	pd->next_seq = ev->seq + (ev->type == USMFS_EV_OVERFLOW ?
				  ev->u.overflow.lost : 1);

	switch (ev->type) {
	case USMFS_EV_FILE_CREATED:
		return ev_file_created(pd, ev);
	case USMFS_EV_FILE_REMOVED:
		return ev_file_removed(pd, ev);
	case USMFS_EV_TRUNCATED:
		return ev_truncated(pd, ev);
	case USMFS_EV_XATTR_CHANGED:
		return ev_xattr(pd, ev);
	case USMFS_EV_PAGES_ALLOCATED:
		return ev_pages_allocated(pd, ev);
	case USMFS_EV_ACCESS:
		return ev_access(pd, ev);
	case USMFS_EV_PRESSURE:
		if (ev->dev)
			pd_pressure_mount(pd, ev);
		else
			pd_balance(pd, ev->flags & USMFS_EVF_URGENT);
		return 0;
	case USMFS_EV_SWAPIN_REQUEST:
		return ev_swapin(pd, ev);
	case USMFS_EV_SWAPIN_CANCELLED:
		/* A hint: the request was answered already (ECANCELED when
		 * this event was in its batch, else served). */
		pd_log(PD_DEBUG, "swap-in token %llu cancelled by its fault",
		       (unsigned long long)ev->u.swapin.token);
		return 0;
	case USMFS_EV_MOUNT:
		return ev_mount(pd, ev);
	case USMFS_EV_UMOUNT:
		return ev_umount(pd, ev);
	case USMFS_EV_OVERFLOW:
		pd_log(PD_WARN, "%llu events lost: resynchronising",
		       (unsigned long long)ev->u.overflow.lost);
		pd_resync(pd, true);
		return 0;
	case USMFS_EV_REPLAY_DONE:
		pd->replay_done = true;
		return pd_resync(pd, false);
	case USMFS_EV_RECLAIM:
		return ev_reclaim(pd, ev);
	}
	pd->unknown++;
	return reject(pd, ev, "unknown event type");
}

void pd_handle_events(struct policyd *pd, const struct usmfs_event *evs,
		      size_t n)
{
	/* Faults wait for a frame (an urgent PRESSURE for the pool): make
	 * room before anything else the batch asks. */
	for (size_t i = 0; i < n; i++)
		if (evs[i].type == USMFS_EV_PRESSURE && !evs[i].dev &&
		    (evs[i].flags & USMFS_EVF_URGENT)) {
			pd_balance(pd, true);
			break;
		}
	pd->batch = evs;
	pd->batch_n = n;
	for (size_t i = 0; i < n; i++) {
		pd->batch_i = i;
		pd_handle_event(pd, &evs[i]);
		/* Waiting faults first: do not let a long batch hold them. */
		if (pd->ch->nr_pending >= pd->ch->max_batch)
			pd_chan_flush(pd->ch);
	}
	pd->batch = NULL;
	pd->batch_n = pd->batch_i = 0;
	pd_chan_flush(pd->ch);
	pd_balance(pd, false);
}

static int send_watermarks(struct policyd *pd)
{
	struct usm_pool_stats st;
	struct usmfs_cmd c;
	int r;

	usm_pool_stats(pd->ctx, &st);
	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_SET_WATERMARKS;
	c.u.wm.low_pct = st.low_pct;
	c.u.wm.high_pct = st.high_pct;
	r = pd_chan_submit(pd->ch, &c, 1);
	if (r == 0 && c.error)
		r = -(int)c.error;
	if (r)
		pd_log(PD_ERR, "SET_WATERMARKS %u/%u: %s", st.low_pct,
		       st.high_pct, strerror(-r));
	return r;
}

int pd_reload(struct policyd *pd, struct usm_config *cfg)
{
	int r = usm_ctx_set_watermarks(pd->ctx, cfg->low_pct, cfg->high_pct);

	if (r) {
		pd_log(PD_ERR, "reload: watermarks %u/%u: %s", cfg->low_pct,
		       cfg->high_pct, strerror(-r));
		return r;
	}
	r = send_watermarks(pd);
	if (!r)
		pd_log(PD_INFO, "reloaded: watermarks %u%%/%u%% (stores, rules and plugins change at restart)",
		       cfg->low_pct, cfg->high_pct);
	pd_balance(pd, false);
	return r;
}

/* ------------------------------------------------------------ setup */

/* Say what each store can still take (a warning for one that can take
 * nothing: its filesystem is below the reserve). */
static void log_stores(struct policyd *pd)
{
	struct usm_store_info si;
	char line[512];

	for (unsigned int i = 0; usm_ctx_store_info(pd->ctx, i, &si) == 0; i++) {
		int warn = usm_store_describe(&si, line, sizeof(line));

		pd_log(warn ? PD_WARN : PD_INFO, "%s", line);
	}
}

int pd_init(struct policyd *pd, struct pd_chan *ch, struct usm_config *cfg)
{
	struct usm_ctx_params p;
	char err[512] = "";
	uint64_t chunk = 0;
	int r;

	memset(pd, 0, sizeof(*pd));
	pd->ch = ch;
	ch->answered = pd_cmd_answered;
	ch->answered_arg = pd;
	pd->cfg = cfg;
	pd->features = ch->hello.features;
	pd->restarted = (ch->hello.state & USMFS_STATE_SWAPPED) != 0;
	pd->stores = calloc(USMFS_MAX_STORES, sizeof(*pd->stores));
	pd->store_known = calloc(USMFS_MAX_STORES, sizeof(*pd->store_known));
	if (!pd->stores || !pd->store_known || files_grow(pd))
		goto nomem;

	/* The library's pool is the module's: same frame numbers, and
	 * chunks of one size (all but the last) when the module's are. */
	for (uint32_t i = 0; i + 1 < ch->nr_chunks; i++) {
		if (chunk == 0)
			chunk = ch->chunks[i].nr_frames;
		if (ch->chunks[i].nr_frames != chunk) {
			pd_log(PD_WARN, "pool chunks differ in size: placement sees one chunk (GRANTs across chunks will be refused)");
			chunk = 0;
			break;
		}
	}
	if (chunk && ch->chunks[ch->nr_chunks - 1].nr_frames > chunk)
		chunk = 0;
	/* Grants: a 2 MiB run (one PMD) at most, and 1/16 of the pool. */
	pd->grant_max = USM_HUGE_FRAMES;
	while (pd->grant_max > 1 && pd->grant_max > ch->hello.pool_frames / 16)
		pd->grant_max >>= 1;

	memset(&p, 0, sizeof(p));
	p.ops = &pd_backend_ops;
	p.priv = pd;
	p.pool_frames = ch->hello.pool_frames;
	p.chunk_frames = chunk;
	p.config = cfg;
	p.wait_timeout_ms = 10000;
	p.store_flags = pd->restarted ? USM_STORE_KEEP : 0;
	r = usm_ctx_create(&p, &pd->ctx, err, sizeof(err));
	if (r) {
		pd_log(PD_ERR, "%s", err[0] ? err : strerror(-r));
		goto fail;
	}
	if (pd->restarted)
		pd_log(PD_INFO, "the module holds %llu swapped pages: stores reopened keeping their contents",
		       (unsigned long long)ch->hello.swapped_pages);
	r = stores_fetch(pd);
	if (r)
		goto fail;
	log_stores(pd);
	r = send_watermarks(pd);
	if (r)
		goto fail;
	return 0;
nomem:
	r = -ENOMEM;
	pd_log(PD_ERR, "out of memory");
fail:
	pd_fini(pd);
	return r;
}

void pd_fini(struct policyd *pd)
{
	if (pd->ch && pd->ch->answered_arg == pd)
		pd->ch->answered = NULL;
	for (size_t i = 0; i < pd->nbuckets; i++) {
		struct pd_file *pf = pd->buckets[i], *nx;

		for (; pf; pf = nx) {
			nx = pf->next;
			free(pf);
		}
	}
	free(pd->buckets);
	pd->buckets = NULL;
	pd->nbuckets = pd->nfiles = 0;
	pd_catchup_end(pd);
	while (pd->mounts)
		mount_forget(pd, pd->mounts->dev);
	/* The module keeps every swapped page's (store_id, slot) for the
	 * next server: leave the slots in the stores. */
	if (pd->ctx) {
		usm_ctx_keep_slots(pd->ctx);
		usm_ctx_destroy(pd->ctx);
	}
	pd->ctx = NULL;
	free(pd->stores);
	free(pd->store_known);
	pd->stores = NULL;
	pd->store_known = NULL;
}
