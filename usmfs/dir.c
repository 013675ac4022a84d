// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dir.c - directories: entries, lookup, creation of every kind of inode,
 * link/unlink/rmdir/rename, readdir.
 *
 * A directory keeps its entries in a name hash and in an array ordered by
 * cookie (the readdir offset, assigned once, never reused), so that readdir
 * can resume at any offset while entries come and go.  Removed entries leave
 * a hole in the array until it is compacted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "usmfs.h"

#define COOKIE_FIRST	3	/* 1 and 2 are "." and ".." */

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* 0, or the errno for a name no directory may hold. */
static int name_check(const char *name)
{
	size_t len = strnlen(name, USMFS_NAME_MAX + 1);

	if (len == 0 || strchr(name, '/'))
		return EINVAL;
	if (len > USMFS_NAME_MAX)
		return ENAMETOOLONG;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return EEXIST;
	return 0;
}

struct dirdata *dir_new(void)
{
	struct dirdata *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->nbuckets = 16;
	d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
	if (!d->buckets) {
		free(d);
		return NULL;
	}
	d->next_cookie = COOKIE_FIRST;
	return d;
}

void dir_free(struct dirdata *d)
{
	struct order_ent *o = d->order;
	size_t i;

	for (i = 0; i < d->norder; i++)
		free(o[i].d);
	free(d->order);
	free(d->buckets);
	free(d);
}

static struct dent *dir_find(const struct dirdata *d, const char *name)
{
	uint32_t h = name_hash(name);
	struct dent *e;

	for (e = d->buckets[h & (d->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && !strcmp(e->name, name))
			return e;
	return NULL;
}

static void dir_rehash(struct dirdata *d)
{
	size_t nb = d->nbuckets * 2, i;
	struct dent **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (i = 0; i < d->nbuckets; i++) {
		struct dent *e = d->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(d->buckets);
	d->buckets = b;
	d->nbuckets = nb;
}

/* Index of the first order entry whose cookie is > @cookie. */
static size_t order_after(const struct dirdata *d, uint64_t cookie)
{
	const struct order_ent *o = d->order;
	size_t lo = 0, hi = d->norder;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o[mid].cookie <= cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void order_compact(struct dirdata *d)
{
	struct order_ent *o = d->order;
	size_t i, j = 0;

	for (i = 0; i < d->norder; i++)
		if (o[i].d)
			o[j++] = o[i];
	d->norder = j;
}

/* Add @name -> @child to directory @dn.  0 or -ENOMEM. */
static int dir_add_locked(struct node *dn, const char *name,
			  struct node *child, struct dent **out)
{
	struct dirdata *d = dn->dir;
	size_t len = strlen(name);
	struct order_ent *o;
	struct dent *e;

	if (d->norder == d->cap) {
		if (d->live < d->norder / 2) {
			order_compact(d);
		} else {
			size_t ncap = d->cap ? d->cap * 2 : 16;
			void *no = realloc(d->order, ncap * sizeof(*o));

			if (!no)
				return -ENOMEM;
			d->order = no;
			d->cap = ncap;
		}
	}
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->name, name, len + 1);
	e->hash = name_hash(name);
	e->dir = dn;
	e->node = child;
	e->cookie = d->next_cookie++;
	if (d->live >= d->nbuckets)
		dir_rehash(d);
	e->hnext = d->buckets[e->hash & (d->nbuckets - 1)];
	d->buckets[e->hash & (d->nbuckets - 1)] = e;
	o = d->order;
	o[d->norder].cookie = e->cookie;
	o[d->norder].d = e;
	d->norder++;
	d->live++;
	if (out)
		*out = e;
	return 0;
}

static void dir_remove_locked(struct dent *e)
{
	struct dirdata *d = e->dir->dir;
	struct dent **pp = &d->buckets[e->hash & (d->nbuckets - 1)];
	struct order_ent *o = d->order;
	size_t i;

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	i = order_after(d, e->cookie - 1);
	if (i < d->norder && o[i].d == e)
		o[i].d = NULL;
	d->live--;
	if (d->norder > 64 && d->live < d->norder / 4)
		order_compact(d);
	free(e);
}

/* Reply to a lookup/create-like request with @n; counts the lookup. */
int reply_entry_locked(fuse_req_t req, struct node *n)
{
	struct fuse_entry_param e;
	int r;

	memset(&e, 0, sizeof(e));
	e.ino = n->ino;
	e.attr_timeout = attr_timeout(n);
	e.entry_timeout = fs.timeout;
	node_fill_stat_locked(n, &e.attr);
	r = fuse_reply_entry(req, &e);
	if (r == 0)
		n->nlookup++;
	return r;
}

static struct node *dir_node_locked(fuse_ino_t ino, int *err)
{
	struct node *n = node_find_locked(ino);

	if (!n) {
		*err = ENOENT;
		return NULL;
	}
	if (!S_ISDIR(n->mode)) {
		*err = ENOTDIR;
		return NULL;
	}
	return n;
}

void usmfs_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct node *p;
	struct dent *d;
	int err = 0;

	if (strnlen(name, USMFS_NAME_MAX + 1) > USMFS_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	pthread_mutex_lock(&fs.lock);
	/*
	 * "." of any node id: a file handle's (FUSE_CAP_EXPORT_SUPPORT).  An
	 * inode with no name and no open file is gone (its pages were given
	 * back) even while the kernel's FORGET for it is still on its way:
	 * stale, as on tmpfs.
	 */
	p = node_find_locked(parent);
	if (p && !strcmp(name, ".")) {
		if (!p->nlink && !p->nopen)
			goto fail_stale;
		reply_entry_locked(req, p);
		pthread_mutex_unlock(&fs.lock);
		return;
	}
	p = dir_node_locked(parent, &err);
	if (!p)
		goto fail;
	if (!strcmp(name, "..")) {
		reply_entry_locked(req, p->self ? p->self->dir : p);
		pthread_mutex_unlock(&fs.lock);
		return;
	}
	d = p->dir ? dir_find(p->dir, name) : NULL;
	if (d) {
		reply_entry_locked(req, d->node);
		pthread_mutex_unlock(&fs.lock);
		return;
	}
	pthread_mutex_unlock(&fs.lock);
	/* A negative entry: every creation comes through this kernel. */
	memset(&e, 0, sizeof(e));
	e.entry_timeout = fs.timeout;
	fuse_reply_entry(req, &e);
	return;
fail_stale:
	err = ESTALE;
fail:
	pthread_mutex_unlock(&fs.lock);
	fuse_reply_err(req, err);
}

/* "/a/b/name" relative to the mount root, for config rules. */
static void node_path_locked(const struct node *p, const char *name,
			     char *buf, size_t len)
{
	const struct node *comp[64];
	size_t nc = 0, off = 0;
	int r;

	for (; p && p->self && nc < 64; p = p->self->dir)
		comp[nc++] = p;
	buf[0] = '\0';
	while (nc--) {
		r = snprintf(buf + off, len - off, "/%s", comp[nc]->self->name);
		if (r < 0 || (size_t)r >= len - off)
			return;
		off += (size_t)r;
	}
	snprintf(buf + off, len - off, "/%s", name);
}

/* The creating process's name, for config rules ("process = ..."). */
static void req_comm(fuse_req_t req, char *buf, size_t len)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	char path[64];
	ssize_t r;
	int fd;

	buf[0] = '\0';
	if (!c || c->pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)c->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	r = read(fd, buf, len - 1);
	close(fd);
	if (r <= 0) {
		buf[0] = '\0';
		return;
	}
	buf[r] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/*
 * Create @name in @parent; with @name NULL, an O_TMPFILE file: no entry,
 * no link, linkable once (usmfs_ll_link).  On success *@out holds a busy
 * reference (the caller replies, then node_put()s).  Returns 0 or an errno.
 */
int node_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, dev_t rdev, const char *target, struct node **out)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	char comm[64] = "", path[1024];
	struct node *p, *n = NULL;
	struct dent *self = NULL;
	size_t tlen = 0;
	int err;
	gid_t gid;

	err = name ? name_check(name) : 0;
	if (err)
		return err;
	if (target) {
		tlen = strnlen(target, USMFS_SYMLINK_MAX);
		if (tlen >= USMFS_SYMLINK_MAX)
			return ENAMETOOLONG;
		if (tlen == 0)
			return ENOENT;
	}
	if (S_ISREG(mode) && fs.cfg && fs.cfg->nr_rules)
		req_comm(req, comm, sizeof(comm));

	pthread_mutex_lock(&fs.lock);
	p = dir_node_locked(parent, &err);
	if (!p)
		goto out_unlock;
	if (!p->nlink || !p->dir) {
		err = ENOENT;
		goto out_unlock;
	}
	err = node_flag_denies(p, FLAG_DIR_ADD);
	if (err)
		goto out_unlock;
	if (name && dir_find(p->dir, name)) {
		err = EEXIST;
		goto out_unlock;
	}
	gid = c->gid;
	if (p->mode & S_ISGID) {
		gid = p->gid;
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	n = node_new_locked(mode, c->uid, gid, &err);
	if (!n)
		goto out_unlock;
	n->rdev = rdev;
	n->nlink = 1;
	err = acl_inherit_locked(p, n, c->umask);
	if (err)
		goto out_free;
	if (S_ISDIR(mode)) {
		n->dir = dir_new();
		if (!n->dir) {
			err = ENOMEM;
			goto out_free;
		}
		n->nlink = 2;
		usm_file_policy_inherit(&n->pol, &p->pol);
	} else if (S_ISLNK(mode)) {
		n->target = strndup(target, tlen);
		if (!n->target) {
			err = ENOMEM;
			goto out_free;
		}
		n->size = tlen;
	} else if (S_ISREG(mode)) {
		struct usm_file_policy pol;

		node_path_locked(p, name ? name : "", path, sizeof(path));
		usm_ctx_policy_for(fs.ctx, &p->pol, path,
				   comm[0] ? comm : NULL, &pol);
		errno = 0;
		n->uf = usm_file_new(fs.ctx, n->ino, &pol);
		if (!n->uf) {
			err = errno == EINVAL ? EINVAL : ENOMEM;
			goto out_free;
		}
	}
	if (!name) {
		n->nlink = 0;
		n->tmpfile = true;
		goto done;
	}
	err = -dir_add_locked(p, name, n, &self);
	if (err)
		goto out_free;
	if (S_ISDIR(mode)) {
		n->self = self;
		p->nlink++;
	}
	p->mtime = p->ctime = n->ctime;
done:
	n->busy++;
	*out = n;
	pthread_mutex_unlock(&fs.lock);
	return 0;

out_free:
	n->nlink = 0;
	node_maybe_free_locked(n, NULL);
out_unlock:
	pthread_mutex_unlock(&fs.lock);
	return err;
}

static void create_and_reply(fuse_req_t req, fuse_ino_t parent,
			     const char *name, mode_t mode, dev_t rdev,
			     const char *target)
{
	struct node *n;
	int err;

	err = node_create(req, parent, name, mode, rdev, target, &n);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	pthread_mutex_lock(&fs.lock);
	reply_entry_locked(req, n);
	pthread_mutex_unlock(&fs.lock);
	node_put(n);
}

void usmfs_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode)
{
	create_and_reply(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL);
}

void usmfs_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode, dev_t rdev)
{
	switch (mode & S_IFMT) {
	case 0:
		mode |= S_IFREG;
		/* fall through */
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		break;
	default:
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!S_ISCHR(mode) && !S_ISBLK(mode))
		rdev = 0;
	create_and_reply(req, parent, name, mode, rdev, NULL);
}

void usmfs_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		      const char *name)
{
	create_and_reply(req, parent, name, S_IFLNK | 0777, 0, link);
}

void usmfs_ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct node *n;
	char *t = NULL;

	pthread_mutex_lock(&fs.lock);
	n = node_find_locked(ino);
	if (n && S_ISLNK(n->mode))
		t = strdup(n->target);
	pthread_mutex_unlock(&fs.lock);
	if (!n)
		fuse_reply_err(req, ENOENT);
	else if (!S_ISLNK(n->mode))
		fuse_reply_err(req, EINVAL);
	else if (!t)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_readlink(req, t);
	free(t);
}

void usmfs_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		   const char *newname)
{
	struct node *n, *p;
	int err;

	err = name_check(newname);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	pthread_mutex_lock(&fs.lock);
	n = node_find_locked(ino);
	p = dir_node_locked(newparent, &err);
	if (!n) {
		err = ENOENT;
	} else if (p) {
		if (S_ISDIR(n->mode))
			err = EPERM;
		else if (node_flag_denies(n, FLAG_REMOVE) ||
			 node_flag_denies(p, FLAG_DIR_ADD))
			err = EPERM;
		else if ((!n->nlink && !n->tmpfile) || !p->nlink || !p->dir)
			err = ENOENT;	/* (the kernel refuses O_EXCL tmpfiles) */
		else if (n->nlink >= UINT32_MAX - 1)
			err = EMLINK;
		else if (dir_find(p->dir, newname))
			err = EEXIST;
		else
			err = -dir_add_locked(p, newname, n, NULL);
	}
	if (!err) {
		n->nlink++;
		n->tmpfile = false;
		node_touch(&n->ctime);
		p->mtime = p->ctime = n->ctime;
		reply_entry_locked(req, n);
	}
	pthread_mutex_unlock(&fs.lock);
	if (err)
		fuse_reply_err(req, err);
}

static bool dir_empty(const struct node *n)
{
	return !n->dir || n->dir->live == 0;
}

/* Drop one name of @n (already removed from its directory). */
static void unlinked_locked(struct node *n, struct node *parent,
			    struct usm_file **release)
{
	if (S_ISDIR(n->mode)) {
		n->nlink = 0;
		n->self = NULL;
		parent->nlink--;
	} else {
		n->nlink--;
	}
	node_touch(&n->ctime);
	node_maybe_free_locked(n, release);
}

static void remove_common(fuse_req_t req, fuse_ino_t parent, const char *name,
			  bool isdir)
{
	struct usm_file *uf = NULL;
	struct node *p, *n;
	struct dent *d;
	int err = 0;

	pthread_mutex_lock(&fs.lock);
	p = dir_node_locked(parent, &err);
	if (!p)
		goto out;
	if (isdir && !strcmp(name, ".")) {
		err = EINVAL;
		goto out;
	}
	if (isdir && !strcmp(name, "..")) {
		err = ENOTEMPTY;
		goto out;
	}
	d = p->dir ? dir_find(p->dir, name) : NULL;
	if (!d) {
		err = ENOENT;
		goto out;
	}
	n = d->node;
	err = node_flag_denies(p, FLAG_DIR_REMOVE);
	if (!err)
		err = node_flag_denies(n, FLAG_REMOVE);
	if (err)
		goto out;
	if (isdir && !S_ISDIR(n->mode)) {
		err = ENOTDIR;
		goto out;
	}
	if (!isdir && S_ISDIR(n->mode)) {
		err = EISDIR;
		goto out;
	}
	if (isdir && !dir_empty(n)) {
		err = ENOTEMPTY;
		goto out;
	}
	dir_remove_locked(d);
	node_touch(&p->mtime);
	p->ctime = p->mtime;
	unlinked_locked(n, p, &uf);
out:
	pthread_mutex_unlock(&fs.lock);
	node_release_file(uf);
	fuse_reply_err(req, err);
}

void usmfs_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_common(req, parent, name, false);
}

void usmfs_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_common(req, parent, name, true);
}

/* 1 if directory @dir is @anc or below it. */
static bool is_below_locked(const struct node *dir, const struct node *anc)
{
	for (; dir; dir = dir->self ? dir->self->dir : NULL)
		if (dir == anc)
			return true;
	return false;
}

static void set_self(struct node *n, struct dent *d)
{
	if (S_ISDIR(n->mode))
		n->self = d;
}

static int rename_exchange_locked(struct node *p, struct dent *s,
				  struct node *np, struct dent *t)
{
	struct node *a = s->node, *b = t->node;
	bool adir = S_ISDIR(a->mode), bdir = S_ISDIR(b->mode);

	if (a == b)
		return 0;
	if (p != np) {
		if (adir && is_below_locked(np, a))
			return EINVAL;
		if (bdir && is_below_locked(p, b))
			return EINVAL;
	}
	s->node = b;
	t->node = a;
	set_self(b, s);
	set_self(a, t);
	if (p != np && adir != bdir) {
		if (adir) {
			p->nlink--;
			np->nlink++;
		} else {
			np->nlink--;
			p->nlink++;
		}
	}
	node_touch(&a->ctime);
	b->ctime = a->ctime;
	p->mtime = p->ctime = np->mtime = np->ctime = a->ctime;
	return 0;
}

/*
 * RENAME_WHITEOUT (overlayfs): the source name is left to a whiteout, a
 * 0:0 character device of the caller's, made before anything moves so
 * that nothing can fail after.
 */
static struct node *whiteout_new_locked(fuse_req_t req, struct node *p,
					int *err)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct node *w;

	w = node_new_locked(S_IFCHR, c->uid,
			    p->mode & S_ISGID ? p->gid : c->gid, err);
	if (w)
		w->nlink = 1;
	return w;
}

/* The source entry @s goes, or names the whiteout @w. */
static void leave_source(struct dent *s, struct node *w)
{
	if (w)
		s->node = w;
	else
		dir_remove_locked(s);
}

void usmfs_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		     fuse_ino_t newparent, const char *newname,
		     unsigned int flags)
{
	struct usm_file *uf = NULL;
	struct node *p, *np, *n, *victim, *w = NULL;
	struct dent *s, *t, *nd;
	int err;

	if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) ||
	    ((flags & RENAME_EXCHANGE) &&
	     (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)))) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	err = name_check(newname);
	if (!err && (!strcmp(name, ".") || !strcmp(name, "..")))
		err = EBUSY;
	if (!err && strnlen(name, USMFS_NAME_MAX + 1) > USMFS_NAME_MAX)
		err = ENAMETOOLONG;
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	pthread_mutex_lock(&fs.lock);
	p = dir_node_locked(parent, &err);
	np = p ? dir_node_locked(newparent, &err) : NULL;
	if (!np)
		goto out;
	s = p->dir ? dir_find(p->dir, name) : NULL;
	if (!s || !np->nlink || !np->dir) {
		err = ENOENT;
		goto out;
	}
	t = dir_find(np->dir, newname);
	err = rename_flag_denies(p, s->node, np, t ? t->node : NULL);
	if (err)
		goto out;
	if (flags & RENAME_EXCHANGE) {
		err = t ? rename_exchange_locked(p, s, np, t) : ENOENT;
		goto out;
	}
	n = s->node;
	if (t && (flags & RENAME_NOREPLACE)) {
		err = EEXIST;
		goto out;
	}
	if (S_ISDIR(n->mode) && p != np && is_below_locked(np, n)) {
		err = EINVAL;
		goto out;
	}
	if (flags & RENAME_WHITEOUT) {
		w = whiteout_new_locked(req, p, &err);
		if (!w)
			goto out;
	}
	if (t) {
		victim = t->node;
		if (victim == n)
			goto out;	/* same inode: nothing to do */
		if (S_ISDIR(n->mode) && !S_ISDIR(victim->mode)) {
			err = ENOTDIR;
			goto out;
		}
		if (!S_ISDIR(n->mode) && S_ISDIR(victim->mode)) {
			err = EISDIR;
			goto out;
		}
		if (S_ISDIR(victim->mode) && !dir_empty(victim)) {
			err = ENOTEMPTY;
			goto out;
		}
		/* Reuse the target's entry: nothing to allocate. */
		t->node = n;
		set_self(n, t);
		leave_source(s, w);
		unlinked_locked(victim, np, &uf);
	} else {
		err = -dir_add_locked(np, newname, n, &nd);
		if (err)
			goto out;
		set_self(n, nd);
		leave_source(s, w);
	}
	w = NULL;	/* named by the source entry now */
	if (S_ISDIR(n->mode) && p != np) {
		p->nlink--;
		np->nlink++;
	}
	node_touch(&n->ctime);
	p->mtime = p->ctime = np->mtime = np->ctime = n->ctime;
out:
	if (w) {		/* made, not used */
		w->nlink = 0;
		node_maybe_free_locked(w, NULL);
	}
	pthread_mutex_unlock(&fs.lock);
	node_release_file(uf);
	fuse_reply_err(req, err);
}

/*
 * An open directory: a listing from offset 0 ends at the entries that
 * existed when it started.  A renamed entry gets a new cookie, at the end:
 * without the bound, a reader that renames what it reads would never reach
 * the end (tmpfs bounds its listings the same way).  The kernel serializes
 * readdir on one open directory.
 */
struct dirhandle {
	uint64_t end;		/* first cookie not listed */
};

void usmfs_ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirhandle *dh;
	struct node *n;
	int err = 0;

	pthread_mutex_lock(&fs.lock);
	n = dir_node_locked(ino, &err);
	pthread_mutex_unlock(&fs.lock);
	if (!n) {
		fuse_reply_err(req, err);
		return;
	}
	dh = malloc(sizeof(*dh));
	if (!dh) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	dh->end = UINT64_MAX;
	fi->fh = (uintptr_t)dh;
	if (fuse_reply_open(req, fi))
		free(dh);	/* interrupted: no releasedir will come */
}

void usmfs_ll_releasedir(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	(void)ino;
	free((struct dirhandle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* Add one entry to a listing at @buf (@room bytes); its length, more than
 * @room when it did not fit.  With @plus, @n's attributes too (@n NULL:
 * "." and "..", whose lookup count the kernel does not take). */
static size_t add_entry_locked(fuse_req_t req, char *buf, size_t room,
			       const char *name, uint64_t ino, mode_t mode,
			       struct node *n, off_t next, bool plus)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	if (plus && n) {
		e.ino = n->ino;
		e.attr_timeout = attr_timeout(n);
		e.entry_timeout = fs.timeout;
		node_fill_stat_locked(n, &e.attr);
	} else {
		e.attr.st_ino = ino;
		e.attr.st_mode = mode & S_IFMT;
	}
	if (!plus)
		return fuse_add_direntry(req, buf, room, name, &e.attr, next);
	return fuse_add_direntry_plus(req, buf, room, name, &e, next);
}

/*
 * READDIR and READDIRPLUS.  A READDIRPLUS entry counts as a lookup of its
 * inode (the kernel will FORGET it): counted as it is added, and given
 * back (as a FORGET would) when the reply cannot be sent.
 */
static void list_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi, bool plus)
{
	struct dirhandle *dh = (struct dirhandle *)(uintptr_t)fi->fh;
	struct node *n, **counted = NULL;
	struct order_ent *o;
	size_t pos = 0, i, len, nc = 0;
	char *buf;
	int err = 0;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (size > (1u << 20))
		size = 1u << 20;
	buf = malloc(size ? size : 1);
	/* an entry takes at least 24 bytes (fuse_dirent), 152 with plus */
	if (plus)
		counted = malloc((size / 152 + 1) * sizeof(*counted));
	if (!buf || (plus && !counted)) {
		free(buf);
		free(counted);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&fs.lock);
	n = dir_node_locked(ino, &err);
	if (!n)
		goto fail;
	if (off == 0 && dh)	/* opendir or rewinddir: a new listing */
		dh->end = n->dir ? n->dir->next_cookie : UINT64_MAX;
	if (off < 1) {
		len = add_entry_locked(req, buf + pos, size - pos, ".", n->ino,
				       S_IFDIR, NULL, 1, plus);
		if (len > size - pos)
			goto done;
		pos += len;
		off = 1;
	}
	if (off < 2) {
		len = add_entry_locked(req, buf + pos, size - pos, "..",
				       n->self ? n->self->dir->ino : n->ino,
				       S_IFDIR, NULL, 2, plus);
		if (len > size - pos)
			goto done;
		pos += len;
		off = 2;
	}
	if (!n->dir || !n->nlink)
		goto done;
	o = n->dir->order;
	for (i = order_after(n->dir, (uint64_t)off); i < n->dir->norder; i++) {
		struct node *c;

		if (dh && o[i].cookie >= dh->end)
			break;
		if (!o[i].d)
			continue;
		c = o[i].d->node;
		len = add_entry_locked(req, buf + pos, size - pos, o[i].d->name,
				       c->ino, c->mode, c, (off_t)o[i].cookie,
				       plus);
		if (len > size - pos)
			break;
		pos += len;
		if (plus) {
			c->nlookup++;
			counted[nc++] = c;
		}
	}
done:
	pthread_mutex_unlock(&fs.lock);
	if (fuse_reply_buf(req, buf, pos) && nc) {
		pthread_mutex_lock(&fs.lock);
		for (i = 0; i < nc; i++) {
			struct usm_file *uf = NULL;

			counted[i]->nlookup--;
			node_maybe_free_locked(counted[i], &uf);
			/* a file with a lookup count left is not freed */
			if (uf) {
				pthread_mutex_unlock(&fs.lock);
				node_release_file(uf);
				pthread_mutex_lock(&fs.lock);
			}
		}
		pthread_mutex_unlock(&fs.lock);
	}
	free(buf);
	free(counted);
	return;
fail:
	pthread_mutex_unlock(&fs.lock);
	fuse_reply_err(req, err);
	free(buf);
	free(counted);
}

void usmfs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	list_dir(req, ino, size, off, fi, false);
}

void usmfs_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	list_dir(req, ino, size, off, fi, true);
}
