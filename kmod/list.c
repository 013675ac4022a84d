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
		unsigned long skip_to = 0;

		xa_lock(&info->frames);
		xas_set(&xas, index);
		entry = xas_find(&xas, ULONG_MAX);
		/*
		 * A truncation of this range is freeing it: its TRUNCATED is
		 * queued already (at or before the seq this call returns, or
		 * after it), so the server hears of it either way.  Listed,
		 * a page that goes now would stay known there.
		 */
		if (entry && usmfs_truncating(info, xas.xa_index))
			skip_to = info->trunc_last;
		xa_unlock(&info->frames);
		if (!entry)
			return 0;
		index = xas.xa_index;
		if (skip_to) {
			if (skip_to == ULONG_MAX)
				return 0;
			index = skip_to + 1;
			continue;
		}
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
 * All files of mount @sbi (pinned) in inode number order, from @ino and
 * page @index of it, until the array is full.  No lock is held between two
 * files, none across a copy to the server: O(files + pages) in all.
 */
static int usmfs_list_mount(struct usmfs_lister *l, struct usmfs_sb_info *sbi,
			    unsigned long ino, unsigned long index)
{
	struct inode *inode;
	int err = 0;

	while (!l->full) {
		unsigned long found = ino;

		inode = usmfs_files_next(sbi, &found, false);
		if (!inode)
			break;
		if (found != ino)
			index = 0;
		err = usmfs_list_file(l, inode, sbi->chan_dev, index);
		iput(inode);
		if (err || found == ULONG_MAX)
			break;
		ino = found + 1;
		index = 0;
		cond_resched();
	}
	return err;
}

/* All mounts from the cursor, in channel number order. */
static int usmfs_list_all(struct usmfs_lister *l, const struct usmfs_cmd *c)
{
	u32 dev = c->u.list.cursor_dev;
	struct usmfs_sb_info *sbi;
	int err = 0;

	while (!err && !l->full) {
		unsigned long ino = 0, index = 0;

		sbi = usmfs_pool_get_mount(dev, false);
		if (!sbi)
			break;
		if (sbi->chan_dev == c->u.list.cursor_dev) {
			ino = c->u.list.cursor_ino;
			index = c->u.list.cursor_index;
		}
		err = usmfs_list_mount(l, sbi, ino, index);
		dev = sbi->chan_dev + 1;
		usmfs_pool_put_mount(sbi);
		if (!dev)
			break;
	}
	return err;
}

/* One file: EINVAL without the mount, ENOENT without the file. */
static int usmfs_list_one(struct usmfs_lister *l, const struct usmfs_cmd *c)
{
	unsigned long ino = c->ino;
	struct usmfs_sb_info *sbi;
	struct inode *inode;
	int err = -ENOENT;

	if (c->ino > ULONG_MAX)
		return -ENOENT;
	sbi = usmfs_pool_get_mount(c->dev, true);
	if (!sbi)
		return -EINVAL;
	inode = usmfs_files_next(sbi, &ino, true);
	if (inode) {
		err = usmfs_list_file(l, inode, sbi->chan_dev,
				      c->u.list.cursor_index);
		iput(inode);
	}
	usmfs_pool_put_mount(sbi);
	return err;
}

int usmfs_cmd_list(struct usmfs_cmd *c)
{
	struct usmfs_lister *l;
	int err = 0;
	u64 seq;

	if (c->flags || c->u.list.seq || !c->u.list.nr ||
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

	/* Before any page is looked at: see usmfs_queue_stamp(). */
	seq = usmfs_queue_stamp();
	err = c->dev ? usmfs_list_one(l, c) : usmfs_list_all(l, c);
	if (!err)
		err = usmfs_list_flush(l);
	if (err)
		goto out;
	c->u.list.nr = l->done;
	c->u.list.seq = seq;
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
