/* f32-dwconv-avx512.c — depthwise 3x3 and 5x5 (dilation 1, horizontal stride 1 or 2), 16 channels per zmm, in tiles of 8 pixels along a row (two rows for 3x3 at stride 1 from 64 channels up). */
#include "avx512.h"

#if defined(__x86_64__)

#include <assert.h>

/*
 * The AVX2 kernel's tiling (see f32-dwconv-avx2.c: per tile and window row,
 * the row's K weights in registers, each input column loaded once and fed to
 * every accumulator whose window covers it; padding skipped, never copied)
 * with 16 channels per register: the same instructions do twice the work,
 * which is what this kernel is for, as the AVX2 one spends more of its time
 * on loads, stores and loop control than on FMAs. A channel tail (C not a
 * multiple of 16) goes through a __mmask16.
 *
 * Packed layout: channels in blocks of 16 (the last zero-padded), each block
 * bias[16], then w[ky * kernel_w + kx][16].
 */

#define NX 8

int gl_f32_dwconv_3x3_tiled_supports(const gl_conv2d_params *p) {
    return gl_f32_dwconv_3x3_supports(p) && gl_dwconv_row_tiled(p);
}

int gl_f32_dwconv_5x5_tiled_supports(const gl_conv2d_params *p) {
    return gl_f32_dwconv_5x5_supports(p) && gl_dwconv_row_tiled(p);
}

/*
 * NX pixels of one output row, one block of 16 channels (mask: its real
 * lanes): K×K window, horizontal stride S, window rows [ky0, ky1) inside the
 * image. BORDER: columns outside the image are skipped and only the first n
 * pixels stored.
 */
GL_AVX512_INLINE void dw_tile(const size_t K, const size_t S, const int BORDER, const float *in,
                              size_t C, size_t in_w, ptrdiff_t row0, size_t ky0, size_t ky1,
                              ptrdiff_t ix0, const float *wb, __mmask16 mask, float *o,
                              const float *r, size_t n, __m512 lo, __m512 hi, gl_prefetch_window *pf) {
    const size_t NCOL = (NX - 1) * S + K;
    const size_t row_stride = in_w * C;
    __m512 acc[NX];
    const __m512 bias = _mm512_loadu_ps(wb);
    GL_UNROLL for (size_t t = 0; t < NX; t++) acc[t] = bias;
    const char *line = pf->cursor, *const line_end = pf->end;
    for (size_t ky = ky0; ky < ky1; ky++) {
        gl_prefetch_line(&line, line_end); /* the next layer's weights (gl_prefetch_next) */
        const float *row = in + (size_t)(row0 + (ptrdiff_t)ky) * row_stride;
        const float *wrow = wb + 16 + ky * K * 16;
        __m512 wk[5];
        GL_UNROLL for (size_t kx = 0; kx < K; kx++) wk[kx] = _mm512_loadu_ps(wrow + kx * 16);
        GL_UNROLL for (size_t j = 0; j < NCOL; j++) {
            __m512 v;
            if (BORDER) {
                const size_t ix = (size_t)(ix0 + (ptrdiff_t)j); /* < 0 wraps: one test */
                if (ix >= in_w) continue;
                v = _mm512_maskz_loadu_ps(mask, row + ix * C);
            } else {
                v = _mm512_maskz_loadu_ps(mask, row + (size_t)(ix0 + (ptrdiff_t)j) * C);
            }
            GL_UNROLL for (size_t t = 0; t < NX; t++) {
                const size_t kx = j - t * S; /* wraps around when t*S > j */
                if (t * S <= j && kx < K) acc[t] = _mm512_fmadd_ps(v, wk[kx], acc[t]);
            }
        }
    }
    pf->cursor = line;
    GL_UNROLL for (size_t t = 0; t < NX; t++) {
        if (BORDER && t >= n) break;
        __m512 x = acc[t];
        if (r != NULL) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, r + t * C));
        /* bound first: MAXPS/MINPS pass their second operand on NaN, so a NaN sum survives */
        _mm512_mask_storeu_ps(o + t * C, mask, _mm512_min_ps(hi, _mm512_max_ps(lo, x)));
    }
}

/*
 * Two output rows at once, 3×3 at stride 1, both windows wholly inside the image vertically:
 * the rows share two of their four input rows, each loaded once and fed to both rows'
 * accumulators (4 row loads for 2 output rows instead of 6). 2 × NX accumulators, the 9
 * weights and one input vector fit the 32 registers. Measured on Lite0's shapes
 * (bench_kernels): 10-25% faster from 64 channels up (14x14x480: 0.025 -> 0.020 ms), but
 * slower at 32 channels (112x112x32) and at stride 2, which keep the one-row tile.
 */
GL_AVX512_INLINE void dw_tile2(const int BORDER, const float *in, size_t C, size_t in_w, ptrdiff_t row0,
                               ptrdiff_t ix0, const float *wb, __mmask16 mask, float *o, size_t out_row,
                               const float *r, size_t n, __m512 lo, __m512 hi, gl_prefetch_window *pf) {
    enum { K = 3, NCOL = NX + K - 1 };
    const size_t row_stride = in_w * C;
    __m512 acc[2][NX], wk[K][K];
    const __m512 bias = _mm512_loadu_ps(wb);
    GL_UNROLL for (size_t t = 0; t < NX; t++) acc[0][t] = acc[1][t] = bias;
    GL_UNROLL for (size_t ky = 0; ky < K; ky++)
        GL_UNROLL for (size_t kx = 0; kx < K; kx++) wk[ky][kx] = _mm512_loadu_ps(wb + 16 + (ky * K + kx) * 16);
    const char *line = pf->cursor, *const line_end = pf->end;
    GL_UNROLL for (size_t ry = 0; ry < K + 1; ry++) {
        gl_prefetch_line(&line, line_end); /* the next layer's weights (gl_prefetch_next) */
        const float *row = in + (size_t)(row0 + (ptrdiff_t)ry) * row_stride;
        GL_UNROLL for (size_t j = 0; j < NCOL; j++) {
            const size_t ix = (size_t)(ix0 + (ptrdiff_t)j); /* < 0 wraps: one test */
            if (BORDER && ix >= in_w) continue;
            const __m512 v = _mm512_maskz_loadu_ps(mask, row + ix * C);
            GL_UNROLL for (size_t h = 0; h < 2; h++) {
                const size_t ky = ry - h; /* wraps around when h > ry */
                if (h > ry || ky >= K) continue;
                GL_UNROLL for (size_t t = 0; t < NX; t++) {
                    const size_t kx = j - t; /* wraps around when t > j */
                    if (t <= j && kx < K) acc[h][t] = _mm512_fmadd_ps(v, wk[ky][kx], acc[h][t]);
                }
            }
        }
    }
    pf->cursor = line;
    GL_UNROLL for (size_t h = 0; h < 2; h++)
        GL_UNROLL for (size_t t = 0; t < NX; t++) {
            if (BORDER && t >= n) break;
            __m512 x = acc[h][t];
            if (r != NULL) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, r + h * out_row + t * C));
            _mm512_mask_storeu_ps(o + h * out_row + t * C, mask, _mm512_min_ps(hi, _mm512_max_ps(lo, x)));
        }
}

/*
 * Output row y across the image, or rows y and y + 1 when PAIR (3×3, stride 1, both windows
 * inside the image vertically: dw_tile2): tiles of NX pixels, each for every 16-channel block;
 * interior tiles of whole blocks skip the edge tests.
 */
GL_AVX512_INLINE void dw_row(const size_t K, const size_t S, const int PAIR, const gl_conv2d_params *p,
                             const float *input, const float *packed, const float *residual, float *output,
                             size_t y, size_t ky0, size_t ky1, __m512 lo, __m512 hi, gl_prefetch_window *pf) {
    const size_t C = p->in_c, in_w = p->in_w, out_w = p->out_w, out_row = out_w * C;
    const size_t NCOL = (NX - 1) * S + K, bsize = 16 * (1 + K * K), cfull = C / 16 * 16;
    const __mmask16 full = 0xFFFF, tail = (__mmask16)((1u << (C - cfull)) - 1u);
    const ptrdiff_t row0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
    for (size_t x = 0; x < out_w; x += NX) {
        const ptrdiff_t ix0 = (ptrdiff_t)(x * S) - (ptrdiff_t)p->pad_left;
        const size_t n = out_w - x < NX ? out_w - x : NX;
        const int interior = n == NX && ix0 >= 0 && ix0 + (ptrdiff_t)NCOL <= (ptrdiff_t)in_w;
        float *o = output + (y * out_w + x) * C;
        const float *r = residual != NULL ? residual + (y * out_w + x) * C : NULL;
        const float *wb = packed;
        size_t c0 = 0;
#define DW_TILE(border, mask)                                                                              \
    do {                                                                                                   \
        if (PAIR) dw_tile2(border, input + c0, C, in_w, row0, ix0, wb, mask, o + c0, out_row,              \
                           r != NULL ? r + c0 : NULL, n, lo, hi, pf);                                      \
        else dw_tile(K, S, border, input + c0, C, in_w, row0, ky0, ky1, ix0, wb, mask, o + c0,             \
                     r != NULL ? r + c0 : NULL, n, lo, hi, pf);                                            \
    } while (0)
        if (interior) {
            for (; c0 < cfull; c0 += 16, wb += bsize) DW_TILE(0, full);
        } else {
            for (; c0 < cfull; c0 += 16, wb += bsize) DW_TILE(1, full);
        }
        if (c0 < C) DW_TILE(1, tail);
#undef DW_TILE
    }
}

/* Rows [row_begin, row_end) of a K×K depthwise convolution, dilation 1, horizontal stride S. */
GL_AVX512_INLINE void dw_rows(const size_t K, const size_t S, const gl_conv2d_params *p,
                              const float *input, const float *packed, const float *residual,
                              float *output, size_t row_begin, size_t row_end) {
    const __m512 lo = _mm512_set1_ps(p->output_min), hi = _mm512_set1_ps(p->output_max);
    const int pairs = K == 3 && S == 1 && p->stride_h == 1 && p->in_c >= 64;
    gl_prefetch_window *const thread_pf = gl_prefetch_window_of_thread();
    gl_prefetch_window pf = *thread_pf;
    for (size_t y = row_begin; y < row_end; y++) {
        const ptrdiff_t row0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
        if (pairs && y + 1 < row_end && row0 >= 0 && row0 + 4 <= (ptrdiff_t)p->in_h) {
            dw_row(K, S, 1, p, input, packed, residual, output, y++, 0, K, lo, hi, &pf);
            continue;
        }
        size_t ky0, ky1;
        gl_tap_range(row0, 1, K, p->in_h, &ky0, &ky1);
        dw_row(K, S, 0, p, input, packed, residual, output, y, ky0, ky1, lo, hi, &pf);
    }
    *thread_pf = pf;
}

GL_AVX512 static void dw_3x3s1(const gl_conv2d_params *p, const float *i, const float *w,
                               const float *r, float *o, size_t y0, size_t y1) {
    dw_rows(3, 1, p, i, w, r, o, y0, y1);
}
GL_AVX512 static void dw_3x3s2(const gl_conv2d_params *p, const float *i, const float *w,
                               const float *r, float *o, size_t y0, size_t y1) {
    dw_rows(3, 2, p, i, w, r, o, y0, y1);
}
GL_AVX512 static void dw_5x5s1(const gl_conv2d_params *p, const float *i, const float *w,
                               const float *r, float *o, size_t y0, size_t y1) {
    dw_rows(5, 1, p, i, w, r, o, y0, y1);
}
GL_AVX512 static void dw_5x5s2(const gl_conv2d_params *p, const float *i, const float *w,
                               const float *r, float *o, size_t y0, size_t y1) {
    dw_rows(5, 2, p, i, w, r, o, y0, y1);
}

void gl_f32_dwconv_3x3__avx512(const gl_conv2d_params *p, const float *input, const float *packed,
                               const float *residual, float *output, size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_3x3_tiled_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    if (p->stride_w == 1) dw_3x3s1(p, input, packed, residual, output, row_begin, row_end);
    else dw_3x3s2(p, input, packed, residual, output, row_begin, row_end);
}

void gl_f32_dwconv_5x5__avx512(const gl_conv2d_params *p, const float *input, const float *packed,
                               const float *residual, float *output, size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_5x5_tiled_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    if (p->stride_w == 1) dw_5x5s1(p, input, packed, residual, output, row_begin, row_end);
    else dw_5x5s2(p, input, packed, residual, output, row_begin, row_end);
}

#endif
