/* The version of c1m (library and command). */
#ifndef C1M_CORE_VERSION_H
#define C1M_CORE_VERSION_H

#define C1M_VERSION_MAJOR 0
#define C1M_VERSION_MINOR 1
#define C1M_VERSION_PATCH 0
#define C1M_VERSION "0.1.0"

#include "c1m/common.h" /* c1m_version (public) */

/* "0.1.0" */
const char *c1m_version(void);

/* The git commit the build came from ("3f2a9c1d0b7e", "-dirty" appended
 * when the work tree had changes), or "" when it was not built from a git
 * checkout (a release tarball). */
const char *c1m_version_commit(void);

#endif
