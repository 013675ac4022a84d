// SPDX-License-Identifier: GPL-2.0-only
/*
 * acl.c - POSIX ACLs, kept on the inode (i_acl, i_default_acl) as tmpfs
 * keeps them.
 *
 * The VFS checks access with them (SB_POSIXACL, unless the mount has
 * noacl).  The helpers tmpfs uses (simple_set_acl, simple_acl_create) are
 * not exported to modules: these are the same steps with what is
 * (posix_acl_update_mode, posix_acl_create, set_cached_acl).  An ACL is
 * charged at its xattr size to the inode's xattr budget and the mount's
 * inode space, as a stored xattr is.
 */
#include <linux/fs.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/spinlock.h>

#include "usmfs.h"

/* What @inode's cached ACL of @type takes, as an xattr. */
static long usmfs_acl_cost(struct inode *inode, int type)
{
	struct posix_acl *acl = get_cached_acl(inode, type);
	long cost = 0;

	if (acl && !is_uncached_acl(acl)) {
		cost = posix_acl_xattr_size(acl->a_count);
		posix_acl_release(acl);
	}
	return cost;
}

/*
 * Charge @delta bytes (may be negative) to @inode and its mount's inode
 * space, as a stored xattr is; -ENOSPC past either.
 */
static int usmfs_acl_charge(struct inode *inode, long delta)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	int err = 0;

	spin_lock(&info->lock);
	if (delta > 0 && info->xattr_bytes + delta > USMFS_XATTR_BYTES_MAX)
		err = -ENOSPC;
	else	/* stat_lock nests inside info->lock */
		err = usmfs_ispace_charge(USMFS_SB(inode->i_sb), delta);
	if (!err)
		info->xattr_bytes += delta;
	spin_unlock(&info->lock);
	return err;
}

/* ->set_acl (the VFS holds the inode lock): simple_set_acl(), charged. */
int usmfs_set_acl(struct usmfs_idmap *idmap, USMFS_ACL_OBJ obj,
		  struct posix_acl *acl, int type)
{
	struct inode *inode = usmfs_acl_obj_inode(obj);
	long old = usmfs_acl_cost(inode, type), cost;
	int err;

	cost = acl ? posix_acl_xattr_size(acl->a_count) : 0;
	err = usmfs_acl_charge(inode, cost - old);
	if (err)
		return err;
	if (type == ACL_TYPE_ACCESS) {
		err = posix_acl_update_mode(idmap, inode, &inode->i_mode, &acl);
		if (err) {
			usmfs_acl_charge(inode, old - cost);
			return err;
		}
		if (!acl && cost) {	/* what the mode says: none kept */
			usmfs_acl_charge(inode, -cost);
			cost = 0;
		}
	}
	inode_set_ctime_current(inode);
	set_cached_acl(inode, type, acl);
	return 0;
}

/*
 * A new inode's @mode in @dir: the umask, or @dir's default ACL
 * (posix_acl_create); *@acl and *@dflt are for usmfs_acl_attach().
 */
int usmfs_acl_prepare(struct inode *dir, umode_t *mode,
		      struct posix_acl **dflt, struct posix_acl **acl)
{
	*dflt = NULL;
	*acl = NULL;
	if (!dir)
		return 0;
	return posix_acl_create(dir, mode, dflt, acl);
}

/*
 * Give the new @inode the ACLs usmfs_acl_prepare() made (at most two of
 * the parent's), charged; they are dropped either way.
 */
int usmfs_acl_attach(struct inode *inode, struct posix_acl *dflt,
		     struct posix_acl *acl)
{
	long cost = (dflt ? posix_acl_xattr_size(dflt->a_count) : 0) +
		    (acl ? posix_acl_xattr_size(acl->a_count) : 0);
	int err = 0;

	if (cost)
		err = usmfs_acl_charge(inode, cost);
	if (!err) {
		set_cached_acl(inode, ACL_TYPE_DEFAULT, dflt);
		set_cached_acl(inode, ACL_TYPE_ACCESS, acl);
	}
	usmfs_acl_release(dflt, acl);
	return err;
}

void usmfs_acl_release(struct posix_acl *dflt, struct posix_acl *acl)
{
	if (dflt)
		posix_acl_release(dflt);
	if (acl)
		posix_acl_release(acl);
}

/* Is an ACL of @type set on @inode (for listxattr)? */
bool usmfs_acl_present(struct inode *inode, int type)
{
	return IS_POSIXACL(inode) && usmfs_acl_cost(inode, type);
}
