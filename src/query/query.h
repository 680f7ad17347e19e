/*
 * query.h - the JSON query API v1 (../shared/reference/api.md) as a pure function
 * of a request: method, path, query string and tenant in; status and JSON body out.
 * The HTTP server (src/server) adapts evhttp requests to this.
 *
 * Threads: query_handle may be called from several threads at once.
 */
#ifndef TL_QUERY_H
#define TL_QUERY_H

#include "store/store.h"

struct query_ctx {
	struct store *store;                 /* borrowed */
	const struct tl_price_table *prices; /* borrowed */
};

struct query_request {
	const char *method;   /* "GET", ... */
	const char *path;     /* decoded path, e.g. "/api/v1/traces/abc..." */
	const char *query;    /* raw query string without '?', may be NULL */
	const char *tenant_header; /* X-Tracelamp-Tenant or NULL */
	uint64_t now_unix_nano; /* for default time windows (tests pin it) */
};

struct query_response {
	int status;
	struct tl_buf body;   /* JSON; initialised by query_handle; caller cleans up */
	const char *content_type;
};

/* Handles any path under /api/v1/. Always fills resp (errors as the api.md error
 * shape). Returns 0, or TL_ENOTFOUND when the path is not an API path (then the
 * caller serves something else). */
int query_handle(const struct query_ctx *ctx, const struct query_request *req, struct query_response *resp);

/* Parses a time parameter: Unix seconds, Unix nanoseconds, or RFC 3339. */
int query_parse_time(const char *s, uint64_t *out_unix_nano);

#endif
