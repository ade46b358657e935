/* transpose.c — batches of 2-D transposes, the engine's layout changes (NCHW ↔ NHWC). */
#include "ckernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

/*
 * Three planes (an RGB image's channels) into interleaved pixels, 8 pixels at a
 * time: each output vector takes lanes from the three planes' vectors, each
 * permuted into place, then blended (r0 g0 b0 r1 g1 b1 r2 g2 | b2 r3 g3 b3 ...).
 * Returns the columns done; the caller finishes the rest.
 */
__attribute__((target("avx2"))) static size_t planes3_avx2(size_t columns, const float *restrict x,
                                                            float *restrict y) {
    const float *r = x, *g = x + columns, *b = x + 2 * columns;
    const __m256i ir0 = _mm256_setr_epi32(0, 0, 0, 1, 0, 0, 2, 0), ig0 = _mm256_setr_epi32(0, 0, 0, 0, 1, 0, 0, 2),
                  ib0 = _mm256_setr_epi32(0, 0, 0, 0, 0, 1, 0, 0);
    const __m256i ir1 = _mm256_setr_epi32(0, 3, 0, 0, 4, 0, 0, 5), ig1 = _mm256_setr_epi32(0, 0, 3, 0, 0, 4, 0, 0),
                  ib1 = _mm256_setr_epi32(2, 0, 0, 3, 0, 0, 4, 0);
    const __m256i ir2 = _mm256_setr_epi32(0, 0, 6, 0, 0, 7, 0, 0), ig2 = _mm256_setr_epi32(5, 0, 0, 6, 0, 0, 7, 0),
                  ib2 = _mm256_setr_epi32(0, 5, 0, 0, 6, 0, 0, 7);
    size_t c = 0;
    for (; c + 8 <= columns; c += 8, y += 24) {
        const __m256 vr = _mm256_loadu_ps(r + c), vg = _mm256_loadu_ps(g + c), vb = _mm256_loadu_ps(b + c);
        /* lane masks (bit i = lane i): r lanes, then b lanes, over a base of g */
        __m256 o0 = _mm256_blend_ps(_mm256_permutevar8x32_ps(vg, ig0), _mm256_permutevar8x32_ps(vr, ir0), 0x49);
        o0 = _mm256_blend_ps(o0, _mm256_permutevar8x32_ps(vb, ib0), 0x24);
        __m256 o1 = _mm256_blend_ps(_mm256_permutevar8x32_ps(vg, ig1), _mm256_permutevar8x32_ps(vr, ir1), 0x92);
        o1 = _mm256_blend_ps(o1, _mm256_permutevar8x32_ps(vb, ib1), 0x49);
        __m256 o2 = _mm256_blend_ps(_mm256_permutevar8x32_ps(vg, ig2), _mm256_permutevar8x32_ps(vr, ir2), 0x24);
        o2 = _mm256_blend_ps(o2, _mm256_permutevar8x32_ps(vb, ib2), 0x92);
        _mm256_storeu_ps(y, o0);
        _mm256_storeu_ps(y + 8, o1);
        _mm256_storeu_ps(y + 16, o2);
    }
    return c;
}
#endif

/*
 * y[b][c][r] = x[b][r][c]. With a few rows (an image's 3 channels) every
 * input row is one sequential stream and the output is written in order
 * (three rows with AVX2: 8 columns per step, see planes3_avx2);
 * otherwise 32×32 tiles keep both sides' lines in L1 while a tile is done.
 */
void gl_f32_transpose(size_t batch, size_t rows, size_t columns, const float *restrict x, float *restrict y) {
#if defined(__x86_64__)
    const int avx2 = __builtin_cpu_supports("avx2");
#endif
    for (size_t b = 0; b < batch; b++, x += rows * columns, y += rows * columns) {
        if (rows <= 4) {
            size_t c = 0;
#if defined(__x86_64__)
            if (rows == 3 && avx2) c = planes3_avx2(columns, x, y);
#endif
            for (; c < columns; c++)
                for (size_t r = 0; r < rows; r++) y[c * rows + r] = x[r * columns + c];
            continue;
        }
        for (size_t r0 = 0; r0 < rows; r0 += 32) {
            const size_t r1 = r0 + 32 < rows ? r0 + 32 : rows;
            for (size_t c0 = 0; c0 < columns; c0 += 32) {
                const size_t c1 = c0 + 32 < columns ? c0 + 32 : columns;
                for (size_t c = c0; c < c1; c++)
                    for (size_t r = r0; r < r1; r++) y[c * rows + r] = x[r * columns + c];
            }
        }
    }
}
