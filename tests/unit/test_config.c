// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_config.c - usmfs.conf: a full example, one bad file per error kind,
 * usm_config_policy_for(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "parse_test_util.h"

#include <usm/config.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[] = "/tmp/usm-test-config.XXXXXX";

static int setup(void **state)
{
	(void)state;
	if (ensure_builtin_allocs())
		return -1;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static const char full_example[] =
	"; usmfs.conf used by test_config\n"
	"\n"
	"[pool]\n"
	"low_watermark  = 60%\n"
	"high_watermark = 85   ; a bare number is a percentage too\n"
	"alloc = contiguous\n"
	"evict = lru\n"
	"swap  = fast\n"
	"\n"
	"[store fast]\n"
	"path = file:/var/lib/usmfs/fast.swap\n"
	"\n"
	"[store off]\n"
	"  path = none\n"				/* indented: a key */
	"\n"
	"[plugins]\n"
	"load = /usr/lib/usmfs/plugins/mru.so\n"
	"load = other\n"
	"\n"
	"# rules: the first that matches wins, per attribute\n"
	"[rule heaps]\n"
	"path    = /heap*\n"
	"process = redis-server\n"
	"evict   = clock\n"
	"prio    = 6\n"
	"\n"
	"[rule data]\n"
	"path  = /data/*\n"
	"evict = fifo\n"
	"limit = 64M\n"
	"swap  = off\n"
	"\n"
	"[rule java]\n"
	"process = java*\n"
	"alloc   = spread\n"
	"evict   = sieve\n"
	"\n"
	"[threshold 95%]\n"
	"evict = pinned\n"
	"\n"
	"[threshold 80%]\n"
	"evict = fifo\n"
	"alloc = firstfit\n";

static void check_full(const struct usm_config *cfg)
{
	assert_int_equal(cfg->low_pct, 60);
	assert_int_equal(cfg->high_pct, 85);
	assert_string_equal(cfg->defaults.alloc, "contiguous");
	assert_string_equal(cfg->defaults.evict, "lru");
	assert_string_equal(cfg->defaults.swap, "fast");
	assert_int_equal(cfg->nr_stores, 2);
	assert_string_equal(cfg->stores[0].name, "fast");
	assert_string_equal(cfg->stores[0].spec, "file:/var/lib/usmfs/fast.swap");
	assert_string_equal(cfg->stores[1].name, "off");
	assert_string_equal(cfg->stores[1].spec, "none");
	assert_ptr_equal(usm_config_find_store(cfg, "off"), &cfg->stores[1]);
	assert_null(usm_config_find_store(cfg, "slow"));
	assert_null(usm_config_find_store(cfg, NULL));
	assert_int_equal(cfg->nr_plugins, 2);
	assert_string_equal(cfg->plugins[0], "/usr/lib/usmfs/plugins/mru.so");
	assert_string_equal(cfg->plugins[1], "other");
	assert_int_equal(cfg->nr_rules, 3);
	assert_string_equal(cfg->rules[0].name, "heaps");
	assert_string_equal(cfg->rules[0].path_glob, "/heap*");
	assert_string_equal(cfg->rules[0].process_glob, "redis-server");
	assert_string_equal(cfg->rules[0].pol.evict, "clock");
	assert_int_equal(cfg->rules[0].pol.prio, 6);
	assert_int_equal(cfg->rules[0].pol.set,
			 (1u << USM_XATTR_EVICT) | (1u << USM_XATTR_PRIO));
	assert_int_equal(cfg->rules[0].line, 21);
	assert_null(cfg->rules[1].process_glob);
	assert_int_equal(cfg->rules[1].pol.limit, 64 << 20);
	assert_string_equal(cfg->rules[1].pol.swap, "off");
	assert_null(cfg->rules[2].path_glob);
	assert_int_equal(cfg->nr_thresholds, 2);
	assert_int_equal(cfg->thresholds[0].pct, 80);	/* sorted */
	assert_int_equal(cfg->thresholds[0].line, 41);
	assert_int_equal(cfg->thresholds[1].pct, 95);
	assert_string_equal(cfg->thresholds[1].pol.evict, "pinned");
}

static void test_full_example(void **state)
{
	struct usm_config *cfg = NULL;
	char path[256], err[256] = "";

	(void)state;
	assert_int_equal(usm_config_parse_string(full_example, "ex.conf",
						 USM_CONFIG_NO_PLUGINS, &cfg,
						 err, sizeof(err)), 0);
	check_full(cfg);
	assert_string_equal(cfg->source, "ex.conf");
	usm_config_free(cfg);

	snprintf(path, sizeof(path), "%s/usmfs.conf", tmpdir);
	write_file(path, full_example);
	cfg = NULL;
	assert_int_equal(usm_config_load(path, USM_CONFIG_NO_PLUGINS, &cfg, err,
					 sizeof(err)), 0);
	check_full(cfg);
	assert_string_equal(cfg->source, path);
	usm_config_free(cfg);
	usm_config_free(NULL);
}

static void test_defaults_and_empty(void **state)
{
	struct usm_config *cfg = NULL;
	char err[128];

	(void)state;
	assert_int_equal(usm_config_parse_string("", NULL, USM_CONFIG_NO_PLUGINS,
						 &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->low_pct, 70);
	assert_int_equal(cfg->high_pct, 90);
	assert_string_equal(cfg->defaults.alloc, "firstfit");
	assert_string_equal(cfg->defaults.evict, "s3fifo");
	assert_int_equal(cfg->defaults.set, 0);
	assert_int_equal(cfg->nr_stores + cfg->nr_rules + cfg->nr_thresholds +
			 cfg->nr_plugins, 0);
	usm_config_free(cfg);

	/* CRLF, a BOM, empty [plugins], comments */
	cfg = NULL;
	assert_int_equal(usm_config_parse_string(
		"\xef\xbb\xbf[pool]\r\nevict = lru\r\n# x\r\n[plugins]\r\n",
		"crlf.conf", USM_CONFIG_NO_PLUGINS, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg->defaults.evict, "lru");
	usm_config_free(cfg);
}

/* The shipped example must load. */
static void test_shipped_example(void **state)
{
	struct usm_config *cfg = NULL;
	char path[512], err[512] = "";
	int ret;

	(void)state;
	snprintf(path, sizeof(path), "%s/../../../mount-helpers/usmfs.conf.example",
		 TEST_BUILD_DIR);
	if (access(path, R_OK))
		fail_msg("%s: missing", path);
	ret = usm_config_load(path, USM_CONFIG_NO_PLUGINS, &cfg, err, sizeof(err));
	if (ret)
		fail_msg("%s", err);
	assert_true(cfg->nr_rules > 0);
	usm_config_free(cfg);
}

/* The complete example of docs/usmfs.conf.md must load, with its plugin
 * (the MRU example the tests build) really loaded. */
static void test_doc_example(void **state)
{
	struct usm_config *cfg = NULL;
	char path[512], err[512] = "", *doc, *start, *end, *text, *load;
	size_t n, len;
	FILE *f;
	int ret;

	(void)state;
	snprintf(path, sizeof(path), "%s/../../../docs/usmfs.conf.md", TEST_BUILD_DIR);
	f = fopen(path, "r");
	if (!f)
		fail_msg("%s: missing", path);
	doc = calloc(1, 1 << 20);
	assert_non_null(doc);
	n = fread(doc, 1, (1 << 20) - 1, f);
	fclose(f);
	assert_true(n > 0);
	start = strstr(doc, "```ini\n");
	assert_non_null(start);
	start += 7;
	end = strstr(start, "```\n");
	assert_non_null(end);
	*end = '\0';

	/* point "load = ..." at the plugin built next to the tests */
	load = strstr(start, "\nload = ");
	assert_non_null(load);
	load++;
	len = strlen(start) + 512;
	text = malloc(len);
	assert_non_null(text);
	snprintf(text, len, "%.*sload = %s/plugin_mru.so\n%s", (int)(load - start),
		 start, TEST_BUILD_DIR, strchr(load, '\n') + 1);
	ret = usm_config_parse_string(text, "doc.conf", 0, &cfg, err, sizeof(err));
	if (ret)
		fail_msg("%s", err);
	assert_int_equal(cfg->nr_rules, 4);
	assert_string_equal(cfg->rules[3].pol.evict, "mru");
	assert_int_equal(cfg->nr_thresholds, 2);
	assert_int_equal(cfg->nr_stores, 2);
	usm_config_free(cfg);
	free(text);
	free(doc);
}

struct bad_case {
	const char *text;
	unsigned int line;
	const char *want;	/* substring of the message after "FILE:LINE: " */
};

static const struct bad_case bad_cases[] = {
	{ "[pool]\nevict = lru\n\n[rule heaps]\npath = /heap*\nevit = lru\n",
	  6, "[rule heaps]: unknown key 'evit'" },
	{ "[pool]\n[foo]\nx = 1\n", 2, "unknown section '[foo]'" },
	{ "[pool]\nevict = lru\ngarbage line\n", 3, "syntax error" },
	{ "[rule a]\npath = /x\n[rule b\nevict = lru\n", 3, "syntax error" },
	{ "evict = lru\n[pool]\n", 1, "key 'evict' outside any section" },
	{ "[pool]\nevict = lru\nevict = fifo\n", 3,
	  "[pool]: duplicate key 'evict' (first at line 2)" },
	{ "[store a]\npath = none\n[store a]\npath = none\n", 3,
	  "duplicate store a (first at line 1)" },
	{ "[pool]\n[pool]\n", 2, "duplicate section [pool] (first at line 1)" },
	{ "[rule a]\npath=/x\nprio=1\n[rule a]\npath=/y\nprio=1\n", 4,
	  "duplicate rule a (first at line 1)" },
	{ "[store Fast]\npath = none\n", 1, "bad store name 'Fast'" },
	{ "[store none]\npath = none\n", 1, "store name 'none' is reserved" },
	{ "[pool]\n\n[store fast]\n\n[rule a]\npath=/x\nprio=1\n", 3,
	  "[store fast]: missing 'path'" },
	{ "[store fast]\npath = file:relative.swap\n", 2,
	  "[store fast]: bad value for 'path': 'file:relative.swap'" },
	{ "[store fast]\npath = /abs\n", 2, "bad value for 'path': '/abs'" },
	{ "[store far]\npath = rados:\n", 2,
	  "[store far]: bad value for 'path': 'rados:' (expected file:/ABSOLUTE/PATH, rados:POOL or none)" },
	{ "[store fast]\npath = none\n[rule a]\npath = /x\nswap = slow\n", 5,
	  "[rule a]: unknown store 'slow'" },
	{ "[rule a]\nswap = none\n", 1,
	  "[rule a]: a rule needs 'path' or 'process'" },
	{ "[pool]\n[rule a]\npath = /x\n", 2,
	  "[rule a]: a rule must set at least one" },
	{ "[rule a]\n", 1, "[rule a]: a rule needs 'path' or 'process'" },
	{ "[rule a]\npath = heap*\nprio = 1\n", 2,
	  "[rule a]: bad value for 'path': 'heap*' (expected a glob starting with '/'" },
	{ "[rule a]\nprocess =\nprio = 1\n", 2, "bad value for 'process'" },
	{ "[rule a]\npath = /x\nevict = lur\n", 3,
	  "[rule a]: unknown eviction policy 'lur'" },
	{ "[rule a]\npath = /x\nalloc = lru\n", 3,
	  "[rule a]: unknown placement policy 'lru'" },
	{ "[rule a]\npath = /x\nprio = 8\n", 3,
	  "[rule a]: bad value for 'prio': '8' (expected 0..7)" },
	{ "[rule a]\npath = /x\nlimit = 12Q\n", 3,
	  "[rule a]: bad value for 'limit': '12Q'" },
	{ "[rule a]\npath = /x\nswap = Bad!\n", 3,
	  "[rule a]: bad value for 'swap': 'Bad!'" },
	{ "[rule a]\npath = /x\nstats = 1\n", 3, "'stats' is read-only" },
	{ "[pool]\nlow_watermark = 90%\nhigh_watermark = 80%\n", 3,
	  "[pool]: low_watermark (90%) must be below high_watermark (80%)" },
	{ "[pool]\nhigh_watermark = 60\n", 2,
	  "low_watermark (70%) must be below high_watermark (60%)" },
	{ "[pool]\nhigh_watermark = 150%\n", 2,
	  "[pool]: bad value for 'high_watermark': '150%'" },
	{ "[pool]\nlow_watermark = -5%\n", 2, "bad value for 'low_watermark': '-5%'" },
	{ "[pool]\nlow_watermark = 5 %\n", 2, "bad value for 'low_watermark'" },
	{ "[pool]\nlow_watermark = 0\n", 2, "bad value for 'low_watermark': '0' (expected a percentage, 1..99%)" },
	{ "[pool]\nlow_watermark = 100%\n", 2, "bad value for 'low_watermark'" },
	{ "[pool]\nhigh_watermark = 50\nlow_watermark = 50\n", 3, "low_watermark (50%) must be below" },
	{ "[pool]\nhigh_watermark = 1\n", 2, "bad value for 'high_watermark': '1' (expected a percentage, 2..100%)" },
	{ "[rule a]\npath = /x\nswap = default\n", 3, "[rule a]: unknown store 'default'" },
	{ "[threshold 120%]\nevict = fifo\n", 1, "bad threshold '120%'" },
	{ "[threshold 0%]\nevict = fifo\n", 1, "bad threshold '0%'" },
	{ "[threshold 80]\nevict = fifo\n", 1, "bad threshold '80'" },
	{ "[threshold high]\nevict = fifo\n", 1, "bad threshold 'high'" },
	{ "[threshold 80%]\nevict = fifo\n[threshold 80%]\nevict = lru\n", 3,
	  "duplicate threshold 80% (first at line 1)" },
	{ "[threshold 80%]\npath = /x\n", 2, "[threshold 80%]: unknown key 'path'" },
	{ "[pool]\n[threshold 80%]\n", 2, "a threshold must set at least one" },
	{ "[pool]\nswap = slow\n", 2, "[pool]: unknown store 'slow'" },
	{ "[pool]\nprio = 3\n", 2, "[pool]: unknown key 'prio'" },
	{ "[pool]\nalloc = nosuch\n", 2, "[pool]: unknown placement policy 'nosuch'" },
	{ "[plugins]\nlod = x.so\n", 2, "[plugins]: unknown key 'lod'" },
	{ "[plugins]\nload =\n", 2, "[plugins]: bad value for 'load'" },
	{ "[rule]\npath=/x\n", 1, "section '[rule]' needs a name" },
	{ "[pool fast]\n", 1, "section '[pool fast]' takes no name" },
	{ "[rule a b]\n", 1, "section '[rule a b]': one name only" },
	{ "[pool]\nevict = lru\n\n\n[rule x]\npath = /"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	  6, "line too long" },
	{ "[pool]\nevict = l\x07ru\n", 2, "control character 0x07" },
	/* line numbers stay right after several sections and indentation */
	{ "; c\n[pool]\n  evict = lru\n[store a]\n\tpath = none\n[rule r]\n"
	  "  path = /x\n  prio = 3\n[threshold 50%]\n  evict = fifo\n\n"
	  "   ; comment\n  [rule s]\n  path = /y\n  prio = nine\n", 15,
	  "[rule s]: bad value for 'prio': 'nine'" },
	/* the first error by line wins between structure and values */
	{ "[rule a]\npath = /x\nprio = 9\n[foo]\n", 3, "bad value for 'prio'" },
	{ "[rule a]\npath = /x\nprio = 1\n[foo]\n[rule b]\nprio = 9\n", 4,
	  "unknown section '[foo]'" },
	/* cross-checks come after the values they depend on */
	{ "[rule a]\nprio = 1\n[pool]\nevict = nope\n", 4,
	  "unknown eviction policy 'nope'" },
};

static void check_bad(const struct bad_case *c, int i, int from_file)
{
	struct usm_config *cfg = (struct usm_config *)0x1;
	char name[300], err[512] = "", want[700];
	int ret;

	if (from_file) {
		snprintf(name, sizeof(name), "%s/bad%d.conf", tmpdir, i);
		write_file(name, c->text);
		ret = usm_config_load(name, USM_CONFIG_NO_PLUGINS, &cfg, err,
				      sizeof(err));
	} else {
		snprintf(name, sizeof(name), "bad%d.conf", i);
		ret = usm_config_parse_string(c->text, name, USM_CONFIG_NO_PLUGINS,
					      &cfg, err, sizeof(err));
	}
	if (ret != -EINVAL)
		fail_msg("case %d: ret %d, err \"%s\"", i, ret, err);
	assert_ptr_equal(cfg, (struct usm_config *)0x1);	/* untouched */
	snprintf(want, sizeof(want), "%s:%u: ", name, c->line);
	if (strncmp(err, want, strlen(want)) || !strstr(err, c->want))
		fail_msg("case %d: got \"%s\", want \"%s%s\"", i, err, want, c->want);
}

static void test_bad_files(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		check_bad(&bad_cases[i], (int)i, 0);
		check_bad(&bad_cases[i], (int)i, 1);
	}
}

static void test_load_errors(void **state)
{
	struct usm_config *cfg = NULL;
	char path[300], err[512];
	char *big;

	(void)state;
	snprintf(path, sizeof(path), "%s/nonexistent.conf", tmpdir);
	assert_int_equal(usm_config_load(path, 0, &cfg, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_int_equal(usm_config_load(tmpdir, 0, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));

	big = malloc(2u << 20);
	assert_non_null(big);
	memset(big, ';', (2u << 20) - 1);
	big[(2u << 20) - 1] = '\0';
	snprintf(path, sizeof(path), "%s/big.conf", tmpdir);
	write_file(path, big);
	free(big);
	assert_int_equal(usm_config_load(path, 0, &cfg, err, sizeof(err)), -EFBIG);
	assert_null(cfg);
	/* no error buffer is fine */
	assert_int_equal(usm_config_parse_string("[x]\n", NULL, 0, &cfg, NULL, 0),
			 -EINVAL);
	assert_int_equal(usm_config_parse_string(NULL, NULL, 0, &cfg, NULL, 0),
			 -EINVAL);
}

static void test_plugin_error(void **state)
{
	struct usm_config *cfg = NULL;
	char err[512] = "";
	int ret;

	(void)state;
	ret = usm_config_parse_string("[pool]\n\n[plugins]\nload = /nonexistent/x.so\n",
				      "p.conf", 0, &cfg, err, sizeof(err));
	assert_true(ret < 0);
	assert_null(cfg);
	assert_int_equal(strncmp(err, "p.conf:4: [plugins]: ", 21), 0);
	assert_non_null(strstr(err, "/nonexistent/x.so"));
}

/* ------------------------------------------------------------ policy_for */

static struct usm_config *load_str(const char *text)
{
	struct usm_config *cfg = NULL;
	char err[512];

	if (usm_config_parse_string(text, "t.conf", USM_CONFIG_NO_PLUGINS, &cfg,
				    err, sizeof(err)))
		fail_msg("%s", err);
	return cfg;
}

static void test_policy_for(void **state)
{
	struct usm_config *cfg = load_str(full_example);
	struct usm_file_policy p, base;

	(void)state;
	usm_file_policy_init(&base);

	/* nothing matches, below the thresholds */
	memcpy(&p, &base, sizeof(p));
	usm_config_policy_for(cfg, "/other", "bash", 10, &p);
	assert_memory_equal(&p, &base, sizeof(p));

	/* heaps needs both path and process */
	memcpy(&p, &base, sizeof(p));
	usm_config_policy_for(cfg, "/heap1", "bash", 10, &p);
	assert_string_equal(p.evict, "s3fifo");
	usm_config_policy_for(cfg, "/heap1", NULL, 10, &p);
	assert_string_equal(p.evict, "s3fifo");
	usm_config_policy_for(cfg, "/heap1", "redis-server", 10, &p);
	assert_string_equal(p.evict, "clock");
	assert_int_equal(p.prio, 6);
	assert_int_equal(p.set, (1u << USM_XATTR_EVICT) | (1u << USM_XATTR_PRIO));

	/* '*' does not cross '/' */
	memcpy(&p, &base, sizeof(p));
	usm_config_policy_for(cfg, "/heapdir/x", "redis-server", 10, &p);
	assert_int_equal(p.set, 0);
	usm_config_policy_for(cfg, "/data/a/b", NULL, 10, &p);
	assert_int_equal(p.set, 0);

	/* first match wins per attribute: data sets evict, java only alloc */
	memcpy(&p, &base, sizeof(p));
	usm_config_policy_for(cfg, "/data/x", "java", 10, &p);
	assert_string_equal(p.evict, "fifo");
	assert_string_equal(p.alloc, "spread");
	assert_int_equal(p.limit, 64 << 20);
	assert_string_equal(p.swap, "off");
	/* a NULL path matches only process rules */
	memcpy(&p, &base, sizeof(p));
	usm_config_policy_for(cfg, NULL, "javac", 10, &p);
	assert_string_equal(p.evict, "sieve");
	assert_string_equal(p.alloc, "spread");

	/* thresholds: the highest reached, as defaults (not "set") */
	memcpy(&p, &base, sizeof(p));
	usm_config_policy_for(cfg, "/other", NULL, 79, &p);
	assert_string_equal(p.evict, "s3fifo");
	usm_config_policy_for(cfg, "/other", NULL, 80, &p);
	assert_string_equal(p.evict, "fifo");
	assert_string_equal(p.alloc, "firstfit");
	assert_int_equal(p.set, 0);
	memcpy(&p, &base, sizeof(p));
	usm_config_policy_for(cfg, "/other", NULL, 100, &p);
	assert_string_equal(p.evict, "pinned");

	/* explicit base attributes beat thresholds, rules beat both */
	memcpy(&p, &base, sizeof(p));
	assert_int_equal(usm_file_policy_set(&p, USM_XATTR_EVICT, "lru", 3), 0);
	usm_config_policy_for(cfg, "/other", NULL, 99, &p);
	assert_string_equal(p.evict, "lru");
	usm_config_policy_for(cfg, "/data/f", NULL, 99, &p);
	assert_string_equal(p.evict, "fifo");

	/* NULL config: nothing changes */
	memcpy(&p, &base, sizeof(p));
	usm_config_policy_for(NULL, "/data/f", NULL, 99, &p);
	assert_memory_equal(&p, &base, sizeof(p));
	usm_config_free(cfg);
}

/* Random text built from INI's own characters: never a crash, and either
 * a config or an error of the form "FILE:LINE: ...". */
static void test_fuzz(void **state)
{
	static const char *const atoms[] = {
		"[", "]", "=", ":", ";", "#", "\n", "\n", "\n", " ", "\t", "\r",
		"pool", "rule", "store", "threshold", "plugins", "path", "process",
		"evict", "alloc", "prio", "limit", "swap", "lru", "none", "file:/x",
		"/a*", "80%", "7", "64M", "low_watermark", "high_watermark", "a",
		"\xef\xbb\xbf", "\x01", "x",
	};
	unsigned int seed = 1;
	char text[600], err[512];
	int i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		struct usm_config *cfg = NULL;
		size_t len = 0;
		int n = (int)((seed >> 16) % 60), ret;

		while (n-- > 0) {
			const char *a;

			seed = seed * 1103515245u + 12345u;
			a = atoms[(seed >> 16) % (sizeof(atoms) / sizeof(atoms[0]))];
			if (len + strlen(a) >= sizeof(text))
				break;
			memcpy(text + len, a, strlen(a));
			len += strlen(a);
		}
		text[len] = '\0';
		seed = seed * 1103515245u + 12345u;
		err[0] = '\0';
		ret = usm_config_parse_string(text, "f.conf", USM_CONFIG_NO_PLUGINS,
					      &cfg, err, sizeof(err));
		if (ret == 0) {
			assert_non_null(cfg);
			usm_config_free(cfg);
		} else {
			unsigned int line;
			char c;

			assert_int_equal(ret, -EINVAL);
			assert_null(cfg);
			unsigned int lines = 1;
			const char *q;

			for (q = text; *q; q++)
				lines += *q == '\n';
			if (sscanf(err, "f.conf:%u: %c", &line, &c) != 2 || !line ||
			    line > lines)
				fail_msg("input \"%s\": message \"%s\"", text, err);
		}
	}
}

/*
 * USM_CONFIG_CHECK_STORES (usm-policyd --check): a store path naming an
 * existing file that is not a store is an error of its line, and the file
 * is left as it was; a path to be created, or "none", is fine.
 */
static void test_check_stores(void **state)
{
	struct usm_config *cfg = NULL;
	char victim[600], text[1400], err[1024] = "", back[64] = "";
	struct stat before, after;
	FILE *f;

	(void)state;
	snprintf(victim, sizeof(victim), "%s/shadow", tmpdir);
	f = fopen(victim, "w");
	assert_non_null(f);
	fputs("root:$6$precious:19000::::::\n", f);
	fclose(f);
	assert_int_equal(chmod(victim, 0640), 0);
	assert_int_equal(stat(victim, &before), 0);
	snprintf(text, sizeof(text),
		 "[pool]\nswap = fast\n\n[store fast]\npath = file:%s/fast.swap\n\n"
		 "[store typo]\npath = file:%s\n\n[store off]\npath = none\n",
		 tmpdir, victim);
	/* without the flag the paths are not looked at */
	assert_int_equal(usm_config_parse_string(text, "t.conf", USM_CONFIG_NO_PLUGINS,
						 &cfg, err, sizeof(err)), 0);
	usm_config_free(cfg);
	cfg = NULL;
	assert_int_equal(usm_config_parse_string(text, "t.conf",
						 USM_CONFIG_NO_PLUGINS |
						 USM_CONFIG_CHECK_STORES,
						 &cfg, err, sizeof(err)), -EINVAL);
	assert_null(cfg);
	if (!strstr(err, "t.conf:8: [store typo]: ") || !strstr(err, victim) ||
	    !strstr(err, "not a usmfs store"))
		fail_msg("message: \"%s\"", err);
	assert_int_equal(stat(victim, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(after.st_mode, before.st_mode);
	assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	f = fopen(victim, "r");
	assert_non_null(f);
	assert_non_null(fgets(back, sizeof(back), f));
	fclose(f);
	assert_string_equal(back, "root:$6$precious:19000::::::\n");
	/* the store to be created was not */
	snprintf(victim, sizeof(victim), "%s/fast.swap", tmpdir);
	assert_int_equal(access(victim, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_defaults_and_empty),
		cmocka_unit_test(test_shipped_example),
		cmocka_unit_test(test_doc_example),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_plugin_error),
		cmocka_unit_test(test_policy_for),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_check_stores),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
