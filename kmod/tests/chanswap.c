// SPDX-License-Identifier: GPL-2.0-only
/*
 * chanswap.c - chantest swapin DIR: a swap-in whose fault went away keeps
 * its frame until the server answers for it (DESIGN §10).
 *
 * Mounts usmfs on DIR (swapin_timeout=2s), attaches as a server that
 * evicts, evicts page 0 of a file into a "slot" kept here, and then:
 *   kill	the reader is SIGKILLed while its request is out: the frame
 *		named in the request goes to no other file, and the late
 *		SWAPIN_DONE (status 0) installs the page, with its data;
 *   timeout	the reader times out (EIO, SWAPIN_CANCELLED): the frame stays
 *		out of the pool until SWAPIN_DONE ECANCELED, after which the
 *		page is swapped again and comes back when asked;
 *   detach	the server closes /dev/usmfs with a request out: the frame
 *		comes back then (no mapping of the pool remains);
 *   punch	the page is punched out while its request is out (TRUNCATED
 *		follows the request): the server answers ESTALE (not that
 *		page's slot any more), or EIO, and the reader, told the page
 *		changed, reads the hole (zeroes), not EIO; the frame comes
 *		back;
 *   umount	the mount goes with a request out: no busy inodes, the frame
 *		stays the request's until SWAPIN_DONE, which frees it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "chantest.h"

#define PG 4096

struct srv {
	int fd;
	unsigned char *pool;
	uint64_t frames;
	uint32_t dev;
};

static void attach(struct srv *s)
{
	struct usmfs_hello h;
	struct usmfs_event ev;

	s->fd = xopen();
	CHECK(hello(s->fd, &h, USMFS_F_EVICT) == 0, "HELLO: %s", strerror(errno));
	s->frames = h.pool_frames;
	s->pool = mmap(NULL, h.pool_frames * PG, PROT_READ | PROT_WRITE, MAP_SHARED,
		       s->fd, 0);
	CHECK(s->pool != MAP_FAILED, "mmap of the pool: %s", strerror(errno));
	while (next_event(s->fd, &ev) && ev.type != USMFS_EV_REPLAY_DONE)
		;
}

/* Mount usmfs on @dir with @opts and attach as a server; 1 on failure. */
static int mount_attach(struct srv *s, const char *dir, const char *opts)
{
	mkdir(dir, 0755);
	if (mount("none", dir, "usmfs", 0, opts)) {
		fprintf(stderr, "chantest: mount %s: %s\n", dir, strerror(errno));
		return 1;
	}
	attach(s);
	return 0;
}

static void detach(struct srv *s)
{
	if (s->pool != MAP_FAILED)
		munmap(s->pool, s->frames * PG);
	close(s->fd);
}

/* The next event of @type for file @ino (waits up to 2 s an event). */
static int wait_ev(struct srv *s, uint16_t type, uint64_t ino, struct usmfs_event *ev)
{
	while (next_event(s->fd, ev))
		if (ev->type == type && ev->ino == ino)
			return 1;
	return 0;
}

static void fill(unsigned char *buf, int tag)
{
	for (int i = 0; i < PG; i++)
		buf[i] = (unsigned char)(tag + i * 7);
}

/* A one-page file @name, filled with @tag: its inode and frame. */
static uint64_t new_page(struct srv *s, const char *dir, const char *name, int tag,
			 uint64_t *frame)
{
	unsigned char buf[PG];
	struct usmfs_event ev;
	char path[512];
	struct stat st;
	int f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(f >= 0, "create %s: %s", path, strerror(errno));
	fill(buf, tag);
	CHECK(pwrite(f, buf, PG, 0) == PG, "write %s", path);
	fstat(f, &st);
	close(f);
	*frame = ~0ULL;
	if (wait_ev(s, USMFS_EV_PAGES_ALLOCATED, st.st_ino, &ev)) {
		s->dev = ev.dev;
		*frame = ev.u.range.frame;
	}
	CHECK(*frame < s->frames, "no PAGES_ALLOCATED for %s", path);
	return st.st_ino;
}

/* Where page 0 of @ino is (LIST_PAGES); ~0 when not resident. */
static uint64_t frame_of(struct srv *s, uint64_t ino)
{
	struct usmfs_page_rec rec;
	struct usmfs_cmd c;

	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_LIST_PAGES;
	c.dev = s->dev;
	c.ino = ino;
	c.u.list.recs_ptr = (uintptr_t)&rec;
	c.u.list.nr = 1;
	if (cmd1(s->fd, &c) || c.u.list.nr != 1 || rec.state != USMFS_PAGE_RESIDENT)
		return ~0ULL;
	return rec.frame;
}

/* EVICT and COMMIT page 0 of @ino: its data into @slot. */
static void evict(struct srv *s, uint64_t ino, unsigned char *slot)
{
	uint64_t fr = frame_of(s, ino);
	struct usmfs_cmd c;

	CHECK(fr < s->frames, "page 0 of %llu is not resident", (unsigned long long)ino);
	if (fr >= s->frames)
		return;
	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_EVICT;
	c.dev = s->dev;
	c.ino = ino;
	c.u.range.frame = fr;
	c.u.range.nr = 1;
	CHECK(cmd1(s->fd, &c) == 0, "EVICT: %u", c.error);
	memcpy(slot, s->pool + fr * PG, PG);
	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_COMMIT;
	c.dev = s->dev;
	c.ino = ino;
	c.u.commit.frame = fr;
	c.u.commit.slot = 7;
	CHECK(cmd1(s->fd, &c) == 0, "COMMIT: %u", c.error);
}

static uint32_t swapin_done(struct srv *s, const struct usmfs_event *rq, uint32_t status)
{
	struct usmfs_cmd c;

	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_SWAPIN_DONE;
	c.dev = rq->dev;
	c.ino = rq->ino;
	c.u.swapin.index = rq->u.swapin.index;
	c.u.swapin.frame = rq->u.swapin.frame;
	c.u.swapin.token = rq->u.swapin.token;
	c.u.swapin.status = status;
	return cmd1(s->fd, &c);
}

/* Read page 0 of @path: 0 when it holds @tag's data, else -errno or 1. */
static int read_page(const char *path, int tag)
{
	unsigned char want[PG], got[PG];
	int f = open(path, O_RDONLY), r;

	if (f < 0)
		return -errno;
	fill(want, tag);
	r = pread(f, got, PG, 0) == PG ? memcmp(got, want, PG) != 0 : -errno;
	close(f);
	return r;
}

/* A child that reads page 0 of @path (exit 0: @tag's data). */
static pid_t reader(const char *path, int tag)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(read_page(path, tag) ? 1 : 0);
	return pid;
}

/* A child that reads page 0 of @path: exit 0 when it reads a whole page of
 * zeroes, 2 on EIO, 1 otherwise. */
static pid_t zero_reader(const char *path)
{
	static const unsigned char zero[PG];
	pid_t pid = fork();

	if (pid == 0) {
		unsigned char got[PG];
		int f = open(path, O_RDONLY);
		ssize_t n = f < 0 ? -1 : pread(f, got, PG, 0);

		_exit(n == PG && !memcmp(got, zero, PG) ? 0 : n < 0 && errno == EIO ? 2 : 1);
	}
	return pid;
}

/*
 * punch: the page goes while its request is out.  Whatever the server then
 * answers, ESTALE ("not that page's slot") or an error such as EIO
 * (usm-policyd's "resident here" when the hole was written again before it
 * read the request), the request ends as "changed": the reader looks again
 * and reads the hole, it never gets the error.
 */
static void punched(struct srv *s, const char *path, uint64_t ino, unsigned char *slot,
		    uint32_t status)
{
	struct usmfs_event rq, ev;
	long used;
	pid_t pid;
	int f, st = -1;

	evict(s, ino, slot);
	used = pool_stat("used");
	pid = zero_reader(path);
	if (!wait_ev(s, USMFS_EV_SWAPIN_REQUEST, ino, &rq)) {
		CHECK(0, "punch: no SWAPIN_REQUEST");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	f = open(path, O_RDWR);
	CHECK(f >= 0 && fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PG) == 0,
	      "punch: fallocate: %s", strerror(errno));
	close(f);
	CHECK(wait_ev(s, USMFS_EV_TRUNCATED, ino, &ev) && ev.u.range.start == 0,
	      "punch: no TRUNCATED after the request");
	CHECK(swapin_done(s, &rq, status) == 0, "punch: SWAPIN_DONE %s refused",
	      strerror((int)status));
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "punch: answered %s, the reader did not read the hole (exit %d, 2: EIO)",
	      strerror((int)status), WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	CHECK(pool_stat("used") == used, "punch: used %ld, was %ld (the request's frame)",
	      pool_stat("used"), used);
}

/* A reader's SWAPIN_REQUEST for page 0 of @ino, the reader killed. */
static int orphan(struct srv *s, const char *path, uint64_t ino, struct usmfs_event *rq)
{
	pid_t pid = reader(path, 'A');
	int got = wait_ev(s, USMFS_EV_SWAPIN_REQUEST, ino, rq);

	CHECK(got, "no SWAPIN_REQUEST for %s", path);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return got;
}

/* A reader's swap-in served right: it sees the data. */
static void serve(struct srv *s, const char *path, uint64_t ino, const unsigned char *slot,
		  const char *what)
{
	struct usmfs_event rq;
	pid_t pid = reader(path, 'A');
	int st = -1;

	if (wait_ev(s, USMFS_EV_SWAPIN_REQUEST, ino, &rq)) {
		memcpy(s->pool + rq.u.swapin.frame * PG, slot, PG);
		CHECK(swapin_done(s, &rq, 0) == 0, "%s: SWAPIN_DONE refused", what);
	} else {
		CHECK(0, "%s: no SWAPIN_REQUEST", what);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: the reader did not get its data (%d)",
	      what, st);
}

int t_swapin(const char *dir)
{
	static unsigned char slot[PG];
	struct usmfs_event rq, ev;
	struct srv s;
	char pa[512], pb[512];
	uint64_t ino, fb, fr;
	long used;
	int r;

	if (mount_attach(&s, dir, "size=4M,swapin_timeout=2s"))
		return 1;
	snprintf(pa, sizeof(pa), "%s/a", dir);
	snprintf(pb, sizeof(pb), "%s/b", dir);
	ino = new_page(&s, dir, "a", 'A', &fr);

	/* kill: the frame stays the request's; the late answer installs. */
	evict(&s, ino, slot);
	if (orphan(&s, pa, ino, &rq)) {
		fr = rq.u.swapin.frame;
		new_page(&s, dir, "b", 'B', &fb);
		CHECK(fb != fr, "kill: frame %llu of the unanswered swap-in went to another file",
		      (unsigned long long)fr);
		memcpy(s.pool + fr * PG, slot, PG);	/* the server, late */
		r = read_page(pb, 'B');
		CHECK(r == 0, "kill: the other file's page is not its own (%d)", r);
		r = swapin_done(&s, &rq, 0);
		CHECK(r == 0, "kill: late SWAPIN_DONE: error %d", r);
		r = read_page(pa, 'A');
		CHECK(r == 0, "kill: the page after the late SWAPIN_DONE: %d", r);
		unlink(pb);
	}

	/* timeout: EIO, CANCELLED; the frame waits for ECANCELED. */
	evict(&s, ino, slot);
	r = read_page(pa, 'A');
	CHECK(r == -EIO, "timeout: read gave %d, not EIO", r);
	if (wait_ev(&s, USMFS_EV_SWAPIN_REQUEST, ino, &rq)) {
		CHECK(wait_ev(&s, USMFS_EV_SWAPIN_CANCELLED, ino, &ev) &&
		      ev.u.swapin.token == rq.u.swapin.token, "timeout: no SWAPIN_CANCELLED");
		new_page(&s, dir, "b", 'B', &fb);
		CHECK(fb != rq.u.swapin.frame,
		      "timeout: frame %llu of the unanswered swap-in went to another file",
		      (unsigned long long)rq.u.swapin.frame);
		r = swapin_done(&s, &rq, ECANCELED);
		CHECK(r == 0, "timeout: SWAPIN_DONE ECANCELED: error %d", r);
		unlink(pb);
		serve(&s, pa, ino, slot, "after ECANCELED");
	} else {
		CHECK(0, "timeout: no SWAPIN_REQUEST");
	}

	/* detach: the frame comes back when the server goes. */
	evict(&s, ino, slot);
	if (orphan(&s, pa, ino, &rq)) {
		used = pool_stat("used");
		detach(&s);
		CHECK(pool_stat("used") == used - 1, "detach: used %ld, was %ld",
		      pool_stat("used"), used);
		attach(&s);
		serve(&s, pa, ino, slot, "after detach");
	}

	punched(&s, pa, ino, slot, ESTALE);
	/* The hole filled again, for the next cases. */
	ino = new_page(&s, dir, "a", 'A', &fr);
	punched(&s, pa, ino, slot, EIO);
	ino = new_page(&s, dir, "a", 'A', &fr);

	/* umount: no busy inodes; the frame is freed by the answer. */
	evict(&s, ino, slot);
	if (orphan(&s, pa, ino, &rq)) {
		CHECK(umount(dir) == 0, "umount: %s", strerror(errno));
		used = pool_stat("used");
		r = swapin_done(&s, &rq, 0);
		CHECK(r == 0, "umount: SWAPIN_DONE: error %d", r);
		CHECK(pool_stat("used") == used - 1, "umount: used %ld, was %ld",
		      pool_stat("used"), used);
	} else {
		umount(dir);
	}
	detach(&s);
	printf("swapin: killed, timed-out, detached, punched and unmounted swap-ins kept their frames\n");
	return failed;
}

/* The next event, waiting at most @ms: 1, or 0 when none came. */
static int ev_within(int fd, struct usmfs_event *ev, int ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	return poll(&pf, 1, ms) == 1 && read(fd, ev, sizeof(*ev)) == sizeof(*ev);
}

/*
 * One round of swaprace: a reader faults page 0 of @ino (swapped) while
 * this process punches it out.  Requests before the TRUNCATED are served;
 * one after it names a slot the page gave back: counted in *@late.
 */
static void race_round(struct srv *s, const char *path, uint64_t ino,
		       const unsigned char *slot, unsigned int spin, int *late)
{
	struct usmfs_event ev;
	int go[2], f, trunc = 0, st;
	pid_t pid;
	char c;

	CHECK(pipe(go) == 0, "pipe");
	pid = fork();
	if (pid == 0) {
		unsigned char buf[PG];
		int fd = open(path, O_RDONLY);

		close(go[0]);
		(void)!write(go[1], "r", 1);
		_exit(pread(fd, buf, PG, 0) < 0);
	}
	close(go[1]);
	(void)!read(go[0], &c, 1);
	close(go[0]);
	for (volatile unsigned int i = 0; i < spin; i++)
		;
	f = open(path, O_RDWR);
	CHECK(f >= 0 && fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PG) == 0,
	      "swaprace: punch: %s", strerror(errno));
	close(f);
	/* Until the reader is gone and the queue quiet. */
	for (;;) {
		if (!ev_within(s->fd, &ev, 20)) {
			if (waitpid(pid, &st, WNOHANG) == pid)
				break;
			continue;
		}
		if (ev.ino != ino)
			continue;
		if (ev.type == USMFS_EV_TRUNCATED) {
			trunc = 1;
		} else if (ev.type == USMFS_EV_SWAPIN_REQUEST) {
			if (trunc)
				(*late)++;
			else
				memcpy(s->pool + ev.u.swapin.frame * PG, slot, PG);
			swapin_done(s, &ev, trunc ? ESTALE : 0);
		}
	}
	CHECK(trunc, "swaprace: no TRUNCATED");
}

/*
 * chantest swaprace DIR N: N rounds of a read of a swapped page racing a
 * hole punch over it.  No SWAPIN_REQUEST may follow the TRUNCATED that
 * gave its slot back to the server (the server may have reused it).
 */
int t_swaprace(const char *dir, int rounds)
{
	static unsigned char slot[PG];
	struct usmfs_event ev;
	unsigned char buf[PG];
	struct srv s;
	char pa[512];
	uint64_t ino, fr;
	int late = 0, f;

	if (mount_attach(&s, dir, "size=4M,swapin_timeout=5s"))
		return 1;
	snprintf(pa, sizeof(pa), "%s/r", dir);
	ino = new_page(&s, dir, "r", 'A', &fr);
	srand((unsigned int)time(NULL));
	for (int i = 0; i < rounds && !failed; i++) {
		if (i) {	/* the hole filled again */
			f = open(pa, O_RDWR);
			fill(buf, 'A');
			CHECK(f >= 0 && pwrite(f, buf, PG, 0) == PG, "swaprace: write");
			close(f);
			CHECK(wait_ev(&s, USMFS_EV_PAGES_ALLOCATED, ino, &ev),
			      "swaprace: no PAGES_ALLOCATED");
		}
		evict(&s, ino, slot);
		race_round(&s, pa, ino, slot, (unsigned int)rand() % 20000, &late);
	}
	CHECK(late == 0, "swaprace: %d SWAPIN_REQUESTs after their page's TRUNCATED", late);
	detach(&s);
	umount(dir);
	printf("swaprace: %d rounds, %d requests after TRUNCATED\n", rounds, late);
	return failed;
}

/* chantest mapcmp FILE REF: FILE, read through a shared mapping, equals REF
 * (a fault that fails is SIGBUS: the exit status says so). */
int t_mapcmp(const char *file, const char *ref)
{
	static unsigned char buf[1 << 16];
	int f = open(file, O_RDONLY), r = open(ref, O_RDONLY);
	struct stat st;
	unsigned char *m;
	off_t off = 0;
	ssize_t n;

	if (f < 0 || r < 0 || fstat(f, &st)) {
		fprintf(stderr, "chantest: open %s, %s: %s\n", file, ref, strerror(errno));
		return 1;
	}
	m = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, f, 0);
	if (m == MAP_FAILED) {
		fprintf(stderr, "chantest: mmap %s: %s\n", file, strerror(errno));
		return 1;
	}
	while ((n = read(r, buf, sizeof(buf))) > 0) {
		if (off + n > st.st_size || memcmp(m + off, buf, n)) {
			fprintf(stderr, "chantest: %s differs from %s near %lld\n", file, ref,
				(long long)off);
			return 1;
		}
		off += n;
	}
	CHECK(n == 0 && off == st.st_size, "%s: %lld of %lld bytes compared", file,
	      (long long)off, (long long)st.st_size);
	printf("mapcmp: %lld bytes equal\n", (long long)off);
	return failed;
}
