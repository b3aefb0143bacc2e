/* A protocol is a small table of callbacks (public: c1m/conn.h). The
 * engine calls them on the loop that owns the connection and never knows
 * which protocol runs; the same table serves accepted and connected
 * (client) connections. */
#ifndef C1M_ENGINE_PROTO_H
#define C1M_ENGINE_PROTO_H

#include "c1m/conn.h"

#endif
