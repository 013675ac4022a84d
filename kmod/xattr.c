// SPDX-License-Identifier: GPL-2.0-only
/*
 * xattr.c - extended attributes and the parsers shared with mount options.
 *
 * user.usm.* are validated with the table libusmpolicy uses
 * (usm/xattr-defs.h) and kept in struct usmfs_policy; user.usm.stats is
 * computed.  Every other user.*, trusted.* and security.* attribute is kept
 * as is in a small per-inode list.  POSIX ACLs live on the inode (acl.c);
 * listxattr names them.
 */
#include <linux/capability.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xattr.h>

#include <usm/parse-core.h>

#include "usmfs.h"
#include "include/uapi/linux/usmfs.h"

#define USM_SUFFIX_PREFIX	"usm."		/* after the "user." prefix */

/* ---------------------------------------------------------------- parsers */

/*
 * The syntax is usm/parse-core.h, shared with libusmpolicy: the same
 * digits, units, sizes and durations on both frontends.
 */

/* Digits with an optional single K/M/G/T: user.usm.limit, nr_inodes=. */
int usmfs_parse_size_strict(const char *s, u64 *out)
{
	return usm_core_size_strict(s, out);
}

/*
 * size=: "4096", "64K", "64M", "1G" (optional "B"/"iB" after the unit), or
 * "N%" (1..100) of @pct_base, then *@pct = N.  The same rules as
 * usm_parse_size().
 */
int usmfs_parse_size(const char *s, u64 pct_base, u64 *out, u32 *pct)
{
	int is_pct, err;
	u64 v;

	*pct = 0;
	err = usm_core_size(s, &v, &is_pct);
	if (err)
		return err;
	if (is_pct) {
		if (!v || v > 100)
			return -EINVAL;
		*pct = v;
		*out = div_u64(pct_base * v, 100);
		return 0;
	}
	*out = v;
	return 0;
}

/* "30", "30s", "500ms", "2m", "1h" -> milliseconds. */
int usmfs_parse_duration_ms(const char *s, u64 *out_ms)
{
	return usm_core_duration_ms(s, out_ms);
}

/* Exact and re-parseable: the largest unit that divides @bytes. */
int usmfs_format_size_exact(u64 bytes, char *buf, size_t len)
{
	u64 n;
	char unit = usm_core_size_unit(bytes, &n);

	if (unit)
		return snprintf(buf, len, "%llu%c", n, unit);
	return snprintf(buf, len, "%llu", n);
}

bool usmfs_name_valid(const char *s, size_t len)
{
	return usm_core_name_valid(s, len);
}

#define USMFS_NAME_ENTRY(name) name,
static const char *const usmfs_alloc_builtins[] = {
	USM_ALLOC_BUILTINS(USMFS_NAME_ENTRY)
};

static const char *const usmfs_evict_builtins[] = {
	USM_EVICT_BUILTINS(USMFS_NAME_ENTRY)
};

static bool usmfs_name_in(const char *const *names, size_t nr, const char *s,
			  size_t len)
{
	size_t i;

	if (!usmfs_name_valid(s, len))
		return false;
	for (i = 0; i < nr; i++)
		if (strlen(names[i]) == len && !memcmp(names[i], s, len))
			return true;
	return false;
}

/*
 * The kernel knows only the built-in policies; a plugin's name becomes
 * valid when a policy server registers it (a later channel command).
 */
bool usmfs_alloc_name_valid(const char *s, size_t len)
{
	return usmfs_name_in(usmfs_alloc_builtins,
			     ARRAY_SIZE(usmfs_alloc_builtins), s, len);
}

bool usmfs_evict_name_valid(const char *s, size_t len)
{
	return usmfs_name_in(usmfs_evict_builtins,
			     ARRAY_SIZE(usmfs_evict_builtins), s, len);
}

/*
 * The stores a file may name without a policy server: "none", and the
 * mount's own (swap=NAME, or "default" when swap= is not none).
 */
static bool usmfs_store_valid(struct usmfs_sb_info *sbi, const char *s,
			      size_t len)
{
	if (!usmfs_name_valid(s, len))
		return false;
	if (!strcmp(s, "none"))
		return true;
	if (!strcmp(sbi->opt_swap, "none"))
		return false;
	return !strcmp(s, "default") || !strcmp(s, sbi->opt_swap);
}

/* -------------------------------------------------------------- user.usm */

/* Pages of the file held as (store, slot) by the server's COMMITs. */
static u64 usmfs_file_swapped(struct inode *inode)
{
	long n = atomic_long_read(&USMFS_I(inode)->nr_swapped);

	return n > 0 ? n : 0;
}

enum usmfs_xattr_kind {
	USMFS_KIND_ALLOC, USMFS_KIND_EVICT, USMFS_KIND_INT, USMFS_KIND_BYTES,
	USMFS_KIND_STORE, USMFS_KIND_STATS,
};

static const struct usmfs_xattr_def {
	const char *suffix;
	enum usmfs_xattr_kind kind;
	u64 lo, hi;
} usmfs_xattr_defs[USM_XATTR_NR] = {
#define USMFS_XATTR_DEF(id, sfx, k, l, h) \
	[USM_XATTR_##id] = { sfx, USMFS_KIND_##k, l, h },
	USM_XATTR_TABLE(USMFS_XATTR_DEF)
#undef USMFS_XATTR_DEF
};

void usmfs_policy_init(struct usmfs_policy *pol, struct usmfs_sb_info *sbi)
{
	memset(pol, 0, sizeof(*pol));
	strscpy(pol->alloc, sbi->opt_alloc, sizeof(pol->alloc));
	strscpy(pol->evict, sbi->opt_evict, sizeof(pol->evict));
	pol->prio = USM_DEFAULT_PRIO;
}

/* A new inode takes the attributes set on its directory. */
void usmfs_policy_inherit(struct inode *inode, struct inode *dir)
{
	struct usmfs_inode_info *child = USMFS_I(inode);
	struct usmfs_inode_info *parent = USMFS_I(dir);
	struct usmfs_policy pol;

	spin_lock(&parent->lock);
	pol = parent->pol;
	spin_unlock(&parent->lock);

	if (pol.set & BIT(USM_XATTR_ALLOC))
		strscpy(child->pol.alloc, pol.alloc, sizeof(pol.alloc));
	if (pol.set & BIT(USM_XATTR_EVICT))
		strscpy(child->pol.evict, pol.evict, sizeof(pol.evict));
	if (pol.set & BIT(USM_XATTR_SWAP))
		strscpy(child->pol.swap, pol.swap, sizeof(pol.swap));
	if (pol.set & BIT(USM_XATTR_PRIO))
		child->pol.prio = pol.prio;
	if (pol.set & BIT(USM_XATTR_LIMIT))
		child->pol.limit = pol.limit;
	child->pol.set = pol.set & ~BIT(USM_XATTR_STATS);
}

static int usmfs_usm_lookup(const char *suffix)
{
	int id;

	for (id = 0; id < USM_XATTR_NR; id++)
		if (!strcmp(suffix, usmfs_xattr_defs[id].suffix))
			return id;
	return -EINVAL;
}

/* The pool's sources, joined with '+' ("contig+pages"). */
static void usmfs_sources(char *buf, size_t len)
{
	unsigned int i, nr = usmfs_pool_nr_chunks(), seen = 0;
	enum usmfs_source src;
	unsigned long n, pfn;
	size_t pos = 0;

	for (i = 0; i < nr; i++) {
		usmfs_pool_chunk_info(i, &n, &src, &pfn);
		if (src < USMFS_SRC_NR)
			seen |= BIT(src);
	}
	buf[0] = '\0';
	for (src = 0; src < USMFS_SRC_NR; src++)
		if (seen & BIT(src))
			pos += scnprintf(buf + pos, len - pos, "%s%s",
					 pos ? "+" : "", usmfs_source_names[src]);
	if (!pos)
		strscpy(buf, "none", len);
}

/*
 * user.usm.stats on a mount's root: the figures usmctl status shows, with
 * the keys of the FUSE daemon's (frames, free and used are the whole
 * pool's, which the module's mounts share; limit is the mount's size= in
 * frames; resident and swapped are the mount's, in bytes), then what only
 * the module has: the pool's size and sources, and whether a policy
 * server is attached and evicts.
 */
static int usmfs_mount_stats(struct super_block *sb, char *buf, size_t len)
{
	struct usmfs_sb_info *sbi = USMFS_SB(sb);
	unsigned long frames = usmfs_pool_nr_frames();
	unsigned long free = usmfs_pool_nr_free();
	u64 files, features;
	char sources[32];
	u32 low, high;
	bool server;

	files = atomic_long_read(&sbi->nr_files);
	server = usmfs_chan_state(&features, &low, &high);
	usmfs_sources(sources, sizeof(sources));
	return snprintf(buf, len,
			"frames=%lu free=%lu used=%lu limit=%lu resident=%llu swapped=%llu files=%llu faults=%lld evictions=%llu swapins=%llu hits=%lld low=%u high=%u pool_bytes=%llu source=%s chunks=%u server=%d evicting=%d overwrites=%lld swapins_ahead=%lld",
			frames, free, frames - free, sbi->max_frames,
			(u64)atomic_long_read(&sbi->used_frames) << PAGE_SHIFT,
			(u64)atomic_long_read(&sbi->swapped) << PAGE_SHIFT, files,
			atomic64_read(&sbi->faults), atomic64_read(&sbi->evictions),
			atomic64_read(&sbi->swapins), atomic64_read(&sbi->hits),
			low, high, usmfs_pool_bytes(), sources,
			usmfs_pool_nr_chunks(), server,
			!!(features & USMFS_F_EVICT),
			atomic64_read(&sbi->overwrites),
			atomic64_read(&sbi->swapins_ahead));
}

static int usmfs_usm_format(struct inode *inode, int id, char *buf,
			    size_t len)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_policy pol;
	u64 bytes, swapped;

	spin_lock(&info->lock);
	pol = info->pol;
	spin_unlock(&info->lock);

	if (usmfs_xattr_defs[id].kind == USMFS_KIND_STATS) {
		if (inode == d_inode(inode->i_sb->s_root))
			return usmfs_mount_stats(inode->i_sb, buf, len);
		/* As the FUSE frontend: only regular files have pages. */
		if (!S_ISREG(inode->i_mode))
			return -ENODATA;
		/* i_blocks counts swapped pages too, as tmpfs's does: read
		 * each once, and never let a race make resident wrap.
		 */
		swapped = usmfs_file_swapped(inode) << PAGE_SHIFT;
		bytes = inode_get_bytes(inode);
		return snprintf(buf, len,
				"resident=%llu swapped=%llu faults=%lld evictions=%lld swapins=%lld hits=%lld alloc=%s evict=%s",
				bytes > swapped ? bytes - swapped : 0, swapped,
				atomic64_read(&info->faults),
				atomic64_read(&info->evictions),
				atomic64_read(&info->swapins),
				atomic64_read(&info->hits), pol.alloc,
				pol.evict);
	}
	if (!(pol.set & BIT(id)))
		return -ENODATA;
	switch (id) {
	case USM_XATTR_ALLOC:
		return snprintf(buf, len, "%s", pol.alloc);
	case USM_XATTR_EVICT:
		return snprintf(buf, len, "%s", pol.evict);
	case USM_XATTR_SWAP:
		return snprintf(buf, len, "%s", pol.swap);
	case USM_XATTR_PRIO:
		return snprintf(buf, len, "%u", pol.prio);
	case USM_XATTR_LIMIT:
		return usmfs_format_size_exact(pol.limit, buf, len);
	default:
		return -EINVAL;
	}
}

#define USMFS_STATS_MAX		512	/* longest computed value */

static int usmfs_usm_get(struct inode *inode, const char *suffix, void *buf,
			 size_t size)
{
	char *val;
	int id, len;

	/* An action (usmfs_usm_reclaim), not an attribute: nothing to read. */
	if (!strcmp(suffix, USM_XATTR_RECLAIM + strlen(USM_XATTR_PREFIX)))
		return -ENODATA;
	id = usmfs_usm_lookup(suffix);
	if (id < 0)
		return id;
	val = kmalloc(USMFS_STATS_MAX, GFP_KERNEL);
	if (!val)
		return -ENOMEM;
	len = usmfs_usm_format(inode, id, val, USMFS_STATS_MAX);
	if (len >= USMFS_STATS_MAX)
		len = -ERANGE;
	else if (len >= 0 && size && size < (size_t)len)
		len = -ERANGE;
	else if (len > 0 && size)
		memcpy(buf, val, len);
	kfree(val);
	return len;
}

/*
 * user.usm.reclaim = "all" | SIZE on a regular file (usmctl evict): ask the
 * policy server to push that much of the file out now.  Only the server
 * can evict: without one that does, ENOTCONN.  Nothing is stored.
 */
static int usmfs_usm_reclaim(struct inode *inode, const void *value,
			     size_t size)
{
	char v[USM_XATTR_VALUE_MAX + 1];
	unsigned long len = size;
	u64 bytes, nr = U64_MAX;
	int is_pct;

	if (!value)
		return -ENODATA;	/* never set: nothing to remove */
	if (S_ISDIR(inode->i_mode))
		return -EISDIR;
	if (!S_ISREG(inode->i_mode) || usm_core_xattr_value(value, &len))
		return -EINVAL;
	memcpy(v, value, len);
	v[len] = '\0';
	if (strcmp(v, "all")) {
		if (usm_core_size(v, &bytes, &is_pct) || is_pct || !bytes)
			return -EINVAL;
		nr = (bytes >> PAGE_SHIFT) + !!(bytes & ~PAGE_MASK);
	}
	return usmfs_chan_reclaim(inode, nr);
}

/* Validate @value for attribute @id into @pol; nothing changes on error. */
static int usmfs_usm_parse(struct usmfs_sb_info *sbi,
			   struct usmfs_policy *pol, int id,
			   const char *value, size_t len)
{
	const struct usmfs_xattr_def *d = &usmfs_xattr_defs[id];
	char v[USM_XATTR_VALUE_MAX + 1];
	unsigned long vlen = len;
	const char *end;
	u64 n;

	/* Tolerate what echo and C strings add: one NUL, then one newline. */
	if (usm_core_xattr_value(value, &vlen))
		return -EINVAL;
	len = vlen;
	memcpy(v, value, len);
	v[len] = '\0';

	switch (d->kind) {
	case USMFS_KIND_ALLOC:
		if (!usmfs_alloc_name_valid(v, len))
			return -EINVAL;
		strscpy(pol->alloc, v, sizeof(pol->alloc));
		break;
	case USMFS_KIND_EVICT:
		if (!usmfs_evict_name_valid(v, len))
			return -EINVAL;
		strscpy(pol->evict, v, sizeof(pol->evict));
		break;
	case USMFS_KIND_STORE:
		if (!usmfs_store_valid(sbi, v, len))
			return -EINVAL;
		strscpy(pol->swap, v, sizeof(pol->swap));
		break;
	case USMFS_KIND_INT:
	case USMFS_KIND_BYTES:
		if (d->kind == USMFS_KIND_INT ?
		    usm_core_digits(v, &end, &n) || *end :
		    usmfs_parse_size_strict(v, &n))
			return -EINVAL;
		if (n < d->lo || n > d->hi)
			return -EINVAL;
		if (id == USM_XATTR_PRIO)
			pol->prio = n;
		else
			pol->limit = n;
		break;
	default:
		return -EPERM;	/* stats: read-only */
	}
	pol->set |= BIT(id);
	return 0;
}

static int usmfs_usm_set(struct inode *inode, const char *suffix,
			 const void *value, size_t size, int flags)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_sb_info *sbi = USMFS_SB(inode->i_sb);
	struct usmfs_policy pol, dflt;
	int id, err = 0;

	id = usmfs_usm_lookup(suffix);
	if (id < 0)
		return id;
	if (usmfs_xattr_defs[id].kind == USMFS_KIND_STATS)
		return -EPERM;

	spin_lock(&info->lock);
	pol = info->pol;
	spin_unlock(&info->lock);

	if (!value) {
		if (!(pol.set & BIT(id)))
			return -ENODATA;
		usmfs_policy_init(&dflt, sbi);
		switch (id) {
		case USM_XATTR_ALLOC:
			strscpy(pol.alloc, dflt.alloc, sizeof(pol.alloc));
			break;
		case USM_XATTR_EVICT:
			strscpy(pol.evict, dflt.evict, sizeof(pol.evict));
			break;
		case USM_XATTR_SWAP:
			pol.swap[0] = '\0';
			break;
		case USM_XATTR_PRIO:
			pol.prio = dflt.prio;
			break;
		case USM_XATTR_LIMIT:
			pol.limit = 0;
			break;
		}
		pol.set &= ~BIT(id);
	} else {
		if ((flags & XATTR_CREATE) && (pol.set & BIT(id)))
			return -EEXIST;
		if ((flags & XATTR_REPLACE) && !(pol.set & BIT(id)))
			return -ENODATA;
		err = usmfs_usm_parse(sbi, &pol, id, value, size);
		if (err)
			return err;
	}

	/* Apply only the attribute asked for: others may have moved. */
	spin_lock(&info->lock);
	switch (id) {
	case USM_XATTR_ALLOC:
		memcpy(info->pol.alloc, pol.alloc, sizeof(pol.alloc));
		break;
	case USM_XATTR_EVICT:
		memcpy(info->pol.evict, pol.evict, sizeof(pol.evict));
		break;
	case USM_XATTR_SWAP:
		memcpy(info->pol.swap, pol.swap, sizeof(pol.swap));
		break;
	case USM_XATTR_PRIO:
		info->pol.prio = pol.prio;
		break;
	case USM_XATTR_LIMIT:
		info->pol.limit = pol.limit;
		break;
	}
	info->pol.set = (info->pol.set & ~BIT(id)) | (pol.set & BIT(id));
	spin_unlock(&info->lock);
	inode_set_ctime_current(inode);
	usmfs_chan_xattr_changed(inode, id, value, size);
	return 0;
}

/* ------------------------------------------------------ stored xattrs */

/**
 * struct usmfs_xattr - one stored attribute.
 * @name:	full name ("user.foo"), NUL-terminated, in @data
 * @size:	bytes of value, after the name's NUL
 */
struct usmfs_xattr {
	struct list_head list;
	size_t size;
	size_t name_len;
	char data[];
};

/* What it takes of the mount (usmfs_ispace_charge()): struct, name, value. */
static size_t usmfs_xattr_footprint(const struct usmfs_xattr *x)
{
	return sizeof(*x) + x->name_len + 1 + x->size;
}

static struct usmfs_xattr *usmfs_xattr_find(struct usmfs_inode_info *info,
					    const char *prefix,
					    const char *name)
{
	size_t plen = strlen(prefix);
	struct usmfs_xattr *x;

	list_for_each_entry(x, &info->xattrs, list)
		if (!strncmp(x->data, prefix, plen) &&
		    !strcmp(x->data + plen, name))
			return x;
	return NULL;
}

static int usmfs_xattr_get(struct inode *inode, const char *prefix,
			   const char *name, void *buf, size_t size)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_xattr *x;
	int ret;

	spin_lock(&info->lock);
	x = usmfs_xattr_find(info, prefix, name);
	if (!x)
		ret = -ENODATA;
	else if (!size)
		ret = x->size;
	else if (size < x->size)
		ret = -ERANGE;
	else {
		memcpy(buf, x->data + x->name_len + 1, x->size);
		ret = x->size;
	}
	spin_unlock(&info->lock);
	return ret;
}

static int usmfs_xattr_set(struct inode *inode, const char *prefix,
			   const char *name, const void *value, size_t size,
			   int flags)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_xattr *x = NULL, *old;
	size_t plen = strlen(prefix), nlen = strlen(name);
	long delta;
	int err = 0;

	if (value) {
		x = kmalloc(struct_size(x, data, plen + nlen + 1 + size),
			    GFP_KERNEL_ACCOUNT);
		if (!x)
			return -ENOMEM;
		x->size = size;
		x->name_len = plen + nlen;
		memcpy(x->data, prefix, plen);
		memcpy(x->data + plen, name, nlen + 1);
		memcpy(x->data + plen + nlen + 1, value, size);
	}

	spin_lock(&info->lock);
	old = usmfs_xattr_find(info, prefix, name);
	if ((flags & XATTR_CREATE) && old) {
		err = -EEXIST;
		goto unlock;
	}
	if ((flags & XATTR_REPLACE || !value) && !old) {
		err = -ENODATA;
		goto unlock;
	}
	delta = (x ? (long)usmfs_xattr_footprint(x) : 0) -
		(old ? (long)usmfs_xattr_footprint(old) : 0);
	if (x && info->xattr_bytes + delta > USMFS_XATTR_BYTES_MAX) {
		err = -ENOSPC;
		goto unlock;
	}
	/* the mount's share: stat_lock nests inside info->lock */
	err = usmfs_ispace_charge(USMFS_SB(inode->i_sb), delta);
	if (err)
		goto unlock;
	if (old) {
		list_del(&old->list);
		info->xattr_bytes -= usmfs_xattr_footprint(old);
	}
	if (x) {
		list_add_tail(&x->list, &info->xattrs);
		info->xattr_bytes += usmfs_xattr_footprint(x);
		x = NULL;
	}
unlock:
	spin_unlock(&info->lock);
	kfree(x);
	if (!err) {
		kfree(old);
		inode_set_ctime_current(inode);
	}
	return err;
}

void usmfs_xattrs_free(struct inode *inode)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_xattr *x, *next;

	list_for_each_entry_safe(x, next, &info->xattrs, list)
		kfree(x);
	INIT_LIST_HEAD(&info->xattrs);
	usmfs_ispace_charge(USMFS_SB(inode->i_sb), -(long)info->xattr_bytes);
	info->xattr_bytes = 0;
}

static int usmfs_list_add(char *buf, size_t size, ssize_t *total,
			  const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (buf) {
		if (*total + la + lb + 1 > size)
			return -ERANGE;
		memcpy(buf + *total, a, la);
		memcpy(buf + *total + la, b, lb + 1);
	}
	*total += la + lb + 1;
	return 0;
}

ssize_t usmfs_listxattr(struct dentry *dentry, char *buf, size_t size)
{
	struct inode *inode = d_inode(dentry);
	struct usmfs_inode_info *info = USMFS_I(inode);
	bool trusted = capable(CAP_SYS_ADMIN);
	struct usmfs_xattr *x;
	ssize_t total = 0;
	int id, err = 0;

	if (usmfs_acl_present(inode, ACL_TYPE_ACCESS))
		err = usmfs_list_add(buf, size, &total,
				     XATTR_NAME_POSIX_ACL_ACCESS, "");
	if (!err && usmfs_acl_present(inode, ACL_TYPE_DEFAULT))
		err = usmfs_list_add(buf, size, &total,
				     XATTR_NAME_POSIX_ACL_DEFAULT, "");
	if (err)
		return err;
	spin_lock(&info->lock);
	for (id = 0; id < USM_XATTR_NR && !err; id++)
		if (info->pol.set & BIT(id))
			err = usmfs_list_add(buf, size, &total,
					     USM_XATTR_PREFIX,
					     usmfs_xattr_defs[id].suffix);
	list_for_each_entry(x, &info->xattrs, list) {
		if (err)
			break;
		if (!trusted && !strncmp(x->data, XATTR_TRUSTED_PREFIX,
					 XATTR_TRUSTED_PREFIX_LEN))
			continue;
		err = usmfs_list_add(buf, size, &total, x->data, "");
	}
	spin_unlock(&info->lock);
	return err ? err : total;
}

/* -------------------------------------------------------------- handlers */

static int usmfs_xattr_handler_get(const struct xattr_handler *handler,
				   struct dentry *unused, struct inode *inode,
				   const char *name, void *buf, size_t size)
{
	if (handler->flags == 1 &&
	    !strncmp(name, USM_SUFFIX_PREFIX, strlen(USM_SUFFIX_PREFIX)))
		return usmfs_usm_get(inode, name + strlen(USM_SUFFIX_PREFIX),
				     buf, size);
	return usmfs_xattr_get(inode, handler->prefix, name, buf, size);
}

static int usmfs_xattr_handler_set(const struct xattr_handler *handler,
				   struct usmfs_idmap *idmap,
				   struct dentry *unused, struct inode *inode,
				   const char *name, const void *value,
				   size_t size, int flags)
{
	if (handler->flags == 1 &&
	    !strcmp(name, USM_XATTR_RECLAIM + strlen(XATTR_USER_PREFIX)))
		return usmfs_usm_reclaim(inode, value, size);
	if (handler->flags == 1 &&
	    !strncmp(name, USM_SUFFIX_PREFIX, strlen(USM_SUFFIX_PREFIX)))
		return usmfs_usm_set(inode, name + strlen(USM_SUFFIX_PREFIX),
				     value, size, flags);
	return usmfs_xattr_set(inode, handler->prefix, name, value, size,
			       flags);
}

/* .flags marks the user. handler, where user.usm.* is looked for. */
static const struct xattr_handler usmfs_user_xattr_handler = {
	.prefix	= XATTR_USER_PREFIX,
	.flags	= 1,
	.get	= usmfs_xattr_handler_get,
	.set	= usmfs_xattr_handler_set,
};

static const struct xattr_handler usmfs_trusted_xattr_handler = {
	.prefix	= XATTR_TRUSTED_PREFIX,
	.get	= usmfs_xattr_handler_get,
	.set	= usmfs_xattr_handler_set,
};

static const struct xattr_handler usmfs_security_xattr_handler = {
	.prefix	= XATTR_SECURITY_PREFIX,
	.get	= usmfs_xattr_handler_get,
	.set	= usmfs_xattr_handler_set,
};

const struct xattr_handler *USMFS_XATTR_HANDLERS_CONST usmfs_xattr_handlers[] = {
	&usmfs_user_xattr_handler,
	&usmfs_trusted_xattr_handler,
	&usmfs_security_xattr_handler,
#ifdef USMFS_HAVE_ACL_XATTR_HANDLER
	&posix_acl_access_xattr_handler,
	&posix_acl_default_xattr_handler,
#endif
	NULL,
};
