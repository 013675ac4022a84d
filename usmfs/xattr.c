// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xattr.c - extended attributes.
 *
 * user.usm.* are the policy attributes (DESIGN §1): on a regular file they
 * go to the library (validated, applied at once; user.usm.stats computed);
 * on a directory they are kept in the inode's struct usm_file_policy so
 * that files created in it inherit them.  Every other user.*, trusted.* and
 * security.* attribute is stored in memory as tmpfs does, and so are the
 * system.posix_acl_* ones when ACLs are on (acl.c keeps them and the mode
 * consistent).
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include <unistd.h>

#include "usmfs.h"

/* user.usm.* values: the root's stats (with the restart fields, a store's
 * state and options= of at most 512) fit; usmctl reads up to 2048 */
#define USM_VAL_BUF	2048

static bool ns_supported(const char *name)
{
	if (acl_type(name) >= 0)
		return fs.acl;
	return !strncmp(name, "user.", 5) || !strncmp(name, "trusted.", 8) ||
	       !strncmp(name, "security.", 9);
}

void xattr_free_all(struct node *n)
{
	struct xattr *x, *next;

	for (x = n->xattrs; x; x = next) {
		next = x->next;
		sh_free(x->name);
		sh_free(x);
	}
	n->xattrs = NULL;
	fs.ns->xattr_total -= n->xattr_bytes;
	n->xattr_bytes = 0;
}

static struct xattr **xattr_find_locked(struct node *n, const char *name)
{
	struct xattr **pp;

	for (pp = &n->xattrs; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name))
			return pp;
	return NULL;
}

/* What an xattr takes from the mount: its name and value, its struct and
 * the allocator's header of its two allocations. */
static size_t xattr_cost(const char *name, size_t len)
{
	return sizeof(struct xattr) + 2 * 16 + strlen(name) + 1 + len;
}

/* Reply with @len bytes of @val to a getxattr/listxattr of @size. */
static void reply_value(fuse_req_t req, const char *val, size_t len,
			size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, len);
}

/*
 * Store @name = @value (@size bytes) on @n, charged to its xattr budget;
 * XATTR_CREATE/REPLACE in @flags.  0 or an errno.  Takes no lock.
 */
int xattr_store_locked(struct node *n, const char *name, const void *value,
		       size_t size, int flags)
{
	struct xattr **pp, *x, *old;
	size_t cost = xattr_cost(name, size), oldcost = 0;

	if (size > USMFS_XATTR_VALUE_MAX)
		return E2BIG;
	pp = xattr_find_locked(n, name);
	if ((flags & XATTR_CREATE) && pp)
		return EEXIST;
	if ((flags & XATTR_REPLACE) && !pp)
		return ENODATA;
	if (pp)
		oldcost = xattr_cost(name, (*pp)->len);
	if (n->xattr_bytes - oldcost + cost > USMFS_XATTR_TOTAL_MAX ||
	    (cost > oldcost &&
	     (fs.ns->xattr_total + (cost - oldcost) > fs.xattr_cap ||
	      ispace_free_locked() < cost - oldcost)))
		return ENOSPC;
	x = sh_malloc(sizeof(*x) + size);
	if (!x)
		return ENOMEM;
	x->name = sh_strdup(name);
	if (!x->name) {
		sh_free(x);
		return ENOMEM;
	}
	x->len = size;
	if (size)
		memcpy(x->value, value, size);
	if (pp) {
		old = *pp;
		x->next = old->next;
		*pp = x;
		sh_free(old->name);
		sh_free(old);
	} else {
		x->next = n->xattrs;
		n->xattrs = x;
	}
	n->xattr_bytes = n->xattr_bytes - oldcost + cost;
	fs.ns->xattr_total = fs.ns->xattr_total - oldcost + cost;
	node_touch(&n->ctime);
	return 0;
}

/* The stored attribute @name of @n, or NULL.  Takes no lock. */
struct xattr *xattr_get_locked(struct node *n, const char *name)
{
	struct xattr **pp = xattr_find_locked(n, name);

	return pp ? *pp : NULL;
}

/* Remove @name from @n: 0, or ENODATA if it is not there. */
int xattr_drop_locked(struct node *n, const char *name)
{
	struct xattr **pp = xattr_find_locked(n, name), *x;

	if (!pp)
		return ENODATA;
	x = *pp;
	*pp = x->next;
	n->xattr_bytes -= xattr_cost(x->name, x->len);
	fs.ns->xattr_total -= xattr_cost(x->name, x->len);
	sh_free(x->name);
	sh_free(x);
	return 0;
}

static int set_plain(struct node *n, const char *name, const char *value,
		     size_t size, int flags)
{
	int err;

	pthread_mutex_lock(&fs.lock);
	err = xattr_store_locked(n, name, value, size, flags);
	pthread_mutex_unlock(&fs.lock);
	return err;
}

/* A file's policy changed: keep it where a restart finds it (pmap.c). */
static void file_policy_keep(struct node *n)
{
	struct usm_file_policy pol;

	usm_file_get_policy(fs.ctx, n->uf, &pol);
	pthread_mutex_lock(&fs.lock);
	n->pol = pol;
	pthread_mutex_unlock(&fs.lock);
}

/* Is user.usm attribute @id set on @n?  (stats always is, on files) */
static bool usm_attr_present(struct node *n, enum usm_xattr_id id)
{
	char buf[USM_VAL_BUF];

	if (n->uf)
		return usm_file_getxattr(fs.ctx, n->uf, id, buf, sizeof(buf)) >= 0;
	if (S_ISDIR(n->mode) && id != USM_XATTR_STATS)
		return n->pol.set & (1u << id);
	return false;
}

/*
 * A directory's attributes are only stored, but files created in it will
 * start with them: check them the way the library checks a new file's
 * policy (the store must exist, ...), with a short-lived probe file whose
 * id no inode can have (inode numbers count up from 1).
 */
static int dir_policy_check(const struct usm_file_policy *pol)
{
	static _Atomic uint64_t probe = UINT64_MAX;
	struct usm_file_policy eff;
	struct usm_file *uf;

	usm_ctx_policy_for(fs.ctx, pol, NULL, NULL, &eff);
	uf = usm_file_new(fs.ctx, atomic_fetch_sub(&probe, 1), &eff);
	if (!uf)
		return -EINVAL;
	usm_file_release(fs.ctx, uf);
	return 0;
}

static int set_usm(struct node *n, enum usm_xattr_id id, const char *value,
		   size_t size, int flags)
{
	int r;

	if (!n->uf && !S_ISDIR(n->mode))
		return EPERM;
	if (id == USM_XATTR_STATS)
		return EPERM;
	if (flags & (XATTR_CREATE | XATTR_REPLACE)) {
		bool present;

		pthread_mutex_lock(&fs.lock);
		present = usm_attr_present(n, id);
		pthread_mutex_unlock(&fs.lock);
		if ((flags & XATTR_CREATE) && present)
			return EEXIST;
		if ((flags & XATTR_REPLACE) && !present)
			return ENODATA;
	}
	if (n->uf) {
		/* may evict (a lower limit): without fs.lock */
		r = usm_file_setxattr(fs.ctx, n->uf, id, value, size);
		if (!r)
			file_policy_keep(n);
		/* a new store or policy may make pages evictable again */
		evict_kick(true);
	} else {
		struct usm_file_policy pol;

		pthread_mutex_lock(&fs.lock);
		pol = n->pol;
		pthread_mutex_unlock(&fs.lock);
		r = usm_file_policy_set(&pol, id, value, size);
		if (!r)
			r = dir_policy_check(&pol);
		if (!r) {
			pthread_mutex_lock(&fs.lock);
			r = usm_file_policy_set(&n->pol, id, value, size);
			pthread_mutex_unlock(&fs.lock);
		}
	}
	if (r)
		return -r;
	pthread_mutex_lock(&fs.lock);
	node_touch(&n->ctime);
	pthread_mutex_unlock(&fs.lock);
	return 0;
}

/*
 * user.usm.reclaim = "all" | SIZE: push that much of a file out now (usmctl
 * evict).  An action, not an attribute: nothing is stored.
 */
static int reclaim(struct node *n, const char *value, size_t size)
{
	char buf[USM_XATTR_VALUE_MAX + 1];
	struct usm_file_stats st;
	uint64_t bytes, nr = UINT64_MAX;
	long r;

	if (!n->uf)
		return S_ISDIR(n->mode) ? EISDIR : EINVAL;
	while (size && (value[size - 1] == '\n' || value[size - 1] == '\0'))
		size--;
	if (!size || size >= sizeof(buf))
		return EINVAL;
	memcpy(buf, value, size);
	buf[size] = '\0';
	if (strcmp(buf, "all")) {
		if (usm_parse_size(buf, 0, &bytes) || !bytes)
			return EINVAL;
		nr = (bytes + USM_PAGE_SIZE - 1) / USM_PAGE_SIZE;
	}
	usm_file_stats(fs.ctx, n->uf, &st);
	r = usm_evict_file(fs.ctx, n->uf, nr);
	if (r < 0)
		return (int)-r;
	if (r == 0 && st.resident > 0)
		return ENOSPC;
	return 0;
}

/* @s with ' ', '\t', '\n' and '\\' escaped as in mountinfo (\040 ...)
 * into @out; "" when it does not fit. */
static void escape_value(const char *s, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; s[i] && o + 5 < len; i++) {
		if (strchr(" \t\n\\", s[i]))
			o += (size_t)snprintf(out + o, len - o, "\\%03o",
					      (unsigned char)s[i]);
		else
			out[o++] = s[i];
	}
	out[o] = '\0';
	if (s[i])
		out[0] = '\0';
}

/*
 * user.usm.stats on the root: the mount's pool, "key=value" words, with the
 * keys the module's root has where they mean something here: source= is
 * where the pool's frames come from (always "anon": the daemon's own
 * anonymous mapping), server= is 1 because the policies run in this
 * daemon (libusmpolicy, in process: there is nothing to attach), and
 * evicting= is 1 while the daemon's eviction thread runs.  Then what only
 * the daemon has: can_evict= is 1 when that thread runs and a store takes
 * pages (not swap=none), store_room= what the mount's store can still take
 * in bytes (usm_store_room), store_written= and store_read= the bytes
 * this daemon wrote to its stores and read back from them (evictions and
 * swap-ins: every page once; since the daemon started), and store_state= (escaped as options=) only
 * while that store takes nothing although it could: why ("the cluster is
 * unreachable (no answer within 10s)": a "rados:" store).  Last, options=:
 * the usmfs options the daemon was started with, as the module's show in
 * /proc/self/mountinfo (the FUSE mount's there are libfuse's only), with
 * ' ', '\t', '\n' and '\\' escaped as there (\040 ...); left out when
 * they would not fit in 512 bytes.
 */
static int mount_stats(char *buf, size_t len)
{
	struct usm_pool_stats ps;
	struct usm_store_info si;
	char show[512], esc[512], why[1024] = "";
	size_t i;
	uint64_t room = 0, out = 0, in = 0;
	int r, k, writable = 0;

	r = usm_mount_opts_show(&fs.mo, show, sizeof(show));
	esc[0] = '\0';
	if (r > 0 && (size_t)r < sizeof(show))
		escape_value(show, esc, sizeof(esc));
	usm_pool_stats(fs.ctx, &ps);
	/* can_evict: a store that takes pages (the mount's, or one of the
	 * config's) and the eviction thread; store_room: what the mount's
	 * store can still take, in bytes */
	for (i = 0; usm_ctx_store_info(fs.ctx, (unsigned int)i, &si) == 0; i++) {
		writable |= si.writable;
		out += si.pages_out;
		in += si.pages_in;
		if (i == 0) {
			room = si.room;
			escape_value(si.state, why, sizeof(why));
		}
	}
	k = snprintf(buf, len,
			"frames=%llu free=%llu used=%llu limit=%llu resident=%llu "
			"swapped=%llu files=%llu faults=%llu evictions=%llu "
			"swapins=%llu hits=%llu low=%u high=%u source=anon "
			"server=%d evicting=%d can_evict=%d store_room=%llu "
			"store_written=%llu store_read=%llu",
			(unsigned long long)ps.frames, (unsigned long long)ps.free,
			(unsigned long long)ps.used, (unsigned long long)ps.limit,
			(unsigned long long)ps.resident * USM_PAGE_SIZE,
			(unsigned long long)ps.swapped * USM_PAGE_SIZE,
			(unsigned long long)ps.files, (unsigned long long)ps.faults,
			(unsigned long long)ps.evictions,
			(unsigned long long)ps.swapins, (unsigned long long)ps.hits,
			ps.low_pct, ps.high_pct, fs.ctx != NULL,
			evict_running(), evict_running() && writable,
			(unsigned long long)room * USM_PAGE_SIZE,
			(unsigned long long)out * USM_PAGE_SIZE,
			(unsigned long long)in * USM_PAGE_SIZE);
	/* restarts (supervise.c): who serves, who keeps the mount */
	if (k >= 0 && serve.on)
		k += snprintf(len > (size_t)k ? buf + k : NULL,
			      len > (size_t)k ? len - (size_t)k : 0,
			      " daemon_pid=%d supervisor_pid=%d restarts=%u "
			      "restarts_refused=%u restart_lost_pages=%llu",
			      (int)getpid(),
			      serve.supervisor == getppid() ? (int)serve.supervisor : 0,
			      serve.restarts, serve.refused,
			      (unsigned long long)sh->lost);
	if (k >= 0 && why[0]) {
		r = snprintf(len > (size_t)k ? buf + k : NULL,
			     len > (size_t)k ? len - (size_t)k : 0,
			     " store_state=%s", why);
		if (r < 0)
			return r;
		k += r;
	}
	if (k < 0 || !esc[0])
		return k;
	r = snprintf(len > (size_t)k ? buf + k : NULL,
		     len > (size_t)k ? len - (size_t)k : 0, " options=%s", esc);
	return r < 0 ? r : k + r;
}

/* chattr +i or +a: no xattr set or removed (replies, puts @n: true). */
static bool xattr_flag_denies(fuse_req_t req, struct node *n)
{
	int err;

	pthread_mutex_lock(&fs.lock);
	err = node_flag_denies(n, FLAG_META);
	pthread_mutex_unlock(&fs.lock);
	if (!err)
		return false;
	fuse_reply_err(req, err);
	node_put(n);
	return true;
}

void usmfs_ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		       const char *value, size_t size, int flags)
{
	struct node *n;
	int id, err;

	if (!ns_supported(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	n = node_get(ino);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (xattr_flag_denies(req, n))
		return;
	id = usm_xattr_lookup(name);
	if (acl_type(name) >= 0)
		err = acl_setxattr(n, name, value, size, flags);
	else if (!strcmp(name, USM_XATTR_RECLAIM))
		err = reclaim(n, value, size);
	else if (id >= 0)
		err = set_usm(n, (enum usm_xattr_id)id, value, size, flags);
	else if (id == -EINVAL)
		err = EINVAL;
	else
		err = set_plain(n, name, value, size, flags);
	fuse_reply_err(req, err);
	node_put(n);
}

/* The value of user.usm attribute @id in @buf (@len); length or -errno. */
static int get_usm_locked(struct node *n, enum usm_xattr_id id, char *buf,
			  size_t len)
{
	if (n->uf)
		return usm_file_getxattr(fs.ctx, n->uf, id, buf, len);
	if (id == USM_XATTR_STATS && n->ino == FUSE_ROOT_ID)
		return mount_stats(buf, len);
	if (!S_ISDIR(n->mode) || id == USM_XATTR_STATS ||
	    !(n->pol.set & (1u << id)))
		return -ENODATA;
	return usm_file_policy_get(&n->pol, id, buf, len);
}

void usmfs_ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		       size_t size)
{
	char small[USM_VAL_BUF], *val = NULL;
	struct xattr **pp;
	struct node *n;
	size_t len = 0;
	int id, r, err = 0;

	if (!ns_supported(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	id = usm_xattr_lookup(name);
	pthread_mutex_lock(&fs.lock);
	n = node_find_locked(ino);
	if (!n) {
		err = ENOENT;
	} else if (id >= 0) {
		r = get_usm_locked(n, (enum usm_xattr_id)id, small,
				   sizeof(small));
		if (r < 0) {
			err = -r;
		} else if ((size_t)r > sizeof(small)) {
			err = ERANGE;	/* no attribute of ours is this long */
		} else {
			len = (size_t)r;
			val = malloc(len ? len : 1);
			if (val)
				memcpy(val, small, len);
			else
				err = ENOMEM;
		}
	} else if (id == -EINVAL) {
		err = ENODATA;
	} else {
		pp = xattr_find_locked(n, name);
		if (!pp) {
			err = ENODATA;
		} else {
			len = (*pp)->len;
			val = malloc(len ? len : 1);
			if (val)
				memcpy(val, (*pp)->value, len);
			else
				err = ENOMEM;
		}
	}
	pthread_mutex_unlock(&fs.lock);
	if (err)
		fuse_reply_err(req, err);
	else
		reply_value(req, val, len, size);
	free(val);
}

void usmfs_ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	/* trusted.* is listed to CAP_SYS_ADMIN: here, to uid 0 */
	bool trusted = fuse_req_ctx(req)->uid == 0;
	char *list = NULL, tmp[USM_VAL_BUF];
	size_t len = 0, pos = 0;
	struct xattr *x;
	struct node *n;
	int id, pass;

	pthread_mutex_lock(&fs.lock);
	n = node_find_locked(ino);
	if (!n) {
		pthread_mutex_unlock(&fs.lock);
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* pass 0 measures, pass 1 copies */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			list = malloc(len ? len : 1);
			if (!list)
				break;
		}
		for (id = 0; id < USM_XATTR_NR; id++) {
			const char *nm;

			/* computed, read-only: readable by name, not listed */
			if (id == USM_XATTR_STATS)
				continue;
			if (get_usm_locked(n, (enum usm_xattr_id)id, tmp,
					   sizeof(tmp)) < 0)
				continue;
			nm = usm_xattr_name((enum usm_xattr_id)id);
			if (pass == 0) {
				len += strlen(nm) + 1;
			} else if (pos + strlen(nm) + 1 <= len) {
				memcpy(list + pos, nm, strlen(nm) + 1);
				pos += strlen(nm) + 1;
			}
		}
		for (x = n->xattrs; x; x = x->next) {
			if (!trusted && !strncmp(x->name, "trusted.", 8))
				continue;
			if (pass == 0) {
				len += strlen(x->name) + 1;
			} else if (pos + strlen(x->name) + 1 <= len) {
				memcpy(list + pos, x->name, strlen(x->name) + 1);
				pos += strlen(x->name) + 1;
			}
		}
	}
	pthread_mutex_unlock(&fs.lock);
	if (!list)
		fuse_reply_err(req, ENOMEM);
	else
		reply_value(req, list, pos, size);
	free(list);
}

void usmfs_ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct node *n;
	int id, r, err = 0;

	if (!ns_supported(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	n = node_get(ino);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (xattr_flag_denies(req, n))
		return;
	id = usm_xattr_lookup(name);
	if (id == USM_XATTR_STATS) {
		err = EPERM;
	} else if (id >= 0 && n->uf) {
		r = usm_file_removexattr(fs.ctx, n->uf, (enum usm_xattr_id)id);
		if (!r)
			file_policy_keep(n);
		err = r < 0 ? -r : 0;
	} else if (id >= 0) {
		struct usm_file_policy dflt;

		usm_file_policy_init(&dflt);
		pthread_mutex_lock(&fs.lock);
		r = S_ISDIR(n->mode) ?
			usm_file_policy_unset(&n->pol, (enum usm_xattr_id)id,
					      &dflt) : -ENODATA;
		pthread_mutex_unlock(&fs.lock);
		err = r < 0 ? -r : 0;
	} else if (id == -EINVAL) {
		err = ENODATA;
	} else {
		pthread_mutex_lock(&fs.lock);
		err = xattr_drop_locked(n, name);
		pthread_mutex_unlock(&fs.lock);
	}
	if (!err) {
		pthread_mutex_lock(&fs.lock);
		node_touch(&n->ctime);
		pthread_mutex_unlock(&fs.lock);
	}
	fuse_reply_err(req, err);
	node_put(n);
}
