/* neon.h — what the NEON kernel files (src/arm/, aarch64 only) share: their declarations and the epilogue/tail helpers. */
#ifndef GLIMPSE_CKERNELS_NEON_H
#define GLIMPSE_CKERNELS_NEON_H

#include "../internal.h"

#if defined(__aarch64__)

#include <arm_neon.h>

/*
 * Full unrolling of a loop with a constant trip count, so that arrays of
 * vectors indexed by its counter (a window's weights) become registers.
 * GCC at -O2 would otherwise keep such loops rolled and the arrays on the stack.
 */
#if defined(__clang__)
#define GL_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define GL_UNROLL _Pragma("GCC unroll 32")
#else
#define GL_UNROLL
#endif

/*
 * The fused epilogue's clamp on 4 lanes. FMAX/FMIN (vmaxq/vminq, unlike the
 * FMAXNM/FMINNM of vmaxnmq/vminnmq) return NaN when either operand is NaN, so a
 * NaN sum stays NaN exactly as in gl_clamp, and ±INFINITY bounds leave every
 * other value unchanged. The only difference from gl_clamp is the sign of a
 * zero: FMAX orders -0 below +0, so clamp(-0, 0, hi) is +0 here and -0 there.
 */
GL_INLINE float32x4_t gl_neon_clamp(float32x4_t v, float32x4_t lo, float32x4_t hi) {
    return vminq_f32(vmaxq_f32(v, lo), hi);
}

/* n (1..3) floats from p into the low lanes, zero above; never reads p[n]. */
GL_INLINE float32x4_t gl_neon_load_tail(const float *p, size_t n) {
    const float32x2_t z = vdup_n_f32(0.0f);
    if (n == 1) return vcombine_f32(vld1_lane_f32(p, z, 0), z);
    const float32x2_t low = vld1_f32(p);
    if (n == 2) return vcombine_f32(low, z);
    return vcombine_f32(low, vld1_lane_f32(p + 2, z, 0));
}

/* The low n (1..3) lanes of v to p; never writes p[n] (XNNPACK's n&2, n&1 stores). */
GL_INLINE void gl_neon_store_tail(float *p, float32x4_t v, size_t n) {
    float32x2_t low = vget_low_f32(v);
    if (n & 2) {
        vst1_f32(p, low);
        p += 2;
        low = vget_high_f32(v);
    }
    if (n & 1) vst1_lane_f32(p, low, 0);
}

/*
 * Epilogue of 8 consecutive output channels held in (v0, v1), of which the
 * first n (1..8) are real: + residual (r may be NULL), clamp, store n lanes.
 * The residual is read before the store, so r == o (in place) is fine.
 */
GL_INLINE void gl_neon_store8(float *o, const float *r, float32x4_t v0, float32x4_t v1, size_t n,
                              float32x4_t lo, float32x4_t hi) {
    if (n == 8) {
        if (r != NULL) {
            v0 = vaddq_f32(v0, vld1q_f32(r));
            v1 = vaddq_f32(v1, vld1q_f32(r + 4));
        }
        vst1q_f32(o, gl_neon_clamp(v0, lo, hi));
        vst1q_f32(o + 4, gl_neon_clamp(v1, lo, hi));
        return;
    }
    if (n & 4) {
        if (r != NULL) {
            v0 = vaddq_f32(v0, vld1q_f32(r));
            r += 4;
        }
        vst1q_f32(o, gl_neon_clamp(v0, lo, hi));
        o += 4;
        v0 = v1;
    }
    if (n & 3) {
        if (r != NULL) v0 = vaddq_f32(v0, gl_neon_load_tail(r, n & 3));
        gl_neon_store_tail(o, gl_neon_clamp(v0, lo, hi), n & 3);
    }
}

/* ---- f32-conv1x1-neon.c (weights: the scalar x8 panels, gl_f32_conv1x1_pack_x8) ---- */
void gl_f32_conv1x1_8x8_neon(const gl_conv2d_params *p, const float *input,
                             const float *packed, const float *residual, float *output,
                             size_t row_begin, size_t row_end);

/* ---- f32-dwconv-neon.c: tiles of 8 channels, [bias[8], w[kernel_h * kernel_w][8]] each ---- */
void gl_f32_dwconv_3x3_8c_neon(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end);
void gl_f32_dwconv_5x5_4c_neon(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end);
void gl_f32_dwconv_kxk_4c_neon(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end);

/* ---- f32-conv2d-neon.c (weights: the scalar x8 panels per group, gl_f32_conv2d_pack_x8);
 * dense convs (groups 1, dilation 1) in 8-pixel blocks, any other in 4-pixel blocks ---- */
int gl_f32_conv2d_dense_neon_supports(const gl_conv2d_params *p);
void gl_f32_conv2d_8x8_neon(const gl_conv2d_params *p, const float *input, const float *packed,
                            const float *residual, float *output, size_t row_begin, size_t row_end);
void gl_f32_conv2d_4x8_neon(const gl_conv2d_params *p, const float *input,
                            const float *packed, const float *residual, float *output,
                            size_t row_begin, size_t row_end);

/* ---- f32-pool-neon.c ---- */
void gl_f32_maxpool2d_neon(const gl_pool2d_params *p, const float *input, float *output);
void gl_f32_avgpool2d_neon(const gl_pool2d_params *p, const float *input, float *output);
void gl_f32_global_avgpool_neon(size_t hw, size_t channels, const float *input, float *output);

/* ---- f32-gemm-neon.c ---- */
void gl_f32_gemm_neon(size_t m, size_t n, size_t k, float alpha,
                      const float *a, size_t a_rs, size_t a_cs,
                      const float *b, size_t b_rs, size_t b_cs,
                      float beta, float *c, size_t ldc);

#endif /* __aarch64__ */

#endif
