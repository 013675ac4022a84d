// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * registry.c - the policy registry: eviction and placement ops tables by
 * name.
 *
 * Each kind is an append-only singly linked list.  Entries are never
 * removed (a plugin stays loaded once it registered something), so a
 * reader that took the count under the lock may walk that many entries
 * after dropping it: usm_for_each_*() calls back without the lock held and
 * the callback may itself use the registry.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-registry.h"

struct reg_entry {
	const char *name;
	const void *ops;
	struct reg_entry *next;
};

struct reg_list {
	struct reg_entry *head;
	struct reg_entry **tailp;
	size_t count;
};

/* Lock order: registry_lock is a leaf; nothing is called with it held. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg_list evict_list = { NULL, &evict_list.head, 0 };
static struct reg_list alloc_list = { NULL, &alloc_list.head, 0 };
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

int usm_page_pinned(const struct usm_page *pg)
{
	return pg->pins != 0;
}

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

int usm_policy_name_ok(const char *name)
{
	size_t i;

	if (!name)
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (i >= USM_NAME_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return i > 0;
}

/* Printable form of a name that failed the check (for messages). */
static const char *shown(const char *name)
{
	return name ? name : "(null)";
}

int usm_evict_ops_check(const struct usm_evict_ops *ops, char *err,
			size_t errlen)
{
	const char *missing = NULL;

	if (!ops) {
		seterr(err, errlen, "eviction policy table is NULL");
		return -EINVAL;
	}
	if (!usm_policy_name_ok(ops->name)) {
		seterr(err, errlen,
		       "eviction policy name '%.40s' is not valid (want [a-z0-9_-], 1..%d chars)",
		       shown(ops->name), USM_NAME_MAX);
		return -EINVAL;
	}
	if (ops->flags & ~USM_EVICT_NEVER) {
		seterr(err, errlen, "eviction policy '%s': unknown flags 0x%x",
		       ops->name, ops->flags & ~USM_EVICT_NEVER);
		return -EINVAL;
	}
	if (!ops->create)
		missing = "create";
	else if (!ops->destroy)
		missing = "destroy";
	else if (!ops->on_insert)
		missing = "on_insert";
	else if (!ops->on_access)
		missing = "on_access";
	else if (!ops->on_remove)
		missing = "on_remove";
	else if (!ops->victims && !(ops->flags & USM_EVICT_NEVER))
		missing = "victims";
	if (missing) {
		seterr(err, errlen, "eviction policy '%s' has no %s()",
		       ops->name, missing);
		return -EINVAL;
	}
	return 0;
}

int usm_alloc_ops_check(const struct usm_alloc_ops *ops, char *err,
			size_t errlen)
{
	if (!ops) {
		seterr(err, errlen, "placement policy table is NULL");
		return -EINVAL;
	}
	if (!usm_policy_name_ok(ops->name)) {
		seterr(err, errlen,
		       "placement policy name '%.40s' is not valid (want [a-z0-9_-], 1..%d chars)",
		       shown(ops->name), USM_NAME_MAX);
		return -EINVAL;
	}
	if (!ops->place) {
		seterr(err, errlen, "placement policy '%s' has no place()",
		       ops->name);
		return -EINVAL;
	}
	return 0;
}

static const void *find_locked(const struct reg_list *l, const char *name)
{
	const struct reg_entry *e;

	for (e = l->head; e; e = e->next)
		if (!strcmp(e->name, name))
			return e->ops;
	return NULL;
}

static void append_locked(struct reg_list *l, struct reg_entry *e)
{
	e->next = NULL;
	*l->tailp = e;
	l->tailp = &e->next;
	l->count++;
}

/* Is @name given twice among the first @n names of @names? */
static int dup_in_batch(const char *name, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

static int registry_add(const struct usm_evict_ops *const *evict,
				    size_t ne,
				    const struct usm_alloc_ops *const *alloc,
				    size_t na, char *err, size_t errlen)
{
	struct reg_entry *entries;
	const char **names;
	size_t i;
	int ret = 0;

	for (i = 0; i < ne; i++) {
		ret = usm_evict_ops_check(evict[i], err, errlen);
		if (ret)
			return ret;
	}
	for (i = 0; i < na; i++) {
		ret = usm_alloc_ops_check(alloc[i], err, errlen);
		if (ret)
			return ret;
	}
	if (!ne && !na)
		return 0;

	/* Allocate first so that nothing can fail once we start linking. */
	entries = calloc(ne + na, sizeof(*entries));
	names = calloc(ne + na, sizeof(*names));
	if (!entries || !names) {
		free(entries);
		free(names);
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}

	pthread_mutex_lock(&registry_lock);
	for (i = 0; i < ne; i++) {
		const char *n = evict[i]->name;

		if (find_locked(&evict_list, n) || dup_in_batch(n, names, i)) {
			seterr(err, errlen,
			       "eviction policy '%s' is already registered", n);
			ret = -EEXIST;
			goto out_unlock;
		}
		names[i] = n;
	}
	for (i = 0; i < na; i++) {
		const char *n = alloc[i]->name;

		if (find_locked(&alloc_list, n) ||
		    dup_in_batch(n, names + ne, i)) {
			seterr(err, errlen,
			       "placement policy '%s' is already registered", n);
			ret = -EEXIST;
			goto out_unlock;
		}
		names[ne + i] = n;
	}
	for (i = 0; i < ne; i++) {
		entries[i].name = evict[i]->name;
		entries[i].ops = evict[i];
		append_locked(&evict_list, &entries[i]);
	}
	for (i = 0; i < na; i++) {
		entries[ne + i].name = alloc[i]->name;
		entries[ne + i].ops = alloc[i];
		append_locked(&alloc_list, &entries[ne + i]);
	}
	entries = NULL;		/* now owned by the lists, never freed */
out_unlock:
	pthread_mutex_unlock(&registry_lock);
	free(entries);
	free(names);
	return ret;
}

static void register_builtins(void)
{
	static const struct usm_evict_ops *const evict[] = {
		&usm_evict_fifo, &usm_evict_lru, &usm_evict_clock,
		&usm_evict_sieve, &usm_evict_s3fifo, &usm_evict_pinned,
	};
	static const struct usm_alloc_ops *const alloc[] = {
		&usm_alloc_firstfit, &usm_alloc_contiguous, &usm_alloc_spread,
	};
	char err[128];

	/* Nothing is registered before this runs, so only ENOMEM can fail
	 * here; the find functions then report the names as unknown. */
	if (registry_add(evict, sizeof(evict) / sizeof(evict[0]),
				     alloc, sizeof(alloc) / sizeof(alloc[0]), err,
				     sizeof(err)))
		fprintf(stderr, "libusmpolicy: built-in policies: %s\n", err);
}

void usm_policies_init(void)
{
	pthread_once(&builtins_once, register_builtins);
}

int usm_registry_add(const struct usm_evict_ops *const *evict, size_t ne,
		     const struct usm_alloc_ops *const *alloc, size_t na,
		     char *err, size_t errlen)
{
	usm_policies_init();
	return registry_add(evict, ne, alloc, na, err, errlen);
}

int usm_register_evict(const struct usm_evict_ops *ops)
{
	return usm_registry_add(&ops, 1, NULL, 0, NULL, 0);
}

int usm_register_alloc(const struct usm_alloc_ops *ops)
{
	return usm_registry_add(NULL, 0, &ops, 1, NULL, 0);
}

static const void *find(struct reg_list *l, const char *name)
{
	const void *ops;

	if (!name)
		return NULL;
	usm_policies_init();
	pthread_mutex_lock(&registry_lock);
	ops = find_locked(l, name);
	pthread_mutex_unlock(&registry_lock);
	return ops;
}

const struct usm_evict_ops *usm_find_evict(const char *name)
{
	return find(&evict_list, name);
}

const struct usm_alloc_ops *usm_find_alloc(const char *name)
{
	return find(&alloc_list, name);
}

static void for_each(struct reg_list *l, void (*fn)(const char *, void *),
		     void *arg)
{
	const struct reg_entry *e;
	size_t n, i;

	usm_policies_init();
	pthread_mutex_lock(&registry_lock);
	e = l->head;
	n = l->count;
	pthread_mutex_unlock(&registry_lock);
	/* The first @n entries and their links are immutable now. */
	for (i = 0; i < n; i++, e = e->next)
		fn(e->name, arg);
}

void usm_for_each_evict(void (*fn)(const char *name, void *arg), void *arg)
{
	for_each(&evict_list, fn, arg);
}

void usm_for_each_alloc(void (*fn)(const char *name, void *arg), void *arg)
{
	for_each(&alloc_list, fn, arg);
}
