#include "proto/ws/utf8.h"

#include <string.h>

/* States: 0 accept; 1/2/3 expect that many continuation bytes (80..BF);
 * 4..7 expect a restricted second byte after E0, ED, F0, F4 (which rule
 * out overlong forms, surrogates and > U+10FFFF), then the rest; 8 reject. */
enum { S_ACC = 0, S_C1, S_C2, S_C3, S_E0, S_ED, S_F0, S_F4, S_REJ };

static uint8_t lead(uint8_t b)
{
    if (b < 0x80)
        return S_ACC;
    if (b < 0xC2)
        return S_REJ; /* stray continuation, or C0/C1 (overlong) */
    if (b < 0xE0)
        return S_C1;
    if (b == 0xE0)
        return S_E0;
    if (b == 0xED)
        return S_ED;
    if (b < 0xF0)
        return S_C2;
    if (b == 0xF0)
        return S_F0;
    if (b < 0xF4)
        return S_C3;
    if (b == 0xF4)
        return S_F4;
    return S_REJ;
}

static uint8_t step(uint8_t s, uint8_t b)
{
    switch (s) {
    case S_ACC:
        return lead(b);
    case S_C1:
    case S_C2:
    case S_C3:
        return (b & 0xC0) == 0x80 ? (uint8_t)(s - 1) : S_REJ;
    case S_E0:
        return b >= 0xA0 && b <= 0xBF ? S_C1 : S_REJ;
    case S_ED:
        return b >= 0x80 && b <= 0x9F ? S_C1 : S_REJ;
    case S_F0:
        return b >= 0x90 && b <= 0xBF ? S_C2 : S_REJ;
    case S_F4:
        return b >= 0x80 && b <= 0x8F ? S_C2 : S_REJ;
    default:
        return S_REJ;
    }
}

uint8_t c1m_utf8_feed(uint8_t s, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s == S_ACC) {
            /* ASCII runs, 8 bytes at a time: most text is ASCII */
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            if (i == n)
                break;
        }
        s = step(s, p[i++]);
        if (s == S_REJ)
            return S_REJ;
    }
    return s;
}
