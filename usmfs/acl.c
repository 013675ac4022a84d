// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * acl.c - POSIX ACLs on the FUSE frontend (FUSE_CAP_POSIX_ACL).
 *
 * The kernel checks access with the ACLs itself (default_permissions) and
 * hands their system.posix_acl_access/default xattrs, in its binary format,
 * to us to store; what it leaves to the filesystem is the ACL <-> mode
 * consistency: an access ACL sets the mode's permission bits (the group
 * bits are the mask), chmod rewrites the ACL's owner, mask and other
 * entries, and a new inode in a directory with a default ACL gets its
 * access ACL (and, a directory, the default ACL) from it, the mode then
 * masked by the ACL and not by the umask (FUSE_CAP_DONT_MASK: the kernel
 * sends the mode and the umask unmasked).  The xattrs are stored and
 * charged as any other (xattr.c).  With noacl none of this is negotiated
 * and the names are refused (EOPNOTSUPP).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "usmfs.h"

/* include/uapi/linux/posix_acl_xattr.h and posix_acl.h */
#define ACL_XATTR_VERSION	2
enum { TAG_USER_OBJ = 0x01, TAG_USER = 0x02, TAG_GROUP_OBJ = 0x04,
       TAG_GROUP = 0x08, TAG_MASK = 0x10, TAG_OTHER = 0x20 };

struct acl_entry {
	uint16_t tag;
	uint16_t perm;
	uint32_t id;
};

#define ACL_HEAD	sizeof(uint32_t)
#define ACL_ENTRIES(len)	(((len) - ACL_HEAD) / sizeof(struct acl_entry))

/* ACL_TYPE_ACCESS/DEFAULT for a system.posix_acl_* name, -1 otherwise. */
int acl_type(const char *name)
{
	if (!strcmp(name, ACL_NAME_ACCESS))
		return ACL_ACCESS;
	if (!strcmp(name, ACL_NAME_DEFAULT))
		return ACL_DEFAULT;
	return -1;
}

static struct acl_entry *acl_at(const void *v, size_t i)
{
	return (struct acl_entry *)((char *)v + ACL_HEAD) + i;
}

/*
 * posix_acl_valid()'s rules: version 2, whole entries, the owner, owning
 * group and other entries once each, named entries in increasing id order
 * (sorted by tag, as the kernel writes them), a mask when there are named
 * entries, permissions within rwx.
 */
static int acl_valid(const void *v, size_t len)
{
	uint32_t version;
	size_t i, nr, seen[0x40] = { 0 };
	uint16_t prev_tag = 0;
	uint32_t prev_id = 0;

	if (len < ACL_HEAD || (len - ACL_HEAD) % sizeof(struct acl_entry))
		return EINVAL;
	memcpy(&version, v, sizeof(version));
	if (version != ACL_XATTR_VERSION)
		return EINVAL;
	nr = ACL_ENTRIES(len);
	if (!nr)
		return EINVAL;
	for (i = 0; i < nr; i++) {
		struct acl_entry e;

		memcpy(&e, acl_at(v, i), sizeof(e));
		if (e.perm & ~7u)
			return EINVAL;
		switch (e.tag) {
		case TAG_USER_OBJ:
		case TAG_GROUP_OBJ:
		case TAG_MASK:
		case TAG_OTHER:
			if (seen[e.tag])
				return EINVAL;
			break;
		case TAG_USER:
		case TAG_GROUP:
			if (e.tag == prev_tag && e.id <= prev_id)
				return EINVAL;
			prev_id = e.id;
			break;
		default:
			return EINVAL;
		}
		if (e.tag < prev_tag)
			return EINVAL;
		prev_tag = e.tag;
		seen[e.tag]++;
	}
	if (!seen[TAG_USER_OBJ] || !seen[TAG_GROUP_OBJ] || !seen[TAG_OTHER])
		return EINVAL;
	if ((seen[TAG_USER] || seen[TAG_GROUP]) && !seen[TAG_MASK])
		return EINVAL;
	return 0;
}

/*
 * Mode bits @mode (rwx only) and the ACL in @v: posix_acl_create_masq()
 * when @masq (each entry limited by the mode, the mode by the entries),
 * else the mode the ACL says (posix_acl_equiv_mode()).  Returns true if
 * the ACL says more than a mode can (named entries or a mask).
 */
static bool acl_apply(void *v, size_t len, mode_t *mode, bool masq)
{
	struct acl_entry *grp = NULL, *mask = NULL;
	mode_t m = *mode;
	bool extended = false;

	for (size_t i = 0; i < ACL_ENTRIES(len); i++) {
		struct acl_entry *e = acl_at(v, i);

		switch (e->tag) {
		case TAG_USER_OBJ:
			if (masq)
				e->perm &= (m >> 6) & 7;
			m = (m & ~(mode_t)0700) | ((mode_t)e->perm << 6);
			break;
		case TAG_OTHER:
			if (masq)
				e->perm &= m & 7;
			m = (m & ~(mode_t)07) | e->perm;
			break;
		case TAG_GROUP_OBJ:
			grp = e;
			break;
		case TAG_MASK:
			mask = e;
			extended = true;
			break;
		default:
			extended = true;
			break;
		}
	}
	if (!mask)
		mask = grp;
	if (masq)
		mask->perm &= (m >> 3) & 7;
	*mode = (m & ~(mode_t)070) | ((mode_t)mask->perm << 3);
	return extended;
}

int acl_setxattr(struct node *n, const char *name, const void *value,
		 size_t size, int flags)
{
	int type = acl_type(name), err;
	void *copy;
	mode_t m;

	if (!fs.acl || type < 0)
		return EOPNOTSUPP;
	if (size > USMFS_XATTR_VALUE_MAX)
		return E2BIG;
	err = acl_valid(value, size);
	if (err)
		return err;
	copy = malloc(size);
	if (!copy)
		return ENOMEM;
	memcpy(copy, value, size);
	pthread_mutex_lock(&fs.lock);
	if (type == ACL_DEFAULT) {
		err = S_ISDIR(n->mode) ?
			xattr_store_locked(n, name, copy, size, flags) : EACCES;
		goto out;
	}
	m = n->mode & 0777;
	if (!acl_apply(copy, size, &m, false)) {
		/* what a mode says: the mode, no ACL kept (as the kernel) */
		xattr_drop_locked(n, name);
		node_touch(&n->ctime);
	} else {
		err = xattr_store_locked(n, name, copy, size, flags);
	}
	if (!err)
		n->mode = (n->mode & ~(mode_t)0777) | m;
out:
	pthread_mutex_unlock(&fs.lock);
	free(copy);
	return err;
}

/* After chmod: the access ACL's owner, mask (or group) and other entries. */
void acl_chmod_locked(struct node *n)
{
	struct xattr *x = xattr_get_locked(n, ACL_NAME_ACCESS);
	struct acl_entry *grp = NULL, *mask = NULL;

	if (!x)
		return;
	for (size_t i = 0; i < ACL_ENTRIES(x->len); i++) {
		struct acl_entry *e = acl_at(x->value, i);

		if (e->tag == TAG_USER_OBJ)
			e->perm = (n->mode >> 6) & 7;
		else if (e->tag == TAG_OTHER)
			e->perm = n->mode & 7;
		else if (e->tag == TAG_GROUP_OBJ)
			grp = e;
		else if (e->tag == TAG_MASK)
			mask = e;
	}
	if (!mask)
		mask = grp;
	if (mask)
		mask->perm = (n->mode >> 3) & 7;
}

/*
 * A new inode @n in @p (mode as the caller asked, not masked yet): without
 * a default ACL on @p the umask applies; with one, posix_acl_create().
 * 0 or an errno (the caller frees @n).
 */
int acl_inherit_locked(struct node *p, struct node *n, mode_t umask)
{
	struct xattr *def;
	mode_t m;
	int err = 0;
	void *v;

	if (!fs.acl || S_ISLNK(n->mode))
		return 0;
	def = xattr_get_locked(p, ACL_NAME_DEFAULT);
	if (!def) {
		n->mode &= ~(umask & 0777);
		return 0;
	}
	if (S_ISDIR(n->mode))
		err = xattr_store_locked(n, ACL_NAME_DEFAULT, def->value,
					 def->len, 0);
	if (err)
		return err;
	v = malloc(def->len);
	if (!v)
		return ENOMEM;
	memcpy(v, def->value, def->len);
	m = n->mode & 0777;
	if (acl_apply(v, def->len, &m, true))
		err = xattr_store_locked(n, ACL_NAME_ACCESS, v, def->len, 0);
	n->mode = (n->mode & ~(mode_t)0777) | m;
	free(v);
	return err;
}
