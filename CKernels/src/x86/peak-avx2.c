/* peak-avx2.c — measures one core's AVX2 (and AVX-512) FMA peak, the 100% that the bench's "% of peak" is relative to. */
#include "avx512.h"

#if defined(__x86_64__)


#define CHAINS 12          /* FMA latency (4-5 cycles) × 2 FMA pipes, with margin */
#define STEPS 4096         /* iterations per timed chunk: ~0.1 ms */

/*
 * CHAINS independent chains acc = acc * m + a: each FMA waits only for its own
 * chain, so with more chains than latency × pipes the FMA units never idle.
 * m < 1 makes every chain converge to a / (1 - m), so no value ever becomes
 * denormal or infinite (which could slow some cores down).
 */
#define STEP(x) x = _mm256_fmadd_ps(x, m, a)
GL_AVX2 static double fma_chunk(__m256 *acc, __m256 m, __m256 a) {
    __m256 x0 = acc[0], x1 = acc[1], x2 = acc[2], x3 = acc[3], x4 = acc[4], x5 = acc[5];
    __m256 x6 = acc[6], x7 = acc[7], x8 = acc[8], x9 = acc[9], x10 = acc[10], x11 = acc[11];
    for (int s = 0; s < STEPS; s++) {
        STEP(x0); STEP(x1); STEP(x2); STEP(x3); STEP(x4); STEP(x5);
        STEP(x6); STEP(x7); STEP(x8); STEP(x9); STEP(x10); STEP(x11);
    }
    acc[0] = x0; acc[1] = x1; acc[2] = x2; acc[3] = x3; acc[4] = x4; acc[5] = x5;
    acc[6] = x6; acc[7] = x7; acc[8] = x8; acc[9] = x9; acc[10] = x10; acc[11] = x11;
    return (double)STEPS * CHAINS * 8 * 2;
}
#undef STEP

/*
 * The best rate over chunks in `seconds` of running (at least one chunk): the
 * best, not the mean, because the machine may be shared and the first chunks
 * run before the core reaches its AVX clock.
 */
GL_AVX2 static double fma_step(void *acc) { return fma_chunk(acc, _mm256_set1_ps(0.999f), _mm256_set1_ps(0.001f)); }

GL_AVX2 double gl_avx2_fma_peak_gflops(double seconds) {
    __m256 acc[CHAINS];
    /* not 1, the chains' fixed point: a chain starting there folds to a constant */
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)(i + 2));
    const double best = gl_peak_best_rate(fma_step, acc, seconds);
    /* Keep the chains observable so that they are not optimised away. */
    __m256 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm256_add_ps(sum, acc[i]);
    volatile float sink = _mm256_cvtss_f32(sum);
    (void)sink;
    return best * 1e-9;
}

/* The same with 512-bit FMAs, for the avx512 table (on Zen 4, which splits each in two, the
 * figure matches AVX2's; cores with two 512-bit FMA units would show twice it). */
#define STEP(x) x = _mm512_fmadd_ps(x, m, a)
GL_AVX512 static double fma512_chunk(__m512 *acc, __m512 m, __m512 a) {
    __m512 x0 = acc[0], x1 = acc[1], x2 = acc[2], x3 = acc[3], x4 = acc[4], x5 = acc[5];
    __m512 x6 = acc[6], x7 = acc[7], x8 = acc[8], x9 = acc[9], x10 = acc[10], x11 = acc[11];
    for (int s = 0; s < STEPS; s++) {
        STEP(x0); STEP(x1); STEP(x2); STEP(x3); STEP(x4); STEP(x5);
        STEP(x6); STEP(x7); STEP(x8); STEP(x9); STEP(x10); STEP(x11);
    }
    acc[0] = x0; acc[1] = x1; acc[2] = x2; acc[3] = x3; acc[4] = x4; acc[5] = x5;
    acc[6] = x6; acc[7] = x7; acc[8] = x8; acc[9] = x9; acc[10] = x10; acc[11] = x11;
    return (double)STEPS * CHAINS * 16 * 2;
}
#undef STEP

GL_AVX512 static double fma512_step(void *acc) { return fma512_chunk(acc, _mm512_set1_ps(0.999f), _mm512_set1_ps(0.001f)); }

GL_AVX512 double gl_avx512_fma_peak_gflops(double seconds) {
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)(i + 2));
    const double best = gl_peak_best_rate(fma512_step, acc, seconds);
    __m512 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm512_add_ps(sum, acc[i]);
    volatile float sink = _mm512_reduce_add_ps(sum);
    (void)sink;
    return best * 1e-9;
}

#endif
