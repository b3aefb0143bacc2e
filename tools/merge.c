/* c1m merge: combine c1m bench results (JSON) from several invocations or
 * hosts exactly: histograms are added bucket by bucket (never averaged),
 * counters summed, rates summed over the common window. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bench.h"
#include "tools/cmd.h"

static void merge_usage(FILE *f)
{
    fprintf(f,
"usage: c1m merge [OPTIONS] A.json B.json ...\n"
"\n"
"Combine results that c1m bench wrote with --json (from several processes,\n"
"hosts or runs): latency histograms added bucket by bucket (exact percentiles\n"
"of the union), counters summed, TPS summed over the common window (start the\n"
"runs with the same --start-at). Prints the merged report.\n"
"\n"
"  --json FILE          write the merged result as JSON (default none)\n"
"  --percentiles FILE   write the merged latency spectrum (.hgrm, milliseconds)\n"
"                       (default none)\n"
"  --help               this text\n"
"  --version            c1m's version\n"
"\n"
"EXAMPLES\n"
"  c1m merge --json all.json part1.json part2.json\n"
"  c1m merge --percentiles all.hgrm part1.json part2.json\n"
"\n"
"EXIT STATUS\n"
"  0  merged\n"
"  1  a file could not be read, is not a c1m bench result, or an output could not\n"
"     be written\n"
"  2  bad usage\n");
}

static void add_u64s(uint64_t *d, const uint64_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] += s[i];
}

/* Intervals: same wall-clock start -> requests summed. Percentiles of an
 * interval are not kept per bucket, so only max survives a merge. */
static void merge_ivals(c1m_bench_result_t *d, const c1m_bench_result_t *s)
{
    for (uint32_t i = 0; i < s->nivals; i++) {
        const c1m_bench_ival_t *v = &s->ivals[i];
        uint32_t j = 0;
        while (j < d->nivals && d->ivals[j].t_ns != v->t_ns)
            j++;
        if (j == d->nivals) {
            if (d->nivals == C1M_BENCH_MAX_IVALS)
                continue;
            d->ivals[d->nivals++] = *v;
            d->ivals[j].p50 = d->ivals[j].p99 = 0;
            continue;
        }
        c1m_bench_ival_t *w = &d->ivals[j];
        w->requests += v->requests;
        w->ev.connect_errors += v->ev.connect_errors;
        w->ev.resets += v->ev.resets;
        w->ev.lost += v->ev.lost;
        w->ev.reconnects += v->ev.reconnects;
        w->secs = C1M_MIN(w->secs, v->secs);
        w->max = C1M_MAX(w->max, v->max);
        w->p50 = w->p99 = 0;
        w->warm |= v->warm;
    }
}

static void merge_one(c1m_bench_result_t *d, const c1m_bench_result_t *s, uint64_t *lo,
                      uint64_t *hi)
{
    d->hosts += s->hosts;
    d->procs += s->procs;
    d->rate += s->rate;
    d->conns_target += s->conns_target;
    d->conns_established += s->conns_established;
    d->conns_failed += s->conns_failed;
    d->conns_closed_peer += s->conns_closed_peer;
    d->conns_closed_error += s->conns_closed_error;
    d->attempts += s->attempts;
    d->reconnects += s->reconnects;
    d->tps += s->tps;
    d->interrupted |= s->interrupted;
    d->max_lag_us = C1M_MAX(d->max_lag_us, s->max_lag_us);
    add_u64s(d->errors, s->errors, C1M_BERR__COUNT);
    add_u64s((uint64_t *)&d->win, (const uint64_t *)&s->win, sizeof s->win / sizeof(uint64_t));
    c1m_hist_merge(&d->lat, &s->lat);
    c1m_hist_merge(&d->svc, &s->svc);
    d->has_svc &= s->has_svc;
    *lo = C1M_MAX(*lo, s->t_start);
    *hi = C1M_MIN(*hi, s->t_end);
    merge_ivals(d, s);
}

static void check_compatible(const c1m_bench_result_t *a, const c1m_bench_result_t *b,
                             const char *path)
{
    if (strcmp(a->proto, b->proto) || strcmp(a->mode, b->mode))
        fprintf(stderr, "c1m merge: warning: %s measured %s (%s loop), the first file %s (%s "
                        "loop)\n", path, b->proto, b->mode, a->proto, a->mode);
    double d = a->duration_s > b->duration_s ? a->duration_s - b->duration_s
                                             : b->duration_s - a->duration_s;
    if (d > 0.05 * C1M_MAX(a->duration_s, b->duration_s))
        fprintf(stderr, "c1m merge: warning: %s measured %.2f s, the first file %.2f s: the sum "
                        "of rates assumes the same window\n", path, b->duration_s, a->duration_s);
}

static int merge_files(int n, char **paths, c1m_bench_result_t *out)
{
    char err[512];
    uint64_t lo = 0, hi = UINT64_MAX;
    for (int i = 0; i < n; i++) {
        c1m_bench_result_t r;
        if (c1m_bench_read_json(&r, paths[i], err, sizeof err) < 0) {
            fprintf(stderr, "c1m merge: %s\n", err);
            free(r.ivals);
            return -EINVAL;
        }
        if (i == 0) {
            *out = r;
            out->hosts = out->procs = out->rate = out->tps = 0;
            out->conns_target = out->conns_established = out->conns_failed = 0;
            out->conns_closed_peer = out->conns_closed_error = out->attempts = out->reconnects = 0;
            memset(out->errors, 0, sizeof out->errors);
            memset(&out->win, 0, sizeof out->win);
            c1m_hist_init(&out->lat);
            c1m_hist_init(&out->svc);
            out->has_svc = true;
            out->nivals = 0;
            out->ivals = calloc(C1M_BENCH_MAX_IVALS, sizeof *out->ivals);
            if (!out->ivals)
                return -ENOMEM;
        } else {
            check_compatible(out, &r, paths[i]);
        }
        merge_one(out, &r, &lo, &hi);
        free(r.ivals);
    }
    if (hi <= lo) {
        fprintf(stderr, "c1m merge: warning: the measured windows do not overlap: TPS is the sum "
                        "of each run's own rate (use the same --start-at)\n");
    } else {
        out->t_start = lo;
        out->t_end = hi;
        out->duration_s = (double)(hi - lo) / 1e9;
    }
    snprintf(out->target + strlen(out->target), sizeof out->target - strlen(out->target),
             " (+%d merged)", n - 1);
    return 0;
}

int c1m_cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", required_argument, 0, 'j' },
        { "percentiles", required_argument, 0, 'p' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *json = NULL, *hgrm = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == 'j')
            json = optarg;
        else if (opt == 'p')
            hgrm = optarg;
        else if (opt == 'h') {
            merge_usage(stdout);
            return 0;
        } else { /* getopt said what was wrong */
            return c1m_usage_error("merge");
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "c1m merge: no result to merge: give one or more files that "
                        "c1m bench --json wrote\n");
        return c1m_usage_error("merge");
    }
    c1m_bench_result_t r;
    memset(&r, 0, sizeof r);
    if (merge_files(argc - optind, argv + optind, &r) < 0) {
        free(r.ivals);
        return 1;
    }
    c1m_bench_print(&r, stdout);
    int rc = 0;
    if (json && c1m_bench_write_json(&r, json) < 0) {
        fprintf(stderr, "c1m merge: cannot write %s\n", json);
        rc = 1;
    }
    if (hgrm && c1m_bench_write_hgrm(&r, hgrm) < 0) {
        fprintf(stderr, "c1m merge: cannot write %s\n", hgrm);
        rc = 1;
    }
    free(r.ivals);
    return rc;
}
