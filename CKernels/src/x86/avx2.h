/* avx2.h — what the AVX2+FMA kernel files share: the target attribute, lane masks, the epilogue (clamp(activation(v)), gl_avx2_act) and every kernel's declaration. */
#ifndef GLIMPSE_CKERNELS_X86_AVX2_H
#define GLIMPSE_CKERNELS_X86_AVX2_H

#include "../activation.h"

#if defined(__x86_64__)

#include <immintrin.h>

/*
 * Every function that touches a ymm register carries this attribute instead of
 * the build using -mavx2: the package must still build for, and run on,
 * baseline x86_64, where dispatch.c never selects this table.
 */
#define GL_AVX2 __attribute__((target("avx2,fma")))
#define GL_AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/*
 * Loops over a compile-time count of registers (pixels of a block, vectors of
 * a panel, taps of a window row) must be unrolled completely, or the
 * accumulator arrays live in memory. Said explicitly because gcc 12 at -O3
 * otherwise leaves some partly rolled, and then mis-compiled the 5x5 dwconv
 * tile (jump threading; correct with -fno-thread-jumps or full unrolling).
 */
#define GL_PRAGMA(x) _Pragma(#x)
#define GL_UNROLL GL_PRAGMA(GCC unroll 32)

/* gl_avx2_lane_mask[8 - n .. 16 - n) is a mask of the first n lanes (0 <= n <= 8). */
extern const int gl_avx2_lane_mask[16];

GL_AVX2_INLINE __m256i gl_avx2_mask(size_t n) {
    return _mm256_loadu_si256((const __m256i *)(gl_avx2_lane_mask + 8 - n));
}

/*
 * The fused clamp, NaN-preserving like gl_clamp: MAXPS/MINPS return their
 * second operand when either is NaN, so the bound goes first and a NaN sum
 * comes out unchanged. -INFINITY / +INFINITY bounds leave every value as is.
 */
GL_AVX2_INLINE __m256 gl_avx2_clamp(__m256 v, __m256 lo, __m256 hi) {
    return _mm256_min_ps(hi, _mm256_max_ps(lo, v));
}

/* The epilogue's parameters as vectors (activation.h's gl_epilogue), made once per call. */
typedef struct gl_avx2_epilogue {
    __m256 alpha, beta, lo, hi;
    int kind;
} gl_avx2_epilogue;

GL_AVX2_INLINE gl_avx2_epilogue gl_avx2_epilogue_of(const gl_epilogue *e) {
    gl_avx2_epilogue v;
    v.alpha = _mm256_set1_ps(e->alpha);
    v.beta = _mm256_set1_ps(e->beta);
    v.lo = _mm256_set1_ps(e->lo);
    v.hi = _mm256_set1_ps(e->hi);
    v.kind = e->kind;
    return v;
}

/* activation.h's gl_exp_f32 on 8 lanes, operation for operation, each a·b + c one FMA. */
GL_AVX2_INLINE __m256 gl_avx2_exp(__m256 z) {
    const __m256 magic = _mm256_set1_ps(GL_EXP_MAGIC);
    z = gl_avx2_clamp(z, _mm256_set1_ps(GL_EXP_MIN), _mm256_set1_ps(GL_EXP_MAX));
    __m256 n = _mm256_fmadd_ps(z, _mm256_set1_ps(GL_EXP_LOG2E), magic);
    const __m256 s = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(n), 23)); /* 2^n */
    n = _mm256_sub_ps(n, magic);
    __m256 t = _mm256_fmadd_ps(n, _mm256_set1_ps(GL_EXP_MINUS_LN2_HI), z);
    t = _mm256_fmadd_ps(n, _mm256_set1_ps(GL_EXP_MINUS_LN2_LO), t);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(GL_EXP_C6), t, _mm256_set1_ps(GL_EXP_C5));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(GL_EXP_C4));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(GL_EXP_C3));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(GL_EXP_C2));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(GL_EXP_C1));
    t = _mm256_mul_ps(t, s);
    return _mm256_fmadd_ps(t, p, s);
}

/*
 * clamp(act(v)) for a constant ACT: activation.h's gl_act_f32 on 8 lanes (the same operations;
 * its comments give the error bounds). The sigmoid's "0 below -88" is an ordered compare, so
 * a NaN lane keeps its NaN.
 */
GL_AVX2_INLINE __m256 gl_avx2_act(__m256 v, const int ACT, const gl_avx2_epilogue *e) {
    if (ACT == GL_ACTIVATION_HARDSWISH || ACT == GL_ACTIVATION_HARDSIGMOID) {
        const __m256 t = gl_avx2_clamp(_mm256_fmadd_ps(e->alpha, v, e->beta), _mm256_setzero_ps(),
                                       _mm256_set1_ps(1.0f));
        v = ACT == GL_ACTIVATION_HARDSWISH ? _mm256_mul_ps(v, t) : t;
    } else if (ACT == GL_ACTIVATION_SIGMOID || ACT == GL_ACTIVATION_SILU) {
        const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
        const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, gl_avx2_exp(_mm256_xor_ps(v, sign))));
        const __m256 zero = _mm256_cmp_ps(v, _mm256_set1_ps(GL_SIGMOID_ZERO_BELOW), _CMP_LT_OQ);
        v = ACT == GL_ACTIVATION_SIGMOID ? _mm256_andnot_ps(zero, s)
                                         : _mm256_blendv_ps(_mm256_mul_ps(v, s), sign, zero);
    }
    return gl_avx2_clamp(v, e->lo, e->hi);
}

/*
 * Epilogue of one pixel's NV accumulators: + residual (r may be NULL), activation ACT and
 * clamp, store to c. n is the number of real channels, (NV-1)*8 < n <= NV*8: all vectors but
 * the last are whole, the last is masked when n < NV*8. The clamp alone has a copy of the
 * whole for each case; an activation is computed once, only the last vector's load and store
 * branching (its code is 3-12 times the clamp's).
 */
GL_AVX2_INLINE void gl_avx2_store_pixel(const int ACT, const size_t NV, float *c, const float *r,
                                        const __m256 *acc, const gl_avx2_epilogue *ep, size_t n) {
    if (ACT != GL_ACTIVATION_IDENTITY) {
        const int whole = n == NV * 8;
        const __m256i mask = gl_avx2_mask(n - (NV - 1) * 8);
        GL_UNROLL for (size_t v = 0; v + 1 < NV; v++) {
            __m256 x = acc[v];
            if (r != NULL) x = _mm256_add_ps(x, _mm256_loadu_ps(r + 8 * v));
            _mm256_storeu_ps(c + 8 * v, gl_avx2_act(x, ACT, ep));
        }
        __m256 x = acc[NV - 1];
        if (r != NULL)
            x = _mm256_add_ps(x, whole ? _mm256_loadu_ps(r + 8 * (NV - 1)) : _mm256_maskload_ps(r + 8 * (NV - 1), mask));
        x = gl_avx2_act(x, ACT, ep);
        if (whole) _mm256_storeu_ps(c + 8 * (NV - 1), x);
        else _mm256_maskstore_ps(c + 8 * (NV - 1), mask, x);
        return;
    }
    if (n == NV * 8) {
        GL_UNROLL for (size_t v = 0; v < NV; v++) {
            __m256 x = acc[v];
            if (r != NULL) x = _mm256_add_ps(x, _mm256_loadu_ps(r + 8 * v));
            _mm256_storeu_ps(c + 8 * v, gl_avx2_act(x, ACT, ep));
        }
    } else {
        const __m256i mask = gl_avx2_mask(n - (NV - 1) * 8);
        GL_UNROLL for (size_t v = 0; v + 1 < NV; v++) {
            __m256 x = acc[v];
            if (r != NULL) x = _mm256_add_ps(x, _mm256_loadu_ps(r + 8 * v));
            _mm256_storeu_ps(c + 8 * v, gl_avx2_act(x, ACT, ep));
        }
        __m256 x = acc[NV - 1];
        if (r != NULL) x = _mm256_add_ps(x, _mm256_maskload_ps(r + 8 * (NV - 1), mask));
        _mm256_maskstore_ps(c + 8 * (NV - 1), mask, gl_avx2_act(x, ACT, ep));
    }
}

/*
 * Out of line (f32-activation-avx2.c), for a conv whose activation its tiles do not hold
 * (activation.h): the epilogue of mr pixels (ldc floats apart) × nv vectors whose
 * accumulators are parked at acc[i * nv + v]; n real channels, the last vector masked below
 * nv * 8. One branch on the kind, then loops compiled for it.
 */
void gl_avx2_store_activation(size_t mr, size_t nv, const __m256 *acc, float *c, size_t ldc, const float *r,
                              const gl_avx2_epilogue *ep, size_t n);

/* Vectors a block parks for it: the largest block, 6 pixels × 8 (conv1x1 1x64) or 12 × 3. */
#define GL_AVX2_PARK 48

/*
 * The epilogue of a GEMM-shaped block, MR pixels (ldc floats apart) × NV vectors, whose
 * accumulators are acc[i * AS + v] (AS: the row length of the caller's acc[][AS]). ACT is the
 * copy of the tiles this is compiled into (GL_TILE_ACTIVATION): IDENTITY, the clamp and
 * nothing else; HARDSWISH, the activation tiles: hardswish here, in registers, and any other
 * activation (one predicted branch per block) the block parked and handed to
 * gl_avx2_store_activation.
 */
GL_AVX2_INLINE void gl_avx2_store_rows(const int ACT, const size_t MR, const size_t NV, const size_t AS,
                                       const __m256 *acc, float *c, size_t ldc, const float *r,
                                       const gl_avx2_epilogue *ep, size_t n) {
    if (ACT != GL_ACTIVATION_IDENTITY && __builtin_expect(ep->kind != ACT, 0)) {
        __m256 park[GL_AVX2_PARK];
        GL_UNROLL for (size_t i = 0; i < MR; i++)
            GL_UNROLL for (size_t v = 0; v < NV; v++) park[i * NV + v] = acc[i * AS + v];
        gl_avx2_store_activation(MR, NV, park, c, ldc, r, ep, n);
        return;
    }
    /* A copy the stores cannot alias, so the bounds stay in registers (ep may point anywhere). */
    const gl_avx2_epilogue e = *ep;
    GL_UNROLL for (size_t i = 0; i < MR; i++)
        gl_avx2_store_pixel(ACT, NV, c + i * ldc, r != NULL ? r + i * ldc : NULL, acc + i * AS, &e, n);
}


/* ---- f32-conv1x1-avx2.c ---- */

/* 6 pixels × 16 channels; panels of 16 output channels (the last of 8 when
 * that is enough), each [bias[w], w[in_c][w]]. */
size_t gl_f32_conv1x1_packed_size_x16(const gl_conv2d_params *p);
void gl_f32_conv1x1_pack_x16(const gl_conv2d_params *p, const float *weights_oihw,
                             const float *bias, float *packed);
void gl_f32_conv1x1_6x16__avx2(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end);

/* Images of at most GL_CONV1X1_SMALL_PIXELS pixels (the classifier: one):
 * panels of 64 channels, taken 64 at a time by one pixel, 32 by 2-3 pixels,
 * 16 by 4-6 pixels. */
#define GL_CONV1X1_SMALL_PIXELS 16
int gl_f32_conv1x1_small_supports(const gl_conv2d_params *p);
size_t gl_f32_conv1x1_packed_size_x64(const gl_conv2d_params *p);
void gl_f32_conv1x1_pack_x64(const gl_conv2d_params *p, const float *weights_oihw,
                             const float *bias, float *packed);
void gl_f32_conv1x1_1x64__avx2(const gl_conv2d_params *p, const float *input,
                               const float *packed, const float *residual, float *output,
                               size_t row_begin, size_t row_end);

/* The row-tiled depthwise kernels (AVX2 and AVX-512, tiles of pixels along a row, window
 * weights in registers) need dilation 1 and a horizontal stride of 1 or 2; the rest goes to
 * gl_f32_dwconv_kxk__avx2. */
static inline int gl_dwconv_row_tiled(const gl_conv2d_params *p) {
    return p->dilation_h == 1 && p->dilation_w == 1 && (p->stride_w == 1 || p->stride_w == 2);
}

/* ---- f32-dwconv-avx2.c: channels in blocks of 8 (the last zero-padded),
 * each block [bias[8], w[kernel_h * kernel_w][8]] ---- */
void gl_f32_dwconv_3x3__avx2(const gl_conv2d_params *p, const float *input,
                             const float *packed, const float *residual, float *output,
                             size_t row_begin, size_t row_end);
void gl_f32_dwconv_5x5__avx2(const gl_conv2d_params *p, const float *input,
                             const float *packed, const float *residual, float *output,
                             size_t row_begin, size_t row_end);
void gl_f32_dwconv_kxk__avx2(const gl_conv2d_params *p, const float *input,
                             const float *packed, const float *residual, float *output,
                             size_t row_begin, size_t row_end);

/* ---- f32-conv2d-avx2.c: per group, panels of 16 output channels (the last
 * of 8 when that is enough), each [bias[w], w[kernel_h][kernel_w][in_c/groups][w]] ---- */
size_t gl_f32_conv2d_packed_size_x16(const gl_conv2d_params *p);
void gl_f32_conv2d_pack_x16(const gl_conv2d_params *p, const float *weights_oihw,
                            const float *bias, float *packed);
void gl_f32_conv2d_6x16__avx2(const gl_conv2d_params *p, const float *input,
                              const float *packed, const float *residual, float *output,
                              size_t row_begin, size_t row_end);

/* ---- f32-pool-avx2.c ---- */
void gl_f32_maxpool2d__avx2(const gl_pool2d_params *p, const float *input, float *output);
void gl_f32_avgpool2d__avx2(const gl_pool2d_params *p, const float *input, float *output);
void gl_f32_global_avgpool__avx2(size_t hw, size_t channels, const float *input, float *output);

/* ---- f32-activation-avx2.c: the table's elementwise entries (ckernels.h) ---- */
void gl_f32_activation__avx2(int kind, float alpha, float beta, float lo, float hi,
                             size_t n, const float *x, float *y);
void gl_f32_channel_scale__avx2(size_t pixels, size_t channels, const float *x, const float *scale, float *y);

/* ---- f32-gemm-avx2.c ---- */
void gl_f32_gemm__avx2(size_t m, size_t n, size_t k, float alpha,
                       const float *a, size_t a_rs, size_t a_cs,
                       const float *b, size_t b_rs, size_t b_cs,
                       float beta, float *c, size_t ldc);

/* ---- peak-avx2.c: one core's FMA peak, measured ---- */
double gl_avx2_fma_peak_gflops(double seconds);

#endif /* __x86_64__ */

#endif
