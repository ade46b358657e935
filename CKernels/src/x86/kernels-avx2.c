/* kernels-avx2.c — the AVX2+FMA table: its conv2d registry in priority order, pools and gemm. */
#include "avx2.h"

#if defined(__x86_64__)

const int gl_avx2_lane_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/*
 * Most specialised first: gl_conv2d_select takes the first kernel whose
 * `supports` accepts the shape. The tiny-image pointwise kernel comes before
 * the general one (it supports a subset); the depthwise 3x3 and 5x5 before
 * any depthwise; the direct convolution last, as it supports every shape.
 */
static const gl_conv2d_kernel avx2_conv2d[] = {
    GL_CONV2D(gl_f32_conv1x1_1x64__avx2, "avx2", gl_f32_conv1x1_small_supports,
              gl_f32_conv1x1_packed_size_x64, gl_f32_conv1x1_pack_x64),
    GL_CONV2D(gl_f32_conv1x1_6x16__avx2, "avx2", gl_f32_conv1x1_supports,
              gl_f32_conv1x1_packed_size_x16, gl_f32_conv1x1_pack_x16),
    GL_CONV2D(gl_f32_dwconv_3x3__avx2, "avx2", gl_f32_dwconv_3x3_supports,
              gl_f32_dwconv_packed_size_c8, gl_f32_dwconv_pack_c8),
    GL_CONV2D(gl_f32_dwconv_5x5__avx2, "avx2", gl_f32_dwconv_5x5_supports,
              gl_f32_dwconv_packed_size_c8, gl_f32_dwconv_pack_c8),
    GL_CONV2D(gl_f32_dwconv_kxk__avx2, "avx2", gl_f32_dwconv_supports,
              gl_f32_dwconv_packed_size_c8, gl_f32_dwconv_pack_c8),
    GL_CONV2D(gl_f32_conv2d_6x16__avx2, "avx2", gl_f32_conv2d_supports,
              gl_f32_conv2d_packed_size_x16, gl_f32_conv2d_pack_x16),
};

const gl_kernels gl_avx2_kernels = {
    .variant = "avx2",
    .conv2d = avx2_conv2d,
    .conv2d_count = sizeof avx2_conv2d / sizeof avx2_conv2d[0],
    .maxpool2d = gl_f32_maxpool2d__avx2,
    .avgpool2d = gl_f32_avgpool2d__avx2,
    .global_avgpool = gl_f32_global_avgpool__avx2,
    .activation = gl_f32_activation__avx2,
    .channel_scale = gl_f32_channel_scale__avx2,
    .gemm = gl_f32_gemm__avx2,
};

#endif
