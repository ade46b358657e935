/* kernels-avx512.c — the AVX-512 table: its own pointwise GEMM, the AVX2 kernels for the rest. */
#include "avx512.h"

#if defined(__x86_64__)

/* The AVX2 registry (see kernels-avx2.c) with the 12x32 pointwise kernel first for the deep
 * layers it is faster on (shallower pointwise layers keep the 6x16 kernel), and 16-channel
 * depthwise 3x3/5x5 before the AVX2 ones, which still take dilated or stride-3 windows; and
 * the stem kernel that reads the caller's CHW image (only it accepts input_chw); thin pointwise
 * outputs (<= 48 channels) take the 6x16 kernel's tiles built with 32 ymm registers; dense convs
 * (groups 1, dilation 1: ResNet's 3x3 layers, an NHWC stem) the 12x32 implicit GEMM, unless
 * their output channels would leave lanes idle; the AVX2 conv keeps grouped and dilated ones.
 * Before the 12x32 kernel, 3x3 stride-1 dense convs of 16+ channels and 7x7+ pixels take
 * Winograd F(4x4, 3x3) (2.5-3.5x the direct kernel on ResNet's 3x3 layers, 1.2x at 7x7). */
static const gl_conv2d_kernel avx512_conv2d[] = {
    GL_CONV2D(gl_f32_conv1x1_1x64__avx2, "avx2", gl_f32_conv1x1_small_supports,
              gl_f32_conv1x1_packed_size_x64, gl_f32_conv1x1_pack_x64),
    GL_CONV2D(gl_f32_conv1x1_12x32__avx512, "avx512", gl_f32_conv1x1_deep_supports,
              gl_f32_conv1x1_packed_size_x32, gl_f32_conv1x1_pack_x32),
    GL_CONV2D(gl_f32_conv1x1_12x16__avx512, "avx512", gl_f32_conv1x1_thin_supports,
              gl_f32_conv1x1_packed_size_x16, gl_f32_conv1x1_pack_x16),
    GL_CONV2D(gl_f32_conv1x1_6x16__avx2, "avx2", gl_f32_conv1x1_supports,
              gl_f32_conv1x1_packed_size_x16, gl_f32_conv1x1_pack_x16),
    GL_CONV2D(gl_f32_dwconv_3x3__avx512, "avx512", gl_f32_dwconv_3x3_tiled_supports,
              gl_f32_dwconv_packed_size_c16, gl_f32_dwconv_pack_c16),
    GL_CONV2D(gl_f32_dwconv_5x5__avx512, "avx512", gl_f32_dwconv_5x5_tiled_supports,
              gl_f32_dwconv_packed_size_c16, gl_f32_dwconv_pack_c16),
    GL_CONV2D(gl_f32_dwconv_3x3__avx2, "avx2", gl_f32_dwconv_3x3_supports,
              gl_f32_dwconv_packed_size_c8, gl_f32_dwconv_pack_c8),
    GL_CONV2D(gl_f32_dwconv_5x5__avx2, "avx2", gl_f32_dwconv_5x5_supports,
              gl_f32_dwconv_packed_size_c8, gl_f32_dwconv_pack_c8),
    GL_CONV2D(gl_f32_dwconv_kxk__avx2, "avx2", gl_f32_dwconv_supports,
              gl_f32_dwconv_packed_size_c8, gl_f32_dwconv_pack_c8),
    GL_CONV2D(gl_f32_conv2d_chw_12x32__avx512, "avx512", gl_f32_conv2d_chw_supports,
              gl_f32_conv2d_packed_size_x32, gl_f32_conv2d_chw_pack_x32),
    GL_CONV2D(gl_f32_conv2d_3x3s1_winograd4x4__avx512, "avx512", gl_f32_conv2d_winograd4x4_supports,
              gl_f32_conv2d_winograd4x4_packed_size, gl_f32_conv2d_winograd4x4_pack),
    GL_CONV2D(gl_f32_conv2d_12x32__avx512, "avx512", gl_f32_conv2d_dense_supports,
              gl_f32_conv2d_packed_size_x32, gl_f32_conv2d_pack_x32),
    GL_CONV2D(gl_f32_conv2d_6x16__avx2, "avx2", gl_f32_conv2d_supports,
              gl_f32_conv2d_packed_size_x16, gl_f32_conv2d_pack_x16),
};

const gl_kernels gl_avx512_kernels = {
    .variant = "avx512",
    .conv2d = avx512_conv2d,
    .conv2d_count = sizeof avx512_conv2d / sizeof avx512_conv2d[0],
    .maxpool2d = gl_f32_maxpool2d__avx2,
    .avgpool2d = gl_f32_avgpool2d__avx2,
    .global_avgpool = gl_f32_global_avgpool__avx2,
    .activation = gl_f32_activation__avx512,
    .channel_scale = gl_f32_channel_scale__avx512,
    .gemm = gl_f32_gemm__avx2,
};

#endif
