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
 * The epilogue of H rows × the first `count` of NX pixels of one 16-channel block (pixels C
 * floats apart, rows out_row, the real channels in mask): + residual, activation and clamp,
 * masked store. ACT: the tiles' copy (GL_TILE_ACTIVATION): IDENTITY the clamp alone;
 * HARDSWISH in registers, any other activation through gl_avx512_store_activation, a row at a
 * time.
 */
GL_AVX512_INLINE void dw_store(const int ACT, const size_t H, __m512 (*acc)[NX], float *o, const float *r,
                               size_t C, size_t out_row, size_t count, __mmask16 mask,
                               const gl_avx512_epilogue *ep) {
    if (ACT != GL_ACTIVATION_IDENTITY && __builtin_expect(ep->kind != ACT, 0)) {
        __m512 park[2][NX];
        GL_UNROLL for (size_t h = 0; h < H; h++)
            GL_UNROLL for (size_t t = 0; t < NX; t++) park[h][t] = acc[h][t];
        const size_t lanes = (size_t)__builtin_popcount(mask);
        for (size_t h = 0; h < H; h++)
            gl_avx512_store_activation(count, 1, park[h], o + h * out_row, C, r != NULL ? r + h * out_row : NULL,
                                       ep, lanes);
        return;
    }
    const gl_avx512_epilogue e = *ep; /* a copy the stores cannot alias: the bounds stay in registers */
    GL_UNROLL for (size_t h = 0; h < H; h++)
        GL_UNROLL for (size_t t = 0; t < NX; t++) {
            if (t >= count) break;
            __m512 x = acc[h][t];
            if (r != NULL) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, r + h * out_row + t * C));
            _mm512_mask_storeu_ps(o + h * out_row + t * C, mask, gl_avx512_act(x, ACT, &e));
        }
}

/*
 * NX pixels of one output row, one block of 16 channels (mask: its real
 * lanes): K×K window, horizontal stride S, window rows [ky0, ky1) inside the
 * image. BORDER: columns outside the image are skipped and only the first n
 * pixels stored.
 */
GL_AVX512_INLINE void dw_tile(const int ACT, const size_t K, const size_t S, const int BORDER, const float *in,
                              size_t C, size_t in_w, ptrdiff_t row0, size_t ky0, size_t ky1,
                              ptrdiff_t ix0, const float *wb, __mmask16 mask, float *o,
                              const float *r, size_t n, const gl_avx512_epilogue *ep, gl_prefetch_window *pf) {
    const size_t NCOL = (NX - 1) * S + K;
    const size_t row_stride = in_w * C;
    __m512 acc[1][NX];
    const __m512 bias = _mm512_loadu_ps(wb);
    GL_UNROLL for (size_t t = 0; t < NX; t++) acc[0][t] = bias;
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
                if (t * S <= j && kx < K) acc[0][t] = _mm512_fmadd_ps(v, wk[kx], acc[0][t]);
            }
        }
    }
    pf->cursor = line;
    dw_store(ACT, 1, acc, o, r, C, 0, BORDER ? n : NX, mask, ep);
}

/*
 * Two output rows at once, 3×3 at stride 1, both windows wholly inside the image vertically:
 * the rows share two of their four input rows, each loaded once and fed to both rows'
 * accumulators (4 row loads for 2 output rows instead of 6). 2 × NX accumulators, the 9
 * weights and one input vector fit the 32 registers. Measured on Lite0's shapes
 * (bench_kernels): 10-25% faster from 64 channels up (14x14x480: 0.025 -> 0.020 ms), but
 * slower at 32 channels (112x112x32) and at stride 2, which keep the one-row tile.
 */
GL_AVX512_INLINE void dw_tile2(const int ACT, const int BORDER, const float *in, size_t C, size_t in_w, ptrdiff_t row0,
                               ptrdiff_t ix0, const float *wb, __mmask16 mask, float *o, size_t out_row,
                               const float *r, size_t n, const gl_avx512_epilogue *ep, gl_prefetch_window *pf) {
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
    dw_store(ACT, 2, acc, o, r, C, out_row, BORDER ? n : NX, mask, ep);
}

/*
 * Output row y across the image, or rows y and y + 1 when PAIR (3×3, stride 1, both windows
 * inside the image vertically: dw_tile2): tiles of NX pixels, each for every 16-channel block;
 * interior tiles of whole blocks skip the edge tests.
 */
GL_AVX512_INLINE void dw_row(const int ACT, const size_t K, const size_t S, const int PAIR, const gl_conv2d_params *p,
                             const float *input, const float *packed, const float *residual, float *output,
                             size_t y, size_t ky0, size_t ky1, const gl_avx512_epilogue *ep,
                             gl_prefetch_window *pf) {
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
        if (PAIR) dw_tile2(ACT, border, input + c0, C, in_w, row0, ix0, wb, mask, o + c0, out_row,              \
                           r != NULL ? r + c0 : NULL, n, ep, pf);                                          \
        else dw_tile(ACT, K, S, border, input + c0, C, in_w, row0, ky0, ky1, ix0, wb, mask, o + c0,             \
                     r != NULL ? r + c0 : NULL, n, ep, pf);                                                \
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
GL_AVX512_INLINE void dw_rows(const int ACT, const size_t K, const size_t S, const gl_conv2d_params *p,
                              const float *input, const float *packed, const float *residual,
                              float *output, size_t row_begin, size_t row_end) {
    const gl_epilogue e = gl_epilogue_of(p);
    const gl_avx512_epilogue ep = gl_avx512_epilogue_of(&e);
    const int pairs = K == 3 && S == 1 && p->stride_h == 1 && p->in_c >= 64;
    gl_prefetch_window *const thread_pf = gl_prefetch_window_of_thread();
    gl_prefetch_window pf = *thread_pf;
    for (size_t y = row_begin; y < row_end; y++) {
        const ptrdiff_t row0 = (ptrdiff_t)(y * p->stride_h) - (ptrdiff_t)p->pad_top;
        if (pairs && y + 1 < row_end && row0 >= 0 && row0 + 4 <= (ptrdiff_t)p->in_h) {
            dw_row(ACT, K, S, 1, p, input, packed, residual, output, y++, 0, K, &ep, &pf);
            continue;
        }
        size_t ky0, ky1;
        gl_tap_range(row0, 1, K, p->in_h, &ky0, &ky1);
        dw_row(ACT, K, S, 0, p, input, packed, residual, output, y, ky0, ky1, &ep, &pf);
    }
    *thread_pf = pf;
}

/* The kernels, as clamp-only tiles (id) and as activation ones (act): GL_TILE_ACTIVATION. */
#define DW_ROWS(name, K, S, act, ACT)                                                              \
    GL_AVX512 static void name##_##act(const gl_conv2d_params *p, const float *i, const float *w,    \
                                       const float *r, float *o, size_t y0, size_t y1) {            \
        dw_rows(ACT, K, S, p, i, w, r, o, y0, y1);                                                   \
    }
#define DW_ROWS_BOTH(name, K, S) DW_ROWS(name, K, S, id, GL_ACTIVATION_IDENTITY) DW_ROWS(name, K, S, act, GL_ACTIVATION_HARDSWISH)
DW_ROWS_BOTH(dw_3x3s1, 3, 1) DW_ROWS_BOTH(dw_3x3s2, 3, 2) DW_ROWS_BOTH(dw_5x5s1, 5, 1) DW_ROWS_BOTH(dw_5x5s2, 5, 2)

void gl_f32_dwconv_3x3__avx512(const gl_conv2d_params *p, const float *input, const float *packed,
                               const float *residual, float *output, size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_3x3_tiled_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    const int act = GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_HARDSWISH;
    if (p->stride_w == 1) (act ? dw_3x3s1_act : dw_3x3s1_id)(p, input, packed, residual, output, row_begin, row_end);
    else (act ? dw_3x3s2_act : dw_3x3s2_id)(p, input, packed, residual, output, row_begin, row_end);
}

void gl_f32_dwconv_5x5__avx512(const gl_conv2d_params *p, const float *input, const float *packed,
                               const float *residual, float *output, size_t row_begin, size_t row_end) {
    assert(gl_f32_dwconv_5x5_tiled_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);
    const int act = GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_HARDSWISH;
    if (p->stride_w == 1) (act ? dw_5x5s1_act : dw_5x5s1_id)(p, input, packed, residual, output, row_begin, row_end);
    else (act ? dw_5x5s2_act : dw_5x5s2_id)(p, input, packed, residual, output, row_begin, row_end);
}

#endif
