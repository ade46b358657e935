/* f32-conv1x1-neon.c — pointwise (1×1, stride 1, no pad, groups 1) convolution as an 8-pixel × 8-channel NEON GEMM. */
#include "neon.h"

#if defined(__aarch64__)

#include <assert.h>

/*
 * Weights are the scalar kernel's x8 panels (gl_f32_conv1x1_pack_x8):
 * per 8 output channels, bias[8] then w[in_c][8], zero-padded past out_c.
 *
 * The micro-kernel keeps an 8 (pixels) × 8 (channels) block of the output in
 * 16 float32x4 accumulators. Per 4 input channels it loads 4 consecutive
 * inputs of each pixel (one vector each) and the 4 × 8 weights, and does 32
 * FMAs by lane (vfmaq_laneq_f32): 3 loads per 8 FMAs, so the FMA pipes, not
 * the load ports, are the limit. 26 of the 32 vector registers are live.
 * Input channels left over (in_c % 4) take a broadcast step each.
 */
#define MR 8
#define NR 8

#define FMA_LANE(l)                                   \
    do {                                              \
        const float32x4_t w0 = vld1q_f32(w);          \
        const float32x4_t w1 = vld1q_f32(w + 4);      \
        w += NR;                                      \
        c00 = vfmaq_laneq_f32(c00, w0, va0, l);       \
        c01 = vfmaq_laneq_f32(c01, w1, va0, l);       \
        c10 = vfmaq_laneq_f32(c10, w0, va1, l);       \
        c11 = vfmaq_laneq_f32(c11, w1, va1, l);       \
        c20 = vfmaq_laneq_f32(c20, w0, va2, l);       \
        c21 = vfmaq_laneq_f32(c21, w1, va2, l);       \
        c30 = vfmaq_laneq_f32(c30, w0, va3, l);       \
        c31 = vfmaq_laneq_f32(c31, w1, va3, l);       \
        c40 = vfmaq_laneq_f32(c40, w0, va4, l);       \
        c41 = vfmaq_laneq_f32(c41, w1, va4, l);       \
        c50 = vfmaq_laneq_f32(c50, w0, va5, l);       \
        c51 = vfmaq_laneq_f32(c51, w1, va5, l);       \
        c60 = vfmaq_laneq_f32(c60, w0, va6, l);       \
        c61 = vfmaq_laneq_f32(c61, w1, va6, l);       \
        c70 = vfmaq_laneq_f32(c70, w0, va7, l);       \
        c71 = vfmaq_laneq_f32(c71, w1, va7, l);       \
    } while (0)

void gl_f32_conv1x1_8x8_neon(const gl_conv2d_params *p, const float *input,
                             const float *packed, const float *residual, float *output,
                             size_t row_begin, size_t row_end) {
    assert(gl_f32_conv1x1_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);

    const size_t kc = p->in_c, nc = p->out_c;
    const gl_epilogue e = gl_epilogue_of(p);
    const gl_neon_epilogue ep = gl_neon_epilogue_of(&e);
    const size_t first = row_begin * p->out_w;   /* first pixel */
    size_t m = (row_end - row_begin) * p->out_w; /* pixels left */
    const float *a = input + first * kc;
    float *c = output + first * nc;
    const float *r = residual != NULL ? residual + first * nc : NULL;

    while (m != 0) {
        /* Rows past the end alias the last real row (XNNPACK's trick): the hot
         * loop computes 8 rows without testing, only real rows are stored. */
        const size_t mr = m < MR ? m : MR;
        const float *a0 = a;
        const float *a1 = mr > 1 ? a0 + kc : a0;
        const float *a2 = mr > 2 ? a1 + kc : a1;
        const float *a3 = mr > 3 ? a2 + kc : a2;
        const float *a4 = mr > 4 ? a3 + kc : a3;
        const float *a5 = mr > 5 ? a4 + kc : a4;
        const float *a6 = mr > 6 ? a5 + kc : a5;
        const float *a7 = mr > 7 ? a6 + kc : a6;

        const float *w = packed;
        for (size_t n0 = 0; n0 < nc; n0 += NR) {
            float32x4_t c00 = vld1q_f32(w), c01 = vld1q_f32(w + 4);
            float32x4_t c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
            float32x4_t c40 = c00, c41 = c01, c50 = c00, c51 = c01, c60 = c00, c61 = c01;
            float32x4_t c70 = c00, c71 = c01;
            w += NR;

            size_t k = 0;
            for (; k + 4 <= kc; k += 4) {
                const float32x4_t va0 = vld1q_f32(a0 + k), va1 = vld1q_f32(a1 + k);
                const float32x4_t va2 = vld1q_f32(a2 + k), va3 = vld1q_f32(a3 + k);
                const float32x4_t va4 = vld1q_f32(a4 + k), va5 = vld1q_f32(a5 + k);
                const float32x4_t va6 = vld1q_f32(a6 + k), va7 = vld1q_f32(a7 + k);
                FMA_LANE(0);
                FMA_LANE(1);
                FMA_LANE(2);
                FMA_LANE(3);
            }
            for (; k < kc; k++) {
                /* Broadcast into lane 0 of every operand, then the same lane FMA. */
                const float32x4_t va0 = vld1q_dup_f32(a0 + k), va1 = vld1q_dup_f32(a1 + k);
                const float32x4_t va2 = vld1q_dup_f32(a2 + k), va3 = vld1q_dup_f32(a3 + k);
                const float32x4_t va4 = vld1q_dup_f32(a4 + k), va5 = vld1q_dup_f32(a5 + k);
                const float32x4_t va6 = vld1q_dup_f32(a6 + k), va7 = vld1q_dup_f32(a7 + k);
                FMA_LANE(0);
            }

            /* Epilogue while the block is in registers: + residual, activation and
             * clamp, store the real channels of the real rows. A row is never stored
             * twice, so residual == output (an in-place residual add) stays correct. */
            const size_t n = nc - n0 < NR ? nc - n0 : NR;
            float32x4_t acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                                      {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
            gl_neon_store_rows(MR, acc, mr, c + n0, nc, r != NULL ? r + n0 : NULL, n, &ep);
        }

        a += mr * kc;
        c += mr * nc;
        if (r != NULL) r += mr * nc;
        m -= mr;
    }
}

#endif /* __aarch64__ */
