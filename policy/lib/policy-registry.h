/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy-registry.h - private to libusmpolicy: the registry's checks and
 * all-or-nothing registration, shared by registry.c and plugin.c.
 */
#ifndef USM_POLICY_REGISTRY_H
#define USM_POLICY_REGISTRY_H

#include <usm/policy.h>

/* 1 if @name is a valid policy name: [a-z0-9_-]{1,USM_NAME_MAX}. */
int usm_policy_name_ok(const char *name);

/* 0, or -EINVAL with the reason in @err (may be NULL). */
int usm_evict_ops_check(const struct usm_evict_ops *ops, char *err,
			size_t errlen);
int usm_alloc_ops_check(const struct usm_alloc_ops *ops, char *err,
			size_t errlen);

/*
 * Register @ne eviction and @na placement tables at once: either all of
 * them or, on any error, none.  0, -EINVAL (bad table), -EEXIST (a name is
 * taken, or given twice), -ENOMEM; @err names the culprit.
 */
int usm_registry_add(const struct usm_evict_ops *const *evict, size_t ne,
		     const struct usm_alloc_ops *const *alloc, size_t na,
		     char *err, size_t errlen);

#endif /* USM_POLICY_REGISTRY_H */
