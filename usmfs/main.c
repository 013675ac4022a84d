// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main.c - usmfs, the FUSE frontend: command line and mount options, the
 * pool and the library context, the session and its loop, init, statfs.
 *
 *	usmfs MOUNTPOINT [-o OPTIONS] [-f] [-d] [-s]
 *
 * usmfs's own options (size, nr_inodes, mode, uid, gid, alloc, evict, swap,
 * swapin_timeout, config) go through the library's parser; every other -o
 * option is libfuse's (allow_other, ro, fsname, writeback_cache, ...).  All
 * of them are checked before anything is mounted.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "usmfs.h"

struct usmfs fs = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

#define OPTS_MAX	16384

static struct fuse_conn_info_opts *conn_opts;
static bool state_fresh;		/* serve.on: a new state */
static bool keep_state;			/* serve.on until unmounted */

static void usmfs_ll_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_WRITEBACK_CACHE)
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	/*
	 * The kernel clears setuid/setgid itself (with a setattr) when we do
	 * not claim to, on write, truncate and chown.  Not with an atomic
	 * O_TRUNC open, so that stays off: O_TRUNC comes as a setattr.  Our
	 * data never changes behind the kernel's back: no auto invalidation.
	 */
	conn->want &= ~(FUSE_CAP_HANDLE_KILLPRIV | FUSE_CAP_AUTO_INVAL_DATA |
			FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK |
			FUSE_CAP_ATOMIC_O_TRUNC);
	conn->time_gran = 1;
	if (conn_opts)
		fuse_apply_conn_info_opts(conn_opts, conn);
	/*
	 * File handles outlive the kernel's inode cache: it looks a handle's
	 * node id up as "." (usmfs_ll_lookup).  Inode numbers are never
	 * reused: generation 0 is enough.
	 */
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	/* chattr on directories too (flags.c) */
	if (conn->capable & FUSE_CAP_IOCTL_DIR)
		conn->want |= FUSE_CAP_IOCTL_DIR;
	/* requests must come through io.c's read (O_TMPFILE, statx) */
	conn->want &= ~FUSE_CAP_SPLICE_READ;
	/*
	 * POSIX ACLs (acl.c): the kernel enforces them and leaves the mode
	 * to us, the umask too (it is ignored under a default ACL).
	 */
	if (!fs.noacl && (conn->capable & FUSE_CAP_POSIX_ACL) &&
	    (conn->capable & FUSE_CAP_DONT_MASK))
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
	fs.acl = (conn->want & FUSE_CAP_POSIX_ACL) != 0;
	fs.writeback = (conn->want & FUSE_CAP_WRITEBACK_CACHE) != 0;
	if (fs.debug)
		fprintf(stderr, "usmfs: writeback cache %s\n",
			fs.writeback ? "on" : "off");
}

static void usmfs_ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct usm_pool_stats ps;
	struct statvfs st;
	uint64_t nodes, ifree;

	(void)ino;
	usm_pool_stats(fs.ctx, &ps);
	pthread_mutex_lock(&fs.lock);
	nodes = fs.ns->nr_nodes;
	ifree = ispace_free_locked() / USMFS_INODE_COST;
	pthread_mutex_unlock(&fs.lock);
	memset(&st, 0, sizeof(st));
	st.f_bsize = USM_PAGE_SIZE;
	st.f_frsize = USM_PAGE_SIZE;
	st.f_blocks = ps.limit ? ps.limit : ps.frames;
	st.f_bfree = st.f_blocks > ps.resident ? st.f_blocks - ps.resident : 0;
	st.f_bavail = st.f_bfree;
	st.f_files = fs.max_inodes;
	st.f_ffree = fs.max_inodes > nodes ? fs.max_inodes - nodes : 0;
	if (st.f_ffree > ifree)		/* xattrs take inode space too */
		st.f_ffree = ifree;
	st.f_favail = st.f_ffree;
	st.f_namemax = USMFS_NAME_MAX;
	fuse_reply_statfs(req, &st);
}

static const struct fuse_lowlevel_ops usmfs_ops = {
	.init		= usmfs_ll_init,
	.lookup		= usmfs_ll_lookup,
	.forget		= usmfs_ll_forget,
	.forget_multi	= usmfs_ll_forget_multi,
	.getattr	= usmfs_ll_getattr,
	.setattr	= usmfs_ll_setattr,
	.readlink	= usmfs_ll_readlink,
	.mknod		= usmfs_ll_mknod,
	.mkdir		= usmfs_ll_mkdir,
	.unlink		= usmfs_ll_unlink,
	.rmdir		= usmfs_ll_rmdir,
	.symlink	= usmfs_ll_symlink,
	.rename		= usmfs_ll_rename,
	.link		= usmfs_ll_link,
	.open		= usmfs_ll_open,
	.read		= usmfs_ll_read,
	.write		= usmfs_ll_write,
	.flush		= usmfs_ll_flush,
	.release	= usmfs_ll_release,
	.fsync		= usmfs_ll_fsync,
	.opendir	= usmfs_ll_opendir,
	.releasedir	= usmfs_ll_releasedir,
	.ioctl		= usmfs_ll_ioctl,
	.readdir	= usmfs_ll_readdir,
	.readdirplus	= usmfs_ll_readdirplus,
	.statfs		= usmfs_ll_statfs,
	.setxattr	= usmfs_ll_setxattr,
	.getxattr	= usmfs_ll_getxattr,
	.listxattr	= usmfs_ll_listxattr,
	.removexattr	= usmfs_ll_removexattr,
	.create		= usmfs_ll_create,
	.fallocate	= usmfs_ll_fallocate,
	.lseek		= usmfs_ll_lseek,
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: usmfs MOUNTPOINT [-o OPTIONS] [-f] [-d] [-s]\n"
"\n"
"usmfs options (as for mount -t usmfs):\n"
"  size=N[K|M|G|%%]     most bytes resident in the pool (%% of RAM; default 50%%)\n"
"  nr_inodes=N         most inodes (default: half the RAM pages)\n"
"  mode=, uid=, gid=   root directory (default 1777, 0, 0)\n"
"  alloc=NAME          default placement policy (firstfit)\n"
"  evict=NAME          default eviction policy (s3fifo)\n"
"  swap=SPEC           none, file:PATH, or a store of the config (none)\n"
"  swapin_timeout=T    bound on waits for swap-in (30s)\n"
"  config=FILE         config file (default " USM_CONFIG_DEFAULT_PATH " if present)\n"
"  max_dirty=N[K|M|G|%%] dirty page cache the kernel may hold for the mount\n"
"                      (default: the pool size; 'default': the kernel's limit)\n"
"  no_killpriv_v2      let the kernel ask for security.capability on each write\n"
"                      (docs/fuse.md)\n"
"other -o options go to libfuse (allow_other, ro, fsname=, no_writeback_cache, ...)\n"
"  -f  foreground   -d  debug (implies -f)   -s  single-threaded\n");
}

struct cmdline {
	const char *mountpoint;
	int mp;				/* its index in argv */
	char opts[OPTS_MAX];
	bool foreground, single, debug;
};

static int opts_append(char *dst, const char *add)
{
	size_t l = strlen(dst), a = strlen(add);

	if (!a)
		return 0;
	if (l + a + 2 > OPTS_MAX) {
		fprintf(stderr, "usmfs: options too long\n");
		return -1;
	}
	if (l)
		dst[l++] = ',';
	memcpy(dst + l, add, a + 1);
	return 0;
}

/* 0, 1 (done: help/version), -1 (error, message printed). */
static int parse_cmdline(int argc, char **argv, struct cmdline *cl)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-o")) {
			if (++i >= argc) {
				fprintf(stderr, "usmfs: -o needs an argument\n");
				return -1;
			}
			if (opts_append(cl->opts, argv[i]))
				return -1;
		} else if (!strncmp(a, "-o", 2)) {
			if (opts_append(cl->opts, a + 2))
				return -1;
		} else if (!strcmp(a, "-f")) {
			cl->foreground = true;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--debug")) {
			cl->debug = cl->foreground = true;
		} else if (!strcmp(a, "-s")) {
			cl->single = true;
		} else if (!strncmp(a, "--serve=", 8)) {
			if (state_parse_serve(a + 8))
				return -1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 1;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("usmfs %d.%d (libfuse %s)\n", USM_VERSION_MAJOR,
			       USM_VERSION_MINOR, fuse_pkgversion());
			return 1;
		} else if (a[0] == '-') {
			fprintf(stderr, "usmfs: unknown argument '%s'\n", a);
			return -1;
		} else if (!cl->mountpoint) {
			cl->mountpoint = a;
			cl->mp = i;
		} else {
			fprintf(stderr, "usmfs: unexpected argument '%s'\n", a);
			return -1;
		}
	}
	if (!cl->mountpoint) {
		fprintf(stderr, "usmfs: no mount point (usmfs -h for help)\n");
		return -1;
	}
	return 0;
}

static bool has_opt(const char *opts, const char *key)
{
	size_t kl = strlen(key);
	const char *p = opts;

	while (p && *p) {
		if (!strncmp(p, key, kl) && (p[kl] == '=' || p[kl] == ',' ||
					     p[kl] == '\0'))
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

/*
 * Keep in the comma-separated @opts the items @keep(item, len, @arg) says
 * to keep, in order.
 */
static void filter_opts(char *opts, bool (*keep)(const char *, size_t, void *),
			void *arg)
{
	char *p = opts, *w = opts;

	while (*p) {
		size_t len = strcspn(p, ",");

		if (keep(p, len, arg)) {
			if (w != opts)
				*w++ = ',';
			memmove(w, p, len);
			w += len;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	*w = '\0';
}

struct take_arg {
	const char *key;
	char *val;
	size_t vlen;
	int found;
};

static bool keep_unless_key(const char *o, size_t len, void *arg)
{
	struct take_arg *t = arg;
	size_t kl = strlen(t->key);

	if (len <= kl || strncmp(o, t->key, kl) || o[kl] != '=')
		return true;
	if (len - kl - 1 >= t->vlen) {
		t->found = -1;
	} else if (t->found >= 0) {
		memcpy(t->val, o + kl + 1, len - kl - 1);
		t->val[len - kl - 1] = '\0';
		t->found = 1;
	}
	return false;
}

/*
 * Remove KEY=VALUE from the comma-separated @opts and copy VALUE to @val.
 * 1 if it was there (the last one counts), 0 if not, -1 if too long.
 */
static int take_opt(char *opts, const char *key, char *val, size_t vlen)
{
	struct take_arg t = { key, val, vlen, 0 };

	filter_opts(opts, keep_unless_key, &t);
	return t.found;
}

/*
 * Options tmpfs takes that libfuse does not know and that change nothing
 * here: the access time ones (the FUSE mount keeps the kernel's default,
 * relatime), lazytime, iversion, acl (the default), noacl (already
 * taken: fs.noacl), inode64 (inode numbers are 64-bit) and huge=never (no huge pages in the
 * kernel's page cache of a FUSE file).  mount(8) passes them to helpers.
 */
static bool keep_unless_noop(const char *o, size_t len, void *arg)
{
	static const char *const noop[] = {
		"relatime", "norelatime", "strictatime", "nostrictatime",
		"lazytime", "nolazytime", "diratime", "nodiratime",
		"iversion", "noiversion", "acl", "noacl", "norestart", "inode64",
		"huge=never",
		"no_killpriv_v2",	/* ours, already taken: fs.no_killpriv */
	};

	(void)arg;
	for (size_t i = 0; i < sizeof(noop) / sizeof(noop[0]); i++)
		if (strlen(noop[i]) == len && !strncmp(o, noop[i], len))
			return false;
	return true;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s)
{
	char *w = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 4;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
}

/*
 * The "MAJ:MIN" of the newest mount on @path (from /proc/self/mountinfo,
 * which does not touch the mount itself: the daemon must not stat its own
 * mount before it serves requests).  0 or -1.
 */
static int mount_devname(const char *path, char *dev, size_t devlen)
{
	char line[8192];
	int found = -1;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok, *devtok = NULL, *mp = NULL;
		int i;

		for (i = 0, tok = strtok_r(line, " ", &save); tok && i < 5;
		     i++, tok = strtok_r(NULL, " ", &save)) {
			if (i == 2)
				devtok = tok;
			if (i == 4)
				mp = tok;
		}
		if (!devtok || !mp)
			continue;
		unescape_octal(mp);
		if (strcmp(mp, path) || strlen(devtok) >= devlen)
			continue;
		strcpy(dev, devtok);
		found = 0;
	}
	fclose(f);
	return found;
}

static unsigned long long read_ull(const char *path)
{
	unsigned long long v = 0;
	char cur[64];
	FILE *f;

	f = fopen(path, "re");
	if (f) {
		if (fgets(cur, sizeof(cur), f))
			v = strtoull(cur, NULL, 10);
		fclose(f);
	}
	return v;
}

/*
 * The kernel lets a FUSE mount hold only a little dirty page cache (1% of
 * the dirty limit, with BDI_CAP_STRICTLIMIT): beyond that, writers wait
 * for the daemon to take the data, page by page.  Set the mount's bdi
 * max_bytes to fs.max_dirty (higher for speed, or lower for a small
 * swap=none mount), then keep what the kernel ends up with as the reserve
 * for its dirty pages (file.c, "A full mount").  A kernel without
 * max_bytes, or no right to write sysfs, keeps its own value; when that
 * cannot be known or leaves nothing of the pool, no reserve is kept and
 * write(2) is refused only once the pool is full.
 */
static void bdi_tune(const char *mnt)
{
	char dev[64], path[128], cur[64];
	unsigned long long have;
	int fd;

	if (!mnt)
		return;
	if (mount_devname(mnt, dev, sizeof(dev))) {
		if (fs.debug)
			fprintf(stderr, "usmfs: %s not in mountinfo\n", mnt);
		return;
	}
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/max_bytes", dev);
	have = read_ull(path);
	if (fs.max_dirty == UINT64_MAX || have == fs.max_dirty)
		goto out;
	snprintf(cur, sizeof(cur), "%llu\n", (unsigned long long)fs.max_dirty);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, cur, strlen(cur)) != (ssize_t)strlen(cur)) {
		if (fs.debug)
			fprintf(stderr, "usmfs: cannot set %s: %s\n", path,
				strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	if (fs.debug)
		fprintf(stderr, "usmfs: %s = %llu (was %llu)\n", path,
			(unsigned long long)fs.max_dirty, have);
	have = read_ull(path);
out:
	fs.reserve = have;
	if (!fs.can_swap &&
	    (!have || have >= (fs.pool_frames << USM_PAGE_SHIFT) / 2)) {
		fprintf(stderr, "usmfs: warning: the kernel may hold %llu bytes "
			"dirty for this %llu-byte swap=none mount: no reserve "
			"kept, write(2) is refused only once the pool is full\n",
			have, (unsigned long long)(fs.pool_frames << USM_PAGE_SHIFT));
		fs.reserve = 0;
	}
}

/*
 * Where to abort our FUSE connection (fusectl): the eviction thread may be
 * inside an invalidation that waits for the write-back of a dirty page when
 * a signal ends the request loop; with no worker left to take that write
 * the daemon would never exit (evict_stop).  The directory is named by the
 * connection's device number, the kernel's encoding of the mount's dev.
 */
static void conn_find(const char *mnt)
{
	unsigned int maj, min;
	char dev[64];

	if (!mnt || mount_devname(mnt, dev, sizeof(dev)) ||
	    sscanf(dev, "%u:%u", &maj, &min) != 2)
		return;
	snprintf(fs.conn_abort, sizeof(fs.conn_abort),
		 "/sys/fs/fuse/connections/%u/abort", (maj << 20) | min);
}

static uint64_t ram_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || psz <= 0)
		return 1ULL << 30;
	return (uint64_t)pages * (uint64_t)psz;
}

/*
 * Create the library context; a store still locked by another daemon
 * (-EBUSY) is waited for, at most USMFS_STORE_WAIT_MS.  umount(2) of a FUSE
 * mount returns before the daemon serving it has seen the end of its
 * connection, so the daemon of the mount just unmounted may still hold the
 * same swap file for a moment (it releases it as it exits).
 */
static int ctx_create_waiting(const struct usm_ctx_params *p, char *err,
			      size_t errlen)
{
	struct timespec ts = { 0, 50 * 1000000L };
	int waited = 0, r;

	for (;;) {
		err[0] = '\0';
		r = usm_ctx_create(p, &fs.ctx, err, errlen);
		if (r != -EBUSY || waited >= USMFS_STORE_WAIT_MS)
			break;
		if (!waited && fs.debug)
			fprintf(stderr, "usmfs: %s: waiting up to %d ms\n",
				err, USMFS_STORE_WAIT_MS);
		nanosleep(&ts, NULL);
		waited += 50;
	}
	return r;
}

/* Say what each store can still take (a warning for one that can take
 * nothing: its filesystem is below the reserve). */
static void log_stores(void)
{
	struct usm_store_info si;
	char line[512];

	for (unsigned int i = 0; usm_ctx_store_info(fs.ctx, i, &si) == 0; i++) {
		int warn = usm_store_describe(&si, line, sizeof(line));

		fprintf(stderr, "usmfs: %s%s\n", warn ? "warning: " : "", line);
	}
}

/* Build the pool, the config and the library context.  0 or -1. */
static int setup_engine(void)
{
	struct usm_ctx_params p;
	char err[512] = "";
	uint64_t ram = ram_bytes(), frames;
	int r;

	usm_mount_opts_resolve(&fs.mo, ram);
	if (!fs.mo.size)
		fs.mo.size = ram / 2;
	frames = fs.mo.size >> USM_PAGE_SHIFT;
	if (frames < 16)
		frames = 16;
	fs.max_inodes = fs.mo.nr_inodes ? fs.mo.nr_inodes :
			(ram >> USM_PAGE_SHIFT) / 2;

	if (fs.mo.config[0]) {
		r = usm_config_load(fs.mo.config, 0, &fs.cfg, err, sizeof(err));
	} else if (access(USM_CONFIG_DEFAULT_PATH, F_OK) == 0) {
		r = usm_config_load(USM_CONFIG_DEFAULT_PATH, 0, &fs.cfg, err,
				    sizeof(err));
	} else {
		r = 0;
	}
	if (r) {
		fprintf(stderr, "usmfs: config: %s\n", err[0] ? err : strerror(-r));
		return -1;
	}
	fs.xattr_cap = frames << USM_PAGE_SHIFT;
	if (serve.on) {		/* a daemon of a supervisor: state.c */
		bool refused;

		if (state_attach(frames, &state_fresh, &refused))
			return refused ? USMFS_EXIT_REFUSED : -1;
	}
	if (pool_map(frames, serve.on ? serve.pool : -1, err, sizeof(err))) {
		fprintf(stderr, "usmfs: %s\n", err);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.ops = &usmfs_backend_ops;
	p.pool_frames = frames;
	p.limit_frames = frames;
	if (fs.cfg) {
		p.low_pct = fs.cfg->low_pct;
		p.high_pct = fs.cfg->high_pct;
	}
	p.mount = &fs.mo;
	p.config = fs.cfg;
	p.wait_timeout_ms = fs.mo.swapin_timeout_ms;
	/* the supervisor's check made the stores and keeps them locked
	 * (a killed daemon may hold its open a while: supervise.c); each
	 * daemon keeps their slots */
	p.store_flags = serve.on ? USM_STORE_KEEP | USM_STORE_UNLOCKED : 0;
	r = ctx_create_waiting(&p, err, sizeof(err));
	if (r) {
		fprintf(stderr, "usmfs: %s\n", err[0] ? err : strerror(-r));
		return -1;
	}
	/* Our backend's round trips are cheap (a queued invalidation) and
	 * a batch is one store write per run of slots: 1 MiB batches spread
	 * the per-batch costs (the write, the invalidation, the lock rounds)
	 * over four times the pages. */
	usm_ctx_set_evict_batch(fs.ctx, USMFS_EVICT_BATCH);
	log_stores();
	return 0;
}

static int setup_root(void)
{
	struct node *root;
	int err = 0;

	if (serve.on && !state_fresh) {	/* a restart: the dead one's */
		fs.ns = &sh->ns;
		return pmap_rebuild();
	}
	if (node_table_init())
		return -1;
	pthread_mutex_lock(&fs.lock);
	root = node_new_locked(S_IFDIR | (fs.mo.mode & 07777), fs.mo.uid,
			       fs.mo.gid, &err);
	if (root) {
		root->nlink = 2;
		root->dir = dir_new();
		if (!root->dir)
			err = ENOMEM;
	}
	fs.ns->root = root;
	pthread_mutex_unlock(&fs.lock);
	if (!root || err || root->ino != FUSE_ROOT_ID) {
		fprintf(stderr, "usmfs: cannot make the root: %s\n",
			strerror(err ? err : EINVAL));
		return -1;
	}
	if (sh)
		__atomic_store_n(&sh->ready, 1, __ATOMIC_RELEASE);
	return 0;
}

static void teardown(void)
{
	evict_stop();
	/* a supervisor's daemon that fails to start leaves the namespace,
	 * the pages and the store's slots to the next one */
	if (!keep_state)
		node_table_free();
	if (fs.ctx && keep_state)
		usm_ctx_keep_slots(fs.ctx);
	if (fs.ctx)
		usm_ctx_destroy(fs.ctx);
	fs.ctx = NULL;
	if (fs.cfg)
		usm_config_free(fs.cfg);
	fs.cfg = NULL;
	pool_unmap();
}

/*
 * Going to the background (no -f): the process forks at once, before any
 * store is opened or thread started (daemon_early), and the parent waits
 * until the child serves (daemon_ready) or exits, and exits with its
 * status; errors still reach the terminal and the exit status.  What the
 * child opens then stays in the process that uses it: a "rados:" store's
 * cluster connection (a librados client does not survive a fork) and its
 * lock, whose cookie names the process holding it, and the threads.
 * fuse_daemonize() forked after all that: the lock then named a process
 * that had exited, which the next mount of the same store on this machine
 * took for a dead holder's and broke, and mounted the same store twice.
 */
static int ready_fd = -1;

static void daemon_early(void)
{
	int p[2], st = 0;
	ssize_t n;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC)) {
		fprintf(stderr, "usmfs: pipe: %s\n", strerror(errno));
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "usmfs: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid == 0) {
		close(p[0]);
		ready_fd = p[1];
		(void)setsid();
		return;
	}
	close(p[1]);
	do
		n = read(p[0], &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);
	/* it ended before serving: its status */
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/* Mounted and about to serve: leave the terminal, and let the parent of
 * daemon_early() exit 0.  Nothing without it (-f). */
static void daemon_ready(void)
{
	char c = 0;
	int fd;

	if (ready_fd < 0)
		return;
	if (chdir("/"))
		(void)0;	/* "/" is there; the mount point is absolute */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(ready_fd, &c, 1) != 1)
		(void)0;	/* the parent is gone: nobody waits */
	close(ready_fd);
	ready_fd = -1;
}

/*
 * Without -o norestart the process that mounts stays as the supervisor
 * (supervise.c) and the daemon runs as its child, started again if it
 * dies.  Returns the exit status.
 */
static int supervised(const struct cmdline *cl, int argc, char **argv,
		      uint64_t pool_bytes)
{
	char *mnt_real = realpath(cl->mountpoint, NULL);
	int ret = 1;

	if (!mnt_real) {
		fprintf(stderr, "usmfs: %s: %s\n", cl->mountpoint,
			strerror(errno));
		return 1;
	}
	if (fuse_session_mount(fs.se, cl->mountpoint))
		goto out;
	bdi_tune(mnt_real);
	daemon_ready();
	ret = supervise(argc, argv, cl->mp, mnt_real, fuse_session_fd(fs.se),
			pool_bytes);
	fuse_session_unmount(fs.se);
out:
	free(mnt_real);
	return ret;
}

int main(int argc, char **argv)
{
	static struct cmdline cl;
	static char rest[OPTS_MAX], fopts[OPTS_MAX + 256], val[256];
	char *mnt_real;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *lc = NULL;
	char err[512] = "";
	int r, ret = 1;

	r = parse_cmdline(argc, argv, &cl);
	if (r)
		return r > 0 ? 0 : 1;
	fs.debug = cl.debug;
	fs.single = cl.single;
	keep_state = serve.on;

	usm_mount_opts_init(&fs.mo);
	r = usm_mount_opts_parse(&fs.mo, cl.opts, rest, sizeof(rest), err,
				 sizeof(err));
	if (r) {
		fprintf(stderr, "usmfs: %s\n",
			err[0] ? err : "bad mount options");
		return 1;
	}

	/* max_dirty= is the daemon's, not the library's nor libfuse's */
	fs.max_dirty = 0;
	r = take_opt(rest, "max_dirty", val, sizeof(val));
	if (r < 0 || (r > 0 && strcmp(val, "default") &&
		      usm_parse_size(val, ram_bytes(), &fs.max_dirty))) {
		fprintf(stderr, "usmfs: bad value for 'max_dirty': '%s' "
			"(expected bytes with K/M/G/T, N%%, or default)\n",
			r < 0 ? "(too long)" : val);
		return 1;
	}
	if (r > 0 && !strcmp(val, "default"))
		fs.max_dirty = UINT64_MAX;

	fs.noacl = has_opt(rest, "noacl");
	fs.norestart = has_opt(rest, "norestart");
	fs.no_killpriv = has_opt(rest, "no_killpriv_v2");
	filter_opts(rest, keep_unless_noop, NULL);

	/* libfuse's options, plus ours */
	snprintf(fopts, sizeof(fopts), "%s%sdefault_permissions%s%s", rest,
		 rest[0] ? "," : "",
		 has_opt(rest, "fsname") ? "" : ",fsname=usmfs",
		 has_opt(rest, "subtype") ? "" : ",subtype=usmfs");
	if (fuse_opt_add_arg(&args, argv[0]) ||
	    fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, fopts) ||
	    (cl.debug && fuse_opt_add_arg(&args, "-d"))) {
		fprintf(stderr, "usmfs: out of memory\n");
		goto out_args;
	}
	conn_opts = fuse_parse_conn_info_opts(&args);
	if (!conn_opts)
		goto out_args;

	if (!cl.foreground && !serve.on)
		daemon_early();
	r = setup_engine();
	if (r == USMFS_EXIT_REFUSED) {
		ret = r;
		goto out_engine;
	}
	if (r || setup_root())
		goto out_engine;
	fs.timeout = 1.0;
	fs.can_swap = fs.mo.swap[0] && strcmp(fs.mo.swap, "none") != 0;
	/* default: the pool size, an eighth of it without a store (it is
	 * kept in reserve: file.c, "A full mount") */
	if (!fs.max_dirty)
		fs.max_dirty = (fs.pool_frames << USM_PAGE_SHIFT) >>
			       (fs.can_swap ? 0 : 3);

	fs.se = fuse_session_new(&args, &usmfs_ops, sizeof(usmfs_ops), NULL);
	if (!fs.se)
		goto out_engine;	/* libfuse said which option */
	if (!serve.on && !fs.norestart) {
		/* the supervisor: everything was checked; its context is
		 * kept for the stores' locks, and never writes to them */
		usm_ctx_keep_slots(fs.ctx);
		ret = supervised(&cl, argc, argv,
				 fs.pool_frames << USM_PAGE_SHIFT);
		goto out_session;
	}
	if (fuse_set_signal_handlers(fs.se))
		goto out_session;
	if (serve.on) {
		/* the supervisor mounted; the mount point is absolute (a
		 * realpath() here would stat our own mount: a deadlock) */
		if (io_setup(fs.se, serve.fuse))
			goto out_signals;
		/* no conn_find(): a supervised connection is never aborted
		 * by its daemon (evict_stop) */
		bdi_tune(cl.mountpoint);
		if (sh->init_len) {	/* a daemon served before us */
			if (io_replay_init(fs.se))
				goto out_signals;
			io_resend(serve.fuse);
		}
	} else {
		mnt_real = realpath(cl.mountpoint, NULL);
		if (fuse_session_mount(fs.se, cl.mountpoint)) {
			free(mnt_real);
			goto out_signals;
		}
		if (io_setup(fs.se, fuse_session_fd(fs.se))) {
			free(mnt_real);
			goto out_unmount;
		}
		bdi_tune(mnt_real);
		conn_find(mnt_real);
		free(mnt_real);
		daemon_ready();
	}
	/*
	 * We are part of the path that cleans this mount's dirty pages:
	 * throttle our own writes (the swap store) only by their own device,
	 * not by the machine-wide dirty limit that our mount's pages fill
	 * (PR_SET_IO_FLUSHER; needs CAP_SYS_RESOURCE, else skipped).  Before
	 * any thread is started: they inherit it.
	 */
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) && fs.debug)
		fprintf(stderr, "usmfs: PR_SET_IO_FLUSHER: %s\n",
			strerror(errno));
	if (evict_start()) {
		fprintf(stderr, "usmfs: cannot start the eviction thread\n");
		goto out_unmount;
	}
	state_serving();

	if (cl.single) {
		r = fuse_session_loop(fs.se);
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc) {
			r = -ENOMEM;
		} else {
			fuse_loop_cfg_set_clone_fd(lc, 0);
			r = fuse_session_loop_mt(fs.se, lc);
			fuse_loop_cfg_destroy(lc);
		}
	}
	ret = r ? 1 : 0;
	if (serve.on && !fuse_conn_gone(serve.fuse)) {
		/*
		 * Stopped (SIGTERM: usmctl restart) with the mount in place:
		 * leave everything to the next daemon, as a kill would (the
		 * state is kept consistent for that at every moment), and do
		 * not wait for an eviction thread that may be waiting for the
		 * kernel: a write-back only the next daemon can answer.
		 */
		fflush(stderr);
		_exit(ret);
	}
	keep_state = false;	/* unmounted: clean up, store included */
	evict_stop();
out_unmount:
	if (!serve.on)		/* the supervisor's mount is its own */
		fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
	fs.se = NULL;
out_engine:
	teardown();
	free(conn_opts);
out_args:
	fuse_opt_free_args(&args);
	return ret;
}
