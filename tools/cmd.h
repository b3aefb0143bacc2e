/* The c1m subcommands. Each parses its own flags and returns the process
 * exit status: 0 success, 1 failure, 2 bad usage. */
#ifndef C1M_TOOLS_CMD_H
#define C1M_TOOLS_CMD_H

int c1m_cmd_serve(int argc, char **argv);
int c1m_cmd_bench(int argc, char **argv);
int c1m_cmd_merge(int argc, char **argv);
int c1m_cmd_lab(int argc, char **argv);

#endif
