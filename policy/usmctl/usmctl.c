// SPDX-License-Identifier: GPL-2.0-only
/*
 * usmctl - look at and steer usmfs mounts, on either frontend.
 *
 * Everything goes through the filesystem itself: user.usm.* xattrs on files
 * (per-file policy and stats), user.usm.stats on a mount's root (the
 * mount's pool figures), user.usm.reclaim (push pages out now), and
 * /proc/self/mountinfo to find the mounts.  So it works the same on the
 * kernel module and on the FUSE daemon, and needs no privilege beyond the
 * file's own permissions.
 *
 * Exit codes: 0 done, 1 the operation failed, 2 usage error, 3 a path is not
 * on usmfs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <usm/usm.h>

#include "usmctl.h"

#define EXIT_FAIL	1
#define EXIT_USAGE	2
#define EXIT_NOTUSM	3

static int json;

struct mnt {
	char dir[PATH_MAX];
	char fstype[64];
	char opts[1024];
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: usmctl [--json] COMMAND [ARGS]\n"
"\n"
"  status                      pool and mounts: size, used, free, swapped, frontend\n"
"  stat FILE...                per-file stats and policies\n"
"  policy FILE [KEY=VALUE...]  show, or set atomically, alloc= evict= prio= limit= swap=\n"
"  evict FILE [BYTES]          push the file's pages (or BYTES of them) out now\n"
"  top [-d SECONDS] [-n COUNT] [DIR]\n"
"                              live per-file view, largest resident first\n"
"  restart MOUNT               replace a FUSE mount's daemon with the binary\n"
"                              now installed, without unmounting\n"
"  rados SPEC [--remove ID]    this machine's stores in a rados: pool (in use or\n"
"                              left over by an earlier mount); remove a left-over one\n"
"\n"
"  --json                      machine-readable output for status, stat, policy, top\n"
"  -h, --help                  this text\n"
"\n"
"Exit codes: 0 ok, 1 failed, 2 usage, 3 not on usmfs.\n");
}

/* Undo the octal escapes of /proc/self/mountinfo (\040 for a space...). */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

static int is_usm_fstype(const char *t)
{
	return !strcmp(t, "usmfs") || !strcmp(t, "fuse.usmfs");
}

/* Every usmfs mount, from /proc/self/mountinfo.  Returns the count. */
static size_t find_mounts(struct mnt **out)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0, n = 0, alloc = 0;
	struct mnt *v = NULL;

	*out = NULL;
	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		char dir[PATH_MAX], fstype[64], src[PATH_MAX], sopts[1024];
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", dir) != 1)
			continue;
		sopts[0] = '\0';
		if (sscanf(sep + 3, "%63s %4095s %1023s", fstype, src, sopts) < 2)
			continue;
		if (!is_usm_fstype(fstype))
			continue;
		if (n == alloc) {
			struct mnt *nv;

			alloc = alloc ? alloc * 2 : 4;
			nv = realloc(v, alloc * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		unescape(dir);
		snprintf(v[n].dir, sizeof(v[n].dir), "%s", dir);
		snprintf(v[n].fstype, sizeof(v[n].fstype), "%s", fstype);
		unescape(sopts);	/* shown as the FUSE daemon's are */
		snprintf(v[n].opts, sizeof(v[n].opts), "%s", sopts);
		n++;
	}
	free(line);
	fclose(f);
	*out = v;
	return n;
}

/*
 * 1 if @path is on a usmfs mount (by the longest mount prefix), with that
 * mount's type in @type ("usmfs": the kernel module, "fuse.usmfs").
 */
static int on_usmfs_type(const char *path, char *type, size_t typelen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char real[PATH_MAX], *line = NULL;
	size_t cap = 0, best = 0;
	int usm = 0;

	if (!f || !realpath(path, real)) {
		if (f)
			fclose(f);
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		char dir[PATH_MAX], fstype[64];
		char *sep = strstr(line, " - ");
		size_t l;

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", dir) != 1 ||
		    sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		unescape(dir);
		l = strlen(dir);
		if (strncmp(real, dir, l) ||
		    (real[l] != '/' && real[l] != '\0' && strcmp(dir, "/")))
			continue;
		if (l >= best) {
			best = l;
			usm = is_usm_fstype(fstype);
			if (type)
				snprintf(type, typelen, "%s", fstype);
		}
	}
	free(line);
	fclose(f);
	return usm;
}

static int on_usmfs(const char *path)
{
	return on_usmfs_type(path, NULL, 0);
}

static int get_attr(const char *path, const char *name, char *buf, size_t len)
{
	ssize_t n = getxattr(path, name, buf, len - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
		buf[--n] = '\0';
	return (int)n;
}

/*
 * The policy attributes set on the file being printed (NULL: not set), and
 * which of them print_kv showed: "usmctl stat" marks alloc= and evict= of
 * the stats "(set)" instead of repeating them on lines of their own.
 */
static const char *const policy_keys[] = {
	"alloc", "evict", "prio", "limit", "swap",
};
#define NR_POLICY_KEYS (sizeof(policy_keys) / sizeof(*policy_keys))
static const char *set_vals[NR_POLICY_KEYS];
static int set_shown[NR_POLICY_KEYS];

static int set_index(const char *key)
{
	for (size_t k = 0; k < NR_POLICY_KEYS; k++)
		if (set_vals[k] && !strcmp(key, policy_keys[k]))
			return (int)k;
	return -1;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/*
 * Print "key=value key=value" as JSON members or as aligned lines.  @fuse:
 * the words are a FUSE mount's (its policy server is the daemon itself).
 */
static void print_kv(const char *kv, const char *indent, int as_json, int fuse)
{
	char *copy = strdup(kv), *save = NULL, *tok;
	int first = 1;

	if (!copy)
		return;
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		char *end;

		if (!eq)
			continue;
		*eq = '\0';
		unescape(eq + 1);	/* values are escaped as in mountinfo */
		if (as_json) {
			strtoull(eq + 1, &end, 10);
			printf("%s", first ? "" : ", ");
			json_str(tok);
			if (*end == '\0' && eq[1] != '\0') {
				printf(": %s", eq + 1);
			} else {
				printf(": ");
				json_str(eq + 1);
			}
		} else if (!strcmp(tok, "server")) {
			printf("%s%-10s %s\n", indent, "server",
			       !strcmp(eq + 1, "0") ? "none attached: nothing is evicted" :
			       fuse ? "in the daemon (libusmpolicy)" :
			       "attached (usm-policyd)");
		} else if (!strcmp(tok, "evicting") || !strcmp(tok, "can_evict")) {
			continue;	/* status prints "eviction" and "evicting" */
		} else if (!strcmp(tok, "resident") || !strcmp(tok, "swapped") ||
			   !strcmp(tok, "pool_bytes") || !strcmp(tok, "store_room") ||
			   !strcmp(tok, "store_written") || !strcmp(tok, "store_read")) {
			char h[32];

			usm_format_size(strtoull(eq + 1, NULL, 10), h, sizeof(h));
			printf("%s%-10s %s (%s bytes)\n", indent, tok, h, eq + 1);
		} else if (set_index(tok) >= 0 && !strcmp(set_vals[set_index(tok)], eq + 1)) {
			printf("%s%-10s %s (set)\n", indent, tok, eq + 1);
			set_shown[set_index(tok)] = 1;
		} else {
			printf("%s%-10s %s\n", indent, tok, eq + 1);
		}
		first = 0;
	}
	free(copy);
}

static const char *kmod_files[] = {
	"/sys/fs/usmfs/pool", "/sys/kernel/debug/usmfs/pool", NULL,
};

/*
 * statvfs and user.usm.stats of a mount, in a child bounded by @ms: a
 * wedged FUSE daemon must not hang "usmctl status".  Returns 0, -ETIMEDOUT
 * (the mount did not answer), or -errno.  @stats is "" when the frontend
 * has no mount-wide stats.
 */
int probe_mount(const char *dir, struct probe *pr, int ms)
{
	int fds[2], status;
	ssize_t got = 0, r;
	pid_t pid;

	memset(pr, 0, sizeof(*pr));
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		struct statvfs sv;
		struct probe out;

		memset(&out, 0, sizeof(out));
		if (statvfs(dir, &sv) == 0) {
			out.total = (unsigned long long)sv.f_blocks * sv.f_frsize;
			out.avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
		}
		out.stats_len = get_attr(dir, "user.usm.stats", out.stats,
					 sizeof(out.stats));
		if (out.stats_len < 0)
			out.stats[0] = '\0';
		if (write(fds[1], &out, sizeof(out)) != (ssize_t)sizeof(out))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	while (got < (ssize_t)sizeof(*pr)) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };

		if (poll(&p, 1, ms) <= 0)
			break;
		r = read(fds[0], (char *)pr + got, sizeof(*pr) - got);
		if (r <= 0)
			break;
		got += r;
	}
	close(fds[0]);
	if (got != (ssize_t)sizeof(*pr)) {
		kill(pid, SIGKILL);	/* a child stuck in D state goes when the mount does */
		waitpid(pid, &status, WNOHANG);
		memset(pr, 0, sizeof(*pr));
		return -ETIMEDOUT;
	}
	waitpid(pid, &status, 0);
	pr->stats[sizeof(pr->stats) - 1] = '\0';
	return 0;
}

/*
 * Take the word KEY=VALUE out of the "key=value ..." string @kv: VALUE,
 * unescaped (\040 ...), in @val.  1 if it was there.  (The FUSE daemon's
 * root stats end with options=, its usmfs options: the module's are in
 * mountinfo.)
 */
static int take_kv(char *kv, const char *key, char *val, size_t len)
{
	size_t kl = strlen(key);
	char *p, *end;

	for (p = kv; (p = strstr(p, key)); p += kl) {
		if ((p != kv && p[-1] != ' ') || p[kl] != '=')
			continue;
		end = strchr(p, ' ');
		if (!end)
			end = p + strlen(p);
		snprintf(val, len, "%.*s", (int)(end - p - kl - 1), p + kl + 1);
		unescape(val);
		if (p != kv)
			p--;	/* the space before it */
		else if (*end)
			end++;
		memmove(p, end, strlen(end) + 1);
		return 1;
	}
	return 0;
}

static int cmd_status(void)
{
	struct mnt *m;
	size_t n = find_mounts(&m), i;
	char buf[4096], opts[2048], usmopts[1024];
	int have_kmod = 0, sample = 0;
	struct probe *prs = calloc(n ? n : 1, sizeof(*prs));
	int *alive = calloc(n ? n : 1, sizeof(*alive));
	long long *ev0 = calloc(n ? n : 1, sizeof(*ev0));

	if (!prs || !alive || !ev0) {
		fprintf(stderr, "usmctl: out of memory\n");
		free(prs);
		free(alive);
		free(ev0);
		free(m);
		return EXIT_FAIL;
	}
	/* Every mount once, then those that can evict again a little later:
	 * evicting now is evictions going up in between. */
	for (i = 0; i < n; i++) {
		alive[i] = probe_mount(m[i].dir, &prs[i], 2000) == 0;
		ev0[i] = alive[i] ? kv_get(prs[i].stats, "evictions") : -1;
		sample |= ev0[i] >= 0;
	}
	if (sample)
		poll(NULL, 0, EVICT_SAMPLE_MS);
	if (json)
		printf("{\"mounts\": [");
	for (i = 0; i < n; i++) {
		struct probe pr = prs[i], again;
		unsigned long long total, avail;
		int r, fuse = strcmp(m[i].fstype, "usmfs") != 0;
		int can, now = 0;
		long long evicted = 0;
		const char *why;

		total = pr.total;
		avail = pr.avail;
		r = alive[i] && pr.stats[0] ? 0 : -1;
		snprintf(buf, sizeof(buf), "%s", pr.stats);
		/* the mount's options, with the FUSE daemon's usmfs ones */
		snprintf(opts, sizeof(opts), "%s", m[i].opts);
		if (take_kv(buf, "options", usmopts, sizeof(usmopts)) && usmopts[0]) {
			size_t ol = strlen(opts);

			snprintf(opts + ol, sizeof(opts) - ol, "%s%s",
				 ol ? "," : "", usmopts);
		}
		can = alive[i] && r >= 0 && evict_possible(pr.stats, opts, fuse, &why);
		if (!can && !(alive[i] && r >= 0))
			why = "no stats";
		if (can && ev0[i] >= 0 && probe_mount(m[i].dir, &again, 2000) == 0) {
			evicted = kv_get(again.stats, "evictions") - ev0[i];
			now = evicted > 0;
		}
		if (!alive[i]) {
			if (json) {
				printf("%s{\"dir\": ", i ? ", " : "");
				json_str(m[i].dir);
				printf(", \"responding\": false}");
			} else {
				printf("%s: not responding\n", m[i].dir);
			}
			continue;
		}
		if (json) {
			printf("%s{\"dir\": ", i ? ", " : "");
			json_str(m[i].dir);
			printf(", \"frontend\": \"%s\", \"options\": ",
			       strcmp(m[i].fstype, "usmfs") ? "fuse" : "kmod");
			json_str(opts);
			printf(", \"responding\": true, \"size\": %llu, \"used\": %llu, \"free\": %llu",
			       total, total - avail, avail);
			/* a FUSE mount's serving process, for whoever must
			 * kill exactly it, and how often it was replaced */
			if (fuse && kv_get(buf, "daemon_pid") > 0)
				printf(", \"daemon_pid\": %lld, \"restarts\": %lld",
				       kv_get(buf, "daemon_pid"),
				       kv_get(buf, "restarts"));
			if (r >= 0) {
				printf(", \"stats\": {");
				print_kv(buf, "", 1, fuse);
				printf("}");
			}
			printf(", \"eviction_possible\": %s, \"evicting_now\": %s",
			       can ? "true" : "false", now ? "true" : "false");
			if (!can) {
				printf(", \"eviction_impossible_because\": ");
				json_str(why);
			}
			printf("}");
		} else {
			char t[32], u[32], a[32];

			usm_format_size(total, t, sizeof(t));
			usm_format_size(total - avail, u, sizeof(u));
			usm_format_size(avail, a, sizeof(a));
			printf("%s (%s)\n  options    %s\n  size %s, used %s, free %s\n",
			       m[i].dir, strcmp(m[i].fstype, "usmfs") ? "FUSE daemon" : "kernel module",
			       opts, t, u, a);
			if (r >= 0)
				print_kv(buf, "  ", 0, fuse);
			print_eviction(buf, can, why, now, evicted);
		}
		if (!strcmp(m[i].fstype, "usmfs"))
			have_kmod = 1;
	}
	if (json)
		printf("]");
	for (const char **kf = kmod_files; *kf; kf++) {
		FILE *f = fopen(*kf, "re");
		size_t len;

		if (!f)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		if (json) {
			printf(", \"kmod_pool\": ");
			json_str(buf);
		} else {
			printf("kernel pool (%s):\n%s", *kf, buf);
		}
		have_kmod = 1;
		break;
	}
	if (json)
		printf(", \"kmod\": %s}\n", have_kmod ? "true" : "false");
	else if (!n)
		printf("no usmfs mounts\n");
	free(prs);
	free(alive);
	free(ev0);
	free(m);
	return 0;
}

static int check_file(const char *path)
{
	int r = on_usmfs(path);

	if (r < 0) {
		fprintf(stderr, "usmctl: %s: %s\n", path, strerror(errno));
		return EXIT_FAIL;
	}
	if (!r) {
		fprintf(stderr, "usmctl: %s: not on a usmfs mount\n", path);
		return EXIT_NOTUSM;
	}
	return 0;
}

static int cmd_stat(int argc, char **argv)
{
	int rc = 0;
	char buf[1024], name[64], type[64], vals[NR_POLICY_KEYS][256];
	int fuse;

	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (json)
		printf("[");
	for (int i = 0; i < argc; i++) {
		int r = check_file(argv[i]);

		if (r) {
			rc = r;
			continue;
		}
		if (get_attr(argv[i], "user.usm.stats", buf, sizeof(buf)) < 0) {
			fprintf(stderr, "usmctl: %s: cannot read user.usm.stats: %s\n",
				argv[i], strerror(errno));
			rc = EXIT_FAIL;
			continue;
		}
		/* a mount's root gives the mount's stats, server= among them */
		fuse = on_usmfs_type(argv[i], type, sizeof(type)) > 0 &&
		       strcmp(type, "usmfs") != 0;
		for (size_t k = 0; k < NR_POLICY_KEYS; k++) {
			snprintf(name, sizeof(name), "user.usm.%s", policy_keys[k]);
			set_shown[k] = 0;
			set_vals[k] = get_attr(argv[i], name, vals[k], sizeof(vals[k])) < 0 ?
				      NULL : vals[k];
		}
		if (json) {
			printf("%s{\"file\": ", i ? ", " : "");
			json_str(argv[i]);
			printf(", ");
			print_kv(buf, "", 1, fuse);
		} else {
			printf("%s\n", argv[i]);
			print_kv(buf, "  ", 0, fuse);
		}
		for (size_t k = 0; k < NR_POLICY_KEYS; k++) {
			if (!set_vals[k])
				continue;
			if (json) {
				printf(", \"set_%s\": ", policy_keys[k]);
				json_str(set_vals[k]);
			} else if (!set_shown[k]) {
				printf("  %-10s %s (set)\n", policy_keys[k], set_vals[k]);
			}
			set_vals[k] = NULL;
		}
		if (json)
			printf("}");
	}
	if (json)
		printf("]\n");
	return rc;
}

struct saved {
	char name[64];
	char old[256];
	int had;	/* old value existed */
};

static int cmd_policy(int argc, char **argv)
{
	const char *file;
	struct saved sv[16];
	struct usm_file_policy scratch;
	int n = 0, r;

	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	file = argv[0];
	r = check_file(file);
	if (r)
		return r;
	if (argc == 1)
		return cmd_stat(1, argv);
	if (argc - 1 > (int)(sizeof(sv) / sizeof(*sv))) {
		fprintf(stderr, "usmctl: too many settings\n");
		return EXIT_USAGE;
	}
	/* Validate everything first: nothing is applied on a bad request. */
	usm_file_policy_init(&scratch);
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		int id;

		if (!eq || eq == argv[i]) {
			fprintf(stderr, "usmctl: '%s': expected KEY=VALUE\n", argv[i]);
			return EXIT_USAGE;
		}
		snprintf(sv[n].name, sizeof(sv[n].name), "user.usm.%.*s",
			 (int)(eq - argv[i]), argv[i]);
		id = usm_xattr_lookup(sv[n].name);
		if (id < 0 || id == USM_XATTR_STATS) {
			fprintf(stderr, "usmctl: '%.*s': not a policy key (alloc, evict, prio, limit, swap)\n",
				(int)(eq - argv[i]), argv[i]);
			return EXIT_USAGE;
		}
		/* Names of plugin policies are known only to the frontend:
		 * leave those to it, check everything else here. */
		if (id != USM_XATTR_ALLOC && id != USM_XATTR_EVICT &&
		    usm_file_policy_set(&scratch, id, eq + 1, strlen(eq + 1))) {
			fprintf(stderr, "usmctl: bad value for '%.*s': '%s'\n",
				(int)(eq - argv[i]), argv[i], eq + 1);
			return EXIT_USAGE;
		}
		r = get_attr(file, sv[n].name, sv[n].old, sizeof(sv[n].old));
		sv[n].had = r >= 0;
		n++;
	}
	for (int i = 0; i < n; i++) {
		const char *val = strchr(argv[i + 1], '=') + 1;

		if (setxattr(file, sv[i].name, val, strlen(val), 0) < 0) {
			int e = errno;

			fprintf(stderr, "usmctl: %s: setting %s=%s: %s\n", file,
				sv[i].name + 9, val,
				e == EINVAL ? "refused (bad value or unknown policy)" : strerror(e));
			/* Roll back what was applied, newest first. */
			for (int j = i - 1; j >= 0; j--) {
				if (sv[j].had)
					setxattr(file, sv[j].name, sv[j].old, strlen(sv[j].old), 0);
				else
					removexattr(file, sv[j].name);
			}
			return EXIT_FAIL;
		}
	}
	return cmd_stat(1, argv);
}

static int cmd_evict(int argc, char **argv)
{
	const char *amount = "all";
	char type[64] = "";
	uint64_t bytes;
	int r, kmod;

	if (argc < 1 || argc > 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	r = check_file(argv[0]);
	if (r)
		return r;
	on_usmfs_type(argv[0], type, sizeof(type));
	kmod = !strcmp(type, "usmfs");
	if (argc == 2) {
		if (usm_parse_size(argv[1], 0, &bytes)) {
			fprintf(stderr, "usmctl: bad size '%s'\n", argv[1]);
			return EXIT_USAGE;
		}
		amount = argv[1];
	}
	if (setxattr(argv[0], "user.usm.reclaim", amount, strlen(amount), 0) < 0) {
		int e = errno;
		const char *why = strerror(e);

		if (e == ENOSPC)
			why = "no backing store to evict to (swap=none)";
		else if (e == EISDIR)
			why = "a directory: evict its files";
		else if (e == ENOTCONN && kmod)
			why = "no policy server that evicts is attached to the kernel module "
			      "(start usm-policyd; without it nothing leaves the pool)";
		else if (e == EBUSY && kmod)
			why = "the policy server has too much to read: try again";
		fprintf(stderr, "usmctl: %s: evict: %s\n", argv[0], why);
		return EXIT_FAIL;
	}
	if (kmod && !json)
		printf("%s: eviction of %s asked of the policy server\n", argv[0],
		       amount);
	return 0;
}

/* ---- top ---- */

struct row {
	char path[PATH_MAX];
	unsigned long long resident, swapped, faults, evictions, swapins;
	char evict[USM_NAME_MAX + 1];
};

static unsigned long long kv_num(const char *kv, const char *key)
{
	size_t l = strlen(key);

	for (const char *p = kv; p && *p; p = strchr(p, ' ')) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, l) && p[l] == '=')
			return strtoull(p + l + 1, NULL, 10);
	}
	return 0;
}

static void kv_str(const char *kv, const char *key, char *out, size_t len)
{
	size_t l = strlen(key);

	out[0] = '\0';
	for (const char *p = kv; p && *p; p = strchr(p, ' ')) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, l) && p[l] == '=') {
			size_t n = strcspn(p + l + 1, " ");

			snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), p + l + 1);
			return;
		}
	}
}

static void collect(const char *dir, int depth, struct row **rows, size_t *n,
		    size_t *cap)
{
	DIR *d;
	struct dirent *de;

	if (depth > 8 || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX], buf[1024];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			collect(path, depth + 1, rows, n, cap);
			continue;
		}
		if (!S_ISREG(st.st_mode) ||
		    get_attr(path, "user.usm.stats", buf, sizeof(buf)) < 0)
			continue;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct row *nr = realloc(*rows, nc * sizeof(**rows));

			if (!nr)
				break;
			*rows = nr;
			*cap = nc;
		}
		snprintf((*rows)[*n].path, PATH_MAX, "%s", path);
		(*rows)[*n].resident = kv_num(buf, "resident");
		(*rows)[*n].swapped = kv_num(buf, "swapped");
		(*rows)[*n].faults = kv_num(buf, "faults");
		(*rows)[*n].evictions = kv_num(buf, "evictions");
		(*rows)[*n].swapins = kv_num(buf, "swapins");
		kv_str(buf, "evict", (*rows)[*n].evict, sizeof((*rows)[*n].evict));
		(*n)++;
	}
	closedir(d);
}

static int by_resident(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->resident < y->resident ? 1 : x->resident > y->resident ? -1 : 0;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int cmd_top(int argc, char **argv)
{
	double delay = 2.0;
	long count = -1;
	int opt, tty = isatty(STDOUT_FILENO) && !json;
	const char *only = NULL;

	optind = 1;
	while ((opt = getopt(argc, argv, "d:n:")) != -1) {
		char *end;

		switch (opt) {
		case 'd':
			delay = strtod(optarg, &end);
			if (*end || delay < 0.1 || delay > 3600) {
				fprintf(stderr, "usmctl: top: bad delay '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end || count < 1) {
				fprintf(stderr, "usmctl: top: bad count '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		only = argv[optind];
	if (only && check_file(only))
		return EXIT_NOTUSM;
	if (json && count < 0)
		count = 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (long it = 0; !stop && (count < 0 || it < count); it++) {
		struct row *rows = NULL;
		size_t n = 0, cap = 0;
		struct mnt *m;
		size_t nm = only ? 0 : find_mounts(&m);

		if (only)
			collect(only, 0, &rows, &n, &cap);
		for (size_t i = 0; i < nm; i++) {
			struct probe pr;

			/* skip a mount whose daemon does not answer */
			if (probe_mount(m[i].dir, &pr, 1000) == 0)
				collect(m[i].dir, 0, &rows, &n, &cap);
		}
		if (!only)
			free(m);
		qsort(rows, n, sizeof(*rows), by_resident);
		if (tty)
			printf("\033[H\033[2J");
		if (json) {
			printf("[");
			for (size_t i = 0; i < n; i++) {
				printf("%s{\"file\": ", i ? ", " : "");
				json_str(rows[i].path);
				printf(", \"resident\": %llu, \"swapped\": %llu, \"faults\": %llu, "
				       "\"evictions\": %llu, \"swapins\": %llu, \"evict\": \"%s\"}",
				       rows[i].resident, rows[i].swapped, rows[i].faults,
				       rows[i].evictions, rows[i].swapins, rows[i].evict);
			}
			printf("]\n");
		} else {
			printf("%10s %10s %10s %10s %10s %-8s %s\n", "RESIDENT", "SWAPPED",
			       "FAULTS", "EVICTIONS", "SWAPINS", "EVICT", "FILE");
			for (size_t i = 0; i < n && i < 40; i++) {
				char r[32], s[32];

				usm_format_size(rows[i].resident, r, sizeof(r));
				usm_format_size(rows[i].swapped, s, sizeof(s));
				printf("%10s %10s %10llu %10llu %10llu %-8s %s\n", r, s,
				       rows[i].faults, rows[i].evictions, rows[i].swapins,
				       rows[i].evict, rows[i].path);
			}
			if (!n)
				printf("(no files)\n");
		}
		fflush(stdout);
		free(rows);
		if (count < 0 || it + 1 < count)
			poll(NULL, 0, (int)(delay * 1000));
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	int opt;

	while ((opt = getopt_long(argc, argv, "+jh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	argc -= optind;
	argv += optind;
	if (!strcmp(cmd, "status"))
		return argc ? (usage(stderr), EXIT_USAGE) : cmd_status();
	if (!strcmp(cmd, "stat"))
		return cmd_stat(argc, argv);
	if (!strcmp(cmd, "policy"))
		return cmd_policy(argc, argv);
	if (!strcmp(cmd, "evict"))
		return cmd_evict(argc, argv);
	if (!strcmp(cmd, "rados"))
		return cmd_rados(argc, argv, json);
	if (!strcmp(cmd, "top"))
		return cmd_top(argc + 1, argv - 1);
	if (!strcmp(cmd, "restart"))
		return argc != 1 ? (usage(stderr), EXIT_USAGE) : cmd_restart(argv[0]);
	fprintf(stderr, "usmctl: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
