/* neon.h — what the NEON kernel files (src/arm/, aarch64 only) share: their declarations and the epilogue (clamp(activation(v)), gl_neon_act) and tail helpers. */
#ifndef GLIMPSE_CKERNELS_NEON_H
#define GLIMPSE_CKERNELS_NEON_H

#include "../activation.h"

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

/* The epilogue's parameters as vectors (activation.h's gl_epilogue), made once per call. */
typedef struct gl_neon_epilogue {
    float32x4_t alpha, beta, lo, hi;
    int kind;
} gl_neon_epilogue;

GL_INLINE gl_neon_epilogue gl_neon_epilogue_of(const gl_epilogue *e) {
    gl_neon_epilogue v;
    v.alpha = vdupq_n_f32(e->alpha);
    v.beta = vdupq_n_f32(e->beta);
    v.lo = vdupq_n_f32(e->lo);
    v.hi = vdupq_n_f32(e->hi);
    v.kind = e->kind;
    return v;
}

/* activation.h's gl_exp_f32 on 4 lanes, operation for operation, each a·b + c one FMA
 * (vfmaq_f32(c, a, b)); the order of x86/avx2.h's gl_avx2_exp, so the results are its bits. */
GL_INLINE float32x4_t gl_neon_exp(float32x4_t z) {
    const float32x4_t magic = vdupq_n_f32(GL_EXP_MAGIC);
    z = gl_neon_clamp(z, vdupq_n_f32(GL_EXP_MIN), vdupq_n_f32(GL_EXP_MAX));
    float32x4_t n = vfmaq_f32(magic, z, vdupq_n_f32(GL_EXP_LOG2E));
    const float32x4_t s = vreinterpretq_f32_u32(vshlq_n_u32(vreinterpretq_u32_f32(n), 23)); /* 2^n */
    n = vsubq_f32(n, magic);
    float32x4_t t = vfmaq_f32(z, n, vdupq_n_f32(GL_EXP_MINUS_LN2_HI));
    t = vfmaq_f32(t, n, vdupq_n_f32(GL_EXP_MINUS_LN2_LO));
    float32x4_t p = vfmaq_f32(vdupq_n_f32(GL_EXP_C5), vdupq_n_f32(GL_EXP_C6), t);
    p = vfmaq_f32(vdupq_n_f32(GL_EXP_C4), p, t);
    p = vfmaq_f32(vdupq_n_f32(GL_EXP_C3), p, t);
    p = vfmaq_f32(vdupq_n_f32(GL_EXP_C2), p, t);
    p = vfmaq_f32(vdupq_n_f32(GL_EXP_C1), p, t);
    t = vmulq_f32(t, s);
    return vfmaq_f32(s, t, p);
}

/*
 * clamp(act(v)) for a constant ACT: activation.h's gl_act_f32 on 4 lanes (the same operations;
 * its comments give the error bounds). FCMLT is false on NaN, so a NaN lane keeps its NaN.
 */
GL_INLINE float32x4_t gl_neon_act(float32x4_t v, const int ACT, const gl_neon_epilogue *e) {
    if (ACT == GL_ACTIVATION_HARDSWISH || ACT == GL_ACTIVATION_HARDSIGMOID) {
        const float32x4_t t = gl_neon_clamp(vfmaq_f32(e->beta, e->alpha, v), vdupq_n_f32(0.0f), vdupq_n_f32(1.0f));
        v = ACT == GL_ACTIVATION_HARDSWISH ? vmulq_f32(v, t) : t;
    } else if (ACT == GL_ACTIVATION_SIGMOID || ACT == GL_ACTIVATION_SILU) {
        const float32x4_t one = vdupq_n_f32(1.0f);
        const float32x4_t s = vdivq_f32(one, vaddq_f32(one, gl_neon_exp(vnegq_f32(v))));
        const uint32x4_t zero = vcltq_f32(v, vdupq_n_f32(GL_SIGMOID_ZERO_BELOW));
        v = ACT == GL_ACTIVATION_SIGMOID ? vbslq_f32(zero, vdupq_n_f32(0.0f), s)
                                         : vbslq_f32(zero, vdupq_n_f32(-0.0f), vmulq_f32(v, s));
    }
    return gl_neon_clamp(v, e->lo, e->hi);
}

/*
 * Epilogue of 8 consecutive output channels held in (v0, v1), of which the
 * first n (1..8) are real: + residual (r may be NULL), activation ACT and clamp,
 * store n lanes. The residual is read before the store, so r == o (in place) is fine.
 */
GL_INLINE void gl_neon_store8(const int ACT, float *o, const float *r, float32x4_t v0, float32x4_t v1, size_t n,
                              const gl_neon_epilogue *ep) {
    if (n == 8) {
        if (r != NULL) {
            v0 = vaddq_f32(v0, vld1q_f32(r));
            v1 = vaddq_f32(v1, vld1q_f32(r + 4));
        }
        vst1q_f32(o, gl_neon_act(v0, ACT, ep));
        vst1q_f32(o + 4, gl_neon_act(v1, ACT, ep));
        return;
    }
    if (n & 4) {
        if (r != NULL) {
            v0 = vaddq_f32(v0, vld1q_f32(r));
            r += 4;
        }
        vst1q_f32(o, gl_neon_act(v0, ACT, ep));
        o += 4;
        v0 = v1;
    }
    if (n & 3) {
        if (r != NULL) v0 = vaddq_f32(v0, gl_neon_load_tail(r, n & 3));
        gl_neon_store_tail(o, gl_neon_act(v0, ACT, ep), n & 3);
    }
}

/*
 * Out of line (f32-activation-neon.c), for a conv with an activation (activation.h): the
 * epilogue of mr pixels (ldc floats apart) whose 8 channels (n real) are parked at
 * acc[i][0..1]. One branch on the kind, then a loop compiled for it.
 */
void gl_neon_store_activation(size_t mr, const float32x4_t (*acc)[2], float *c, size_t ldc, const float *r,
                              size_t n, const gl_neon_epilogue *ep);

/*
 * The epilogue of a GEMM-shaped block: the first mr (<= MR) of MR pixels (ldc floats apart),
 * 8 channels each (n real) in acc[i][0..1]; pixels past mr (aliased rows) are not stored. The
 * clamp in registers; any other activation (one predicted branch per block) parks the block
 * and goes out of line.
 */
GL_INLINE void gl_neon_store_rows(const size_t MR, float32x4_t (*acc)[2], size_t mr, float *c, size_t ldc,
                                  const float *r, size_t n, const gl_neon_epilogue *ep) {
    if (__builtin_expect(ep->kind != GL_ACTIVATION_IDENTITY, 0)) {
        float32x4_t park[8][2];
        GL_UNROLL
        for (size_t i = 0; i < MR; i++) park[i][0] = acc[i][0], park[i][1] = acc[i][1];
        gl_neon_store_activation(mr, (const float32x4_t (*)[2])park, c, ldc, r, n, ep);
        return;
    }
    const gl_neon_epilogue e = *ep; /* a copy the stores cannot alias: the bounds stay in registers */
    GL_UNROLL
    for (size_t i = 0; i < MR; i++)
        if (i < mr)
            gl_neon_store8(GL_ACTIVATION_IDENTITY, c + i * ldc, r != NULL ? r + i * ldc : NULL, acc[i][0], acc[i][1],
                           n, &e);
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

/* ---- f32-activation-neon.c: the table's elementwise entries (ckernels.h) ---- */
void gl_f32_activation_neon(int kind, float alpha, float beta, float lo, float hi,
                            size_t n, const float *x, float *y);
void gl_f32_channel_scale_neon(size_t pixels, size_t channels, const float *x, const float *scale, float *y);

/* ---- f32-gemm-neon.c ---- */
void gl_f32_gemm_neon(size_t m, size_t n, size_t k, float alpha,
                      const float *a, size_t a_rs, size_t a_cs,
                      const float *b, size_t b_rs, size_t b_cs,
                      float beta, float *c, size_t ldc);

#endif /* __aarch64__ */

#endif
