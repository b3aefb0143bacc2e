/* The echo services: `echo` (bytes back as they come) and `ts8` (the
 * 1M-connections article's 8-byte big-endian timestamp frames, echoed
 * whole; a partial frame is kept until its remaining bytes arrive). */
#ifndef C1M_PROTO_ECHO_H
#define C1M_PROTO_ECHO_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/proto.h"

extern const c1m_proto_t c1m_proto_echo;
extern const c1m_proto_t c1m_proto_ts8;

#define C1M_TS8_FRAME 8

/* Simulated handler work per message, to show what the workerpool
 * architecture is for: sleep (blocks the thread) or spin (burns CPU) for
 * `us` microseconds. Set once before the server starts; 0 = none. */
void c1m_echo_set_work(uint32_t us, bool spin);

#endif
