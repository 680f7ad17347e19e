/*
 * attrs.c - attribute lookup by key. Attribute lists are short and unsorted
 * (they keep the order the client sent), so a linear scan is the right tool.
 */
#include "model/model.h"

#include <string.h>

const struct tl_value *tl_attrs_get(const struct tl_attrs *a, const char *key)
{
	size_t n;
	if (!a || !key)
		return NULL;
	n = strlen(key);
	for (uint32_t i = 0; i < a->n; i++) {
		const struct tl_kv *kv = &a->items[i];
		if (kv->key.n == n && (n == 0 || memcmp(kv->key.p, key, n) == 0))
			return &kv->v;
	}
	return NULL;
}
