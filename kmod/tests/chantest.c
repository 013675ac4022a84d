// SPDX-License-Identifier: GPL-2.0-only
/*
 * chantest - guest checks of /dev/usmfs (kmod/chan.c), linked -static.
 *
 *   chantest open                 root opens; a second open gets EBUSY
 *   chantest noroot               uid 65534: EACCES (0600); uid 0 without
 *                                 CAP_SYS_ADMIN: EPERM
 *   chantest hello                before HELLO: EPERM; bad major: EPROTO;
 *                                 HELLO, EALREADY, GET_CHUNKS, mmap bounds
 *   chantest events DIR           replay, then the events of a file's life,
 *                                 LIST_PAGES, its data seen through the pool
 *   chantest grant DIR            GRANT/REVOKE: a file's pages placed in
 *                                 the frames granted; refusals; dropped by
 *                                 truncate, REVOKE and detach
 *   chantest overflow DIR N       N files created unread: OVERFLOW, seq gap
 *   chantest fuzz SECONDS MAX     random and mutated command batches
 *   chantest swapin DIR           a swap-in whose fault left (killed, timed
 *                                 out, unmounted) keeps its frame until the
 *                                 server answers (chanswap.c)
 *   chantest mapcmp FILE REF      FILE read through a mapping equals REF
 * Prints what failed on stderr and exits 1; 0 when all is well.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <linux/capability.h>

#include "chantest.h"

int failed;

int xopen(void)
{
	int fd = open(DEV, O_RDWR);

	if (fd < 0) {
		fprintf(stderr, "chantest: open %s: %s\n", DEV, strerror(errno));
		exit(1);
	}
	return fd;
}

int hello(int fd, struct usmfs_hello *h, uint64_t features)
{
	memset(h, 0, sizeof(*h));
	h->version_major = USMFS_VERSION_MAJOR;
	h->version_minor = USMFS_VERSION_MINOR;
	h->features = features;
	return ioctl(fd, USMFS_IOC_HELLO, h);
}

static int t_open(void)
{
	int a = xopen(), b;

	b = open(DEV, O_RDWR);
	CHECK(b < 0 && errno == EBUSY, "second open: %d %s", b, strerror(errno));
	if (b >= 0)
		close(b);
	close(a);
	b = open(DEV, O_RDWR);
	CHECK(b >= 0, "open after close: %s", strerror(errno));
	close(b);
	return failed;
}

static int t_noroot(void)
{
	struct __user_cap_header_struct hd = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	pid_t pid = fork();
	int st, fd;

	if (pid == 0) {
		if (setuid(65534))
			_exit(2);
		fd = open(DEV, O_RDWR);
		_exit(fd < 0 && errno == EACCES ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "uid 65534 not refused (EACCES): %d", st);

	pid = fork();
	if (pid == 0) {
		if (syscall(SYS_capget, &hd, d))
			_exit(2);
		d[CAP_SYS_ADMIN / 32].effective &= ~(1U << (CAP_SYS_ADMIN % 32));
		d[CAP_SYS_ADMIN / 32].permitted &= ~(1U << (CAP_SYS_ADMIN % 32));
		if (syscall(SYS_capset, &hd, d))
			_exit(3);
		fd = open(DEV, O_RDWR);
		_exit(fd < 0 && errno == EPERM ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "root without CAP_SYS_ADMIN not refused (EPERM): %d", st);
	return failed;
}

static int t_hello(void)
{
	struct usmfs_features f;
	struct usmfs_hello h;
	struct usmfs_chunks q;
	struct usmfs_chunk ch[256];
	struct usmfs_event ev;
	uint64_t sum = 0;
	size_t len;
	void *p;
	int fd = xopen();

	memset(&f, 0, sizeof(f));
	CHECK(ioctl(fd, USMFS_IOC_GET_FEATURES, &f) == 0, "GET_FEATURES: %s", strerror(errno));
	CHECK(f.version_major == USMFS_VERSION_MAJOR && (f.features & ~USMFS_F_ALL) == 0,
	      "features %u 0x%llx", f.version_major, (unsigned long long)f.features);
	CHECK(read(fd, &ev, sizeof(ev)) < 0 && errno == EPERM, "read before HELLO");
	memset(&q, 0, sizeof(q));
	CHECK(ioctl(fd, USMFS_IOC_GET_CHUNKS, &q) < 0 && errno == EPERM, "GET_CHUNKS before HELLO");
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED && errno == EPERM, "mmap before HELLO");

	memset(&h, 0, sizeof(h));
	h.version_major = USMFS_VERSION_MAJOR + 1;
	CHECK(ioctl(fd, USMFS_IOC_HELLO, &h) < 0 && errno == EPROTO, "bad major: %s", strerror(errno));
	CHECK(h.version_major == USMFS_VERSION_MAJOR, "bad major: module's not written back");
	memset(&h, 0, sizeof(h));
	h.reserved[2] = 1;
	CHECK(ioctl(fd, USMFS_IOC_HELLO, &h) < 0 && errno == EINVAL, "reserved set: %s", strerror(errno));

	CHECK(hello(fd, &h, ~0ULL) == 0, "HELLO: %s", strerror(errno));
	CHECK((h.features & ~(USMFS_F_ALL & f.features)) == 0, "granted 0x%llx",
	      (unsigned long long)h.features);
	CHECK(h.page_shift == USMFS_PAGE_SHIFT && h.event_size == sizeof(ev) &&
	      h.cmd_size == sizeof(struct usmfs_cmd) && h.max_batch == USMFS_MAX_BATCH &&
	      h.queue_events >= 16 && h.pool_frames && h.nr_chunks && h.generation >= 1,
	      "hello fields");
	printf("hello: features 0x%llx, %llu frames, %u chunks, queue %u, generation %llu\n",
	       (unsigned long long)h.features, (unsigned long long)h.pool_frames,
	       h.nr_chunks, h.queue_events, (unsigned long long)h.generation);
	{
		struct usmfs_hello h2;

		CHECK(hello(fd, &h2, 0) < 0 && errno == EALREADY, "second HELLO: %s",
		      strerror(errno));
	}

	memset(&q, 0, sizeof(q));
	q.chunks_ptr = (uintptr_t)ch;
	q.nr = 256;
	CHECK(ioctl(fd, USMFS_IOC_GET_CHUNKS, &q) == 0, "GET_CHUNKS: %s", strerror(errno));
	for (uint32_t i = 0; i < q.nr && i < 256; i++) {
		CHECK(ch[i].first_frame == sum && ch[i].nr_frames, "chunk %u", i);
		sum += ch[i].nr_frames;
	}
	CHECK(sum == h.pool_frames, "chunks hold %llu of %llu", (unsigned long long)sum,
	      (unsigned long long)h.pool_frames);
	q.nr = 0;
	q.reserved0 = 1;
	CHECK(ioctl(fd, USMFS_IOC_GET_CHUNKS, &q) < 0 && errno == EINVAL, "GET_CHUNKS reserved");

	len = h.pool_frames << 12;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap pool: %s", strerror(errno));
	if (p != MAP_FAILED)
		munmap(p, len);
	p = mmap(NULL, len + 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED && errno == EINVAL, "mmap past the pool");
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, len);
	CHECK(p == MAP_FAILED && errno == EINVAL, "mmap at the end");
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p == MAP_FAILED, "private mmap");
	CHECK(read(fd, &ev, 100) < 0 && errno == EINVAL, "short read");
	close(fd);
	return failed;
}

/* Next event (waits up to 2 s); 0 when none. */
int next_event(int fd, struct usmfs_event *ev)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	if (poll(&pf, 1, 2000) != 1)
		return 0;
	return read(fd, ev, sizeof(*ev)) == sizeof(*ev);
}

static int t_events(const char *dir)
{
	struct usmfs_hello h;
	struct usmfs_event ev;
	struct usmfs_page_rec recs[8];
	struct usmfs_cmd c;
	struct usmfs_cmd_batch b;
	struct stat st;
	char path[512], buf[3 * 4096];
	uint32_t dev = 0;
	uint64_t alloc = 0, ino, lastseq = 0;
	int fd = xopen(), f, seen_done = 0, seen_mount = 0, created = 0;
	int xattr = 0, trunc = 0, removed = 0, n;
	unsigned char *pool;

	CHECK(hello(fd, &h, USMFS_F_PATH_HINT) == 0, "HELLO: %s", strerror(errno));
	while (next_event(fd, &ev)) {
		CHECK(ev.seq == lastseq + 1, "seq %llu after %llu", (unsigned long long)ev.seq,
		      (unsigned long long)lastseq);
		lastseq = ev.seq;
		if (ev.type == USMFS_EV_MOUNT) {
			CHECK(ev.flags & USMFS_EVF_REPLAY, "MOUNT without REPLAY");
			seen_mount++;
			dev = ev.dev;
		}
		if (ev.type == USMFS_EV_REPLAY_DONE) {
			seen_done = 1;
			break;
		}
	}
	CHECK(seen_done && seen_mount >= 1, "replay: done %d mounts %d", seen_done, seen_mount);

	pool = mmap(NULL, h.pool_frames << 12, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(pool != MAP_FAILED, "mmap: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/chanfile", dir);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 3);
	f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(f >= 0 && write(f, buf, sizeof(buf)) == sizeof(buf), "write %s", path);
	fstat(f, &st);
	ino = st.st_ino;
	CHECK(fsetxattr(f, "user.usm.prio", "7", 1, 0) == 0, "setxattr: %s", strerror(errno));

	/* LIST_PAGES of the file: three resident pages, their data in the pool. */
	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_LIST_PAGES;
	c.dev = dev;
	c.ino = ino;
	c.u.list.recs_ptr = (uintptr_t)recs;
	c.u.list.nr = 8;
	memset(&b, 0, sizeof(b));
	b.cmds_ptr = (uintptr_t)&c;
	b.nr = 1;
	CHECK(ioctl(fd, USMFS_IOC_CMD, &b) == 0 && b.done == 1, "CMD: %s", strerror(errno));
	CHECK(c.error == 0 && c.u.list.nr == 3 && (c.flags & USMFS_CMDF_LIST_END),
	      "LIST_PAGES: error %u nr %u flags %u", c.error, c.u.list.nr, c.flags);
	/* 1.3: the seq of the newest event queued (the write's are, unread) */
	CHECK(c.u.list.seq > lastseq, "LIST_PAGES seq %llu, last read %llu",
	      (unsigned long long)c.u.list.seq, (unsigned long long)lastseq);
	for (uint32_t i = 0; i < c.u.list.nr && i < 8 && pool != MAP_FAILED; i++) {
		CHECK(recs[i].state == USMFS_PAGE_RESIDENT && recs[i].index == i &&
		      recs[i].frame < h.pool_frames, "rec %u", i);
		if (recs[i].frame < h.pool_frames)
			CHECK(!memcmp(pool + (recs[i].frame << 12), buf + i * 4096, 4096),
			      "page %u not in frame %llu of the pool", i,
			      (unsigned long long)recs[i].frame);
	}
	/* seq is out only */
	c.u.list.nr = 8;
	c.flags = 0;
	CHECK(ioctl(fd, USMFS_IOC_CMD, &b) == 0 && c.error == EINVAL,
	      "LIST_PAGES with seq set: %u", c.error);
	c.u.list.seq = 0;
	/* Two pages per batch of LIST_PAGES (cursor). */
	c.flags = 0;
	c.error = 0;
	c.u.list.nr = 2;
	c.u.list.cursor_index = 0;
	CHECK(ioctl(fd, USMFS_IOC_CMD, &b) == 0 && c.error == 0 && c.u.list.nr == 2 &&
	      !(c.flags & USMFS_CMDF_LIST_END) && c.u.list.cursor_index == 2,
	      "LIST cursor: %s error %u nr %u flags %u cursor %llu", strerror(errno), c.error,
	      c.u.list.nr, c.flags, (unsigned long long)c.u.list.cursor_index);
	/* The rest from the cursor: page 2 only, and the end. */
	c.flags = 0;
	c.u.list.nr = 8;
	c.u.list.seq = 0;
	CHECK(ioctl(fd, USMFS_IOC_CMD, &b) == 0 && c.error == 0 && c.u.list.nr == 1 &&
	      (c.flags & USMFS_CMDF_LIST_END) && recs[0].index == 2, "LIST from cursor");
	/* Bad ones: reserved bits, no such file, no such mount, bad buffer. */
	c.u.list.cursor_index = 0;
	c.u.list.seq = 0;
	c.flags = 0;
	c.reserved0 = 1;
	CHECK(ioctl(fd, USMFS_IOC_CMD, &b) == 0 && c.error == EINVAL, "reserved0: %u", c.error);
	c.reserved0 = 0;
	c.ino = ino + 100000;
	CHECK(ioctl(fd, USMFS_IOC_CMD, &b) == 0 && c.error == ENOENT, "no file: %u", c.error);
	c.ino = ino;
	c.dev = dev + 1000;
	CHECK(ioctl(fd, USMFS_IOC_CMD, &b) == 0 && c.error == EINVAL, "no mount: %u", c.error);
	c.dev = dev;
	c.u.list.recs_ptr = 16;
	CHECK(ioctl(fd, USMFS_IOC_CMD, &b) == 0 && c.error == EFAULT, "bad recs: %u", c.error);
	c.op = 99;
	CHECK(ioctl(fd, USMFS_IOC_CMD, &b) == 0 && c.error == EINVAL, "op 99: %u", c.error);
	c.op = USMFS_CMD_GRANT;
	CHECK(ioctl(fd, USMFS_IOC_CMD, &b) == 0 && c.error == EOPNOTSUPP, "GRANT: %u", c.error);
	CHECK(ftruncate(f, 4096) == 0, "ftruncate");
	close(f);
	CHECK(unlink(path) == 0, "unlink");

	while ((n = next_event(fd, &ev)) && !removed) {
		CHECK(ev.seq == lastseq + 1, "seq %llu after %llu", (unsigned long long)ev.seq,
		      (unsigned long long)lastseq);
		lastseq = ev.seq;
		if (ev.ino != ino)
			continue;
		switch (ev.type) {
		case USMFS_EV_FILE_CREATED:
			created = 1;
			CHECK(!strcmp((char *)ev.u.created.path, "/chanfile"), "path hint '%.72s'",
			      ev.u.created.path);
			CHECK(!strcmp((char *)ev.u.created.comm, "chantest"), "comm");
			CHECK(ev.dev == dev, "dev");
			break;
		case USMFS_EV_PAGES_ALLOCATED:
			CHECK(ev.u.range.start == alloc, "alloc start %llu",
			      (unsigned long long)ev.u.range.start);
			alloc += ev.u.range.nr;
			break;
		case USMFS_EV_XATTR_CHANGED:
			xattr = ev.u.xattr.len == 1 && ev.u.xattr.value[0] == '7';
			break;
		case USMFS_EV_TRUNCATED:
			trunc = ev.u.range.start == 1 && ev.u.range.nr == ~0ULL;
			break;
		case USMFS_EV_FILE_REMOVED:
			removed = 1;
			break;
		}
	}
	CHECK(created && alloc == 3 && xattr && trunc && removed,
	      "events: created %d allocated %llu xattr %d truncated %d removed %d",
	      created, (unsigned long long)alloc, xattr, trunc, removed);
	close(fd);
	return failed;
}

static int t_overflow(const char *dir, int nfiles)
{
	struct usmfs_hello h;
	struct usmfs_event ev;
	char path[512];
	uint64_t lost = 0, lastseq = 0, gap = 0, got = 0;
	int fd = xopen();

	CHECK(hello(fd, &h, 0) == 0, "HELLO: %s", strerror(errno));
	for (int i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/ovf%d", dir, i);
		int f = open(path, O_CREAT | O_WRONLY, 0600);

		CHECK(f >= 0, "create %s: %s", path, strerror(errno));
		if (f >= 0)
			close(f);
	}
	/*
	 * Drain, then one more event: the events lost took the seq numbers
	 * from the OVERFLOW's on, so the next one shows the gap.
	 */
	for (int pass = 0; pass < 2; pass++) {
		while (next_event(fd, &ev)) {
			got++;
			if (ev.seq != lastseq + 1)
				gap += ev.seq - lastseq - 1;
			lastseq = ev.seq;
			if (ev.type == USMFS_EV_OVERFLOW)
				lost += ev.u.overflow.lost;
		}
		if (pass == 0) {
			snprintf(path, sizeof(path), "%s/ovf%d", dir, nfiles);
			int f = open(path, O_CREAT | O_WRONLY, 0600);

			CHECK(f >= 0, "create %s: %s", path, strerror(errno));
			if (f >= 0)
				close(f);
		}
	}
	CHECK(lost > 0 && got <= h.queue_events + 1, "overflow: %llu events read, %llu lost",
	      (unsigned long long)got, (unsigned long long)lost);
	CHECK(gap == lost - 1, "seq gap %llu, lost %llu", (unsigned long long)gap,
	      (unsigned long long)lost);
	printf("overflow: %llu events read, %llu lost\n", (unsigned long long)got,
	       (unsigned long long)lost);
	for (int i = 0; i <= nfiles; i++) {
		snprintf(path, sizeof(path), "%s/ovf%d", dir, i);
		unlink(path);
	}
	close(fd);
	return failed;
}

long pool_stat(const char *key)
{
	FILE *f = fopen("/sys/kernel/debug/usmfs/pool", "r");
	char line[256], k[64];
	long v, r = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", k, &v) == 2 && !strcmp(k, key)) {
			r = v;
			break;
		}
	fclose(f);
	return r;
}

uint32_t cmd1(int fd, struct usmfs_cmd *c)
{
	struct usmfs_cmd_batch b = { .cmds_ptr = (uintptr_t)c, .nr = 1 };

	if (ioctl(fd, USMFS_IOC_CMD, &b) || b.done != 1)
		return 1000;
	return c->error;
}

static void grant_cmd(struct usmfs_cmd *c, uint16_t op, uint32_t dev, uint64_t ino,
		      uint64_t index, uint64_t frame, uint64_t nr)
{
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->dev = dev;
	c->ino = ino;
	c->u.grant.index = index;
	c->u.grant.first_frame = frame;
	c->u.grant.nr = nr;
}

/*
 * GRANT frames near the end of the last chunk to a new file, write it:
 * its pages land there (PAGES_ALLOCATED with RESERVED); refusals; REVOKE
 * gives frames back; a detach drops what is left.
 */
static int t_grant(const char *dir)
{
	struct usmfs_hello h;
	struct usmfs_event ev;
	struct usmfs_chunk ch[256];
	struct usmfs_chunks q = { .chunks_ptr = (uintptr_t)ch, .nr = 256 };
	struct usmfs_cmd c;
	struct stat st;
	char path[512], buf[4 * 4096];
	uint32_t dev = 0;
	uint64_t F, ino, got = 0, firstframe = ~0ULL;
	long used0, res0;
	int fd = xopen(), f, reserved_flag = 0;

	CHECK(hello(fd, &h, USMFS_F_RESERVE) == 0, "HELLO: %s", strerror(errno));
	CHECK(h.features == USMFS_F_RESERVE, "RESERVE not granted: 0x%llx",
	      (unsigned long long)h.features);
	CHECK(ioctl(fd, USMFS_IOC_GET_CHUNKS, &q) == 0, "GET_CHUNKS");
	while (next_event(fd, &ev) && ev.type != USMFS_EV_REPLAY_DONE)
		if (ev.type == USMFS_EV_MOUNT)
			dev = ev.dev;
	snprintf(path, sizeof(path), "%s/grantfile", dir);
	f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(f >= 0, "create");
	fstat(f, &st);
	ino = st.st_ino;
	F = h.pool_frames - 16;	/* last chunk: at least 512 frames */
	CHECK(ch[q.nr - 1].nr_frames >= 512, "last chunk too small");
	used0 = pool_stat("used");
	res0 = pool_stat("reserved");

	grant_cmd(&c, USMFS_CMD_GRANT, dev, ino, 0, F, 0);
	CHECK(cmd1(fd, &c) == EINVAL, "nr 0: %u", c.error);
	grant_cmd(&c, USMFS_CMD_GRANT, dev, ino, 0, h.pool_frames - 2, 4);
	CHECK(cmd1(fd, &c) == EINVAL, "past the pool: %u", c.error);
	grant_cmd(&c, USMFS_CMD_GRANT, dev, ino, 0, F, 513);
	CHECK(cmd1(fd, &c) == EINVAL, "nr 513: %u", c.error);
	grant_cmd(&c, USMFS_CMD_GRANT, dev, ino + 99999, 0, F, 4);
	CHECK(cmd1(fd, &c) == ENOENT, "no file: %u", c.error);
	grant_cmd(&c, USMFS_CMD_GRANT, dev + 99, ino, 0, F, 4);
	CHECK(cmd1(fd, &c) == EINVAL, "no mount: %u", c.error);
	grant_cmd(&c, USMFS_CMD_GRANT, dev, ino, 0, F, 4);
	c.u.grant.reserved[1] = 1;
	CHECK(cmd1(fd, &c) == EINVAL, "reserved: %u", c.error);
	CHECK(pool_stat("used") == used0 && pool_stat("reserved") == res0,
	      "refused grants took frames");

	grant_cmd(&c, USMFS_CMD_GRANT, dev, ino, 0, F, 4);
	CHECK(cmd1(fd, &c) == 0, "GRANT: %u", c.error);
	CHECK(pool_stat("reserved") == res0 + 4 && pool_stat("used") == used0 + 4,
	      "reserved %ld used %ld", pool_stat("reserved"), pool_stat("used"));
	grant_cmd(&c, USMFS_CMD_GRANT, dev, ino, 8, F + 2, 2);
	CHECK(cmd1(fd, &c) == EBUSY, "frames already reserved: %u", c.error);
	grant_cmd(&c, USMFS_CMD_GRANT, dev, ino, 2, F + 8, 2);
	CHECK(cmd1(fd, &c) == EBUSY, "pages already reserved: %u", c.error);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 13 + 1);
	CHECK(write(f, buf, sizeof(buf)) == sizeof(buf), "write");
	while (got < 4 && next_event(fd, &ev)) {
		if (ev.type != USMFS_EV_PAGES_ALLOCATED || ev.ino != ino)
			continue;
		if (firstframe == ~0ULL)
			firstframe = ev.u.range.frame;
		reserved_flag = !!(ev.flags & USMFS_EVF_RESERVED);
		got += ev.u.range.nr;
	}
	CHECK(got == 4 && firstframe == F && reserved_flag,
	      "allocated %llu pages from frame %llu (reserved flag %d), granted %llu",
	      (unsigned long long)got, (unsigned long long)firstframe, reserved_flag,
	      (unsigned long long)F);
	CHECK(pool_stat("reserved") == res0, "reservations not used up");

	/* A resident page cannot be granted; its frame neither. */
	grant_cmd(&c, USMFS_CMD_GRANT, dev, ino, 1, F + 8, 1);
	CHECK(cmd1(fd, &c) == EBUSY, "resident page: %u", c.error);
	grant_cmd(&c, USMFS_CMD_GRANT, dev, ino, 10, F + 1, 1);
	CHECK(cmd1(fd, &c) == EBUSY, "frame in use: %u", c.error);

	/* REVOKE gives the frames back: they can be granted again. */
	grant_cmd(&c, USMFS_CMD_GRANT, dev, ino, 10, F + 8, 2);
	CHECK(cmd1(fd, &c) == 0, "GRANT 2: %u", c.error);
	grant_cmd(&c, USMFS_CMD_REVOKE, dev, ino, 0, 0, 100);
	CHECK(cmd1(fd, &c) == 0, "REVOKE: %u", c.error);
	CHECK(pool_stat("reserved") == res0, "REVOKE left %ld", pool_stat("reserved"));
	CHECK(ftruncate(f, 4096 * 12) == 0, "ftruncate up");
	grant_cmd(&c, USMFS_CMD_GRANT, dev, ino, 10, F + 8, 2);
	CHECK(cmd1(fd, &c) == 0, "GRANT after REVOKE: %u", c.error);
	/* Truncation drops the grants in its range. */
	CHECK(ftruncate(f, 4096 * 11) == 0, "ftruncate");
	CHECK(pool_stat("reserved") == res0 + 1, "truncate left %ld", pool_stat("reserved"));
	/* And a detach drops the rest. */
	close(fd);
	CHECK(pool_stat("reserved") == res0, "detach left %ld", pool_stat("reserved"));
	close(f);
	unlink(path);
	CHECK(pool_stat("used") == used0, "used %ld, was %ld", pool_stat("used"), used0);
	printf("grant: 4 pages placed in granted frames %llu..%llu\n", (unsigned long long)F,
	       (unsigned long long)F + 3);
	return failed;
}

/*
 * EVICT after a truncation the server has not read (1.3): refused with
 * ESTALE for the truncated range while its seq is older than the
 * TRUNCATED, accepted once it is not, and never refused outside the range.
 * Page 1 is truncated and written again (maybe into the same frame).
 */
static int t_stale(const char *dir)
{
	struct usmfs_hello h;
	struct usmfs_event ev;
	struct usmfs_cmd c;
	struct stat st;
	char path[512], buf[2 * 4096];
	uint32_t dev = 0;
	uint64_t ino, frame[2] = { ~0ULL, ~0ULL }, seen = 0, trunc_seq = 0;
	uint64_t newframe = ~0ULL;
	int fd = xopen(), f;

	CHECK(hello(fd, &h, USMFS_F_EVICT) == 0, "HELLO: %s", strerror(errno));
	while (next_event(fd, &ev) && ev.type != USMFS_EV_REPLAY_DONE)
		if (ev.type == USMFS_EV_MOUNT)
			dev = ev.dev;
	snprintf(path, sizeof(path), "%s/stalefile", dir);
	f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(f >= 0, "create");
	fstat(f, &st);
	ino = st.st_ino;
	memset(buf, 0x5c, sizeof(buf));
	CHECK(write(f, buf, sizeof(buf)) == sizeof(buf), "write");
	while ((frame[0] == ~0ULL || frame[1] == ~0ULL) && next_event(fd, &ev)) {
		seen = ev.seq;
		if (ev.type != USMFS_EV_PAGES_ALLOCATED || ev.ino != ino)
			continue;
		for (uint64_t i = 0; i < ev.u.range.nr; i++)
			if (ev.u.range.start + i < 2)
				frame[ev.u.range.start + i] = ev.u.range.frame + i;
	}
	CHECK(frame[0] != ~0ULL && frame[1] != ~0ULL, "no PAGES_ALLOCATED for pages 0 and 1");
	/* unread by us: TRUNCATED of pages 1.., then page 1 again */
	CHECK(ftruncate(f, 4096) == 0, "ftruncate");
	memset(buf, 0x6d, 4096);
	CHECK(pwrite(f, buf, 4096, 4096) == 4096, "pwrite");

	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_EVICT;
	c.dev = dev;
	c.ino = ino;
	c.u.range.index = 1;
	c.u.range.frame = frame[1];
	c.u.range.nr = 1;
	c.u.range.seq = seen;
	CHECK(cmd1(fd, &c) == ESTALE, "EVICT page 1 with seq %llu before its TRUNCATED: %u",
	      (unsigned long long)seen, c.error);
	c.u.range.reserved = 1;
	CHECK(cmd1(fd, &c) == EINVAL, "EVICT reserved: %u", c.error);
	c.u.range.reserved = 0;
	/* page 0 was not truncated: its EVICT goes through */
	c.u.range.index = 0;
	c.u.range.frame = frame[0];
	CHECK(cmd1(fd, &c) == 0, "EVICT page 0 with seq %llu: %u", (unsigned long long)seen,
	      c.error);
	c.op = USMFS_CMD_CANCEL;
	CHECK(cmd1(fd, &c) == EINVAL, "CANCEL with seq: %u", c.error);
	c.u.range.seq = 0;
	CHECK(cmd1(fd, &c) == 0, "CANCEL: %u", c.error);
	while (newframe == ~0ULL && next_event(fd, &ev)) {
		seen = ev.seq;
		if (ev.type == USMFS_EV_TRUNCATED && ev.ino == ino)
			trunc_seq = ev.seq;
		if (trunc_seq && ev.type == USMFS_EV_PAGES_ALLOCATED && ev.ino == ino &&
		    ev.u.range.start == 1)
			newframe = ev.u.range.frame;
	}
	CHECK(trunc_seq && newframe != ~0ULL, "TRUNCATED %llu, new frame %llu",
	      (unsigned long long)trunc_seq, (unsigned long long)newframe);
	c.op = USMFS_CMD_EVICT;
	c.u.range.index = 1;
	c.u.range.frame = newframe;
	c.u.range.seq = trunc_seq;
	CHECK(cmd1(fd, &c) == 0, "EVICT page 1 with seq %llu, its TRUNCATED's: %u",
	      (unsigned long long)trunc_seq, c.error);
	c.op = USMFS_CMD_CANCEL;
	c.u.range.seq = 0;
	CHECK(cmd1(fd, &c) == 0, "CANCEL 2: %u", c.error);
	/* unchecked without a seq (servers before 1.3) */
	c.op = USMFS_CMD_EVICT;
	CHECK(cmd1(fd, &c) == 0, "EVICT without seq: %u", c.error);
	c.op = USMFS_CMD_CANCEL;
	CHECK(cmd1(fd, &c) == 0, "CANCEL 3: %u", c.error);
	CHECK(pread(f, buf, 4096, 0) == 4096 && buf[0] == 0x5c && buf[4095] == 0x5c &&
	      pread(f, buf, 4096, 4096) == 4096 && buf[0] == 0x6d && buf[4095] == 0x6d,
	      "data after the cancelled evictions");
	close(fd);
	close(f);
	unlink(path);
	printf("stale: EVICT of the truncated page refused before its TRUNCATED (seq %llu), taken after; page 0 never refused (frames %llu, %llu -> %llu)\n",
	       (unsigned long long)trunc_seq, (unsigned long long)frame[0],
	       (unsigned long long)frame[1], (unsigned long long)newframe);
	return failed;
}

/*
 * A hole punched into part of a page the server holds for an eviction
 * (EVICT's busy entry), on a mount with a short swapin_timeout: the punch
 * waits for the page, gives up at the timeout and returns; the bytes must
 * still be zero once the page is resident again (CANCEL), not lost.
 */
static int t_punchbusy(const char *dir)
{
	struct usmfs_hello h;
	struct usmfs_event ev;
	struct usmfs_cmd c;
	struct stat st;
	char path[512], buf[4096];
	uint32_t dev = 0;
	uint64_t ino, frame = ~0ULL, seen = 0;
	int fd = xopen(), f, status, i, zeros = 0, kept = 0;
	pid_t pid;

	CHECK(hello(fd, &h, USMFS_F_EVICT) == 0, "HELLO: %s", strerror(errno));
	while (next_event(fd, &ev) && ev.type != USMFS_EV_REPLAY_DONE)
		if (ev.type == USMFS_EV_MOUNT)
			dev = ev.dev;
	snprintf(path, sizeof(path), "%s/punchbusy", dir);
	f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(f >= 0, "create");
	fstat(f, &st);
	ino = st.st_ino;
	memset(buf, 0x5c, sizeof(buf));
	CHECK(write(f, buf, sizeof(buf)) == sizeof(buf), "write");
	while (frame == ~0ULL && next_event(fd, &ev)) {
		seen = ev.seq;
		if (ev.type == USMFS_EV_PAGES_ALLOCATED && ev.ino == ino &&
		    ev.u.range.start == 0)
			frame = ev.u.range.frame;
	}
	CHECK(frame != ~0ULL, "no PAGES_ALLOCATED for page 0");
	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_EVICT;
	c.dev = dev;
	c.ino = ino;
	c.u.range.index = 0;
	c.u.range.frame = frame;
	c.u.range.nr = 1;
	c.u.range.seq = seen;
	CHECK(cmd1(fd, &c) == 0, "EVICT page 0: %u", c.error);
	pid = fork();
	if (pid == 0)
		_exit(fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
				2048) ? 1 : 0);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "punch [0, 2048) while the page is locked");
	c.op = USMFS_CMD_CANCEL;
	c.u.range.seq = 0;
	CHECK(cmd1(fd, &c) == 0, "CANCEL: %u", c.error);
	CHECK(pread(f, buf, sizeof(buf), 0) == sizeof(buf), "pread");
	for (i = 0; i < 4096; i++) {
		zeros += i < 2048 && buf[i] == 0;
		kept += i >= 2048 && buf[i] == 0x5c;
	}
	CHECK(zeros == 2048 && kept == 2048,
	      "after the punch: %d of 2048 bytes zero, %d of 2048 kept", zeros, kept);
	close(fd);
	close(f);
	unlink(path);
	printf("punchbusy: a punch into a page under eviction past swapin_timeout: zeroed once the page is back (%d zero, %d kept)\n",
	       zeros, kept);
	return failed;
}

static uint64_t rnd(void)
{
	static uint64_t s = 0x9e3779b97f4a7c15ULL;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

/*
 * The pages of a scratch file (the module's own dev/ino/index/frame, from
 * LIST_PAGES), for commands that name real pages.
 */
static struct usmfs_page_rec live[256];
static unsigned int nlive;

static void fuzz_list(int fd, uint64_t ino)
{
	static struct usmfs_page_rec recs[4096];
	struct usmfs_cmd c;
	struct usmfs_cmd_batch b;

	memset(&c, 0, sizeof(c));
	c.op = USMFS_CMD_LIST_PAGES;
	c.u.list.recs_ptr = (uintptr_t)recs;
	c.u.list.nr = 4096;
	memset(&b, 0, sizeof(b));
	b.cmds_ptr = (uintptr_t)&c;
	b.nr = 1;
	nlive = 0;
	if (ioctl(fd, USMFS_IOC_CMD, &b) || c.error)
		return;
	for (uint32_t i = 0; i < c.u.list.nr && nlive < 256; i++)
		if (recs[i].ino == ino)
			live[nlive++] = recs[i];
}

/* A command on a real page of the scratch file, with a random op. */
static void fuzz_live(struct usmfs_cmd *c)
{
	static const uint16_t ops[] = {
		USMFS_CMD_EVICT, USMFS_CMD_EVICT, USMFS_CMD_COMMIT,
		USMFS_CMD_COMMIT, USMFS_CMD_CANCEL, USMFS_CMD_SWAPIN_DONE,
		USMFS_CMD_GRANT, USMFS_CMD_REVOKE, USMFS_CMD_LIST_PAGES,
	};
	const struct usmfs_page_rec *r = &live[rnd() % nlive];

	memset(c, 0, sizeof(*c));
	c->op = ops[rnd() % (sizeof(ops) / sizeof(ops[0]))];
	c->dev = r->dev;
	c->ino = r->ino;
	switch (c->op) {
	case USMFS_CMD_EVICT:
	case USMFS_CMD_CANCEL:
		c->u.range.index = r->index;
		c->u.range.frame = r->frame;
		c->u.range.nr = rnd() % 4 ? 1 : rnd() % 4 + 1;
		break;
	case USMFS_CMD_COMMIT:
		c->u.commit.index = r->index;
		c->u.commit.frame = r->frame;
		c->u.commit.slot = rnd() % 8 ? rnd() % 100000 : rnd();
		c->u.commit.store_id = rnd() % 8 ? rnd() % 4 : rnd() % 300;
		break;
	case USMFS_CMD_SWAPIN_DONE:
		c->u.swapin.index = r->index;
		c->u.swapin.frame = r->frame;
		c->u.swapin.token = rnd() % 16;
		c->u.swapin.status = rnd() % 2 ? 0 : rnd() % 200;
		break;
	case USMFS_CMD_GRANT:
	case USMFS_CMD_REVOKE:
		c->u.grant.index = r->index + rnd() % 8;
		c->u.grant.first_frame = c->op == USMFS_CMD_GRANT ? r->frame + rnd() % 8 : 0;
		c->u.grant.nr = rnd() % 8 + 1;
		break;
	default:
		break;
	}
}

/*
 * The scratch file's user: writes, reads and touches mapped pages while the
 * commands above evict, commit and swap them in.  Errors are expected (a
 * page committed to a slot that holds nothing fails to come back).
 */
static void fuzz_user(const char *path, time_t end)
{
	char buf[4096];
	int fd = open(path, O_RDWR);
	char *m;

	if (fd < 0)
		_exit(1);
	m = mmap(NULL, 64 << 12, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	while (time(NULL) < end) {
		off_t off = (off_t)(rnd() % 64) << 12;

		switch (rnd() % 4) {
		case 0:
			memset(buf, (int)rnd(), sizeof(buf));
			if (pwrite(fd, buf, sizeof(buf), off) < 0) {}
			break;
		case 1:
			if (pread(fd, buf, sizeof(buf), off) < 0) {}
			break;
		default:
			if (m != MAP_FAILED)
				m[off + (off_t)(rnd() % 4096)]++;
			break;
		}
	}
	_exit(0);
}

/* Answer some SWAPIN_REQUESTs right, others wrong. */
static void fuzz_events(int fd)
{
	struct usmfs_event ev[8];
	struct usmfs_cmd c[8];
	struct usmfs_cmd_batch b;
	ssize_t n = read(fd, ev, sizeof(ev));
	uint32_t k = 0;

	for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof(ev[0]); i++) {
		if (ev[i].type != USMFS_EV_SWAPIN_REQUEST || rnd() % 4 == 0)
			continue;
		memset(&c[k], 0, sizeof(c[k]));
		c[k].op = USMFS_CMD_SWAPIN_DONE;
		c[k].dev = ev[i].dev;
		c[k].ino = ev[i].ino;
		c[k].u.swapin.index = ev[i].u.swapin.index;
		c[k].u.swapin.frame = ev[i].u.swapin.frame + (rnd() % 8 == 0);
		c[k].u.swapin.token = ev[i].u.swapin.token;
		c[k].u.swapin.status = rnd() % 2 ? 0 : EIO;
		k++;
	}
	if (!k)
		return;
	memset(&b, 0, sizeof(b));
	b.cmds_ptr = (uintptr_t)c;
	b.nr = k;
	CHECK(ioctl(fd, USMFS_IOC_CMD, &b) == 0 && b.done == k, "SWAPIN_DONE batch: %s",
	      strerror(errno));
}

static int t_fuzz(int seconds, long max, const char *scratch)
{
	static struct usmfs_cmd cmds[USMFS_MAX_BATCH + 8];
	static struct usmfs_page_rec recs[4096];
	struct usmfs_cmd_batch b;
	struct usmfs_hello h;
	struct usmfs_event ev[4];
	time_t end = time(NULL) + seconds;
	long batches = 0, cmdsdone = 0, errs = 0, ok = 0, onlive = 0;
	int fd = xopen();
	uint64_t sino = 0;
	pid_t user = -1;

	CHECK(hello(fd, &h, ~0ULL) == 0, "HELLO: %s", strerror(errno));
	if (scratch) {
		struct stat st;
		int sfd = open(scratch, O_RDWR | O_CREAT | O_TRUNC, 0600);
		char page[4096];

		CHECK(sfd >= 0, "%s: %s", scratch, strerror(errno));
		memset(page, 0x5a, sizeof(page));
		for (int i = 0; sfd >= 0 && i < 64; i++)
			CHECK(write(sfd, page, sizeof(page)) == sizeof(page), "write");
		if (sfd >= 0 && fstat(sfd, &st) == 0)
			sino = st.st_ino;
		if (sfd >= 0)
			close(sfd);
		user = fork();
		if (user == 0)
			fuzz_user(scratch, end);
	}
	while (batches < max && time(NULL) < end) {
		uint32_t nr = rnd() % 8 ? rnd() % 16 + 1 : rnd() % (USMFS_MAX_BATCH + 4);
		long r;

		if (sino && batches % 32 == 0)
			fuzz_list(fd, sino);
		for (uint32_t i = 0; i < nr && i < USMFS_MAX_BATCH + 8; i++) {
			struct usmfs_cmd *c = &cmds[i];

			if (nlive && rnd() % 3 == 0) {
				fuzz_live(c);
				onlive++;
				if (rnd() % 16 == 0)
					((uint8_t *)c)[rnd() % sizeof(*c)] ^= 1 << (rnd() % 8);
			} else if (rnd() % 2) {
				/* raw garbage */
				uint64_t *w = (uint64_t *)c;

				for (size_t k = 0; k < sizeof(*c) / 8; k++)
					w[k] = rnd();
				c->op = rnd() % 14;
			} else {
				/* a valid command, mutated */
				memset(c, 0, sizeof(*c));
				c->op = rnd() % 11 + 1;
				c->dev = rnd() % 3;
				c->ino = rnd() % 4 ? rnd() % 64 : rnd();
				c->u.raw[0] = rnd() % 4 ? rnd() % 4096 : rnd();
				c->u.raw[1] = rnd() % 4 ? rnd() % 8192 : rnd();
				c->u.raw[2] = rnd() % 600;
				if (c->op == USMFS_CMD_SET_WATERMARKS) {
					c->dev = 0;
					c->ino = 0;
					c->u.wm.low_pct = rnd() % 110;
					c->u.wm.high_pct = rnd() % 110;
				}
				if (c->op == USMFS_CMD_SET_STORE || c->op == USMFS_CMD_GET_STORE) {
					c->dev = 0;
					c->ino = 0;
					c->u.store.store_id = rnd() % 300;
					if (c->op == USMFS_CMD_SET_STORE)
						snprintf((char *)c->u.store.name, USMFS_NAME_LEN,
							 rnd() % 2 ? "s%u" : "S!%u",
							 (unsigned)(rnd() % 100));
				}
				if (rnd() % 16 == 0)
					((uint8_t *)c)[rnd() % sizeof(*c)] ^= 1 << (rnd() % 8);
			}
			if (c->op == USMFS_CMD_LIST_PAGES) {
				/* Never let the module write into our own memory at random. */
				switch (rnd() % 3) {
				case 0:
					c->u.list.recs_ptr = (uintptr_t)recs;
					c->u.list.nr = rnd() % 5000;
					if (c->u.list.nr > 4096)
						c->u.list.nr = 4096;
					break;
				case 1:
					c->u.list.recs_ptr = 0;
					break;
				default:
					c->u.list.recs_ptr = 0xffff880000000000ULL + rnd() % 4096;
					break;
				}
			}
		}
		memset(&b, 0, sizeof(b));
		b.cmds_ptr = (uintptr_t)cmds;
		b.nr = nr;
		if (rnd() % 64 == 0)
			b.reserved0 = rnd();
		r = ioctl(fd, USMFS_IOC_CMD, &b);
		batches++;
		if (nr == 0 || nr > USMFS_MAX_BATCH || b.reserved0) {
			CHECK(r < 0 && errno == EINVAL, "batch of %u: %ld", nr, r);
			continue;
		}
		CHECK(r == 0 && b.done == nr, "batch of %u: %ld %s done %u", nr, r,
		      strerror(errno), b.done);
		for (uint32_t i = 0; i < nr; i++) {
			cmdsdone++;
			if (cmds[i].error) {
				errs++;
				CHECK(cmds[i].error < 200, "error %u", cmds[i].error);
			} else {
				ok++;
			}
		}
		if (failed)
			break;
		/* A little of everything else. */
		if (rnd() % 16 == 0) {
			unsigned long cmd = _IOC(rnd() % 4, 'U', rnd() % 8, rnd() % 300);

			/* zeroed: no pointer in it the module could write to */
			memset(recs, 0, sizeof(recs));
			ioctl(fd, cmd, recs);
		}
		if (sino && rnd() % 2 == 0) {
			int fl = fcntl(fd, F_GETFL);

			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
			fuzz_events(fd);
			fcntl(fd, F_SETFL, fl);
		} else if (rnd() % 8 == 0) {
			int fl = fcntl(fd, F_GETFL);

			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
			if (read(fd, ev, rnd() % 2 ? sizeof(ev) : rnd() % sizeof(ev)) < 0 &&
			    errno != EAGAIN && errno != EINVAL)
				CHECK(0, "read: %s", strerror(errno));
			fcntl(fd, F_SETFL, fl);
		}
	}
	/* Detaching unlocks what is still locked: the user must not hang. */
	close(fd);
	if (user > 0) {
		kill(user, SIGKILL);
		CHECK(waitpid(user, NULL, 0) == user, "waitpid: %s", strerror(errno));
	}
	printf("fuzz: %ld batches, %ld commands (%ld on live pages), %ld refused, %ld accepted\n",
	       batches, cmdsdone, onlive, errs, ok);
	CHECK(batches > 100, "only %ld batches", batches);
	CHECK(!sino || onlive > 0, "no command named a live page");
	return failed;
}

/* xattr PATH NAME [VALUE]: set NAME to VALUE, or print its value. */
static int t_xattr(int argc, char **argv)
{
	char buf[256];
	ssize_t n;

	if (argc == 5) {
		if (setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0)) {
			fprintf(stderr, "setxattr %s %s: %s\n", argv[2], argv[3], strerror(errno));
			return 1;
		}
		return 0;
	}
	n = getxattr(argv[2], argv[3], buf, sizeof(buf) - 1);
	if (n < 0) {
		fprintf(stderr, "getxattr %s %s: %s\n", argv[2], argv[3], strerror(errno));
		return 1;
	}
	buf[n] = '\0';
	printf("%s\n", buf);
	return 0;
}

/* willneed FILE OFF LEN [madv|seq]: posix_fadvise(POSIX_FADV_WILLNEED),
 * or on a shared mapping of the range madvise(MADV_WILLNEED), or
 * madvise(MADV_SEQUENTIAL) and a read of its first byte. */
static int t_willneed(const char *path, long off, long len, const char *how)
{
	bool madv = !strcmp(how, "madv"), seq = !strcmp(how, "seq");
	int fd = open(path, O_RDONLY);
	int r;

	if (fd < 0) {
		perror(path);
		return 1;
	}
	if (madv || seq) {
		volatile char *p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED,
					fd, off);

		if (p == MAP_FAILED) {
			perror("mmap");
			close(fd);
			return 1;
		}
		r = madvise((void *)p, (size_t)len,
			    seq ? MADV_SEQUENTIAL : MADV_WILLNEED) ? errno : 0;
		if (!r && seq)
			(void)p[0];
		munmap((void *)p, (size_t)len);
	} else {
		r = posix_fadvise(fd, off, len, POSIX_FADV_WILLNEED);
	}
	close(fd);
	if (r) {
		fprintf(stderr, "willneed: %s\n", strerror(r));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && argc <= 5 && !strcmp(argv[1], "xattr"))
		return t_xattr(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "open"))
		return t_open();
	if (argc >= 2 && !strcmp(argv[1], "noroot"))
		return t_noroot();
	if (argc >= 2 && !strcmp(argv[1], "hello"))
		return t_hello();
	if (argc >= 3 && !strcmp(argv[1], "events"))
		return t_events(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "grant"))
		return t_grant(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "stale"))
		return t_stale(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "punchbusy"))
		return t_punchbusy(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "overflow"))
		return t_overflow(argv[2], atoi(argv[3]));
	if (argc >= 4 && !strcmp(argv[1], "mapcmp"))
		return t_mapcmp(argv[2], argv[3]);
	if (argc >= 3 && !strcmp(argv[1], "swapin"))
		return t_swapin(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "swaprace"))
		return t_swaprace(argv[2], atoi(argv[3]));
	if (argc >= 5 && !strcmp(argv[1], "willneed"))
		return t_willneed(argv[2], atol(argv[3]), atol(argv[4]),
				  argc >= 6 ? argv[5] : "");
	if (argc >= 4 && !strcmp(argv[1], "fuzz"))
		return t_fuzz(atoi(argv[2]), atol(argv[3]), argc >= 5 ? argv[4] : NULL);
	fprintf(stderr, "usage: chantest open|noroot|hello|events DIR|grant DIR|stale DIR|punchbusy DIR|overflow DIR N|fuzz S MAX [SCRATCH]|swapin DIR|swaprace DIR N|mapcmp FILE REF|willneed FILE OFF LEN [madv|seq]|xattr PATH NAME [VALUE]\n");
	return 2;
}
