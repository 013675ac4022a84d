// SPDX-License-Identifier: GPL-2.0-only
/*
 * super.c - module load/unload, mount options, mounting.
 *
 * usmfs: a memory filesystem over a reserved pool of frames, whose
 * placement and eviction are meant to be decided by policies in userspace.
 * This module stands alone: placement is the in-kernel firstfit, and nothing
 * is evicted (there is no policy server channel yet).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/exportfs.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <usm/parse-core.h>

#include "usmfs.h"

static char *pool = "64M";
module_param(pool, charp, 0444);
MODULE_PARM_DESC(pool, "bytes of memory to reserve at load (K/M/G suffix)");

static char *pool_source = "auto";
module_param(pool_source, charp, 0444);
MODULE_PARM_DESC(pool_source, "where to take the pool: auto, cma, contig or pages");

#define USMFS_DEFAULT_MODE		01777
#define USMFS_DEFAULT_SWAP		"none"
#define USMFS_DEFAULT_SWAPIN_MS		30000

enum usmfs_param {
	Opt_size,
	Opt_nr_inodes,
	Opt_mode,
	Opt_uid,
	Opt_gid,
	Opt_alloc,
	Opt_evict,
	Opt_swap,
	Opt_swapin_timeout,
	Opt_noacl,
	Opt_inode64,
	Opt_huge,
};

static const struct fs_parameter_spec usmfs_fs_parameters[] = {
	fsparam_string("size",			Opt_size),
	fsparam_string("nr_inodes",		Opt_nr_inodes),
	fsparam_u32oct("mode",			Opt_mode),
	fsparam_u32("uid",			Opt_uid),
	fsparam_u32("gid",			Opt_gid),
	fsparam_string("alloc",			Opt_alloc),
	fsparam_string("evict",			Opt_evict),
	fsparam_string("swap",			Opt_swap),
	fsparam_string("swapin_timeout",	Opt_swapin_timeout),
	/* tmpfs's, accepted where they describe what usmfs does anyway */
	fsparam_flag("noacl",			Opt_noacl),
	fsparam_flag("inode64",			Opt_inode64),
	fsparam_string("huge",			Opt_huge),
	{}
};

/**
 * struct usmfs_fs_ctx - options parsed for a mount or a remount.
 * @seen:	bit per enum usmfs_param given; a remount changes only these
 * @noacl:	noacl given (used at mount only)
 */
struct usmfs_fs_ctx {
	u32 seen;
	bool noacl;
	u64 size;
	u32 size_pct;
	u64 nr_inodes;
	umode_t mode;
	kuid_t uid;
	kgid_t gid;
	char alloc[USM_NAME_MAX + 1];
	char evict[USM_NAME_MAX + 1];
	char swap[PATH_MAX + 8];
	u64 swapin_timeout_ms;
};

static int usmfs_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct usmfs_fs_ctx *ctx = fc->fs_private;
	struct fs_parse_result result;
	const char *s;
	size_t len;
	int opt;

	opt = fs_parse(fc, usmfs_fs_parameters, param, &result);
	if (opt == -ENOPARAM) {
		opt = vfs_parse_fs_param_source(fc, param);
		if (opt != -ENOPARAM)
			return opt;
		return invalfc(fc, "Unknown parameter '%s'", param->key);
	}
	if (opt < 0)
		return opt;
	s = param->string;
	len = s ? strlen(s) : 0;

	switch (opt) {
	case Opt_size:
		if (usmfs_parse_size(s, usmfs_pool_bytes(), &ctx->size,
				     &ctx->size_pct))
			goto bad_value;
		break;
	case Opt_nr_inodes:
		if (usmfs_parse_size_strict(s, &ctx->nr_inodes) ||
		    ctx->nr_inodes > ULONG_MAX)
			goto bad_value;
		break;
	case Opt_mode:
		ctx->mode = result.uint_32 & 07777;
		break;
	case Opt_uid:
		ctx->uid = make_kuid(current_user_ns(), result.uint_32);
		if (!uid_valid(ctx->uid))
			goto bad_value;
		break;
	case Opt_gid:
		ctx->gid = make_kgid(current_user_ns(), result.uint_32);
		if (!gid_valid(ctx->gid))
			goto bad_value;
		break;
	case Opt_alloc:
		if (!usmfs_alloc_name_valid(s, len))
			goto bad_value;
		strscpy(ctx->alloc, s, sizeof(ctx->alloc));
		break;
	case Opt_evict:
		if (!usmfs_evict_name_valid(s, len))
			goto bad_value;
		strscpy(ctx->evict, s, sizeof(ctx->evict));
		break;
	case Opt_swap:
		if (len >= sizeof(ctx->swap))
			goto bad_value;
		if (!strncmp(s, "file:", 5)) {
			if (s[5] != '/')
				goto bad_value;
		} else if (strcmp(s, "none") && !usmfs_name_valid(s, len)) {
			goto bad_value;
		}
		strscpy(ctx->swap, s, sizeof(ctx->swap));
		break;
	case Opt_swapin_timeout:
		if (usmfs_parse_duration_ms(s, &ctx->swapin_timeout_ms))
			goto bad_value;
		/* msecs_to_jiffies() takes an unsigned int. */
		if (ctx->swapin_timeout_ms > USM_SWAPIN_TIMEOUT_MAX_MS)
			return invalfc(fc, "Bad value for 'swapin_timeout': more than %llums (about 49 days)",
				       USM_SWAPIN_TIMEOUT_MAX_MS);
		break;
	case Opt_noacl:		/* no POSIX ACLs: SB_POSIXACL stays off */
		ctx->noacl = true;
		break;
	case Opt_inode64:	/* inode numbers are unsigned long */
		break;
	case Opt_huge:		/* page cache THP: ours has none */
		if (strcmp(s, "never"))
			goto bad_value;
		break;
	}
	ctx->seen |= BIT(opt);
	return 0;

bad_value:
	return invalfc(fc, "Bad value for '%s'", param->key);
}

static unsigned long usmfs_default_max_inodes(void)
{
	return totalram_pages() / 2;
}

static unsigned long usmfs_size_frames(u64 bytes)
{
	return bytes ? bytes >> PAGE_SHIFT : usmfs_pool_nr_frames();
}

/* Apply @ctx to @sbi: everything at mount, what was given at remount. */
static void usmfs_apply(struct usmfs_sb_info *sbi, struct usmfs_fs_ctx *ctx,
			bool remount)
{
	u32 seen = remount ? ctx->seen : ~0U;

	if (seen & BIT(Opt_size)) {
		sbi->opt_size = ctx->size;
		sbi->opt_size_pct = ctx->size_pct;
		WRITE_ONCE(sbi->max_frames, usmfs_size_frames(ctx->size));
	}
	if (seen & BIT(Opt_nr_inodes)) {
		spin_lock(&sbi->stat_lock);
		sbi->max_inodes = ctx->nr_inodes;
		spin_unlock(&sbi->stat_lock);
	}
	if (seen & BIT(Opt_mode))
		sbi->opt_mode = ctx->mode;
	if (seen & BIT(Opt_uid))
		sbi->opt_uid = ctx->uid;
	if (seen & BIT(Opt_gid))
		sbi->opt_gid = ctx->gid;
	if (seen & BIT(Opt_alloc))
		strscpy(sbi->opt_alloc, ctx->alloc, sizeof(sbi->opt_alloc));
	if (seen & BIT(Opt_evict))
		strscpy(sbi->opt_evict, ctx->evict, sizeof(sbi->opt_evict));
	if (seen & BIT(Opt_swap))
		strscpy(sbi->opt_swap, ctx->swap, sizeof(sbi->opt_swap));
	if (seen & BIT(Opt_swapin_timeout))
		sbi->opt_swapin_timeout_ms = ctx->swapin_timeout_ms;
}

/* ------------------------------------------------------------ file handles */

/*
 * A handle is tmpfs's: the generation, then the 64-bit inode number.  The
 * inode is found in the inode hash: regular files are hashed when they are
 * made (the server's ilookup), any other inode when its first handle is.
 */
#define USMFS_FH_LEN	3

static int usmfs_encode_fh(struct inode *inode, __u32 *fh, int *len,
			   struct inode *parent)
{
	static DEFINE_SPINLOCK(hash_lock);

	if (*len < USMFS_FH_LEN) {
		*len = USMFS_FH_LEN;
		return FILEID_INVALID;
	}
	if (inode_unhashed(inode)) {
		spin_lock(&hash_lock);
		if (inode_unhashed(inode))
			insert_inode_hash(inode);
		spin_unlock(&hash_lock);
	}
	fh[0] = inode->i_generation;
	fh[1] = lower_32_bits((u64)inode->i_ino);
	fh[2] = upper_32_bits((u64)inode->i_ino);
	*len = USMFS_FH_LEN;
	return 1;
}

static int usmfs_fh_match(struct inode *inode, void *data)
{
	const u32 *fh = data;

	return (u64)inode->i_ino == ((u64)fh[2] << 32 | fh[1]) &&
	       inode->i_generation == fh[0];
}

static struct dentry *usmfs_fh_to_dentry(struct super_block *sb,
					 struct fid *fid, int fh_len,
					 int fh_type)
{
	u64 ino;
	struct inode *inode;

	if (fh_len < USMFS_FH_LEN || fh_type != 1)
		return NULL;
	ino = (u64)fid->raw[2] << 32 | fid->raw[1];
	if (ino > ULONG_MAX)
		return NULL;
	inode = ilookup5(sb, (unsigned long)ino, usmfs_fh_match, fid->raw);
	return inode ? d_obtain_alias(inode) : NULL;	/* NULL: ESTALE */
}

/* Names stay in the dcache: a directory's dentry is never disconnected. */
static struct dentry *usmfs_get_parent(struct dentry *child)
{
	return ERR_PTR(-ESTALE);
}

static const struct export_operations usmfs_export_ops = {
	.encode_fh	= usmfs_encode_fh,
	.fh_to_dentry	= usmfs_fh_to_dentry,
	.get_parent	= usmfs_get_parent,
};

static int usmfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct usmfs_fs_ctx *ctx = fc->fs_private;
	struct usmfs_sb_info *sbi;
	struct inode *inode;

	sbi = kzalloc(sizeof(*sbi), GFP_KERNEL);
	if (!sbi)
		return -ENOMEM;
	spin_lock_init(&sbi->stat_lock);
	INIT_LIST_HEAD(&sbi->pool_link);
	atomic_long_set(&sbi->used_frames, 0);
	atomic64_set(&sbi->faults, 0);
	atomic64_set(&sbi->hits, 0);
	sbi->sb = sb;
	sbi->chan_dev = usmfs_chan_new_dev();
	xa_init(&sbi->files);
	atomic_long_set(&sbi->nr_files, 0);
	usmfs_apply(sbi, ctx, false);
	sb->s_fs_info = sbi;

	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_magic = USMFS_MAGIC;
	sb->s_op = &usmfs_super_operations;
	sb->s_xattr = usmfs_xattr_handlers;
	sb->s_export_op = &usmfs_export_ops;
	sb->s_time_gran = 1;
	/* ACLs as tmpfs (acl.c); noacl is a mount-time choice */
	sbi->opt_noacl = ctx->noacl;
	if (!sbi->opt_noacl)
		sb->s_flags |= SB_POSIXACL;

	inode = usmfs_get_inode(sb, USMFS_NOP_IDMAP, NULL,
				S_IFDIR | sbi->opt_mode, 0);
	if (IS_ERR(inode))
		return PTR_ERR(inode);
	inode->i_uid = sbi->opt_uid;
	inode->i_gid = sbi->opt_gid;
	sb->s_root = d_make_root(inode);
	if (!sb->s_root)
		return -ENOMEM;
	usmfs_pool_add_mount(sbi);
	usmfs_chan_mount(sbi);
	return 0;
}

/* ------------------------------------------------------ the mount's files */

/*
 * A new regular file goes into the mount's files under its inode number.
 * get_next_ino() wraps after 2^32 numbers: a number a file of the mount
 * still has is skipped, so that the channel's (dev, ino) names one file.
 */
int usmfs_files_add(struct usmfs_sb_info *sbi, struct inode *inode)
{
	int tries, err = -EBUSY;

	for (tries = 0; tries < 64 && err == -EBUSY; tries++) {
		if (tries)
			inode->i_ino = get_next_ino();
		err = xa_insert(&sbi->files, inode->i_ino, inode, GFP_KERNEL);
	}
	if (err)
		return err == -EBUSY ? -ENOSPC : err;
	atomic_long_inc(&sbi->nr_files);
	return 0;
}

/* At eviction: true if @inode was one of the mount's files. */
bool usmfs_files_del(struct usmfs_sb_info *sbi, struct inode *inode)
{
	if (xa_cmpxchg(&sbi->files, inode->i_ino, inode, NULL, 0) != inode)
		return false;
	atomic_long_dec(&sbi->nr_files);
	return true;
}

/**
 * usmfs_files_next - a regular file of a pinned mount, with a reference.
 * @sbi:	the mount (pinned, or the caller's own)
 * @ino:	in: the inode number to start from; out: the file's
 * @exact:	that number only
 *
 * In inode number order, skipping files being evicted: a walk of all files
 * costs O(files), with no lock held between two files.
 *
 * Return: the file, or NULL when there is none (more).
 */
struct inode *usmfs_files_next(struct usmfs_sb_info *sbi, unsigned long *ino,
			       bool exact)
{
	unsigned long index = *ino;
	struct inode *inode;

	/* Inodes are freed after a grace period: igrab() may look. */
	rcu_read_lock();
	for (;;) {
		inode = xa_find(&sbi->files, &index, exact ? index : ULONG_MAX,
				XA_PRESENT);
		if (!inode)
			break;
		inode = igrab(inode);
		if (inode || exact || index == ULONG_MAX)
			break;
		index++;
	}
	rcu_read_unlock();
	*ino = index;
	return inode;
}

static int usmfs_get_tree(struct fs_context *fc)
{
	return get_tree_nodev(fc, usmfs_fill_super);
}

static int usmfs_reconfigure(struct fs_context *fc)
{
	struct usmfs_sb_info *sbi = USMFS_SB(fc->root->d_sb);
	struct usmfs_fs_ctx *ctx = fc->fs_private;
	unsigned long inodes;

	if ((ctx->seen & BIT(Opt_size)) &&
	    atomic_long_read(&sbi->used_frames) >
	    (long)usmfs_size_frames(ctx->size))
		return invalfc(fc, "Too small size for current use");
	spin_lock(&sbi->stat_lock);
	inodes = sbi->nr_inodes;
	spin_unlock(&sbi->stat_lock);
	if ((ctx->seen & BIT(Opt_nr_inodes)) && ctx->nr_inodes &&
	    inodes > ctx->nr_inodes)
		return invalfc(fc, "Too few inodes for current use");
	usmfs_apply(sbi, ctx, true);
	sbi->opt_explicit |= ctx->seen;
	return 0;
}

/* Was swap= given, at mount or at a remount since? */
bool usmfs_swap_given(const struct usmfs_sb_info *sbi)
{
	return sbi->opt_explicit & BIT(Opt_swap);
}

int usmfs_show_options(struct seq_file *m, struct dentry *root)
{
	struct usmfs_sb_info *sbi = USMFS_SB(root->d_sb);
	char buf[32];

	if (sbi->opt_size_pct) {
		seq_printf(m, ",size=%u%%", sbi->opt_size_pct);
	} else if (sbi->opt_size) {
		usmfs_format_size_exact(sbi->opt_size, buf, sizeof(buf));
		seq_printf(m, ",size=%s", buf);
	}
	if (sbi->max_inodes != usmfs_default_max_inodes())
		seq_printf(m, ",nr_inodes=%lu", sbi->max_inodes);
	if (sbi->opt_mode != USMFS_DEFAULT_MODE)
		seq_printf(m, ",mode=%o", sbi->opt_mode);
	if (!uid_eq(sbi->opt_uid, GLOBAL_ROOT_UID))
		seq_printf(m, ",uid=%u",
			   from_kuid_munged(&init_user_ns, sbi->opt_uid));
	if (!gid_eq(sbi->opt_gid, GLOBAL_ROOT_GID))
		seq_printf(m, ",gid=%u",
			   from_kgid_munged(&init_user_ns, sbi->opt_gid));
	if (strcmp(sbi->opt_alloc, USM_DEFAULT_ALLOC))
		seq_printf(m, ",alloc=%s", sbi->opt_alloc);
	if (strcmp(sbi->opt_evict, USM_DEFAULT_EVICT))
		seq_printf(m, ",evict=%s", sbi->opt_evict);
	if (strcmp(sbi->opt_swap, USMFS_DEFAULT_SWAP)) {
		seq_puts(m, ",swap=");
		seq_escape(m, sbi->opt_swap, ", \t\n\\");
	}
	if (sbi->opt_noacl)
		seq_puts(m, ",noacl");
	if (sbi->opt_swapin_timeout_ms != USMFS_DEFAULT_SWAPIN_MS) {
		if (sbi->opt_swapin_timeout_ms &&
		    !(sbi->opt_swapin_timeout_ms % 1000))
			seq_printf(m, ",swapin_timeout=%llus",
				   sbi->opt_swapin_timeout_ms / 1000);
		else
			seq_printf(m, ",swapin_timeout=%llums",
				   sbi->opt_swapin_timeout_ms);
	}
	return 0;
}

static void usmfs_free_fc(struct fs_context *fc)
{
	kfree(fc->fs_private);
}

static const struct fs_context_operations usmfs_context_ops = {
	.free		= usmfs_free_fc,
	.parse_param	= usmfs_parse_param,
	.get_tree	= usmfs_get_tree,
	.reconfigure	= usmfs_reconfigure,
};

static int usmfs_init_fs_context(struct fs_context *fc)
{
	struct usmfs_fs_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->nr_inodes = usmfs_default_max_inodes();
	ctx->mode = USMFS_DEFAULT_MODE;
	ctx->uid = GLOBAL_ROOT_UID;
	ctx->gid = GLOBAL_ROOT_GID;
	strscpy(ctx->alloc, USM_DEFAULT_ALLOC, sizeof(ctx->alloc));
	strscpy(ctx->evict, USM_DEFAULT_EVICT, sizeof(ctx->evict));
	strscpy(ctx->swap, USMFS_DEFAULT_SWAP, sizeof(ctx->swap));
	ctx->swapin_timeout_ms = USMFS_DEFAULT_SWAPIN_MS;
	fc->fs_private = ctx;
	fc->ops = &usmfs_context_ops;
	return 0;
}

/*
 * Runs once no pin is left (usmfs_pool_get_mount): off the pool's list
 * first, so that the channel cannot find the mount any more.  UMOUNT goes
 * after the FILE_REMOVED of its files (queued as the inodes go), which
 * the server would otherwise get for files it had forgotten with the
 * mount.
 */
static void usmfs_kill_sb(struct super_block *sb)
{
	struct usmfs_sb_info *sbi = USMFS_SB(sb);

	if (sbi)
		usmfs_pool_del_mount(sbi);
	usmfs_kill_pinned_super(sb);
	if (sbi) {
		usmfs_chan_umount(sbi);
		WARN_ON_ONCE(!xa_empty(&sbi->files));
		xa_destroy(&sbi->files);
	}
	kfree(sbi);
}

static struct file_system_type usmfs_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "usmfs",
	.init_fs_context	= usmfs_init_fs_context,
	.parameters		= usmfs_fs_parameters,
	.kill_sb		= usmfs_kill_sb,
};
MODULE_ALIAS_FS("usmfs");

/* ------------------------------------------------------------ load/unload */

static int usmfs_parse_source(enum usmfs_source *src)
{
	int i;

	if (!strcmp(pool_source, "auto")) {
		*src = USMFS_SRC_AUTO;
		return 0;
	}
	i = match_string(usmfs_source_names, USMFS_SRC_NR, pool_source);
	if (i < 0)
		return -EINVAL;
	if ((i == USMFS_SRC_CMA && !USMFS_CAN_CMA) ||
	    (i == USMFS_SRC_CONTIG && !USMFS_CAN_CONTIG)) {
		pr_err("pool_source=%s: not available on this kernel\n",
		       pool_source);
		return -EOPNOTSUPP;
	}
	*src = i;
	return 0;
}

static int __init usmfs_init(void)
{
	enum usmfs_source src;
	char *end;
	u64 bytes;
	int err;

	bytes = memparse(pool, &end);
	if (*end || bytes < PAGE_SIZE) {
		pr_err("bad pool=%s\n", pool);
		return -EINVAL;
	}
	err = usmfs_parse_source(&src);
	if (err) {
		pr_err("bad pool_source=%s (auto, cma, contig, pages)\n",
		       pool_source);
		return err;
	}

	err = usmfs_inode_cache_init();
	if (err)
		goto out;
	err = usmfs_pool_init(bytes, src);
	if (err)
		goto destroy_inode_cache;
	err = register_filesystem(&usmfs_fs_type);
	if (err)
		goto exit_pool;
	err = usmfs_chan_init();
	if (err)
		goto unregister;
	return 0;

unregister:
	unregister_filesystem(&usmfs_fs_type);
exit_pool:
	usmfs_pool_exit();
destroy_inode_cache:
	usmfs_inode_cache_exit();
out:
	return err;
}

static void __exit usmfs_exit(void)
{
	usmfs_chan_exit();
	unregister_filesystem(&usmfs_fs_type);
	usmfs_inode_cache_exit();
	usmfs_pool_exit();
}

module_init(usmfs_init);
module_exit(usmfs_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("usmfs authors");
MODULE_DESCRIPTION("usmfs: memory filesystem over a reserved pool of frames");
