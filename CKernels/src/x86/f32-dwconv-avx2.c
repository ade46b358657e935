/* f32-dwconv-avx2.c — depthwise convolution, 8 channels per ymm: 3x3 and 5x5 in tiles of 8 pixels along a row, any other window pixel by pixel. */
#include "avx2.h"

#if defined(__x86_64__)

#include <assert.h>

/*
 * Packed layout: channels in blocks of 8 (the last zero-padded), each block
 *
 *   bias[8], then w[ky * kernel_w + kx][8]
 *
 * so one block's weights are one contiguous run (8 * (1 + kh*kw) floats).
 *
 * 3x3 and 5x5 (dilation 1, horizontal stride 1 or 2; other shapes go the
 * generic way): each output row in tiles of NX = 8 pixels, and per tile the
 * channel blocks one after the other (the tile's input stays in L1 across
 * them). Per window row ky, the row's K weights sit in registers and each
 * input column the tile needs is loaded once and feeds every accumulator
 * whose window covers it: a 3x3 s1 tile does 24 FMAs per 13 loads, a 5x5 s1
 * tile 40 per 17, and 8 independent accumulators cover the FMA latency.
 *
 * Padding costs no copy and no FMA on a padding zero: window rows outside the image are
 * skipped through the output row's tap range, and in tiles that reach past
 * the left or right edge (or past the end of the row: those pixels are not
 * stored) an input column outside the image is skipped by a branch, which
 * goes the same way for every window row and channel block of the tile and
 * so is predicted. Interior tiles have no such test. A channel tail (C not a
 * multiple of 8) loads and stores through lane masks.
 */

#define NX 8

/* Epilogue of one pixel's 8 channels (activation ACT); CTAIL: only the lanes of cmask exist. */
GL_AVX2_INLINE void dw_store(const int ACT, const int CTAIL, float *o, const float *r, __m256 acc,
                             __m256i cmask, const gl_avx2_epilogue *ep) {
    if (CTAIL) {
        if (r != NULL) acc = _mm256_add_ps(acc, _mm256_maskload_ps(r, cmask));
        _mm256_maskstore_ps(o, cmask, gl_avx2_act(acc, ACT, ep));
    } else {
        if (r != NULL) acc = _mm256_add_ps(acc, _mm256_loadu_ps(r));
        _mm256_storeu_ps(o, gl_avx2_act(acc, ACT, ep));
    }
}

/*
 * The epilogue of the first `count` of NP vectors of accumulators, `step` floats apart in the
 * output (the pixels of a tile, step C; or the channel blocks of one pixel, step 8), `lanes`
 * channels each (8, or a tail's through cmask). ACT: the tiles' copy (GL_TILE_ACTIVATION):
 * IDENTITY the clamp alone; HARDSWISH in registers, any other activation through
 * gl_avx2_store_activation.
 */
GL_AVX2_INLINE void dw_store_vectors(const int ACT, const size_t NP, const int CTAIL, float *o, const float *r,
                                     size_t step, const __m256 *acc, size_t count, __m256i cmask, size_t lanes,
                                     const gl_avx2_epilogue *ep) {
    if (ACT != GL_ACTIVATION_IDENTITY && __builtin_expect(ep->kind != ACT, 0)) {
        __m256 park[NX];
        GL_UNROLL for (size_t t = 0; t < NP; t++) park[t] = acc[t];
        if (step == 8) gl_avx2_store_activation(1, count, park, o, 0, r, ep, (count - 1) * 8 + lanes);
        else gl_avx2_store_activation(count, 1, park, o, step, r, ep, lanes);
        return;
    }
    const gl_avx2_epilogue e = *ep; /* a copy the stores cannot alias: the bounds stay in registers */
    GL_UNROLL for (size_t t = 0; t < NP; t++) {
        if (t >= count) break;
        dw_store(ACT, CTAIL, o + t * step, r != NULL ? r + t * step : NULL, acc[t], cmask, &e);
    }
}

/*
 * NX pixels of one output row, one channel block: K×K window (constant),
 * horizontal stride S (constant), window rows [ky0, ky1) inside the image.
 * `in` is the input plus the block's first channel, ix0 the input column of
 * the first pixel's first tap, `row0` the input row of tap row 0 (may be
 * negative; only rows in range are touched). BORDER: columns outside the
 * image are skipped and only the first n pixels stored. CTAIL (implies
 * BORDER): the block is a channel tail, loaded and stored through cmask.
 */
GL_AVX2_INLINE void dw_tile(const int ACT, const size_t K, const size_t S, const int BORDER, const int CTAIL,
                            const float *in, size_t C, size_t in_w, ptrdiff_t row0,
                            size_t ky0, size_t ky1, ptrdiff_t ix0, const float *wb,
                            __m256i cmask, size_t lanes, float *o, const float *r, size_t n,
                            const gl_avx2_epilogue *ep) {
    const size_t NCOL = (NX - 1) * S + K;
    const size_t row_stride = in_w * C;
    __m256 acc[NX];
    const __m256 bias = _mm256_loadu_ps(wb);
    GL_UNROLL for (size_t t = 0; t < NX; t++) acc[t] = bias;
    for (size_t ky = ky0; ky < ky1; ky++) {
        const float *row = in + (size_t)(row0 + (ptrdiff_t)ky) * row_stride;
        const float *wrow = wb + 8 + ky * K * 8;
        __m256 wk[5];
        GL_UNROLL for (size_t kx = 0; kx < K; kx++) wk[kx] = _mm256_loadu_ps(wrow + kx * 8);
        GL_UNROLL for (size_t j = 0; j < NCOL; j++) {
            __m256 v;
            if (BORDER) {
                /* outside the image: would add zeros (predicted, see above) */
                const size_t ix = (size_t)(ix0 + (ptrdiff_t)j); /* < 0 wraps: one test */
                if (ix >= in_w) continue;
                v = CTAIL ? _mm256_maskload_ps(row + ix * C, cmask) : _mm256_loadu_ps(row + ix * C);
            } else {
                v = _mm256_loadu_ps(row + (size_t)(ix0 + (ptrdiff_t)j) * C);
            }
            GL_UNROLL for (size_t t = 0; t < NX; t++) {
                const size_t kx = j - t * S; /* wraps around when t*S > j */
                if (t * S <= j && kx < K) acc[t] = _mm256_fmadd_ps(v, wk[kx], acc[t]);
            }
        }
    }
    dw_store_vectors(ACT, NX, CTAIL, o, r, C, acc, BORDER ? n : NX, cmask, lanes, ep);
}

/* Rows [row_begin, row_end) of a K×K depthwise convolution with dilation 1 and
 * horizontal stride S. */
GL_AVX2_INLINE void dw_rows(const int ACT, const size_t K, const size_t S, const gl_conv2d_params *p,
                            const float *input, const float *packed, const float *residual,
                            float *output, size_t row_begin, size_t row_end) {
    const size_t C = p->in_c, in_h = p->in_h, in_w = p->in_w, out_w = p->out_w;
    const size_t NCOL = (NX - 1) * S + K;
    const size_t bsize = 8 * (1 + K * K);
    const gl_epilogue e = gl_epilogue_of(p);
    const gl_avx2_epilogue ep = gl_avx2_epilogue_of(&e);
    const size_t cfull = C / 8 * 8;
    const __m256i tmask = gl_avx2_mask(C - cfull), full = gl_avx2_mask(8);
    for (size_t y = row_begin; y < row_end; y++) {
        const ptrdiff_t row0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
        size_t ky0, ky1;
        gl_tap_range(row0, 1, K, in_h, &ky0, &ky1);
        for (size_t x = 0; x < out_w; x += NX) {
            const ptrdiff_t ix0 = (ptrdiff_t)(x * S) - (ptrdiff_t)p->pad_left;
            const size_t n = out_w - x < NX ? out_w - x : NX;
            const int interior = n == NX && ix0 >= 0 && ix0 + (ptrdiff_t)NCOL <= (ptrdiff_t)in_w;
            float *o = output + (y * out_w + x) * C;
            const float *r = residual != NULL ? residual + (y * out_w + x) * C : NULL;
            const float *wb = packed;
            size_t c0 = 0;
            if (interior) {
                for (; c0 < cfull; c0 += 8, wb += bsize)
                    dw_tile(ACT, K, S, 0, 0, input + c0, C, in_w, row0, ky0, ky1, ix0, wb, full, 8,
                            o + c0, r != NULL ? r + c0 : NULL, n, &ep);
            } else {
                for (; c0 < cfull; c0 += 8, wb += bsize)
                    dw_tile(ACT, K, S, 1, 0, input + c0, C, in_w, row0, ky0, ky1, ix0, wb, full, 8,
                            o + c0, r != NULL ? r + c0 : NULL, n, &ep);
            }
            if (c0 < C)
                dw_tile(ACT, K, S, 1, 1, input + c0, C, in_w, row0, ky0, ky1, ix0, wb, tmask, C - cfull,
                        o + c0, r != NULL ? r + c0 : NULL, n, &ep);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* any window, stride, dilation and padding: pixel by pixel                  */

/*
 * For each output pixel, the window's in-image taps (ranges computed once per
 * row and column) over four channel blocks at a time, so that four FMA chains
 * are in flight; loads are masked only in a channel tail.
 */
GL_AVX2_INLINE void dw_pixel_blocks(const int ACT, const size_t NB, const int CTAIL, const float *ip,
                                    size_t row_step, size_t col_step, size_t nky, size_t nkx,
                                    const float *wb, const float *wp, size_t w_row_step,
                                    size_t bsize, __m256i cmask, size_t lanes, float *o, const float *r,
                                    const gl_avx2_epilogue *ep) {
    __m256 acc[4];
    GL_UNROLL for (size_t b = 0; b < NB; b++) acc[b] = _mm256_loadu_ps(wb + b * bsize);
    for (size_t ky = 0; ky < nky; ky++, ip += row_step, wp += w_row_step) {
        for (size_t kx = 0; kx < nkx; kx++) {
            GL_UNROLL for (size_t b = 0; b < NB; b++) {
                const float *src = ip + kx * col_step + 8 * b;
                const __m256 v = CTAIL ? _mm256_maskload_ps(src, cmask) : _mm256_loadu_ps(src);
                acc[b] = _mm256_fmadd_ps(v, _mm256_loadu_ps(wp + kx * 8 + b * bsize), acc[b]);
            }
        }
    }
    dw_store_vectors(ACT, NB, CTAIL, o, r, 8, acc, NB, cmask, lanes, ep);
}

GL_AVX2_INLINE void dw_generic(const int ACT, const gl_conv2d_params *p, const float *input, const float *packed,
                               const float *residual, float *output, size_t row_begin,
                               size_t row_end) {
    const size_t C = p->in_c, in_h = p->in_h, in_w = p->in_w, out_w = p->out_w;
    const size_t kh = p->kernel_h, kw = p->kernel_w, dh = p->dilation_h, dw = p->dilation_w;
    const size_t bsize = 8 * (1 + kh * kw);
    const size_t cfull = C / 8 * 8;
    const size_t row_step = dh * in_w * C, col_step = dw * C;
    const __m256i cmask = gl_avx2_mask(C - cfull);
    const gl_epilogue e = gl_epilogue_of(p);
    const gl_avx2_epilogue ep = gl_avx2_epilogue_of(&e);
    for (size_t y = row_begin; y < row_end; y++) {
        const ptrdiff_t iy0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
        size_t ky0, ky1;
        gl_tap_range(iy0, dh, kh, in_h, &ky0, &ky1);
        for (size_t x = 0; x < out_w; x++) {
            const ptrdiff_t ix0 = (ptrdiff_t)(x * p->stride_w) - (ptrdiff_t)p->pad_left;
            size_t kx0, kx1;
            gl_tap_range(ix0, dw, kw, in_w, &kx0, &kx1);
            const size_t pixel = y * out_w + x;
            float *o = output + pixel * C;
            const float *r = residual != NULL ? residual + pixel * C : NULL;
            /* the first in-image tap, (ky0, kx0); an empty window reads nothing */
            const size_t nkx = kx1 - kx0, nky = nkx != 0 ? ky1 - ky0 : 0;
            const float *ip = input;
            if (nky != 0)
                ip += ((size_t)(iy0 + (ptrdiff_t)(ky0 * dh)) * in_w +
                       (size_t)(ix0 + (ptrdiff_t)(kx0 * dw))) * C;
            const size_t wt = 8 + (ky0 * kw + kx0) * 8;
            size_t c0 = 0;
            for (; c0 + 32 <= cfull; c0 += 32) {
                const float *wb = packed + c0 / 8 * bsize;
                dw_pixel_blocks(ACT, 4, 0, ip + c0, row_step, col_step, nky, nkx, wb, wb + wt, kw * 8,
                                bsize, cmask, 8, o + c0, r != NULL ? r + c0 : NULL, &ep);
            }
            for (; c0 < cfull; c0 += 8) {
                const float *wb = packed + c0 / 8 * bsize;
                dw_pixel_blocks(ACT, 1, 0, ip + c0, row_step, col_step, nky, nkx, wb, wb + wt, kw * 8,
                                bsize, cmask, 8, o + c0, r != NULL ? r + c0 : NULL, &ep);
            }
            if (c0 < C) {
                const float *wb = packed + c0 / 8 * bsize;
                dw_pixel_blocks(ACT, 1, 1, ip + c0, row_step, col_step, nky, nkx, wb, wb + wt, kw * 8,
                                bsize, cmask, C - cfull, o + c0, r != NULL ? r + c0 : NULL, &ep);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */

/* The row-tiled kernels, as clamp-only tiles (id) and as activation ones (act):
 * GL_TILE_ACTIVATION. */
#define DW_ROWS(name, K, S, act, ACT)                                                              \
    GL_AVX2 static void name##_##act(const gl_conv2d_params *p, const float *i, const float *w,      \
                                     const float *r, float *o, size_t y0, size_t y1) {              \
        dw_rows(ACT, K, S, p, i, w, r, o, y0, y1);                                                   \
    }
#define DW_ROWS_BOTH(name, K, S) DW_ROWS(name, K, S, id, GL_ACTIVATION_IDENTITY) DW_ROWS(name, K, S, act, GL_ACTIVATION_HARDSWISH)
DW_ROWS_BOTH(dw_3x3s1, 3, 1) DW_ROWS_BOTH(dw_3x3s2, 3, 2) DW_ROWS_BOTH(dw_5x5s1, 5, 1) DW_ROWS_BOTH(dw_5x5s2, 5, 2)

GL_AVX2 void gl_f32_dwconv_kxk__avx2(const gl_conv2d_params *p, const float *input,
                                     const float *packed, const float *residual, float *output,
                                     size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    if (GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_HARDSWISH)
        dw_generic(GL_ACTIVATION_HARDSWISH, p, input, packed, residual, output, row_begin, row_end);
    else
        dw_generic(GL_ACTIVATION_IDENTITY, p, input, packed, residual, output, row_begin, row_end);
}

void gl_f32_dwconv_3x3__avx2(const gl_conv2d_params *p, const float *input,
                             const float *packed, const float *residual, float *output,
                             size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_3x3_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    const int act = GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_HARDSWISH;
    if (!gl_dwconv_row_tiled(p)) gl_f32_dwconv_kxk__avx2(p, input, packed, residual, output, row_begin, row_end);
    else if (p->stride_w == 1) (act ? dw_3x3s1_act : dw_3x3s1_id)(p, input, packed, residual, output, row_begin, row_end);
    else (act ? dw_3x3s2_act : dw_3x3s2_id)(p, input, packed, residual, output, row_begin, row_end);
}

void gl_f32_dwconv_5x5__avx2(const gl_conv2d_params *p, const float *input,
                             const float *packed, const float *residual, float *output,
                             size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_5x5_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    const int act = GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_HARDSWISH;
    if (!gl_dwconv_row_tiled(p)) gl_f32_dwconv_kxk__avx2(p, input, packed, residual, output, row_begin, row_end);
    else if (p->stride_w == 1) (act ? dw_5x5s1_act : dw_5x5s1_id)(p, input, packed, residual, output, row_begin, row_end);
    else (act ? dw_5x5s2_act : dw_5x5s2_id)(p, input, packed, residual, output, row_begin, row_end);
}

#endif
