#include "core/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static c1m_log_fn log_fn;      /* NULL: the library prints nothing */
static void *log_ud;
static int log_max = C1M_LOG_INFO;
static char log_tag[64] = "c1m";

void c1m_log_set_handler(c1m_log_fn fn, void *ud, int max_level)
{
    log_fn = fn;
    log_ud = ud;
    log_max = max_level;
}

void c1m_log_set_level(int level) { log_max = level; }

void c1m_log_set_tag(const char *tag)
{
    snprintf(log_tag, sizeof log_tag, "%s", tag);
}

void c1m_log(int level, const char *fmt, ...)
{
    if (!log_fn || level > log_max)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_fn(level, line, log_ud);
}

void c1m_log_stderr(int level, const char *msg, void *ud)
{
    static const char *names[] = { "error", "warn", "info", "debug" };
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char line[1200];
    int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%06ld %s %s: %s", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)tv.tv_usec, log_tag,
                     (unsigned)level < 4 ? names[level] : "log", msg);
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
