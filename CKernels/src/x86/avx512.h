/* avx512.h — the AVX-512 kernels' attribute and declarations; the table reuses the AVX2 kernels for everything else. */
#ifndef GLIMPSE_CKERNELS_X86_AVX512_H
#define GLIMPSE_CKERNELS_X86_AVX512_H

#include "avx2.h"

#if defined(__x86_64__)

/* As GL_AVX2: per function, so the package still builds for (and runs on) baseline x86_64. */
#define GL_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define GL_AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx2,fma")))

/*
 * NOTE for kernel authors (issue 11, the conv epilogue's activation): gl_avx512_store_block
 * takes `const int ACT` first and the epilogue as `const gl_avx512_epilogue *ep` where it took
 * `__m512 lo, __m512 hi`. Build the epilogue once per call (`gl_epilogue e = gl_epilogue_of(p);
 * gl_avx512_epilogue ep = gl_avx512_epilogue_of(&e);`) and pass &ep down to the tiles; ACT is
 * the constant the tile is compiled for: GL_ACTIVATION_IDENTITY (the clamp alone) or
 * GL_ACTIVATION_HARDSWISH (the activation tiles: hardswish in registers, any other activation
 * out of line). Give the kernel a copy of its tile functions for each and pick one per call
 * with GL_TILE_ACTIVATION(p->activation) (activation.h says why).
 */

/* The epilogue's parameters as vectors (activation.h's gl_epilogue), made once per call. */
typedef struct gl_avx512_epilogue {
    __m512 alpha, beta, lo, hi;
    int kind;
} gl_avx512_epilogue;

GL_AVX512_INLINE gl_avx512_epilogue gl_avx512_epilogue_of(const gl_epilogue *e) {
    gl_avx512_epilogue v;
    v.alpha = _mm512_set1_ps(e->alpha);
    v.beta = _mm512_set1_ps(e->beta);
    v.lo = _mm512_set1_ps(e->lo);
    v.hi = _mm512_set1_ps(e->hi);
    v.kind = e->kind;
    return v;
}

/* The fused clamp, NaN-preserving as gl_avx2_clamp: bound first, MAXPS/MINPS pass their second
 * operand on NaN. */
GL_AVX512_INLINE __m512 gl_avx512_clamp(__m512 v, __m512 lo, __m512 hi) {
    return _mm512_min_ps(hi, _mm512_max_ps(lo, v));
}

/* activation.h's gl_exp_f32 on 16 lanes, operation for operation, each a·b + c one FMA. */
GL_AVX512_INLINE __m512 gl_avx512_exp(__m512 z) {
    const __m512 magic = _mm512_set1_ps(GL_EXP_MAGIC);
    z = gl_avx512_clamp(z, _mm512_set1_ps(GL_EXP_MIN), _mm512_set1_ps(GL_EXP_MAX));
    __m512 n = _mm512_fmadd_ps(z, _mm512_set1_ps(GL_EXP_LOG2E), magic);
    const __m512 s = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(n), 23)); /* 2^n */
    n = _mm512_sub_ps(n, magic);
    __m512 t = _mm512_fmadd_ps(n, _mm512_set1_ps(GL_EXP_MINUS_LN2_HI), z);
    t = _mm512_fmadd_ps(n, _mm512_set1_ps(GL_EXP_MINUS_LN2_LO), t);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(GL_EXP_C6), t, _mm512_set1_ps(GL_EXP_C5));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(GL_EXP_C4));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(GL_EXP_C3));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(GL_EXP_C2));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(GL_EXP_C1));
    t = _mm512_mul_ps(t, s);
    return _mm512_fmadd_ps(t, p, s);
}

/* clamp(act(v)) for a constant ACT: gl_avx2_act on 16 lanes (activation.h has the bounds). */
GL_AVX512_INLINE __m512 gl_avx512_act(__m512 v, const int ACT, const gl_avx512_epilogue *e) {
    if (ACT == GL_ACTIVATION_HARDSWISH || ACT == GL_ACTIVATION_HARDSIGMOID) {
        const __m512 t = gl_avx512_clamp(_mm512_fmadd_ps(e->alpha, v, e->beta), _mm512_setzero_ps(),
                                         _mm512_set1_ps(1.0f));
        v = ACT == GL_ACTIVATION_HARDSWISH ? _mm512_mul_ps(v, t) : t;
    } else if (ACT == GL_ACTIVATION_SIGMOID || ACT == GL_ACTIVATION_SILU) {
        const __m512 one = _mm512_set1_ps(1.0f);
        const __m512 neg = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN)));
        const __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, gl_avx512_exp(neg)));
        const __mmask16 zero = _mm512_cmp_ps_mask(v, _mm512_set1_ps(GL_SIGMOID_ZERO_BELOW), _CMP_LT_OQ);
        v = ACT == GL_ACTIVATION_SIGMOID ? _mm512_mask_blend_ps(zero, s, _mm512_setzero_ps())
                                         : _mm512_mask_blend_ps(zero, _mm512_mul_ps(v, s), _mm512_set1_ps(-0.0f));
    }
    return gl_avx512_clamp(v, e->lo, e->hi);
}

/* gl_avx2_store_activation with 16 lanes (f32-activation-avx512.c): mr pixels × nv (1 or 2)
 * vectors parked at acc[i * nv + v], n real channels. */
void gl_avx512_store_activation(size_t mr, size_t nv, const __m512 *acc, float *c, size_t ldc, const float *r,
                                const gl_avx512_epilogue *ep, size_t n);

/*
 * The epilogue of an MR pixels × NV vectors block of a GEMM-shaped kernel: + residual (r may be
 * NULL), activation and clamp, store; pixels ldc floats apart, the last vector's lanes masked
 * by `last`. ACT as in gl_avx2_store_rows: IDENTITY the clamp alone; HARDSWISH in registers,
 * any other activation parked and handed to gl_avx512_store_activation.
 */
GL_AVX512_INLINE void gl_avx512_store_block(const int ACT, const size_t MR, const size_t NV, __m512 (*acc)[2],
                                            float *c, size_t ldc, const float *r, const gl_avx512_epilogue *ep,
                                            __mmask16 last) {
    if (ACT != GL_ACTIVATION_IDENTITY && __builtin_expect(ep->kind != ACT, 0)) {
        __m512 park[24];
        GL_UNROLL for (size_t i = 0; i < MR; i++)
            GL_UNROLL for (size_t v = 0; v < NV; v++) park[i * NV + v] = acc[i][v];
        gl_avx512_store_activation(MR, NV, park, c, ldc, r, ep, (NV - 1) * 16 + (size_t)__builtin_popcount(last));
        return;
    }
    const gl_avx512_epilogue e = *ep; /* a copy the stores cannot alias: the bounds stay in registers */
    GL_UNROLL for (size_t i = 0; i < MR; i++) {
        GL_UNROLL for (size_t v = 0; v < NV; v++) {
            const __mmask16 m = v + 1 == NV ? last : (__mmask16)0xFFFF;
            __m512 x = acc[i][v];
            if (r != NULL) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, r + i * ldc + 16 * v));
            _mm512_mask_storeu_ps(c + i * ldc + 16 * v, m, gl_avx512_act(x, ACT, &e));
        }
    }
}

/* ---- f32-activation-avx512.c: the table's elementwise entries (ckernels.h) ---- */
void gl_f32_activation__avx512(int kind, float alpha, float beta, float lo, float hi,
                               size_t n, const float *x, float *y);
void gl_f32_channel_scale__avx512(size_t pixels, size_t channels, const float *x, const float *scale, float *y);

/* Panels of 32 output channels, the last of 16 when that is enough: the width of the one
 * starting at channel n0 of nc. */
static inline size_t gl_avx512_width_x32(size_t nc, size_t n0) { return nc - n0 > 16 ? 32 : 16; }

/* ---- f32-conv1x1-avx512.c: 12 pixels × 32 channels; panels of 32 output channels (the last
 * of 16 when that is enough), each [bias[w], w[in_c][w]] ---- */
int gl_f32_conv1x1_deep_supports(const gl_conv2d_params *p); /* in_c >= 192, out_c >= 64 */
size_t gl_f32_conv1x1_packed_size_x32(const gl_conv2d_params *p);
void gl_f32_conv1x1_pack_x32(const gl_conv2d_params *p, const float *weights_oihw,
                             const float *bias, float *packed);
void gl_f32_conv1x1_12x32__avx512(const gl_conv2d_params *p, const float *input,
                                  const float *packed, const float *residual, float *output,
                                  size_t row_begin, size_t row_end);

/* ---- f32-conv1x1-avx2.c, built for AVX-512VL: the 6x16 kernel's tiles and packing
 * (gl_f32_conv1x1_pack_x16) with 32 ymm registers, 12 pixels × 16 or 8 × 24 channels,
 * for outputs of at most 48 channels ---- */
int gl_f32_conv1x1_thin_supports(const gl_conv2d_params *p);
void gl_f32_conv1x1_12x16__avx512(const gl_conv2d_params *p, const float *input,
                                  const float *packed, const float *residual, float *output,
                                  size_t row_begin, size_t row_end);

/* ---- f32-dwconv-avx512.c: 3x3 and 5x5 with dilation 1 and a horizontal stride of 1 or 2
 * (other depthwise shapes go to the AVX2 kernels); channels in blocks of 16 (the last
 * zero-padded), each block [bias[16], w[kernel_h * kernel_w][16]] ---- */
int gl_f32_dwconv_3x3_tiled_supports(const gl_conv2d_params *p);
int gl_f32_dwconv_5x5_tiled_supports(const gl_conv2d_params *p);
void gl_f32_dwconv_3x3__avx512(const gl_conv2d_params *p, const float *input, const float *packed,
                               const float *residual, float *output, size_t row_begin, size_t row_end);
void gl_f32_dwconv_5x5__avx512(const gl_conv2d_params *p, const float *input, const float *packed,
                               const float *residual, float *output, size_t row_begin, size_t row_end);

/* The panels the dense and the CHW-stem kernels read (f32-conv2d-avx512.c): 32 output channels
 * (the last of 16 when enough), each [bias[w], w[k][w]] over the kh·kw·in_c taps, ordered ky, kx, ci
 * for NHWC windows or, with chw_order, ky, ci, kx for CHW planes. gl_f32_conv2d_packed_size_x32
 * sizes both. */
void gl_avx512_pack_taps_x32(const gl_conv2d_params *p, const float *weights_oihw, const float *bias,
                             float *packed, int chw_order);
/* Floats of one such panel `width` channels wide. */
static inline size_t gl_avx512_panel_floats_x32(const gl_conv2d_params *p, size_t width) {
    return width * (1 + p->kernel_h * p->kernel_w * p->in_c);
}

/* ---- f32-conv2d-chw-avx512.c: a first convolution read from the caller's CHW image (input_chw,
 * groups 1, dilation 1, at most GL_CONV2D_CHW_MAX_CHANNELS channels); panels of 32 output
 * channels (the last of 16 when enough), each [bias[w], w[ky][ci][kx][w]] ---- */
#define GL_CONV2D_CHW_MAX_CHANNELS 4
int gl_f32_conv2d_chw_supports(const gl_conv2d_params *p);
void gl_f32_conv2d_chw_pack_x32(const gl_conv2d_params *p, const float *weights_oihw,
                                const float *bias, float *packed);
void gl_f32_conv2d_chw_12x32__avx512(const gl_conv2d_params *p, const float *input, const float *packed,
                                     const float *residual, float *output, size_t row_begin, size_t row_end);

/* ---- f32-conv2d-avx512.c: dense convolution (NHWC, groups 1, dilation 1: ResNet's 3x3 layers,
 * an NHWC stem), 12 pixels × 32 channels; panels of 32 output channels (the last of 16 when
 * enough), each [bias[w], w[ky][kx][ci][w]] ---- */
int gl_f32_conv2d_dense_supports(const gl_conv2d_params *p);
size_t gl_f32_conv2d_packed_size_x32(const gl_conv2d_params *p);
void gl_f32_conv2d_pack_x32(const gl_conv2d_params *p, const float *weights_oihw,
                            const float *bias, float *packed);
void gl_f32_conv2d_12x32__avx512(const gl_conv2d_params *p, const float *input, const float *packed,
                                 const float *residual, float *output, size_t row_begin, size_t row_end);

/* ---- f32-conv2d-3x3s1-winograd-avx512.c: 3x3 stride-1 dense convolution (NHWC, groups 1,
 * dilation 1) as Winograd F(4x4, 3x3), where it beats the direct kernel (supports); panels of 32
 * output channels (the last of 16 when enough), each [bias[w], U[36][in_c][w]], U = G g Gᵀ ---- */
int gl_f32_conv2d_winograd4x4_supports(const gl_conv2d_params *p);
size_t gl_f32_conv2d_winograd4x4_packed_size(const gl_conv2d_params *p);
void gl_f32_conv2d_winograd4x4_pack(const gl_conv2d_params *p, const float *weights_oihw, const float *bias,
                                    float *packed);
void gl_f32_conv2d_3x3s1_winograd4x4__avx512(const gl_conv2d_params *p, const float *input, const float *packed,
                                             const float *residual, float *output, size_t row_begin,
                                             size_t row_end);

#endif
#endif
