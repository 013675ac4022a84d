// SPDX-License-Identifier: GPL-2.0-only
/*
 * cmd.c - USMFS_IOC_CMD: the server's command batches (stores, watermarks,
 * EVICT, COMMIT, CANCEL), dispatched to the files that own each command.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "usmfs.h"
#include "chan.h"

static bool usmfs_store_name_ok(const u8 *name)
{
	size_t len = strnlen(name, USMFS_NAME_LEN);
	size_t i;

	if (len == USMFS_NAME_LEN)
		return false;
	if (!usmfs_zero(name + len, USMFS_NAME_LEN - len))
		return false;
	for (i = 0; i < len; i++)
		if (!(islower(name[i]) || isdigit(name[i]) ||
		      name[i] == '_' || name[i] == '-'))
			return false;
	return true;
}

static int usmfs_cmd_store(struct usmfs_cmd *c)
{
	char *name, *old;

	if (c->dev || c->ino || c->u.store.reserved0 ||
	    c->u.store.store_id >= USMFS_MAX_STORES)
		return -EINVAL;
	if (c->op == USMFS_CMD_GET_STORE) {
		if (!usmfs_zero(c->u.store.name, USMFS_NAME_LEN))
			return -EINVAL;
		mutex_lock(&chan.stores_lock);
		old = chan.stores[c->u.store.store_id];
		if (old)
			strscpy_pad(c->u.store.name, old, USMFS_NAME_LEN);
		mutex_unlock(&chan.stores_lock);
		return old ? 0 : -ENOENT;
	}
	if (!usmfs_store_name_ok(c->u.store.name))
		return -EINVAL;
	name = NULL;
	if (c->u.store.name[0]) {
		name = kstrndup(c->u.store.name, USMFS_NAME_LEN, GFP_KERNEL);
		if (!name)
			return -ENOMEM;
	}
	mutex_lock(&chan.stores_lock);
	old = chan.stores[c->u.store.store_id];
	chan.stores[c->u.store.store_id] = name;
	mutex_unlock(&chan.stores_lock);
	kfree(old);
	return 0;
}

static int usmfs_cmd_watermarks(struct usmfs_cmd *c)
{
	u32 low = c->u.wm.low_pct, high = c->u.wm.high_pct;

	if (c->dev || c->ino || !usmfs_zero(c->u.wm.reserved,
					    sizeof(c->u.wm.reserved)))
		return -EINVAL;
	if (!low || low >= high || high > 100)
		return -EINVAL;
	mutex_lock(&chan.lock);
	chan.low_pct = low;
	chan.high_pct = high;
	mutex_unlock(&chan.lock);
	return 0;
}

/*
 * The regular file @ino of mount @dev, with a reference, and the mount
 * pinned in *@sbip: an unmount waits for the command (usmfs_cmd_put).
 * ERR_PTR(-EINVAL): no such mount; ERR_PTR(-ENOENT): no such file.
 */
static struct inode *usmfs_cmd_inode(u32 dev, u64 ino,
				     struct usmfs_sb_info **sbip)
{
	unsigned long index = ino;
	struct usmfs_sb_info *sbi;
	struct inode *inode;

	if (!dev || !ino || ino > ULONG_MAX)
		return ERR_PTR(-EINVAL);
	sbi = usmfs_pool_get_mount(dev, true);
	if (!sbi)
		return ERR_PTR(-EINVAL);
	inode = usmfs_files_next(sbi, &index, true);
	if (!inode) {
		usmfs_pool_put_mount(sbi);
		return ERR_PTR(-ENOENT);
	}
	*sbip = sbi;
	return inode;
}

static void usmfs_cmd_put(struct inode *inode, struct usmfs_sb_info *sbi)
{
	iput(inode);
	usmfs_pool_put_mount(sbi);
}

/* EVICT and CANCEL name pages [index, +nr) in frames [frame, +nr). */
static int usmfs_range_check(const struct usmfs_cmd *c)
{
	if (c->u.range.reserved ||
	    (c->op != USMFS_CMD_EVICT && c->u.range.seq))
		return -EINVAL;
	if (!c->u.range.nr || c->u.range.nr > USMFS_RANGE_MAX ||
	    c->u.range.index > ULONG_MAX - USMFS_RANGE_MAX)
		return -EINVAL;
	if (c->u.range.frame >= usmfs_pool_nr_frames() ||
	    c->u.range.nr > usmfs_pool_nr_frames() - c->u.range.frame)
		return -ERANGE;
	return 0;
}

/* Put back resident entries [index, +nr) that are still busy(frame + i). */
static unsigned long usmfs_unlock_range(struct usmfs_inode_info *info,
					unsigned long index,
					unsigned long frame, unsigned long nr)
{
	unsigned long i, missed = 0;

	xa_lock(&info->frames);
	for (i = 0; i < nr; i++) {
		void *idle = xa_mk_value(frame + i);

		if (__xa_cmpxchg(&info->frames, index + i, usmfs_mk_busy(idle),
				 idle, GFP_ATOMIC) != usmfs_mk_busy(idle))
			missed++;
		else	/* a truncation's bytes noted meanwhile */
			usmfs_tailzero_apply(info, index + i,
					     usmfs_frame_page(frame + i));
	}
	xa_unlock(&info->frames);
	usmfs_wake_frames();
	return missed;
}

/*
 * EVICT: lock pages [index, +nr), resident in frames [frame, +nr), all or
 * nothing.  Entries go busy first (no new reference can be taken: every
 * lookup waits on a busy entry), then the pages are unmapped; a page that
 * someone still holds (a read or write copying, a GUP pin, a pipe) is
 * EBUSY and the whole range is put back.
 */
static int usmfs_cmd_evict(struct usmfs_cmd *c, struct inode *inode)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	unsigned long index, frame, nr, i;
	int err = usmfs_range_check(c);

	if (err)
		return err;
	index = c->u.range.index;
	frame = c->u.range.frame;
	nr = c->u.range.nr;

	xa_lock(&info->frames);
	/*
	 * A truncation the server has not handled yet: the frame it names
	 * may hold the same index again, faulted anew, whose data the
	 * server would then evict into a slot that its TRUNCATED frees.
	 */
	if (usmfs_evict_stale(info, index, nr, c->u.range.seq)) {
		xa_unlock(&info->frames);
		atomic64_inc(&USMFS_SB(inode->i_sb)->evict_stale);
		return -ESTALE;
	}
	for (i = 0; i < nr; i++) {
		void *e = xa_load(&info->frames, index + i);

		if (!e || usmfs_e_swapped(e))
			err = -ENOENT;
		else if (usmfs_e_busy(e))
			err = -EBUSY;
		else if (usmfs_e_frame(e) != frame + i)
			err = -ESTALE;
		if (err)
			break;
		__xa_store(&info->frames, index + i, usmfs_mk_busy(e),
			   GFP_ATOMIC);
	}
	xa_unlock(&info->frames);
	if (err) {
		usmfs_unlock_range(info, index, frame, i);
		return err;
	}

	unmap_mapping_range(inode->i_mapping, (loff_t)index << PAGE_SHIFT,
			    (loff_t)nr << PAGE_SHIFT, 0);
	for (i = 0; i < nr; i++) {
		struct page *page = usmfs_frame_page(frame + i);

		if (page_ref_count(page) != 1 ||
		    folio_mapped(page_folio(page))) {
			usmfs_unlock_range(info, index, frame, nr);
			return -EBUSY;
		}
	}
	return 0;
}

static int usmfs_cmd_cancel(struct usmfs_cmd *c, struct inode *inode)
{
	int err = usmfs_range_check(c);

	if (err)
		return err;
	return usmfs_unlock_range(USMFS_I(inode), c->u.range.index,
				  c->u.range.frame, c->u.range.nr) ?
	       -ENOENT : 0;
}

/*
 * COMMIT: the page locked by EVICT in @frame is now (store_id, slot); its
 * frame goes back to the pool.  A bad store or slot unlocks the page.
 */
static int usmfs_cmd_commit(struct usmfs_cmd *c, struct inode *inode)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_sb_info *sbi = USMFS_SB(inode->i_sb);
	unsigned long index = c->u.commit.index, frame = c->u.commit.frame;
	void *e, *locked;
	int bad = 0;

	if (c->u.commit.reserved0 || c->u.commit.reserved1 ||
	    c->u.commit.index > ULONG_MAX)
		return -EINVAL;
	if (c->u.commit.frame >= usmfs_pool_nr_frames())
		return -ERANGE;
	if (c->u.commit.store_id >= USMFS_MAX_STORES)
		bad = -EINVAL;
	else if (c->u.commit.slot > USMFS_E_SLOT_MAX)
		bad = -ERANGE;
	locked = usmfs_mk_busy(xa_mk_value(frame));

	xa_lock(&info->frames);
	e = xa_load(&info->frames, index);
	if (e != locked) {
		xa_unlock(&info->frames);
		return e && usmfs_e_busy(e) && !usmfs_e_swapped(e) ?
		       -ESTALE : -ENOENT;
	}
	__xa_store(&info->frames, index,
		   bad ? xa_mk_value(frame) :
			 usmfs_mk_swap(c->u.commit.store_id, c->u.commit.slot),
		   GFP_ATOMIC);
	if (bad)	/* resident again: a truncation's bytes noted meanwhile */
		usmfs_tailzero_apply(info, index, usmfs_frame_page(frame));
	xa_unlock(&info->frames);
	if (bad) {
		usmfs_wake_frames();
		return bad;
	}
	atomic_long_inc(&info->nr_swapped);
	atomic64_inc(&info->evictions);
	atomic_long_inc(&sbi->swapped);
	atomic64_inc(&sbi->evictions);
	usmfs_put_frame(inode, frame);
	return 0;
}

static int usmfs_cmd_one(struct usmfs_cmd *c)
{
	struct usmfs_sb_info *sbi;
	struct inode *inode;
	u64 need;
	int err;

	if (c->reserved0)
		return -EINVAL;
	switch (c->op) {
	case USMFS_CMD_GRANT:
	case USMFS_CMD_REVOKE:
		need = USMFS_F_RESERVE;
		break;
	case USMFS_CMD_EVICT:
	case USMFS_CMD_COMMIT:
	case USMFS_CMD_CANCEL:
	case USMFS_CMD_SWAPIN_DONE:
		need = USMFS_F_EVICT;
		break;
	case USMFS_CMD_SET_WATERMARKS:
	case USMFS_CMD_LIST_PAGES:
	case USMFS_CMD_SET_STORE:
	case USMFS_CMD_GET_STORE:
		need = 0;
		break;
	default:
		return -EINVAL;
	}
	if (c->op != USMFS_CMD_LIST_PAGES && c->flags)
		return -EINVAL;
	/* Not granted at attach: refused. */
	if (need & ~chan.features)
		return -EOPNOTSUPP;

	switch (c->op) {
	case USMFS_CMD_SET_WATERMARKS:
		return usmfs_cmd_watermarks(c);
	case USMFS_CMD_LIST_PAGES:
		return usmfs_cmd_list(c);
	case USMFS_CMD_SET_STORE:
	case USMFS_CMD_GET_STORE:
		return usmfs_cmd_store(c);
	case USMFS_CMD_SWAPIN_DONE:
		return usmfs_cmd_swapin_done(c);
	}

	/* The rest name one file. */
	inode = usmfs_cmd_inode(c->dev, c->ino, &sbi);
	if (IS_ERR(inode))
		return PTR_ERR(inode);
	switch (c->op) {
	case USMFS_CMD_GRANT:
	case USMFS_CMD_REVOKE:
		err = usmfs_cmd_grant(c, inode);
		break;
	case USMFS_CMD_EVICT:
		err = usmfs_cmd_evict(c, inode);
		break;
	case USMFS_CMD_COMMIT:
		err = usmfs_cmd_commit(c, inode);
		break;
	case USMFS_CMD_CANCEL:
		err = usmfs_cmd_cancel(c, inode);
		break;
	default:
		err = -EOPNOTSUPP;
	}
	usmfs_cmd_put(inode, sbi);
	return err;
}

long usmfs_ioc_cmd(void __user *arg)
{
	struct usmfs_cmd_batch b;
	struct usmfs_cmd __user *ucmds;
	struct usmfs_cmd c;
	long err = 0;
	u32 i;

	if (copy_from_user(&b, arg, sizeof(b)))
		return -EFAULT;
	if (b.reserved0 || !b.nr || b.nr > USMFS_MAX_BATCH)
		return -EINVAL;
	ucmds = u64_to_user_ptr(b.cmds_ptr);
	for (i = 0; i < b.nr; i++) {
		int r;

		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		if (copy_from_user(&c, &ucmds[i], sizeof(c))) {
			err = -EFAULT;
			break;
		}
		r = usmfs_cmd_one(&c);
		c.error = -r;
		if (copy_to_user(&ucmds[i], &c, sizeof(c))) {
			err = -EFAULT;
			break;
		}
		cond_resched();
	}
	b.done = i;
	if (copy_to_user(arg, &b, sizeof(b)))
		return -EFAULT;
	return err;
}
