/* c1m: the whole public API in one include.
 *
 *   #include <c1m/c1m.h>
 *   cc prog.c $(pkg-config --cflags --libs c1m)
 *
 * docs/API.md describes the lifecycle, threads, ownership and errors.
 */
#ifndef C1M_H
#define C1M_H

#include "c1m/common.h" /* versions, errors, logging */
#include "c1m/conn.h"   /* connections and protocol tables */
#include "c1m/loop.h"   /* loops, timers, fd watchers */
#include "c1m/server.h" /* servers: the architectures */
#include "c1m/http.h"   /* HTTP/1.1 servers: routes, middleware, metrics */
#include "c1m/hist.h"   /* latency histograms: record, percentiles, .hgrm */

#endif
