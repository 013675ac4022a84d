// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * plugin.c - loading policy plugins (usm_plugin_load, see usm/policy.h).
 *
 * A plugin is dlopen()ed with RTLD_NOW (unresolved symbols fail the load
 * now, not at the first call) and RTLD_LOCAL (its symbols stay its own).
 * Its usm_plugin_info is checked whole before anything is registered, and
 * the registration itself is all or nothing.  A plugin that registered
 * its policies is never unloaded: the registry keeps pointers into it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "policy-registry.h"

/* More than this many tables of one kind: the list is probably not
 * NULL-terminated. */
#define PLUGIN_TABLES_MAX	64

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A bare name: a file name without '/', not hidden, of safe characters. */
static int bare_name_ok(const char *name)
{
	size_t i;

	if (!name[0] || name[0] == '.' || strlen(name) > 255)
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return 0;
	}
	return 1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Resolve @path to the file to open: a path (it has a '/') as it is, a
 * bare NAME as USM_PLUGIN_DIR/NAME, adding ".so" when NAME lacks it. */
static int resolve(const char *path, char *buf, size_t len, char *err,
		   size_t errlen)
{
	int n;

	if (strchr(path, '/'))
		n = snprintf(buf, len, "%s", path);
	else if (!bare_name_ok(path)) {
		seterr(err, errlen, "plugin name '%.64s' is not valid", path);
		return -EINVAL;
	} else
		n = snprintf(buf, len, "%s/%s%s", USM_PLUGIN_DIR, path,
			     ends_with(path, ".so") ? "" : ".so");
	if (n < 0 || (size_t)n >= len) {
		seterr(err, errlen, "plugin path too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

static int count_tables(const void *const *list, size_t *n)
{
	size_t i = 0;

	if (list)
		while (list[i])
			if (++i > PLUGIN_TABLES_MAX)
				return -E2BIG;
	*n = i;
	return 0;
}

int usm_plugin_load(const char *path, char *err, size_t errlen)
{
	const struct usm_plugin *info;
	char file[4096], why[256];
	size_t ne, na;
	void *h;
	int ret;

	if (!path || !*path) {
		seterr(err, errlen, "no plugin path given");
		return -EINVAL;
	}
	ret = resolve(path, file, sizeof(file), err, errlen);
	if (ret)
		return ret;
	if (access(file, F_OK)) {
		ret = -errno;
		seterr(err, errlen, "plugin %s: %s", file, strerror(errno));
		return ret;
	}

	h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();

		seterr(err, errlen, "plugin %s: cannot load: %s", file,
		       e ? e : "unknown error");
		return -ELIBBAD;
	}
	(void)dlerror();
	info = dlsym(h, USM_PLUGIN_SYMBOL);
	if (!info) {
		seterr(err, errlen,
		       "plugin %s: no symbol '%s' (not a usmfs plugin?)", file,
		       USM_PLUGIN_SYMBOL);
		ret = -ENOEXEC;
		goto out_close;
	}
	if (info->abi != USM_PLUGIN_ABI) {
		seterr(err, errlen,
		       "plugin %s: built for plugin ABI %u, this library has ABI %u (rebuild it against these headers)",
		       file, info->abi, USM_PLUGIN_ABI);
		ret = -EPROTO;
		goto out_close;
	}
	if (!usm_policy_name_ok(info->name)) {
		seterr(err, errlen, "plugin %s: bad or missing plugin name",
		       file);
		ret = -EINVAL;
		goto out_close;
	}
	if (count_tables((const void *const *)info->evict, &ne) ||
	    count_tables((const void *const *)info->alloc, &na)) {
		seterr(err, errlen,
		       "plugin %s (%s): more than %d tables in a list (missing NULL terminator?)",
		       file, info->name, PLUGIN_TABLES_MAX);
		ret = -EINVAL;
		goto out_close;
	}
	if (!ne && !na) {
		seterr(err, errlen, "plugin %s (%s): lists no policies", file,
		       info->name);
		ret = -EINVAL;
		goto out_close;
	}
	ret = usm_registry_add(info->evict, ne, info->alloc, na, why,
			       sizeof(why));
	if (ret) {
		seterr(err, errlen, "plugin %s (%s): %s; nothing registered",
		       file, info->name, why);
		goto out_close;
	}
	/* Success: @h stays open for the life of the process. */
	return 0;

out_close:
	dlclose(h);
	return ret;
}
