/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The filters' table and driver (filter.h): which kinds are given, their
 * state, a request's stack of layers, and the datagram hooks.
 */
#include "filter.h"
#include "relay.h"
#include "request.h"
#include "view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Top to bottom: the faults meet what the handler writes first, and the
 * taps see what reaches the wire, or the WebSocket messages (framed just
 * above the connection). */
static const struct filter_kind *const kinds[] = { &filter_faults, &filter_trace, &filter_record, &filter_ws };
#define KINDS (sizeof(kinds) / sizeof(kinds[0]))

struct filters {
	unsigned n;
	const struct filter_kind *kind[KINDS]; /* the ones given, in order */
	void *ctx[KINDS];
};

/* A request slot's: its layers and each kind's state. */
struct filter_slot {
	struct layer bottom;             /* a plain connection's */
	struct layer layer[KINDS];
	struct filter_layer fl[KINDS];
	void *slot[KINDS];
};

/* ---- the options ---- */

const char *filters_any_option(const struct ss_config *cfg)
{
	const char *stream = faults_stream_option(cfg), *dgram = faults_dgram_option(cfg);

	return cfg->trace != NULL               ? "--trace"
	       : cfg->record != NULL            ? "--record"
	       : cfg->delay_ms != SS_NO_TIME    ? "--delay"
	       : stream != NULL                 ? stream
	       : dgram != NULL                  ? dgram
	       : cfg->seed != SS_UNSET          ? "--seed"
	                                        : NULL;
}

bool filters_on_stream(const struct ss_config *cfg)
{
	for (size_t i = 0; i < KINDS; i++)
		if (kinds[i]->wanted(cfg))
			return true;
	return false;
}

/* ---- server-wide ---- */

int filters_open(struct view *v, struct ss_error *err)
{
	struct filters *f = calloc(1, sizeof(*f));

	if (f == NULL) {
		ss_error_set(err, SS_ERR_START, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < KINDS; i++) {
		if (!kinds[i]->wanted(v->cfg))
			continue;
		f->kind[f->n] = kinds[i];
		f->ctx[f->n] = calloc(1, kinds[i]->ctx_size ? kinds[i]->ctx_size : 1);
		if (f->ctx[f->n] == NULL) {
			ss_error_set(err, SS_ERR_START, "out of memory");
			v->filters = f;
			return -1;
		}
		f->n++;
		if (kinds[i]->open != NULL && kinds[i]->open(f->ctx[f->n - 1], v, err) < 0) {
			f->kind[--f->n] = NULL;
			free(f->ctx[f->n]);
			f->ctx[f->n] = NULL;
			v->filters = f;
			return -1;
		}
	}
	if (f->n == 0) {
		free(f);
		f = NULL;
	}
	v->filters = f;
	return 0;
}

void filters_announce(struct view *v)
{
	struct filters *f = v->filters;

	for (unsigned i = 0; f != NULL && i < f->n; i++)
		if (f->kind[i]->announce != NULL)
			f->kind[i]->announce(f->ctx[i], v);
}

void filters_close(struct view *v)
{
	struct filters *f = v->filters;

	if (f == NULL)
		return;
	for (unsigned i = 0; i < f->n; i++) {
		if (f->kind[i]->close != NULL)
			f->kind[i]->close(f->ctx[i], v);
		free(f->ctx[i]);
	}
	free(f);
	v->filters = NULL;
}

/* ---- a request ---- */

static struct filter_slot *slot_of(struct view *v, struct request *req)
{
	struct filters *f = v->filters;
	struct filter_slot *s = req->filter_ctx;

	if (s != NULL)
		return s;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	for (unsigned i = 0; i < f->n; i++) {
		if (f->kind[i]->slot_size > 0 && (s->slot[i] = calloc(1, f->kind[i]->slot_size)) == NULL) {
			for (unsigned k = 0; k < i; k++)
				free(s->slot[k]);
			free(s);
			return NULL;
		}
	}
	req->filter_ctx = s;
	return s;
}

static void start(struct view *v, struct request *req, struct filter_slot *s)
{
	struct filters *f = v->filters;

	for (unsigned i = 0; i < f->n; i++) {
		s->fl[i] = (struct filter_layer){ .kind = f->kind[i], .ctx = f->ctx[i], .slot = s->slot[i],
		                                  .v = v, .req = req };
		if (f->kind[i]->start != NULL)
			f->kind[i]->start(f->ctx[i], s->slot[i], v, req);
	}
}

/* A tap's layer: what passes is told to its kind. */
static struct filter_layer *tap_of(struct layer *l)
{
	return l->state;
}

static void tap_seen(struct layer *l, int dir, const void *data, size_t len)
{
	struct filter_layer *fl = tap_of(l);

	fl->kind->seen(fl->ctx, fl->slot, fl->req, dir, data, len);
}

static ssize_t tap_read(struct layer *l, void *buf, size_t size)
{
	ssize_t n = l->below->ops->read(l->below, buf, size);

	if (n >= 0)
		tap_seen(l, FROM_CLIENT, buf, (size_t)n);
	else if (errno == EAGAIN)
		layer_wait_below(l);
	return n;
}

static ssize_t tap_write(struct layer *l, const void *buf, size_t size)
{
	ssize_t n = l->below->ops->write(l->below, buf, size);

	if (n > 0)
		tap_seen(l, TO_CLIENT, buf, (size_t)n);
	else if (n < 0 && errno == EAGAIN)
		layer_wait_below(l);
	return n;
}

static int tap_close(struct layer *l)
{
	int rc = l->below->ops->close(l->below);

	if (rc == 0)
		tap_seen(l, TO_CLIENT, NULL, 0);
	else if (errno == EAGAIN)
		layer_wait_below(l);
	return rc;
}

static const struct layer_ops tap_ops = {
	.name = "tap",
	.read = tap_read,
	.write = tap_write,
	.close = tap_close,
};

struct layer *filters_stack(struct view *v, struct request *req, struct layer *bottom)
{
	struct filters *f = v->filters;
	struct filter_slot *s = slot_of(v, req);

	if (s == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (bottom == NULL)
		bottom = connection_layer(NULL, req->fd, &s->bottom);
	start(v, req, s);
	struct layer *top = bottom;
	for (unsigned i = f->n; i-- > 0;) {
		s->layer[i] = (struct layer){ .ops = f->kind[i]->ops != NULL ? f->kind[i]->ops : &tap_ops,
		                              .below = top, .fd = req->fd, .state = &s->fl[i] };
		top = &s->layer[i];
	}
	return top;
}

void filters_packet(struct view *v, struct request *req, const void *data, size_t len)
{
	struct filters *f = v->filters;
	struct filter_slot *s = f != NULL ? slot_of(v, req) : NULL;

	if (s == NULL)
		return;
	start(v, req, s);
	for (unsigned i = 0; i < f->n; i++)
		if (f->kind[i]->seen != NULL)
			f->kind[i]->seen(f->ctx[i], s->slot[i], req, FROM_CLIENT, data, len);
}

void filters_reply(struct view *v, struct request *req, const void *data, size_t len, struct reply_plan *plan)
{
	struct filters *f = v->filters;
	struct filter_slot *s = req->filter_ctx;

	if (f == NULL || s == NULL)
		return;
	for (unsigned i = 0; i < f->n; i++)
		if (f->kind[i]->reply != NULL)
			f->kind[i]->reply(f->ctx[i], s->slot[i], v, req, data, len, plan);
}

void filters_defer(struct view *v, const struct request *req, const struct msghdr *msg,
                   const struct reply_plan *plan)
{
	struct filters *f = v->filters;

	for (unsigned i = 0; f != NULL && i < f->n; i++)
		if (f->kind[i] == &filter_faults)
			faults_defer(f->ctx[i], v, req, msg, plan);
}

void filters_end(struct view *v, struct request *req)
{
	struct filters *f = v->filters;
	struct filter_slot *s = req->filter_ctx;

	if (f == NULL || s == NULL)
		return;
	for (unsigned i = 0; i < f->n; i++)
		if (f->kind[i]->end != NULL)
			f->kind[i]->end(f->ctx[i], s->slot[i], v, req);
}

void filters_slot_close(struct view *v, struct request *req)
{
	struct filters *f = v->filters;
	struct filter_slot *s = req->filter_ctx;

	if (s == NULL)
		return;
	for (unsigned i = 0; f != NULL && i < f->n; i++) {
		if (f->kind[i]->slot_free != NULL && s->slot[i] != NULL)
			f->kind[i]->slot_free(s->slot[i]);
		free(s->slot[i]);
	}
	free(s);
	req->filter_ctx = NULL;
}
