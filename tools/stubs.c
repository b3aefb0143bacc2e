/* Commands not built yet. */
#include <stdio.h>

#include "tools/cmd.h"

int c1m_cmd_check(int argc, char **argv)
{
    fprintf(stderr, "c1m check: not built yet\n");
    return 1;
}
