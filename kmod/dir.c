// SPDX-License-Identifier: GPL-2.0-only
/*
 * dir.c - directory operations (create, link, rename, tmpfile, ...),
 * attributes, and the inode_operations of each kind of inode.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/posix_acl.h>
#include <linux/xattr.h>

#include "usmfs.h"


static int usmfs_mknod(struct usmfs_idmap *idmap, struct inode *dir,
		       struct dentry *dentry, umode_t mode, dev_t dev)
{
	struct inode *inode;

	inode = usmfs_get_inode(dir->i_sb, idmap, dir, mode, dev);
	if (IS_ERR(inode))
		return PTR_ERR(inode);
	usmfs_d_pin(dentry, inode);
	usmfs_set_mtime_ctime_now(dir);
	usmfs_chan_file_created(inode, dentry, dir);
	return 0;
}

/*
 * RENAME_WHITEOUT (overlayfs): a 0:0 character device takes the old name.
 * It is made first, hashed beside the old dentry (a lookup finds one of
 * the two until the move), so that nothing can fail once the rename has
 * started: simple_rename() fails only on a non-empty target, checked here.
 */
static int usmfs_rename2(struct usmfs_idmap *idmap, struct inode *old_dir,
			 struct dentry *old_dentry, struct inode *new_dir,
			 struct dentry *new_dentry, unsigned int flags)
{
	struct dentry *whiteout;
	int err;

	if (!(flags & RENAME_WHITEOUT))
		return simple_rename(idmap, old_dir, old_dentry, new_dir,
				     new_dentry, flags);
	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	if (!simple_empty(new_dentry))
		return -ENOTEMPTY;
	whiteout = d_alloc(old_dentry->d_parent, &old_dentry->d_name);
	if (!whiteout)
		return -ENOMEM;
	err = usmfs_mknod(idmap, old_dir, whiteout, S_IFCHR | WHITEOUT_MODE,
			  WHITEOUT_DEV);
	if (!err)
		d_rehash(whiteout);
	dput(whiteout);
	if (err)
		return err;
	return simple_rename(idmap, old_dir, old_dentry, new_dir, new_dentry,
			     flags & ~RENAME_WHITEOUT);
}

static usmfs_mkdir_ret usmfs_mkdir(struct usmfs_idmap *idmap,
				   struct inode *dir, struct dentry *dentry,
				   umode_t mode)
{
	int err = usmfs_mknod(idmap, dir, dentry, mode | S_IFDIR, 0);

	if (!err)
		inc_nlink(dir);
	return usmfs_mkdir_return(err);
}

static int usmfs_create(struct usmfs_idmap *idmap, struct inode *dir,
			struct dentry *dentry, USMFS_CREATE_MODE_ARGS)
{
	return usmfs_mknod(idmap, dir, dentry, mode | S_IFREG, 0);
}

static int usmfs_symlink(struct usmfs_idmap *idmap, struct inode *dir,
			 struct dentry *dentry, const char *symname)
{
	size_t len = strlen(symname);
	struct inode *inode;
	char *link;

	if (len >= PAGE_SIZE)
		return -ENAMETOOLONG;
	link = kmemdup(symname, len + 1, GFP_KERNEL);
	if (!link)
		return -ENOMEM;
	inode = usmfs_get_inode(dir->i_sb, idmap, dir, S_IFLNK | 0777, 0);
	if (IS_ERR(inode)) {
		kfree(link);
		return PTR_ERR(inode);
	}
	inode->i_link = link;
	inode->i_size = len;
	usmfs_d_pin(dentry, inode);
	usmfs_set_mtime_ctime_now(dir);
	return 0;
}

static int usmfs_tmpfile(struct usmfs_idmap *idmap, struct inode *dir,
			 struct file *file, umode_t mode)
{
	struct inode *inode;

	inode = usmfs_get_inode(dir->i_sb, idmap, dir, mode, 0);
	if (IS_ERR(inode))
		return PTR_ERR(inode);
	d_tmpfile(file, inode);
	usmfs_chan_file_created(inode, NULL, dir);
	return finish_open_simple(file, 0);
}

/* simple_getattr() would report the page cache's size: we have none. */
static int usmfs_getattr(struct usmfs_idmap *idmap, const struct path *path,
			 struct kstat *stat, u32 request_mask,
			 unsigned int query_flags)
{
	struct inode *inode = d_inode(path->dentry);

	usmfs_generic_fillattr(idmap, request_mask, inode, stat);
	stat->btime = USMFS_I(inode)->btime;
	stat->result_mask |= STATX_BTIME;
	return 0;
}

static int usmfs_setattr(struct usmfs_idmap *idmap, struct dentry *dentry,
			 struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	bool resized = false;
	int err;

	err = setattr_prepare(idmap, dentry, attr);
	if (err)
		return err;
	if ((attr->ia_valid & ATTR_SIZE) && S_ISREG(inode->i_mode)) {
		resized = attr->ia_size != i_size_read(inode);
		err = usmfs_setattr_size(inode, attr->ia_size);
		if (err)
			return err;
	}
	setattr_copy(idmap, inode, attr);
	/* As tmpfs: a new size is a change, whether truncate(2) asked for
	 * times (it does not) or ftruncate(2) did.
	 */
	if (resized)
		usmfs_set_mtime_ctime_now(inode);
	if (attr->ia_valid & ATTR_MODE)	/* the ACL's mask follows */
		return posix_acl_chmod(idmap, usmfs_acl_obj(dentry),
				       inode->i_mode);
	return 0;
}

const struct inode_operations usmfs_dir_inode_operations = {
	.create		= usmfs_create,
	.lookup		= simple_lookup,
	.link		= simple_link,
	.unlink		= simple_unlink,
	.symlink	= usmfs_symlink,
	.mkdir		= usmfs_mkdir,
	.rmdir		= simple_rmdir,
	.mknod		= usmfs_mknod,
	.rename		= usmfs_rename2,
	.tmpfile	= usmfs_tmpfile,
	.setattr	= usmfs_setattr,
	.getattr	= usmfs_getattr,
	.listxattr	= usmfs_listxattr,
	.set_acl	= usmfs_set_acl,
	.fileattr_get	= usmfs_fileattr_get,
	.fileattr_set	= usmfs_fileattr_set,
};

const struct inode_operations usmfs_file_inode_operations = {
	.setattr	= usmfs_setattr,
	.getattr	= usmfs_getattr,
	.listxattr	= usmfs_listxattr,
	.set_acl	= usmfs_set_acl,
	.fileattr_get	= usmfs_fileattr_get,
	.fileattr_set	= usmfs_fileattr_set,
};

const struct inode_operations usmfs_symlink_inode_operations = {
	.get_link	= simple_get_link,
	.setattr	= usmfs_setattr,
	.getattr	= usmfs_getattr,
	.listxattr	= usmfs_listxattr,
};

const struct inode_operations usmfs_special_inode_operations = {
	.setattr	= usmfs_setattr,
	.getattr	= usmfs_getattr,
	.listxattr	= usmfs_listxattr,
	.set_acl	= usmfs_set_acl,
};
