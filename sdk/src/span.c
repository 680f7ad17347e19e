/*
 * span.c - span handles: start (parent, sampling, run identity), attributes of
 * every OTLP type, events, links, status, end, and the per-thread current-span
 * stack. A recording span writes into its record's arena; tl_span_end passes
 * the record to the export queue.
 */
#include "sdk_int.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 8
#define REC_ARENA_BLOCK 2048
#define REC_ARENA_MAX (4u << 20) /* one span may hold at most 4 MiB */

/* ---- copying values ------------------------------------------------------ */

struct tl_str sdk__copy_str(struct tl_arena *a, const char *s, int *err)
{
	struct tl_str out = {"", 0};
	size_t n, i, j;
	char *d;
	if (!s || !*s)
		return out;
	n = strlen(s);
	if (tl_utf8_valid(s, n)) {
		if (!(d = tl_arena_strndup(a, s, n)))
			goto oom;
		out.p = d;
		out.n = n;
		return out;
	}
	/* Repair: each byte that does not start a valid sequence becomes U+FFFD. */
	if (!(d = tl_arena_alloc(a, n * 3 + 1)))
		goto oom;
	for (i = 0, j = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (i + len <= n && tl_utf8_valid(s + i, len) && (c < 0x80 || c >= 0xc2)) {
			memcpy(d + j, s + i, len);
			j += len;
			i += len;
		} else {
			memcpy(d + j, "\xef\xbf\xbd", 3);
			j += 3;
			i++;
		}
	}
	d[j] = '\0';
	out.p = d;
	out.n = j;
	return out;
oom:
	*err = TL_SDK_ENOMEM;
	return out;
}

int sdk__copy_value(struct tl_arena *a, const struct tl_attribute *in, struct tl_value *out, int depth)
{
	int err = 0;
	memset(out, 0, sizeof *out);
	if (depth > MAX_DEPTH)
		return TL_SDK_EINVAL;
	switch (in->type) {
	case TL_ATTR_STR:
		out->kind = TL_V_STR;
		out->u.s = sdk__copy_str(a, in->v.s, &err);
		return err;
	case TL_ATTR_BOOL:
		out->kind = TL_V_BOOL;
		out->u.b = in->v.b != 0;
		return 0;
	case TL_ATTR_INT:
		out->kind = TL_V_INT;
		out->u.i = in->v.i;
		return 0;
	case TL_ATTR_DOUBLE:
		out->kind = TL_V_DOUBLE;
		out->u.d = in->v.d;
		return 0;
	case TL_ATTR_BYTES: {
		char *d = NULL;
		out->kind = TL_V_BYTES;
		if (in->v.bytes.n) {
			if (!in->v.bytes.p || !(d = tl_arena_alloc(a, in->v.bytes.n)))
				return in->v.bytes.p ? TL_SDK_ENOMEM : TL_SDK_EINVAL;
			memcpy(d, in->v.bytes.p, in->v.bytes.n);
		}
		out->u.s.p = d;
		out->u.s.n = in->v.bytes.n;
		return 0;
	}
	case TL_ATTR_ARRAY:
	case TL_ATTR_KVLIST: {
		size_t n = in->v.list.n;
		int kv = in->type == TL_ATTR_KVLIST;
		if (n > 1u << 20 || (n && !in->v.list.items))
			return TL_SDK_EINVAL;
		out->kind = kv ? TL_V_KVLIST : TL_V_ARRAY;
		if (!n)
			return 0;
		if (kv) {
			struct tl_kv *items = tl_arena_zalloc(a, n * sizeof *items);
			if (!items)
				return TL_SDK_ENOMEM;
			for (size_t i = 0; i < n; i++) {
				int rc;
				if (!in->v.list.items[i].key)
					return TL_SDK_EINVAL;
				items[i].key = sdk__copy_str(a, in->v.list.items[i].key, &err);
				if (err)
					return err;
				if ((rc = sdk__copy_value(a, &in->v.list.items[i], &items[i].v, depth + 1)))
					return rc;
			}
			out->u.kv.items = items;
			out->u.kv.n = (uint32_t)n;
		} else {
			struct tl_value *items = tl_arena_zalloc(a, n * sizeof *items);
			if (!items)
				return TL_SDK_ENOMEM;
			for (size_t i = 0; i < n; i++) {
				int rc = sdk__copy_value(a, &in->v.list.items[i], &items[i], depth + 1);
				if (rc)
					return rc;
			}
			out->u.arr.items = items;
			out->u.arr.n = (uint32_t)n;
		}
		return 0;
	}
	default:
		return TL_SDK_EINVAL;
	}
}

/* Grows an arena array of elem-sized items from *cap to hold one more. */
static void *grow(struct tl_arena *a, void *items, uint32_t n, uint32_t *cap, size_t elem)
{
	uint32_t ncap;
	void *p;
	if (n < *cap)
		return items;
	ncap = *cap ? *cap * 2 : 8;
	if (!(p = tl_arena_alloc(a, (size_t)ncap * elem)))
		return NULL;
	if (n)
		memcpy(p, items, (size_t)n * elem);
	*cap = ncap;
	return p;
}

/* Copies n public attributes into a fresh struct tl_attrs (limit applies). */
static int copy_attrs(struct tl_arena *a, const struct tl_attribute *in, size_t n, uint32_t limit, struct tl_attrs *out)
{
	int rc, err = 0;
	memset(out, 0, sizeof *out);
	if (!n)
		return 0;
	if (!in)
		return TL_SDK_EINVAL;
	size_t keep = n < limit ? n : limit;
	if (keep && !(out->items = tl_arena_zalloc(a, keep * sizeof *out->items)))
		return TL_SDK_ENOMEM;
	for (size_t i = 0; i < keep; i++) {
		if (!in[i].key)
			return TL_SDK_EINVAL;
		out->items[i].key = sdk__copy_str(a, in[i].key, &err);
		if (err)
			return err;
		if ((rc = sdk__copy_value(a, &in[i], &out->items[i].v, 0)))
			return rc;
	}
	out->n = (uint32_t)keep;
	out->dropped = (uint32_t)(n - keep);
	return 0;
}

/* The index of key in r's attributes, or -1. */
static long find_key(const struct sdk_rec *r, const char *key, size_t kn)
{
	const struct tl_attrs *at = &r->span.attrs;
	for (uint32_t i = 0; i < at->n; i++)
		if (at->items[i].key.n == kn && memcmp(at->items[i].key.p, key, kn) == 0)
			return (long)i;
	return -1;
}

/* Sets key to v (already in place: v is not copied), replacing an existing
 * value, honouring the attribute limit. The key is copied unless key_static
 * (a string literal, which the record may borrow). */
static int put_kv(struct sdk_rec *r, const char *key, struct tl_value v, int key_static)
{
	struct tl_attrs *at = &r->span.attrs;
	size_t kn = strlen(key);
	long i = find_key(r, key, kn);
	int err = 0;

	if (i >= 0) {
		at->items[i].v = v;
		return 0;
	}
	if (at->n >= r->attr_limit) {
		at->dropped++;
		return 0;
	}
	struct tl_kv *items = grow(r->arena, at->items, at->n, &r->attr_cap, sizeof *items);
	if (!items)
		return TL_SDK_ENOMEM;
	at->items = items;
	if (key_static)
		items[at->n].key = (struct tl_str){key, kn};
	else
		items[at->n].key = sdk__copy_str(r->arena, key, &err);
	if (err)
		return err;
	items[at->n].v = v;
	at->n++;
	return 0;
}

/* Removes key from r's attributes if present (order kept). */
static void del_kv(struct sdk_rec *r, const char *key)
{
	struct tl_attrs *at = &r->span.attrs;
	long i = find_key(r, key, strlen(key));
	if (i < 0)
		return;
	memmove(&at->items[i], &at->items[i + 1], (at->n - (size_t)i - 1) * sizeof at->items[0]);
	at->n--;
}

int sdk__rec_set_attr(struct sdk_rec *r, const struct tl_attribute *in)
{
	struct tl_value v;
	int rc;

	if (!in->key || !*in->key)
		return TL_SDK_EINVAL;
	if ((rc = sdk__copy_value(r->arena, in, &v, 0)))
		return rc;
	return put_kv(r, in->key, v, 0);
}

static const char *const run_keys[4] = {"tracelamp.tenant", "tracelamp.run.id", "tracelamp.run.step",
					 "tracelamp.agent.instance"};

/*
 * Gives r the run identity of run (NULL: none): sets the tracelamp.* run
 * attributes, borrowing run's strings, and removes those run does not have;
 * r then holds a reference to run and drops the one to its previous run, whose
 * strings no attribute uses any more. The step is read now. On ENOMEM r is
 * left with no run attributes at all (nothing borrows from either run).
 */
static int rec_apply_run(struct sdk_rec *r, struct sdk_run *run)
{
	struct sdk_run *old = r->run;
	int64_t step;
	int rc = 0;

	if (!run) {
		for (int i = 0; i < 4; i++)
			del_kv(r, run_keys[i]);
		goto out;
	}
	step = atomic_load_explicit(&run->step, memory_order_relaxed);
	struct tl_value v = {.kind = TL_V_STR, .u.s = run->tenant};
	if ((rc = put_kv(r, run_keys[0], v, 1)))
		goto out;
	v.u.s = run->run_id;
	if ((rc = put_kv(r, run_keys[1], v, 1)))
		goto out;
	if (step >= 0) {
		struct tl_value iv = {.kind = TL_V_INT, .u.i = step};
		rc = put_kv(r, run_keys[2], iv, 1);
	} else {
		del_kv(r, run_keys[2]);
	}
	if (rc)
		goto out;
	if (run->has_agent) {
		v.u.s = run->agent;
		rc = put_kv(r, run_keys[3], v, 1);
	} else {
		del_kv(r, run_keys[3]);
	}
out:
	if (rc) {
		for (int i = 0; i < 4; i++)
			del_kv(r, run_keys[i]);
		run = NULL;
	}
	r->run = sdk__run_ref(run);
	sdk__run_unref(old);
	return rc;
}

void sdk__rec_destroy(struct sdk_rec *r)
{
	if (!r)
		return;
	tl_arena_destroy(r->arena);
	sdk__run_unref(r->run);
	free(r);
}

/* ---- handles ------------------------------------------------------------- */

void sdk__handle_ref(struct tl_span_handle *h)
{
	atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
}

void sdk__handle_unref(struct tl_span_handle *h)
{
	if (!h || h == &tl__noop_span)
		return;
	if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
		return;
	sdk__rec_destroy(h->rec);
	sdk__run_unref(h->run);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

void sdk__handle_read_ctx(struct tl_span_handle *h, struct tl_span_context *out)
{
	pthread_mutex_lock(&h->mu);
	h->shared = 1;
	*out = h->ctx;
	pthread_mutex_unlock(&h->mu);
}

/*
 * The common start. parent is the parent's context (NULL for a root). run is
 * the span's run (NULL: none), a reference start takes over. A root in a run
 * gets the run's trace id. Takes a snapshot of the settings under sdk__mu, so
 * a concurrent tl_shutdown cannot free them under us.
 */
static struct tl_span_handle *start(const char *name, int kind, const struct tl_span_context *parent,
				    struct sdk_run *run)
{
	struct tl_span_handle *h = NULL;
	struct sdk_rec *r = NULL;
	struct sdk_state *st;
	int sampler, capture, err = 0;
	double ratio;
	uint32_t limits[3];
	uint64_t gen;

	pthread_mutex_lock(&sdk__mu);
	if (!(st = sdk__state)) {
		pthread_mutex_unlock(&sdk__mu);
		sdk__run_unref(run);
		return &tl__noop_span;
	}
	sampler = st->cfg.sampler;
	ratio = st->cfg.ratio;
	capture = st->cfg.capture_content;
	limits[0] = st->cfg.attr_limit;
	limits[1] = st->cfg.event_limit;
	limits[2] = st->cfg.link_limit;
	gen = st->gen;
	pthread_mutex_unlock(&sdk__mu);

	if (!(h = calloc(1, sizeof *h))) {
		sdk__run_unref(run);
		return &tl__noop_span;
	}
	atomic_init(&h->refs, 1);
	pthread_mutex_init(&h->mu, NULL);
	h->gen = gen;
	h->capture_content = capture;
	h->run = run;
	h->is_root = parent == NULL;
	if (parent) {
		memcpy(h->ctx.trace_id, parent->trace_id, 16);
		memcpy(h->ctx.trace_state, parent->trace_state, sizeof h->ctx.trace_state);
		h->ctx.trace_state[sizeof h->ctx.trace_state - 1] = '\0';
	} else if (run) {
		memcpy(h->ctx.trace_id, run->trace_id, 16);
	} else {
		sdk__new_trace_id(h->ctx.trace_id);
	}
	sdk__new_span_id(h->ctx.span_id);
	if (!sdk__sample(sampler, ratio, h->ctx.trace_id, parent))
		return h; /* non-recording: carries the context only */
	h->ctx.trace_flags = (uint8_t)((parent ? parent->trace_flags : 0) | TL_TRACE_FLAG_SAMPLED);

	if (!(r = calloc(1, sizeof *r)) || !(r->arena = tl_arena_create(REC_ARENA_BLOCK, REC_ARENA_MAX)))
		goto fail;
	r->attr_limit = limits[0];
	r->event_limit = limits[1];
	r->link_limit = limits[2];
	memcpy(r->span.trace_id, h->ctx.trace_id, 16);
	memcpy(r->span.span_id, h->ctx.span_id, 8);
	if (parent) {
		memcpy(r->span.parent_span_id, parent->span_id, 8);
		r->span.has_parent = 1;
		/* Span.flags: W3C flags in bits 0-7, bit 8 says the remote bit is
		 * known and bit 9 holds it (OTLP trace.proto). */
		r->span.flags = 0x100u | (parent->is_remote ? 0x200u : 0);
	} else {
		r->span.flags = 0x100u;
	}
	r->span.flags |= h->ctx.trace_flags;
	r->span.trace_state = sdk__copy_str(r->arena, h->ctx.trace_state, &err);
	r->span.name = sdk__copy_str(r->arena, name, &err);
	r->span.kind = kind >= TL_SPAN_KIND_INTERNAL && kind <= TL_SPAN_KIND_CONSUMER ? kind : TL_SPAN_KIND_INTERNAL;
	r->span.start_unix_nano = tl_now_unix_nano();
	r->span.genai.cost_nusd = TL_NONE;
	if (err || (run && rec_apply_run(r, run)))
		goto fail;
	h->rec = r;
	pthread_mutex_lock(&sdk__mu);
	if (sdk__state && sdk__state->gen == gen)
		atomic_fetch_add(&sdk__state->n_started, 1);
	pthread_mutex_unlock(&sdk__mu);
	return h;
fail:
	/* Out of memory: the span still propagates its context but records nothing. */
	sdk__rec_destroy(r);
	return h;
}

/* A child of a local span: it inherits the parent's run, whatever the
 * process-wide run is now. Kept out of tl_span_start so that the disabled
 * path does not set up this frame. */
static __attribute__((noinline)) struct tl_span_handle *start_child(const char *name, int kind,
								    struct tl_span_handle *parent)
{
	struct tl_span_context pctx;
	struct sdk_run *run;
	pthread_mutex_lock(&parent->mu);
	parent->shared = 1;
	pctx = parent->ctx;
	run = sdk__run_ref(parent->run);
	pthread_mutex_unlock(&parent->mu);
	return start(name, kind, &pctx, run);
}

TL_EXPORT struct tl_span_handle *tl__span_start(const char *name, int kind, struct tl_span_handle *parent)
{
	if (!atomic_load_explicit(&sdk__on, memory_order_relaxed))
		return &tl__noop_span;
	if (!parent && sdk__stack.n)
		parent = sdk__stack.items[sdk__stack.n - 1];
	if (!parent || parent == &tl__noop_span)
		return start(name, kind, NULL, sdk__run_current()); /* a root: the process-wide run */
	return start_child(name, kind, parent);
}

/* A remote parent carries no run: the span takes the process-wide run. */
TL_EXPORT struct tl_span_handle *tl_span_start_ctx(const char *name, int kind, const struct tl_span_context *parent)
{
	if (!atomic_load_explicit(&sdk__on, memory_order_relaxed))
		return &tl__noop_span;
	if (parent && (tl_is_zero(parent->trace_id, 16) || tl_is_zero(parent->span_id, 8)))
		parent = NULL;
	return start(name, kind, parent, sdk__run_current());
}

TL_EXPORT int tl_span_set_run(struct tl_span_handle *s, const char *tenant, const char *run_id, int64_t step,
			      const char *agent_instance)
{
	struct sdk_run *run = NULL, *old = NULL;
	int rc = 0;

	if (!s || s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	/* Built before taking the lock: the allocation is not done under it. */
	if (run_id && *run_id && !(run = sdk__run_create(tenant, run_id, step, agent_instance)))
		return TL_SDK_ENOMEM;
	pthread_mutex_lock(&s->mu);
	if (s->ended || s->shared) {
		rc = s->ended ? TL_SDK_EENDED : TL_SDK_ESTATE;
		old = run; /* not used: released below */
		goto out;
	}
	if (s->rec && (rc = rec_apply_run(s->rec, run))) {
		old = run;
		goto out;
	}
	if (s->is_root && run) {
		/* Nobody has seen the context yet, so the root can still move to
		 * the run's trace; the sampling decision made at start stands. */
		memcpy(s->ctx.trace_id, run->trace_id, 16);
		if (s->rec)
			memcpy(s->rec->span.trace_id, run->trace_id, 16);
	}
	old = s->run;
	s->run = run;
out:
	pthread_mutex_unlock(&s->mu);
	sdk__run_unref(old);
	return rc;
}

TL_EXPORT void tl__span_end(struct tl_span_handle *s)
{
	struct sdk_rec *r;
	if (!s || s == &tl__noop_span)
		return;
	pthread_mutex_lock(&s->mu);
	if (s->ended) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	s->ended = 1;
	r = s->rec;
	s->rec = NULL;
	pthread_mutex_unlock(&s->mu);
	if (r) {
		r->span.end_unix_nano = tl_now_unix_nano();
		if (r->span.end_unix_nano < r->span.start_unix_nano)
			r->span.end_unix_nano = r->span.start_unix_nano;
		sdk__enqueue(r, s->gen);
	}
	if (sdk__stack.n && sdk__stack.items[sdk__stack.n - 1] == s) {
		sdk__stack.n--;
		sdk__handle_unref(s);
	}
	sdk__handle_unref(s);
}

TL_EXPORT int tl_span_is_recording(const struct tl_span_handle *s)
{
	int rec;
	if (!s || s == &tl__noop_span)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&s->mu);
	rec = s->rec != NULL;
	pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
	return rec;
}

TL_EXPORT int tl_span_get_context(const struct tl_span_handle *s, struct tl_span_context *out)
{
	if (!out)
		return TL_SDK_EINVAL;
	if (!s || s == &tl__noop_span) {
		memset(out, 0, sizeof *out);
		return TL_SDK_EDISABLED;
	}
	sdk__handle_read_ctx((struct tl_span_handle *)s, out);
	return 0;
}

/* Locks s and returns its record, or sets *rc: EDISABLED for the sentinel,
 * EENDED after the end, 0 for a non-recording span (nothing to do). */
static struct sdk_rec *lock_rec(struct tl_span_handle *s, int *rc)
{
	*rc = TL_SDK_EDISABLED;
	if (!s || s == &tl__noop_span)
		return NULL;
	pthread_mutex_lock(&s->mu);
	*rc = 0;
	if (s->rec)
		return s->rec;
	*rc = s->ended ? TL_SDK_EENDED : 0;
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

TL_EXPORT int tl_span_set_name(struct tl_span_handle *s, const char *name)
{
	struct sdk_rec *r;
	int rc = 0;
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	if (!(r = lock_rec(s, &rc)))
		return rc;
	struct tl_str n = sdk__copy_str(r->arena, name, &rc);
	if (!rc)
		r->span.name = n;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

TL_EXPORT int tl_span_set_attr(struct tl_span_handle *s, const struct tl_attribute *a)
{
	struct sdk_rec *r;
	int rc;
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	if (!a)
		return TL_SDK_EINVAL;
	if (!(r = lock_rec(s, &rc)))
		return rc;
	rc = sdk__rec_set_attr(r, a);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* The typed setters: the sentinel check comes first so the disabled path is
 * one compare. */
TL_EXPORT int tl_span_set_str(struct tl_span_handle *s, const char *key, const char *value)
{
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	struct tl_attribute a = {.key = key, .type = TL_ATTR_STR, .v.s = value};
	return tl_span_set_attr(s, &a);
}

TL_EXPORT int tl_span_set_int(struct tl_span_handle *s, const char *key, int64_t value)
{
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	struct tl_attribute a = {.key = key, .type = TL_ATTR_INT, .v.i = value};
	return tl_span_set_attr(s, &a);
}

TL_EXPORT int tl_span_set_double(struct tl_span_handle *s, const char *key, double value)
{
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	struct tl_attribute a = {.key = key, .type = TL_ATTR_DOUBLE, .v.d = value};
	return tl_span_set_attr(s, &a);
}

TL_EXPORT int tl_span_set_bool(struct tl_span_handle *s, const char *key, int value)
{
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	struct tl_attribute a = {.key = key, .type = TL_ATTR_BOOL, .v.b = value};
	return tl_span_set_attr(s, &a);
}

TL_EXPORT int tl_span_set_bytes(struct tl_span_handle *s, const char *key, const void *data, size_t n)
{
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	struct tl_attribute a = {.key = key, .type = TL_ATTR_BYTES, .v.bytes = {data, n}};
	return tl_span_set_attr(s, &a);
}

/* Builds a homogeneous array attribute in a temporary list of public items. */
static int set_array(struct tl_span_handle *s, const char *key, int type, const void *values, size_t n)
{
	struct tl_attribute stack[16], *items = stack;
	int rc;
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	if (n && !values)
		return TL_SDK_EINVAL;
	if (n > 16 && !(items = calloc(n, sizeof *items)))
		return TL_SDK_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		items[i].key = NULL;
		items[i].type = type;
		switch (type) {
		case TL_ATTR_STR:
			items[i].v.s = ((const char *const *)values)[i];
			break;
		case TL_ATTR_INT:
			items[i].v.i = ((const int64_t *)values)[i];
			break;
		case TL_ATTR_DOUBLE:
			items[i].v.d = ((const double *)values)[i];
			break;
		default:
			items[i].v.b = ((const int *)values)[i];
			break;
		}
	}
	struct tl_attribute a = {.key = key, .type = TL_ATTR_ARRAY, .v.list = {items, n}};
	rc = tl_span_set_attr(s, &a);
	if (items != stack)
		free(items);
	return rc;
}

TL_EXPORT int tl_span_set_str_array(struct tl_span_handle *s, const char *key, const char *const *values, size_t n)
{
	return set_array(s, key, TL_ATTR_STR, values, n);
}

TL_EXPORT int tl_span_set_int_array(struct tl_span_handle *s, const char *key, const int64_t *values, size_t n)
{
	return set_array(s, key, TL_ATTR_INT, values, n);
}

TL_EXPORT int tl_span_set_double_array(struct tl_span_handle *s, const char *key, const double *values, size_t n)
{
	return set_array(s, key, TL_ATTR_DOUBLE, values, n);
}

TL_EXPORT int tl_span_set_bool_array(struct tl_span_handle *s, const char *key, const int *values, size_t n)
{
	return set_array(s, key, TL_ATTR_BOOL, values, n);
}

TL_EXPORT int tl_span_add_event(struct tl_span_handle *s, const char *name, const struct tl_attribute *attrs, size_t n)
{
	struct sdk_rec *r;
	int rc = 0;
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	if (!(r = lock_rec(s, &rc)))
		return rc;
	struct tl_span *sp = &r->span;
	if (sp->n_events >= r->event_limit) {
		sp->dropped_events++;
		goto out;
	}
	struct tl_event *ev = grow(r->arena, sp->events, sp->n_events, &r->event_cap, sizeof *ev);
	if (!ev) {
		rc = TL_SDK_ENOMEM;
		goto out;
	}
	sp->events = ev;
	ev = &ev[sp->n_events];
	memset(ev, 0, sizeof *ev);
	ev->time_unix_nano = tl_now_unix_nano();
	ev->name = sdk__copy_str(r->arena, name, &rc);
	if (!rc && !(rc = copy_attrs(r->arena, attrs, n, r->attr_limit, &ev->attrs)))
		sp->n_events++;
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

TL_EXPORT int tl_span_add_link(struct tl_span_handle *s, const struct tl_span_context *ctx, const struct tl_attribute *attrs,
			       size_t n)
{
	struct sdk_rec *r;
	int rc = 0;
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	if (!ctx || tl_is_zero(ctx->trace_id, 16) || tl_is_zero(ctx->span_id, 8))
		return TL_SDK_EINVAL;
	if (!(r = lock_rec(s, &rc)))
		return rc;
	struct tl_span *sp = &r->span;
	if (sp->n_links >= r->link_limit) {
		sp->dropped_links++;
		goto out;
	}
	struct tl_link *l = grow(r->arena, sp->links, sp->n_links, &r->link_cap, sizeof *l);
	if (!l) {
		rc = TL_SDK_ENOMEM;
		goto out;
	}
	sp->links = l;
	l = &l[sp->n_links];
	memset(l, 0, sizeof *l);
	memcpy(l->trace_id, ctx->trace_id, 16);
	memcpy(l->span_id, ctx->span_id, 8);
	l->flags = 0x100u | (ctx->is_remote ? 0x200u : 0) | ctx->trace_flags;
	char ts[sizeof ctx->trace_state];
	memcpy(ts, ctx->trace_state, sizeof ts);
	ts[sizeof ts - 1] = '\0';
	l->trace_state = sdk__copy_str(r->arena, ts, &rc);
	if (!rc && !(rc = copy_attrs(r->arena, attrs, n, r->attr_limit, &l->attrs)))
		sp->n_links++;
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

TL_EXPORT int tl_span_set_status(struct tl_span_handle *s, int code, const char *message)
{
	struct sdk_rec *r;
	int rc = 0;
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	if (code < TL_SPAN_STATUS_UNSET || code > TL_SPAN_STATUS_ERROR)
		return TL_SDK_EINVAL;
	if (!(r = lock_rec(s, &rc)))
		return rc;
	if (r->span.status_code != TL_SPAN_STATUS_OK) {
		r->span.status_code = code;
		r->span.status_message = code == TL_SPAN_STATUS_ERROR ? sdk__copy_str(r->arena, message, &rc) : TL_STR_NULL;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

TL_EXPORT int tl_span_record_error(struct tl_span_handle *s, const char *error_type, const char *message)
{
	int rc;
	if (s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	if ((rc = tl_span_set_status(s, TL_SPAN_STATUS_ERROR, message)))
		return rc;
	return tl_span_set_str(s, "error.type", error_type && *error_type ? error_type : "_OTHER");
}

/* ---- current span ---------------------------------------------------------- */

TL_EXPORT int tl_span_make_current(struct tl_span_handle *s)
{
	if (!s || s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	if (sdk__stack.n >= SDK_STACK_DEPTH)
		return TL_SDK_EFULL;
	sdk__handle_ref(s);
	sdk__stack.items[sdk__stack.n++] = s;
	return 0;
}

TL_EXPORT int tl_span_pop_current(struct tl_span_handle *s)
{
	if (!s || s == &tl__noop_span)
		return TL_SDK_EDISABLED;
	if (!sdk__stack.n || sdk__stack.items[sdk__stack.n - 1] != s)
		return TL_SDK_EINVAL;
	sdk__stack.n--;
	sdk__handle_unref(s);
	return 0;
}

TL_EXPORT struct tl_span_handle *tl_current_span(void)
{
	return sdk__stack.n ? sdk__stack.items[sdk__stack.n - 1] : NULL;
}
