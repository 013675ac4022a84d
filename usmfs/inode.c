// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * inode.c - the inode table, lookup counting and the life cycle of inodes,
 * getattr/setattr.
 *
 * An inode lives while anything refers to it: a name (nlink), the kernel
 * (nlookup, dropped by forget), an open handle (nopen) or a handler working
 * on it without fs.lock (busy).  When all four reach zero it is freed, and
 * a regular file's pages go back to the library (outside fs.lock).
 * Inode numbers are never reused (64-bit counter), so no generation is
 * needed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usmfs.h"

#define CAP_FSETID_BIT	4	/* linux/capability.h CAP_FSETID */

static size_t ino_slot(uint64_t ino, size_t size)
{
	ino *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(ino >> 17) & (size - 1);
}

/*
 * The namespace's roots: in the arena when a supervisor keeps it for the
 * next daemon (state.h), else in the process.
 */
int node_table_init(void)
{
	static struct usmfs_ns local;

	fs.ns = sh ? &sh->ns : &local;
	fs.ns->itab_size = 1024;
	fs.ns->itab = sh_calloc(fs.ns->itab_size, sizeof(*fs.ns->itab));
	if (!fs.ns->itab)
		return -ENOMEM;
	fs.ns->next_ino = FUSE_ROOT_ID;
	return 0;
}

static void node_table_grow_locked(void)
{
	size_t nsize = fs.ns->itab_size * 2, i;
	struct node **old = fs.ns->itab;
	struct node **nt = sh_calloc(nsize, sizeof(*nt));

	if (!nt)
		return;		/* keep the longer chains */
	for (i = 0; i < fs.ns->itab_size; i++) {
		struct node *n = fs.ns->itab[i], *next;

		for (; n; n = next) {
			size_t s = ino_slot(n->ino, nsize);

			next = n->hnext;
			n->hnext = nt[s];
			nt[s] = n;
		}
	}
	fs.ns->itab = nt;	/* (a restart finds one table or the other) */
	sh_free(old);
	fs.ns->itab_size = nsize;
}

struct node *node_find_locked(uint64_t ino)
{
	struct node *n;

	if (!fs.ns->itab)
		return NULL;
	for (n = fs.ns->itab[ino_slot(ino, fs.ns->itab_size)]; n; n = n->hnext)
		if (n->ino == ino)
			return n;
	return NULL;
}

void node_touch(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/*
 * What the kernel leaves to us under FUSE_HANDLE_KILLPRIV_V2 (io.c) when
 * it marks a write, truncate or chown: clear setuid, and setgid when
 * group execute is set (without it, setgid means mandatory locking and
 * stays: the rule the kernel's FUSE client applied itself before), and
 * drop security.capability, as the protocol says (the kernel removes it
 * itself too, with a REMOVEXATTR, when it sees one).
 */
/* 1 if the process behind @req has CAP_FSETID (its /proc status). */
bool caller_fsetid(fuse_req_t req)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	unsigned long long eff = 0;
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)c->pid);
	f = fopen(path, "re");
	if (!f)
		return c->uid == 0;	/* gone: root is taken as capable */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			found = true;
			break;
		}
	fclose(f);
	return found ? (eff >> CAP_FSETID_BIT) & 1 : c->uid == 0;
}

/* Does @kill (io_take_kill) clear anything of @n?  @capable: the caller
 * has CAP_FSETID (caller_fsetid, asked before taking fs.lock). */
bool node_kill_wanted(const struct node *n, int kill, bool capable)
{
	mode_t m = n->mode;

	if (kill == KILL_NONE || !S_ISREG(m) ||
	    !((m & S_ISUID) || (m & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)))
		return false;
	return kill == KILL_ALWAYS || !capable;
}

void node_kill_suidgid_locked(struct node *n)
{
	mode_t m = n->mode;

	if (S_ISDIR(m))
		return;
	m &= ~(mode_t)S_ISUID;
	if (m & S_IXGRP)
		m &= ~(mode_t)S_ISGID;
	if (m != n->mode || !xattr_drop_locked(n, "security.capability")) {
		n->mode = m;
		node_touch(&n->ctime);
	}
}

/* Bytes left in the mount's inode space (USMFS_INODE_COST per inode). */
uint64_t ispace_free_locked(void)
{
	uint64_t total, used;

	if (fs.max_inodes > UINT64_MAX / USMFS_INODE_COST)
		total = UINT64_MAX;
	else
		total = fs.max_inodes * USMFS_INODE_COST;
	used = fs.ns->nr_nodes * USMFS_INODE_COST + fs.ns->xattr_total;
	return total > used ? total - used : 0;
}

struct node *node_new_locked(mode_t mode, uid_t uid, gid_t gid, int *err)
{
	struct node *n;
	size_t s;

	if (fs.ns->nr_nodes >= fs.max_inodes ||
	    ispace_free_locked() < USMFS_INODE_COST) {
		*err = ENOSPC;
		return NULL;
	}
	n = sh_calloc(1, sizeof(*n));
	if (!n) {
		*err = ENOMEM;
		return NULL;
	}
	n->ino = fs.ns->next_ino++;
	n->mode = mode;
	n->uid = uid;
	n->gid = gid;
	node_touch(&n->mtime);
	n->atime = n->ctime = n->mtime;
	/* the kernel's clock for the times it keeps (writeback cache): a
	 * birth never after the first write's ctime */
	clock_gettime(CLOCK_REALTIME_COARSE, &n->btime);
	usm_file_policy_init(&n->pol);
	n->pol.set = 0;
	if (fs.ns->nr_nodes >= fs.ns->itab_size)
		node_table_grow_locked();
	s = ino_slot(n->ino, fs.ns->itab_size);
	n->hnext = fs.ns->itab[s];
	fs.ns->itab[s] = n;
	fs.ns->nr_nodes++;
	return n;
}

static void node_unhash_locked(struct node *n)
{
	struct node **pp = &fs.ns->itab[ino_slot(n->ino, fs.ns->itab_size)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == n) {
			*pp = n->hnext;
			fs.ns->nr_nodes--;
			return;
		}
	}
}

/* Free @n's memory; its pages are handed back through @release. */
static void node_destroy_locked(struct node *n, struct usm_file **release)
{
	node_unhash_locked(n);
	if (n->dir)
		dir_free(n->dir);
	sh_free(n->target);
	xattr_free_all(n);
	pmap_free(n);
	if (release)
		*release = n->uf;
	else if (n->uf)
		node_release_file(n->uf);
	sh_free(n);
}

void node_maybe_free_locked(struct node *n, struct usm_file **release)
{
	if (n == fs.ns->root || n->nlink || n->nopen || n->busy)
		return;
	if (n->nlookup) {
		/*
		 * No name and no open file: nothing can reach the data any
		 * more (there is no open-by-handle), so give the pages back
		 * now rather than when the kernel's forget comes.
		 */
		if (n->uf && release) {
			pmap_free(n);
			*release = n->uf;
			n->uf = NULL;
		}
		return;
	}
	node_destroy_locked(n, release);
}

void node_release_file(struct usm_file *uf)
{
	if (!uf)
		return;
	usm_file_release(fs.ctx, uf);
	evict_kick(true);
}

struct node *node_get(fuse_ino_t ino)
{
	struct node *n;

	pthread_mutex_lock(&fs.lock);
	n = node_find_locked(ino);
	if (n)
		n->busy++;
	pthread_mutex_unlock(&fs.lock);
	return n;
}

void node_put(struct node *n)
{
	struct usm_file *uf = NULL;

	pthread_mutex_lock(&fs.lock);
	n->busy--;
	node_maybe_free_locked(n, &uf);
	pthread_mutex_unlock(&fs.lock);
	node_release_file(uf);
}

/* At exit: free every inode (the session is gone; no lock needed). */
void node_table_free(void)
{
	size_t i;

	if (!fs.ns || !fs.ns->itab)
		return;		/* the engine failed before the namespace */
	for (i = 0; i < fs.ns->itab_size; i++) {
		while (fs.ns->itab[i]) {
			struct node *n = fs.ns->itab[i];

			if (n->dir) {
				/* entries are freed with their directory */
				dir_free(n->dir);
				n->dir = NULL;
			}
			node_destroy_locked(n, NULL);
		}
	}
	sh_free(fs.ns->itab);
	fs.ns->itab = NULL;
	fs.ns->root = NULL;
}

/* tmpfs's BOGO_DIRENT_SIZE: directory sizes grow with their entries. */
#define BOGO_DIRENT_SIZE	20

void node_fill_stat_locked(const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = n->mode;
	st->st_nlink = n->nlink;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_rdev = n->rdev;
	st->st_blksize = USM_PAGE_SIZE;
	st->st_atim = n->atime;
	st->st_mtim = n->mtime;
	st->st_ctim = n->ctime;
	if (S_ISDIR(n->mode)) {
		st->st_size = (off_t)((n->dir ? n->dir->live : 0) + 2) *
			      BOGO_DIRENT_SIZE;
	} else {
		st->st_size = (off_t)n->size;
	}
	if (n->uf) {
		struct usm_file_stats fst;

		usm_file_stats(fs.ctx, n->uf, &fst);
		st->st_blocks = (blkcnt_t)((fst.resident + fst.swapped) *
					   (USM_PAGE_SIZE / 512));
	}
}

void usmfs_ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct usm_file *uf = NULL;
	struct node *n;

	pthread_mutex_lock(&fs.lock);
	n = node_find_locked(ino);
	if (n) {
		n->nlookup -= nlookup < n->nlookup ? nlookup : n->nlookup;
		node_maybe_free_locked(n, &uf);
	}
	pthread_mutex_unlock(&fs.lock);
	node_release_file(uf);
	fuse_reply_none(req);
}

void usmfs_ll_forget_multi(fuse_req_t req, size_t count,
			   struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++) {
		struct usm_file *uf = NULL;
		struct node *n;

		pthread_mutex_lock(&fs.lock);
		n = node_find_locked(forgets[i].ino);
		if (n) {
			uint64_t d = forgets[i].nlookup;

			n->nlookup -= d < n->nlookup ? d : n->nlookup;
			node_maybe_free_locked(n, &uf);
		}
		pthread_mutex_unlock(&fs.lock);
		node_release_file(uf);
	}
	fuse_reply_none(req);
}

void usmfs_ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n;
	struct stat st;
	bool refuse;

	n = node_get(ino);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* a write(2) asks through a handle opened for writing (file.c) */
	refuse = fi && (fi->fh & FH_WRITE) && n->uf && room_refuse(n);
	pthread_mutex_lock(&fs.lock);
	n->attr_inval = false;
	node_fill_stat_locked(n, &st);
	pthread_mutex_unlock(&fs.lock);
	if (refuse)
		fuse_reply_err(req, ENOSPC);
	else
		fuse_reply_attr(req, &st, attr_timeout(n));
	node_put(n);
}

static void set_time(struct timespec *dst, const struct timespec *src,
		     bool now)
{
	if (now)
		node_touch(dst);
	else
		*dst = *src;
}

void usmfs_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		      int to_set, struct fuse_file_info *fi)
{
	int kill = io_take_kill();
	bool capable = kill == KILL_CALLER && caller_fsetid(req);
	struct node *n;
	struct stat st;
	int err = 0;

	(void)fi;
	n = node_get(ino);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* chattr +i: nothing; +a: times only (the kernel's own flushes) */
	pthread_mutex_lock(&fs.lock);
	err = node_flag_denies(n, to_set & (FUSE_SET_ATTR_MODE |
		FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE) ?
		FLAG_META : FLAG_CHANGE);
	pthread_mutex_unlock(&fs.lock);
	if (err)
		goto out;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (S_ISDIR(n->mode)) {
			err = EISDIR;
		} else if (!S_ISREG(n->mode)) {
			err = EINVAL;
		} else if (attr->st_size < 0) {
			err = EINVAL;
		} else if ((uint64_t)attr->st_size > USMFS_MAX_FILE_SIZE) {
			err = EFBIG;
		} else {
			err = -file_set_size(n, (uint64_t)attr->st_size);
		}
		if (err)
			goto out;
	}

	pthread_mutex_lock(&fs.lock);
	if (to_set & FUSE_SET_ATTR_MODE) {
		n->mode = (n->mode & S_IFMT) | (attr->st_mode & 07777);
		acl_chmod_locked(n);
	}
	if (to_set & FUSE_SET_ATTR_UID)
		n->uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		n->gid = attr->st_gid;
	if (node_kill_wanted(n, kill, capable))
		node_kill_suidgid_locked(n);
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW))
		set_time(&n->atime, &attr->st_atim,
			 to_set & FUSE_SET_ATTR_ATIME_NOW);
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))
		set_time(&n->mtime, &attr->st_mtim,
			 to_set & FUSE_SET_ATTR_MTIME_NOW);
	else if (to_set & FUSE_SET_ATTR_SIZE)
		node_touch(&n->mtime);
	if (to_set & FUSE_SET_ATTR_CTIME)
		n->ctime = attr->st_ctim;
	else
		node_touch(&n->ctime);
	node_fill_stat_locked(n, &st);
	pthread_mutex_unlock(&fs.lock);
out:
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, attr_timeout(n));
	node_put(n);
}
