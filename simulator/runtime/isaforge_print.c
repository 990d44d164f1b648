/* isaforge freestanding runtime, float printing: isaforge_print_float (integer arithmetic only, no
 * soft-float library). A file of its own so that programs which do not print floats (the kernel
 * harness) link exactly the code they did before it existed. */
#include <stddef.h>
#include <stdint.h>

#include "isaforge_rt.h"

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
