// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_rados.c - the "rados:" store against a real one-node cluster
 * (tests/rados/cluster.sh; run.sh starts it and sets CLUSTER_DIR).
 *
 * Checked: refusals at open (bad spec, missing pool, unreachable
 * cluster, a store of the same id in use), pages across objects written
 * and read back, objects named usm.MACHINE.ID[.N] and removed when their
 * slots are freed (batched) and at close, a KEEP reopen finding the pages
 * of a closed store, a plain reopen dropping them, a page whose object
 * vanished read as EIO (never zeroes), and an OSD outage: writes fail
 * within the timeout, the store takes nothing and says why, a swap-in gets
 * EIO, and once the OSD is back the store resumes by itself with every
 * page intact; a full pool (the OSD's full ratio lowered: the test
 * cluster has no manager, so a pool quota is never enforced): a write
 * into a new object fails with ENOSPC before the timeout, the store says
 * "full", not "unreachable", swap-ins and removals still work, and once
 * the ratio is back the store resumes by itself.  Machine tags: the
 * whole /etc/machine-id (else a hash of the host name, so that
 * "worker-node-1" and "worker-node-2" differ), and a lock of another
 * machine under this machine's name is never broken.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <rados/librados.h>

#include <usm/swap.h>

#define PG USM_PAGE_SIZE

/* policy/lib/store_rados.h (not installed) */
void rados_machine_tag(char *out, size_t len);
void rados_machine_tag_of(const char *mid, const char *host, char *out,
			  size_t len);
bool rados_cookie_stale(const char *cookie);

static const char *cdir;	/* the cluster's directory */
static char conf[512];
static rados_t cl;
static rados_ioctx_t io;

static void spec_of(char *buf, size_t len, const char *extra)
{
	snprintf(buf, len, "rados:usm/unit:conf=%s:user=usm:timeout=4%s", conf,
		 extra ? extra : "");
}

static bool osd_stopped;
static bool full_set;
static double now_s(void);
static void pool_full(bool on);

static void cluster(const char *what);

/* Remove what earlier runs left in the namespace "unit". */
static int clean_ns(void)
{
	rados_list_ctx_t lc;
	const char *e;

	if (rados_nobjects_list_open(io, &lc))
		return -1;
	while (!rados_nobjects_list_next(lc, &e, NULL, NULL))
		rados_remove(io, e);
	rados_nobjects_list_close(lc);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	cdir = getenv("CLUSTER_DIR");
	if (!cdir)
		return -1;
	snprintf(conf, sizeof(conf), "%s/ceph.conf", cdir);
	if (rados_create2(&cl, "ceph", "client.admin", 0) ||
	    rados_conf_read_file(cl, conf) ||
	    rados_conf_set(cl, "rados_osd_op_timeout", "60") ||
	    rados_connect(cl) ||
	    rados_ioctx_create(cl, "usm", &io))
		return -1;
	rados_ioctx_set_namespace(io, "unit");
	return clean_ns();
}

static int teardown(void **state)
{
	(void)state;
	if (full_set)
		pool_full(false);
	if (osd_stopped)
		cluster("osd-start");
	clean_ns();
	rados_ioctx_destroy(io);
	rados_shutdown(cl);
	return 0;
}

/* Objects in the namespace "unit" whose name starts with @prefix. */
static int count_objects(const char *prefix)
{
	rados_list_ctx_t lc;
	const char *e;
	int n = 0;

	assert_int_equal(rados_nobjects_list_open(io, &lc), 0);
	while (!rados_nobjects_list_next(lc, &e, NULL, NULL))
		n += !strncmp(e, prefix, strlen(prefix));
	rados_nobjects_list_close(lc);
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill(void *buf, uint64_t tag)
{
	uint64_t *w = buf;

	for (size_t i = 0; i < PG / 8; i++)
		w[i] = tag * 0x9e3779b97f4a7c15ULL + i;
}

static void check(const void *buf, uint64_t tag)
{
	const uint64_t *w = buf;

	for (size_t i = 0; i < PG / 8; i++)
		if (w[i] != tag * 0x9e3779b97f4a7c15ULL + i)
			fail_msg("page %llu word %zu differs", (unsigned long long)tag, i);
}

static void cluster(const char *what)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s/cluster.sh %s %s >/dev/null 2>&1",
		 getenv("RADOS_TESTS") ? getenv("RADOS_TESTS") : ".", what, cdir);
	assert_int_equal(system(cmd), 0);
	osd_stopped = !strcmp(what, "osd-stop");
}

/* Mark the OSD (and so the pool) full or not: its full ratio below what
 * it uses, or back to the defaults; wait until the pool says so. */
static void pool_full(bool on)
{
	static const char *const set[2][3] = {
		{ "set-full-ratio 0.95", "set-backfillfull-ratio 0.90",
		  "set-nearfull-ratio 0.85" },
		{ "set-nearfull-ratio 0.001", "set-backfillfull-ratio 0.002",
		  "set-full-ratio 0.003" },
	};
	char cmd[1024];
	double t0 = now_s();
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd), "timeout 60 ceph --connect-timeout 15 "
			 "-c %s osd %s >/dev/null 2>&1", conf, set[on][i]);
		assert_int_equal(system(cmd), 0);
	}
	snprintf(cmd, sizeof(cmd), "timeout 60 ceph --connect-timeout 15 -c %s "
		 "osd pool ls detail 2>/dev/null | grep -q \"^pool .* 'usm' "
		 ".*flags [a-z_,]*full\"", conf);
	while ((system(cmd) == 0) != on && now_s() - t0 < 60)
		usleep(500000);
	assert_true(now_s() - t0 < 60);
	full_set = on;
	/* the monitors' map says so: wait until the OSD refuses a new
	 * object too (it may have an older map for a while) */
	while (on && now_s() - t0 < 60) {
		rados_write_op_t w = rados_create_write_op();
		int r;

		rados_write_op_write_full(w, "x", 1);
		r = rados_write_op_operate(w, io, "fullcheck", NULL,
					   LIBRADOS_OPERATION_FULL_TRY);
		rados_release_write_op(w);
		if (r == -ENOSPC || r == -EDQUOT)
			break;
		if (!r)
			rados_remove(io, "fullcheck");
		usleep(500000);
	}
	assert_true(now_s() - t0 < 60);
}

static void test_refusals(void **state)
{
	struct usm_store *st = NULL;
	char spec[1024], err[1024];
	FILE *f;

	(void)state;
	err[0] = '\0';
	assert_int_equal(usm_store_open("r", "rados:", 0, &st, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "expected rados:POOL"));
	assert_int_equal(usm_store_open("r", "rados:usm:colour=blue", 0, &st,
					err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad option 'colour=blue'"));
	assert_int_equal(usm_store_open("r", "rados:usm:conf=/nonexistent/c.conf",
					0, &st, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cluster config /nonexistent/c.conf"));

	/* a pool the cluster does not have */
	snprintf(spec, sizeof(spec), "rados:nosuchpool:conf=%s:user=usm", conf);
	assert_int_equal(usm_store_open("r", spec, 0, &st, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "has no pool 'nosuchpool'"));
	assert_int_equal(usm_store_check(spec, err, sizeof(err)), -ENOENT);

	/* a cluster nobody answers for: refused within the timeout */
	f = fopen("/tmp/usm-rados-nobody.conf", "w");
	assert_non_null(f);
	fprintf(f, "[global]\nmon host = v2:127.0.0.1:1\nauth client required = none\n");
	fclose(f);
	double t0 = now_s();
	assert_true(usm_store_open("r", "rados:usm:conf=/tmp/usm-rados-nobody.conf:"
				   "timeout=2", 0, &st, err, sizeof(err)) < 0);
	assert_true(now_s() - t0 < 30);
	assert_non_null(strstr(err, "cannot reach the cluster"));
	unlink("/tmp/usm-rados-nobody.conf");
	assert_null(st);
}

static void test_round_trip_objects(void **state)
{
	enum { N = 300 };
	struct usm_store *st, *st2;
	usm_slot_t slots[N], first;
	void *bufs[N];
	char spec[1024], err[1024], mach[48] = "", prefix[128];
	uint64_t nr, got = 0;
	char *mem = aligned_alloc(PG, (size_t)N * PG);
	FILE *f;
	size_t i;

	(void)state;
	assert_non_null(mem);
	spec_of(spec, sizeof(spec), ":id=rt");
	assert_int_equal(usm_store_open("rt", spec, 0, &st, err, sizeof(err)), 0);
	/* the same id again, while this one lives: refused */
	assert_int_equal(usm_store_open("rt", spec, 0, &st2, err, sizeof(err)),
			 -EBUSY);
	assert_non_null(strstr(err, "in use by another store"));

	while (got < N) {
		assert_int_equal(usm_store_alloc_run(st, N - got, &first, &nr), 0);
		for (i = 0; i < nr; i++)
			slots[got + i] = first + i;
		got += nr;
	}
	for (i = 0; i < N; i++) {
		bufs[i] = mem + i * PG;
		fill(bufs[i], slots[i] + 1);
	}
	assert_int_equal(usm_store_write(st, slots, bufs, N), 0);
	memset(mem, 0, (size_t)N * PG);
	assert_int_equal(usm_store_read(st, slots, bufs, N), 0);
	for (i = 0; i < N; i++)
		check(bufs[i], slots[i] + 1);

	/* the header and ceil(300 / 64) = 5 objects of 64 slots, named
	 * after the whole machine id */
	f = fopen("/etc/machine-id", "r");
	if (f) {
		if (fscanf(f, "%40s", mach) != 1)
			mach[0] = '\0';
		fclose(f);
	}
	snprintf(prefix, sizeof(prefix), "usm.%s.rt", mach);
	assert_int_equal(count_objects(prefix), 1 + 5);
	assert_int_equal(count_objects("usm."), 1 + 5);

	/* an unwritten slot reads as zeroes, without the cluster */
	assert_int_equal(usm_store_alloc(st, &first), 0);
	memset(mem, 0xaa, PG);
	assert_int_equal(usm_store_read(st, &first, bufs, 1), 0);
	for (i = 0; i < PG; i++)
		assert_int_equal(mem[i], 0);
	assert_int_equal(usm_store_free(st, first), 0);

	/* freeing the first 128 slots empties two objects: removed by the
	 * next batch or sync */
	for (i = 0; i < 128; i++)
		assert_int_equal(usm_store_free(st, slots[i]), 0);
	assert_int_equal(usm_store_sync(st), 0);
	assert_int_equal(count_objects(prefix), 1 + 3);

	/* an object removed behind the store's back: EIO, not zeroes */
	{
		char oid[160];

		snprintf(oid, sizeof(oid), "%s.%016llx", prefix,
			 (unsigned long long)(slots[N - 1] / 64));
		assert_int_equal(rados_remove(io, oid), 0);
		assert_int_equal(usm_store_read(st, &slots[N - 1], &bufs[0], 1), -EIO);
		/* the store still takes pages: a missing object is no outage */
		assert_int_equal(usm_store_alloc(st, &first), 0);
		assert_int_equal(usm_store_free(st, first), 0);
	}
	for (i = 128; i < N; i++)
		assert_int_equal(usm_store_free(st, slots[i]), 0);
	usm_store_close(st);
	/* emptied and closed: nothing left, header included */
	assert_int_equal(count_objects(prefix), 0);
	free(mem);
}

static void test_keep_reopen(void **state)
{
	enum { N = 100 };
	struct usm_store *st;
	usm_slot_t slots[N], first;
	void *bufs[N];
	char spec[1024], err[1024];
	char *mem = aligned_alloc(PG, (size_t)N * PG);
	uint64_t nr;
	size_t i;

	(void)state;
	spec_of(spec, sizeof(spec), ":id=keep");
	assert_int_equal(usm_store_open("k", spec, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(usm_store_alloc_run(st, N, &first, &nr), 0);
	assert_int_equal(nr, N);
	for (i = 0; i < N; i++) {
		slots[i] = first + i;
		bufs[i] = mem + i * PG;
		fill(bufs[i], 1000 + i);
	}
	assert_int_equal(usm_store_write(st, slots, bufs, N), 0);
	/* closed with pages in it (a server stopping with USM_STORE_KEEP):
	 * the objects stay */
	usm_store_close(st);
	assert_true(count_objects("usm.") >= 3);

	/* a restart finds them: claim, read back */
	assert_int_equal(usm_store_open("k", spec, USM_STORE_KEEP, &st, err,
					sizeof(err)), 0);
	for (i = 0; i < N; i++)
		assert_int_equal(usm_store_claim(st, slots[i]), 0);
	memset(mem, 0, (size_t)N * PG);
	assert_int_equal(usm_store_read(st, slots, bufs, N), 0);
	for (i = 0; i < N; i++)
		check(bufs[i], 1000 + i);
	usm_store_close(st);	/* still used: kept again */

	/* a start that keeps nothing drops them */
	assert_int_equal(usm_store_open("k", spec, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(count_objects("usm."), 1);	/* its header */
	usm_store_close(st);
	assert_int_equal(count_objects("usm."), 0);
	free(mem);
}

/* The OSD stops: writes fail within the timeout, nothing more is taken,
 * swap-ins get EIO; it comes back: the store resumes, pages intact. */
static void test_osd_outage(void **state)
{
	enum { N = 64 };
	struct usm_store *st;
	usm_slot_t slots[N], first, more[8];
	void *bufs[N];
	char spec[1024], err[1024], why[512];
	char *mem = aligned_alloc(PG, (size_t)N * PG);
	uint64_t nr;
	double t0;
	size_t i;
	int r;

	(void)state;
	spec_of(spec, sizeof(spec), ":id=outage");
	assert_int_equal(usm_store_open("o", spec, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(usm_store_state(st, why, sizeof(why)), 0);
	assert_int_equal(usm_store_alloc_run(st, N, &first, &nr), 0);
	for (i = 0; i < nr; i++) {
		slots[i] = first + i;
		bufs[i] = mem + i * PG;
		fill(bufs[i], 7000 + i);
	}
	assert_int_equal(usm_store_write(st, slots, bufs, nr), 0);

	cluster("osd-stop");
	/* a batch written now fails within the timeout (4 s, with slack
	 * for a loaded machine), and the store takes nothing more */
	assert_int_equal(usm_store_alloc_run(st, 8, &first, &nr), 0);
	for (i = 0; i < nr; i++)
		more[i] = first + i;
	t0 = now_s();
	r = usm_store_write(st, more, bufs, nr);
	assert_true(r < 0);
	assert_true(now_s() - t0 < 60);
	for (i = 0; i < nr; i++)
		assert_int_equal(usm_store_free(st, more[i]), 0);
	assert_int_equal(usm_store_alloc(st, &first), -ENOSPC);
	assert_int_equal(usm_store_room(st), 0);
	assert_int_equal(usm_store_state(st, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "unreachable"));
	/* a swap-in: EIO within the timeout, never zeroes */
	t0 = now_s();
	assert_int_equal(usm_store_read(st, slots, bufs, 1), -ETIMEDOUT);
	assert_true(now_s() - t0 < 60);

	cluster("osd-start");
	/* resumes by itself, nobody calling into the store meanwhile: the
	 * state clears, then the next allocation succeeds at once */
	t0 = now_s();
	while (usm_store_state(st, why, sizeof(why)) && now_s() - t0 < 90)
		usleep(200000);
	assert_true(now_s() - t0 < 90);
	assert_true(usm_store_room(st) > 0);
	assert_int_equal(usm_store_alloc(st, &first), 0);
	assert_int_equal(usm_store_free(st, first), 0);
	memset(mem, 0, (size_t)N * PG);
	assert_int_equal(usm_store_read(st, slots, bufs, N), 0);
	for (i = 0; i < N; i++)
		check(bufs[i], 7000 + i);
	for (i = 0; i < N; i++)
		assert_int_equal(usm_store_free(st, slots[i]), 0);
	usm_store_close(st);
	assert_int_equal(count_objects("usm."), 0);
	free(mem);
}

/* A full pool: ENOSPC at once (not the timeout), "full" (not
 * "unreachable"), swap-ins and removals still work; resumes by itself. */
static void test_pool_full(void **state)
{
	enum { N = 128 };
	struct usm_store *st;
	usm_slot_t slots[N], first, more[64];
	void *bufs[N];
	char spec[1024], err[1024], why[512];
	char *mem = aligned_alloc(PG, (size_t)N * PG);
	uint64_t nr, got = 0;
	double t0, took;
	size_t i;
	int r;

	(void)state;
	assert_non_null(mem);
	spec_of(spec, sizeof(spec), ":id=full");
	assert_int_equal(usm_store_open("f", spec, 0, &st, err, sizeof(err)), 0);
	while (got < N) {
		assert_int_equal(usm_store_alloc_run(st, N - got, &first, &nr), 0);
		for (i = 0; i < nr; i++)
			slots[got + i] = first + i;
		got += nr;
	}
	for (i = 0; i < N; i++) {
		bufs[i] = mem + i * PG;
		fill(bufs[i], 9000 + i);
	}
	assert_int_equal(usm_store_write(st, slots, bufs, N), 0);
	assert_int_equal(count_objects("usm."), 1 + 2);

	pool_full(true);
	/* 64 new slots: a new object, which a full pool refuses */
	assert_int_equal(usm_store_alloc_run(st, 64, &first, &nr), 0);
	for (i = 0; i < nr; i++)
		more[i] = first + i;
	t0 = now_s();
	r = usm_store_write(st, more, bufs, nr);
	took = now_s() - t0;
	print_message("write to the full pool: %d (%s) after %.2f s (timeout 4 s)\n",
		      r, strerror(-r), took);
	assert_true(r == -ENOSPC || r == -EDQUOT);
	assert_true(took < 3.5);
	for (i = 0; i < nr; i++)
		assert_int_equal(usm_store_free(st, more[i]), 0);
	assert_int_equal(usm_store_state(st, why, sizeof(why)), 1);
	print_message("store state: %s\n", why);
	assert_non_null(strstr(why, "full"));
	assert_null(strstr(why, "unreachable"));
	assert_int_equal(usm_store_alloc(st, &first), -ENOSPC);
	/* swap-ins still work */
	memset(mem, 0, (size_t)N * PG);
	assert_int_equal(usm_store_read(st, slots, bufs, N), 0);
	for (i = 0; i < N; i++)
		check(bufs[i], 9000 + i);
	/* freeing the first object's slots removes it: a full pool frees */
	for (i = 0; i < 64; i++)
		assert_int_equal(usm_store_free(st, slots[i]), 0);
	assert_int_equal(usm_store_sync(st), 0);
	t0 = now_s();
	while (count_objects("usm.") != 1 + 1 && now_s() - t0 < 10)
		usleep(200000);
	assert_int_equal(count_objects("usm."), 1 + 1);

	pool_full(false);
	/* resumes by itself */
	t0 = now_s();
	while (usm_store_state(st, why, sizeof(why)) && now_s() - t0 < 60)
		usleep(200000);
	print_message("resumed %.1f s after the pool stopped being full\n",
		      now_s() - t0);
	assert_true(now_s() - t0 < 60);
	assert_int_equal(usm_store_alloc_run(st, 64, &first, &nr), 0);
	for (i = 0; i < nr; i++) {
		more[i] = first + i;
		fill(bufs[i], 9500 + i);
	}
	assert_int_equal(usm_store_write(st, more, bufs, nr), 0);
	memset(mem, 0, (size_t)N * PG);
	assert_int_equal(usm_store_read(st, more, bufs, nr), 0);
	for (i = 0; i < nr; i++)
		check(bufs[i], 9500 + i);
	assert_int_equal(usm_store_read(st, slots + 64, bufs, 64), 0);
	for (i = 0; i < 64; i++)
		check(bufs[i], 9000 + 64 + i);
	for (i = 0; i < nr; i++)
		assert_int_equal(usm_store_free(st, more[i]), 0);
	for (i = 64; i < N; i++)
		assert_int_equal(usm_store_free(st, slots[i]), 0);
	usm_store_close(st);
	assert_int_equal(count_objects("usm."), 0);
	free(mem);
}

/* The tag is the whole machine id, or "h" and 16 hex digits of a hash of
 * the host name (no machine id): not a prefix that two machines share. */
static void test_machine_tag(void **state)
{
	char tag[64], mid[64] = "";
	FILE *f = fopen("/etc/machine-id", "r");

	(void)state;
	rados_machine_tag(tag, sizeof(tag));
	print_message("machine tag: %s\n", tag);
	if (f) {
		if (fscanf(f, "%63s", mid) != 1)
			mid[0] = '\0';
		fclose(f);
	}
	if (strlen(mid) == 32)
		assert_string_equal(tag, mid);
	else
		assert_int_equal(strlen(tag), 17);
	/* no machine id: host names sharing their first 12 characters
	 * differ (they had the same tag "worker-node-") */
	rados_machine_tag_of(NULL, "worker-node-1", tag, sizeof(tag));
	rados_machine_tag_of("uninitialized\n", "worker-node-2", mid, sizeof(mid));
	print_message("worker-node-1: %s, worker-node-2: %s\n", tag, mid);
	assert_int_equal(strlen(tag), 17);
	assert_int_equal(tag[0], 'h');
	assert_string_not_equal(tag, mid);
	rados_machine_tag_of("0123456789abcdef0123456789abcdef\n", "x", tag,
			     sizeof(tag));
	assert_string_equal(tag, "0123456789abcdef0123456789abcdef");
}

/* A lock under this machine's header name held with another machine's
 * cookie (a dead pid there means nothing here): refused, never broken;
 * one of this machine's with a dead process: broken. */
static void test_foreign_lock(void **state)
{
	struct usm_store *st = NULL;
	char spec[1024], err[1024], mach[64], hdr[160], cookie[160];
	char tag[64], clients[256], cookies[256], addrs[256];
	size_t tl = sizeof(tag), cl = sizeof(clients), kl = sizeof(cookies),
	       al = sizeof(addrs);
	int excl;

	(void)state;
	rados_machine_tag(mach, sizeof(mach));
	snprintf(hdr, sizeof(hdr), "usm.%s.foreign", mach);
	assert_int_equal(rados_write_full(io, hdr, "x\n", 2), 0);
	/* pid 999999 with a start time no process of this machine has */
	snprintf(cookie, sizeof(cookie), "999999.12345.%s",
		 "0123456789abcdef0123456789abcdef");
	assert_int_equal(rados_lock_exclusive(io, hdr, "usm", cookie,
					      "usmfs store", NULL, 0), 0);
	assert_false(rados_cookie_stale(cookie));
	spec_of(spec, sizeof(spec), ":id=foreign");
	err[0] = '\0';
	assert_int_equal(usm_store_open("x", spec, 0, &st, err, sizeof(err)),
			 -EBUSY);
	print_message("refused: %s\n", err);
	assert_non_null(strstr(err, "another machine"));
	assert_int_equal(rados_list_lockers(io, hdr, "usm", &excl, tag, &tl,
					    clients, &cl, cookies, &kl, addrs,
					    &al), 1);
	assert_string_equal(cookies, cookie);	/* not broken */
	assert_int_equal(rados_unlock(io, hdr, "usm", cookie), 0);

	/* this machine's cookie, its process gone: stale, broken */
	snprintf(cookie, sizeof(cookie), "999999.12345.%s", mach);
	assert_true(rados_cookie_stale(cookie));
	assert_int_equal(rados_lock_exclusive(io, hdr, "usm", cookie,
					      "usmfs store", NULL, 0), 0);
	assert_int_equal(usm_store_open("x", spec, 0, &st, err, sizeof(err)), 0);
	usm_store_close(st);
	assert_int_equal(count_objects(hdr), 0);
	/* an older cookie (PID.START, no machine): never taken as stale */
	assert_false(rados_cookie_stale("999999.12345"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_round_trip_objects),
		cmocka_unit_test(test_keep_reopen),
		cmocka_unit_test(test_osd_outage),
		cmocka_unit_test(test_pool_full),
		cmocka_unit_test(test_machine_tag),
		cmocka_unit_test(test_foreign_lock),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
