/* avx512.h — the AVX-512 kernels' attribute and declarations; the table reuses the AVX2 kernels for everything else. */
#ifndef GLIMPSE_CKERNELS_X86_AVX512_H
#define GLIMPSE_CKERNELS_X86_AVX512_H

#include "avx2.h"

#if defined(__x86_64__)

/* As GL_AVX2: per function, so the package still builds for (and runs on) baseline x86_64. */
#define GL_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define GL_AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx2,fma")))

/*
 * The epilogue of an MR pixels × NV vectors block of a GEMM-shaped kernel: + residual (r may be
 * NULL), clamp, store; pixels ldc floats apart, the last vector's lanes masked by `last`.
 * Bound first: MAXPS/MINPS pass their second operand on NaN, so a NaN sum survives.
 */
GL_AVX512_INLINE void gl_avx512_store_block(const size_t MR, const size_t NV, __m512 (*acc)[2], float *c,
                                            size_t ldc, const float *r, __m512 lo, __m512 hi, __mmask16 last) {
    GL_UNROLL for (size_t i = 0; i < MR; i++) {
        GL_UNROLL for (size_t v = 0; v < NV; v++) {
            const __mmask16 m = v + 1 == NV ? last : (__mmask16)0xFFFF;
            __m512 x = acc[i][v];
            if (r != NULL) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, r + i * ldc + 16 * v));
            _mm512_mask_storeu_ps(c + i * ldc + 16 * v, m, _mm512_min_ps(hi, _mm512_max_ps(lo, x)));
        }
    }
}

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

/* ---- f32-conv2d-chw-avx512.c: a first convolution read from the caller's CHW image (input_chw,
 * groups 1, dilation 1, at most GL_CONV2D_CHW_MAX_CHANNELS channels); panels of 32 output
 * channels (the last of 16 when enough), each [bias[w], w[ky][ci][kx][w]] ---- */
#define GL_CONV2D_CHW_MAX_CHANNELS 4
int gl_f32_conv2d_chw_supports(const gl_conv2d_params *p);
size_t gl_f32_conv2d_chw_packed_size_x32(const gl_conv2d_params *p);
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

#endif
#endif
