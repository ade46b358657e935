/* neon-kernels.c — the NEON variant's table (aarch64): its conv2d registry in priority order and its other kernels. */
#include "neon.h"

#if defined(__aarch64__)

/*
 * One line per kernel, most specialised first (gl_conv2d_select takes the
 * first whose `supports` accepts the shape); the generic conv is last and
 * accepts every valid shape, after the dense one (groups 1, dilation 1). The
 * 1×1, dense and generic kernels read the scalar kernels' x8 panels, so they
 * share their pack; the depthwise ones pack c8 tiles of their own. NEON is
 * architectural on aarch64: dispatch.c lists this table with `always` as its
 * support check.
 */
static const gl_conv2d_kernel neon_conv2d[] = {
    GL_CONV2D(gl_f32_conv1x1_8x8_neon, "neon", gl_f32_conv1x1_supports,
              gl_f32_conv1x1_packed_size_x8, gl_f32_conv1x1_pack_x8),
    GL_CONV2D(gl_f32_dwconv_3x3_8c_neon, "neon", gl_f32_dwconv_3x3_supports,
              gl_f32_dwconv_packed_size_c8, gl_f32_dwconv_pack_c8),
    GL_CONV2D(gl_f32_dwconv_5x5_4c_neon, "neon", gl_f32_dwconv_5x5_supports,
              gl_f32_dwconv_packed_size_c8, gl_f32_dwconv_pack_c8),
    GL_CONV2D(gl_f32_dwconv_kxk_4c_neon, "neon", gl_f32_dwconv_supports,
              gl_f32_dwconv_packed_size_c8, gl_f32_dwconv_pack_c8),
    GL_CONV2D(gl_f32_conv2d_8x8_neon, "neon", gl_f32_conv2d_dense_neon_supports,
              gl_f32_conv2d_packed_size_x8, gl_f32_conv2d_pack_x8),
    GL_CONV2D(gl_f32_conv2d_4x8_neon, "neon", gl_f32_conv2d_supports,
              gl_f32_conv2d_packed_size_x8, gl_f32_conv2d_pack_x8),
};

const gl_kernels gl_neon_kernels = {
    .variant = "neon",
    .conv2d = neon_conv2d,
    .conv2d_count = sizeof neon_conv2d / sizeof neon_conv2d[0],
    .maxpool2d = gl_f32_maxpool2d_neon,
    .avgpool2d = gl_f32_avgpool2d_neon,
    .global_avgpool = gl_f32_global_avgpool_neon,
    .activation = gl_f32_activation_neon,
    .channel_scale = gl_f32_channel_scale_neon,
    .gemm = gl_f32_gemm_neon,
};

#endif /* __aarch64__ */
