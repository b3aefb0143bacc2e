/* c1m: serve and measure a million TCP connections on one machine. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "core/log.h"

#include "core/version.h"
#include "tools/cmd.h"
#include "tools/provenance.h"

static const struct {
    const char *name;
    const char *argv0;  /* what getopt prints before its messages */
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    { "serve", "c1m serve", c1m_cmd_serve,
      "run a server (echo, ts8, http) under one of six architectures" },
    { "bench", "c1m bench", c1m_cmd_bench,
      "load generator: many connections, exact latency percentiles" },
    { "merge", "c1m merge", c1m_cmd_merge,
      "combine bench results (JSON) from several runs or hosts exactly" },
    { "lab", "c1m lab", c1m_cmd_lab,
      "the whole experiment: every architecture, one table, JSON, plots" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: c1m COMMAND [OPTIONS]\n       c1m --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\n'c1m COMMAND --help' describes each command's options; 'man c1m' all of\n"
               "them, with the grammar of counts, sizes and durations.\n");
}

void c1m_print_version(FILE *f)
{
    const char *commit = c1m_version_commit();
    if (*commit)
        fprintf(f, "c1m %s (commit %s)\n", c1m_version(), commit);
    else
        fprintf(f, "c1m %s\n", c1m_version());
}

int c1m_usage_error(const char *cmd)
{
    fprintf(stderr, "try 'c1m %s --help'\n", cmd);
    return 2;
}

/* Every connection is a file: serve, bench and lab run with the soft
 * RLIMIT_NOFILE raised to the hard one (what this machine allows a process
 * without privileges), and say so. Children inherit it, so it is said once. */
static void raise_nofile(const char *argv0)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_max == RLIM_INFINITY)
        fprintf(stderr, "%s: raised the open-file limit (RLIMIT_NOFILE) from %llu to the hard "
                        "limit, unlimited\n", argv0, (unsigned long long)was);
    else
        fprintf(stderr, "%s: raised the open-file limit (RLIMIT_NOFILE) from %llu to %llu, "
                        "the hard limit\n", argv0, (unsigned long long)was,
                (unsigned long long)rl.rlim_max);
}

int main(int argc, char **argv)
{
    /* the library prints nothing by itself: the command shows its log */
    c1m_log_set_handler(c1m_log_stderr, NULL, C1M_LOG_INFO);
    c1m_prov_set_argv(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        c1m_print_version(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name))
            continue;
        /* c1m COMMAND ... --version: the same answer, whatever else is given
         * (up to a "--" that ends the options) */
        for (int a = 2; a < argc && strcmp(argv[a], "--"); a++)
            if (!strcmp(argv[a], "--version")) {
                c1m_print_version(stdout);
                return 0;
            }
        argv[1] = (char *)commands[i].argv0;
        bool help = false;
        for (int a = 2; a < argc; a++)
            help |= !strcmp(argv[a], "--help") || !strcmp(argv[a], "-h");
        if (commands[i].fn != c1m_cmd_merge && !help)
            raise_nofile(argv[1]);
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "c1m: unknown command '%s'\n", argv[1]);
    fprintf(stderr, "try 'c1m --help'\n");
    return 2;
}
