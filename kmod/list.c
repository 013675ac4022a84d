// SPDX-License-Identifier: GPL-2.0-only
/*
 * list.c - LIST_PAGES: the page states of one file or of all files, from a
 * cursor, for a server that (re)attached.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "usmfs.h"
#include "chan.h"

/* LIST_PAGES: resident pages of one file, or of all files, from a cursor. */
struct usmfs_lister {
	struct usmfs_page_rec __user *out;
	u32 cap;
	u32 done;
	struct usmfs_page_rec buf[USMFS_LIST_CHUNK];
	u32 nbuf;
	bool full;
	/* the cursor of the next page not reported */
	u32 next_dev;
	u64 next_ino;
	u64 next_index;
};

static int usmfs_list_flush(struct usmfs_lister *l)
{
	if (!l->nbuf)
		return 0;
	if (copy_to_user(l->out + l->done, l->buf, l->nbuf * sizeof(l->buf[0])))
		return -EFAULT;
	l->done += l->nbuf;
	l->nbuf = 0;
	return 0;
}

static struct usmfs_page_rec usmfs_page_rec(u32 dev, u64 ino, u64 index,
					    void *entry)
{
	struct usmfs_page_rec r = {
		.dev = dev, .ino = ino, .index = index,
		.state = USMFS_PAGE_RESIDENT, .frame = ~0ULL, .slot = ~0ULL,
	};

	if (usmfs_e_swapped(entry)) {
		r.state = usmfs_e_busy(entry) ? USMFS_PAGE_WAITING :
						USMFS_PAGE_SWAPPED;
		r.slot = usmfs_e_slot(entry);
		r.store_id = usmfs_e_store(entry);
	} else {
		/* Locked by EVICT is still resident until COMMIT. */
		r.frame = usmfs_e_frame(entry);
	}
	return r;
}

/* Report pages of @inode from @index on; false once the array is full. */
static int usmfs_list_file(struct usmfs_lister *l, struct inode *inode,
			   u32 dev, unsigned long index)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	XA_STATE(xas, &info->frames, index);
	void *entry;
	int err;

	for (;;) {
		rcu_read_lock();
		xas_set(&xas, index);
		entry = xas_find(&xas, ULONG_MAX);
		while (xas_retry(&xas, entry))
			entry = xas_find(&xas, ULONG_MAX);
		rcu_read_unlock();
		if (!entry)
			return 0;
		index = xas.xa_index;
		if (l->done + l->nbuf == l->cap) {
			l->full = true;
			l->next_dev = dev;
			l->next_ino = inode->i_ino;
			l->next_index = index;
			return 0;
		}
		l->buf[l->nbuf++] = usmfs_page_rec(dev, inode->i_ino, index,
						   entry);
		if (l->nbuf == USMFS_LIST_CHUNK) {
			err = usmfs_list_flush(l);
			if (err)
				return err;
		}
		if (index == ULONG_MAX)
			return 0;
		index++;
		cond_resched();
	}
}

/*
 * The regular file of @sb with the lowest inode number >= @ino (exactly
 * @ino if @exact), with a reference; NULL if none.
 */
static struct inode *usmfs_find_inode(struct super_block *sb, u64 ino,
				      bool exact)
{
	struct inode *inode, *best = NULL;

	spin_lock(&sb->s_inode_list_lock);
	list_for_each_entry(inode, &sb->s_inodes, i_sb_list) {
		if (!S_ISREG(inode->i_mode) || USMFS_I(inode)->chan_gone)
			continue;
		if (exact ? inode->i_ino != ino : inode->i_ino < ino)
			continue;
		if (best && best->i_ino <= inode->i_ino)
			continue;
		best = inode;
		if (exact)
			break;
	}
	if (best)
		best = igrab(best);
	spin_unlock(&sb->s_inode_list_lock);
	return best;
}

struct usmfs_list_all {
	struct usmfs_lister *l;
	struct usmfs_cmd *c;
	int err;
};

static int usmfs_list_mount(struct usmfs_sb_info *sbi, void *arg)
{
	struct usmfs_list_all *a = arg;
	struct usmfs_lister *l = a->l;
	u64 ino = 0;
	unsigned long index = 0;

	if (sbi->chan_dev < a->c->u.list.cursor_dev)
		return 0;
	if (sbi->chan_dev == a->c->u.list.cursor_dev) {
		ino = a->c->u.list.cursor_ino;
		index = a->c->u.list.cursor_index;
	}
	while (!l->full) {
		struct inode *inode = usmfs_find_inode(sbi->sb, ino, false);

		if (!inode)
			break;
		if (inode->i_ino != ino)
			index = 0;
		a->err = usmfs_list_file(l, inode, sbi->chan_dev, index);
		ino = inode->i_ino + 1;
		index = 0;
		iput(inode);
		if (a->err)
			return a->err;
		if (!ino)
			break;
	}
	return l->full ? 1 : 0;
}

/* One file: a->err is EINVAL until the mount is found. */
static int usmfs_list_one(struct usmfs_sb_info *sbi, void *arg)
{
	struct usmfs_list_all *a = arg;
	struct inode *inode;

	if (sbi->chan_dev != a->c->dev)
		return 0;
	inode = usmfs_find_inode(sbi->sb, a->c->ino, true);
	if (!inode) {
		a->err = -ENOENT;
		return 1;
	}
	a->err = usmfs_list_file(a->l, inode, sbi->chan_dev,
				 a->c->u.list.cursor_index);
	iput(inode);
	return 1;
}

int usmfs_cmd_list(struct usmfs_cmd *c)
{
	struct usmfs_list_all a;
	struct list_head *mounts;
	struct usmfs_sb_info *sbi;
	struct usmfs_lister *l;
	int err = 0;

	if (c->flags || c->u.list.reserved0 || !c->u.list.nr ||
	    c->u.list.nr > USMFS_LIST_MAX)
		return -EINVAL;
	if ((c->dev == 0) != (c->ino == 0))
		return -EINVAL;
	if (c->dev && (c->u.list.cursor_dev || c->u.list.cursor_ino))
		return -EINVAL;
	if (c->u.list.cursor_index > ULONG_MAX)
		return -EINVAL;
	l = kzalloc(sizeof(*l), GFP_KERNEL);
	if (!l)
		return -ENOMEM;
	l->out = u64_to_user_ptr(c->u.list.recs_ptr);
	l->cap = c->u.list.nr;

	a.l = l;
	a.c = c;
	a.err = c->dev ? -EINVAL : 0;
	mounts = usmfs_pool_lock_mounts();
	list_for_each_entry(sbi, mounts, pool_link)
		if (c->dev ? usmfs_list_one(sbi, &a) : usmfs_list_mount(sbi, &a))
			break;
	usmfs_pool_unlock_mounts();
	err = a.err;
	if (!err)
		err = usmfs_list_flush(l);
	if (err)
		goto out;
	c->u.list.nr = l->done;
	if (l->full) {
		c->u.list.cursor_dev = c->dev ? 0 : l->next_dev;
		c->u.list.cursor_ino = c->dev ? 0 : l->next_ino;
		c->u.list.cursor_index = l->next_index;
	} else {
		c->flags |= USMFS_CMDF_LIST_END;
		c->u.list.cursor_dev = 0;
		c->u.list.cursor_ino = 0;
		c->u.list.cursor_index = 0;
	}
out:
	kfree(l);
	return err;
}
