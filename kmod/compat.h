/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * compat.h - every difference between the kernels usmfs builds against
 * (Debian's 6.1, 6.12 and 7.x) lives here and nowhere else.
 *
 * Differences in what a kernel *exports* are found by Kbuild, which looks the
 * symbols up in $(KDIR)/Module.symvers and passes -DUSMFS_HAVE_*; differences
 * in *interfaces* are chosen by LINUX_VERSION_CODE below.
 */
#ifndef USMFS_COMPAT_H
#define USMFS_COMPAT_H

#include <linux/version.h>
#include <linux/fs.h>
#include <linux/dcache.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/splice.h>
#include <linux/xattr.h>

/* The one version comparison; everything below goes through it. */
#define USMFS_KERNEL_AT_LEAST(major, minor) \
	(KERNEL_VERSION(major, minor, 0) <= LINUX_VERSION_CODE)

/*
 * Idmapped mounts: inode operations take a struct user_namespace on 6.1 and
 * a struct mnt_idmap from 6.3 on.
 */
#if USMFS_KERNEL_AT_LEAST(6, 3)
#define usmfs_idmap		mnt_idmap
#define USMFS_NOP_IDMAP		(&nop_mnt_idmap)
#else
#define usmfs_idmap		user_namespace
#define USMFS_NOP_IDMAP		(&init_user_ns)
#endif

/* struct fileattr (chattr flags, ->fileattr_get/set) is struct file_kattr from 6.17. */
#if USMFS_KERNEL_AT_LEAST(6, 17)
#define usmfs_fileattr		file_kattr
#else
#define usmfs_fileattr		fileattr
#endif

/* ->create lost its "bool excl" argument in 7.x (Kbuild greps fs.h). */
#ifdef USMFS_CREATE_NO_EXCL
#define USMFS_CREATE_MODE_ARGS	umode_t mode
#else
#define USMFS_CREATE_MODE_ARGS	umode_t mode, bool excl
#endif

/* vma->vm_flags became read-only, written through helpers, in 6.3. */
static inline void usmfs_vm_flags_set(struct vm_area_struct *vma,
				      unsigned long flags)
{
#if USMFS_KERNEL_AT_LEAST(6, 3)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * Fault-around maps neighbours with vm_insert_pages(), which needs the VMA
 * to be VM_MIXEDMAP.  Before 6.12 (seen on 6.1) mremap() cannot grow such a
 * VMA in place (vma_merge() refuses VM_SPECIAL and mremap gives ENOMEM):
 * there, no fault-around.  6.12 and 7.x are tested.
 */
#define USMFS_CAN_FAULT_AROUND	USMFS_KERNEL_AT_LEAST(6, 12)

/*
 * 2 MiB windows (file.c, inode.c; issue 19): a contiguous file takes an
 * aligned 2 MiB run of frames per window, and a fault in a shared mapping
 * maps the whole resident window, 512 PTEs with vm_insert_pages(), which
 * needs the VM_MIXEDMAP of fault-around.  Never one PMD: a PMD over our
 * order-0 frames is not something GUP can pin: on 6.12.118 and 7.3 a read
 * and a write of /proc/self/mem (access_remote_vm(), what ptrace does)
 * through such a (special) PMD left pool pages at refcount -1, handed to
 * the buddy allocator ("BUG: Bad page state"), and the file's data wrong
 * (kmod/tests/gup.c).  A PMD needs the window's frames to be one compound
 * page first, which the pool does not make (docs/kmod.md).
 */
#define USMFS_CAN_MAP_WINDOW	USMFS_CAN_FAULT_AROUND
#define USMFS_WINDOW_NR		(PMD_SIZE >> PAGE_SHIFT)

/* generic_fillattr() takes the request mask from 6.6 on. */
#if USMFS_KERNEL_AT_LEAST(6, 6)
#define usmfs_generic_fillattr(idmap, mask, inode, stat) \
	generic_fillattr(idmap, mask, inode, stat)
#else
#define usmfs_generic_fillattr(idmap, mask, inode, stat) \
	generic_fillattr(idmap, inode, stat)
#endif

/* ->mkdir returns the dentry it used from 6.15 on; NULL means @dentry. */
#if USMFS_KERNEL_AT_LEAST(6, 15)
#define usmfs_mkdir_ret			struct dentry *
#define usmfs_mkdir_return(err)		ERR_PTR(err)
#else
#define usmfs_mkdir_ret			int
#define usmfs_mkdir_return(err)		(err)
#endif

/*
 * Timestamps: i_mtime/i_atime became private in 6.7 (accessors only).  The
 * ctime accessors exist on every kernel we build for (Debian's 6.1 has them
 * backported).
 */
static inline void usmfs_set_mtime_ctime_now(struct inode *inode)
{
	struct timespec64 now = inode_set_ctime_current(inode);

#if USMFS_KERNEL_AT_LEAST(6, 7)
	inode_set_mtime_to_ts(inode, now);
#else
	inode->i_mtime = now;
#endif
}

static inline void usmfs_set_all_times_now(struct inode *inode)
{
	struct timespec64 now = inode_set_ctime_current(inode);

#if USMFS_KERNEL_AT_LEAST(6, 7)
	inode_set_mtime_to_ts(inode, now);
	inode_set_atime_to_ts(inode, now);
#else
	inode->i_mtime = now;
	inode->i_atime = now;
#endif
}

/* ->drop_inode for "never cache an unlinked inode" was renamed in 6.18. */
#ifdef USMFS_HAVE_INODE_JUST_DROP
#define usmfs_drop_inode	inode_just_drop
#else
#define usmfs_drop_inode	generic_delete_inode
#endif

/*
 * POSIX ACLs: ->set_acl and posix_acl_chmod() take the inode on 6.1 and
 * the dentry from 6.2 on.  6.1's VFS reaches ACLs through the xattr
 * handlers it exports (posix_acl_*_xattr_handler, found by Kbuild); later
 * ones route system.posix_acl_* to the ACL methods themselves.
 */
#if USMFS_KERNEL_AT_LEAST(6, 2)
#define USMFS_ACL_OBJ			struct dentry *
#define usmfs_acl_obj_inode(obj)	d_inode(obj)
#define usmfs_acl_obj(dentry)		(dentry)
#else
#define USMFS_ACL_OBJ			struct inode *
#define usmfs_acl_obj_inode(obj)	(obj)
#define usmfs_acl_obj(dentry)		d_inode(dentry)
#endif

/* s_xattr became an array of const pointers in 6.7. */
#if USMFS_KERNEL_AT_LEAST(6, 7)
#define USMFS_XATTR_HANDLERS_CONST	const
#else
#define USMFS_XATTR_HANDLERS_CONST
#endif

/*
 * Splicing from a file that is not in the page cache: 6.1 goes through
 * ->read_iter with an ITER_PIPE; 6.5 removed that and added copy_splice_read.
 */
#if USMFS_KERNEL_AT_LEAST(6, 5)
#define usmfs_splice_read	copy_splice_read
#else
#define usmfs_splice_read	generic_file_splice_read
#endif

/*
 * Dentries of an in-memory filesystem are pinned in the dcache for as long
 * as they exist.  Kernels that have d_make_persistent() (7.x) pin them with
 * it and unpin them in kill_anon_super(); older ones take an extra reference
 * that kill_litter_super() drops.
 */
static inline void usmfs_d_pin(struct dentry *dentry, struct inode *inode)
{
#ifdef USMFS_HAVE_D_MAKE_PERSISTENT
	d_make_persistent(dentry, inode);
#else
	d_instantiate(dentry, inode);
	dget(dentry);
#endif
}

#ifdef USMFS_HAVE_D_MAKE_PERSISTENT
#define usmfs_kill_pinned_super	kill_anon_super
#else
#define usmfs_kill_pinned_super	kill_litter_super
#endif

/*
 * Pool sources.  CMA needs both cma_alloc() and the default area's getter
 * exported (7.x); alloc_contig_range() is exported by 6.1 and 6.12 (as a
 * _noprof variant wrapped by a macro from 6.10 on) and replaced its
 * migratetype argument by acr_flags_t in 6.16 (Kbuild greps gfp.h for it).
 */
#if defined(USMFS_HAVE_CMA_ALLOC) && defined(USMFS_HAVE_DEV_GET_CMA_AREA)
#define USMFS_CAN_CMA		1
#include <linux/cma.h>
#include <linux/dma-map-ops.h>
#else
#define USMFS_CAN_CMA		0
#endif

#if defined(USMFS_HAVE_CONTIG_RANGE) && defined(USMFS_HAVE_FREE_CONTIG_RANGE)
#define USMFS_CAN_CONTIG	1
static inline int usmfs_alloc_contig_range(unsigned long start,
					   unsigned long end)
{
#ifdef USMFS_HAVE_ACR_FLAGS
	return alloc_contig_range(start, end, ACR_FLAGS_NONE,
				  GFP_KERNEL | __GFP_NOWARN);
#else
	return alloc_contig_range(start, end, MIGRATE_MOVABLE,
				  GFP_KERNEL | __GFP_NOWARN);
#endif
}
#else
#define USMFS_CAN_CONTIG	0
#endif

#if USMFS_KERNEL_AT_LEAST(6, 8)
#define USMFS_MAX_PAGE_ORDER	MAX_PAGE_ORDER
#elif USMFS_KERNEL_AT_LEAST(6, 4)
#define USMFS_MAX_PAGE_ORDER	MAX_ORDER
#else
#define USMFS_MAX_PAGE_ORDER	(MAX_ORDER - 1)
#endif

#endif /* USMFS_COMPAT_H */
