// SPDX-License-Identifier: GPL-2.0-only
/*
 * resv.c - frame reservations (USMFS_F_RESERVE): GRANT and REVOKE from the
 * server, taken by the fault path without an upcall.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "usmfs.h"
#include "chan.h"

/* The fault path: the frame reserved for page @index, or -ENOENT. */
long usmfs_resv_take(struct inode *inode, pgoff_t index)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	void *entry;

	if (xa_empty(&info->resv))
		return -ENOENT;
	entry = xa_erase(&info->resv, index);
	if (!entry)
		return -ENOENT;
	usmfs_frame_take_reserved(xa_to_value(entry));
	return xa_to_value(entry);
}

/*
 * The server reserved pages [@index, +@nr) one aligned run of frames (what
 * its contiguous placement does): take the whole run, as @nr faults would.
 * Return: its first frame, or -EEXIST when the reservations are not that.
 */
long usmfs_resv_take_aligned(struct inode *inode, pgoff_t index,
			     unsigned long nr)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	unsigned long first, i;
	void *entry;

	xa_lock(&info->resv);
	entry = xa_load(&info->resv, index);
	if (!entry)
		goto no;
	first = xa_to_value(entry);
	if (!usmfs_frames_aligned(first, nr))
		goto no;
	for (i = 1; i < nr; i++)
		if (xa_load(&info->resv, index + i) != xa_mk_value(first + i))
			goto no;
	for (i = 0; i < nr; i++)
		__xa_erase(&info->resv, index + i);
	xa_unlock(&info->resv);
	for (i = 0; i < nr; i++)
		usmfs_frame_take_reserved(first + i);
	return first;
no:
	xa_unlock(&info->resv);
	return -EEXIST;
}

/* Give back the reservations of pages [@first, @last]; how many. */
unsigned long usmfs_resv_drop(struct inode *inode, pgoff_t first,
			      pgoff_t last)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	unsigned long index = first, n = 0;
	void *entry;

	if (xa_empty(&info->resv))
		return 0;
	for (;;) {
		xa_lock(&info->resv);
		entry = xa_find(&info->resv, &index, last, XA_PRESENT);
		if (entry)
			__xa_erase(&info->resv, index);
		xa_unlock(&info->resv);
		if (!entry)
			break;
		usmfs_frame_unreserve(xa_to_value(entry));
		n++;
		if (index == last)
			break;
		index++;
	}
	return n;
}

/* The server went: its reservations go too (their frames are free). */
void usmfs_resv_drop_all(void)
{
	struct list_head *mounts = usmfs_pool_lock_mounts();
	struct usmfs_sb_info *sbi;
	struct inode *inode;

	list_for_each_entry(sbi, mounts, pool_link) {
		struct super_block *sb = sbi->sb;

		spin_lock(&sb->s_inode_list_lock);
		list_for_each_entry(inode, &sb->s_inodes, i_sb_list)
			if (S_ISREG(inode->i_mode))
				usmfs_resv_drop(inode, 0, ULONG_MAX);
		spin_unlock(&sb->s_inode_list_lock);
	}
	usmfs_pool_unlock_mounts();
}

/*
 * GRANT: reserve frames [first_frame, +nr) for pages [index, +nr) of the
 * file, all or nothing.  A page that is resident or already reserved:
 * EBUSY.  REVOKE: give back the reservations in [index, +nr).
 */
static int usmfs_grant_file(struct usmfs_cmd *c, struct inode *inode)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	unsigned long index = c->u.grant.index, nr = c->u.grant.nr;
	unsigned long frame = c->u.grant.first_frame, i;
	int err;

	if (c->op == USMFS_CMD_REVOKE) {
		usmfs_resv_drop(inode, index, index + nr - 1);
		return 0;
	}
	err = usmfs_frames_reserve(frame, nr);
	if (err)
		return err;
	xa_lock(&info->resv);
	for (i = 0; i < nr; i++) {
		if (xa_load(&info->frames, index + i) ||
		    xa_load(&info->resv, index + i)) {
			err = -EBUSY;
			break;
		}
		err = xa_err(__xa_store(&info->resv, index + i,
					xa_mk_value(frame + i), GFP_ATOMIC));
		if (err)
			break;
	}
	if (err) {
		while (i--)
			__xa_erase(&info->resv, index + i);
	}
	xa_unlock(&info->resv);
	if (err) {
		for (i = 0; i < nr; i++)
			usmfs_frame_unreserve(frame + i);
	}
	return err;
}

int usmfs_cmd_grant(struct usmfs_cmd *c, struct inode *inode)
{
	if (!usmfs_zero(c->u.grant.reserved, sizeof(c->u.grant.reserved)))
		return -EINVAL;
	if (c->op == USMFS_CMD_REVOKE && c->u.grant.first_frame)
		return -EINVAL;
	if (!c->u.grant.nr || c->u.grant.nr > USMFS_GRANT_MAX ||
	    c->u.grant.index > ULONG_MAX - USMFS_GRANT_MAX)
		return -EINVAL;
	return usmfs_grant_file(c, inode);
}
