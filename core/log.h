/* Logging: the library formats a line and hands it to the handler set with
 * c1m_log_set_handler (c1m/common.h); with none (the default) nothing is
 * printed. The c1m command installs c1m_log_stderr: one line per call on
 * stderr, prefixed with a wall-clock time (microseconds) and a tag. */
#ifndef C1M_CORE_LOG_H
#define C1M_CORE_LOG_H

#include <stdarg.h>

#include "c1m/common.h"

/* Process-wide settings of c1m_log_stderr (set once at start-up). */
void c1m_log_set_level(int level);
void c1m_log_set_tag(const char *tag); /* e.g. "serve[child 3]" */

void c1m_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define c1m_error(...) c1m_log(C1M_LOG_ERROR, __VA_ARGS__)
#define c1m_warn(...)  c1m_log(C1M_LOG_WARN, __VA_ARGS__)
#define c1m_info(...)  c1m_log(C1M_LOG_INFO, __VA_ARGS__)
#define c1m_debug(...) c1m_log(C1M_LOG_DEBUG, __VA_ARGS__)

#endif
