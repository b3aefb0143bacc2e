/* Shared by the unit tests that check that nothing leaks descriptors:
 * the number of entries in /proc/self/fd (including ".", ".." and the
 * directory's own descriptor: constant, so counts compare). */
#ifndef C1M_TEST_FD_COUNT_H
#define C1M_TEST_FD_COUNT_H
#include <dirent.h>

static inline int fd_count(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}
#endif
