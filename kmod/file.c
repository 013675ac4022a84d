// SPDX-License-Identifier: GPL-2.0-only
/*
 * file.c - regular files: read/write, mmap and its fault path, fallocate,
 * SEEK_DATA/SEEK_HOLE.
 *
 * The fault path is lookup-and-map: a resident page is handed to the mm as
 * it is; a hole gets a frame (the server's reservation, else firstfit),
 * zeroed.  Only a page that is not resident (being evicted, or swapped out)
 * waits for the policy server, killably and bounded (usmfs_get_page).
 */
#include <linux/fs.h>
#include <linux/fadvise.h>
#include <linux/falloc.h>
#include <linux/fileattr.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>

#include "usmfs.h"

/* ------------------------------------------------------------------ mmap */

static unsigned int fault_around = 16;
module_param(fault_around, uint, 0644);
MODULE_PARM_DESC(fault_around,
		 "resident pages a fault maps around itself, aligned window (0: off; max 512)");

/* Pages looked up, then handed to vm_insert_pages(), at a time. */
#define USMFS_MAP_BATCH	32
/*
 * PTEs found already set in a row after which the rest of the window is
 * taken to be mapped too: a refault after EVICT took one page of a mapped
 * window should not try the other 511 one by one.
 */
#define USMFS_MAP_BUSY	8

/*
 * Map @pages[0, @nr) at @addr on, NULL ones left alone: each run of pages
 * with one vm_insert_pages() (one page-table lock per 8 pages).  A PTE
 * already set (-EBUSY), or any other error, skips that page only.
 * @busy counts the PTEs found set in a row (across calls).
 * Return: false once USMFS_MAP_BUSY of them were: stop there.
 */
static bool usmfs_insert_runs(struct vm_area_struct *vma, unsigned long addr,
			      struct page **pages, unsigned long nr,
			      unsigned int *busy)
{
	unsigned long i = 0;

	while (i < nr) {
		unsigned long run = 0, left;
		int err;

		if (!pages[i]) {
			i++;
			continue;
		}
		while (i + run < nr && pages[i + run])
			run++;
		left = run;
		err = vm_insert_pages(vma, addr + (i << PAGE_SHIFT), pages + i,
				      &left);
		if (!err)
			left = 0;
		if (run - left)
			*busy = 0;
		if (err == -EBUSY && ++*busy >= USMFS_MAP_BUSY)
			return false;
		/* pages[i + run - left] is the one that was not mapped. */
		i += run - left + (left ? 1 : 0);
	}
	return true;
}

/*
 * Map the resident neighbours of a faulting page, in the aligned window of
 * @nr pages (a power of two) that holds it, so that a scan of a resident
 * file takes one fault per window rather than one per page.  Only pages
 * already in the file are mapped, never allocated; PTEs already set are
 * left alone.  Called with invalidate_lock shared, like the fault itself,
 * so truncation cannot run under us; each page is mapped with a reference
 * taken while its entry was ready, so EVICT, which locks the entry first,
 * either sees that reference or is not raced.  Stops at USMFS_MAP_BUSY PTEs
 * in a row already set.  vm_insert_pages() maps with
 * vm_page_prot: read-only in a private mapping (a write still copies),
 * writable in a shared one.
 *
 * Return: true when the window is whole (inside the VMA and the file) and
 * every page of it is resident (a 2 MiB window mapped at once).
 */
static bool usmfs_map_around(struct vm_fault *vmf, struct inode *inode,
			     unsigned int nr)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct vm_area_struct *vma = vmf->vma;
	struct page *batch[USMFS_MAP_BATCH];
	pgoff_t first, last, eof, index, base;
	unsigned long found = 0, n, j;
	unsigned int busy = 0;
	bool more = true;

	first = max(round_down(vmf->pgoff, nr), vma->vm_pgoff);
	last = min(first + nr - 1, vma->vm_pgoff + vma_pages(vma) - 1);
	eof = DIV_ROUND_UP(i_size_read(inode), PAGE_SIZE);
	if (last >= eof)
		last = eof - 1;

	for (base = first; more && base <= last; base += n) {
		n = min_t(unsigned long, last - base + 1, USMFS_MAP_BATCH);
		xa_lock(&info->frames);
		for (j = 0; j < n; j++) {
			struct page *page = NULL;
			void *entry;

			index = base + j;
			entry = index == vmf->pgoff ? NULL :
				xa_load(&info->frames, index);
			if (usmfs_e_ready(entry))
				page = usmfs_frame_page(usmfs_e_frame(entry));
			/* A sampled page must fault by itself to be reported. */
			if (page && xa_marked(&info->frames, USMFS_MARK_SAMPLED) &&
			    xa_get_mark(&info->frames, index, USMFS_MARK_SAMPLED))
				page = NULL;
			if (page) {
				get_page(page);
				found++;
			}
			batch[j] = page;
		}
		xa_unlock(&info->frames);
		more = usmfs_insert_runs(vma, vma->vm_start +
					 ((base - vma->vm_pgoff) << PAGE_SHIFT),
					 batch, n, &busy);
		for (j = 0; j < n; j++)
			if (batch[j])
				put_page(batch[j]);
	}
	return more && last - first + 1 == nr && found == nr - 1;
}

bool usmfs_pmd_map = USMFS_CAN_MAP_WINDOW;
#if USMFS_CAN_MAP_WINDOW
module_param_named(pmd_map, usmfs_pmd_map, bool, 0644);
MODULE_PARM_DESC(pmd_map,
		 "2 MiB at once: contiguous files take aligned 2 MiB runs, and a fault in a shared mapping maps the whole resident window");
#endif

/*
 * How many pages around @vmf to map: a whole 2 MiB window in a shared
 * mapping of a file whose placement is contiguous (pmd_map on), else
 * fault_around, only around a page that was resident: a fault that filled
 * a hole is a first touch, whose resident neighbours are mostly mapped
 * already (a writer going through a new file); trying them again would
 * cost a page-table walk each for nothing.  0: none.
 */
static unsigned int usmfs_around(struct vm_fault *vmf, struct inode *inode,
				 bool hit)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned int nr = min(READ_ONCE(fault_around), 512U);

	if (!(vma->vm_flags & VM_MIXEDMAP))
		return 0;
	if (USMFS_CAN_MAP_WINDOW && READ_ONCE(usmfs_pmd_map) &&
	    (vma->vm_flags & VM_MAYSHARE) &&
	    usmfs_wants_contiguous(USMFS_I(inode)))
		return USMFS_WINDOW_NR;
	return hit && nr >= 2 ? rounddown_pow_of_two(nr) : 0;
}

static vm_fault_t usmfs_fault(struct vm_fault *vmf)
{
	struct inode *inode = file_inode(vmf->vma->vm_file);
	struct address_space *mapping = inode->i_mapping;
	struct usmfs_inode_info *info = USMFS_I(inode);
	struct usmfs_sb_info *sbi = USMFS_SB(inode->i_sb);
	struct page *page;
	unsigned int nr;
	vm_fault_t ret;
	bool hit;

	/* Shared: truncate and hole punching exclude us while they work. */
	filemap_invalidate_lock_shared(mapping);
	if (vmf->pgoff >= DIV_ROUND_UP(i_size_read(inode), PAGE_SIZE)) {
		ret = VM_FAULT_SIGBUS;
		goto unlock;
	}
	/*
	 * MADV_SEQUENTIAL: a swap-in here continues a run (it reads ahead
	 * from the first one); MADV_RANDOM: it never does.
	 */
	if (vmf->vma->vm_flags & VM_SEQ_READ)
		WRITE_ONCE(info->ra_next, vmf->pgoff);
	else if (vmf->vma->vm_flags & VM_RAND_READ)
		WRITE_ONCE(info->ra_next, ULONG_MAX);
	page = usmfs_get_page(inode, vmf->pgoff, USMFS_SGP_WRITE, &hit);
	if (IS_ERR(page)) {
		/*
		 * Out of the mount's share or the pool (what tmpfs does), or
		 * a swapped page the server did not bring back in time.
		 */
		ret = PTR_ERR(page) == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
		goto unlock;
	}
	atomic64_inc(&info->faults);
	atomic64_inc(&sbi->faults);
	if (hit) {
		atomic64_inc(&info->hits);
		atomic64_inc(&sbi->hits);
	}
	nr = usmfs_around(vmf, inode, hit);
	if (nr && usmfs_map_around(vmf, inode, nr) && nr == USMFS_WINDOW_NR)
		atomic64_inc(&sbi->window_maps);
	/*
	 * Locked until the mm has set the PTE: a truncate that removes the
	 * page after we drop invalidate_lock waits for this lock, then
	 * unmaps again.
	 */
	lock_page(page);
	vmf->page = page;
	ret = VM_FAULT_LOCKED;
unlock:
	filemap_invalidate_unlock_shared(mapping);
	return ret;
}

/*
 * Nothing to map from here: on 6.5+ ->map_pages runs under rcu_read_lock()
 * and the helpers that set PTEs in bulk are not exported, so fault-around
 * happens in usmfs_fault().  Having the method tells the mm that ->fault may
 * run under the per-VMA lock alone (6.4+): without it, every fault on a
 * mapping is retried under mmap_lock.
 */
static vm_fault_t usmfs_map_pages(struct vm_fault *vmf, pgoff_t start_pgoff,
				  pgoff_t end_pgoff)
{
	return 0;
}

static const struct vm_operations_struct usmfs_vm_ops = {
	.fault		= usmfs_fault,
	.map_pages	= usmfs_map_pages,
};

static int usmfs_mmap(struct file *file, struct vm_area_struct *vma)
{
	file_accessed(file);
	vma->vm_ops = &usmfs_vm_ops;
	/*
	 * Our pages are ordinary pages outside the page cache: VM_MIXEDMAP
	 * lets the fault path map neighbours with vm_insert_pages(), and
	 * vm_normal_page() still finds the page behind every PTE (COW, GUP,
	 * fork).  The mm skips such VMAs for mlock, KSM and khugepaged, none
	 * of which has anything to do with pool pages.
	 */
	if (USMFS_CAN_FAULT_AROUND && fault_around >= 2)
		usmfs_vm_flags_set(vma, VM_MIXEDMAP);
	return 0;
}

/* ------------------------------------------------------------ read/write */

static ssize_t usmfs_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	loff_t pos = iocb->ki_pos;
	ssize_t done = 0;
	int err = 0;

	while (iov_iter_count(to)) {
		loff_t isize = i_size_read(inode);
		size_t offset = offset_in_page(pos);
		size_t nr, copied;
		struct page *page;

		if (pos >= isize)
			break;
		nr = min_t(u64, PAGE_SIZE - offset, isize - pos);
		nr = min(nr, iov_iter_count(to));
		page = usmfs_get_page(inode, pos >> PAGE_SHIFT, USMFS_SGP_READ,
				      NULL);
		if (IS_ERR(page)) {
			err = PTR_ERR(page);
			break;
		}
		if (page) {
			copied = copy_page_to_iter(page, offset, nr, to);
			put_page(page);
		} else {
			copied = iov_iter_zero(nr, to);
		}
		pos += copied;
		done += copied;
		if (copied < nr) {
			err = -EFAULT;
			break;
		}
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		cond_resched();
	}
	iocb->ki_pos = pos;
	file_accessed(file);
	return done ? done : err;
}

static ssize_t usmfs_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	ssize_t done = 0;
	loff_t pos;
	ssize_t ret;

	inode_lock(inode);
	ret = generic_write_checks(iocb, from);
	if (ret <= 0)
		goto unlock;
	ret = file_modified(file);
	if (ret)
		goto unlock;

	pos = iocb->ki_pos;
	while (iov_iter_count(from)) {
		size_t offset = offset_in_page(pos);
		size_t nr = min(PAGE_SIZE - offset, iov_iter_count(from));
		struct page *page;
		size_t copied;

		/* A whole page over a swapped one: no read-back. */
		ret = nr == PAGE_SIZE ?
		      usmfs_overwrite_swapped(inode, pos >> PAGE_SHIFT, from) : 0;
		if (ret < 0)
			break;
		if (ret) {
			copied = PAGE_SIZE;
		} else {
			page = usmfs_get_page(inode, pos >> PAGE_SHIFT,
					      USMFS_SGP_WRITE, NULL);
			if (IS_ERR(page)) {
				ret = PTR_ERR(page);
				break;
			}
			copied = copy_page_from_iter(page, offset, nr, from);
			put_page(page);
		}
		pos += copied;
		done += copied;
		if (pos > inode->i_size)
			i_size_write(inode, pos);
		if (copied < nr) {
			ret = -EFAULT;
			break;
		}
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	iocb->ki_pos = pos;
unlock:
	inode_unlock(inode);
	if (done > 0)
		return generic_write_sync(iocb, done);
	return ret;
}

/* ------------------------------------------------------------- fallocate */

static long usmfs_punch_hole(struct inode *inode, loff_t offset, loff_t len)
{
	struct address_space *mapping = inode->i_mapping;
	loff_t first = round_up(offset, PAGE_SIZE);
	loff_t end = round_down(offset + len, PAGE_SIZE);

	filemap_invalidate_lock(mapping);
	if (end > first)
		unmap_mapping_range(mapping, first, end - first, 0);
	usmfs_truncate_range(inode, offset, offset + len - 1);
	if (end > first)
		unmap_mapping_range(mapping, first, end - first, 0);
	filemap_invalidate_unlock(mapping);
	usmfs_set_mtime_ctime_now(inode);
	return 0;
}

/*
 * fallocate of a contiguous file takes each whole 2 MiB window of the range
 * that is a hole as one aligned run, as its first fault would.
 */
static bool usmfs_falloc_aligned(struct inode *inode, pgoff_t index,
				 pgoff_t last)
{
#if USMFS_CAN_MAP_WINDOW
	unsigned long i;
	long frame;

	if ((index & (USMFS_WINDOW_NR - 1)) ||
	    last - index < USMFS_WINDOW_NR - 1)
		return false;
	frame = usmfs_fill_aligned(inode, index, USMFS_WINDOW_NR, true);
	if (frame < 0)
		return false;
	for (i = 0; i < USMFS_WINDOW_NR; i++)
		put_page(usmfs_frame_page(frame + i));
	return true;
#else
	return false;
#endif
}

static long usmfs_fallocate(struct file *file, int mode, loff_t offset,
			    loff_t len)
{
	struct inode *inode = file_inode(file);
	pgoff_t first, last, index;
	long err;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;

	inode_lock(inode);
	if (!(mode & FALLOC_FL_PUNCH_HOLE)) {
		err = inode_newsize_ok(inode, offset + len);
		if (err)
			goto unlock;
	}
	/* set-id bits go (a non-owner without CAP_FSETID) as on a write */
	err = file_modified(file);
	if (err)
		goto unlock;
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		err = usmfs_punch_hole(inode, offset, len);
		goto unlock;
	}

	first = offset >> PAGE_SHIFT;
	last = (offset + len - 1) >> PAGE_SHIFT;
	/* More than the whole mount could hold: refuse before trying, as tmpfs. */
	if (last - first >= READ_ONCE(USMFS_SB(inode->i_sb)->max_frames)) {
		err = -ENOSPC;
		goto unlock;
	}
	for (index = first; index <= last; index++) {
		struct page *page;

		if (usmfs_falloc_aligned(inode, index, last)) {
			index += (PMD_SIZE >> PAGE_SHIFT) - 1;
			continue;
		}
		page = usmfs_get_page(inode, index, USMFS_SGP_FALLOC, NULL);
		if (IS_ERR(page)) {
			err = PTR_ERR(page);
			break;
		}
		if (page)	/* NULL: swapped out, data already there */
			put_page(page);
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		cond_resched();
	}
	/* Nothing half-done: a failure gives back what this call took. */
	usmfs_falloc_finish(inode, first, last, err != 0);
	if (!err && !(mode & FALLOC_FL_KEEP_SIZE) &&
	    offset + len > inode->i_size)
		i_size_write(inode, offset + len);
unlock:
	inode_unlock(inode);
	return err;
}

/* -------------------------------------------------------- llseek, open */

static loff_t usmfs_seek_hole_data(struct inode *inode, loff_t offset,
				   int whence)
{
	struct usmfs_inode_info *info = USMFS_I(inode);
	loff_t isize = i_size_read(inode);
	unsigned long index, last;

	if (offset < 0 || offset >= isize)
		return -ENXIO;
	index = offset >> PAGE_SHIFT;
	last = (isize - 1) >> PAGE_SHIFT;

	if (whence == SEEK_DATA) {
		if (!xa_find(&info->frames, &index, last, XA_PRESENT))
			return -ENXIO;
	} else {
		while (index <= last && xa_load(&info->frames, index)) {
			index++;
			if (!(index & 1023))
				cond_resched();
		}
		if (index > last)
			return isize;
	}
	return max_t(loff_t, offset, (loff_t)index << PAGE_SHIFT);
}

static loff_t usmfs_llseek(struct file *file, loff_t offset, int whence)
{
	struct inode *inode = file_inode(file);

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return generic_file_llseek(file, offset, whence);
	inode_lock_shared(inode);
	offset = usmfs_seek_hole_data(inode, offset, whence);
	if (offset >= 0)
		offset = vfs_setpos(file, offset, inode->i_sb->s_maxbytes);
	inode_unlock_shared(inode);
	return offset;
}

static int usmfs_open(struct inode *inode, struct file *file)
{
	/* O_DIRECT is accepted, as tmpfs does: there is no cache to bypass. */
	file->f_mode |= FMODE_CAN_ODIRECT;
	return generic_file_open(inode, file);
}

/* ----------------------------------------------------------- inode flags */

/* chattr's flags tmpfs keeps; i, a and A are enforced by the VFS. */
#define USMFS_FL_USER	(FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL | \
			 FS_NOATIME_FL)

int usmfs_fileattr_get(struct dentry *dentry, struct usmfs_fileattr *fa)
{
	fileattr_fill_flags(fa, READ_ONCE(USMFS_I(d_inode(dentry))->fsflags));
	return 0;
}

/* The VFS checked ownership and CAP_LINUX_IMMUTABLE, under inode_lock. */
int usmfs_fileattr_set(struct usmfs_idmap *idmap, struct dentry *dentry,
		       struct usmfs_fileattr *fa)
{
	struct inode *inode = d_inode(dentry);
	unsigned int iflags = 0;

	if (fileattr_has_fsx(fa) || (fa->flags & ~USMFS_FL_USER))
		return -EOPNOTSUPP;
	WRITE_ONCE(USMFS_I(inode)->fsflags, fa->flags);
	if (fa->flags & FS_IMMUTABLE_FL)
		iflags |= S_IMMUTABLE;
	if (fa->flags & FS_APPEND_FL)
		iflags |= S_APPEND;
	if (fa->flags & FS_NOATIME_FL)
		iflags |= S_NOATIME;
	inode_set_flags(inode, iflags, S_IMMUTABLE | S_APPEND | S_NOATIME);
	inode_set_ctime_current(inode);
	return 0;
}

/*
 * POSIX_FADV_WILLNEED (and MADV_WILLNEED, which comes here for a file
 * mapping): the range's swapped pages are asked back now, not waited for.
 */
static int usmfs_fadvise(struct file *file, loff_t offset, loff_t len,
			 int advice)
{
	struct inode *inode = file_inode(file);
	loff_t size = i_size_read(inode);
	pgoff_t first, last;

	if (advice != POSIX_FADV_WILLNEED)
		return generic_fadvise(file, offset, len, advice);
	if (offset < 0 || len < 0)
		return -EINVAL;
	if (!size || offset >= size)
		return 0;
	if (!len || len > size - offset)
		len = size - offset;
	first = offset >> PAGE_SHIFT;
	last = (offset + len - 1) >> PAGE_SHIFT;
	return usmfs_swapin_willneed(inode, first, last);
}

const struct file_operations usmfs_file_operations = {
	.open		= usmfs_open,
	.llseek		= usmfs_llseek,
	.read_iter	= usmfs_read_iter,
	.write_iter	= usmfs_write_iter,
	.mmap		= usmfs_mmap,
#if USMFS_CAN_MAP_WINDOW
	/* 2 MiB aligned addresses: one page table per window. */
	.get_unmapped_area = thp_get_unmapped_area,
#endif
	.fsync		= noop_fsync,
	.splice_read	= usmfs_splice_read,
	.splice_write	= iter_file_splice_write,
	.fallocate	= usmfs_fallocate,
	.fadvise	= usmfs_fadvise,
};

const struct address_space_operations usmfs_aops = {
	.dirty_folio	= noop_dirty_folio,
	.direct_IO	= noop_direct_IO,
};
