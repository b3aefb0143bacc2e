/* c1m: serve and measure a million TCP connections on one machine. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"

#include "tools/cmd.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    { "serve", c1m_cmd_serve, "run a server (echo, ts8, http) under one of the seed's architectures" },
    { "bench", c1m_cmd_bench, "load generator: up to 1,000,000 connections, exact percentiles" },
    { "merge", c1m_cmd_merge, "combine bench results (JSON) from several runs or hosts exactly" },
    { "lab", c1m_cmd_lab, "the seed's experiment: every architecture, one table, plots" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: c1m COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\n'c1m COMMAND --help' describes each command's options.\n");
}

int main(int argc, char **argv)
{
    /* the library prints nothing by itself: the command shows its log */
    c1m_log_set_handler(c1m_log_stderr, NULL, C1M_LOG_INFO);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "c1m: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
