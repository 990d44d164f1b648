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
