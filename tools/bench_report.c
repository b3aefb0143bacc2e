/* c1m bench results: the text report, the JSON file (written and read
 * back by c1m merge), the .hgrm percentile spectrum. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/bench.h"
#include "tools/provenance.h"

static const char *const err_names[C1M_BERR__COUNT] = {
    [C1M_BERR_REFUSED] = "connect_refused",   [C1M_BERR_CONNECT_TIMEOUT] = "connect_timeout",
    [C1M_BERR_CONNECT] = "connect_other",     [C1M_BERR_BIND] = "source_unavailable",
    [C1M_BERR_SOCKET] = "socket",             [C1M_BERR_RESET] = "reset",
    [C1M_BERR_IO] = "io",                     [C1M_BERR_PARSE] = "bad_response",
    [C1M_BERR_NOMEM] = "nomem",               [C1M_BERR_HANDSHAKE] = "ws_handshake_closed",
};

const char *c1m_bench_err_name(int kind)
{
    return kind >= 0 && kind < C1M_BERR__COUNT ? err_names[kind] : "?";
}

uint64_t c1m_bench_errors_total(const c1m_bench_result_t *r)
{
    uint64_t n = 0;
    for (int i = 0; i < C1M_BERR__COUNT; i++)
        n += r->errors[i];
    return n;
}

const char *c1m_bench_fmt_us(uint64_t us, char *buf, size_t len)
{
    if (us < 1000)
        snprintf(buf, len, "%" PRIu64 "us", us);
    else if (us < 1000000)
        snprintf(buf, len, "%.2fms", (double)us / 1e3);
    else
        snprintf(buf, len, "%.2fs", (double)us / 1e6);
    return buf;
}

static void fmt_wall(uint64_t ns, char *buf, size_t len)
{
    time_t s = (time_t)(ns / 1000000000u);
    struct tm tm;
    localtime_r(&s, &tm);
    size_t n = strftime(buf, len, "%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03u", (unsigned)(ns / 1000000u % 1000u));
}

/* ---- text ----------------------------------------------------------------- */

static void print_latency(FILE *f, const char *what, const c1m_hist_t *h)
{
    static const double ps[] = { 50, 90, 99, 99.9, 99.99 };
    static const char *const names[] = { "p50", "p90", "p99", "p99.9", "p99.99" };
    char b[32];
    char m[32];
    fprintf(f, "%s:\n  min %s  mean %s", what, c1m_bench_fmt_us(c1m_hist_min(h), b, sizeof b),
            c1m_bench_fmt_us((uint64_t)(c1m_hist_mean(h) + 0.5), m, sizeof m));
    for (size_t i = 0; i < 5; i++)
        fprintf(f, "  %s %s", names[i], c1m_bench_fmt_us(c1m_hist_percentile(h, ps[i]), b, sizeof b));
    fprintf(f, "  max %s\n", c1m_bench_fmt_us(c1m_hist_max(h), b, sizeof b));
}

static void print_errors(const c1m_bench_result_t *r, FILE *f)
{
    fprintf(f, "errors: %" PRIu64, c1m_bench_errors_total(r));
    const char *sep = " (";
    for (int i = 0; i < C1M_BERR__COUNT; i++)
        if (r->errors[i]) {
            fprintf(f, "%s%s %" PRIu64, sep, err_names[i], r->errors[i]);
            sep = ", ";
        }
    fprintf(f, "%s; mismatches %" PRIu64 "\n", *sep == ',' ? ")" : "", r->win.mismatches);
}

static void print_http(const c1m_bench_result_t *r, FILE *f)
{
    fprintf(f, "http status:");
    for (int c = 1; c <= 5; c++)
        if (r->win.status_class[c])
            fprintf(f, " %dxx %" PRIu64, c, r->win.status_class[c]);
    fprintf(f, "  (codes:");
    for (int s = 0; s < 600; s++)
        if (r->win.status[s])
            fprintf(f, " %d=%" PRIu64, s, r->win.status[s]);
    fprintf(f, ")  non-2xx %" PRIu64 "\n", r->win.non2xx);
}

/* Completions in the window and requests sent in it differ when the load
 * is not in a steady state (a closed loop of N connections needs N / TPS
 * seconds for one round, the mean latency: at 1M connections, longer than
 * a short warm-up). */
static void print_steady(const c1m_bench_result_t *r, FILE *f)
{
    double a = (double)r->win.requests, b = (double)r->win.sent;
    if (a <= 0 || b <= 0 || (a > b ? a - b : b - a) <= 0.1 * (a > b ? a : b))
        return;
    fprintf(f, "WARNING: not in a steady state: %" PRIu64 " replies completed in the window but "
               "%" PRIu64 " requests were sent in it",
            r->win.requests, r->win.sent);
    double mean_s = c1m_hist_mean(&r->lat) / 1e6;
    if (mean_s > 0)
        fprintf(f, "; a request took %.2f s on average: use a --warmup of several times "
                   "that and a much longer --duration",
                mean_s);
    fprintf(f, "\n");
}

void c1m_bench_print(const c1m_bench_result_t *r, FILE *f)
{
    char a[32], b[32];
    fprintf(f, "\n== c1m bench: %s %s, %s loop", r->proto, r->target, r->mode);
    if (r->rate)
        fprintf(f, " at %" PRIu64 " req/s", r->rate);
    fprintf(f, ", pipeline %" PRIu64 ", %" PRIu64 " proc x %" PRIu64 " loops%s\n", r->pipeline,
            r->procs, r->loops, r->interrupted ? "  [INTERRUPTED]" : "");
    fprintf(f, "connections: target %" PRIu64 ", established %" PRIu64 ", failed %" PRIu64
               ", closed by peer %" PRIu64 ", closed on error %" PRIu64 " (%" PRIu64
               " connect attempts, %" PRIu64 " reconnects)\n",
            r->conns_target, r->conns_established, r->conns_failed, r->conns_closed_peer,
            r->conns_closed_error, r->attempts, r->reconnects);
    fmt_wall(r->t_start, a, sizeof a);
    fmt_wall(r->t_end, b, sizeof b);
    if (r->t_start)
        fprintf(f, "window: %.3f s (%s .. %s) after %.3f s warm-up\n", r->duration_s, a, b,
                r->warmup_s);
    else
        fprintf(f, "window: not reached\n");
    fprintf(f, "requests: %" PRIu64 " completed in the window, %.1f per second (TPS); %" PRIu64
               " sent in the window (their latency below), lost %" PRIu64 ", unsent %" PRIu64 "\n",
            r->win.requests, r->tps, r->win.sent, r->win.lost, r->win.unsent);
    print_steady(r, f);
    print_errors(r, f);
    if (!strcmp(r->proto, "http"))
        print_http(r, f);
    if (r->rate && r->duration_s > 0 && r->tps < 0.95 * (double)r->rate)
        fprintf(f, "WARNING: %.0f requests/s achieved of the %" PRIu64 " asked for: the target "
                   "(or this client) could not keep up; %" PRIu64 " requests fell due but were "
                   "never sent (unsent); the latency below counts from each intended send "
                   "time, so it includes the wait\n",
                r->tps, r->rate, r->win.unsent);
    if (r->max_lag_us >= 20000)
        fprintf(f, "WARNING: the client fell behind its schedule: a send started up to %s late "
                   "(latency is still measured from the intended time)\n",
                c1m_bench_fmt_us(r->max_lag_us, a, sizeof a));
    if (!c1m_hist_count(&r->lat)) {
        fprintf(f, "latency: no request completed in the window\n");
        return;
    }
    print_latency(f, r->has_svc ? "latency from the intended send time (corrected for "
                                  "coordinated omission)"
                                : "latency",
                  &r->lat);
    if (r->has_svc)
        print_latency(f, "service time (from the actual send; uncorrected)", &r->svc);
}

/* ---- JSON ----------------------------------------------------------------- */

static json_t *latency_json(const c1m_hist_t *h)
{
    return json_pack("{s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}", "min",
                     (json_int_t)c1m_hist_min(h), "mean", c1m_hist_mean(h), "p50",
                     (json_int_t)c1m_hist_percentile(h, 50), "p90",
                     (json_int_t)c1m_hist_percentile(h, 90), "p99",
                     (json_int_t)c1m_hist_percentile(h, 99), "p999",
                     (json_int_t)c1m_hist_percentile(h, 99.9), "p9999",
                     (json_int_t)c1m_hist_percentile(h, 99.99), "max",
                     (json_int_t)c1m_hist_max(h), "count", (json_int_t)c1m_hist_count(h),
                     "stddev", c1m_hist_stddev(h));
}

static json_t *hist_json(const c1m_hist_t *h)
{
    json_t *b = json_array();
    for (size_t i = 0; i < c1m_hist_nbuckets(); i++) {
        uint64_t n = c1m_hist_bucket_count(h, i);
        if (n)
            json_array_append_new(b, json_pack("[I,I,I]", (json_int_t)c1m_hist_bucket_low(i),
                                               (json_int_t)c1m_hist_bucket_high(i), (json_int_t)n));
    }
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:o}", "unit", "us", "layout",
                     "c1m-hist-1: log-linear, 128 sub-buckets per octave, [low, high, count]",
                     "count", (json_int_t)c1m_hist_count(h), "sum", (json_int_t)h->sum, "min",
                     (json_int_t)c1m_hist_min(h), "max", (json_int_t)c1m_hist_max(h),
                     "saturated", (json_int_t)c1m_hist_saturated(h), "buckets", b);
}

static json_t *http_json(const c1m_bench_result_t *r)
{
    json_t *cls = json_object(), *codes = json_object();
    for (int c = 1; c <= 5; c++) {
        char k[16];
        snprintf(k, sizeof k, "%dxx", c);
        json_object_set_new(cls, k, json_integer((json_int_t)r->win.status_class[c]));
    }
    for (int s = 0; s < 600; s++)
        if (r->win.status[s]) {
            char k[16];
            snprintf(k, sizeof k, "%d", s);
            json_object_set_new(codes, k, json_integer((json_int_t)r->win.status[s]));
        }
    return json_pack("{s:I,s:o,s:o}", "non_2xx", (json_int_t)r->win.non2xx, "classes", cls,
                     "codes", codes);
}

static json_t *ivals_json(const c1m_bench_result_t *r)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < r->nivals; i++) {
        const c1m_bench_ival_t *v = &r->ivals[i];
        json_array_append_new(
            a, json_pack("{s:f,s:f,s:f,s:f,s:b,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "t",
                         (double)v->t_ns / 1e9, "start_unix_s", (double)v->t_ns / 1e9, "secs",
                         v->secs, "length_s", v->secs, "warmup", v->warm, "requests",
                         (json_int_t)v->requests, "tps",
                         v->secs > 0 ? (double)v->requests / v->secs : 0.0, "p50_us",
                         (json_int_t)v->p50, "p99_us", (json_int_t)v->p99, "max_us",
                         (json_int_t)v->max, "connect_errors", (json_int_t)v->ev.connect_errors,
                         "resets", (json_int_t)v->ev.resets, "lost", (json_int_t)v->ev.lost,
                         "reconnects", (json_int_t)v->ev.reconnects));
    }
    return a;
}

static json_t *result_json(const c1m_bench_result_t *r)
{
    json_t *errs = json_object();
    for (int i = 0; i < C1M_BERR__COUNT; i++)
        json_object_set_new(errs, err_names[i], json_integer((json_int_t)r->errors[i]));
    json_t *o = json_pack(
        "{s:s,s:i,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "tool", "c1m bench", "format", 1,
        "proto", r->proto, "target", r->target, "mode", r->mode, "rate", (json_int_t)r->rate,
        "pipeline", (json_int_t)r->pipeline, "procs", (json_int_t)r->procs, "loops",
        (json_int_t)r->loops, "size", (json_int_t)r->size, "hosts", (json_int_t)r->hosts);
    json_object_update_new(
        o, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "conns_target", (json_int_t)r->conns_target,
                     "conns_established", (json_int_t)r->conns_established, "conns_failed",
                     (json_int_t)r->conns_failed, "conns_closed_by_peer",
                     (json_int_t)r->conns_closed_peer, "conns_closed_on_error",
                     (json_int_t)r->conns_closed_error, "connect_attempts",
                     (json_int_t)r->attempts, "reconnects", (json_int_t)r->reconnects));
    json_object_update_new(
        o, json_pack("{s:{s:I,s:I,s:f,s:f},s:b,s:f,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:I}", "window",
                     "start_ns", (json_int_t)r->t_start, "end_ns", (json_int_t)r->t_end,
                     "duration_s", r->duration_s, "warmup_s", r->warmup_s, "interrupted",
                     r->interrupted, "tps", r->tps, "requests", (json_int_t)r->win.requests,
                     "sent", (json_int_t)r->win.sent, "lost", (json_int_t)r->win.lost, "unsent",
                     (json_int_t)r->win.unsent, "errors",
                     (json_int_t)c1m_bench_errors_total(r), "errors_by_kind", errs,
                     "mismatches", (json_int_t)r->win.mismatches, "max_send_lag_us",
                     (json_int_t)r->max_lag_us));
    /* twins of unit-less keys, with their unit in the name */
    json_object_set_new(o, "rate_per_s", json_integer((json_int_t)r->rate));
    json_object_set_new(o, "size_bytes", json_integer((json_int_t)r->size));
    json_object_set_new(o, "tps_per_s", json_real(r->tps));
    json_object_set_new(o, "http", http_json(r));
    json_object_set_new(o, "latency_us", latency_json(&r->lat));
    json_object_set_new(o, "histogram", hist_json(&r->lat));
    if (!strcmp(r->mode, "push")) {
        /* --proto ws --push: each delivery's latency from the timestamp the
         * server put in the message. reach_X_us is the X-th percentile of
         * every delivery of the window, i.e. the time a broadcast needs to
         * reach X % of the connections when the broadcasts are alike (it
         * is not computed broadcast by broadcast). */
        json_object_set_new(
            o, "push",
            json_pack("{s:I,s:I,s:I,s:I,s:I}", "deliveries", (json_int_t)r->win.requests,
                      "lost", (json_int_t)r->win.lost, "reach_50_us",
                      (json_int_t)c1m_hist_percentile(&r->lat, 50.0), "reach_99_us",
                      (json_int_t)c1m_hist_percentile(&r->lat, 99.0), "reach_100_us",
                      (json_int_t)c1m_hist_max(&r->lat)));
    }
    if (r->has_svc) {
        json_object_set_new(o, "service_time_us", latency_json(&r->svc));
        json_object_set_new(o, "service_histogram", hist_json(&r->svc));
    }
    json_object_set_new(o, "intervals", ivals_json(r));
    json_object_set_new(o, "provenance", c1m_prov_json(NULL, 0));
    return o;
}

int c1m_bench_write_json(const c1m_bench_result_t *r, const char *path)
{
    json_t *o = result_json(r);
    if (!o)
        return -ENOMEM;
    int rc = json_dump_file(o, path, JSON_INDENT(1) | JSON_COMPACT) ? -EIO : 0;
    json_decref(o);
    return rc;
}

int c1m_bench_write_hgrm(const c1m_bench_result_t *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    int rc = c1m_hist_write_hgrm(&r->lat, f, 1000.0); /* milliseconds, as the plotters expect */
    if (fclose(f) && !rc)
        rc = -EIO;
    return rc;
}

/* ---- reading back (c1m merge) ----------------------------------------------- */

static uint64_t get_u64(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return (uint64_t)json_integer_value(v);
    if (json_is_real(v))
        return (uint64_t)json_real_value(v);
    return 0;
}

static double get_num(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static void get_str(json_t *o, const char *key, char *out, size_t len)
{
    const char *s = json_string_value(json_object_get(o, key));
    snprintf(out, len, "%s", s ? s : "");
}

static int hist_from_json(c1m_hist_t *h, json_t *o, char *err, size_t errlen)
{
    c1m_hist_init(h);
    if (!o)
        return 0;
    json_t *b = json_object_get(o, "buckets");
    size_t i;
    json_t *e;
    json_array_foreach(b, i, e) {
        uint64_t low = (uint64_t)json_integer_value(json_array_get(e, 0));
        uint64_t n = (uint64_t)json_integer_value(json_array_get(e, 2));
        size_t idx = c1m_hist_index(low);
        if (!json_is_array(e) || c1m_hist_bucket_low(idx) != low ||
            c1m_hist_add_bucket(h, idx, n) < 0) {
            snprintf(err, errlen, "histogram bucket %zu does not match this build's layout", i);
            return -EINVAL;
        }
    }
    if (c1m_hist_count(h) != get_u64(o, "count") ||
        c1m_hist_set_stats(h, get_u64(o, "min"), get_u64(o, "max"), get_u64(o, "sum"),
                           get_u64(o, "saturated")) < 0) {
        snprintf(err, errlen, "histogram counts or min/max/sum are inconsistent");
        return -EINVAL;
    }
    return 0;
}

static void ivals_from_json(c1m_bench_result_t *r, json_t *a)
{
    size_t n = json_array_size(a);
    r->ivals = calloc(n ? n : 1, sizeof *r->ivals);
    if (!r->ivals)
        return;
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        c1m_bench_ival_t *v = &r->ivals[r->nivals++];
        v->t_ns = (uint64_t)(get_num(e, "t") * 1e9 + 0.5);
        v->secs = get_num(e, "secs");
        v->warm = json_is_true(json_object_get(e, "warmup"));
        v->requests = get_u64(e, "requests");
        v->p50 = get_u64(e, "p50_us");
        v->p99 = get_u64(e, "p99_us");
        v->max = get_u64(e, "max_us");
        v->ev.connect_errors = get_u64(e, "connect_errors");
        v->ev.resets = get_u64(e, "resets");
        v->ev.lost = get_u64(e, "lost");
        v->ev.reconnects = get_u64(e, "reconnects");
    }
}

static void counters_from_json(c1m_bench_result_t *r, json_t *o)
{
    r->rate = get_u64(o, "rate");
    r->pipeline = get_u64(o, "pipeline");
    r->procs = get_u64(o, "procs");
    r->loops = get_u64(o, "loops");
    r->size = get_u64(o, "size");
    r->hosts = get_u64(o, "hosts") ? get_u64(o, "hosts") : 1;
    r->conns_target = get_u64(o, "conns_target");
    r->conns_established = get_u64(o, "conns_established");
    r->conns_failed = get_u64(o, "conns_failed");
    r->conns_closed_peer = get_u64(o, "conns_closed_by_peer");
    r->conns_closed_error = get_u64(o, "conns_closed_on_error");
    r->attempts = get_u64(o, "connect_attempts");
    r->reconnects = get_u64(o, "reconnects");
    json_t *w = json_object_get(o, "window");
    r->t_start = get_u64(w, "start_ns");
    r->t_end = get_u64(w, "end_ns");
    r->duration_s = get_num(w, "duration_s");
    r->warmup_s = get_num(w, "warmup_s");
    r->interrupted = json_is_true(json_object_get(o, "interrupted"));
    r->tps = get_num(o, "tps");
    r->win.requests = get_u64(o, "requests");
    r->win.sent = get_u64(o, "sent");
    r->win.lost = get_u64(o, "lost");
    r->win.unsent = get_u64(o, "unsent");
    r->win.mismatches = get_u64(o, "mismatches");
    r->max_lag_us = get_u64(o, "max_send_lag_us");
    json_t *errs = json_object_get(o, "errors_by_kind");
    for (int i = 0; i < C1M_BERR__COUNT; i++)
        r->errors[i] = get_u64(errs, err_names[i]);
    json_t *http = json_object_get(o, "http");
    r->win.non2xx = get_u64(http, "non_2xx");
    json_t *cls = json_object_get(http, "classes");
    for (int c = 1; c <= 5; c++) {
        char k[16];
        snprintf(k, sizeof k, "%dxx", c);
        r->win.status_class[c] = get_u64(cls, k);
    }
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(http, "codes"), key, v) {
        int s = atoi(key);
        if (s > 0 && s < 600)
            r->win.status[s] = (uint64_t)json_integer_value(v);
    }
}

int c1m_bench_read_json(c1m_bench_result_t *r, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
        return -e;
    }
    json_t *o = json_loadf(f, 0, &je);
    fclose(f);
    if (!o) {
        snprintf(err, errlen, "%s: not valid JSON (line %d, column %d: %s)", path, je.line,
                 je.column, je.text);
        return -EINVAL;
    }
    int rc = -EINVAL;
    const char *tool = json_string_value(json_object_get(o, "tool"));
    if (!tool || strcmp(tool, "c1m bench") || !json_object_get(o, "latency_us")) {
        snprintf(err, errlen, "%s: not a c1m bench result (no \"tool\": \"c1m bench\")", path);
        goto out;
    }
    get_str(o, "proto", r->proto, sizeof r->proto);
    get_str(o, "target", r->target, sizeof r->target);
    get_str(o, "mode", r->mode, sizeof r->mode);
    counters_from_json(r, o);
    char herr[160];
    if (hist_from_json(&r->lat, json_object_get(o, "histogram"), herr, sizeof herr) < 0 ||
        hist_from_json(&r->svc, json_object_get(o, "service_histogram"), herr, sizeof herr) < 0) {
        snprintf(err, errlen, "%s: %s", path, herr);
        goto out;
    }
    r->has_svc = json_object_get(o, "service_histogram") != NULL;
    ivals_from_json(r, json_object_get(o, "intervals"));
    rc = 0;
out:
    json_decref(o);
    return rc;
}
