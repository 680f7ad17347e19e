/*
 * server.c - listening sockets, event-loop threads, cross-thread posts and the
 * signal-driven drain (see server.h).
 *
 * The OTLP port is one listening socket; each worker loop accepts from its own
 * dup() of it, so the kernel hands each new connection to whichever loop
 * accepts first, and closing every dup (on drain) closes the socket. The
 * OTLP/gRPC port works the same way with an evconnlistener per worker loop.
 */
#include "server/server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>

struct server_loop {
	struct server *srv;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct evconnlistener *grpc; /* worker loops with a gRPC port */
	struct event *wake;
	pthread_mutex_t mu;
	struct server_task *head, *tail;
	int stopped;
	pthread_t thread;
	int started;
	server_handler_fn handler;
	void *arg;
	struct server_task close_task;
};

struct server {
	struct server_config cfg;
	struct server_loop *otlp;
	uint32_t n_otlp;
	struct server_loop api;
	char otlp_bound[96];
	char http_bound[96];
	char grpc_bound[96];
	struct event *sig_term, *sig_int, *poll;
	int draining;
	uint64_t drain_deadline;
};

/* ---- posting ------------------------------------------------------------------ */

void server_loop_post(struct server_loop *loop, struct server_task *t)
{
	int wake = 0;
	t->next = NULL;
	pthread_mutex_lock(&loop->mu);
	if (!loop->stopped) {
		if (loop->tail)
			loop->tail->next = t;
		else
			loop->head = t;
		loop->tail = t;
		wake = 1;
	}
	pthread_mutex_unlock(&loop->mu);
	/* event_active is thread-safe once evthread_use_pthreads() has run; several
	 * posts before the loop wakes collapse into one callback. */
	if (wake)
		event_active(loop->wake, EV_READ, 0);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct server_loop *loop = arg;
	struct server_task *t;
	pthread_mutex_lock(&loop->mu);
	t = loop->head;
	loop->head = loop->tail = NULL;
	pthread_mutex_unlock(&loop->mu);
	while (t) {
		struct server_task *next = t->next;
		t->fn(t);
		t = next;
	}
}

/* ---- sockets ------------------------------------------------------------------- */

static int split_addr(const char *addr, char *host, size_t hn, char *port, size_t pn)
{
	const char *h = addr, *colon;
	size_t hl;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close || close[1] != ':')
			return TL_EINVAL;
		h = addr + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return TL_EINVAL;
		hl = (size_t)(colon - addr);
	}
	if (hl >= hn || strlen(colon + 1) >= pn || !colon[1])
		return TL_EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	snprintf(port, pn, "%s", colon + 1);
	return 0;
}

/* Binds and listens on addr; writes the actual "host:port" into bound. */
static int bind_listen(const char *addr, int *fd_out, char *bound, size_t boundn, char *err, size_t errlen)
{
	char host[256], port[16], nh[NI_MAXHOST], np[NI_MAXSERV];
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int fd = -1, rc = 0, gai, one = 1, saved = 0;

	*fd_out = -1;
	if (split_addr(addr, host, sizeof host, port, sizeof port)) {
		snprintf(err, errlen, "bad address \"%s\"", addr);
		return TL_EINVAL;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (gai) {
		snprintf(err, errlen, "cannot resolve %s: %s", addr, gai_strerror(gai));
		return TL_EIO;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		/* Inherited by accepted sockets: without it, replies larger than one
		 * bufferevent write (16 KiB) stall 40 ms on keep-alive (Nagle + delayed ACK). */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(saved));
		rc = TL_EIO;
		goto out;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, nh, sizeof nh, np, sizeof np, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(bound, boundn, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", nh, np);
	else
		snprintf(bound, boundn, "%s", addr);
	*fd_out = fd;
out:
	freeaddrinfo(res);
	return rc;
}

/* ---- loops ------------------------------------------------------------------- */

static void on_request(struct evhttp_request *req, void *arg)
{
	struct server_loop *loop = arg;
	loop->handler(req, loop, loop->arg);
}

static int loop_init(struct server_loop *loop, struct server *s, server_handler_fn h, void *arg, size_t max_body,
		     int lingering)
{
	loop->srv = s;
	loop->handler = h;
	loop->arg = arg;
	pthread_mutex_init(&loop->mu, NULL);
	loop->base = event_base_new();
	if (!loop->base)
		return TL_ENOMEM;
	loop->wake = event_new(loop->base, -1, EV_PERSIST, on_wake, loop);
	loop->http = evhttp_new(loop->base);
	if (!loop->wake || !loop->http)
		return TL_ENOMEM;
	evhttp_set_gencb(loop->http, on_request, loop);
	evhttp_set_allowed_methods(loop->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						       EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(loop->http, (ev_ssize_t)max_body);
	evhttp_set_max_headers_size(loop->http, 64 * 1024);
	evhttp_set_timeout(loop->http, s->cfg.timeout_s > 0 ? s->cfg.timeout_s : 60);
	/* Read (and drop) the rest of an oversized body before closing so the
	 * client gets to read the 413 instead of a connection reset. */
	if (lingering)
		evhttp_set_flags(loop->http, EVHTTP_SERVER_LINGERING_CLOSE);
	return 0;
}

static void loop_cleanup(struct server_loop *loop)
{
	if (!loop->srv)
		return;
	if (loop->grpc)
		evconnlistener_free(loop->grpc);
	if (loop->http)
		evhttp_free(loop->http);
	if (loop->wake)
		event_free(loop->wake);
	if (loop->base)
		event_base_free(loop->base);
	pthread_mutex_destroy(&loop->mu);
	loop->srv = NULL;
}

static void *worker_main(void *arg)
{
	struct server_loop *loop = arg;
	event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* Runs on a worker loop: stop accepting new OTLP connections. */
static void close_listener(struct server_task *t)
{
	struct server_loop *loop = (struct server_loop *)((char *)t - offsetof(struct server_loop, close_task));
	if (loop->bound) {
		evhttp_del_accept_socket(loop->http, loop->bound);
		loop->bound = NULL;
	}
	if (loop->grpc) {
		evconnlistener_free(loop->grpc);
		loop->grpc = NULL;
	}
	if (loop->srv->cfg.grpc_drain)
		loop->srv->cfg.grpc_drain(loop, loop->srv->cfg.grpc_arg);
}

static void on_grpc_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct server_loop *loop = arg;
	struct server *s = loop->srv;
	if (s->cfg.grpc_accept)
		s->cfg.grpc_accept(fd, loop, s->cfg.grpc_arg);
	else
		close(fd);
}

int server_create(const struct server_config *cfg, struct server **out, char *err, size_t errlen)
{
	struct server *s;
	int otlp_fd = -1, http_fd = -1, grpc_fd = -1, rc;
	int grpc = cfg->grpc_addr && cfg->grpc_addr[0];

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->cfg = *cfg;
	if (s->cfg.otlp_threads < 1)
		s->cfg.otlp_threads = 1;
	rc = bind_listen(cfg->otlp_addr, &otlp_fd, s->otlp_bound, sizeof s->otlp_bound, err, errlen);
	if (rc)
		goto out;
	rc = bind_listen(cfg->http_addr, &http_fd, s->http_bound, sizeof s->http_bound, err, errlen);
	if (rc)
		goto out;
	if (grpc) {
		rc = bind_listen(cfg->grpc_addr, &grpc_fd, s->grpc_bound, sizeof s->grpc_bound, err, errlen);
		if (rc)
			goto out;
	}

	s->otlp = calloc(s->cfg.otlp_threads, sizeof *s->otlp);
	if (!s->otlp)
		abort();
	s->n_otlp = s->cfg.otlp_threads;
	for (uint32_t i = 0; i < s->n_otlp; i++) {
		struct server_loop *l = &s->otlp[i];
		int fd;
		rc = loop_init(l, s, cfg->otlp_handler, cfg->otlp_arg, cfg->otlp_max_body, 1);
		if (rc)
			goto nomem;
		l->close_task.fn = close_listener;
		/* Each loop owns a dup: evhttp closes it when the listener is freed. */
		fd = dup(otlp_fd);
		if (fd < 0 || !(l->bound = evhttp_accept_socket_with_handle(l->http, fd))) {
			if (fd >= 0)
				close(fd);
			snprintf(err, errlen, "cannot accept on %s: %s", s->otlp_bound, strerror(errno));
			rc = TL_EIO;
			goto out;
		}
		if (!grpc)
			continue;
		/* Same for the gRPC port; the listener closes its dup when freed
		 * (backlog 0: the socket is listening already). */
		fd = dup(grpc_fd);
		if (fd < 0 || !(l->grpc = evconnlistener_new(l->base, on_grpc_accept, l,
							      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd))) {
			if (fd >= 0)
				close(fd);
			snprintf(err, errlen, "cannot accept on %s: %s", s->grpc_bound, strerror(errno));
			rc = TL_EIO;
			goto out;
		}
	}
	close(otlp_fd);
	otlp_fd = -1;
	if (grpc_fd >= 0)
		close(grpc_fd);
	grpc_fd = -1;

	rc = loop_init(&s->api, s, cfg->http_handler, cfg->http_arg, cfg->http_max_body, 0);
	if (rc)
		goto nomem;
	s->api.bound = evhttp_accept_socket_with_handle(s->api.http, http_fd);
	if (!s->api.bound) {
		snprintf(err, errlen, "cannot accept on %s", s->http_bound);
		rc = TL_EIO;
		goto out;
	}
	http_fd = -1;
	*out = s;
	return 0;
nomem:
	snprintf(err, errlen, "cannot create event loops: out of memory");
out:
	if (otlp_fd >= 0)
		close(otlp_fd);
	if (http_fd >= 0)
		close(http_fd);
	if (grpc_fd >= 0)
		close(grpc_fd);
	server_destroy(s);
	return rc;
}

const char *server_otlp_bound(const struct server *s)
{
	return s->otlp_bound;
}

const char *server_http_bound(const struct server *s)
{
	return s->http_bound;
}

const char *server_grpc_bound(const struct server *s)
{
	return s->grpc_bound;
}

struct event_base *server_loop_base(struct server_loop *loop)
{
	return loop->base;
}

uint32_t server_otlp_loops(const struct server *s)
{
	return s->n_otlp;
}

int server_start(struct server *s)
{
	for (uint32_t i = 0; i < s->n_otlp; i++) {
		if (pthread_create(&s->otlp[i].thread, NULL, worker_main, &s->otlp[i]))
			return TL_ENOMEM;
		s->otlp[i].started = 1;
	}
	return 0;
}

/* ---- drain --------------------------------------------------------------------- */

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct server_drain *d = &s->cfg.drain;
	int idle = d->idle ? d->idle(d->arg) : 1;
	if (idle) {
		event_base_loopexit(s->api.base, NULL);
	} else if (tl_mono_nano() >= s->drain_deadline) {
		tl_log(TL_LOG_WARN, "drain timeout: stopping with requests still in flight");
		event_base_loopexit(s->api.base, NULL);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	struct timeval tv = {0, 10000};
	if (s->draining) {
		tl_log(TL_LOG_WARN, "second signal: stopping without waiting for in-flight requests");
		event_base_loopexit(s->api.base, NULL);
		return;
	}
	s->draining = 1;
	tl_log(TL_LOG_INFO, "%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	for (uint32_t i = 0; i < s->n_otlp; i++)
		server_loop_post(&s->otlp[i], &s->otlp[i].close_task);
	if (s->cfg.drain.begin)
		s->cfg.drain.begin(s->cfg.drain.arg);
	s->drain_deadline = tl_mono_nano() + s->cfg.drain.timeout_ns;
	s->poll = event_new(s->api.base, -1, EV_PERSIST, on_poll, s);
	if (!s->poll) {
		event_base_loopexit(s->api.base, NULL);
		return;
	}
	event_add(s->poll, &tv);
}

int server_run(struct server *s)
{
	int rc = 0;
	s->sig_term = evsignal_new(s->api.base, SIGTERM, on_signal, s);
	s->sig_int = evsignal_new(s->api.base, SIGINT, on_signal, s);
	if (!s->sig_term || !s->sig_int || evsignal_add(s->sig_term, NULL) || evsignal_add(s->sig_int, NULL))
		return TL_ENOMEM;
	if (s->cfg.ready)
		s->cfg.ready(s->cfg.ready_arg);
	if (event_base_loop(s->api.base, EVLOOP_NO_EXIT_ON_EMPTY) < 0)
		rc = TL_EIO;
	return rc;
}

void server_stop(struct server *s)
{
	for (uint32_t i = 0; i < s->n_otlp; i++) {
		struct server_loop *l = &s->otlp[i];
		if (l->started) {
			event_base_loopexit(l->base, NULL);
			pthread_join(l->thread, NULL);
			l->started = 0;
		}
		if (l->srv) {
			pthread_mutex_lock(&l->mu);
			l->stopped = 1;
			l->head = l->tail = NULL;
			pthread_mutex_unlock(&l->mu);
		}
	}
	if (s->api.srv) {
		pthread_mutex_lock(&s->api.mu);
		s->api.stopped = 1;
		s->api.head = s->api.tail = NULL;
		pthread_mutex_unlock(&s->api.mu);
	}
}

void server_destroy(struct server *s)
{
	if (!s)
		return;
	server_stop(s);
	if (s->poll)
		event_free(s->poll);
	if (s->sig_term)
		event_free(s->sig_term);
	if (s->sig_int)
		event_free(s->sig_int);
	for (uint32_t i = 0; s->otlp && i < s->n_otlp; i++)
		if (s->otlp[i].srv && s->cfg.grpc_close)
			s->cfg.grpc_close(&s->otlp[i], s->cfg.grpc_arg);
	for (uint32_t i = 0; s->otlp && i < s->n_otlp; i++)
		loop_cleanup(&s->otlp[i]);
	loop_cleanup(&s->api);
	free(s->otlp);
	free(s);
}
