/* RFC 6455 framing: a socket-free frame parser and frame headers.
 *
 * Parser. c1m_ws_parse() takes the bytes at hand and returns how many it
 * consumed plus one event. It follows the engine's on_data contract: a
 * frame header (2..14 bytes) and a whole control frame (at most 2 + 4 +
 * 125 bytes) are consumed only once complete, otherwise the parser returns
 * having consumed nothing of them and the caller presents those bytes
 * again with more (the engine keeps unconsumed input). Data payload is
 * consumed as it arrives, so a message never has to fit in the input: the
 * state kept between calls is the current frame's remaining length, its
 * mask, the message in progress and the UTF-8 state (14 bytes), so input
 * split at any byte gives the same events as input fed whole.
 *
 * Payload is unmasked into the caller's `out` buffer (at most outcap
 * bytes per event); text is validated as UTF-8 on the way, across frames.
 *
 * What is refused, with the close code to send (RFC 6455 7.4.1):
 *   1002  reserved bits set (no extension is negotiated), unknown opcode,
 *         a control frame fragmented or longer than 125 bytes, an unmasked
 *         frame from a client (server side) or a masked one from a server
 *         (client side), a 64-bit length with its high bit set, a
 *         continuation without a message in progress, a new data frame
 *         inside a fragmented message, a close payload of 1 byte or with
 *         a status code no endpoint may send
 *   1007  invalid UTF-8 in a text message or a close reason
 *   1009  a frame longer than max_frame, or a message that would exceed
 *         max_msg: refused as soon as the header declares it
 */
#ifndef C1M_PROTO_WS_FRAME_H
#define C1M_PROTO_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    C1M_WS_OP_CONT = 0x0,
    C1M_WS_OP_TEXT = 0x1,
    C1M_WS_OP_BINARY = 0x2,
    C1M_WS_OP_CLOSE = 0x8,
    C1M_WS_OP_PING = 0x9,
    C1M_WS_OP_PONG = 0xA,
};

/* Close status codes used here. */
enum {
    C1M_WS_CLOSE_NORMAL = 1000,
    C1M_WS_CLOSE_GOING_AWAY = 1001,
    C1M_WS_CLOSE_PROTOCOL = 1002,
    C1M_WS_CLOSE_NO_STATUS = 1005,   /* never sent: "the close frame had no code" */
    C1M_WS_CLOSE_BAD_DATA = 1007,
    C1M_WS_CLOSE_POLICY = 1008,
    C1M_WS_CLOSE_TOO_BIG = 1009,
    C1M_WS_CLOSE_INTERNAL = 1011,
};

#define C1M_WS_MAX_CONTROL 125
#define C1M_WS_DEFAULT_MAX_MSG (16u << 20)
#define C1M_WS_MAX_HEADER 14

typedef struct c1m_ws_limits {
    uint64_t max_frame; /* 0 = max_msg */
    uint64_t max_msg;   /* 0 = C1M_WS_DEFAULT_MAX_MSG */
} c1m_ws_limits_t;

typedef enum {
    C1M_WS_EV_NONE = 0, /* need more bytes */
    C1M_WS_EV_DATA,     /* payload of a text/binary message in out[0..len) */
    C1M_WS_EV_CONTROL,  /* a whole ping, pong or close frame in out[0..len) */
    C1M_WS_EV_ERROR,    /* refused: send close `code`, then close */
} c1m_ws_ev_kind_t;

typedef struct c1m_ws_event {
    c1m_ws_ev_kind_t kind;
    uint8_t opcode;     /* DATA: the message's (TEXT/BINARY); CONTROL: the frame's */
    bool msg_first;     /* DATA: first bytes of the message */
    bool msg_end;       /* DATA: the message is complete after these bytes */
    size_t len;         /* bytes in out */
    uint16_t code;      /* CONTROL close: status (1005 if none); ERROR: code to send */
    const char *reason; /* CONTROL close: reason (UTF-8, validated) */
    size_t reason_len;
    const char *why;    /* ERROR: a short explanation for logs and tests */
} c1m_ws_event_t;

/* The state kept between calls: 14 bytes (it sits in every WebSocket
 * connection's state, proto/ws/conn.h). The limits are not in it: every
 * connection of a route has the same, so the caller passes them to each
 * call. */
typedef struct __attribute__((packed, aligned(2))) c1m_ws_parser {
    /* 32 bits are enough: both stay <= max_frame / max_msg, which are
     * capped at 4 GiB - 1 (a WebSocket connection's state stays small) */
    uint32_t remaining;      /* payload bytes left in the current data frame */
    uint32_t msg_len;        /* bytes of the message so far (with declared frames) */
    uint32_t mask;           /* current frame's key, rotated to the next byte */
    uint16_t in_frame : 1;   /* inside a data frame's payload */
    uint16_t frame_fin : 1;  /* the current data frame ends its message */
    uint16_t msg_op : 4;     /* TEXT/BINARY of the message in progress, 0 = none */
    uint16_t msg_started : 1; /* a DATA event of this message was given */
    uint16_t utf8 : 4;       /* UTF-8 state of the text message in progress (0..8) */
    uint16_t client : 1;     /* parsing a server's frames: they must be unmasked */
    uint16_t failed : 1;     /* an error was returned: sticky */
} c1m_ws_parser_t;

_Static_assert(sizeof(c1m_ws_parser_t) == 14, "c1m_ws_parser_t is 14 bytes");

/* Server side (client frames must be masked) unless `client`. */
void c1m_ws_parser_init(c1m_ws_parser_t *p, bool client);

/* Consume what can be consumed of in[0..len), fill ev. lim: the limits
 * (NULL or 0 fields = the defaults; above 4 GiB - 1 capped), the same on
 * every call for one parser. Returns the number
 * of bytes consumed (>= 0): keep the rest and call again with more. A
 * DATA or CONTROL event may come with unconsumed bytes left: call again.
 * On ERROR the return is -1 and the parser stays failed. outcap must be at
 * least C1M_WS_MAX_CONTROL. */
ssize_t c1m_ws_parse(c1m_ws_parser_t *p, const c1m_ws_limits_t *lim, const void *in, size_t len,
                     void *out, size_t outcap, c1m_ws_event_t *ev);

/* A message is in progress (for a close at the end of input). */
static inline bool c1m_ws_parser_in_message(const c1m_ws_parser_t *p) { return p->msg_op != 0; }

/* XOR n bytes with a 4-byte key starting at key byte `off` (RFC 6455 5.3);
 * src and dst may be the same. Returns the key rotated for the next byte. */
uint32_t c1m_ws_mask(void *dst, const void *src, size_t n, uint32_t key);

/* Frame header for a server frame (unmasked): 2, 4 or 10 bytes written to
 * out, returns the count. */
size_t c1m_ws_header(uint8_t out[C1M_WS_MAX_HEADER], uint8_t opcode, bool fin, uint64_t len);
/* A client frame's header (masked with key, given as the 4 bytes in
 * memory order); the payload must be masked with c1m_ws_mask(.., key). */
size_t c1m_ws_header_masked(uint8_t out[C1M_WS_MAX_HEADER], uint8_t opcode, bool fin,
                            uint64_t len, uint32_t key);

/* A close payload: 2-byte status + reason (truncated to fit 125 bytes).
 * Returns its length. */
size_t c1m_ws_close_payload(uint8_t out[C1M_WS_MAX_CONTROL], uint16_t code, const char *reason);

/* Whether a peer may send this status code in a close frame. */
bool c1m_ws_close_code_valid(uint16_t code);

#endif
