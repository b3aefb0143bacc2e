#include "core/version.h"

/* The Makefile passes -DC1M_GIT_COMMIT="..." for this file only; a build
 * outside a git checkout (or by another build system) leaves it out. */
#ifndef C1M_GIT_COMMIT
#define C1M_GIT_COMMIT ""
#endif

const char *c1m_version(void)
{
    return C1M_VERSION;
}

const char *c1m_version_commit(void)
{
    return C1M_GIT_COMMIT;
}
