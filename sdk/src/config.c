/*
 * config.c - the SDK's configuration from OTEL_* / TRACELAMP_* environment
 * variables: endpoint, service name, resource attributes, exporter headers,
 * timeout, sampler, batch processor and limits. Pure apart from the getter.
 */
#include "sdk_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long sdk__percent_decode(const char *s, size_t n, char *out)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[j++] = s[i];
			continue;
		}
		if (i + 2 >= n)
			return -1;
		int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
		if (h < 0 || l < 0)
			return -1;
		out[j++] = (char)(h * 16 + l);
		i += 2;
	}
	out[j] = '\0';
	return (long)j;
}

static char *decode_dup(const char *s, size_t n, int *rc)
{
	char *out = malloc(n + 1);
	if (!out) {
		*rc = TL_SDK_ENOMEM;
		return NULL;
	}
	if (sdk__percent_decode(s, n, out) < 0) {
		free(out);
		*rc = TL_SDK_EINVAL;
		return NULL;
	}
	return out;
}

void sdk__pairs_free(struct sdk_pair *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++) {
		free(p[i].key);
		free(p[i].value);
	}
	free(p);
}

static void trim(const char **b, const char **e)
{
	while (*b < *e && isspace((unsigned char)**b))
		(*b)++;
	while (*e > *b && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

int sdk__parse_pairs(const char *s, struct sdk_pair **out, size_t *n)
{
	int rc = 0;
	const char *p = s;
	while (p && *p) {
		const char *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (eq) {
			const char *kb = p, *ke = eq, *vb = eq + 1, *ve = end;
			trim(&kb, &ke);
			trim(&vb, &ve);
			if (ke > kb) {
				struct sdk_pair *np = realloc(*out, (*n + 1) * sizeof **out);
				if (!np) {
					rc = TL_SDK_ENOMEM;
					goto out;
				}
				*out = np;
				char *k = decode_dup(kb, (size_t)(ke - kb), &rc);
				char *v = k ? decode_dup(vb, (size_t)(ve - vb), &rc) : NULL;
				if (!k || !v) {
					free(k);
					goto out;
				}
				np[*n].key = k;
				np[*n].value = v;
				(*n)++;
			}
		}
		p = *end ? end + 1 : end;
	}
out:
	return rc;
}

int sdk__parse_sampler(const char *name, const char *arg, int *sampler, double *ratio)
{
	static const struct {
		const char *name;
		int s;
	} names[] = {
		{"always_on", SDK_SAMPLER_ALWAYS_ON},
		{"always_off", SDK_SAMPLER_ALWAYS_OFF},
		{"traceidratio", SDK_SAMPLER_RATIO},
		{"parentbased_always_on", SDK_SAMPLER_PB_ALWAYS_ON},
		{"parentbased_always_off", SDK_SAMPLER_PB_ALWAYS_OFF},
		{"parentbased_traceidratio", SDK_SAMPLER_PB_RATIO},
	};
	*sampler = SDK_SAMPLER_PB_ALWAYS_ON;
	*ratio = 1.0;
	if (!name || !*name)
		return 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(name, names[i].name) == 0) {
			*sampler = names[i].s;
			if ((*sampler == SDK_SAMPLER_RATIO || *sampler == SDK_SAMPLER_PB_RATIO) && arg && *arg) {
				double r;
				if (tl_parse_double(arg, strlen(arg), &r) || !(r >= 0.0 && r <= 1.0))
					return TL_SDK_EINVAL;
				*ratio = r;
			}
			return 0;
		}
	}
	return TL_SDK_EINVAL;
}

static const char *env(sdk_getenv_fn get, void *ud, const char *name)
{
	const char *v = get(name, ud);
	return v && *v ? v : NULL;
}

static int is_true(const char *v)
{
	return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* A u32 variable; TL_SDK_EINVAL when set but not a number in [min, max]. */
static int env_u32(sdk_getenv_fn get, void *ud, const char *name, uint32_t min, uint32_t max, uint32_t *out)
{
	const char *v = env(get, ud, name);
	uint64_t u;
	if (!v)
		return 0;
	if (tl_parse_u64(v, strlen(v), &u) || u < min || u > max)
		return TL_SDK_EINVAL;
	*out = (uint32_t)u;
	return 0;
}

static char *dup_c(const char *s)
{
	size_t n = strlen(s);
	char *d = malloc(n + 1);
	if (d)
		memcpy(d, s, n + 1);
	return d;
}

void sdk__config_cleanup(struct sdk_config *c)
{
	if (!c)
		return;
	free(c->endpoint);
	free(c->service_name);
	sdk__pairs_free(c->resource, c->n_resource);
	sdk__pairs_free(c->headers, c->n_headers);
	memset(c, 0, sizeof *c);
}

int sdk__config_load(struct sdk_config *c, sdk_getenv_fn get, void *ud)
{
	const char *v, *traces, *base;
	int rc = 0;

	memset(c, 0, sizeof *c);
	c->timeout_ms = 10000;
	c->sampler = SDK_SAMPLER_PB_ALWAYS_ON;
	c->ratio = 1.0;
	c->batch_size = 512;
	c->queue_size = 2048;
	c->delay_ms = 5000;
	c->gzip = 1;
	c->attr_limit = c->event_limit = c->link_limit = 128;
	c->retry_initial_ms = 1000;
	c->retry_max_ms = 5000;
	c->retry_max_attempts = 5;
	c->retry_after_max_ms = 30000;

	traces = env(get, ud, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	base = env(get, ud, "OTEL_EXPORTER_OTLP_ENDPOINT");
	if (traces) {
		c->endpoint = dup_c(traces);
	} else if (base) {
		size_t n = strlen(base);
		int slash = n && base[n - 1] == '/';
		c->endpoint = malloc(n + sizeof "/v1/traces");
		if (c->endpoint) {
			memcpy(c->endpoint, base, n);
			memcpy(c->endpoint + n, "/v1/traces" + slash, sizeof "/v1/traces" - (size_t)slash);
		}
	} else if (is_true(env(get, ud, "TRACELAMP_OTEL_ENABLED"))) {
		c->endpoint = dup_c("http://127.0.0.1:4318/v1/traces");
	} else {
		return 0; /* disabled: nothing else matters */
	}
	if (!c->endpoint) {
		rc = TL_SDK_ENOMEM;
		goto out;
	}
	if (strncasecmp(c->endpoint, "http://", 7) && strncasecmp(c->endpoint, "https://", 8)) {
		rc = TL_SDK_EINVAL;
		goto out;
	}
	if (is_true(env(get, ud, "OTEL_SDK_DISABLED")))
		goto out;

	if ((v = env(get, ud, "OTEL_RESOURCE_ATTRIBUTES")) && (rc = sdk__parse_pairs(v, &c->resource, &c->n_resource)))
		goto out;
	if ((v = env(get, ud, "OTEL_EXPORTER_OTLP_HEADERS")) && (rc = sdk__parse_pairs(v, &c->headers, &c->n_headers)))
		goto out;
	if ((v = env(get, ud, "OTEL_EXPORTER_OTLP_TRACES_HEADERS")) && (rc = sdk__parse_pairs(v, &c->headers, &c->n_headers)))
		goto out;
	/* Service name: OTEL_SERVICE_NAME wins over service.name in the resource. */
	v = env(get, ud, "OTEL_SERVICE_NAME");
	for (size_t i = 0; !v && i < c->n_resource; i++)
		if (strcmp(c->resource[i].key, "service.name") == 0 && *c->resource[i].value)
			v = c->resource[i].value;
	if (!(c->service_name = dup_c(v ? v : "unknown_service:c"))) {
		rc = TL_SDK_ENOMEM;
		goto out;
	}
	if ((rc = env_u32(get, ud, "OTEL_EXPORTER_OTLP_TIMEOUT", 1, 3600000, &c->timeout_ms)) ||
	    (rc = env_u32(get, ud, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 1, 3600000, &c->timeout_ms)) ||
	    (rc = env_u32(get, ud, "OTEL_BSP_SCHEDULE_DELAY", 1, 3600000, &c->delay_ms)) ||
	    (rc = env_u32(get, ud, "OTEL_BSP_MAX_QUEUE_SIZE", 1, 1 << 24, &c->queue_size)) ||
	    (rc = env_u32(get, ud, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, 1 << 24, &c->batch_size)) ||
	    (rc = env_u32(get, ud, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", 0, 1 << 16, &c->attr_limit)) ||
	    (rc = env_u32(get, ud, "OTEL_SPAN_EVENT_COUNT_LIMIT", 0, 1 << 16, &c->event_limit)) ||
	    (rc = env_u32(get, ud, "OTEL_SPAN_LINK_COUNT_LIMIT", 0, 1 << 16, &c->link_limit)))
		goto out;
	if (c->batch_size > c->queue_size)
		c->batch_size = c->queue_size;
	if ((rc = sdk__parse_sampler(env(get, ud, "OTEL_TRACES_SAMPLER"), env(get, ud, "OTEL_TRACES_SAMPLER_ARG"),
				     &c->sampler, &c->ratio)))
		goto out;
	v = env(get, ud, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION");
	if (!v)
		v = env(get, ud, "OTEL_EXPORTER_OTLP_COMPRESSION");
	if (v) {
		if (strcasecmp(v, "gzip") == 0)
			c->gzip = 1;
		else if (strcasecmp(v, "none") == 0)
			c->gzip = 0;
		else {
			rc = TL_SDK_EINVAL;
			goto out;
		}
	}
	c->capture_content = is_true(env(get, ud, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")) ||
			     is_true(env(get, ud, "TRACELAMP_CAPTURE_CONTENT"));
	c->enabled = 1;
out:
	if (rc || !c->enabled) {
		sdk__config_cleanup(c);
		c->enabled = 0;
	}
	return rc;
}
