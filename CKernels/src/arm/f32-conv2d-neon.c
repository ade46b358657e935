/* f32-conv2d-neon.c — generic direct convolution (any groups, kernel, stride, dilation, padding), NEON, 4 pixels × 8 output channels per block; the stem's kernel. */
#include "neon.h"

#if defined(__aarch64__)

#include <assert.h>

/*
 * Weights are the scalar kernel's panels (gl_f32_conv2d_pack_x8): per group,
 * per 8 output channels, bias[8] then w[kernel_h][kernel_w][in_c / groups][8].
 *
 * Within one window row the taps' inputs are in_c floats apart and each tap
 * reads in_c / groups of them, so with groups == 1 and dilation_w == 1 a whole
 * window row (kernel_w × in_c inputs) is one contiguous run of memory, and so
 * are its weights: the inner loop then runs kernel_w × in_c long instead of
 * in_c. That is what makes the stem (3×3, in_c 3: a 9-long run instead of
 * 3) efficient without a kernel of its own.
 *
 * Runs are consumed 4 inputs at a time with vfmaq_laneq_f32 (one vector load
 * per pixel, 2 weight loads per input), leftovers by broadcast. Four pixels
 * whose windows are wholly inside the row's columns share one block (8
 * accumulators: one weight load feeds 4 pixels); border pixels go one at a
 * time over their tap range. Both add in the same order, so a pixel gets the
 * same bits either way.
 */
#define NR 8

/* acc (2 vectors per pixel, P pixels) += run of L inputs from each ip[i] × weights w[L][8]. */
GL_INLINE void run_px(size_t P, float32x4_t acc[][2], const float *const ip[], const float *w,
                      size_t L) {
    size_t j = 0;
    for (; j + 4 <= L; j += 4) {
        float32x4_t va[4];
        GL_UNROLL
        for (size_t i = 0; i < P; i++) va[i] = vld1q_f32(ip[i] + j);
#define LANE(l)                                                     \
    do {                                                            \
        const float32x4_t w0 = vld1q_f32(w + NR * (l));             \
        const float32x4_t w1 = vld1q_f32(w + NR * (l) + 4);         \
        GL_UNROLL                                                   \
        for (size_t i = 0; i < P; i++) {                            \
            acc[i][0] = vfmaq_laneq_f32(acc[i][0], w0, va[i], l);   \
            acc[i][1] = vfmaq_laneq_f32(acc[i][1], w1, va[i], l);   \
        }                                                           \
    } while (0)
        LANE(0);
        LANE(1);
        LANE(2);
        LANE(3);
#undef LANE
        w += 4 * NR;
    }
    for (; j < L; j++) {
        const float32x4_t w0 = vld1q_f32(w), w1 = vld1q_f32(w + 4);
        w += NR;
        GL_UNROLL
        for (size_t i = 0; i < P; i++) {
            const float32x4_t va = vld1q_dup_f32(ip[i] + j);
            acc[i][0] = vfmaq_f32(acc[i][0], w0, va);
            acc[i][1] = vfmaq_f32(acc[i][1], w1, va);
        }
    }
}

typedef struct conv_geometry {
    size_t in_w, in_c, out_c, kw, cig, ocg, groups, dh, dw, psize;
    int contiguous; /* a window row's taps are one run: groups == 1 && dilation_w == 1 */
    float32x4_t lo, hi;
} conv_geometry;

/*
 * P (1 or 4) pixels of one output row: window rows [ky0, ky1) starting at input
 * row iy0, columns [kx0, kx1) starting at input columns ix0[i] (for P == 4 the
 * full window, i.e. kx0 = 0, kx1 = kernel_w). o and r point at the first pixel.
 */
GL_INLINE void conv_px(size_t P, const conv_geometry *g, const float *input, ptrdiff_t iy0,
                       size_t ky0, size_t ky1, const ptrdiff_t ix0[], size_t kx0, size_t kx1,
                       const float *packed, const float *r, float *o) {
    const size_t in_c = g->in_c, out_c = g->out_c, cig = g->cig, ocg = g->ocg, kw = g->kw;
    const size_t row = g->in_w * in_c;
    const float *panel = packed;
    if (kx0 == kx1) ky1 = ky0; /* no column inside: bias only, and no pointer outside */
    for (size_t gi = 0; gi < g->groups; gi++) {
        for (size_t t0 = 0; t0 < ocg; t0 += NR, panel += g->psize) {
            float32x4_t acc[4][2];
            GL_UNROLL
            for (size_t i = 0; i < P; i++) {
                acc[i][0] = vld1q_f32(panel);
                acc[i][1] = vld1q_f32(panel + 4);
            }
            for (size_t ky = ky0; ky < ky1; ky++) {
                const float *irow = input + (size_t)(iy0 + (ptrdiff_t)(ky * g->dh)) * row + gi * cig;
                const float *wrow = panel + NR + ky * kw * cig * NR;
                if (g->contiguous) {
                    const float *ip[4];
                    GL_UNROLL
                    for (size_t i = 0; i < P; i++) ip[i] = irow + (size_t)(ix0[i] + (ptrdiff_t)kx0) * in_c;
                    run_px(P, acc, ip, wrow + kx0 * cig * NR, (kx1 - kx0) * cig);
                } else {
                    for (size_t kx = kx0; kx < kx1; kx++) {
                        const float *ip[4];
                        GL_UNROLL
                        for (size_t i = 0; i < P; i++)
                            ip[i] = irow + (size_t)(ix0[i] + (ptrdiff_t)(kx * g->dw)) * in_c;
                        run_px(P, acc, ip, wrow + kx * cig * NR, cig);
                    }
                }
            }
            const size_t n = ocg - t0 < NR ? ocg - t0 : NR;
            const size_t oc0 = gi * ocg + t0;
            GL_UNROLL
            for (size_t i = 0; i < P; i++)
                gl_neon_store8(o + i * out_c + oc0, r != NULL ? r + i * out_c + oc0 : NULL,
                               acc[i][0], acc[i][1], n, g->lo, g->hi);
        }
    }
}

void gl_f32_conv2d_4x8_neon(const gl_conv2d_params *p, const float *input,
                            const float *packed, const float *residual, float *output,
                            size_t row_begin, size_t row_end) {
    assert(gl_conv2d_params_valid(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);

    conv_geometry g;
    g.in_w = p->in_w;
    g.in_c = p->in_c;
    g.out_c = p->out_c;
    g.kw = p->kernel_w;
    g.groups = p->groups;
    g.cig = p->in_c / p->groups;
    g.ocg = p->out_c / p->groups;
    g.dh = p->dilation_h;
    g.dw = p->dilation_w;
    g.psize = NR * (1 + p->kernel_h * p->kernel_w * g.cig);
    g.contiguous = p->groups == 1 && p->dilation_w == 1;
    g.lo = vdupq_n_f32(p->output_min);
    g.hi = vdupq_n_f32(p->output_max);

    const size_t out_w = p->out_w, out_c = p->out_c, sw = p->stride_w;
    /* Columns [xa, xb) have every window column inside the image. */
    const size_t span_w = (p->kernel_w - 1) * p->dilation_w;
    size_t xa = (p->pad_left + sw - 1) / sw, xb = 0;
    if (p->in_w + p->pad_left > span_w) xb = (p->in_w - 1 + p->pad_left - span_w) / sw + 1;
    if (xb > out_w) xb = out_w;
    if (xa > xb) xa = xb;

    for (size_t y = row_begin; y < row_end; y++) {
        const ptrdiff_t iy0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
        size_t ky0, ky1;
        gl_tap_range(iy0, p->dilation_h, p->kernel_h, p->in_h, &ky0, &ky1);
        const size_t pixel0 = y * out_w;
        size_t x = 0;
        while (x < out_w) {
            float *o = output + (pixel0 + x) * out_c;
            const float *r = residual != NULL ? residual + (pixel0 + x) * out_c : NULL;
            if (x >= xa && x + 4 <= xb) {
                const ptrdiff_t ix0[4] = {
                    (ptrdiff_t)(x * sw) - (ptrdiff_t)p->pad_left,
                    (ptrdiff_t)((x + 1) * sw) - (ptrdiff_t)p->pad_left,
                    (ptrdiff_t)((x + 2) * sw) - (ptrdiff_t)p->pad_left,
                    (ptrdiff_t)((x + 3) * sw) - (ptrdiff_t)p->pad_left,
                };
                conv_px(4, &g, input, iy0, ky0, ky1, ix0, 0, p->kernel_w, packed, r, o);
                x += 4;
            } else {
                const ptrdiff_t ix0[1] = {(ptrdiff_t)(x * sw) - (ptrdiff_t)p->pad_left};
                size_t kx0, kx1;
                gl_tap_range(ix0[0], p->dilation_w, p->kernel_w, p->in_w, &kx0, &kx1);
                conv_px(1, &g, input, iy0, ky0, ky1, ix0, kx0, kx1, packed, r, o);
                x += 1;
            }
        }
    }
}

#endif /* __aarch64__ */
