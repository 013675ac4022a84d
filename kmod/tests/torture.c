// SPDX-License-Identifier: GPL-2.0-only
/*
 * kmod/tests/torture.c - everything at once on usmfs mounts whose data is
 * much bigger than the pool, while usm-policyd evicts (built -static on
 * the host, run in the guest by tests/vm/torture-guest.sh).
 *
 *   torture [OPTIONS] MNT MNT2 SECONDS
 *
 * MNT is mounted (swap to a store of the server's); the program starts
 * usm-policyd itself (-P, its log -L) and forks the actors:
 *   writers     each owns some files of MNT: writes runs of pages with
 *               pwrite or through a shared mapping, truncates (to any
 *               64-byte boundary, and back) and punches holes;
 *   verifiers   read runs of any file with pread or a shared mapping;
 *   killer      forks readers of pages just asked out (user.usm.reclaim)
 *               and SIGKILLs them at random moments;
 *   server      SIGSTOPs and SIGCONTs usm-policyd, SIGKILLs and restarts it;
 *   policy      setxattr user.usm.evict/prio/alloc/reclaim on the files;
 *   remount     mounts MNT2, fills and checks two files, asks them out,
 *               unmounts while the server evicts them, over and over.
 * Every page carries its identity: a header (magic, file id, page index,
 * generation, a checksum of the rest) and a body derived from the three.
 * A shared model says what each page must hold (generation, and which
 * 64-byte slots truncation or punching zeroed); a reader compares what it
 * read when no writer touched the page meanwhile (a sequence count per
 * page), and says whose page it found instead.  After SECONDS every page
 * of every file is read back and compared.  Prints the run's figures;
 * exits 1 on any mismatch or unexpected error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define PG		4096
#define SLOT		64			/* zeroing granularity, bytes */
#define NSLOT		(PG / SLOT)
#define MAGIC		0x544d5355u		/* "USMT" */
#define GEN_UNKNOWN	0xffffffffu		/* a failed write: not checked */
#define MAXRUN		64			/* pages per read or write */
#define M2_FILES	2
#define M2_FID		1000
#define MAX_MSGS	25		/* of each kind */

struct page_model {
	uint32_t seq;		/* odd while a writer changes the page */
	uint32_t gen;		/* 0: a hole (all zero) */
	uint64_t zmask;		/* 64-byte slots zeroed since gen was written */
};

enum ctr {
	C_VERIFIED, C_FINAL, C_SKIPPED, C_MISMATCH, C_ERRORS, C_WRITES,
	C_MMAP_WRITES, C_TRUNCS, C_PUNCHES, C_READERS, C_KILLS, C_STOPS,
	C_SRV_KILLS, C_RESTARTS, C_REMOUNTS, C_M2_PAGES, C_M2_EV, C_M2_SI,
	C_POLICY, C_RECLAIMS, C_SIGBUS, C_NCTR
};

static const char *const ctr_name[C_NCTR] = {
	"verified", "final_verified", "skipped", "mismatches", "errors",
	"writes", "mmap_writes", "truncates", "punches", "readers", "kills",
	"server_stops", "server_kills", "server_restarts", "remounts",
	"mnt2_pages", "mnt2_evictions", "mnt2_swapins", "policy_changes",
	"reclaims", "sigbus",
};

struct shared {
	int stop;
	int msgs[2];		/* errors, mismatches shown */
	uint32_t gen_next;
	uint64_t ctr[C_NCTR];
	struct page_model pg[];
};

static struct shared *sh;
static int nfiles = 8, npages = 1024, nwriters = 3, nverifiers = 2;
static const char *mnt, *mnt2, *pd_cmd = "usm-policyd";
static const char *pd_log = "/var/log/usm-policyd.log";
static const char *m2_opts = "size=4M,swap=guest,swapin_timeout=60s";
static uint64_t rng;
static const char *skip = "";	/* actors left out: -x NAME,... */

static void add(enum ctr c, uint64_t n)
{
	__atomic_add_fetch(&sh->ctr[c], n, __ATOMIC_RELAXED);
}

static uint64_t get(enum ctr c)
{
	return __atomic_load_n(&sh->ctr[c], __ATOMIC_RELAXED);
}

static int stopping(void)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE);
}

/* A message on stderr, at most MAX_MSGS of each KIND in the whole run. */
static void msg(int kind, const char *fmt, ...)
{
	va_list ap;

	if (__atomic_add_fetch(&sh->msgs[kind], 1, __ATOMIC_RELAXED) > MAX_MSGS)
		return;
	va_start(ap, fmt);
	fputs("torture: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* An unexpected error: counted, and it fails the run. */
static void error(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	add(C_ERRORS, 1);
	msg(0, "ERROR %s", buf);
}

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned int below(unsigned int n)
{
	return n ? (unsigned int)(rnd() % n) : 0;
}

static void seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	rng = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ 0x9e3779b97f4a7c15ull;
	rnd();
}

static void pause_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- page identity ------------------------------------------------------ */

static uint32_t fnv(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static uint64_t slots(unsigned int from, unsigned int to)
{
	if (to - from >= NSLOT)
		return ~0ull;
	return ((1ull << (to - from)) - 1) << from;
}

/* What page IDX of file FID holds at GEN with the slots of ZMASK zeroed. */
static void make_page(uint8_t *p, uint32_t fid, uint32_t idx, uint32_t gen,
		      uint64_t zmask)
{
	uint32_t *w = (uint32_t *)p;
	uint64_t x = ((uint64_t)fid << 44) ^ ((uint64_t)idx << 20) ^ gen ^
		     0x2545f4914f6cdd1dull;
	unsigned int i;

	if (!gen || zmask == ~0ull) {
		memset(p, 0, PG);
		return;
	}
	for (i = 8; i < PG / 4; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = (uint32_t)(x >> 11);
	}
	w[0] = MAGIC;
	w[1] = fid;
	w[2] = idx;
	w[3] = gen;
	w[4] = fnv(p + 32, PG - 32);
	w[5] = ~fid;
	w[6] = ~idx;
	w[7] = ~gen;
	for (i = 0; i < NSLOT; i++)
		if (zmask & (1ull << i))
			memset(p + i * SLOT, 0, SLOT);
}

/* Whose page P is, as far as it says. */
static void describe(char *out, size_t n, const uint8_t *p)
{
	const uint32_t *w = (const uint32_t *)p;
	size_t i, nz = 0;

	for (i = 0; i < PG; i++)
		nz += p[i] != 0;
	if (!nz) {
		snprintf(out, n, "all zero");
	} else if (w[0] == MAGIC && w[5] == ~w[1] && w[6] == ~w[2] && w[7] == ~w[3]) {
		snprintf(out, n, "file %u page %u gen %u (%s)", w[1], w[2], w[3],
			 w[4] == fnv(p + 32, PG - 32) ? "intact" :
			 "its body damaged or partly zero");
	} else {
		snprintf(out, n, "no page header, %zu non-zero bytes", nz);
	}
}

/*
 * Compare page IDX of file FID as read (GOT) with the model; returns 0 or
 * 1 (a mismatch, reported).
 */
static int check_page(const uint8_t *got, uint32_t fid, uint32_t idx,
		      uint32_t gen, uint64_t zmask, const char *how)
{
	uint8_t want[PG];
	char found[128];
	unsigned int i;

	make_page(want, fid, idx, gen, zmask);
	if (!memcmp(want, got, PG))
		return 0;
	for (i = 0; i < PG && want[i] == got[i]; i++)
		;
	describe(found, sizeof(found), got);
	add(C_MISMATCH, 1);
	msg(1, "MISMATCH (%s) file %u page %u: expected gen %u zeroed slots %#llx, found %s; first difference at byte %u",
	    how, fid, idx, gen, (unsigned long long)zmask, found, i);
	return 1;
}

/* ---- the model ---------------------------------------------------------- */

static struct page_model *pm(unsigned int f, unsigned int i)
{
	return &sh->pg[(size_t)f * (size_t)npages + i];
}

static void begin(unsigned int f, unsigned int first, unsigned int n)
{
	unsigned int i;

	for (i = first; i < first + n; i++)
		__atomic_add_fetch(&pm(f, i)->seq, 1, __ATOMIC_SEQ_CST);
}

static void end(unsigned int f, unsigned int first, unsigned int n)
{
	begin(f, first, n);
}

static void file_path(char *buf, size_t n, const char *dir, unsigned int fid)
{
	snprintf(buf, n, "%s/t.%u", dir, fid);
}

static int open_file(const char *dir, unsigned int fid, int flags)
{
	char path[256];
	int fd;

	file_path(path, sizeof(path), dir, fid);
	fd = open(path, flags, 0644);
	if (fd < 0)
		error("open %s: %s", path, strerror(errno));
	return fd;
}

static sigjmp_buf bus_jb;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	(void)sig;
	if (bus_armed)
		siglongjmp(bus_jb, 1);
	_exit(99);
}

static void catch_sigbus(void)
{
	struct sigaction sa = { .sa_handler = on_sigbus };

	sigaction(SIGBUS, &sa, NULL);
}

/*
 * Read pages [first, +n) of file F into BUF, by pread or through a shared
 * mapping (MAP); returns the bytes read, -1 on an error (errno; EFAULT for
 * SIGBUS).
 */
static ssize_t read_run(int fd, unsigned int first, unsigned int n,
			uint8_t *buf, int map)
{
	size_t len = (size_t)n * PG, done = 0;
	off_t off = (off_t)first * PG;

	if (map) {
		uint8_t *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);

		if (p == MAP_FAILED)
			return -1;
		bus_armed = 1;
		if (sigsetjmp(bus_jb, 1)) {
			bus_armed = 0;
			munmap(p, len);
			add(C_SIGBUS, 1);
			errno = EFAULT;
			return -1;
		}
		memcpy(buf, p, len);
		bus_armed = 0;
		munmap(p, len);
		return (ssize_t)len;
	}
	while (done < len) {
		ssize_t r = pread(fd, buf + done, len - done, off + (off_t)done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (!r)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/*
 * Read and check pages [first, +n) of file F: a page counts when no writer
 * touched it from before the read to after it.  Returns the mismatches.
 */
static int verify_run(int fd, unsigned int f, unsigned int first,
		      unsigned int n, int map, const char *how, enum ctr counter)
{
	static uint8_t buf[MAXRUN * PG];
	uint32_t s1[MAXRUN], gen[MAXRUN];
	uint64_t zm[MAXRUN];
	unsigned int i, unstable = 0;
	char stable[MAXRUN];
	int bad = 0, err;
	ssize_t r;

	for (i = 0; i < n; i++) {
		struct page_model *m = pm(f, first + i);

		s1[i] = __atomic_load_n(&m->seq, __ATOMIC_SEQ_CST);
		gen[i] = m->gen;
		zm[i] = m->zmask;
	}
	r = read_run(fd, first, n, buf, map);
	err = errno;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < n; i++) {
		struct page_model *m = pm(f, first + i);
		uint32_t s2 = __atomic_load_n(&m->seq, __ATOMIC_SEQ_CST);

		stable[i] = !(s1[i] & 1) && s1[i] == s2 && gen[i] != GEN_UNKNOWN;
		unstable += !stable[i];
	}
	/* an error of a run that a writer touched may be that writer's doing */
	if (r < 0 && unstable) {
		add(C_SKIPPED, n);
		return 0;
	}
	if (r < 0) {
		error("%s file %u pages %u+%u: %s of acknowledged pages: %s",
		      how, f, first, n, map ? "mapped read" : "pread", strerror(err));
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (!stable[i]) {
			add(C_SKIPPED, 1);
			continue;
		}
		if ((size_t)r < (size_t)(i + 1) * PG) {
			error("%s file %u page %u: short read (%zd bytes for %u pages) with no truncation",
			      how, f, first + i, r, n);
			return bad + 1;
		}
		bad += check_page(buf + (size_t)i * PG, f, first + i, gen[i], zm[i], how);
		add(counter, 1);
	}
	return bad;
}

/* ---- writers ------------------------------------------------------------ */

static void write_run(int fd, unsigned int f, unsigned int first, unsigned int n,
		      int map)
{
	static uint8_t buf[MAXRUN * PG];
	uint32_t gen[MAXRUN];
	size_t len = (size_t)n * PG;
	off_t off = (off_t)first * PG;
	unsigned int i;
	volatile int ok = 1;

	begin(f, first, n);
	for (i = 0; i < n; i++) {
		gen[i] = __atomic_add_fetch(&sh->gen_next, 1, __ATOMIC_RELAXED);
		make_page(buf + (size_t)i * PG, f, first + i, gen[i], 0);
	}
	if (map) {
		uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

		if (p == MAP_FAILED) {
			error("mmap file %u: %s", f, strerror(errno));
			ok = 0;
		} else {
			bus_armed = 1;
			if (sigsetjmp(bus_jb, 1)) {
				add(C_SIGBUS, 1);
				error("SIGBUS writing file %u pages %u+%u through a mapping", f, first, n);
				ok = 0;
			} else {
				memcpy(p, buf, len);
			}
			bus_armed = 0;
			munmap(p, len);
			add(C_MMAP_WRITES, 1);
		}
	} else {
		ssize_t r = pwrite(fd, buf, len, off);

		if (r != (ssize_t)len) {
			error("pwrite file %u pages %u+%u: %s", f, first, n,
			      r < 0 ? strerror(errno) : "short");
			ok = 0;
		}
	}
	for (i = 0; i < n; i++) {
		pm(f, first + i)->gen = ok ? gen[i] : GEN_UNKNOWN;
		pm(f, first + i)->zmask = 0;
	}
	end(f, first, n);
	add(C_WRITES, n);
}

/* Zero the bytes [from, to) of file F in the model (pages under begin()). */
static void model_zero(unsigned int f, uint64_t from, uint64_t to)
{
	uint64_t i;

	for (i = from / PG; i * PG < to && i < (uint64_t)npages; i++) {
		struct page_model *m = pm(f, (unsigned int)i);
		uint64_t a = from > i * PG ? from - i * PG : 0;
		uint64_t b = to < (i + 1) * PG ? to - i * PG : PG;

		if (m->gen == GEN_UNKNOWN)
			continue;
		m->zmask |= slots((unsigned int)(a / SLOT), (unsigned int)(b / SLOT));
		if (m->zmask == ~0ull) {
			m->gen = 0;
			m->zmask = 0;
		}
	}
}

static void truncate_file(int fd, unsigned int f)
{
	uint64_t size = (uint64_t)npages * PG;
	uint64_t to = (uint64_t)below(npages) * PG + (below(2) ? below(NSLOT) * SLOT : 0);
	unsigned int first = (unsigned int)(to / PG);

	begin(f, first, npages - first);
	if (ftruncate(fd, (off_t)to) || ftruncate(fd, (off_t)size)) {
		error("ftruncate file %u to %llu and back: %s", f,
		      (unsigned long long)to, strerror(errno));
		for (unsigned int i = first; i < (unsigned int)npages; i++)
			pm(f, i)->gen = GEN_UNKNOWN;
	} else {
		model_zero(f, to, size);
	}
	end(f, first, npages - first);
	add(C_TRUNCS, 1);
}

static void punch_file(int fd, unsigned int f)
{
	uint64_t from = (uint64_t)below(npages * NSLOT) * SLOT;
	uint64_t len = (uint64_t)(1 + below(MAXRUN * NSLOT)) * SLOT;
	uint64_t size = (uint64_t)npages * PG;
	unsigned int first = (unsigned int)(from / PG), last;

	if (from + len > size)
		len = size - from;
	last = (unsigned int)((from + len - 1) / PG);
	begin(f, first, last - first + 1);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)len)) {
		error("punch file %u [%llu, +%llu): %s", f, (unsigned long long)from,
		      (unsigned long long)len, strerror(errno));
		for (unsigned int i = first; i <= last; i++)
			pm(f, i)->gen = GEN_UNKNOWN;
	} else {
		model_zero(f, from, from + len);
	}
	end(f, first, last - first + 1);
	add(C_PUNCHES, 1);
}

static unsigned int run_len(unsigned int first, unsigned int max)
{
	unsigned int n = 1 + below(max);

	return first + n > (unsigned int)npages ? (unsigned int)npages - first : n;
}

static void writer(int w)
{
	int fds[64];
	unsigned int f, nown = 0, own[64];

	for (f = (unsigned int)w; f < (unsigned int)nfiles; f += (unsigned int)nwriters) {
		own[nown] = f;
		fds[nown] = open_file(mnt, f, O_RDWR);
		if (fds[nown] < 0)
			exit(1);
		nown++;
	}
	/* fill every page first: the data outgrows the pool */
	for (unsigned int k = 0; k < nown && !stopping(); k++)
		for (unsigned int i = 0; i < (unsigned int)npages && !stopping(); i += 16)
			write_run(fds[k], own[k], i,
				  (unsigned int)npages - i < 16 ? (unsigned int)npages - i : 16, 0);
	while (!stopping() && nown) {
		unsigned int k = below(nown), op = below(100);
		unsigned int first = below(npages);

		if (op < 50)
			write_run(fds[k], own[k], first, run_len(first, 16), 0);
		else if (op < 62)
			write_run(fds[k], own[k], first, run_len(first, 16), 1);
		else if (op < 77)
			verify_run(fds[k], own[k], first, run_len(first, MAXRUN), below(2),
				   "writer", C_VERIFIED);
		else if (op < 85)
			truncate_file(fds[k], own[k]);
		else
			punch_file(fds[k], own[k]);
	}
	exit(0);
}

static void verifier(void)
{
	int fds[64];
	unsigned int f;

	for (f = 0; f < (unsigned int)nfiles; f++) {
		fds[f] = open_file(mnt, f, O_RDONLY);
		if (fds[f] < 0)
			exit(1);
	}
	while (!stopping()) {
		unsigned int first = below(npages);

		int map = below(10) < 3;

		f = below(nfiles);
		verify_run(fds[f], f, first, run_len(first, MAXRUN), map,
			   map ? "verifier, mapped" : "verifier", C_VERIFIED);
	}
	exit(0);
}

/* ---- readers killed at random moments ----------------------------------- */

static void killer(void)
{
	while (!stopping()) {
		unsigned int f = below(nfiles), first = below(npages);
		unsigned int n = run_len(first, MAXRUN);
		char path[256];
		int status;
		pid_t pid;

		file_path(path, sizeof(path), mnt, f);
		if (below(2)) {
			if (!setxattr(path, "user.usm.reclaim", "all", 3, 0))
				add(C_RECLAIMS, 1);
			else if (errno != ENOTCONN && errno != EBUSY)
				error("setxattr user.usm.reclaim %s: %s", path, strerror(errno));
			pause_ms(below(50));
		}
		pid = fork();
		if (pid < 0) {
			error("fork: %s", strerror(errno));
			pause_ms(100);
			continue;
		}
		if (!pid) {
			int fd = open_file(mnt, f, O_RDONLY), map = below(2);

			if (fd < 0)
				_exit(1);
			/* a page at a time: each may wait for a swap-in */
			for (unsigned int i = 0; i < n; i++)
				verify_run(fd, f, first + i, 1, map, "killed reader", C_VERIFIED);
			_exit(0);
		}
		add(C_READERS, 1);
		pause_ms(below(40));
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			add(C_KILLS, 1);
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			error("reader of file %u ended with status %#x", f, status);
	}
	exit(0);
}

/* ---- the server --------------------------------------------------------- */

static int server_attached(const char *dir)
{
	char v[1024];
	ssize_t n = getxattr(dir, "user.usm.stats", v, sizeof(v) - 1);

	if (n < 0)
		return 0;
	v[n] = 0;
	return strstr(v, " server=1") != NULL;
}

/* A number of a mount root's user.usm.stats (0 if none). */
static uint64_t root_stat(const char *dir, const char *key)
{
	char v[1024], k[64];
	ssize_t n = getxattr(dir, "user.usm.stats", v, sizeof(v) - 1);
	const char *p;

	if (n < 0)
		return 0;
	v[n] = 0;
	snprintf(k, sizeof(k), " %s=", key);
	p = strstr(v, k);
	return p ? strtoull(p + strlen(k), NULL, 10) : 0;
}

static pid_t server_start(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		error("fork usm-policyd: %s", strerror(errno));
		return -1;
	}
	if (!pid) {
		int fd = open(pd_log, O_WRONLY | O_APPEND | O_CREAT, 0644);

		if (fd < 0 || chdir("/"))
			_exit(126);
		setsid();
		dup2(fd, 1);
		dup2(fd, 2);
		fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		for (fd = 3; fd < 1024; fd++)
			close(fd);
		execlp(pd_cmd, pd_cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Wait (at most 120 s) until a server is attached to MNT. */
static int server_wait(pid_t pid)
{
	double t0 = now();

	while (now() - t0 < 120) {
		int status;

		if (server_attached(mnt))
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			error("usm-policyd exited with status %#x before attaching (see %s)",
			      status, pd_log);
			return -1;
		}
		pause_ms(100);
	}
	error("usm-policyd (pid %d) did not attach in 120 s", (int)pid);
	return -1;
}

static int skipped(const char *actor)
{
	size_t n = strlen(actor);
	const char *p;

	for (p = skip; (p = strstr(p, actor)); p += n)
		if ((p == skip || p[-1] == ',') && (!p[n] || p[n] == ','))
			return 1;
	return 0;
}

static void server_ctl(void)
{
	pid_t pd = server_start();

	if (pd < 0 || server_wait(pd))
		exit(1);
	while (!stopping() && !skipped("server")) {
		unsigned int op = below(100);
		int status;

		pause_ms(300 + below(1500));
		if (stopping())
			break;
		if (op < 55) {
			kill(pd, SIGSTOP);
			add(C_STOPS, 1);
			pause_ms(100 + below(2000));
			kill(pd, SIGCONT);
		} else if (op < 80) {
			if (below(2)) {
				kill(pd, SIGSTOP);
				pause_ms(below(500));
			}
			kill(pd, SIGKILL);
			add(C_SRV_KILLS, 1);
			while (waitpid(pd, &status, 0) < 0 && errno == EINTR)
				;
			pause_ms(below(1000));
			pd = server_start();
			if (pd < 0 || server_wait(pd))
				exit(1);
			add(C_RESTARTS, 1);
		}
	}
	while (!stopping())
		pause_ms(200);
	kill(pd, SIGCONT);
	/* the server stays for the final check: its pid for the guest script */
	printf("torture: server pid %d\n", (int)pd);
	fflush(stdout);
	exit(0);
}

/* ---- per-file policy ---------------------------------------------------- */

static void policy(void)
{
	static const char *const evict[] = { "fifo", "lru", "clock", "sieve", "s3fifo" };
	static const char *const alloc[] = { "firstfit", "contiguous", "spread" };
	static const char *const prio[] = { "0", "1", "2", "3", "4", "5", "6", "7" };

	while (!stopping()) {
		unsigned int op = below(4);
		const char *name, *val;
		char path[256];

		file_path(path, sizeof(path), mnt, below(nfiles));
		if (op == 0) {
			name = "user.usm.evict";
			val = evict[below(5)];
		} else if (op == 1) {
			name = "user.usm.alloc";
			val = alloc[below(3)];
		} else if (op == 2) {
			name = "user.usm.prio";
			val = prio[below(8)];
		} else {
			name = "user.usm.reclaim";
			val = below(2) ? "all" : "1M";
		}
		if (!setxattr(path, name, val, strlen(val), 0))
			add(op == 3 ? C_RECLAIMS : C_POLICY, 1);
		else if (op != 3 || (errno != ENOTCONN && errno != EBUSY))
			error("setxattr %s=%s on %s: %s", name, val, path, strerror(errno));
		pause_ms(20 + below(200));
	}
	exit(0);
}

/* ---- a second mount, unmounted while its files are evicted --------------- */

static int m2_round(uint32_t *gens, unsigned int np)
{
	static uint8_t buf[PG];
	char path[256];
	unsigned int k, i;
	int bad = 0;

	for (k = 0; k < M2_FILES; k++) {
		int fd = open_file(mnt2, M2_FID + k, O_RDWR | O_CREAT | O_TRUNC);

		if (fd < 0)
			return 1;
		for (i = 0; i < np && !bad; i++) {
			gens[k * np + i] = __atomic_add_fetch(&sh->gen_next, 1, __ATOMIC_RELAXED);
			make_page(buf, M2_FID + k, i, gens[k * np + i], 0);
			if (pwrite(fd, buf, PG, (off_t)i * PG) != PG) {
				error("pwrite %s/t.%u page %u: %s", mnt2, M2_FID + k, i, strerror(errno));
				bad = 1;
			}
		}
		for (i = 0; i < np && !bad; i += 1 + below(8)) {
			if (pread(fd, buf, PG, (off_t)i * PG) != PG) {
				error("pread %s/t.%u page %u: %s", mnt2, M2_FID + k, i, strerror(errno));
				bad = 1;
				break;
			}
			bad |= check_page(buf, M2_FID + k, i, gens[k * np + i], 0, "second mount");
			add(C_M2_PAGES, 1);
		}
		close(fd);
		file_path(path, sizeof(path), mnt2, M2_FID + k);
		if (setxattr(path, "user.usm.reclaim", "all", 3, 0) &&
		    errno != ENOTCONN && errno != EBUSY)
			error("setxattr user.usm.reclaim %s: %s", path, strerror(errno));
	}
	return bad;
}

static void remounter(void)
{
	unsigned int np = 256;
	uint32_t *gens = calloc((size_t)M2_FILES * np, sizeof(*gens));

	if (!gens)
		exit(1);
	while (!stopping()) {
		int tries;

		if (mount("none", mnt2, "usmfs", 0, m2_opts)) {
			error("mount %s -o %s: %s", mnt2, m2_opts, strerror(errno));
			pause_ms(1000);
			continue;
		}
		m2_round(gens, np);
		pause_ms(below(300));
		add(C_M2_EV, root_stat(mnt2, "evictions"));
		add(C_M2_SI, root_stat(mnt2, "swapins"));
		for (tries = 0; umount2(mnt2, 0); tries++) {
			if (errno != EBUSY || tries == 100) {
				error("umount %s: %s", mnt2, strerror(errno));
				umount2(mnt2, MNT_DETACH);
				break;
			}
			pause_ms(100);
		}
		add(C_REMOUNTS, 1);
		pause_ms(below(200));
	}
	exit(0);
}

/* ---- the run ------------------------------------------------------------ */

static void figures(const char *when)
{
	int c;

	printf("torture: figures (%s):", when);
	for (c = 0; c < C_NCTR; c++)
		printf(" %s=%llu", ctr_name[c], (unsigned long long)get((enum ctr)c));
	printf(" evictions=%llu swapins=%llu\n",
	       (unsigned long long)root_stat(mnt, "evictions"),
	       (unsigned long long)root_stat(mnt, "swapins"));
	fflush(stdout);
}

static pid_t spawn(void (*fn)(int), int arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("torture: fork");
		exit(1);
	}
	if (!pid) {
		seed();
		catch_sigbus();
		fn(arg);
		exit(0);
	}
	return pid;
}

static void a_writer(int w) { writer(w); }
static void a_verifier(int w) { (void)w; verifier(); }
static void a_killer(int w) { (void)w; killer(); }
static void a_server(int w) { (void)w; server_ctl(); }
static void a_policy(int w) { (void)w; policy(); }
static void a_remount(int w) { (void)w; remounter(); }

/* Wait for the actors, at most LIMIT seconds; returns those still running. */
static int reap(pid_t *pids, int n, int limit)
{
	double t0 = now();
	int left = n, i;

	while (left && now() - t0 < limit) {
		for (i = 0; i < n; i++) {
			int status;

			if (pids[i] <= 0 || waitpid(pids[i], &status, WNOHANG) != pids[i])
				continue;
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				error("actor %d (pid %d) ended with status %#x", i, (int)pids[i], status);
			pids[i] = 0;
			left--;
		}
		pause_ms(100);
	}
	for (i = 0; i < n; i++) {
		char p[64], buf[2048];
		ssize_t r;
		int fd;

		if (pids[i] <= 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%d/stack", (int)pids[i]);
		fd = open(p, O_RDONLY);
		r = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		buf[r > 0 ? r : 0] = 0;
		if (fd >= 0)
			close(fd);
		error("actor %d (pid %d) still running %d s after the stop; its stack:\n%s",
		      i, (int)pids[i], limit, buf);
	}
	return left;
}

static int final_check(void)
{
	int bad = 0;

	for (unsigned int f = 0; f < (unsigned int)nfiles; f++) {
		int fd = open_file(mnt, f, O_RDONLY);

		if (fd < 0)
			return 1;
		for (unsigned int i = 0; i < (unsigned int)npages; i += MAXRUN)
			bad += verify_run(fd, f, i, (unsigned int)npages - i < MAXRUN ?
					  (unsigned int)npages - i : MAXRUN, 0, "final",
					  C_FINAL);
		close(fd);
	}
	return bad;
}

static void usage(void)
{
	fprintf(stderr, "usage: torture [-f FILES] [-p PAGES] [-w WRITERS] [-v VERIFIERS]\n"
		"               [-P SERVER] [-L LOG] [-o MNT2-OPTS] [-x ACTOR,...] MNT MNT2 SECONDS\n"
		"  -x leaves out actors: killer, server (then one server runs throughout),\n"
		"     policy, remount\n");
	exit(2);
}

int main(int argc, char **argv)
{
	pid_t pids[80];
	int c, n = 0, secs, i;
	size_t len;
	double t0;

	while ((c = getopt(argc, argv, "f:p:w:v:P:L:o:x:")) != -1) {
		switch (c) {
		case 'f':
			nfiles = atoi(optarg);
			break;
		case 'p':
			npages = atoi(optarg);
			break;
		case 'w':
			nwriters = atoi(optarg);
			break;
		case 'v':
			nverifiers = atoi(optarg);
			break;
		case 'P':
			pd_cmd = optarg;
			break;
		case 'L':
			pd_log = optarg;
			break;
		case 'o':
			m2_opts = optarg;
			break;
		case 'x':
			skip = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 3)
		usage();
	mnt = argv[optind];
	mnt2 = argv[optind + 1];
	secs = atoi(argv[optind + 2]);
	if (nfiles < 1 || nfiles > 64 || npages < MAXRUN || npages > 1 << 20 ||
	    nwriters < 1 || nwriters > nfiles || nverifiers < 0 || nverifiers > 32 ||
	    secs < 1) {
		fprintf(stderr, "torture: bad numbers: 1..64 files, %d.. pages, 1..files writers, 0..32 verifiers, seconds > 0\n",
			MAXRUN);
		return 2;
	}
	len = sizeof(*sh) + (size_t)nfiles * (size_t)npages * sizeof(struct page_model);
	sh = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("torture: mmap");
		return 1;
	}
	seed();
	for (unsigned int f = 0; f < (unsigned int)nfiles; f++) {
		int fd = open_file(mnt, f, O_RDWR | O_CREAT | O_TRUNC);

		if (fd < 0 || ftruncate(fd, (off_t)npages * PG)) {
			perror("torture: create");
			return 1;
		}
		close(fd);
	}
	printf("torture: %d files of %d pages (%d MiB) on %s, %d writers, %d verifiers, %d s\n",
	       nfiles, npages, (int)((uint64_t)nfiles * npages * PG >> 20), mnt,
	       nwriters, nverifiers, secs);
	/* the server first: the writers would wait for room without it */
	pids[n++] = spawn(a_server, 0);
	t0 = now();
	while (!server_attached(mnt) && now() - t0 < 130)
		pause_ms(100);
	for (i = 0; i < nwriters; i++)
		pids[n++] = spawn(a_writer, i);
	for (i = 0; i < nverifiers; i++)
		pids[n++] = spawn(a_verifier, i);
	if (!skipped("killer"))
		pids[n++] = spawn(a_killer, 0);
	if (!skipped("policy"))
		pids[n++] = spawn(a_policy, 0);
	if (!skipped("remount"))
		pids[n++] = spawn(a_remount, 0);
	t0 = now();
	while (now() - t0 < secs) {
		pause_ms(1000);
		if (((int)(now() - t0)) % 20 == 0)
			figures("running");
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	figures("stopped");
	if (reap(pids, n, 300)) {
		figures("stuck");
		return 1;
	}
	if (!server_attached(mnt))
		error("no server attached after the stop");
	final_check();
	figures("end");
	if (get(C_MISMATCH) || get(C_ERRORS)) {
		printf("torture: the run failed: %llu mismatches, %llu errors\n",
		       (unsigned long long)get(C_MISMATCH), (unsigned long long)get(C_ERRORS));
		return 1;
	}
	return 0;
}
