/* Commands not built yet. */
#include <stdio.h>

#include "tools/cmd.h"

int c1m_cmd_bench(int argc, char **argv)
{
    fprintf(stderr, "c1m bench: not built yet\n");
    return 1;
}
int c1m_cmd_merge(int argc, char **argv)
{
    fprintf(stderr, "c1m merge: not built yet\n");
    return 1;
}
int c1m_cmd_check(int argc, char **argv)
{
    fprintf(stderr, "c1m check: not built yet\n");
    return 1;
}
