/* The histogram's private side. Its type, layout, error bound and every
 * call are public: include/c1m/hist.h. This header adds what only the
 * implementation and the tools use. */
#ifndef C1M_CORE_HIST_H
#define C1M_CORE_HIST_H

#include "c1m/hist.h"
#include "core/common.h"

/* HdrHistogram's bucket count for the same range (for the .hgrm footer). */
#define C1M_HIST_HDR_BUCKETS (C1M_HIST_TOP_BITS - C1M_HIST_SUB_BITS)      /* 33 */

_Static_assert(sizeof(c1m_hist_t) <= 40 * 1024, "c1m_hist_t too large");

#endif
