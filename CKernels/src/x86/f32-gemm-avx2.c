/* f32-gemm-avx2.c — strided c = alpha·a·b + beta·c with AVX2: rows of b contiguous, or b transposed with rows of a contiguous; other strides go to the scalar kernel. */
#include "avx2.h"

#if defined(__x86_64__)

#include <assert.h>

/*
 * Not a hot path (the classifier runs as a 1x1 convolution), so two simple
 * vector loop orders cover the layouts a Gemm node produces:
 *  - b_cs == 1: per row of c, 32 columns at a time accumulate k-outer over
 *    contiguous rows of b (4 independent chains);
 *  - b_rs == 1 and a_cs == 1 (transB): each c[i][j] is a dot product of two
 *    contiguous vectors, 16 lanes of partial sums, reduced at the end.
 * The epilogue is exactly the scalar one: alpha * sum, plus beta * c only when
 * beta != 0 (so a NaN in c is ignored when beta == 0).
 */

GL_AVX2_INLINE __m256 epilogue(__m256 sum, __m256 alpha, float beta, const float *c, __m256i mask, int tail) {
    __m256 x = _mm256_mul_ps(alpha, sum);
    if (beta != 0.0f) {
        const __m256 old = tail ? _mm256_maskload_ps(c, mask) : _mm256_loadu_ps(c);
        x = _mm256_add_ps(x, _mm256_mul_ps(_mm256_set1_ps(beta), old));
    }
    return x;
}

/* NV vectors of columns at b (row stride b_rs) for one row of a. */
GL_AVX2_INLINE void row_block(const size_t NV, const int TAIL, size_t k, const float *a, size_t a_cs,
                              const float *b, size_t b_rs, float *c, __m256 alpha, float beta,
                              __m256i mask) {
    __m256 acc[4];
    GL_UNROLL for (size_t v = 0; v < NV; v++) acc[v] = _mm256_setzero_ps();
    for (size_t kk = 0; kk < k; kk++, a += a_cs, b += b_rs) {
        const __m256 av = _mm256_broadcast_ss(a);
        GL_UNROLL for (size_t v = 0; v < NV; v++) {
            const __m256 bv = TAIL && v == NV - 1 ? _mm256_maskload_ps(b + 8 * v, mask)
                                                  : _mm256_loadu_ps(b + 8 * v);
            acc[v] = _mm256_fmadd_ps(av, bv, acc[v]);
        }
    }
    GL_UNROLL for (size_t v = 0; v < NV; v++) {
        const int t = TAIL && v == NV - 1;
        const __m256 x = epilogue(acc[v], alpha, beta, c + 8 * v, mask, t);
        if (t) _mm256_maskstore_ps(c + 8 * v, mask, x);
        else _mm256_storeu_ps(c + 8 * v, x);
    }
}

GL_AVX2_INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

GL_AVX2 void gl_f32_gemm__avx2(size_t m, size_t n, size_t k, float alpha,
                               const float *a, size_t a_rs, size_t a_cs,
                               const float *b, size_t b_rs, size_t b_cs,
                               float beta, float *c, size_t ldc) {
    if (m == 0 || n == 0) return;
    assert(c != NULL);
    assert(m == 1 || ldc >= n);
    if (k == 0 || (b_cs != 1 && !(b_rs == 1 && a_cs == 1))) {
        gl_f32_gemm_scalar(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, ldc);
        return;
    }
    assert(a != NULL && b != NULL);
    const __m256 valpha = _mm256_set1_ps(alpha);

    if (b_cs == 1) {
        const size_t nfull = n / 8 * 8;
        const __m256i mask = gl_avx2_mask(n - nfull);
        for (size_t i = 0; i < m; i++) {
            const float *ai = a + i * a_rs;
            float *ci = c + i * ldc;
            size_t j = 0;
            for (; j + 32 <= nfull; j += 32) row_block(4, 0, k, ai, a_cs, b + j, b_rs, ci + j, valpha, beta, mask);
            for (; j < nfull; j += 8) row_block(1, 0, k, ai, a_cs, b + j, b_rs, ci + j, valpha, beta, mask);
            if (j < n) row_block(1, 1, k, ai, a_cs, b + j, b_rs, ci + j, valpha, beta, mask);
        }
        return;
    }

    /* b transposed: column j of b is b + j*b_cs, contiguous over k, like row i of a */
    for (size_t i = 0; i < m; i++) {
        const float *ai = a + i * a_rs;
        float *ci = c + i * ldc;
        for (size_t j = 0; j < n; j++) {
            const float *bj = b + j * b_cs;
            __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
            size_t kk = 0;
            for (; kk + 16 <= k; kk += 16) {
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(ai + kk), _mm256_loadu_ps(bj + kk), s0);
                s1 = _mm256_fmadd_ps(_mm256_loadu_ps(ai + kk + 8), _mm256_loadu_ps(bj + kk + 8), s1);
            }
            if (kk + 8 <= k) {
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(ai + kk), _mm256_loadu_ps(bj + kk), s0);
                kk += 8;
            }
            if (kk < k) {
                const __m256i mask = gl_avx2_mask(k - kk);
                s1 = _mm256_fmadd_ps(_mm256_maskload_ps(ai + kk, mask), _mm256_maskload_ps(bj + kk, mask), s1);
            }
            const float sum = hsum(_mm256_add_ps(s0, s1));
            ci[j] = beta == 0.0f ? alpha * sum : alpha * sum + beta * ci[j];
        }
    }
}

#endif
