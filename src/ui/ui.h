/*
 * ui.h - the web UI's static assets, embedded in the binary at build time.
 *
 * scripts/embed-ui.sh writes build/gen/ui_assets.c: a table of every file of web/
 * (plus uPlot's dist files), each gzip-compressed (gzip -9n) with its content type and
 * an ETag. index.html is served at "/" and for client-side routes; everything else
 * lives under /assets/<build hash>/ so it can be cached forever.
 */
#ifndef TL_UI_H
#define TL_UI_H

#include <stddef.h>

struct evhttp_request;

/* One embedded file (the generated table's row type). */
struct ui_asset {
	const char *path;               /* "/index.html", "/assets/<hash>/app.js" */
	const char *content_type;       /* with charset for text */
	const unsigned char *data;      /* gzip member (RFC 1952) */
	size_t len;                     /* bytes of data */
	size_t raw_len;                 /* bytes once inflated */
	const char *etag;               /* quoted, e.g. "\"3f2a9c01d4e5b6a7\"" */
};

/* Defined by the generated build/gen/ui_assets.c. */
extern const struct ui_asset ui_assets[];
extern const size_t ui_assets_count;

/*
 * Looks up the asset for a URL path (decoded; a query string after '?' is ignored).
 * "/" gives index.html; a path that names no asset and is not under /assets/ also
 * gives index.html (client-side routes). Callers route /api/, /metrics, /healthz and
 * /readyz themselves before calling this. On success returns 0 and sets every non-NULL
 * out parameter (*is_gzip is always 1: data is a gzip member). TL_ENOTFOUND for a
 * missing /assets/ file; TL_EINVAL for a NULL path.
 */
int ui_asset_find(const char *path, const unsigned char **data, size_t *len, const char **content_type,
		  int *is_gzip, const char **etag);

/*
 * The Cache-Control value for a path found by ui_asset_find: "no-cache" for
 * index.html (and client routes), "public, max-age=31536000, immutable" for the
 * content-addressed /assets/ files.
 */
const char *ui_cache_control(const char *path);

/*
 * Answers one HTTP request for a UI path (decoded path, as routed by the caller):
 * GET and HEAD only (405 otherwise); 304 when If-None-Match matches the ETag; the
 * gzip bytes with Content-Encoding: gzip when Accept-Encoding allows gzip, else the
 * inflated bytes; Cache-Control per ui_cache_control, ETag, Vary: Accept-Encoding,
 * X-Content-Type-Options: nosniff. 404 for a missing /assets/ file. Always replies.
 */
void ui_serve(struct evhttp_request *req, const char *path);

#endif
