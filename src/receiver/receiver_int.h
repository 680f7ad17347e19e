/*
 * receiver_int.h - the receiver's state shared by otlp_http.c (the endpoint
 * and traces) and otlp_signals.c (metrics and logs). Nothing outside
 * src/receiver includes this header.
 */
#ifndef TL_RECEIVER_INT_H
#define TL_RECEIVER_INT_H

#include <pthread.h>

#include "receiver/receiver.h"

struct receiver {
	struct receiver_config cfg;
	size_t decode_ceiling;
	/* Cumulative GenAI usage metrics -> increments (model_usage_from_metrics);
	 * one for every transport, under usage_mu. */
	pthread_mutex_t usage_mu;
	struct model_usage_state *usage;
};

#endif
