/* The training program of the SoC model's profile-guided build (simulator.vexriscv.build_soc, pgo):
 * the instrumented model runs it once and the compiler lays the model's code out by the counts it
 * recorded. It exercises what kernels exercise, with no CFU instruction (so any unit's SoC runs it the
 * same way): byte and word loads and stores, multiplies and divides, data-dependent branches, calls
 * through pointers, D-cache misses with write-backs (a working set larger than the 4 KiB D-cache) and
 * I-cache refills. The profile only orders and inlines the model's code: it changes no cycle. */
#include <stdint.h>

#include "isaforge_rt.h"

#define N 20
#define SORT_N 160
#define WALK_WORDS (24 * 1024 / 4)

static int8_t A[N * N], B[N * N];
static int32_t C[N * N];
static int32_t keys[SORT_N];
static uint32_t walk[WALK_WORDS];
volatile uint32_t isaforge_train_sum;

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void matmul(void) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t acc = 0;
            for (int k = 0; k < N; k++) acc += A[i * N + k] * B[j * N + k];
            C[i * N + j] = acc;
        }
}

static void sort(void) {
    for (int i = 1; i < SORT_N; i++) {
        int32_t v = keys[i];
        int j = i - 1;
        while (j >= 0 && keys[j] > v) {
            keys[j + 1] = keys[j];
            j--;
        }
        keys[j + 1] = v;
    }
}

static uint32_t walk_cache(uint32_t seed) {
    uint32_t sum = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < WALK_WORDS; i += 5) {
            walk[i] += seed + (uint32_t)i;
            sum ^= walk[(i * 7) % WALK_WORDS];
        }
    return sum;
}

static uint32_t divide(uint32_t seed) {
    uint32_t s = seed, sum = 0;
    for (int i = 0; i < 200; i++) {
        int32_t a = (int32_t)lcg(&s) - (1 << 23), b = (int32_t)(lcg(&s) % 1000) + 1;
        sum += (uint32_t)(a / b) + (uint32_t)(a % b) + (uint32_t)((int64_t)a * b >> 32);
    }
    return sum;
}

typedef uint32_t (*stage_fn)(uint32_t);
static const stage_fn stages[] = {walk_cache, divide};

int main(void) {
    uint32_t s = 12345u, sum = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N * N; i++) {
            A[i] = (int8_t)lcg(&s);
            B[i] = (int8_t)lcg(&s);
        }
        for (int i = 0; i < SORT_N; i++) keys[i] = (int32_t)lcg(&s) - (1 << 23);
        matmul();
        sort();
        for (int i = 0; i < N * N; i++) sum += (uint32_t)C[i];
        for (int i = 0; i < SORT_N; i++) sum = sum * 31u + (uint32_t)keys[i];
        for (unsigned k = 0; k < sizeof stages / sizeof stages[0]; k++) sum += stages[k](sum);
    }
    isaforge_train_sum = sum;
    return 0;
}
