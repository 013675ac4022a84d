// SPDX-License-Identifier: GPL-2.0-only
/*
 * acl.c - POSIX ACLs, kept on the inode (i_acl, i_default_acl) as tmpfs
 * keeps them.
 *
 * The VFS checks access with them (SB_POSIXACL, unless the mount has
 * noacl).  The helpers tmpfs uses (simple_set_acl, simple_acl_create) are
 * not exported to modules: these are the same steps with what is
 * (posix_acl_update_mode, posix_acl_create, set_cached_acl).  An ACL is
 * charged to the inode's xattr budget at its xattr size, as a stored xattr.
 */
#include <linux/fs.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/spinlock.h>

#include "usmfs.h"

/* What @inode's cached ACL of @type takes, as an xattr. */
static size_t usmfs_acl_cost(struct inode *inode, int type)
{
	struct posix_acl *acl = get_cached_acl(inode, type);
	size_t cost = 0;

	if (acl && !is_uncached_acl(acl)) {
		cost = posix_acl_xattr_size(acl->a_count);
		posix_acl_release(acl);
	}
	return cost;
}

/* Charge @delta bytes (may be negative) to @inode; -ENOSPC past the cap. */
static int usmfs_acl_charge(struct inode *inode, ssize_t delta)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	int err = 0;

	spin_lock(&info->lock);
	if (delta > 0 && info->xattr_bytes + delta > USMFS_XATTR_BYTES_MAX)
		err = -ENOSPC;
	else
		info->xattr_bytes += delta;
	spin_unlock(&info->lock);
	return err;
}

/* ->set_acl (the VFS holds the inode lock): simple_set_acl(), charged. */
int usmfs_set_acl(struct usmfs_idmap *idmap, USMFS_ACL_OBJ obj,
		  struct posix_acl *acl, int type)
{
	struct inode *inode = usmfs_acl_obj_inode(obj);
	ssize_t old = usmfs_acl_cost(inode, type), cost;
	int err;

	cost = acl ? posix_acl_xattr_size(acl->a_count) : 0;
	if (cost > old && USMFS_I(inode)->xattr_bytes + cost - old >
			  USMFS_XATTR_BYTES_MAX)
		return -ENOSPC;
	if (type == ACL_TYPE_ACCESS) {
		err = posix_acl_update_mode(idmap, inode, &inode->i_mode, &acl);
		if (err)
			return err;
		if (!acl)	/* what the mode says: no ACL kept */
			cost = 0;
	}
	/* cannot fail now: checked above, under the same inode lock */
	usmfs_acl_charge(inode, cost - old);
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

/* Give the new @inode the ACLs usmfs_acl_prepare() made, and drop them. */
void usmfs_acl_attach(struct inode *inode, struct posix_acl *dflt,
		      struct posix_acl *acl)
{
	if (!dflt && !acl)
		return;
	/* at most two of the parent's, each within the cap */
	usmfs_acl_charge(inode, (dflt ? posix_acl_xattr_size(dflt->a_count) : 0) +
			 (acl ? posix_acl_xattr_size(acl->a_count) : 0));
	set_cached_acl(inode, ACL_TYPE_DEFAULT, dflt);
	set_cached_acl(inode, ACL_TYPE_ACCESS, acl);
	usmfs_acl_release(dflt, acl);
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
