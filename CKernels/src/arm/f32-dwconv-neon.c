/* f32-dwconv-neon.c — depthwise convolution (groups == in_c == out_c), NEON over channels: 3x3 and 5x5 with weights held in registers, any k×k generically. */
#include "neon.h"

#if defined(__aarch64__)

#include <assert.h>

/*
 * Packed layout ("c8 tiles"): channels in tiles of 8, the last zero-padded;
 * each tile is its bias then its taps in row-major window order,
 *
 *   tile t = packed[t * 8 * (1 + taps) ...]:  bias[8], w[ky * kernel_w + kx][8]
 *
 * so one channel block's weights are contiguous, and a 4-lane load at any
 * channel that is a multiple of 4 stays inside one tile. The zero padding lets
 * a channel tail compute full vectors: only its input loads and output stores
 * are cut to the real channel count.
 *
 * Stride and dilation are run-time values: in NHWC they only move the input
 * pointers (the channel loop is the same), so specialising on them would buy
 * nothing but code size. Padding (TF "SAME" included, i.e. an extra bottom or
 * right row/column) is handled by tap ranges, never by copying the input:
 *  - pixels whose whole window is inside the image (the interior of a row whose
 *    window rows are all inside) take the register-resident path: per block of
 *    channels, the window's weights are loaded into registers once and the
 *    row's pixels stream past them, two at a time;
 *  - the few others (border rows and columns) take dw_pixel, which loops over
 *    the taps that land inside (gl_tap_range) and reloads weights per tap.
 * Both paths add the taps in the same order (bias, then row-major), so a pixel
 * gets the same bits whichever path computes it.
 */
#define CT 8

GL_INLINE size_t tile_size(size_t taps) { return CT * (1 + taps); }

/* Weights of channels [c, c + 4) (c % 4 == 0): bias at [0], tap t at [CT * (1 + t)]. */
GL_INLINE const float *tile_at(const float *packed, size_t c, size_t taps) {
    return packed + (c / CT) * tile_size(taps) + c % CT;
}

/* What every pixel of one run shares. */
typedef struct dw_geometry {
    size_t C, in_h, in_w, kh, kw, taps;
    size_t sh, sw, dh, dw, pad_top, pad_left, out_w;
    gl_neon_epilogue ep;
} dw_geometry;

static dw_geometry dw_geometry_of(const gl_conv2d_params *p) {
    dw_geometry g;
    g.C = p->in_c;
    g.in_h = p->in_h;
    g.in_w = p->in_w;
    g.kh = p->kernel_h;
    g.kw = p->kernel_w;
    g.taps = p->kernel_h * p->kernel_w;
    g.sh = p->stride_h;
    g.sw = p->stride_w;
    g.dh = p->dilation_h;
    g.dw = p->dilation_w;
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    g.out_w = p->out_w;
    const gl_epilogue e = gl_epilogue_of(p);
    g.ep = gl_neon_epilogue_of(&e);
    return g;
}

/*
 * One output pixel over taps [ky0,ky1)×[kx0,kx1), every channel, 4 at a time:
 * the path for windows that cross the image edge and for k×k without a
 * specialisation. r (may be NULL) and o point at the pixel's channel 0.
 * ACT: the activation (dw_pixel chooses the copy once per pixel).
 */
GL_INLINE void dw_pixel_act(const int ACT, const dw_geometry *g, const float *input, ptrdiff_t iy0, ptrdiff_t ix0,
                            size_t ky0, size_t ky1, size_t kx0, size_t kx1,
                            const float *packed, const float *r, float *o) {
    const size_t C = g->C, row = g->in_w * C, taps = g->taps, kw = g->kw;
    /* The window's first in-image tap and the steps between taps, in floats. */
    const size_t ystep = g->dh * row, xstep = g->dw * C;
    size_t ny = ky1 - ky0, nx = kx1 - kx0;
    const float *i00 = input;
    if (ny == 0 || nx == 0) ny = nx = ky0 = kx0 = 0; /* all padding: bias only, no pointer outside */
    else i00 += (size_t)(iy0 + (ptrdiff_t)(ky0 * g->dh)) * row + (size_t)(ix0 + (ptrdiff_t)(kx0 * g->dw)) * C;
    size_t c = 0;
    for (; c + 4 <= C; c += 4) {
        const float *wt = tile_at(packed, c, taps);
        float32x4_t acc = vld1q_f32(wt);
        const float *ip = i00 + c;
        const float *wp = wt + CT * (1 + ky0 * kw + kx0);
        for (size_t y = 0; y < ny; y++, ip += ystep, wp += CT * kw)
            for (size_t x = 0; x < nx; x++)
                acc = vfmaq_f32(acc, vld1q_f32(ip + x * xstep), vld1q_f32(wp + CT * x));
        if (r != NULL) acc = vaddq_f32(acc, vld1q_f32(r + c));
        vst1q_f32(o + c, gl_neon_act(acc, ACT, &g->ep));
    }
    if (c < C) { /* 1..3 channels: partial input loads, full (zero-padded) weights */
        const size_t n = C - c;
        const float *wt = tile_at(packed, c, taps);
        float32x4_t acc = vld1q_f32(wt);
        const float *ip = i00 + c;
        const float *wp = wt + CT * (1 + ky0 * kw + kx0);
        for (size_t y = 0; y < ny; y++, ip += ystep, wp += CT * kw)
            for (size_t x = 0; x < nx; x++)
                acc = vfmaq_f32(acc, gl_neon_load_tail(ip + x * xstep, n), vld1q_f32(wp + CT * x));
        if (r != NULL) acc = vaddq_f32(acc, gl_neon_load_tail(r + c, n));
        gl_neon_store_tail(o + c, gl_neon_act(acc, ACT, &g->ep), n);
    }
}

static void dw_pixel(const dw_geometry *g, const float *input, ptrdiff_t iy0, ptrdiff_t ix0,
                     size_t ky0, size_t ky1, size_t kx0, size_t kx1,
                     const float *packed, const float *r, float *o) {
    GL_ACTIVATION_DISPATCH(g->ep.kind, dw_pixel_act, g, input, iy0, ix0, ky0, ky1, kx0, kx1, packed, r, o);
}

/*
 * Pixels [0, npx) of a run whose windows are wholly inside the image, for one
 * block of channels: NV vectors (4·NV channels), or, with NV == 1 and n < 4, an
 * n-channel tail. `in` is the first pixel's window origin at the block's first
 * channel; pixels are `step` floats apart; window rows `ystep`, columns `xstep`.
 * The K×K×NV weight vectors live in registers for the whole run (3x3×2 = 18,
 * 5x5×1 = 25 of the 32). For 3x3, two pixels per iteration give the FMA pipes
 * 4 independent accumulation chains besides what out-of-order execution overlaps.
 */
GL_INLINE void dw_run_block(const int ACT, size_t K, size_t NV, size_t n, int has_residual,
                            const float *in, size_t step, size_t ystep, size_t xstep, size_t npx,
                            size_t C, const float *wt, const float *r, float *o,
                            const gl_neon_epilogue *ep) {
    float32x4_t w0[25], w1[25];
    const float32x4_t b0 = vld1q_f32(wt);
    const float32x4_t b1 = NV == 2 ? vld1q_f32(wt + 4) : b0;
    GL_UNROLL
    for (size_t t = 0; t < K * K; t++) {
        w0[t] = vld1q_f32(wt + CT * (1 + t));
        w1[t] = NV == 2 ? vld1q_f32(wt + CT * (1 + t) + 4) : w0[t];
    }
#define LOAD(q) (n >= 4 ? vld1q_f32(q) : gl_neon_load_tail(q, n))
    /* Pairs only while the weights leave room for their 2·NV accumulators and
     * inputs: 5x5's 25 weight registers do not (GCC would spill them). */
    const int pairs = K * K * NV <= 18;
    size_t x = 0;
    for (; pairs && x + 2 <= npx; x += 2) {
        const float *ia = in, *ib = in + step;
        float32x4_t a0 = b0, a1 = b1, c0 = b0, c1 = b1;
        GL_UNROLL
        for (size_t ky = 0; ky < K; ky++) {
            GL_UNROLL
            for (size_t kx = 0; kx < K; kx++) {
                const size_t off = ky * ystep + kx * xstep, t = ky * K + kx;
                a0 = vfmaq_f32(a0, LOAD(ia + off), w0[t]);
                c0 = vfmaq_f32(c0, LOAD(ib + off), w0[t]);
                if (NV == 2) {
                    a1 = vfmaq_f32(a1, vld1q_f32(ia + off + 4), w1[t]);
                    c1 = vfmaq_f32(c1, vld1q_f32(ib + off + 4), w1[t]);
                }
            }
        }
        if (has_residual) {
            a0 = vaddq_f32(a0, LOAD(r));
            c0 = vaddq_f32(c0, LOAD(r + C));
            if (NV == 2) {
                a1 = vaddq_f32(a1, vld1q_f32(r + 4));
                c1 = vaddq_f32(c1, vld1q_f32(r + C + 4));
            }
            r += 2 * C;
        }
        a0 = gl_neon_act(a0, ACT, ep);
        c0 = gl_neon_act(c0, ACT, ep);
        if (n >= 4) {
            vst1q_f32(o, a0);
            vst1q_f32(o + C, c0);
        } else {
            gl_neon_store_tail(o, a0, n);
            gl_neon_store_tail(o + C, c0, n);
        }
        if (NV == 2) {
            vst1q_f32(o + 4, gl_neon_act(a1, ACT, ep));
            vst1q_f32(o + C + 4, gl_neon_act(c1, ACT, ep));
        }
        in += 2 * step;
        o += 2 * C;
    }
    for (; x < npx; x++) { /* the odd pixel, or each pixel without pairs */
        float32x4_t a0 = b0, a1 = b1;
        GL_UNROLL
        for (size_t ky = 0; ky < K; ky++) {
            GL_UNROLL
            for (size_t kx = 0; kx < K; kx++) {
                const size_t off = ky * ystep + kx * xstep, t = ky * K + kx;
                a0 = vfmaq_f32(a0, LOAD(in + off), w0[t]);
                if (NV == 2) a1 = vfmaq_f32(a1, vld1q_f32(in + off + 4), w1[t]);
            }
        }
        if (has_residual) {
            a0 = vaddq_f32(a0, LOAD(r));
            if (NV == 2) a1 = vaddq_f32(a1, vld1q_f32(r + 4));
        }
        a0 = gl_neon_act(a0, ACT, ep);
        if (n >= 4) vst1q_f32(o, a0);
        else gl_neon_store_tail(o, a0, n);
        if (NV == 2) vst1q_f32(o + 4, gl_neon_act(a1, ACT, ep));
        in += step;
        o += C;
        if (has_residual) r += C;
    }
#undef LOAD
}

/* Every channel of an interior run: blocks of 4·NV channels, then 4, then 1..3. */
GL_INLINE void dw_run_interior_act(const int ACT, size_t K, size_t NV, int has_residual, const dw_geometry *g,
                                   const float *in, size_t npx, const float *packed,
                                   const float *r, float *o) {
    const size_t C = g->C, step = g->sw * C, ystep = g->dh * g->in_w * C, xstep = g->dw * C;
    size_t c = 0;
    if (NV == 2)
        for (; c + 8 <= C; c += 8)
            dw_run_block(ACT, K, 2, 8, has_residual, in + c, step, ystep, xstep, npx, C,
                         tile_at(packed, c, K * K), has_residual ? r + c : NULL, o + c, &g->ep);
    for (; c + 4 <= C; c += 4)
        dw_run_block(ACT, K, 1, 4, has_residual, in + c, step, ystep, xstep, npx, C,
                     tile_at(packed, c, K * K), has_residual ? r + c : NULL, o + c, &g->ep);
    if (c < C)
        dw_run_block(ACT, K, 1, C - c, has_residual, in + c, step, ystep, xstep, npx, C,
                     tile_at(packed, c, K * K), has_residual ? r + c : NULL, o + c, &g->ep);
}

/* The interior run with the activation's copy of the loops (one branch per run). */
GL_INLINE void dw_run_interior(size_t K, size_t NV, int has_residual, const dw_geometry *g,
                               const float *in, size_t npx, const float *packed,
                               const float *r, float *o) {
    GL_ACTIVATION_DISPATCH(g->ep.kind, dw_run_interior_act, K, NV, has_residual, g, in, npx, packed, r, o);
}

/*
 * Output rows [row_begin, row_end). K == 0: no specialisation, every pixel
 * through dw_pixel. Otherwise a K×K window with NV vectors per channel block.
 */
GL_INLINE void dw_rows(size_t K, size_t NV, const gl_conv2d_params *p, const float *input,
                       const float *packed, const float *residual, float *output,
                       size_t row_begin, size_t row_end) {
    const dw_geometry g = dw_geometry_of(p);
    const size_t C = g.C, out_w = g.out_w;
    /* Columns [xa, xb) have every window column inside the image:
     * x*sw >= pad_left and x*sw - pad_left + span_w <= in_w - 1. */
    const size_t span_w = (g.kw - 1) * g.dw;
    size_t xa = (g.pad_left + g.sw - 1) / g.sw, xb = 0;
    if (g.in_w + g.pad_left > span_w) xb = (g.in_w - 1 + g.pad_left - span_w) / g.sw + 1;
    if (xb > out_w) xb = out_w;
    if (xa > xb) xa = xb;
    if (K == 0) xa = xb = out_w; /* no interior path: all of a row is "border" */

    for (size_t y = row_begin; y < row_end; y++) {
        const ptrdiff_t iy0 = (ptrdiff_t)(y * g.sh) - (ptrdiff_t)g.pad_top;
        size_t ky0, ky1;
        gl_tap_range(iy0, g.dh, g.kh, g.in_h, &ky0, &ky1);
        const int full_rows = ky0 == 0 && ky1 == g.kh;
        const size_t ya = full_rows ? xa : out_w, yb = full_rows ? xb : out_w;
        float *orow = output + y * out_w * C;
        const float *rrow = residual != NULL ? residual + y * out_w * C : NULL;
        for (size_t x = 0; x < out_w; x++) {
            if (K != 0 && x == ya && ya < yb) { /* the interior run, then skip past it */
                const float *in = input + (size_t)iy0 * g.in_w * C +
                                  (x * g.sw - g.pad_left) * C;
                if (rrow != NULL)
                    dw_run_interior(K, NV, 1, &g, in, yb - ya, packed, rrow + x * C, orow + x * C);
                else
                    dw_run_interior(K, NV, 0, &g, in, yb - ya, packed, NULL, orow + x * C);
                x = yb - 1;
                continue;
            }
            const ptrdiff_t ix0 = (ptrdiff_t)(x * g.sw) - (ptrdiff_t)g.pad_left;
            size_t kx0, kx1;
            gl_tap_range(ix0, g.dw, g.kw, g.in_w, &kx0, &kx1);
            dw_pixel(&g, input, iy0, ix0, ky0, ky1, kx0, kx1, packed,
                     rrow != NULL ? rrow + x * C : NULL, orow + x * C);
        }
    }
}

void gl_f32_dwconv_3x3_8c_neon(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_3x3_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    dw_rows(3, 2, p, input, packed, residual, output, row_begin, row_end);
}

void gl_f32_dwconv_5x5_4c_neon(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_5x5_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    dw_rows(5, 1, p, input, packed, residual, output, row_begin, row_end);
}

void gl_f32_dwconv_kxk_4c_neon(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    dw_rows(0, 1, p, input, packed, residual, output, row_begin, row_end);
}

#endif /* __aarch64__ */
