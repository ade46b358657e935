/* f32-gemm-scalar.c — strided general matrix multiply, c = alpha·a·b + beta·c, transposes through strides. */
#include "../internal.h"

#include <assert.h>

/*
 * Two loop orders, picked from the strides:
 *  - b's rows contiguous (b_cs == 1, b not transposed): per row of c, a block
 *    of up to JB columns accumulates k-outer over contiguous rows of b;
 *  - otherwise (b transposed, b_rs == 1, as in a Gemm node with transB, or
 *    anything else): each c[i][j] is a strided dot product with 4 partial sums.
 * Either way the epilogue is exactly alpha * sum + beta * c, with beta == 0
 * never reading c (it may hold NaN garbage).
 */
#define JB 64

GL_INLINE void store(float *c, float sum, float alpha, float beta) {
    *c = beta == 0.0f ? alpha * sum : alpha * sum + beta * *c;
}

void gl_f32_gemm_scalar(size_t m, size_t n, size_t k, float alpha,
                        const float *a, size_t a_rs, size_t a_cs,
                        const float *b, size_t b_rs, size_t b_cs,
                        float beta, float *c, size_t ldc) {
    if (m == 0 || n == 0) return;
    assert(c != NULL);
    assert(m == 1 || ldc >= n); /* rows of c must not overlap */

    if (k == 0) { /* an empty sum: a and b may be NULL */
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) store(&c[i * ldc + j], 0.0f, alpha, beta);
        return;
    }

    assert(a != NULL && b != NULL);
    if (b_cs == 1) {
        for (size_t i = 0; i < m; i++) {
            const float *ai = a + i * a_rs;
            float *ci = c + i * ldc;
            for (size_t j0 = 0; j0 < n; j0 += JB) {
                const size_t nb = n - j0 < JB ? n - j0 : JB;
                float acc[JB];
                for (size_t j = 0; j < nb; j++) acc[j] = 0.0f;
                for (size_t kk = 0; kk < k; kk++) {
                    const float av = ai[kk * a_cs];
                    const float *bk = b + kk * b_rs + j0;
                    for (size_t j = 0; j < nb; j++) acc[j] += av * bk[j];
                }
                for (size_t j = 0; j < nb; j++) store(&ci[j0 + j], acc[j], alpha, beta);
            }
        }
        return;
    }

    for (size_t i = 0; i < m; i++) {
        const float *ai = a + i * a_rs;
        float *ci = c + i * ldc;
        for (size_t j = 0; j < n; j++) {
            const float *bj = b + j * b_cs;
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            size_t kk = 0;
            for (; kk + 4 <= k; kk += 4) {
                s0 += ai[(kk + 0) * a_cs] * bj[(kk + 0) * b_rs];
                s1 += ai[(kk + 1) * a_cs] * bj[(kk + 1) * b_rs];
                s2 += ai[(kk + 2) * a_cs] * bj[(kk + 2) * b_rs];
                s3 += ai[(kk + 3) * a_cs] * bj[(kk + 3) * b_rs];
            }
            for (; kk < k; kk++) s0 += ai[kk * a_cs] * bj[kk * b_rs];
            store(&ci[j], (s0 + s1) + (s2 + s3), alpha, beta);
        }
    }
}
