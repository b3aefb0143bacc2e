#include "engine/proto.h"

const char *c1m_close_reason_name(int reason)
{
    static const char *names[C1M_CLOSE__COUNT] = {
        [C1M_CLOSE_LOCAL] = "local",
        [C1M_CLOSE_PEER] = "peer",
        [C1M_CLOSE_RESET] = "reset",
        [C1M_CLOSE_ERROR] = "error",
        [C1M_CLOSE_PROTO] = "protocol",
        [C1M_CLOSE_NOMEM] = "nomem",
        [C1M_CLOSE_SHUTDOWN] = "shutdown",
        [C1M_CLOSE_CONNECT] = "connect",
        [C1M_CLOSE_TIMEOUT_READ] = "timeout_read",
        [C1M_CLOSE_TIMEOUT_WRITE] = "timeout_write",
        [C1M_CLOSE_TIMEOUT_IDLE] = "timeout_idle",
        [C1M_CLOSE_TIMEOUT_HEADER] = "timeout_header",
    };
    return reason >= 0 && reason < C1M_CLOSE__COUNT ? names[reason] : "unknown";
}
