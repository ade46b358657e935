/* f32-conv2d-neon.c — direct convolution, NEON: dense ones (groups 1, dilation 1: ResNet's 3x3 layers, the stems) in blocks of 8 pixels × 8 output channels, any other (groups, dilation) in blocks of 4 × 8. */
#include "neon.h"

#if defined(__aarch64__)

#include <assert.h>
#include <string.h>

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
    gl_neon_epilogue ep;
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
            gl_neon_store_rows(P, acc, P, o + oc0, out_c, r != NULL ? r + oc0 : NULL, n, &g->ep);
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
    const gl_epilogue e = gl_epilogue_of(p);
    g.ep = gl_neon_epilogue_of(&e);

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

/*
 * Dense convolutions (groups 1, dilation 1): the AVX-512 kernel's scheme
 * (x86/f32-conv2d-avx512.c) with NEON's registers. A block is up to 8 pixels of
 * one output row against one x8 panel (the same packing), in 16 accumulators;
 * per 4 k-steps one vector of 4 inputs per pixel and 4 × 2 weight vectors feed
 * 64 FMAs by lane (the 1x1 kernel's 8x8 step: 26 of the 32 vector registers).
 * Pixels past a short block alias the last real one (computed, not stored).
 *
 * The block is a list of runs: per run, a pointer per pixel and the k-step where
 * the run's weights start, its k-steps contiguous in the input and the panel.
 * Inside the image a run is a window row (kernel_w * in_c inputs: the stem's
 * 7x7 window over 3 channels is 7 runs of 21); a block whose windows cross the
 * left or right edge runs on a copy of its window rows with the padding as zeros
 * when that copy is small (few channels), else by tap, in_c long, a padding tap
 * reading a row of zeros. Blocks are a function of the row width alone, so a
 * pixel's sum (bias + taps in (ky, kx, ci) order; a padding tap adds 0) does not
 * depend on the rows a call covers. Weight panels go in passes that fit about
 * GL_POINTWISE_PASS_FLOATS, so a pass's weights stay in L2 while its rows stream.
 */
#define DENSE_MR 8
#define DENSE_STAGE_FLOATS 4096 /* 16 KB of stack: 3x3 windows of 8 pixels up to 136 channels */
#define DENSE_MAX_RUNS 128      /* taps of a window, 11x11 at most */
#define DENSE_ZERO_FLOATS 4096  /* channels a padding tap can read as zeros */

static const float dense_zeros[DENSE_ZERO_FLOATS];

int gl_f32_conv2d_dense_neon_supports(const gl_conv2d_params *p) {
    return gl_conv2d_params_valid(p) && p->groups == 1 && p->dilation_h == 1 && p->dilation_w == 1 &&
           p->kernel_h * p->kernel_w <= DENSE_MAX_RUNS && p->in_c <= DENSE_ZERO_FLOATS;
}

typedef struct {
    const float *base[DENSE_MAX_RUNS]; /* by window row: pixel i reads from base[r] + i * xstride */
    size_t xstride;
    const float *a[DENSE_MAX_RUNS * DENSE_MR]; /* by tap: pixel i reads from a[r * DENSE_MR + i] */
    size_t k0[DENSE_MAX_RUNS];
    size_t nruns, len, mr;
    int by_tap;
} dense_runs;

/* The block's mr pixels (the rest aliased) against one panel: bias, then w[k][8]; n real channels. */
static void dense_tile(const dense_runs *rs, const float *panel, float *c, size_t ldc, const float *r,
                       size_t n, const gl_neon_epilogue *ep) {
    const size_t mr = rs->mr, len = rs->len;
    float32x4_t acc[DENSE_MR][2];
    GL_UNROLL
    for (size_t i = 0; i < DENSE_MR; i++) {
        acc[i][0] = vld1q_f32(panel);
        acc[i][1] = vld1q_f32(panel + 4);
    }
    for (size_t run = 0; run < rs->nruns; run++) {
        const float *a[DENSE_MR];
        GL_UNROLL
        for (size_t i = 0; i < DENSE_MR; i++) {
            const size_t pi = i < mr ? i : mr - 1;
            a[i] = rs->by_tap ? rs->a[run * DENSE_MR + pi] : rs->base[run] + pi * rs->xstride;
        }
        const float *w = panel + NR + rs->k0[run] * NR;
        size_t k = 0;
        for (; k + 4 <= len; k += 4) {
            float32x4_t va[DENSE_MR];
            GL_UNROLL
            for (size_t i = 0; i < DENSE_MR; i++) va[i] = vld1q_f32(a[i] + k);
#define DENSE_LANE(l)                                                   \
    do {                                                                \
        const float32x4_t w0 = vld1q_f32(w + NR * (l));                 \
        const float32x4_t w1 = vld1q_f32(w + NR * (l) + 4);             \
        GL_UNROLL                                                       \
        for (size_t i = 0; i < DENSE_MR; i++) {                         \
            acc[i][0] = vfmaq_laneq_f32(acc[i][0], w0, va[i], l);       \
            acc[i][1] = vfmaq_laneq_f32(acc[i][1], w1, va[i], l);       \
        }                                                               \
    } while (0)
            DENSE_LANE(0);
            DENSE_LANE(1);
            DENSE_LANE(2);
            DENSE_LANE(3);
#undef DENSE_LANE
            w += 4 * NR;
        }
        for (; k < len; k++) {
            const float32x4_t w0 = vld1q_f32(w), w1 = vld1q_f32(w + 4);
            w += NR;
            GL_UNROLL
            for (size_t i = 0; i < DENSE_MR; i++) {
                const float32x4_t va = vld1q_dup_f32(a[i] + k);
                acc[i][0] = vfmaq_f32(acc[i][0], w0, va);
                acc[i][1] = vfmaq_f32(acc[i][1], w1, va);
            }
        }
    }
    gl_neon_store_rows(DENSE_MR, acc, mr, c, ldc, r, n, ep);
}

/* The runs of the block of mr pixels from output column x0 of a row whose in-image window rows
 * are [ky0, ky1) from input row iy (of ky0). `stage` holds DENSE_STAGE_FLOATS. */
static void dense_block_runs(const gl_conv2d_params *p, const float *input, size_t iy, size_t ky0, size_t ky1,
                             size_t x0, size_t mr, float *stage, dense_runs *rs) {
    const size_t C = p->in_c, in_w = p->in_w, kw = p->kernel_w, sw = p->stride_w;
    const ptrdiff_t ix = (ptrdiff_t)(x0 * sw) - (ptrdiff_t)p->pad_left; /* the first pixel's first column */
    const size_t span = (mr - 1) * sw + kw;                           /* columns the block's windows cover */
    const size_t nky = ky1 - ky0;
    rs->mr = mr;
    rs->nruns = nky;
    rs->len = kw * C;
    rs->xstride = sw * C;
    rs->by_tap = 0;
    if (ix >= 0 && (size_t)ix + span <= in_w) { /* inside: window rows of the image itself */
        for (size_t r = 0; r < nky; r++) {
            rs->base[r] = input + ((iy + r) * in_w + (size_t)ix) * C;
            rs->k0[r] = (ky0 + r) * kw * C;
        }
    } else if (nky * span * C <= DENSE_STAGE_FLOATS) { /* window rows copied, padding as zeros */
        const size_t left = ix < 0 ? (size_t)-ix < span ? (size_t)-ix : span : 0;
        const size_t first = ix < 0 ? 0 : (size_t)ix; /* first image column copied */
        size_t inside = first < in_w ? in_w - first : 0;
        if (inside > span - left) inside = span - left;
        for (size_t r = 0; r < nky; r++) {
            float *s = stage + r * span * C;
            memset(s, 0, left * C * sizeof(float));
            if (inside != 0) memcpy(s + left * C, input + ((iy + r) * in_w + first) * C, inside * C * sizeof(float));
            memset(s + (left + inside) * C, 0, (span - left - inside) * C * sizeof(float));
            rs->base[r] = s;
            rs->k0[r] = (ky0 + r) * kw * C;
        }
    } else { /* a run per tap, padding read from zeros */
        rs->by_tap = 1;
        rs->nruns = nky * kw;
        rs->len = C;
        for (size_t r = 0; r < nky; r++)
            for (size_t kx = 0; kx < kw; kx++) {
                const size_t run = r * kw + kx;
                for (size_t i = 0; i < mr; i++) {
                    const ptrdiff_t col = ix + (ptrdiff_t)(i * sw + kx);
                    rs->a[run * DENSE_MR + i] = col >= 0 && col < (ptrdiff_t)in_w
                        ? input + ((iy + r) * in_w + (size_t)col) * C : dense_zeros;
                }
                rs->k0[run] = ((ky0 + r) * kw + kx) * C;
            }
    }
}

void gl_f32_conv2d_8x8_neon(const gl_conv2d_params *p, const float *input, const float *packed,
                            const float *residual, float *output, size_t row_begin, size_t row_end) {
    assert(gl_f32_conv2d_dense_neon_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);

    const size_t out_w = p->out_w, nc = p->out_c;
    const size_t psize = NR * (1 + p->kernel_h * p->kernel_w * p->in_c);
    const gl_epilogue e = gl_epilogue_of(p);
    const gl_neon_epilogue ep = gl_neon_epilogue_of(&e);
    /* Blocks of a row: as few as DENSE_MR allows, their sizes within one of each other. */
    const size_t nblocks = (out_w + DENSE_MR - 1) / DENSE_MR, base = out_w / nblocks, bigger = out_w % nblocks;
    /* Panels per pass: as many as fit GL_POINTWISE_PASS_FLOATS, at least one. */
    size_t pass = GL_POINTWISE_PASS_FLOATS / psize;
    if (pass == 0) pass = 1;

    float stage[DENSE_STAGE_FLOATS];
    dense_runs rs;
    for (size_t n0 = 0; n0 < nc && row_begin < row_end; n0 += pass * NR) {
        const size_t n1 = nc - n0 > pass * NR ? n0 + pass * NR : nc;
        for (size_t y = row_begin; y < row_end; y++) {
            const ptrdiff_t iy0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
            size_t ky0, ky1;
            gl_tap_range(iy0, 1, p->kernel_h, p->in_h, &ky0, &ky1);
            const size_t iy = ky1 > ky0 ? (size_t)(iy0 + (ptrdiff_t)ky0) : 0;
            float *orow = output + y * out_w * nc;
            const float *rrow = residual != NULL ? residual + y * out_w * nc : NULL;
            for (size_t b = 0, x = 0; b < nblocks; b++) {
                const size_t mr = base + (b < bigger);
                dense_block_runs(p, input, iy, ky0, ky1, x, mr, stage, &rs);
                const float *panel = packed + n0 / NR * psize;
                for (size_t n = n0; n < n1; n += NR, panel += psize)
                    dense_tile(&rs, panel, orow + x * nc + n, nc, rrow != NULL ? rrow + x * nc + n : NULL,
                               nc - n < NR ? nc - n : NR, &ep);
                x += mr;
            }
        }
    }
}

#endif /* __aarch64__ */
