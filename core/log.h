/* Logging to stderr: one line per call, prefixed with a wall-clock time
 * (microseconds, like the seed's log.Lmicroseconds) and the process tag. */
#ifndef C1M_CORE_LOG_H
#define C1M_CORE_LOG_H

#include <stdarg.h>

#include "c1m/common.h" /* C1M_LOG_* */

/* Process-wide settings (set once at start-up, before threads start). */
void c1m_log_set_level(int level);
void c1m_log_set_tag(const char *tag); /* e.g. "serve[child 3]" */

void c1m_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define c1m_error(...) c1m_log(C1M_LOG_ERROR, __VA_ARGS__)
#define c1m_warn(...)  c1m_log(C1M_LOG_WARN, __VA_ARGS__)
#define c1m_info(...)  c1m_log(C1M_LOG_INFO, __VA_ARGS__)
#define c1m_debug(...) c1m_log(C1M_LOG_DEBUG, __VA_ARGS__)

#endif
