/* c1m public API: conventions shared by every header.
 *
 * - Everything public starts with c1m_ and is declared under include/c1m/;
 *   anything else in the library is private and may change.
 * - Functions that can fail return 0 (or a count) on success and a negative
 *   errno value on failure (-EINVAL, -ENOMEM, -EADDRINUSE, ...);
 *   c1m_strerror() turns one into text. Calls that can fail because of a
 *   user's configuration also write a one-line explanation into an
 *   `err` buffer when given one.
 * - The library never prints and never installs signal handlers: log lines
 *   go to the callback set with c1m_log_set_handler (none by default).
 */
#ifndef C1M_COMMON_H
#define C1M_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define C1M_API __attribute__((visibility("default")))
#else
#define C1M_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct c1m_loop c1m_loop_t;
typedef struct c1m_conn c1m_conn_t;

/* Text for a negative errno returned by a c1m call. */
C1M_API const char *c1m_strerror(int err);

/* The library's version, "MAJOR.MINOR.PATCH". */
C1M_API const char *c1m_version(void);

/* Log levels, most severe first. */
enum { C1M_LOG_ERROR = 0, C1M_LOG_WARN = 1, C1M_LOG_INFO = 2, C1M_LOG_DEBUG = 3 };
/* Receives every log line of the library (without a trailing newline);
 * called from any thread of the library, so it must be thread-safe. */
typedef void (*c1m_log_fn)(int level, const char *line, void *ud);
/* Set before starting anything (not synchronised with running threads).
 * NULL (the default) drops every line; c1m_log_stderr prints them on
 * stderr with a timestamp. `max_level` filters (C1M_LOG_INFO shows
 * errors, warnings and information). */
C1M_API void c1m_log_set_handler(c1m_log_fn fn, void *ud, int max_level);
C1M_API void c1m_log_stderr(int level, const char *line, void *ud);

#ifdef __cplusplus
}
#endif
#endif
