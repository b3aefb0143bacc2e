/* c1m_strerror (c1m/common.h). */
#include <string.h>

#include "c1m/common.h"

const char *c1m_strerror(int err)
{
    return strerror(err < 0 ? -err : err);
}
