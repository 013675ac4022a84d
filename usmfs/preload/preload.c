// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * preload.c - libusmfs-preload: put a program's heap in a file on usmfs.
 *
 *	LD_PRELOAD=libusmfs-preload.so USMFS_DIR=/mnt/usm prog
 *
 * The constructor checks USMFS_DIR (set, a directory, on a usmfs mount),
 * reserves address space, creates USMFS_DIR/<prog>.<pid>.heap and turns
 * the allocator in heap.c on.  Anything wrong: one warning, and the
 * program runs exactly as without the library.
 *
 * The file's life:
 *   - it keeps its name while the program runs (usmctl and getfattr see
 *     it) and is unlinked by the destructor at exit, and before an exec
 *     (the new image starts clean: with its own file if it is preloaded);
 *   - after fork() the child must not share the parent's heap: a
 *     MAP_SHARED mapping would, where anonymous memory is copy-on-write.
 *     The atfork child handler copies the parent's data into a new file
 *     <prog>.<childpid>.heap and maps it over the same addresses, with the
 *     protections /proc/self/maps shows; the parent waits (on a pipe)
 *     until the copy is done, so the child sees the heap as of fork();
 *   - files left by processes that died without exit() (SIGKILL, _exit())
 *     are removed by the next preloaded process that starts on the same
 *     directory and finds their pid gone (USMFS_SWEEP=0 turns that off).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

#define EXPORT __attribute__((visibility("default")))
#define RESV_DEFAULT	((size_t)64 << 30)	/* 64 GiB of address space */
#define RESV_MIN	((size_t)256 << 20)
#define RESV_ALIGN	((size_t)2 << 20)

struct up_state up = {
	.fd = -1,
	.dirfd = -1,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

extern char **environ;
static pid_t owner_pid;		/* the process whose file up.name is */
static char dir_path[4096];	/* USMFS_DIR made absolute */
static dev_t dir_dev;
static ino_t dir_ino;
static int fork_pipe[2] = { -1, -1 };

/*
 * One warning for a program and every program it runs: the first to warn
 * sets USMFS_PRELOAD_WARNED=1 in the environment its children inherit
 * (a shell script under the library would warn once per command otherwise).
 */
static void warn_disabled(const char *fmt, ...)
{
	const char *warned = getenv("USMFS_PRELOAD_WARNED");
	char msg[1024];
	int n;
	va_list ap;

	if (warned && !strcmp(warned, "1"))
		return;
	setenv("USMFS_PRELOAD_WARNED", "1", 1);
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 64, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(msg) - 64)
		n = (int)sizeof(msg) - 64;
	n += snprintf(msg + n, sizeof(msg) - (size_t)n,
		      "; running without usmfs\n");
	fprintf(stderr, "libusmfs-preload: %s: %s",
		program_invocation_short_name, msg);
}

/* "1M", "4096", "64k" -> bytes; -1 if malformed. */
static int parse_size(const char *s, size_t *out)
{
	unsigned long long v = 0;
	const char *p = s;
	int shift = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	default: break;
	}
	if (shift && (*p == 'i' || *p == 'I'))
		p++;
	if (shift && (*p == 'b' || *p == 'B'))
		p++;
	if (*p || (shift && v > (~0ULL >> shift)))
		return -1;
	*out = (size_t)(v << shift);
	return 0;
}

/*
 * The type of the filesystem that device @dev is mounted from, from
 * /proc/self/mountinfo ("36 25 0:52 / /mnt/usm rw - fuse.usmfs usmfs ..."),
 * into @type; -1 if not found.
 */
static int mount_type(dev_t dev, char *type, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int found = -1;

	if (!f)
		return -1;
	while (found < 0 && fgets(line, sizeof(line), f)) {
		unsigned int maj, min;
		char *sep, *end;

		if (sscanf(line, "%*u %*u %u:%u", &maj, &min) != 2 ||
		    makedev(maj, min) != dev)
			continue;
		sep = strstr(line, " - ");
		if (!sep)
			continue;
		sep += 3;
		end = strchr(sep, ' ');
		if (!end || (size_t)(end - sep) >= len)
			continue;
		memcpy(type, sep, (size_t)(end - sep));
		type[end - sep] = '\0';
		found = 0;
	}
	fclose(f);
	return found;
}

/* Append decimal @v to @p (no stdio: used in the fork child). */
static char *put_uint(char *p, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* "<prog>.<pid>.heap", prog reduced to [A-Za-z0-9_+-], at most 64 bytes. */
static void heap_name(char *buf, pid_t pid)
{
	const char *prog = program_invocation_short_name;
	char *p = buf;
	int i;

	for (i = 0; prog && prog[i] && i < 64; i++) {
		char c = prog[i];

		*p++ = (isalnum((unsigned char)c) || c == '_' || c == '-' ||
			c == '+') ? c : '_';
	}
	if (p == buf) {
		memcpy(p, "prog", 4);
		p += 4;
	}
	*p++ = '.';
	p = put_uint(p, (unsigned long)pid);
	memcpy(p, ".heap", 6);
}

/* @fd moved to a number >= UP_FD_MIN if the limit allows. */
static int high_fd(int fd)
{
	int nfd;

	if (fd < 0 || fd >= UP_FD_MIN)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, UP_FD_MIN);
	if (nfd < 0)
		return fd;
	close(fd);
	return nfd;
}

/* Create USMFS_DIR/<name> for @pid; the fd or -1 (errno). */
static int heap_create(pid_t pid, char *name, dev_t *dev, ino_t *ino)
{
	struct stat st;
	int fd, tries;

	heap_name(name, pid);
	/* Is up.dirfd still USMFS_DIR (the program may close fds)? */
	if (fstat(up.dirfd, &st) < 0 || st.st_dev != dir_dev ||
	    st.st_ino != dir_ino) {
		errno = EBADF;
		return -1;
	}
	for (tries = 0; tries < 2; tries++) {
		fd = openat(up.dirfd, name,
			    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			    0600);
		if (fd >= 0 && fstat(fd, &st) < 0) {
			unlinkat(up.dirfd, name, 0);
			close(fd);
			return -1;
		}
		if (fd >= 0) {
			*dev = st.st_dev;
			*ino = st.st_ino;
			return high_fd(fd);
		}
		if (errno != EEXIST)
			return fd;
		/* A file for our own pid is left over from an older image. */
		unlinkat(up.dirfd, name, 0);
	}
	return -1;
}

/* Remove <prog>.<pid>.heap files of ours whose process is gone. */
static void sweep_stale(void)
{
	int d = openat(up.dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;

	if (d < 0)
		return;
	dir = fdopendir(d);
	if (!dir) {
		close(d);
		return;
	}
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		const char *dot;
		struct stat st;
		char *end;
		long pid;

		if (len < 8 || strcmp(de->d_name + len - 5, ".heap"))
			continue;
		dot = memrchr(de->d_name, '.', len - 5);
		if (!dot || !isdigit((unsigned char)dot[1]))
			continue;
		pid = strtol(dot + 1, &end, 10);
		if (end != de->d_name + len - 5 || pid <= 0)
			continue;
		if (fstatat(d, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != geteuid())
			continue;
		if (pid == getpid() ||
		    (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			unlinkat(d, de->d_name, 0);
	}
	closedir(dir);
}

static void at_prepare(void);
static void at_parent(void);
static void at_child(void);

static int reserve(size_t resv)
{
	size_t ng = resv >> UP_GRAN_SHIFT;
	char *p, *a;

	for (; resv >= RESV_MIN; resv /= 2, ng /= 2) {
		p = up_sys_mmap(NULL, resv + RESV_ALIGN, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
		if (p == MAP_FAILED)
			continue;
		a = (char *)(((uintptr_t)p + RESV_ALIGN - 1) &
			     ~(RESV_ALIGN - 1));
		if (a > p)
			up_sys_munmap(p, (size_t)(a - p));
		up_sys_munmap(a + resv, (size_t)(p + RESV_ALIGN - a));
		up.gt = up_sys_mmap(NULL, ng * sizeof(struct up_gent),
				    PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				    -1, 0);
		if (up.gt == MAP_FAILED) {
			up.gt = NULL;
			up_sys_munmap(a, resv);
			continue;
		}
		up.base = a;
		up.resv = resv;
		up.ngran_max = (uint32_t)ng;
		return 0;
	}
	return -1;
}

__attribute__((constructor)) static void up_init(void)
{
	const char *dir = getenv("USMFS_DIR");
	const char *min = getenv("USMFS_MIN_SIZE");
	const char *any = getenv("USMFS_PRELOAD_ALLOW_ANY");
	const char *sweep = getenv("USMFS_SWEEP");
	char type[64];
	struct stat st;

	const char *retain = getenv("USMFS_RETAIN");
	size_t retain_bytes = (size_t)128 << 20;

	up.min_size = (size_t)1 << 20;
	if (min && *min && parse_size(min, &up.min_size) < 0) {
		warn_disabled("bad USMFS_MIN_SIZE '%s' (a size like 1M)", min);
		return;
	}
	if (retain && *retain && parse_size(retain, &retain_bytes) < 0) {
		warn_disabled("bad USMFS_RETAIN '%s' (a size like 32M)", retain);
		return;
	}
	if (!dir || !*dir) {
		warn_disabled("USMFS_DIR is not set");
		return;
	}
	up.dirfd = high_fd(open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
	if (up.dirfd < 0 || fstat(up.dirfd, &st) < 0) {
		warn_disabled("USMFS_DIR=%s: %s", dir, strerror(errno));
		goto fail;
	}
	dir_dev = st.st_dev;
	dir_ino = st.st_ino;
	if (!realpath(dir, dir_path))
		dir_path[0] = '\0';
	if (mount_type(st.st_dev, type, sizeof(type)) < 0)
		snprintf(type, sizeof(type), "unknown");
	if (strcmp(type, "usmfs") && strcmp(type, "fuse.usmfs") &&
	    !(any && !strcmp(any, "1"))) {
		warn_disabled("USMFS_DIR=%s is on %s, not usmfs", dir, type);
		goto fail;
	}
	retain_bytes >>= UP_GRAN_SHIFT;
	up.retain_max = retain_bytes > UINT32_MAX ? UINT32_MAX :
						   (uint32_t)retain_bytes;
	if (reserve(RESV_DEFAULT) < 0) {
		warn_disabled("cannot reserve address space for the heap");
		goto fail;
	}
	if (!(sweep && !strcmp(sweep, "0")))
		sweep_stale();
	up.fd = heap_create(getpid(), up.name, &up.dev, &up.ino);
	if (up.fd < 0) {
		warn_disabled("cannot create %s/%s: %s", dir, up.name,
			      strerror(errno));
		goto fail;
	}
	owner_pid = getpid();
	up.linked = 1;
	up.punch_ok = 1;
	if (pthread_atfork(at_prepare, at_parent, at_child)) {
		unlinkat(up.dirfd, up.name, 0);
		close(up.fd);
		up.fd = -1;
		warn_disabled("pthread_atfork failed");
		goto fail;
	}
	__atomic_store_n(&up.enabled, 1, __ATOMIC_RELEASE);
	return;
fail:
	if (up.dirfd >= 0)
		close(up.dirfd);
	up.dirfd = -1;
}

void up_unlink_heap(void)
{
	struct stat st;

	if (!up.enabled || !up.linked || getpid() != owner_pid)
		return;
	up.linked = 0;
	/* The program may have closed our directory fd: then by path. */
	if (fstat(up.dirfd, &st) == 0 && st.st_dev == dir_dev &&
	    st.st_ino == dir_ino) {
		unlinkat(up.dirfd, up.name, 0);
	} else if (dir_path[0]) {
		char path[sizeof(dir_path) + sizeof(up.name) + 1];
		size_t n = strlen(dir_path);

		memcpy(path, dir_path, n);
		path[n] = '/';
		memcpy(path + n + 1, up.name, strlen(up.name) + 1);
		unlink(path);
	}
}

__attribute__((destructor)) static void up_fini(void)
{
	/* The mapping stays valid: later destructors may still use it. */
	up_unlink_heap();
}

/* ---- fork -------------------------------------------------------------- */

static char copy_buf[256 << 10];

static ssize_t child_log(const char *a, const char *b)
{
	ssize_t r = write(2, "libusmfs-preload: ", 18);

	r += write(2, a, strlen(a));
	r += write(2, b, strlen(b));
	r += write(2, "\n", 1);
	return r;
}

/*
 * Copy the data of [off, off+len) from @from to @to (holes stay holes
 * when @seek_data: the caller has written dirty pages back, so that the
 * filesystem's SEEK_DATA knows them).
 */
static int copy_file_data(int from, int to, off_t off, off_t len,
			  int seek_data)
{
	off_t end = off + len;

	while (off < end) {
		off_t d = seek_data ? lseek(from, off, SEEK_DATA) : -1, h;

		if (d < 0 && errno == ENXIO)
			return 0;
		if (d < 0) {		/* no SEEK_DATA: copy it all */
			d = off;
			h = end;
		} else {
			h = lseek(from, d, SEEK_HOLE);
			if (h < 0 || h > end)
				h = end;
		}
		if (d >= end)
			return 0;
		while (d < h) {
			size_t n = (size_t)(h - d) < sizeof(copy_buf) ?
				   (size_t)(h - d) : sizeof(copy_buf);
			ssize_t r = pread(from, copy_buf, n, d), w, done = 0;

			if (r <= 0)
				return -1;
			while (done < r) {
				w = pwrite(to, copy_buf + done,
					   (size_t)(r - done), d + done);
				if (w <= 0)
					return -1;
				done += w;
			}
			d += r;
		}
		off = h;
	}
	return 0;
}

static unsigned long parse_hex(const char **s)
{
	unsigned long v = 0;

	for (;; (*s)++) {
		char c = **s;

		if (c >= '0' && c <= '9')
			v = v * 16 + (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (unsigned long)(c - 'a' + 10);
		else
			return v;
	}
}

/*
 * Call @fn for every file-backed VMA of /proc/self/maps inside
 * [lo, hi), clipped, with its protection.  No malloc, no stdio.
 */
static int for_each_vma(char *lo, char *hi,
			int (*fn)(char *start, size_t len, int prot, void *arg),
			void *arg)
{
	static char buf[8192];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	size_t have = 0;
	int rc = 0;

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *nl, *line;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = '\0';
		line = buf;
		while ((nl = strchr(line, '\n'))) {
			const char *s = line;
			unsigned long a, b, inode;
			int prot = 0;

			*nl = '\0';
			a = parse_hex(&s);
			s++;
			b = parse_hex(&s);
			s++;
			if (s[0] == 'r')
				prot |= PROT_READ;
			if (s[1] == 'w')
				prot |= PROT_WRITE;
			if (s[2] == 'x')
				prot |= PROT_EXEC;
			/* "rw-s OFFSET DEV INODE" */
			s = strchr(s, ' ');
			s = s ? strchr(s + 1, ' ') : NULL;
			s = s ? strchr(s + 1, ' ') : NULL;
			inode = s ? strtoul(s + 1, NULL, 10) : 0;
			if (inode && (char *)b > lo && (char *)a < hi) {
				char *x = (char *)a < lo ? lo : (char *)a;
				char *y = (char *)b > hi ? hi : (char *)b;

				if (fn(x, (size_t)(y - x), prot, arg) < 0)
					rc = -1;
			}
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0;	/* an absurd line: drop it */
	}
	close(fd);
	return rc;
}

static int remap_file(char *start, size_t len, int prot, void *arg)
{
	int fd = *(int *)arg;
	void *p = up_sys_mmap(start, len, prot, MAP_SHARED | MAP_FIXED, fd,
			      start - up.base);

	return p == MAP_FAILED ? -1 : 0;
}

/* Replace [start, start+len) by a private anonymous copy of itself. */
static int remap_anon(char *start, size_t len, int prot, void *arg)
{
	char *tmp = up_sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)arg;
	if (tmp == MAP_FAILED)
		return -1;
	if (!(prot & PROT_READ))
		syscall(SYS_mprotect, start, len, prot | PROT_READ);
	memcpy(tmp, start, len);
	syscall(SYS_mprotect, tmp, len, prot);
	if ((void *)syscall(SYS_mremap, tmp, len, len,
			    MREMAP_MAYMOVE | MREMAP_FIXED, start) == MAP_FAILED)
		return -1;
	return 0;
}

/* In the child: give it its own heap file with the parent's data. */
static void child_rehome(void)
{
	char *lo = up.base, *hi = up.base + ((size_t)up.hwm << UP_GRAN_SHIFT);
	int old = up.fd, nfd, seek_data;
	char name[sizeof(up.name)];
	dev_t dev;
	ino_t ino;
	uint32_t g;

	struct stat st;

	owner_pid = getpid();
	up.linked = 0;
	if (old < 0)
		return;		/* anonymous already: copy-on-write */
	/* The program may have closed our fd (and reused its number). */
	if (fstat(old, &st) < 0 || st.st_dev != up.dev || st.st_ino != up.ino) {
		old = -1;
		goto anon;
	}
	nfd = heap_create(owner_pid, name, &dev, &ino);
	if (nfd < 0)
		goto anon;
	if (ftruncate(nfd, (off_t)(hi - lo)) < 0)
		goto drop;
	/* FUSE's writeback cache: let the filesystem see every page. */
	seek_data = fdatasync(old) == 0;
	for (g = 0; g < up.hwm; ) {
		uint32_t s = g;

		if (up.gt[g].kind == UP_G_FREE) {
			g += up.gt[g].ngran;
			continue;
		}
		while (g < up.hwm && up.gt[g].kind != UP_G_FREE)
			g++;
		if (copy_file_data(old, nfd, (off_t)s << UP_GRAN_SHIFT,
				   (off_t)(g - s) << UP_GRAN_SHIFT,
				   seek_data) < 0)
			goto drop;
	}
	if (for_each_vma(lo, hi, remap_file, &nfd) < 0) {
		/* Some VMAs may already use the new file: it must stay. */
		child_log("fork: cannot remap the heap", "; aborting");
		abort();
	}
	close(old);
	up.fd = nfd;
	up.dev = dev;
	up.ino = ino;
	memcpy(up.name, name, sizeof(name));
	up.linked = 1;
	return;
drop:
	unlinkat(up.dirfd, name, 0);
	close(nfd);
anon:
	child_log("fork: cannot copy the heap to a new file",
		  "; the child's heap is anonymous memory");
	if (for_each_vma(lo, hi, remap_anon, NULL) < 0) {
		child_log("fork: cannot copy the heap", "; aborting");
		abort();
	}
	if (old >= 0)
		close(old);
	up.fd = -1;
}

static void at_prepare(void)
{
	if (!up.enabled)
		return;
	pthread_mutex_lock(&up.lock);
	if (pipe2(fork_pipe, O_CLOEXEC) < 0)
		fork_pipe[0] = fork_pipe[1] = -1;
}

static void at_parent(void)
{
	char c;

	if (!up.enabled)
		return;
	if (fork_pipe[0] >= 0) {
		close(fork_pipe[1]);
		/* Until the child has its copy, the heap must not change. */
		while (read(fork_pipe[0], &c, 1) < 0 && errno == EINTR)
			;
		close(fork_pipe[0]);
	}
	pthread_mutex_unlock(&up.lock);
}

static void at_child(void)
{
	if (!up.enabled)
		return;
	if (fork_pipe[0] >= 0)
		close(fork_pipe[0]);
	child_rehome();
	if (fork_pipe[1] >= 0)
		close(fork_pipe[1]);
	pthread_mutex_unlock(&up.lock);
}

/* ---- exec: the file goes with the image --------------------------------- */

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	up_unlink_heap();
	return (int)syscall(SYS_execve, path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

static void *next_sym(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	int (*real)(const char *, char *const[], char *const[]) =
		(int (*)(const char *, char *const[], char *const[]))
		next_sym("execvpe");

	up_unlink_heap();
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(file, argv, envp);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	int (*real)(int, char *const[], char *const[]) =
		(int (*)(int, char *const[], char *const[]))next_sym("fexecve");

	up_unlink_heap();
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd, argv, envp);
}

/* execl*(): collect the arguments, then as execv*(). */
#define COLLECT_ARGS(arg0, ap, n)					\
	do {								\
		va_list cp;						\
		(void)(arg0);	/* non-NULL, as glibc's execl() assumes */ \
		n = 1;							\
		va_copy(cp, ap);					\
		while (va_arg(cp, char *))				\
			n++;						\
		va_end(cp);						\
	} while (0)

EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	size_t n, i;

	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, n);
	{
		char *argv[n + 1];

		argv[0] = (char *)arg;
		for (i = 1; i <= n; i++)
			argv[i] = va_arg(ap, char *);
		va_end(ap);
		return execve(path, argv, environ);
	}
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	size_t n, i;

	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, n);
	{
		char *argv[n + 1];

		argv[0] = (char *)arg;
		for (i = 1; i <= n; i++)
			argv[i] = va_arg(ap, char *);
		va_end(ap);
		return execvpe(file, argv, environ);
	}
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	size_t n, i;
	char *const *envp;

	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, n);
	{
		char *argv[n + 1];

		argv[0] = (char *)arg;
		for (i = 1; i <= n; i++)
			argv[i] = va_arg(ap, char *);
		envp = va_arg(ap, char *const *);
		va_end(ap);
		return execve(path, argv, envp);
	}
}

/* _exit() skips destructors (dash and many fork children end with it). */
EXPORT void _exit(int status)
{
	up_unlink_heap();
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

EXPORT void _Exit(int status)
{
	_exit(status);
}
