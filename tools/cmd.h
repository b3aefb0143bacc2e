/* The c1m subcommands. Each parses its own flags and returns the process
 * exit status: 0 success, 1 failure, 2 bad usage (130 for an interrupted
 * lab). argv[0] is "c1m COMMAND", so getopt's own messages carry it. */
#ifndef C1M_TOOLS_CMD_H
#define C1M_TOOLS_CMD_H

#include <stdio.h>

int c1m_cmd_serve(int argc, char **argv);
int c1m_cmd_bench(int argc, char **argv);
int c1m_cmd_merge(int argc, char **argv);
int c1m_cmd_lab(int argc, char **argv);

/* "c1m 0.1.0 (commit 3f2a9c1d0b7e)" */
void c1m_print_version(FILE *f);

/* After a usage error was printed: one line "try 'c1m CMD --help'";
 * returns 2, the exit status of bad usage. */
int c1m_usage_error(const char *cmd);

#endif
