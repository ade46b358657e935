/* peak-avx2.c — measures one core's AVX2 (and AVX-512) FMA peak, the 100% that the bench's "% of peak" is relative to. */
#include "avx512.h"

#if defined(__x86_64__)


#define CHAINS 12          /* FMA latency (4-5 cycles) × 2 FMA pipes, with margin */
#define STEPS 4096         /* iterations per timed chunk: ~0.1 ms */

/*
 * CHAINS independent chains acc = acc * m + a: each FMA waits only for its own
 * chain, so with more chains than latency × pipes the FMA units never idle.
 * m < 1 makes every chain converge to a / (1 - m), so no value ever becomes
 * denormal or infinite (which could slow some cores down). The chains live in
 * an array that GL_UNROLL turns into registers.
 *
 * The peak is the best rate over chunks in `seconds` of running (gl_peak_best_rate):
 * the best, not the mean, because the machine may be shared and the first chunks
 * run before the core reaches its AVX clock. The chains are summed into a volatile
 * at the end so that they are not optimised away, and they start at i + 2, not 1,
 * the fixed point, where a chain would fold to a constant.
 *
 * FMA_PEAK(name, attribute, vector type, lanes, set1, fmadd, add, to_float) defines
 * double name(double seconds) for one vector width.
 */
#define FMA_PEAK(name, ATTR, V, LANES, set1, fmadd, add, to_float)                       \
    ATTR static double name##_chunk(void *state) {                                      \
        V *acc = state, x[CHAINS];                                                      \
        const V m = set1(0.999f), a = set1(0.001f);                                     \
        GL_UNROLL for (int c = 0; c < CHAINS; c++) x[c] = acc[c];                       \
        for (int s = 0; s < STEPS; s++)                                                 \
            GL_UNROLL for (int c = 0; c < CHAINS; c++) x[c] = fmadd(x[c], m, a);        \
        GL_UNROLL for (int c = 0; c < CHAINS; c++) acc[c] = x[c];                       \
        return (double)STEPS * CHAINS * LANES * 2;                                      \
    }                                                                                   \
    ATTR double name(double seconds) {                                                  \
        V acc[CHAINS];                                                                  \
        for (int c = 0; c < CHAINS; c++) acc[c] = set1((float)(c + 2));                 \
        const double best = gl_peak_best_rate(name##_chunk, acc, seconds);              \
        V sum = acc[0];                                                                 \
        for (int c = 1; c < CHAINS; c++) sum = add(sum, acc[c]);                        \
        volatile float sink = to_float(sum);                                            \
        (void)sink;                                                                     \
        return best * 1e-9;                                                             \
    }

FMA_PEAK(gl_avx2_fma_peak_gflops, GL_AVX2, __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps,
         _mm256_cvtss_f32)

/* The same with 512-bit FMAs, for the avx512 table (on Zen 4, which splits each in two, the
 * figure matches AVX2's; cores with two 512-bit FMA units would show twice it). */
FMA_PEAK(gl_avx512_fma_peak_gflops, GL_AVX512, __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps,
         _mm512_reduce_add_ps)

#endif
