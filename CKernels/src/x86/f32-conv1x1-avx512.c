/* f32-conv1x1-avx512.c — pointwise convolution as a 12 pixels × 32 channels register-blocked GEMM in zmm registers. */
#include "avx512.h"

#if defined(__x86_64__)

#include <assert.h>

/*
 * The AVX2 6x16 kernel's scheme (see f32-conv1x1-avx2.c) with 32 registers
 * of 16 floats: a block of up to 12 pixels keeps 12 × 2 zmm accumulators,
 * so each weight vector loaded from the panel feeds twice as many FMAs, and
 * the deep 7×7 layers, whose weights outweigh their pixels, stream half the
 * weight bytes per FMA from L2. On cores that split a 512-bit FMA in two
 * (Zen 4) the peak is the same as AVX2's; what improves is how close a
 * layer gets to it. Channel tails need no lane-mask table: the last vector's
 * loads and stores take a __mmask16.
 *
 *   panel = bias[w], then w[in_c][w]     w = 32, or 16 for a last 1..16 channels
 *
 * Every output is bias + the products in ascending ci, as in every other
 * kernel, so results do not depend on the blocking.
 */

#define MR12 12

/*
 * Only the deep layers: measured against the AVX2 6x16 kernel on Lite0's shapes
 * (CKernels/tests/bench_kernels.c), this kernel is 3-9% faster from 192 input
 * channels up and 15-25% slower on the early, shallow ones (16-144 input channels,
 * 12544/3136 pixels), where writing the output, not the FMAs, sets the pace and
 * 512-bit stores cost two. A thin output (under 64 channels) wastes a masked panel.
 */
int gl_f32_conv1x1_deep_supports(const gl_conv2d_params *p) {
    return gl_f32_conv1x1_supports(p) && p->in_c >= 192 && p->out_c >= 64;
}

size_t gl_f32_conv1x1_packed_size_x32(const gl_conv2d_params *p) {
    size_t size = 0;
    for (size_t n0 = 0; n0 < p->out_c; n0 += gl_avx512_width_x32(p->out_c, n0))
        size += gl_avx512_width_x32(p->out_c, n0) * (p->in_c + 1);
    return size;
}

void gl_f32_conv1x1_pack_x32(const gl_conv2d_params *p, const float *weights_oihw,
                             const float *bias, float *packed) {
    assert(gl_f32_conv1x1_deep_supports(p));
    assert(weights_oihw != NULL && packed != NULL);
    gl_pack_pointwise_panels(p, weights_oihw, bias, packed, gl_avx512_width_x32);
}

/* MR pixels × NV (1 or 2) vectors of one panel; `last` masks the last vector's lanes. */
GL_AVX512_INLINE void tile_x32(const int ACT, const size_t MR, const size_t NV, size_t kc, const float *a,
                               const float *w, float *c, size_t ldc, const float *r,
                               const gl_avx512_epilogue *ep, __mmask16 last, gl_prefetch_window *pf) {
    __m512 acc[MR12][2];
    GL_UNROLL for (size_t i = 0; i < MR; i++)
        GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_loadu_ps(w + 16 * v);
    w += NV * 16;
    const char *line = pf->cursor, *const line_end = pf->end;
    for (size_t k = 0; k < kc; k++) {
        gl_prefetch_line(&line, line_end);
        __m512 wv[2];
        GL_UNROLL for (size_t v = 0; v < NV; v++) wv[v] = _mm512_loadu_ps(w + 16 * v);
        w += NV * 16;
        GL_UNROLL for (size_t i = 0; i < MR; i++) {
            const __m512 ai = _mm512_set1_ps(a[i * kc + k]);
            GL_UNROLL for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(ai, wv[v], acc[i][v]);
        }
    }
    pf->cursor = line;
    gl_avx512_store_block(ACT, MR, NV, acc, c, ldc, r, ep, last);
}

/* MR pixels against the panels of output columns [n0, n1), weights from w. */
GL_AVX512_INLINE void rows_x32(const int ACT, const size_t MR, size_t kc, const float *a, const float *w,
                               size_t n0, size_t n1, size_t nc, float *c, const float *r,
                               const gl_epilogue *e, gl_prefetch_window *pf) {
    const gl_avx512_epilogue ep = gl_avx512_epilogue_of(e);
    for (size_t n = n0; n < n1;) {
        const size_t width = gl_avx512_width_x32(nc, n), real = nc - n < width ? nc - n : width;
        const __mmask16 last = (__mmask16)((1u << (real - (width - 16))) - 1u);
        if (width == 32) tile_x32(ACT, MR, 2, kc, a, w, c + n, nc, r != NULL ? r + n : NULL, &ep, last, pf);
        else tile_x32(ACT, MR, 1, kc, a, w, c + n, nc, r != NULL ? r + n : NULL, &ep, last, pf);
        w += width * (kc + 1);
        n += width;
    }
}

/* Each block size's rows, as the clamp-only tile (id) and the activation one (act: hardswish
 * in registers, any other activation out of line): GL_TILE_ACTIVATION. */
#define ROWS_X32(mr, act, ACT)                                                                        \
    GL_AVX512 static void rows_x32_##act##mr(size_t kc, const float *a, const float *w, size_t n0,      \
                                             size_t n1, size_t nc, float *c, const float *r,           \
                                             const gl_epilogue *ep, gl_prefetch_window *pf) {          \
        rows_x32(ACT, mr, kc, a, w, n0, n1, nc, c, r, ep, pf);                                         \
    }
#define ROWS_X32_BOTH(mr) ROWS_X32(mr, id, GL_ACTIVATION_IDENTITY) ROWS_X32(mr, act, GL_ACTIVATION_HARDSWISH)
ROWS_X32_BOTH(1) ROWS_X32_BOTH(2) ROWS_X32_BOTH(3) ROWS_X32_BOTH(4) ROWS_X32_BOTH(5) ROWS_X32_BOTH(6)
ROWS_X32_BOTH(7) ROWS_X32_BOTH(8) ROWS_X32_BOTH(9) ROWS_X32_BOTH(10) ROWS_X32_BOTH(11) ROWS_X32_BOTH(12)

static const gl_pointwise_rows_fn rows_x32_fns[2][MR12 + 1] = {
    {NULL, rows_x32_id1, rows_x32_id2, rows_x32_id3, rows_x32_id4, rows_x32_id5, rows_x32_id6,
     rows_x32_id7, rows_x32_id8, rows_x32_id9, rows_x32_id10, rows_x32_id11, rows_x32_id12},
    {NULL, rows_x32_act1, rows_x32_act2, rows_x32_act3, rows_x32_act4, rows_x32_act5, rows_x32_act6,
     rows_x32_act7, rows_x32_act8, rows_x32_act9, rows_x32_act10, rows_x32_act11, rows_x32_act12},
};

void gl_f32_conv1x1_12x32__avx512(const gl_conv2d_params *p, const float *input,
                                  const float *packed, const float *residual, float *output,
                                  size_t row_begin, size_t row_end) {
    assert(gl_f32_conv1x1_deep_supports(p));
    assert(gl_conv2d_rows_valid(p, row_begin, row_end));
    assert(input != NULL && packed != NULL && output != NULL);

    gl_pointwise_run(p, input, packed, residual, output, row_begin, row_end, gl_avx512_width_x32,
                     rows_x32_fns[GL_TILE_ACTIVATION(p->activation) == GL_ACTIVATION_HARDSWISH], MR12);
}

#endif
