// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * registry.c - the policy registry (placeholder: page helper only; the
 * registry itself follows).
 */
#include <usm/policy.h>

int usm_page_pinned(const struct usm_page *pg)
{
	return pg->pins != 0;
}
