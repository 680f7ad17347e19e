/*
 * config.c - the list-shaped parts of the gateway configuration (keys, routes,
 * upstreams, redaction rules, observability) read from the YAML file with
 * libyaml's document API, plus route matching. The scalar settings (addr,
 * capture_content, limits) live in the settings table of src/cli/config.c.
 */
#include "gateway/gateway_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

void gateway_config_init(struct gateway_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->addr, sizeof c->addr, "127.0.0.1:8080");
	c->max_request_bytes = 4u << 20;
	c->max_response_bytes = 64u << 20;
	c->max_concurrent = 1024;
	c->timeout_ns = 120ull * 1000000000ull;
	c->traces.ratio = 1.0;
}

static void free_headers(struct gateway_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

void gateway_config_cleanup(struct gateway_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_keys; i++) {
		free(c->keys[i].key_env);
		free(c->keys[i].key);
		free(c->keys[i].tenant);
	}
	free(c->keys);
	for (size_t i = 0; i < c->n_routes; i++) {
		struct gateway_route *r = &c->routes[i];
		for (size_t j = 0; j < r->n_upstreams; j++) {
			struct gateway_upstream *u = &r->upstreams[j];
			free(u->name);
			free(u->base_url);
			free(u->api_key_env);
			free(u->api_key);
			free_headers(u->headers, u->n_headers);
		}
		free(r->upstreams);
		free(r->match);
	}
	free(c->routes);
	for (size_t i = 0; i < c->n_redact; i++) {
		free(c->redact[i].regex);
		free(c->redact[i].replace);
	}
	free(c->redact);
	free(c->traces.endpoint);
	free_headers(c->traces.headers, c->traces.n_headers);
	c->keys = NULL;
	c->routes = NULL;
	c->redact = NULL;
	c->traces.endpoint = NULL;
	c->traces.headers = NULL;
	c->n_keys = c->n_routes = c->n_redact = c->traces.n_headers = 0;
}

/* ---- YAML helpers ------------------------------------------------------------ */

struct yctx {
	yaml_document_t *doc;
	const char *origin;
	char *err;
	size_t errlen;
};

static int yerr(struct yctx *y, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int yerr(struct yctx *y, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (y->err && y->errlen)
		snprintf(y->err, y->errlen, "%s:%zu: %s", y->origin, n ? (size_t)n->start_mark.line + 1 : 0, msg);
	return TL_ECONFIG;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(struct yctx *y, int id)
{
	return yaml_document_get_node(y->doc, id);
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s);
	char *d = malloc(n + 1);
	if (!d)
		abort();
	memcpy(d, s, n + 1);
	return d;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (!p)
		abort();
	return p;
}

/* A scalar string value for key (in path for messages). */
static int get_str(struct yctx *y, const yaml_node_t *v, const char *path, char **out)
{
	const char *s = scalar(v);
	if (!s)
		return yerr(y, v, "%s: expected a string", path);
	free(*out);
	*out = xstrdup(s);
	return 0;
}

static int get_u64(struct yctx *y, const yaml_node_t *v, const char *path, uint64_t *out)
{
	const char *s = scalar(v);
	if (!s || tl_parse_u64(s, strlen(s), out))
		return yerr(y, v, "%s: expected a non-negative integer", path);
	return 0;
}

static int get_bool(struct yctx *y, const yaml_node_t *v, const char *path, int *out)
{
	const char *s = scalar(v);
	if (s && (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcmp(s, "1"))) {
		*out = 1;
		return 0;
	}
	if (s && (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") || !strcmp(s, "0"))) {
		*out = 0;
		return 0;
	}
	return yerr(y, v, "%s: expected true or false", path);
}

static int get_duration(struct yctx *y, const yaml_node_t *v, const char *path, uint64_t *out)
{
	const char *s = scalar(v);
	if (s && !strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	if (!s || tl_parse_duration(s, out))
		return yerr(y, v, "%s: expected a duration such as 30s or 2m", path);
	return 0;
}

/* A mapping of header name -> value. */
static int get_headers(struct yctx *y, yaml_node_t *m, const char *path, struct gateway_header **out, size_t *n)
{
	if (m->type == YAML_SCALAR_NODE && !scalar(m)[0])
		return 0;
	if (m->type != YAML_MAPPING_NODE)
		return yerr(y, m, "%s: expected a mapping of header names to values", path);
	size_t cnt = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	*out = xcalloc(cnt, sizeof **out);
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(y, p->key), *v = node(y, p->value);
		const char *ks = scalar(k), *vs = scalar(v);
		if (!ks || !vs)
			return yerr(y, v, "%s: header names and values must be strings", path);
		if (strpbrk(ks, ":\r\n ") || strpbrk(vs, "\r\n"))
			return yerr(y, v, "%s.%s: invalid header", path, ks);
		(*out)[*n].name = xstrdup(ks);
		(*out)[*n].value = xstrdup(vs);
		(*n)++;
	}
	return 0;
}

static int parse_budget(struct yctx *y, yaml_node_t *m, const char *path, struct gateway_budget *b)
{
	if (m->type != YAML_MAPPING_NODE)
		return yerr(y, m, "%s: expected a mapping", path);
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(y, p->key), *v = node(y, p->value);
		const char *ks = scalar(k);
		uint64_t *f = NULL;
		if (!ks)
			return yerr(y, k, "%s: keys must be strings", path);
		if (!strcmp(ks, "requests_per_minute"))
			f = &b->requests_per_minute;
		else if (!strcmp(ks, "requests_per_day"))
			f = &b->requests_per_day;
		else if (!strcmp(ks, "tokens_per_minute"))
			f = &b->tokens_per_minute;
		else if (!strcmp(ks, "tokens_per_day"))
			f = &b->tokens_per_day;
		else
			return yerr(y, k, "%s.%s: unknown budget (requests_per_minute, requests_per_day, "
					  "tokens_per_minute, tokens_per_day)", path, ks);
		if (get_u64(y, v, ks, f))
			return TL_ECONFIG;
	}
	return 0;
}

static int parse_keys(struct yctx *y, struct gateway_config *c, yaml_node_t *seq)
{
	if (seq->type == YAML_SCALAR_NODE && !scalar(seq)[0])
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE)
		return yerr(y, seq, "gateway.keys: expected a list");
	size_t cnt = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	c->keys = xcalloc(cnt, sizeof *c->keys);
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *m = node(y, *it);
		struct gateway_key *k = &c->keys[c->n_keys++];
		if (m->type != YAML_MAPPING_NODE)
			return yerr(y, m, "gateway.keys[%zu]: expected a mapping", c->n_keys - 1);
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = node(y, p->key), *v = node(y, p->value);
			const char *ks = scalar(kn);
			int rc;
			if (!ks)
				return yerr(y, kn, "gateway.keys: keys must be strings");
			if (!strcmp(ks, "key_env"))
				rc = get_str(y, v, "gateway.keys[].key_env", &k->key_env);
			else if (!strcmp(ks, "tenant"))
				rc = get_str(y, v, "gateway.keys[].tenant", &k->tenant);
			else if (!strcmp(ks, "budget"))
				rc = parse_budget(y, v, "gateway.keys[].budget", &k->budget);
			else
				rc = yerr(y, kn, "gateway.keys[].%s: unknown key (key_env, tenant, budget)", ks);
			if (rc)
				return rc;
		}
		if (!k->key_env || !k->key_env[0])
			return yerr(y, m, "gateway.keys[%zu]: key_env is required", c->n_keys - 1);
		if (!k->tenant || !k->tenant[0])
			return yerr(y, m, "gateway.keys[%zu]: tenant is required", c->n_keys - 1);
		for (const char *t = k->tenant; *t; t++)
			if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
			      *t == '.' || *t == '_' || *t == '-') || t - k->tenant >= 64)
				return yerr(y, m, "gateway.keys[%zu].tenant: 1-64 characters of A-Z a-z 0-9 . _ -",
					    c->n_keys - 1);
	}
	return 0;
}

static int parse_upstream(struct yctx *y, yaml_node_t *m, struct gateway_upstream *u)
{
	if (m->type != YAML_MAPPING_NODE)
		return yerr(y, m, "gateway.routes[].upstreams[]: expected a mapping");
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node(y, p->key), *v = node(y, p->value);
		const char *ks = scalar(kn), *vs = scalar(v);
		int rc = 0;
		if (!ks)
			return yerr(y, kn, "upstreams: keys must be strings");
		if (!strcmp(ks, "name")) {
			rc = get_str(y, v, "upstream.name", &u->name);
		} else if (!strcmp(ks, "api")) {
			if (vs && !strcmp(vs, "openai"))
				u->api = GATEWAY_API_OPENAI;
			else if (vs && !strcmp(vs, "anthropic"))
				u->api = GATEWAY_API_ANTHROPIC;
			else
				rc = yerr(y, v, "upstream.api: expected openai or anthropic");
		} else if (!strcmp(ks, "base_url")) {
			rc = get_str(y, v, "upstream.base_url", &u->base_url);
		} else if (!strcmp(ks, "api_key_env")) {
			rc = get_str(y, v, "upstream.api_key_env", &u->api_key_env);
		} else if (!strcmp(ks, "headers")) {
			rc = get_headers(y, v, "upstream.headers", &u->headers, &u->n_headers);
		} else if (!strcmp(ks, "timeout")) {
			rc = get_duration(y, v, "upstream.timeout", &u->timeout_ns);
		} else {
			rc = yerr(y, kn, "upstream.%s: unknown key (name, api, base_url, api_key_env, headers, timeout)",
				  ks);
		}
		if (rc)
			return rc;
	}
	if (!u->base_url || (strncmp(u->base_url, "http://", 7) && strncmp(u->base_url, "https://", 8)))
		return yerr(y, m, "upstream: base_url must start with http:// or https://");
	size_t bl = strlen(u->base_url);
	while (bl > 0 && u->base_url[bl - 1] == '/')
		u->base_url[--bl] = 0;
	if (!u->name)
		u->name = xstrdup(u->base_url);
	return 0;
}

static int parse_routes(struct yctx *y, struct gateway_config *c, yaml_node_t *seq)
{
	if (seq->type == YAML_SCALAR_NODE && !scalar(seq)[0])
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE)
		return yerr(y, seq, "gateway.routes: expected a list");
	size_t cnt = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	c->routes = xcalloc(cnt, sizeof *c->routes);
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *m = node(y, *it);
		struct gateway_route *r = &c->routes[c->n_routes++];
		r->capture_content = -1;
		if (m->type != YAML_MAPPING_NODE)
			return yerr(y, m, "gateway.routes[%zu]: expected a mapping", c->n_routes - 1);
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = node(y, p->key), *v = node(y, p->value);
			const char *ks = scalar(kn);
			int rc = 0;
			if (!ks)
				return yerr(y, kn, "gateway.routes: keys must be strings");
			if (!strcmp(ks, "match")) {
				rc = get_str(y, v, "gateway.routes[].match", &r->match);
			} else if (!strcmp(ks, "capture_content")) {
				rc = get_bool(y, v, "gateway.routes[].capture_content", &r->capture_content);
			} else if (!strcmp(ks, "upstreams")) {
				if (v->type != YAML_SEQUENCE_NODE)
					return yerr(y, v, "gateway.routes[].upstreams: expected a list");
				size_t un = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
				r->upstreams = xcalloc(un, sizeof *r->upstreams);
				for (yaml_node_item_t *ui = v->data.sequence.items.start; ui < v->data.sequence.items.top;
				     ui++) {
					rc = parse_upstream(y, node(y, *ui), &r->upstreams[r->n_upstreams++]);
					if (rc)
						return rc;
				}
			} else {
				rc = yerr(y, kn, "gateway.routes[].%s: unknown key (match, upstreams, capture_content)", ks);
			}
			if (rc)
				return rc;
		}
		if (!r->match || !r->match[0])
			return yerr(y, m, "gateway.routes[%zu]: match is required", c->n_routes - 1);
		if (r->n_upstreams == 0)
			return yerr(y, m, "gateway.routes[%zu]: at least one upstream is required", c->n_routes - 1);
	}
	return 0;
}

static int parse_redact(struct yctx *y, struct gateway_config *c, yaml_node_t *seq)
{
	if (seq->type == YAML_SCALAR_NODE && !scalar(seq)[0])
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE)
		return yerr(y, seq, "gateway.redact: expected a list");
	size_t cnt = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	c->redact = xcalloc(cnt, sizeof *c->redact);
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *m = node(y, *it);
		struct gateway_redact_rule *r = &c->redact[c->n_redact++];
		const char *s = scalar(m);
		if (s) {
			if (!strcmp(s, "email"))
				r->kind = GATEWAY_REDACT_EMAIL;
			else if (!strcmp(s, "api_key"))
				r->kind = GATEWAY_REDACT_API_KEY;
			else if (!strcmp(s, "card"))
				r->kind = GATEWAY_REDACT_CARD;
			else
				return yerr(y, m, "gateway.redact: unknown built-in \"%s\" (email, api_key, card, or "
						  "{regex, replace})", s);
			continue;
		}
		if (m->type != YAML_MAPPING_NODE)
			return yerr(y, m, "gateway.redact[]: expected a built-in name or {regex, replace}");
		r->kind = GATEWAY_REDACT_REGEX;
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = node(y, p->key), *v = node(y, p->value);
			const char *ks = scalar(kn);
			int rc;
			if (ks && !strcmp(ks, "regex"))
				rc = get_str(y, v, "gateway.redact[].regex", &r->regex);
			else if (ks && !strcmp(ks, "replace"))
				rc = get_str(y, v, "gateway.redact[].replace", &r->replace);
			else
				rc = yerr(y, kn, "gateway.redact[]: unknown key (regex, replace)");
			if (rc)
				return rc;
		}
		if (!r->regex || !r->regex[0])
			return yerr(y, m, "gateway.redact[]: regex is required");
	}
	return 0;
}

static int parse_traces(struct yctx *y, struct gateway_traces *t, yaml_node_t *m)
{
	if (m->type != YAML_MAPPING_NODE)
		return yerr(y, m, "gateway.observability.traces: expected a mapping");
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node(y, p->key), *v = node(y, p->value);
		const char *ks = scalar(kn);
		int rc = 0;
		if (!ks)
			return yerr(y, kn, "traces: keys must be strings");
		if (!strcmp(ks, "enabled")) {
			rc = get_bool(y, v, "gateway.observability.traces.enabled", &t->enabled);
		} else if (!strcmp(ks, "endpoint")) {
			rc = get_str(y, v, "gateway.observability.traces.endpoint", &t->endpoint);
		} else if (!strcmp(ks, "headers")) {
			rc = get_headers(y, v, "gateway.observability.traces.headers", &t->headers, &t->n_headers);
		} else if (!strcmp(ks, "sampling")) {
			if (v->type != YAML_MAPPING_NODE)
				return yerr(y, v, "gateway.observability.traces.sampling: expected {ratio: 0..1}");
			for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
				const char *qk = scalar(node(y, q->key)), *qv = scalar(node(y, q->value));
				double d;
				if (!qk || strcmp(qk, "ratio"))
					return yerr(y, v, "gateway.observability.traces.sampling: only ratio is known");
				if (!qv || tl_parse_double(qv, strlen(qv), &d) || d < 0 || d > 1)
					return yerr(y, v, "gateway.observability.traces.sampling.ratio: expected 0..1");
				t->ratio = d;
			}
		} else {
			rc = yerr(y, kn, "gateway.observability.traces.%s: unknown key (enabled, endpoint, headers, "
					 "sampling)", ks);
		}
		if (rc)
			return rc;
	}
	if (t->enabled && (!t->endpoint || (strncmp(t->endpoint, "http://", 7) && strncmp(t->endpoint, "https://", 8))))
		return yerr(y, m, "gateway.observability.traces.endpoint: an http:// or https:// URL is required "
				  "when enabled");
	return 0;
}

int gateway_config_parse_yaml(struct gateway_config *c, const char *text, size_t len, const char *origin,
			      char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct yctx y = {&doc, origin, err, errlen};
	int rc = 0, have_doc = 0;
	yaml_node_t *root, *gw = NULL;

	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = yerr(&y, NULL, "YAML syntax error: %s", parser.problem ? parser.problem : "unknown");
		goto out;
	}
	have_doc = 1;
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE)
		goto out;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const char *ks = scalar(node(&y, p->key));
		if (ks && !strcmp(ks, "gateway"))
			gw = node(&y, p->value);
	}
	if (!gw || gw->type != YAML_MAPPING_NODE)
		goto out;
	for (yaml_node_pair_t *p = gw->data.mapping.pairs.start; p < gw->data.mapping.pairs.top; p++) {
		yaml_node_t *v = node(&y, p->value);
		const char *ks = scalar(node(&y, p->key));
		if (!ks)
			continue;
		if (!strcmp(ks, "keys"))
			rc = parse_keys(&y, c, v);
		else if (!strcmp(ks, "routes"))
			rc = parse_routes(&y, c, v);
		else if (!strcmp(ks, "redact"))
			rc = parse_redact(&y, c, v);
		else if (!strcmp(ks, "observability")) {
			if (v->type != YAML_MAPPING_NODE) {
				rc = yerr(&y, v, "gateway.observability: expected a mapping");
				goto out;
			}
			for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
				const char *qk = scalar(node(&y, q->key));
				if (qk && !strcmp(qk, "traces"))
					rc = parse_traces(&y, &c->traces, node(&y, q->value));
				else
					rc = yerr(&y, v, "gateway.observability.%s: unknown key (traces)", qk ? qk : "?");
				if (rc)
					goto out;
			}
		}
		if (rc)
			goto out;
	}
out:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (char *const *e = envp; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

int gateway_config_resolve(struct gateway_config *c, char *const *envp, char *err, size_t errlen)
{
	char host[256];
	const char *colon;
	for (size_t i = 0; i < c->n_keys; i++) {
		const char *v = env_get(envp, c->keys[i].key_env);
		if (!v || !v[0]) {
			snprintf(err, errlen, "gateway.keys[%zu]: environment variable %s (key_env) is not set", i,
				 c->keys[i].key_env);
			return TL_ECONFIG;
		}
		free(c->keys[i].key);
		c->keys[i].key = xstrdup(v);
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(c->keys[j].key, v)) {
				snprintf(err, errlen, "gateway.keys[%zu]: same key as gateway.keys[%zu]", i, j);
				return TL_ECONFIG;
			}
		}
	}
	for (size_t i = 0; i < c->n_routes; i++) {
		for (size_t j = 0; j < c->routes[i].n_upstreams; j++) {
			struct gateway_upstream *u = &c->routes[i].upstreams[j];
			const char *v = u->api_key_env ? env_get(envp, u->api_key_env) : NULL;
			free(u->api_key);
			u->api_key = v && v[0] ? xstrdup(v) : NULL;
		}
	}
	if (c->n_keys == 0 && c->n_routes) {
		/* No client authentication: only a loopback listener may do that. */
		colon = strrchr(c->addr, ':');
		size_t hl = colon ? (size_t)(colon - c->addr) : strlen(c->addr);
		if (hl >= sizeof host)
			hl = sizeof host - 1;
		memcpy(host, c->addr, hl);
		host[hl] = 0;
		if (strcmp(host, "localhost") && strncmp(host, "127.", 4) && strcmp(host, "[::1]")) {
			snprintf(err, errlen, "gateway.keys: an empty key list (no client authentication) is only "
					      "allowed on a loopback gateway.addr, not %s", c->addr);
			return TL_ECONFIG;
		}
	}
	return 0;
}

/* ---- routes --------------------------------------------------------------------- */

int gateway_pattern_match(const char *pattern, const char *model, size_t model_len)
{
	size_t pl = strlen(pattern);
	if (pl == 1 && pattern[0] == '*')
		return 1;
	if (pl && pattern[pl - 1] == '*')
		return model_len >= pl - 1 && memcmp(model, pattern, pl - 1) == 0;
	return model_len == pl && memcmp(model, pattern, pl) == 0;
}

const struct gateway_route *gateway_route_find(const struct gateway_config *c, const char *model, size_t n)
{
	for (size_t i = 0; i < c->n_routes; i++)
		if (gateway_pattern_match(c->routes[i].match, model, n))
			return &c->routes[i];
	return NULL;
}
