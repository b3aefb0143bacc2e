#include "core/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static int c1m__log_level = C1M_LOG_INFO;
static char c1m__log_tag[64] = "c1m";

void c1m_log_set_level(int level) { c1m__log_level = level; }

void c1m_log_set_tag(const char *tag)
{
    snprintf(c1m__log_tag, sizeof c1m__log_tag, "%s", tag);
}

void c1m_log(int level, const char *fmt, ...)
{
    static const char *names[] = { "error", "warn", "info", "debug" };
    if (level > c1m__log_level)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char line[1024];
    int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%06ld %s %s: ", tm.tm_hour,
                     tm.tm_min, tm.tm_sec, (long)tv.tv_usec, c1m__log_tag, names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* One write per line so that lines from threads and processes do not
     * interleave. */
    fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
}
