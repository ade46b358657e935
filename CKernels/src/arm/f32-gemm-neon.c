/* f32-gemm-neon.c — strided general matrix multiply, c = alpha·a·b + beta·c, NEON for the two layouts models use. */
#include "neon.h"

#if defined(__aarch64__)

#include <assert.h>

/*
 * Picked from the strides, as in the scalar kernel:
 *  - b's rows contiguous (b_cs == 1): 4 rows of c × 16 columns per block,
 *    k-outer, each b vector feeding 4 rows (a MatMul, a Gemm without transB);
 *    rows past m alias the last real row and are not stored;
 *  - a's rows and b's columns contiguous (a_cs == 1, b_rs == 1: a Gemm with
 *    transB, the classifier's fully connected layer): 4 columns per block as
 *    dot products over k, 8 at a time in two accumulators per column, reduced
 *    with pairwise adds; columns past n alias the last real one;
 *  - anything else (a transposed with b transposed) and k == 0: the scalar kernel.
 * The epilogue is alpha * sum + beta * c with one FMA; beta == 0 never reads c.
 */

/* Rows [0, mr) of a 4-row block, columns [0, 4·NV) or, with NV == 1 and nt < 4, [0, nt). */
GL_INLINE void rows_block(size_t NV, size_t nt, size_t mr, const float *const ap[4], size_t a_cs,
                          const float *b, size_t b_rs, size_t k, float32x4_t valpha, float beta,
                          float *c, size_t ldc) {
    float32x4_t acc[4][4];
    GL_UNROLL
    for (size_t i = 0; i < 4; i++) {
        GL_UNROLL
        for (size_t q = 0; q < NV; q++) acc[i][q] = vdupq_n_f32(0.0f);
    }
    for (size_t kk = 0; kk < k; kk++) {
        const float *bk = b + kk * b_rs;
        float32x4_t bv[4];
        GL_UNROLL
        for (size_t q = 0; q < NV; q++) bv[q] = nt < 4 ? gl_neon_load_tail(bk, nt) : vld1q_f32(bk + 4 * q);
        GL_UNROLL
        for (size_t i = 0; i < 4; i++) {
            const float32x4_t av = vld1q_dup_f32(ap[i] + kk * a_cs);
            GL_UNROLL
            for (size_t q = 0; q < NV; q++) acc[i][q] = vfmaq_f32(acc[i][q], bv[q], av);
        }
    }
    const float32x4_t vbeta = vdupq_n_f32(beta);
    GL_UNROLL
    for (size_t i = 0; i < 4; i++) {
        if (i >= mr) break;
        float *ci = c + i * ldc;
        GL_UNROLL
        for (size_t q = 0; q < NV; q++) {
            float32x4_t v = vmulq_f32(acc[i][q], valpha);
            if (nt < 4) {
                if (beta != 0.0f) v = vfmaq_f32(v, vbeta, gl_neon_load_tail(ci, nt));
                gl_neon_store_tail(ci, v, nt);
            } else {
                if (beta != 0.0f) v = vfmaq_f32(v, vbeta, vld1q_f32(ci + 4 * q));
                vst1q_f32(ci + 4 * q, v);
            }
        }
    }
}

static void gemm_rows(size_t m, size_t n, size_t k, float alpha, const float *a, size_t a_rs,
                      size_t a_cs, const float *b, size_t b_rs, float beta, float *c, size_t ldc) {
    const float32x4_t valpha = vdupq_n_f32(alpha);
    for (size_t i = 0; i < m; i += 4) {
        const size_t mr = m - i < 4 ? m - i : 4;
        const float *ap[4];
        ap[0] = a + i * a_rs;
        ap[1] = mr > 1 ? ap[0] + a_rs : ap[0];
        ap[2] = mr > 2 ? ap[1] + a_rs : ap[1];
        ap[3] = mr > 3 ? ap[2] + a_rs : ap[2];
        float *ci = c + i * ldc;
        size_t j = 0;
        for (; j + 16 <= n; j += 16) rows_block(4, 4, mr, ap, a_cs, b + j, b_rs, k, valpha, beta, ci + j, ldc);
        for (; j + 4 <= n; j += 4) rows_block(1, 4, mr, ap, a_cs, b + j, b_rs, k, valpha, beta, ci + j, ldc);
        if (j < n) rows_block(1, n - j, mr, ap, a_cs, b + j, b_rs, k, valpha, beta, ci + j, ldc);
    }
}

/* Lane q of the result: the sum of the lanes of x[q]. */
GL_INLINE float32x4_t reduce4(float32x4_t x0, float32x4_t x1, float32x4_t x2, float32x4_t x3) {
    return vpaddq_f32(vpaddq_f32(x0, x1), vpaddq_f32(x2, x3));
}

static void gemm_dots(size_t m, size_t n, size_t k, float alpha, const float *a, size_t a_rs,
                      const float *b, size_t b_cs, float beta, float *c, size_t ldc) {
    const float32x4_t valpha = vdupq_n_f32(alpha), vbeta = vdupq_n_f32(beta);
    const float32x4_t zero = vdupq_n_f32(0.0f);
    for (size_t i = 0; i < m; i++) {
        const float *ai = a + i * a_rs;
        float *ci = c + i * ldc;
        for (size_t j = 0; j < n; j += 4) {
            const size_t nr = n - j < 4 ? n - j : 4;
            const float *b0 = b + j * b_cs;
            const float *b1 = nr > 1 ? b0 + b_cs : b0;
            const float *b2 = nr > 2 ? b1 + b_cs : b1;
            const float *b3 = nr > 3 ? b2 + b_cs : b2;
            float32x4_t s00 = zero, s01 = zero, s10 = zero, s11 = zero;
            float32x4_t s20 = zero, s21 = zero, s30 = zero, s31 = zero;
            size_t kk = 0;
            for (; kk + 8 <= k; kk += 8) {
                const float32x4_t va0 = vld1q_f32(ai + kk), va1 = vld1q_f32(ai + kk + 4);
                s00 = vfmaq_f32(s00, va0, vld1q_f32(b0 + kk));
                s01 = vfmaq_f32(s01, va1, vld1q_f32(b0 + kk + 4));
                s10 = vfmaq_f32(s10, va0, vld1q_f32(b1 + kk));
                s11 = vfmaq_f32(s11, va1, vld1q_f32(b1 + kk + 4));
                s20 = vfmaq_f32(s20, va0, vld1q_f32(b2 + kk));
                s21 = vfmaq_f32(s21, va1, vld1q_f32(b2 + kk + 4));
                s30 = vfmaq_f32(s30, va0, vld1q_f32(b3 + kk));
                s31 = vfmaq_f32(s31, va1, vld1q_f32(b3 + kk + 4));
            }
            if (kk + 4 <= k) {
                const float32x4_t va = vld1q_f32(ai + kk);
                s00 = vfmaq_f32(s00, va, vld1q_f32(b0 + kk));
                s10 = vfmaq_f32(s10, va, vld1q_f32(b1 + kk));
                s20 = vfmaq_f32(s20, va, vld1q_f32(b2 + kk));
                s30 = vfmaq_f32(s30, va, vld1q_f32(b3 + kk));
                kk += 4;
            }
            if (kk < k) { /* 1..3 left: zero lanes add 0 * 0 */
                const size_t kt = k - kk;
                const float32x4_t va = gl_neon_load_tail(ai + kk, kt);
                s01 = vfmaq_f32(s01, va, gl_neon_load_tail(b0 + kk, kt));
                s11 = vfmaq_f32(s11, va, gl_neon_load_tail(b1 + kk, kt));
                s21 = vfmaq_f32(s21, va, gl_neon_load_tail(b2 + kk, kt));
                s31 = vfmaq_f32(s31, va, gl_neon_load_tail(b3 + kk, kt));
            }
            float32x4_t v = vmulq_f32(reduce4(vaddq_f32(s00, s01), vaddq_f32(s10, s11),
                                              vaddq_f32(s20, s21), vaddq_f32(s30, s31)), valpha);
            if (nr == 4) {
                if (beta != 0.0f) v = vfmaq_f32(v, vbeta, vld1q_f32(ci + j));
                vst1q_f32(ci + j, v);
            } else {
                if (beta != 0.0f) v = vfmaq_f32(v, vbeta, gl_neon_load_tail(ci + j, nr));
                gl_neon_store_tail(ci + j, v, nr);
            }
        }
    }
}

void gl_f32_gemm_neon(size_t m, size_t n, size_t k, float alpha,
                      const float *a, size_t a_rs, size_t a_cs,
                      const float *b, size_t b_rs, size_t b_cs,
                      float beta, float *c, size_t ldc) {
    if (m == 0 || n == 0) return;
    assert(c != NULL);
    assert(m == 1 || ldc >= n); /* rows of c must not overlap */
    if (k != 0) assert(a != NULL && b != NULL);

    if (k != 0 && b_cs == 1)
        gemm_rows(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, beta, c, ldc);
    else if (k != 0 && b_rs == 1 && a_cs == 1)
        gemm_dots(m, n, k, alpha, a, a_rs, b, b_cs, beta, c, ldc);
    else /* k == 0 (an empty sum: a and b may be NULL) or an unusual layout */
        gl_f32_gemm_scalar(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, ldc);
}

#endif /* __aarch64__ */
