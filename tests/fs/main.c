// SPDX-License-Identifier: GPL-2.0-only
/*
 * main.c - fstest, the filesystem suite's multi-call test program.
 *
 *	fstest CASE WORKDIR [ARGS...]	run one case (exit 0 / 1 / 77)
 *	fstest --list			the cases this binary knows
 */
#include <limits.h>
#include <signal.h>

#include "fstest.h"

#define CASES(X)							\
	X(create_unlink, "create, O_EXCL, O_TRUNC, unlink (also while open)")	\
	X(mkdir_rmdir, "mkdir/rmdir, EEXIST, ENOTEMPTY, directory nlink")	\
	X(errors, "ENAMETOOLONG, ENOTDIR, EISDIR, ENOENT, EEXIST")	\
	X(symlink, "symlink/readlink, dangling, ELOOP, long targets")	\
	X(hardlink, "link, nlink counts, shared data, EPERM on dirs")	\
	X(rename, "rename over files and dirs, EISDIR/ENOTDIR/ENOTEMPTY/EINVAL") \
	X(rename2, "renameat2 RENAME_NOREPLACE and RENAME_EXCHANGE")	\
	X(readdir_seek, "readdir d_type, telldir/seekdir")		\
	X(attrs, "chmod, chown, utimensat (explicit, NOW, OMIT)")	\
	X(truncate_times, "truncate/ftruncate/O_TRUNC update mtime and ctime") \
	X(many_files, "ARG files (5000) created, listed, read, removed")	\
	X(sticky, "sticky directory as two non-root uids (root)")	\
	X(owner, "new inodes owned by the caller's uid/gid (root)")	\
	X(setgid_dir, "setgid directory: group and S_ISGID inherited (root)") \
	X(suid_clear, "write/truncate/chown clear setuid/setgid (root)")	\
	X(perm_denied, "EACCES/EPERM for a non-root uid (root)")		\
	X(rw_offsets, "pread/pwrite at odd offsets, EOF, lseek")		\
	X(sparse, "sparse files, holes read zero, 1 TiB truncate")	\
	X(truncate, "truncate grow/shrink, partial pages zeroed, blocks freed") \
	X(fallocate, "fallocate mode 0, KEEP_SIZE, PUNCH_HOLE")		\
	X(seek_data_hole, "SEEK_DATA/SEEK_HOLE")				\
	X(append_concurrent, "O_APPEND from 4 processes: nothing lost or torn") \
	X(statfs, "statfs non-zero, bsize 4096, st_blksize")		\
	X(concurrent_files, "4 writers to 4 files")			\
	X(shared_pwrite, "4 writers, one file, distinct offsets")	\
	X(splice, "sendfile, splice, copy_file_range")			\
	X(odirect, "O_DIRECT accepted and coherent")			\
	X(fsync, "fsync, fdatasync, syncfs, sync_file_range")		\
	X(odd_requests, "far offsets, huge allocations, limits: answered, no crash") \
	X(mmap_coherent, "MAP_SHARED coherent with read/write")	\
	X(mmap_fork, "MAP_SHARED across fork")				\
	X(mmap_exec, "MAP_SHARED between two exec'd processes")	\
	X(mmap_peer, "(helper of mmap_exec)")				\
	X(mmap_private, "MAP_PRIVATE copy-on-write")			\
	X(mmap_sigbus, "SIGBUS past EOF, zeroes in the last page")	\
	X(mmap_truncate, "truncate and punch under a live mapping")	\
	X(mremap_grow, "mremap grow and shrink")			\
	X(madvise, "MADV_DONTNEED keeps shared data")			\
	X(msync, "msync flags, data after munmap")			\
	X(exec, "run a binary copied onto the mount")			\
	X(exec_probe, "(helper of exec)")				\
	X(xattr_user, "user.* xattrs: CREATE/REPLACE, ERANGE, list, remove") \
	X(usm_xattr_set, "user.usm.* set and read back")		\
	X(usm_xattr_invalid, "user.usm.* bad values: EINVAL, nothing applied") \
	X(usm_stats, "user.usm.stats parseable and read-only")		\
	X(usm_inherit, "user.usm.* inherited from the directory")	\
	X(evict_verify, "ARG x size (4) written and verified, evictions and swap-ins") \
	X(evict_mmap, "a 2x size file filled through a mapping, verified")	\
	X(evict_policy_change, "user.usm.evict changed under a writer")	\
	X(full_pool, "swap=none mount filled to ENOSPC, data intact, unlink frees") \
	X(full_write, "write(2) into a full swap=none mount: ENOSPC, bounded") \
	X(xattr_flood, "user.* xattr flood by a user: ENOSPC, memory bounded") \
	X(mmap_full, "a mmap writer into a full mount is told or keeps every page") \
	X(server_restart, "swapped data survives a policy server restart (kmod)") \
	X(xattr_virtual, "computed xattrs not listed; listed ones copy and remove") \
	X(setgid_falloc, "fallocate/punch by a non-owner clear set-id bits as write (root)") \
	X(statx_btime, "statx STATX_BTIME: set at creation, kept after") \
	X(tmpfile, "O_TMPFILE: unnamed, linkat through /proc, O_EXCL") \
	X(max_filesize, "files up to MAX_LFS_FILESIZE") \
	X(file_handle, "open_by_handle_at after drop_caches; ESTALE once removed (root)") \
	X(readdir_rename, "ARG entries (5000) renamed while listed: each once, the listing ends") \
	X(inode_flags, "chattr +i +a +A: FS_IOC_GETFLAGS/SETFLAGS/FSGETXATTR, enforced (root)") \
	X(rename_whiteout, "renameat2 RENAME_WHITEOUT, trusted.* for root only (root)") \
	X(overlay_upper, "overlayfs upper and work here: copy-up, whiteouts, renamed dirs (root)") \
	X(posix_acl, "POSIX ACLs: access ACL enforced, chmod mask, default ACL inherited, noacl (root)") \
	X(dio_coherent, "ARG rounds (200) of async O_DIRECT writes under buffered readers, read back buffered")

#define X_DECL(n, h) DECLARE_CASE(n);
CASES(X_DECL)
#undef X_DECL

static const struct fscase cases[] = {
#define X_ENTRY(n, h) { #n, case_##n, h },
	CASES(X_ENTRY)
#undef X_ENTRY
};

static const char *argv0;

const char *self_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n;

	if (path[0])
		return path;
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n > 0) {
		path[n] = 0;
		return path;
	}
	if (!realpath(argv0, path))
		snprintf(path, sizeof(path), "%s", argv0);
	return path;
}

static void usage(void)
{
	fprintf(stderr, "usage: fstest CASE WORKDIR [ARGS...]\n       fstest --list\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct stat st;

	argv0 = argv[0];
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			printf("%-22s %s\n", cases[i].name, cases[i].help);
		return 0;
	}
	if (argc < 3)
		usage();
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	umask(0);	/* cases state the modes they want */
	self_exe();	/* resolve before any chdir */
	if (stat(argv[2], &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "fstest: %s is not a directory\n", argv[2]);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(cases[i].name, argv[1]))
			return cases[i].fn(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "fstest: unknown case '%s' (fstest --list)\n", argv[1]);
	return 2;
}
