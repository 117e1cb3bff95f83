/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The registry of the three axes: the one place that maps a family, a socket
 * type or a mode to its table.  Adding an implementation means a new file
 * and a line here.
 */
#include "axes.h"

extern const struct transport transport_inet, transport_unix;
extern const struct handler handler_stream, handler_dgram, handler_wait_stream, handler_wait_dgram, handler_tls,
                             handler_relay;
extern const struct mode mode_sync, mode_fork, mode_thread;

const struct mode *mode_for(enum ss_mode mode)
{
	switch (mode) {
	case SS_MODE_SYNC: return &mode_sync;
	case SS_MODE_FORK: return &mode_fork;
	case SS_MODE_THREAD: return &mode_thread;
	case SS_MODE_DEFAULT: break; /* decided by the config check */
	}
	return NULL;
}

const struct transport *transport_for(int family)
{
	switch (family) {
	case AF_INET:
	case AF_INET6: return &transport_inet;
	case AF_UNIX: return &transport_unix;
	}
	return NULL;
}

const struct handler *handler_for(int socktype, bool wait, bool tls, bool relay)
{
	if (tls)
		return socktype == SOCK_STREAM && !wait ? &handler_tls : NULL;
	if (relay && socktype == SOCK_STREAM)
		return wait ? NULL : &handler_relay;
	switch (socktype) {
	case SOCK_STREAM:
	case SOCK_SEQPACKET: return wait ? &handler_wait_stream : &handler_stream;
	case SOCK_DGRAM: return wait ? &handler_wait_dgram : &handler_dgram;
	}
	return NULL;
}
