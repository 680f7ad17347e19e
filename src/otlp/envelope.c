/*
 * envelope.c - the request envelope shared by the trace, metrics and logs
 * decoders, in protobuf and in OTLP/JSON (otlp_int.h): the walk over
 * Resource<X> { resource, Scope<X> { scope, items, schemaUrl }, schemaUrl },
 * with slot accounting and error paths; the signal decoder supplies the item.
 */
#include "otlp/otlp_int.h"

#include <jansson.h>
#include <string.h>

/* ---- protobuf --------------------------------------------------------------- */

void otlp__pb_prescan(const uint8_t *p, size_t n, size_t out[3])
{
	struct pb_reader r1, r2, r3;
	struct pb_field f1, f2, f3;
	out[0] = out[1] = out[2] = 0;
	pb_reader_init(&r1, p, n);
	while (otlp__pb_next(&r1, &f1) > 0) {
		if (f1.num != 1 || f1.wire != PB_LEN)
			continue;
		out[0]++;
		pb_reader_init(&r2, f1.data, f1.len);
		while (otlp__pb_next(&r2, &f2) > 0) {
			if (f2.num != 2 || f2.wire != PB_LEN)
				continue;
			out[1]++;
			pb_reader_init(&r3, f2.data, f2.len);
			while (otlp__pb_next(&r3, &f3) > 0)
				if (f3.num == 2 && f3.wire == PB_LEN)
					out[2]++;
		}
	}
}

static int pb_scope_env(struct otlp__dec *d, const uint8_t *p, size_t n, struct otlp__env *env,
			const struct tl_resource *res)
{
	struct pb_reader r;
	struct pb_field f;
	struct tl_scope *sc;
	const char *item = env->names[2];
	size_t k = 0;
	int rc;
	if (env->used[1] >= env->cap[1])
		return otlp__fail(d, TL_EINVAL, ": internal count mismatch");
	sc = &env->scopes[env->used[1]++];
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if (f.wire != PB_LEN)
				return otlp__pb_wire_fail(d, "scope", f.wire);
			if ((rc = otlp__pb_scope(d, f.data, f.len, sc))) {
				otlp__prefix(d, "scope");
				return rc;
			}
			break;
		case 2:
			if (f.wire != PB_LEN)
				return otlp__pb_wire_fail(d, item, f.wire);
			if (env->used[2] >= env->cap[2])
				return otlp__fail(d, TL_EINVAL, "%s: internal count mismatch", item);
			if ((rc = env->pb_item(d, f.data, f.len, env->used[2]++, res, sc, env->ctx))) {
				otlp__prefix(d, "%s[%zu]", item, k);
				return rc;
			}
			k++;
			break;
		case 3:
			if ((rc = otlp__pb_str(d, &f, "schemaUrl", &sc->schema_url)))
				return rc;
			break;
		default:
			break;
		}
	}
	return rc < 0 ? otlp__pb_fail(d, rc) : 0;
}

static int pb_resource_env(struct otlp__dec *d, const uint8_t *p, size_t n, struct otlp__env *env)
{
	struct pb_reader r;
	struct pb_field f;
	struct tl_resource *res;
	size_t k = 0;
	int rc;
	if (env->used[0] >= env->cap[0])
		return otlp__fail(d, TL_EINVAL, ": internal count mismatch");
	res = &env->resources[env->used[0]++];
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if (f.wire != PB_LEN)
				return otlp__pb_wire_fail(d, "resource", f.wire);
			if ((rc = otlp__pb_resource(d, f.data, f.len, res))) {
				otlp__prefix(d, "resource");
				return rc;
			}
			break;
		case 2:
			if (f.wire != PB_LEN)
				return otlp__pb_wire_fail(d, env->names[1], f.wire);
			if ((rc = pb_scope_env(d, f.data, f.len, env, res))) {
				otlp__prefix(d, "%s[%zu]", env->names[1], k);
				return rc;
			}
			k++;
			break;
		case 3:
			if ((rc = otlp__pb_str(d, &f, "schemaUrl", &res->schema_url)))
				return rc;
			break;
		default:
			break;
		}
	}
	return rc < 0 ? otlp__pb_fail(d, rc) : 0;
}

int otlp__pb_envelope(struct otlp__dec *d, const uint8_t *p, size_t n, struct otlp__env *env)
{
	struct pb_reader r;
	struct pb_field f;
	size_t k = 0;
	int rc;
	pb_reader_init(&r, p, n);
	while ((rc = otlp__pb_next(&r, &f)) > 0) {
		if (f.num != 1)
			continue;
		if (f.wire != PB_LEN)
			return otlp__pb_wire_fail(d, env->names[0], f.wire);
		if ((rc = pb_resource_env(d, f.data, f.len, env))) {
			otlp__prefix(d, "%s[%zu]", env->names[0], k);
			return rc;
		}
		k++;
	}
	return rc < 0 ? otlp__pb_fail(d, rc) : 0;
}

int otlp__pb_request(struct otlp__dec *d, const void *data, size_t len, struct otlp__env *env,
		     otlp__env_alloc_fn alloc)
{
	size_t cnt[3];
	int rc;
	if (!data && len)
		return otlp__fail(d, TL_EINVAL, "request: no data");
	otlp__pb_prescan(data, len, cnt);
	if ((rc = alloc(d, env, cnt)))
		return rc;
	return otlp__pb_envelope(d, data, len, env);
}

/* ---- JSON ----------------------------------------------------------------------- */

/* The array at obj[key], or NULL when absent or not an array (type errors are
 * reported by the real pass). */
static const json_t *arr_or_null(const json_t *obj, const char *key)
{
	const json_t *a = json_is_object(obj) ? otlp__js_get(obj, key) : NULL;
	return a && json_is_array(a) ? a : NULL;
}

int otlp__js_prescan(struct otlp__dec *d, const struct json_t *root, const char *const names[3],
		     const struct json_t **top, size_t out[3])
{
	const json_t *rs = otlp__js_get(root, names[0]);
	out[0] = out[1] = out[2] = 0;
	*top = NULL;
	if (!rs)
		return 0;
	if (!json_is_array(rs))
		return otlp__js_type_fail(d, names[0], "an array");
	*top = rs;
	out[0] = json_array_size(rs);
	for (size_t i = 0; i < out[0]; i++) {
		const json_t *ss = arr_or_null(json_array_get(rs, i), names[1]);
		for (size_t j = 0; ss && j < json_array_size(ss); j++) {
			const json_t *items = arr_or_null(json_array_get(ss, j), names[2]);
			out[1]++;
			out[2] += items ? json_array_size(items) : 0;
		}
	}
	return 0;
}

/* obj[key] as an array into *arr (NULL when absent); TL_EJSON when not one. */
static int js_opt_array(struct otlp__dec *d, const json_t *obj, const char *key, const json_t **arr)
{
	*arr = otlp__js_get(obj, key);
	if (*arr && !json_is_array(*arr))
		return otlp__js_type_fail(d, key, "an array");
	return 0;
}

static int js_scope_env(struct otlp__dec *d, const json_t *v, struct otlp__env *env, const struct tl_resource *res)
{
	const json_t *x, *items;
	const char *item = env->names[2];
	struct tl_scope *sc;
	int rc;
	if (env->used[1] >= env->cap[1])
		return otlp__fail(d, TL_EINVAL, ": internal count mismatch");
	sc = &env->scopes[env->used[1]++];
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if ((x = otlp__js_get(v, "scope")) && (rc = otlp__js_scope(d, x, sc))) {
		otlp__prefix(d, "scope");
		return rc;
	}
	if ((rc = otlp__js_str(d, v, "schemaUrl", &sc->schema_url)) || (rc = js_opt_array(d, v, item, &items)))
		return rc;
	for (size_t k = 0; items && k < json_array_size(items); k++) {
		if (env->used[2] >= env->cap[2])
			return otlp__fail(d, TL_EINVAL, "%s: internal count mismatch", item);
		if ((rc = env->js_item(d, json_array_get(items, k), env->used[2]++, res, sc, env->ctx))) {
			otlp__prefix(d, "%s[%zu]", item, k);
			return rc;
		}
	}
	return 0;
}

static int js_resource_env(struct otlp__dec *d, const json_t *v, struct otlp__env *env)
{
	const json_t *x, *ss;
	struct tl_resource *res;
	int rc;
	if (env->used[0] >= env->cap[0])
		return otlp__fail(d, TL_EINVAL, ": internal count mismatch");
	res = &env->resources[env->used[0]++];
	if (!json_is_object(v))
		return otlp__fail(d, TL_EJSON, ": expected an object");
	if ((x = otlp__js_get(v, "resource")) && (rc = otlp__js_resource(d, x, res))) {
		otlp__prefix(d, "resource");
		return rc;
	}
	if ((rc = otlp__js_str(d, v, "schemaUrl", &res->schema_url)) || (rc = js_opt_array(d, v, env->names[1], &ss)))
		return rc;
	for (size_t k = 0; ss && k < json_array_size(ss); k++) {
		if ((rc = js_scope_env(d, json_array_get(ss, k), env, res))) {
			otlp__prefix(d, "%s[%zu]", env->names[1], k);
			return rc;
		}
	}
	return 0;
}

int otlp__js_envelope(struct otlp__dec *d, const struct json_t *top, struct otlp__env *env)
{
	int rc;
	for (size_t i = 0; top && i < json_array_size(top); i++) {
		if ((rc = js_resource_env(d, json_array_get(top, i), env))) {
			otlp__prefix(d, "%s[%zu]", env->names[0], i);
			return rc;
		}
	}
	return 0;
}

int otlp__js_request(struct otlp__dec *d, const void *data, size_t len, struct otlp__env *env,
		     otlp__env_alloc_fn alloc)
{
	json_t *root;
	const json_t *top;
	size_t cnt[3];
	int rc;
	if (!(root = otlp__js_load(d, data, len)))
		return d->err->code;
	if (!(rc = otlp__js_prescan(d, root, env->names, &top, cnt)) && !(rc = alloc(d, env, cnt)))
		rc = otlp__js_envelope(d, top, env);
	json_decref(root);
	return rc;
}

/* ---- batches --------------------------------------------------------------------- */

int otlp__env_arrays(struct otlp__dec *d, struct otlp__env *env, const size_t cnt[3], size_t item_size,
		     const char *what, void **items)
{
	env->resources = otlp__alloc(d, cnt[0], sizeof *env->resources);
	env->scopes = otlp__alloc(d, cnt[1], sizeof *env->scopes);
	*items = otlp__alloc(d, cnt[2], item_size);
	memcpy(env->cap, cnt, sizeof env->cap);
	if ((cnt[0] && !env->resources) || (cnt[1] && !env->scopes) || (cnt[2] && !*items))
		return otlp__fail(d, TL_ETOOBIG, ": over the decode memory limit (%zu %s)", cnt[2], what);
	return 0;
}

void otlp__env_finish(struct otlp__dec *d, int rc, const struct otlp__env *env, size_t *n_res, size_t *n_scopes,
		      size_t *n_items)
{
	if (rc)
		otlp__finish_error(d);
	*n_res = rc ? 0 : env->used[0];
	*n_scopes = rc ? 0 : env->used[1];
	*n_items = rc ? 0 : env->used[2];
}

/* ---- traces ---------------------------------------------------------------------- */

static int batch_env_alloc(struct otlp__dec *d, struct otlp__env *env, const size_t cnt[3])
{
	struct tl_batch *out = env->ctx;
	int rc = otlp__batch_alloc(d, out, cnt[0], cnt[1], cnt[2]);
	if (rc)
		return rc;
	env->resources = out->resources;
	env->scopes = out->scopes;
	memcpy(env->cap, cnt, sizeof env->cap);
	return 0;
}

int otlp__decode_traces(const void *data, size_t len, struct tl_arena *arena, const struct otlp_limits *lim, int ext,
			const struct otlp__env *proto, struct tl_batch *out, struct otlp_error *err)
{
	struct otlp__dec d;
	struct otlp__env env = *proto;
	int rc;
	otlp__dec_init(&d, arena, lim, ext, err);
	memset(out, 0, sizeof *out);
	out->arena = arena;
	out->tenant = TL_STR_LIT("default");
	env.ctx = out;
	if (env.pb_item)
		rc = otlp__pb_request(&d, data, len, &env, batch_env_alloc);
	else
		rc = otlp__js_request(&d, data, len, &env, batch_env_alloc);
	/* Slots the prescan counted but the walk did not fill cannot occur on
	 * success; trim anyway so a batch never exposes an unfilled span. */
	otlp__env_finish(&d, rc, &env, &out->n_resources, &out->n_scopes, &out->n_spans);
	return rc;
}
