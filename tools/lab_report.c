/* c1m lab: the results — the 1M-connections article's table (terminal and Markdown), a
 * JSON file for the run, and gnuplot plots: TPS per architecture, the
 * latency spectrum by percentile (from the exact histograms), TPS over time
 * (from bench's intervals). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "core/hist.h"
#include "tools/bench.h"
#include "tools/lab.h"
#include "tools/provenance.h"

const char *lab_fmt_us(uint64_t us, char *buf, size_t len)
{
    return c1m_bench_fmt_us(us, buf, len);
}

const char *lab_fmt_bytes(double b, char *buf, size_t len)
{
    if (b < 1024)
        snprintf(buf, len, "%.0f B", b);
    else if (b < 1024 * 1024)
        snprintf(buf, len, "%.1f KiB", b / 1024);
    else if (b < 1024.0 * 1024 * 1024)
        snprintf(buf, len, "%.1f MiB", b / (1024 * 1024));
    else
        snprintf(buf, len, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    return buf;
}

const char *lab_fmt_count(double v, char *buf, size_t len)
{
    if (v >= 1e6)
        snprintf(buf, len, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, len, "%.1fK", v / 1e3);
    else
        snprintf(buf, len, "%.0f", v);
    return buf;
}

/* ---- output ------------------------------------------------------------------------------ */

void lab_summary_line(const lab_row_t *r)
{
    printf("lab: arch=%s conns=%" PRIu64 "/%" PRIu64 " tps=%.0f p50_us=%" PRIu64
           " p99_us=%" PRIu64 " p999_us=%" PRIu64 " max_us=%" PRIu64 " mismatches=%" PRIu64
           " errors=%" PRIu64 " connect_s=%.2f cpu_pct=%.0f rss_per_conn=%.0f "
           "kmem_per_conn=%.0f ok=%d\n",
           r->id, r->established, r->target, r->tps, r->p50, r->p99, r->p999, r->lat_max,
           r->mismatches, r->errors, r->connect_s,
           r->cpu_pct, r->established ? (double)r->rss_bytes / (double)r->established : 0,
           r->kmem_ok && r->established ? (double)r->kmem_delta / (double)r->established : 0,
           r->ok ? 1 : 0);
    fflush(stdout);
}

/* The table, in Markdown (md) or aligned text. */
static void write_table(const lab_t *lab, FILE *f, bool md)
{
    bool timers = !strcmp(lab->cfg.experiment, "timers");
    const char *cols_arch[] = { "architecture", "server", "client", "conns", "connect",
                                "TPS", "p50", "p99", "p99.9", "max", "server CPU",
                                "server RSS", "RSS/conn", "kernel/conn", "result" };
    const char *cols_tmr[] = { "timers", "server", "rounds", "conns", "TPS", "vs off",
                               "p50", "p99", "p99.9", "max", "server CPU", "errors", "result" };
    const char **cols = timers ? cols_tmr : cols_arch;
    size_t ncols = timers ? sizeof cols_tmr / sizeof *cols_tmr : sizeof cols_arch / sizeof *cols_arch;
    char cell[LAB_MAX_ROWS + 1][16][64];
    for (size_t j = 0; j < ncols; j++)
        snprintf(cell[0][j], sizeof cell[0][j], "%s", cols[j]);
    double off_tps = lab->nrows ? lab->rows[0].tps : 0;
    for (unsigned i = 0; i < lab->nrows; i++) {
        const lab_row_t *r = &lab->rows[i];
        char (*c)[64] = cell[i + 1];
        char b[32];
        size_t j = 0;
        snprintf(c[j++], 64, "%s", r->label);
        snprintf(c[j++], 64, "%s", r->server_desc);
        if (timers)
            snprintf(c[j++], 64, "%u", r->rounds_done);
        else
            snprintf(c[j++], 64, "%s", r->client_desc);
        snprintf(c[j++], 64, "%s/%s", lab_fmt_count((double)r->established, b, sizeof b),
                 lab_fmt_count((double)r->target, (char[32]){ 0 }, 32));
        if (!timers) {
            if (r->connect_s >= 0 && r->ran)
                snprintf(c[j++], 64, "%.1f s", r->connect_s);
            else
                snprintf(c[j++], 64, "-");
        }
        snprintf(c[j++], 64, "%s", lab_fmt_count(r->tps, b, sizeof b));
        if (timers)
            snprintf(c[j++], 64, off_tps > 0 && r->tps > 0 ? "%.2f" : "-", r->tps / off_tps);
        snprintf(c[j++], 64, "%s", lab_fmt_us(r->p50, b, sizeof b));
        snprintf(c[j++], 64, "%s", lab_fmt_us(r->p99, b, sizeof b));
        snprintf(c[j++], 64, "%s", lab_fmt_us(r->p999, b, sizeof b));
        snprintf(c[j++], 64, "%s", lab_fmt_us(r->lat_max, b, sizeof b));
        snprintf(c[j++], 64, "%.0f %%", r->cpu_pct);
        if (timers) {
            snprintf(c[j++], 64, "%" PRIu64, r->errors + r->mismatches + r->lost);
        } else {
            snprintf(c[j++], 64, "%s", lab_fmt_bytes((double)r->rss_bytes, b, sizeof b));
            snprintf(c[j++], 64, "%s", r->established
                     ? lab_fmt_bytes((double)r->rss_bytes / (double)r->established, b, sizeof b) : "-");
            snprintf(c[j++], 64, "%s", r->kmem_ok && r->established
                     ? lab_fmt_bytes((double)r->kmem_delta / (double)r->established, b, sizeof b) : "-");
        }
        snprintf(c[j++], 64, "%s", !r->ran ? "not run" : r->ok ? "OK" : "FAIL");
    }
    size_t w[16] = { 0 };
    for (unsigned i = 0; i <= lab->nrows; i++)
        for (size_t j = 0; j < ncols; j++)
            w[j] = C1M_MAX(w[j], strlen(cell[i][j]));
    for (unsigned i = 0; i <= lab->nrows; i++) {
        for (size_t j = 0; j < ncols; j++) {
            bool left = j < 3;
            if (md)
                fprintf(f, left ? "| %-*s " : "| %*s ", (int)w[j], cell[i][j]);
            else
                fprintf(f, left ? "%-*s  " : "%*s  ", (int)w[j], cell[i][j]);
        }
        fprintf(f, md ? "|\n" : "\n");
        if (md && i == 0) {
            for (size_t j = 0; j < ncols; j++) {
                fprintf(f, "|");
                for (size_t x = 0; x < w[j] + 2; x++)
                    fputc(x == w[j] + 1 && j >= 3 ? ':' : '-', f);
            }
            fprintf(f, "|\n");
        }
    }
}

static void write_notes(const lab_t *lab, FILE *f, bool md)
{
    const char *li = md ? "- " : "  ";
    fprintf(f, "%sproto %s, backend %s, %" PRIu64 " connections, warm-up %.1fs, window %.1fs, %s\n",
            li, lab->proto_used, lab->cfg.backend == C1M_BACKEND_URING ? "uring" : "epoll",
            lab->cfg.conns, (double)lab->cfg.warmup_us / 1e6,
            (double)lab->cfg.duration_us / 1e6,
            lab->cfg.hosts ? "clients in network namespaces on a bridge, merged exactly"
            : lab->in_netns ? "loopback inside the lab's network namespace" : "loopback");
    fprintf(f, "%sclosed loop (a connection sends its next request when the reply "
               "arrives); latency from send to reply, exact log-linear histograms\n", li);
    fprintf(f, "%sserver CPU: user+system of the server's processes over the window "
               "(100 %% = one core; the run had %u CPU%s, shared with the client)\n", li,
            lab->cfg.cpus, lab->cfg.cpus == 1 ? "" : "s");
    fprintf(f, "%sRSS: sum over the server's processes during the window; kernel/conn: "
               "slab (TCP, sock_inode_cache, eventpoll_epi, filp, dentry, ...) plus TCP buffer "
               "pages, during minus before, both ends of each connection, per connection "
               "(other processes on the machine add noise)\n", li);
    for (unsigned i = 0; i < lab->nrows; i++)
        if (lab->rows[i].note[0])
            fprintf(f, "%s%s: %s\n", li, lab->rows[i].label, lab->rows[i].note);
    for (unsigned i = 0; i < lab->nsysctl; i++)
        fprintf(f, "%skernel setting changed for the run and restored: %s\n", li,
                lab->sysctl_lines[i]);
}

static json_t *row_json(const lab_row_t *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "label", json_string(r->label));
    json_object_set_new(o, "server", json_string(r->server_desc));
    json_object_set_new(o, "client", json_string(r->client_desc));
    json_t *args = json_array();
    for (unsigned i = 0; i < r->nserve_args; i++)
        json_array_append_new(args, json_string(r->serve_args[i]));
    json_object_set_new(o, "serve_args", args);
    json_object_set_new(o, "ran", json_boolean(r->ran));
    json_object_set_new(o, "ok", json_boolean(r->ok));
    json_object_set_new(o, "note", json_string(r->note));
    json_object_set_new(o, "conns_target", json_integer((json_int_t)r->target));
    json_object_set_new(o, "conns_established", json_integer((json_int_t)r->established));
    json_object_set_new(o, "connect_s", json_real(r->connect_s));
    json_object_set_new(o, "tps", json_real(r->tps));
    json_object_set_new(o, "requests", json_integer((json_int_t)r->requests));
    json_object_set_new(o, "window_s", json_real(r->window_s));
    json_object_set_new(o, "mismatches", json_integer((json_int_t)r->mismatches));
    json_object_set_new(o, "errors", json_integer((json_int_t)r->errors));
    json_object_set_new(o, "lost", json_integer((json_int_t)r->lost));
    json_t *lat = json_object();
    json_object_set_new(lat, "min", json_integer((json_int_t)r->lat_min));
    json_object_set_new(lat, "mean", json_real(r->lat_mean));
    json_object_set_new(lat, "p50", json_integer((json_int_t)r->p50));
    json_object_set_new(lat, "p90", json_integer((json_int_t)r->p90));
    json_object_set_new(lat, "p99", json_integer((json_int_t)r->p99));
    json_object_set_new(lat, "p999", json_integer((json_int_t)r->p999));
    json_object_set_new(lat, "p9999", json_integer((json_int_t)r->p9999));
    json_object_set_new(lat, "max", json_integer((json_int_t)r->lat_max));
    json_object_set_new(o, "latency_us", lat);
    json_object_set_new(o, "server_cpu_s", json_real(r->cpu_s));
    json_object_set_new(o, "server_cpu_pct", json_real(r->cpu_pct));
    json_object_set_new(o, "server_processes", json_integer(r->server_procs));
    json_object_set_new(o, "server_rss_bytes", json_integer((json_int_t)r->rss_bytes));
    double rss_per = r->established ? (double)r->rss_bytes / (double)r->established : 0;
    json_object_set_new(o, "server_rss_per_conn", json_real(rss_per));
    json_object_set_new(o, "server_rss_per_conn_bytes", json_real(rss_per));
    if (r->kmem_ok) {
        json_object_set_new(o, "kernel_bytes", json_integer((json_int_t)r->kmem_delta));
        json_object_set_new(o, "kernel_tcp_buffer_pages",
                            json_integer((json_int_t)r->sockmem_delta_pages));
        double k_per = r->established ? (double)r->kmem_delta / (double)r->established : 0;
        json_object_set_new(o, "kernel_per_conn", json_real(k_per));
        json_object_set_new(o, "kernel_per_conn_bytes", json_real(k_per));
    }
    json_object_set_new(o, "server_exit", json_integer(r->server_exit));
    json_object_set_new(o, "bench_exit", json_integer(r->bench_exit));
    if (r->rounds_done)
        json_object_set_new(o, "rounds", json_integer(r->rounds_done));
    json_object_set_new(o, "bench_json", json_string(r->json_path));
    json_object_set_new(o, "hgrm", json_string(r->hgrm_path));
    return o;
}

static int write_json(const lab_t *lab, const char *path, bool interrupted)
{
    json_t *o = json_object();
    json_object_set_new(o, "tool", json_string("c1m lab"));
    json_object_set_new(o, "format", json_integer(1));
    json_object_set_new(o, "experiment", json_string(lab->cfg.experiment));
    json_object_set_new(o, "started_unix_s", json_real((double)lab->started_wall_ns / 1e9));
    json_object_set_new(o, "proto", json_string(lab->proto_used));
    json_object_set_new(o, "backend",
                        json_string(lab->cfg.backend == C1M_BACKEND_URING ? "uring" : "epoll"));
    json_object_set_new(o, "conns", json_integer((json_int_t)lab->cfg.conns));
    json_object_set_new(o, "duration_s", json_real((double)lab->cfg.duration_us / 1e6));
    json_object_set_new(o, "warmup_s", json_real((double)lab->cfg.warmup_us / 1e6));
    json_object_set_new(o, "hosts", json_integer(lab->cfg.hosts));
    json_object_set_new(o, "netns", json_string(lab->in_netns ? lab->netns_name : ""));
    json_object_set_new(o, "interrupted", json_boolean(interrupted));
    json_t *ks = json_array();
    for (unsigned i = 0; i < lab->nsysctl; i++)
        json_array_append_new(ks, json_string(lab->sysctl_lines[i]));
    json_object_set_new(o, "kernel_changes", ks);
    json_t *rows = json_array();
    for (unsigned i = 0; i < lab->nrows; i++)
        json_array_append_new(rows, row_json(&lab->rows[i]));
    json_object_set_new(o, "rows", rows);
    json_object_set_new(o, "provenance",
                        c1m_prov_json((const char (*)[160])lab->sysctl_lines, lab->nsysctl));
    int rc = json_dump_file(o, path, JSON_INDENT(2));
    json_decref(o);
    return rc;
}

/* ---- plots --------------------------------------------------------------------------------- */

/* Run gnuplot with argv (no shell), in `dir` if not NULL, stdin from
 * /dev/null, stdout and stderr to `log` (or /dev/null). 0 = exit 0. */
static int gnuplot(const char *dir, const char *log, char *const argv[])
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (dir && chdir(dir) < 0)
            _exit(126);
        int in = open("/dev/null", O_RDONLY);
        int out = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        execvp("gnuplot", argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static bool have_gnuplot(bool *cairo)
{
    char *probe[] = { "gnuplot", "-e", "set terminal pngcairo", NULL };
    char *version[] = { "gnuplot", "--version", NULL };
    int rc = gnuplot(NULL, NULL, probe);
    *cairo = rc == 0;
    if (rc == 0)
        return true;
    return gnuplot(NULL, NULL, version) == 0;
}

/* latency_ROW.dat, the latency spectrum: x = 1/(1-p) for the fraction p of
 * requests faster than the bucket, y = the bucket's highest value. Columns:
 * percent of requests faster (0-100), 1/(1-p), latency, and the same
 * fraction as a number from 0 to 1. (Also the push experiment's.) */
void lab_write_spectrum(const lab_t *lab, const lab_row_t *r)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/latency_%s.dat", lab->out, r->id);
    FILE *f = fopen(path, "we");
    if (!f)
        return;
    const c1m_hist_t *h = &r->res->lat;
    uint64_t total = c1m_hist_count(h), cum = 0;
    fprintf(f, "# percentile_pct 1/(1-p) latency_ms fraction_below\n");
    for (size_t b = 0; total && b < c1m_hist_nbuckets(); b++) {
        uint64_t cnt = c1m_hist_bucket_count(h, b);
        if (!cnt)
            continue;
        double p = (double)cum / (double)total;
        uint64_t hi = C1M_MIN(c1m_hist_bucket_high(b), c1m_hist_max(h));
        fprintf(f, "%.9f %.6g %.6f %.11f\n", p * 100, 1.0 / (1.0 - p), (double)hi / 1000.0, p);
        cum += cnt;
    }
    if (total)
        fprintf(f, "%.9f %.6g %.6f %.11f\n", 100.0 * (1 - 1.0 / (double)total), (double)total,
                (double)c1m_hist_max(h) / 1000.0, 1 - 1.0 / (double)total);
    fclose(f);
}

static bool write_plots(const lab_t *lab)
{
    bool cairo;
    if (!have_gnuplot(&cairo)) {
        printf("c1m lab: gnuplot not found: no plots (apt-get install gnuplot-nox)\n");
        return false;
    }
    char path[PATH_MAX];
    const char *term = cairo ? "pngcairo size 1000,600 font ',10'" : "png size 1000,600";
    /* data */
    snprintf(path, sizeof path, "%s/tps.dat", lab->out);
    FILE *f = fopen(path, "we");
    if (!f)
        return false;
    fprintf(f, "# label tps\n");
    for (unsigned i = 0; i < lab->nrows; i++)
        fprintf(f, "\"%s\" %.1f\n", lab->rows[i].label, lab->rows[i].tps);
    fclose(f);
    for (unsigned i = 0; i < lab->nrows; i++) {
        const lab_row_t *r = &lab->rows[i];
        if (!r->res)
            continue;
        lab_write_spectrum(lab, r);
        snprintf(path, sizeof path, "%s/tps_time_%s.dat", lab->out, r->id);
        f = fopen(path, "we");
        if (!f)
            continue;
        fprintf(f, "# seconds_since_first_interval tps warmup errors reconnects\n"
                   "# (errors: connect errors + resets + requests without an answer)\n");
        uint64_t t0 = r->res->nivals ? r->res->ivals[0].t_ns : 0;
        for (uint32_t k = 0; k < r->res->nivals; k++) {
            const c1m_bench_ival_t *v = &r->res->ivals[k];
            if (v->secs < 0.5)
                continue; /* a sliver at an edge of the run: its rate means little */
            fprintf(f, "%.3f %.1f %d %" PRIu64 " %" PRIu64 "\n", (double)(v->t_ns - t0) / 1e9,
                    (double)v->requests / v->secs, v->warm ? 1 : 0,
                    v->ev.connect_errors + v->ev.resets + v->ev.lost, v->ev.reconnects);
        }
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/plots.gp", lab->out);
    f = fopen(path, "we");
    if (!f)
        return false;
    char title[200];
    snprintf(title, sizeof title, "c1m lab: %s, %" PRIu64 " connections, %s", lab->proto_used,
             lab->cfg.conns, lab->cfg.hosts ? "client namespaces" : "loopback");
    fprintf(f, "set terminal %s\nset grid ytics\n", term);
    fprintf(f, "set output 'tps.png'\nset title '%s: TPS'\nset style data histograms\n"
               "set style fill solid 0.8 border -1\nset boxwidth 0.7\nset yrange [0:*]\n"
               "set ylabel 'requests/s (window)'\nset xtics rotate by -20\n"
               "plot 'tps.dat' using 2:xtic(1) notitle lc rgb '#3070b0', "
               "'' using 0:2:(sprintf('%%.0f',$2)) with labels offset 0,0.7 notitle\n",
            title);
    fprintf(f, "reset\nset grid\nset output 'latency.png'\n"
               "set title '%s: latency by percentile'\nset logscale x\nset logscale y\n"
               "set xlabel 'percentile'\nset ylabel 'latency (ms)'\n"
               "set xtics ('0%%%%' 1, '90%%%%' 10, '99%%%%' 100, '99.9%%%%' 1000, '99.99%%%%' 10000, "
               "'99.999%%%%' 100000, '99.9999%%%%' 1000000)\nset key top left\nplot ",
            title);
    bool first = true;
    for (unsigned i = 0; i < lab->nrows; i++)
        if (lab->rows[i].res) {
            fprintf(f, "%s'latency_%s.dat' using 2:3 with steps lw 2 title '%s'",
                    first ? "" : ", \\\n     ", lab->rows[i].id, lab->rows[i].label);
            first = false;
        }
    fprintf(f, "%s\n", first ? "1/0 notitle" : "");
    fprintf(f, "reset\nset grid\nset output 'tps_time.png'\nset title '%s: TPS over time "
               "(1 s intervals, warm-up included)'\nset xlabel 'seconds'\n"
               "set ylabel 'requests/s'\nset yrange [0:*]\nset y2label 'errors, reconnects "
               "per interval'\nset y2range [0:*]\nset y2tics\nset key outside right\nplot ",
            title);
    first = true;
    for (unsigned i = 0; i < lab->nrows; i++)
        if (lab->rows[i].res) {
            fprintf(f, "%s'tps_time_%s.dat' using 1:2 with linespoints lw 2 title '%s', "
                       "'' using 1:4 axes x1y2 with impulses lw 3 title '%s errors', "
                       "'' using 1:5 axes x1y2 with points pt 2 title '%s reconnects'",
                    first ? "" : ", \\\n     ", lab->rows[i].id, lab->rows[i].label,
                    lab->rows[i].label, lab->rows[i].label);
            first = false;
        }
    fprintf(f, "%s\n", first ? "1/0 notitle" : "");
    fclose(f);
    char *args[] = { "gnuplot", "plots.gp", NULL };
    if (gnuplot(lab->out, "plots.log", args) != 0) {
        printf("c1m lab: gnuplot failed: see %s/plots.log\n", lab->out);
        return false;
    }
    printf("c1m lab: plots: %s/tps.png, latency.png, tps_time.png\n", lab->out);
    return true;
}

void lab_write_outputs(lab_t *lab, bool interrupted)
{
    if (!strcmp(lab->cfg.experiment, "push")) {
        lab_push_write_outputs(lab, interrupted);
        return;
    }
    char path[PATH_MAX];
    printf("\n");
    write_table(lab, stdout, false);
    write_notes(lab, stdout, false);
    bool plots = !lab->cfg.no_plots && !interrupted && write_plots(lab);
    snprintf(path, sizeof path, "%s/table.md", lab->out);
    FILE *f = fopen(path, "we");
    if (f) {
        fprintf(f, "# c1m lab%s\n\n", !strcmp(lab->cfg.experiment, "timers")
                                         ? ": timer designs" : ": architectures");
        c1m_prov_markdown(f, (const char (*)[160])lab->sysctl_lines, lab->nsysctl);
        fprintf(f, "\n");
        write_table(lab, f, true);
        fprintf(f, "\n");
        write_notes(lab, f, true);
        if (plots)
            fprintf(f, "\n![TPS](tps.png)\n![latency](latency.png)\n![TPS over time](tps_time.png)\n");
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/lab.json", lab->out);
    if (write_json(lab, path, interrupted) < 0)
        printf("c1m lab: cannot write %s\n", path);
    printf("c1m lab: results in %s (table.md, lab.json, per row ROW.bench.json, ROW.hgrm "
           "and logs)\n", lab->out);
}

/* ---- for lab_push.c ---- */

json_t *lab_row_json(const lab_row_t *r)
{
    return row_json(r);
}

bool lab_have_gnuplot(bool *cairo)
{
    return have_gnuplot(cairo);
}

int lab_gnuplot(const char *dir, const char *log, char *const argv[])
{
    return gnuplot(dir, log, argv);
}
