/* isaforge freestanding runtime: console printing and the mem* functions compilers may call. */
#include <stddef.h>
#include <stdint.h>

#include "isaforge_rt.h"

#if defined(__GNUC__) && !defined(__clang__)
#define ISAFORGE_NO_IDIOM __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define ISAFORGE_NO_IDIOM
#endif

void isaforge_puts(const char *s) {
    while (*s) isaforge_putchar(*s++);
}

void isaforge_print_uint(uint32_t v) {
    char buf[11];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) isaforge_putchar(buf[--n]);
}

void isaforge_print_int(int32_t v) {
    if (v < 0) {
        isaforge_putchar('-');
        isaforge_print_uint(0u - (uint32_t)v);
    } else {
        isaforge_print_uint((uint32_t)v);
    }
}

void isaforge_print_hex(uint32_t v) {
    isaforge_putchar('0');
    isaforge_putchar('x');
    for (int i = 7; i >= 0; i--) isaforge_putchar("0123456789abcdef"[(v >> (4 * i)) & 15u]);
}

/* The float's bits without a conversion: a union read is defined in C99 and compiles to a move. */
static uint32_t isaforge_float_bits(float v) {
    union {
        float f;
        uint32_t u;
    } b;
    b.f = v;
    return b.u;
}

/* Print the integer m * 2**shift (m < 2**24, 0 <= shift <= 104) exactly: nine 16-bit limbs (so each step
 * of the division by 10 fits 32 bits), most significant first; plus `carry` (0 or 1) added first. */
static void isaforge_print_big(uint32_t m, int shift, uint32_t carry) {
    uint32_t limb[9] = {0};
    int w = shift / 16, r = shift % 16;
    uint32_t lo = (m << r) & 0xFFFFu, mid = (m << r >> 16) & 0xFFFFu, hi = (uint32_t)(((uint64_t)m << r) >> 32);
    limb[8 - w] = lo;
    if (w + 1 <= 8) limb[7 - w] = mid;
    if (w + 2 <= 8) limb[6 - w] = hi;
    for (int i = 8; i >= 0 && carry; i--) {  /* + carry */
        limb[i] += carry;
        carry = limb[i] >> 16;
        limb[i] &= 0xFFFFu;
    }
    char buf[48];
    int n = 0;
    for (;;) {
        uint32_t rem = 0, any = 0;
        for (int i = 0; i < 9; i++) {
            uint32_t cur = (rem << 16) | limb[i];
            limb[i] = cur / 10u;
            rem = cur % 10u;
            any |= limb[i];
        }
        buf[n++] = (char)('0' + rem);
        if (!any) break;
    }
    while (n) isaforge_putchar(buf[--n]);
}

void isaforge_print_float(float v, int decimals) {
    static const uint32_t pow10[10] = {1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u,
                                       100000000u, 1000000000u};
    uint32_t bits = isaforge_float_bits(v);
    uint32_t exp = (bits >> 23) & 0xFFu, frac = bits & 0x7FFFFFu;
    int d = decimals < 0 ? 0 : (decimals > 9 ? 9 : decimals);
    if (exp == 0xFFu) {
        if (frac) {
            isaforge_puts("nan");
            return;
        }
        isaforge_puts(bits >> 31 ? "-inf" : "inf");
        return;
    }
    if (bits >> 31) isaforge_putchar('-');
    /* |v| = m * 2**e exactly */
    uint32_t m = exp ? (frac | 0x800000u) : frac;
    int e = exp ? (int)exp - 150 : -149;
    uint32_t ipart_m = m, q = 0, carry = 0;
    int ishift = 0;
    if (e >= 0) {
        ishift = e;
    } else {
        int k = -e;  /* |v| = m / 2**k: integer part m >> k, fraction (m mod 2**k) / 2**k */
        uint32_t f = k >= 32 ? m : m & ((1u << k) - 1u);
        ipart_m = k >= 32 ? 0u : m >> k;
        if (k <= 56) {
            /* round(f * 10**d / 2**k), ties to even: f * 10**d < 2**24 * 10**9 < 2**54 */
            uint64_t p = (uint64_t)f * pow10[d];
            uint64_t rem = p & (((uint64_t)1 << k) - 1u);
            uint64_t half = (uint64_t)1 << (k - 1);
            q = (uint32_t)(p >> k);
            uint32_t odd = d ? (q & 1u) : (ipart_m & 1u);
            if (rem > half || (rem == half && odd)) q++;
            if (q == pow10[d]) {
                q = 0;
                carry = 1;
            }
        } /* else: f * 10**d / 2**k < 2**-2, rounds to 0 */
    }
    isaforge_print_big(ipart_m, ishift, carry);
    if (d) {
        isaforge_putchar('.');
        char buf[9];
        for (int i = 0; i < d; i++) {
            buf[i] = (char)('0' + q % 10u);
            q /= 10u;
        }
        for (int i = d - 1; i >= 0; i--) isaforge_putchar(buf[i]);
    }
}

ISAFORGE_NO_IDIOM void *memset(void *dst, int c, size_t n) {
    volatile uint8_t *d = (volatile uint8_t *)dst;
    while (n--) *d++ = (uint8_t)c;
    return dst;
}

ISAFORGE_NO_IDIOM void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
    volatile uint8_t *d = (volatile uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    if ((((uintptr_t)dst | (uintptr_t)src | n) & 3u) == 0) {
        volatile uint32_t *dw = (volatile uint32_t *)dst;
        const uint32_t *sw = (const uint32_t *)src;
        for (size_t i = 0; i < n / 4; i++) dw[i] = sw[i];
        return dst;
    }
    while (n--) *d++ = *s++;
    return dst;
}

ISAFORGE_NO_IDIOM void *memmove(void *dst, const void *src, size_t n) {
    volatile uint8_t *d = (volatile uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        while (n--) d[n] = s[n];
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}
