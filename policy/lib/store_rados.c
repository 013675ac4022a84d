// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * store_rados.c - a store in a Ceph cluster (librados): docs/stores.md.
 *
 * Spec: rados:POOL[/NAMESPACE][:KEY=VALUE]... with the keys conf (the
 * cluster's config file, /etc/ceph/ceph.conf), user (client.admin),
 * keyring (the config's), id (what tells this store's objects from other
 * stores': the store's name) and timeout (seconds an operation may take
 * before it fails and the cluster is taken as unreachable: a third of the
 * context's swapin_timeout (store_open_bounded), as a swap-in may wait
 * behind another operation before its own; 10 without one).
 *
 * Objects, in POOL's NAMESPACE ("" when none is given):
 *   usm.MACHINE.ID          the header: a few lines of text (who made it,
 *                           when, for which store); a live store holds its
 *                           exclusive lock "usm" with the cookie
 *                           PID.START.MACHINE (its process id and start
 *                           time, and the machine), so that a second one
 *                           is refused and a dead one's objects are known
 *                           as left over; a lock is broken only when its
 *                           cookie names this machine and a process of it
 *                           that is gone;
 *   usm.MACHINE.ID.%016x    object k: slots [64k, 64k + 64), 4 KiB each at
 *                           offset (slot - 64k) * 4096.
 * MACHINE is the whole /etc/machine-id (32 hex digits), else "h" and a
 * 64-bit hash of the host name in 16 hex digits: two machines do not
 * share names (the first 12 characters of either did: "worker-node-1"
 * and "worker-node-2"), and a restarted daemon or server of this machine
 * finds its objects again under the same ID.
 *
 * An object holds 64 slots (256 KiB): the default eviction batch (64
 * pages) lands in one or two objects, one write operation each; an object
 * is the slots of one word of the slot bitmap, so it is known to be empty
 * (and removed) the moment that word is zero; and a slot in use keeps at
 * most 252 KiB of dead pages alive.
 *
 * I/O: one librados write or read operation per object touched, with an
 * extent per page, all issued asynchronously and then waited for, so that
 * a batch keeps as many operations in flight as it touches objects.
 * Every operation is bounded (rados_osd_op_timeout): a failure makes the
 * call fail (the ctx keeps the pages resident, or the swap-in gets EIO)
 * and, unless it was only a missing object, marks the store unusable with
 * the reason: nothing more is evicted to it (usm_store_alloc* give
 * -ENOSPC) until a thread that stats the header every STORE_PROBE_MS while
 * the store is down sees the cluster answer.
 *
 * Writes and removals go with LIBRADOS_OPERATION_FULL_TRY (set on the
 * whole I/O context, so the header's lock and its release too): without it,
 * librados holds a write to a pool marked full (or over its quota) until
 * the pool is not full any more, that is until the timeout, and a full
 * pool looked unreachable.  With it the OSD answers at once: -ENOSPC
 * (-EDQUOT for a quota) to an operation that would grow the pool, and a
 * removal goes through, so a full store still frees.  A full store is
 * probed by creating an object (usm.MACHINE.ID.probe, removed at once),
 * which only succeeds once the pool takes new objects again.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rados/librados.h>

#include "store.h"
#include "store_rados.h"

struct store_rados {
	rados_t cl;
	rados_ioctx_t io;
	struct rados_spec sp;
	char prefix[128];	/* usm.MACHINE.ID: the header's name */
	char cookie[RADOS_COOKIE_LEN];
	bool locked;

	uint64_t *exists;	/* bit per object: written, not removed */
	uint64_t nexists;	/* words */
	rados_completion_t *rm;	/* removals in flight */
	size_t nrm;

	/* Why nothing goes to the store now ("" = it is usable). */
	char down[400];
	int down_err;		/* what set it */
	atomic_bool full;	/* down because the pool is full: probe
				 * by writing, and keep removing */
	/* While down: a thread stats the header every STORE_PROBE_MS (each
	 * stat bounded by the timeout) until one succeeds, then says so in
	 * answers; the next call into the store takes it up again. */
	pthread_t prober;
	pthread_mutex_t down_lock;	/* set_down: reads run at once */
	bool probing;			/* the thread exists (joined when false) */
	atomic_bool answers;
	atomic_bool stop;
};

static void rm_reap(struct usm_store *st, size_t keep);
static void set_down(struct usm_store *st, int r);
static void *prober_main(void *arg);

/* Down, and not known to answer again yet? */
static bool is_down(const struct store_rados *sr)
{
	return sr->down[0] && !atomic_load(&sr->answers);
}

/* Down for a reason that removals do not suffer from (a full pool)? */
static bool rm_blocked(const struct store_rados *sr)
{
	return is_down(sr) && !atomic_load(&sr->full);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ----------------------------------------------------------------- spec */

static int copy_val(char *dst, size_t size, const char *v, size_t len)
{
	if (!len || len >= size)
		return -1;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return 0;
}

static bool id_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* Parse "rados:POOL[/NS][:KEY=VALUE]..." (@name: the default id). */
int rados_spec_parse(const char *spec, const char *name, struct rados_spec *sp,
		     char *err, size_t errlen)
{
	const char *p = spec + 6, *end, *slash, *eq;
	char num[16];

	memset(sp, 0, sizeof(*sp));
	snprintf(sp->conf, sizeof(sp->conf), "%s", RADOS_DEFAULT_CONF);
	snprintf(sp->user, sizeof(sp->user), "%s", RADOS_DEFAULT_USER);
	snprintf(sp->id, sizeof(sp->id), "%s", name ? name : "default");
	sp->timeout = RADOS_DEFAULT_TIMEOUT;

	end = strchr(p, ':');
	if (!end)
		end = p + strlen(p);
	slash = memchr(p, '/', (size_t)(end - p));
	if (copy_val(sp->pool, sizeof(sp->pool), p, (size_t)((slash ? slash : end) - p)) ||
	    (slash && copy_val(sp->ns, sizeof(sp->ns), slash + 1,
			       (size_t)(end - slash - 1)))) {
		store_set_err(err, errlen, "%s: expected rados:POOL[/NAMESPACE]"
			      "[:conf=FILE][:user=NAME][:keyring=FILE][:id=ID]"
			      "[:timeout=SECONDS]", spec);
		return -EINVAL;
	}
	for (p = end; *p; p = end) {
		char *dst = NULL;
		size_t size = 0, klen;

		p++;
		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		klen = eq ? (size_t)(eq - p) : 0;
		if (klen == 4 && !strncmp(p, "conf", 4)) {
			dst = sp->conf;
			size = sizeof(sp->conf);
		} else if (klen == 4 && !strncmp(p, "user", 4)) {
			dst = sp->user;
			size = sizeof(sp->user);
		} else if (klen == 7 && !strncmp(p, "keyring", 7)) {
			dst = sp->keyring;
			size = sizeof(sp->keyring);
		} else if (klen == 2 && !strncmp(p, "id", 2)) {
			dst = sp->id;
			size = sizeof(sp->id);
		} else if (klen == 7 && !strncmp(p, "timeout", 7)) {
			dst = num;
			size = sizeof(num);
		}
		if (!dst || copy_val(dst, size, eq + 1, (size_t)(end - eq - 1))) {
			store_set_err(err, errlen, "%s: bad option '%.*s' (expected "
				      "conf=FILE, user=NAME, keyring=FILE, id=ID "
				      "or timeout=SECONDS)", spec, (int)(end - p), p);
			return -EINVAL;
		}
		if (dst == num) {
			char *e;
			unsigned long t = strtoul(num, &e, 10);

			if (*e || t < 1 || t > 3600) {
				store_set_err(err, errlen, "%s: bad timeout '%s' "
					      "(1 to 3600 seconds)", spec, num);
				return -EINVAL;
			}
			sp->timeout = (unsigned int)t;
			sp->timeout_set = true;
		}
	}
	if (!id_valid(sp->id) || strlen(sp->id) > 48) {
		store_set_err(err, errlen, "%s: bad id '%s' (1 to 48 of "
			      "[A-Za-z0-9_-])", spec, sp->id);
		return -EINVAL;
	}
	if (strncmp(sp->user, "client.", 7)) {
		char u[sizeof(sp->user)];

		snprintf(u, sizeof(u), "%s", sp->user);
		if (snprintf(sp->user, sizeof(sp->user), "client.%s", u) >=
		    (int)sizeof(sp->user)) {
			store_set_err(err, errlen, "%s: user name too long", spec);
			return -EINVAL;
		}
	}
	return 0;
}

/* -------------------------------------------------------------- identity */

/*
 * The machine's tag from its machine id (@mid, a line of /etc/machine-id,
 * or NULL) and host name: the machine id when it is 32 hex digits, else
 * "h" and the 64-bit FNV-1a hash of the host name in 16 hex digits.
 * @len: at least RADOS_TAG_LEN.
 */
void rados_machine_tag_of(const char *mid, const char *host, char *out,
			  size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; mid && i < 32; i++)
		if (!((mid[i] >= '0' && mid[i] <= '9') ||
		      (mid[i] >= 'a' && mid[i] <= 'f')))
			break;
	if (mid && i == 32 && (!mid[32] || mid[32] == '\n')) {
		snprintf(out, len, "%.32s", mid);
		return;
	}
	for (i = 0; host && host[i]; i++) {
		h ^= (unsigned char)host[i];
		h *= 0x100000001b3ULL;
	}
	snprintf(out, len, "h%016" PRIx64, h);
}

/* This machine's tag: /etc/machine-id, else a hash of the host name. */
void rados_machine_tag(char *out, size_t len)
{
	char mid[64] = "", host[HOST_NAME_MAX + 1] = "";
	FILE *f = fopen("/etc/machine-id", "re");

	if (f) {
		if (!fgets(mid, sizeof(mid), f))
			mid[0] = '\0';
		fclose(f);
	}
	if (gethostname(host, sizeof(host) - 1))
		host[0] = '\0';
	rados_machine_tag_of(mid, host, out, len);
}

/* Field 22 of /proc/PID/stat: when the process started (0: unknown). */
static unsigned long long proc_start(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (i = 2; p && i < 22; i++)	/* field 2 ends at ')' */
		p = strchr(p + 1, ' ');
	if (p)
		v = strtoull(p + 1, NULL, 10);
	return v;
}

/* The lock cookie of this process: PID.START.MACHINE. */
void rados_cookie_make(char *out, size_t len)
{
	char mach[RADOS_TAG_LEN];

	rados_machine_tag(mach, sizeof(mach));
	snprintf(out, len, "%ld.%llu.%s", (long)getpid(), proc_start(getpid()),
		 mach);
}

/* Does the lock cookie PID.START.MACHINE name this machine?  *@pid its
 * process id.  A cookie of any other form is not known as this one's. */
bool rados_cookie_ours(const char *cookie, long *pid)
{
	char mach[RADOS_TAG_LEN];
	unsigned long long start;
	int n = 0;

	rados_machine_tag(mach, sizeof(mach));
	if (sscanf(cookie, "%ld.%llu.%n", pid, &start, &n) != 2 || !n ||
	    *pid <= 0)
		return false;
	return !strcmp(cookie + n, mach);
}

/*
 * May a lock with this cookie be broken?  Only when it names this machine
 * and a process that is gone (or another that has its pid now): a lock of
 * another machine, or of a form not known, is never taken as stale.
 */
bool rados_cookie_stale(const char *cookie)
{
	unsigned long long start;
	long pid;

	if (!rados_cookie_ours(cookie, &pid) ||
	    sscanf(cookie, "%ld.%llu", &pid, &start) != 2)
		return false;
	return !start || proc_start(pid) != start;
}

/* ------------------------------------------------------------- connect */

static void set_timeouts(rados_t cl, unsigned int secs)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", secs);
	rados_conf_set(cl, "rados_osd_op_timeout", v);
	rados_conf_set(cl, "rados_mon_op_timeout", v);
	rados_conf_set(cl, "client_mount_timeout", v);
}

/* Connect to the cluster of @sp and open its pool and namespace. */
int rados_attach(const char *spec, const struct rados_spec *sp, rados_t *clp,
		 rados_ioctx_t *iop, char *err, size_t errlen)
{
	rados_t cl;
	int r;

	*clp = NULL;
	*iop = NULL;
	if (access(sp->conf, R_OK)) {
		r = -errno;
		store_set_err(err, errlen, "%s: cluster config %s: %s", spec,
			      sp->conf, strerror(-r));
		return r;
	}
	r = rados_create2(&cl, "ceph", sp->user, 0);
	if (r) {
		store_set_err(err, errlen, "%s: librados: %s", spec, strerror(-r));
		return r;
	}
	r = rados_conf_read_file(cl, sp->conf);
	if (!r && sp->keyring[0])
		r = rados_conf_set(cl, "keyring", sp->keyring);
	if (r) {
		store_set_err(err, errlen, "%s: reading %s: %s", spec, sp->conf,
			      strerror(-r));
		goto fail;
	}
	/* no logging to the daemon's stderr, no admin socket */
	rados_conf_set(cl, "log_to_stderr", "false");
	rados_conf_set(cl, "err_to_stderr", "false");
	rados_conf_set(cl, "log_file", "");
	rados_conf_set(cl, "admin_socket", "");
	set_timeouts(cl, sp->timeout);
	r = rados_connect(cl);
	if (r) {
		store_set_err(err, errlen, "%s: cannot reach the cluster of %s as "
			      "%s: %s", spec, sp->conf, sp->user, strerror(-r));
		goto fail;
	}
	r = rados_ioctx_create(cl, sp->pool, iop);
	if (r) {
		store_set_err(err, errlen, r == -ENOENT ?
			      "%s: the cluster has no pool '%s' (create it first)" :
			      "%s: pool '%s': %s", spec, sp->pool, strerror(-r));
		goto fail;
	}
	rados_ioctx_set_namespace(*iop, sp->ns[0] ? sp->ns : NULL);
	/* every operation FULL_TRY (see the top): the lock, its release and
	 * the header too, which would wait out the timeout on a full pool */
	rados_set_pool_full_try(*iop);
	*clp = cl;
	return 0;
fail:
	rados_shutdown(cl);
	return r;
}

int rados_attach_spec(const char *spec, rados_t *clp, rados_ioctx_t *iop,
		      char *err, size_t errlen)
{
	struct rados_spec sp;
	int r;

	r = rados_spec_parse(spec, NULL, &sp, err, errlen);
	return r ? r : rados_attach(spec, &sp, clp, iop, err, errlen);
}

int store_rados_check(const char *spec, char *err, size_t errlen)
{
	rados_ioctx_t io;
	rados_t cl;
	int r;

	r = rados_attach_spec(spec, &cl, &io, err, errlen);
	if (r)
		return r;
	rados_ioctx_destroy(io);
	rados_shutdown(cl);
	return 0;
}

/* ------------------------------------------------------------- objects */

static void obj_name(const struct store_rados *sr, uint64_t obj, char *buf,
		     size_t len)
{
	snprintf(buf, len, "%s.%016" PRIx64, sr->prefix, obj);
}

static bool obj_exists(const struct store_rados *sr, uint64_t obj)
{
	return obj / 64 < sr->nexists && (sr->exists[obj / 64] >> (obj % 64)) & 1;
}

static int obj_mark(struct store_rados *sr, uint64_t obj, bool on)
{
	uint64_t w = obj / 64;

	if (w >= sr->nexists) {
		uint64_t n = sr->nexists ? sr->nexists : 16, *e;

		if (!on)
			return 0;
		while (n <= w)
			n *= 2;
		e = realloc(sr->exists, n * sizeof(*e));
		if (!e)
			return -ENOMEM;
		memset(e + sr->nexists, 0, (n - sr->nexists) * sizeof(*e));
		sr->exists = e;
		sr->nexists = n;
	}
	if (on)
		sr->exists[w] |= 1ULL << (obj % 64);
	else
		sr->exists[w] &= ~(1ULL << (obj % 64));
	return 0;
}

/* Wait for @n completions; the first error, 0 if none. */
static int wait_all(rados_completion_t *c, size_t n)
{
	int ret = 0, r;
	size_t i;

	for (i = 0; i < n; i++) {
		rados_aio_wait_for_complete(c[i]);
		r = rados_aio_get_return_value(c[i]);
		if (r < 0 && !ret)
			ret = r;
		rados_aio_release(c[i]);
	}
	return ret;
}

/*
 * Issue the removal of @oid on @c: a write operation with FULL_TRY (a
 * plain rados_aio_remove waits on a full pool until the timeout; the OSD
 * lets a removal through a full pool).
 */
int rados_aio_remove_full_try(rados_ioctx_t io, const char *oid,
			      rados_completion_t c)
{
	rados_write_op_t w = rados_create_write_op();
	int r;

	if (!w)
		return -ENOMEM;
	rados_write_op_remove(w);
	r = rados_aio_write_op_operate(w, io, c, oid, NULL,
				       LIBRADOS_OPERATION_FULL_TRY);
	rados_release_write_op(w);	/* encoded when issued */
	return r;
}

/* Remove objects by name, many in flight: the first error other than
 * -ENOENT, or 0. */
int rados_remove_names(rados_ioctx_t io, char (*names)[160], size_t n)
{
	rados_completion_t c[RADOS_REMOVE_BATCH];
	size_t i, k = 0;
	int ret = 0, r;

	for (i = 0; i < n; i++) {
		if (rados_aio_create_completion2(NULL, NULL, &c[k]))
			break;
		r = rados_aio_remove_full_try(io, names[i], c[k]);
		if (r) {
			rados_aio_release(c[k]);
			ret = ret ? ret : r;
			continue;
		}
		if (++k == RADOS_REMOVE_BATCH || i + 1 == n) {
			r = wait_all(c, k);
			if (r && r != -ENOENT && !ret)
				ret = r;
			k = 0;
		}
	}
	r = wait_all(c, k);
	return ret ? ret : (r == -ENOENT ? 0 : r);
}

/*
 * Remove every object of the store whose header is @prefix (listing the
 * namespace: the objects of an earlier run are not known otherwise), the
 * header last when @hdr_too.  0 or -errno; *@count the objects removed.
 */
int rados_remove_prefix(rados_ioctx_t io, const char *prefix, bool hdr_too,
			size_t *count)
{
	char (*names)[160];
	rados_list_ctx_t lc;
	const char *entry;
	size_t plen = strlen(prefix), n = 0;
	int r, ret = 0;

	if (count)
		*count = 0;
	names = malloc(RADOS_REMOVE_BATCH * sizeof(*names));
	if (!names)
		return -ENOMEM;
	r = rados_nobjects_list_open(io, &lc);
	if (r) {
		free(names);
		return r;
	}
	while ((r = rados_nobjects_list_next(lc, &entry, NULL, NULL)) == 0) {
		if (strncmp(entry, prefix, plen) || entry[plen] != '.' ||
		    strlen(entry) >= sizeof(names[0]))
			continue;
		snprintf(names[n++], sizeof(names[0]), "%s", entry);
		if (n == RADOS_REMOVE_BATCH) {
			ret = ret ? ret : rados_remove_names(io, names, n);
			if (count)
				*count += n;
			n = 0;
		}
	}
	rados_nobjects_list_close(lc);
	if (r != -ENOENT && !ret)
		ret = r;
	if (n) {
		ret = ret ? ret : rados_remove_names(io, names, n);
		if (count)
			*count += n;
	}
	if (hdr_too && !ret) {
		snprintf(names[0], sizeof(names[0]), "%s", prefix);
		ret = rados_remove_names(io, names, 1);
	}
	free(names);
	return ret;
}

/* ------------------------------------------------------------ header */

/* Write @oid whole, with FULL_TRY: a full pool answers -ENOSPC/-EDQUOT
 * at once (when the write grows it) instead of holding the write. */
static int write_full_try(rados_ioctx_t io, const char *oid, const char *buf,
			  size_t len)
{
	rados_write_op_t w = rados_create_write_op();
	int r;

	if (!w)
		return -ENOMEM;
	rados_write_op_write_full(w, buf, len);
	r = rados_write_op_operate(w, io, oid, NULL, LIBRADOS_OPERATION_FULL_TRY);
	rados_release_write_op(w);
	return r;
}

static int hdr_write(struct store_rados *sr, const char *name)
{
	char host[64] = "", buf[512];
	int n;

	gethostname(host, sizeof(host) - 1);
	n = snprintf(buf, sizeof(buf),
		     "usmfs store 1\nhost %s\nname %s\npid %ld\ncreated %lld\n"
		     "object_slots %u\npage_size %u\n", host, name,
		     (long)getpid(), (long long)time(NULL),
		     STORE_RADOS_OBJ_SLOTS, USM_PAGE_SIZE);
	return write_full_try(sr->io, sr->prefix, buf, (size_t)n);
}

/*
 * Take the header's lock: 0, or -EBUSY with a message when a process of
 * this machine that is still alive holds it.  A holder that is gone (its
 * process ended, or another one has its pid now) had its lock broken.
 */
static int hdr_lock(struct store_rados *sr, const char *spec, char *err,
		    size_t errlen)
{
	char tag[64], clients[256], cookies[256], addrs[256];
	size_t tl, cl, kl, al;
	int excl, r, tries;
	long pid;

	for (tries = 0; tries < 3; tries++) {
		r = rados_lock_exclusive(sr->io, sr->prefix, RADOS_LOCK,
					 sr->cookie, "usmfs store", NULL, 0);
		if (r == 0 || r == -EEXIST)
			return 0;
		if (r == -ENOSPC || r == -EDQUOT) {
			store_set_err(err, errlen, "%s: the pool %s is full%s: "
				      "the store cannot take its lock (%s); "
				      "mount it once the pool has room", spec,
				      sr->sp.pool, r == -EDQUOT ? " (its quota)" : "",
				      sr->prefix);
			return r;
		}
		if (r != -EBUSY) {
			store_set_err(err, errlen, "%s: locking %s: %s", spec,
				      sr->prefix, strerror(-r));
			return r;
		}
		tl = sizeof(tag);
		cl = sizeof(clients);
		kl = sizeof(cookies);
		al = sizeof(addrs);
		r = (int)rados_list_lockers(sr->io, sr->prefix, RADOS_LOCK, &excl,
					    tag, &tl, clients, &cl, cookies, &kl,
					    addrs, &al);
		if (r < 0) {
			store_set_err(err, errlen, "%s: lockers of %s: %s", spec,
				      sr->prefix, strerror(-r));
			return r;
		}
		if (r == 0)
			continue;	/* released meanwhile */
		if (!rados_cookie_ours(cookies, &pid)) {
			store_set_err(err, errlen, "%s: %s is locked by another "
				      "machine or program (cookie %s, %s at %s): "
				      "left alone; give this one another id: "
				      "%s:id=NAME", spec, sr->prefix, cookies,
				      clients, addrs, spec);
			return -EBUSY;
		}
		if (!rados_cookie_stale(cookies)) {
			store_set_err(err, errlen, "%s: in use by another store "
				      "(process %ld of this machine; give this "
				      "one another id: %s:id=NAME)", spec, pid,
				      spec);
			return -EBUSY;
		}
		r = rados_break_lock(sr->io, sr->prefix, RADOS_LOCK, clients,
				     cookies);
		if (r && r != -ENOENT) {
			store_set_err(err, errlen, "%s: breaking the lock of a "
				      "dead store on %s: %s", spec, sr->prefix,
				      strerror(-r));
			return r;
		}
	}
	store_set_err(err, errlen, "%s: could not lock %s", spec, sr->prefix);
	return -EBUSY;
}

/* ----------------------------------------------------------- open/close */

int store_rados_open(struct usm_store *st, uint64_t wait_ms, unsigned int flags,
		     char *err, size_t errlen)
{
	struct store_rados *sr;
	char mach[RADOS_TAG_LEN];
	int r;

	sr = calloc(1, sizeof(*sr));
	if (!sr)
		return -ENOMEM;
	atomic_init(&sr->answers, false);
	atomic_init(&sr->stop, false);
	atomic_init(&sr->full, false);
	pthread_mutex_init(&sr->down_lock, NULL);
	r = rados_spec_parse(st->spec, st->name, &sr->sp, err, errlen);
	if (r)
		goto fail;
	if (!sr->sp.timeout_set && wait_ms)
		sr->sp.timeout = wait_ms >= 6000 ? (unsigned int)(wait_ms / 3000 <
				 3600 ? wait_ms / 3000 : 3600) : 1;
	r = rados_attach(st->spec, &sr->sp, &sr->cl, &sr->io, err, errlen);
	if (r)
		goto fail;
	rados_machine_tag(mach, sizeof(mach));
	snprintf(sr->prefix, sizeof(sr->prefix), "usm.%s.%s", mach, sr->sp.id);
	rados_cookie_make(sr->cookie, sizeof(sr->cookie));
	if (!(flags & USM_STORE_UNLOCKED)) {
		r = hdr_lock(sr, st->spec, err, errlen);
		if (r)
			goto fail;
		sr->locked = true;
	}
	if (!(flags & USM_STORE_KEEP)) {
		/* an earlier run's pages that nobody keeps */
		r = rados_remove_prefix(sr->io, sr->prefix, false, NULL);
		if (r) {
			store_set_err(err, errlen, "%s: removing the objects of an "
				      "earlier run: %s", st->spec, strerror(-r));
			goto fail;
		}
	} else {
		/* kept: they go when the store empties (close) */
		rados_list_ctx_t lc;
		const char *e;
		size_t plen = strlen(sr->prefix);
		uint64_t obj;

		r = rados_nobjects_list_open(sr->io, &lc);
		if (!r) {
			while (!(r = rados_nobjects_list_next(lc, &e, NULL, NULL)))
				if (!strncmp(e, sr->prefix, plen) && e[plen] == '.' &&
				    sscanf(e + plen + 1, "%" SCNx64, &obj) == 1 &&
				    obj_mark(sr, obj, true)) {
					r = -ENOMEM;
					break;
				}
			rados_nobjects_list_close(lc);
		}
		if (r != -ENOENT) {
			store_set_err(err, errlen, "%s: listing the objects of an "
				      "earlier run: %s", st->spec, strerror(-r));
			goto fail;
		}
	}
	r = hdr_write(sr, st->name);
	if (r) {
		store_set_err(err, errlen, "%s: writing its header %s: %s",
			      st->spec, sr->prefix, strerror(-r));
		goto fail;
	}
	st->rados = sr;
	return 0;
fail:
	st->rados = sr;
	store_rados_close(st);
	return r;
}

static void prober_join(struct store_rados *sr)
{
	if (!sr->probing)
		return;
	atomic_store(&sr->stop, true);
	pthread_join(sr->prober, NULL);
	sr->probing = false;
	atomic_store(&sr->stop, false);
}

void store_rados_close(struct usm_store *st)
{
	struct store_rados *sr = st->rados;
	bool gone = false;

	if (!sr)
		return;
	prober_join(sr);
	if (sr->rm)
		rm_reap(st, 0);
	if (sr->io && sr->locked && st->used == 0 && !rm_blocked(sr)) {
		/* nothing kept: every object goes, the header last */
		gone = !rados_remove_prefix(sr->io, sr->prefix, true, NULL);
	}
	/* A removed header took its lock with it; an unlock on a full pool
	 * fails at once (FULL_TRY) and leaves the lock, which the next
	 * open on this machine breaks (its process is gone). */
	if (sr->io && sr->locked && !gone)
		rados_unlock(sr->io, sr->prefix, RADOS_LOCK, sr->cookie);
	if (sr->io)
		rados_ioctx_destroy(sr->io);
	if (sr->cl)
		rados_shutdown(sr->cl);
	free(sr->exists);
	free(sr->rm);
	pthread_mutex_destroy(&sr->down_lock);
	free(sr);
	st->rados = NULL;
}

/* --------------------------------------------------------------- state */

static void set_down_locked(struct usm_store *st, int r);

/* Swap-in reads may fail in several threads at once (usm_store_read):
 * one at a time here; every other call into the store excludes them. */
static void set_down(struct usm_store *st, int r)
{
	pthread_mutex_lock(&st->rados->down_lock);
	set_down_locked(st, r);
	pthread_mutex_unlock(&st->rados->down_lock);
}

static void set_down_locked(struct usm_store *st, int r)
{
	struct store_rados *sr = st->rados;
	bool was = sr->down[0], full = r == -ENOSPC || r == -EDQUOT;

	if (sr->probing && atomic_load(&sr->answers))
		prober_join(sr);	/* answered, and failed again since */
	if (r == -ETIMEDOUT)
		snprintf(sr->down, sizeof(sr->down), "the cluster is unreachable "
			 "(no answer within %us)", sr->sp.timeout);
	else if (r == -ENOSPC)
		snprintf(sr->down, sizeof(sr->down), "the pool %s is full",
			 sr->sp.pool);
	else if (r == -EDQUOT)
		snprintf(sr->down, sizeof(sr->down), "the pool %s is full "
			 "(its quota)", sr->sp.pool);
	else if (r == -EACCES || r == -EPERM)
		snprintf(sr->down, sizeof(sr->down), "the cluster refuses %s "
			 "access to pool %s", sr->sp.user, sr->sp.pool);
	else
		snprintf(sr->down, sizeof(sr->down), "the cluster failed an "
			 "operation: %s", strerror(-r));
	sr->down_err = r;
	if (!was)
		fprintf(stderr, "%s: store %s (%s): %s: nothing is evicted to it "
			"until %s\n", program_invocation_short_name, st->name,
			st->spec, sr->down, full ? "it takes new objects again" :
			"it answers again");
	/* read by a prober started now, or by one running that probes the
	 * new way from its next round */
	atomic_store(&sr->full, full);
	if (!sr->probing) {
		atomic_store(&sr->answers, false);
		sr->probing = !pthread_create(&sr->prober, NULL, prober_main, sr);
	}
}

/* A full pool takes new objects again: create PREFIX.probe (which only
 * a pool that is not full lets grow), then remove it. */
static int probe_full(struct store_rados *sr)
{
	char names[1][160];
	int r;

	snprintf(names[0], sizeof(names[0]), "%s.probe", sr->prefix);
	r = write_full_try(sr->io, names[0], "probe\n", 6);
	if (!r)
		(void)rados_remove_names(sr->io, names, 1);
	return r;
}

/* Every STORE_PROBE_MS, until the cluster answers (a missing header is an
 * answer too) or the store closes: stat the header; a store down because
 * its pool is full probes by creating an object instead. */
static void *prober_main(void *arg)
{
	struct store_rados *sr = arg;
	uint64_t size, next = now_ms() + STORE_PROBE_MS;
	time_t mtime;
	int r;

	while (!atomic_load(&sr->stop)) {
		if (now_ms() < next) {
			usleep(100000);
			continue;
		}
		if (atomic_load(&sr->full))
			r = probe_full(sr);
		else
			r = rados_stat(sr->io, sr->prefix, &size, &mtime);
		if (r == 0 || r == -ENOENT) {
			atomic_store(&sr->answers, true);
			break;
		}
		next = now_ms() + STORE_PROBE_MS;
	}
	return NULL;
}

bool store_rados_usable(struct usm_store *st)
{
	struct store_rados *sr = st->rados;

	if (!sr->down[0])
		return true;
	if (is_down(sr)) {
		if (!sr->probing)	/* no thread could be made: try again */
			set_down(st, sr->down_err);
		return false;
	}
	prober_join(sr);
	fprintf(stderr, "%s: store %s (%s): the cluster %s again: "
		"evicting to it again (was: %s)\n", program_invocation_short_name,
		st->name, st->spec, atomic_load(&sr->full) ?
		"takes new objects" : "answers", sr->down);
	sr->down[0] = '\0';
	atomic_store(&sr->full, false);
	return true;
}

uint64_t store_rados_room(const struct usm_store *st)
{
	struct store_rados *sr = st->rados;
	struct rados_cluster_stat_t cs;

	if (is_down(sr))
		return 0;
	/* The cluster's free space as its monitors last heard it (0 when
	 * no manager reports it: then as much as the store can address). */
	if (!rados_cluster_stat(sr->cl, &cs) && cs.kb)
		return cs.kb_avail / (USM_PAGE_SIZE / 1024);
	return (1ULL << 36) - st->used;
}

int store_rados_state(const struct usm_store *st, char *buf, size_t len)
{
	const struct store_rados *sr = st->rados;

	if (!is_down(sr)) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	snprintf(buf, len, "%s", sr->down);
	return 1;
}

/* ------------------------------------------------------------------ I/O */

struct rados_op {
	rados_completion_t c;
	rados_write_op_t w;
	rados_read_op_t r;
	uint64_t obj;
	size_t first, n;	/* pages of the call */
};

int store_rados_io(struct usm_store *st, const usm_slot_t *slots,
		   void *const *bufs, size_t n, int write)
{
	struct store_rados *sr = st->rados;
	struct rados_op *ops;
	size_t *got = NULL, i, k, nops = 0;
	int *prv = NULL, ret = 0, r;
	char oid[160];

	if (!n)
		return 0;
	ops = calloc(n, sizeof(*ops));
	if (!write) {
		got = calloc(n, sizeof(*got));
		prv = calloc(n, sizeof(*prv));
	}
	if (!ops || (!write && (!got || !prv))) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i = k) {
		struct rados_op *op = &ops[nops];
		uint64_t obj = slots[i] / STORE_RADOS_OBJ_SLOTS;

		for (k = i; k < n && slots[k] / STORE_RADOS_OBJ_SLOTS == obj; k++)
			;
		op->obj = obj;
		op->first = i;
		op->n = k - i;
		if (write) {
			op->w = rados_create_write_op();
			if (!op->w) {
				ret = -ENOMEM;
				break;
			}
			for (size_t j = i; j < k; j++)
				rados_write_op_write(op->w, bufs[j], USM_PAGE_SIZE,
						     (slots[j] % STORE_RADOS_OBJ_SLOTS) *
						     USM_PAGE_SIZE);
		} else {
			op->r = rados_create_read_op();
			if (!op->r) {
				ret = -ENOMEM;
				break;
			}
			for (size_t j = i; j < k; j++)
				rados_read_op_read(op->r, (slots[j] %
					STORE_RADOS_OBJ_SLOTS) * USM_PAGE_SIZE,
					USM_PAGE_SIZE, bufs[j], &got[j], &prv[j]);
		}
		if (rados_aio_create_completion2(NULL, NULL, &op->c)) {
			ret = -ENOMEM;
			break;
		}
		obj_name(sr, obj, oid, sizeof(oid));
		/* FULL_TRY: a full pool says so at once (see the top) */
		r = write ? rados_aio_write_op_operate(op->w, sr->io, op->c, oid,
						       NULL,
						       LIBRADOS_OPERATION_FULL_TRY) :
			    rados_aio_read_op_operate(op->r, sr->io, op->c, oid, 0);
		nops++;
		if (r) {
			/* not issued: complete it ourselves below */
			rados_aio_release(op->c);
			op->c = NULL;
			ret = r;
			break;
		}
	}
	/* Every operation issued is waited for before the buffers go back. */
	for (i = 0; i < nops; i++) {
		struct rados_op *op = &ops[i];

		if (!op->c)
			continue;
		rados_aio_wait_for_complete(op->c);
		r = rados_aio_get_return_value(op->c);
		rados_aio_release(op->c);
		if (r < 0 && !ret)
			ret = r;
		if (!r && write && obj_mark(sr, op->obj, true) && !ret)
			ret = -ENOMEM;
		for (k = op->first; !r && !write && k < op->first + op->n; k++)
			if (prv[k] < 0 || got[k] != USM_PAGE_SIZE)
				r = ret = -EIO;	/* cut short behind our back */
	}
	if (ret && ret != -ENOENT && ret != -EIO && ret != -ENOMEM)
		set_down(st, ret);
	if (ret == -ENOENT)
		ret = -EIO;	/* a page we wrote is gone: never zeroes */
out:
	for (i = 0; ops && i < n; i++) {
		if (ops[i].w)
			rados_release_write_op(ops[i].w);
		if (ops[i].r)
			rados_release_read_op(ops[i].r);
	}
	free(ops);
	free(got);
	free(prv);
	return ret;
}

/* --------------------------------------------------------------- freeing */

/*
 * An object whose slots are all free is removed at once, asynchronously:
 * the removal is not waited for (a truncate or unlink frees thousands of
 * slots one by one, and keeps up to RADOS_RM_INFLIGHT removals in flight).
 * librados applies one client's operations on an object in the order they
 * were issued, so a slot of it taken and written again meanwhile simply
 * makes the object anew after the removal.  Finished removals are reaped
 * on the next call; a failed one leaves an object that the close (which
 * lists the store's objects) or usmctl rados removes.
 */
#define RADOS_RM_INFLIGHT	256

static void rm_reap(struct usm_store *st, size_t keep)
{
	struct store_rados *sr = st->rados;
	size_t i, o = 0;
	int r;

	for (i = 0; i < sr->nrm; i++) {
		rados_completion_t c = sr->rm[i];

		if (sr->nrm - i > keep || rados_aio_is_complete(c)) {
			rados_aio_wait_for_complete(c);
			r = rados_aio_get_return_value(c);
			rados_aio_release(c);
			if (r == -ETIMEDOUT)
				set_down(st, r);
			continue;
		}
		sr->rm[o++] = c;
	}
	sr->nrm = o;
}

void store_rados_obj_empty(struct usm_store *st, uint64_t obj)
{
	struct store_rados *sr = st->rados;
	rados_completion_t c;
	char oid[160];

	if (!obj_exists(sr, obj) || rm_blocked(sr))
		return;
	if (!sr->rm) {
		sr->rm = malloc(RADOS_RM_INFLIGHT * sizeof(*sr->rm));
		if (!sr->rm)
			return;	/* removed at close */
	}
	rm_reap(st, RADOS_RM_INFLIGHT - 1);
	if (rados_aio_create_completion2(NULL, NULL, &c))
		return;
	obj_name(sr, obj, oid, sizeof(oid));
	if (rados_aio_remove_full_try(sr->io, oid, c)) {
		rados_aio_release(c);
		return;
	}
	obj_mark(sr, obj, false);
	sr->rm[sr->nrm++] = c;
}

/* Wait for the removals in flight (@all) or reap the finished ones. */
void store_rados_flush(struct usm_store *st, bool all)
{
	rm_reap(st, all ? 0 : RADOS_RM_INFLIGHT);
}
